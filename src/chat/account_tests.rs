//! Unit tests of accounts and moderation in the core (SPEC §11), with a
//! cheap hasher answering hash jobs synchronously and a fake disk.

use super::accounts::CHANGE_EVERY;
use super::*;
use crate::accounts::hash::{HashAnswer, HashOp, Hasher};
use crate::accounts::store;
use std::net::Ipv4Addr;

const HOME: IpAddr = IpAddr::V4(Ipv4Addr::LOCALHOST);

fn ip(last: u8) -> IpAddr {
    IpAddr::V4(Ipv4Addr::new(203, 0, 113, last))
}

struct T {
    chat: Chat,
    hasher: Hasher,
    /// The disk refuses writes.
    disk_fails: bool,
    /// The last text written.
    file: Option<String>,
    /// Hash jobs answered Busy instead of done.
    busy: bool,
}

impl T {
    /// Moves the clock past the wait between two account changes.
    fn after_change_wait(&mut self) {
        let now = self.chat.now + Duration::from_secs(u64::from(CHANGE_EVERY));
        self.chat.set_now(now);
    }

    fn new(extra: &str) -> T {
        let accounts = if extra.contains("accounts:") {
            ""
        } else {
            "accounts: \"x.ron\","
        };
        let src = format!(
            "(connectionTimeout: false, chatviewMax: 5, {accounts} \
             rooms: {{ \"general\": () }}, {extra})"
        );
        T {
            chat: Chat::new(Config::from_ron(&src, "test").unwrap(), "9.9.9"),
            hasher: Hasher::cheap(),
            disk_fails: false,
            file: None,
            busy: false,
        }
    }

    /// Does what the shell does with hash jobs and saves, until none is left.
    fn pump(&mut self) {
        loop {
            let jobs: Vec<_> = self.chat.out.hash_jobs.drain(..).collect();
            let save = std::mem::take(&mut self.chat.out.save);
            if jobs.is_empty() && !save {
                break;
            }
            if save {
                let text = self.chat.accounts_text();
                if self.disk_fails {
                    self.chat.saved(Err("disk full".into()));
                } else {
                    store::parse(&text, "x.ron").expect("the core writes a valid file");
                    self.file = Some(text);
                    self.chat.saved(Ok(()));
                }
            }
            for job in jobs {
                let answer = if self.busy {
                    HashAnswer::Busy
                } else {
                    self.hasher.run(&job.op)
                };
                self.chat.hashed(job.id, answer);
            }
            self.chat.check_invariants().unwrap();
        }
    }

    /// Output for `id` since the last call.
    fn out(&mut self, id: ClientId) -> String {
        super::tests::output_for(&mut self.chat, id)
    }

    fn connect(&mut self, id: ClientId, link: Link, from: IpAddr) {
        self.chat.connect(id, link, from);
        self.out(id);
    }

    /// A line from `id`, with every hash job and save done; its output.
    fn say(&mut self, id: ClientId, line: &str) -> String {
        self.chat.line(id, line.as_bytes());
        self.pump();
        self.chat.check_invariants().unwrap();
        self.out(id)
    }

    /// A guest `name` at the palette, from loopback.
    fn guest(&mut self, id: ClientId, name: &str) {
        self.connect(id, Link::PlainLoopback, HOME);
        let o = self.say(id, name);
        assert!(o.contains("You are now connected as"), "{o}");
    }

    /// `name` registered with `password` and left online.
    fn registered(&mut self, id: ClientId, name: &str, password: &str) {
        self.guest(id, name);
        let o = self.say(id, &format!(":register {password}"));
        assert!(o.contains(&format!("You registered '{name}'")), "{o}");
    }

    fn closed(&self, id: ClientId) -> bool {
        self.chat.out.closes.iter().any(|(c, _)| *c == id)
    }
}

