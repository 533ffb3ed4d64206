//! The character-mode line editor: the half-typed line, its cursor and
//! history, completion of the last word, and how the input row is drawn —
//! every column counted by display width, scrolled sideways so the cursor
//! stays visible.

use super::width::char_width;

use std::fmt::Write as _;

/// Submitted lines kept for ↑/↓.
pub const HISTORY_LINES: usize = 20;
/// Bytes of history kept at most (older lines go first).
pub const HISTORY_BYTES: usize = 8 * 1024;
/// Ambiguous completions listed at most.
pub const LIST_NAMES: usize = 20;

/// What an edit needs on screen.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Change {
    /// Nothing changed.
    None,
    /// One character was added at the end of the line: echo it if it fits.
    Appended,
    /// Only the cursor moved.
    Moved,
    /// The text changed: draw the input row again.
    Redraw,
}

/// What Tab came to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Completion {
    /// No candidate, or the completed line would be too long: ring the bell.
    Bell,
    /// The word was completed or extended.
    Done(Change),
    /// Several candidates and nothing to add: up to [`LIST_NAMES`] of
    /// them, and how many more there are.
    List(Vec<String>, usize),
}

/// The input row as the terminal shows it: the prompt's last row and the
/// terminal's width.
#[derive(Debug, Clone, Copy)]
pub struct Screen<'a> {
    /// The prompt's last row (what follows its last `\r` or `\n`).
    pub prompt: &'a str,
    /// Its display width.
    pub prompt_width: usize,
    /// The terminal's columns.
    pub cols: usize,
}

impl Screen<'_> {
    /// Columns the line may use: the row minus the prompt, minus the last
    /// column (a cursor there would wrap on some terminals).
    fn avail(&self) -> usize {
        self.cols.saturating_sub(self.prompt_width + 1).max(1)
    }
}

/// The last lines typed, oldest first, in one string, each ended by `\n`
/// (typed lines never hold one): a single allocation, shrunk to fit, where
/// a deque of boxed lines would cost one each plus the deque's slack.
#[derive(Debug, Default, Clone)]
struct History {
    text: String,
    len: usize,
}

impl History {
    fn len(&self) -> usize {
        self.len
    }

    fn is_empty(&self) -> bool {
        self.len == 0
    }

    fn iter(&self) -> std::str::SplitTerminator<'_, char> {
        self.text.split_terminator('\n')
    }

    fn get(&self, i: usize) -> Option<&str> {
        self.iter().nth(i)
    }

    fn back(&self) -> Option<&str> {
        self.iter().next_back()
    }

    /// Drops the oldest line; returns its length.
    fn pop_front(&mut self) -> Option<usize> {
        let end = self.text.find('\n')?;
        self.text.drain(..=end);
        self.len -= 1;
        Some(end)
    }

    fn push_back(&mut self, line: &str) {
        self.text.push_str(line);
        self.text.push('\n');
        self.text.shrink_to_fit();
        self.len += 1;
    }
}

/// The line being edited, its cursor and history.
#[derive(Debug, Clone)]
pub struct Editor {
    max: usize,
    line: String,
    /// Byte offset of the cursor: always a character boundary.
    cursor: usize,
    /// Byte offset of the first character shown (horizontal scrolling).
    scroll: usize,
    history: History,
    history_bytes: usize,
    /// Which history line ↑/↓ is showing; `None`: the line being typed.
    browsing: Option<usize>,
    /// The line being typed while ↑/↓ show history.
    saved: String,
    /// Password input: shown as `*`, kept out of history.
    secret: bool,
    /// Edits not yet drawn, and where the typing to echo starts.
    pending: Change,
    echo_from: usize,
}

impl Editor {
    /// An empty editor for lines of at most `max` bytes (0 = no limit).
    pub fn new(max: usize) -> Editor {
        Editor {
            max: if max == 0 { usize::MAX } else { max },
            line: String::new(),
            cursor: 0,
            scroll: 0,
            history: History::default(),
            history_bytes: 0,
            browsing: None,
            saved: String::new(),
            secret: false,
            pending: Change::None,
            echo_from: 0,
        }
    }

    /// The line as typed so far.
    pub fn text(&self) -> &str {
        &self.line
    }

    /// Whether the line is empty.
    pub fn is_empty(&self) -> bool {
        self.line.is_empty()
    }

    /// The cursor, in characters from the start of the line.
    pub fn cursor(&self) -> usize {
        self.before_cursor().chars().count()
    }

