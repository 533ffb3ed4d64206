//! Telnet, incrementally: splits the client's bytes into data and IAC
//! commands ([`Parser`]), and keeps the option negotiation that decides
//! character mode and the window size ([`Telnet`]; RFC 854, RFC 1143
//! simplified: a reply only when an option's state changes, so two sides
//! never loop).

/// Interpret As Command: starts every telnet command.
pub const IAC: u8 = 255;
/// The peer refuses, or asks us to stop, an option of ours.
pub const DONT: u8 = 254;
/// The peer asks us to use, or accepts, an option of ours.
pub const DO: u8 = 253;
/// The peer refuses, or stops using, an option of its own.
pub const WONT: u8 = 252;
/// The peer offers, or agrees, to use an option of its own.
pub const WILL: u8 = 251;
/// Subnegotiation begins.
pub const SB: u8 = 250;
/// Erase line.
pub const EL: u8 = 248;
/// Erase character.
pub const EC: u8 = 247;
/// Interrupt process (telnet's Ctrl+C).
pub const IP: u8 = 244;
/// No operation.
pub const NOP: u8 = 241;
/// Subnegotiation ends.
pub const SE: u8 = 240;

/// Option: the server echoes (RFC 857).
pub const ECHO: u8 = 1;
/// Option: suppress go-ahead (RFC 858); with ECHO, character at a time.
pub const SGA: u8 = 3;
/// Option: terminal type (RFC 1091); refused.
pub const TTYPE: u8 = 24;
/// Option: negotiate about window size (RFC 1073).
pub const NAWS: u8 = 31;

/// What the server offers on connect, then what erases its traces on a
/// terminal that is not telnet (`nc` shows the bytes as a few odd glyphs).
pub const GREETING: &[u8] = &[
    IAC, WILL, ECHO, IAC, WILL, SGA, IAC, DO, NAWS, b'\r', 0x1b, b'[', b'K',
];

/// One piece of the telnet stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Token {
    /// A data byte (IAC IAC gives 255).
    Data(u8),
    /// IAC and a one-byte command (IP, NOP, GA, AYT, …).
    Command(u8),
    /// IAC WILL/WONT/DO/DONT and the option.
    Negotiate(u8, u8),
    /// IAC SB: a subnegotiation begins; its bytes follow.
    SubStart,
    /// One byte of a subnegotiation (the first is the option).
    SubByte(u8),
    /// IAC SE: the subnegotiation is complete.
    SubEnd,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Data,
    Iac,
    /// After IAC WILL/WONT/DO/DONT: the option byte follows.
    Verb(u8),
    /// Inside IAC SB … IAC SE.
    Sub,
    SubIac,
}

/// The telnet tokenizer: one byte in, at most one [`Token`] out. Holds two
/// bytes of state and nothing else, so any stream costs no memory.
#[derive(Debug, Clone, Copy)]
pub struct Parser {
    state: State,
}

impl Default for Parser {
    fn default() -> Self {
        Parser { state: State::Data }
    }
}

impl Parser {
    /// Takes one byte of the stream.
    pub fn push(&mut self, b: u8) -> Option<Token> {
        let (next, token) = match (self.state, b) {
            (State::Data, IAC) => (State::Iac, None),
            (State::Data, _) => (State::Data, Some(Token::Data(b))),
            (State::Iac, IAC) => (State::Data, Some(Token::Data(IAC))),
            (State::Iac, WILL..=DONT) => (State::Verb(b), None),
            (State::Iac, SB) => (State::Sub, Some(Token::SubStart)),
            (State::Iac, _) => (State::Data, Some(Token::Command(b))),
            (State::Verb(verb), _) => (State::Data, Some(Token::Negotiate(verb, b))),
            (State::Sub, IAC) => (State::SubIac, None),
            (State::Sub, _) => (State::Sub, Some(Token::SubByte(b))),
            (State::SubIac, IAC) => (State::Sub, Some(Token::SubByte(IAC))),
            (State::SubIac, SE) => (State::Data, Some(Token::SubEnd)),
            // Not valid inside a subnegotiation; ignored, as before.
            (State::SubIac, _) => (State::Sub, None),
        };
        self.state = next;
        token
    }

    /// Whether the parser is in the middle of a command or subnegotiation.
    pub fn busy(&self) -> bool {
        self.state != State::Data
    }
}

/// One side of one option (RFC 1143 without the queue bits).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Opt {
    No,
    /// We asked; no answer yet.
    WantYes,
    Yes,
}