#[test]
fn register_then_log_in_from_another_connection() {
    let mut t = T::new("");
    t.registered(0, "alice", "hunter22");
    assert!(t.chat.logged_in(0));
    let file = t.file.clone().unwrap();
    assert!(file.contains("name: \"alice\""), "{file}");
    assert!(file.contains("$argon2id$"), "{file}");
    assert!(!file.contains("hunter22"), "the password is in the file");
    t.chat.disconnect(0);

    t.connect(1, Link::PlainLoopback, HOME);
    t.chat.line(1, b"alice");
    let prompt = t.chat.out.writes.iter().find_map(|(_, c)| match c {
        Chunk::Prompt { text, secret, .. } => Some((text.to_string(), *secret)),
        _ => None,
    });
    assert_eq!(prompt, Some(("Password for alice: ".into(), true)));
    t.out(1);
    let o = t.say(1, "hunter22");
    assert!(o.contains("You are now connected as 'alice'."), "{o}");
    assert!(t.chat.logged_in(1));
    // The palette prompt is not secret.
    t.chat.line(1, b":list");
    assert!(t
        .chat
        .out
        .writes
        .iter()
        .any(|(_, c)| matches!(c, Chunk::Prompt { secret: false, .. })));
}

#[test]
fn a_wrong_password_asks_again_and_the_third_closes() {
    let mut t = T::new("");
    t.registered(0, "alice", "hunter22");
    t.chat.disconnect(0);
    t.connect(1, Link::PlainLoopback, HOME);
    assert_eq!(t.say(1, "alice"), "Password for alice: ");
    assert_eq!(t.say(1, "nope"), "Wrong password.\r\nPassword for alice: ");
    assert_eq!(t.say(1, "nope2"), "Wrong password.\r\nPassword for alice: ");
    assert!(!t.closed(1));
    let o = t.say(1, "nope3");
    assert!(o.contains("Too many wrong passwords. Goodbye!"), "{o}");
    assert!(t.closed(1));
}

#[test]
fn an_empty_password_line_goes_back_to_the_username_prompt() {
    let mut t = T::new("");
    t.registered(0, "alice", "hunter22");
    t.chat.disconnect(0);
    t.connect(1, Link::PlainLoopback, HOME);
    t.say(1, "alice");
    assert_eq!(t.say(1, ""), "Enter a username: ");
    let o = t.say(1, "bob");
    assert!(o.contains("connected as 'bob'"), "{o}");
}

#[test]
fn a_look_alike_of_a_registered_name_is_taken_without_a_password_prompt() {
    let mut t = T::new("");
    t.registered(0, "alice", "hunter22");
    t.chat.disconnect(0);
    t.connect(1, Link::PlainLoopback, HOME);
    for name in ["\u{430}lice", "ａｌｉｃｅ", "a1ice"] {
        let o = t.say(1, name);
        assert_eq!(
            o, "That username is taken, please pick another one.\r\nEnter a username: ",
            "{name}"
        );
    }
    // The same name in another case is the account's: its password.
    assert_eq!(t.say(1, "ALICE"), "Password for alice: ");
    let o = t.say(1, "hunter22");
    assert!(o.contains("connected as 'alice'"), "{o}");
}

#[test]
fn five_failed_logins_a_minute_per_name_then_none() {
    let mut t = T::new("");
    t.registered(0, "alice", "hunter22");
    t.chat.disconnect(0);
    // 3 wrong from one address, 2 from another: the name's budget is gone.
    t.connect(1, Link::PlainLoopback, ip(1));
    for p in ["a", "b", "c"] {
        t.say(1, "alice");
        t.say(1, p);
    }
    t.connect(2, Link::PlainLoopback, ip(2));
    t.say(2, "alice");
    t.say(2, "d");
    let o = t.say(2, "e");
    assert!(o.contains("Too many failed logins"), "{o}");
    // A third address: still refused before any password is asked.
    t.connect(3, Link::PlainLoopback, ip(3));
    let o = t.say(3, "alice");
    assert!(o.contains("Too many failed logins"), "{o}");
    assert!(!o.contains("Password for"), "{o}");
    // A minute later it is allowed again, and the right password works.
    t.chat.set_now(Duration::from_secs(61));
    assert_eq!(t.say(3, "alice"), "Password for alice: ");
    let o = t.say(3, "hunter22");
    assert!(o.contains("connected as 'alice'"), "{o}");
}

