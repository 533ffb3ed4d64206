//! SPEC §9 (issue 10): DMs without leaving (`:msg`, `:r`, the DM-opened and
//! left-the-DM notices), mentions and the bell, `:me`, `:time`,
//! `:help COMMAND`, `:whois`. (History kept while away and commands in the
//! chat view: tests/chatview.rs; names: tests/names.rs; the small things:
//! tests/cli.rs and tests/shutdown.rs.)

mod common;
use common::*;

const GENERAL: &str = "[room/general]";
const MENTION_ON: &str = "\x1b[7m";
const MENTION_OFF: &str = "\x1b[27m";

#[test]
fn msg_reaches_the_other_at_once_and_r_answers_it() {
    let server = Server::start();
    let mut alice = server.login("alice");
    let mut bob = server.login("bob");
    assert_eq!(
        bob.command(":r too soon"),
        "Nobody has sent you a DM yet.\r\n> "
    );
    assert_eq!(
        alice.command(":msg bob hi  there"),
        "[DM to bob]: hi  there\r\n> "
    );
    // The bell once, then the line above bob's prompt.
    assert_eq!(
        bob.expect("> "),
        "\x07\r\x1b[K[DM from alice]: hi  there\r\n> "
    );
    assert_eq!(bob.command(":r thanks"), "[DM to alice]: thanks\r\n> ");
    assert_eq!(
        alice.expect("> "),
        "\x07\r\x1b[K[DM from bob]: thanks\r\n> "
    );
    assert_eq!(
        alice.command(":msg nobody hello"),
        "That user is not online!\r\n> "
    );
    assert_eq!(alice.command(":msg bob"), "Usage: :msg USER TEXT\r\n> ");
}

#[test]
fn the_other_side_is_told_when_a_dm_opens_and_when_the_partner_leaves_it() {
    let server = Server::start();
    let mut alice = server.login("alice");
    let mut bob = server.login("bob");
    alice.command(":dm bob");
    assert_eq!(
        bob.expect("> "),
        "\r\x1b[Kalice opened a DM with you — :r TEXT answers, :dm alice opens it.\r\n> "
    );
    // :r answers whoever opened it.
    assert_eq!(bob.command(":r yes?"), "[DM to alice]: yes?\r\n> ");
    alice.expect("[DM from bob]: yes?");
    alice.expect("> ");
    bob.command(":dm alice");
    alice.expect("bob opened a DM with you");
    alice.expect("> ");
    // alice leaves for a room: bob, who has the DM open, is told.
    alice.command(":join general");
    assert_eq!(
        bob.expect("> "),
        "\r\x1b[Kalice left the DM.\r\n[dm/alice]> "
    );
}

#[test]
fn a_mention_rings_the_bell_once_and_highlights_the_name() {
    let server = Server::start();
    let mut alice = server.login("alice");
    let mut bob = server.login("bob");
    alice.enter_room("general");
    bob.enter_room("general");
    alice.expect_update();
    bob.send("hey ALICE, look");
    let (before, update) = alice.expect_update();
    assert_eq!(before, "\x07", "one bell, then the update");
    assert!(
        update.contains(&format!("{MENTION_ON}ALICE{MENTION_OFF}")),
        "{update:?}"
    );
    // bob's own copy is plain, without a bell.
    let mine = bob.expect_sent(GENERAL);
    assert!(
        !mine.contains('\x07') && !mine.contains(MENTION_ON),
        "{mine:?}"
    );
    // Only a whole word is a mention.
    bob.send("alicexyz is not her");
    let (before, update) = alice.expect_update();
    assert_eq!(before, "");
    assert!(!update.contains(MENTION_ON), "{update:?}");
    bob.expect_sent(GENERAL);
    // :bell off, typed in the chat view: no bell, the name still shown.
    alice.send(":bell off");
    let reply = alice.expect_sent(GENERAL);
    assert!(strip_ansi(&reply).contains("The bell is off."), "{reply:?}");
    bob.send("alice?");
    let (before, update) = alice.expect_update();
    assert_eq!(before, "");
    assert!(update.contains(MENTION_ON), "{update:?}");
}

#[test]
fn me_sends_an_action() {
    let server = Server::start();
    let mut alice = server.login("alice");
    let mut bob = server.login("bob");
    alice.enter_room("general");
    bob.enter_room("general");
    alice.expect_update();
    bob.send(":me waves");
    let (_, update) = alice.expect_update();
    assert_eq!(
        strip_ansi(&update).trim_start_matches("\r\n"),
        "* bob waves"
    );
    assert_eq!(
        server.login("carol").command(":me hi"),
        "You are not connected to a chatroom or a DM! Please connect to one first.\r\n> "
    );
}

/// Whether `s` starts with `HH:MM `.
fn stamped(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() > 6
        && b[..2].iter().all(u8::is_ascii_digit)
        && b[2] == b':'
        && b[3..5].iter().all(u8::is_ascii_digit)
        && b[5] == b' '
}

#[test]
fn time_on_puts_the_utc_time_before_each_line() {
    let server = Server::start();
    let mut alice = server.login("alice");
    let mut bob = server.login("bob");
    alice.enter_room("general");
    bob.enter_room("general");
    alice.expect_update();
    alice.send(":time on");
    // Her view is drawn again, every line stamped, then the reply.
    let frame = strip_ansi(&alice.expect(&format!("{GENERAL}\r\n> ")));
    let joined = frame
        .lines()
        .find(|l| l.contains("bob joined"))
        .expect("history");
    assert!(stamped(joined), "{frame:?}");
    alice.expect("Chat lines show the time (HH:MM, UTC).");
    alice.expect_sent(GENERAL);
    bob.send("tick");
    let (_, update) = alice.expect_update();
    let shown = strip_ansi(&update);
    let shown = shown.trim_start_matches("\r\n");
    assert!(
        stamped(shown) && shown.ends_with("[bob       ]: tick"),
        "{shown:?}"
    );
    // Only for alice.
    let mine = strip_ansi(&bob.expect_sent(GENERAL));
    assert!(mine.contains("\r\n[bob       ]: tick"), "{mine:?}");
}

#[test]
fn help_explains_one_command() {
    let server = Server::start();
    let mut alice = server.login("alice");
    assert_eq!(
        alice.command(":help join"),
        ":join ROOM [PASSWORD]: Join a chatroom (a hidden room needs its password)\r\n  ':join ROOM', or ':join ROOM PASSWORD' for a hidden room. Leaves your room or DM first. Room names ignore case.\r\n> "
    );
    assert!(alice.command(":help :msg").starts_with(":msg USER TEXT: "));
    assert_eq!(
        alice.command(":help nothing"),
        "Unknown command. Maybe check ':help'?\r\n> "
    );
}

#[test]
fn whois_says_since_when_where_if_public_and_idle() {
    let server = Server::start();
    let mut alice = server.login("alice");
    let mut bob = server.login("bob");
    bob.command(":join general");
    let got = alice.command(":whois BOB");
    let rest = got
        .strip_prefix("bob: online since ")
        .expect("the name first");
    assert!(
        rest.ends_with(" UTC (0 min), in room 'general', guest, idle 0 min.\r\n> "),
        "{got:?}"
    );
    // A hidden room is not shown.
    bob.command(":join backstage letmein");
    let got = alice.command(":whois bob");
    assert!(got.contains("(0 min), guest, idle"), "{got:?}");
    assert_eq!(
        alice.command(":whois nobody"),
        "That user is not online!\r\n> "
    );
}
