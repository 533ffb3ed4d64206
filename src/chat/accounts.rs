//! Accounts in the core (SPEC §11): logging in at the username prompt,
//! `:register`, `:passwd`, `:unregister`, the plaintext-password rule and
//! the failed-login limits.
//!
//! The core never hashes and never touches the file: it asks through the
//! outbox (`hash_jobs`, `save`) and hears back in [`Chat::hashed`] and
//! [`Chat::saved`]. Every password goes through the hasher, and a reply
//! waits for its answer, so a wrong password, a right one and a vanished
//! account (checked against a dummy hash) take the same time.

use super::*;
use crate::accounts::hash::{HashAnswer, HashJob, HashOp};
use crate::accounts::{Account, AccountsFile, Ban, Target};
use std::collections::{BTreeMap, HashSet};

/// How a client reached the server, for the plaintext-password rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Link {
    /// Plain TCP from this machine (a loopback address).
    PlainLoopback,
    /// Plain TCP from elsewhere: anyone on the path can read it.
    PlainRemote,
    /// TLS (SPEC §10).
    Tls,
    /// SSH (SPEC §12).
    Ssh,
}

impl Link {
    /// Whether a password may travel over it.
    pub fn secure(self) -> bool {
        self != Link::PlainRemote
    }
}

/// Wrong passwords after which a connection is closed.
pub const WRONG_PASSWORDS: u8 = 3;
/// Failed logins allowed per name and per address in a minute.
pub const FAILS_PER_MINUTE: u8 = 5;
const FAIL_WINDOW: u32 = 60;
/// Names and addresses whose failures are remembered at most; past it
/// expired entries go, then the oldest (memory stays bounded whatever an
/// attacker does; the per-name limit, bounded by the accounts, is the one
/// that protects an account).
pub(super) const LIMITER_CAP: usize = 4096;
/// Seconds between two account changes (`:register`, `:passwd`,
/// `:unregister`) on one connection: each rewrites the whole accounts file
/// on the loop thread (15-20 ms at 10,000 accounts, BENCHMARKS.md), so one
/// client must not be able to ask for it at its flood rate.
pub const CHANGE_EVERY: u32 = 10;
/// The shortest password `:register` and `:passwd` accept, in characters.
pub const MIN_PASSWORD: usize = 8;

const NOT_REGISTERED: &str = "You are not registered. Use :register PASSWORD first.";
const ACCOUNTS_OFF: &str = "Accounts are off on this server.";
const BUSY: &str = "The server is busy checking passwords; please try again in a moment.";
const TOO_MANY_FAILS: &str =
    "Too many failed logins for that name or from your address; try again in a minute.";

/// A hash job the core is waiting for.
#[derive(Debug)]
struct Job {
    client: ClientId,
    gen: u64,
    what: Purpose,
}

#[derive(Debug)]
enum Purpose {
    Login,
    /// Registering the name with this key (reserved meanwhile).
    Register(String),
    Passwd,
    Unregister,
}

/// A change waiting for the file to be written: what to say then, and
/// how to take it back if the write fails.
#[derive(Debug)]
struct Pending {
    client: ClientId,
    gen: u64,
    undo: Undo,
    ok: String,
    failed: String,
}

#[derive(Debug)]
enum Undo {
    /// Keep the change in memory (an op's ban: it is in force anyway).
    Keep,
    /// A registration: remove the account with this key.
    Remove(String),
    /// An unregistration: put the account back.
    Restore(Account),
    /// A new password: the key and the old hash.
    Hash(String, String),
    /// Bound SSH keys changed: the name key and the old list.
    Keys(String, Vec<String>),
}

/// SSH keys one account may have bound at most.
pub const MAX_KEYS: usize = 16;

/// Failed logins per key (a name key or an address) in fixed one-minute
/// windows.
#[derive(Debug, Default)]
pub(super) struct Limiter {
    pub(super) map: HashMap<String, (u32, u8)>,
}

impl Limiter {
    fn count(&self, key: &str, now: u32) -> u8 {
        match self.map.get(key) {
            Some(&(at, n)) if now.saturating_sub(at) < FAIL_WINDOW => n,
            _ => 0,
        }
    }

