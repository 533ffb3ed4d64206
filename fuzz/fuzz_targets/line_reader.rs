//! Defends SPEC §3 (line endings `\n`, `\r\n`, `\r\0`, `\r`; telnet IAC
//! sequences consumed, never text) and SPEC §7 (a line longer than
//! `maxLineLength` is discarded up to its end; the reader never holds more
//! than that many bytes of a partial line).
//!
//! Input: byte 0 is the line limit (0 = unlimited), byte 1 seeds how the rest
//! is cut into reads (1 to 64 bytes each, as `read()` might return it); the
//! rest is the client's byte stream. Checked: every `Text` line is within the
//! limit and holds no CR or LF; `buffered()` never exceeds the limit; the
//! lines do not depend on how the stream was cut; and for plain streams (no
//! IAC, no CR) the lines are exactly the `\n`-separated pieces.
#![no_main]

use chatsock::line::{Line, LineReader};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let [max, seed, stream @ ..] = data else {
        return;
    };
    let max = usize::from(*max);
    let limit = if max == 0 { usize::MAX } else { max };

    // The whole stream in one read.
    let mut whole = Vec::new();
    let mut reader = LineReader::new(max);
    reader.feed(stream, |l| whole.push(l));
    assert!(reader.buffered() <= limit);
    let whole_buffered = reader.buffered();

    // The same stream in arbitrary reads.
    let mut split = Vec::new();
    let mut reader = LineReader::new(max);
    let mut rng = u32::from(*seed) | 0x100;
    let mut rest = stream;
    while !rest.is_empty() {
        rng ^= rng << 13;
        rng ^= rng >> 17;
        rng ^= rng << 5;
        let n = (rng as usize % 64 + 1).min(rest.len());
        let (chunk, tail) = rest.split_at(n);
        reader.feed(chunk, |l| split.push(l));
        assert!(
            reader.buffered() <= limit,
            "buffered {} > {limit}",
            reader.buffered()
        );
        rest = tail;
    }
    assert_eq!(whole, split, "lines depend on how the stream was cut");
    assert_eq!(whole_buffered, reader.buffered());

    for line in &whole {
        if let Line::Text(t) = line {
            assert!(t.len() <= limit, "line of {} bytes > {limit}", t.len());
            assert!(!t.contains(&b'\r') && !t.contains(&b'\n'), "CR/LF in {t:?}");
        }
    }

    // Oracle for plain text: without IAC and CR, `\n` alone ends lines.
    if !stream.contains(&0xff) && !stream.contains(&b'\r') {
        let mut pieces: Vec<&[u8]> = stream.split(|&b| b == b'\n').collect();
        let partial = pieces.pop().unwrap_or_default();
        let expected: Vec<Line> = pieces
            .iter()
            .map(|p| {
                if p.len() > limit {
                    Line::TooLong
                } else {
                    Line::Text(p.to_vec())
                }
            })
            .collect();
        assert_eq!(whole, expected);
        let held = if partial.len() > limit {
            0
        } else {
            partial.len()
        };
        assert_eq!(whole_buffered, held);
    }
});
