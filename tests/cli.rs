//! SPEC §1 and §2: the command line, exit codes, config errors, the start
//! line and the log (which never holds message text or passwords).

mod common;
use common::*;
use std::io::{BufRead, BufReader};
use std::net::TcpListener;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

const VERSION: &str = env!("CARGO_PKG_VERSION");

/// Runs `--check` on a config with `source`; returns (exit code, path,
/// stdout, stderr).
fn check(source: &str) -> (Option<i32>, String, String, String) {
    let path = temp_file(source);
    let p = path.to_str().unwrap().to_string();
    let (status, out, err) = run_to_end(&["--check", "--config", &p]);
    let _ = std::fs::remove_file(&path);
    (status.code(), p, out, err)
}

#[test]
fn version_prints_name_and_version() {
    let (status, out, _) = run_to_end(&["--version"]);
    assert_eq!(status.code(), Some(0));
    assert_eq!(out, format!("chatsock {VERSION}\n"));
}

#[test]
fn help_prints_usage_and_exits_0() {
    let (status, out, _) = run_to_end(&["--help"]);
    assert_eq!(status.code(), Some(0));
    for flag in ["--config", "--port", "--check", "--help", "--version"] {
        assert!(out.contains(flag), "--help lacks {flag}: {out}");
    }
}

#[test]
fn unknown_flag_is_usage_error_exit_2() {
    let (status, _, err) = run_to_end(&["--bogus"]);
    assert_eq!(status.code(), Some(2), "{err}");
    assert!(err.contains("--bogus"), "{err}");
}

#[test]
fn port_that_is_not_a_number_is_usage_error_exit_2() {
    for args in [
        &["--port", "abc"][..],
        &["--port", "70000"][..],
        &["--port"][..],
        &["--config"][..],
    ] {
        let (status, _, err) = run_to_end(args);
        assert_eq!(status.code(), Some(2), "{args:?}: {err}");
    }
}

#[test]
fn check_accepts_a_good_config_with_a_one_line_summary_naming_the_file() {
    let (code, path, out, err) = check(&Cfg::base().ron());
    assert_eq!(code, Some(0), "{err}");
    assert_eq!(out.lines().count(), 1, "{out:?}");
    assert!(out.starts_with(&format!("config OK ({path}): ")), "{out:?}");
    assert!(out.contains("127.0.0.1"), "{out:?}");
}

#[test]
fn check_accepts_the_shipped_config() {
    let shipped = Path::new(env!("CARGO_MANIFEST_DIR")).join("chatsock.ron");
    let shipped = shipped.to_str().unwrap();
    let (status, out, err) = run_to_end(&["--check", "--config", shipped]);
    assert_eq!(status.code(), Some(0), "{err}");
    assert_eq!(out.lines().count(), 1, "{out:?}");
    assert!(
        out.starts_with(&format!("config OK ({shipped}): ")),
        "{out:?}"
    );
}

#[test]
fn check_reports_a_syntax_error_with_file_line_and_column() {
    let (code, path, _, err) = check("(\n  port: 1,\n  host \"x\",\n)\n");
    assert_eq!(code, Some(1), "{err}");
    assert!(err.contains(&format!("{path}:3:")), "{err}");
}

#[test]
fn check_reports_an_unknown_field_by_name_and_position() {
    let (code, path, _, err) = check("(\n  port: 1,\n  colour: 3,\n)\n");
    assert_eq!(code, Some(1), "{err}");
    assert!(err.contains(&format!("{path}:3:3")), "{err}");
    assert!(err.contains("colour"), "{err}");
}

#[test]
fn check_reports_a_wrong_type_by_field_name_and_position() {
    let (code, path, _, err) = check("(\n  port: \"high\",\n)\n");
    assert_eq!(code, Some(1), "{err}");
    assert!(err.contains(&format!("{path}:2:")), "{err}");
    assert!(err.contains("port"), "the field is named: {err}");
}

#[test]
fn check_reports_a_wrong_type_with_file_line_and_column() {
    let (code, path, _, err) = check("(\n  port: \"high\",\n)\n");
    assert_eq!(code, Some(1), "{err}");
    assert!(err.contains(&format!("{path}:2:")), "{err}");
}

#[test]
fn check_reports_chatview_max_zero_by_name_and_position() {
    let (code, path, _, err) = check("(\n  port: 1,\n    chatviewMax: 0,\n)\n");
    assert_eq!(code, Some(1), "{err}");
    assert!(err.contains(&format!("{path}:3:5")), "{err}");
    assert!(err.contains("chatviewMax"), "{err}");
}

