//! Pure rendering: banner, prompts, message lines and the chat view's
//! escape sequences, as bytes ready for the wire.

use crate::term::width::{truncate, width as term_width, wrap};
use std::collections::VecDeque;
use std::rc::Rc;

/// Clear the screen and home the cursor.
pub const CLEAR: &str = "\x1b[2J\x1b[H";
const RED_BG: &str = "\x1b[41m\x1b[97m";
const RESET: &str = "\x1b[0m";

/// Where a user is connected, for prompts and the separator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Label<'a> {
    /// Not in a room or DM.
    None,
    /// In a room.
    Room(&'a str),
    /// In a DM with a user.
    Dm(&'a str),
}

impl Label<'_> {
    fn tag(&self) -> String {
        match self {
            Label::None => String::new(),
            Label::Room(r) => format!("[room/{r}]"),
            Label::Dm(u) => format!("[dm/{u}]"),
        }
    }
}

/// The palette prompt: `> `, `[room/NAME]> ` or `[dm/USER]> `.
pub fn prompt(label: Label) -> String {
    format!("{}> ", label.tag())
}

/// The palette prompt while `unread` history lines wait:
/// `[room/NAME] (N new)> `.
pub fn prompt_unread(label: Label, unread: u32) -> String {
    if unread == 0 {
        return prompt(label);
    }
    format!("{} ({unread} new)> ", label.tag())
}

/// The welcome banner: clear screen, the message in a box, the version.
pub fn banner(welcome: &str, version: &str) -> String {
    let mut s = String::from(CLEAR);
    if welcome.is_empty() {
        s.push_str("Welcome!\r\n");
    } else {
        let dashes = "-".repeat(term_width(welcome));
        s.push_str(&format!(
            "/-{dashes}-\\\r\n| {welcome} |\r\n\\-{dashes}-/\r\n"
        ));
    }
    s.push_str(&format!("Powered by chatsock v{version}\r\n\r\n"));
    s
}

/// How a history line looks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Style {
    /// A chat message.
    #[default]
    Plain,
    /// A SERVER line or a highlighted notice: red background.
    Highlight,
}

/// One line of chat-view history: plain text (already sanitised) and its
/// style. It is laid out for each viewer's width when drawn, and shared
/// (`Rc`) by every viewer's history.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct HistLine {
    /// The style.
    pub style: Style,
    /// The text, without escape sequences.
    pub text: Box<str>,
    /// When it was said: minutes since midnight UTC (for `:time on`).
    pub minute: Option<u16>,
    /// A viewer's own name mentioned in it, shown highlighted (that
    /// viewer's copy only).
    pub highlight: Option<Rc<str>>,
}

impl HistLine {
    /// The text as a viewer sees it: with `HH:MM ` first when `time`.
    fn shown(&self, time: bool) -> std::borrow::Cow<'_, str> {
        match (time, self.minute) {
            (true, Some(m)) => format!("{:02}:{:02} {}", m / 60, m % 60, self.text).into(),
            _ => (&*self.text).into(),
        }
    }
}

/// Reverse video around a mention of the viewer's name.
const MENTION_ON: &str = "\x1b[7m";
const MENTION_OFF: &str = "\x1b[27m";

/// Whether `word` occurs in `text` as a whole word, ignoring case.
pub fn mentions(text: &str, word: &str) -> bool {
    !word.is_empty() && word_spans(text, word).next().is_some()
}

/// Byte spans of whole-word, case-insensitive occurrences of `word`.
fn word_spans<'a>(text: &'a str, word: &'a str) -> impl Iterator<Item = (usize, usize)> + 'a {
    let is_word = |c: char| c.is_alphanumeric() || c == '_';
    text.char_indices().filter_map(move |(i, _)| {
        let mut end = i;
        let mut want = word.chars().flat_map(char::to_lowercase);
        let mut got = text[i..].chars();
        loop {
            match want.next() {
                None => break,
                Some(w) => {
                    let c = got.next()?;
                    if c.to_lowercase().next() != Some(w) {
                        return None;
                    }
                    end += c.len_utf8();
                }
            }
        }
        let before = text[..i].chars().next_back().is_some_and(is_word);
        let after = text[end..].chars().next().is_some_and(is_word);
        (!before && !after && end > i).then_some((i, end))
    })
}

