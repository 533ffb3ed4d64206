//! Defends SPEC §7 (hostile and broken clients: bytes of any value, abrupt
//! disconnects, slow readers — the server keeps its bookkeeping straight and
//! nobody else is affected), SPEC §3 (nothing a user typed reaches another
//! terminal as a control character or escape sequence), SPEC §5 (each
//! viewer keeps at most `chatviewMax` history lines) and SPEC §6 (shutdown
//! tells every client, then closes every connection).
//!
//! The whole sans-IO core is driven the way `server.rs` drives it, over up
//! to 8 client ids, with a small config (chatviewMax 3, usernameLimit 4,
//! messageLimit 10, a room limited to 2, a password room, a closed room).
//!
//! Input: byte 0 is flags (bit 0: `connectionTimeout`), then operations.
//! Each starts with a tag byte: the low 3 bits are the client id, the high
//! 5 bits pick the operation (see `decode`). A line is either a dictionary
//! entry (`DICT`, one index byte) or raw bytes (a length byte, then bytes);
//! a raw line over `maxLineLength` arrives as "line too long", as the line
//! reader would make it.
//!
//! After every event: `check_invariants()`; every write, close, timer and
//! name report is for a connected client; nothing is written to or closed
//! twice for a client the core already closed; every written chunk, with the
//! server's own escape sequences removed, holds no control character; no
//! event sends one client more than `PER_EVENT_LIMIT` bytes; `full_view`
//! shows exactly `chatviewMax` history rows and no more. The model keeps each
//! client's unsent bytes (drained by a flush op) and disconnects it past
//! `sendQueueLimit`, hands lines over only while the core wants input,
//! refuses connections once shutdown began and treats a second shutdown
//! signal as the end of the grace period, as the shell does.
#![no_main]

use chatsock::chat::{Chat, ClientId, Timer, TimerKind};
use chatsock::config::Config;
use libfuzzer_sys::fuzz_target;
use std::collections::VecDeque;
use std::sync::OnceLock;

const CLIENTS: usize = 8;
/// Most bytes one event may send one client (the biggest reply, `:help`,
/// is well under 1 KiB with this config).
const PER_EVENT_LIMIT: usize = 4096;

const CONFIG: &str = r#"(
    rooms: {
        "general": (description: "General chat"),
        "tiny": (limit: 2),
        "backstage": (public: false, password: "letmein"),
        "staff": (public: false),
    },
    chatviewMax: 3,
    usernameLimit: 4,
    messageLimit: 10,
    maxLineLength: 64,
    sendQueueLimit: 16384,
    nameTimeout: 60,
    connectionTimeout: CT,
)"#;

/// Lines that reach deep states quickly: names, commands, messages.
const DICT: &[&[u8]] = &[
    b"ann",
    b"bob",
    b"cy",
    b"Ann",
    b"SERVER",
    b"toolong",
    b":bad",
    b"a b",
    b"",
    b":join general",
    b":join tiny",
    b":join backstage letmein",
    b":join backstage nope",
    b":join staff",
    b":join nowhere",
    b":dm ann",
    b":dm bob",
    b":dm cy",
    b":dm BOB",
    b":chat",
    b":q",
    b":quit",
    b"y",
    b"n",
    b":close",
    b":list",
    b":listall",
    b":rooms",
    b":help",
    b"hi",
    b"hello all",
    b"0123456789",
    b"0123456789X",
    b"\x1b[2Jevil\x1b]0;t\x07",
    b"\xc3\xa9\xe2\x80\xaeok\x9b31m",
    b":join",
    b":dm",
    b":help me",
    b":frob",
    b"  :q  ",
    b"YES",
];

fn config(slow: bool) -> &'static Config {
    static SLOW: OnceLock<Config> = OnceLock::new();
    static FAST: OnceLock<Config> = OnceLock::new();
    let cell = if slow { &SLOW } else { &FAST };
    cell.get_or_init(|| {
        let src = CONFIG.replace("CT", if slow { "true" } else { "false" });
        Config::from_ron(&src, "session.ron").expect("the fuzz config is valid")
    })
}

