//! Issue 8: log output that fails or stalls never blocks or kills the
//! server — stdout or stderr into a closed pipe, onto /dev/full, or into a
//! pipe nobody reads — and exit codes stay right when stderr is broken.

mod common;
use common::*;
use std::io::Write;
use std::os::fd::AsRawFd;
use std::process::{Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

const NOTICE: &str = "The server will be shutting down in 5 seconds!!";
const GOODBYE: &str = "Server shut down. Goodbye!";
const GENERAL: &str = "[room/general]";
/// The grace period after SIGTERM (SPEC §6).
const GRACE: Duration = Duration::from_secs(5);

/// `n` clients named `u0`, `u1`, …, all in the chat view of `general`.
fn room_of(server: &Server, n: usize) -> Vec<Client> {
    (0..n)
        .map(|i| {
            let mut c = server.login(&format!("u{i}"));
            c.enter_room("general");
            c
        })
        .collect()
}

/// Each client says something; every other client sees it.
fn everyone_talks(clients: &mut [Client]) {
    for i in 0..clients.len() {
        let text = format!("hello from u{i}");
        clients[i].send(&text);
        clients[i].expect_sent(GENERAL);
        for (j, other) in clients.iter_mut().enumerate() {
            if j != i {
                other.expect(&text);
            }
        }
    }
}

/// SIGTERM; every client gets the notice at once and the goodbye after the
/// grace period; the server exits 0 soon after. Returns how long it took
/// from the signal to the exit.
fn terminate(server: &mut Server, clients: &mut [Client]) -> Duration {
    let t0 = Instant::now();
    server.signal("TERM");
    for c in clients.iter_mut() {
        c.expect_within(NOTICE, Duration::from_secs(2));
    }
    for c in clients.iter_mut() {
        c.expect_within(GOODBYE, GRACE + Duration::from_secs(3));
    }
    let status = server.wait_exit();
    assert_eq!(status.code(), Some(0), "{status:?}");
    t0.elapsed()
}

#[test]
fn stdout_into_a_closed_pipe_still_serves_and_shuts_down_gracefully() {
    let mut server = Server::with_outputs(&Cfg::base(), Output::Closed, Output::Read);
    let mut alice = server.login("alice");
    alice.enter_room("general");
    // The shutdown's stdout lines (countdown, `Server shut down.`) all fail.
    terminate(&mut server, std::slice::from_mut(&mut alice));
    assert!(
        server
            .stderr_seen
            .iter()
            .any(|l| l.starts_with("chatsock: shutdown requested")),
        "{:?}",
        server.stderr_seen
    );
}

#[test]
fn stderr_into_a_closed_pipe_still_serves_everyone() {
    let mut server = Server::with_outputs(&Cfg::base(), Output::Read, Output::Closed);
    // Every connect, name and disconnect is a failed stderr write.
    let mut clients = room_of(&server, 5);
    everyone_talks(&mut clients);
    let mut quitter = server.login("quitter");
    quitter.send(":quit");
    quitter.expect("(y/n) ");
    quitter.send("y");
    quitter.expect_closed();
    everyone_talks(&mut clients);
    terminate(&mut server, &mut clients);
    assert!(
        server.stdout_seen.iter().any(|l| l == "Server shut down."),
        "{:?}",
        server.stdout_seen
    );
}

#[test]
fn stdout_on_dev_full_still_serves() {
    let mut server = Server::with_outputs(&Cfg::base(), Output::Full, Output::Read);
    let mut clients = room_of(&server, 2);
    everyone_talks(&mut clients);
    terminate(&mut server, &mut clients);
}

#[test]
fn stderr_on_dev_full_still_serves() {
    let mut server = Server::with_outputs(&Cfg::base(), Output::Read, Output::Full);
    let mut clients = room_of(&server, 2);
    everyone_talks(&mut clients);
    terminate(&mut server, &mut clients);
}

#[test]
fn a_stalled_stderr_never_freezes_the_server_or_its_exit() {
    let cfg = Cfg::base().set("maxClientsPerIp", "0");
    let mut server = Server::with_outputs(&cfg, Output::Read, Output::Stalled);
    // Each cycle logs a connect and a disconnect, over 100 bytes: 1500
    // cycles are more than twice the pipe's 64 KiB and the log queue's
    // 1024 lines. A server that waits for its log would stop answering
    // about 500 cycles in.
    let t0 = Instant::now();
    for i in 0..1500 {
        let mut c = server.client();
        let got = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            c.expect_within("Enter a username: ", Duration::from_secs(2))
        }));
        assert!(got.is_ok(), "connection {i} got no username prompt");
    }
    let cycles = t0.elapsed();
    assert!(
        cycles < Duration::from_secs(20),
        "1500 cycles took {cycles:?}"
    );
    // The stall is real: the pipe fills (the log writer thread may still
    // be catching up when the last cycle ends; a full 64 KiB pipe can hold
    // a little less, since the kernel fills it page by page).
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut waiting = server.stalled_bytes();
    while waiting < 48 * 1024 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
        waiting = server.stalled_bytes();
    }
    assert!(waiting >= 48 * 1024, "only {waiting} bytes in the pipe");

    let t0 = Instant::now();
    let mut fresh = server.client();
    fresh.expect_within("Enter a username: ", Duration::from_secs(2));
    assert!(t0.elapsed() < Duration::from_secs(2));
    fresh.send("fresh");
    fresh.expect("You are now connected as 'fresh'.");
    fresh.expect("> ");
    fresh.enter_room("general");
    let mut other = server.login("other");
    other.enter_room("general");
    let mut clients = [fresh, other];
    everyone_talks(&mut clients);

    let took = terminate(&mut server, &mut clients);
    assert!(
        took < GRACE + Duration::from_secs(3),
        "exit {took:?} after SIGTERM"
    );
    // stdout was never held up by the stalled stderr.
    assert!(
        server.stdout_seen.iter().any(|l| l == "Server shut down."),
        "{:?}",
        server.stdout_seen
    );
}