/// A chat message as stored in history: `[NAME<pad>]: TEXT`, the name
/// padded to `width` terminal columns.
pub fn message_line(name: &str, width: usize, text: &str) -> Rc<HistLine> {
    let pad = width.saturating_sub(term_width(name));
    let mut s = String::with_capacity(name.len() + pad + text.len() + 4);
    s.push('[');
    s.push_str(name);
    s.extend(std::iter::repeat_n(' ', pad));
    s.push_str("]: ");
    s.push_str(text);
    Rc::new(HistLine {
        style: Style::Plain,
        text: s.into_boxed_str(),
        ..HistLine::default()
    })
}

/// A SERVER line as stored in history, highlighted with a red background.
pub fn server_line(width: usize, text: &str) -> Rc<HistLine> {
    let pad = width.saturating_sub("SERVER".len());
    Rc::new(HistLine {
        style: Style::Highlight,
        text: format!("[SERVER{}]: {text}", " ".repeat(pad)).into_boxed_str(),
        ..HistLine::default()
    })
}

/// A line in the chat view styled like a SERVER line, with its own words
/// (a DM arriving while another chat view is open).
pub fn highlight_line(text: &str) -> Rc<HistLine> {
    Rc::new(HistLine {
        style: Style::Highlight,
        text: text.into(),
        ..HistLine::default()
    })
}

/// A highlighted block for the palette (shutdown notice), then the prompt.
pub fn palette_notice(text: &str) -> String {
    format!("\r\x1b[K\r\n{RED_BG} {text} {RESET}\r\n\r\n")
}

/// A line printed above the palette prompt (e.g. a DM); the prompt follows.
pub fn palette_line(text: &str) -> String {
    format!("\r\x1b[K{text}\r\n")
}

/// Where the chat view's parts sit on one viewer's screen: the input line
/// on the terminal's last row (in line mode the row above it, since the
/// client's own echo of Enter moves the cursor down one row and must not
/// scroll the screen), the separator above it, `history` rows of messages
/// above that; rows left over stay empty at the top.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Layout {
    /// Terminal columns.
    pub cols: usize,
    /// Terminal rows.
    pub rows: usize,
    /// History rows: `min(chatviewMax, rows - 2)` (`rows - 3` in line
    /// mode); 0 when the terminal is too small for the view.
    pub history: usize,
    /// The first history row (1-based).
    pub top: usize,
    /// `HH:MM ` before each line (`:time on`).
    pub time: bool,
}

/// The smallest terminal the chat view is drawn on.
pub const MIN_COLS: usize = 20;
/// See [`MIN_COLS`].
pub const MIN_ROWS: usize = 4;

impl Layout {
    /// The layout for a `cols`×`rows` terminal showing up to `max` lines;
    /// `char_mode`: the server echoes, so the input line may be the last row.
    pub fn new(cols: usize, rows: usize, max: usize, char_mode: bool) -> Layout {
        if cols < MIN_COLS || rows < MIN_ROWS {
            return Layout {
                cols,
                rows,
                history: 0,
                top: 1,
                time: false,
            };
        }
        let input = if char_mode { rows } else { rows - 1 };
        let history = max.clamp(1, input - 2);
        Layout {
            cols,
            rows,
            history,
            top: input - 1 - history,
            time: false,
        }
    }

    /// Whether the terminal is too small for the view.
    pub fn too_small(&self) -> bool {
        self.history == 0
    }

    /// The separator's row (1-based).
    pub fn separator_row(&self) -> usize {
        self.top + self.history
    }

    /// The input line's row (1-based).
    pub fn input_row(&self) -> usize {
        self.separator_row() + 1
    }
}

/// The separator under the history area: dashes across the terminal,
/// ending in the label.
pub fn separator(label: Label, cols: usize) -> String {
    let tag = label.tag();
    let tag = truncate(&tag, cols);
    let dashes = cols.saturating_sub(term_width(tag));
    format!("{}{tag}", "-".repeat(dashes))
}

