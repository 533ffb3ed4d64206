//! SPEC §7 as a whole: a few hundred clients connecting, chatting,
//! flooding, stalling and dropping at once; afterwards every survivor still
//! works and the server's client count is what it should be.

mod common;
use common::*;
use std::io::{Read, Write};
use std::net::SocketAddr;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

const CHATTERS: usize = 120;
const FLOODERS: usize = 60;
const STALLERS: usize = 60;
const DROPPERS: usize = 60;

fn room(i: usize) -> &'static str {
    if i.is_multiple_of(2) {
        "general"
    } else {
        "games"
    }
}

/// Reads whatever is waiting, without blocking for long.
fn drain(c: &mut Client) {
    let _ = c.take_pending(Duration::from_millis(2));
}

fn chatter(addr: SocketAddr, i: usize) -> Client {
    let mut c = Client::connect(addr);
    c.login(&format!("c{i}"));
    c.enter_room(room(i));
    for k in 0..10 {
        c.send(&format!("c{i} says {k}"));
        drain(&mut c);
    }
    c
}

fn flooder(addr: SocketAddr, i: usize) {
    let mut c = Client::connect(addr);
    c.login(&format!("f{i}"));
    c.enter_room(room(i));
    if i.is_multiple_of(2) {
        // Throttled: 300 lines of ~40 bytes, processed at the flood rate.
        let lines: String = (0..300)
            .map(|k| format!("f{i} floods {k:04} ....\r\n"))
            .collect();
        let _ = c.stream.write_all(lines.as_bytes());
    } else {
        // 200 KB of tiny lines at once: excess flood. Half of these reset
        // their connection at once; the rest wait to be thrown out.
        let _ = c.stream.write_all(&b"z\n".repeat(100_000));
        if i % 4 == 1 {
            resetting(&c);
        } else {
            c.expect_closed();
        }
        return;
    }
    drain(&mut c);
}

fn staller(addr: SocketAddr, i: usize) -> Client {
    let mut c = Client::connect_small_rcvbuf(addr);
    c.login(&format!("s{i}"));
    if i.is_multiple_of(2) {
        // Never reads its chat view.
        c.enter_room(room(i));
    } else {
        // Asks for :help (at the flood rate) and never reads the replies.
        let _ = c
            .stream
            .write_all(":help                    \r\n".repeat(200).as_bytes());
    }
    c
}

fn dropper(addr: SocketAddr, i: usize) {
    let mut c = Client::connect(addr);
    match i % 6 {
        0 => {}
        1 => c.send_raw(b"half-a-na"),
        2 => {
            c.expect("Enter a username: ");
            c.send_raw(&[0xff, 0xfa, 0x18]); // unfinished subnegotiation
        }
        3 => {
            c.login(&format!("d{i}"));
            c.send_raw(b"typing half a li");
        }
        4 => {
            c.login(&format!("d{i}"));
            c.enter_room(room(i));
            c.send("bye all");
        }
        _ => {
            c.login(&format!("d{i}"));
            let _ = c.command(&format!(":dm c{i}"));
        }
    }
    if i.is_multiple_of(2) {
        resetting(&c);
    }
    let mut sink = [0u8; 4096];
    c.stream.set_nonblocking(true).unwrap();
    let _ = c.stream.read(&mut sink);
}

#[test]
fn hundreds_of_mixed_clients_leave_survivors_working_and_counts_right() {
    let started = Instant::now();
    let mut server = Server::with(
        &Cfg::base()
            .set("maxClientsPerIp", "0")
            .set("floodRate", "10")
            .set("floodBurst", "20")
            .set("sendQueueLimit", "16384")
            .set("chatviewMax", "10")
            .set(
                "rooms",
                r#"{
        "general": (public: true, password: "", description: "General", limit: 0),
        "games": (public: true, password: "", description: "Games", limit: 0),
    }"#,
            ),
    );
    let addr = server.addr;
    let chatters: Vec<JoinHandle<Client>> = (0..CHATTERS)
        .map(|i| std::thread::spawn(move || chatter(addr, i)))
        .collect();
    let stallers: Vec<JoinHandle<Client>> = (0..STALLERS)
        .map(|i| std::thread::spawn(move || staller(addr, i)))
        .collect();
    let others: Vec<JoinHandle<()>> = (0..FLOODERS)
        .map(|i| std::thread::spawn(move || flooder(addr, i)))
        .chain((0..DROPPERS).map(|i| std::thread::spawn(move || dropper(addr, i))))
        .collect();

    let mut survivors: Vec<Client> = chatters.into_iter().map(|t| t.join().unwrap()).collect();
    let stalled: Vec<Client> = stallers.into_iter().map(|t| t.join().unwrap()).collect();
    for t in others {
        t.join().unwrap();
    }
    server.assert_alive();
    // Every excess flooder that did not reset its own connection first.
    wait_log_count(&mut server, "excess flood", FLOODERS / 4, TIMEOUT);
    // Stalled readers cost the server bounded memory (their queues are
    // capped; in the chat view, replaced by one redraw).
    let (_, peak) = rss_kib(server.pid());
    assert!(peak < 64 * 1024, "server peak RSS {peak} KiB");
    eprintln!("soak: server peak RSS {peak} KiB");

    // The stallers leave; the chatters remain.
    drop(stalled);
    wait_online(&mut server, CHATTERS);

    // Every survivor still works: its message reaches its own screen...
    for (i, c) in survivors.iter_mut().enumerate() {
        c.send(&format!("final from c{i} end"));
        c.expect(&format!("final from c{i} end"));
    }
    // ... and its room neighbours' screens.
    survivors[0].send("one more from c0");
    survivors[2].expect("one more from c0");
    survivors[CHATTERS - 2].expect("one more from c0");
    let c0 = &mut survivors[0];
    c0.send(":q");
    c0.expect("You left chat view.");
    c0.expect("> ");
    let reply = c0.command(":listall");
    let names = reply.lines().filter(|l| l.starts_with("  - ")).count();
    assert_eq!(names, CHATTERS, "{reply:?}");
    let reply = c0.command(":rooms");
    assert!(
        reply.contains(&format!("general (General) [{} online]", CHATTERS / 2)),
        "{reply:?}"
    );
    assert!(
        started.elapsed() < Duration::from_secs(50),
        "soak took {:?}",
        started.elapsed()
    );
}
