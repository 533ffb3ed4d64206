//! Moderation for ops (SPEC §11): `:kick`, `:mute`, `:unmute`, `:ban`,
//! `:unban`. Each action is a SERVER line in the target's room, a reply to
//! the op, and a log line with the two names (never a reason or a message).

use super::*;
use crate::accounts::{Ban, Target};

const NOT_OP: &str = "You are not an op.";
const NOT_ONLINE: &str = "That user is not online!";

impl Chat {
    /// Whether the client is logged in to an account with `op: true`.
    pub fn is_op(&self, id: ClientId) -> bool {
        self.own_account(id).is_some_and(|a| a.op)
    }

    /// The op's checks: an op, and a target who is not the op.
    fn op_target(&mut self, id: ClientId, user: &str) -> Option<String> {
        if !self.is_op(id) {
            self.reply(id, &[NOT_OP]);
            return None;
        }
        if self
            .name(id)
            .is_some_and(|n| names::key(n) == names::key(user))
        {
            self.reply(id, &["You can't do that to yourself."]);
            return None;
        }
        Some(self.name(id)?.to_string())
    }

    /// `text` as a SERVER line in `target`'s room (if it is in one) and to
    /// the op (unless it is watching that room), and `log` in the log.
    fn announce(&mut self, op: ClientId, target: Option<ClientId>, text: &str, log: String) {
        let room = target
            .and_then(|t| self.client(t))
            .and_then(|c| match c.place {
                Place::Room(r) => Some(r),
                _ => None,
            });
        if let Some(r) = room {
            self.room_notice(r, text);
        }
        let watching = self.client(op).is_some_and(|c| {
            c.state == State::ChatView && room.is_some_and(|r| c.place == Place::Room(r))
        });
        if !watching {
            self.reply(op, &[text]);
        }
        self.out.logs.push(log);
    }

    /// `:kick USER [REASON]`.
    pub(super) fn kick(&mut self, id: ClientId, user: &str, reason: Option<&str>) {
        let Some(op) = self.op_target(id, user) else {
            return;
        };
        let Some(&t) = self.names.get(&names::key(user)) else {
            return self.reply(id, &[NOT_ONLINE]);
        };
        let name = self.name(t).unwrap_or("").to_string();
        let text = format!("{name} was kicked by {op}.");
        self.announce(id, Some(t), &text, format!("{op} kicked {name}"));
        let why = reason.map_or(String::new(), |r| format!(" ({r})"));
        self.write(t, format!("\r\nYou were kicked by {op}{why}.\r\n"));
        self.close(t, "kicked");
    }

    /// `:mute USER [MINUTES]`.
    pub(super) fn mute(&mut self, id: ClientId, user: &str, minutes: Option<u32>) {
        let Some(op) = self.op_target(id, user) else {
            return;
        };
        let Some(&t) = self.names.get(&names::key(user)) else {
            return self.reply(id, &[NOT_ONLINE]);
        };
        let name = self.name(t).unwrap_or("").to_string();
        let until = minutes.map(|m| {
            Secs::from(
                self.now
                    .saturating_add(Duration::from_secs(u64::from(m) * 60)),
            )
        });
        self.auth.mutes.insert(names::key(&name), until);
        let span = minutes.map_or(String::new(), |m| {
            format!(" for {m} minute{}", if m == 1 { "" } else { "s" })
        });
        let text = format!("{name} was muted by {op}{span}.");
        self.announce(id, Some(t), &text, format!("{op} muted {name}"));
        self.notice(
            t,
            &format!("You were muted by {op}{span}: your messages reach nobody."),
        );
    }

    /// `:unmute USER`.
    pub(super) fn unmute(&mut self, id: ClientId, user: &str) {
        let Some(op) = self.op_target(id, user) else {
            return;
        };
        if self.auth.mutes.remove(&names::key(user)).is_none() {
            return self.reply(id, &["That user is not muted."]);
        }
        let t = self.names.get(&names::key(user)).copied();
        let name = t.and_then(|t| self.name(t)).unwrap_or(user).to_string();
        let text = format!("{name} was unmuted by {op}.");
        self.announce(id, t, &text, format!("{op} unmuted {name}"));
        if let Some(t) = t {
            self.notice(t, &format!("You were unmuted by {op}."));
        }
    }

