//! Defends SPEC §7 (hostile and broken clients: bytes of any value, abrupt
//! disconnects, slow readers — the server keeps its bookkeeping straight and
//! nobody else is affected), SPEC §3 (nothing a user typed reaches another
//! terminal as a control character or escape sequence), SPEC §5 (each
//! viewer keeps at most `chatviewMax` history lines) and SPEC §6 (shutdown
//! tells every client, then closes every connection).
//!
//! The whole sans-IO core is driven the way `server.rs` drives it, over up
//! to 8 client ids, with a small config (chatviewMax 3, usernameLimit 4,
//! messageLimit 10, a room limited to 2, a password room, a closed room,
//! nameTimeout 60 s, idleTimeout 1 minute).
//!
//! Input: byte 0 is flags (bit 0: `connectionTimeout`; bits 1–3: the log
//! queue's line bound, 0 meaning 4; bits 4–6: its byte bound, 128 × (1 +
//! value)), then operations. Each starts with a tag byte: the low 3 bits
//! are the client id, the high 5 bits pick the operation (see `decode`). A
//! line is either a dictionary entry (`DICT`, one index byte) or raw bytes
//! (a length byte, then bytes); a raw line over `maxLineLength` arrives as
//! "line too long", as the line reader would make it.
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
//!
//! Issue 8 (faults of the host, and the clock):
//! - Out of descriptors: a connection attempt the shell cannot accept is
//!   refused (`Server full`) without the core hearing of it; from then on
//!   the process holds as many connections as it can, so a connect is
//!   refused the same way until a disconnect frees a descriptor, and then
//!   it works. A refusal changes nothing in the core (client count, no
//!   output, no state for that id).
//! - Time: an op advances the model's clock and the core's (`set_now`) by
//!   up to 63 minutes, then fires every timer that is due, earliest first,
//!   as the loop does. No timer is asked for with a zero delay (the loop
//!   would spin) and due timers stop firing. After every op: a named client
//!   silent (no complete line) for `idleTimeout` has been closed, and so has
//!   one still unnamed `nameTimeout` after it connected; each member's
//!   join/leave notices that viewers see stay within the budget
//!   (`NOTICE_BURST` at once, then one per `NOTICE_EVERY`).
//! - A log that fails: every line the shell would log (connected, refused,
//!   out of descriptors, named, disconnected, shutdown) goes into a
//!   `log::Queue` with small bounds, whose writer is driven by ops: write a
//!   batch, fail (the batch is lost), stall (take a batch and block on it).
//!   After every op the queue is within its line and byte bounds with at
//!   most one drop marker per line (plus one), its drop counter is the
//!   model's, and pushed = written + lost + stuck in the blocked batch +
//!   dropped + still queued; every line the writer takes is the next line
//!   queued (in order) or a drop notice; at the end, after draining, the
//!   drop notices add up to the lines dropped. No message text reaches the
//!   log: the only user text in a line is a username, and a username is
//!   logged exactly as its client typed it (sanitised, trimmed) at the name
//!   prompt and is the name the core still has at the disconnect — so a
//!   text typed after naming is in the log only if it is also a username.
#![no_main]

use chatsock::chat::{Chat, Chunk, ClientId, Timer, TimerKind, NOTICE_BURST, NOTICE_EVERY};
use chatsock::config::Config;
use chatsock::log::{dropped_notice, Queue};
use chatsock::term::width::width;
use chatsock::text::sanitize;
use chatsock::view::Layout;
use libfuzzer_sys::fuzz_target;
use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::OnceLock;
use std::time::Duration;

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
    idleTimeout: 1,
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
    b":msg bob hi bob",
    b":msg ann yo",
    b":r thanks",
    b":me waves",
    b":bell off",
    b":time on",
    b":whois ann",
    b":help join",
    b"::help",
    b":)",
    b"hey ANN!",
    b":size 30x8",
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
    /// A connection attempt while the process is out of descriptors.
    NoFds,
    Line(Vec<u8>),
    TooLong,
    Flush,
    Disconnect,
    /// Fire one of the timers the core asked for (by index), due or not.
    FireTimer(u8),
    /// All pending `Dot` timers, until none is left: 2.5 s pass.
    FireDots,
    /// A timer the shell never set: stale or repeated generation.
    StaleTimer {
        back: u8,
        dot: bool,
    },
    /// Time passes; every timer that comes due fires.
    Advance(Duration),
    /// The log writer writes a batch of at most this many bytes (or
    /// finishes the one it was blocked on).
    LogWrite(usize),
    /// The log writer's write fails: its batch is lost.
    LogFail,
    /// The log writer takes a batch and blocks writing it.
    LogStall,
    ShutdownNotice,
    ShutdownGoodbye,
    /// The terminal layer learned a size and mode (NAWS, a cursor-position
    /// report, character mode agreed): tiny, odd and huge sizes.
    Term {
        cols: u16,
        rows: u16,
        char_mode: bool,
    },
    /// Ctrl+C or Ctrl+D on an empty line (character mode).
    Interrupt,
    /// Tab: completion candidates for a dictionary line as typed so far.
    Complete(u8),
}