    pub(super) fn hit(&mut self, key: String, now: u32) {
        if self.map.len() >= LIMITER_CAP && !self.map.contains_key(&key) {
            self.map
                .retain(|_, (at, _)| now.saturating_sub(*at) < FAIL_WINDOW);
            if self.map.len() >= LIMITER_CAP {
                let oldest = self
                    .map
                    .iter()
                    .min_by_key(|(_, (at, _))| *at)
                    .map(|(k, _)| k.clone());
                if let Some(k) = oldest {
                    self.map.remove(&k);
                }
            }
        }
        let e = self.map.entry(key).or_insert((now, 0));
        if now.saturating_sub(e.0) >= FAIL_WINDOW {
            *e = (now, 0);
        }
        e.1 = e.1.saturating_add(1);
    }

    fn forgive(&mut self, key: &str) {
        if let Some(e) = self.map.get_mut(key) {
            e.1 = e.1.saturating_sub(1);
        }
    }
}

/// Accounts, bans, mutes, hash jobs and login limits.
#[derive(Debug, Default)]
pub(super) struct Auth {
    /// Accounts are on (`accounts` is not `""`).
    pub(super) on: bool,
    /// Accounts by name key.
    pub(super) accounts: BTreeMap<String, Account>,
    pub(super) bans: Vec<Ban>,
    /// Muted name keys, until when (`None`: until `:unmute`).
    pub(super) mutes: HashMap<String, Option<Secs>>,
    jobs: HashMap<u64, Job>,
    next_job: u64,
    /// Name keys being registered (hash job out).
    reserved: HashSet<String>,
    saves: Vec<Pending>,
    pub(super) fails: Limiter,
    tls_port: Option<u16>,
}

impl Auth {
    pub(super) fn new(on: bool) -> Auth {
        Auth {
            on,
            ..Auth::default()
        }
    }
}

fn name_fail_key(name: &str) -> String {
    format!("n{}", names::key(name))
}

fn addr_fail_key(ip: IpAddr) -> String {
    format!("a{ip}")
}

impl Chat {
    /// Takes the accounts read from the file at start.
    pub fn load_accounts(&mut self, file: AccountsFile) {
        for a in file.accounts {
            self.auth.accounts.insert(names::key(&a.name), a);
        }
        self.auth.bans = file.bans;
    }

    /// The accounts file's text as the server holds it now.
    pub fn accounts_text(&self) -> String {
        let now = self.wall_now();
        crate::accounts::store::serialize(&AccountsFile {
            accounts: self.auth.accounts.values().cloned().collect(),
            bans: self
                .auth
                .bans
                .iter()
                .filter(|b| b.until.is_none_or(|u| u > now))
                .cloned()
                .collect(),
        })
    }

    /// Accounts registered.
    pub fn account_count(&self) -> usize {
        self.auth.accounts.len()
    }

    /// Whether `name` is a registered account.
    pub fn is_registered(&self, name: &str) -> bool {
        self.auth.accounts.contains_key(&names::key(name))
    }

    /// Whether the client holds its name by having logged in to it.
    pub fn logged_in(&self, id: ClientId) -> bool {
        self.client(id)
            .is_some_and(|c| c.account && c.name.is_some())
    }

    /// The TLS port to send users to when a password comes over a plain
    /// remote connection.
    pub fn set_tls_port(&mut self, port: Option<u16>) {
        self.auth.tls_port = port;
    }

    /// Unix time now, on the core's clock.
    pub(super) fn wall_now(&self) -> u64 {
        self.wall_start.saturating_add(self.now.as_secs())
    }

    pub(super) fn secs_now(&self) -> u32 {
        Secs::from(self.now).0
    }

    /// Whether a password may come from this client (SPEC §11).
    fn passwords_ok(&self, id: ClientId) -> bool {
        self.cfg.allow_plaintext_passwords || self.client(id).is_some_and(|c| c.link.secure())
    }

    /// Where to go instead when a password would cross the network in
    /// the clear.
    fn plaintext_refusal(&self) -> String {
        match self.auth.tls_port {
            Some(port) => format!(
                "Passwords are not accepted over a plain connection from another machine: connect with TLS to port {port} instead."
            ),
            None => "Passwords are not accepted over a plain connection from another machine: connect over TLS or SSH, or from the server's own machine.".to_string(),
        }
    }

    /// The ban in force on the account with name key `key`.
    pub(super) fn account_ban(&self, key: &str) -> Option<&Ban> {
        let now = self.wall_now();
        self.auth.bans.iter().find(|b| {
            b.until.is_none_or(|u| u > now)
                && matches!(&b.target, Target::Account(n) if names::key(n) == key)
        })
    }