    /// The text before the cursor (what completion looks at).
    pub fn before_cursor(&self) -> &str {
        self.line.get(..self.cursor).unwrap_or("")
    }

    /// The history, oldest first.
    pub fn history(&self) -> impl Iterator<Item = &str> {
        self.history.iter()
    }

    /// Bytes held: the line, the line saved while browsing, the history.
    pub fn buffered(&self) -> usize {
        self.line.len() + self.saved.len() + self.history_bytes
    }

    /// Password input on or off: shown as `*` and kept out of history.
    pub fn set_secret(&mut self, secret: bool) {
        self.secret = secret;
    }

    /// Inserts a printable character at the cursor; `None` if the line
    /// would pass its limit (the caller rings the bell).
    pub fn insert(&mut self, c: char) -> Option<Change> {
        if c.is_control() {
            return Some(Change::None);
        }
        if self.line.len().saturating_add(c.len_utf8()) > self.max {
            return None;
        }
        self.line.insert(self.cursor, c);
        self.cursor += c.len_utf8();
        Some(if self.cursor == self.line.len() {
            Change::Appended
        } else {
            Change::Redraw
        })
    }

    /// Inserts what is printable in `s` (a line moved in from line mode),
    /// as far as the limit allows.
    pub fn insert_text(&mut self, s: &str) {
        for c in s.chars() {
            if self.insert(c).is_none() {
                break;
            }
        }
    }

    /// Takes the line, leaving the editor empty (history stays).
    pub fn take(&mut self) -> String {
        self.cursor = 0;
        self.scroll = 0;
        self.browsing = None;
        self.saved = String::new();
        std::mem::take(&mut self.line)
    }

    /// Enter: takes the line and adds it to the history.
    pub fn submit(&mut self) -> String {
        let line = self.take();
        // A password never goes into the history (↑ would show it).
        if !self.secret && !crate::command::holds_password(&line) {
            self.remember(&line);
        }
        line
    }

    fn remember(&mut self, line: &str) {
        if line.is_empty() || line.len() > HISTORY_BYTES || self.history.back() == Some(line) {
            return;
        }
        while self.history.len() >= HISTORY_LINES || self.history_bytes + line.len() > HISTORY_BYTES
        {
            match self.history.pop_front() {
                Some(old) => self.history_bytes -= old,
                None => break,
            }
        }
        self.history_bytes += line.len();
        self.history.push_back(line);
    }

    /// Backspace: deletes the character (with its combining marks) before
    /// the cursor.
    pub fn backspace(&mut self) -> Change {
        let start = self.prev(self.cursor);
        self.remove(start, self.cursor)
    }

    /// Delete: deletes the character (with its combining marks) at the
    /// cursor.
    pub fn delete(&mut self) -> Change {
        let end = self.next(self.cursor);
        self.remove(self.cursor, end)
    }

    /// ^U (and ^C on a non-empty line): clears the line.
    pub fn kill_line(&mut self) -> Change {
        self.browsing = None;
        self.remove(0, self.line.len())
    }

    /// ^W: deletes the word before the cursor and the spaces after it.
    pub fn kill_word(&mut self) -> Change {
        let before = self.before_cursor();
        let trimmed = before.trim_end_matches(char::is_whitespace);
        let start = trimmed
            .char_indices()
            .rev()
            .find(|&(_, c)| c.is_whitespace())
            .map_or(0, |(i, c)| i + c.len_utf8());
        self.remove(start, self.cursor)
    }

    fn remove(&mut self, start: usize, end: usize) -> Change {
        if start >= end || end > self.line.len() {
            return Change::None;
        }
        self.line.replace_range(start..end, "");
        if self.cursor >= end {
            self.cursor -= end - start;
        } else if self.cursor > start {
            self.cursor = start;
        }
        if self.line.is_empty() {
            // Give the memory back: an idle client holds no line.
            self.line = String::new();
        }
        Change::Redraw
    }

    /// ←
    pub fn left(&mut self) -> Change {
        self.move_to(self.prev(self.cursor))
    }

    /// →
    pub fn right(&mut self) -> Change {
        self.move_to(self.next(self.cursor))
    }

    /// Home, ^A.
    pub fn home(&mut self) -> Change {
        self.move_to(0)
    }

    /// End, ^E.
    pub fn end(&mut self) -> Change {
        self.move_to(self.line.len())
    }

