//! SPEC §3.4 and §4: the command palette, every command and its reply.

mod common;
use common::*;

const NOT_CONNECTED: &str = "You are not connected to a chatroom or a DM!";
const NO_ARGS: &str = "This command does not expect any arguments!";

#[test]
fn help_lists_every_command_one_line_each() {
    let server = Server::start();
    let mut c = server.login("alice");
    let reply = c.command(":help");
    assert!(reply.ends_with("\r\n> "), "{reply:?}");
    let lines: Vec<&str> = reply.split("\r\n").collect();
    for usage in [
        ":help [COMMAND]",
        ":msg USER TEXT",
        ":r TEXT",
        ":me ACTION",
        ":whois USER",
        ":bell on|off",
        ":time on|off",
        ":size [COLSxROWS]",
        ":list",
        ":listall",
        ":rooms",
        ":join ROOM [PASSWORD]",
        ":dm USER",
        ":chat",
        ":close",
        ":quit",
    ] {
        let line = lines
            .iter()
            .find(|l| {
                let l = l.trim_start();
                l.strip_prefix(usage)
                    .is_some_and(|rest| rest.starts_with("  ") && !rest.trim().is_empty())
            })
            .unwrap_or_else(|| panic!("no help line for {usage}: {reply:?}"));
        assert!(line.len() > usage.len() + 5, "{line:?} has a description");
    }
}

#[test]
fn list_shows_the_members_of_the_room() {
    let server = Server::start();
    let mut alice = server.login("alice");
    let mut bob = server.login("bob");
    alice.command(":join general");
    bob.command(":join general");
    let _carol = server.login("carol");
    // bob's join notice waits in alice's history: her prompt counts it.
    assert_eq!(
        alice.command(":list"),
        "Users connected to room 'general':\r\n  - alice\r\n  - bob\r\n[room/general] (1 new)> "
    );
}

#[test]
fn list_when_not_connected_suggests_listall() {
    let server = Server::start();
    let mut alice = server.login("alice");
    assert_eq!(
        alice.command(":list"),
        format!("{NOT_CONNECTED} Did you mean to use :listall?\r\n> ")
    );
}

#[test]
fn listall_shows_every_named_user() {
    let server = Server::start();
    let mut alice = server.login("alice");
    let mut bob = server.login("bob");
    bob.command(":join games");
    // Connected but not named: not listed.
    let mut unnamed = server.client();
    unnamed.expect("Enter a username: ");
    assert_eq!(
        alice.command(":listall"),
        "Currently connected users:\r\n  - alice\r\n  - bob\r\n> "
    );
}

#[test]
fn rooms_lists_public_rooms_in_file_order_with_counts() {
    let server = Server::start();
    let mut alice = server.login("alice");
    let mut bob = server.login("bob");
    bob.command(":join games");
    assert_eq!(
        alice.command(":rooms"),
        "Available chatrooms:\r\n  - general (General chat) [0 online]\r\n  - games (Talk about games) [1/2 online]\r\n> "
    );
    alice.command(":join general");
    assert_eq!(
        alice.command(":rooms"),
        "Available chatrooms:\r\n  - general (General chat) [1 online]\r\n  - games (Talk about games) [1/2 online]\r\n[room/general]> "
    );
}

#[test]
fn rooms_keeps_file_order_not_alphabetical() {
    let cfg = Cfg::base().set(
        "rooms",
        r#"{
        "zulu": (public: true, password: "", description: "Last letter", limit: 0),
        "alpha": (public: true, password: "", description: "First letter", limit: 3),
        "mike": (public: false, password: "", description: "Hidden", limit: 0),
        "bravo": (public: true, password: "", description: "Second letter", limit: 0),
    }"#,
    );
    let server = Server::with(&cfg);
    let mut alice = server.login("alice");
    assert_eq!(
        alice.command(":rooms"),
        "Available chatrooms:\r\n  - zulu (Last letter) [0 online]\r\n  - alpha (First letter) [0/3 online]\r\n  - bravo (Second letter) [0 online]\r\n> "
    );
}

#[test]
fn join_confirms_and_changes_the_prompt() {
    let server = Server::start();
    let mut alice = server.login("alice");
    assert_eq!(
        alice.command(":join general"),
        "You joined the room 'general'!\r\nExecute :chat to enter the chat view\r\n[room/general]> "
    );
}

