//! Private conversations (issue 3; SPEC §2 rooms, §4 `:join`/`:dm`, §5):
//! hidden and password rooms, direct messages, and the message limit.

mod common;
use common::*;

const NO_SUCH_ROOM: &str = "That chatroom does not exist!\r\n> ";
const PUBLIC_ROOMS: &str = "Available chatrooms:\r\n  - general (General chat) [0 online]\r\n  - games (Talk about games) [0/2 online]\r\n";

fn line(name: &str, text: &str) -> String {
    msg_line(name, 10, text)
}

/// The visible text of the next incremental chat-view update, which must
/// be all that arrived.
fn next_update(c: &mut Client) -> String {
    let (before, update) = c.expect_update();
    // A DM rings the bell first (SPEC §9); nothing else comes before.
    assert!(
        before.is_empty() || before == "\x07",
        "only the update arrived: {before:?} {update:?}"
    );
    // A line wider than the terminal arrives as several rows: join them.
    strip_ansi(&update).replace("\r\n", "")
}

/// Two users, each in the chat view of their DM with the other.
fn dm_pair(server: &Server) -> (Client, Client) {
    let mut alice = server.login("alice");
    let mut bob = server.login("bob");
    alice.enter_dm("bob");
    // Each is told once that the other opened the DM (SPEC §9).
    bob.expect("alice opened a DM with you");
    bob.expect("> ");
    bob.enter_dm("alice");
    alice.expect("bob opened a DM with you");
    alice.expect("\x1b8");
    (alice, bob)
}

/// Reads past the notice that `who` opened a DM with this client, shown
/// above its palette prompt `prompt`.
fn told_dm_opened(c: &mut Client, who: &str, prompt: &str) {
    c.expect(&format!("{who} opened a DM with you"));
    c.expect(prompt);
}

/// alice and bob both viewing general (bob saw no join notice from alice).
fn room_pair(server: &Server) -> (Client, Client) {
    let mut alice = server.login("alice");
    let mut bob = server.login("bob");
    alice.command(":join general");
    bob.enter_room("general");
    alice.send(":chat");
    alice.expect_frame("[room/general]");
    (alice, bob)
}

// ---- hidden and password rooms ------------------------------------------

#[test]
fn hidden_rooms_are_never_listed() {
    let server = Server::start();
    let mut alice = server.login("alice");
    let mut bob = server.login("bob");
    let mut carol = server.login("carol");
    assert_eq!(alice.command(":rooms"), format!("{PUBLIC_ROOMS}> "));
    // Not even when someone is inside.
    bob.command(":join backstage letmein");
    assert_eq!(alice.command(":rooms"), format!("{PUBLIC_ROOMS}> "));
    assert_eq!(
        bob.command(":rooms"),
        format!("{PUBLIC_ROOMS}[room/backstage]> ")
    );
    assert_eq!(carol.command(":rooms"), format!("{PUBLIC_ROOMS}> "));
}

#[test]
fn password_room_is_joined_with_the_right_password() {
    let server = Server::start();
    let mut alice = server.login("alice");
    assert_eq!(
        alice.command(":join backstage letmein"),
        "You joined the room 'backstage'!\r\nExecute :chat to enter the chat view\r\n[room/backstage]> "
    );
    assert_eq!(
        alice.command(":list"),
        "Users connected to room 'backstage':\r\n  - alice\r\n[room/backstage]> "
    );
}

#[test]
fn hidden_room_with_missing_password_looks_nonexistent() {
    let server = Server::start();
    let mut alice = server.login("alice");
    assert_eq!(alice.command(":join backstage"), NO_SUCH_ROOM);
}

#[test]
fn hidden_room_with_wrong_password_looks_nonexistent() {
    let server = Server::start();
    let mut alice = server.login("alice");
    for pw in ["letmeout", "LETMEIN", "letmei", "letmein!"] {
        assert_eq!(
            alice.command(&format!(":join backstage {pw}")),
            NO_SUCH_ROOM,
            "{pw}"
        );
    }
}

#[test]
fn non_public_room_without_password_cannot_be_joined_and_looks_nonexistent() {
    let server = Server::start();
    let mut alice = server.login("alice");
    assert_eq!(alice.command(":join staff"), NO_SUCH_ROOM);
    assert_eq!(alice.command(":join staff anything"), NO_SUCH_ROOM);
}

