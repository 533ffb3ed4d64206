//! The per-connection terminal, sans-IO: the client's bytes in, whole lines
//! and interrupts out, with the telnet options, the mode (line or
//! character), the size and, in character mode, the line editor and its
//! echo — so that output drawn above a half-typed line never loses it.
//!
//! - [`telnet`]: IAC commands and option negotiation.
//! - [`keys`]: character-mode bytes → keys.
//! - [`editor`]: the half-typed line, history, completion, drawing it.
//! - [`width`]: display columns.

pub mod editor;
pub mod keys;
pub mod telnet;
pub mod width;

use crate::line::{Line, LineReader};
use editor::{Change, Completion, Editor, Screen};
use keys::{Decoder, Key};
use telnet::{Input, Telnet};

/// A terminal's size in character cells.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Size {
    /// Columns.
    pub cols: u16,
    /// Rows.
    pub rows: u16,
}

impl Size {
    /// Until the client says otherwise.
    pub const DEFAULT: Size = Size { cols: 80, rows: 24 };
}

/// Larger reported widths are clamped to this (0 is ignored).
pub const MAX_COLS: u16 = 500;
/// Larger reported heights are clamped to this (0 is ignored).
pub const MAX_ROWS: u16 = 200;

/// Who edits the line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// The client's terminal echoes and edits; whole lines arrive.
    Line,
    /// Keystrokes arrive one by one; the server echoes and edits.
    Char,
}

/// What the client's input came to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// One complete input line, raw bytes without terminator (not sanitised).
    Line(Vec<u8>),
    /// Line mode: a line over max_line was dropped.
    TooLong,
    /// Ctrl+C or Ctrl+D (char mode), or telnet IAC IP, on an empty line.
    Interrupt,
}

/// Asks for the cursor position after moving to the far corner, which the
/// terminal clamps to its size; the cursor is saved and restored around it.
pub const CPR_QUERY: &[u8] = b"\x1b7\x1b[999;999H\x1b[6n\x1b8";

/// A feed with no line end and at most this many characters, before the
/// first line, is a keystroke: the client is in raw mode.
pub const KEYSTROKE_BYTES: usize = 8;

/// One client's terminal.
#[derive(Debug)]
pub struct Terminal {
    telnet: Telnet,
    reader: LineReader,
    keys: Decoder,
    editor: Editor,
    mode: Mode,
    /// The mode `take_mode_change` last reported.
    reported_mode: Mode,
    size: Size,
    resized: bool,
    /// The terminal reported its size at least once.
    reported: bool,
    /// A NAWS report gave the size: no need to ask with CPR.
    naws_size: bool,
    /// No complete line yet: a keystroke may still reveal a raw client.
    deciding: bool,
    cpr_sent: bool,
    cpr_pending: bool,
    /// The last row of the prompt on screen, and its width.
    prompt: String,
    prompt_width: usize,
    /// The prompt is the chat view's input row.
    view: bool,
    /// A prompt is on screen: character-mode edits are echoed.
    shown: bool,
    /// The bell rang during this feed (once is enough).
    rang: bool,
}

impl Terminal {
    /// A terminal for lines of at most `max_line` bytes (0 = no limit);
    /// `telnet` means the greeting is sent and options negotiated.
    pub fn new(max_line: usize, telnet: bool) -> Terminal {
        Terminal {
            telnet: Telnet::new(telnet),
            reader: LineReader::new(max_line),
            keys: Decoder::default(),
            editor: Editor::new(max_line),
            mode: Mode::Line,
            reported_mode: Mode::Line,
            size: Size::DEFAULT,
            resized: false,
            reported: false,
            naws_size: false,
            deciding: true,
            cpr_sent: false,
            cpr_pending: false,
            prompt: String::new(),
            prompt_width: 0,
            view: false,
            shown: false,
            rang: false,
        }
    }

