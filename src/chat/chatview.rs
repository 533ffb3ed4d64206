//! The chat view: sending messages, each member's history and the updates
//! its viewers get, commands typed in the view.

use super::*;
use crate::command::{self, Command, ParseError};
use crate::text::char_len;

/// Distinct screen layouts whose update is rendered once per broadcast and
/// shared; viewers beyond that many layouts get their own rendering.
const LAYOUT_CACHE: usize = 8;

/// What a muted user is told instead of sending.
pub(super) const MUTED: &str = "You are muted: your message reached nobody.";

impl Chat {
    pub(super) fn chat_view_line(&mut self, id: ClientId, text: &str) {
        // In line mode the client's terminal echoed what was typed on the
        // input row; a line wider than the row wrapped, and its Enter
        // scrolled the whole screen: only a full redraw repairs that.
        let scrolled = self.client(id).is_some_and(|c| {
            !c.term.char_mode
                && Self::VIEW_PROMPT.len() + crate::term::width::width(text)
                    >= usize::from(c.term.cols)
        });
        self.view_line(id, text);
        if self.state(id) != Some(State::ChatView) {
            return;
        }
        if scrolled {
            self.redraw_view(id);
        } else {
            self.after_enter(id);
        }
    }

    /// What a line typed in the chat view does (before the input line is
    /// redrawn): `:q` leaves, a known command runs (replies as SERVER
    /// lines), `::` sends the rest with one `:`, anything else is a message.
    fn view_line(&mut self, id: ClientId, text: &str) {
        let trimmed = text.trim();
        if trimmed == ":q" {
            self.leave_view(id, State::Palette);
            self.write(id, view::left_view());
            self.write_prompt(id);
            return;
        }
        if trimmed.is_empty() {
            return;
        }
        if let Some(rest) = text.trim_start().strip_prefix("::") {
            return self.send_message(id, &format!(":{rest}"));
        }
        let is_command = trimmed.starts_with(':')
            && !matches!(
                command::parse(trimmed),
                Err(ParseError::Unknown | ParseError::NotACommand)
            );
        if is_command {
            return self.view_command(id, trimmed);
        }
        self.send_message(id, text);
    }

    /// A command typed in the chat view.
    fn view_command(&mut self, id: ClientId, line: &str) {
        match command::parse(line) {
            Ok(Command::Chat) => {
                self.reply(id, &["You are in the chat view already; :q leaves it."]);
            }
            // These leave the view for the palette first.
            Ok(Command::Close | Command::Quit) => {
                self.leave_view(id, State::Palette);
                self.write(id, view::CLEAR);
                self.palette(id, line);
            }
            _ => {
                let before = self.client(id).map(|c| c.place);
                self.palette(id, line);
                let after = self.client(id).map(|c| c.place);
                // Joined a room or opened a DM: the view is that one now.
                if before != after && self.state(id) == Some(State::ChatView) {
                    self.redraw_view(id);
                }
            }
        }
    }

    /// A message from `id` to its room or DM.
    fn send_message(&mut self, id: ClientId, text: &str) {
        if self.muted(id) {
            self.view_push_one(id, view::server_line(self.cfg.username_limit, MUTED));
            return;
        }
        if let Some(msg) = self.over_limit(text) {
            self.view_push_one(id, view::server_line(self.cfg.username_limit, &msg));
            return;
        }
        let Some(c) = self.client(id) else { return };
        let Some(name) = c.name.clone() else { return };
        let line = self.stamped(view::message_line(&name, self.cfg.username_limit, text));
        self.say(id, &name, line, text);
    }