    /// The ban in force on guests from `ip`.
    pub(super) fn address_ban(&self, ip: IpAddr) -> Option<&Ban> {
        let now = self.wall_now();
        let ip = ip.to_string();
        self.auth.bans.iter().find(|b| {
            b.until.is_none_or(|u| u > now) && matches!(&b.target, Target::Address(a) if *a == ip)
        })
    }

    /// ` for N more minutes` or ``, for a ban.
    pub(super) fn ban_left(&self, until: Option<u64>) -> String {
        match until {
            Some(u) => {
                let mins = u.saturating_sub(self.wall_now()).div_ceil(60).max(1);
                format!(
                    " for {mins} more minute{}",
                    if mins == 1 { "" } else { "s" }
                )
            }
            None => String::new(),
        }
    }

    /// The name of the account whose key is `key`, if registered.
    pub(super) fn account_name(&self, key: &str) -> Option<&str> {
        self.auth.accounts.get(key).map(|a| a.name.as_str())
    }

    /// The shell says which key an SSH client logged in with (before its
    /// name is typed).
    pub fn set_ssh_key(&mut self, id: ClientId, fingerprint: &str) {
        if let Some(c) = self.client_mut(id) {
            c.ssh_key = Some(fingerprint.into());
        }
    }

    /// A registered name was typed at the username prompt: ask for its
    /// password, unless something forbids it; an SSH client whose key is
    /// bound to the account is in without one.
    pub(super) fn ask_password(&mut self, id: ClientId, account: String) {
        let key = names::key(&account);
        let bound = self
            .client(id)
            .and_then(|c| c.ssh_key.as_deref())
            .is_some_and(|fp| {
                self.auth
                    .accounts
                    .get(&key)
                    .is_some_and(|a| a.keys.iter().any(|k| k == fp))
            });
        if bound {
            if let Some(b) = self.account_ban(&key) {
                let msg = format!("That account is banned{}.", self.ban_left(b.until));
                self.write(id, format!("{msg}\r\n"));
                self.write_prompt(id);
                return;
            }
            self.write(id, "Your SSH key is bound to this account.\r\n");
            self.take_name(id, &account, true);
            return;
        }
        let refusal = if !self.passwords_ok(id) {
            Some(format!(
                "'{account}' is registered. {}",
                self.plaintext_refusal()
            ))
        } else if let Some(b) = self.account_ban(&key) {
            Some(format!("That account is banned{}.", self.ban_left(b.until)))
        } else if !self.login_allowed(id, &account) {
            Some(TOO_MANY_FAILS.to_string())
        } else {
            None
        };
        if let Some(msg) = refusal {
            self.write(id, format!("{msg}\r\n"));
            self.write_prompt(id);
            return;
        }
        if let Some(c) = self.client_mut(id) {
            c.login = Some(account.into());
            c.state = State::Password;
        }
        self.write_prompt(id);
    }

    fn login_allowed(&self, id: ClientId, name: &str) -> bool {
        let now = self.secs_now();
        let Some(c) = self.client(id) else {
            return false;
        };
        self.auth.fails.count(&name_fail_key(name), now) < FAILS_PER_MINUTE
            && self.auth.fails.count(&addr_fail_key(c.ip), now) < FAILS_PER_MINUTE
    }

    /// Counts an attempt against the name's budget before the answer is
    /// known (a success gives it back): guesses sent at once from many
    /// connections, or by one that disconnects while its password is
    /// checked, are counted all the same. An address is charged when a
    /// failure is known: many people behind one address may log in to
    /// their own accounts at once, and one address has at most
    /// `maxClientsPerIp` guesses out at a time (one per connection).
    fn count_attempt(&mut self, name: &str) {
        let now = self.secs_now();
        self.auth.fails.hit(name_fail_key(name), now);
    }

    fn forgive_attempt(&mut self, name: &str) {
        self.auth.fails.forgive(&name_fail_key(name));
    }

    fn count_address_failure(&mut self, id: ClientId) {
        let now = self.secs_now();
        if let Some(ip) = self.client(id).map(|c| c.ip) {
            self.auth.fails.hit(addr_fail_key(ip), now);
        }
    }

