//! Turns what a user typed into text that is safe to show on anyone's terminal.
//!
//! Invalid UTF-8 becomes U+FFFD; control characters (C0, DEL, C1) and whole
//! escape sequences (CSI, OSC, DCS, SOS/PM/APC strings, two-byte ESC
//! sequences) are removed, so no user can move another user's cursor,
//! retitle their window or recolour their terminal. Bidirectional override
//! characters are removed too, since they reorder what others see. A tab
//! becomes one space; all other visible text is kept.

/// Returns `bytes` decoded as UTF-8 (lossily) with every control character
/// and escape sequence removed.
pub fn sanitize(bytes: &[u8]) -> String {
    let decoded = String::from_utf8_lossy(bytes);
    let mut out = String::with_capacity(decoded.len());
    let mut chars = decoded.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\t' => out.push(' '),
            '\u{1b}' => match chars.next() {
                Some('[') => skip_csi(&mut chars),
                Some(']' | 'P' | 'X' | '^' | '_') => skip_string(&mut chars),
                // Two-byte sequences (ESC 7, ESC c, …); intermediates first.
                Some(mut n) => {
                    while ('\u{20}'..='\u{2f}').contains(&n) {
                        match chars.next() {
                            Some(next) => n = next,
                            None => break,
                        }
                    }
                }
                None => {}
            },
            '\u{9b}' => skip_csi(&mut chars),
            '\u{90}' | '\u{98}' | '\u{9d}' | '\u{9e}' | '\u{9f}' => skip_string(&mut chars),
            c if is_removed(c) => {}
            c => out.push(c),
        }
    }
    out
}

/// True for characters that are never shown: C0, DEL, C1, bidi controls.
fn is_removed(c: char) -> bool {
    c.is_control()
        || matches!(c, '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}' | '\u{200e}' | '\u{200f}')
}

/// Skips a CSI sequence's parameter and intermediate bytes and its final byte.
fn skip_csi(chars: &mut std::iter::Peekable<std::str::Chars<'_>>) {
    for c in chars.by_ref() {
        if ('\u{40}'..='\u{7e}').contains(&c) || !('\u{20}'..='\u{3f}').contains(&c) {
            // A final byte ends it; anything outside the CSI alphabet aborts it.
            return;
        }
    }
}

/// Skips an OSC/DCS/SOS/PM/APC string up to BEL, ST (ESC \) or C1 ST.
fn skip_string(chars: &mut std::iter::Peekable<std::str::Chars<'_>>) {
    while let Some(c) = chars.next() {
        match c {
            '\u{7}' | '\u{9c}' => return,
            '\u{1b}' => {
                if chars.peek() == Some(&'\\') {
                    chars.next();
                }
                return;
            }
            _ => {}
        }
    }
}

/// Number of characters (Unicode scalar values) in `s`: limits count these,
/// not bytes, so 150 `é` fit a 150-character limit.
pub fn char_len(s: &str) -> usize {
    s.chars().count()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_visible_text() {
        assert_eq!(
            sanitize("héllo wörld ✓ 日本".as_bytes()),
            "héllo wörld ✓ 日本"
        );
    }

    #[test]
    fn removes_csi_sequences() {
        assert_eq!(sanitize(b"a\x1b[2J\x1b[1;1Hb\x1b[31mred\x1b[0m"), "abred");
    }

    #[test]
    fn removes_osc_with_bel_and_st() {
        assert_eq!(sanitize(b"x\x1b]0;evil title\x07y"), "xy");
        assert_eq!(
            sanitize(b"x\x1b]8;;http://e\x1b\\link\x1b]8;;\x1b\\y"),
            "xlinky"
        );
    }

    #[test]
    fn removes_controls_del_and_c1() {
        assert_eq!(sanitize(b"a\x07b\x08c\x7fd\x00e\r\n"), "abcde");
        assert_eq!(sanitize("a\u{85}b\u{9b}31mc".as_bytes()), "abc");
    }

    #[test]
    fn two_byte_escapes_and_bidi() {
        assert_eq!(sanitize(b"a\x1b7b\x1b8c\x1b(Bd"), "abcd");
        assert_eq!(sanitize("a\u{202e}b".as_bytes()), "ab");
    }

    #[test]
    fn invalid_utf8_becomes_replacement_char() {
        assert_eq!(sanitize(b"a\xffb\xc3"), "a\u{fffd}b\u{fffd}");
    }

    #[test]
    fn tab_becomes_space_and_trailing_escape_is_dropped() {
        assert_eq!(sanitize(b"a\tb\x1b"), "a b");
        assert_eq!(sanitize(b"a\x1b[12"), "a");
    }

    #[test]
    fn counts_characters_not_bytes() {
        assert_eq!(char_len("ééé"), 3);
    }
}
