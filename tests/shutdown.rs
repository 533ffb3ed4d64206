//! SPEC §6: graceful shutdown on SIGTERM/SIGINT — the notice, a 5-second
//! grace period in which chat goes on, the goodbye, exit 0; a second signal
//! ends at once.

mod common;
use common::*;
use std::io::Read;
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

const NOTICE: &str = "The server will be shutting down in 5 seconds!!";
const GOODBYE: &str = "Server shut down. Goodbye!";
const GENERAL: &str = "[room/general]";

/// Connects during the grace period; returns what the server said before
/// closing (empty if the connection was refused outright). Panics if the
/// connection stays open.
fn refused_connection(addr: SocketAddr) -> String {
    let Ok(mut s) = TcpStream::connect_timeout(&addr, TIMEOUT) else {
        return String::new();
    };
    let deadline = Instant::now() + TIMEOUT;
    let mut got = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        assert!(
            !left.is_zero(),
            "connection during the grace period stayed open: {:?}",
            String::from_utf8_lossy(&got)
        );
        s.set_read_timeout(Some(left)).unwrap();
        match s.read(&mut chunk) {
            Ok(0) | Err(_) => return String::from_utf8_lossy(&got).into_owned(),
            Ok(n) => got.extend_from_slice(&chunk[..n]),
        }
    }
}

/// The stdout lines printed after the server started.
fn stdout_after_start(server: &Server) -> Vec<String> {
    let start = server
        .stdout_seen
        .iter()
        .position(|l| l.contains("Now running on"))
        .expect("start line");
    server.stdout_seen[start + 1..].to_vec()
}

/// SPEC §9: each event is printed once, on one stream. stdout has the start
/// lines and the countdown (SPEC §1, §6), stderr the log. The one event on
/// both is the start: `Now running on ADDR` on stdout (what tests and
/// scripts read) and `chatsock: listening on ADDR` in the log (SPEC §1 lists
/// it; tests read the address there when stdout is closed or stalled).
fn assert_each_event_printed_once(server: &Server) {
    let (out, err) = (&server.stdout_seen, &server.stderr_seen);
    let start = format!("Now running on {}", server.addr);
    let listening = format!("chatsock: listening on {}", server.addr);
    assert_eq!(out.iter().filter(|l| **l == start).count(), 1, "{out:?}");
    assert_eq!(
        err.iter().filter(|l| **l == listening).count(),
        1,
        "{err:?}"
    );
    for l in out {
        let countdown = l
            .split("...")
            .next()
            .is_some_and(|n| n.parse::<u64>().is_ok());
        assert!(
            l.starts_with("chatsock v")
                || *l == start
                || countdown
                || l == "Second signal: shutting down now."
                || l == "Server shut down.",
            "not a start or countdown line on stdout: {l:?}"
        );
    }
    for e in err {
        assert!(e.starts_with("chatsock: "), "not a log line: {e:?}");
        if *e == listening {
            continue;
        }
        let logged = e["chatsock: ".len()..].to_lowercase();
        for o in out {
            let printed = o.to_lowercase();
            assert!(
                !logged.contains(&printed) && !printed.contains(&logged),
                "on both streams: {o:?} and {e:?}"
            );
        }
    }
    // The shutdown: requested in the log; counted down and ended on stdout.
    assert_eq!(
        err.iter()
            .filter(|l| l.starts_with("chatsock: shutdown requested"))
            .count(),
        1,
        "{err:?}"
    );
    for word in ["shut down", "second signal", "..."] {
        assert!(
            !err.iter().any(|l| l.to_lowercase().contains(word)),
            "{word:?} in the log: {err:?}"
        );
    }
    assert!(!out.iter().any(|l| l.contains("requested")), "{out:?}");
    assert_eq!(
        out.iter().filter(|l| *l == "Server shut down.").count(),
        1,
        "{out:?}"
    );
}

