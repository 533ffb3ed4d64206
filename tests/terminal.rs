//! SPEC §8 (terminals) and §9's first bullet (the chat view fits), as a
//! person at a terminal sees them: each client's received bytes go through
//! a VT emulator (the `vt100` crate) and the tests assert what is on its
//! screen — every row's text, the cursor, and that nothing scrolled (the
//! whole screen is compared, so a scroll shows as every row moved up).
//!
//! Clients: `Term::telnet` is netkit telnet in character mode (answers the
//! offer with DO ECHO, DO SGA, WILL NAWS and its size); `Term::raw` is
//! `socat -,raw,echo=0` (answers no telnet, but its terminal answers a
//! cursor-position query); `Term::line` is `nc` on a cooked terminal
//! (answers nothing; the terminal echoes a line itself and sends it on
//! Enter). Every wait polls reads against a deadline.

mod common;
use common::*;
use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};
use unicode_width::{UnicodeWidthChar, UnicodeWidthStr};

// ---- keys ----------------------------------------------------------------

const LEFT: &str = "\x1b[D";
const RIGHT: &str = "\x1b[C";
const UP: &str = "\x1b[A";
const DOWN: &str = "\x1b[B";
const HOME: &str = "\x1b[H";
const END: &str = "\x1b[F";
const TAB: &str = "\t";
const BACKSPACE: &str = "\x7f";
const CTRL_H: &str = "\x08";
const CTRL_A: &str = "\x01";
const CTRL_C: &str = "\x03";
const CTRL_E: &str = "\x05";
const CTRL_U: &str = "\x15";
const CTRL_W: &str = "\x17";

// ---- telnet --------------------------------------------------------------

const IAC: u8 = 255;
const DONT: u8 = 254;
const DO: u8 = 253;
const WILL: u8 = 251;
const SB: u8 = 250;
const SE: u8 = 240;
const ECHO: u8 = 1;
const SGA: u8 = 3;
const NAWS: u8 = 31;

/// IAC SB NAWS <cols16> <rows16> IAC SE, a 255 byte doubled.
fn naws(cols: u16, rows: u16) -> Vec<u8> {
    let mut out = vec![IAC, SB, NAWS];
    for b in [cols.to_be_bytes(), rows.to_be_bytes()].concat() {
        out.push(b);
        if b == IAC {
            out.push(IAC);
        }
    }
    out.extend_from_slice(&[IAC, SE]);
    out
}

/// Where the telnet stripper is: what the emulator must never see.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Iac {
    Data,
    Cmd,
    Verb(u8),
    Sub,
    SubCmd,
}

// ---- the client ----------------------------------------------------------

/// How the client's terminal talks to the server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// netkit telnet in character mode.
    Telnet,
    /// `socat -,raw,echo=0`.
    Raw,
    /// `nc` on a cooked terminal.
    Line,
}

/// What the emulator noticed besides drawing.
#[derive(Debug, Default)]
struct Seen {
    /// Answer ESC[6n with the cursor position, as a real terminal does.
    answer_cpr: bool,
    cpr_queries: usize,
    bells: usize,
    replies: Vec<u8>,
}

impl vt100::Callbacks for Seen {
    fn audible_bell(&mut self, _: &mut vt100::Screen) {
        self.bells += 1;
    }

    fn unhandled_csi(
        &mut self,
        screen: &mut vt100::Screen,
        i1: Option<u8>,
        _: Option<u8>,
        params: &[&[u16]],
        c: char,
    ) {
        if c == 'n' && i1.is_none() && params.len() == 1 && params[0] == [6] {
            self.cpr_queries += 1;
            if self.answer_cpr {
                let (row, col) = screen.cursor_position();
                let reply = format!("\x1b[{};{}R", row + 1, col + 1);
                self.replies.extend_from_slice(reply.as_bytes());
            }
        }
    }
}

/// A person at a terminal of `cols`×`rows`, connected to the server.
struct Term {
    stream: TcpStream,
    kind: Kind,
    vt: vt100::Parser<Seen>,
    cols: u16,
    rows: u16,
    iac: Iac,
    /// Telnet negotiations the server sent: (verb, option).
    offers: Vec<(u8, u8)>,
    /// Every data byte received (telnet stripped), for counting.
    received: Vec<u8>,
    closed: bool,
}

impl Term {
    fn connect(addr: SocketAddr, kind: Kind, cols: u16, rows: u16) -> Term {
        let stream = TcpStream::connect_timeout(&addr, TIMEOUT).expect("connect");
        stream.set_nodelay(true).unwrap();
        let seen = Seen {
            answer_cpr: kind == Kind::Raw,
            ..Seen::default()
        };
        let vt = vt100::Parser::new_with_callbacks(nz(rows), nz(cols), 0, seen);
        Term {
            stream,
            kind,
            vt,
            cols,
            rows,
            iac: Iac::Data,
            offers: Vec::new(),
            received: Vec::new(),
            closed: false,
        }
    }

    /// netkit telnet in character mode, window `cols`×`rows`.
    fn telnet(addr: SocketAddr, cols: u16, rows: u16) -> Term {
        Term::connect(addr, Kind::Telnet, cols, rows)
    }

    /// socat raw: no telnet; its terminal answers a cursor-position query.
    fn raw(addr: SocketAddr, cols: u16, rows: u16) -> Term {
        Term::connect(addr, Kind::Raw, cols, rows)
    }

    /// nc on a cooked terminal.
    fn line(addr: SocketAddr, cols: u16, rows: u16) -> Term {
        Term::connect(addr, Kind::Line, cols, rows)
    }

    fn screen(&self) -> &vt100::Screen {
        self.vt.screen()
    }

    fn seen(&self) -> &Seen {
        self.vt.callbacks()
    }

    fn send(&mut self, bytes: &[u8]) {
        self.stream.write_all(bytes).expect("send");
    }

    /// Types `keys` one keystroke at a time: one write per character or
    /// escape sequence (the keys above are all ESC and two bytes).
    fn keys(&mut self, keys: &str) {
        assert_ne!(self.kind, Kind::Line, "a cooked terminal sends lines");
        let mut rest = keys;
        while !rest.is_empty() {
            let n = if rest.starts_with('\x1b') {
                3
            } else {
                rest.chars().next().unwrap().len_utf8()
            };
            let (key, tail) = rest.split_at(n);
            self.send(key.as_bytes());
            rest = tail;
        }
    }

