//! Defends SPEC §3 (control characters and escape sequences in anything a
//! user typed are removed before anyone sees it; invalid UTF-8 becomes
//! U+FFFD) and SPEC §4 (any palette line gets a command or one of the
//! documented error replies, never a panic).
//!
//! Input: arbitrary bytes, as one line from a client. Checked: the sanitised
//! text holds no C0/DEL/C1 control (so no ESC and no CSI), no bidi override,
//! no tab; sanitising is idempotent and leaves plain printable ASCII as it
//! was; the parser classifies the line consistently with its first byte and
//! returns arguments that are non-empty single words.
#![no_main]

use chatsock::command::{self, Command, ParseError};
use chatsock::text::{char_len, sanitize};
use libfuzzer_sys::fuzz_target;

fn is_bidi(c: char) -> bool {
    matches!(c, '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}' | '\u{200e}' | '\u{200f}')
}

fn check_word(w: &str) {
    assert!(!w.is_empty(), "empty argument");
    assert!(
        !w.chars().any(char::is_whitespace),
        "argument {w:?} has whitespace"
    );
}

fn check_parse(line: &str) {
    let parsed = command::parse(line);
    if !line.starts_with(':') {
        assert_eq!(parsed, Err(ParseError::NotACommand), "{line:?}");
    }
    match &parsed {
        Ok(Command::Join { room, password }) => {
            check_word(room);
            if let Some(p) = password {
                check_word(p);
            }
        }
        Ok(Command::Dm { user } | Command::Whois { user }) => check_word(user),
        Ok(Command::Msg { user, text }) => {
            check_word(user);
            assert!(!text.trim().is_empty() && text.trim() == text, "{line:?}");
            // The text is the line's own words after the name, spacing kept.
            assert!(line.contains(text.as_str()), "{line:?}");
        }
        Ok(Command::Reply { text } | Command::Me { text }) => {
            assert!(!text.is_empty() && text.trim() == text, "{line:?}");
            assert!(line.contains(text.as_str()), "{line:?}");
        }
        Ok(Command::Help(Some(c))) => check_word(c),
        Ok(Command::Size(Some((c, r)))) => assert!(*c > 0 && *r > 0, "{line:?}"),
        Ok(_) => {}
        Err(e) => assert!(!e.message().is_empty()),
    }
}

fuzz_target!(|data: &[u8]| {
    let text = sanitize(data);
    for c in text.chars() {
        assert!(!c.is_control(), "control {c:?} survived in {text:?}");
        assert!(!is_bidi(c), "bidi {c:?} survived in {text:?}");
    }
    assert_eq!(
        sanitize(text.as_bytes()),
        text,
        "sanitize is not idempotent"
    );
    if data.iter().all(|b| (0x20..0x7f).contains(b)) {
        assert_eq!(text.as_bytes(), data, "plain ASCII was changed");
    }
    // Every input byte yields at most one character.
    assert!(char_len(&text) <= data.len());

    // The core parses the sanitised, trimmed line; parse the raw text too.
    check_parse(text.trim());
    check_parse(&String::from_utf8_lossy(data));
});