#[test]
fn five_failed_logins_a_minute_per_address_across_names() {
    let mut t = T::new("");
    for (id, name) in [(0, "alice"), (1, "bobby"), (2, "carol")] {
        t.registered(id, name, "hunter22");
        t.chat.disconnect(id);
    }
    t.connect(5, Link::PlainLoopback, ip(9));
    t.say(5, "alice");
    t.say(5, "x1");
    t.say(5, "x2");
    t.say(5, ""); // back to the name prompt, 2 wrong on this connection
    t.say(5, "bobby");
    t.say(5, "x3");
    t.say(5, "");
    t.connect(6, Link::PlainLoopback, ip(9));
    t.say(6, "carol");
    t.say(6, "x4");
    let o = t.say(6, "x5");
    assert!(o.contains("Too many failed logins"), "{o}");
    let o = t.say(6, "carol");
    assert!(o.contains("Too many failed logins"), "{o}");
    // Another address may still try carol.
    t.connect(7, Link::PlainLoopback, ip(10));
    assert_eq!(t.say(7, "carol"), "Password for carol: ");
}

#[test]
fn the_failure_counters_stay_bounded() {
    let mut t = T::new("");
    let now = t.chat.secs_now();
    for i in 0..(accounts::LIMITER_CAP + 500) {
        t.chat.auth.fails.hit(format!("a{i}"), now);
    }
    assert!(t.chat.auth.fails.map.len() <= accounts::LIMITER_CAP);
}

#[test]
fn a_right_password_gives_its_attempt_back() {
    let mut t = T::new("");
    t.registered(0, "alice", "hunter22");
    t.chat.disconnect(0);
    for id in 1..10 {
        t.connect(id, Link::PlainLoopback, HOME);
        t.say(id, "alice");
        let o = t.say(id, "hunter22");
        assert!(o.contains("connected as 'alice'"), "login {id}: {o}");
        t.chat.disconnect(id);
    }
}

#[test]
fn plain_remote_links_refuse_passwords_and_registered_names() {
    let mut t = T::new("");
    t.registered(0, "alice", "hunter22");
    t.chat.disconnect(0);
    t.connect(1, Link::PlainRemote, ip(1));
    let o = t.say(1, "alice");
    assert!(
        o.starts_with("'alice' is registered. Passwords are not accepted"),
        "{o}"
    );
    assert!(o.contains("TLS"), "{o}");
    assert!(!o.contains("Password for"), "{o}");
    t.say(1, "bob");
    let o = t.say(1, ":register hunter22");
    assert!(o.contains("Passwords are not accepted"), "{o}");
    assert!(!t.chat.is_registered("bob"));
    assert!(t.chat.out.hash_jobs.is_empty());
    // With a TLS listener, the line names its port.
    t.chat.set_tls_port(Some(22223));
    let o = t.say(1, ":register hunter22");
    assert!(o.contains("connect with TLS to port 22223"), "{o}");
    // TLS, SSH and loopback are fine.
    for (id, link) in [(2, Link::Tls), (3, Link::Ssh)] {
        t.connect(id, link, ip(2));
        assert_eq!(t.say(id, "alice"), "Password for alice: ", "{link:?}");
    }
}

#[test]
fn allow_plaintext_passwords_lets_remote_plain_links_log_in() {
    let mut t = T::new("allowPlaintextPasswords: true");
    t.registered(0, "alice", "hunter22");
    t.chat.disconnect(0);
    t.connect(1, Link::PlainRemote, ip(1));
    assert_eq!(t.say(1, "alice"), "Password for alice: ");
}

#[test]
fn two_registrations_of_one_name_in_one_pass_register_it_once() {
    let mut t = T::new("");
    t.guest(0, "alice");
    // Both lines reach the core before the hasher answers.
    t.chat.line(0, b":register hunter22");
    t.chat.line(0, b":register hunter33");
    assert_eq!(t.chat.out.hash_jobs.len(), 1);
    let o = t.out(0);
    assert!(o.contains("That name is being registered already."), "{o}");
    t.pump();
    assert_eq!(t.chat.account_count(), 1);
    let o = t.say(0, ":register hunter44");
    assert!(o.contains("You are registered already."), "{o}");
}

#[test]
fn a_failed_save_leaves_a_guest_and_no_account() {
    let mut t = T::new("");
    t.guest(0, "alice");
    t.disk_fails = true;
    let o = t.say(0, ":register hunter22");
    assert!(
        o.contains("could not be saved, so you are still a guest"),
        "{o}"
    );
    assert!(!t.chat.is_registered("alice"));
    assert!(!t.chat.logged_in(0));
    assert!(t.chat.out.logs.iter().any(|l| l.contains("not saved")));
    // The disk works again: the next try succeeds (after the wait a
    // change, even a failed one, costs).
    t.disk_fails = false;
    let o = t.say(0, ":register hunter22");
    assert!(o.contains("try again in 10 s"), "{o}");
    t.after_change_wait();
    let o = t.say(0, ":register hunter22");
    assert!(o.contains("You registered 'alice'"), "{o}");
}

