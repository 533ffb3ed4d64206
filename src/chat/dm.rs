//! Direct messages: opening a DM.

use super::*;

impl Chat {
    pub(super) fn open_dm(&mut self, id: ClientId, user: &str) {
        let Some(&p) = self.names.get(&names::key(user)) else {
            self.reply(id, &["That user is not online!"]);
            return;
        };
        if p == id {
            self.reply(id, &["You can't DM yourself!"]);
            return;
        }
        let other = self.name(p).unwrap_or("").to_string();
        if self.client(id).is_some_and(|c| c.place == Place::Dm(p)) {
            self.reply(
                id,
                &[&format!("You already have a DM open with '{other}'.")],
            );
            return;
        }
        self.leave_place(id);
        if let Some(c) = self.client_mut(id) {
            c.place = Place::Dm(p);
        }
        if let Some(pc) = self.client_mut(p) {
            pc.dm_watchers.push(id);
        }
        let msg = format!("You opened a DM with '{other}'.");
        self.reply(id, &[&msg, "Execute :chat to enter the chat view"]);
    }
}
