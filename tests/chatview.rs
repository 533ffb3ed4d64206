//! SPEC §5: the chat view — entering it, messages, SERVER lines, the
//! bounded history, incremental updates and leaving with `:q`.

mod common;
use common::*;

const GENERAL: &str = "[room/general]";

fn small() -> Cfg {
    Cfg::base().set("chatviewMax", "3")
}

fn line(name: &str, text: &str) -> String {
    msg_line(name, 10, text)
}

fn server_says(text: &str) -> String {
    msg_line("SERVER", 10, text)
}

/// Asserts `update` is one incremental update holding exactly `visible`.
fn assert_update_is(before: &str, update: &str, visible: &str) {
    assert_eq!(before, "", "nothing but the update: {update:?}");
    assert!(update.starts_with("\x1b7"), "save cursor first: {update:?}");
    assert!(update.ends_with("\x1b8"), "restore cursor last: {update:?}");
    assert!(!update.contains(CLEAR), "no clear screen: {update:?}");
    assert_eq!(
        strip_ansi(update).trim_start_matches(['\r', '\n']),
        visible,
        "{update:?}"
    );
}

#[test]
fn entering_clears_the_screen_and_draws_empty_history_separator_and_prompt() {
    let server = Server::with(&small());
    let mut alice = server.login("alice");
    alice.command(":join general");
    alice.send(":chat");
    let got = alice.expect(&format!("{GENERAL}\r\n> "));
    assert_eq!(got, frame(3, &[], GENERAL));
    // The separator spans the terminal (80 columns until the client says).
    let sep = separator(GENERAL);
    assert_eq!(sep.chars().count(), 80);
}

#[test]
fn default_chat_view_is_twenty_rows_high() {
    let server = Server::start();
    let mut alice = server.login("alice");
    alice.command(":join games");
    alice.send(":chat");
    let got = alice.expect("[room/games]\r\n> ");
    assert_eq!(got, frame(20, &[], "[room/games]"));
}

#[test]
fn message_reaches_every_viewer_padded_to_the_username_limit() {
    let server = Server::with(&small());
    let mut alice = server.login("alice");
    let mut bob = server.login("bob");
    let mut carol = server.login("carol");
    carol.command(":join general");
    alice.command(":join general");
    bob.command(":join general");
    alice.send(":chat");
    alice.expect_frame(GENERAL);
    bob.send(":chat");
    bob.expect_frame(GENERAL);
    alice.send("hello there");
    let mine = alice.expect_sent(GENERAL);
    let hello = line("alice", "hello there");
    assert_eq!(hello, "[alice     ]: hello there");
    // The sender sees the same one-line update, then an empty input line.
    assert_eq!(mine, own_message(3, &hello, GENERAL));
    let (before, update) = bob.expect_update();
    assert_update_is(&before, &update, &hello);
}

#[test]
fn padding_follows_the_configured_username_limit() {
    let server = Server::with(&small().set("usernameLimit", "6"));
    let mut alice = server.login("alice");
    alice.enter_room("general");
    alice.send("hi");
    let mine = alice.expect_sent(GENERAL);
    assert_eq!(mine, own_message(3, "[alice ]: hi", GENERAL));
}

