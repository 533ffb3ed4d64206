//! SPEC §3: connecting, the banner, choosing a username.

mod common;
use common::*;

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
