//! Keystrokes from a character-mode client's data bytes: UTF-8 and escape
//! sequences are reassembled across reads, unknown sequences are dropped,
//! and no sequence can hold more than [`MAX_ESCAPE`] bytes.

/// One key (or a terminal report) the line editor acts on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Key {
    /// A printable character to insert.
    Char(char),
    /// `\r`, `\n`, `\r\n` or `\r\0` (each one Enter), or keypad Enter.
    Enter,
    /// DEL or ^H: delete before the cursor.
    Backspace,
    /// ESC[3~: delete at the cursor.
    Delete,
    /// ^U: kill the line.
    KillLine,
    /// ^W: kill the word before the cursor.
    KillWord,
    /// ←
    Left,
    /// →
    Right,
    /// Home or ^A.
    Home,
    /// End or ^E.
    End,
    /// ↑: older history.
    Up,
    /// ↓: newer history.
    Down,
    /// Tab: completion.
    Tab,
    /// ^C.
    CtrlC,
    /// ^D.
    CtrlD,
    /// A cursor position report, ESC [ rows ; cols R (never input).
    Cpr { rows: u16, cols: u16 },
}

/// An escape sequence longer than this is abandoned; the rest of it, up to
/// its final byte, is skipped without being stored.
pub const MAX_ESCAPE: u8 = 32;

const ESC: u8 = 0x1b;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Ground,
    /// After ESC.
    Esc,
    /// Inside ESC [ … (or ESC O … when `ss3`): the numbers so far.
    Seq {
        ss3: bool,
        params: [u16; 2],
        /// Parameters started (1 + separators seen), saturating.
        count: u8,
        /// A private marker, sub-parameter or intermediate byte was seen:
        /// not a key we know.
        odd: bool,
        len: u8,
    },
    /// An overlong sequence: skip to its final byte.
    Skip,
}

/// The keystroke decoder of one connection (a few bytes of state).
#[derive(Debug, Clone)]
pub struct Decoder {
    state: State,
    /// A partial UTF-8 character.
    utf8: [u8; 4],
    have: u8,
    need: u8,
    /// The last byte was `\r`: a `\n` or `\0` after it is part of that Enter.
    after_cr: bool,
}

impl Default for Decoder {
    fn default() -> Self {
        Decoder {
            state: State::Ground,
            utf8: [0; 4],
            have: 0,
            need: 0,
            after_cr: false,
        }
    }
}

impl Decoder {
    /// Bytes of a partial character or escape sequence held.
    pub fn buffered(&self) -> usize {
        let seq = match self.state {
            State::Ground => 0,
            State::Esc | State::Skip => 1,
            State::Seq { len, .. } => usize::from(len) + 1,
        };
        usize::from(self.have) + seq
    }

    /// Continues after a `\r` that ended a line elsewhere (the line reader,
    /// before the switch to character mode).
    pub fn set_after_cr(&mut self, after_cr: bool) {
        self.after_cr = after_cr;
    }

    /// Takes one data byte; calls `key` for each key it completes (at most
    /// two: a broken UTF-8 character and the byte that broke it).
    pub fn push(&mut self, b: u8, key: &mut impl FnMut(Key)) {
        if self.need > 0 {
            if b & 0xc0 == 0x80 {
                if let Some(slot) = self.utf8.get_mut(usize::from(self.have)) {
                    *slot = b;
                }
                self.have += 1;
                if self.have == self.need {
                    let len = usize::from(self.need);
                    let c = self
                        .utf8
                        .get(..len)
                        .and_then(|s| std::str::from_utf8(s).ok())
                        .and_then(|s| s.chars().next())
                        .unwrap_or(char::REPLACEMENT_CHARACTER);
                    self.have = 0;
                    self.need = 0;
                    printable(c, key);
                }
                return;
            }
            // Cut short: what came so far is one broken character.
            self.have = 0;
            self.need = 0;
            key(Key::Char(char::REPLACEMENT_CHARACTER));
        }
        match self.state {
            State::Ground => self.ground(b, key),
            State::Esc => self.esc(b, key),
            State::Seq { .. } => self.seq(b, key),
            State::Skip => match b {
                0x20..=0x3f => {}
                0x40..=0x7e => self.state = State::Ground,
                _ => {
                    self.state = State::Ground;
                    self.ground(b, key);
                }
            },
        }
    }

    fn ground(&mut self, b: u8, key: &mut impl FnMut(Key)) {
        let after_cr = std::mem::replace(&mut self.after_cr, false);
        let k = match b {
            b'\n' | b'\0' if after_cr => return,
            b'\r' => {
                self.after_cr = true;
                Key::Enter
            }
            b'\n' => Key::Enter,
            0x7f | 0x08 => Key::Backspace,
            0x15 => Key::KillLine,
            0x17 => Key::KillWord,
            0x01 => Key::Home,
            0x05 => Key::End,
            b'\t' => Key::Tab,
            0x03 => Key::CtrlC,
            0x04 => Key::CtrlD,
            ESC => {
                self.state = State::Esc;
                return;
            }
            0x20..=0x7e => Key::Char(char::from(b)),
            0xc2..=0xdf => return self.start_utf8(b, 2),
            0xe0..=0xef => return self.start_utf8(b, 3),
            0xf0..=0xf4 => return self.start_utf8(b, 4),
            0x80..=0xff => Key::Char(char::REPLACEMENT_CHARACTER),
            // Other controls do nothing.
            _ => return,
        };
        key(k);
    }

