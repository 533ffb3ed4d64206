//! The event loop: one `mio::Poll` for the listener, the signals and every
//! client in a `Slab<Conn>`, with a timer queue; it moves bytes and time
//! between sockets and the chat core.

use crate::accounts::hash::{HashAnswer, Hasher, Worker};
use crate::accounts::store::Disk;
use crate::accounts::AccountsFile;
use crate::chat::{Chat, Chunk, ClientId, Link, Outbox, Timer, TimerKind};
use crate::config::Config;
mod conn;
mod listen;

use crate::shutdown::Shutdown;
use crate::term::{Event, Mode, Size};
pub use crate::transport::{Transport, TransportKind};
use conn::{Bucket, BufPool, Conn, Io, Life, EXCESS_FLOOD_BYTES};
pub use conn::{EXCESS_FLOOD_LINES, PAUSE_LINES, READ_CHUNK};
use listen::Accepting;
pub use listen::{Listener, KERNEL_SEND_BUFFER};
use mio::net::TcpListener;
use mio::{Events, Interest, Poll, Token};
use slab::Slab;
use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};
use std::fs::File;
use std::io::{self, Write};
use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

const SIGNALS: Token = Token(usize::MAX);
/// The hashing worker has answers (below the listeners' tokens).
const WAKER: Token = Token(LISTENERS - MAX_LISTENERS - 1);
/// Listener `i` has token `LISTENERS - i`; client tokens are slab keys,
/// far below.
const LISTENERS: usize = usize::MAX - 1;
/// Most listeners one server has (plain, TLS, SSH, each maybe twice).
const MAX_LISTENERS: usize = 16;
/// Seconds between the shutdown notice and the goodbye.
pub const GRACE_SECS: u64 = 5;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Alarm {
    Core {
        client: ClientId,
        gen: u64,
        kind: TimerKind,
    },
    /// Try accepting again after running out of descriptors (only the
    /// newest such alarm counts).
    Accept(u64),
    Flood {
        key: usize,
        gen: u64,
    },
    /// A connection's transport handshake must be done by now.
    Handshake {
        key: usize,
        gen: u64,
    },
    /// A closing connection has waited long enough for its peer's goodbye.
    Linger {
        key: usize,
        gen: u64,
    },
    Countdown(u64),
    Grace,
}

/// Lines one client may have handled per loop pass; the rest wait for the
/// next pass, so one busy sender cannot make a pass (and every viewer's
/// output for it) arbitrarily long.
const LINES_PER_PASS: usize = 8;

/// Pending output, left after the kernel would take no more, above which a
/// chat-view client gets one full redraw instead of its queued updates.
const COALESCE_MIN: usize = 4096;

/// `now + after`, or far in the future if that overflows.
fn later(now: Instant, after: Duration) -> Instant {
    now.checked_add(after)
        .unwrap_or_else(|| now + Duration::from_secs(86_400 * 365))
}

/// How long a closed SSH session waits for the client's CLOSE before the
/// socket is closed anyway.
const LINGER: Duration = Duration::from_secs(2);

/// Resets a scroll region a half-sent update may have left set.
const RESET_REGION: &[u8] = b"\x1b[r";

/// Replaces `conn`'s unsent output by one full chat-view frame when the
/// client is viewing and the frame is smaller than what waits (only the
/// latest screen matters). Returns whether it did.
fn coalesce(chat: &Chat, key: usize, conn: &mut Conn, min: usize, buf: &mut Vec<u8>) -> bool {
    let unsent = conn.unsent();
    if unsent <= min {
        return false;
    }
    let Some(frame) = chat.full_view(key) else {
        return false;
    };
    buf.clear();
    buf.extend_from_slice(RESET_REGION);
    buf.extend_from_slice(&frame);
    conn.term.prompt(Chat::VIEW_PROMPT, true, buf);
    if buf.len() >= unsent {
        return false;
    }
    conn.replace_unsent(buf);
    true
}

/// Decides SSH logins (SPEC §12) from the core's point of view; made for
/// each read, borrowing the core. Today everyone is a guest with any key
/// or none: accounts answer here ("is NAME registered, which keys are
/// bound to it, does the password match") from `chat`.
struct Logins<'a> {
    #[allow(dead_code)]
    chat: &'a Chat,
}

