//! SPEC §12: the SSH front end, driven with OpenSSH's `ssh` client (its
//! `-tt` forces a pty request even with piped stdin) against the real
//! binary on free loopback ports.

mod common;

use common::*;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

/// A temporary directory with client keys made by ssh-keygen: `id` and
/// `id2` Ed25519 keys, `p384-N` ECDSA P-384 keys (a type sunset does not take).
fn keys() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let dir = std::env::temp_dir().join(format!("chatsock-sshkeys-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let mut jobs = vec![("id", "ed25519", "256"), ("id2", "ed25519", "256")];
        for n in ["p384-1", "p384-2", "p384-3", "p384-4"] {
            jobs.push((n, "ecdsa", "384"));
        }
        for (name, kind, bits) in jobs {
            let st = Command::new("ssh-keygen")
                .args(["-q", "-N", "", "-t", kind, "-b", bits, "-f"])
                .arg(dir.join(name))
                .status()
                .expect("ssh-keygen");
            assert!(st.success());
        }
        dir
    })
}

/// `ssh -p PORT … ARGS`: batch mode, the test's key only, no host key
/// checks, loopback.
fn ssh_command(server: &Server, args: &[&str]) -> Command {
    let addr = server.ssh_addr.expect("an SSH listener");
    let mut c = Command::new("ssh");
    c.args(["-p", &addr.port().to_string()])
        .args(["-o", "StrictHostKeyChecking=no"])
        .args(["-o", "UserKnownHostsFile=/dev/null"])
        .args(["-o", "BatchMode=yes"])
        .args(["-o", "IdentitiesOnly=yes"])
        .args(["-o", "LogLevel=ERROR"])
        .args(["-o", "ConnectTimeout=10"])
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    c
}

/// An `ssh -tt` session: what it prints collects in `out`.
struct Ssh {
    child: Child,
    stdin: Option<ChildStdin>,
    out: Arc<Mutex<Vec<u8>>>,
    seen: usize,
}

impl Ssh {
    fn spawn(mut cmd: Command) -> Ssh {
        let mut child = cmd.spawn().expect("spawn ssh");
        let out = Arc::new(Mutex::new(Vec::new()));
        for mut pipe in [
            Box::new(child.stdout.take().unwrap()) as Box<dyn Read + Send>,
            Box::new(child.stderr.take().unwrap()),
        ] {
            let out = Arc::clone(&out);
            std::thread::spawn(move || {
                let mut buf = [0u8; 4096];
                while let Ok(n) = pipe.read(&mut buf) {
                    if n == 0 {
                        return;
                    }
                    out.lock().unwrap().extend_from_slice(&buf[..n]);
                }
            });
        }
        let stdin = child.stdin.take();
        Ssh {
            child,
            stdin,
            out,
            seen: 0,
        }
    }

    /// `ssh -tt NAME@127.0.0.1` with the test's key.
    fn login(server: &Server, name: &str) -> Ssh {
        Ssh::login_with(server, name, "id")
    }

    /// `ssh -tt NAME@127.0.0.1` with the key `key` of [`keys`].
    fn login_with(server: &Server, name: &str, key: &str) -> Ssh {
        let key = keys().join(key);
        let target = format!("{name}@127.0.0.1");
        Ssh::spawn(ssh_command(
            server,
            &["-tt", "-i", key.to_str().unwrap(), &target],
        ))
    }

    fn text(&self) -> String {
        strip_ansi(&String::from_utf8_lossy(&self.out.lock().unwrap()))
    }

