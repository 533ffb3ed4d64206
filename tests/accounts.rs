//! SPEC §11 with the real binary: registering, logging in, the accounts
//! file (created at the first registration, mode 0600, atomic, never
//! overwritten when broken), its failures, `--op`, ops' actions and bans
//! across a restart. (Refusals on plain remote links are unit tests of the
//! core: every test client here is on loopback.)

mod common;
use common::*;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

fn accounts_cfg(path: &Path) -> Cfg {
    Cfg::base().accounts(path)
}

/// A server with accounts in a fresh directory; the file's path.
fn server() -> (Server, PathBuf) {
    let path = temp_dir().join("accounts.ron");
    (Server::with(&accounts_cfg(&path)), path)
}

/// Registers `name` with `password` from a new connection, left online.
fn register(server: &Server, name: &str, password: &str) -> Client {
    let mut c = server.login(name);
    c.send(&format!(":register {password}"));
    c.expect(&format!("You registered '{name}'."));
    c.expect("> ");
    c
}

#[test]
fn register_then_log_in_with_the_password_from_another_connection() {
    let (mut server, path) = server();
    assert!(!path.exists(), "created before the first registration");
    let mut alice = register(&server, "alice", "hunter22");
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(text.contains("name: \"alice\""), "{text}");
    assert!(text.contains("$argon2id$v=19$m=19456,t=2,p=1$"), "{text}");
    assert!(!text.contains("hunter22"));
    let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
    let reply = alice.command(":whois alice");
    assert!(reply.contains(", registered,"), "{reply}");
    alice.send(":quit");
    alice.expect("(y/n) ");
    alice.send("y");
    alice.expect_closed();

    let mut again = server.client();
    again.log_in("alice", "hunter22");
    // Nobody may take the name as a guest meanwhile.
    let mut other = server.client();
    other.expect("Enter a username: ");
    other.send("Alice");
    other.expect("That username is taken, please pick another one.");
    server.drain_output();
    assert!(
        !server.stderr_seen.iter().any(|l| l.contains("hunter22")),
        "a password in the log"
    );
    assert!(server
        .stderr_seen
        .iter()
        .any(|l| l.contains("account registered: alice")));
}

#[test]
fn wrong_passwords_ask_again_and_the_third_closes() {
    let (server, _path) = server();
    drop(register(&server, "alice", "hunter22"));
    let mut c = server.client();
    c.expect("Enter a username: ");
    c.send("alice");
    c.expect("Password for alice: ");
    // Both answers come only after a hash: the wrong one as late as a
    // right one would.
    for wrong in ["nope1", "nope2"] {
        c.send(wrong);
        c.expect("Wrong password.\r\nPassword for alice: ");
    }
    c.send("nope3");
    c.expect("Too many wrong passwords. Goodbye!");
    c.expect_closed();
}

#[test]
fn a_look_alike_of_a_registered_name_gets_no_password_prompt() {
    let (server, _path) = server();
    drop(register(&server, "alice", "hunter22"));
    let mut c = server.client();
    c.expect("Enter a username: ");
    c.send("\u{430}lice");
    let got = c.expect("Enter a username: ");
    assert!(got.contains("That username is taken"), "{got:?}");
    assert!(!got.contains("Password for"), "{got:?}");
}

#[test]
fn two_registrations_in_one_packet_register_once() {
    let (server, path) = server();
    let mut c = server.login("alice");
    c.send_raw(b":register hunter22\r\n:register hunter33\r\n");
    c.expect("You registered 'alice'.");
    c.expect("You are registered already.");
    let text = std::fs::read_to_string(&path).unwrap();
    assert_eq!(text.matches("name:").count(), 1, "{text}");
    // The first password is the one that counts.
    let mut d = server.client();
    c.send(":quit");
    c.expect("(y/n) ");
    c.send("y");
    c.expect_closed();
    d.log_in("alice", "hunter22");
}

#[test]
fn a_broken_accounts_file_stops_the_server_and_is_left_alone() {
    let dir = temp_dir();
    let path = dir.join("accounts.ron");
    let broken = "(\n  accounts: [\n    (name: \"alice\", hash: \"not a hash\"),\n  ],\n)\n";
    std::fs::write(&path, broken).unwrap();
    let config = temp_file(&accounts_cfg(&path).ron());
    let (status, _out, err) = run_to_end(&["--config", config.to_str().unwrap(), "--port", "0"]);
    assert_eq!(status.code(), Some(1), "{err}");
    let at = format!("{}:3:", path.display());
    assert!(err.contains(&at), "no {at} in {err}");
    assert!(err.contains("not a PHC string"), "{err}");
    assert_eq!(std::fs::read_to_string(&path).unwrap(), broken);
    // --check says the same.
    let (status, _, err) = run_to_end(&["--config", config.to_str().unwrap(), "--check"]);
    assert_eq!(status.code(), Some(1), "{err}");
    assert!(err.contains(&at), "{err}");
}