    /// A line typed at `Password for NAME: `.
    pub(super) fn password_line(&mut self, id: ClientId, password: &str) {
        let Some(name) = self.client(id).and_then(|c| c.login.clone()) else {
            return;
        };
        if password.is_empty() {
            // An empty line goes back to the username prompt.
            if let Some(c) = self.client_mut(id) {
                c.login = None;
                c.state = State::Naming;
            }
            self.write_prompt(id);
            return;
        }
        if !self.login_allowed(id, &name) {
            self.back_to_naming(id, TOO_MANY_FAILS);
            return;
        }
        self.count_attempt(&name);
        let phc = self
            .auth
            .accounts
            .get(&names::key(&name))
            .map(|a| a.hash.clone());
        self.ask_hash(
            id,
            HashOp::Verify {
                phc,
                password: password.to_string(),
            },
            Purpose::Login,
        );
    }

    fn back_to_naming(&mut self, id: ClientId, msg: &str) {
        if let Some(c) = self.client_mut(id) {
            c.login = None;
            c.state = State::Naming;
        }
        self.write(id, format!("{msg}\r\n"));
        self.write_prompt(id);
    }

    fn ask_hash(&mut self, id: ClientId, op: HashOp, what: Purpose) {
        let Some(c) = self.client_mut(id) else { return };
        c.busy = true;
        let gen = c.gen;
        self.auth.next_job += 1;
        let job = self.auth.next_job;
        self.auth.jobs.insert(
            job,
            Job {
                client: id,
                gen,
                what,
            },
        );
        self.out.hash_jobs.push(HashJob { id: job, op });
    }

    /// Password commands need accounts on, a link fit for passwords, and
    /// (but for `:register`) an account: the refusal, if any.
    fn password_command_refusal(&self, id: ClientId, needs_account: bool) -> Option<String> {
        if !self.auth.on {
            return Some(ACCOUNTS_OFF.into());
        } else if !self.passwords_ok(id) {
            return Some(self.plaintext_refusal());
        } else if needs_account && !self.logged_in(id) {
            return Some(NOT_REGISTERED.into());
        }
        None
    }

    /// Why an account change (which would rewrite the file) must wait,
    /// if it must: the client's last one was under `CHANGE_EVERY` ago.
    fn too_soon(&self, id: ClientId) -> Option<String> {
        let now = Secs::from(self.now).0;
        let at = self.client(id)?.changed_at?.0;
        let left = at.saturating_add(CHANGE_EVERY).saturating_sub(now);
        (left > 0).then(|| format!("You changed your account a moment ago; try again in {left} s."))
    }

    fn weak(password: &str) -> Option<String> {
        (crate::text::char_len(password) < MIN_PASSWORD)
            .then(|| format!("Passwords need at least {MIN_PASSWORD} characters."))
    }

    /// `:register PASSWORD`.
    pub(super) fn register(&mut self, id: ClientId, password: &str) {
        if let Some(msg) = self.password_command_refusal(id, false) {
            return self.reply(id, &[&msg]);
        }
        let Some(name) = self.name(id).map(str::to_string) else {
            return;
        };
        let key = names::key(&name);
        if self.logged_in(id) {
            return self.reply(id, &["You are registered already."]);
        }
        if self.auth.accounts.contains_key(&key) || self.auth.reserved.contains(&key) {
            return self.reply(id, &["That name is being registered already."]);
        }
        if let Some(msg) = Self::weak(password) {
            return self.reply(id, &[&msg]);
        }
        if let Some(msg) = self.too_soon(id) {
            return self.reply(id, &[&msg]);
        }
        self.auth.reserved.insert(key.clone());
        self.ask_hash(
            id,
            HashOp::Hash {
                password: password.to_string(),
            },
            Purpose::Register(key),
        );
    }

    /// `:passwd OLD NEW`.
    pub(super) fn passwd(&mut self, id: ClientId, old: &str, new: &str) {
        if let Some(msg) = self.password_command_refusal(id, true) {
            return self.reply(id, &[&msg]);
        }
        if let Some(msg) = Self::weak(new) {
            return self.reply(id, &[&msg]);
        }
        let Some(phc) = self.own_account(id).map(|a| a.hash.clone()) else {
            return;
        };
        if let Some(msg) = self.too_soon(id) {
            return self.reply(id, &[&msg]);
        }
        self.ask_hash(
            id,
            HashOp::Rehash {
                phc,
                old: old.to_string(),
                new: new.to_string(),
            },
            Purpose::Passwd,
        );
    }