    /// Bytes to send first on connect: IAC WILL ECHO, IAC WILL SGA, IAC DO
    /// NAWS, then "\r\x1b[K" so a plain nc user sees nothing of it; empty
    /// when telnet is false.
    pub fn greeting(&self) -> &'static [u8] {
        if self.telnet.active() {
            telnet::GREETING
        } else {
            b""
        }
    }

    /// Feeds bytes read from the client. Events go to `events` in order;
    /// bytes to send back at once (telnet replies, char-mode echo and
    /// edits, a CPR query) are appended to `out`. `complete(before_cursor)`
    /// is called on Tab with the input text before the cursor and returns
    /// the candidate full words for the last word.
    pub fn feed(
        &mut self,
        bytes: &[u8],
        out: &mut Vec<u8>,
        events: &mut Vec<Event>,
        complete: &mut dyn FnMut(&str) -> Vec<String>,
    ) {
        self.rang = false;
        let mut typed = false;
        if self.deciding && self.mode == Mode::Line && self.is_keystroke(bytes) {
            self.set_mode(Mode::Char, out);
        }
        for &b in bytes {
            let Some(input) = self.telnet.push(b, out) else {
                continue;
            };
            match input {
                Input::Data(b) => match self.mode {
                    Mode::Line => self.line_byte(b, events),
                    Mode::Char => {
                        typed = true;
                        self.char_byte(b, out, events, complete);
                    }
                },
                Input::Interrupt => match self.mode {
                    Mode::Line if self.reader.buffered() == 0 => events.push(Event::Interrupt),
                    Mode::Line => {}
                    Mode::Char => self.key(Key::CtrlC, out, events, complete),
                },
                Input::EraseChar if self.mode == Mode::Char => {
                    self.key(Key::Backspace, out, events, complete);
                }
                Input::EraseLine if self.mode == Mode::Char => {
                    self.key(Key::KillLine, out, events, complete);
                }
                Input::EraseChar | Input::EraseLine => {}
                Input::Size { cols, rows } => {
                    // 0×0 says nothing: the size may still be asked for.
                    self.naws_size |= cols != 0 && rows != 0;
                    self.report_size(cols, rows);
                }
                Input::CharMode(on) => {
                    self.set_mode(if on { Mode::Char } else { Mode::Line }, out);
                }
            }
        }
        self.flush(out);
        // Without a size from NAWS, ask the terminal once. A telnet client
        // may still answer our DO NAWS in its next packet: wait for that
        // answer, or for the first keystroke.
        let naws = self.naws_size || self.telnet.naws() || (self.telnet.naws_pending() && !typed);
        if self.mode == Mode::Char && !self.cpr_sent && !naws {
            out.extend_from_slice(CPR_QUERY);
            self.cpr_sent = true;
            self.cpr_pending = true;
        }
    }

    /// Whether this feed's data bytes look like a keystroke from a raw
    /// terminal: no line end, and short or holding an edit key or an
    /// escape sequence; or ending in a bare `\r`, the Enter key of a raw
    /// terminal (a cooked terminal sends `\n`, telnet `\r\n` or `\r\0`),
    /// as when a first line is pasted or typed faster than one read.
    /// (Looks ahead with a copy of the telnet tokenizer.)
    fn is_keystroke(&self, bytes: &[u8]) -> bool {
        let mut parser = self.telnet.parser();
        let mut data = 0;
        let mut edit = false;
        let mut enter = false;
        for &b in bytes {
            if let Some(telnet::Token::Data(b)) = parser.push(b) {
                if enter {
                    // Something after the `\r`: not a bare Enter.
                    return false;
                }
                // Characters, not bytes: one CJK keystroke is 3 bytes, and
                // an input method may commit a few characters at once.
                if b & 0xc0 != 0x80 {
                    data += 1;
                }
                match b {
                    b'\r' => enter = true,
                    b'\n' => return false,
                    0x7f | 0x08 | 0x1b => edit = true,
                    _ => {}
                }
            }
        }
        data > 0 && (enter || data <= KEYSTROKE_BYTES || edit)
    }

    fn line_byte(&mut self, b: u8, events: &mut Vec<Event>) {
        let deciding = &mut self.deciding;
        self.reader.push(b, &mut |line| {
            *deciding = false;
            events.push(match line {
                Line::Text(t) => Event::Line(t),
                Line::TooLong => Event::TooLong,
            });
        });
    }

    fn char_byte(
        &mut self,
        b: u8,
        out: &mut Vec<u8>,
        events: &mut Vec<Event>,
        complete: &mut dyn FnMut(&str) -> Vec<String>,
    ) {
        // At most two keys come of one byte.
        let mut got = [None; 2];
        let mut n = 0;
        self.keys.push(b, &mut |k| {
            if let Some(slot) = got.get_mut(n) {
                *slot = Some(k);
                n += 1;
            }
        });
        for k in got.into_iter().flatten() {
            self.key(k, out, events, complete);
        }
    }

    fn set_mode(&mut self, mode: Mode, out: &mut Vec<u8>) {
        if mode == self.mode {
            return;
        }
        self.mode = mode;
        self.deciding = false;
        match mode {
            Mode::Char => {
                // What was typed so far is the start of the edited line.
                let (partial, after_cr) = self.reader.take_partial();
                self.keys = Decoder::default();
                let mut decoder = Decoder::default();
                let mut text = String::new();
                for b in partial {
                    decoder.push(b, &mut |k| {
                        if let Key::Char(c) = k {
                            text.push(c);
                        }
                    });
                }
                self.keys.set_after_cr(after_cr);
                self.editor.insert_text(&text);
                if self.shown && !self.editor.is_empty() {
                    let screen = Screen {
                        prompt: &self.prompt,
                        prompt_width: self.prompt_width,
                        cols: usize::from(self.size.cols),
                    };
                    self.editor.redraw(&screen, out);
                }
            }
            Mode::Line => {
                // The client's terminal edits from now on; it already shows
                // what was typed (drawn now).
                self.flush(out);
                self.reader.set_partial(self.editor.take().into_bytes());
                self.keys = Decoder::default();
            }
        }
    }

    fn key(
        &mut self,
        key: Key,
        out: &mut Vec<u8>,
        events: &mut Vec<Event>,
        complete: &mut dyn FnMut(&str) -> Vec<String>,
    ) {
        let change = match key {
            Key::Char(c) => match self.editor.insert(c) {
                Some(change) => change,
                None => return self.bell(out),
            },
            Key::Enter => {
                self.flush(out);
                let line = self.editor.submit();
                if self.shown && !self.view {
                    out.extend_from_slice(b"\r\n");
                }
                // The core answers and writes the next prompt; until then
                // keystrokes are kept, not echoed.
                self.shown = false;
                self.deciding = false;
                events.push(Event::Line(line.into_bytes()));
                return;
            }
            Key::Backspace => self.editor.backspace(),
            Key::Delete => self.editor.delete(),
            Key::KillLine => self.editor.kill_line(),
            Key::KillWord => self.editor.kill_word(),
            Key::Left => self.editor.left(),
            Key::Right => self.editor.right(),
            Key::Home => self.editor.home(),
            Key::End => self.editor.end(),
            Key::Up => self.editor.up(),
            Key::Down => self.editor.down(),
            Key::Tab => return self.tab(out, complete),
            Key::CtrlC | Key::CtrlD if self.editor.is_empty() => {
                self.flush(out);
                events.push(Event::Interrupt);
                return;
            }
            Key::CtrlC => self.editor.kill_line(),
            Key::CtrlD => Change::None,
            Key::Cpr { rows, cols } => {
                // Never input; only the answer to our question sets the size.
                if std::mem::replace(&mut self.cpr_pending, false) {
                    self.report_size(cols, rows);
                }
                return;
            }
        };
        self.draw(change);
    }

    fn tab(&mut self, out: &mut Vec<u8>, complete: &mut dyn FnMut(&str) -> Vec<String>) {
        let candidates = complete(self.editor.before_cursor());
        match self.editor.complete(candidates) {
            Completion::Bell => self.bell(out),
            Completion::Done(change) => self.draw(change),
            Completion::List(..) if self.view => self.bell(out),
            Completion::List(names, more) => {
                if !self.shown {
                    return;
                }
                self.flush(out);
                out.extend_from_slice(b"\r\n");
                for (i, name) in names.iter().enumerate() {
                    if i > 0 {
                        out.extend_from_slice(b"  ");
                    }
                    out.extend_from_slice(name.as_bytes());
                }
                if more > 0 {
                    out.extend_from_slice(format!("  \u{2026} and {more} more").as_bytes());
                }
                out.extend_from_slice(b"\r\n");
                out.extend_from_slice(self.prompt.as_bytes());
                let screen = Screen {
                    prompt: &self.prompt,
                    prompt_width: self.prompt_width,
                    cols: usize::from(self.size.cols),
                };
                self.editor.after_prompt(&screen, out);
            }
        }
    }

    /// Notes an edit; it is drawn by [`Terminal::flush`], once per read.
    fn draw(&mut self, change: Change) {
        if self.shown {
            self.editor.mark(change);
        }
    }

    /// Draws the edits noted so far (before anything else is written).
    fn flush(&mut self, out: &mut Vec<u8>) {
        if self.shown {
            let screen = Screen {
                prompt: &self.prompt,
                prompt_width: self.prompt_width,
                cols: usize::from(self.size.cols),
            };
            self.editor.flush(&screen, out);
        } else {
            self.editor.discard();
        }
    }

    fn bell(&mut self, out: &mut Vec<u8>) {
        if self.shown && !std::mem::replace(&mut self.rang, true) {
            self.flush(out);
            out.push(0x07);
        }
    }

    /// A size from NAWS or CPR: each 0 is ignored, larger values clamped.
    fn report_size(&mut self, cols: u16, rows: u16) {
        if cols == 0 && rows == 0 {
            return; // says nothing
        }
        // The first report counts even when it matches the 80×24 assumed
        // so far: the size is known now, not assumed.
        if self.set_size(Size { cols, rows }) || !self.reported {
            self.resized = true;
        }
        self.reported = true;
    }

    /// The core just wrote a prompt (`view` = the chat view's input row):
    /// appends to `out` the prompt text and, in char mode, the half-typed
    /// line with the cursor placed where it was (horizontally scrolled to
    /// fit `size().cols` if needed). In line mode appends exactly `prompt`.
    /// Remembers the prompt for later redraws.
    pub fn prompt(&mut self, prompt: &str, view: bool, out: &mut Vec<u8>) {
        out.extend_from_slice(prompt.as_bytes());
        // Redraws start at the row's beginning: keep the last row only.
        let row = match prompt.rfind(['\r', '\n']) {
            Some(i) => prompt.get(i + 1..).unwrap_or(""),
            None => prompt,
        };
        self.prompt.clear();
        self.prompt.push_str(row);
        self.prompt_width = editor::prompt_width(row);
        self.view = view;
        self.shown = true;
        if self.mode == Mode::Char {
            let screen = Screen {
                prompt: &self.prompt,
                prompt_width: self.prompt_width,
                cols: usize::from(self.size.cols),
            };
            self.editor.after_prompt(&screen, out);
        }
    }

    /// No prompt is shown now (connecting, closing): keystrokes are kept
    /// but not echoed until the next prompt().
    pub fn clear_prompt(&mut self) {
        self.shown = false;
    }

    /// Password input (added for SPEC §8): while on, character mode shows
    /// each typed character as `*` and keeps the line out of history.
    pub fn set_secret(&mut self, secret: bool) {
        self.editor.set_secret(secret);
    }

    /// Line or character mode.
    pub fn mode(&self) -> Mode {
        self.mode
    }

    /// The terminal's size as last reported (80×24 until then).
    pub fn size(&self) -> Size {
        self.size
    }

    /// Size set from elsewhere (the `:size` command): each 0 is ignored,
    /// larger values clamped. Returns whether it changed.
    pub fn set_size(&mut self, size: Size) -> bool {
        let pick = |new: u16, old: u16, max: u16| if new == 0 { old } else { new.min(max) };
        let new = Size {
            cols: pick(size.cols, self.size.cols, MAX_COLS),
            rows: pick(size.rows, self.size.rows, MAX_ROWS),
        };
        let changed = new != self.size;
        self.size = new;
        changed
    }

    /// Whether the size changed (NAWS, CPR) since the last call; clears
    /// the flag.
    pub fn take_resize(&mut self) -> Option<Size> {
        std::mem::replace(&mut self.resized, false).then_some(self.size)
    }

    /// Whether the mode changed since the last call; clears the flag.
    pub fn take_mode_change(&mut self) -> Option<Mode> {
        (std::mem::replace(&mut self.reported_mode, self.mode) != self.mode).then_some(self.mode)
    }

    /// An SSH pty (SPEC §12): character mode from the start, without
    /// telnet; the size comes from the pty request, so no cursor-position
    /// report is asked for.
    pub fn set_pty(&mut self) {
        self.naws_size = true;
        let mut out = Vec::new();
        self.set_mode(Mode::Char, &mut out);
    }

    /// A size the client's side reported outside telnet (an SSH pty
    /// request or window change): taken like a NAWS report, so the core
    /// redraws to fit.
    pub fn client_size(&mut self, cols: u16, rows: u16) {
        self.naws_size |= cols != 0 && rows != 0;
        self.report_size(cols, rows);
    }

    /// Bytes buffered (partial line, editor, history, partial escape and
    /// telnet sequences): for bounds checks. At most twice the line limit
    /// plus [`editor::HISTORY_BYTES`] and a few bytes.
    pub fn buffered(&self) -> usize {
        self.reader.buffered()
            + self.editor.buffered()
            + self.keys.buffered()
            + self.telnet.buffered()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A terminal with a completer that offers `names`.
    struct Client {
        term: Terminal,
        names: Vec<String>,
        out: Vec<u8>,
        events: Vec<Event>,
    }

    impl Client {
        fn new(max_line: usize, telnet: bool) -> Client {
            Client {
                term: Terminal::new(max_line, telnet),
                names: Vec::new(),
                out: Vec::new(),
                events: Vec::new(),
            }
        }

        /// Feeds `bytes` in one read; returns what was sent back.
        fn feed(&mut self, bytes: &[u8]) -> String {
            let mut out = Vec::new();
            let names = self.names.clone();
            self.term
                .feed(bytes, &mut out, &mut self.events, &mut |_| names.clone());
            self.out.extend_from_slice(&out);
            String::from_utf8_lossy(&out).into_owned()
        }

        fn prompt(&mut self, p: &str, view: bool) -> String {
            let mut out = Vec::new();
            self.term.prompt(p, view, &mut out);
            String::from_utf8_lossy(&out).into_owned()
        }

        fn events(&mut self) -> Vec<Event> {
            std::mem::take(&mut self.events)
        }

        /// A raw (socat) client at the palette prompt: character mode, the
        /// size already asked.
        fn raw_at_prompt(cols: u16) -> Client {
            let mut c = Client::new(1024, false);
            c.term.set_size(Size { cols, rows: 24 });
            c.prompt("> ", false);
            c.feed(b"\x1b[D");
            assert_eq!(c.term.mode(), Mode::Char);
            c
        }
    }

    fn line(s: &str) -> Event {
        Event::Line(s.as_bytes().to_vec())
    }

    const NETKIT_ANSWER: &[u8] =
        b"\xff\xfd\x01\xff\xfd\x03\xff\xfb\x1f\xff\xfa\x1f\x00\x64\x00\x1e\xff\xf0";

    // ---- line mode -------------------------------------------------------

    #[test]
    fn nc_line_stream_stays_in_line_mode_and_sends_nothing_back() {
        let mut c = Client::new(1024, true);
        assert_eq!(c.prompt("Enter a username: ", false), "Enter a username: ");
        assert_eq!(c.feed(b"me\n:rooms\n"), "");
        assert_eq!(c.events(), vec![line("me"), line(":rooms")]);
        // After a line, short reads are just a slow line.
        assert_eq!(c.feed(b"hi"), "");
        assert_eq!(c.feed(b"\x7f!\n"), "");
        assert_eq!(c.events(), vec![Event::Line(b"hi\x7f!".to_vec())]);
        assert_eq!(c.term.mode(), Mode::Line);
        assert_eq!(c.term.take_mode_change(), None);
        assert_eq!(c.prompt("> ", false), "> ");
    }

    #[test]
    fn line_mode_keeps_every_line_ending_and_the_limit() {
        let mut c = Client::new(3, false);
        c.feed(b"a\nb\r\nc\r\0d\re\n\nabc\nabcd\nok\r");
        assert_eq!(
            c.events(),
            vec![
                line("a"),
                line("b"),
                line("c"),
                line("d"),
                line("e"),
                line(""),
                line("abc"),
                Event::TooLong,
                line("ok")
            ]
        );
    }

    #[test]
    fn line_mode_strips_telnet_commands() {
        // IAC DO ECHO, IAC WILL SGA, IAC SB NAWS … IAC SE, IAC NOP, IAC IAC.
        let input = b"\xff\xfd\x01a\xff\xfb\x03b\xff\xfa\x1f\x00\x50\xff\xff\x00\x18\xff\xf0c\xff\xf1d\xff\xffe\n";
        let mut c = Client::new(100, false);
        c.feed(input);
        assert_eq!(c.events(), vec![Event::Line(b"abcd\xffe".to_vec())]);
        // Split into single bytes after a first line (a lone byte before it
        // would look like a raw keystroke).
        let mut c = Client::new(100, false);
        c.feed(b"first\n");
        for b in b"x\xff\xfa\x18\x01\xff\xf0y\n" {
            c.feed(&[*b]);
        }
        assert_eq!(c.events(), vec![line("first"), line("xy")]);
        assert_eq!(c.term.mode(), Mode::Line);
    }

    #[test]
    fn line_mode_partial_line_is_buffered_and_bounded() {
        let mut c = Client::new(64, false);
        c.feed(b"first\n");
        for _ in 0..100 {
            c.feed(&[b'y'; 1000]);
            assert!(c.term.buffered() <= 64);
        }
        c.feed(b"\nok\n");
        assert_eq!(c.events(), vec![line("first"), Event::TooLong, line("ok")]);
    }

    #[test]
    fn telnet_interrupt_on_an_empty_line_in_line_mode() {
        let mut c = Client::new(100, true);
        c.feed(b"name\r\n\xff\xf4");
        c.feed(b"half\xff\xf4line\r\n");
        assert_eq!(
            c.events(),
            vec![line("name"), Event::Interrupt, line("halfline")]
        );
    }

    // ---- telnet ----------------------------------------------------------

    #[test]
    fn greeting_is_the_offer_then_an_erase_or_nothing() {
        assert_eq!(
            Terminal::new(10, true).greeting(),
            b"\xff\xfb\x01\xff\xfb\x03\xff\xfd\x1f\r\x1b[K"
        );
        assert_eq!(Terminal::new(10, false).greeting(), b"");
    }

    #[test]
    fn netkit_telnet_gets_character_mode_and_its_size() {
        let mut c = Client::new(1024, true);
        // netkit also offers a terminal type, which is refused.
        c.feed(&[NETKIT_ANSWER, b"\xff\xfb\x18"].concat());
        assert_eq!(c.out, b"\xff\xfe\x18");
        assert_eq!(c.term.mode(), Mode::Char);
        assert_eq!(c.term.take_mode_change(), Some(Mode::Char));
        assert_eq!(c.term.take_mode_change(), None);
        assert_eq!(
            c.term.size(),
            Size {
                cols: 100,
                rows: 30
            }
        );
        assert_eq!(
            c.term.take_resize(),
            Some(Size {
                cols: 100,
                rows: 30
            })
        );
        assert_eq!(c.term.take_resize(), None);
        // Typing is echoed at the prompt; Enter (\r\0) submits.
        assert_eq!(c.prompt("Enter a username: ", false), "Enter a username: ");
        assert_eq!(c.feed(b"b"), "b");
        assert_eq!(c.feed(b"o"), "o");
        assert_eq!(c.feed(b"b\r\0"), "b\r\n");
        assert_eq!(c.events(), vec![line("bob")]);
        // A resize comes as another NAWS report.
        c.feed(b"\xff\xfa\x1f\x00\x78\x00\x28\xff\xf0");
        assert_eq!(
            c.term.take_resize(),
            Some(Size {
                cols: 120,
                rows: 40
            })
        );
    }

    #[test]
    fn negotiation_split_byte_by_byte_is_the_same() {
        let mut c = Client::new(1024, true);
        for b in NETKIT_ANSWER {
            c.feed(&[*b]);
        }
        assert_eq!(c.term.mode(), Mode::Char);
        assert_eq!(
            c.term.size(),
            Size {
                cols: 100,
                rows: 30
            }
        );
        // No CPR query: NAWS was agreed to.
        assert!(!c.out.windows(4).any(|w| w == b"\x1b[6n"));
    }

    #[test]
    fn telnet_client_that_answers_nothing_stays_in_line_mode() {
        let mut c = Client::new(1024, true);
        assert_eq!(c.feed(b"alice\r\n"), "");
        assert_eq!(c.term.mode(), Mode::Line);
        assert_eq!(c.events(), vec![line("alice")]);
    }

    #[test]
    fn telnet_character_mode_without_naws_asks_the_size_once() {
        let mut c = Client::new(1024, true);
        c.feed(b"\xff\xfd\x01\xff\xfd\x03\xff\xfc\x1f");
        assert_eq!(c.out, CPR_QUERY);
        // The answer is consumed, never input, and sets the size.
        c.prompt("> ", false);
        assert_eq!(c.feed(b"a\x1b[50;132Rb"), "ab");
        assert_eq!(
            c.term.take_resize(),
            Some(Size {
                cols: 132,
                rows: 50
            })
        );
        // Back and forth again: no second question.
        let out = c.feed(b"\xff\xfe\x01\xff\xfd\x01");
        assert!(!out.contains("\x1b[6n"), "{out:?}");
    }

    #[test]
    fn a_report_nobody_asked_for_is_still_not_input() {
        let mut c = Client::raw_at_prompt(80);
        c.feed(b"\x1b[10;20R"); // answers the question
        assert_eq!(c.term.size(), Size { cols: 20, rows: 10 });
        c.feed(b"\x1b[30;40Rx\r");
        assert_eq!(c.term.size(), Size { cols: 20, rows: 10 });
        assert_eq!(c.events(), vec![line("x")]);
    }

    #[test]
    fn leaving_character_mode_keeps_the_half_typed_line() {
        let mut c = Client::new(1024, true);
        c.feed(NETKIT_ANSWER);
        c.prompt("> ", false);
        c.feed(b"half");
        c.out.clear();
        c.feed(b"\xff\xfe\x01");
        assert_eq!(c.out, b"\xff\xfc\x01");
        assert_eq!(c.term.mode(), Mode::Line);
        assert_eq!(c.term.take_mode_change(), None); // Char, then Line again
        c.feed(b" more\r\n");
        assert_eq!(c.events(), vec![line("half more")]);
    }

    #[test]
    fn naws_extremes_are_clamped_or_ignored() {
        let mut c = Client::new(1024, true);
        c.feed(b"\xff\xfb\x1f\xff\xfa\x1f\x00\x00\x00\x00\xff\xf0");
        assert_eq!(c.term.size(), Size::DEFAULT);
        assert_eq!(c.term.take_resize(), None);
        c.feed(b"\xff\xfa\x1f\xff\xff\xff\xff\xff\xff\xff\xff\xff\xf0");
        assert_eq!(
            c.term.take_resize(),
            Some(Size {
                cols: MAX_COLS,
                rows: MAX_ROWS
            })
        );
        // One dimension unknown: the other still counts.
        c.feed(b"\xff\xfa\x1f\x00\x00\x00\x10\xff\xf0");
        assert_eq!(
            c.term.size(),
            Size {
                cols: MAX_COLS,
                rows: 16
            }
        );
    }

    #[test]
    fn set_size_ignores_zero_and_clamps() {
        let mut t = Terminal::new(10, false);
        assert!(!t.set_size(Size::DEFAULT));
        assert!(t.set_size(Size { cols: 0, rows: 50 }));
        assert_eq!(t.size(), Size { cols: 80, rows: 50 });
        assert!(t.set_size(Size {
            cols: 9999,
            rows: 9999
        }));
        assert_eq!(
            t.size(),
            Size {
                cols: MAX_COLS,
                rows: MAX_ROWS
            }
        );
        assert_eq!(t.take_resize(), None);
    }

    // ---- raw clients -----------------------------------------------------

    #[test]
    fn raw_socat_keystrokes_switch_to_character_mode() {
        let mut c = Client::new(1024, false);
        assert_eq!(c.prompt("Enter a username: ", false), "Enter a username: ");
        let out = c.feed(b"a");
        assert_eq!(out, format!("a{}", String::from_utf8_lossy(CPR_QUERY)));
        assert_eq!(c.term.take_mode_change(), Some(Mode::Char));
        assert_eq!(c.feed(b"\x1b[24;100R"), "");
        assert_eq!(
            c.term.take_resize(),
            Some(Size {
                cols: 100,
                rows: 24
            })
        );
        assert_eq!(c.feed(b"l"), "l");
        assert_eq!(c.feed(b"x"), "x");
        assert_eq!(c.feed(b"\x7f"), "\rEnter a username: al\x1b[K");
        assert_eq!(c.feed(b"\r"), "\r\n");
        assert_eq!(c.events(), vec![line("al")]);
        // Until the next prompt, typing is kept but not shown.
        assert_eq!(c.feed(b":h"), "");
        assert_eq!(c.prompt("> ", false), "> :h\x1b[K");
        assert_eq!(c.feed(b"\x1b[D"), "\r\x1b[3C");
    }

    #[test]
    fn a_first_line_ending_in_a_bare_cr_is_a_raw_terminal() {
        // A name pasted (or typed faster than one read) in raw socat.
        let mut c = Client::new(1024, false);
        c.prompt("Enter a username: ", false);
        let out = c.feed(b"annabelle-long\r");
        assert_eq!(c.term.mode(), Mode::Char);
        assert!(out.starts_with("annabelle-long\r\n"), "{out:?}");
        assert_eq!(c.events(), vec![line("annabelle-long")]);
        // A cooked terminal's `\n`, and telnet's `\r\n` and `\r\0`, are lines.
        for ending in [&b"\n"[..], b"\r\n", b"\r\0"] {
            let mut c = Client::new(1024, false);
            c.prompt("Enter a username: ", false);
            c.feed(&[&b"annabelle-long"[..], ending].concat());
            assert_eq!(c.term.mode(), Mode::Line, "{ending:?}");
            assert_eq!(c.events(), vec![line("annabelle-long")]);
        }
    }

    #[test]
    fn keystrokes_while_connecting_are_kept_and_shown_at_the_prompt() {
        let mut c = Client::new(1024, false);
        c.term.clear_prompt();
        for b in b"bob" {
            c.feed(&[*b]);
        }
        assert_eq!(c.out, CPR_QUERY);
        assert_eq!(
            c.prompt("Enter a username: ", false),
            "Enter a username: bob\x1b[K"
        );
        c.feed(b"\r");
        assert_eq!(c.events(), vec![line("bob")]);
    }

    #[test]
    fn what_was_typed_before_the_switch_moves_into_the_editor() {
        let mut c = Client::new(1024, false);
        c.prompt("> ", false);
        // A longer read with no line end is not yet a keystroke…
        assert_eq!(c.feed(b"hello there"), "");
        assert_eq!(c.term.mode(), Mode::Line);
        // …but a backspace is.
        let out = c.feed(b"\x7f");
        assert!(
            out.starts_with("\r> hello there\x1b[K\r> hello ther\x1b[K"),
            "{out:?}"
        );
        c.feed(b"e!\r");
        assert_eq!(c.events(), vec![line("hello there!")]);
    }

    #[test]
    fn escape_sequence_or_edit_key_in_a_long_read_is_a_keystroke() {
        let mut c = Client::new(1024, false);
        c.feed(b"abcdefghij\x1b[D");
        assert_eq!(c.term.mode(), Mode::Char);
        let mut c = Client::new(1024, false);
        c.feed(b"abcdefghij\x08");
        assert_eq!(c.term.mode(), Mode::Char);
        // With a line end it is a cooked terminal's line.
        let mut c = Client::new(1024, false);
        c.feed(b"ab\x1b[Dc\n");
        assert_eq!(c.term.mode(), Mode::Line);
        assert_eq!(c.events(), vec![Event::Line(b"ab\x1b[Dc".to_vec())]);
        // Negotiation alone is not a keystroke.
        let mut c = Client::new(1024, true);
        c.feed(b"\xff\xfe\x01");
        assert_eq!(c.term.mode(), Mode::Line);
    }

    // ---- editing ---------------------------------------------------------

    #[test]
    fn every_enter_submits_once() {
        let mut c = Client::raw_at_prompt(80);
        c.feed(b"a\r\nb\r\0c\nd\r");
        assert_eq!(c.events(), vec![line("a"), line("b"), line("c"), line("d")]);
    }

    #[test]
    fn edit_keys_through_the_terminal() {
        let mut c = Client::raw_at_prompt(80);
        c.feed(b"one two");
        assert_eq!(c.feed(b"\x01"), "\r\x1b[2C");
        assert_eq!(c.feed(b"\x1b[3~"), "\r> ne two\x1b[K\r\x1b[2C");
        assert_eq!(c.feed(b"\x05"), "\r\x1b[8C");
        assert_eq!(c.feed(b"\x17"), "\r> ne \x1b[K");
        assert_eq!(c.feed(b"\x1bOH"), "\r\x1b[2C");
        assert_eq!(c.feed(b"\x1b[C"), "\r\x1b[3C");
        assert_eq!(c.feed(b"\x1b[F"), "\r\x1b[5C");
        assert_eq!(c.feed(b"\x1b[1~"), "\r\x1b[2C");
        assert_eq!(c.feed(b"\x1b[4~"), "\r\x1b[5C");
        // Keys that come in one read are drawn once.
        assert_eq!(c.feed(b"\x1b[7~\x1bOC\x1b[8~\x1b[H\x1bOC"), "\r\x1b[3C");
        assert_eq!(c.feed(b"\x15"), "\r> \x1b[K");
        c.feed(b"x\r");
        assert_eq!(c.events(), vec![line("x")]);
    }

    #[test]
    fn ctrl_c_and_ctrl_d() {
        let mut c = Client::raw_at_prompt(80);
        c.feed(b"\x03");
        assert_eq!(c.events(), vec![Event::Interrupt]);
        c.feed(b"\x04");
        assert_eq!(c.events(), vec![Event::Interrupt]);
        c.feed(b"ab");
        assert_eq!(c.feed(b"\x04"), "");
        assert_eq!(c.feed(b"\x03"), "\r> \x1b[K");
        assert_eq!(c.events(), vec![]);
        c.feed(b"\x03");
        assert_eq!(c.events(), vec![Event::Interrupt]);
        // Telnet's IP is the same key.
        let mut c = Client::new(100, true);
        c.feed(NETKIT_ANSWER);
        c.feed(b"\xff\xf4");
        assert_eq!(c.events(), vec![Event::Interrupt]);
        c.feed(b"x\xff\xf4y\r");
        assert_eq!(c.events(), vec![line("y")]);
    }

    #[test]
    fn enter_in_the_chat_view_writes_nothing() {
        let mut c = Client::raw_at_prompt(80);
        c.prompt("> ", true);
        assert_eq!(c.feed(b"hi"), "hi");
        assert_eq!(c.feed(b"\r"), "");
        assert_eq!(c.events(), vec![line("hi")]);
    }

    #[test]
    fn output_above_the_line_then_prompt_restores_it() {
        let mut c = Client::raw_at_prompt(80);
        c.feed(b"half typed");
        c.feed(b"\x1b[D\x1b[D");
        // The core wrote a DM above; the prompt puts the line back.
        assert_eq!(c.prompt("> ", false), "> half typed\x1b[K\r\x1b[10C");
        // A multi-row prompt: redraws use its last row.
        c.prompt("Are you sure?\r\n[room/x]> ", false);
        assert_eq!(c.feed(b"\x15"), "\r[room/x]> \x1b[K");
    }

    #[test]
    fn line_limit_rings_the_bell_once_per_read() {
        let mut c = Client::raw_at_prompt(80);
        c.term = {
            let mut t = Terminal::new(4, false);
            t.prompt("> ", false, &mut Vec::new());
            t
        };
        c.feed(b"\x1b[D");
        c.out.clear();
        assert_eq!(c.feed(b"abcdefgh"), "abcd\x07");
        c.feed(b"\r");
        assert_eq!(c.events(), vec![line("abcd")]);
    }

    #[test]
    fn history_with_arrow_keys() {
        let mut c = Client::raw_at_prompt(80);
        for l in ["one\r", "two\r"] {
            c.feed(l.as_bytes());
            c.prompt("> ", false);
        }
        c.feed(b"dra");
        assert_eq!(c.feed(b"\x1b[A"), "\r> two\x1b[K");
        assert_eq!(c.feed(b"\x1bOA"), "\r> one\x1b[K");
        assert_eq!(c.feed(b"\x1b[A"), "");
        c.feed(b"\x1b[B\x1b[B");
        assert_eq!(c.feed(b"\r"), "\r\n");
        assert_eq!(c.events(), vec![line("one"), line("two"), line("dra")]);
    }

    #[test]
    fn wide_line_scrolls_sideways() {
        let mut c = Client::raw_at_prompt(12);
        let out = c.feed("日本語日本".as_bytes());
        assert!(out.ends_with("\r> 日本\x1b[K"), "{out:?}");
        // Home shows the start; the cursor is after the prompt.
        let out = c.feed(b"\x01");
        assert_eq!(out, "\r> 日本語日\x1b[K\r\x1b[2C");
        c.feed(b"\r");
        assert_eq!(c.events(), vec![line("日本語日本")]);
    }

    // ---- completion ------------------------------------------------------

    #[test]
    fn tab_completes_one_candidate_with_a_space() {
        let mut c = Client::raw_at_prompt(80);
        c.names = vec![":join".into()];
        c.feed(b":j");
        assert_eq!(c.feed(b"\t"), "\r> :join \x1b[K");
    }

    #[test]
    fn tab_extends_to_the_common_prefix_then_lists() {
        let mut c = Client::raw_at_prompt(80);
        c.names = vec![
            "general".into(),
            "games".into(),
            "generic".into(),
            "Gen".into(),
        ];
        c.feed(b":join Ge");
        assert_eq!(c.feed(b"\t"), "\r> :join gen\x1b[K");
        let out = c.feed(b"\t");
        assert_eq!(out, "\r\ngeneral  generic  Gen\r\n> :join gen\x1b[K");
        c.names.truncate(1);
        c.feed(b"\t");
        c.feed(b"\r");
        assert_eq!(c.events(), vec![line(":join general ")]);
    }

    #[test]
    fn tab_in_the_view_rings_instead_of_listing() {
        let mut c = Client::raw_at_prompt(80);
        c.prompt("> ", true);
        c.names = vec!["@ann".into(), "@anna".into()];
        c.feed(b"@an");
        assert_eq!(c.feed(b"\t"), "\r> @ann\x1b[K");
        assert_eq!(c.feed(b"\t"), "\x07");
    }

    #[test]
    fn tab_without_candidates_rings() {
        let mut c = Client::raw_at_prompt(80);
        c.feed(b"xyz");
        assert_eq!(c.feed(b"\t"), "\x07");
    }

    #[test]
    fn tab_with_ten_thousand_candidates() {
        let mut c = Client::raw_at_prompt(80);
        c.names = (0..10_000).map(|i| format!("name{i:05}")).collect();
        c.feed(b"n");
        assert_eq!(c.feed(b"\t"), "\r> name0\x1b[K");
        let out = c.feed(b"\t");
        assert!(out.starts_with("\r\nname00000  name00001"), "{out:?}");
        assert!(out.contains("name00019  \u{2026} and 9980 more\r\n> name0"));
        assert_eq!(out.matches("  ").count(), 20);
    }

    // ---- hostile input ---------------------------------------------------

    #[test]
    fn a_million_arrow_keys() {
        let mut c = Client::raw_at_prompt(80);
        c.feed(b"some text");
        let arrows = b"\x1b[D\x1b[C\x1b[A\x1b[B".repeat(1024);
        for _ in 0..250 {
            c.out.clear();
            c.feed(&arrows);
            assert!(c.term.buffered() < 64);
        }
        c.feed(b"\r");
        assert_eq!(c.events(), vec![line("some text")]);
    }

    #[test]
    fn endless_subnegotiation_is_bounded() {
        let mut c = Client::new(100, true);
        c.feed(b"\xff\xfa\x18");
        for _ in 0..256 {
            c.feed(&[b'x'; 4096]);
            assert!(c.term.buffered() <= 16);
        }
        c.feed(b"\xff\xf0ok\r\n");
        assert_eq!(c.events(), vec![line("ok")]);
    }

    #[test]
    fn endless_cursor_report_is_bounded() {
        let mut c = Client::raw_at_prompt(80);
        c.feed(b"\x1b[");
        for _ in 0..256 {
            c.feed(&[b'9'; 4096]);
            assert!(c.term.buffered() <= 64);
        }
        c.feed(b";5Rok\r");
        assert_eq!(c.events(), vec![line("ok")]);
        assert_eq!(c.term.size().cols, 80);
    }

    #[test]
    fn random_bytes_in_random_reads_stay_bounded() {
        let mut rng = 0x2545_f491_u32;
        let mut next = move || {
            rng ^= rng << 13;
            rng ^= rng >> 17;
            rng ^= rng << 5;
            rng
        };
        for telnet in [false, true] {
            for max in [16, 1024] {
                let mut c = Client::new(max, telnet);
                c.names = vec!["alpha".into(), "alps".into(), "beta".into()];
                for round in 0..2000 {
                    let n = next() as usize % 64 + 1;
                    let bytes: Vec<u8> = (0..n)
                        .map(|_| {
                            // Favour the bytes that mean something.
                            let r = next();
                            match r % 8 {
                                0 => 0xff,
                                1 => 0x1b,
                                2 => [b'\r', b'\n', b'\t', 0x7f, 3, b'[', b';'][r as usize / 8 % 7],
                                _ => (r >> 8) as u8,
                            }
                        })
                        .collect();
                    c.feed(&bytes);
                    if round % 7 == 0 {
                        c.prompt("> ", round % 2 == 0);
                    }
                    assert!(c.term.buffered() <= 2 * max + editor::HISTORY_BYTES + 64);
                    for e in c.events() {
                        if let Event::Line(l) = e {
                            assert!(l.len() <= max);
                        }
                    }
                    c.out.clear();
                }
            }
        }
    }

    #[test]
    fn an_idle_terminal_is_small_and_holds_nothing() {
        let t = Terminal::new(1024, true);
        assert!(
            std::mem::size_of::<Terminal>() <= 288,
            "{}",
            std::mem::size_of::<Terminal>()
        );
        assert_eq!(t.buffered(), 0);
        let mut c = Client::raw_at_prompt(80);
        c.feed(b"hello\r");
        // Only the history holds the line now.
        assert_eq!(c.term.buffered(), 5);
    }
}
