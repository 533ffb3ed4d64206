//! One client socket: the line reader and flood bucket on the way in, a
//! bounded output queue on the way out.

use crate::term::{Event, Terminal};
use crate::transport::ssh::Authenticator;
use crate::transport::Transport;
use mio::net::TcpStream;
use mio::Interest;
use std::collections::VecDeque;
use std::io;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

/// Stop reading the socket while this many lines wait to be processed, so
/// the kernel applies backpressure to a flooding client.
pub const PAUSE_LINES: usize = 32;
/// More lines than this waiting at once (one read's worth of tiny lines on
/// top of a paused queue) disconnects a throttled client: `excess flood`.
/// Without throttling (`floodRate: 0`) lines are handled as fast as they
/// are read, so one read's worth is the bound.
pub const EXCESS_FLOOD_LINES: usize = 512;
/// Unread input (left in the kernel while a throttled client's reading is
/// paused) beyond which the client is disconnected: `excess flood`. A
/// person pasting a few hundred lines stays under it.
pub const EXCESS_FLOOD_BYTES: usize = 64 * 1024;
/// Bytes read from a socket per `read` call.
pub const READ_CHUNK: usize = 4096;

/// Output buffers kept for reuse: a drained client gives its buffer back
/// here instead of to the allocator, and the next client with output takes
/// one, so a busy server does not grow and free a buffer per client per
/// pass. Bounded in count and in each buffer's size.
#[derive(Debug, Default)]
pub struct BufPool {
    free: Vec<Vec<u8>>,
}

impl BufPool {
    /// Buffers kept at most.
    pub const MAX_BUFS: usize = 1024;
    /// Larger buffers go back to the allocator.
    pub const MAX_CAPACITY: usize = 4096;

    fn take(&mut self) -> Vec<u8> {
        self.free.pop().unwrap_or_default()
    }

    fn give(&mut self, mut buf: Vec<u8>) {
        if buf.capacity() > 0
            && buf.capacity() <= Self::MAX_CAPACITY
            && self.free.len() < Self::MAX_BUFS
        {
            buf.clear();
            self.free.push(buf);
        }
    }
}

/// What a socket operation came to, so `io::ErrorKind` is matched once.
#[derive(Debug, PartialEq, Eq)]
pub enum Io {
    /// Done for now; more may come with the next readiness event.
    WouldBlock,
    /// The peer closed its side (read returned 0).
    Eof,
    /// Stopped on purpose (reading paused, or output fully written).
    Done,
    /// The connection failed; the reason for the log.
    Error(String),
}

fn classify(e: &io::Error) -> Option<Io> {
    match e.kind() {
        io::ErrorKind::WouldBlock => Some(Io::WouldBlock),
        io::ErrorKind::Interrupted => None,
        _ => Some(Io::Error(e.to_string())),
    }
}

/// Token bucket for `floodRate`/`floodBurst`.
#[derive(Debug)]
pub struct Bucket {
    rate: f64,
    burst: f64,
    tokens: f64,
    last: Instant,
}

impl Bucket {
    /// A full bucket; `rate` 0 means no throttling.
    pub fn new(rate: u32, burst: u32, now: Instant) -> Bucket {
        Bucket {
            rate: f64::from(rate),
            burst: f64::from(burst.max(1)),
            tokens: f64::from(burst.max(1)),
            last: now,
        }
    }

    /// Whether this bucket throttles at all.
    pub fn limited(&self) -> bool {
        self.rate > 0.0
    }

    /// Takes one token, or says how long until one is available.
    pub fn take(&mut self, now: Instant) -> Result<(), Duration> {
        if self.rate <= 0.0 {
            return Ok(());
        }
        let elapsed = now.saturating_duration_since(self.last).as_secs_f64();
        self.last = now;
        self.tokens = (self.tokens + elapsed * self.rate).min(self.burst);
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            Ok(())
        } else {
            Err(Duration::from_secs_f64((1.0 - self.tokens) / self.rate))
        }
    }
}