#[test]
fn check_reports_other_impossible_values_by_name() {
    for (src, field) in [
        ("(usernameLimit: 0)", "usernameLimit"),
        ("(usernameLimit: 33)", "usernameLimit"),
        ("(chatviewMax: 201)", "chatviewMax"),
        ("(host: \"nowhere\")", "host"),
    ] {
        let (code, path, _, err) = check(src);
        assert_eq!(code, Some(1), "{src}: {err}");
        assert!(err.contains(&format!("{path}:1:")), "{src}: {err}");
        assert!(err.contains(field), "{src}: {err}");
    }
}

#[test]
fn host_localhost_resolves_for_check_and_for_serving() {
    let cfg = Cfg::base().set("host", "\"localhost\"");
    let (code, _, out, err) = check(&cfg.ron());
    assert_eq!(code, Some(0), "{out}{err}");
    assert!(out.contains("localhost:"), "{out:?}");
    // The server listens on what the name resolves to, and serves there.
    let mut server = Server::with(&cfg);
    let ip = server.addr.ip();
    assert!(
        ip.to_string() == "127.0.0.1" || ip.to_string() == "::1",
        "listening on {}",
        server.addr
    );
    let mut alice = server.login("alice");
    let all = alice.command(":listall");
    assert!(all.contains("alice"), "{all:?}");
    server.expect_log(&format!("listening on {}", server.addr));
}

#[test]
fn an_unresolvable_host_is_a_config_error_with_line_and_column() {
    let (code, path, out, err) = check("(\n  port: 1,\n  host: \"no.such.host.invalid\",\n)\n");
    assert_eq!(code, Some(1), "{out}{err}");
    assert!(err.contains(&format!("{path}:3:3: `host`")), "{err}");
    assert!(err.contains("no.such.host.invalid"), "{err}");
}

#[test]
fn check_reports_a_huge_name_timeout_by_name_and_position() {
    // Issue 8: this passed --check, and the first connection then panicked
    // (overflow adding the timeout to an instant).
    let (code, path, out, err) = check("(\n  port: 1,\n  nameTimeout: 18446744073709551615,\n)\n");
    assert_eq!(code, Some(1), "{out}{err}");
    assert!(err.contains(&format!("{path}:3:3")), "{err}");
    assert!(err.contains("nameTimeout"), "{err}");
    assert!(err.contains("86400"), "the bound is given: {err}");
    assert!(!err.contains("panicked"), "{err}");
}

#[test]
fn check_reports_out_of_range_new_fields_by_name_and_position() {
    for (src, field, at) in [
        ("(\n  idleTimeout: 43201,\n)\n", "idleTimeout", "2:3"),
        (
            "(\n  port: 1,\n   ipv6Prefix: 129,\n)\n",
            "ipv6Prefix",
            "3:4",
        ),
        ("(ipv6Prefix: 15)", "ipv6Prefix", "1:2"),
        (
            "(\n rooms: {\n  \"a\": (),\n  \"b\": (limit: 1000001),\n },\n)\n",
            "rooms.b.limit",
            "4:9",
        ),
    ] {
        let (code, path, out, err) = check(src);
        assert_eq!(code, Some(1), "{src}: {out}{err}");
        assert!(err.contains(&format!("{path}:{at}:")), "{src}: {err}");
        assert!(err.contains(field), "{src}: {err}");
    }
}

#[test]
fn check_accepts_every_number_at_its_upper_bound() {
    let fields = [
        "chatviewMax: 200",
        "usernameLimit: 32",
        "messageLimit: 1048576",
        "maxClients: 1000000",
        "maxClientsPerIp: 1000000",
        "ipv6Prefix: 128",
        "maxLineLength: 1048576",
        "sendQueueLimit: 1073741824",
        "floodRate: 100000",
        "floodBurst: 100000",
        "nameTimeout: 86400",
        "idleTimeout: 43200",
        "rooms: {\"a\": (limit: 1000000)}",
    ];
    let src = format!("(\n{})\n", fields.map(|f| format!("  {f},\n")).concat());
    let (code, _, out, err) = check(&src);
    assert_eq!(code, Some(0), "{out}{err}");
}

#[test]
fn missing_config_file_exits_1_naming_it() {
    let path = std::env::temp_dir().join(format!("chatsock-missing-{}.ron", std::process::id()));
    let p = path.to_str().unwrap();
    let (status, _, err) = run_to_end(&["--config", p, "--port", "0"]);
    assert_eq!(status.code(), Some(1), "{err}");
    assert!(err.contains(p), "{err}");
}