#[test]
fn passwd_and_unregister() {
    let mut t = T::new("");
    t.registered(0, "alice", "hunter22");
    // Each change rewrites the accounts file: one per CHANGE_EVERY.
    let o = t.say(0, ":passwd hunter22 newpass99");
    assert!(o.contains("You changed your account a moment ago"), "{o}");
    t.after_change_wait();
    let o = t.say(0, ":passwd wrongone newpass99");
    assert!(o.contains("Wrong password."), "{o}");
    let o = t.say(0, ":passwd hunter22 short");
    assert!(o.contains("at least 8 characters"), "{o}");
    // A wrong password or a short one wrote nothing, so no wait.
    let o = t.say(0, ":passwd hunter22 newpass99");
    assert!(o.contains("Your password was changed."), "{o}");
    // A failed save keeps the old password.
    t.after_change_wait();
    t.disk_fails = true;
    let o = t.say(0, ":passwd newpass99 newpass00");
    assert!(o.contains("not changed"), "{o}");
    t.disk_fails = false;
    t.after_change_wait();
    let o = t.say(0, ":unregister hunter22");
    assert!(o.contains("Wrong password."), "{o}");
    let o = t.say(0, ":unregister newpass99");
    assert!(o.contains("you are a guest now"), "{o}");
    assert!(!t.chat.is_registered("alice"));
    let o = t.say(0, ":whois alice");
    assert!(o.contains(", guest,"), "{o}");
    let o = t.say(0, ":unregister newpass99");
    assert!(o.contains("You are not registered."), "{o}");
}

#[test]
fn whois_says_registered() {
    let mut t = T::new("");
    t.registered(0, "alice", "hunter22");
    let o = t.say(0, ":whois alice");
    assert!(o.contains(", registered,"), "{o}");
}

#[test]
fn a_busy_hasher_asks_to_try_again_and_costs_no_attempt() {
    let mut t = T::new("");
    t.registered(0, "alice", "hunter22");
    t.chat.disconnect(0);
    t.busy = true;
    t.connect(1, Link::PlainLoopback, HOME);
    t.say(1, "alice");
    for _ in 0..8 {
        let o = t.say(1, "hunter22");
        assert!(o.contains("try again"), "{o}");
    }
    t.busy = false;
    let o = t.say(1, "hunter22");
    assert!(o.contains("connected as 'alice'"), "{o}");
}

#[test]
fn a_vanished_account_is_still_checked_against_a_hash() {
    let mut t = T::new("");
    t.registered(0, "alice", "hunter22");
    t.chat.disconnect(0);
    t.connect(1, Link::PlainLoopback, HOME);
    t.say(1, "alice");
    // Meanwhile alice logs in elsewhere and removes her account.
    t.connect(2, Link::PlainLoopback, HOME);
    t.say(2, "alice");
    t.say(2, "hunter22");
    t.say(2, ":unregister hunter22");
    t.chat.line(1, b"hunter22");
    let job = t
        .chat
        .out
        .hash_jobs
        .first()
        .expect("a hash job all the same");
    assert!(matches!(&job.op, HashOp::Verify { phc: None, .. }));
    t.pump();
    assert_eq!(t.out(1), "Wrong password.\r\nPassword for alice: ");
}

#[test]
fn input_waits_while_a_password_is_checked() {
    let mut t = T::new("");
    t.guest(0, "alice");
    t.chat.line(0, b":register hunter22");
    assert!(!t.chat.wants_input(0));
    t.pump();
    assert!(t.chat.wants_input(0));
}

/// `boss` (an op), `bob` (registered) and `eve` (a guest from ip 7), all
/// in general.
fn moderated() -> T {
    let mut t = T::new("");
    t.registered(0, "boss", "hunter22");
    t.chat.auth.accounts.get_mut("boss").unwrap().op = true;
    t.registered(1, "bob", "hunter22");
    t.connect(2, Link::PlainLoopback, ip(7));
    t.say(2, "eve");
    for id in 0..3 {
        t.say(id, ":join general");
    }
    for id in 0..3 {
        t.out(id);
    }
    t
}