    /// `:me ACTION`: `* NAME ACTION` to the room or DM.
    pub(super) fn me(&mut self, id: ClientId, action: &str) {
        if self.muted(id) {
            // The palette's caller draws the prompt after this.
            return if self.state(id) == Some(State::ChatView) {
                self.view_push_one(id, view::server_line(self.cfg.username_limit, MUTED));
            } else {
                self.write(id, format!("{MUTED}\r\n"));
            };
        }
        let Some(name) = self.client(id).and_then(|c| c.name.clone()) else {
            return;
        };
        let text = format!("* {name} {action}");
        let line = self.stamped(Rc::new(HistLine {
            text: text.as_str().into(),
            ..HistLine::default()
        }));
        self.say(id, &name, line, &text);
    }

    /// `line` (what `name` said, `text`) to the speaker's room or DM.
    fn say(&mut self, id: ClientId, name: &Rc<str>, line: Rc<HistLine>, text: &str) {
        let Some(c) = self.client(id) else { return };
        match c.place {
            Place::Room(r) => self.room_broadcast(r, line, Some((id, text))),
            Place::Dm(p) => {
                if self.state(id) == Some(State::ChatView) {
                    self.view_push_one(id, line.clone());
                } else {
                    self.push_history(id, line.clone());
                }
                self.deliver_dm(id, name, p, line, text);
            }
            Place::None => {}
        }
    }

    /// What the sender is told when `text` is over `messageLimit`.
    pub(super) fn over_limit(&self, text: &str) -> Option<String> {
        let limit = self.cfg.message_limit;
        (limit > 0 && char_len(text) > limit).then(|| {
            format!("Your message was not sent: messages are limited to {limit} characters.")
        })
    }

    /// Clients named by a word of `text` (its words with the punctuation
    /// around them trimmed, compared by name key).
    fn mentioned_in<'a>(&'a self, text: &'a str) -> impl Iterator<Item = ClientId> + 'a {
        let limit = self.cfg.username_limit;
        text.split_whitespace()
            .map(|w| w.trim_matches(|c: char| !c.is_alphanumeric()))
            .filter(move |w| !w.is_empty() && w.chars().count() <= limit)
            .filter_map(|w| self.names.get(&names::key(w)).copied())
    }

    /// The bell, for a client that wants it.
    fn ring(&mut self, id: ClientId) {
        if self.client(id).is_some_and(|c| c.bell) {
            self.write(id, "\x07");
        }
    }

    /// A DM line from `from` (named `name`) reaches `to`: into its history
    /// if it has this DM open (an update if it is viewing it), and at once
    /// as one line if it is not viewing it.
    pub(super) fn deliver_dm(
        &mut self,
        from: ClientId,
        name: &Rc<str>,
        to: ClientId,
        line: Rc<HistLine>,
        text: &str,
    ) {
        let Some(pc) = self.client_mut(to) else {
            return;
        };
        pc.last_dm_from = Some(name.clone());
        let (state, place) = (pc.state, pc.place);
        if matches!(state, State::Palette | State::ChatView | State::ConfirmQuit) {
            self.ring(to);
        }
        let member = place == Place::Dm(from);
        match state {
            State::ChatView if member => self.view_push_one(to, line),
            State::Closed | State::Connecting { .. } | State::Naming => {}
            _ => {
                if member {
                    self.push_history(to, line);
                    if let Some(pc) = self.client_mut(to) {
                        pc.unread = pc.unread.saturating_add(1);
                    }
                }
                self.notice(to, &format!("[DM from {name}]: {text}"));
            }
        }
    }

    /// A line for one client wherever it is: a highlighted line in a chat
    /// view, or a line above the palette prompt.
    pub(super) fn notice(&mut self, id: ClientId, text: &str) {
        match self.state(id) {
            Some(State::ChatView) => self.view_push_one(id, view::highlight_line(text)),
            Some(State::Palette | State::ConfirmQuit) => {
                self.write(id, view::palette_line(text));
                self.write_prompt(id);
            }
            _ => {}
        }
    }