/// What the telnet layer hands the terminal for one byte.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Input {
    /// A data byte.
    Data(u8),
    /// IAC IP.
    Interrupt,
    /// IAC EC.
    EraseChar,
    /// IAC EL.
    EraseLine,
    /// A NAWS report (a 0 means that dimension is unknown).
    Size { cols: u16, rows: u16 },
    /// Whether the client now lets the server echo with go-ahead
    /// suppressed (character mode); sent only when that changes.
    CharMode(bool),
}

/// A subnegotiation longer than this is not a NAWS report; the rest of it
/// is skipped up to IAC SE.
pub const MAX_SB: u8 = 64;

/// The telnet layer of one connection: the tokenizer and our options.
#[derive(Debug, Clone)]
pub struct Telnet {
    parser: Parser,
    /// We negotiate (sent the greeting); otherwise commands are only
    /// stripped, as a plain line reader does.
    active: bool,
    echo: Opt,
    sga: Opt,
    naws: Opt,
    /// Bytes seen in the current subnegotiation (saturating).
    sb_len: u8,
    /// A NAWS subnegotiation's option byte and four values.
    sb: [u8; 5],
}

impl Telnet {
    /// The telnet layer; `active` means the greeting ([`GREETING`]) is sent
    /// and options are negotiated.
    pub fn new(active: bool) -> Telnet {
        let asked = if active { Opt::WantYes } else { Opt::No };
        Telnet {
            parser: Parser::default(),
            active,
            echo: asked,
            sga: asked,
            naws: asked,
            sb_len: 0,
            sb: [0; 5],
        }
    }

    /// Whether options are negotiated (the greeting is sent).
    pub fn active(&self) -> bool {
        self.active
    }

    /// A copy of the tokenizer, to look ahead without consuming.
    pub fn parser(&self) -> Parser {
        self.parser
    }

    /// Whether the client agreed to ECHO and SGA: character mode.
    pub fn char_mode(&self) -> bool {
        self.echo == Opt::Yes && self.sga == Opt::Yes
    }

    /// Whether the client agreed to send its window size.
    pub fn naws(&self) -> bool {
        self.naws == Opt::Yes
    }

    /// Whether we asked for the window size and have no answer yet.
    pub fn naws_pending(&self) -> bool {
        self.naws == Opt::WantYes
    }

    /// Bytes of a partial command held (for bounds checks).
    pub fn buffered(&self) -> usize {
        if self.parser.busy() {
            usize::from(self.sb_len.min(self.sb.len() as u8)) + 2
        } else {
            0
        }
    }

    /// Takes one byte from the client; replies go to `out`.
    pub fn push(&mut self, b: u8, out: &mut Vec<u8>) -> Option<Input> {
        match self.parser.push(b)? {
            Token::Data(b) => Some(Input::Data(b)),
            Token::Command(IP) => Some(Input::Interrupt),
            Token::Command(EC) => Some(Input::EraseChar),
            Token::Command(EL) => Some(Input::EraseLine),
            Token::Command(_) => None,
            Token::Negotiate(verb, option) => {
                if !self.active {
                    return None;
                }
                let before = self.char_mode();
                self.negotiate(verb, option, out);
                let after = self.char_mode();
                (before != after).then_some(Input::CharMode(after))
            }
            Token::SubStart => {
                self.sb_len = 0;
                None
            }
            Token::SubByte(b) => {
                if let Some(slot) = self.sb.get_mut(usize::from(self.sb_len)) {
                    *slot = b;
                }
                self.sb_len = self.sb_len.saturating_add(1).min(MAX_SB + 1);
                None
            }
            Token::SubEnd => {
                let len = std::mem::replace(&mut self.sb_len, 0);
                match self.sb {
                    [NAWS, w1, w0, h1, h0] if self.active && len == 5 => Some(Input::Size {
                        cols: u16::from_be_bytes([w1, w0]),
                        rows: u16::from_be_bytes([h1, h0]),
                    }),
                    _ => None,
                }
            }
        }
    }

    fn negotiate(&mut self, verb: u8, option: u8, out: &mut Vec<u8>) {
        let ours = match option {
            ECHO => Some(&mut self.echo),
            SGA => Some(&mut self.sga),
            _ => None,
        };
        match (verb, option, ours) {
            // The client agrees to, or asks for, an option of ours.
            (DO, _, Some(opt)) => {
                if *opt == Opt::No {
                    reply(out, WILL, option);
                }
                *opt = Opt::Yes;
            }
            (DONT, _, Some(opt)) => {
                if *opt == Opt::Yes {
                    reply(out, WONT, option);
                }
                *opt = Opt::No;
            }
            (WILL, NAWS, _) => {
                if self.naws == Opt::No {
                    reply(out, DO, NAWS);
                }
                self.naws = Opt::Yes;
            }
            (WONT, NAWS, _) => {
                if self.naws == Opt::Yes {
                    reply(out, DONT, NAWS);
                }
                self.naws = Opt::No;
            }
            // Anything else we do not do: refuse each request once. Those
            // options are always off, so a WONT/DONT needs no answer.
            (WILL, ..) => reply(out, DONT, option),
            (DO, ..) => reply(out, WONT, option),
            _ => {}
        }
    }
}

