//! Pure rendering: banner, prompts, message lines and the chat view's
//! escape sequences, as bytes ready for the wire.

use std::collections::VecDeque;
use std::rc::Rc;

/// Clear the screen and home the cursor.
pub const CLEAR: &str = "\x1b[2J\x1b[H";
/// Width of the chat view's separator line.
pub const SEPARATOR_WIDTH: usize = 60;
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

/// The welcome banner: clear screen, the message in a box, the version.
pub fn banner(welcome: &str, version: &str) -> String {
    let mut s = String::from(CLEAR);
    if welcome.is_empty() {
        s.push_str("Welcome!\r\n");
    } else {
        let dashes = "-".repeat(welcome.chars().count());
        s.push_str(&format!(
            "/-{dashes}-\\\r\n| {welcome} |\r\n\\-{dashes}-/\r\n"
        ));
    }
    s.push_str(&format!("Powered by chatsock v{version}\r\n\r\n"));
    s
}

/// A chat message as stored in history: `[NAME<pad>]: TEXT`.
pub fn message_line(name: &str, width: usize, text: &str) -> Rc<[u8]> {
    let pad = width.saturating_sub(name.chars().count());
    let mut s = String::with_capacity(name.len() + pad + text.len() + 4);
    s.push('[');
    s.push_str(name);
    s.extend(std::iter::repeat_n(' ', pad));
    s.push_str("]: ");
    s.push_str(text);
    Rc::from(s.into_bytes())
}

/// A SERVER line as stored in history, highlighted with a red background.
pub fn server_line(width: usize, text: &str) -> Rc<[u8]> {
    let pad = width.saturating_sub("SERVER".len());
    let s = format!("{RED_BG}[SERVER{}]: {text}{RESET}", " ".repeat(pad));
    Rc::from(s.into_bytes())
}

/// A line in the chat view styled like a SERVER line, with its own words
/// (a DM arriving while another chat view is open).
pub fn highlight_line(text: &str) -> Rc<[u8]> {
    Rc::from(format!("{RED_BG}{text}{RESET}").into_bytes())
}

/// A highlighted block for the palette (shutdown notice), then the prompt.
pub fn palette_notice(text: &str, prompt: &str) -> String {
    format!("\r\x1b[K\r\n{RED_BG} {text} {RESET}\r\n\r\n{prompt}")
}

/// A line printed above the palette prompt (e.g. a DM), then the prompt.
pub fn palette_line(text: &str, prompt: &str) -> String {
    format!("\r\x1b[K{text}\r\n{prompt}")
}

/// The separator under the history area, 60 columns ending in the label.
pub fn separator(label: Label) -> String {
    let tag = label.tag();
    let dashes = SEPARATOR_WIDTH.saturating_sub(tag.chars().count());
    format!("{}{tag}", "-".repeat(dashes))
}

/// The whole chat view: clear, `height` history rows (newest at the bottom,
/// empty rows above), the separator and the input prompt.
pub fn full_view(history: &VecDeque<Rc<[u8]>>, height: usize, label: Label) -> Vec<u8> {
    let body: usize = history.iter().map(|l| l.len() + 2).sum();
    let mut out = Vec::with_capacity(CLEAR.len() + body + 2 * height + SEPARATOR_WIDTH + 8);
    out.extend_from_slice(CLEAR.as_bytes());
    let shown = history.len().min(height);
    for _ in shown..height {
        out.extend_from_slice(b"\r\n");
    }
    for line in history.iter().skip(history.len() - shown) {
        out.extend_from_slice(line);
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(separator(label).as_bytes());
    out.extend_from_slice(b"\r\n> ");
    out
}

/// The incremental update for one new history line, the same bytes for every
/// viewer: save the cursor, scroll only the history area (rows 1..=height)
/// up by one, write the line on its last row, reset the scroll region and
/// restore the cursor — the input line is never touched.
pub fn view_update(line: &[u8], height: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(line.len() + 32);
    out.extend_from_slice(format!("\x1b7\x1b[1;{height}r\x1b[{height};1H\n").as_bytes());
    out.extend_from_slice(line);
    out.extend_from_slice(b"\x1b[r\x1b8");
    out
}

/// After the viewer pressed Enter (their terminal echoed the line and moved
/// the cursor below the input line): draw the separator and an empty input
/// line again and clear what is below. Follows the history update, if any.
pub fn input_reset(height: usize, label: Label) -> Vec<u8> {
    format!("\x1b[{};1H{}\r\n\x1b[J> ", height + 1, separator(label)).into_bytes()
}

/// Leaving the chat view: clear the screen, say so, show the prompt.
pub fn left_view(prompt: &str) -> String {
    format!("{CLEAR}You left chat view.\r\n{prompt}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn banner_box_fits_message() {
        let b = banner("WELCOME!", "1.2.3");
        assert!(b.contains("/----------\\\r\n| WELCOME! |\r\n\\----------/\r\n"));
        assert!(b.contains("Powered by chatsock v1.2.3"));
        assert!(banner("", "1").contains("Welcome!\r\n"));
    }

    #[test]
    fn prompts() {
        assert_eq!(prompt(Label::None), "> ");
        assert_eq!(prompt(Label::Room("general")), "[room/general]> ");
        assert_eq!(prompt(Label::Dm("bob")), "[dm/bob]> ");
    }

    #[test]
    fn message_line_pads_name() {
        assert_eq!(&*message_line("bob", 10, "hi"), b"[bob       ]: hi");
        assert_eq!(&*message_line("élan", 6, "x"), "[élan  ]: x".as_bytes());
    }

    #[test]
    fn separator_is_sixty_columns() {
        let s = separator(Label::Room("general"));
        assert_eq!(s.chars().count(), 60);
        assert!(s.ends_with("-[room/general]"));
        assert!(separator(Label::Dm("bob")).ends_with("[dm/bob]"));
    }

    #[test]
    fn full_view_has_height_rows_then_separator() {
        let mut h = VecDeque::new();
        h.push_back(message_line("a", 3, "one"));
        let v = String::from_utf8(full_view(&h, 4, Label::Room("r"))).unwrap();
        let body = v.strip_prefix(CLEAR).unwrap();
        let rows: Vec<&str> = body.split("\r\n").collect();
        assert_eq!(rows.len(), 6);
        assert_eq!(&rows[..4], &["", "", "", "[a  ]: one"]);
        assert!(rows[4].ends_with("[room/r]"));
        assert_eq!(rows[5], "> ");
    }

    #[test]
    fn update_costs_about_the_line() {
        let line = message_line("bob", 10, &"x".repeat(100));
        let u = view_update(&line, 20);
        assert!(u.len() <= line.len() + 30, "{}", u.len());
        assert!(u.starts_with(b"\x1b7\x1b[1;20r\x1b[20;1H\n"));
        assert!(u.ends_with(b"\x1b[r\x1b8"));
    }
}