#[derive(Debug)]
enum Op {
    Connect,
    Line(Vec<u8>),
    TooLong,
    Flush,
    Disconnect,
    /// Fire one of the timers the core asked for (by index).
    FireTimer(u8),
    /// All pending `Dot` timers, until none is left: 2.5 s pass.
    FireDots,
    /// A timer the shell never set: stale or repeated generation.
    StaleTimer {
        back: u8,
        dot: bool,
    },
    ShutdownNotice,
    ShutdownGoodbye,
}

/// Splits the input into (client id, operation) pairs.
fn decode(mut data: &[u8]) -> Vec<(ClientId, Op)> {
    let mut ops = Vec::new();
    let byte = |data: &mut &[u8]| -> u8 {
        let (&b, rest) = data.split_first().unwrap_or((&0, &[]));
        *data = rest;
        b
    };
    while let Some((&tag, rest)) = data.split_first() {
        data = rest;
        let id = usize::from(tag & 7);
        let op = match tag >> 3 {
            0..=3 => Op::Connect,
            4..=13 => {
                let i = usize::from(byte(&mut data));
                Op::Line(DICT[i % DICT.len()].to_vec())
            }
            14..=16 => {
                let n = usize::from(byte(&mut data)).min(data.len());
                let (line, rest) = data.split_at(n);
                data = rest;
                Op::Line(line.to_vec())
            }
            17 => Op::TooLong,
            18..=20 => Op::Flush,
            21 | 22 => Op::Disconnect,
            23..=25 => Op::FireTimer(byte(&mut data)),
            26 => Op::FireDots,
            27 | 28 => {
                let b = byte(&mut data);
                Op::StaleTimer {
                    back: b >> 1,
                    dot: b & 1 == 1,
                }
            }
            29 => Op::ShutdownNotice,
            _ => Op::ShutdownGoodbye,
        };
        ops.push((id, op));
    }
    ops
}

/// What the shell holds for one connection.
#[derive(Debug, Default)]
struct Conn {
    /// Lines read but not yet handed to the core (`None` = too long).
    pending: VecDeque<Option<Vec<u8>>>,
    /// Unsent output bytes.
    queued: usize,
    /// The core asked to close it: no more input is handed over.
    closing: bool,
    /// The last generation the core set a timer with.
    gen: Option<u64>,
}

struct Harness {
    chat: Chat,
    conns: Vec<Option<Conn>>,
    timers: Vec<Timer>,
    max_line: usize,
    queue_limit: usize,
    height: usize,
    /// The first shutdown signal came.
    noticed: bool,
}

/// The server's own escape sequences, removed before looking for what a
/// user might have smuggled in.
fn strip_server_sequences(s: &str, height: usize) -> String {
    let region = format!("\x1b[1;{height}r");
    let goto = format!("\x1b[{height};1H");
    // The input line is redrawn from the separator row down.
    let goto_separator = format!("\x1b[{};1H", height + 1);
    let mut s = s.to_string();
    for seq in [
        region.as_str(),
        goto.as_str(),
        goto_separator.as_str(),
        "\x1b[J",
        "\x1b[2J",
        "\x1b[H",
        "\x1b[41m",
        "\x1b[97m",
        "\x1b[0m",
        "\x1b[K",
        "\x1b[r",
        "\x1b7",
        "\x1b8",
        "\r",
        "\n",
    ] {
        s = s.replace(seq, "");
    }
    s
}

fn is_bidi(c: char) -> bool {
    matches!(c, '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}' | '\u{200e}' | '\u{200f}')
}

impl Harness {
    fn new(slow: bool) -> Harness {
        let cfg = config(slow).clone();
        Harness {
            max_line: cfg.max_line_length,
            queue_limit: cfg.send_queue_limit,
            height: cfg.chatview_max,
            chat: Chat::new(cfg, chatsock::VERSION),
            conns: (0..CLIENTS).map(|_| None).collect(),
            timers: Vec::new(),
            noticed: false,
        }
    }

    fn conn(&mut self, id: ClientId) -> Option<&mut Conn> {
        self.conns.get_mut(id)?.as_mut()
    }

    fn connected(&self, id: ClientId) -> bool {
        self.conns.get(id).is_some_and(Option::is_some)
    }