/// 0 to 63 minutes: `b >> 6` picks the unit (100 ms, 1 s, 10 s, 1 min),
/// `b & 63` the count.
fn span(b: u8) -> Duration {
    let n = u64::from(b & 63);
    match b >> 6 {
        0 => Duration::from_millis(100 * n),
        1 => Duration::from_secs(n),
        2 => Duration::from_secs(10 * n),
        _ => Duration::from_secs(60 * n),
    }
}

/// Splits the input into (client id, operation) pairs. (Tags 1, 2, 16, 20,
/// 25 and 28 were duplicates of their neighbours before the issue 8 ops.)
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
            0 | 3 => Op::Connect,
            1 => Op::NoFds,
            2 | 28 => Op::Advance(span(byte(&mut data))),
            4..=13 => {
                let i = usize::from(byte(&mut data));
                Op::Line(DICT[i % DICT.len()].to_vec())
            }
            14 | 15 => {
                let n = usize::from(byte(&mut data)).min(data.len());
                let (line, rest) = data.split_at(n);
                data = rest;
                Op::Line(line.to_vec())
            }
            16 => Op::LogWrite(1 + 2 * usize::from(byte(&mut data))),
            17 => Op::TooLong,
            18 | 19 => Op::Flush,
            20 => Op::LogFail,
            21 | 22 => Op::Disconnect,
            23 | 24 => Op::FireTimer(byte(&mut data)),
            25 => Op::LogStall,
            26 => Op::FireDots,
            27 => {
                let b = byte(&mut data);
                Op::StaleTimer {
                    back: b >> 1,
                    dot: b & 1 == 1,
                }
            }
            29 => Op::ShutdownNotice,
            30 => Op::ShutdownGoodbye,
            _ => {
                let b = byte(&mut data);
                match b >> 6 {
                    0 | 1 => {
                        let (c, r) = (byte(&mut data), byte(&mut data));
                        // Up to 255 exactly, or scaled to the clamp limits.
                        let scale = |v: u8, max: u16| {
                            if b & 1 == 1 {
                                u16::from(v).saturating_mul(4).min(max)
                            } else {
                                u16::from(v)
                            }
                        };
                        Op::Term {
                            cols: scale(c, chatsock::term::MAX_COLS),
                            rows: scale(r, chatsock::term::MAX_ROWS),
                            char_mode: b & 2 == 2,
                        }
                    }
                    2 => Op::Interrupt,
                    _ => Op::Complete(b),
                }
            }
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
    /// The core asked to close it (with this reason): no more input is
    /// handed over.
    closing: Option<&'static str>,
    /// The last generation the core set a timer with.
    gen: Option<u64>,
    /// Its address, as the log shows it.
    addr: String,
    /// Its name, as the shell noted it when the core reported it.
    name: Option<String>,
    /// The last complete line handed to the core, sanitised and trimmed.
    last_text: Option<String>,
    /// When it connected, and when it last sent a complete line.
    connected_at: Duration,
    last_line: Duration,
}

/// The shell's log stream: a bounded queue and a writer driven by ops.
struct Log {
    queue: Queue,
    max_lines: usize,
    max_bytes: usize,
    /// Lines pushed, and how many of them the queue refused.
    pushed: u64,
    dropped: u64,
    /// Lines the writer took and wrote, or lost in a failed write.
    written: u64,
    lost: u64,
    /// The batch the writer is blocked on, and the lines in it.
    stuck: Option<(Vec<u8>, u64)>,
    /// Lines counted by the drop notices the writer took.
    noticed: u64,
    /// The lines in the queue, in order (what the writer must take next).
    shadow: VecDeque<String>,
}

