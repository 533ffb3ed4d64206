//! SPEC §3 text handling and §7: hostile and broken clients. Each test
//! fails without the protection it names.

mod common;
use common::*;
use socket2::{Domain, Socket, Type};
use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

/// Connects from a chosen local address (e.g. 127.0.0.2).
fn connect_from(local: &str, to: SocketAddr) -> Client {
    let local = SocketAddr::new(local.parse().unwrap(), 0);
    let socket = Socket::new(Domain::for_address(to), Type::STREAM, None).unwrap();
    socket.bind(&local.into()).expect("bind source address");
    socket
        .connect_timeout(&to.into(), TIMEOUT)
        .expect("connect");
    let stream: TcpStream = socket.into();
    stream.set_nodelay(true).unwrap();
    Client::from_stream(stream)
}

/// A deterministic byte source (xorshift), so failures reproduce.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn bytes(&mut self, n: usize) -> Vec<u8> {
        (0..n).map(|_| self.next() as u8).collect()
    }
}

/// The text of the message line that carries `needle`, as a receiver got
/// it (from the line's start after the scroll-region move to its end).
fn message_line<'a>(received: &'a str, needle: &str) -> &'a str {
    let at = received.find(needle).expect("message present");
    let start = received[..at].rfind('\n').map_or(0, |i| i + 1);
    let end = received[at..]
        .find("\x1b[r")
        .map_or(received.len(), |i| at + i);
    &received[start..end]
}

// ---- 1. escape injection, UTF-8, telnet ---------------------------------

#[test]
fn escape_sequences_in_usernames_are_removed() {
    let server = Server::start();
    let mut c = server.client();
    c.expect("Enter a username: ");
    c.send("\x1b[31mev\x07il\x1b]0;pwned\x07\x7f");
    c.expect("You are now connected as 'evil'.");
    let mut other = server.login("other");
    let list = other.command(":listall");
    assert!(list.contains("  - evil\r\n"), "{list:?}");
}

#[test]
fn escape_sequences_in_messages_never_reach_other_terminals() {
    let server = Server::start();
    let mut evil = server.login("evil");
    let mut victim = server.login("victim");
    victim.enter_room("general");
    evil.enter_room("general");
    victim.expect("evil joined the room.");
    // CSI clear screen, SGR colour, OSC title with BEL and ST, a C1 CSI
    // (U+009B), DEL, a right-to-left override, a cursor move, a tab.
    evil.send_raw(
        "hi \x1b[2J\x1b[31mthere\x1b]0;owned\x07 \x1b]2;x\x1b\\you\u{9b}2J\x7f\u{202e}!\x1b[10;1H\tok\r\n"
            .as_bytes(),
    );
    let got = victim.expect("ok");
    let line = message_line(&got, "hi ");
    assert_eq!(
        strip_ansi(line),
        "[evil      ]: hi there you! ok",
        "visible text kept"
    );
    // Only our own framing may carry escapes: the update's prefix ends in
    // "\n" right before the line, so the line itself must be clean.
    for bad in ['\x1b', '\x07', '\x7f', '\u{9b}', '\u{202e}', '\t'] {
        assert!(!line.contains(bad), "{bad:?} reached the victim: {line:?}");
    }
}

#[test]
fn escape_sequences_in_command_arguments_are_removed() {
    let server = Server::start();
    let _target = server.login("target");
    let mut c = server.login("evil");
    let reply = c.command(":dm tar\x1b[31mget\x07");
    assert!(
        reply.contains("You opened a DM with 'target'."),
        "{reply:?}"
    );
    let reply = c.command(":join gen\x1b]0;x\x07eral");
    assert!(
        reply.contains("You joined the room 'general'!"),
        "{reply:?}"
    );
}