    /// Waits for `needle` in what came after the last expectation.
    fn expect(&mut self, needle: &str) -> String {
        let deadline = Instant::now() + TIMEOUT;
        loop {
            let text = self.text();
            if let Some(i) = text.get(self.seen..).and_then(|t| t.find(needle)) {
                self.seen += i + needle.len();
                return text;
            }
            assert!(
                Instant::now() < deadline,
                "ssh printed no {needle:?}; all: {text:?}"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Types `s` (a pty: Enter is \r).
    fn type_str(&mut self, s: &str) {
        let stdin = self.stdin.as_mut().expect("stdin");
        stdin.write_all(s.as_bytes()).unwrap();
        stdin.flush().unwrap();
    }

    /// The exit code within the timeout.
    fn wait(&mut self) -> Option<i32> {
        let deadline = Instant::now() + TIMEOUT;
        loop {
            if let Some(st) = self.child.try_wait().unwrap() {
                return st.code();
            }
            assert!(
                Instant::now() < deadline,
                "ssh did not exit: {:?}",
                self.text()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Ssh {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn ssh_server() -> Server {
    Server::with(&Cfg::base().ssh())
}

/// What ssh-keygen says the key file's fingerprint is.
fn keygen_fingerprint(path: &Path) -> String {
    let out = Command::new("ssh-keygen")
        .arg("-lf")
        .arg(path)
        .output()
        .expect("ssh-keygen -lf");
    assert!(out.status.success(), "{out:?}");
    let text = String::from_utf8(out.stdout).unwrap();
    text.split_whitespace().nth(1).unwrap().to_string()
}

#[test]
fn the_host_key_is_made_once_with_mode_0600_and_its_fingerprint_is_openssh_s() {
    let cfg = Cfg::base().ssh();
    let key = cfg.ssh_dir.clone().unwrap().join("hostkey");
    let first = {
        let mut server = Server::with(&cfg);
        server.expect_stdout("Made an SSH host key");
        let fp = server.ssh_fingerprint.clone().unwrap();
        assert!(fp.starts_with("SHA256:"), "{fp}");
        assert_eq!(fp, keygen_fingerprint(&key));
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&key).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        // The lines come in order: plain first, then SSH.
        let running = server
            .stdout_seen
            .iter()
            .position(|l| l.contains("Now running on"));
        let ssh = server.stdout_seen.iter().position(|l| l.contains("SSH on"));
        assert!(running < ssh, "{:?}", server.stdout_seen);
        server.ssh_dir = None; // keep the key for the second start
        fp
    };
    let server = Server::with(&cfg);
    assert_eq!(server.ssh_fingerprint.as_deref(), Some(first.as_str()));
    assert!(!server.stdout_seen.iter().any(|l| l.contains("Made an SSH")));
    // --check reads it too.
    let path = temp_file(&cfg.ron());
    let (status, out, err) = run_to_end(&["--config", path.to_str().unwrap(), "--check"]);
    assert!(status.success(), "{err}");
    assert!(out.contains(&first), "{out}");
}

#[test]
fn a_broken_host_key_file_stops_the_server_naming_it() {
    let cfg = Cfg::base().ssh();
    let key = cfg.ssh_dir.clone().unwrap().join("hostkey");
    std::fs::write(&key, "not a key\n").unwrap();
    let path = temp_file(&cfg.ron());
    let (status, _, err) = run_to_end(&["--config", path.to_str().unwrap(), "--port", "0"]);
    assert_eq!(status.code(), Some(1), "{err}");
    assert!(err.contains(key.to_str().unwrap()), "{err}");
    let (status, _, err) = run_to_end(&["--config", path.to_str().unwrap(), "--check"]);
    assert_eq!(status.code(), Some(1), "{err}");
    let _ = std::fs::remove_dir_all(cfg.ssh_dir.unwrap());
}

#[test]
fn ssh_name_logs_in_and_chats_with_a_plain_client_then_quits_with_status_0() {
    let mut server = ssh_server();
    let mut ssh = Ssh::login(&server, "alice");
    ssh.expect("Enter a username: alice");
    ssh.expect("You are now connected as 'alice'.");
    {
        // Character mode from the start: no telnet offer, and no
        // cursor-position question (the pty request gave the size).
        let raw = ssh.out.lock().unwrap().clone();
        assert!(!raw.contains(&0xff), "telnet bytes in an SSH session");
        assert!(
            !raw.windows(4).any(|w| w == b"\x1b[6n"),
            "a CPR query in an SSH session"
        );
    }
    let log = server.expect_log("SSH login:");
    assert!(log.contains("\"alice\", key SHA256:"), "{log}");
    ssh.type_str(":join general\r");
    ssh.expect("[room/general]");
    ssh.type_str(":chat\r");
    let mut bob = server.login("bob");
    bob.enter_room("general");
    bob.send("hello alice");
    ssh.expect("hello alice");
    ssh.type_str("hi there\r");
    bob.expect("hi there");
    ssh.type_str(":quit\r");
    ssh.expect("(y/n)");
    ssh.type_str("y\r");
    ssh.expect("Goodbye!");
    assert_eq!(ssh.wait(), Some(0));
    bob.expect("alice left the room");
    server.expect_log("alice (quit;");
}

#[test]
fn a_taken_name_is_asked_for_again() {
    for delay in ["false", "true"] {
        let mut server = Server::with(&Cfg::base().ssh().set("connectionTimeout", delay));
        let _alice = server.login("alice");
        let mut ssh = Ssh::login(&server, "alice");
        ssh.expect("That username is taken, please pick another one.");
        ssh.expect("Enter a username: ");
        ssh.type_str("alice2\r");
        ssh.expect("You are now connected as 'alice2'.");
        drop(ssh);
        server.expect_log("alice2 (");
    }
}

#[test]
fn a_name_with_a_space_is_not_allowed_and_asked_for_again() {
    let server = ssh_server();
    let mut ssh = Ssh::login(&server, "two words");
    ssh.expect("That username is not allowed, please pick another one.");
    ssh.type_str("one\r");
    ssh.expect("You are now connected as 'one'.");
}

#[test]
fn exec_gets_one_line_and_exit_status_1() {
    let mut server = ssh_server();
    let key = keys().join("id");
    let mut ssh = Ssh::spawn(ssh_command(
        &server,
        &["-i", key.to_str().unwrap(), "x@127.0.0.1", "uptime"],
    ));
    let port = server.ssh_addr.unwrap().port();
    ssh.expect(&format!(
        "chatsock: commands are not supported; connect with ssh -p {port} NAME@127.0.0.1"
    ));
    assert_eq!(ssh.wait(), Some(1));
    server.expect_log("SSH exec request refused");
}

#[test]
fn a_killed_client_leaves_its_room_and_frees_its_name() {
    let mut server = ssh_server();
    let mut ssh = Ssh::login(&server, "carol");
    ssh.expect("You are now connected as 'carol'.");
    ssh.type_str(":join general\r");
    ssh.expect("[room/general]");
    let mut bob = server.login("bob");
    bob.enter_room("general");
    // kill -9: the TCP connection goes without any SSH goodbye.
    unsafe_kill(ssh.child.id());
    bob.expect("carol left the room");
    server.expect_log("carol (");
    let mut again = server.client();
    again.login("carol");
}

fn unsafe_kill(pid: u32) {
    let _ = Command::new("kill").args(["-9", &pid.to_string()]).status();
}

#[test]
fn too_many_refused_keys_end_the_connection() {
    let mut server = ssh_server();
    let mut args = Vec::new();
    for n in ["p384-1", "p384-2", "p384-3", "p384-4"] {
        args.push("-i".to_string());
        args.push(keys().join(n).to_str().unwrap().to_string());
    }
    args.push("x@127.0.0.1".into());
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let mut ssh = Ssh::spawn(ssh_command(&server, &args));
    assert_eq!(ssh.wait(), Some(255));
    server.expect_log("too many SSH authentication failures");
}

#[test]
fn forwarding_subsystems_agent_x11_and_env_are_refused_and_nobody_else_notices() {
    let mut server = ssh_server();
    let mut bob = server.login("bob");
    let key = keys().join("id");
    let key = key.to_str().unwrap();
    // A direct-tcpip channel (ssh -W): refused.
    let mut w = Ssh::spawn(ssh_command(
        &server,
        &["-i", key, "-W", "127.0.0.1:9", "x@127.0.0.1"],
    ));
    assert_eq!(w.wait(), Some(255));
    // Remote forwarding (a tcpip-forward global request): refused.
    let mut r = Ssh::spawn(ssh_command(
        &server,
        &[
            "-i",
            key,
            "-N",
            "-o",
            "ExitOnForwardFailure=yes",
            "-R",
            "0:127.0.0.1:9",
            "x@127.0.0.1",
        ],
    ));
    assert_eq!(r.wait(), Some(255));
    r.expect("forwarding failed");
    // A subsystem (sftp): refused.
    let mut s = Ssh::spawn(ssh_command(
        &server,
        &["-i", key, "-s", "x@127.0.0.1", "sftp"],
    ));
    assert_ne!(s.wait(), Some(0));
    s.expect("subsystem request failed");
    // Agent and X11 forwarding and environment variables: refused quietly;
    // the session works.
    let mut ssh = Ssh::spawn(ssh_command(
        &server,
        &[
            "-tt",
            "-A",
            "-X",
            "-o",
            "SetEnv=FOO=bar",
            "-i",
            key,
            "dave@127.0.0.1",
        ],
    ));
    ssh.expect("You are now connected as 'dave'.");
    bob.send(":dm dave");
    bob.expect("[dm/dave]");
    server.assert_alive();
}

#[test]
fn a_stalled_key_exchange_is_closed_after_30_seconds() {
    let mut server = ssh_server();
    let mut raw = TcpStream::connect(server.ssh_addr.unwrap()).unwrap();
    raw.write_all(b"SSH-2.0-stall\r\n").unwrap();
    raw.set_read_timeout(Some(Duration::from_secs(40))).unwrap();
    let started = Instant::now();
    let mut buf = [0u8; 4096];
    loop {
        match raw.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(_) => {}
        }
    }
    let took = started.elapsed();
    assert!(
        took >= Duration::from_secs(29) && took < Duration::from_secs(40),
        "{took:?}"
    );
    server.expect_log("SSH handshake not done in 30 s");
}

#[test]
fn random_bytes_and_plain_text_are_closed_and_the_rest_goes_on() {
    let mut server = ssh_server();
    let mut bob = server.login("bob");
    let mut seed = 0x2545_f491_4f6c_dd1du64;
    for round in 0..6 {
        let mut raw = TcpStream::connect(server.ssh_addr.unwrap()).unwrap();
        raw.set_read_timeout(Some(TIMEOUT)).unwrap();
        let mut bytes = Vec::new();
        if round % 2 == 1 {
            bytes.extend_from_slice(b"SSH-2.0-fuzz\r\n");
        }
        for _ in 0..4096 {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            bytes.push(seed as u8);
        }
        if round == 4 {
            bytes = b"hello\r\n:quit\r\n".repeat(100);
        }
        let _ = raw.write_all(&bytes);
        let mut buf = [0u8; 4096];
        let started = Instant::now();
        loop {
            match raw.read(&mut buf) {
                Ok(0) | Err(_) => break,
                Ok(_) => assert!(started.elapsed() < TIMEOUT, "not closed"),
            }
        }
    }
    bob.send(":help");
    bob.expect(":quit");
    server.assert_alive();
    // The SSH listener still works.
    let mut ssh = Ssh::login(&server, "erin");
    ssh.expect("You are now connected as 'erin'.");
}

#[test]
fn a_client_without_keys_gets_in_as_a_guest() {
    let mut server = ssh_server();
    let port = server.ssh_addr.unwrap().port().to_string();
    let mut cmd = Command::new("ssh");
    // No BatchMode: it would skip keyboard-interactive, the guest login
    // (which asks nothing).
    cmd.args(["-p", &port])
        .args(["-o", "StrictHostKeyChecking=no"])
        .args(["-o", "UserKnownHostsFile=/dev/null"])
        .args(["-o", "PubkeyAuthentication=no"])
        .args(["-o", "PasswordAuthentication=no"])
        .args(["-o", "LogLevel=ERROR"])
        .args(["-o", "ConnectTimeout=10"])
        .args(["-tt", "guest@127.0.0.1"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut ssh = Ssh::spawn(cmd);
    ssh.expect("You are now connected as 'guest'.");
    let log = server.expect_log("SSH login:");
    assert!(log.contains("\"guest\", no key"), "{log}");
}

#[test]
fn max_clients_per_ip_counts_ssh_connections() {
    let mut server = Server::with(&Cfg::base().ssh().set("maxClientsPerIp", "1"));
    let mut ssh = Ssh::login(&server, "frank");
    ssh.expect("You are now connected as 'frank'.");
    let mut raw = TcpStream::connect(server.ssh_addr.unwrap()).unwrap();
    raw.set_read_timeout(Some(TIMEOUT)).unwrap();
    let mut got = String::new();
    let _ = raw.read_to_string(&mut got);
    assert_eq!(got, "Server full, try again later.\r\n");
    let mut plain = server.client();
    plain.expect_closed();
    server.expect_log("refused");
}

#[test]
fn a_second_session_on_one_connection_is_refused() {
    let server = ssh_server();
    let key = keys().join("id");
    let key = key.to_str().unwrap();
    let path = keys().join(format!("mux-{}", std::process::id()));
    let control = format!("ControlPath={}", path.display());
    let mut master = Ssh::spawn(ssh_command(
        &server,
        &[
            "-tt",
            "-i",
            key,
            "-o",
            "ControlMaster=yes",
            "-o",
            &control,
            "first@127.0.0.1",
        ],
    ));
    master.expect("You are now connected as 'first'.");
    // A multiplexed second session asks the master's connection for
    // another channel: refused (OpenSSH then connects on its own).
    let mut second = Ssh::spawn(ssh_command(
        &server,
        &[
            "-tt",
            "-i",
            key,
            "-o",
            "ControlMaster=no",
            "-o",
            &control,
            "second@127.0.0.1",
        ],
    ));
    second.expect("Session open refused by peer");
    drop(second);
    // The first session goes on.
    let mut bob = server.login("bob");
    bob.send(":dm first");
    bob.expect("[dm/first]");
    master.type_str(":rooms\r");
    master.expect("general");
    let _ = std::fs::remove_file(&path);
}

#[test]
fn a_key_bound_with_addkey_logs_in_and_another_key_asks_for_the_password() {
    let cfg = Cfg::base().ssh();
    let accounts = cfg.ssh_dir.clone().unwrap().join("accounts.ron");
    let cfg = cfg.set("accounts", &format!("{accounts:?}"));
    let mut server = Server::with(&cfg);
    // Register over SSH (a secure link), as a guest first.
    let mut ssh = Ssh::login(&server, "alice");
    ssh.expect("You are now connected as 'alice'.");
    ssh.type_str(":addkey\r");
    ssh.expect("You are not registered");
    ssh.type_str(":register hunter22\r");
    ssh.expect("You registered 'alice'");
    ssh.type_str(":quit\r");
    ssh.expect("(y/n)");
    ssh.type_str("y\r");
    assert_eq!(ssh.wait(), Some(0));
    // The same key: the password (nothing is bound yet), then :addkey.
    let mut ssh = Ssh::login(&server, "alice");
    ssh.expect("Password for alice: ");
    ssh.type_str("hunter22\r");
    ssh.expect("You are logged in to your account.");
    ssh.type_str(":addkey\r");
    ssh.expect("is bound to your account");
    ssh.type_str(":keys\r");
    let text = ssh.expect("(this session)");
    let fp = keygen_fingerprint(&keys().join("id.pub"));
    assert!(text.contains(&format!("1. {fp} (this session)")), "{text}");
    drop(ssh);
    server.expect_log("alice (closed by client");
    let file = std::fs::read_to_string(&accounts).unwrap();
    assert!(file.contains(&fp), "{file}");
    // That key now logs in without a password.
    let mut ssh = Ssh::login(&server, "alice");
    ssh.expect("Your SSH key is bound to this account.");
    ssh.expect("You are logged in to your account.");
    drop(ssh);
    wait_log_count(&mut server, "alice (closed by client", 2, TIMEOUT);
    // Another key is asked for the password.
    let mut other = Ssh::login_with(&server, "alice", "id2");
    other.expect("Password for alice: ");
    other.type_str("hunter22\r");
    other.expect("You are logged in to your account.");
    other.type_str(":delkey 1\r");
    other.expect("is no longer bound to your account");
}