#[test]
fn a_room_member_at_the_palette_keeps_the_history_and_sees_how_much_is_new() {
    let server = Server::with(&small());
    let mut alice = server.login("alice");
    let mut bob = server.login("bob");
    let mut carol = server.login("carol");
    carol.command(":join general");
    alice.enter_room("general");
    bob.enter_room("general");
    alice.send("for the room");
    bob.expect_update();
    alice.send("and again");
    bob.expect_update();
    // Carol is sent nothing at once (it would come before this reply); her
    // prompt counts what waits: two joins and two messages.
    assert_eq!(
        carol.command(":list"),
        "Users connected to room 'general':\r\n  - carol\r\n  - alice\r\n  - bob\r\n[room/general] (4 new)> "
    );
    carol.send(":chat");
    // The view shows her history: the last chatviewMax (3) lines.
    let shown = strip_ansi(&carol.expect(&format!("{GENERAL}\r\n> ")));
    for l in [
        server_says("bob joined the room."),
        line("alice", "for the room"),
        line("alice", "and again"),
    ] {
        assert!(shown.contains(&l), "{l:?} in {shown:?}");
    }
    assert!(!shown.contains("alice joined"), "{shown:?}");
    // Seen: the count is gone.
    carol.send(":q");
    carol.expect("You left chat view.\r\n[room/general]> ");
}
#[test]
fn viewers_of_another_room_do_not_receive_messages() {
    let server = Server::with(&small());
    let mut alice = server.login("alice");
    let mut bob = server.login("bob");
    let mut dave = server.login("dave");
    alice.enter_room("general");
    dave.enter_room("games");
    bob.enter_room("general");
    alice.expect_update(); // bob joined
    alice.send("general only");
    alice.expect_sent(GENERAL);
    bob.expect_update();
    dave.send("games only");
    let first = dave.expect_sent("[room/games]");
    assert!(!first.contains("general only"), "{first:?}");
    bob.send("second");
    let (_, u) = alice.expect_update();
    assert!(strip_ansi(&u).contains(&line("bob", "second")), "{u:?}");
    dave.send("again");
    // dave gets exactly his own line, nothing from general.
    let all = dave.expect_sent("[room/games]");
    assert_eq!(all, own_message(3, &line("dave", "again"), "[room/games]"));
}

#[test]
fn viewers_see_joins_and_leaves_as_server_lines() {
    let server = Server::with(&small());
    let mut alice = server.login("alice");
    let mut bob = server.login("bob");
    alice.enter_room("general");
    bob.command(":join general");
    let (before, joined) = alice.expect_update();
    assert_update_is(&before, &joined, &server_says("bob joined the room."));
    assert!(joined.contains(RED_BG), "SERVER lines are red: {joined:?}");
    bob.command(":close");
    let (before, left) = alice.expect_update();
    assert_update_is(&before, &left, &server_says("bob left the room."));
    assert!(left.contains(RED_BG), "{left:?}");
}

#[test]
fn a_member_who_disconnects_is_seen_leaving() {
    let server = Server::with(&small());
    let mut alice = server.login("alice");
    let mut bob = server.login("bob");
    alice.enter_room("general");
    bob.command(":join general");
    alice.expect_update();
    drop(bob);
    let (before, left) = alice.expect_update();
    assert_update_is(&before, &left, &server_says("bob left the room."));
}

#[test]
fn sending_costs_one_update_however_long_the_history() {
    // No full redraw after the sender's own line: the history bound itself
    // is checked on the core (chat_tests::history_is_capped_at_chatview_max)
    // and on a lagging viewer's redraw (tests/hostile.rs).
    let server = Server::with(&small());
    let mut alice = server.login("alice");
    alice.enter_room("general");
    for m in ["m1", "m2", "m3", "m4", "m5"] {
        alice.send(m);
        let mine = alice.expect_sent(GENERAL);
        assert_eq!(mine, own_message(3, &line("alice", m), GENERAL));
    }
}

#[test]
fn incremental_update_saves_and_restores_the_cursor_and_holds_only_the_new_line() {
    let server = Server::with(&small());
    let mut alice = server.login("alice");
    let mut bob = server.login("bob");
    alice.enter_room("general");
    bob.enter_room("general");
    alice.expect_update(); // bob joined
    for m in ["m1", "m2", "m3", "m4"] {
        alice.send(m);
        let (before, update) = bob.expect_update();
        assert_update_is(&before, &update, &line("alice", m));
    }
    // bob's own line is one update too, followed by an empty input line.
    bob.send("b1");
    let mine = bob.expect_sent(GENERAL);
    assert_eq!(mine, own_message(3, &line("bob", "b1"), GENERAL));
}