    fn move_to(&mut self, to: usize) -> Change {
        if to == self.cursor {
            Change::None
        } else {
            self.cursor = to;
            Change::Moved
        }
    }

    /// ↑: the previous history line (the line being typed is kept).
    pub fn up(&mut self) -> Change {
        let pos = match self.browsing {
            None if self.history.is_empty() => return Change::None,
            None => {
                self.saved = std::mem::take(&mut self.line);
                self.history.len() - 1
            }
            Some(0) => return Change::None,
            Some(p) => p - 1,
        };
        self.show_history(Some(pos))
    }

    /// ↓: the next history line, and after the newest, the line that was
    /// being typed.
    pub fn down(&mut self) -> Change {
        match self.browsing {
            None => Change::None,
            Some(p) if p + 1 < self.history.len() => self.show_history(Some(p + 1)),
            Some(_) => self.show_history(None),
        }
    }

    fn show_history(&mut self, pos: Option<usize>) -> Change {
        self.browsing = pos;
        self.line = match pos.and_then(|p| self.history.get(p)) {
            Some(h) => h.to_string(),
            None => std::mem::take(&mut self.saved),
        };
        self.cursor = self.line.len();
        Change::Redraw
    }

    /// Tab: completes the last word before the cursor from `candidates`
    /// (full words; those that do not start with the word, ignoring case,
    /// are skipped). One candidate: it and a space replace the word;
    /// several: their longest common prefix (ignoring case, spelled as the
    /// first candidate) does, if it adds anything. O(total length).
    pub fn complete(&mut self, candidates: Vec<String>) -> Completion {
        let before = self.before_cursor();
        let start = before.rfind(' ').map_or(0, |i| i + 1);
        let word = before.get(start..).unwrap_or("");
        let word_len = word.len();
        let word_chars = word.chars().count();
        let mut matching = candidates
            .into_iter()
            .filter(|c| !c.chars().any(char::is_control) && starts_with_ignoring_case(c, word));
        let Some(first) = matching.next() else {
            return Completion::Bell;
        };
        // Longest common prefix with `first`, in characters.
        let mut common = first.chars().count();
        let mut shown = Vec::new();
        let mut more = 0;
        let mut count = 1;
        for c in matching {
            count += 1;
            common = common.min(common_prefix_ignoring_case(&first, &c, common));
            if shown.len() < LIST_NAMES - 1 {
                shown.push(c);
            } else {
                more += 1;
            }
        }
        let replacement = if count == 1 {
            format!("{first} ")
        } else if common > word_chars {
            first.chars().take(common).collect()
        } else {
            shown.insert(0, first);
            return Completion::List(shown, more);
        };
        if self.line.len() - word_len + replacement.len() > self.max {
            return Completion::Bell;
        }
        self.line.replace_range(start..self.cursor, &replacement);
        self.cursor = start + replacement.len();
        self.browsing = None;
        Completion::Done(Change::Redraw)
    }

    /// Where the hidden part of the line starts: all of it at a password
    /// prompt; the arguments of `:register`, `:passwd` and `:unregister`
    /// (so a password typed in the palette is not on the screen either).
    fn mask_from(&self) -> Option<usize> {
        if self.secret {
            return Some(0);
        }
        let head = self.line.trim_start_matches(' ');
        if !head.starts_with(':') {
            return None;
        }
        let word = head.find(char::is_whitespace)?;
        let start = self.line.len() - head.len();
        crate::command::holds_password(&head[..word]).then_some(start + word)
    }

    /// Columns the character `c` at byte `i` takes as shown (`*` where
    /// hidden from `mask`).
    fn cols_at(i: usize, c: char, mask: Option<usize>) -> usize {
        if mask.is_some_and(|m| i >= m) {
            1
        } else {
            char_width(c)
        }
    }

    /// The start of the character before `i`, with the zero-width marks
    /// that belong to it.
    fn prev(&self, i: usize) -> usize {
        let mask = self.mask_from();
        let mut at = i;
        for (j, c) in self.line.get(..i).unwrap_or("").char_indices().rev() {
            at = j;
            if Self::cols_at(j, c, mask) > 0 {
                break;
            }
        }
        at
    }

    /// The end of the character at `i` and the zero-width marks after it.
    fn next(&self, i: usize) -> usize {
        let rest = self.line.get(i..).unwrap_or("");
        let mut chars = rest.char_indices();
        let Some(_) = chars.next() else {
            return i;
        };
        let mask = self.mask_from();
        for (j, c) in chars {
            if Self::cols_at(i + j, c, mask) > 0 {
                return i + j;
            }
        }
        self.line.len()
    }

