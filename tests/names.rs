//! SPEC §9 "Names" (issue 10 item 5) against the real server: names in
//! NFC, look-alikes of a name online taken, invisible, unassigned and
//! private-use characters not allowed (UTS #39), room names matched
//! case-insensitively.

mod common;
use common::*;

const TAKEN: &str = "That username is taken, please pick another one.\r\nEnter a username: ";
const NOT_ALLOWED: &str =
    "That username is not allowed, please pick another one.\r\nEnter a username: ";

/// Sends a username and returns the reply up to the next username prompt.
fn try_name(c: &mut Client, name: &str) -> String {
    c.send(name);
    c.expect("Enter a username: ")
}

#[test]
fn look_alikes_of_a_name_online_and_of_server_are_taken() {
    let server = Server::start();
    let _alice = server.login("alice");
    let mut c = server.client();
    c.expect("Enter a username: ");
    for name in [
        "\u{430}lice", // Cyrillic а
        "ａｌｉｃｅ",
        "ALICE",
        "ＳＥＲＶＥＲ",
        "S\u{415}RV\u{415}R", // Cyrillic Е
    ] {
        assert_eq!(try_name(&mut c, name), TAKEN, "{name:?}");
    }
    // Small capital A: outside the General Security Profile.
    assert_eq!(try_name(&mut c, "\u{1d00}lice"), NOT_ALLOWED);
    // Plain SERVER keeps its own answer.
    assert_eq!(try_name(&mut c, "Server"), NOT_ALLOWED);
    c.send("zoë");
    assert_eq!(
        c.expect("> "),
        "You are now connected as 'zoë'.\r\nType :help to see what you can do.\r\n> "
    );
}

#[test]
fn invisible_unassigned_and_markless_names_are_not_allowed() {
    let server = Server::start();
    let _alice = server.login("alice");
    let mut c = server.client();
    c.expect("Enter a username: ");
    for name in [
        "alice\u{fff9}",  // a format character
        "alice\u{e0080}", // an unassigned (default-ignorable) code point
        "\u{301}\u{301}", // combining marks alone
        "bob\u{e000}",    // private use
        "bob\u{378}",     // unassigned
        "b\u{200b}ob",    // zero width space
    ] {
        assert_eq!(try_name(&mut c, name), NOT_ALLOWED, "{name:?}");
    }
}

#[test]
fn names_are_stored_in_nfc() {
    let server = Server::start();
    // é typed as e + U+0301 is registered (and greeted) as precomposed é.
    let mut eva = server.client();
    eva.expect("Enter a username: ");
    eva.send("e\u{301}va");
    eva.expect("You are now connected as '\u{e9}va'.");
    eva.expect("> ");
    let mut c = server.client();
    c.expect("Enter a username: ");
    assert_eq!(try_name(&mut c, "\u{e9}va"), TAKEN);
    assert_eq!(try_name(&mut c, "\u{c9}VA"), TAKEN);
    c.send("ann");
    c.expect("> ");
    let list = c.command(":listall");
    assert!(list.contains("  - \u{e9}va\r\n"), "{list:?}");
    assert!(!list.contains('\u{301}'), "{list:?}");
}

#[test]
fn names_in_any_single_script_are_allowed() {
    let server = Server::start();
    for name in ["日本語", "Ünal", "bob_2", "привет", "o'neil"] {
        let _c = server.login(name);
    }
}

#[test]
fn dm_and_join_ignore_case() {
    let server = Server::start();
    let _alice = server.login("alice");
    let mut bob = server.login("bob");
    bob.send(":dm ALICE");
    assert_eq!(
        bob.expect("> "),
        "You opened a DM with 'alice'.\r\nExecute :chat to enter the chat view\r\n[dm/alice]> "
    );
    bob.send(":join GENERAL");
    assert_eq!(
        bob.expect("> "),
        "You joined the room 'general'!\r\nExecute :chat to enter the chat view\r\n[room/general]> "
    );
    bob.send(":join General");
    assert_eq!(
        bob.expect("> "),
        "You are already in 'general'.\r\n[room/general]> "
    );
}
