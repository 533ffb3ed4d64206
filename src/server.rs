//! The event loop: one `mio::Poll` for the listener, the signals and every
//! client in a `Slab<Conn>`, with a timer queue; it moves bytes and time
//! between sockets and the chat core.

use crate::chat::{Chat, ClientId, Outbox, Timer, TimerKind};
use crate::config::Config;
use crate::conn::{Bucket, BufPool, Conn, Io, EXCESS_FLOOD_BYTES};
use crate::line::Line;
use crate::shutdown::Shutdown;
use mio::net::TcpListener;
use mio::{Events, Interest, Poll, Token};
use slab::Slab;
use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};
use std::fs::File;
use std::io::{self, Write};
use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

const LISTENER: Token = Token(usize::MAX - 1);
const SIGNALS: Token = Token(usize::MAX - 2);
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

/// The one line a refused client gets.
const SERVER_FULL: &str = "Server full, try again later.\r\n";

/// How long after a failed accept (no descriptors, no memory) to try again;
/// a client leaving retries at once.
const ACCEPT_RETRY: Duration = Duration::from_millis(250);

/// Bytes of kernel send buffer per client (`SO_SNDBUF`; Linux doubles it
/// for its bookkeeping). A chat-view screen is a few KiB, so a reading
/// client never waits on it; a client that does not read pins at most this
/// much kernel memory besides its `sendQueueLimit`.
pub const KERNEL_SEND_BUFFER: usize = 16 * 1024;

/// Whether an accept error means the process or system ran out of
/// descriptors or socket memory.
fn out_of_descriptors(e: &io::Error) -> bool {
    // EMFILE 24, ENFILE 23, ENOBUFS 105, ENOMEM 12 on Linux.
    matches!(e.raw_os_error(), Some(24 | 23 | 105 | 12))
}

/// The reserve descriptor (see `Server::reserve`).
fn open_reserve() -> Option<File> {
    File::open("/dev/null").ok()
}

/// An IPv4 client of a dual-stack listener counts (and is logged) as its
/// IPv4 address, not as ::ffff:a.b.c.d.
fn canonical(mut addr: SocketAddr) -> SocketAddr {
    addr.set_ip(addr.ip().to_canonical());
    addr
}

/// `now + after`, or far in the future if that overflows.
fn later(now: Instant, after: Duration) -> Instant {
    now.checked_add(after)
        .unwrap_or_else(|| now + Duration::from_secs(86_400 * 365))
}

/// Resets a scroll region a half-sent update may have left set.
const RESET_REGION: &[u8] = b"\x1b[r";

/// Replaces `conn`'s unsent output by one full chat-view frame when the
/// client is viewing and the frame is smaller than what waits (only the
/// latest screen matters). Returns whether it did.
fn coalesce(chat: &Chat, key: usize, conn: &mut Conn, min: usize) -> bool {
    let unsent = conn.unsent();
    if unsent <= min {
        return false;
    }
    let Some(frame) = chat.full_view(key) else {
        return false;
    };
    if frame.len() + RESET_REGION.len() >= unsent {
        return false;
    }
    conn.replace_unsent(&[RESET_REGION, &frame].concat());
    true
}

/// The shell around the chat core.
struct Server {
    poll: Poll,
    listener: TcpListener,
    chat: Chat,
    conns: Slab<Conn>,
    per_ip: HashMap<IpAddr, usize>,
    timers: BinaryHeap<Reverse<(Instant, Alarm)>>,
    dirty: Vec<usize>,
    doomed: Vec<usize>,
    /// Clients with lines left over from their per-pass budget.
    again: Vec<usize>,
    pool: BufPool,
    scratch: Vec<u8>,
    next_gen: u64,
    /// A descriptor held back so that, when accept runs out of them, one
    /// can be freed to tell a waiting client the server is full.
    reserve: Option<File>,
    /// Accepting failed; an `Alarm::Accept(accept_gen)` is set.
    accept_retry: bool,
    accept_gen: u64,
    /// A connection was removed this pass (a descriptor came free).
    freed: bool,
    /// The last accept ran out of descriptors (logged once per episode).
    out_of_fds: bool,
    /// When the loop started: the core's clock counts from here.
    started: Instant,
    shutdown: bool,
    done: bool,
}

/// Serves `listener` with `config` until a shutdown completes; each
/// request from `shutdown` is one signal (the second ends the grace).
pub fn run(
    listener: TcpListener,
    mut shutdown: Shutdown,
    config: Config,
    version: &'static str,
) -> io::Result<()> {
    let poll = Poll::new()?;
    let mut listener = listener;
    poll.registry()
        .register(&mut listener, LISTENER, Interest::READABLE)?;
    shutdown.register(poll.registry(), SIGNALS)?;
    let mut server = Server {
        poll,
        listener,
        chat: Chat::new(config, version),
        conns: Slab::new(),
        per_ip: HashMap::new(),
        timers: BinaryHeap::new(),
        dirty: Vec::new(),
        doomed: Vec::new(),
        again: Vec::new(),
        pool: BufPool::default(),
        scratch: vec![0; EXCESS_FLOOD_BYTES],
        next_gen: 0,
        reserve: open_reserve(),
        accept_retry: false,
        accept_gen: 0,
        freed: false,
        out_of_fds: false,
        started: Instant::now(),
        shutdown: false,
        done: false,
    };
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
                LISTENER => server.accept(),
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
        if server.accept_retry && server.freed && !server.done {
            server.accept();
            server.end_pass();
        }
    }
    Ok(())
}