    /// Checks and carries out what the core asked for after one event.
    fn apply(&mut self, what: &str) {
        if let Err(e) = self.chat.check_invariants() {
            panic!("after {what}: invariant broken: {e}");
        }
        let out = std::mem::take(&mut self.chat.out);
        let mut sent = [0usize; CLIENTS];
        for (id, chunk) in &out.writes {
            let id = *id;
            let Some(conn) = self.conns.get(id).and_then(Option::as_ref) else {
                panic!("after {what}: write to {id}, which is not connected");
            };
            assert!(!conn.closing, "after {what}: write to {id} after its close");
            let bytes = chunk.bytes();
            let text = std::str::from_utf8(bytes)
                .unwrap_or_else(|_| panic!("after {what}: invalid UTF-8 to {id}: {bytes:?}"));
            let bare = strip_server_sequences(text, self.height);
            if let Some(c) = bare.chars().find(|&c| c.is_control() || is_bidi(c)) {
                panic!("after {what}: {c:?} reached {id} in {text:?}");
            }
            sent[id] += bytes.len();
        }
        for (id, n) in sent.iter().enumerate() {
            assert!(
                *n <= PER_EVENT_LIMIT,
                "after {what}: {n} bytes to {id} in one event"
            );
        }
        let mut closed = Vec::new();
        for (id, _reason) in &out.closes {
            let Some(conn) = self.conn(*id) else {
                panic!("after {what}: close of {id}, which is not connected");
            };
            assert!(!conn.closing, "after {what}: {id} closed twice");
            conn.closing = true;
            closed.push(*id);
        }
        for t in &out.timers {
            let Some(conn) = self.conn(t.client) else {
                panic!(
                    "after {what}: timer for {}, which is not connected",
                    t.client
                );
            };
            if let Some(g) = conn.gen {
                assert_eq!(g, t.gen, "after {what}: timer generation changed");
            }
            conn.gen = Some(t.gen);
        }
        self.timers.extend_from_slice(&out.timers);
        for &id in &out.named {
            assert!(
                self.connected(id),
                "after {what}: {id} named, not connected"
            );
            assert!(
                self.chat.name(id).is_some(),
                "after {what}: {id} named, no name"
            );
        }
        // Queue the output; the shell drops a reader that falls too far
        // behind (send queue full).
        let mut overflow = Vec::new();
        for (id, n) in sent.iter().enumerate() {
            if let Some(conn) = self.conn(id) {
                conn.queued += n;
                if conn.queued > self.queue_limit {
                    overflow.push(id);
                }
            }
        }
        for id in 0..CLIENTS {
            self.check_view(id, what);
        }
        let count = self.conns.iter().flatten().count();
        assert_eq!(
            self.chat.client_count(),
            count,
            "after {what}: client count"
        );
        assert!(self.chat.named_count() <= count);
        for id in overflow {
            self.disconnect(id, "send queue full");
        }
    }

    /// The chat view shows exactly `chatviewMax` history rows, and no row
    /// breaks the frame.
    fn check_view(&self, id: ClientId, what: &str) {
        let Some(frame) = self.chat.full_view(id) else {
            return;
        };
        assert!(self.connected(id), "after {what}: view for a stranger");
        let text = String::from_utf8(frame).expect("frame is UTF-8");
        let body = text
            .strip_prefix("\x1b[2J\x1b[H")
            .unwrap_or_else(|| panic!("after {what}: frame does not clear: {text:?}"));
        let rows: Vec<&str> = body.split("\r\n").collect();
        assert_eq!(
            rows.len(),
            self.height + 2,
            "after {what}: frame of {id} has {} rows: {text:?}",
            rows.len()
        );
        assert_eq!(rows[self.height + 1], "> ");
        let history = rows[..self.height].iter().filter(|r| !r.is_empty()).count();
        assert!(history <= self.height);
    }

    /// The shell removed the connection; the key may be reused.
    fn disconnect(&mut self, id: ClientId, why: &str) {
        if !self.connected(id) {
            return;
        }
        self.conns[id] = None;
        self.chat.disconnect(id);
        self.apply(&format!("disconnect {id} ({why})"));
        assert!(self.chat.name(id).is_none());
        assert!(self.chat.full_view(id).is_none());
    }