impl crate::transport::ssh::Authenticator for Logins<'_> {
    fn guest(&mut self, _user: &str) -> bool {
        true
    }

    fn public_key(&mut self, _user: &str, _fingerprint: &str) -> bool {
        true
    }
}

/// The shell around the chat core.
struct Server {
    poll: Poll,
    listeners: Vec<Listener>,
    chat: Chat,
    conns: Slab<Conn>,
    accepting: Accepting,
    timers: BinaryHeap<Reverse<(Instant, Alarm)>>,
    dirty: Vec<usize>,
    doomed: Vec<usize>,
    /// Clients with lines left over from their per-pass budget.
    again: Vec<usize>,
    pool: BufPool,
    scratch: Vec<u8>,
    /// Where a prompt (and the half-typed line) is drawn before queueing.
    prompt_buf: Vec<u8>,
    next_gen: u64,
    /// When the loop started: the core's clock counts from here.
    started: Instant,
    shutdown: bool,
    done: bool,
    /// The password-hashing thread (accounts on).
    worker: Option<Worker>,
    /// The accounts file (accounts on).
    disk: Option<Disk>,
}

/// The accounts file as read at start.
#[derive(Debug)]
pub struct Accounts {
    /// Where it is.
    pub path: std::path::PathBuf,
    /// What it held (empty if it did not exist yet).
    pub file: AccountsFile,
}

/// Serves `listeners` with `config` (and `accounts`, when they are on)
/// until a shutdown completes; each request from `shutdown` is one signal
/// (the second ends the grace).
pub fn run(
    mut listeners: Vec<Listener>,
    mut shutdown: Shutdown,
    config: Config,
    accounts: Option<Accounts>,
    version: &'static str,
) -> io::Result<()> {
    let poll = Poll::new()?;
    if listeners.len() > MAX_LISTENERS {
        return Err(io::Error::other("too many listeners"));
    }
    for (i, l) in listeners.iter_mut().enumerate() {
        poll.registry()
            .register(&mut l.socket, Token(LISTENERS - i), Interest::READABLE)?;
    }
    shutdown.register(poll.registry(), SIGNALS)?;
    let mut chat = Chat::new(config, version);
    let (worker, disk) = match accounts {
        Some(Accounts { path, file }) => {
            chat.load_accounts(file);
            let waker = std::sync::Arc::new(mio::Waker::new(poll.registry(), WAKER)?);
            let worker = Worker::spawn(Hasher::owasp(), waker)?;
            (Some(worker), Some(Disk::new(path)))
        }
        None => (None, None),
    };
    let mut server = Server {
        poll,
        listeners,
        chat,
        conns: Slab::new(),
        accepting: Accepting::new(),
        timers: BinaryHeap::new(),
        dirty: Vec::new(),
        doomed: Vec::new(),
        again: Vec::new(),
        pool: BufPool::default(),
        scratch: vec![0; EXCESS_FLOOD_BYTES],
        prompt_buf: Vec::new(),
        next_gen: 0,
        started: Instant::now(),
        shutdown: false,
        done: false,
        worker,
        disk,
    };
    // The core's clock starts now; `HH:MM` stamps need the wall clock too.
    let unix = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    server.chat.set_wall_clock(unix);
    // Plain clients told not to send passwords are told where to go.
    let tls_port = server.listeners.iter().find_map(|l| match l.kind {
        TransportKind::Tls(_) => l.socket.local_addr().ok().map(|a| a.port()),
        TransportKind::Plain | TransportKind::Ssh(_) => None,
    });
    server.chat.set_tls_port(tls_port);
    let mut events = Events::with_capacity(1024);
    while !server.done {
        let timeout = if server.again.is_empty() {
            server
                .timers
                .peek()
                .map(|Reverse((at, _))| at.saturating_duration_since(Instant::now()))
        } else {
            Some(Duration::ZERO)
        };
        if let Err(e) = server.poll.poll(&mut events, timeout) {
            if e.kind() == io::ErrorKind::Interrupted {
                continue;
            }
            return Err(e);
        }
        server.chat.set_now(server.started.elapsed());
        for event in events.iter() {
            match event.token() {
                Token(t) if t > LISTENERS - MAX_LISTENERS && t != SIGNALS.0 => {
                    server.accept(LISTENERS - t)
                }
                WAKER => server.hash_answers(),
                SIGNALS => {
                    for _ in 0..shutdown.take() {
                        server.signal();
                    }
                }
                Token(key) => {
                    if event.is_readable() || event.is_read_closed() || event.is_error() {
                        server.read(key);
                    }
                    if event.is_writable() {
                        server.mark_dirty(key);
                        // SSH: input sunset could not take until its output
                        // was written (the socket has no new READABLE edge).
                        if server
                            .conns
                            .get(key)
                            .is_some_and(|c| c.transport.has_pending_input())
                        {
                            server.read(key);
                        }
                    }
                }
            }
        }
        for key in std::mem::take(&mut server.again) {
            if let Some(conn) = server.conns.get_mut(key) {
                conn.again = false;
                server.drive(key);
            }
        }
        server.fire_timers();
        server.end_pass();
        if server.accepting.retry && server.accepting.freed && !server.done {
            server.accept_all();
            server.end_pass();
        }
    }
    Ok(())
}