    /// `:unregister PASSWORD`.
    pub(super) fn unregister(&mut self, id: ClientId, password: &str) {
        if let Some(msg) = self.password_command_refusal(id, true) {
            return self.reply(id, &[&msg]);
        }
        let phc = self.own_account(id).map(|a| a.hash.clone());
        if let Some(msg) = self.too_soon(id) {
            return self.reply(id, &[&msg]);
        }
        self.ask_hash(
            id,
            HashOp::Verify {
                phc,
                password: password.to_string(),
            },
            Purpose::Unregister,
        );
    }

    /// `:addkey`: binds the key of this SSH session to the account.
    pub(super) fn add_key(&mut self, id: ClientId) {
        if let Some(msg) = self.password_command_refusal(id, true) {
            return self.reply(id, &[&msg]);
        }
        let Some(fp) = self.client(id).and_then(|c| c.ssh_key.clone()) else {
            return self.reply(
                id,
                &["This is not an SSH session with a key: connect with ssh and your key, then :addkey."],
            );
        };
        let Some((key, keys)) = self
            .own_account(id)
            .map(|a| (names::key(&a.name), a.keys.clone()))
        else {
            return;
        };
        if keys.iter().any(|k| **k == *fp) {
            return self.reply(id, &["This key is bound to your account already."]);
        }
        if keys.len() >= MAX_KEYS {
            let msg = format!(
                "Your account has {MAX_KEYS} keys, the most it may have: :delkey one first."
            );
            return self.reply(id, &[&msg]);
        }
        if let Some(msg) = self.too_soon(id) {
            return self.reply(id, &[&msg]);
        }
        if let Some(a) = self.auth.accounts.get_mut(&key) {
            a.keys.push(fp.to_string());
        }
        let ok = format!(
            "Key {fp} is bound to your account: ssh with it logs you in without a password."
        );
        self.ask_save(
            id,
            Undo::Keys(key, keys),
            &ok,
            "Your key could not be bound",
        );
    }

    /// `:keys`: the keys bound to the account, numbered.
    pub(super) fn list_keys(&mut self, id: ClientId) {
        if let Some(msg) = self.password_command_refusal(id, true) {
            return self.reply(id, &[&msg]);
        }
        let keys = self
            .own_account(id)
            .map(|a| a.keys.clone())
            .unwrap_or_default();
        if keys.is_empty() {
            return self.reply(
                id,
                &["No SSH keys are bound to your account (:addkey in an SSH session binds one)."],
            );
        }
        let this = self.client(id).and_then(|c| c.ssh_key.clone());
        let mut lines = vec!["SSH keys bound to your account:".to_string()];
        for (i, k) in keys.iter().enumerate() {
            let mark = if this.as_deref() == Some(k.as_str()) {
                " (this session)"
            } else {
                ""
            };
            lines.push(format!("  {}. {k}{mark}", i + 1));
        }
        let lines: Vec<&str> = lines.iter().map(String::as_str).collect();
        self.reply(id, &lines);
    }

    /// `:delkey N`: unbinds the N-th key of `:keys`.
    pub(super) fn del_key(&mut self, id: ClientId, n: usize) {
        if let Some(msg) = self.password_command_refusal(id, true) {
            return self.reply(id, &[&msg]);
        }
        let Some((key, keys)) = self
            .own_account(id)
            .map(|a| (names::key(&a.name), a.keys.clone()))
        else {
            return;
        };
        let Some(fp) = n.checked_sub(1).and_then(|i| keys.get(i)).cloned() else {
            let msg = format!("There is no key {n}: :keys lists {}.", keys.len());
            return self.reply(id, &[&msg]);
        };
        if let Some(msg) = self.too_soon(id) {
            return self.reply(id, &[&msg]);
        }
        if let Some(a) = self.auth.accounts.get_mut(&key) {
            a.keys.retain(|k| *k != fp);
        }
        let ok = format!("Key {fp} is no longer bound to your account.");
        self.ask_save(
            id,
            Undo::Keys(key, keys),
            &ok,
            "Your key could not be unbound",
        );
    }

    /// The account the client is logged in to.
    pub(super) fn own_account(&self, id: ClientId) -> Option<&Account> {
        let c = self.client(id)?;
        if !c.account {
            return None;
        }
        self.auth.accounts.get(&names::key(c.name.as_deref()?))
    }