/// Where a connection is in its life: one state, from which the loop's
/// decisions (read it? flush and close it? drop it?) follow.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Life {
    /// The transport is setting up (a TLS handshake): read, but no session
    /// in the core yet.
    Handshaking,
    /// Reading and writing.
    Open,
    /// The client closed its sending side: what it sent is still handled
    /// and answered, then the connection closes.
    HalfClosed,
    /// Closing once its queued output is flushed, for this reason.
    Closing(&'static str),
    /// To be dropped without flushing, for this reason.
    Dead(String),
}

/// One connected client as the event loop sees it.
#[derive(Debug)]
pub struct Conn {
    /// The socket.
    pub stream: TcpStream,
    /// What the client speaks between the socket and the terminal layer.
    pub transport: Transport,
    /// Where the connection is in its life.
    pub life: Life,
    /// The peer's address.
    pub addr: SocketAddr,
    /// The username, once chosen (for the log).
    pub name: Option<Box<str>>,
    /// Distinguishes this connection from a later one with the same key.
    pub gen: u64,
    /// The client's terminal: telnet, mode, size, the line editor.
    pub term: Terminal,
    /// Complete lines (and interrupts) not yet handed to the core.
    pub pending: VecDeque<Event>,
    out: Vec<u8>,
    out_pos: usize,
    /// Reading stopped because too many lines wait (backpressure).
    pub read_paused: bool,
    /// Flood control.
    pub bucket: Bucket,
    /// A flood timer is already set.
    pub flood_timer: bool,
    /// The kernel took no more at the last flush: wait for WRITABLE.
    pub write_blocked: bool,
    /// The interest registered with the poll (see [`Conn::interest`]).
    pub registered: Interest,
    /// Queued for flushing this pass.
    pub dirty: bool,
    /// Waiting in the server's list of clients to drive again next pass.
    pub again: bool,
}

impl Conn {
    /// Wraps an accepted socket.
    pub fn new(
        stream: TcpStream,
        transport: Transport,
        addr: SocketAddr,
        gen: u64,
        max_line: usize,
        telnet: bool,
        bucket: Bucket,
    ) -> Conn {
        Conn {
            stream,
            life: if transport.handshaking() {
                Life::Handshaking
            } else {
                Life::Open
            },
            transport,
            addr,
            name: None,
            gen,
            term: Terminal::new(max_line, telnet),
            pending: VecDeque::new(),
            out: Vec::new(),
            out_pos: 0,
            read_paused: false,
            bucket,
            flood_timer: false,
            write_blocked: false,
            registered: Interest::READABLE,
            dirty: false,
            again: false,
        }
    }

    /// The readiness the loop should wait for, from the connection's
    /// state: input always, output while the kernel is full or the
    /// transport has bytes of its own to send.
    pub fn interest(&self) -> Interest {
        if self.write_blocked || self.transport.wants_write() {
            Interest::READABLE | Interest::WRITABLE
        } else {
            Interest::READABLE
        }
    }

    /// Whether the client's input is still read and handled.
    pub fn reading(&self) -> bool {
        match self.life {
            Life::Open | Life::Handshaking => true,
            // An SSH client's CLOSE is awaited (the rest is discarded).
            Life::Closing(_) => self.transport.lingering(),
            _ => false,
        }
    }

    /// Whether lines already read are still handed to the core.
    pub fn handling(&self) -> bool {
        matches!(self.life, Life::Open | Life::HalfClosed)
    }

    /// Whether the connection is to be dropped.
    pub fn dead(&self) -> bool {
        matches!(self.life, Life::Dead(_))
    }

    /// Closes after flushing, unless already closing or dead.
    pub fn close(&mut self, reason: &'static str) {
        if self.handling() {
            self.life = Life::Closing(reason);
        }
    }

    /// Drops without flushing; returns false if it already was.
    pub fn kill(&mut self, reason: String) -> bool {
        if self.dead() {
            return false;
        }
        self.life = Life::Dead(reason);
        true
    }