impl Server {
    /// Accepts every waiting connection. Out of descriptors, it refuses
    /// them with the reserve descriptor; without one, it retries on a timer
    /// and whenever a client leaves, so none waits unanswered.
    fn accept(&mut self) {
        self.accept_retry = false;
        self.freed = false;
        if self.reserve.is_none() {
            self.reserve = open_reserve();
        }
        loop {
            match self.listener.accept() {
                Ok((stream, addr)) => {
                    if std::mem::take(&mut self.out_of_fds) {
                        crate::log_err!("chatsock: file descriptors available again");
                    }
                    self.admit(stream, addr);
                }
                Err(e) => match e.kind() {
                    io::ErrorKind::WouldBlock => return,
                    // Gone before we took it, or refused by a firewall rule.
                    io::ErrorKind::Interrupted
                    | io::ErrorKind::ConnectionAborted
                    | io::ErrorKind::PermissionDenied => {}
                    _ if out_of_descriptors(&e) => {
                        if !self.out_of_fds {
                            self.out_of_fds = true;
                            crate::log_err!(
                                "chatsock: out of file descriptors ({e}): new clients are told `Server full`"
                            );
                        }
                        match self.refuse_with_reserve() {
                            Some(true) => {}
                            // Linux reports EMFILE before it looks at the
                            // queue: nobody waits, and the next connection
                            // is a new readiness event.
                            Some(false) => return,
                            None => return self.retry_accept_later(&e),
                        }
                    }
                    _ => return self.retry_accept_later(&e),
                },
            }
        }
    }

    /// Frees the reserve descriptor for one accept, tells that client the
    /// server is full, closes it and takes the reserve back. Returns whether
    /// a client was refused, or None when there was no reserve to use.
    fn refuse_with_reserve(&mut self) -> Option<bool> {
        self.reserve.take()?;
        let refused = match self.listener.accept() {
            Ok((mut stream, addr)) => {
                let _ = stream.write(SERVER_FULL.as_bytes());
                crate::log_err!(
                    "chatsock: refused {}: out of file descriptors",
                    canonical(addr)
                );
                true
            }
            Err(_) => false,
        };
        self.reserve = open_reserve();
        Some(refused)
    }

    fn retry_accept_later(&mut self, e: &io::Error) {
        if !self.accept_retry {
            self.accept_retry = true;
            self.accept_gen += 1;
            crate::log_err!("chatsock: accept failed: {e}; retrying");
            let at = Instant::now() + ACCEPT_RETRY;
            self.timers
                .push(Reverse((at, Alarm::Accept(self.accept_gen))));
        }
    }

    /// Serves a new connection, or refuses it with one line.
    fn admit(&mut self, mut stream: mio::net::TcpStream, addr: SocketAddr) {
        let addr = canonical(addr);
        let cfg = self.chat.config();
        let ip = cfg.ip_key(addr.ip());
        let from_ip = self.per_ip.get(&ip).copied().unwrap_or(0);
        let refusal = if self.shutdown {
            Some("The server is shutting down, try again later.\r\n")
        } else if (cfg.max_clients > 0 && self.conns.len() >= cfg.max_clients)
            || (cfg.max_clients_per_ip > 0 && from_ip >= cfg.max_clients_per_ip)
        {
            Some(SERVER_FULL)
        } else {
            None
        };
        if let Some(msg) = refusal {
            let _ = stream.write(msg.as_bytes());
            crate::log_err!("chatsock: refused {addr}: {}", msg.trim_end());
            return;
        }
        let entry = self.conns.vacant_entry();
        let key = entry.key();
        if let Err(e) = self
            .poll
            .registry()
            .register(&mut stream, Token(key), Interest::READABLE)
        {
            let _ = stream.write(SERVER_FULL.as_bytes());
            crate::log_err!("chatsock: cannot register {addr}: {e}");
            return;
        }
        let _ = stream.set_nodelay(true);
        // The kernel's send buffer would otherwise grow to tcp_wmem's
        // maximum (MiBs) for a client that does not read; this caps it.
        let _ = socket2::SockRef::from(&stream).set_send_buffer_size(KERNEL_SEND_BUFFER);
        self.next_gen += 1;
        let bucket = Bucket::new(cfg.flood_rate, cfg.flood_burst, Instant::now());
        entry.insert(Conn::new(
            stream,
            addr,
            self.next_gen,
            cfg.max_line_length,
            bucket,
        ));
        *self.per_ip.entry(ip).or_insert(0) += 1;
        crate::log_err!(
            "chatsock: client connected: {addr} ({} online)",
            self.conns.len()
        );
        self.chat.connect(key);
        self.apply();
        self.drive(key);
    }

