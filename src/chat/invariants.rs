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
