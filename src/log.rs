//! Log output that never blocks or kills the event loop: `out`/`err` put a
//! line in a bounded queue and return at once; one writer thread per stream
//! writes it, ignoring write errors, and a full queue drops and counts lines.
//!
//! - [`init`] starts the writers (one for stdout, one for stderr, so a
//!   stalled stderr never delays `Now running on` on stdout). They write to
//!   duplicates of fds 1 and 2, never through std's `Stdout`/`Stderr`, so
//!   they hold no lock anything else could wait on; after `init` nothing
//!   else in the process should print.
//! - [`out`]/[`err`] (and the [`log_out!`](crate::log_out)/
//!   [`log_err!`](crate::log_err) macros) queue a line: at most
//!   [`MAX_LINES`] lines and [`MAX_BYTES`] bytes wait per stream, plus the
//!   batch being written (at most [`BATCH_BYTES`] and one line). A line that
//!   does not fit is dropped; where lines were dropped the writer puts one
//!   [`dropped_notice`] line once it gets there.
//! - Write errors (EPIPE from a closed pipe — Rust ignores SIGPIPE —,
//!   ENOSPC, EBADF, …) lose the batch and nothing else; no panic.
//! - [`finish`] waits a bounded time for the queues to drain, so the last
//!   lines normally get out, and returns even if a stream is stalled.
//! - Before `init` (library users, unit tests) a line is written directly,
//!   ignoring errors; if a writer thread cannot be started its stream's
//!   lines are dropped.
//!
//! The queue is the pure type [`Queue`]; [`Writer`] runs one over any
//! `Write` sink, which is what the unit tests and the fuzz target drive.

use std::collections::VecDeque;
use std::io::{self, Write};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, OnceLock};
use std::thread;
use std::time::{Duration, Instant};

/// Most lines waiting per stream.
pub const MAX_LINES: usize = 1024;
/// Most bytes (newlines included) waiting per stream.
pub const MAX_BYTES: usize = 256 * 1024;
/// A writer takes lines off its queue in batches of about this many bytes.
pub const BATCH_BYTES: usize = 64 * 1024;

/// The line a writer puts where `n` lines were dropped.
pub fn dropped_notice(n: u64) -> String {
    format!("chatsock: {n} log lines dropped (log output was not keeping up)")
}

/// What a [`Queue`] holds: a line, or the place where lines were dropped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Entry {
    /// A line, without its newline.
    Line(String),
    /// This many lines were dropped here.
    Dropped(u64),
}

impl Entry {
    /// The text to write: the line or the [`dropped_notice`], and a newline.
    pub fn write_to(&self, buf: &mut Vec<u8>) {
        match self {
            Entry::Line(l) => buf.extend_from_slice(l.as_bytes()),
            Entry::Dropped(n) => buf.extend_from_slice(dropped_notice(*n).as_bytes()),
        }
        buf.push(b'\n');
    }
}

/// A bounded FIFO of log lines that drops what does not fit and remembers
/// where, so the reader sees one notice in place of the missing lines.
///
/// Bounds: at most `max_lines` lines and `max_bytes` bytes (each line
/// counts its length plus one for the newline). Drop markers take no
/// budget; adjacent drops share one marker, so there is never more than one
/// marker per line (plus one).
#[derive(Debug)]
pub struct Queue {
    entries: VecDeque<Entry>,
    lines: usize,
    bytes: usize,
    max_lines: usize,
    max_bytes: usize,
    dropped: u64,
}

impl Queue {
    /// An empty queue with these bounds.
    pub fn new(max_lines: usize, max_bytes: usize) -> Queue {
        Queue {
            entries: VecDeque::new(),
            lines: 0,
            bytes: 0,
            max_lines,
            max_bytes,
            dropped: 0,
        }
    }

    /// Adds `line` (without its newline); false if it did not fit and was
    /// dropped (counted, and marked at this place in the queue).
    pub fn push(&mut self, line: String) -> bool {
        let size = line.len() + 1;
        if self.lines < self.max_lines && size <= self.max_bytes - self.bytes {
            self.lines += 1;
            self.bytes += size;
            self.entries.push_back(Entry::Line(line));
            return true;
        }
        self.dropped += 1;
        match self.entries.back_mut() {
            Some(Entry::Dropped(n)) => *n += 1,
            _ => self.entries.push_back(Entry::Dropped(1)),
        }
        false
    }