    /// Whether `line[from..to]` takes at most `cols` columns (stops early).
    fn fits(&self, from: usize, to: usize, cols: usize) -> bool {
        let mask = self.mask_from();
        let mut used = 0;
        for (j, c) in self.line.get(from..to).unwrap_or("").char_indices() {
            used += Self::cols_at(from + j, c, mask);
            if used > cols {
                return false;
            }
        }
        true
    }

    fn width_between(&self, from: usize, to: usize) -> usize {
        let mask = self.mask_from();
        let s = self.line.get(from..to).unwrap_or("");
        s.char_indices()
            .map(|(j, c)| Self::cols_at(from + j, c, mask))
            .sum()
    }

    /// Moves the scroll offset so the cursor is visible: none if the line
    /// up to the cursor fits; otherwise the cursor half way along.
    fn fix_scroll(&mut self, avail: usize) {
        if self.fits(0, self.cursor, avail) {
            self.scroll = 0;
            return;
        }
        let valid = self.scroll <= self.cursor && self.line.is_char_boundary(self.scroll);
        if valid && self.fits(self.scroll, self.cursor, avail) {
            return;
        }
        let half = avail / 2;
        let mask = self.mask_from();
        let mut used = 0;
        let mut at = self.cursor;
        for (j, c) in self
            .line
            .get(..self.cursor)
            .unwrap_or("")
            .char_indices()
            .rev()
        {
            used += Self::cols_at(j, c, mask);
            if used > half {
                break;
            }
            at = j;
        }
        self.scroll = at;
    }

    /// Notes an edit to show at the next [`Editor::flush`]: edits within
    /// one read are drawn once, so a read of many keys costs one redraw,
    /// not one per key.
    pub fn mark(&mut self, change: Change) {
        self.pending = match (self.pending, change) {
            (pending, Change::None) => pending,
            (Change::None, Change::Appended) => {
                // The character just typed is the one before the cursor.
                let last = self.before_cursor().chars().next_back();
                self.echo_from = self.cursor - last.map_or(0, char::len_utf8);
                Change::Appended
            }
            (Change::None, change) => change,
            (Change::Appended, Change::Appended) => Change::Appended,
            (Change::Moved, Change::Moved) => Change::Moved,
            _ => Change::Redraw,
        };
    }

    /// Draws what was marked since the last flush (the input row must be
    /// on screen as it was then).
    pub fn flush(&mut self, screen: &Screen, out: &mut Vec<u8>) {
        let avail = screen.avail();
        match std::mem::replace(&mut self.pending, Change::None) {
            Change::None => {}
            Change::Appended => {
                let valid = self.scroll <= self.echo_from
                    && self.echo_from <= self.cursor
                    && self.line.is_char_boundary(self.scroll)
                    && self.line.is_char_boundary(self.echo_from);
                if valid && self.fits(self.scroll, self.cursor, avail) {
                    let typed = self.line.get(self.echo_from..self.cursor).unwrap_or("");
                    let mask = self.mask_from();
                    for (j, c) in typed.char_indices() {
                        Self::put(self.echo_from + j, c, mask, out);
                    }
                } else {
                    self.redraw(screen, out);
                }
            }
            Change::Moved => {
                let old = self.scroll;
                self.fix_scroll(avail);
                if self.scroll == old {
                    self.place_cursor(screen, out);
                } else {
                    self.redraw(screen, out);
                }
            }
            Change::Redraw => self.redraw(screen, out),
        }
    }

    /// Forgets what was marked (the input row is drawn afresh or not shown).
    pub fn discard(&mut self) {
        self.pending = Change::None;
    }

    /// Shows what `change` did at once: [`Editor::mark`] and
    /// [`Editor::flush`].
    pub fn draw(&mut self, change: Change, screen: &Screen, out: &mut Vec<u8>) {
        self.mark(change);
        self.flush(screen, out);
    }

    /// The whole input row again: `\r`, the prompt, the visible part of
    /// the line, erase to the end of the row, the cursor back in place.
    pub fn redraw(&mut self, screen: &Screen, out: &mut Vec<u8>) {
        out.push(b'\r');
        out.extend_from_slice(screen.prompt.as_bytes());
        self.after_prompt(screen, out);
        if self.line.is_empty() {
            out.extend_from_slice(b"\x1b[K");
        }
    }