#[test]
fn invalid_utf8_becomes_replacement_character() {
    let server = Server::start();
    let mut a = server.login("a");
    let mut b = server.login("b");
    b.enter_room("general");
    a.enter_room("general");
    b.expect("a joined the room.");
    // (0xff would be telnet IAC, so it is not used here.)
    a.send_raw(b"bad \xfe\x80\xc3 bytes\r\n");
    let got = b.expect("bytes");
    let line = message_line(&got, "bad ");
    assert!(
        line.contains("bad \u{FFFD}\u{FFFD}\u{FFFD} bytes"),
        "{line:?}"
    );
}

#[test]
fn telnet_negotiation_is_consumed_not_shown() {
    let server = Server::start();
    let mut a = server.client();
    a.expect("Enter a username: ");
    // IAC DO ECHO, IAC WILL SGA, a terminal-type subnegotiation, then the
    // name with an IAC NOP in the middle.
    a.send_raw(b"\xff\xfd\x01\xff\xfb\x03\xff\xfa\x18\x00xterm\xff\xf0te\xff\xf1lnet\r\n");
    a.expect("You are now connected as 'telnet'.");
    a.expect("> ");
    let mut b = server.login("b");
    b.enter_room("general");
    a.enter_room("general");
    b.expect("telnet joined the room.");
    a.send_raw(b"he\xff\xfb\x1fllo\xff\xfa\x1f\x00\x50\x00\x18\xff\xf0 world\r\n");
    let got = b.expect("world");
    assert_eq!(
        strip_ansi(message_line(&got, "he")),
        "[telnet    ]: hello world"
    );
}

// ---- 2. a client that stops reading ----------------------------------------

#[test]
fn stalled_reader_is_disconnected_at_send_queue_limit_others_unaffected() {
    let mut server = Server::with(&Cfg::base().set("sendQueueLimit", "16384"));
    let talker = server.login("talker");
    let watcher = server.login("watcher");
    let staller = server.login("staller");
    // The staller asks for :help over and over and never reads a byte.
    let spam = ":help\r\n".repeat(60_000).into_bytes();
    stalled_reader_is_dropped(&mut server, talker, watcher, staller, spam);
}

#[test]
fn stalled_chat_viewer_gets_one_redraw_instead_of_a_growing_queue() {
    let mut server = Server::with(&stalled_viewer_cfg(Cfg::base()));
    // A small receive buffer keeps the kernel from absorbing the backlog.
    let slow = Client::connect_small_rcvbuf(server.addr);
    stalled_viewer_gets_one_redraw(&mut server, slow);
}

#[test]
fn a_viewer_that_keeps_reading_gets_every_message_of_a_burst() {
    // Coalescing is only for clients the kernel will not take more from:
    // ten senders bursting at once must not cost a reading viewer a line.
    let server = Server::start();
    let mut viewer = server.login("viewer");
    viewer.enter_room("general");
    let mut senders: Vec<Client> = (0..10)
        .map(|i| {
            let mut c = server.login(&format!("s{i}"));
            c.enter_room("general");
            viewer.expect(&format!("s{i} joined the room."));
            c
        })
        .collect();
    for (i, c) in senders.iter_mut().enumerate() {
        let burst: String = (0..50).map(|k| format!("b{i}x{k}y\r\n")).collect();
        c.send_raw(burst.as_bytes());
    }
    let mut got = String::new();
    let deadline = Instant::now() + Duration::from_secs(20);
    while !(0..10).all(|i| got.contains(&format!("b{i}x49y"))) {
        assert!(Instant::now() < deadline, "burst not delivered");
        got.push_str(&viewer.take_pending(Duration::from_millis(50)));
    }
    let missing: Vec<String> = (0..10)
        .flat_map(|i| (0..50).map(move |k| format!("b{i}x{k}y")))
        .filter(|m| !got.contains(&format!("{m}\x1b[r")))
        .collect();
    assert!(missing.is_empty(), "missed as updates: {missing:?}");
}

// ---- 3. long lines ---------------------------------------------------------