fn reply(out: &mut Vec<u8>, verb: u8, option: u8) {
    out.extend_from_slice(&[IAC, verb, option]);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tokens(bytes: &[u8]) -> Vec<Token> {
        let mut p = Parser::default();
        bytes.iter().filter_map(|&b| p.push(b)).collect()
    }

    /// Feeds `bytes`; returns the inputs and the replies.
    fn run(t: &mut Telnet, bytes: &[u8]) -> (Vec<Input>, Vec<u8>) {
        let mut out = Vec::new();
        let inputs = bytes.iter().filter_map(|&b| t.push(b, &mut out)).collect();
        (inputs, out)
    }

    fn data(s: &[u8]) -> Vec<Input> {
        s.iter().map(|&b| Input::Data(b)).collect()
    }

    #[test]
    fn data_passes_and_iac_iac_is_one_255() {
        assert_eq!(
            tokens(b"a\xff\xffb"),
            vec![Token::Data(b'a'), Token::Data(255), Token::Data(b'b')]
        );
    }

    #[test]
    fn commands_and_negotiation_are_tokens() {
        assert_eq!(
            tokens(b"\xff\xf1\xff\xf4\xff\xfd\x01\xff\xfa\x1f\x00\xff\xff\xff\xf0x"),
            vec![
                Token::Command(NOP),
                Token::Command(IP),
                Token::Negotiate(DO, ECHO),
                Token::SubStart,
                Token::SubByte(NAWS),
                Token::SubByte(0),
                Token::SubByte(255),
                Token::SubEnd,
                Token::Data(b'x'),
            ]
        );
    }

    #[test]
    fn stray_iac_inside_a_subnegotiation_is_ignored() {
        assert_eq!(
            tokens(b"\xff\xfa\x18\xff\x01z\xff\xf0y"),
            vec![
                Token::SubStart,
                Token::SubByte(TTYPE),
                Token::SubByte(b'z'),
                Token::SubEnd,
                Token::Data(b'y')
            ]
        );
    }

    #[test]
    fn split_byte_by_byte_gives_the_same_tokens() {
        let input = b"x\xff\xfa\x18\x01\xff\xf0y\xff\xfb\x1f\xff\xff";
        let mut p = Parser::default();
        let mut split = Vec::new();
        for chunk in input.chunks(1) {
            split.extend(chunk.iter().filter_map(|&b| p.push(b)));
        }
        assert_eq!(split, tokens(input));
    }

    #[test]
    fn netkit_telnet_answer_gives_character_mode_and_size() {
        // What netkit telnet sends back for our greeting.
        let mut t = Telnet::new(true);
        let (inputs, out) = run(
            &mut t,
            b"\xff\xfd\x01\xff\xfd\x03\xff\xfb\x1f\xff\xfa\x1f\x00\x50\x00\x18\xff\xf0",
        );
        assert_eq!(
            inputs,
            vec![Input::CharMode(true), Input::Size { cols: 80, rows: 24 }]
        );
        // Everything answered an offer of ours: nothing to reply.
        assert!(out.is_empty(), "{out:?}");
        assert!(t.char_mode() && t.naws());
    }

    #[test]
    fn unoffered_options_are_refused_once_each() {
        let mut t = Telnet::new(true);
        // WILL TTYPE, WILL NEW-ENVIRON, DO LINEMODE? (DO 34), DO NAWS.
        let (inputs, out) = run(&mut t, b"\xff\xfb\x18\xff\xfb\x27\xff\xfd\x22\xff\xfd\x1f");
        assert!(inputs.is_empty());
        assert_eq!(
            out,
            b"\xff\xfe\x18\xff\xfe\x27\xff\xfc\x22\xff\xfc\x1f".to_vec()
        );
        // Their WONT/DONT for what is off needs no answer: no loop.
        let (_, out) = run(&mut t, b"\xff\xfc\x18\xff\xfe\x22");
        assert!(out.is_empty());
    }

    #[test]
    fn client_that_refuses_stays_in_line_mode_and_is_not_answered() {
        let mut t = Telnet::new(true);
        let (inputs, out) = run(&mut t, b"\xff\xfe\x01\xff\xfe\x03\xff\xfc\x1f");
        assert!(inputs.is_empty() && out.is_empty());
        assert!(!t.char_mode() && !t.naws());
        // Asking again later is agreed to, and confirmed once.
        let (inputs, out) = run(&mut t, b"\xff\xfd\x01\xff\xfd\x01");
        assert!(inputs.is_empty());
        assert_eq!(out, vec![IAC, WILL, ECHO]);
    }

    #[test]
    fn half_agreement_is_not_character_mode() {
        let mut t = Telnet::new(true);
        let (inputs, _) = run(&mut t, b"\xff\xfd\x01\xff\xfe\x03");
        assert!(inputs.is_empty());
        assert!(!t.char_mode());
    }

    #[test]
    fn withdrawing_echo_leaves_character_mode_with_one_reply() {
        let mut t = Telnet::new(true);
        run(&mut t, b"\xff\xfd\x01\xff\xfd\x03");
        let (inputs, out) = run(&mut t, b"\xff\xfe\x01\xff\xfe\x01");
        assert_eq!(inputs, vec![Input::CharMode(false)]);
        assert_eq!(out, vec![IAC, WONT, ECHO]);
    }

    #[test]
    fn spontaneous_naws_is_accepted_and_confirmed() {
        let mut t = Telnet::new(true);
        run(&mut t, b"\xff\xfc\x1f");
        let (_, out) = run(&mut t, b"\xff\xfb\x1f\xff\xfb\x1f");
        assert_eq!(out, vec![IAC, DO, NAWS]);
        let (_, out) = run(&mut t, b"\xff\xfc\x1f");
        assert_eq!(out, vec![IAC, DONT, NAWS]);
    }

    #[test]
    fn naws_values_with_escaped_255_and_extremes() {
        let mut t = Telnet::new(true);
        let (inputs, _) = run(&mut t, b"\xff\xfa\x1f\x00\xff\xff\x00\x00\xff\xf0");
        assert_eq!(inputs, vec![Input::Size { cols: 255, rows: 0 }]);
        let (inputs, _) = run(
            &mut t,
            b"\xff\xfa\x1f\xff\xff\xff\xff\xff\xff\xff\xff\xff\xf0",
        );
        assert_eq!(
            inputs,
            vec![Input::Size {
                cols: 65535,
                rows: 65535
            }]
        );
    }

    #[test]
    fn malformed_naws_is_ignored() {
        let mut t = Telnet::new(true);
        let (inputs, _) = run(&mut t, b"\xff\xfa\x1f\x00\x50\x00\xff\xf0");
        assert!(inputs.is_empty());
        let (inputs, _) = run(&mut t, b"\xff\xfa\x1f\x00\x50\x00\x18\x00\xff\xf0a");
        assert_eq!(inputs, data(b"a"));
    }

    #[test]
    fn endless_subnegotiation_holds_no_memory_and_swallows_until_se() {
        let mut t = Telnet::new(true);
        let mut out = Vec::new();
        t.push(IAC, &mut out);
        t.push(SB, &mut out);
        for _ in 0..100_000 {
            assert_eq!(t.push(b'x', &mut out), None);
            assert!(t.buffered() <= 16);
        }
        let (inputs, _) = run(&mut t, b"\xff\xf0ok");
        assert_eq!(inputs, data(b"ok"));
        assert!(out.is_empty());
    }

    #[test]
    fn interrupt_and_erase_commands() {
        let mut t = Telnet::new(false);
        let (inputs, _) = run(&mut t, b"\xff\xf4\xff\xf7\xff\xf8\xff\xf1\xff\xf9");
        assert_eq!(
            inputs,
            vec![Input::Interrupt, Input::EraseChar, Input::EraseLine]
        );
    }

    #[test]
    fn passive_telnet_strips_but_never_answers_or_changes_mode() {
        let mut t = Telnet::new(false);
        let (inputs, out) = run(
            &mut t,
            b"a\xff\xfd\x01\xff\xfd\x03\xff\xfb\x18\xff\xfa\x1f\x00\x50\x00\x18\xff\xf0b",
        );
        assert_eq!(inputs, data(b"ab"));
        assert!(out.is_empty());
        assert!(!t.char_mode());
    }

    #[test]
    fn greeting_offers_echo_sga_and_asks_naws_then_erases() {
        assert_eq!(GREETING, b"\xff\xfb\x01\xff\xfb\x03\xff\xfd\x1f\r\x1b[K");
    }
}