    /// Right after the prompt was written: the visible part of the line
    /// and the cursor (nothing at all for an empty line).
    pub fn after_prompt(&mut self, screen: &Screen, out: &mut Vec<u8>) {
        self.pending = Change::None;
        if self.line.is_empty() {
            self.scroll = 0;
            return;
        }
        let avail = screen.avail();
        self.fix_scroll(avail);
        let mask = self.mask_from();
        let mut used = 0;
        let mut end = self.scroll;
        let rest = self.line.get(self.scroll..).unwrap_or("");
        for (j, c) in rest.char_indices() {
            let w = Self::cols_at(self.scroll + j, c, mask);
            if used + w > avail {
                break;
            }
            used += w;
            end += c.len_utf8();
            Self::put(self.scroll + j, c, mask, out);
        }
        out.extend_from_slice(b"\x1b[K");
        if end != self.cursor {
            self.place_cursor(screen, out);
        }
    }

    fn place_cursor(&self, screen: &Screen, out: &mut Vec<u8>) {
        let col = screen.prompt_width + self.width_between(self.scroll, self.cursor);
        out.push(b'\r');
        if col > 0 {
            let _ = write!(Bytes(out), "\x1b[{col}C");
        }
    }

    fn put(i: usize, c: char, mask: Option<usize>, out: &mut Vec<u8>) {
        let c = if mask.is_some_and(|m| i >= m) { '*' } else { c };
        let mut buf = [0; 4];
        out.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
    }
}

/// `fmt::Write` into a byte buffer.
struct Bytes<'a>(&'a mut Vec<u8>);

impl std::fmt::Write for Bytes<'_> {
    fn write_str(&mut self, s: &str) -> std::fmt::Result {
        self.0.extend_from_slice(s.as_bytes());
        Ok(())
    }
}

fn same_ignoring_case(a: char, b: char) -> bool {
    a == b || a.to_lowercase().eq(b.to_lowercase())
}

fn starts_with_ignoring_case(s: &str, prefix: &str) -> bool {
    let mut s = s.chars();
    prefix
        .chars()
        .all(|p| s.next().is_some_and(|c| same_ignoring_case(c, p)))
}

/// Characters `a` and `b` share at the start (ignoring case), at most `max`.
fn common_prefix_ignoring_case(a: &str, b: &str, max: usize) -> usize {
    a.chars()
        .zip(b.chars())
        .take(max)
        .take_while(|&(x, y)| same_ignoring_case(x, y))
        .count()
}

/// Display width of a prompt row: escape sequences (colours) take none.
pub fn prompt_width(s: &str) -> usize {
    let mut cols = 0;
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c != '\x1b' {
            cols += char_width(c);
            continue;
        }
        match chars.next() {
            // CSI: parameters and intermediates up to a final byte.
            Some('[') => {
                for c in chars.by_ref() {
                    if ('\x40'..='\x7e').contains(&c) {
                        break;
                    }
                }
            }
            // OSC: up to BEL or ST.
            Some(']') => {
                let mut esc = false;
                for c in chars.by_ref() {
                    if c == '\x07' || (esc && c == '\\') {
                        break;
                    }
                    esc = c == '\x1b';
                }
            }
            _ => {}
        }
    }
    cols
}

#[cfg(test)]
mod tests {
    use super::*;

    fn typed(s: &str) -> Editor {
        let mut e = Editor::new(100);
        for c in s.chars() {
            e.insert(c);
        }
        e
    }