#[test]
fn join_the_room_you_are_in_says_already_there() {
    let server = Server::start();
    let mut alice = server.login("alice");
    alice.command(":join general");
    assert_eq!(
        alice.command(":join general"),
        "You are already in 'general'.\r\n[room/general]> "
    );
}

#[test]
fn join_a_full_room_is_refused() {
    let server = Server::start();
    let mut alice = server.login("alice");
    let mut bob = server.login("bob");
    let mut carol = server.login("carol");
    alice.command(":join games");
    bob.command(":join games");
    assert_eq!(carol.command(":join games"), "That chatroom is full!\r\n> ");
    // A place frees up when someone leaves.
    bob.command(":close");
    assert_eq!(
        carol.command(":join games"),
        "You joined the room 'games'!\r\nExecute :chat to enter the chat view\r\n[room/games]> "
    );
}

#[test]
fn join_an_unknown_room_says_it_does_not_exist() {
    let server = Server::start();
    let mut alice = server.login("alice");
    assert_eq!(
        alice.command(":join nowhere"),
        "That chatroom does not exist!\r\n> "
    );
    // Room names are matched case-insensitively (SPEC §9), so a name in
    // another case is the room itself, under its configured name.
    assert_eq!(
        alice.command(":join General"),
        "You joined the room 'general'!\r\nExecute :chat to enter the chat view\r\n[room/general]> "
    );
}

#[test]
fn join_leaves_the_previous_room_and_its_members_see_it() {
    let server = Server::start();
    let mut alice = server.login("alice");
    let mut bob = server.login("bob");
    alice.enter_room("general");
    bob.command(":join general");
    let (_, joined) = alice.expect_update();
    assert!(
        strip_ansi(&joined).contains("[SERVER    ]: bob joined the room."),
        "{joined:?}"
    );
    assert_eq!(
        bob.command(":join games"),
        "You joined the room 'games'!\r\nExecute :chat to enter the chat view\r\n[room/games]> "
    );
    let (_, left) = alice.expect_update();
    assert!(
        strip_ansi(&left).contains("[SERVER    ]: bob left the room."),
        "{left:?}"
    );
    assert_eq!(
        bob.command(":rooms"),
        "Available chatrooms:\r\n  - general (General chat) [1 online]\r\n  - games (Talk about games) [1/2 online]\r\n[room/games]> "
    );
}

#[test]
fn chat_when_not_connected_says_connect_first() {
    let server = Server::start();
    let mut alice = server.login("alice");
    assert_eq!(
        alice.command(":chat"),
        format!("{NOT_CONNECTED} Please connect to one first.\r\n> ")
    );
}

#[test]
fn close_leaves_the_room() {
    let server = Server::start();
    let mut alice = server.login("alice");
    alice.command(":join general");
    assert_eq!(
        alice.command(":close"),
        "You left the room 'general'.\r\n> "
    );
    assert_eq!(
        alice.command(":rooms"),
        "Available chatrooms:\r\n  - general (General chat) [0 online]\r\n  - games (Talk about games) [0/2 online]\r\n> "
    );
}

#[test]
fn close_closes_the_dm() {
    let server = Server::start();
    let mut alice = server.login("alice");
    let _bob = server.login("bob");
    alice.command(":dm bob");
    assert_eq!(
        alice.command(":close"),
        "You closed the DM with 'bob'.\r\n> "
    );
}

#[test]
fn close_when_not_connected_says_not_connected() {
    let server = Server::start();
    let mut alice = server.login("alice");
    assert_eq!(alice.command(":close"), format!("{NOT_CONNECTED}\r\n> "));
}

fn quits_with(answer: &str) {
    let server = Server::start();
    let mut alice = server.login("alice");
    alice.send(":quit");
    assert_eq!(
        alice.expect("(y/n) "),
        "Are you sure you want to quit? (y/n) "
    );
    alice.send(answer);
    let rest = alice.expect_closed();
    assert_eq!(rest, "Disconnecting. Goodbye!\r\n");
    // The name is free again.
    let again = server.login("alice");
    drop(again);
}

#[test]
fn quit_y_disconnects() {
    quits_with("y");
}

#[test]
fn quit_yes_disconnects() {
    quits_with("yes");
}

#[test]
fn quit_capital_y_disconnects() {
    quits_with("Y");
}

