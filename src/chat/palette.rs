//! The command palette: parsing a line and running its command.

use super::*;
use crate::command::{self, Command, HELP};

impl Chat {
    pub(super) fn palette(&mut self, id: ClientId, line: &str) {
        if line.is_empty() {
            self.reply(id, &[]);
            return;
        }
        match command::parse(line) {
            Err(e) => self.reply(id, &[e.message()]),
            Ok(Command::Help(Some(cmd))) => {
                let usage = HELP
                    .iter()
                    .find(|(u, _)| u.split(' ').next() == Some(format!(":{cmd}").as_str()));
                let detail = command::DETAILS.iter().find(|(c, _)| *c == cmd);
                match (usage, detail) {
                    (Some((u, d)), Some((_, more))) => {
                        let (u, d, more) = (u.to_string(), d.to_string(), more.to_string());
                        self.reply(id, &[&format!("{u}: {d}"), &format!("  {more}")]);
                    }
                    _ => self.reply(id, &["Unknown command. Maybe check ':help'?"]),
                }
            }
            Ok(Command::Help(None)) => {
                let mut lines = vec!["Available commands:".to_string()];
                lines.extend(HELP.iter().map(|(u, d)| format!("  {u:<23}{d}")));
                lines.push(
                    "In the chat view these work too; other lines are messages (\"::\" sends a leading \":\"); :q leaves it.".into(),
                );
                let refs: Vec<&str> = lines.iter().map(String::as_str).collect();
                self.reply(id, &refs);
            }
            Ok(Command::List) => self.list(id),
            Ok(Command::ListAll) => {
                let mut lines = vec!["Currently connected users:".to_string()];
                lines.extend(
                    self.clients
                        .iter()
                        .flatten()
                        .filter_map(|c| c.name.as_ref())
                        .map(|n| format!("  - {n}")),
                );
                let refs: Vec<&str> = lines.iter().map(String::as_str).collect();
                self.reply(id, &refs);
            }
            Ok(Command::Rooms) => {
                let mut lines = vec!["Available chatrooms:".to_string()];
                for r in self.rooms.iter().filter(|r| r.public) {
                    let desc = if r.description.is_empty() {
                        String::new()
                    } else {
                        format!(" ({})", r.description)
                    };
                    let count = if r.limit > 0 {
                        format!("{}/{}", r.members.len(), r.limit)
                    } else {
                        r.members.len().to_string()
                    };
                    lines.push(format!("  - {}{desc} [{count} online]", r.name));
                }
                let refs: Vec<&str> = lines.iter().map(String::as_str).collect();
                self.reply(id, &refs);
            }
            Ok(Command::Join { room, password }) => self.join(id, &room, password.as_deref()),
            Ok(Command::Dm { user }) => self.open_dm(id, &user),
            Ok(Command::Chat) => {
                if self.client(id).is_some_and(|c| c.place == Place::None) {
                    self.reply(
                        id,
                        &[&format!("{NOT_CONNECTED} Please connect to one first.")],
                    );
                    return;
                }
                self.enter_view(id);
                self.redraw_view(id);
            }
            Ok(Command::Close) => {
                let msg = match self.client(id).map(|c| c.place) {
                    Some(Place::Room(r)) => format!("You left the room '{}'.", self.rooms[r].name),
                    Some(Place::Dm(p)) => {
                        format!("You closed the DM with '{}'.", self.name(p).unwrap_or(""))
                    }
                    _ => NOT_CONNECTED.to_string(),
                };
                self.leave_place(id);
                self.reply(id, &[&msg]);
            }
            Ok(Command::Quit) => {
                self.set_state(id, State::ConfirmQuit);
                self.write_prompt(id);
            }
            Ok(Command::Size(size)) => self.size_command(id, size),
            Ok(Command::Me { text }) => {
                if self.client(id).is_some_and(|c| c.place == Place::None) {
                    self.reply(
                        id,
                        &[&format!("{NOT_CONNECTED} Please connect to one first.")],
                    );
                } else {
                    self.me(id, &text);
                    if self.state(id) != Some(State::ChatView) {
                        self.reply(id, &[]);
                    }
                }
            }
            Ok(Command::Bell(on)) => {
                if let Some(c) = self.client_mut(id) {
                    c.bell = on;
                }
                let msg = if on {
                    "The bell rings for DMs and mentions of your name."
                } else {
                    "The bell is off."
                };
                self.reply(id, &[msg]);
            }
            Ok(Command::Time(on)) => {
                if let Some(c) = self.client_mut(id) {
                    c.timestamps = on;
                }
                let msg = if on {
                    "Chat lines show the time (HH:MM, UTC)."
                } else {
                    "Chat lines show no time."
                };
                if self.state(id) == Some(State::ChatView) {
                    // Every line of the view is drawn again, with or without it.
                    self.redraw_view(id);
                }
                self.reply(id, &[msg]);
            }
            Ok(Command::Whois { user }) => self.whois(id, &user),
            Ok(Command::Register { password }) => self.register(id, &password),
            Ok(Command::Passwd { old, new }) => self.passwd(id, &old, &new),
            Ok(Command::Unregister { password }) => self.unregister(id, &password),
            Ok(Command::AddKey) => self.add_key(id),
            Ok(Command::Keys) => self.list_keys(id),
            Ok(Command::DelKey { n }) => self.del_key(id, n),
            Ok(Command::Kick { user, reason }) => self.kick(id, &user, reason.as_deref()),
            Ok(Command::Mute { user, minutes }) => self.mute(id, &user, minutes),
            Ok(Command::Unmute { user }) => self.unmute(id, &user),
            Ok(Command::Ban { user, minutes }) => self.ban(id, &user, minutes),
            Ok(Command::Unban { user }) => self.unban(id, &user),
            Ok(Command::Msg { user, text }) => self.msg(id, &user, &text),
            Ok(Command::Reply { text }) => {
                let to = self.client(id).and_then(|c| c.last_dm_from.clone());
                match to {
                    Some(to) => self.msg(id, &to, &text),
                    None => self.reply(id, &["Nobody has sent you a DM yet."]),
                }
            }
        }
    }