/// Appends one row of a history line, styled.
fn push_row(out: &mut Vec<u8>, row: &str, line: &HistLine) {
    if line.style == Style::Highlight {
        out.extend_from_slice(RED_BG.as_bytes());
    }
    match line.highlight.as_deref() {
        Some(name) => {
            let mut at = 0;
            for (start, end) in word_spans(row, name) {
                if start < at {
                    continue;
                }
                out.extend_from_slice(&row.as_bytes()[at..start]);
                out.extend_from_slice(MENTION_ON.as_bytes());
                out.extend_from_slice(&row.as_bytes()[start..end]);
                out.extend_from_slice(MENTION_OFF.as_bytes());
                at = end;
            }
            out.extend_from_slice(&row.as_bytes()[at..]);
        }
        None => out.extend_from_slice(row.as_bytes()),
    }
    if line.style == Style::Highlight {
        out.extend_from_slice(RESET.as_bytes());
    }
}

/// What a terminal too small for the chat view shows instead.
/// It is wrapped to the width and cut to the rows above the input row, so
/// it never scrolls the screen.
pub fn too_small(layout: Layout) -> String {
    let (c, r) = (layout.cols, layout.rows);
    let room = r.saturating_sub(1);
    // The full words if they fit above the input row, else shorter ones,
    // else as much as fits.
    let texts = [
        format!("Terminal too small ({c}x{r}). Try :size."),
        format!("Too small ({c}x{r}). Try :size."),
        "Too small. :size".to_string(),
    ];
    let text = texts
        .iter()
        .find(|t| crate::term::width::rows(t, c.max(1)) <= room)
        .unwrap_or(&texts[2]);
    let rows = wrap(text, c.max(1));
    // Below 2 columns not even one character of it fits.
    let fit = if c < 2 { 0 } else { room.min(rows.len()) };
    let mut s = String::from(CLEAR);
    for row in &rows[..fit] {
        s.push_str(row);
        s.push_str("\r\n");
    }
    s
}

/// The whole chat view but its prompt: clear, the history rows (newest at
/// the bottom, wrapped to the width), the separator, and the cursor at the
/// start of the input line.
pub fn full_view(history: &VecDeque<Rc<HistLine>>, layout: Layout, label: Label) -> Vec<u8> {
    if layout.too_small() {
        return too_small(layout).into_bytes();
    }
    // The newest rows that fill the history area, newest first.
    let shown: Vec<_> = history
        .iter()
        .rev()
        .take(layout.history)
        .map(|l| (l.shown(layout.time), l))
        .collect();
    let mut rows: Vec<(&str, &HistLine)> = Vec::with_capacity(layout.history);
    'fill: for (text, line) in &shown {
        for row in wrap(text, layout.cols).into_iter().rev() {
            if rows.len() == layout.history {
                break 'fill;
            }
            rows.push((row, line));
        }
    }
    let mut out = Vec::with_capacity(CLEAR.len() + 16 + layout.cols * (layout.history + 2));
    out.extend_from_slice(CLEAR.as_bytes());
    let first = layout.separator_row() - rows.len();
    out.extend_from_slice(format!("\x1b[{first};1H").as_bytes());
    for (row, line) in rows.into_iter().rev() {
        push_row(&mut out, row, line);
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(separator(label, layout.cols).as_bytes());
    out.extend_from_slice(b"\r\n");
    out
}