    /// Whether a hash job of the client's is out.
    pub(super) fn job_for(&self, id: ClientId) -> bool {
        let gen = self.client(id).map(|c| c.gen);
        self.auth
            .jobs
            .values()
            .any(|j| j.client == id && Some(j.gen) == gen)
    }

    /// The hasher answered job `job`. Returns the client it was for, whose
    /// waiting input the shell should hand over now.
    pub fn hashed(&mut self, job: u64, answer: HashAnswer) -> Option<ClientId> {
        let Job { client, gen, what } = self.auth.jobs.remove(&job)?;
        if let Purpose::Register(key) = &what {
            self.auth.reserved.remove(key);
        }
        let c = self.client_mut(client).filter(|c| c.gen == gen)?;
        c.busy = false;
        if c.state == State::Closed {
            return None;
        }
        self.answer(client, what, answer);
        Some(client)
    }

    /// What a hash answer means for the client that asked.
    fn answer(&mut self, id: ClientId, what: Purpose, answer: HashAnswer) {
        let busy = matches!(answer, HashAnswer::Busy | HashAnswer::Failed);
        match (what, answer) {
            (Purpose::Login, HashAnswer::Verified(ok)) => self.login_answer(id, ok),
            (Purpose::Login, _) => {
                if let Some(name) = self.client(id).and_then(|c| c.login.clone()) {
                    self.forgive_attempt(&name);
                }
                self.write(id, format!("{BUSY}\r\n"));
                self.write_prompt(id);
            }
            (Purpose::Register(key), HashAnswer::Hashed(phc)) => self.register_answer(id, key, phc),
            (Purpose::Passwd, HashAnswer::Rehashed(Some(phc))) => {
                let Some(key) = self.name(id).map(names::key) else {
                    return;
                };
                let Some(a) = self.auth.accounts.get_mut(&key) else {
                    return;
                };
                let old = std::mem::replace(&mut a.hash, phc);
                self.ask_save(
                    id,
                    Undo::Hash(key, old),
                    "Your password was changed.",
                    "Your password could not be saved, so it was not changed",
                );
            }
            (Purpose::Passwd, HashAnswer::Rehashed(None))
            | (Purpose::Unregister, HashAnswer::Verified(false)) => {
                self.wrong_password(id);
            }
            (Purpose::Unregister, HashAnswer::Verified(true)) => {
                let Some(key) = self.name(id).map(names::key) else {
                    return;
                };
                let Some(account) = self.auth.accounts.remove(&key) else {
                    return;
                };
                if let Some(c) = self.client_mut(id) {
                    c.account = false;
                }
                self.out
                    .logs
                    .push(format!("account unregistered: {}", account.name));
                self.ask_save(
                    id,
                    Undo::Restore(account),
                    "Your account was removed; you are a guest now.",
                    "Your account could not be removed from the file, so it is still there",
                );
            }
            _ if busy => self.reply(id, &[BUSY]),
            _ => self.reply(id, &["That did not work; please try again."]),
        }
    }

    fn login_answer(&mut self, id: ClientId, ok: bool) {
        let Some(name) = self.client(id).and_then(|c| c.login.clone()) else {
            return;
        };
        if !ok {
            self.count_address_failure(id);
            self.out.logs.push(format!(
                "failed login: {} {name}",
                self.client(id).map_or(String::new(), |c| c.ip.to_string())
            ));
            if !self.wrong_password(id) {
                return;
            }
            if !self.login_allowed(id, &name) {
                self.back_to_naming(id, TOO_MANY_FAILS);
            } else {
                self.write_prompt(id);
            }
            return;
        }
        self.forgive_attempt(&name);
        let key = names::key(&name);
        // Things may have changed while the password was checked.
        let account = self.account_name(&key).map(str::to_string);
        let refusal = if account.is_none() {
            Some("That account no longer exists; please pick a name.".to_string())
        } else if self.names.contains_key(&key) {
            Some(names::Refusal::Taken.reply().to_string())
        } else {
            self.account_ban(&key)
                .map(|b| format!("That account is banned{}.", self.ban_left(b.until)))
        };
        match (refusal, account) {
            (None, Some(account)) => {
                if let Some(c) = self.client_mut(id) {
                    c.login = None;
                    c.wrong = 0;
                }
                self.take_name(id, &account, true);
            }
            (refusal, _) => self.back_to_naming(id, &msg_or(refusal)),
        }
    }