    /// The Enter key: `\r\0` from telnet, `\r` from a raw terminal.
    fn enter(&mut self) {
        match self.kind {
            Kind::Telnet => self.send(b"\r\0"),
            Kind::Raw => self.send(b"\r"),
            Kind::Line => panic!("a cooked terminal sends lines"),
        }
    }

    /// A cooked terminal: the line is echoed by the terminal itself as it
    /// is typed, and sent with its Enter.
    fn line_in(&mut self, text: &str) {
        assert_eq!(self.kind, Kind::Line);
        self.vt.process(format!("{text}\r\n").as_bytes());
        self.send(format!("{text}\r\n").as_bytes());
    }

    /// The window is resized: the terminal first, then telnet says so.
    fn resize(&mut self, cols: u16, rows: u16) {
        self.cols = cols;
        self.rows = rows;
        self.vt.set_size(nz(rows), nz(cols));
        self.send(&naws(cols, rows));
    }

    /// Reads once, waiting up to `wait`; feeds the emulator and answers
    /// what the terminal answers. False on timeout.
    fn pump(&mut self, wait: Duration) -> bool {
        self.stream
            .set_read_timeout(Some(wait.max(Duration::from_millis(1))))
            .unwrap();
        let mut buf = vec![0u8; 1 << 16];
        match self.stream.read(&mut buf) {
            Ok(0) => {
                self.closed = true;
                true
            }
            Ok(n) => {
                self.take(&buf[..n]);
                true
            }
            Err(e)
                if matches!(
                    e.kind(),
                    ErrorKind::WouldBlock | ErrorKind::TimedOut | ErrorKind::Interrupted
                ) =>
            {
                false
            }
            Err(_) => {
                self.closed = true;
                true
            }
        }
    }

    /// Splits telnet commands from data; only data reaches the emulator.
    fn take(&mut self, bytes: &[u8]) {
        let mut data = Vec::with_capacity(bytes.len());
        let mut answer = Vec::new();
        for &b in bytes {
            self.iac = match (self.iac, b) {
                (Iac::Data, IAC) => Iac::Cmd,
                (Iac::Data, _) => {
                    data.push(b);
                    Iac::Data
                }
                (Iac::Cmd, IAC) => {
                    data.push(IAC);
                    Iac::Data
                }
                (Iac::Cmd, WILL..=DONT) => Iac::Verb(b),
                (Iac::Cmd, SB) => Iac::Sub,
                (Iac::Cmd, _) => Iac::Data,
                (Iac::Verb(verb), option) => {
                    self.offers.push((verb, option));
                    if self.kind == Kind::Telnet {
                        // What netkit telnet answers.
                        match (verb, option) {
                            (WILL, ECHO) => answer.extend_from_slice(&[IAC, DO, ECHO]),
                            (WILL, SGA) => answer.extend_from_slice(&[IAC, DO, SGA]),
                            (DO, NAWS) => {
                                answer.extend_from_slice(&[IAC, WILL, NAWS]);
                                answer.extend_from_slice(&naws(self.cols, self.rows));
                            }
                            _ => {}
                        }
                    }
                    Iac::Data
                }
                (Iac::Sub, IAC) => Iac::SubCmd,
                (Iac::Sub, _) => Iac::Sub,
                (Iac::SubCmd, SE) => Iac::Data,
                (Iac::SubCmd, _) => Iac::Sub,
            };
        }
        self.received.extend_from_slice(&data);
        self.vt.process(&data);
        answer.append(&mut self.vt.callbacks_mut().replies);
        if !answer.is_empty() {
            self.send(&answer);
        }
    }