    pub(super) fn list(&mut self, id: ClientId) {
        let mut lines = Vec::new();
        match self.client(id).map(|c| c.place) {
            Some(Place::Room(r)) => {
                let room = &self.rooms[r];
                lines.push(format!("Users connected to room '{}':", room.name));
                lines.extend(
                    room.members
                        .iter()
                        .filter_map(|&m| self.name(m))
                        .map(|n| format!("  - {n}")),
                );
            }
            Some(Place::Dm(p)) => {
                let other = self.name(p).unwrap_or("");
                lines.push(format!("Users connected to the DM with '{other}':"));
                lines.push(format!("  - {}", self.name(id).unwrap_or("")));
                lines.push(format!("  - {other}"));
            }
            _ => lines.push(format!("{NOT_CONNECTED} Did you mean to use :listall?")),
        }
        let refs: Vec<&str> = lines.iter().map(String::as_str).collect();
        self.reply(id, &refs);
    }

    /// `:size`: says the size the server uses, or sets it.
    fn size_command(&mut self, id: ClientId, size: Option<(u16, u16)>) {
        let Some(c) = self.client_mut(id) else { return };
        let msg = match size {
            None => {
                let t = c.term;
                let how = match t.source {
                    SizeSource::Assumed => {
                        " (assumed: your terminal did not say; set it with :size COLSxROWS)"
                    }
                    SizeSource::Terminal => " (as your terminal reported it)",
                    SizeSource::Command => " (as you set it)",
                };
                format!("Your terminal is {}x{}{how}.", t.cols, t.rows)
            }
            Some((cols, rows)) => {
                let cols = cols.min(crate::term::MAX_COLS);
                let rows = rows.min(crate::term::MAX_ROWS);
                c.term.cols = cols;
                c.term.rows = rows;
                c.term.source = SizeSource::Command;
                self.out.resized.push((id, cols, rows));
                format!("Your terminal is now {cols}x{rows}.")
            }
        };
        self.reply(id, &[&msg]);
    }

    /// `:whois USER`: online since, room if public, guest, idle time.
    fn whois(&mut self, id: ClientId, user: &str) {
        let Some(&p) = self.names.get(&names::key(user)) else {
            self.reply(id, &["That user is not online!"]);
            return;
        };
        let Some(c) = self.client(p) else { return };
        let name = c.name.as_deref().unwrap_or("");
        let since = Duration::from(c.since);
        let online = self.now.saturating_sub(since).as_secs() / 60;
        let idle = self.now.saturating_sub(c.last_line.into()).as_secs() / 60;
        let start = self.wall_start.saturating_add(since.as_secs()) / 60 % 1440;
        let place = match c.place {
            Place::Room(r) if self.rooms[r].public => format!(", in room '{}'", self.rooms[r].name),
            _ => String::new(),
        };
        let who = if c.account { "registered" } else { "guest" };
        let msg = format!(
            "{name}: online since {:02}:{:02} UTC ({online} min){place}, {who}, idle {idle} min.",
            start / 60,
            start % 60
        );
        self.reply(id, &[&msg]);
    }
}