    /// Reads until WouldBlock, EOF, an error, or the pending-line limit,
    /// feeding the terminal layer: lines and interrupts go to `pending`,
    /// what the terminal answers at once (telnet replies, character-mode
    /// echo) is queued, within `limit`. `complete` answers Tab.
    pub fn read(
        &mut self,
        scratch: &mut [u8],
        complete: &mut dyn FnMut(&str) -> Vec<String>,
        auth: &mut dyn Authenticator,
        limit: usize,
        pool: &mut BufPool,
    ) -> Io {
        let len = scratch.len().min(READ_CHUNK);
        let scratch = &mut scratch[..len];
        let mut events = Vec::new();
        let mut echo = Vec::new();
        loop {
            if self.pending.len() >= PAUSE_LINES {
                self.read_paused = true;
                return Io::Done;
            }
            let read = self.transport.read(&mut self.stream, scratch, auth);
            if let Some(ssh) = self.transport.ssh_mut() {
                // The pty request and window changes, as telnet's NAWS.
                if ssh.pty() && self.term.mode() != crate::term::Mode::Char {
                    self.term.set_pty();
                }
                if let Some((cols, rows)) = ssh.take_size() {
                    self.term.client_size(cols, rows);
                }
            }
            match read {
                Ok(0) => {
                    if self.life == Life::Handshaking {
                        return Io::Error(format!(
                            "closed during the {} handshake",
                            self.transport.name()
                        ));
                    }
                    if self.life == Life::Open {
                        self.life = Life::HalfClosed;
                    }
                    return Io::Eof;
                }
                Ok(n) => {
                    self.term
                        .feed(&scratch[..n], &mut echo, &mut events, complete);
                    self.pending.extend(events.drain(..));
                    if !echo.is_empty() {
                        if !self.queue(&echo, limit, pool) {
                            return Io::Error("send queue full".into());
                        }
                        echo.clear();
                    }
                    if self.pending.len() > EXCESS_FLOOD_LINES && self.bucket.limited() {
                        return Io::Error("excess flood".into());
                    }
                }
                Err(e) => match classify(&e) {
                    // The transport's own errors already say "TLS"/"SSH".
                    Some(Io::Error(reason))
                        if self.life == Life::Handshaking
                            && !reason.starts_with(self.transport.name()) =>
                    {
                        return Io::Error(format!(
                            "during the {} handshake: {reason}",
                            self.transport.name()
                        ));
                    }
                    Some(io) => return io,
                    None => {}
                },
            }
        }
    }

    /// SSH: once the session's first prompt (the username prompt) is
    /// drawn into `out`, types the client's login name after it as if
    /// keyed in (echoed, then Enter), so the core takes it as the username
    /// and asks again if it is taken or not allowed (SPEC §12). Control
    /// characters are left out.
    pub fn type_login_name(&mut self, out: &mut Vec<u8>) {
        let Some(name) = self.transport.ssh_mut().and_then(|s| s.take_name()) else {
            return;
        };
        let mut typed: String = name.chars().filter(|c| !c.is_control()).collect();
        typed.push('\r');
        let mut events = Vec::new();
        let mut none = |_: &str| Vec::new();
        if self.term.mode() == crate::term::Mode::Line {
            // No pty: the client's side does not echo what we type for it.
            out.extend_from_slice(typed.trim_end().as_bytes());
            out.extend_from_slice(b"\r\n");
        }
        self.term
            .feed(typed.as_bytes(), out, &mut events, &mut none);
        self.pending.extend(events);
    }

    /// Whether a throttled client whose reading is paused has left more
    /// than `EXCESS_FLOOD_BYTES` unread in the kernel (looked at with a
    /// peek into `scratch`, which must be at least that large).
    pub fn excess_unread(&self, scratch: &mut [u8]) -> bool {
        self.read_paused
            && self.bucket.limited()
            && matches!(self.stream.peek(scratch), Ok(n) if n >= EXCESS_FLOOD_BYTES)
    }

    /// Bytes queued but not yet written.
    pub fn unsent(&self) -> usize {
        self.out.len() - self.out_pos
    }