#[test]
fn an_unwritable_directory_at_registration_tells_the_user_and_goes_on() {
    // Root writes into a read-only (chmod 0500) directory all the same, so
    // as root the directory is made unusable another way once the server
    // runs: a plain file takes its place (ENOTDIR). Either way the write
    // fails at the temporary file, as on a read-only file system.
    let dir = temp_dir();
    let sub = dir.join("sub");
    std::fs::create_dir(&sub).unwrap();
    let path = sub.join("accounts.ron");
    // SAFETY: geteuid only reads the process's user id.
    let root = unsafe { libc::geteuid() } == 0;
    let server_cfg = accounts_cfg(&path);
    let mut server = Server::with(&server_cfg);
    if root {
        std::fs::remove_dir(&sub).unwrap();
        std::fs::write(&sub, "").unwrap();
    } else {
        std::fs::set_permissions(&sub, std::fs::Permissions::from_mode(0o500)).unwrap();
    }
    let mut c = server.login("alice");
    c.send(":register hunter22");
    let got = c.expect("> ");
    assert!(
        got.contains("Your account could not be saved, so you are still a guest"),
        "{got:?}"
    );
    assert!(!path.exists());
    if root {
        let entries: Vec<_> = std::fs::read_dir(&dir).unwrap().collect();
        assert_eq!(entries.len(), 1, "something half-written: {entries:?}");
    } else {
        let entries: Vec<_> = std::fs::read_dir(&sub).unwrap().collect();
        assert!(entries.is_empty(), "something half-written: {entries:?}");
    }
    server.expect_log("accounts file not saved: cannot write");
    // Still a guest, still served.
    let reply = c.command(":whois alice");
    assert!(reply.contains(", guest,"), "{reply}");
    server.assert_alive();
    if !root {
        std::fs::set_permissions(&sub, std::fs::Permissions::from_mode(0o700)).unwrap();
    }
}

#[test]
fn a_deleted_file_is_written_anew_with_every_account() {
    let (server, path) = server();
    let _alice = register(&server, "alice", "hunter22");
    std::fs::remove_file(&path).unwrap();
    let _bob = register(&server, "bob", "hunter22");
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(
        text.contains("\"alice\"") && text.contains("\"bob\""),
        "{text}"
    );
}

#[test]
fn op_flag_from_the_command_line_then_kick_mute_ban_and_bans_survive_a_restart() {
    let (server, path) = server();
    drop(register(&server, "boss", "hunter22"));
    drop(register(&server, "bob", "hunter22"));
    drop(server);
    let config = temp_file(&accounts_cfg(&path).ron());
    let cfg_arg = config.to_str().unwrap();
    let (status, out, err) = run_to_end(&["--config", cfg_arg, "--op", "boss"]);
    assert_eq!(status.code(), Some(0), "{err}");
    assert!(out.contains("boss is an op now"), "{out}");
    let (status, _, err) = run_to_end(&["--config", cfg_arg, "--op", "nobody"]);
    assert_eq!(status.code(), Some(1));
    assert!(
        err.contains("nobody") && err.contains(&path.display().to_string()),
        "{err}"
    );

    let mut server = Server::with(&accounts_cfg(&path));
    let mut boss = server.client();
    boss.log_in("boss", "hunter22");
    let mut bob = server.client();
    bob.log_in("bob", "hunter22");
    let mut eve = server.login("eve");
    assert!(eve.command(":kick bob").contains("You are not an op."));
    for c in [&mut boss, &mut bob, &mut eve] {
        c.command(":join general");
    }
    eve.send(":chat");
    eve.expect("[room/general]");
    eve.expect("> ");

    boss.command(":mute bob 5");
    eve.expect("bob was muted by boss for 5 minutes.");
    bob.expect("your messages reach nobody");
    bob.send(":chat");
    bob.expect("> ");
    bob.send("secret plans");
    bob.expect("You are muted");
    boss.command(":unmute bob");
    eve.expect("bob was unmuted by boss.");

    boss.command(":ban bob");
    eve.expect("bob was banned by boss.");
    bob.expect("You were banned by boss.");
    bob.expect_closed();
    server.expect_log("boss banned bob");
    assert!(std::fs::read_to_string(&path)
        .unwrap()
        .contains("Account(\"bob\")"));
    drop(server);

    // Restarted: the ban holds.
    let server = Server::with(&accounts_cfg(&path));
    let mut bob = server.client();
    bob.expect("Enter a username: ");
    bob.send("bob");
    bob.expect("That account is banned.");
    let mut boss = server.client();
    boss.log_in("boss", "hunter22");
    boss.command(":unban bob");
    bob.send("bob");
    bob.expect("Password for bob: ");
    bob.send("hunter22");
    bob.expect("You are now connected as 'bob'.");
    let mut eve = server.login("eve");
    boss.command(":kick eve");
    eve.expect("You were kicked by boss.");
    eve.expect_closed();
}

#[test]
fn ten_thousand_accounts_load_quickly() {
    // The file is made with the library (cheap hashes: validation parses
    // each PHC string whatever its cost).
    use chatsock::accounts::{hash::Hasher, store, Account, AccountsFile};
    let hash = Hasher::cheap().hash("password1").unwrap();
    let file = AccountsFile {
        accounts: (0..10_000)
            .map(|i| Account {
                name: format!("user{i}"),
                hash: hash.clone(),
                created: 1_700_000_000,
                keys: vec![],
                op: false,
            })
            .collect(),
        bans: vec![],
    };
    let path = temp_dir().join("accounts.ron");
    std::fs::write(&path, store::serialize(&file)).unwrap();
    let start = Instant::now();
    let server = Server::with(&accounts_cfg(&path));
    let took = start.elapsed();
    let (rss, _) = rss_kib(server.pid());
    eprintln!("10,000 accounts: running after {took:?}, {rss} KiB resident (debug build)");
    assert!(took < Duration::from_secs(10), "{took:?}");
    let mut c = server.client();
    c.expect("Enter a username: ");
    c.send("user9999");
    c.expect("Password for user9999: ");
}