#[test]
fn overlong_line_is_dropped_with_a_notice_and_memory_stays_bounded() {
    let server = Server::with(&Cfg::base().set("maxLineLength", "64"));
    let mut c = server.login("longline");
    let (_, base_peak) = rss_kib(server.pid());
    // 64 MiB without a newline, then the newline and a command.
    let mut tx = c.stream.try_clone().unwrap();
    let writer = std::thread::spawn(move || {
        let chunk = vec![b'a'; 1 << 20];
        for _ in 0..64 {
            tx.write_all(&chunk).unwrap();
        }
        tx.write_all(b"\r\n:rooms\r\n").unwrap();
    });
    c.expect_within("Line too long.", Duration::from_secs(30));
    let reply = c.expect("Available chatrooms:");
    assert!(!reply.contains("not a command"), "{reply:?}");
    writer.join().unwrap();
    c.expect("  - general");
    let (_, peak) = rss_kib(server.pid());
    assert!(
        peak < base_peak + 8 * 1024,
        "peak RSS grew from {base_peak} KiB to {peak} KiB"
    );
}

#[test]
fn line_at_the_limit_is_accepted() {
    let server = Server::with(&Cfg::base().set("maxLineLength", "64"));
    let mut c = server.login("edge");
    let line = format!(":join {}", "x".repeat(64 - 6));
    assert_eq!(line.len(), 64);
    let reply = c.command(&line);
    assert!(reply.contains("That chatroom does not exist!"), "{reply:?}");
    let reply = c.command(&format!("{line}y"));
    assert!(reply.contains("Line too long."), "{reply:?}");
}

// ---- 4. flood ----------------------------------------------------------------

#[test]
fn flood_is_throttled_in_order_without_loss() {
    let server = Server::with(&Cfg::base().set("floodRate", "5").set("floodBurst", "3"));
    let mut a = server.login("a");
    let mut b = server.login("b");
    b.enter_room("general");
    a.enter_room("general");
    b.expect("a joined the room.");
    let burst: String = (0..10).map(|i| format!("flood{i}x\r\n")).collect();
    let t = Instant::now();
    a.send_raw(burst.as_bytes());
    let mut got = String::new();
    got.push_str(&b.expect("flood9x"));
    let took = t.elapsed();
    // 3 at once, then 7 more at 5/s: at least 1.4 s.
    assert!(took >= Duration::from_millis(1200), "took {took:?}");
    let order: Vec<usize> = (0..10)
        .map(|i| {
            got.find(&format!("flood{i}x"))
                .expect("every line delivered")
        })
        .collect();
    assert!(order.windows(2).all(|w| w[0] < w[1]), "{order:?}");
}

/// Bytes the server has not yet read from `client`'s connection: the
/// receive queue of the server-side socket, from /proc/net/tcp{,6}.
fn server_unread(server: &Server, client: &Client) -> u64 {
    let local = format!(":{:04X}", server.addr.port());
    let remote = format!(":{:04X}", client.stream.local_addr().unwrap().port());
    for table in ["/proc/net/tcp", "/proc/net/tcp6"] {
        let text = std::fs::read_to_string(table).unwrap_or_default();
        for line in text.lines().skip(1) {
            let f: Vec<&str> = line.split_whitespace().collect();
            if f.len() > 4 && f[1].ends_with(&local) && f[2].ends_with(&remote) {
                let rx = f[4].split(':').nth(1).unwrap();
                return u64::from_str_radix(rx, 16).unwrap();
            }
        }
    }
    panic!("server-side socket not found in /proc/net/tcp");
}