    /// Whether the client's messages reach nobody now (an expired mute
    /// is forgotten here).
    pub(super) fn muted(&mut self, id: ClientId) -> bool {
        let Some(key) = self.name(id).map(names::key) else {
            return false;
        };
        let now = Secs::from(self.now);
        match self.auth.mutes.get(&key) {
            None => false,
            Some(Some(until)) if *until <= now => {
                self.auth.mutes.remove(&key);
                false
            }
            Some(_) => true,
        }
    }

    /// `:ban USER [MINUTES]`: an account, or an online guest's address.
    pub(super) fn ban(&mut self, id: ClientId, user: &str, minutes: Option<u32>) {
        let Some(op) = self.op_target(id, user) else {
            return;
        };
        let key = names::key(user);
        let online = self.names.get(&key).copied();
        let until = minutes.map(|m| self.wall_now().saturating_add(u64::from(m) * 60));
        let (target, name) = if let Some(account) = self.account_name(&key) {
            (Target::Account(account.to_string()), account.to_string())
        } else if let Some(t) = online {
            let ip = self.client(t).map(|c| c.ip);
            let Some(ip) = ip else { return };
            (
                Target::Address(ip.to_string()),
                self.name(t).unwrap_or(user).to_string(),
            )
        } else {
            return self.reply(id, &["There is no account or user online by that name."]);
        };
        // One ban per target: a new one replaces the old.
        self.auth.bans.retain(|b| b.target != target);
        self.auth.bans.push(Ban {
            target: target.clone(),
            name: name.clone(),
            until,
        });
        let span = minutes.map_or(String::new(), |m| {
            format!(" for {m} minute{}", if m == 1 { "" } else { "s" })
        });
        let text = format!("{name} was banned by {op}{span}.");
        self.announce(id, online, &text, format!("{op} banned {name}"));
        // Out go the account's holder, or the guests from that address
        // (accounts may still log in from it).
        let out: Vec<ClientId> = (0..self.clients.len())
            .filter(|&c| c != id)
            .filter(|&c| {
                self.client(c).is_some_and(|cl| match &target {
                    Target::Account(_) => {
                        cl.account && cl.name.as_deref().map(names::key) == Some(key.clone())
                    }
                    Target::Address(a) => {
                        !cl.account && cl.name.is_some() && cl.ip.to_string() == *a
                    }
                })
            })
            .collect();
        for c in out {
            self.write(c, format!("\r\nYou were banned by {op}{span}.\r\n"));
            self.close(c, "banned");
        }
        self.save_keep(
            id,
            "The ban is in force until the server stops, but it could not be saved",
        );
    }

    /// `:unban USER`: by the name banned, or by address.
    pub(super) fn unban(&mut self, id: ClientId, user: &str) {
        if !self.is_op(id) {
            return self.reply(id, &[NOT_OP]);
        }
        let Some(op) = self.name(id).map(str::to_string) else {
            return;
        };
        let key = names::key(user);
        let lifted = |b: &Ban| {
            names::key(&b.name) == key || matches!(&b.target, Target::Address(a) if a == user)
        };
        // The name as it was banned (not as typed) goes in the log.
        let Some(name) = self
            .auth
            .bans
            .iter()
            .find(|b| lifted(b))
            .map(|b| b.name.clone())
        else {
            return self.reply(id, &["Nobody is banned by that name."]);
        };
        self.auth.bans.retain(|b| !lifted(b));
        let text = format!("{name} was unbanned by {op}.");
        self.announce(id, None, &text, format!("{op} unbanned {name}"));
        self.save_keep(
            id,
            "The ban is lifted until the server stops, but that could not be saved",
        );
    }
}
