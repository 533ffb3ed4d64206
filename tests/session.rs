//! SPEC §3: connecting, the banner, choosing a username.

mod common;
use common::*;
use std::time::{Duration, Instant};

const VERSION: &str = env!("CARGO_PKG_VERSION");
const TAKEN: &str = "That username is taken, please pick another one.\r\nEnter a username: ";
const TOO_LONG: &str = "That username is too long, please pick another one.\r\nEnter a username: ";
const NOT_ALLOWED: &str =
    "That username is not allowed, please pick another one.\r\nEnter a username: ";

fn delayed() -> Cfg {
    Cfg::base().set("connectionTimeout", "true")
}

/// Sends a username and returns the reply up to the next username prompt.
fn try_name(c: &mut Client, name: &str) -> String {
    c.send(name);
    c.expect("Enter a username: ")
}

#[test]
fn username_is_accepted_and_confirmed() {
    let server = Server::start();
    let mut c = server.client();
    let banner = c.expect("Enter a username: ");
    assert!(banner.contains("| WELCOME! |"), "{banner:?}");
    assert!(banner.contains("Powered by chatsock v"), "{banner:?}");
    c.send("alice");
    c.expect("You are now connected as 'alice'.");
    c.expect(":help");
    c.expect("> ");
}

#[test]
fn connecting_prints_five_dots_half_a_second_apart_then_the_banner() {
    let server = Server::with(&delayed());
    let start = Instant::now();
    let mut c = server.client();
    let first = c.expect("Connecting you");
    assert_eq!(first, "\r\nConnecting you");
    let mut at = Vec::new();
    for _ in 0..5 {
        assert_eq!(c.expect("."), ".");
        at.push(start.elapsed());
    }
    let banner = c.expect("Enter a username: ");
    let done = start.elapsed();
    assert!(
        banner.starts_with(CLEAR),
        "banner must follow the dots: {banner:?}"
    );
    assert!(banner.contains("| WELCOME! |"), "{banner:?}");
    // Generous bounds: 0.5 s per dot, 2.5 s in all.
    assert!(
        at[0] >= Duration::from_millis(400),
        "first dot at {:?}",
        at[0]
    );
    for pair in at.windows(2) {
        let gap = pair[1] - pair[0];
        assert!(
            gap >= Duration::from_millis(300) && gap <= Duration::from_millis(1500),
            "dots {at:?}"
        );
    }
    assert!(
        done >= Duration::from_millis(2300) && done <= Duration::from_secs(5),
        "banner after {done:?}"
    );
}

#[test]
fn input_typed_while_connecting_is_kept_and_used() {
    let server = Server::with(&delayed());
    let mut c = server.client();
    c.expect("Connecting you");
    c.send("early");
    let before = c.expect("Enter a username: ");
    assert!(before.contains("| WELCOME! |"), "{before:?}");
    let after = c.expect("You are now connected as 'early'.");
    assert!(
        !after.contains("Enter a username"),
        "the early line must answer the first prompt: {after:?}"
    );
    c.expect("> ");
}

#[test]
fn one_clients_connection_delay_does_not_delay_another() {
    let server = Server::with(&delayed());
    let t0 = Instant::now();
    let mut first = server.client();
    first.expect("Connecting you");
    // The test is about time: the second client arrives about 1 s later.
    std::thread::sleep(Duration::from_secs(1));
    let t1 = Instant::now();
    let mut second = server.client();
    first.expect("Enter a username: ");
    let b1 = t0.elapsed();
    second.expect("Enter a username: ");
    let b2 = t0.elapsed();
    let second_wait = b2 - (t1 - t0);
    assert!(
        b1 >= Duration::from_millis(2300) && b1 <= Duration::from_millis(4000),
        "first banner after {b1:?}"
    );
    assert!(
        second_wait >= Duration::from_millis(2300) && second_wait <= Duration::from_millis(4000),
        "second client waited {second_wait:?}"
    );
    let gap = b2 - b1;
    assert!(
        gap >= Duration::from_millis(500) && gap <= Duration::from_millis(1800),
        "banners {gap:?} apart, expected about 1 s"
    );
}