#[test]
fn sigterm_warns_everyone_at_once_lets_chat_go_on_then_says_goodbye_and_exits_0() {
    let mut server = Server::start();
    let mut alice = server.login("alice");
    let mut bob = server.login("bob");
    let mut carol = server.login("carol");
    let mut unnamed = server.client();
    unnamed.expect("Enter a username: ");
    bob.command(":join general");
    carol.command(":join general");
    bob.send(":chat");
    bob.expect_frame(GENERAL);
    carol.send(":chat");
    carol.expect_frame(GENERAL);

    let t0 = Instant::now();
    server.signal("TERM");

    // The notice reaches a palette client at once, as a highlighted block
    // followed by the prompt again.
    let notice = alice.expect_within(NOTICE, Duration::from_secs(2));
    assert!(notice.contains(RED_BG), "highlighted: {notice:?}");
    let rest = alice.expect("> ");
    assert!(rest.ends_with("\r\n> "), "prompt redrawn: {rest:?}");
    // … and a chat-view client, as a SERVER line.
    let (before, update) = bob.expect_update();
    assert_eq!(before, "");
    assert_eq!(
        strip_ansi(&update).trim_start_matches(['\r', '\n']),
        msg_line("SERVER", 10, NOTICE)
    );
    assert!(update.contains(RED_BG), "{update:?}");
    unnamed.expect_within(NOTICE, Duration::from_secs(2));
    assert!(
        t0.elapsed() < Duration::from_secs(3),
        "notice took {:?}",
        t0.elapsed()
    );

    // Chat goes on during the grace period.
    carol.expect_update();
    carol.send("still here");
    let (_, update) = bob.expect_update();
    assert_eq!(
        strip_ansi(&update).trim_start_matches(['\r', '\n']),
        msg_line("carol", 10, "still here")
    );
    assert_eq!(
        alice.command(":rooms"),
        "Available chatrooms:\r\n  - general (General chat) [2 online]\r\n  - games (Talk about games) [0/2 online]\r\n> "
    );

    // New connections are not served.
    let said = refused_connection(server.addr);
    assert!(
        !said.contains("Enter a username"),
        "a new client was served during the grace period: {said:?}"
    );

    // After 5 s: goodbye, then the socket closes.
    alice.expect(GOODBYE);
    let waited = t0.elapsed();
    assert!(
        waited >= Duration::from_millis(4500) && waited <= Duration::from_secs(9),
        "goodbye after {waited:?}"
    );
    alice.expect_closed();
    let (_, bye) = bob.expect_update();
    assert!(strip_ansi(&bye).contains(&msg_line("SERVER", 10, GOODBYE)));
    bob.expect_closed();
    let last = unnamed.expect_closed();
    assert!(last.contains(GOODBYE), "unnamed client: {last:?}");

    let status = server.wait_exit();
    assert!(status.success(), "exit status {status:?}");
    assert_eq!(status.code(), Some(0));

    // A countdown on stdout: 4, 3, 2, 1 in that order.
    let out = stdout_after_start(&server);
    let mut want = ['4', '3', '2', '1'].into_iter().peekable();
    for l in &out {
        if let Some(&d) = want.peek() {
            if l.trim_start().starts_with(d) {
                want.next();
            }
        }
    }
    assert!(want.peek().is_none(), "no countdown on stdout: {out:?}");
    assert_each_event_printed_once(&server);
}

#[test]
fn sigint_shuts_down_gracefully_too() {
    let mut server = Server::start();
    let mut alice = server.login("alice");
    let t0 = Instant::now();
    server.signal("INT");
    alice.expect_within(NOTICE, Duration::from_secs(2));
    alice.expect(GOODBYE);
    assert!(t0.elapsed() >= Duration::from_millis(4500));
    alice.expect_closed();
    let status = server.wait_exit();
    assert_eq!(status.code(), Some(0), "{status:?}");
}

#[test]
fn a_second_signal_ends_at_once() {
    let mut server = Server::start();
    let mut alice = server.login("alice");
    let t0 = Instant::now();
    server.signal("TERM");
    alice.expect_within(NOTICE, Duration::from_secs(2));
    server.signal("INT");
    let status = server.wait_exit();
    let took = t0.elapsed();
    assert!(took < Duration::from_secs(3), "exit after {took:?}");
    assert_eq!(status.code(), Some(0), "{status:?}");
    let last = alice.expect_closed();
    assert!(last.contains(GOODBYE), "{last:?}");
    assert_each_event_printed_once(&server);
}

#[test]
fn with_nobody_connected_a_signal_exits_at_once() {
    let mut server = Server::start();
    // A client that came and went leaves nobody to warn.
    let mut alice = server.login("alice");
    alice.send(":quit");
    alice.expect("(y/n) ");
    alice.send("y");
    alice.expect_closed();
    wait_online(&mut server, 0);
    let t0 = Instant::now();
    server.signal("TERM");
    let status = server.wait_exit();
    let took = t0.elapsed();
    assert_eq!(status.code(), Some(0), "{status:?}");
    assert!(took < Duration::from_millis(500), "exit after {took:?}");
    // The last line is still printed; no countdown.
    let out = stdout_after_start(&server);
    assert_eq!(out, ["Server shut down."], "{out:?}");
    assert_each_event_printed_once(&server);
}

#[test]
fn a_server_nobody_ever_connected_to_exits_at_once_on_sigint() {
    let mut server = Server::start();
    let t0 = Instant::now();
    server.signal("INT");
    let status = server.wait_exit();
    let took = t0.elapsed();
    assert_eq!(status.code(), Some(0), "{status:?}");
    assert!(took < Duration::from_millis(500), "exit after {took:?}");
    assert_eq!(stdout_after_start(&server), ["Server shut down."]);
    assert_each_event_printed_once(&server);
}

#[test]
fn no_event_is_printed_on_both_stdout_and_stderr() {
    // Every kind of event: start, connect, name, disconnect, the shutdown
    // notice, the second signal, the end.
    let mut server = Server::start();
    let mut alice = server.login("alice");
    alice.send(":quit");
    alice.expect("(y/n) ");
    alice.send("y");
    alice.expect_closed();
    let mut bob = server.login("bob");
    server.signal("TERM");
    bob.expect_within(NOTICE, Duration::from_secs(2));
    server.expect_stdout("5... (signal again to stop at once)");
    server.signal("TERM");
    assert_eq!(server.wait_exit().code(), Some(0));
    bob.expect_closed();
    let (out, err) = (&server.stdout_seen, &server.stderr_seen);
    assert_eq!(
        stdout_after_start(&server),
        [
            "5... (signal again to stop at once)",
            "Second signal: shutting down now.",
            "Server shut down."
        ]
    );
    for logged in [
        "chatsock: client connected: ",
        "chatsock: user named: ",
        "chatsock: client disconnected: ",
        "chatsock: shutdown requested; closing in 5 seconds",
    ] {
        assert!(
            err.iter().any(|l| l.starts_with(logged)),
            "{logged}: {err:?}"
        );
        assert!(!out.iter().any(|l| l.contains(logged)), "{logged}: {out:?}");
    }
    assert_each_event_printed_once(&server);
}