impl Log {
    fn new(max_lines: usize, max_bytes: usize) -> Log {
        Log {
            queue: Queue::new(max_lines, max_bytes),
            max_lines,
            max_bytes,
            pushed: 0,
            dropped: 0,
            written: 0,
            lost: 0,
            stuck: None,
            noticed: 0,
            shadow: VecDeque::new(),
        }
    }

    fn push(&mut self, line: String) {
        self.pushed += 1;
        if self.queue.push(line.clone()) {
            self.shadow.push_back(line);
        } else {
            self.dropped += 1;
        }
        self.check("push");
    }

    /// The writer takes a batch of about `max` bytes; returns it and the
    /// log lines (not drop notices) in it.
    fn take(&mut self, max: usize) -> (Vec<u8>, u64) {
        let mut buf = Vec::new();
        self.queue.pop_into(&mut buf, max);
        let text = String::from_utf8(buf.clone()).expect("log batch is UTF-8");
        let mut lines = 0;
        for l in text.split_terminator('\n') {
            let notice = l
                .strip_prefix("chatsock: ")
                .and_then(|r| r.split(' ').next())
                .and_then(|n| n.parse::<u64>().ok())
                .filter(|&n| l == dropped_notice(n));
            match notice {
                Some(n) => self.noticed += n,
                None => {
                    let next = self.shadow.pop_front();
                    assert_eq!(Some(l), next.as_deref(), "log line out of order");
                    lines += 1;
                }
            }
        }
        (buf, lines)
    }

    fn run(&mut self, op: &Op) {
        match op {
            Op::LogWrite(max) => {
                if let Some((_, n)) = self.stuck.take() {
                    self.written += n;
                } else {
                    let (_, n) = self.take(*max);
                    self.written += n;
                }
            }
            Op::LogFail => {
                if let Some((_, n)) = self.stuck.take() {
                    self.lost += n;
                } else {
                    let (_, n) = self.take(usize::MAX);
                    self.lost += n;
                }
            }
            Op::LogStall => {
                if self.stuck.is_none() {
                    let (batch, n) = self.take(usize::MAX);
                    if !batch.is_empty() {
                        self.stuck = Some((batch, n));
                    }
                }
            }
            _ => return,
        }
        self.check(&format!("{op:?}"));
    }

    fn check(&self, what: &str) {
        let q = &self.queue;
        assert!(
            q.lines() <= self.max_lines,
            "after {what}: log over its line bound"
        );
        assert!(
            q.bytes() <= self.max_bytes,
            "after {what}: log over its byte bound"
        );
        assert!(
            q.entries() <= 2 * q.lines() + 1,
            "after {what}: too many drop markers"
        );
        assert_eq!(q.dropped(), self.dropped, "after {what}: drop count");
        assert_eq!(q.lines(), self.shadow.len(), "after {what}: lines queued");
        let stuck = self.stuck.as_ref().map_or(0, |(_, n)| *n);
        assert_eq!(
            self.pushed,
            self.written + self.lost + stuck + self.dropped + q.lines() as u64,
            "after {what}: log lines unaccounted for"
        );
    }

    /// The writer gets unstuck and writes everything; every line is
    /// accounted for.
    fn drain(&mut self) {
        self.run(&Op::LogWrite(1));
        while !self.queue.is_empty() {
            self.run(&Op::LogWrite(usize::MAX));
        }
        assert_eq!(self.pushed, self.written + self.lost + self.dropped);
        assert_eq!(self.noticed, self.dropped, "drop notices do not add up");
    }
}

