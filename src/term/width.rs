//! Terminal columns: how wide text is on screen (Unicode East Asian Width
//! via `unicode-width`: wide = 2, combining and zero-width = 0), and text
//! cut or wrapped to a number of columns.

use unicode_width::UnicodeWidthChar;

/// Columns one character takes (controls take none: they are never shown).
pub fn char_width(c: char) -> usize {
    c.width().unwrap_or(0)
}

/// Columns `s` takes on a terminal.
pub fn width(s: &str) -> usize {
    s.chars().map(char_width).sum()
}

/// The longest prefix of `s` that fits in `cols` columns.
pub fn truncate(s: &str, cols: usize) -> &str {
    let mut used = 0;
    for (i, c) in s.char_indices() {
        let w = char_width(c);
        if used + w > cols {
            return &s[..i];
        }
        used += w;
    }
    s
}

/// `s` split into rows of at most `cols` columns (at least one row; a wide
/// character never straddles two rows). Zero-width characters stay with
/// the character before them.
pub fn wrap(s: &str, cols: usize) -> Vec<&str> {
    let cols = cols.max(2);
    let mut rows = Vec::new();
    let mut start = 0;
    let mut used = 0;
    for (i, c) in s.char_indices() {
        let w = char_width(c);
        if used + w > cols {
            rows.push(&s[start..i]);
            start = i;
            used = 0;
        }
        used += w;
    }
    rows.push(&s[start..]);
    rows
}

/// How many rows `wrap(s, cols)` gives, without building them.
pub fn rows(s: &str, cols: usize) -> usize {
    let cols = cols.max(2);
    let mut n = 1;
    let mut used = 0;
    for c in s.chars() {
        let w = char_width(c);
        if used + w > cols {
            n += 1;
            used = 0;
        }
        used += w;
    }
    n
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wide_and_zero_width_characters() {
        assert_eq!(width("abc"), 3);
        assert_eq!(width("日本"), 4);
        assert_eq!(width("e\u{301}"), 1);
        assert_eq!(width("🎉"), 2);
        assert_eq!(width("a\u{200b}b"), 2);
    }

    #[test]
    fn truncate_never_splits_a_wide_character() {
        assert_eq!(truncate("日本語", 5), "日本");
        assert_eq!(truncate("abc", 5), "abc");
        assert_eq!(truncate("abc", 0), "");
    }

    #[test]
    fn wrap_by_columns() {
        assert_eq!(wrap("abcdef", 4), vec!["abcd", "ef"]);
        assert_eq!(wrap("", 4), vec![""]);
        // A wide character that does not fit goes to the next row.
        assert_eq!(wrap("abc日x", 4), vec!["abc", "日x"]);
        assert_eq!(wrap("e\u{301}e\u{301}", 1), vec!["e\u{301}e\u{301}"]);
        for (s, cols) in [("abcdefgh", 3), ("日本語日本語", 5), ("", 9)] {
            assert_eq!(rows(s, cols), wrap(s, cols).len());
            assert!(wrap(s, cols).iter().all(|r| width(r) <= cols));
        }
    }
}