#[test]
fn only_ops_moderate() {
    let mut t = moderated();
    for cmd in [
        ":kick boss",
        ":mute boss",
        ":ban boss",
        ":unban boss",
        ":unmute boss",
    ] {
        let o = t.say(1, cmd);
        assert!(o.contains("You are not an op."), "{cmd}: {o}");
    }
    assert!(!t.closed(0));
}

#[test]
fn kick_tells_the_room_and_closes() {
    let mut t = moderated();
    let o = t.say(0, ":kick bob spamming");
    assert!(o.contains("bob was kicked by boss."), "{o}");
    let o = t.out(2);
    assert!(o.contains("bob was kicked by boss.") || o.is_empty(), "{o}");
    let o = t.out(1);
    assert!(o.contains("You were kicked by boss (spamming)."), "{o}");
    assert!(t.closed(1));
    assert!(t.chat.out.logs.iter().any(|l| l == "boss kicked bob"));
    assert!(!t.chat.out.logs.iter().any(|l| l.contains("spamming")));
}

#[test]
fn a_muted_users_messages_reach_nobody() {
    let mut t = moderated();
    t.say(2, ":chat");
    t.say(1, ":chat");
    let o = t.say(0, ":mute bob 5");
    assert!(o.contains("bob was muted by boss for 5 minutes."), "{o}");
    t.out(2);
    let o = t.say(1, "can you hear me");
    assert!(o.contains("You are muted"), "{o}");
    assert!(!t.out(2).contains("can you hear me"));
    let o = t.say(1, ":msg eve psst");
    assert!(o.contains("You are muted"), "{o}");
    assert!(!t.out(2).contains("psst"));
    // Five minutes later the mute is over.
    t.chat.set_now(Duration::from_secs(301));
    t.say(1, "back again");
    assert!(t.out(2).contains("back again"));
    // :unmute ends one without minutes.
    t.say(0, ":mute bob");
    t.say(1, "hidden");
    assert!(!t.out(2).contains("hidden"));
    t.say(0, ":unmute bob");
    t.say(1, "heard");
    assert!(t.out(2).contains("heard"));
}

#[test]
fn a_banned_account_cannot_log_in_until_unbanned_and_bans_are_saved() {
    let mut t = moderated();
    let o = t.say(0, ":ban bob");
    assert!(o.contains("bob was banned by boss."), "{o}");
    assert!(t.closed(1));
    t.chat.disconnect(1);
    assert!(t.file.as_deref().unwrap().contains("Account(\"bob\")"));
    t.connect(3, Link::PlainLoopback, HOME);
    let o = t.say(3, "bob");
    assert!(o.contains("That account is banned."), "{o}");
    assert!(!o.contains("Password for"), "{o}");
    // A restart: the file is read again, the ban holds.
    let file = store::parse(t.file.as_deref().unwrap(), "x.ron").unwrap();
    let mut t2 = T::new("");
    t2.chat.load_accounts(file);
    t2.connect(0, Link::PlainLoopback, HOME);
    let o = t2.say(0, "bob");
    assert!(o.contains("That account is banned."), "{o}");
    // Unbanned, bob gets in.
    t.say(0, ":unban bob");
    assert!(!t.file.as_deref().unwrap().contains("Account(\"bob\")"));
    assert_eq!(t.say(3, "bob"), "Password for bob: ");
    let o = t.say(3, "hunter22");
    assert!(o.contains("connected as 'bob'"), "{o}");
}

#[test]
fn a_ban_with_minutes_ends_by_itself() {
    let mut t = moderated();
    t.say(0, ":ban bob 10");
    t.chat.disconnect(1);
    t.connect(3, Link::PlainLoopback, HOME);
    let o = t.say(3, "bob");
    assert!(o.contains("banned for 10 more minutes"), "{o}");
    t.chat.set_now(Duration::from_secs(601));
    assert_eq!(t.say(3, "bob"), "Password for bob: ");
}

#[test]
fn banning_a_guest_bans_guests_from_its_address() {
    let mut t = moderated();
    let o = t.say(0, ":ban eve");
    assert!(o.contains("eve was banned by boss."), "{o}");
    assert!(t.closed(2));
    t.chat.disconnect(2);
    t.connect(3, Link::PlainLoopback, ip(7));
    let o = t.say(3, "mallory");
    assert!(o.contains("Your address is banned"), "{o}");
    // Accounts may still log in from it.
    t.chat.disconnect(1);
    assert_eq!(t.say(3, "bob"), "Password for bob: ");
    // Another address is not banned.
    t.connect(4, Link::PlainLoopback, ip(8));
    assert!(t.say(4, "eve").contains("connected as 'eve'"));
    let o = t.say(0, ":unban eve");
    assert!(o.contains("eve was unbanned by boss."), "{o}");
}