    /// Takes the oldest entry.
    pub fn pop(&mut self) -> Option<Entry> {
        let e = self.entries.pop_front()?;
        if let Entry::Line(l) = &e {
            self.lines -= 1;
            self.bytes -= l.len() + 1;
        }
        Some(e)
    }

    /// Moves entries, as text, onto the end of `buf` until `buf` holds at
    /// least `max` bytes or the queue is empty (so `buf` ends up with less
    /// than `max` plus one entry's text).
    pub fn pop_into(&mut self, buf: &mut Vec<u8>, max: usize) {
        while buf.len() < max {
            let Some(e) = self.pop() else { return };
            e.write_to(buf);
        }
    }

    /// True when nothing waits (no line, no drop notice).
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Lines waiting.
    pub fn lines(&self) -> usize {
        self.lines
    }

    /// Bytes waiting (each line plus its newline).
    pub fn bytes(&self) -> usize {
        self.bytes
    }

    /// Entries waiting: lines and drop markers.
    pub fn entries(&self) -> usize {
        self.entries.len()
    }

    /// Lines dropped since the queue was made.
    pub fn dropped(&self) -> u64 {
        self.dropped
    }
}

struct State {
    queue: Queue,
    /// The writer has taken a batch and not finished writing it.
    busy: bool,
    /// The `Writer` was dropped: the thread ends once the queue is empty.
    closed: bool,
}

struct Shared {
    state: Mutex<State>,
    /// Wakes the writer thread: a line was queued, or the writer closed.
    wake: Condvar,
    /// Wakes `drain`: the queue is empty and nothing is being written.
    idle: Condvar,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        // Nothing panics while holding the lock; recover anyway.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// A [`Queue`] and the thread that writes it to a sink.
pub struct Writer {
    shared: Arc<Shared>,
}

impl Writer {
    /// Starts a thread named `name` that writes `queue`'s lines to `sink`.
    pub fn spawn<W: Write + Send + 'static>(
        name: &str,
        sink: W,
        queue: Queue,
    ) -> io::Result<Writer> {
        let shared = Arc::new(Shared {
            state: Mutex::new(State {
                queue,
                busy: false,
                closed: false,
            }),
            wake: Condvar::new(),
            idle: Condvar::new(),
        });
        let theirs = Arc::clone(&shared);
        thread::Builder::new()
            .name(name.to_string())
            .spawn(move || write_loop(&theirs, sink))?;
        Ok(Writer { shared })
    }

    /// Queues `line` without waiting for anything but the queue's lock
    /// (which the writer holds only to take a batch); false if dropped.
    pub fn send(&self, line: String) -> bool {
        let queued = self.shared.lock().queue.push(line);
        if queued {
            self.shared.wake.notify_one();
        }
        queued
    }

    /// Waits until everything queued has been written (true), or until
    /// `deadline` (false).
    pub fn drain(&self, deadline: Instant) -> bool {
        let mut st = self.shared.lock();
        loop {
            if st.queue.is_empty() && !st.busy {
                return true;
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return false;
            }
            st = match self.shared.idle.wait_timeout(st, left) {
                Ok((st, _)) => st,
                Err(e) => e.into_inner().0,
            };
        }
    }

    /// Lines this writer's queue has dropped so far.
    pub fn dropped(&self) -> u64 {
        self.shared.lock().queue.dropped()
    }
}

impl Drop for Writer {
    fn drop(&mut self) {
        self.shared.lock().closed = true;
        self.shared.wake.notify_one();
    }
}

fn write_loop(shared: &Shared, mut sink: impl Write) {
    let mut batch = Vec::with_capacity(BATCH_BYTES);
    loop {
        {
            let mut st = shared.lock();
            st.busy = false;
            while st.queue.is_empty() {
                shared.idle.notify_all();
                if st.closed {
                    return;
                }
                st = match shared.wake.wait(st) {
                    Ok(st) => st,
                    Err(e) => e.into_inner(),
                };
            }
            st.busy = true;
            st.queue.pop_into(&mut batch, BATCH_BYTES);
        }
        write_ignoring_errors(&mut sink, &batch);
        batch.clear();
    }
}