    /// Hands waiting lines to the core while it wants them (server `drive`).
    fn drive(&mut self, id: ClientId) {
        loop {
            if !self.chat.wants_input(id) {
                return;
            }
            let Some(conn) = self.conn(id) else { return };
            if conn.closing {
                return;
            }
            let Some(line) = conn.pending.pop_front() else {
                return;
            };
            match line {
                Some(bytes) => {
                    self.chat.line(id, &bytes);
                    self.apply(&format!("line {id} {:?}", String::from_utf8_lossy(&bytes)));
                }
                None => {
                    self.chat.line_too_long(id);
                    self.apply(&format!("line too long {id}"));
                }
            }
        }
    }

    fn fire(&mut self, t: Timer) {
        self.chat.timer(t.client, t.gen, t.kind);
        self.apply(&format!("timer {t:?}"));
        self.drive(t.client);
    }

    fn run(&mut self, id: ClientId, op: Op) -> bool {
        // A second signal ends the grace period at once.
        let op = match op {
            Op::ShutdownNotice if self.noticed => Op::ShutdownGoodbye,
            op => op,
        };
        match op {
            Op::Connect => {
                // The shell refuses new connections once shutdown began.
                if self.connected(id) || self.noticed {
                    return true;
                }
                self.conns[id] = Some(Conn::default());
                self.chat.connect(id);
                self.apply(&format!("connect {id}"));
                self.drive(id);
            }
            Op::Line(bytes) => {
                let max = self.max_line;
                let Some(conn) = self.conn(id) else {
                    return true;
                };
                conn.pending
                    .push_back((bytes.len() <= max).then_some(bytes));
                self.drive(id);
            }
            Op::TooLong => {
                if let Some(conn) = self.conn(id) {
                    conn.pending.push_back(None);
                    self.drive(id);
                }
            }
            Op::Flush => {
                let Some(conn) = self.conn(id) else {
                    return true;
                };
                conn.queued = 0;
                if conn.closing {
                    self.disconnect(id, "closed by the core");
                }
            }
            Op::Disconnect => self.disconnect(id, "abrupt"),
            Op::FireTimer(i) => {
                if !self.timers.is_empty() {
                    let t = self.timers.remove(usize::from(i) % self.timers.len());
                    self.fire(t);
                }
            }
            Op::FireDots => {
                while let Some(i) = self.timers.iter().position(|t| t.kind == TimerKind::Dot) {
                    let t = self.timers.remove(i);
                    self.fire(t);
                }
            }
            Op::StaleTimer { back, dot } => {
                let gen = self
                    .conns
                    .get(id)
                    .and_then(Option::as_ref)
                    .and_then(|c| c.gen)
                    .unwrap_or(0)
                    .wrapping_sub(u64::from(back));
                let kind = if dot {
                    TimerKind::Dot
                } else {
                    TimerKind::NameTimeout
                };
                self.chat.timer(id, gen, kind);
                self.apply(&format!("stale timer {id} gen {gen} {kind:?}"));
                self.drive(id);
            }
            Op::ShutdownNotice => {
                self.noticed = true;
                let before: Vec<ClientId> = (0..CLIENTS)
                    .filter(|&id| self.conns[id].as_ref().is_some_and(|c| !c.closing))
                    .collect();
                let out_before = self.chat.out.writes.len();
                assert_eq!(out_before, 0);
                self.chat.shutdown_notice();
                let told: Vec<ClientId> = self.chat.out.writes.iter().map(|(id, _)| *id).collect();
                for id in before {
                    assert!(told.contains(&id), "shutdown notice never reached {id}");
                }
                self.apply("shutdown notice");
            }
            Op::ShutdownGoodbye => {
                self.chat.shutdown_goodbye();
                self.apply("shutdown goodbye");
                for id in 0..CLIENTS {
                    if let Some(conn) = &self.conns[id] {
                        assert!(conn.closing, "shutdown left {id} open");
                    }
                }
                // The shell flushes what it can and removes every connection.
                for id in 0..CLIENTS {
                    self.disconnect(id, "server shutdown");
                }
                assert_eq!(self.chat.client_count(), 0);
                return false;
            }
        }
        true
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&flags, ops)) = data.split_first() else {
        return;
    };
    let mut h = Harness::new(flags & 1 == 1);
    for (id, op) in decode(ops) {
        if !h.run(id, op) {
            break;
        }
    }
    // Everyone leaves; the core must end up empty.
    for id in 0..CLIENTS {
        h.disconnect(id, "end of input");
    }
    assert_eq!(h.chat.client_count(), 0);
    assert_eq!(h.chat.named_count(), 0);
});
