//! SPEC §10: the TLS listener. Clients are rustls clients in this process
//! that trust the certificate the server made on first start.

mod common;

use common::*;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

/// Everything one scripted session receives, as raw bytes: login, a few
/// commands, quit.
fn scripted_session(mut c: Client) -> Vec<u8> {
    let mut all = String::new();
    all.push_str(&c.expect("Enter a username: "));
    c.send("zed");
    all.push_str(&c.expect("> "));
    for cmd in [":rooms", ":help", ":join general", ":who", ":leave"] {
        all.push_str(&c.command(cmd));
        all.push_str("> ");
    }
    c.send(":quit");
    all.push_str(&c.expect("(y/n) "));
    c.send("y");
    all.push_str(&c.expect_closed());
    let mut bytes = c.greeting.clone();
    bytes.extend_from_slice(all.as_bytes());
    bytes
}

#[test]
fn a_session_over_tls_is_byte_for_byte_the_plain_one() {
    let server = Server::with(&Cfg::base().tls());
    let plain = scripted_session(server.client());
    let tls = scripted_session(server.tls_client());
    assert!(plain.len() > 500, "{}", String::from_utf8_lossy(&plain));
    assert_eq!(
        String::from_utf8_lossy(&tls),
        String::from_utf8_lossy(&plain)
    );
    assert_eq!(tls, plain);
}

#[test]
fn tls_and_plain_clients_chat_in_one_room() {
    let mut server = Server::with(&Cfg::base().tls());
    let mut alice = server.tls_login("alice");
    let mut bob = server.login("bob");
    alice.enter_room("general");
    bob.enter_room("general");
    alice.expect("bob joined the room.");
    alice.send("hello from tls");
    let got = bob.expect("hello from tls");
    assert!(
        strip_ansi(&got).contains("[alice     ]: hello from tls"),
        "{got:?}"
    );
    bob.send("hello from plain");
    let got = alice.expect("hello from plain");
    assert!(
        strip_ansi(&got).contains("[bob       ]: hello from plain"),
        "{got:?}"
    );
    // A DM across transports, to bob at the palette.
    bob.send(":q");
    bob.expect("> ");
    alice.send(":q");
    alice.expect("> ");
    alice.send(":msg bob secret");
    bob.expect("secret");
    server.drain_output();
    let log = server.stderr_seen.join("\n");
    assert!(log.contains("over TLS"), "{log}");
    assert!(
        !log.contains("hello from") && !log.contains("secret"),
        "{log}"
    );
}