/// Writes all of `buf` unless the sink fails; a failure loses the rest of
/// `buf` and nothing else.
fn write_ignoring_errors(sink: &mut impl Write, mut buf: &[u8]) {
    while !buf.is_empty() {
        match sink.write(buf) {
            Ok(0) => return,
            Ok(n) => buf = &buf[n..],
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            // A descriptor another process made non-blocking: wait for room
            // as a blocking write would (only this thread waits).
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                thread::sleep(Duration::from_millis(10));
            }
            Err(_) => return,
        }
    }
    let _ = sink.flush();
}

struct Logger {
    out: Option<Writer>,
    err: Option<Writer>,
}

static LOGGER: OnceLock<Logger> = OnceLock::new();

/// A writer for a duplicate of `fd` (stdout or stderr), or None if the
/// descriptor cannot be duplicated or the thread cannot start.
fn std_writer(name: &str, fd: std::os::fd::BorrowedFd<'_>) -> Option<Writer> {
    let file = std::fs::File::from(fd.try_clone_to_owned().ok()?);
    Writer::spawn(name, file, Queue::new(MAX_LINES, MAX_BYTES)).ok()
}

/// Starts the stdout and stderr writers (once; later calls do nothing).
/// Call it first in `main`, before any other file is opened.
pub fn init() {
    use std::os::fd::AsFd;
    LOGGER.get_or_init(|| Logger {
        out: std_writer("log-stdout", io::stdout().as_fd()),
        err: std_writer("log-stderr", io::stderr().as_fd()),
    });
}

/// Waits at most `timeout` for both streams to be written out; returns
/// whether they were. Call it last in `main`.
pub fn finish(timeout: Duration) -> bool {
    let deadline = Instant::now() + timeout;
    let Some(logger) = LOGGER.get() else {
        return true;
    };
    let out = logger.out.as_ref().is_none_or(|w| w.drain(deadline));
    let err = logger.err.as_ref().is_none_or(|w| w.drain(deadline));
    out && err
}

/// Queues one line for stdout (no trailing newline in `line`).
pub fn out(line: String) {
    match LOGGER.get() {
        Some(logger) => {
            if let Some(w) = &logger.out {
                w.send(line);
            }
        }
        None => direct(&mut io::stdout().lock(), line),
    }
}

/// Queues one line for stderr (the operational log).
pub fn err(line: String) {
    match LOGGER.get() {
        Some(logger) => {
            if let Some(w) = &logger.err {
                w.send(line);
            }
        }
        None => direct(&mut io::stderr().lock(), line),
    }
}

/// Before `init`: the line straight to the stream, errors ignored.
fn direct(sink: &mut impl Write, mut line: String) {
    line.push('\n');
    write_ignoring_errors(sink, line.as_bytes());
}

/// A line for stdout, formatted like `println!`.
#[macro_export]
macro_rules! log_out {
    ($($arg:tt)*) => { $crate::log::out(format!($($arg)*)) };
}