impl Server {
    fn signal(&mut self) {
        if self.shutdown {
            crate::log_out!("Second signal: shutting down now.");
            self.finish();
            return;
        }
        self.shutdown = true;
        if self.conns.is_empty() {
            // Nobody to warn: no grace period.
            crate::log_err!("chatsock: shutdown requested; nobody connected, closing now");
            self.finish();
            return;
        }
        // Each event once (SPEC §9): the request in the log, the countdown
        // (this first number, then one a second, then `Server shut down.`)
        // on stdout.
        crate::log_err!("chatsock: shutdown requested; closing in {GRACE_SECS} seconds");
        crate::log_out!("{GRACE_SECS}... (signal again to stop at once)");
        self.chat.shutdown_notice();
        self.apply();
        let now = Instant::now();
        for left in 1..GRACE_SECS {
            let at = now + Duration::from_secs(GRACE_SECS - left);
            self.timers.push(Reverse((at, Alarm::Countdown(left))));
        }
        self.timers.push(Reverse((
            now + Duration::from_secs(GRACE_SECS),
            Alarm::Grace,
        )));
    }

    fn finish(&mut self) {
        self.chat.shutdown_goodbye();
        self.apply();
        self.done = true;
        crate::log_out!("Server shut down.");
    }

    /// Reads connection `key` through its transport and terminal, with
    /// the core answering Tab completion and SSH logins.
    fn read_conn(&mut self, key: usize) -> Io {
        let Some(conn) = self.conns.get_mut(key) else {
            return Io::Done;
        };
        let chat = &self.chat;
        let limit = chat.config().send_queue_limit;
        let mut complete = |before: &str| chat.complete(key, before);
        let mut auth = Logins { chat };
        conn.read(
            &mut self.scratch,
            &mut complete,
            &mut auth,
            limit,
            &mut self.pool,
        )
    }

    fn read(&mut self, key: usize) {
        let Some(conn) = self.conns.get_mut(key) else {
            return;
        };
        if !conn.reading() {
            return;
        }
        if !conn.read_paused {
            let io = self.read_conn(key);
            if let Io::Error(reason) = io {
                return self.kill(key, reason);
            }
            let Some(conn) = self.conns.get_mut(key) else {
                return;
            };
            if let Life::Closing(reason) = conn.life {
                if !conn.transport.lingering() {
                    // The peer's goodbye came: done.
                    return self.kill(key, reason.into());
                }
            }
            if conn.transport.wants_write() || conn.unsent() > 0 {
                // Handshake replies, records rustls made; or an SSH
                // client's window opened for what waits.
                self.mark_dirty(key);
            }
            if self.conns.get(key).map(|c| &c.life) == Some(&Life::Handshaking)
                && self
                    .conns
                    .get(key)
                    .is_some_and(|c| !c.transport.handshaking())
            {
                if let Some(conn) = self.conns.get_mut(key) {
                    conn.life = Life::Open;
                }
                self.start_session(key);
            }
            self.terminal_news(key);
        }
        let Some(conn) = self.conns.get_mut(key) else {
            return;
        };
        if conn.excess_unread(&mut self.scratch) {
            return self.kill(key, "excess flood".into());
        }
        self.drive(key);
    }