/// The incremental update for one new history line, the same bytes for
/// every viewer with the same layout: save the cursor, scroll only the
/// history rows up by the line's rows, write them at the bottom of the
/// history area, reset the scroll region and restore the cursor — the
/// input line is never touched.
pub fn view_update(line: &HistLine, layout: Layout) -> Vec<u8> {
    if layout.too_small() {
        // No room for the view: the line is printed as it comes, like a log,
        // so nothing (a DM, the shutdown notice) goes unseen.
        let mut out = b"\r\n".to_vec();
        push_row(&mut out, &line.shown(layout.time), line);
        return out;
    }
    let mut out = Vec::with_capacity(line.text.len() + 40);
    let (top, bottom) = (layout.top, layout.separator_row() - 1);
    out.extend_from_slice(format!("\x1b7\x1b[{top};{bottom}r\x1b[{bottom};1H\r\n").as_bytes());
    let text = line.shown(layout.time);
    let rows = wrap(&text, layout.cols);
    let skip = rows.len().saturating_sub(layout.history);
    for (i, row) in rows[skip..].iter().enumerate() {
        if i > 0 {
            out.extend_from_slice(b"\r\n");
        }
        push_row(&mut out, row, line);
    }
    out.extend_from_slice(b"\x1b[r\x1b8");
    out
}

/// After the viewer pressed Enter: draw the separator again and clear the
/// input line and what is below it (the echo of Enter, in line mode); the
/// prompt follows.
pub fn input_reset(layout: Layout, label: Label) -> Vec<u8> {
    if layout.too_small() {
        return format!("\x1b[{};1H\x1b[J", layout.rows.max(1)).into_bytes();
    }
    format!(
        "\x1b[{};1H{}\r\n\x1b[J",
        layout.separator_row(),
        separator(label, layout.cols)
    )
    .into_bytes()
}