    fn start_utf8(&mut self, b: u8, need: u8) {
        self.utf8[0] = b;
        self.have = 1;
        self.need = need;
    }

    fn esc(&mut self, b: u8, key: &mut impl FnMut(Key)) {
        self.state = State::Ground;
        let ss3 = match b {
            b'[' => false,
            b'O' => true,
            // ESC ESC: the first one was a lone Escape; start again.
            ESC => {
                self.state = State::Esc;
                return;
            }
            // Alt+key: not a key we use.
            0x20..=0x7e => return,
            // A control or a non-ASCII byte: the ESC stood alone.
            _ => return self.ground(b, key),
        };
        self.state = State::Seq {
            ss3,
            params: [0; 2],
            count: 1,
            odd: false,
            len: 0,
        };
    }

    fn seq(&mut self, b: u8, key: &mut impl FnMut(Key)) {
        let State::Seq {
            ss3,
            mut params,
            mut count,
            mut odd,
            len,
        } = self.state
        else {
            return;
        };
        if len >= MAX_ESCAPE {
            self.state = State::Skip;
            return self.push(b, key);
        }
        match b {
            b'0'..=b'9' => {
                if let Some(p) = params.get_mut(usize::from(count) - 1) {
                    *p = p.saturating_mul(10).saturating_add(u16::from(b - b'0'));
                }
            }
            b';' => count = count.saturating_add(1),
            // Private markers, sub-parameters, intermediates.
            0x20..=0x2f | b':' | b'<'..=b'?' => odd = true,
            0x40..=0x7e => {
                self.state = State::Ground;
                if !odd {
                    if let Some(k) = final_key(ss3, b, params, count) {
                        key(k);
                    }
                }
                return;
            }
            // A control or non-ASCII byte inside: the sequence is broken;
            // the byte counts on its own.
            _ => {
                self.state = State::Ground;
                return self.ground(b, key);
            }
        }
        self.state = State::Seq {
            ss3,
            params,
            count,
            odd,
            len: len + 1,
        };
    }
}

/// What a complete CSI (or SS3) sequence means, if it is a key we use.
fn final_key(ss3: bool, fin: u8, params: [u16; 2], count: u8) -> Option<Key> {
    // Modifiers (ESC[1;5D: Ctrl+←) are ignored: it is still ←.
    Some(match fin {
        b'A' => Key::Up,
        b'B' => Key::Down,
        b'C' => Key::Right,
        b'D' => Key::Left,
        b'H' => Key::Home,
        b'F' => Key::End,
        b'M' if ss3 => Key::Enter,
        b'~' if !ss3 => match params[0] {
            1 | 7 => Key::Home,
            4 | 8 => Key::End,
            3 => Key::Delete,
            _ => return None,
        },
        b'R' if !ss3 && count == 2 => Key::Cpr {
            rows: params[0],
            cols: params[1],
        },
        _ => return None,
    })
}