    /// Appends output; if that would pass `limit` unsent bytes, first tries
    /// to write, and returns false (queueing nothing) if it is still too full.
    #[must_use]
    pub fn queue(&mut self, bytes: &[u8], limit: usize, pool: &mut BufPool) -> bool {
        if self.unsent() + bytes.len() > limit {
            let _ = self.flush(pool);
            if self.unsent() + bytes.len() > limit {
                return false;
            }
        }
        if self.out.capacity() == 0 {
            self.out = pool.take();
        } else if self.out_pos >= READ_CHUNK && self.out_pos * 2 >= self.out.len() {
            // A client that never quite catches up must not keep what it
            // was sent long ago: drop the written front (amortised O(1)).
            self.out.drain(..self.out_pos);
            self.out_pos = 0;
        }
        self.out.extend_from_slice(bytes);
        true
    }

    /// Drops queued output that has not started to go out and queues
    /// `bytes` instead (a full chat-view redraw replacing stale updates).
    pub fn replace_unsent(&mut self, bytes: &[u8]) {
        // Everything before out_pos is already on the wire.
        self.out.clear();
        self.out_pos = 0;
        self.out.extend_from_slice(bytes);
    }

    /// Writes queued output until done or WouldBlock; gives the buffer back
    /// to `pool` when it is drained, so an idle client holds none.
    pub fn flush(&mut self, pool: &mut BufPool) -> Io {
        while self.out_pos < self.out.len() {
            match self
                .transport
                .write(&mut self.stream, &self.out[self.out_pos..])
            {
                Ok(0) => return Io::Error("write returned 0".into()),
                Ok(n) => self.out_pos += n,
                Err(e) => {
                    if let Some(io) = classify(&e) {
                        return io;
                    }
                }
            }
        }
        pool.give(std::mem::take(&mut self.out));
        self.out_pos = 0;
        if matches!(self.life, Life::Closing(_)) {
            // Everything said: the transport's goodbye goes last.
            self.transport.close();
        }
        loop {
            match self.transport.flush(&mut self.stream) {
                Ok(()) => return Io::Done,
                Err(e) => {
                    if let Some(io) = classify(&e) {
                        return io;
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bucket_allows_burst_then_rate() {
        let t0 = Instant::now();
        let mut b = Bucket::new(5, 3, t0);
        assert!(b.take(t0).is_ok());
        assert!(b.take(t0).is_ok());
        assert!(b.take(t0).is_ok());
        let wait = b.take(t0).unwrap_err();
        assert!(wait > Duration::from_millis(150) && wait <= Duration::from_millis(200));
        assert!(b.take(t0 + Duration::from_millis(200)).is_ok());
        assert!(b.take(t0 + Duration::from_millis(200)).is_err());
    }

    #[test]
    fn pool_keeps_small_buffers_only_and_a_bounded_number() {
        let mut pool = BufPool::default();
        pool.give(Vec::with_capacity(64));
        pool.give(Vec::with_capacity(BufPool::MAX_CAPACITY + 1));
        pool.give(Vec::new());
        assert_eq!(pool.free.len(), 1);
        assert!(pool.take().capacity() >= 64);
        assert_eq!(pool.take().capacity(), 0);
        for _ in 0..BufPool::MAX_BUFS + 10 {
            pool.give(Vec::with_capacity(16));
        }
        assert_eq!(pool.free.len(), BufPool::MAX_BUFS);
    }

    #[test]
    fn bucket_rate_zero_never_throttles() {
        let t0 = Instant::now();
        let mut b = Bucket::new(0, 1, t0);
        for _ in 0..1000 {
            assert!(b.take(t0).is_ok());
        }
    }
}

#[cfg(test)]
mod size_tests {
    use super::*;

    #[test]
    fn an_idle_connection_is_small() {
        // The slab entry of an idle client (its buffers are empty until
        // used): with the core's entry it stays under 1 KiB per client.
        let size = std::mem::size_of::<Conn>();
        assert!(size <= 640, "Conn is {size} bytes");
    }
}
