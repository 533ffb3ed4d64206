//! The chat view: sending messages, each viewer's history and its updates.

use super::*;
use crate::text::char_len;

/// Distinct screen layouts whose update is rendered once per broadcast and
/// shared; viewers beyond that many layouts get their own rendering.
const LAYOUT_CACHE: usize = 8;

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
        if scrolled && !text.trim().eq(":q") {
            self.view_line(id, text);
            self.redraw_view(id);
            return;
        }
        self.view_line(id, text);
        self.after_enter(id);
    }

    /// What a line typed in the chat view does (before the input line is
    /// redrawn).
    fn view_line(&mut self, id: ClientId, text: &str) {
        if text.trim() == ":q" {
            if let Some(c) = self.client_mut(id) {
                c.state = State::Palette;
                c.history = VecDeque::new();
            }
            self.write(id, view::left_view());
            self.write_prompt(id);
            return;
        }
        if text.trim().is_empty() {
            return;
        }
        let limit = self.cfg.message_limit;
        if limit > 0 && char_len(text) > limit {
            let msg =
                format!("Your message was not sent: messages are limited to {limit} characters.");
            self.view_push_one(id, view::server_line(self.cfg.username_limit, &msg));
            return;
        }
        let Some(c) = self.client(id) else { return };
        let Some(name) = c.name.clone() else { return };
        let line = view::message_line(&name, self.cfg.username_limit, text);
        match c.place {
            Place::Room(r) => self.room_broadcast(r, line),
            Place::Dm(p) => {
                self.view_push_one(id, line.clone());
                let partner = self.client(p).map(|pc| (pc.state, pc.place));
                match partner {
                    Some((State::ChatView, Place::Dm(q))) if q == id => {
                        self.view_push_one(p, line);
                    }
                    Some((State::ChatView, _)) => {
                        let l = view::highlight_line(&format!("[DM from {name}]: {text}"));
                        self.view_push_one(p, l);
                    }
                    Some((State::Palette | State::ConfirmQuit, _)) => {
                        self.write(p, view::palette_line(&format!("[DM from {name}]: {text}")));
                        self.write_prompt(p);
                    }
                    _ => {}
                }
            }
            Place::None => {}
        }
    }

    /// Adds `line` to the history of every member of room `r` who is
    /// viewing it and sends each the update for its screen, rendered once
    /// per distinct layout.
    pub(super) fn room_broadcast(&mut self, r: usize, line: Rc<HistLine>) {
        let mut cache: Vec<(Layout, Rc<[u8]>)> = Vec::new();
        let members = std::mem::take(&mut self.rooms[r].members);
        for &m in &members {
            if self.state(m) != Some(State::ChatView) {
                continue;
            }
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
            self.push_history(m, line.clone());
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