struct Harness {
    chat: Chat,
    conns: Vec<Option<Conn>>,
    /// Timers the core asked for, with when they are due.
    timers: Vec<(Duration, Timer)>,
    max_line: usize,
    queue_limit: usize,
    idle: Duration,
    name_timeout: Duration,
    /// The first shutdown signal came.
    noticed: bool,
    /// The model's clock (what the core was last told).
    now: Duration,
    /// Out of descriptors: at most this many connections fit.
    fd_limit: Option<usize>,
    /// The shell logged running out and has not accepted anyone since.
    out_of_fds: bool,
    next_port: u32,
    log: Log,
    /// Each client's join/leave notice budget: tokens, as of when.
    budgets: Vec<(f64, Duration)>,
    /// Current names, to whom they belong.
    names: HashMap<String, ClientId>,
    /// Every name the core ever reported.
    usernames: HashSet<String>,
    /// Every text a client typed once it had a name (sanitised, trimmed).
    said: HashSet<String>,
}

/// The chat-view layout of client `id` as the core sees its terminal.
fn layout_of(chat: &Chat, id: ClientId) -> Layout {
    let t = chat.term(id).expect("a connected client has a terminal");
    Layout::new(
        usize::from(t.cols),
        usize::from(t.rows),
        chat.config().chatview_max,
        t.char_mode,
    )
}

/// The server's own escape sequences for a client with `layout` (its
/// scroll region and cursor moves, styles, clears), removed before looking
/// for what a user might have smuggled in: user text never holds an ESC.
fn strip_server_sequences(s: &str, layout: Layout) -> String {
    let mut s = s.replace(
        &format!(
            "\x1b[{};{}r",
            layout.top,
            layout.separator_row().saturating_sub(1)
        ),
        "",
    );
    for row in (1..=layout.rows.max(1)).rev() {
        s = s.replace(&format!("\x1b[{row};1H"), "");
    }
    for seq in [
        "\x1b[J", "\x1b[2J", "\x1b[H", "\x1b[41m", "\x1b[97m", "\x1b[0m", "\x1b[K", "\x1b[r",
        "\x1b7", "\x1b8", "\x1b[7m", "\x1b[27m", "\x07", "\r", "\n",
    ] {
        s = s.replace(seq, "");
    }
    s
}

fn is_bidi(c: char) -> bool {
    matches!(c, '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}' | '\u{200e}' | '\u{200f}')
}

/// Whose join or leave a chat-view update announces, if it is one.
fn notice_subject(bytes: &[u8]) -> Option<String> {
    let text = std::str::from_utf8(bytes).ok()?;
    // A notice wider than the viewer's terminal comes as several styled rows.
    let text = text.replace("\x1b[0m\r\n\x1b[41m\x1b[97m", "");
    const SERVER: &str = "[SERVER]: ";
    let line = &text[text.find(SERVER)? + SERVER.len()..];
    let line = &line[..line.find("\x1b[0m")?];
    line.strip_suffix(" joined the room.")
        .or_else(|| line.strip_suffix(" left the room."))
        .map(str::to_string)
}

impl Harness {
    fn new(flags: u8) -> Harness {
        let cfg = config(flags & 1 == 1).clone();
        let log_lines = match (flags >> 1) & 7 {
            0 => 4,
            n => usize::from(n),
        };
        let log_bytes = 128 * (1 + usize::from((flags >> 4) & 7));
        Harness {
            max_line: cfg.max_line_length,
            queue_limit: cfg.send_queue_limit,
            idle: Duration::from_secs(cfg.idle_timeout * 60),
            name_timeout: Duration::from_secs(cfg.name_timeout),
            chat: Chat::new(cfg, chatsock::VERSION),
            conns: (0..CLIENTS).map(|_| None).collect(),
            timers: Vec::new(),
            noticed: false,
            now: Duration::ZERO,
            fd_limit: None,
            out_of_fds: false,
            next_port: 0,
            log: Log::new(log_lines, log_bytes),
            budgets: vec![(0.0, Duration::ZERO); CLIENTS],
            names: HashMap::new(),
            usernames: HashSet::new(),
            said: HashSet::new(),
        }
    }

    fn conn(&mut self, id: ClientId) -> Option<&mut Conn> {
        self.conns.get_mut(id)?.as_mut()
    }

    fn connected(&self, id: ClientId) -> bool {
        self.conns.get(id).is_some_and(Option::is_some)
    }

    fn count(&self) -> usize {
        self.conns.iter().flatten().count()
    }

    /// A fresh client address (as accept would give it).
    fn new_addr(&mut self, id: ClientId) -> String {
        self.next_port += 1;
        format!("10.0.0.{id}:{}", 40_000 + self.next_port % 25_000)
    }

