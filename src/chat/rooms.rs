//! Rooms: joining (passwords, limits), leaving, and the SERVER notices
//! members see, with each member's notice budget.

use super::*;

pub(super) const NO_SUCH_ROOM: &str = "That chatroom does not exist!";
/// Join and leave notices one member may cause at once…
pub const NOTICE_BURST: f32 = 4.0;
/// …and then one more per this long; the rest are not shown (`:list` is
/// always current), so a member who joins and leaves in a loop costs each
/// viewer at most a line per five seconds.
pub const NOTICE_EVERY: Duration = Duration::from_secs(5);

impl Chat {
    /// Leaves the current room (telling its viewers) or DM (telling the
    /// partner, if it has the DM open too).
    pub(super) fn leave_place(&mut self, id: ClientId) {
        if let (Some(Place::Dm(p)), Some(name)) = (
            self.client(id).map(|c| c.place),
            self.client(id).and_then(|c| c.name.clone()),
        ) {
            if self.client(p).is_some_and(|pc| pc.place == Place::Dm(id)) {
                self.notice(p, &format!("{name} left the DM."));
            }
        }
        self.leave_place_quietly(id);
    }

    /// Leaves the current room (telling its viewers) or DM (telling no
    /// one); the history of it goes.
    pub(super) fn leave_place_quietly(&mut self, id: ClientId) {
        let Some(c) = self.client_mut(id) else { return };
        let place = std::mem::replace(&mut c.place, Place::None);
        c.history = VecDeque::new();
        c.unread = 0;
        let name = c.name.clone();
        match place {
            Place::None => {}
            Place::Room(r) => {
                let room = &mut self.rooms[r];
                room.members.retain(|&m| m != id);
                if room.members.is_empty() {
                    // Nobody is left to read them: nothing outlives them.
                    room.recent = VecDeque::new();
                }
                if let Some(name) = name.filter(|_| self.notice_allowed(id)) {
                    self.room_notice(r, &format!("{name} left the room."));
                }
            }
            Place::Dm(p) => {
                if let Some(pc) = self.client_mut(p) {
                    pc.dm_watchers.retain(|&w| w != id);
                }
            }
        }
    }

    pub(super) fn join(&mut self, id: ClientId, name: &str, password: Option<&str>) {
        // Room names are matched case-insensitively (the config refuses
        // two that differ only in case); replies use the configured name.
        let wanted = name.to_lowercase();
        let Some(r) = self
            .rooms
            .iter()
            .position(|r| r.name.to_lowercase() == wanted)
        else {
            self.reply(id, &[NO_SUCH_ROOM]);
            return;
        };
        let name = self.rooms[r].name.clone();
        if self.client(id).is_some_and(|c| c.place == Place::Room(r)) {
            self.reply(id, &[&format!("You are already in '{name}'.")]);
            return;
        }
        let room = &self.rooms[r];
        let allowed = if room.password.is_empty() {
            room.public
        } else {
            password.is_some_and(|p| constant_time_eq(p.as_bytes(), room.password.as_bytes()))
        };
        if !allowed {
            self.reply(id, &[NO_SUCH_ROOM]);
            return;
        }
        if room.limit > 0 && room.members.len() >= room.limit {
            self.reply(id, &["That chatroom is full!"]);
            return;
        }
        self.leave_place(id);
        let user = self.client(id).and_then(|c| c.name.clone());
        if let Some(user) = user.filter(|_| self.notice_allowed(id)) {
            self.room_notice(r, &format!("{user} joined the room."));
        }
        self.rooms[r].members.push(id);
        let seq = self.rooms[r].seq;
        if let Some(c) = self.client_mut(id) {
            c.place = Place::Room(r);
            c.joined_seq = seq;
        }
        let msg = format!("You joined the room '{name}'!");
        self.reply(id, &[&msg, "Execute :chat to enter the chat view"]);
    }

    /// Whether `id` may cause one more join/leave notice now (and uses it).
    pub(super) fn notice_allowed(&mut self, id: ClientId) -> bool {
        let now = self.now;
        let Some(c) = self.client_mut(id) else {
            return false;
        };
        let refill = now.saturating_sub(c.notice_at).as_secs_f32() / NOTICE_EVERY.as_secs_f32();
        c.notice_tokens = (c.notice_tokens + refill).min(NOTICE_BURST);
        c.notice_at = now;
        if c.notice_tokens >= 1.0 {
            c.notice_tokens -= 1.0;
            true
        } else {
            false
        }
    }

    /// A SERVER line for every member of room `r` who is viewing it.
    pub(super) fn room_notice(&mut self, r: usize, text: &str) {
        let line = view::server_line(self.cfg.username_limit, text);
        let line = self.stamped(line);
        self.room_broadcast(r, line, None);
    }
}

/// Compares two byte strings in time that depends only on their lengths,
/// never on where they first differ.
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    let mut diff = a.len() ^ b.len();
    for i in 0..a.len().max(b.len()) {
        let x = a.get(i).copied().unwrap_or(0);
        let y = b.get(i).copied().unwrap_or(0);
        diff |= usize::from(x ^ y);
    }
    diff == 0
}