#[test]
fn probing_cannot_tell_hidden_rooms_from_unknown_ones() {
    let server = Server::start();
    let mut alice = server.login("alice");
    let unknown = alice.command(":join nosuchroom");
    let unknown_pw = alice.command(":join nosuchroom guess");
    let hidden = alice.command(":join backstage");
    let hidden_pw = alice.command(":join backstage guess");
    let closed = alice.command(":join staff");
    assert_eq!(unknown, NO_SUCH_ROOM);
    for other in [&unknown_pw, &hidden, &hidden_pw, &closed] {
        assert_eq!(other, &unknown);
    }
}

#[test]
fn a_wrong_password_keeps_you_where_you_were() {
    let server = Server::start();
    let mut alice = server.login("alice");
    alice.command(":join general");
    assert_eq!(
        alice.command(":join backstage nope"),
        "That chatroom does not exist!\r\n[room/general]> "
    );
    assert_eq!(
        alice.command(":list"),
        "Users connected to room 'general':\r\n  - alice\r\n[room/general]> "
    );
}

// ---- direct messages ----------------------------------------------------

#[test]
fn dm_opens_with_its_own_prompt() {
    let server = Server::start();
    let mut alice = server.login("alice");
    let _bob = server.login("bob");
    assert_eq!(
        alice.command(":dm bob"),
        "You opened a DM with 'bob'.\r\nExecute :chat to enter the chat view\r\n[dm/bob]> "
    );
}

#[test]
fn list_in_a_dm_shows_both_names() {
    let server = Server::start();
    let mut alice = server.login("alice");
    let _bob = server.login("bob");
    alice.command(":dm bob");
    let reply = alice.command(":list");
    let names: Vec<&str> = reply
        .split("\r\n")
        .filter_map(|l| l.strip_prefix("  - "))
        .collect();
    assert_eq!(names, ["alice", "bob"], "{reply:?}");
    assert!(reply.ends_with("\r\n[dm/bob]> "), "{reply:?}");
}

#[test]
fn dm_leaves_the_previous_room() {
    let server = Server::start();
    let mut alice = server.login("alice");
    let mut bob = server.login("bob");
    bob.enter_room("general");
    alice.command(":join general");
    bob.expect_update();
    alice.command(":dm bob");
    assert_eq!(
        next_update(&mut bob),
        msg_line("SERVER", 10, "alice left the room.")
    );
}

#[test]
fn dm_chat_view_separator_ends_with_the_partner() {
    let server = Server::with(&Cfg::base().set("chatviewMax", "2"));
    let mut alice = server.login("alice");
    let _bob = server.login("bob");
    alice.command(":dm bob");
    alice.send(":chat");
    let got = alice.expect("[dm/bob]\r\n> ");
    assert_eq!(got, frame(2, &[], "[dm/bob]"));
    assert!(separator("[dm/bob]").ends_with("-[dm/bob]"));
}

#[test]
fn dm_lines_reach_both_ends() {
    let server = Server::with(&Cfg::base().set("chatviewMax", "3"));
    let (mut alice, mut bob) = dm_pair(&server);
    alice.send("psst bob");
    let mine = alice.expect_sent("[dm/bob]");
    assert_eq!(mine, own_message(3, &line("alice", "psst bob"), "[dm/bob]"));
    assert_eq!(next_update(&mut bob), line("alice", "psst bob"));
    bob.send("hi alice");
    bob.expect_sent("[dm/alice]");
    assert_eq!(next_update(&mut alice), line("bob", "hi alice"));
}

#[test]
fn dm_with_an_offline_user_is_refused() {
    let server = Server::start();
    let mut alice = server.login("alice");
    assert_eq!(
        alice.command(":dm nobody"),
        "That user is not online!\r\n> "
    );
    // A connected client that has not picked a name is not online either.
    let mut unnamed = server.client();
    unnamed.expect("Enter a username: ");
    assert_eq!(alice.command(":dm -"), "That user is not online!\r\n> ");
}

