//! Splits a client's byte stream into lines: accepts `\n`, `\r\n`, `\r\0`
//! and `\r` as line ends, and never holds more than `max_line` bytes of a
//! partial line. (Telnet commands are the terminal's job, `term::telnet`;
//! [`LineReader::feed`] still strips them for callers without a terminal.)

use crate::term::telnet::{Parser, Token};

/// What one complete line of input came to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Line {
    /// A line's bytes, without its terminator (not yet sanitised).
    Text(Vec<u8>),
    /// A line that exceeded the limit; its bytes were discarded.
    TooLong,
}

/// Incremental line splitter with the length limit.
#[derive(Debug)]
pub struct LineReader {
    max_line: usize,
    buf: Vec<u8>,
    /// Only for [`LineReader::feed`]: the telnet tokenizer (two bytes).
    telnet: Parser,
    /// The previous line ended in `\r`: a following `\n` or `\0` belongs to it.
    after_cr: bool,
    /// The current line is over the limit and is being discarded.
    discarding: bool,
}

impl LineReader {
    /// A reader that allows lines of at most `max_line` bytes (0 = no limit).
    pub fn new(max_line: usize) -> Self {
        LineReader {
            max_line: if max_line == 0 { usize::MAX } else { max_line },
            buf: Vec::new(),
            telnet: Parser::default(),
            after_cr: false,
            discarding: false,
        }
    }

    /// Bytes of a partial line held right now (never above the limit).
    pub fn buffered(&self) -> usize {
        self.buf.len()
    }

    /// Feeds `bytes`, telnet commands stripped, calling `emit` for every
    /// complete line in order.
    pub fn feed(&mut self, bytes: &[u8], mut emit: impl FnMut(Line)) {
        for &b in bytes {
            if let Some(Token::Data(b)) = self.telnet.push(b) {
                self.push(b, &mut emit);
            }
        }
    }

    /// Takes one data byte (no telnet filter: the caller has done that).
    pub fn push(&mut self, b: u8, emit: &mut impl FnMut(Line)) {
        let after_cr = std::mem::replace(&mut self.after_cr, false);
        match b {
            b'\n' | b'\0' if after_cr => {}
            b'\n' | b'\r' => {
                self.after_cr = b == b'\r';
                if std::mem::replace(&mut self.discarding, false) {
                    emit(Line::TooLong);
                } else {
                    emit(Line::Text(std::mem::take(&mut self.buf)));
                }
            }
            _ if self.discarding => {}
            _ => {
                if self.buf.len() >= self.max_line {
                    self.buf = Vec::new();
                    self.discarding = true;
                } else {
                    self.buf.push(b);
                }
            }
        }
    }

    /// Takes the partial line (empty if it is being discarded as too long)
    /// and whether the last byte was a `\r`; the reader starts afresh.
    pub fn take_partial(&mut self) -> (Vec<u8>, bool) {
        let after_cr = std::mem::replace(&mut self.after_cr, false);
        self.discarding = false;
        (std::mem::take(&mut self.buf), after_cr)
    }

    /// Starts the partial line with `bytes` (text typed in character mode
    /// before the client went back to line mode); over the limit, the line
    /// is discarded up to its end.
    pub fn set_partial(&mut self, bytes: Vec<u8>) {
        self.after_cr = false;
        self.discarding = bytes.len() > self.max_line;
        self.buf = if self.discarding { Vec::new() } else { bytes };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines(max: usize, input: &[u8]) -> Vec<Line> {
        let mut r = LineReader::new(max);
        let mut out = Vec::new();
        r.feed(input, |l| out.push(l));
        out
    }

    fn t(s: &str) -> Line {
        Line::Text(s.as_bytes().to_vec())
    }

    #[test]
    fn accepts_every_line_ending() {
        assert_eq!(
            lines(100, b"a\nb\r\nc\r\0d\re\n"),
            vec![t("a"), t("b"), t("c"), t("d"), t("e")]
        );
    }

    #[test]
    fn empty_lines_are_lines() {
        assert_eq!(lines(100, b"\n\r\n\r\r"), vec![t(""), t(""), t(""), t("")]);
    }

    #[test]
    fn partial_line_waits_for_its_end() {
        let mut r = LineReader::new(100);
        let mut out = Vec::new();
        r.feed(b"hel", |l| out.push(l));
        assert!(out.is_empty());
        assert_eq!(r.buffered(), 3);
        r.feed(b"lo\r", |l| out.push(l));
        r.feed(b"\nx\n", |l| out.push(l));
        assert_eq!(out, vec![t("hello"), t("x")]);
    }

    #[test]
    fn telnet_negotiation_is_consumed() {
        // IAC DO ECHO, IAC WILL SGA, IAC SB NAWS … IAC SE, IAC NOP, IAC IAC.
        let input = b"\xff\xfd\x01a\xff\xfb\x03b\xff\xfa\x1f\x00\x50\xff\xff\x00\x18\xff\xf0c\xff\xf1d\xff\xffe\n";
        assert_eq!(lines(100, input), vec![Line::Text(b"abcd\xffe".to_vec())]);
    }

    #[test]
    fn telnet_sequence_split_across_reads() {
        let mut r = LineReader::new(100);
        let mut out = Vec::new();
        for b in b"x\xff\xfa\x18\x01\xff\xf0y\n" {
            r.feed(&[*b], |l| out.push(l));
        }
        assert_eq!(out, vec![t("xy")]);
    }

    #[test]
    fn push_takes_data_bytes_without_a_telnet_filter() {
        let mut r = LineReader::new(100);
        let mut out = Vec::new();
        for &b in b"a\xff\xfbb\r\nc" {
            r.push(b, &mut |l| out.push(l));
        }
        assert_eq!(out, vec![Line::Text(b"a\xff\xfbb".to_vec())]);
        assert_eq!(r.take_partial(), (b"c".to_vec(), false));
        assert_eq!(r.buffered(), 0);
    }

    #[test]
    fn partial_line_moves_in_and_out() {
        let mut r = LineReader::new(4);
        let mut out = Vec::new();
        r.feed(b"x\r", |l| out.push(l));
        assert_eq!(r.take_partial(), (Vec::new(), true));
        r.set_partial(b"ab".to_vec());
        r.feed(b"\ncd\n", |l| out.push(l));
        r.set_partial(b"abcdef".to_vec());
        r.feed(b"g\nok\n", |l| out.push(l));
        assert_eq!(out, vec![t("x"), t("ab"), t("cd"), Line::TooLong, t("ok")]);
    }

    #[test]
    fn overlong_line_is_dropped_up_to_its_end() {
        let mut input = vec![b'x'; 50];
        input.extend_from_slice(b"\nok\n");
        assert_eq!(lines(10, &input), vec![Line::TooLong, t("ok")]);
    }

    #[test]
    fn line_of_exactly_the_limit_passes() {
        assert_eq!(lines(3, b"abc\n"), vec![t("abc")]);
        assert_eq!(lines(3, b"abcd\n"), vec![Line::TooLong]);
    }

    #[test]
    fn memory_for_a_partial_line_stays_under_the_limit() {
        let mut r = LineReader::new(64);
        for _ in 0..1000 {
            r.feed(&[b'y'; 1000], |_| {});
            assert!(r.buffered() <= 64);
        }
    }
}