    /// Logs a line that holds a username: it must be one the core
    /// reported, so no message text rides along in it.
    fn log_user_line(&mut self, line: String, name: &str, what: &str) {
        assert!(
            self.usernames.contains(name),
            "after {what}: {name:?} logged as a username; it is not one"
        );
        assert!(
            !self.said.contains(name) || self.usernames.contains(name),
            "after {what}: message text {name:?} in the log"
        );
        self.log.push(line);
    }

    /// A member caused a join or leave notice that viewers see: it must
    /// fit its budget (the core may spend more on notices nobody sees, so
    /// the visible ones are a subset and fit too).
    fn spend_notice(&mut self, name: &str, what: &str) {
        let Some(&id) = self.names.get(name) else {
            panic!("after {what}: notice about {name:?}, who is not a user");
        };
        let (tokens, at) = self.budgets[id];
        let refill = self.now.saturating_sub(at).as_secs_f64() / NOTICE_EVERY.as_secs_f64();
        let tokens = (tokens + refill).min(f64::from(NOTICE_BURST));
        assert!(
            tokens >= 1.0 - 1e-3,
            "after {what}: {name} caused a notice with {tokens:.3} of its budget left"
        );
        self.budgets[id] = (tokens - 1.0, self.now);
    }

    /// Checks and carries out what the core asked for after one event.
    fn apply(&mut self, what: &str) {
        if let Err(e) = self.chat.check_invariants() {
            panic!("after {what}: invariant broken: {e}");
        }
        let out = std::mem::take(&mut self.chat.out);
        let mut sent = [0usize; CLIENTS];
        let mut notices: Vec<*const u8> = Vec::new();
        for (id, chunk) in &out.writes {
            let id = *id;
            let Some(conn) = self.conns.get(id).and_then(Option::as_ref) else {
                panic!("after {what}: write to {id}, which is not connected");
            };
            assert!(
                conn.closing.is_none(),
                "after {what}: write to {id} after its close"
            );
            let bytes = chunk.bytes();
            let text = std::str::from_utf8(bytes)
                .unwrap_or_else(|_| panic!("after {what}: invalid UTF-8 to {id}: {bytes:?}"));
            let bare = strip_server_sequences(text, layout_of(&self.chat, id));
            if let Some(c) = bare.chars().find(|&c| c.is_control() || is_bidi(c)) {
                panic!("after {what}: {c:?} reached {id} in {text:?}");
            }
            sent[id] += bytes.len();
            // A notice goes to every viewer as one shared chunk.
            if let Chunk::Shared(rc) = chunk {
                if !notices.contains(&rc.as_ptr()) {
                    notices.push(rc.as_ptr());
                    if let Some(name) = notice_subject(rc) {
                        self.spend_notice(&name, what);
                    }
                }
            }
        }
        for (id, n) in sent.iter().enumerate() {
            assert!(
                *n <= PER_EVENT_LIMIT,
                "after {what}: {n} bytes to {id} in one event"
            );
        }
        for (id, reason) in &out.closes {
            let Some(conn) = self.conn(*id) else {
                panic!("after {what}: close of {id}, which is not connected");
            };
            assert!(conn.closing.is_none(), "after {what}: {id} closed twice");
            conn.closing = Some(reason);
        }
        for t in &out.timers {
            let now = self.now;
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
            // A timer due at once would have the loop spin.
            assert!(
                t.after > Duration::ZERO,
                "after {what}: timer {t:?} due now"
            );
            self.timers.push((now + t.after, *t));
        }
        for &id in &out.named {
            assert!(
                self.connected(id),
                "after {what}: {id} named, not connected"
            );
            let Some(name) = self.chat.name(id).map(str::to_string) else {
                panic!("after {what}: {id} named, no name");
            };
            let conn = self.conn(id).unwrap();
            assert!(conn.name.is_none(), "after {what}: {id} named twice");
            // Exactly what it typed at the name prompt.
            assert_eq!(
                conn.last_text.as_deref(),
                Some(name.as_str()),
                "after {what}: {id} named {name:?}"
            );
            conn.name = Some(name.clone());
            let line = format!("chatsock: user named: {} {name}", conn.addr);
            self.usernames.insert(name.clone());
            self.names.insert(name.clone(), id);
            self.log_user_line(line, &name, what);
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
        let count = self.count();
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

    /// The chat view fits the client's terminal: at most its history rows
    /// (`min(chatviewMax, rows - 2)`, `rows - 3` in line mode), none wider
    /// than the terminal, the separator exactly as wide, nothing below the
    /// input row; or the too-small notice.
    fn check_view(&self, id: ClientId, what: &str) {
        let Some(frame) = self.chat.full_view(id) else {
            return;
        };
        assert!(self.connected(id), "after {what}: view for a stranger");
        let layout = layout_of(&self.chat, id);
        let text = String::from_utf8(frame).expect("frame is UTF-8");
        let body = text
            .strip_prefix("\x1b[2J\x1b[H")
            .unwrap_or_else(|| panic!("after {what}: frame does not clear: {text:?}"));
        if layout.too_small() {
            // The notice, or shorter words, or as much as fits above the
            // input row: never more rows than that, none too wide.
            let rows: Vec<&str> = body.split("\r\n").filter(|r| !r.is_empty()).collect();
            assert!(rows.len() < layout.rows.max(1), "after {what}: {text:?}");
            assert!(
                rows.iter().all(|r| width(r) <= layout.cols.max(1)),
                "after {what}: {text:?}"
            );
            let said = rows.concat();
            assert!(
                said.starts_with("Terminal too small (")
                    || said.starts_with("Too small")
                    || "Too small. :size".starts_with(&said),
                "after {what}: {text:?}"
            );
            return;
        }
        let rows: Vec<&str> = body.split("\r\n").collect();
        // History rows, the separator, and the empty rest (the input row).
        assert!(rows.len() >= 2, "after {what}: {text:?}");
        assert_eq!(rows[rows.len() - 1], "", "after {what}: {text:?}");
        let history = rows.len() - 2;
        assert!(
            history <= layout.history,
            "after {what}: {history} rows: {text:?}"
        );
        let goto = format!("\x1b[{};1H", layout.separator_row() - history);
        assert!(rows[0].starts_with(&goto), "after {what}: {text:?}");
        let separator = strip_server_sequences(rows[rows.len() - 2], layout);
        assert_eq!(width(&separator), layout.cols, "after {what}: {text:?}");
        for row in &rows[..history] {
            let bare = strip_server_sequences(row, layout);
            assert!(
                width(&bare) <= layout.cols,
                "after {what}: row {row:?} too wide"
            );
        }
    }

    /// After every op: nobody outstays `idleTimeout` or `nameTimeout` once
    /// the timers due have fired.
    fn check_timeouts(&self, what: &str) {
        for (id, conn) in self.conns.iter().enumerate() {
            let Some(conn) = conn else { continue };
            if conn.closing.is_some() {
                continue;
            }
            match &conn.name {
                Some(name) => assert!(
                    self.now.saturating_sub(conn.last_line) < self.idle,
                    "after {what}: {id} ({name}) silent since {:?}, now {:?}, still open",
                    conn.last_line,
                    self.now
                ),
                None => assert!(
                    self.now.saturating_sub(conn.connected_at) < self.name_timeout,
                    "after {what}: {id} unnamed since {:?}, now {:?}, still open",
                    conn.connected_at,
                    self.now
                ),
            }
        }
    }

    /// The shell removed the connection; the key may be reused, and a
    /// descriptor is free.
    fn disconnect(&mut self, id: ClientId, why: &'static str) {
        let Some(conn) = self.conns[id].take() else {
            return;
        };
        // The name the shell noted is still the core's (a close may have
        // freed it already).
        let core = self.chat.name(id);
        assert!(
            core == conn.name.as_deref() || (core.is_none() && conn.closing.is_some()),
            "{id}'s name changed from {:?} to {core:?}",
            conn.name
        );
        self.chat.disconnect(id);
        let what = format!("disconnect {id} ({why})");
        self.apply(&what);
        assert!(self.chat.name(id).is_none());
        assert!(self.chat.full_view(id).is_none());
        let line = format!(
            "chatsock: client disconnected: {} {} ({why}; {} online)",
            conn.addr,
            conn.name.as_deref().unwrap_or("-"),
            self.count()
        );
        match &conn.name {
            Some(name) => {
                if self.names.get(name) == Some(&id) {
                    self.names.remove(name);
                }
                self.log_user_line(line, name, &what);
            }
            None => self.log.push(line),
        }
    }

    /// A connection the shell cannot accept for want of a descriptor: it
    /// is told `Server full` and the core never hears of it.
    fn refuse_no_fds(&mut self, id: ClientId) {
        let clients = self.chat.client_count();
        let named = self.chat.named_count();
        if !std::mem::replace(&mut self.out_of_fds, true) {
            self.log.push(
                "chatsock: out of file descriptors (Too many open files (os error 24)): \
                 new clients are told `Server full`"
                    .into(),
            );
        }
        let addr = self.new_addr(id);
        self.log
            .push(format!("chatsock: refused {addr}: out of file descriptors"));
        assert_eq!(self.chat.client_count(), clients);
        assert_eq!(self.chat.named_count(), named);
        let out = &self.chat.out;
        assert!(out.writes.is_empty() && out.closes.is_empty() && out.timers.is_empty());
        if !self.connected(id) {
            assert!(!self.chat.wants_input(id));
            assert!(self.chat.name(id).is_none() && self.chat.full_view(id).is_none());
        }
    }

    /// Hands waiting lines to the core while it wants them (server `drive`).
    fn drive(&mut self, id: ClientId) {
        loop {
            if !self.chat.wants_input(id) {
                return;
            }
            let now = self.now;
            let Some(conn) = self.conn(id) else { return };
            if conn.closing.is_some() {
                return;
            }
            let Some(line) = conn.pending.pop_front() else {
                return;
            };
            match line {
                Some(bytes) => {
                    let text = sanitize(&bytes).trim().to_string();
                    conn.last_line = now;
                    conn.last_text = Some(text.clone());
                    if conn.name.is_some() {
                        self.said.insert(text);
                    }
                    self.chat.line(id, &bytes);
                    self.apply(&format!("line {id} {:?}", String::from_utf8_lossy(&bytes)));
                }
                None => {
                    // Input all the same: the idle clock starts again.
                    conn.last_line = now;
                    self.chat.line_too_long(id);
                    self.apply(&format!("line too long {id}"));
                }
            }
        }
    }

    fn fire(&mut self, t: Timer) {
        self.chat.timer(t.client, t.gen, t.kind);
        self.apply(&format!("timer {t:?} at {:?}", self.now));
        self.drive(t.client);
    }

    fn run(&mut self, id: ClientId, op: Op) -> bool {
        // A second signal ends the grace period at once.
        let op = match op {
            Op::ShutdownNotice if self.noticed => Op::ShutdownGoodbye,
            op => op,
        };
        let what = format!("op {op:?} for {id} at {:?}", self.now);
        match op {
            Op::Connect => {
                if self.connected(id) {
                    return true;
                }
                // Out of descriptors until a disconnect frees one.
                if self.fd_limit.is_some_and(|n| self.count() >= n) {
                    self.refuse_no_fds(id);
                    return true;
                }
                if std::mem::take(&mut self.out_of_fds) {
                    self.log
                        .push("chatsock: file descriptors available again".into());
                }
                let addr = self.new_addr(id);
                // The shell refuses new connections once shutdown began.
                if self.noticed {
                    self.log.push(format!(
                        "chatsock: refused {addr}: The server is shutting down, try again later."
                    ));
                    return true;
                }
                self.conns[id] = Some(Conn {
                    addr: addr.clone(),
                    connected_at: self.now,
                    last_line: self.now,
                    ..Conn::default()
                });
                self.budgets[id] = (f64::from(NOTICE_BURST), self.now);
                self.log.push(format!(
                    "chatsock: client connected: {addr} ({} online)",
                    self.count()
                ));
                self.chat.connect(id);
                self.apply(&format!("connect {id}"));
                self.drive(id);
            }
            Op::NoFds => {
                // The process holds as many connections as it can.
                self.fd_limit = Some(self.count());
                self.refuse_no_fds(id);
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
                if let Some(reason) = conn.closing {
                    self.disconnect(id, reason);
                }
            }
            Op::Disconnect => self.disconnect(id, "connection reset"),
            Op::FireTimer(i) => {
                if !self.timers.is_empty() {
                    let (_, t) = self.timers.remove(usize::from(i) % self.timers.len());
                    self.fire(t);
                }
            }
            Op::FireDots => {
                while let Some(i) = self
                    .timers
                    .iter()
                    .position(|(_, t)| t.kind == TimerKind::Dot)
                {
                    let (_, t) = self.timers.remove(i);
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
            Op::Advance(by) => {
                self.now += by;
                self.chat.set_now(self.now);
                // Every timer due fires, earliest first; firing sets only
                // timers due later, so this ends.
                let mut fired = 0;
                while let Some(i) = (0..self.timers.len())
                    .filter(|&i| self.timers[i].0 <= self.now)
                    .min_by_key(|&i| self.timers[i].0)
                {
                    let (_, t) = self.timers.remove(i);
                    self.fire(t);
                    fired += 1;
                    assert!(fired < 10_000, "timers keep coming due at {:?}", self.now);
                }
            }
            Op::LogWrite(_) | Op::LogFail | Op::LogStall => self.log.run(&op),
            Op::ShutdownNotice => {
                self.noticed = true;
                self.log
                    .push("chatsock: shutdown requested; closing in 5 seconds".into());
                let before: Vec<ClientId> = (0..CLIENTS)
                    .filter(|&id| self.conns[id].as_ref().is_some_and(|c| c.closing.is_none()))
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
            Op::Term {
                cols,
                rows,
                char_mode,
            } => {
                if !self.connected(id)
                    || self.conns[id].as_ref().is_some_and(|c| c.closing.is_some())
                {
                    return true;
                }
                self.chat.terminal(id, Some((cols, rows)), char_mode);
                let t = self.chat.term(id).expect("connected");
                let clamped = (
                    cols.clamp(1, chatsock::term::MAX_COLS),
                    rows.clamp(1, chatsock::term::MAX_ROWS),
                );
                assert_eq!(
                    (t.cols, t.rows, t.char_mode),
                    (clamped.0, clamped.1, char_mode)
                );
                self.apply(&what);
            }
            Op::Interrupt => {
                if !self.connected(id)
                    || self.conns[id].as_ref().is_some_and(|c| c.closing.is_some())
                {
                    return true;
                }
                self.chat.interrupt(id);
                self.apply(&what);
            }
            Op::Complete(i) => {
                if !self.connected(id) {
                    return true;
                }
                let line = DICT[usize::from(i) % DICT.len()];
                let typed = String::from_utf8_lossy(line);
                // Every prefix of the line, as a user types it.
                for end in (0..=typed.len()).filter(|&e| typed.is_char_boundary(e)) {
                    let before = &typed[..end];
                    let found = self.chat.complete(id, before);
                    let word = before.rsplit(' ').next().unwrap_or("").to_lowercase();
                    for c in &found {
                        assert!(
                            c.to_lowercase().starts_with(&word),
                            "after {what}: {c:?} does not complete {before:?}"
                        );
                        assert!(!c.chars().any(char::is_control), "after {what}: {c:?}");
                    }
                    // Hidden rooms never appear.
                    assert!(
                        !found.iter().any(|c| c == "backstage" || c == "staff"),
                        "after {what}: a hidden room completed: {found:?}"
                    );
                }
                assert!(self.chat.out.writes.is_empty(), "completion wrote output");
            }
            Op::ShutdownGoodbye => {
                self.chat.shutdown_goodbye();
                self.apply("shutdown goodbye");
                for id in 0..CLIENTS {
                    if let Some(conn) = &self.conns[id] {
                        assert!(conn.closing.is_some(), "shutdown left {id} open");
                    }
                }
                // The end is `Server shut down.` on stdout, not a log line.
                // The shell flushes what it can and removes every connection.
                for id in 0..CLIENTS {
                    self.disconnect(id, "server shutdown");
                }
                assert_eq!(self.chat.client_count(), 0);
                return false;
            }
        }
        self.check_timeouts(&what);
        self.log.check(&what);
        true
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&flags, ops)) = data.split_first() else {
        return;
    };
    let mut h = Harness::new(flags);
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
    // The log writer catches up: every line is written, lost or counted.
    h.log.drain();
});