#[test]
fn messages_sent_before_joining_are_not_replayed() {
    let server = Server::with(&small());
    let mut alice = server.login("alice");
    let mut bob = server.login("bob");
    alice.enter_room("general");
    alice.send("before bob joined");
    alice.expect_sent(GENERAL);
    bob.command(":join general");
    alice.expect_update();
    bob.send(":chat");
    assert_eq!(
        bob.expect(&format!("{GENERAL}\r\n> ")),
        frame(3, &[], GENERAL)
    );
}
#[test]
fn q_leaves_the_chat_view_and_stays_in_the_room() {
    let server = Server::with(&small());
    let mut alice = server.login("alice");
    alice.enter_room("general");
    alice.send(":q");
    assert_eq!(
        alice.expect("[room/general]> "),
        format!("{CLEAR}You left chat view.\r\n[room/general]> ")
    );
    assert_eq!(
        alice.command(":list"),
        "Users connected to room 'general':\r\n  - alice\r\n[room/general]> "
    );
    // Back in, the history starts empty again.
    alice.send(":chat");
    assert_eq!(
        alice.expect(&format!("{GENERAL}\r\n> ")),
        frame(3, &[], GENERAL)
    );
}

#[test]
fn commands_work_in_the_chat_view_and_other_colon_words_are_messages() {
    let server = Server::with(&small());
    let mut alice = server.login("alice");
    let mut bob = server.login("bob");
    alice.enter_room("general");
    bob.enter_room("general");
    alice.expect_update();
    // A command: its reply is SERVER lines in bob's view, nothing for alice.
    bob.send(":list");
    let mine = bob.expect_sent(GENERAL);
    let shown = strip_ansi(&mine);
    assert!(
        shown.contains(&server_says("Users connected to room 'general':")),
        "{mine:?}"
    );
    assert!(shown.contains(&server_says("  - alice")), "{mine:?}");
    // Unknown :words are messages; `::` sends the rest with one `:`.
    for (typed, sent) in [(":)", ":)"), (":D", ":D"), ("::help", ":help")] {
        bob.send(typed);
        let (before, update) = alice.expect_update();
        assert_update_is(&before, &update, &line("bob", sent));
        bob.expect_sent(GENERAL);
    }
    // :join from the view: the view is the new room's.
    bob.send(":join games");
    let got = bob.expect("[room/games]\r\n> ");
    assert!(
        strip_ansi(&got).contains("You joined the room 'games'!"),
        "{got:?}"
    );
    let (_, left) = alice.expect_update();
    assert!(strip_ansi(&left).contains("bob left the room."), "{left:?}");
    // :close leaves the view for the palette.
    bob.send(":close");
    bob.expect("You left the room 'games'.\r\n> ");
}
#[test]
fn escape_sequences_in_messages_are_removed() {
    let server = Server::with(&small());
    let mut alice = server.login("alice");
    let mut bob = server.login("bob");
    alice.enter_room("general");
    bob.enter_room("general");
    alice.expect_update();
    bob.send("hi \x1b[2J\x1b[1;1Hthere\x07\x1b]0;title\x07!");
    let (before, update) = alice.expect_update();
    assert_update_is(&before, &update, &line("bob", "hi there!"));
}

#[test]
fn an_empty_line_in_the_chat_view_sends_nothing() {
    let server = Server::with(&small());
    let mut alice = server.login("alice");
    let mut bob = server.login("bob");
    alice.enter_room("general");
    bob.enter_room("general");
    alice.expect_update();
    bob.send("");
    // Only the input line is redrawn.
    assert_eq!(bob.expect_sent(GENERAL), input_reset(3, GENERAL));
    bob.send("real");
    let (before, update) = alice.expect_update();
    assert_update_is(&before, &update, &line("bob", "real"));
}