    fn signal(&mut self) {
        if self.shutdown {
            crate::log_out!("Second signal: shutting down now.");
            self.finish();
            return;
        }
        self.shutdown = true;
        crate::log_err!("chatsock: shutdown requested; closing in {GRACE_SECS} seconds");
        crate::log_out!("Shutting down in {GRACE_SECS} seconds... (signal again to stop at once)");
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
        crate::log_err!("chatsock: shut down");
    }

    fn read(&mut self, key: usize) {
        let Some(conn) = self.conns.get_mut(key) else {
            return;
        };
        if conn.eof || conn.dead.is_some() {
            return;
        }
        if !conn.read_paused {
            if let Io::Error(reason) = conn.read(&mut self.scratch) {
                return self.kill(key, reason);
            }
        }
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
            if conn.dead.is_some() || conn.closing.is_some() {
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
                    match conn.read(&mut self.scratch) {
                        Io::Error(reason) => return self.kill(key, reason),
                        _ => continue,
                    }
                }
                if conn.eof {
                    // A half-closed client still gets the replies to what
                    // it sent before closing; then the connection ends.
                    conn.closing.get_or_insert("closed by client");
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
                Line::Text(bytes) => self.chat.line(key, &bytes),
                Line::TooLong => self.chat.line_too_long(key),
            }
            self.apply();
        }
    }

    /// Carries out what the core asked for.
    fn apply(&mut self) {
        let out = &self.chat.out;
        if out.writes.is_empty()
            && out.closes.is_empty()
            && out.timers.is_empty()
            && out.named.is_empty()
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
            if conn.dead.is_some() {
                continue;
            }
            // A viewer that fell this far behind gets its latest screen
            // instead (unless it is being closed with a last word).
            let queued = conn.queue(chunk.bytes(), limit, &mut self.pool)
                || (!out.closes.iter().any(|(c, _)| *c == id)
                    && coalesce(&self.chat, id, conn, 0)
                    && conn.unsent() <= limit);
            if !queued {
                conn.dead = Some("send queue full".into());
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
                conn.closing.get_or_insert(reason);
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
        for id in out.named.drain(..) {
            if let (Some(conn), Some(name)) = (self.conns.get_mut(id), self.chat.name(id)) {
                crate::log_err!("chatsock: user named: {} {name}", conn.addr);
                conn.name = Some(name.into());
            }
        }
        self.chat.out = out;
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
                Alarm::Accept(gen) => {
                    if self.accept_retry && gen == self.accept_gen {
                        self.accept();
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
            if conn.dead.is_none() {
                conn.dead = Some(reason);
                self.doomed.push(key);
            }
        }
    }

    /// Flushes every connection with new output (one write pass each),
    /// then removes the dead and the finished.
    fn end_pass(&mut self) {
        loop {
            while let Some(key) = self.dirty.pop() {
                let Some(conn) = self.conns.get_mut(key) else {
                    continue;
                };
                conn.dirty = false;
                if conn.dead.is_some() {
                    continue;
                }
                match conn.flush(&mut self.pool) {
                    Io::Error(reason) => {
                        self.kill(key, reason);
                        continue;
                    }
                    Io::WouldBlock if conn.closing.is_none() => {
                        // The kernel takes no more: a viewer this far behind
                        // gets its latest screen instead of the backlog.
                        coalesce(&self.chat, key, conn, COALESCE_MIN);
                        if !conn.want_write {
                            conn.want_write = true;
                            let _ = self.poll.registry().reregister(
                                &mut conn.stream,
                                Token(key),
                                Interest::READABLE | Interest::WRITABLE,
                            );
                        }
                        continue;
                    }
                    _ => {}
                }
                if let Some(reason) = conn.closing {
                    conn.dead = Some(reason.to_string());
                    self.doomed.push(key);
                } else if conn.want_write {
                    conn.want_write = false;
                    let _ = self.poll.registry().reregister(
                        &mut conn.stream,
                        Token(key),
                        Interest::READABLE,
                    );
                }
            }
            if self.doomed.is_empty() {
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
        let ip = self.chat.config().ip_key(conn.addr.ip());
        if let Some(n) = self.per_ip.get_mut(&ip) {
            *n -= 1;
            if *n == 0 {
                self.per_ip.remove(&ip);
            }
        }
        let reason = conn.dead.take().unwrap_or_else(|| "closed".into());
        crate::log_err!(
            "chatsock: client disconnected: {} {} ({reason}; {} online)",
            conn.addr,
            conn.name.as_deref().unwrap_or("-"),
            self.conns.len()
        );
        drop(conn);
        // A descriptor is free now: whoever waits is served at the end of
        // this pass.
        self.freed = true;
    }
}