#[test]
fn quit_n_goes_back_to_the_palette() {
    let server = Server::start();
    let mut alice = server.login("alice");
    alice.command(":join general");
    alice.send(":quit");
    alice.expect("Are you sure you want to quit? (y/n) ");
    assert_eq!(alice.command("n"), "[room/general]> ");
    alice.send(":quit");
    alice.expect("Are you sure you want to quit? (y/n) ");
    assert_eq!(alice.command("whatever"), "[room/general]> ");
    assert_eq!(
        alice.command(":list"),
        "Users connected to room 'general':\r\n  - alice\r\n[room/general]> "
    );
}

#[test]
fn commands_without_arguments_refuse_arguments() {
    let server = Server::start();
    let mut alice = server.login("alice");
    for cmd in [
        ":list x",
        ":listall x",
        ":rooms x",
        ":chat x",
        ":close x",
        ":quit now",
    ] {
        assert_eq!(alice.command(cmd), format!("{NO_ARGS}\r\n> "), "{cmd}");
    }
}

#[test]
fn join_and_dm_with_wrong_argument_counts_show_usage() {
    let server = Server::start();
    let mut alice = server.login("alice");
    for cmd in [":join", ":join a b c"] {
        assert_eq!(
            alice.command(cmd),
            "Usage: :join ROOM [PASSWORD]\r\n> ",
            "{cmd}"
        );
    }
    for cmd in [":dm", ":dm a b"] {
        assert_eq!(alice.command(cmd), "Usage: :dm USER\r\n> ", "{cmd}");
    }
}

#[test]
fn unknown_command_suggests_help() {
    let server = Server::start();
    let mut alice = server.login("alice");
    for cmd in [":frobnicate", ":", ":q"] {
        assert_eq!(
            alice.command(cmd),
            "Unknown command. Maybe check ':help'?\r\n> ",
            "{cmd}"
        );
    }
}

#[test]
fn a_line_without_colon_is_not_a_command() {
    let server = Server::start();
    let mut alice = server.login("alice");
    assert_eq!(
        alice.command("hello everyone"),
        "That was not a command. Enter chat view by executing :chat to chat.\r\n> "
    );
}

#[test]
fn prompt_shows_the_room_or_dm() {
    let server = Server::start();
    let mut alice = server.login("alice");
    let _bob = server.login("bob");
    assert_eq!(alice.command(""), "> ");
    alice.command(":join general");
    assert_eq!(alice.command(""), "[room/general]> ");
    let dm = alice.command(":dm bob");
    assert_eq!(
        dm,
        "You opened a DM with 'bob'.\r\nExecute :chat to enter the chat view\r\n[dm/bob]> "
    );
    assert_eq!(alice.command(""), "[dm/bob]> ");
    alice.command(":close");
    assert_eq!(alice.command(""), "> ");
}

#[test]
fn command_names_are_case_insensitive() {
    let server = Server::start();
    let mut alice = server.login("alice");
    assert_eq!(
        alice.command(":LIST"),
        format!("{NOT_CONNECTED} Did you mean to use :listall?\r\n> ")
    );
}

#[test]
fn control_characters_in_command_arguments_are_removed() {
    let server = Server::start();
    let mut alice = server.login("alice");
    let _bob = server.login("bob");
    assert_eq!(
        alice.command(":join gen\x1b[31meral\x07"),
        "You joined the room 'general'!\r\nExecute :chat to enter the chat view\r\n[room/general]> "
    );
    assert_eq!(
        alice.command(":dm b\x1b[2Jo\x08b"),
        "You opened a DM with 'bob'.\r\nExecute :chat to enter the chat view\r\n[dm/bob]> "
    );
}

#[test]
fn dm_names_the_user_as_registered_whatever_case_was_typed() {
    let server = Server::start();
    let mut alice = server.login("alice");
    let _bob = server.login("Bob");
    assert_eq!(
        alice.command(":dm BOB"),
        "You opened a DM with 'Bob'.\r\nExecute :chat to enter the chat view\r\n[dm/Bob]> "
    );
}

#[test]
fn join_closes_an_open_dm_first() {
    let server = Server::start();
    let mut alice = server.login("alice");
    let _bob = server.login("bob");
    alice.command(":dm bob");
    alice.command(":join general");
    assert_eq!(
        alice.command(":list"),
        "Users connected to room 'general':\r\n  - alice\r\n[room/general]> "
    );
}