    /// Adds `line` to the history of every member of room `r`; those
    /// viewing it get the update for their screen (rendered once per
    /// distinct layout), the others count it as unread. `said`: who said
    /// what, for a message (not a notice): a member whose name it mentions
    /// gets the bell and a copy with the name highlighted.
    pub(super) fn room_broadcast(
        &mut self,
        r: usize,
        line: Rc<HistLine>,
        said: Option<(ClientId, &str)>,
    ) {
        let mut cache: Vec<(Layout, Rc<[u8]>)> = Vec::new();
        // Who is mentioned: looked up once per word of the message, not
        // once per member, so a big room costs no more per delivery.
        let mentioned: Vec<ClientId> = said.map_or_else(Vec::new, |(from, text)| {
            self.mentioned_in(text).filter(|&m| m != from).collect()
        });
        let max = self.cfg.chatview_max;
        let room = &mut self.rooms[r];
        if room.members.is_empty() {
            return; // nobody to tell, nothing to keep
        }
        room.seq += 1;
        if room.recent.len() >= max {
            room.recent.pop_front();
        } else if room.recent.capacity() == 0 {
            room.recent.reserve_exact(max);
        }
        room.recent.push_back((room.seq, line.clone()));
        let members = std::mem::take(&mut room.members);
        for &m in &members {
            let mention = mentioned
                .contains(&m)
                .then(|| self.client(m).and_then(|c| c.name.clone()))
                .flatten()
                .filter(|name| said.is_some_and(|(_, text)| view::mentions(text, name)));
            if let Some(name) = mention {
                self.ring(m);
                let mut own = (*line).clone();
                own.highlight = Some(name);
                let own = Rc::new(own);
                if self.state(m) == Some(State::ChatView) {
                    self.view_push_one(m, own);
                } else if let Some(c) = self.client_mut(m) {
                    c.unread = c.unread.saturating_add(1);
                }
                continue;
            }
            if self.state(m) != Some(State::ChatView) {
                if let Some(c) = self.client_mut(m) {
                    c.unread = c.unread.saturating_add(1);
                }
                continue;
            }
            self.push_history(m, line.clone());
            let layout = self.layout(m);
            let update = match cache.iter().find(|(l, _)| *l == layout) {
                Some((_, u)) => u.clone(),
                None => {
                    let u: Rc<[u8]> = view::view_update(&line, layout).into();
                    if cache.len() < LAYOUT_CACHE {
                        cache.push((layout, u.clone()));
                    }
                    u
                }
            };
            if !update.is_empty() {
                self.out.writes.push((m, Chunk::Shared(update)));
            }
        }
        self.rooms[r].members = members;
    }

    pub(super) fn push_history(&mut self, id: ClientId, line: Rc<HistLine>) {
        let max = self.cfg.chatview_max;
        if let Some(c) = self.client_mut(id) {
            if c.history.len() >= max {
                c.history.pop_front();
            } else if c.history.capacity() == 0 {
                // Exactly the bound: the deque never grows past it, so a
                // member's history costs chatviewMax pointers at most.
                c.history.reserve_exact(max);
            }
            c.history.push_back(line);
        }
    }

    /// Adds one line to a viewer's history and sends the incremental update.
    pub(super) fn view_push_one(&mut self, id: ClientId, line: Rc<HistLine>) {
        let update = view::view_update(&line, self.layout(id));
        self.push_history(id, line);
        if !update.is_empty() {
            self.write(id, update);
        }
    }

    /// A viewer pressed Enter (in line mode their terminal's echo left the
    /// typed line on the input row): clear the input line and redraw the
    /// prompt, nothing more (a full redraw would cost the whole history per
    /// message sent).
    pub(super) fn after_enter(&mut self, id: ClientId) {
        if self.state(id) == Some(State::ChatView) {
            let reset = view::input_reset(self.layout(id), self.label(id));
            self.write(id, reset);
            self.write_prompt(id);
        }
    }

    /// A SERVER line only the viewer sees, after they pressed Enter.
    pub(super) fn view_notice_to_self(&mut self, id: ClientId, text: &str) {
        self.view_push_one(id, view::server_line(self.cfg.username_limit, text));
        self.after_enter(id);
    }
}