    /// Hands waiting lines to the core as far as flood control allows,
    /// resumes reading when the queue has room, and closes after EOF.
    fn drive(&mut self, key: usize) {
        let mut budget = LINES_PER_PASS;
        loop {
            let now = Instant::now();
            let Some(conn) = self.conns.get_mut(key) else {
                return;
            };
            if !conn.handling() {
                return;
            }
            if !self.chat.wants_input(key) {
                return;
            }
            if conn.pending.is_empty() {
                // An idle client holds no input buffer.
                if conn.pending.capacity() > 0 {
                    conn.pending = std::collections::VecDeque::new();
                }
                if conn.read_paused {
                    conn.read_paused = false;
                    match self.read_conn(key) {
                        Io::Error(reason) => return self.kill(key, reason),
                        _ => {
                            self.terminal_news(key);
                            continue;
                        }
                    }
                }
                if conn.life == Life::HalfClosed {
                    // A half-closed client still gets the replies to what
                    // it sent before closing; then the connection ends.
                    conn.close("closed by client");
                    self.mark_dirty(key);
                }
                return;
            }
            // The pass budget comes before the flood bucket, so a line put
            // off to the next pass does not use up a flood token.
            if budget == 0 {
                if !conn.again {
                    conn.again = true;
                    self.again.push(key);
                }
                return;
            }
            if let Err(wait) = conn.bucket.take(now) {
                if !conn.flood_timer {
                    conn.flood_timer = true;
                    let alarm = Alarm::Flood { key, gen: conn.gen };
                    self.timers.push(Reverse((now + wait, alarm)));
                }
                return;
            }
            budget -= 1;
            let Some(line) = conn.pending.pop_front() else {
                return;
            };
            match line {
                Event::Line(bytes) => self.chat.line(key, &bytes),
                Event::TooLong => self.chat.line_too_long(key),
                Event::Interrupt => self.chat.interrupt(key),
            }
            self.apply();
        }
    }

    /// Tells the core what the terminal layer learned (a size from NAWS or
    /// a cursor-position report, character mode agreed) and queues the
    /// terminal's own output (echo, telnet replies) for flushing.
    fn terminal_news(&mut self, key: usize) {
        let Some(conn) = self.conns.get_mut(key) else {
            return;
        };
        if conn.life == Life::Handshaking {
            // No session in the core yet: the news waits for it (an SSH
            // pty request comes before the shell).
            if conn.unsent() > 0 {
                self.mark_dirty(key);
            }
            return;
        }
        let resized = conn.term.take_resize();
        let mode = conn.term.take_mode_change();
        let has_output = conn.unsent() > 0;
        if resized.is_some() || mode.is_some() {
            let size = resized.map(|Size { cols, rows }| (cols, rows));
            let char_mode = conn.term.mode() == Mode::Char;
            self.chat.terminal(key, size, char_mode);
            self.apply();
        }
        if has_output {
            self.mark_dirty(key);
        }
    }

