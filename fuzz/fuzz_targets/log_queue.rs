//! Defends issue 8 (logging never blocks or kills the loop): the bounded log
//! queue stays within its bounds whatever the writer does — keeps up, stalls
//! (no pops for a long time) or fails (a write error loses a batch) — and
//! accounts for every line: each is either written in order or counted in a
//! drop notice at the place it was lost.
//!
//! Input: byte 0 is the line bound (0–15), byte 1 the byte bound (in units
//! of 4, so 0–1020), byte 2 the writer's batch size (1–256 bytes); then one
//! byte per step: `b & 3` = 0 or 1 pushes a line of `b >> 2` bytes (0–63),
//! 2 pops one entry, 3 takes a batch (`pop_into`) as the writer thread does
//! (a stalled writer is a run of pushes with no pops; a failed write loses
//! a batch that has already left the queue, so the queue cannot tell
//! it from a written one). Checked after every step: the bounds,
//! the byte count, at most one drop marker per line (plus one), push's
//! answer against the dropped counter; at the end, the popped entries and
//! what is left are exactly the push history (Line per accepted push,
//! Dropped(n) per run of n dropped pushes, n ≥ 1), and each batch is the
//! text of its entries and ends within one entry of the batch size.
#![no_main]

use chatsock::log::{dropped_notice, Entry, Queue};
use libfuzzer_sys::fuzz_target;

/// What happened to one push.
#[derive(Debug, PartialEq)]
enum Event {
    Accepted(u64),
    Dropped,
}

fn line(seq: u64, len: usize) -> String {
    // The sequence number, cut or padded to `len` bytes.
    let mut s = format!("{seq}:");
    s.truncate(len);
    while s.len() < len {
        s.push('x');
    }
    s
}

/// The push history that `entries` (everything taken off the queue, then
/// what was left) stands for: accepted lines must come out in push order.
fn expand(entries: &[Entry], accepted: &[(u64, String)]) -> Vec<Event> {
    let mut next = accepted.iter();
    let mut out = Vec::new();
    for e in entries {
        match e {
            Entry::Line(l) => {
                let (seq, text) = next.next().expect("more lines out than in");
                assert_eq!(l, text, "line {seq} out of order");
                out.push(Event::Accepted(*seq));
            }
            Entry::Dropped(n) => {
                assert!(*n >= 1, "empty drop marker");
                out.extend((0..*n).map(|_| Event::Dropped));
            }
        }
    }
    out
}

fuzz_target!(|data: &[u8]| {
    let [max_lines, max_bytes, batch, steps @ ..] = data else {
        return;
    };
    let max_lines = usize::from(max_lines % 16);
    let max_bytes = usize::from(*max_bytes) * 4;
    let batch = usize::from(*batch) + 1;
    let mut q = Queue::new(max_lines, max_bytes);

    let mut history = Vec::new();
    // Every accepted line, in push order.
    let mut pushed: Vec<(u64, String)> = Vec::new();
    let mut popped = Vec::new();
    let mut dropped = 0u64;
    let mut queued_bytes = 0usize;
    for (seq, &b) in (0u64..).zip(steps) {
        match b & 3 {
            0 | 1 => {
                let l = line(seq, usize::from(b >> 2));
                let size = l.len() + 1;
                let fits = q.lines() < max_lines && q.bytes() + size <= max_bytes;
                let ok = q.push(l.clone());
                assert_eq!(ok, fits, "push answered {ok} with room {fits}");
                if ok {
                    queued_bytes += size;
                    history.push(Event::Accepted(seq));
                    pushed.push((seq, l));
                } else {
                    dropped += 1;
                    history.push(Event::Dropped);
                }
            }
            2 => {
                if let Some(e) = q.pop() {
                    if let Entry::Line(l) = &e {
                        queued_bytes -= l.len() + 1;
                    }
                    popped.push(e);
                } else {
                    assert!(q.is_empty() && q.lines() == 0 && q.bytes() == 0);
                }
            }
            _ => {
                let before = q.entries();
                let mut buf = Vec::new();
                q.pop_into(&mut buf, batch);
                let taken = before - q.entries();
                // The batch's entries, read back from its text (whether the
                // sink then writes it or fails, it has left the queue).
                let text = String::from_utf8(buf.clone()).expect("utf-8 batch");
                let mut expect = Vec::new();
                for l in text.split_terminator('\n') {
                    let notice = l
                        .strip_prefix("chatsock: ")
                        .and_then(|r| r.split(' ').next())
                        .and_then(|n| n.parse::<u64>().ok())
                        .filter(|&n| l == dropped_notice(n));
                    match notice {
                        Some(n) => expect.push(Entry::Dropped(n)),
                        None => {
                            queued_bytes -= l.len() + 1;
                            expect.push(Entry::Line(l.to_string()));
                        }
                    }
                }
                assert_eq!(expect.len(), taken, "batch text {text:?}");
                if taken > 0 {
                    let last = expect.last().unwrap();
                    let mut one = Vec::new();
                    last.write_to(&mut one);
                    assert!(buf.len() - one.len() < batch, "batch overran");
                }
                assert!(buf.len() >= batch || q.is_empty(), "batch stopped early");
                popped.extend(expect);
            }
        }
        assert!(q.lines() <= max_lines, "{} lines > {max_lines}", q.lines());
        assert!(q.bytes() <= max_bytes, "{} bytes > {max_bytes}", q.bytes());
        assert_eq!(q.bytes(), queued_bytes);
        assert!(q.entries() <= 2 * q.lines() + 1, "too many markers");
        assert_eq!(q.dropped(), dropped);
    }
    let mut all = popped;
    all.extend(std::iter::from_fn(|| q.pop()));
    assert_eq!(expand(&all, &pushed), history);
});