#[test]
fn dm_with_yourself_is_refused() {
    let server = Server::start();
    let mut alice = server.login("alice");
    assert_eq!(alice.command(":dm alice"), "You can't DM yourself!\r\n> ");
    assert_eq!(alice.command(":dm ALICE"), "You can't DM yourself!\r\n> ");
}

#[test]
fn dm_without_an_argument_shows_usage() {
    let server = Server::start();
    let mut alice = server.login("alice");
    assert_eq!(alice.command(":dm"), "Usage: :dm USER\r\n> ");
}

#[test]
fn dm_arriving_at_the_palette_is_one_line_and_the_prompt_is_redrawn() {
    let server = Server::start();
    let mut alice = server.login("alice");
    let mut bob = server.login("bob");
    bob.command(":join general");
    alice.enter_dm("bob");
    told_dm_opened(&mut bob, "alice", "[room/general]> ");
    alice.send("are you there?");
    alice.expect_sent("[dm/bob]");
    let got = bob.expect("[room/general]> ");
    assert!(
        got.ends_with("[DM from alice]: are you there?\r\n[room/general]> "),
        "{got:?}"
    );
    // The bell once, then the line above the prompt.
    assert_eq!(
        strip_ansi(&got),
        "\x07\r[DM from alice]: are you there?\r\n[room/general]> "
    );
}

#[test]
fn dm_arriving_in_another_chat_view_is_a_server_styled_line() {
    let server = Server::start();
    let mut alice = server.login("alice");
    let mut bob = server.login("bob");
    bob.enter_room("general");
    alice.enter_dm("bob");
    bob.expect("alice opened a DM with you");
    bob.expect("\x1b8");
    alice.send("over here");
    alice.expect_sent("[dm/bob]");
    let (before, update) = bob.expect_update();
    assert_eq!(before, "\x07", "the bell, then the update");
    assert!(update.contains(RED_BG), "SERVER-styled: {update:?}");
    assert_eq!(
        strip_ansi(&update).trim_start_matches(['\r', '\n']),
        "[DM from alice]: over here"
    );
}

#[test]
fn dm_is_not_queued_for_later() {
    let server = Server::start();
    let mut alice = server.login("alice");
    let mut bob = server.login("bob");
    alice.enter_dm("bob");
    alice.send("now or never");
    alice.expect_sent("[dm/bob]");
    bob.expect("[DM from alice]: now or never");
    bob.expect("> ");
    // Opening the DM afterwards does not replay it.
    bob.command(":dm alice");
    bob.send(":chat");
    let got = bob.expect("[dm/alice]\r\n> ");
    assert!(!got.contains("now or never"), "{got:?}");
}

#[test]
fn partner_disconnect_is_told_at_the_palette_and_closes_the_dm() {
    let server = Server::start();
    let mut alice = server.login("alice");
    let bob = server.login("bob");
    alice.command(":dm bob");
    drop(bob);
    let told = alice.expect("> ");
    assert!(
        strip_ansi(&told).contains("bob disconnected"),
        "alice is told: {told:?}"
    );
    assert!(told.ends_with("\r\n> "), "{told:?}");
    assert_eq!(
        alice.command(":list"),
        "You are not connected to a chatroom or a DM! Did you mean to use :listall?\r\n> "
    );
}

#[test]
fn partner_disconnect_is_told_in_the_chat_view_and_closes_the_dm() {
    let server = Server::start();
    let (mut alice, mut bob) = dm_pair(&server);
    bob.send(":q");
    bob.expect("You left chat view.");
    bob.send(":quit");
    bob.expect("(y/n) ");
    bob.send("y");
    bob.expect_closed();
    let told = alice.expect("> ");
    assert!(
        strip_ansi(&told).contains("bob disconnected"),
        "alice is told: {told:?}"
    );
    assert_eq!(
        alice.command(":list"),
        "You are not connected to a chatroom or a DM! Did you mean to use :listall?\r\n> "
    );
    // The name is free; a new bob is not alice's partner.
    let _bob2 = server.login("bob");
    assert_eq!(alice.command(""), "> ");
}

// ---- message limit --------------------------------------------------------

const LIMIT_NOTICE: &str = "Your message was not sent: messages are limited to 150 characters.";