    /// Carries out what the core asked for.
    fn apply(&mut self) {
        let out = &self.chat.out;
        if out.writes.is_empty()
            && out.closes.is_empty()
            && out.timers.is_empty()
            && out.named.is_empty()
            && out.resized.is_empty()
            && out.hash_jobs.is_empty()
            && !out.save
            && out.logs.is_empty()
        {
            return;
        }
        let limit = self.chat.config().send_queue_limit;
        // Taken out and put back so the vectors keep their capacity.
        let mut out: Outbox = std::mem::take(&mut self.chat.out);
        for (id, chunk) in out.writes.drain(..) {
            let Some(conn) = self.conns.get_mut(id) else {
                continue;
            };
            if conn.dead() {
                continue;
            }
            let bytes = match &chunk {
                // The terminal draws the prompt, and in character mode the
                // half-typed line after it.
                Chunk::Prompt { text, view, secret } => {
                    // A password prompt: `*` for each key, no history.
                    conn.term.set_secret(*secret);
                    self.prompt_buf.clear();
                    conn.term.prompt(text, *view, &mut self.prompt_buf);
                    // SSH: the login name is typed at the first prompt
                    // (the username prompt) for the user.
                    conn.type_login_name(&mut self.prompt_buf);
                    &self.prompt_buf[..]
                }
                other => other.bytes(),
            };
            // A viewer that fell this far behind gets its latest screen
            // instead (unless it is being closed with a last word).
            let queued = conn.queue(bytes, limit, &mut self.pool)
                || (!out.closes.iter().any(|(c, _)| *c == id)
                    && coalesce(&self.chat, id, conn, 0, &mut self.prompt_buf)
                    && conn.unsent() <= limit);
            if !queued {
                conn.kill("send queue full".into());
                self.doomed.push(id);
                continue;
            }
            if !conn.dirty {
                conn.dirty = true;
                self.dirty.push(id);
            }
        }
        for (id, reason) in out.closes.drain(..) {
            if let Some(conn) = self.conns.get_mut(id) {
                conn.close(reason);
                if !conn.dirty {
                    conn.dirty = true;
                    self.dirty.push(id);
                }
            }
        }
        let now = Instant::now();
        for Timer {
            client,
            gen,
            kind,
            after,
        } in out.timers.drain(..)
        {
            let alarm = Alarm::Core { client, gen, kind };
            self.timers.push(Reverse((later(now, after), alarm)));
        }
        for (id, cols, rows) in out.resized.drain(..) {
            if let Some(conn) = self.conns.get_mut(id) {
                conn.term.set_size(Size { cols, rows });
            }
        }
        for id in out.named.drain(..) {
            if let (Some(conn), Some(name)) = (self.conns.get_mut(id), self.chat.name(id)) {
                crate::log_err!("chatsock: user named: {} {name}", conn.addr);
                conn.name = Some(name.into());
            }
        }
        for line in out.logs.drain(..) {
            crate::log_err!("chatsock: {line}");
        }
        // The worker's queue is bounded: a job it cannot take now is
        // answered `Busy` (the user is told to try again).
        let mut busy = Vec::new();
        for job in out.hash_jobs.drain(..) {
            let refused = match &self.worker {
                Some(w) => w.submit(job).err(),
                None => Some(job),
            };
            if let Some(job) = refused {
                busy.push(job.id);
            }
        }
        let save = std::mem::take(&mut out.save);
        self.chat.out = out;
        if save {
            let text = self.chat.accounts_text();
            let result = match &mut self.disk {
                Some(disk) => disk.save(&text),
                None => Err("accounts are off".into()),
            };
            self.chat.saved(result);
        }
        for job in &busy {
            self.chat.hashed(*job, HashAnswer::Busy);
        }
        if save || !busy.is_empty() {
            self.apply();
        }
    }

    /// Hands the worker's answers to the core; each client answered may
    /// have input waiting.
    fn hash_answers(&mut self) {
        while let Some((job, answer)) = self.worker.as_ref().and_then(Worker::answer) {
            let client = self.chat.hashed(job, answer);
            self.apply();
            if let Some(id) = client {
                self.drive(id);
            }
        }
    }

    fn fire_timers(&mut self) {
        let now = Instant::now();
        while let Some(Reverse((at, alarm))) = self.timers.peek().copied() {
            if at > now || self.done {
                return;
            }
            self.timers.pop();
            match alarm {
                Alarm::Core { client, gen, kind } => {
                    self.chat.timer(client, gen, kind);
                    self.apply();
                    self.drive(client);
                }
                Alarm::Flood { key, gen } => {
                    if let Some(conn) = self.conns.get_mut(key).filter(|c| c.gen == gen) {
                        conn.flood_timer = false;
                        self.drive(key);
                    }
                }
                Alarm::Handshake { key, gen } => {
                    if let Some(conn) = self.conns.get(key) {
                        if conn.gen == gen && conn.life == Life::Handshaking {
                            let secs = conn.transport.handshake_timeout().as_secs();
                            let name = conn.transport.name();
                            self.kill(key, format!("{name} handshake not done in {secs} s"));
                        }
                    }
                }
                Alarm::Linger { key, gen } => {
                    if let Some(conn) = self.conns.get(key).filter(|c| c.gen == gen) {
                        if let Life::Closing(reason) = conn.life {
                            self.kill(key, reason.into());
                        }
                    }
                }
                Alarm::Accept(gen) => {
                    if self.accepting.retry && gen == self.accepting.gen {
                        self.accept_all();
                    }
                }
                Alarm::Countdown(left) => crate::log_out!("{left}..."),
                Alarm::Grace => self.finish(),
            }
        }
    }

