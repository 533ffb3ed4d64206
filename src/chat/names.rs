//! Choosing a username at the prompt.

use super::*;
use crate::text::{char_len, is_invisible};

impl Chat {
    pub(super) fn choose_name(&mut self, id: ClientId, name: &str) {
        if name.is_empty() {
            self.write_prompt(id);
            return;
        }
        let key = name.to_lowercase();
        let problem = if char_len(name) > self.cfg.username_limit {
            Some("That username is too long, please pick another one.")
        } else if name.chars().any(|c| c.is_whitespace() || is_invisible(c))
            || name.starts_with(':')
            || key == "server"
        {
            Some("That username is not allowed, please pick another one.")
        } else if self.names.contains_key(&key) {
            Some("That username is taken, please pick another one.")
        } else {
            None
        };
        if let Some(problem) = problem {
            self.write(id, format!("{problem}\r\n"));
            self.write_prompt(id);
            return;
        }
        self.names.insert(key, id);
        if let Some(c) = self.client_mut(id) {
            c.name = Some(Rc::from(name));
            c.state = State::Palette;
        }
        self.out.named.push(id);
        if self.cfg.idle_timeout > 0 {
            let gen = self.client(id).map_or(0, |c| c.gen);
            self.out.timers.push(Timer {
                client: id,
                gen,
                kind: TimerKind::Idle,
                after: self.idle_timeout(),
            });
        }
        let hello = format!("You are now connected as '{name}'.");
        self.reply(id, &[&hello, "Type :help to see what you can do."]);
    }
}
