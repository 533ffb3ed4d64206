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
            Ok(Command::Help) => {
                let mut lines = vec!["Available commands:".to_string()];
                lines.extend(HELP.iter().map(|(u, d)| format!("  {u:<23}{d}")));
                lines.push(
                    "In the chat view, every line you type is a message; :q leaves it.".into(),
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
                if let Some(c) = self.client_mut(id) {
                    c.state = State::ChatView;
                    c.unread = 0;
                }
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
}