/// Leaving the chat view: clear the screen and say so; the prompt follows.
pub fn left_view() -> String {
    format!("{CLEAR}You left chat view.\r\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hist(lines: &[&str]) -> VecDeque<Rc<HistLine>> {
        lines.iter().map(|l| message_line("a", 3, l)).collect()
    }

    #[test]
    fn banner_box_fits_message_by_display_width() {
        let b = banner("WELCOME!", "1.2.3");
        assert!(b.contains("/----------\\\r\n| WELCOME! |\r\n\\----------/\r\n"));
        assert!(b.contains("Powered by chatsock v1.2.3"));
        assert!(banner("", "1").contains("Welcome!\r\n"));
        assert!(banner("日本", "1").contains("/------\\\r\n| 日本 |\r\n"));
    }

    #[test]
    fn prompts() {
        assert_eq!(prompt(Label::None), "> ");
        assert_eq!(prompt(Label::Room("general")), "[room/general]> ");
        assert_eq!(prompt(Label::Dm("bob")), "[dm/bob]> ");
    }

    #[test]
    fn message_line_pads_name_by_display_width() {
        assert_eq!(&*message_line("bob", 10, "hi").text, "[bob       ]: hi");
        assert_eq!(&*message_line("élan", 6, "x").text, "[élan  ]: x");
        // Two wide characters take four of the six columns.
        assert_eq!(&*message_line("日本", 6, "x").text, "[日本  ]: x");
        assert_eq!(&*message_line("🎉a", 6, "x").text, "[🎉a   ]: x");
    }

    #[test]
    fn layout_fits_the_terminal() {
        // 80×24 in line mode, 20 lines: rows 2-21, separator 22, input 23.
        let l = Layout::new(80, 24, 20, false);
        assert_eq!(
            (l.history, l.top, l.separator_row(), l.input_row()),
            (20, 2, 22, 23)
        );
        // Character mode: the input line is the last row.
        let l = Layout::new(80, 24, 20, true);
        assert_eq!((l.history, l.input_row()), (20, 24));
        // A short terminal: history min(chatviewMax, rows - 2).
        let l = Layout::new(60, 15, 20, true);
        assert_eq!((l.history, l.top, l.input_row()), (13, 1, 15));
        let l = Layout::new(60, 15, 20, false);
        assert_eq!((l.history, l.top, l.input_row()), (12, 1, 14));
        // A tall one: the view sits at the bottom.
        let l = Layout::new(120, 40, 20, true);
        assert_eq!((l.top, l.input_row()), (19, 40));
        assert!(Layout::new(19, 24, 20, true).too_small());
        assert!(Layout::new(80, 3, 20, true).too_small());
        assert!(!Layout::new(20, 4, 20, true).too_small());
        assert_eq!(Layout::new(20, 4, 20, true).history, 2);
    }

    #[test]
    fn separator_spans_the_terminal() {
        let s = separator(Label::Room("general"), 80);
        assert_eq!(s.chars().count(), 80);
        assert!(s.ends_with("-[room/general]"));
        assert_eq!(separator(Label::Dm("bob"), 30).chars().count(), 30);
        // A tag wider than the terminal is cut, never wrapped.
        assert_eq!(
            separator(Label::Room(&"x".repeat(50)), 20).chars().count(),
            20
        );
    }

    #[test]
    fn full_view_fills_the_history_rows_then_separator() {
        let h = hist(&["one"]);
        let l = Layout::new(40, 10, 4, true);
        let v = String::from_utf8(full_view(&h, l, Label::Room("r"))).unwrap();
        // One line shown at the bottom of the history area (rows 5-8).
        assert!(
            v.starts_with(&format!("{CLEAR}\x1b[8;1H[a  ]: one\r\n")),
            "{v:?}"
        );
        assert!(v.ends_with("[room/r]\r\n"), "{v:?}");
        let empty = String::from_utf8(full_view(&hist(&[]), l, Label::Room("r"))).unwrap();
        assert!(
            empty.starts_with(&format!("{CLEAR}\x1b[9;1H-")),
            "{empty:?}"
        );
    }

    #[test]
    fn full_view_wraps_and_keeps_the_newest_rows() {
        let long = "x".repeat(50);
        let h = hist(&["old", &long]);
        // 20 columns, 3 history rows: the long line takes 3 rows itself.
        let l = Layout::new(20, 5, 3, true);
        let v = String::from_utf8(full_view(&h, l, Label::None)).unwrap();
        assert!(!v.contains("old"), "{v:?}");
        let body = v.strip_prefix(CLEAR).unwrap();
        let rows: Vec<&str> = body.split("\r\n").collect();
        assert_eq!(rows.len(), 5, "{rows:?}");
        assert!(rows[..3].iter().all(|r| width(strip(r)) <= 20), "{rows:?}");
        assert!(rows[2].ends_with("xxxx"), "{rows:?}");
    }

    fn strip(s: &str) -> &str {
        s.rsplit('H').next().unwrap()
    }

    fn width(s: &str) -> usize {
        term_width(s)
    }

    #[test]
    fn too_small_says_so() {
        let l = Layout::new(10, 3, 20, true);
        let v = String::from_utf8(full_view(&hist(&["a"]), l, Label::None)).unwrap();
        // Shorter words where the full ones would not fit above the input
        // row (wrapped to 10 columns, 2 rows).
        assert_eq!(v, format!("{CLEAR}Too small.\r\n :size\r\n"));
        let l = Layout::new(60, 3, 20, true);
        let v = String::from_utf8(full_view(&hist(&["a"]), l, Label::None)).unwrap();
        assert!(v.contains("Terminal too small (60x3). Try :size."), "{v:?}");
        assert_eq!(view_update(&message_line("a", 3, "b"), l), b"\r\n[a  ]: b");
    }

    #[test]
    fn update_costs_about_the_line_and_never_touches_the_input_row() {
        let line = message_line("bob", 10, &"x".repeat(100));
        let l = Layout::new(80, 24, 20, false);
        let u = view_update(&line, l);
        assert!(u.len() <= 160, "{}", u.len());
        assert!(u.starts_with(b"\x1b7\x1b[2;21r\x1b[21;1H\r\n"), "{u:?}");
        assert!(u.ends_with(b"\x1b[r\x1b8"));
        // Wrapped onto two rows of at most 80 columns.
        let text = String::from_utf8(u).unwrap();
        assert_eq!(text.matches("\r\n").count(), 2);
    }

    #[test]
    fn server_lines_are_highlighted_on_every_row() {
        let line = server_line(6, &"y".repeat(30));
        let l = Layout::new(20, 10, 5, true);
        let u = String::from_utf8(view_update(&line, l)).unwrap();
        assert_eq!(u.matches(RED_BG).count(), 2, "{u:?}");
        assert_eq!(u.matches(RESET).count(), 2, "{u:?}");
    }
}