    /// Waits (reading) until `ok` holds for the screen; panics with the
    /// screen after TIMEOUT.
    fn wait(&mut self, what: &str, mut ok: impl FnMut(&Term) -> bool) {
        let deadline = Instant::now() + TIMEOUT;
        loop {
            if ok(self) {
                return;
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() || self.closed {
                let why = if self.closed { "closed" } else { "timed out" };
                panic!("{why} waiting for {what}; screen:\n{}", self.dump());
            }
            self.pump(left);
        }
    }

    /// The screen's rows, trailing blanks trimmed.
    fn rows(&self) -> Vec<String> {
        self.screen()
            .rows(0, self.cols)
            .map(|r| r.trim_end().to_string())
            .collect()
    }

    fn cursor(&self) -> (u16, u16) {
        self.screen().cursor_position()
    }

    fn dump(&self) -> String {
        let mut s = String::new();
        for (i, r) in self.rows().iter().enumerate() {
            s.push_str(&format!("{:>3}|{r}\n", i + 1));
        }
        s.push_str(&format!(
            "cursor (row, col), 0-based: {:?}\n",
            self.cursor()
        ));
        s
    }

    /// Waits until the whole screen is `rows` (each compared with trailing
    /// blanks trimmed) and the cursor is at `cursor` (0-based row, col).
    fn expect_screen(&mut self, rows: &[String], cursor: (u16, u16)) {
        let want: Vec<String> = rows.iter().map(|r| r.trim_end().to_string()).collect();
        assert_eq!(want.len(), usize::from(self.rows), "expected screen size");
        let deadline = Instant::now() + TIMEOUT;
        loop {
            if self.rows() == want && self.cursor() == cursor {
                return;
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() || self.closed {
                let mut diff = String::new();
                let got = self.rows();
                for (i, (w, g)) in want.iter().zip(&got).enumerate() {
                    let mark = if w == g { ' ' } else { '!' };
                    diff.push_str(&format!("{mark}{:>3} want |{w}\n     got  |{g}\n", i + 1));
                }
                panic!(
                    "screen never became the expected one ({}); cursor want {cursor:?} got {:?}\n{diff}",
                    if self.closed { "closed" } else { "timed out" },
                    self.cursor()
                );
            }
            self.pump(left);
        }
    }

    /// `expect_screen` for a scrolling (palette) terminal's `model`, the
    /// cursor in its last row at `col`.
    fn expect_scroll(&mut self, model: &Scroll, col: usize) {
        self.expect_screen(&model.screen(), (model.cursor_row(), col as u16));
    }

    /// The count of `needle` in everything received.
    fn count(&self, needle: &str) -> usize {
        let hay = String::from_utf8_lossy(&self.received);
        hay.matches(needle).count()
    }
}

fn nz(n: u16) -> std::num::NonZeroU16 {
    std::num::NonZeroU16::new(n).expect("non-zero size")
}

// ---- expected screens ----------------------------------------------------

/// `text` as a terminal of `cols` columns lays it out: rows of at most
/// `cols` display columns, a wide character never split.
fn wrap(text: &str, cols: usize) -> Vec<String> {
    let mut rows = vec![String::new()];
    let mut used = 0;
    for c in text.chars() {
        let w = c.width().unwrap_or(0);
        if used + w > cols {
            rows.push(String::new());
            used = 0;
        }
        rows.last_mut().unwrap().push(c);
        used += w;
    }
    rows
}

/// A scrolling terminal as a model: every row written since the last
/// clear screen; the last `rows` of them are on screen, the cursor in the
/// last one.
struct Scroll {
    log: Vec<String>,
    cols: usize,
    rows: usize,
}

impl Scroll {
    fn new(cols: u16, rows: u16) -> Scroll {
        Scroll {
            log: Vec::new(),
            cols: usize::from(cols),
            rows: usize::from(rows),
        }
    }

    /// A line of output (wrapped as the terminal wraps it).
    fn line(&mut self, text: &str) -> &mut Scroll {
        self.log.extend(wrap(text, self.cols));
        self
    }

    /// Replaces the last row (the input row, edited).
    fn edit(&mut self, text: &str) -> &mut Scroll {
        *self.log.last_mut().expect("a row") = text.to_string();
        self
    }

    fn screen(&self) -> Vec<String> {
        let start = self.log.len().saturating_sub(self.rows);
        let mut v = self.log[start..].to_vec();
        v.resize(self.rows, String::new());
        v
    }

    fn cursor_row(&self) -> u16 {
        (self.log.len().min(self.rows) - 1) as u16
    }
}

const VERSION: &str = env!("CARGO_PKG_VERSION");
const GENERAL: &str = "[room/general]";

/// The screen up to the username prompt (banner after a clear screen).
fn welcome(cols: u16, rows: u16) -> Scroll {
    let mut s = Scroll::new(cols, rows);
    s.line("/----------\\")
        .line("| WELCOME! |")
        .line("\\----------/")
        .line(&format!("Powered by chatsock v{VERSION}"))
        .line("")
        .line("Pick a username: 1-10 characters, no spaces, not starting with ':'.")
        .line("Enter a username: ");
    s
}

/// A message line: `[NAME<pad>]: TEXT`, the name padded to 10 columns.
fn msg(name: &str, text: &str) -> String {
    let pad = 10usize.saturating_sub(name.width());
    format!("[{name}{}]: {text}", " ".repeat(pad))
}

/// The chat view of a `cols`×`rows` terminal with chatviewMax 20, drawn
/// independently of the server's code: `history` (whole lines, wrapped
/// here) anchored at the bottom of min(20, rows - 2) rows (rows - 3 in
/// line mode), the separator across the width ending in `tag`, the input
/// row `> INPUT` last (line mode: one row above the last).
fn view(
    cols: u16,
    rows: u16,
    char_mode: bool,
    history: &[String],
    tag: &str,
    input: &str,
) -> Vec<String> {
    let (cols, rows) = (usize::from(cols), usize::from(rows));
    let input_row = if char_mode { rows } else { rows - 1 };
    let area = 20.min(input_row - 2);
    let mut wrapped: Vec<String> = history.iter().flat_map(|l| wrap(l, cols)).collect();
    let shown = wrapped.split_off(wrapped.len().saturating_sub(area));
    let mut screen = vec![String::new(); input_row - 2 - shown.len()];
    screen.extend(shown);
    screen.push(format!("{}{tag}", "-".repeat(cols - tag.width())));
    screen.push(format!("> {input}"));
    screen.resize(rows, String::new());
    screen
}

/// Where the cursor is on the chat view's input row after `before`.
fn view_cursor(rows: u16, char_mode: bool, before: &str) -> (u16, u16) {
    let row = if char_mode { rows - 1 } else { rows - 2 };
    (row, 2 + before.width() as u16)
}

// ---- sessions ------------------------------------------------------------

/// Logs `term` in as `name` from the username prompt; returns the model
/// of its palette screen, at the `> ` prompt.
fn login(term: &mut Term, name: &str) -> Scroll {
    let mut s = welcome(term.cols, term.rows);
    term.expect_scroll(&s, 18);
    match term.kind {
        Kind::Line => term.line_in(name),
        Kind::Raw => {
            // A raw terminal is told by its first keystroke alone (a first
            // read that ends a line is a cooked terminal's line).
            let (first, rest) = name.split_at(1);
            term.keys(first);
            s.edit(&format!("Enter a username: {first}"));
            term.expect_scroll(&s, 19);
            term.keys(rest);
            term.enter();
        }
        Kind::Telnet => {
            term.keys(name);
            term.enter();
        }
    }
    s.edit(&format!("Enter a username: {name}"))
        .line(&format!("You are now connected as '{name}'."))
        .line("Type :help to see what you can do.")
        .line("> ");
    term.expect_scroll(&s, 2);
    s
}

/// Types a palette command `line` at `prompt`; the model `s` gets the
/// `reply` lines and the `next` prompt, and the screen must match it.
fn command(term: &mut Term, s: &mut Scroll, prompt: &str, line: &str, reply: &[&str], next: &str) {
    match term.kind {
        Kind::Line => term.line_in(line),
        _ => {
            term.keys(line);
            term.enter();
        }
    }
    s.edit(&format!("{prompt}{line}"));
    for l in reply {
        s.line(l);
    }
    s.line(next);
    term.expect_scroll(s, next.width());
}

/// Joins general from the palette `prompt` and enters its chat view (an
/// empty history: the whole screen is asserted).
fn enter_general(term: &mut Term, s: &mut Scroll, prompt: &str) {
    command(
        term,
        s,
        prompt,
        ":join general",
        &[
            "You joined the room 'general'!",
            "Execute :chat to enter the chat view",
        ],
        "[room/general]> ",
    );
    match term.kind {
        Kind::Line => term.line_in(":chat"),
        _ => {
            term.keys(":chat");
            term.enter();
        }
    }
    let char_mode = term.kind != Kind::Line;
    let rows = view(term.cols, term.rows, char_mode, &[], GENERAL, "");
    term.expect_screen(&rows, view_cursor(term.rows, char_mode, ""));
}

/// A line client in general's chat view: the bystander who keeps chatting.
fn bystander(server: &Server, name: &str) -> Client {
    let mut c = server.login(name);
    c.enter_room("general");
    c
}

/// The bystander says `text` and sees it come back (its start: a long
/// line arrives wrapped).
fn chat(c: &mut Client, text: &str) {
    c.send(text);
    c.expect(&text.chars().take(8).collect::<String>());
    c.expect_sent(GENERAL);
}

/// Defines one test per terminal size for `$name(cols, rows)`, each
/// with the attributes given (e.g. `#[ignore = "BUG: …"]`).
macro_rules! at_sizes {
    ($name:ident $(, #[$attr:meta])*) => {
        mod $name {
            #[test]
            $(#[$attr])*
            fn at_80x24() {
                super::$name(80, 24);
            }
            #[test]
            $(#[$attr])*
            fn at_120x40() {
                super::$name(120, 40);
            }
            #[test]
            $(#[$attr])*
            fn at_40x12() {
                super::$name(40, 12);
            }
        }
    };
}

// ---- 1. telnet negotiation and the line editor ---------------------------

at_sizes!(editing_keys);

fn editing_keys(cols: u16, rows: u16) {
    let server = Server::with(&Cfg::base());
    let _bob = server.login("bob");
    let mut a = Term::telnet(server.addr, cols, rows);
    let mut s = welcome(cols, rows);
    a.expect_scroll(&s, 18);
    for offer in [(WILL, ECHO), (WILL, SGA), (DO, NAWS)] {
        assert!(a.offers.contains(&offer), "offer {offer:?}: {:?}", a.offers);
    }
    let mut at = |a: &mut Term, typed: &str, col: usize| {
        s.edit(&format!("Enter a username: {typed}"));
        a.expect_scroll(&s, 18 + col);
    };
    // Character mode: the server echoes.
    a.keys("al");
    at(&mut a, "al", 2);
    a.keys(BACKSPACE);
    at(&mut a, "a", 1);
    a.keys("lx");
    at(&mut a, "alx", 3);
    a.keys(CTRL_H);
    at(&mut a, "al", 2);
    a.keys(CTRL_U);
    at(&mut a, "", 0);
    a.keys("xy zz");
    at(&mut a, "xy zz", 5);
    a.keys(CTRL_W);
    at(&mut a, "xy ", 3);
    a.keys(CTRL_U);
    a.keys("ae");
    at(&mut a, "ae", 2);
    a.keys(LEFT);
    at(&mut a, "ae", 1);
    a.keys("l");
    at(&mut a, "ale", 2);
    a.keys(HOME);
    at(&mut a, "ale", 0);
    a.keys(END);
    at(&mut a, "ale", 3);
    a.keys(CTRL_A);
    at(&mut a, "ale", 0);
    a.keys(RIGHT);
    at(&mut a, "ale", 1);
    a.keys(CTRL_E);
    at(&mut a, "ale", 3);
    a.keys(RIGHT);
    at(&mut a, "ale", 3);
    a.enter();
    s.line("You are now connected as 'ale'.")
        .line("Type :help to see what you can do.")
        .line("> ");
    a.expect_scroll(&s, 2);
    // NAWS was agreed to: no cursor-position query.
    assert_eq!(a.seen().cpr_queries, 0);

    // ↑/↓ history after a few commands.
    let size = format!("Your terminal is {cols}x{rows} (as your terminal reported it).");
    let rooms = [
        "Available chatrooms:",
        "  - general (General chat) [0 online]",
        "  - games (Talk about games) [0/2 online]",
    ];
    let not_connected =
        ["You are not connected to a chatroom or a DM! Did you mean to use :listall?"];
    command(&mut a, &mut s, "> ", ":rooms", &rooms, "> ");
    command(&mut a, &mut s, "> ", ":list", &not_connected, "> ");
    command(&mut a, &mut s, "> ", ":size", &[&size], "> ");
    for (key, line) in [
        (UP, ":size"),
        (UP, ":list"),
        (UP, ":rooms"),
        (DOWN, ":list"),
        (DOWN, ":size"),
        (DOWN, ""),
        (UP, ":size"),
        (UP, ":list"),
    ] {
        a.keys(key);
        s.edit(&format!("> {line}"));
        a.expect_scroll(&s, 2 + line.len());
    }
    // A recalled line runs as typed.
    a.enter();
    s.line(not_connected[0]).line("> ");
    a.expect_scroll(&s, 2);

    // Tab: a command name, a room name, a user name.
    a.keys(":jo");
    s.edit("> :jo");
    a.expect_scroll(&s, 5);
    a.keys(TAB);
    s.edit("> :join ");
    a.expect_scroll(&s, 8);
    a.keys("gen");
    a.keys(TAB);
    s.edit("> :join general ");
    a.expect_scroll(&s, 16);
    a.enter();
    s.line("You joined the room 'general'!")
        .line("Execute :chat to enter the chat view")
        .line("[room/general]> ");
    a.expect_scroll(&s, 16);
    a.keys(":dm b");
    a.keys(TAB);
    s.edit("[room/general]> :dm bob ");
    a.expect_scroll(&s, 24);
    a.keys(CTRL_U);
    s.edit("[room/general]> ");
    a.expect_scroll(&s, 16);
    // Ambiguous: the common prefix, then the candidates above the prompt.
    a.keys(":l");
    a.keys(TAB);
    s.edit("[room/general]> :list");
    a.expect_scroll(&s, 21);
    a.keys(TAB);
    s.line(":list  :listall").line("[room/general]> :list");
    a.expect_scroll(&s, 21);
    // No candidate: the bell, nothing drawn.
    let bells = a.seen().bells;
    a.keys(CTRL_U);
    a.keys(":zz");
    a.keys(TAB);
    s.edit("[room/general]> :zz");
    a.expect_scroll(&s, 19);
    a.wait("the bell", |a| a.seen().bells > bells);
    a.keys(CTRL_U);
    s.edit("[room/general]> ");
    a.expect_scroll(&s, 16);
    // Ctrl+C on a half-typed line kills it (and asks nothing).
    a.keys("oops");
    s.edit("[room/general]> oops");
    a.expect_scroll(&s, 20);
    a.keys(CTRL_C);
    s.edit("[room/general]> ");
    a.expect_scroll(&s, 16);
    assert_eq!(a.count("Are you sure"), 0);
}

at_sizes!(ctrl_c_asks_to_quit);

fn ctrl_c_asks_to_quit(cols: u16, rows: u16) {
    let server = Server::with(&Cfg::base());
    let mut a = Term::telnet(server.addr, cols, rows);
    let mut s = login(&mut a, "ann");
    // Ctrl+C on a half-typed line kills it; on an empty line it asks.
    a.keys("oops");
    s.edit("> oops");
    a.expect_scroll(&s, 6);
    a.keys(CTRL_C);
    s.edit("> ");
    a.expect_scroll(&s, 2);
    a.keys(CTRL_C);
    s.line("Are you sure you want to quit? (y/n) ");
    a.expect_scroll(&s, 37);
    a.keys("n");
    s.edit("Are you sure you want to quit? (y/n) n");
    a.expect_scroll(&s, 38);
    a.enter();
    s.line("> ");
    a.expect_scroll(&s, 2);
}

at_sizes!(ctrl_c_in_the_view_asks_to_quit);

fn ctrl_c_in_the_view_asks_to_quit(cols: u16, rows: u16) {
    let server = Server::with(&Cfg::base());
    let mut a = Term::telnet(server.addr, cols, rows);
    let mut s = login(&mut a, "ann");
    enter_general(&mut a, &mut s, "> ");
    a.keys("oops");
    a.expect_screen(
        &view(cols, rows, true, &[], GENERAL, "oops"),
        view_cursor(rows, true, "oops"),
    );
    a.keys(CTRL_C);
    a.expect_screen(
        &view(cols, rows, true, &[], GENERAL, ""),
        view_cursor(rows, true, ""),
    );
    // On the empty line: the view gives way to the question.
    a.keys(CTRL_C);
    let mut q = Scroll::new(cols, rows);
    q.line("Are you sure you want to quit? (y/n) ");
    a.expect_scroll(&q, 37);
    a.keys("y");
    a.enter();
    q.edit("Are you sure you want to quit? (y/n) y")
        .line("Disconnecting. Goodbye!")
        .line("");
    a.expect_scroll(&q, 0);
    a.wait("the server to close", |a| a.closed);
}

// ---- 2. output above a half-typed line -----------------------------------

at_sizes!(dm_arrives_above_the_half_typed_palette_line);

fn dm_arrives_above_the_half_typed_palette_line(cols: u16, rows: u16) {
    let server = Server::with(&Cfg::base());
    let mut a = Term::telnet(server.addr, cols, rows);
    let mut s = login(&mut a, "ann");
    let mut bob = server.login("bob");
    bob.command(":dm ann");
    bob.send(":chat");
    bob.expect_frame("[dm/ann]");
    // Told once, above the prompt (SPEC §9); the terminal wraps it.
    let notice: Vec<char> = "bob opened a DM with you — :r TEXT answers, :dm bob opens it."
        .chars()
        .collect();
    let mut rows = notice.chunks(usize::from(cols));
    s.edit(&rows.next().unwrap().iter().collect::<String>());
    for row in rows {
        s.line(&row.iter().collect::<String>());
    }
    s.line("> ");
    a.expect_scroll(&s, 2);

    a.keys("hello wor");
    s.edit("> hello wor");
    a.expect_scroll(&s, 11);
    bob.send("are you there?");
    s.edit("[DM from bob]: are you there?").line("> hello wor");
    a.expect_scroll(&s, 11);
    // The cursor in the middle of the line stays there.
    a.keys(LEFT);
    a.keys(LEFT);
    a.keys(LEFT);
    a.expect_scroll(&s, 8);
    bob.send("hello?");
    s.edit("[DM from bob]: hello?").line("> hello wor");
    a.expect_scroll(&s, 8);
    // Nothing typed was lost.
    a.keys(END);
    a.keys("ld");
    a.enter();
    s.edit("> hello world")
        .line("That was not a command. Enter chat view by executing :chat to chat.")
        .line("> ");
    a.expect_scroll(&s, 2);

    // With a room in the prompt.
    command(
        &mut a,
        &mut s,
        "> ",
        ":join general",
        &[
            "You joined the room 'general'!",
            "Execute :chat to enter the chat view",
        ],
        "[room/general]> ",
    );
    a.keys("hi the");
    s.edit("[room/general]> hi the");
    a.expect_scroll(&s, 22);
    bob.send("still there?");
    s.edit("[DM from bob]: still there?")
        .line("[room/general]> hi the");
    a.expect_scroll(&s, 22);
}

at_sizes!(messages_arrive_above_the_half_typed_view_line);

fn messages_arrive_above_the_half_typed_view_line(cols: u16, rows: u16) {
    let server = Server::with(&Cfg::base());
    let mut bob = bystander(&server, "bob");
    let mut a = Term::telnet(server.addr, cols, rows);
    let mut s = login(&mut a, "ann");
    enter_general(&mut a, &mut s, "> ");
    bob.expect("ann joined the room.");

    let mut history: Vec<String> = Vec::new();
    a.keys("hello wor");
    let screen = |h: &[String], input: &str| view(cols, rows, true, h, GENERAL, input);
    a.expect_screen(
        &screen(&history, "hello wor"),
        view_cursor(rows, true, "hello wor"),
    );
    for text in ["one", "two"] {
        chat(&mut bob, text);
        history.push(msg("bob", text));
        a.expect_screen(
            &screen(&history, "hello wor"),
            view_cursor(rows, true, "hello wor"),
        );
    }
    // The cursor in the middle of the input line stays where it was.
    a.keys(LEFT);
    a.keys(LEFT);
    a.keys(LEFT);
    a.expect_screen(
        &screen(&history, "hello wor"),
        view_cursor(rows, true, "hello "),
    );
    // A message wider than the terminal: more history rows.
    let wide = "x".repeat(usize::from(cols));
    chat(&mut bob, &wide);
    history.push(msg("bob", &wide));
    a.expect_screen(
        &screen(&history, "hello wor"),
        view_cursor(rows, true, "hello "),
    );
    // Nothing typed was lost: the line is sent as typed.
    a.keys(END);
    a.keys("ld");
    a.expect_screen(
        &screen(&history, "hello world"),
        view_cursor(rows, true, "hello world"),
    );
    a.enter();
    history.push(msg("ann", "hello world"));
    a.expect_screen(&screen(&history, ""), view_cursor(rows, true, ""));
    bob.expect(&msg("ann", "hello world"));
}

// ---- 3. the chat view fits the terminal ----------------------------------

at_sizes!(chat_view_fits_the_terminal);

fn chat_view_fits_the_terminal(cols: u16, rows: u16) {
    let server = Server::with(&Cfg::base());
    let mut bob = bystander(&server, "bob");
    let mut a = Term::telnet(server.addr, cols, rows);
    let mut s = login(&mut a, "ann");
    enter_general(&mut a, &mut s, "> ");
    let r = usize::from(rows);
    // History rows min(chatviewMax, rows - 2) from the top row on; the
    // separator spans the width and ends in the tag; the input row last.
    let screen = a.rows();
    assert_eq!(
        screen[r - 2].chars().count(),
        usize::from(cols),
        "{screen:?}"
    );
    assert!(screen[r - 2].ends_with("-[room/general]"), "{screen:?}");
    assert_eq!(screen[r - 1], ">");

    let mut history = Vec::new();
    // More lines than the history area: the newest at the bottom, each
    // step the whole screen (so nothing scrolled that should not).
    for i in 1..=25 {
        let text = format!("m{i:02}");
        chat(&mut bob, &text);
        history.push(msg("bob", &text));
        let want = view(cols, rows, true, &history, GENERAL, "");
        a.expect_screen(&want, view_cursor(rows, true, ""));
    }
    let area = 20.min(r - 2);
    let top = a.rows();
    assert_eq!(top[r - 3], msg("bob", "m25"));
    assert_eq!(top[r - 2 - area], msg("bob", &format!("m{:02}", 26 - area)));
    for row in &top[..r - 2 - area] {
        assert_eq!(row, "", "rows above the history area stay empty");
    }
    // A message wider than the terminal wraps onto more rows; the
    // terminal itself never had to wrap one.
    let wide: String = (0..cols)
        .map(|i| char::from(b'a' + (i % 26) as u8))
        .collect();
    chat(&mut bob, &wide);
    history.push(msg("bob", &wide));
    let want = view(cols, rows, true, &history, GENERAL, "");
    a.expect_screen(&want, view_cursor(rows, true, ""));
    assert_eq!(wrap(&msg("bob", &wide), usize::from(cols)).len(), 2);
    for row in 0..rows {
        assert!(
            !a.screen().row_wrapped(row),
            "row {row} wrapped by the terminal"
        );
    }
}

#[test]
fn a_resize_redraws_the_view_at_once() {
    let server = Server::with(&Cfg::base());
    let mut bob = bystander(&server, "bob");
    let mut a = Term::telnet(server.addr, 80, 24);
    let mut s = login(&mut a, "ann");
    enter_general(&mut a, &mut s, "> ");
    let mut history = Vec::new();
    for text in ["first", &"w".repeat(70), "last"] {
        chat(&mut bob, text);
        history.push(msg("bob", text));
    }
    a.keys("draft");
    a.expect_screen(
        &view(80, 24, true, &history, GENERAL, "draft"),
        view_cursor(24, true, "draft"),
    );
    for (cols, rows) in [(60, 15), (120, 40), (40, 12), (20, 4), (80, 24)] {
        a.resize(cols, rows);
        a.expect_screen(
            &view(cols, rows, true, &history, GENERAL, "draft"),
            view_cursor(rows, true, "draft"),
        );
    }
}

#[test]
fn too_small_says_so_and_comes_back() {
    let server = Server::with(&Cfg::base());
    let mut bob = bystander(&server, "bob");
    let mut a = Term::telnet(server.addr, 80, 24);
    let mut s = login(&mut a, "ann");
    enter_general(&mut a, &mut s, "> ");
    chat(&mut bob, "before");
    let mut history = vec![msg("bob", "before")];
    a.expect_screen(
        &view(80, 24, true, &history, GENERAL, ""),
        view_cursor(24, true, ""),
    );
    // 19 columns: one too few.
    a.resize(19, 24);
    let mut want = wrap("Terminal too small (19x24). Try :size.", 19);
    want.push("> ".into());
    want.resize(24, String::new());
    a.expect_screen(&want, (2, 2));
    // Messages still arrive into the history meanwhile.
    chat(&mut bob, "during");
    history.push(msg("bob", "during"));
    a.resize(80, 24);
    a.expect_screen(
        &view(80, 24, true, &history, GENERAL, ""),
        view_cursor(24, true, ""),
    );
}

#[test]
fn too_small_at_15x3_is_readable() {
    let server = Server::with(&Cfg::base());
    let _bob = bystander(&server, "bob");
    let mut a = Term::telnet(server.addr, 80, 24);
    let mut s = login(&mut a, "ann");
    enter_general(&mut a, &mut s, "> ");
    a.resize(15, 3);
    a.wait("the too-small notice and the prompt", |a| {
        a.screen().contents().contains("Try :size.") && a.cursor() == (2, 2)
    });
    let text: String = a.screen().contents().replace('\n', "");
    assert!(
        // Shorter words: the full ones need 3 rows above the input row.
        text.contains("Too small (15x3). Try :size."),
        "{}",
        a.dump()
    );
}

// ---- 4. wide names and wide text -----------------------------------------

at_sizes!(wide_names_line_up_and_wrap_by_display_width);

/// The column of the `]` of `]:` in screen row `row`, by cells.
fn bracket_col(screen: &vt100::Screen, row: u16, cols: u16) -> Option<u16> {
    (0..cols.saturating_sub(1)).find(|&c| {
        let at = |c| {
            screen
                .cell(row, c)
                .map(|x| x.contents())
                .unwrap_or_default()
        };
        at(c) == "]" && at(c + 1) == ":"
    })
}

fn wide_names_line_up_and_wrap_by_display_width(cols: u16, rows: u16) {
    let server = Server::with(&Cfg::base());
    // (An emoji is no identifier character, UTS #39: Hangul is as wide.)
    let names = ["bob", "日本語", "한party"];
    let mut others: Vec<Client> = names.iter().map(|n| bystander(&server, n)).collect();
    let mut a = Term::telnet(server.addr, cols, rows);
    let mut s = login(&mut a, "ann");
    enter_general(&mut a, &mut s, "> ");
    let mut history = Vec::new();
    for (name, c) in names.iter().zip(others.iter_mut()) {
        chat(c, "hi");
        history.push(msg(name, "hi"));
        a.expect_screen(
            &view(cols, rows, true, &history, GENERAL, ""),
            view_cursor(rows, true, ""),
        );
    }
    let r = rows - 2;
    for row in r - 3..r {
        assert_eq!(bracket_col(a.screen(), row, cols), Some(11), "{}", a.dump());
    }
    // Wide text wraps by columns; no row is wider than the terminal.
    // An odd start column: a wide character that would straddle the edge
    // goes to the next row.
    let cjk = format!("x{}", "漢字かなカナ".repeat(usize::from(cols) / 8));
    chat(&mut others[1], &cjk);
    history.push(msg("日本語", &cjk));
    let emoji = "🎉x".repeat(usize::from(cols) / 2);
    chat(&mut others[2], &emoji);
    history.push(msg("한party", &emoji));
    a.expect_screen(
        &view(cols, rows, true, &history, GENERAL, ""),
        view_cursor(rows, true, ""),
    );
    for row in 0..rows {
        assert!(
            !a.screen().row_wrapped(row),
            "row {row} wrapped by the terminal"
        );
        let used: usize = a.rows()[usize::from(row)].width();
        assert!(used <= usize::from(cols), "row {row}: {used} columns");
    }
    // Wide characters typed in the input line: the cursor counts columns.
    a.keys("日本");
    a.expect_screen(
        &view(cols, rows, true, &history, GENERAL, "日本"),
        view_cursor(rows, true, "日本"),
    );
    a.keys(LEFT);
    a.expect_screen(
        &view(cols, rows, true, &history, GENERAL, "日本"),
        view_cursor(rows, true, "日"),
    );
    a.keys(END);
    a.enter();
    history.push(msg("ann", "日本"));
    a.expect_screen(
        &view(cols, rows, true, &history, GENERAL, ""),
        view_cursor(rows, true, ""),
    );
}

// ---- 5. the size from a cursor-position report ---------------------------

at_sizes!(raw_terminal_size_from_a_cursor_position_report);

fn raw_terminal_size_from_a_cursor_position_report(cols: u16, rows: u16) {
    let server = Server::with(&Cfg::base());
    let mut a = Term::raw(server.addr, cols, rows);
    let mut s = welcome(cols, rows);
    a.expect_scroll(&s, 18);
    // One keystroke: echoed (character mode) and the size asked once.
    a.keys("a");
    s.edit("Enter a username: a");
    a.expect_scroll(&s, 19);
    a.wait("the cursor-position query", |a| a.seen().cpr_queries == 1);
    a.keys("lice");
    s.edit("Enter a username: alice");
    a.expect_scroll(&s, 23);
    a.enter();
    // The reply was never input: the name is what was typed.
    s.line("You are now connected as 'alice'.")
        .line("Type :help to see what you can do.")
        .line("> ");
    a.expect_scroll(&s, 2);
    let size = format!("Your terminal is {cols}x{rows} (as your terminal reported it).");
    command(&mut a, &mut s, "> ", ":size", &[&size], "> ");
    enter_general(&mut a, &mut s, "> ");
    assert_eq!(a.seen().cpr_queries, 1);
}

#[test]
fn raw_terminal_that_never_answers_keeps_the_assumed_size() {
    let server = Server::with(&Cfg::base());
    let mut a = Term::raw(server.addr, 80, 24);
    a.vt.callbacks_mut().answer_cpr = false;
    let mut s = login(&mut a, "ann");
    assert_eq!(a.seen().cpr_queries, 1);
    command(
        &mut a,
        &mut s,
        "> ",
        ":size",
        &["Your terminal is 80x24 (assumed: your terminal did not say; set it with :size COLSxROWS)."],
        "> ",
    );
}

// ---- 6. line mode is untouched -------------------------------------------

at_sizes!(line_mode_client_sets_its_size_with_a_command);

#[test]
fn line_mode_client_sets_60x15() {
    line_mode_client_sets_its_size_with_a_command(60, 15);
}

fn line_mode_client_sets_its_size_with_a_command(cols: u16, rows: u16) {
    let server = Server::with(&Cfg::base());
    let mut bob = bystander(&server, "bob");
    let mut a = Term::line(server.addr, cols, rows);
    // The terminal echoes the name; the server does not (it would show
    // twice on the screen).
    let mut s = login(&mut a, "carol");
    assert_eq!(
        a.count("carol"),
        1,
        "{:?}",
        String::from_utf8_lossy(&a.received)
    );
    command(
        &mut a,
        &mut s,
        "> ",
        ":size",
        &["Your terminal is 80x24 (assumed: your terminal did not say; set it with :size COLSxROWS)."],
        "> ",
    );
    let set = format!(":size {cols}x{rows}");
    let now = format!("Your terminal is now {cols}x{rows}.");
    command(&mut a, &mut s, "> ", &set, &[&now], "> ");
    let said = format!("Your terminal is {cols}x{rows} (as you set it).");
    command(&mut a, &mut s, "> ", ":size", &[&said], "> ");
    // The view fits: the input row one above the last (the echo of Enter
    // lands on the spare row, nothing scrolls).
    enter_general(&mut a, &mut s, "> ");
    bob.expect("carol joined the room.");
    let mut history = Vec::new();
    a.line_in("hi all");
    history.push(msg("carol", "hi all"));
    a.expect_screen(
        &view(cols, rows, false, &history, GENERAL, ""),
        view_cursor(rows, false, ""),
    );
    chat(&mut bob, "hello carol");
    history.push(msg("bob", "hello carol"));
    a.expect_screen(
        &view(cols, rows, false, &history, GENERAL, ""),
        view_cursor(rows, false, ""),
    );
    assert_eq!(a.seen().cpr_queries, 0);
    assert!(a.offers.contains(&(WILL, ECHO)), "{:?}", a.offers);
}

// ---- 7. hostile input to the terminal layer ------------------------------

/// A client in the palette at `> ` with `:size` answered as `said`.
fn size_says(a: &mut Term, s: &mut Scroll, said: &str) {
    command(a, s, "> ", ":size", &[said], "> ");
}

#[test]
fn naws_zero_by_zero_is_ignored() {
    let server = Server::with(&Cfg::base());
    let mut bob = bystander(&server, "bob");
    let mut a = Term::telnet(server.addr, 100, 30);
    let mut s = login(&mut a, "ann");
    a.send(&naws(0, 0));
    chat(&mut bob, "meanwhile");
    size_says(
        &mut a,
        &mut s,
        "Your terminal is 100x30 (as your terminal reported it).",
    );
    // One unknown dimension: the other still counts.
    a.vt.set_size(nz(20), nz(100));
    a.rows = 20;
    s.rows = 20;
    a.send(&naws(0, 20));
    size_says(
        &mut a,
        &mut s,
        "Your terminal is 100x20 (as your terminal reported it).",
    );
    chat(&mut bob, "still here");
}

#[test]
fn naws_65535_is_clamped() {
    let server = Server::with(&Cfg::base());
    let mut bob = bystander(&server, "bob");
    let mut a = Term::telnet(server.addr, 80, 24);
    let mut s = login(&mut a, "ann");
    a.send(&naws(65535, 65535));
    chat(&mut bob, "meanwhile");
    size_says(
        &mut a,
        &mut s,
        "Your terminal is 500x200 (as your terminal reported it).",
    );
    // Back to the real size: the view fits it.
    a.send(&naws(80, 24));
    enter_general(&mut a, &mut s, "> ");
    chat(&mut bob, "still here");
    a.expect_screen(
        &view(80, 24, true, &[msg("bob", "still here")], GENERAL, ""),
        view_cursor(24, true, ""),
    );
}

#[test]
fn endless_subnegotiation_is_bounded() {
    let server = Server::with(&Cfg::base());
    let mut bob = bystander(&server, "bob");
    let mut a = Term::telnet(server.addr, 80, 24);
    let mut s = login(&mut a, "ann");
    let before = rss_kib(server.pid()).0;
    a.send(&[IAC, SB, NAWS]);
    let chunk = vec![b'x'; 64 * 1024];
    for i in 0..16 {
        a.send(&chunk);
        if i % 4 == 0 {
            chat(&mut bob, &format!("meanwhile {i}"));
        }
    }
    chat(&mut bob, "after the megabyte");
    // The connection stays, holding nothing of it.
    assert!(
        !a.pump(Duration::from_millis(50)) && !a.closed,
        "{}",
        a.dump()
    );
    let after = rss_kib(server.pid()).0;
    assert!(after < before + 1024, "RSS {before} KiB -> {after} KiB");
    // Its end: not a size report (far too long); typing works again.
    a.send(&[IAC, SE]);
    size_says(
        &mut a,
        &mut s,
        "Your terminal is 80x24 (as your terminal reported it).",
    );
}

#[test]
fn endless_cursor_position_report_is_bounded() {
    let server = Server::with(&Cfg::base());
    let mut bob = bystander(&server, "bob");
    // A raw terminal whose answer to the size query never ends.
    let mut a = Term::raw(server.addr, 80, 24);
    a.vt.callbacks_mut().answer_cpr = false;
    let mut s = login(&mut a, "ann");
    assert_eq!(a.seen().cpr_queries, 1);
    let before = rss_kib(server.pid()).0;
    a.send(b"\x1b[");
    let digits = vec![b'9'; 10 * 1024];
    for i in 0..10 {
        a.send(&digits);
        if i % 3 == 0 {
            chat(&mut bob, &format!("meanwhile {i}"));
        }
    }
    a.send(b";5R");
    chat(&mut bob, "after the digits");
    let after = rss_kib(server.pid()).0;
    assert!(after < before + 1024, "RSS {before} KiB -> {after} KiB");
    // Nothing of it was input or echoed, and the size is unchanged (still
    // assumed: the terminal never answered).
    a.expect_scroll(&s, 2);
    size_says(
        &mut a,
        &mut s,
        "Your terminal is 80x24 (assumed: your terminal did not say; set it with :size COLSxROWS).",
    );
}

#[test]
fn a_million_arrow_keys() {
    let server = Server::with(&Cfg::base());
    let mut bob = bystander(&server, "bob");
    let mut a = Term::telnet(server.addr, 80, 24);
    let mut s = login(&mut a, "ann");
    a.keys("some text");
    s.edit("> some text");
    a.expect_scroll(&s, 11);
    let started = Instant::now();
    let mut writer = a.stream.try_clone().unwrap();
    let flood = std::thread::spawn(move || {
        let chunk = LEFT.repeat(10_000);
        for _ in 0..100 {
            writer.write_all(chunk.as_bytes()).expect("send arrows");
        }
    });
    // Reading meanwhile (the echo), and the bystander chatting.
    let mut i = 0;
    while !flood.is_finished() {
        a.pump(Duration::from_millis(20));
        i += 1;
        if i % 10 == 0 {
            chat(&mut bob, &format!("meanwhile {i}"));
        }
        assert!(started.elapsed() < TIMEOUT, "the arrows took too long");
    }
    flood.join().unwrap();
    // The cursor ends at the start of the line; the client still works.
    a.expect_scroll(&s, 2);
    a.keys("x");
    s.edit("> xsome text");
    a.expect_scroll(&s, 3);
    a.keys(CTRL_U);
    s.edit("> ");
    a.expect_scroll(&s, 2);
    size_says(
        &mut a,
        &mut s,
        "Your terminal is 80x24 (as your terminal reported it).",
    );
    chat(&mut bob, "still here");
    assert!(started.elapsed() < TIMEOUT, "{:?}", started.elapsed());
}

#[test]
fn five_thousand_tabs() {
    let server = Server::with(&Cfg::base());
    let mut bob = bystander(&server, "bob");
    let mut a = Term::telnet(server.addr, 80, 24);
    let mut s = login(&mut a, "ann");
    a.keys(":l");
    let started = Instant::now();
    for _ in 0..10 {
        a.send(TAB.repeat(500).as_bytes());
        a.pump(Duration::from_millis(5));
    }
    chat(&mut bob, "meanwhile");
    // The first completes to the common prefix; each other one lists.
    a.wait("4999 candidate lists", |a| {
        a.count(":list  :listall") == 4999
    });
    s.edit("> :list");
    for _ in 0..12 {
        s.line(":list  :listall").line("> :list");
    }
    a.expect_scroll(&s, 7);
    assert!(started.elapsed() < TIMEOUT, "{:?}", started.elapsed());
    a.keys(CTRL_U);
    s.edit("> ");
    a.expect_scroll(&s, 2);
    size_says(
        &mut a,
        &mut s,
        "Your terminal is 80x24 (as your terminal reported it).",
    );
    chat(&mut bob, "still here");
}