#[test]
fn banner_boxes_a_custom_welcome_message() {
    let server = Server::with(&Cfg::base().set("welcomeMessage", "\"Hello, chatters\""));
    let mut c = server.client();
    let banner = c.expect("Enter a username: ");
    let dashes = "-".repeat("Hello, chatters".len());
    let expected = format!(
        "{CLEAR}/-{dashes}-\\\r\n| Hello, chatters |\r\n\\-{dashes}-/\r\nPowered by chatsock v{VERSION}\r\n"
    );
    assert!(banner.starts_with(&expected), "{banner:?}");
}

#[test]
fn default_banner_is_welcome_in_a_box() {
    let server = Server::start();
    let mut c = server.client();
    let banner = c.expect("Enter a username: ");
    let expected = format!(
        "{CLEAR}/----------\\\r\n| WELCOME! |\r\n\\----------/\r\nPowered by chatsock v{VERSION}\r\n"
    );
    assert!(banner.starts_with(&expected), "{banner:?}");
}

#[test]
fn empty_welcome_message_shows_plain_welcome() {
    let server = Server::with(&Cfg::base().set("welcomeMessage", "\"\""));
    let mut c = server.client();
    let banner = c.expect("Enter a username: ");
    let expected = format!("{CLEAR}Welcome!\r\nPowered by chatsock v{VERSION}\r\n");
    assert!(banner.starts_with(&expected), "{banner:?}");
    assert!(!banner.contains("/-"), "no box: {banner:?}");
}

#[test]
fn username_taken_is_compared_case_insensitively() {
    let server = Server::start();
    let _alice = server.login("Alice");
    let mut c = server.client();
    c.expect("Enter a username: ");
    assert_eq!(try_name(&mut c, "Alice"), TAKEN);
    assert_eq!(try_name(&mut c, "alice"), TAKEN);
    assert_eq!(try_name(&mut c, "ALICE"), TAKEN);
    c.send("alice2");
    c.expect("You are now connected as 'alice2'.");
}

#[test]
fn username_longer_than_the_limit_in_characters_is_too_long() {
    let server = Server::with(&Cfg::base().set("usernameLimit", "5"));
    let mut c = server.client();
    c.expect("Enter a username: ");
    assert_eq!(try_name(&mut c, "abcdef"), TOO_LONG);
    assert_eq!(try_name(&mut c, "éééééé"), TOO_LONG);
    // Five two-byte characters are five characters, not ten bytes.
    c.send("ééééé");
    c.expect("You are now connected as 'ééééé'.");
}

#[test]
fn username_with_whitespace_is_not_allowed() {
    let server = Server::start();
    let mut c = server.client();
    c.expect("Enter a username: ");
    assert_eq!(try_name(&mut c, "a b"), NOT_ALLOWED);
    assert_eq!(try_name(&mut c, "a\tb"), NOT_ALLOWED);
    assert_eq!(try_name(&mut c, "a\u{a0}b"), NOT_ALLOWED);
}

#[test]
fn username_starting_with_colon_is_not_allowed() {
    let server = Server::start();
    let mut c = server.client();
    c.expect("Enter a username: ");
    assert_eq!(try_name(&mut c, ":bob"), NOT_ALLOWED);
    assert_eq!(try_name(&mut c, ":"), NOT_ALLOWED);
    c.send("b:ob");
    c.expect("You are now connected as 'b:ob'.");
}

#[test]
fn username_server_in_any_case_is_not_allowed() {
    let server = Server::start();
    let mut c = server.client();
    c.expect("Enter a username: ");
    for name in ["SERVER", "server", "SeRvEr"] {
        assert_eq!(try_name(&mut c, name), NOT_ALLOWED, "{name}");
    }
    c.send("servers");
    c.expect("You are now connected as 'servers'.");
}

