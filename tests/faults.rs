//! Faults of the host and of the operator (issue 8): running out of file
//! descriptors, a second signal while the loop is busy, clients that never
//! read pinning kernel memory. (Log output faults: tests/logfaults.rs;
//! impossible config values: tests/cli.rs.)

mod common;
use common::*;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

/// What a new connection is told first.
#[derive(Debug, PartialEq, Eq)]
enum Answer {
    Served,
    Full,
    Silent,
}

/// Waits up to `wait` for the first answer on `s`.
fn answer(s: &mut TcpStream, wait: Duration) -> Answer {
    let deadline = Instant::now() + wait;
    let mut got = Vec::new();
    let mut chunk = [0u8; 1024];
    loop {
        let text = String::from_utf8_lossy(&got);
        if text.contains("Enter a username: ") {
            return Answer::Served;
        }
        if text.contains("Server full, try again later.") {
            return Answer::Full;
        }
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Answer::Silent;
        }
        s.set_read_timeout(Some(left)).unwrap();
        match s.read(&mut chunk) {
            Ok(0) => return Answer::Silent,
            Ok(n) => got.extend_from_slice(&chunk[..n]),
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(_) => return Answer::Silent,
        }
    }
}

fn connect(addr: SocketAddr) -> TcpStream {
    TcpStream::connect_timeout(&addr, TIMEOUT).expect("connect")
}

#[test]
fn out_of_descriptors_every_client_is_answered_and_a_freed_descriptor_serves_the_next() {
    let cfg = Cfg::base().set("maxClientsPerIp", "0");
    let mut server = Server::with_fd_limit(&cfg, 64);
    server.expect_log("the open-file limit is 64");
    // 150 connects at once: far more than 64 descriptors hold.
    let mut socks: Vec<TcpStream> = (0..150).map(|_| connect(server.addr)).collect();
    let answers: Vec<Answer> = socks
        .iter_mut()
        .map(|s| answer(s, Duration::from_secs(2)))
        .collect();
    let served = answers.iter().filter(|a| **a == Answer::Served).count();
    let full = answers.iter().filter(|a| **a == Answer::Full).count();
    assert_eq!(served + full, 150, "some waited unanswered: {answers:?}");
    assert!(served >= 30 && full >= 80, "served {served}, full {full}");
    server.expect_log("out of file descriptors");

    // At the limit and idle, the server does not spin.
    assert_not_spinning(server.pid(), "while out of descriptors");

    // Clients that leave free descriptors: new ones are served at once.
    let mut kept: Vec<TcpStream> = Vec::new();
    let mut freed = 0;
    for (s, a) in socks.drain(..).zip(answers) {
        if a == Answer::Served && freed < 10 {
            freed += 1;
            drop(s);
        } else if a == Answer::Served {
            kept.push(s);
        }
    }
    wait_log_count(&mut server, "client disconnected", 10, TIMEOUT);
    for i in 0..10 {
        let mut s = connect(server.addr);
        assert_eq!(
            answer(&mut s, Duration::from_secs(1)),
            Answer::Served,
            "client {i} after descriptors came free"
        );
        kept.push(s);
    }
    // Still at the limit: the next one is refused, not left waiting.
    let mut extra = connect(server.addr);
    assert_eq!(answer(&mut extra, Duration::from_secs(1)), Answer::Full);
    // The clients it has are still served.
    let mut c = Client::from_stream(kept.pop().unwrap());
    c.send("zed");
    c.expect("You are now connected as 'zed'.");
    server.assert_alive();
}

#[test]
fn a_second_signal_soon_after_the_first_ends_at_once() {
    let mut server = Server::start();
    let mut alice = server.login("alice");
    server.signal("TERM");
    alice.expect("The server will be shutting down in 5 seconds!!");
    let t = Instant::now();
    server.signal("TERM");
    let status = server.wait_exit();
    assert!(status.success(), "{status:?}");
    assert!(t.elapsed() < Duration::from_secs(2), "{:?}", t.elapsed());
}

#[test]
fn two_signals_while_the_loop_is_busy_count_as_two() {
    // The old loop blocked writing to a log nobody read; signals arriving
    // meanwhile were one pending flag. Now the loop never blocks on the log,
    // and each signal is counted even if both arrive before it looks.
    let cfg = Cfg::base()
        .set("maxClientsPerIp", "0")
        .set("maxClients", "0");
    let mut server = Server::with_outputs(&cfg, Output::Read, Output::Stalled);
    for _ in 0..1500 {
        let mut s = connect(server.addr);
        s.write_all(b"x").ok();
    }
    let mut alice = server.login("alice");
    server.signal("TERM");
    std::thread::sleep(Duration::from_millis(50));
    let t = Instant::now();
    server.signal("TERM");
    alice.expect("The server will be shutting down in 5 seconds!!");
    let status = server.wait_exit();
    assert!(status.success(), "{status:?}");
    // Immediate exit, plus at most the one second the stalled log may take.
    assert!(t.elapsed() < Duration::from_secs(3), "{:?}", t.elapsed());
}

#[test]
fn clients_that_never_read_pin_a_bounded_kernel_send_queue() {
    let server = Server::with(&Cfg::base().set("messageLimit", "0"));
    let port = server.addr.port();
    let mut viewers = Vec::new();
    for i in 0..10 {
        let mut v = Client::connect_small_rcvbuf(server.addr);
        v.login(&format!("v{i}"));
        v.enter_room("general");
        viewers.push(v);
    }
    let mut talker = server.login("talker");
    talker.enter_room("general");
    // About 1 MB of updates for each viewer, none of which it reads.
    let pad = "p".repeat(400);
    for i in 0..2500 {
        talker.send(&format!("m{i} {pad}"));
        if i % 100 == 99 {
            talker.take_pending(Duration::from_millis(1));
        }
    }
    talker.send("last");
    talker.expect_within("last", Duration::from_secs(30));
    let queues = send_queues(port);
    // The talker's socket and the ten viewers'.
    assert!(queues.len() >= 10, "{queues:?}");
    let max = queues.iter().copied().max().unwrap();
    // SO_SNDBUF 16 KiB, which Linux doubles: the kernel holds at most about
    // 32 KiB per client (it would take up to tcp_wmem's maximum, MiBs).
    assert!(max <= 48 * 1024, "kernel send queues {queues:?}");
}
