//! Defends SPEC §8 (the terminal layer: telnet options, line and character
//! mode, the line editor, completion, the size) and SPEC §7 (bytes of any
//! value, in any split: no panic, memory bounded, lines within
//! `maxLineLength`).
//!
//! Input: byte 0 picks the line limit (1–256, or 4096 when its top bit is
//! set); byte 1 seeds how the stream is cut into reads and what happens
//! between them (prompts in the palette or the chat view, no prompt, a
//! `:size`); byte 2 is flags (bit 0: telnet on; bit 1: the stream starts
//! with IAC DO ECHO IAC DO SGA, so character mode from the first byte;
//! bit 2: the completer also offers 2,000 generated names); the rest is the
//! client's byte stream.
//!
//! Checked after every read: `buffered()` is at most twice the limit plus
//! the history bound and a few bytes; every `Event::Line` is within the
//! limit. And the events do not depend on how the stream was cut — where
//! the mode was decided the same way: with the negotiation prefix, or when
//! neither run (nor both, from the first byte) took the stream for a raw
//! client's keystrokes, which by design looks at read boundaries.
#![no_main]

use chatsock::term::{editor::HISTORY_BYTES, Event, Mode, Size, Terminal};
use libfuzzer_sys::fuzz_target;

const POOL: &[&str] = &[
    "alice",
    "alan",
    "Albert",
    "bob",
    "bobby",
    ":join",
    ":jump",
    "日本",
    "日本語",
    "general",
];

/// Candidates that depend only on the text before the cursor (and the
/// flags), as a real completer's would.
fn completer(many: bool) -> impl FnMut(&str) -> Vec<String> {
    move |before: &str| {
        let mut names: Vec<String> = POOL.iter().map(|s| s.to_string()).collect();
        if before.len() % 3 == 0 {
            names.truncate(before.len() % POOL.len());
        }
        if many {
            names.extend((0..2000).map(|i| format!("al{i}")));
        }
        names
    }
}

struct Run {
    events: Vec<Event>,
    /// Where (stream offset of the read) a raw keystroke switched to
    /// character mode, if it did.
    raw_switch: Option<usize>,
    char_seen: bool,
}

fn check(term: &Terminal, events: &[Event], limit: usize) {
    let bound = 2 * limit + HISTORY_BYTES + 64;
    assert!(
        term.buffered() <= bound,
        "buffered {} > {bound}",
        term.buffered()
    );
    for e in events {
        if let Event::Line(l) = e {
            assert!(l.len() <= limit, "line of {} bytes > {limit}", l.len());
        }
    }
}

fn run(stream: &[u8], limit: usize, telnet: bool, many: bool, seed: Option<u8>) -> Run {
    let mut term = Terminal::new(limit, telnet);
    let mut complete = completer(many);
    let mut events = Vec::new();
    let mut out = Vec::new();
    let mut raw_switch = None;
    let mut char_seen = false;
    let mut rng = seed.map_or(1, |s| u32::from(s) | 0x100);
    let mut next = move || {
        rng ^= rng << 13;
        rng ^= rng >> 17;
        rng ^= rng << 5;
        rng
    };
    let mut pos = 0;
    while pos < stream.len() {
        let n = if seed.is_some() {
            (next() as usize % 16 + 1).min(stream.len() - pos)
        } else {
            stream.len()
        };
        let chunk = &stream[pos..pos + n];
        if seed.is_some() {
            match next() % 8 {
                0 => term.prompt("> ", false, &mut out),
                1 => term.prompt("\r\n[room/日本]> ", true, &mut out),
                2 => term.clear_prompt(),
                3 => {
                    let r = next();
                    term.set_size(Size {
                        cols: (r % 600) as u16,
                        rows: (r >> 16) as u16,
                    });
                }
                _ => {}
            }
        }
        let before = term.mode();
        let mut got = Vec::new();
        term.feed(chunk, &mut out, &mut got, &mut complete);
        check(&term, &got, limit);
        if before == Mode::Line && term.mode() == Mode::Char && !telnet && raw_switch.is_none() {
            raw_switch = Some(pos);
        }
        char_seen |= term.mode() == Mode::Char || term.take_mode_change().is_some();
        events.extend(got);
        out.clear();
        pos += n;
    }
    Run {
        events,
        raw_switch,
        char_seen,
    }
}

fuzz_target!(|data: &[u8]| {
    let [max, seed, flags, rest @ ..] = data else {
        return;
    };
    let limit = if max & 0x80 != 0 {
        4096
    } else {
        usize::from(*max) + 1
    };
    let prefixed = flags & 2 != 0;
    let telnet = flags & 1 != 0 || prefixed;
    let many = flags & 4 != 0;
    let stream = if prefixed {
        [&b"\xff\xfd\x01\xff\xfd\x03"[..], rest].concat()
    } else {
        rest.to_vec()
    };

    let whole = run(&stream, limit, telnet, many, None);
    let split = run(&stream, limit, telnet, many, Some(*seed));

    let comparable = if prefixed {
        true
    } else if telnet {
        !whole.char_seen && !split.char_seen
    } else {
        whole.raw_switch == split.raw_switch
    };
    if comparable {
        assert_eq!(whole.events, split.events, "events depend on the reads");
    }
});