#[test]
fn control_characters_are_stripped_from_usernames() {
    let server = Server::start();
    let mut c = server.client();
    c.expect("Enter a username: ");
    c.send("bo\x07b\x1b[31m");
    let reply = c.expect("> ");
    assert_eq!(
        reply,
        "You are now connected as 'bob'.\r\nType :help to see what you can do.\r\n> "
    );
    // The stripped name is the one registered.
    let mut other = server.client();
    other.expect("Enter a username: ");
    assert_eq!(try_name(&mut other, "bob"), TAKEN);
}

#[test]
fn empty_line_at_the_username_prompt_asks_again() {
    let server = Server::start();
    let mut c = server.client();
    c.expect("Enter a username: ");
    assert_eq!(try_name(&mut c, ""), "Enter a username: ");
    // Only control characters is empty too.
    assert_eq!(try_name(&mut c, "\x07\x08"), "Enter a username: ");
}

#[test]
fn successful_name_confirms_and_hints_at_help() {
    let server = Server::start();
    let mut c = server.client();
    c.expect("Enter a username: ");
    c.send("carol");
    assert_eq!(
        c.expect("> "),
        "You are now connected as 'carol'.\r\nType :help to see what you can do.\r\n> "
    );
}

#[test]
fn empty_line_at_the_palette_reprompts() {
    let server = Server::start();
    let mut c = server.login("alice");
    assert_eq!(c.command(""), "> ");
    assert_eq!(c.command("   "), "> ");
    c.command(":join general");
    assert_eq!(c.command(""), "[room/general]> ");
}

#[test]
fn lines_may_end_in_lf_cr_or_cr_nul() {
    let server = Server::start();
    let mut c = server.client();
    c.expect("Enter a username: ");
    c.send_raw(b"x y\n");
    assert_eq!(c.expect("Enter a username: "), NOT_ALLOWED);
    c.send_raw(b"a b\r\0");
    assert_eq!(c.expect("Enter a username: "), NOT_ALLOWED);
    c.send_raw(b"dave\r");
    c.expect("You are now connected as 'dave'.");
    c.expect("> ");
}

#[test]
fn cr_lf_split_across_packets_is_one_line_end() {
    let server = Server::start();
    let mut c = server.login("alice");
    c.send_raw(b":list\r");
    c.expect("Did you mean to use :listall?\r\n> ");
    c.send_raw(b"\n:listall\r\n");
    assert_eq!(
        c.expect("> "),
        "Currently connected users:\r\n  - alice\r\n> ",
        "the late \\n must not count as an empty line"
    );
}

#[test]
fn telnet_negotiation_is_consumed_not_treated_as_text() {
    let server = Server::start();
    let mut c = server.client();
    c.expect("Enter a username: ");
    // IAC WILL ECHO, IAC SB TTYPE … IAC SE, IAC DO SGA around the name.
    c.send_raw(b"\xff\xfb\x01al\xff\xfa\x18\x00xterm\xff\xf0ice\xff\xfd\x03\r\n");
    c.expect("You are now connected as 'alice'.");
}

#[test]
fn invalid_utf8_becomes_the_replacement_character() {
    let server = Server::start();
    let mut c = server.client();
    c.expect("Enter a username: ");
    // (0xFF would be telnet IAC; 0x80 and 0xFE are never valid UTF-8.)
    // U+FFFD is no identifier character (UTS #39), so not in a username…
    c.send_raw(b"a\x80b\xfe\r\n");
    assert_eq!(c.expect("Enter a username: "), NOT_ALLOWED);
    // …but a message shows it.
    c.send("alice");
    c.expect("> ");
    c.enter_room("general");
    c.send_raw(b"a\x80b\xfe\r\n");
    c.expect("a\u{fffd}b\u{fffd}");
}

#[test]
fn username_with_invisible_characters_is_not_allowed() {
    let server = Server::start();
    let mut c = server.client();
    c.expect("Enter a username: ");
    // Each of these would show as "SERVER", "bob" or nothing at all.
    for name in [
        "SER\u{200b}VER",
        "\u{200b}",
        "SERVER\u{2060}",
        "\u{feff}bob",
        "b\u{ad}ob",
        "\u{3164}",
    ] {
        assert_eq!(try_name(&mut c, name), NOT_ALLOWED, "{name:?}");
    }
}