/// A line for stderr (the operational log), formatted like `eprintln!`.
#[macro_export]
macro_rules! log_err {
    ($($arg:tt)*) => { $crate::log::err(format!($($arg)*)) };
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::mpsc;

    fn lines(q: &mut Queue) -> Vec<Entry> {
        std::iter::from_fn(|| q.pop()).collect()
    }

    #[test]
    fn lines_come_out_in_order() {
        let mut q = Queue::new(10, 1000);
        assert!(q.push("a".into()));
        assert!(q.push("bc".into()));
        assert_eq!((q.lines(), q.bytes()), (2, 5));
        assert_eq!(
            lines(&mut q),
            [Entry::Line("a".into()), Entry::Line("bc".into())]
        );
        assert_eq!((q.lines(), q.bytes(), q.is_empty()), (0, 0, true));
    }

    #[test]
    fn the_line_bound_drops_and_marks_the_place_once() {
        let mut q = Queue::new(2, 1000);
        assert!(q.push("1".into()));
        assert!(q.push("2".into()));
        assert!(!q.push("3".into()));
        assert!(!q.push("4".into()));
        assert_eq!(q.dropped(), 2);
        assert_eq!(q.entries(), 3, "one marker for adjacent drops");
        assert_eq!(q.pop(), Some(Entry::Line("1".into())));
        assert!(q.push("5".into()));
        assert!(!q.push("6".into()));
        assert_eq!(
            lines(&mut q),
            [
                Entry::Line("2".into()),
                Entry::Dropped(2),
                Entry::Line("5".into()),
                Entry::Dropped(1),
            ]
        );
        assert_eq!(q.dropped(), 3);
    }

    #[test]
    fn the_byte_bound_counts_newlines_and_drops_oversized_lines() {
        let mut q = Queue::new(100, 8);
        assert!(q.push("abc".into())); // 4 bytes
        assert!(q.push("def".into())); // 8
        assert!(!q.push("".into())); // 9 > 8
        q.pop();
        assert!(q.push("".into()));
        assert!(!q.push("x".repeat(8)), "longer than the whole budget");
        assert_eq!(q.bytes(), 5);
        let mut empty = Queue::new(0, 0);
        assert!(!empty.push("x".into()));
        assert_eq!(lines(&mut empty), [Entry::Dropped(1)]);
    }

    #[test]
    fn pop_into_writes_notices_and_stops_after_the_batch_size() {
        let mut q = Queue::new(3, 1000);
        for l in ["one", "two", "three", "four", "five"] {
            q.push(l.into());
        }
        let mut buf = Vec::new();
        q.pop_into(&mut buf, 5);
        assert_eq!(buf, b"one\ntwo\n");
        q.pop_into(&mut buf, usize::MAX);
        assert_eq!(
            String::from_utf8(buf).unwrap(),
            format!("one\ntwo\nthree\n{}\n", dropped_notice(2))
        );
        assert!(q.is_empty());
    }

    #[test]
    fn random_pushes_and_pops_keep_the_bounds_and_account_for_every_line() {
        // A stalled writer is a run of pushes; a batch is what it takes.
        // Whatever the mix, what comes out (lines in push order, notices
        // for the rest) is exactly what went in. (fuzz/log_queue goes
        // further.)
        let mut rng = 0x2545_f491_u32;
        let mut next = move || {
            rng ^= rng << 13;
            rng ^= rng >> 17;
            rng ^= rng << 5;
            rng
        };
        let mut q = Queue::new(8, 200);
        let (mut pushed, mut accepted, mut out) = (0u64, Vec::new(), Vec::new());
        for _ in 0..20_000 {
            match next() % 8 {
                0..=4 => {
                    let line = format!("{pushed}{}", "x".repeat(next() as usize % 40));
                    if q.push(line.clone()) {
                        accepted.push(line);
                    }
                    pushed += 1;
                }
                5 | 6 => out.extend(q.pop()),
                _ => {
                    let mut buf = Vec::new();
                    q.pop_into(&mut buf, 64);
                    let text = String::from_utf8(buf).unwrap();
                    out.extend(text.lines().map(|l| match l.strip_prefix("chatsock: ") {
                        Some(n) => Entry::Dropped(n.split(' ').next().unwrap().parse().unwrap()),
                        None => Entry::Line(l.to_string()),
                    }));
                }
            }
            assert!(q.lines() <= 8 && q.bytes() <= 200);
            assert!(q.entries() <= 2 * q.lines() + 1);
        }
        out.extend(std::iter::from_fn(|| q.pop()));
        let lines: Vec<&String> = out
            .iter()
            .filter_map(|e| match e {
                Entry::Line(l) => Some(l),
                Entry::Dropped(_) => None,
            })
            .collect();
        assert_eq!(lines, accepted.iter().collect::<Vec<_>>());
        let notices: u64 = out
            .iter()
            .map(|e| match e {
                Entry::Dropped(n) => *n,
                Entry::Line(_) => 0,
            })
            .sum();
        assert_eq!(notices, q.dropped());
        assert_eq!(accepted.len() as u64 + q.dropped(), pushed);
        assert!(q.dropped() > 1000, "the mix must overflow: {}", q.dropped());
    }

    /// A sink that reports each write on a channel and waits for a go-ahead
    /// (or fails) before taking it.
    struct Gate {
        wrote: mpsc::Sender<Vec<u8>>,
        go: mpsc::Receiver<bool>,
    }

    impl Write for Gate {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            match self.go.recv() {
                Ok(true) => {
                    let _ = self.wrote.send(buf.to_vec());
                    Ok(buf.len())
                }
                _ => Err(io::ErrorKind::BrokenPipe.into()),
            }
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    fn gate() -> (Gate, mpsc::Receiver<Vec<u8>>, mpsc::Sender<bool>) {
        let (wrote, written) = mpsc::channel();
        let (go_tx, go) = mpsc::channel();
        (Gate { wrote, go }, written, go_tx)
    }

    const WAIT: Duration = Duration::from_secs(10);

    #[test]
    fn a_stalled_sink_never_blocks_send_and_drain_gives_up_at_its_deadline() {
        let (sink, written, go) = gate();
        let w = Writer::spawn("test-stalled", sink, Queue::new(4, 1000)).unwrap();
        let t0 = Instant::now();
        for i in 0..1000 {
            w.send(format!("line {i}"));
        }
        assert!(t0.elapsed() < Duration::from_secs(2), "{:?}", t0.elapsed());
        // The writer took a batch (of at most four lines) and is stuck in
        // it; four more lines wait, the rest were dropped.
        assert!(w.dropped() >= 1000 - 8, "{}", w.dropped());
        let t0 = Instant::now();
        assert!(!w.drain(Instant::now() + Duration::from_millis(100)));
        let waited = t0.elapsed();
        assert!(waited >= Duration::from_millis(100) && waited < Duration::from_secs(2));
        // Let it go: every line is written or counted in a notice, in order,
        // and the last thing written is the notice for the final drops.
        for _ in 0..100 {
            go.send(true).unwrap();
        }
        assert!(w.drain(Instant::now() + WAIT));
        let text: Vec<u8> = written.try_iter().flatten().collect();
        let text = String::from_utf8(text).unwrap();
        let (mut next, mut counted) = (0, 0);
        for l in text.lines() {
            if let Some(i) = l.strip_prefix("line ") {
                let i: u64 = i.parse().unwrap();
                assert!(i >= next, "out of order: {text}");
                next = i + 1;
            } else {
                let n = l.strip_prefix("chatsock: ").unwrap();
                let n: u64 = n.split(' ').next().unwrap().parse().unwrap();
                assert_eq!(l, dropped_notice(n));
                counted += n;
            }
        }
        assert!(text.starts_with("line 0\n"), "{text}");
        assert_eq!(counted, w.dropped());
        assert_eq!(
            text.lines().count() as u64,
            1000 - counted + text.matches("dropped").count() as u64
        );
        assert!(
            text.ends_with(" dropped (log output was not keeping up)\n"),
            "{text}"
        );
    }

    #[test]
    fn a_failing_sink_loses_its_batch_and_the_writer_goes_on() {
        let (sink, written, go) = gate();
        let w = Writer::spawn("test-failing", sink, Queue::new(100, 1000)).unwrap();
        w.send("lost".into());
        go.send(false).unwrap();
        assert!(w.drain(Instant::now() + WAIT));
        w.send("kept".into());
        go.send(true).unwrap();
        assert_eq!(written.recv_timeout(WAIT).unwrap(), b"kept\n");
        assert!(w.drain(Instant::now() + WAIT));
    }

    #[test]
    fn a_dropped_writer_ends_its_thread_after_writing_what_waits() {
        let (sink, written, go) = gate();
        let w = Writer::spawn("test-closed", sink, Queue::new(100, 1000)).unwrap();
        w.send("last".into());
        drop(w);
        go.send(true).unwrap();
        assert_eq!(written.recv_timeout(WAIT).unwrap(), b"last\n");
        // The thread is gone: the sink (and its channel) were dropped.
        assert!(matches!(
            written.recv_timeout(WAIT),
            Err(mpsc::RecvTimeoutError::Disconnected)
        ));
    }
}