    fn mark_dirty(&mut self, key: usize) {
        if let Some(conn) = self.conns.get_mut(key) {
            if !conn.dirty {
                conn.dirty = true;
                self.dirty.push(key);
            }
        }
    }

    /// A connection to drop without flushing (error, overflow, flood).
    fn kill(&mut self, key: usize, reason: String) {
        if let Some(conn) = self.conns.get_mut(key) {
            if conn.kill(reason) {
                self.doomed.push(key);
            }
        }
    }

    /// Flushes every connection with new output (one write pass each),
    /// then removes the dead and the finished.
    fn end_pass(&mut self) {
        let mut reread = Vec::new();
        loop {
            while let Some(key) = self.dirty.pop() {
                let Some(conn) = self.conns.get_mut(key) else {
                    continue;
                };
                conn.dirty = false;
                if conn.dead() {
                    continue;
                }
                let had_own = conn.transport.wants_write();
                let result = conn.flush(&mut self.pool);
                if had_own && !conn.transport.wants_write() && conn.transport.has_pending_input() {
                    // SSH: sunset takes held input once its output is out;
                    // the socket will not say READABLE for it again.
                    reread.push(key);
                }
                conn.write_blocked = result == Io::WouldBlock;
                match (result, &conn.life) {
                    (Io::Error(reason), _) => {
                        self.kill(key, reason);
                        continue;
                    }
                    // Said goodbye; waiting a little for the peer's.
                    (Io::Done, Life::Closing(_)) if conn.transport.lingering() => {
                        let alarm = Alarm::Linger { key, gen: conn.gen };
                        self.timers.push(Reverse((Instant::now() + LINGER, alarm)));
                    }
                    // Flushed as far as the kernel takes it: done.
                    (_, Life::Closing(reason)) => {
                        let reason = reason.to_string();
                        self.kill(key, reason);
                        continue;
                    }
                    (Io::WouldBlock, _) => {
                        // The kernel takes no more: a viewer this far behind
                        // gets its latest screen instead of the backlog.
                        coalesce(&self.chat, key, conn, COALESCE_MIN, &mut self.prompt_buf);
                    }
                    _ => {}
                }
                let wanted = conn.interest();
                if wanted != conn.registered {
                    conn.registered = wanted;
                    let _ = self
                        .poll
                        .registry()
                        .reregister(&mut conn.stream, Token(key), wanted);
                }
            }
            for key in std::mem::take(&mut reread) {
                self.read(key);
            }
            if self.doomed.is_empty() && self.dirty.is_empty() {
                break;
            }
            for key in std::mem::take(&mut self.doomed) {
                self.remove(key);
            }
        }
        if self.done {
            for key in self.conns.iter().map(|(k, _)| k).collect::<Vec<_>>() {
                self.remove(key);
            }
        }
    }

    fn remove(&mut self, key: usize) {
        self.chat.disconnect(key);
        self.apply();
        if !self.conns.contains(key) {
            return;
        }
        let mut conn = self.conns.remove(key);
        let _ = self.poll.registry().deregister(&mut conn.stream);
        self.accepting
            .left(self.chat.config().ip_key(conn.addr.ip()));
        let reason = match std::mem::replace(&mut conn.life, Life::Open) {
            Life::Dead(reason) => reason,
            _ => "closed".into(),
        };
        crate::log_err!(
            "chatsock: client disconnected: {} {} ({reason}; {} online)",
            conn.addr,
            conn.name.as_deref().unwrap_or("-"),
            self.conns.len()
        );
        // A descriptor is free now (`Accepting::left`): whoever waits is
        // served at the end of this pass.
        drop(conn);
    }
}