#[test]
fn first_start_makes_a_self_signed_certificate_with_a_private_key_file() {
    use std::os::unix::fs::PermissionsExt;
    let mut server = Server::with(&Cfg::base().tls());
    let dir = server.tls_dir.clone().unwrap();
    let made = server.expect_stdout("Made a self-signed certificate for 127.0.0.1, localhost");
    assert!(made.contains("mode 0600"), "{made}");
    let mode = std::fs::metadata(dir.join("key.pem"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600);
    // stdout: version, the made line, then the two listening lines in order.
    let out = &server.stdout_seen;
    let plain = out.iter().position(|l| l.starts_with("Now running on "));
    let tls = out.iter().position(|l| l.starts_with("TLS on "));
    assert!(plain.unwrap() < tls.unwrap(), "{out:?}");
    // The printed fingerprint is the certificate's SHA-256.
    use rustls::pki_types::pem::PemObject;
    let der = rustls::pki_types::CertificateDer::from_pem_file(dir.join("cert.pem")).unwrap();
    assert_eq!(
        server.tls_fingerprint.as_deref(),
        Some(chatsock::transport::tls::fingerprint(&der).as_str())
    );
    // The certificate is valid for the host (an IP) and localhost.
    let addr = server.tls_addr.unwrap();
    let mut by_ip = Client::connect_tls(addr, &dir.join("cert.pem"), "127.0.0.1");
    by_ip.expect("Enter a username: ");
    let mut by_name = Client::connect_tls(addr, &dir.join("cert.pem"), "localhost");
    by_name.expect("Enter a username: ");
}

#[test]
fn a_restart_reuses_the_pair_and_its_fingerprint() {
    let cfg = Cfg::base().tls();
    let first = Server::with(&cfg);
    let fp = first.tls_fingerprint.clone().unwrap();
    // Keep the files: forget the first server's directory before it drops.
    let mut first = first;
    first.tls_dir = None;
    drop(first);
    let mut second = Server::with(&cfg);
    assert_eq!(second.tls_fingerprint.as_deref(), Some(fp.as_str()));
    second.drain_output();
    assert!(
        !second.stdout_seen.iter().any(|l| l.starts_with("Made ")),
        "{:?}",
        second.stdout_seen
    );
    second.tls_login("again");
}

#[test]
fn plaintext_false_leaves_only_the_tls_listener() {
    let mut server = Server::with(&Cfg::base().tls().set("plaintext", "false"));
    server.drain_output();
    assert!(
        !server
            .stdout_seen
            .iter()
            .any(|l| l.contains("Now running on")),
        "{:?}",
        server.stdout_seen
    );
    server.tls_login("only");
}

#[test]
fn plaintext_false_without_tls_is_a_config_error() {
    let path = temp_file("(plaintext: false)");
    let (status, _, err) = run_to_end(&["--check", "--config", path.to_str().unwrap()]);
    assert_eq!(status.code(), Some(1), "{err}");
    assert!(err.contains(":1:2: `plaintext`"), "{err}");
}

/// Runs the server with a config whose TLS files are `cert` and `key`,
/// expecting exit 1; returns stderr.
fn start_fails(cert: &std::path::Path, key: &std::path::Path) -> String {
    let ron =
        format!("(host: \"127.0.0.1\", port: 0, tls: (port: 0, cert: {cert:?}, key: {key:?}))");
    let path = temp_file(&ron);
    let (status, out, err) = run_to_end(&["--config", path.to_str().unwrap()]);
    let _ = std::fs::remove_file(&path);
    assert_eq!(status.code(), Some(1), "stdout {out} stderr {err}");
    assert!(!out.contains("Now running"), "{out}");
    err
}

#[test]
fn every_broken_pair_of_files_exits_1_naming_the_file() {
    // A good pair to break.
    let server = Server::with(&Cfg::base().tls());
    let dir = server.tls_dir.clone().unwrap();
    let (cert, key) = (dir.join("cert.pem"), dir.join("key.pem"));
    let other = Server::with(&Cfg::base().tls());
    let other_key = other.tls_dir.clone().unwrap().join("key.pem");
    let missing = dir.join("missing.pem");
    let junk = dir.join("junk.pem");
    std::fs::write(&junk, "not a pem file\n").unwrap();

    let err = start_fails(&cert, &missing);
    assert!(
        err.contains("missing.pem") && err.contains("does not exist"),
        "{err}"
    );
    let err = start_fails(&missing, &key);
    assert!(
        err.contains("missing.pem") && err.contains("does not exist"),
        "{err}"
    );
    let err = start_fails(&cert, &other_key);
    assert!(
        err.contains(&format!("{} does not match", other_key.display())),
        "{err}"
    );
    let err = start_fails(&junk, &key);
    assert!(
        err.contains("junk.pem") && err.contains("no certificate"),
        "{err}"
    );
    let err = start_fails(&cert, &junk);
    assert!(
        err.contains("junk.pem") && err.contains("private key"),
        "{err}"
    );
    // A directory where a file should be: unreadable.
    let err = start_fails(&cert, &dir);
    assert!(err.contains(&dir.display().to_string()), "{err}");
    // --check says the same without starting.
    let ron = format!("(tls: (port: 0, cert: {cert:?}, key: {missing:?}))");
    let path = temp_file(&ron);
    let (status, _, err) = run_to_end(&["--check", "--config", path.to_str().unwrap()]);
    assert_eq!(status.code(), Some(1));
    assert!(err.contains("missing.pem"), "{err}");
    let ron = format!("(tls: (port: 0, cert: {cert:?}, key: {key:?}))");
    let path = temp_file(&ron);
    let (status, out, _) = run_to_end(&["--check", "--config", path.to_str().unwrap()]);
    assert_eq!(status.code(), Some(0));
    assert!(
        out.contains(server.tls_fingerprint.as_deref().unwrap()),
        "{out}"
    );
}

/// Waits for the log line of `addr`'s disconnection and returns it.
fn disconnect_line(server: &mut Server, port: u16) -> String {
    server.expect_log(&format!("client disconnected: 127.0.0.1:{port} "))
}

#[test]
fn plaintext_on_the_tls_port_is_closed_without_a_reply_and_logged() {
    let mut server = Server::with(&Cfg::base().tls());
    let mut bystander = server.login("bystander");
    let mut c = Client::connect(server.tls_addr.unwrap());
    let port = c.stream.local_addr().unwrap().port();
    c.send("hello there, this is not TLS");
    let got = c.expect_closed();
    assert_eq!(got, "", "a reply to plaintext");
    assert!(c.greeting.is_empty());
    let line = disconnect_line(&mut server, port);
    assert!(line.contains("TLS handshake failed"), "{line}");
    assert!(!line.contains("hello there"), "{line}");
    bystander.command(":rooms");
}

#[test]
fn a_client_hello_of_random_bytes_is_closed_and_logged() {
    let mut server = Server::with(&Cfg::base().tls());
    let mut bystander = server.login("bystander");
    // A TLS handshake record header, then noise (a fixed xorshift stream).
    let mut x: u32 = 0x9e37_79b9;
    let mut body = vec![0x16, 0x03, 0x01, 0x02, 0x00];
    body.extend((0..512).map(|_| {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        x as u8
    }));
    let mut c = Client::connect(server.tls_addr.unwrap());
    let port = c.stream.local_addr().unwrap().port();
    c.send_raw(&body);
    c.expect_closed();
    let line = disconnect_line(&mut server, port);
    assert!(line.contains("TLS handshake failed"), "{line}");
    bystander.command(":rooms");
}

#[test]
fn a_handshake_with_an_untrusted_certificate_fails_cleanly_on_both_sides() {
    let mut server = Server::with(&Cfg::base().tls());
    let other = Server::with(&Cfg::base().tls());
    // Trusting another server's certificate: the client aborts.
    let stream = TcpStream::connect(server.tls_addr.unwrap()).unwrap();
    let port = stream.local_addr().unwrap().port();
    let name = rustls::pki_types::ServerName::try_from("localhost").unwrap();
    let mut conn =
        rustls::ClientConnection::new(tls_client_config(&other.cert_path()), name).unwrap();
    let mut stream = stream;
    stream.set_read_timeout(Some(TIMEOUT)).unwrap();
    let mut failed = false;
    while conn.is_handshaking() {
        if conn.complete_io(&mut stream).is_err() {
            failed = true;
            break;
        }
    }
    assert!(failed, "the handshake succeeded with the wrong certificate");
    drop(stream);
    let line = disconnect_line(&mut server, port);
    assert!(line.contains("TLS"), "{line}");
}

#[test]
fn a_client_that_stalls_mid_handshake_is_closed_after_10_seconds() {
    let mut server = Server::with(&Cfg::base().tls());
    let mut talker = server.login("talker");
    let mut watcher = server.login("watcher");
    talker.enter_room("general");
    watcher.enter_room("general");
    talker.expect("watcher joined the room.");
    // Half a ClientHello record, then nothing; and one that sends nothing.
    let mut half = Client::connect(server.tls_addr.unwrap());
    half.send_raw(&[0x16, 0x03, 0x01, 0x01, 0x00, 0x01, 0x00]);
    let mut silent = Client::connect(server.tls_addr.unwrap());
    let started = Instant::now();
    // Chat goes on meanwhile.
    for i in 0..20 {
        talker.send(&format!("meanwhile {i}"));
        watcher.expect(&format!("meanwhile {i}"));
    }
    half.stream
        .set_read_timeout(Some(Duration::from_secs(15)))
        .unwrap();
    let mut buf = [0u8; 64];
    let n = half.stream.read(&mut buf).unwrap_or(0);
    assert_eq!(n, 0, "the server sent something: {:?}", &buf[..n]);
    let waited = started.elapsed();
    assert!(
        waited >= Duration::from_secs(9) && waited < Duration::from_secs(13),
        "closed after {waited:?}"
    );
    silent.expect_closed();
    let line = server.expect_log("TLS handshake not done in 10 s");
    assert!(line.contains("127.0.0.1:"), "{line}");
    talker.send("after");
    watcher.expect("after");
}

#[test]
fn a_tls_client_that_stops_reading_is_dropped_at_the_plaintext_send_queue_limit() {
    let mut server = Server::with(&Cfg::base().tls().set("sendQueueLimit", "16384"));
    let mut talker = server.login("talker");
    let mut watcher = server.tls_login("watcher");
    watcher.enter_room("general");
    talker.enter_room("general");
    watcher.expect("talker joined the room.");
    let (_, base_peak) = rss_kib(server.pid());

    // The staller asks for :help over and over (through TLS) and never
    // reads a byte.
    let mut staller = server.tls_login("staller");
    let spam = staller.encrypt(":help\r\n".repeat(60_000).as_bytes());
    let mut raw = staller.stream.try_clone().unwrap();
    let writer = std::thread::spawn(move || {
        // Fails with a reset once the server drops it; that is expected.
        let _ = raw.write_all(&spam);
    });
    let mut worst = Duration::ZERO;
    for i in 0..50 {
        let t = Instant::now();
        talker.send(&format!("ping {i} end"));
        watcher.expect(&format!("ping {i} end"));
        worst = worst.max(t.elapsed());
    }
    assert!(worst < Duration::from_millis(500), "latency {worst:?}");
    let log = server.expect_log("send queue full");
    assert!(log.contains("staller"), "{log}");
    let _ = writer.join();
    let (_, peak) = rss_kib(server.pid());
    assert!(
        peak < base_peak + 16 * 1024,
        "peak RSS grew from {base_peak} KiB to {peak} KiB"
    );
    talker.send("still here");
    watcher.expect("still here");
}

#[test]
fn a_stalled_tls_chat_viewer_gets_one_redraw_instead_of_a_growing_queue() {
    let mut server = Server::with(
        &Cfg::base()
            .tls()
            .set("sendQueueLimit", "16384")
            .set("chatviewMax", "5")
            .set("messageLimit", "0"),
    );
    let mut slow = Client::connect_small_rcvbuf(server.tls_addr.unwrap());
    slow.start_tls(&server.cert_path(), "localhost");
    slow.login("slow");
    slow.enter_room("general");
    let mut talker = server.login("talker");
    talker.enter_room("general");
    slow.expect("talker joined the room.");

    let count = 8_000;
    let pad = "p".repeat(900);
    let mut tx = talker.stream.try_clone().unwrap();
    let writer = std::thread::spawn(move || {
        for i in 0..count {
            tx.write_all(format!("m{i} {pad} end{i}\r\n").as_bytes())
                .unwrap();
        }
    });
    let last = format!("end{}", count - 1);
    talker.expect_within(&last, Duration::from_secs(30));
    writer.join().unwrap();

    let mut got = slow.expect_within(&last, Duration::from_secs(30));
    got.push_str(&slow.take_pending(Duration::from_millis(300)));
    assert!(!slow.closed);
    assert!(got.contains("\x1b[2J"), "no full redraw");
    assert!(
        got.len() < 4 << 20,
        "the stale updates were replaced, yet {} bytes arrived",
        got.len()
    );
    server.drain_output();
    assert!(
        !server
            .stderr_seen
            .iter()
            .any(|l| l.contains("send queue full")),
        "{:?}",
        server.stderr_seen
    );
    slow.send("alive");
    talker.expect("alive");
}

#[test]
fn an_overlong_line_through_tls_gets_the_same_notice() {
    let server = Server::with(&Cfg::base().tls().set("maxLineLength", "64"));
    let mut c = server.tls_login("long");
    c.send(&"x".repeat(500));
    c.expect("Line too long");
    c.command(":rooms");
}

#[test]
fn a_tls_client_that_closes_is_cleaned_out_of_its_room() {
    let mut server = Server::with(&Cfg::base().tls());
    let mut stay = server.login("stay");
    stay.enter_room("general");
    let mut gone = server.tls_login("gone");
    gone.enter_room("general");
    stay.expect("gone joined the room.");
    // A TCP close without close_notify (a killed client).
    drop(gone);
    stay.expect("gone left the room.");
    wait_online(&mut server, 1);
    // The name is free again.
    server.tls_login("gone");
}

#[test]
fn the_shutdown_notice_reaches_tls_clients() {
    let mut server = Server::with(&Cfg::base().tls());
    let mut c = server.tls_login("tls");
    // One still in its handshake when the server stops.
    let _half = Client::connect(server.tls_addr.unwrap());
    server.signal("TERM");
    c.expect("The server will be shutting down in 5 seconds!!");
    server.signal("TERM");
    let status = server.wait_exit();
    assert!(status.success(), "{status:?}");
}
