//! The core's invariants, checked by tests and the session fuzzer.

use super::*;

impl Chat {
    /// Checks the core's invariants; returns a description of the first
    /// one broken. Used by tests and the session fuzzer.
    pub fn check_invariants(&self) -> Result<(), String> {
        for (r, room) in self.rooms.iter().enumerate() {
            if room.members.is_empty() && !room.recent.is_empty() {
                return Err(format!("room {} keeps lines with nobody in it", room.name));
            }
            if room.recent.len() > self.cfg.chatview_max {
                return Err(format!(
                    "room {} keeps more than chatviewMax lines",
                    room.name
                ));
            }
            if room.limit > 0 && room.members.len() > room.limit {
                return Err(format!("room {} over its limit", room.name));
            }
            for &m in &room.members {
                let c = self
                    .client(m)
                    .ok_or(format!("room {} has a ghost {m}", room.name))?;
                if c.place != Place::Room(r) || c.name.is_none() {
                    return Err(format!("member {m} of {} is elsewhere", room.name));
                }
            }
        }
        for (id, c) in self.clients.iter().enumerate() {
            let Some(c) = c else { continue };
            if c.history.len() > self.cfg.chatview_max {
                return Err(format!("client {id} history over chatviewMax"));
            }
            if c.place == Place::None && (!c.history.is_empty() || c.unread > 0) {
                return Err(format!("client {id} keeps history of no room or DM"));
            }
            match c.place {
                Place::Room(r) => {
                    if self.rooms[r].members.iter().filter(|&&m| m == id).count() != 1 {
                        return Err(format!("client {id} not listed once in its room"));
                    }
                }
                Place::Dm(p) => {
                    let ok = self
                        .client(p)
                        .is_some_and(|pc| pc.dm_watchers.contains(&id));
                    if !ok {
                        return Err(format!("client {id} DMs a partner that does not know it"));
                    }
                }
                Place::None => {}
            }
            if let Some(n) = &c.name {
                if self.names.get(&names::key(n)) != Some(&id) {
                    return Err(format!("client {id} name not registered"));
                }
                // SPEC §11: a registered name is held only by logging in
                // to it, and a banned account never gets in.
                let key = names::key(n);
                let registered = self.auth.accounts.contains_key(&key);
                if registered != c.account {
                    return Err(format!(
                        "client {id} ({n}) is {} but the name is {}",
                        if c.account { "logged in" } else { "a guest" },
                        if registered {
                            "registered"
                        } else {
                            "not registered"
                        }
                    ));
                }
                if c.account && c.state != State::Closed && self.account_ban(&key).is_some() {
                    return Err(format!("client {id} ({n}) is in on a banned account"));
                }
            }
            if c.busy != self.job_for(id) {
                return Err(format!("client {id} busy without a job, or the reverse"));
            }
        }
        let named = self
            .clients
            .iter()
            .flatten()
            .filter(|c| c.name.is_some())
            .count();
        if named != self.names.len() {
            return Err("name table out of step".into());
        }
        Ok(())
    }
}