#[test]
fn flooder_is_not_read_while_throttled_so_the_kernel_pushes_back() {
    let server = Server::with(&Cfg::base().set("floodRate", "1").set("floodBurst", "1"));
    let mut c = server.login("flooder");
    // 40 KB of 100-byte lines: under the excess bound, far over the lines
    // the server takes in before it stops reading.
    let line = format!(":{}\r\n", "y".repeat(97));
    c.send_raw(line.repeat(400).as_bytes());
    let deadline = Instant::now() + TIMEOUT;
    let mut unread = 0;
    while unread < 30_000 {
        unread = server_unread(&server, &c);
        assert!(
            Instant::now() < deadline,
            "the server read all but {unread} bytes"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
    // Still connected, and served at the flood rate, in order.
    c.expect("Unknown command.");
    c.expect("Unknown command.");
    assert!(server_unread(&server, &c) >= 30_000);
}

#[test]
fn throttled_flooder_with_too_much_unread_input_is_disconnected() {
    let mut server = Server::with(&Cfg::base().set("floodRate", "1").set("floodBurst", "1"));
    let mut calm = server.login("calm");
    let mut c = server.login("flooder");
    let line = format!(":{}\r\n", "y".repeat(97));
    // Fails once the server resets the connection; that is the point.
    let _ = c.stream.write_all(line.repeat(2000).as_bytes());
    c.expect_closed();
    let log = server.expect_log("excess flood");
    assert!(log.contains("flooder"), "{log}");
    let reply = calm.command(":listall");
    assert!(!reply.contains("flooder"), "{reply:?}");
}

#[test]
fn excess_flood_disconnects() {
    let mut server = Server::with(&Cfg::base().set("floodRate", "5"));
    let mut ok = server.login("calm");
    let mut c = server.login("flooder");
    let _ = c.stream.write_all(&b"x\n".repeat(20_000));
    c.expect_closed();
    let log = server.expect_log("excess flood");
    assert!(log.contains("flooder"), "{log}");
    let reply = ok.command(":listall");
    assert!(!reply.contains("flooder"), "{reply:?}");
}

// ---- 5. connection limits ----------------------------------------------------

fn expect_refused(c: &mut Client) {
    let got = c.expect_closed();
    assert_eq!(got, "Server full, try again later.\r\n");
}

#[test]
fn max_clients_refuses_then_frees_the_slot() {
    let mut server = Server::with(&Cfg::base().set("maxClients", "2"));
    let a = server.login("a");
    let _b = server.login("b");
    let mut c = server.client();
    expect_refused(&mut c);
    drop(a);
    wait_online(&mut server, 1);
    let mut d = server.client();
    d.login("d");
}

#[test]
fn max_clients_per_ip_counts_each_address_ipv4_and_ipv6() {
    // A machine without IPv6 loopback still checks the IPv4 half.
    let ipv6 = std::net::TcpListener::bind("[::1]:0").is_ok();
    if !ipv6 {
        eprintln!("no IPv6 loopback here: checking IPv4 addresses only");
    }
    let host = if ipv6 { "\"::\"" } else { "\"127.0.0.1\"" };
    let mut server = Server::with(
        &Cfg::base()
            .set("host", host)
            .set("maxClientsPerIp", "2")
            .set("maxClients", "0"),
    );
    let port = server.addr.port();
    let v4: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
    let v6: SocketAddr = format!("[::1]:{port}").parse().unwrap();
    let mut first = connect_from("127.0.0.1", v4);
    first.login("a1");
    let mut second = connect_from("127.0.0.1", v4);
    second.login("a2");
    expect_refused(&mut connect_from("127.0.0.1", v4));
    // Another IPv4 address has its own count.
    let mut other_v4 = connect_from("127.0.0.2", v4);
    other_v4.login("b1");
    let mut online = 3;
    // So does IPv6.
    let mut v6_clients = Vec::new();
    if ipv6 {
        for name in ["c1", "c2"] {
            let mut c = connect_from("::1", v6);
            c.login(name);
            v6_clients.push(c);
        }
        expect_refused(&mut connect_from("::1", v6));
        online += 2;
    }
    // A freed slot is reusable.
    drop(first);
    wait_online(&mut server, online - 1);
    connect_from("127.0.0.1", v4).login("a3");
}

// ---- 6. name timeout -----------------------------------------------------------

#[test]
fn unnamed_client_is_disconnected_after_name_timeout_named_ones_stay() {
    let mut server = Server::with(&Cfg::base().set("nameTimeout", "1"));
    let mut named = server.login("named");
    let t = Instant::now();
    let mut lurker = server.client();
    lurker.expect("Enter a username: ");
    lurker.expect_closed();
    let took = t.elapsed();
    assert!(took >= Duration::from_millis(900), "closed after {took:?}");
    server.expect_log("name timeout");
    // The named client has been idle past the timeout too, and stays.
    assert!(t.elapsed() > Duration::from_secs(1));
    let reply = named.command(":listall");
    assert!(reply.contains("  - named"), "{reply:?}");
}

// ---- 7. resets, half-closes, garbage -----------------------------------------

#[test]
fn reset_clients_are_cleaned_out_of_rooms_and_dms() {
    let mut server = Server::start();
    let mut a = server.login("a");
    a.enter_room("general");
    let b = server.login("b");
    let mut bb = b;
    bb.command(":join general");
    a.expect("b joined the room.");
    let mut c = server.login("c");
    let d = server.login("d");
    let reply = c.command(":dm d");
    assert!(reply.contains("You opened a DM with 'd'."));
    resetting(&bb);
    resetting(&d);
    drop(bb);
    drop(d);
    a.expect("b left the room.");
    c.expect("d disconnected. Your DM with d was closed.");
    c.expect("> ");
    wait_online(&mut server, 2);
    let reply = c.command(":list");
    assert!(
        reply.contains("You are not connected to a chatroom or a DM!"),
        "{reply:?}"
    );
    let reply = c.command(":listall");
    assert!(reply.contains("  - a\r\n") && reply.contains("  - c\r\n"));
    assert!(!reply.contains("  - b\r\n") && !reply.contains("  - d\r\n"));
}

#[test]
fn half_closed_client_gets_its_replies_then_is_closed() {
    let mut server = Server::start();
    let mut c = server.client();
    c.send_raw(b"half\r\n:rooms\r\n");
    c.shutdown_write();
    let got = c.expect_closed();
    assert!(got.contains("You are now connected as 'half'."), "{got:?}");
    assert!(
        got.contains("  - general (General chat) [0 online]"),
        "{got:?}"
    );
    server.expect_log("closed by client");
    wait_online(&mut server, 0);
}

#[test]
fn random_bytes_from_many_clients_leave_everyone_else_unaffected() {
    let mut server = Server::with(&Cfg::base().set("maxClientsPerIp", "0"));
    let mut a = server.login("a");
    let mut b = server.login("b");
    b.enter_room("general");
    a.enter_room("general");
    b.expect("a joined the room.");
    let addr = server.addr;
    let noisy: Vec<_> = (0..40u64)
        .map(|i| {
            std::thread::spawn(move || {
                let mut rng = Rng(0x9E37_79B9_7F4A_7C15 ^ (i + 1));
                let mut c = Client::connect(addr);
                if i % 2 == 0 {
                    resetting(&c);
                }
                let mut sink = [0u8; 65536];
                c.stream.set_nonblocking(true).unwrap();
                for _ in 0..64 {
                    let chunk = rng.bytes(4096);
                    match c.stream.write(&chunk) {
                        Ok(_) => {}
                        Err(e) if e.kind() == ErrorKind::WouldBlock => {}
                        Err(_) => break,
                    }
                    if i % 3 == 0 {
                        let _ = c.stream.read(&mut sink);
                    }
                }
            })
        })
        .collect();
    for i in 0..20 {
        a.send(&format!("calm {i} end"));
        b.expect(&format!("calm {i} end"));
    }
    for t in noisy {
        t.join().unwrap();
    }
    wait_online(&mut server, 2);
    server.assert_alive();
    a.send("after the storm");
    b.expect("after the storm");
    a.send(":q");
    a.expect("You left chat view.");
    a.expect("> ");
    let reply = a.command(":listall");
    let names: Vec<&str> = reply.lines().filter(|l| l.starts_with("  - ")).collect();
    assert_eq!(names, ["  - a", "  - b"], "{reply:?}");
}