#[test]
fn message_of_exactly_the_limit_is_delivered() {
    let server = Server::start();
    let (mut alice, mut bob) = room_pair(&server);
    let text = "x".repeat(150);
    alice.send(&text);
    assert_eq!(next_update(&mut bob), line("alice", &text));
}

#[test]
fn message_over_the_limit_is_not_sent_and_only_the_sender_is_told() {
    let server = Server::start();
    let (mut alice, mut bob) = room_pair(&server);
    alice.send(&"y".repeat(151));
    let mine = alice.expect_sent("[room/general]");
    assert!(
        mine.contains(&msg_line("SERVER", 10, LIMIT_NOTICE)),
        "the sender is told, with the limit: {mine:?}"
    );
    assert!(mine.contains(RED_BG), "{mine:?}");
    assert!(!mine.contains(&"y".repeat(151)), "{mine:?}");
    alice.send("after");
    // The first thing bob sees is the valid message.
    assert_eq!(next_update(&mut bob), line("alice", "after"));
}

#[test]
fn the_limit_counts_characters_not_bytes() {
    let server = Server::start();
    let (mut alice, mut bob) = room_pair(&server);
    let ok = "é".repeat(150);
    alice.send(&ok);
    assert_eq!(next_update(&mut bob), line("alice", &ok));
    alice.expect_sent("[room/general]");
    alice.send(&"é".repeat(151));
    let mine = alice.expect_sent("[room/general]");
    assert!(mine.contains(LIMIT_NOTICE), "{mine:?}");
    alice.send("after");
    assert_eq!(next_update(&mut bob), line("alice", "after"));
}

#[test]
fn the_same_limit_applies_in_dms() {
    let server = Server::start();
    let (mut alice, mut bob) = dm_pair(&server);
    let ok = "z".repeat(150);
    alice.send(&ok);
    alice.expect_sent("[dm/bob]");
    assert_eq!(next_update(&mut bob), line("alice", &ok));
    alice.send(&"z".repeat(151));
    let mine = alice.expect_sent("[dm/bob]");
    assert!(mine.contains(LIMIT_NOTICE), "{mine:?}");
    alice.send("after");
    assert_eq!(next_update(&mut bob), line("alice", "after"));
}

#[test]
fn the_limit_applies_to_a_dm_arriving_at_the_palette() {
    let server = Server::start();
    let mut alice = server.login("alice");
    let mut bob = server.login("bob");
    alice.enter_dm("bob");
    told_dm_opened(&mut bob, "alice", "> ");
    alice.send(&"q".repeat(151));
    let mine = alice.expect_sent("[dm/bob]");
    assert!(mine.contains(LIMIT_NOTICE), "{mine:?}");
    alice.send("short");
    let got = bob.expect("> ");
    assert_eq!(strip_ansi(&got), "\x07\r[DM from alice]: short\r\n> ");
}

#[test]
fn a_configured_limit_is_named_in_the_notice() {
    let server = Server::with(&Cfg::base().set("messageLimit", "5"));
    let mut alice = server.login("alice");
    alice.enter_room("general");
    alice.send("123456");
    let mine = alice.expect_sent("[room/general]");
    assert!(
        mine.contains("Your message was not sent: messages are limited to 5 characters."),
        "{mine:?}"
    );
}

#[test]
fn message_limit_zero_means_no_limit() {
    let server = Server::with(&Cfg::base().set("messageLimit", "0"));
    let (mut alice, mut bob) = room_pair(&server);
    let long = "w".repeat(900);
    alice.send(&long);
    assert_eq!(next_update(&mut bob), line("alice", &long));
}

#[test]
fn after_switching_dms_the_old_partners_disconnect_is_not_reported() {
    let server = Server::start();
    let mut alice = server.login("alice");
    let bob = server.login("bob");
    let mut carol = server.login("carol");
    alice.command(":dm bob");
    alice.command(":dm carol");
    drop(bob);
    carol.command(":dm alice");
    // She is told carol opened a DM with her; nothing about bob.
    told_dm_opened(&mut alice, "carol", "[dm/carol]> ");
    assert_eq!(
        alice.command(":list"),
        "Users connected to the DM with 'carol':\r\n  - alice\r\n  - carol\r\n[dm/carol]> "
    );
}