    fn screen(cols: usize) -> Screen<'static> {
        Screen {
            prompt: "> ",
            prompt_width: 2,
            cols,
        }
    }

    fn shown(out: &[u8]) -> String {
        String::from_utf8_lossy(out).into_owned()
    }

    #[test]
    fn insert_at_end_appends_and_in_the_middle_redraws() {
        let mut e = Editor::new(100);
        assert_eq!(e.insert('a'), Some(Change::Appended));
        assert_eq!(e.insert('b'), Some(Change::Appended));
        e.left();
        assert_eq!(e.insert('x'), Some(Change::Redraw));
        assert_eq!(e.text(), "axb");
        assert_eq!(e.cursor(), 2);
        assert_eq!(e.insert('\u{7}'), Some(Change::None));
        assert_eq!(e.text(), "axb");
    }

    #[test]
    fn line_limit_is_in_bytes_and_refuses() {
        let mut e = Editor::new(4);
        assert!(e.insert('日').is_some());
        assert!(e.insert('é').is_none());
        assert_eq!(e.text(), "日");
        assert!(e.insert('a').is_some());
        assert!(e.insert('b').is_none());
        assert_eq!(e.text(), "日a");
    }

    #[test]
    fn backspace_delete_and_cursor_moves() {
        let mut e = typed("hello");
        assert_eq!(e.backspace(), Change::Redraw);
        assert_eq!(e.text(), "hell");
        assert_eq!(e.home(), Change::Moved);
        assert_eq!(e.backspace(), Change::None);
        assert_eq!(e.delete(), Change::Redraw);
        assert_eq!(e.text(), "ell");
        assert_eq!(e.right(), Change::Moved);
        assert_eq!(e.cursor(), 1);
        assert_eq!(e.end(), Change::Moved);
        assert_eq!(e.end(), Change::None);
        assert_eq!(e.right(), Change::None);
        assert_eq!(e.delete(), Change::None);
        assert_eq!(e.cursor(), 3);
        assert_eq!(e.left(), Change::Moved);
        assert_eq!(e.cursor(), 2);
    }

    #[test]
    fn combining_marks_move_and_delete_with_their_character() {
        let mut e = typed("ae\u{301}b");
        e.left();
        assert_eq!(e.cursor(), 3);
        e.left();
        assert_eq!(e.cursor(), 1);
        e.delete();
        assert_eq!(e.text(), "ab");
        let mut e = typed("xe\u{301}");
        e.backspace();
        assert_eq!(e.text(), "x");
    }

    #[test]
    fn kill_line_and_kill_word() {
        let mut e = typed("say hello  world  ");
        e.kill_word();
        assert_eq!(e.text(), "say hello  ");
        e.kill_word();
        assert_eq!(e.text(), "say ");
        e.kill_word();
        assert_eq!(e.text(), "");
        assert_eq!(e.kill_word(), Change::None);
        let mut e = typed("one two three");
        for _ in 0..6 {
            e.left();
        }
        e.kill_word();
        assert_eq!(e.text(), "one  three");
        assert_eq!(e.cursor(), 4);
        assert_eq!(e.kill_line(), Change::Redraw);
        assert!(e.is_empty());
        assert_eq!(e.cursor(), 0);
    }

    #[test]
    fn history_walks_back_and_returns_to_the_typed_line() {
        let mut e = Editor::new(100);
        for l in ["one", "two", "two", "", "three"] {
            e.insert_text(l);
            e.submit();
        }
        assert_eq!(e.history().collect::<Vec<_>>(), ["one", "two", "three"]);
        e.insert_text("draft");
        e.up();
        assert_eq!(e.text(), "three");
        e.up();
        e.up();
        assert_eq!(e.text(), "one");
        assert_eq!(e.up(), Change::None);
        e.down();
        assert_eq!(e.text(), "two");
        e.down();
        e.down();
        assert_eq!(e.text(), "draft");
        assert_eq!(e.down(), Change::None);
        // A recalled line, edited and sent, is a new entry.
        e.kill_line();
        e.up();
        e.insert('!');
        assert_eq!(e.submit(), "three!");
        assert_eq!(e.history().last(), Some("three!"));
    }

    #[test]
    fn passwords_never_reach_the_history() {
        let mut e = Editor::new(100);
        for l in [
            ":list",
            ":register hunter22",
            ":PASSWD a b",
            " :unregister x",
        ] {
            e.insert_text(l);
            e.submit();
        }
        e.set_secret(true);
        e.insert_text("typed at Password for");
        assert_eq!(e.submit(), "typed at Password for");
        e.set_secret(false);
        assert_eq!(e.history().collect::<Vec<_>>(), [":list"]);
    }

    #[test]
    fn history_is_bounded_in_lines_and_bytes() {
        let mut e = Editor::new(5000);
        for i in 0..100 {
            e.insert_text(&format!("line {i}"));
            e.submit();
        }
        assert_eq!(e.history().count(), HISTORY_LINES);
        assert_eq!(e.history().next(), Some("line 80"));
        for i in 0..10 {
            e.insert_text(&format!("{i}{}", "x".repeat(3000)));
            e.submit();
        }
        assert!(e.buffered() <= HISTORY_BYTES);
        assert_eq!(e.history().count(), 2);
    }

    #[test]
    fn secret_lines_show_stars_and_stay_out_of_history() {
        let mut e = Editor::new(100);
        e.set_secret(true);
        let mut out = Vec::new();
        for c in "pw日".chars() {
            let ch = e.insert(c).unwrap();
            e.draw(ch, &screen(80), &mut out);
        }
        assert_eq!(shown(&out), "***");
        assert_eq!(e.submit(), "pw日");
        assert_eq!(e.history().count(), 0);
    }

    #[test]
    fn the_arguments_of_password_commands_show_as_stars() {
        let mut e = Editor::new(100);
        let mut out = Vec::new();
        for c in ":passwd old日 new".chars() {
            let ch = e.insert(c).unwrap();
            e.draw(ch, &screen(80), &mut out);
        }
        assert_eq!(shown(&out), ":passwd*********");
        // A redraw (here: after moving left) hides them too, and the
        // cursor counts one column per star.
        out.clear();
        let ch = e.left();
        e.draw(ch, &screen(80), &mut out);
        let ch = e.backspace();
        e.draw(ch, &screen(80), &mut out);
        assert_eq!(shown(&out), "\r\x1b[17C\r> :passwd********\x1b[K\r\x1b[16C");
        assert_eq!(e.submit(), ":passwd old日 nw");
        assert_eq!(e.history().count(), 0);
        // Other commands, and the command word itself, show as typed.
        out.clear();
        for c in ":join x".chars() {
            let ch = e.insert(c).unwrap();
            e.draw(ch, &screen(80), &mut out);
        }
        assert_eq!(shown(&out), ":join x");
    }

    #[test]
    fn appending_echoes_and_other_edits_redraw_the_row() {
        let mut e = Editor::new(100);
        let mut out = Vec::new();
        for c in "ab".chars() {
            let ch = e.insert(c).unwrap();
            e.draw(ch, &screen(80), &mut out);
        }
        assert_eq!(shown(&out), "ab");
        out.clear();
        let ch = e.backspace();
        e.draw(ch, &screen(80), &mut out);
        assert_eq!(shown(&out), "\r> a\x1b[K");
        out.clear();
        let ch = e.left();
        e.draw(ch, &screen(80), &mut out);
        assert_eq!(shown(&out), "\r\x1b[2C");
        out.clear();
        let ch = e.insert('日').unwrap();
        e.draw(ch, &screen(80), &mut out);
        assert_eq!(shown(&out), "\r> 日a\x1b[K\r\x1b[4C");
        out.clear();
        let ch = e.kill_line();
        e.draw(ch, &screen(80), &mut out);
        assert_eq!(shown(&out), "\r> \x1b[K");
    }

    #[test]
    fn edits_marked_together_are_drawn_once() {
        let scr = screen(80);
        let mut e = Editor::new(100);
        let mut out = Vec::new();
        for c in "abc".chars() {
            let ch = e.insert(c).unwrap();
            e.mark(ch);
        }
        e.flush(&scr, &mut out);
        assert_eq!(shown(&out), "abc");
        out.clear();
        for _ in 0..1000 {
            let ch = e.left();
            e.mark(ch);
            let ch = e.right();
            e.mark(ch);
        }
        let ch = e.home();
        e.mark(ch);
        e.flush(&scr, &mut out);
        assert_eq!(shown(&out), "\r\x1b[2C");
        out.clear();
        let ch = e.insert('x').unwrap();
        e.mark(ch);
        let ch = e.end();
        e.mark(ch);
        let ch = e.insert('y').unwrap();
        e.mark(ch);
        e.flush(&scr, &mut out);
        assert_eq!(shown(&out), "\r> xabcy\x1b[K");
        out.clear();
        e.flush(&scr, &mut out);
        assert!(out.is_empty());
    }

    #[test]
    fn long_lines_scroll_sideways_keeping_the_cursor_visible() {
        // 12 columns: "> " leaves 9 for the line (the last one stays free).
        let scr = screen(12);
        let mut e = Editor::new(200);
        let mut out = Vec::new();
        for c in "abcdefghi".chars() {
            let ch = e.insert(c).unwrap();
            e.draw(ch, &scr, &mut out);
        }
        assert_eq!(shown(&out), "abcdefghi");
        out.clear();
        let ch = e.insert('j').unwrap();
        e.draw(ch, &scr, &mut out);
        // The cursor goes half way: four columns of context before it.
        assert_eq!(shown(&out), "\r> ghij\x1b[K");
        out.clear();
        let ch = e.home();
        e.draw(ch, &scr, &mut out);
        assert_eq!(shown(&out), "\r> abcdefghi\x1b[K\r\x1b[2C");
    }

    #[test]
    fn wide_characters_scroll_by_columns() {
        let scr = screen(12);
        let mut e = Editor::new(200);
        let mut out = Vec::new();
        for c in "日本語日".chars() {
            let ch = e.insert(c).unwrap();
            e.draw(ch, &scr, &mut out);
        }
        // 8 columns fit in 9.
        assert_eq!(shown(&out), "日本語日");
        out.clear();
        let ch = e.insert('本').unwrap();
        e.draw(ch, &scr, &mut out);
        assert_eq!(shown(&out), "\r> 日本\x1b[K");
        // Every redraw keeps within the row and the cursor on it.
        for _ in 0..5 {
            out.clear();
            let ch = e.left();
            e.draw(ch, &scr, &mut out);
            let mut r = Vec::new();
            e.redraw(&scr, &mut r);
            let s = shown(&r);
            let visible = s
                .trim_start_matches("\r> ")
                .split('\x1b')
                .next()
                .unwrap_or("");
            assert!(super::super::width::width(visible) <= 9, "{s:?}");
        }
        assert_eq!(e.cursor(), 0);
    }

    #[test]
    fn after_prompt_puts_back_the_half_typed_line() {
        let mut e = typed("hello");
        e.left();
        e.left();
        let mut out = Vec::new();
        e.after_prompt(&screen(80), &mut out);
        assert_eq!(shown(&out), "hello\x1b[K\r\x1b[5C");
        let mut out = Vec::new();
        Editor::new(10).after_prompt(&screen(80), &mut out);
        assert!(out.is_empty());
    }

    #[test]
    fn completion_one_many_none() {
        let names = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        let mut e = typed(":j");
        assert_eq!(
            e.complete(names(&[":join"])),
            Completion::Done(Change::Redraw)
        );
        assert_eq!(e.text(), ":join ");
        e.insert_text("ge");
        assert_eq!(
            e.complete(names(&["general", "Gemstones", "games"])),
            Completion::List(names(&["general", "Gemstones"]), 0)
        );
        assert_eq!(e.text(), ":join ge");
        // Case ignored when comparing, the first candidate's spelling kept.
        e.insert('N');
        e.complete(names(&["generic", "GENERAL"]));
        assert_eq!(e.text(), ":join gener");
        let mut e = typed(":dm B");
        e.complete(names(&["bobby", "Bob"]));
        assert_eq!(e.text(), ":dm bob");
        assert_eq!(
            e.complete(names(&["bobby", "Bob"])),
            Completion::List(names(&["bobby", "Bob"]), 0)
        );
        assert_eq!(e.complete(names(&[])), Completion::Bell);
        assert_eq!(e.complete(names(&["alice"])), Completion::Bell);
    }

    #[test]
    fn completion_keeps_text_after_the_cursor_and_the_limit() {
        let mut e = typed(":dm al and more");
        for _ in 0.." and more".len() {
            e.left();
        }
        e.complete(vec!["alice".into()]);
        assert_eq!(e.text(), ":dm alice  and more");
        assert_eq!(e.cursor(), ":dm alice ".len());
        let mut e = Editor::new(5);
        e.insert_text(":j");
        assert_eq!(e.complete(vec![":join".into()]), Completion::Bell);
        assert_eq!(e.text(), ":j");
    }

    #[test]
    fn ten_thousand_candidates_list_twenty() {
        let mut e = typed("u");
        let many: Vec<String> = (0..10_000).map(|i| format!("user{i}")).collect();
        assert_eq!(e.complete(many.clone()), Completion::Done(Change::Redraw));
        assert_eq!(e.text(), "user");
        match e.complete(many) {
            Completion::List(shown, more) => {
                assert_eq!(shown.len(), LIST_NAMES);
                assert_eq!(shown[0], "user0");
                assert_eq!(more, 10_000 - LIST_NAMES);
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn prompt_width_skips_colours() {
        assert_eq!(prompt_width("> "), 2);
        assert_eq!(prompt_width("\x1b[1;31m[dm/日本]\x1b[0m> "), 11);
        assert_eq!(prompt_width("\x1b]0;title\x07> "), 2);
    }
}