    /// A wrong password: said, and counted; the third closes the
    /// connection. Returns whether it is still open.
    fn wrong_password(&mut self, id: ClientId) -> bool {
        let Some(c) = self.client_mut(id) else {
            return false;
        };
        c.wrong = c.wrong.saturating_add(1);
        if c.wrong >= WRONG_PASSWORDS {
            self.write(id, "Wrong password. Too many wrong passwords. Goodbye!\r\n");
            self.close(id, "wrong passwords");
            return false;
        }
        if self.state(id) == Some(State::Password) {
            self.write(id, "Wrong password.\r\n");
        } else {
            self.reply(id, &["Wrong password."]);
        }
        true
    }

    fn register_answer(&mut self, id: ClientId, key: String, phc: String) {
        let Some(name) = self.name(id).map(str::to_string) else {
            return;
        };
        if names::key(&name) != key || self.auth.accounts.contains_key(&key) {
            return self.reply(id, &["That name is registered already."]);
        }
        self.auth.accounts.insert(
            key.clone(),
            Account {
                name: name.clone(),
                hash: phc,
                created: self.wall_now(),
                keys: Vec::new(),
                op: false,
            },
        );
        if let Some(c) = self.client_mut(id) {
            c.account = true;
        }
        self.out.logs.push(format!("account registered: {name}"));
        self.ask_save(
            id,
            Undo::Remove(key),
            &format!("You registered '{name}'. From now on, log in with your password."),
            "Your account could not be saved, so you are still a guest",
        );
    }

    /// Asks the shell to write the file; `ok` or `failed` (with why, and
    /// the change taken back) is told to the client once it has.
    fn ask_save(&mut self, id: ClientId, undo: Undo, ok: &str, failed: &str) {
        let now = Secs::from(self.now);
        if let Some(c) = self.client_mut(id) {
            c.changed_at = Some(now);
        }
        let gen = self.client(id).map_or(0, |c| c.gen);
        self.auth.saves.push(Pending {
            client: id,
            gen,
            undo,
            ok: ok.to_string(),
            failed: failed.to_string(),
        });
        self.out.save = true;
    }

    /// An op's change (a ban) that is in force whether or not it is saved.
    pub(super) fn save_keep(&mut self, id: ClientId, failed: &str) {
        self.ask_save(id, Undo::Keep, "", failed);
    }

    /// The shell wrote the accounts file (`Ok`) or could not (`Err`, why).
    pub fn saved(&mut self, result: Result<(), String>) {
        if let Err(e) = &result {
            self.out.logs.push(format!("accounts file not saved: {e}"));
        }
        let saves = std::mem::take(&mut self.auth.saves);
        // Taken back newest first, so each undo meets the state it left.
        for p in saves.into_iter().rev() {
            let here = self
                .client(p.client)
                .is_some_and(|c| c.gen == p.gen && c.state != State::Closed);
            let msg = match &result {
                Ok(()) => p.ok,
                Err(_) => {
                    self.undo(p.client, p.undo, here);
                    format!("{}: the server could not write its accounts file. Please tell its operator.", p.failed)
                }
            };
            if here && !msg.is_empty() {
                self.reply(p.client, &[&msg]);
            }
        }
    }

    fn undo(&mut self, id: ClientId, undo: Undo, here: bool) {
        match undo {
            Undo::Keep => {}
            Undo::Remove(key) => {
                self.auth.accounts.remove(&key);
                if here {
                    if let Some(c) = self.client_mut(id) {
                        c.account = false;
                    }
                }
            }
            Undo::Restore(account) => {
                let key = names::key(&account.name);
                // Back to the account only if nobody else took the name as
                // a guest meanwhile.
                let holder = self.names.get(&key).copied();
                if holder.is_none() || holder == Some(id) {
                    if let (true, Some(c)) = (holder == Some(id), self.client_mut(id)) {
                        c.account = true;
                    }
                    self.auth.accounts.insert(key, account);
                }
            }
            Undo::Hash(key, old) => {
                if let Some(a) = self.auth.accounts.get_mut(&key) {
                    a.hash = old;
                }
            }
            Undo::Keys(key, old) => {
                if let Some(a) = self.auth.accounts.get_mut(&key) {
                    a.keys = old;
                }
            }
        }
    }
}

fn msg_or(msg: Option<String>) -> String {
    msg.unwrap_or_else(|| names::Refusal::Taken.reply().to_string())
}