#[test]
fn port_in_use_exits_1_naming_the_address() {
    let taken = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port().to_string();
    let cfg = temp_file(&Cfg::base().ron());
    let (status, out, err) = run_to_end(&["--config", cfg.to_str().unwrap(), "--port", &port]);
    let _ = std::fs::remove_file(&cfg);
    assert_eq!(status.code(), Some(1), "{out}{err}");
    assert!(err.contains(&format!("127.0.0.1:{port}")), "{err}");
    assert!(err.to_lowercase().contains("in use"), "OS error: {err}");
    // … and what to do about it, on the same line.
    let line = err
        .lines()
        .find(|l| l.contains(&format!("127.0.0.1:{port}")))
        .unwrap();
    assert!(
        line.starts_with(&format!("chatsock: cannot listen on 127.0.0.1:{port}: ")),
        "{line}"
    );
    assert!(
        line.ends_with(
            ". Is another chatsock running? Pick another port with --port N (0 = any free port)."
        ),
        "{line}"
    );
    assert_eq!(out, "", "nothing on stdout");
    drop(taken);
}

#[test]
fn a_bind_error_other_than_port_in_use_gets_no_port_hint() {
    // 192.0.2.1 (TEST-NET-1) is not an address of this host.
    let cfg = temp_file(&Cfg::base().set("host", "\"192.0.2.1\"").ron());
    let (status, out, err) = run_to_end(&["--config", cfg.to_str().unwrap(), "--port", "0"]);
    let _ = std::fs::remove_file(&cfg);
    assert_eq!(status.code(), Some(1), "{out}{err}");
    assert!(err.contains("cannot listen on 192.0.2.1:0: "), "{err}");
    assert!(!err.contains("--port"), "{err}");
}

#[test]
fn start_prints_version_then_the_real_address() {
    let mut server = Server::start();
    assert_ne!(server.addr.port(), 0);
    assert_eq!(server.addr.ip().to_string(), "127.0.0.1");
    let _ = server.login("alice");
    server.drain_output();
    assert_eq!(
        server.stdout_seen[..2],
        [
            format!("chatsock v{VERSION}"),
            format!("Now running on {}", server.addr)
        ]
    );
    let running = server
        .stdout_seen
        .iter()
        .filter(|l| l.contains("Now running on"))
        .count();
    assert_eq!(running, 1);
}

#[test]
fn port_flag_overrides_the_configured_port() {
    // The config says 1 (not bindable without privileges); --port 0 wins.
    let server = Server::with(&Cfg::base().set("port", "1"));
    assert_ne!(server.addr.port(), 1);
    assert_ne!(server.addr.port(), 0);
}

#[test]
fn log_records_connects_names_and_disconnects() {
    let mut server = Server::start();
    let mut bob = server.login("bob");
    server.expect_log("listening");
    let connected = server.expect_log("connected: 127.0.0.1:");
    assert!(!connected.contains("disconnected"), "{connected}");
    let named = server.expect_log("bob");
    assert!(
        named.contains("127.0.0.1:"),
        "address with the name: {named}"
    );
    bob.send(":quit");
    bob.expect("(y/n) ");
    bob.send("y");
    bob.expect_closed();
    let gone = server.expect_log("disconnected");
    assert!(gone.contains("bob"), "{gone}");
    assert!(gone.contains("quit"), "reason: {gone}");
    server.signal("TERM");
    server.signal("TERM");
    assert_eq!(server.wait_exit().code(), Some(0));
    assert!(
        server.stderr_seen.iter().any(|l| l.contains("shut")),
        "shutdown is logged: {:?}",
        server.stderr_seen
    );
}

#[test]
fn log_never_holds_message_text_or_passwords() {
    let mut server = Server::start();
    let mut alice = server.login("alice");
    let mut bob = server.login("bob");
    alice.send(":join backstage letmein");
    alice.expect("You joined the room 'backstage'!");
    alice.expect("> ");
    alice.send(":chat");
    alice.expect_frame("[room/backstage]");
    alice.send("zebra-quokka-7781");
    alice.expect_sent("[room/backstage]");
    bob.command(":dm alice");
    bob.send(":chat");
    bob.expect_frame("[dm/alice]");
    bob.send("narwhal-dm-4242");
    bob.expect_sent("[dm/alice]");
    // After the DM-opened notice, the DM itself reaches her view.
    alice.expect("opened a DM with you");
    alice.expect("narwhal-dm-4242");
    // A wrong password is not logged either.
    let mut carol = server.login("carol");
    carol.command(":join backstage hunter2-wrong");
    drop(carol);
    server.signal("TERM");
    alice.expect("Server shut down. Goodbye!");
    let status = server.wait_exit();
    assert_eq!(status.code(), Some(0));
    let all: Vec<&String> = server
        .stdout_seen
        .iter()
        .chain(server.stderr_seen.iter())
        .collect();
    assert!(
        all.iter().any(|l| l.contains("alice")),
        "the log was read: {all:?}"
    );
    for secret in [
        "zebra-quokka-7781",
        "narwhal-dm-4242",
        "letmein",
        "hunter2-wrong",
    ] {
        assert!(
            !all.iter().any(|l| l.contains(secret)),
            "{secret} in output: {all:?}"
        );
    }
}