#[test]
fn ops_cannot_act_on_themselves_or_on_nobody() {
    let mut t = moderated();
    assert!(t.say(0, ":kick boss").contains("yourself"));
    assert!(t.say(0, ":kick nobody").contains("not online"));
    assert!(t.say(0, ":ban nobody").contains("no account or user"));
    assert!(t.say(0, ":unban nobody").contains("Nobody is banned"));
}

#[test]
fn accounts_off_refuses_password_commands() {
    let mut t = T::new("accounts: \"\"");
    t.guest(0, "alice");
    let o = t.say(0, ":register hunter22");
    assert!(o.contains("Accounts are off"), "{o}");
}

/// An SSH client of `name`'s, logged in with `key`, at the username prompt.
fn ssh_client(t: &mut T, id: ClientId, key: &str) {
    t.connect(id, Link::Ssh, ip(9));
    t.chat.set_ssh_key(id, key);
}

#[test]
fn a_key_bound_with_addkey_logs_in_without_a_password() {
    let mut t = T::new("");
    // Registered over SSH with key A, which :addkey binds.
    ssh_client(&mut t, 0, "SHA256:keyA");
    let o = t.say(0, "alice");
    assert!(o.contains("You are now connected as 'alice'"), "{o}");
    let o = t.say(0, ":keys");
    assert!(o.contains("You are not registered"), "{o}");
    let o = t.say(0, ":register hunter22");
    assert!(o.contains("You registered 'alice'"), "{o}");
    t.after_change_wait();
    let o = t.say(0, ":addkey");
    assert!(
        o.contains("Key SHA256:keyA is bound to your account"),
        "{o}"
    );
    assert!(t.file.as_deref().unwrap().contains("SHA256:keyA"));
    let o = t.say(0, ":addkey");
    assert!(o.contains("bound to your account already"), "{o}");
    let o = t.say(0, ":keys");
    assert!(o.contains("1. SHA256:keyA (this session)"), "{o}");
    t.chat.disconnect(0);
    // Key A: in at once. Key B: the password prompt. No key: the prompt.
    ssh_client(&mut t, 1, "SHA256:keyA");
    let o = t.say(1, "alice");
    assert!(o.contains("Your SSH key is bound to this account."), "{o}");
    assert!(o.contains("You are logged in to your account"), "{o}");
    assert!(t.chat.logged_in(1));
    t.chat.disconnect(1);
    ssh_client(&mut t, 2, "SHA256:keyB");
    assert_eq!(t.say(2, "alice"), "Password for alice: ");
    t.connect(3, Link::Tls, ip(3));
    assert_eq!(t.say(3, "alice"), "Password for alice: ");
    // A password login over SSH with key B, then :delkey 1 unbinds A.
    let o = t.say(2, "hunter22");
    assert!(o.contains("You are logged in"), "{o}");
    let o = t.say(2, ":delkey 2");
    assert!(o.contains("There is no key 2"), "{o}");
    let o = t.say(2, ":delkey 1");
    assert!(o.contains("Key SHA256:keyA is no longer bound"), "{o}");
    t.chat.disconnect(2);
    ssh_client(&mut t, 4, "SHA256:keyA");
    assert_eq!(t.say(4, "alice"), "Password for alice: ");
}

#[test]
fn addkey_needs_an_ssh_session_and_a_failed_save_unbinds() {
    let mut t = T::new("");
    t.registered(0, "alice", "hunter22");
    t.after_change_wait();
    let o = t.say(0, ":addkey");
    assert!(o.contains("This is not an SSH session with a key"), "{o}");
    t.chat.disconnect(0);
    ssh_client(&mut t, 1, "SHA256:keyA");
    t.say(1, "alice");
    t.say(1, "hunter22");
    t.disk_fails = true;
    let o = t.say(1, ":addkey");
    assert!(o.contains("Your key could not be bound"), "{o}");
    t.disk_fails = false;
    let o = t.say(1, ":keys");
    assert!(o.contains("No SSH keys are bound"), "{o}");
}