// ---- exit codes with a broken stderr ---------------------------------------

/// Where the child's stderr goes in `exit_of`.
#[derive(Clone, Copy, Debug)]
enum Broken {
    /// A pipe whose read end is already closed (EPIPE).
    ClosedPipe,
    /// No fd 2 at all (the shell closes it before exec).
    ClosedFd,
    /// /dev/full (ENOSPC).
    Full,
    /// A pipe that is already full and never read (the write blocks).
    Stalled,
}

const ALL_BROKEN: [Broken; 4] = [
    Broken::ClosedPipe,
    Broken::ClosedFd,
    Broken::Full,
    Broken::Stalled,
];

/// Runs `chatsock ARGS` with stderr `broken` and stdout discarded; returns
/// its exit status and how long it ran.
fn exit_of(args: &[&str], broken: Broken) -> (ExitStatus, Duration) {
    let mut cmd = match broken {
        Broken::ClosedFd => {
            let mut c = Command::new("sh");
            c.arg("-c").arg("exec \"$0\" \"$@\" 2>&-").arg(bin());
            c
        }
        _ => Command::new(bin()),
    };
    cmd.args(args).stdin(Stdio::null()).stdout(Stdio::null());
    // Kept open until the child exits, so a stalled pipe stays stalled.
    let mut keep = None;
    match broken {
        Broken::ClosedPipe => {
            let (r, w) = std::io::pipe().unwrap();
            drop(r);
            cmd.stderr(w);
        }
        Broken::ClosedFd => {}
        Broken::Full => {
            let full = std::fs::OpenOptions::new()
                .write(true)
                .open("/dev/full")
                .unwrap();
            cmd.stderr(full);
        }
        Broken::Stalled => {
            let (r, mut w) = std::io::pipe().unwrap();
            // An empty pipe takes one write of its whole capacity at once.
            // SAFETY: F_GETPIPE_SZ only reads the pipe's size.
            let capacity = unsafe { libc::fcntl(w.as_raw_fd(), libc::F_GETPIPE_SZ) };
            assert!(capacity > 0, "F_GETPIPE_SZ");
            w.write_all(&vec![b'x'; capacity as usize]).unwrap();
            cmd.stderr(w);
            keep = Some(r);
        }
    }
    let t0 = Instant::now();
    let mut child = cmd.spawn().expect("spawn chatsock");
    drop(cmd);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if t0.elapsed() > TIMEOUT {
            let _ = child.kill();
            panic!("chatsock {args:?} with stderr {broken:?} did not exit within {TIMEOUT:?}");
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    drop(keep);
    (status, t0.elapsed())
}

#[test]
fn a_config_error_exits_1_even_when_stderr_is_broken() {
    let missing = std::env::temp_dir().join(format!("chatsock-nowhere-{}.ron", std::process::id()));
    let missing = missing.to_str().unwrap();
    for broken in ALL_BROKEN {
        let (status, took) = exit_of(&["--config", missing, "--port", "0"], broken);
        assert_eq!(status.code(), Some(1), "stderr {broken:?}: {status:?}");
        // Even a stalled stderr holds the exit up by about a second only.
        assert!(took < Duration::from_secs(4), "stderr {broken:?}: {took:?}");
    }
}

#[test]
fn a_bind_error_exits_1_even_when_stderr_is_broken() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port().to_string();
    let config = temp_file(&Cfg::base().ron());
    let config = config.to_str().unwrap();
    for broken in ALL_BROKEN {
        let (status, took) = exit_of(&["--config", config, "--port", &port], broken);
        assert_eq!(status.code(), Some(1), "stderr {broken:?}: {status:?}");
        assert!(took < Duration::from_secs(4), "stderr {broken:?}: {took:?}");
    }
    let _ = std::fs::remove_file(config);
}

#[test]
fn a_usage_error_exits_2_even_when_stderr_is_broken() {
    for broken in ALL_BROKEN {
        let (status, took) = exit_of(&["--no-such-flag"], broken);
        assert_eq!(status.code(), Some(2), "stderr {broken:?}: {status:?}");
        assert!(took < Duration::from_secs(4), "stderr {broken:?}: {took:?}");
    }
}

#[test]
fn help_and_version_into_a_closed_pipe_exit_0() {
    for flag in ["--help", "--version"] {
        let (r, w) = std::io::pipe().unwrap();
        drop(r);
        let status = Command::new(bin())
            .arg(flag)
            .stdin(Stdio::null())
            .stdout(w)
            .stderr(Stdio::null())
            .status()
            .unwrap();
        assert_eq!(status.code(), Some(0), "{flag}: {status:?}");
    }
}