/// A server process killed when dropped, even if the test panics.
struct Running(std::process::Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts the binary in `dir` with only `--port 0`; returns the process and
/// the address from its start line.
fn start_in(dir: &Path) -> (Running, std::net::SocketAddr) {
    let mut child = Command::new(bin())
        .args(["--port", "0"])
        .current_dir(dir)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn chatsock");
    let stdout = child.stdout.take().unwrap();
    let child = Running(child);
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { return };
            if let Some(a) = line.strip_prefix("Now running on ") {
                let _ = tx.send(a.trim().to_string());
            }
        }
    });
    let addr = rx.recv_timeout(TIMEOUT).expect("start line");
    (child, addr.parse().unwrap())
}

fn temp_dir(tag: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("chatsock-cli-{tag}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let _ = std::fs::remove_file(dir.join("chatsock.ron"));
    dir
}

#[test]
fn without_a_config_file_the_embedded_default_is_served() {
    let dir = temp_dir("default");
    let (child, addr) = start_in(&dir);
    let mut c = Client::connect(addr);
    // The shipped default has the connection delay on.
    c.expect("Connecting you");
    c.expect_within("| WELCOME! |", Duration::from_secs(6));
    c.login("alice");
    let rooms = c.command(":rooms");
    drop(child);
    let _ = std::fs::remove_dir_all(&dir);
    assert_eq!(
        rooms,
        "Available chatrooms:\r\n  - general (General chat) [0 online]\r\n  - games (Talk about games) [0/10 online]\r\n> "
    );
}

#[test]
fn chatsock_ron_in_the_working_directory_is_used() {
    let dir = temp_dir("cwd");
    std::fs::write(
        dir.join("chatsock.ron"),
        Cfg::base().set("welcomeMessage", "\"FROM CWD\"").ron(),
    )
    .unwrap();
    let (child, addr) = start_in(&dir);
    let mut c = Client::connect(addr);
    let banner = c.expect("Enter a username: ");
    drop(child);
    let _ = std::fs::remove_dir_all(&dir);
    assert!(banner.contains("| FROM CWD |"), "{banner:?}");
}

#[test]
fn check_reports_a_bad_room_name_and_an_unknown_room_field() {
    let (code, path, _, err) =
        check("(\n rooms: {\n  \"ok\": (),\n  \"bad name\": (limit: 2),\n },\n)\n");
    assert_eq!(code, Some(1), "{err}");
    assert!(err.contains(&format!("{path}:4:3")), "{err}");
    assert!(err.contains("bad name"), "{err}");
    let (code, path, _, err) = check("(\n rooms: {\n  \"a\": (secret: 1),\n },\n)\n");
    assert_eq!(code, Some(1), "{err}");
    assert!(err.contains(&format!("{path}:3:")), "{err}");
    assert!(err.contains("secret"), "{err}");
}

#[test]
fn check_without_config_uses_the_embedded_default() {
    let dir = temp_dir("check");
    let out = Command::new(bin())
        .arg("--check")
        .current_dir(&dir)
        .stdin(Stdio::null())
        .output()
        .expect("run chatsock --check");
    let _ = std::fs::remove_dir_all(&dir);
    assert_eq!(out.status.code(), Some(0));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(stdout.lines().count(), 1, "{stdout:?}");
    assert!(
        stdout.starts_with("config OK (built-in default): "),
        "{stdout:?}"
    );
    assert!(stdout.contains("22222"), "the shipped port: {stdout:?}");
}

#[test]
fn check_names_chatsock_ron_in_the_working_directory() {
    let dir = temp_dir("check-cwd");
    std::fs::write(dir.join("chatsock.ron"), Cfg::base().ron()).unwrap();
    let out = Command::new(bin())
        .arg("--check")
        .current_dir(&dir)
        .stdin(Stdio::null())
        .output()
        .expect("run chatsock --check");
    let _ = std::fs::remove_dir_all(&dir);
    assert_eq!(out.status.code(), Some(0));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(stdout.lines().count(), 1, "{stdout:?}");
    assert!(
        stdout.starts_with("config OK (chatsock.ron): 127.0.0.1:22222, 4 rooms"),
        "{stdout:?}"
    );
}
