//! Direct messages: opening a DM, one-line DMs (`:msg`, `:r`).

use super::*;

impl Chat {
    /// The client `user` names, for a DM from `id`; or the reply why not.
    fn dm_partner(&mut self, id: ClientId, user: &str) -> Option<ClientId> {
        let Some(&p) = self.names.get(&names::key(user)) else {
            self.reply(id, &["That user is not online!"]);
            return None;
        };
        if p == id {
            self.reply(id, &["You can't DM yourself!"]);
            return None;
        }
        Some(p)
    }

    pub(super) fn open_dm(&mut self, id: ClientId, user: &str) {
        let Some(p) = self.dm_partner(id, user) else {
            return;
        };
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
        // The other side is told once, and can answer without leaving.
        if let Some(name) = self.client(id).and_then(|c| c.name.clone()) {
            if let Some(pc) = self.client_mut(p) {
                pc.last_dm_from = Some(name.clone());
            }
            self.notice(
                p,
                &format!("{name} opened a DM with you — :r TEXT answers, :dm {name} opens it."),
            );
        }
    }

    /// `:msg USER TEXT` (and `:r`): one DM line to USER from wherever the
    /// sender is; the sender sees it as `[DM to USER]: TEXT`.
    pub(super) fn msg(&mut self, id: ClientId, user: &str, text: &str) {
        if self.muted(id) {
            return self.reply(id, &[super::chatview::MUTED]);
        }
        let Some(p) = self.dm_partner(id, user) else {
            return;
        };
        if let Some(msg) = self.over_limit(text) {
            self.reply(id, &[&msg]);
            return;
        }
        let Some(name) = self.client(id).and_then(|c| c.name.clone()) else {
            return;
        };
        let other: Rc<str> = self.name(p).unwrap_or("").into();
        let line = self.stamped(view::message_line(&name, self.cfg.username_limit, text));
        let own = self.client(id).map(|c| (c.state, c.place));
        self.deliver_dm(id, &name, p, line.clone(), text);
        match own {
            // In the sender's own DM view with USER it is a message line.
            Some((State::ChatView, Place::Dm(q))) if q == p => self.view_push_one(id, line),
            Some((_, Place::Dm(q))) if q == p => {
                self.push_history(id, line);
                self.reply(id, &[&format!("[DM to {other}]: {text}")]);
            }
            _ => self.reply(id, &[&format!("[DM to {other}]: {text}")]),
        }
    }
}