fn printable(c: char, key: &mut impl FnMut(Key)) {
    // C1 controls (U+0080–U+009F) are controls too.
    if !c.is_control() {
        key(Key::Char(c));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys(bytes: &[u8]) -> Vec<Key> {
        let mut d = Decoder::default();
        let mut out = Vec::new();
        for &b in bytes {
            d.push(b, &mut |k| out.push(k));
        }
        out
    }

    fn chars(s: &str) -> Vec<Key> {
        s.chars().map(Key::Char).collect()
    }

    #[test]
    fn printable_ascii_and_utf8() {
        assert_eq!(keys("aZ 日é🎉~".as_bytes()), chars("aZ 日é🎉~"));
    }

    #[test]
    fn every_enter_is_one_enter() {
        use Key::Enter;
        assert_eq!(
            keys(b"\r\n\r\0\r\n\ra"),
            vec![Enter, Enter, Enter, Enter, Key::Char('a')]
        );
        assert_eq!(keys(b"\r\r"), vec![Enter, Enter]);
        assert_eq!(keys(b"\n\n"), vec![Enter, Enter]);
        // A lone NUL is ignored.
        assert_eq!(keys(b"\0"), vec![]);
        assert_eq!(keys(b"\x1bOM"), vec![Enter]);
    }

    #[test]
    fn control_keys() {
        assert_eq!(
            keys(b"\x7f\x08\x15\x17\x01\x05\t\x03\x04"),
            vec![
                Key::Backspace,
                Key::Backspace,
                Key::KillLine,
                Key::KillWord,
                Key::Home,
                Key::End,
                Key::Tab,
                Key::CtrlC,
                Key::CtrlD
            ]
        );
        // Other controls do nothing.
        assert_eq!(keys(b"\x02\x06\x07\x0b\x0c\x0e\x10\x1a\x1c\x1f"), vec![]);
    }

    #[test]
    fn arrows_home_end_delete_in_every_spelling() {
        use Key::*;
        let cases: [(&[u8], Key); 20] = [
            (b"\x1b[A", Up),
            (b"\x1b[B", Down),
            (b"\x1b[C", Right),
            (b"\x1b[D", Left),
            (b"\x1bOA", Up),
            (b"\x1bOB", Down),
            (b"\x1bOC", Right),
            (b"\x1bOD", Left),
            (b"\x1b[H", Home),
            (b"\x1b[F", End),
            (b"\x1b[1~", Home),
            (b"\x1b[4~", End),
            (b"\x1b[7~", Home),
            (b"\x1b[8~", End),
            (b"\x1bOH", Home),
            (b"\x1bOF", End),
            (b"\x1b[3~", Delete),
            (b"\x1b[1;5D", Left),
            (b"\x1b[1;2H", Home),
            (b"\x1b[3;5~", Delete),
        ];
        for (bytes, key) in cases {
            assert_eq!(keys(bytes), vec![key], "{bytes:?}");
        }
    }

    #[test]
    fn unknown_sequences_are_ignored() {
        // F1 (SS3 and CSI), F5, F12, PgUp, Insert, SGR mouse, bracketed
        // paste markers, a private-mode report, Alt+x, DA reply.
        let input = b"\x1bOP\x1b[11~\x1b[15~\x1b[24~\x1b[5~\x1b[2~\x1b[<0;10;5M\x1b[200~\x1b[?1;2c\x1bx\x1b[>1;2;3cok";
        assert_eq!(keys(input), chars("ok"));
    }

    #[test]
    fn split_byte_by_byte_is_the_same() {
        let input = "a\x1b[D日\x1b[3~é\r\n\x1b[12;40R\x1bOH🎉\r\0b".as_bytes();
        let whole = keys(input);
        let mut d = Decoder::default();
        let mut split = Vec::new();
        for chunk in input.chunks(1) {
            for &b in chunk {
                d.push(b, &mut |k| split.push(k));
            }
        }
        assert_eq!(whole, split);
        assert_eq!(
            whole,
            vec![
                Key::Char('a'),
                Key::Left,
                Key::Char('日'),
                Key::Delete,
                Key::Char('é'),
                Key::Enter,
                Key::Cpr { rows: 12, cols: 40 },
                Key::Home,
                Key::Char('🎉'),
                Key::Enter,
                Key::Char('b'),
            ]
        );
    }

    #[test]
    fn cursor_position_report() {
        assert_eq!(keys(b"\x1b[24;80R"), vec![Key::Cpr { rows: 24, cols: 80 }]);
        assert_eq!(
            keys(b"\x1b[99999;99999R"),
            vec![Key::Cpr {
                rows: 65535,
                cols: 65535
            }]
        );
        // One number is not a report (and not a key).
        assert_eq!(keys(b"\x1b[5R"), vec![]);
    }

    #[test]
    fn endless_escape_sequence_is_bounded_and_skipped() {
        let mut d = Decoder::default();
        let mut got = Vec::new();
        for &b in b"\x1b[" {
            d.push(b, &mut |k| got.push(k));
        }
        for _ in 0..100_000 {
            d.push(b'9', &mut |k| got.push(k));
            assert!(d.buffered() <= usize::from(MAX_ESCAPE) + 1);
        }
        for &b in b";1Rab" {
            d.push(b, &mut |k| got.push(k));
        }
        // The final byte ends the skipped sequence; what follows is input.
        assert_eq!(got, chars("ab"));
    }

    #[test]
    fn control_inside_a_sequence_breaks_it_and_counts() {
        assert_eq!(keys(b"\x1b[1\rx"), vec![Key::Enter, Key::Char('x')]);
        assert_eq!(keys(b"\x1b\x7f"), vec![Key::Backspace]);
        assert_eq!(keys(b"\x1b\x1b[C"), vec![Key::Right]);
        assert_eq!(keys("\x1bé".as_bytes()), chars("é"));
    }

    #[test]
    fn invalid_utf8_becomes_replacement_characters() {
        let r = char::REPLACEMENT_CHARACTER;
        assert_eq!(keys(b"a\x80b"), chars(&format!("a{r}b")));
        assert_eq!(keys(b"\xe6\x97x"), chars(&format!("{r}x")));
        assert_eq!(keys(b"\xff\xc0\xf8"), chars(&format!("{r}{r}{r}")));
        // A surrogate and an overlong form are invalid as a whole.
        assert_eq!(keys(b"\xed\xa0\x80\xe0\x80\x80"), chars(&format!("{r}{r}")));
        // Cut by a control: the broken character, then the control.
        assert_eq!(keys(b"\xe6\r"), vec![Key::Char(r), Key::Enter]);
        // C1 controls are not printable.
        assert_eq!(keys("\u{85}\u{9b}".as_bytes()), vec![]);
    }

    #[test]
    fn cr_then_sequence_then_lf_is_two_enters() {
        // Only a \n right after \r belongs to it.
        assert_eq!(
            keys(b"\r\x1b[C\n"),
            vec![Key::Enter, Key::Right, Key::Enter]
        );
    }
}
