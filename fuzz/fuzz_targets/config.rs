//! Defends SPEC §2 (an unknown field, a wrong type or an impossible value is
//! an error that names it, with line and column) and SPEC §1 (`--check`
//! reports an error and exits 1; it never panics on any file).
//!
//! Input: arbitrary bytes read as a `chatsock.ron` (lossily, as UTF-8).
//! Checked: `Config::from_ron` never panics; an accepted config is within
//! every documented range; an error has a message, and a position inside the
//! file when it has one; an error about a top-level field the file names
//! always carries the position of that name.
#![no_main]

use chatsock::config::Config;
use libfuzzer_sys::fuzz_target;

/// Fields whose out-of-range value `validate` reports as "`field` must …".
const FIELDS: &[&str] = &[
    "host",
    "chatviewMax",
    "usernameLimit",
    "maxLineLength",
    "sendQueueLimit",
    "floodBurst",
    "rooms",
];

fuzz_target!(|data: &[u8]| {
    let source = String::from_utf8_lossy(data);
    match Config::from_ron(&source, "fuzz.ron") {
        Ok(c) => {
            assert!(c.listen_addr().is_ok());
            assert!((1..=200).contains(&c.chatview_max));
            assert!((1..=32).contains(&c.username_limit));
            assert!((16..=1 << 20).contains(&c.max_line_length));
            assert!((16_384..=1 << 30).contains(&c.send_queue_limit));
            assert!(c.flood_burst >= 1);
            assert!(!c.rooms.0.is_empty());
            for (name, _) in &c.rooms.0 {
                let n = name.chars().count();
                assert!((1..=32).contains(&n), "room name {name:?}");
                assert!(!name
                    .chars()
                    .any(|c| c.is_whitespace() || c == '/' || c == ':'));
            }
            let _ = c.summary();
        }
        Err(e) => {
            assert!(!e.message.is_empty());
            let shown = e.to_string();
            assert!(shown.starts_with("fuzz.ron:"), "{shown}");
            if let Some((line, col)) = e.position {
                let lines = source.split('\n').count();
                assert!(line >= 1 && col >= 1, "{shown}");
                assert!(line <= lines + 1, "{shown}: only {lines} lines");
            }
            // A validation error about a field: the file set that field, so
            // the locator must find its name, and point at it.
            let field = FIELDS
                .iter()
                .find(|f| e.message.starts_with(&format!("`{f}` ")));
            if let Some(field) = field {
                let (line, col) = e
                    .position
                    .unwrap_or_else(|| panic!("no position for {shown}"));
                let at: String = source
                    .split('\n')
                    .nth(line - 1)
                    .unwrap_or_default()
                    .chars()
                    .skip(col - 1)
                    .collect();
                assert!(at.starts_with(field), "{shown} points at {at:?}");
            }
        }
    }
});
