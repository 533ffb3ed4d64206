//! Unit tests of the chat core, driven without sockets.

use super::rooms::NO_SUCH_ROOM;
use super::*;
use std::net::Ipv4Addr;

const LOOPBACK: IpAddr = IpAddr::V4(Ipv4Addr::LOCALHOST);

fn config(extra: &str) -> Config {
    let delay = if extra.contains("connectionTimeout") {
        ""
    } else {
        "connectionTimeout: false,"
    };
    let src = format!(
        "({delay} chatviewMax: 3, rooms: {{ \"general\": (), \
         \"small\": (limit: 1), \"vault\": (public: false, password: \"pw\"), \
         \"closed\": (public: false) }}, {extra})"
    );
    Config::from_ron(&src, "test").unwrap()
}

struct T {
    chat: Chat,
}

impl T {
    fn new(extra: &str) -> T {
        T {
            chat: Chat::new(config(extra), "9.9.9"),
        }
    }

    /// Output queued for `id` since the last call, as text.
    fn out(&mut self, id: ClientId) -> String {
        output_for(&mut self.chat, id)
    }

    fn user(&mut self, id: ClientId, name: &str) {
        self.chat.connect(id, Link::PlainLoopback, LOOPBACK);
        self.chat.line(id, name.as_bytes());
        assert!(self.out(id).contains("You are now connected as"));
    }

    fn say(&mut self, id: ClientId, line: &str) -> String {
        self.chat.line(id, line.as_bytes());
        self.chat.check_invariants().unwrap();
        self.out(id)
    }
}

#[test]
fn connection_delay_sends_five_dots_then_banner() {
    let mut t = T::new("connectionTimeout: true");
    t.chat.connect(0, Link::PlainLoopback, LOOPBACK);
    assert_eq!(t.out(0), "\r\nConnecting you");
    assert!(!t.chat.wants_input(0));
    for i in 0..5 {
        let timers: Vec<Timer> = t.chat.out.timers.drain(..).collect();
        let dot = timers.iter().find(|x| x.kind == TimerKind::Dot).unwrap();
        assert_eq!(dot.after, Duration::from_millis(500));
        t.chat.timer(0, dot.gen, TimerKind::Dot);
        let o = t.out(0);
        assert!(o.starts_with('.'), "dot {i}: {o:?}");
    }
    assert!(t.chat.wants_input(0));
}

#[test]
fn stale_timer_does_not_hit_a_reused_key() {
    let mut t = T::new("connectionTimeout: true");
    t.chat.connect(0, Link::PlainLoopback, LOOPBACK);
    let old = t.chat.out.timers[0];
    t.chat.disconnect(0);
    t.chat.connect(0, Link::PlainLoopback, LOOPBACK);
    t.out(0);
    t.chat.timer(0, old.gen, TimerKind::NameTimeout);
    assert!(t.chat.out.closes.is_empty());
}

#[test]
fn username_rules() {
    let mut t = T::new("");
    t.user(0, "Alice");
    t.chat.connect(1, Link::PlainLoopback, LOOPBACK);
    t.out(1);
    assert!(t.say(1, "alice").contains("That username is taken"));
    assert!(t
        .say(1, "abcdefghijk")
        .contains("That username is too long"));
    for bad in ["a b", ":x", "SeRvEr"] {
        assert!(t.say(1, bad).contains("not allowed"), "{bad}");
    }
    assert!(t.say(1, "b\x1b[31mob").contains("connected as 'bob'"));
}

#[test]
fn look_alikes_of_a_name_online_are_taken() {
    let mut t = T::new("");
    t.user(0, "alice");
    t.chat.connect(1, Link::PlainLoopback, LOOPBACK);
    t.out(1);
    for name in [
        "\u{430}lice", // Cyrillic а
        "ａｌｉｃｅ",
        "ALICE",
        "ＳＥＲＶＥＲ",
        "S\u{415}RV\u{415}R", // Cyrillic Е
    ] {
        let o = t.say(1, name);
        assert_eq!(
            o, "That username is taken, please pick another one.\r\nEnter a username: ",
            "{name:?}"
        );
    }
    // Small capital A is outside the General Security Profile.
    assert!(t.say(1, "\u{1d00}lice").contains("not allowed"));
    assert_eq!(t.chat.named_count(), 1);
}

#[test]
fn invisible_unassigned_and_markless_names_are_not_allowed() {
    let mut t = T::new("");
    t.user(0, "alice");
    t.chat.connect(1, Link::PlainLoopback, LOOPBACK);
    t.out(1);
    for name in [
        "alice\u{fff9}",
        "alice\u{e0080}",
        "\u{301}\u{301}",
        "bob\u{e000}",
        "bob\u{378}",
        "SER\u{200b}VER",
    ] {
        let o = t.say(1, name);
        assert_eq!(
            o, "That username is not allowed, please pick another one.\r\nEnter a username: ",
            "{name:?}"
        );
    }
}

#[test]
fn names_are_stored_in_nfc_and_collide_so() {
    let mut t = T::new("");
    t.user(0, "e\u{301}va");
    assert_eq!(t.chat.name(0), Some("\u{e9}va"));
    t.chat.connect(1, Link::PlainLoopback, LOOPBACK);
    t.out(1);
    assert!(t.say(1, "\u{e9}va").contains("taken"));
    assert!(t.say(1, "\u{c9}VA").contains("taken"));
    // The name is freed under the same key.
    t.chat.disconnect(0);
    t.chat.check_invariants().unwrap();
    assert!(t.say(1, "\u{c9}va").contains("connected as '\u{c9}va'"));
}

#[test]
fn ordinary_names_in_any_script_are_allowed() {
    let mut t = T::new("");
    for (i, name) in ["日本語", "zoë", "Ünal", "bob_2", "привет", "b:ob", "[x]"]
        .into_iter()
        .enumerate()
    {
        t.chat.connect(i, Link::PlainLoopback, LOOPBACK);
        let o = t.say(i, name);
        assert!(o.contains(&format!("connected as '{name}'")), "{name}: {o}");
    }
}

#[test]
fn dm_finds_a_user_by_the_name_key() {
    let mut t = T::new("");
    t.user(0, "alice");
    t.user(1, "bob");
    for typed in ["alice", "ALICE", "\u{430}lice"] {
        let o = t.say(1, &format!(":dm {typed}"));
        assert!(
            o.contains("You opened a DM with 'alice'.") || o.contains("already have a DM"),
            "{typed}: {o}"
        );
    }
    assert!(t.say(1, ":dm BOB").contains("You can't DM yourself!"));
}

#[test]
fn rooms_are_joined_case_insensitively() {
    let mut t = T::new("");
    t.user(0, "a");
    let o = t.say(0, ":join GENERAL");
    assert!(o.contains("You joined the room 'general'!"), "{o}");
    assert!(o.ends_with("[room/general]> "), "{o}");
    assert!(t
        .say(0, ":join General")
        .contains("You are already in 'general'."));
    assert!(
        t.say(0, ":join VAULT PW").contains(NO_SUCH_ROOM),
        "passwords keep their case"
    );
    assert!(t.say(0, ":join VAULT pw").contains("[room/vault]> "));
}

#[test]
fn rooms_lists_public_rooms_with_counts() {
    let mut t = T::new("");
    t.user(0, "a");
    t.say(0, ":join small");
    let o = t.say(0, ":rooms");
    assert!(
        o.contains("  - general [0 online]\r\n  - small [1/1 online]\r\n"),
        "{o}"
    );
    assert!(!o.contains("vault") && !o.contains("closed"));
}

#[test]
fn join_rules() {
    let mut t = T::new("");
    t.user(0, "a");
    t.user(1, "b");
    assert!(t
        .say(0, ":join small")
        .contains("You joined the room 'small'!"));
    assert!(t.say(1, ":join small").contains("That chatroom is full!"));
    assert!(t
        .say(0, ":join small")
        .contains("You are already in 'small'."));
    for probe in [
        ":join nope",
        ":join vault",
        ":join vault wrong",
        ":join closed",
        ":join closed x",
    ] {
        assert!(t.say(1, probe).contains(NO_SUCH_ROOM), "{probe}");
    }
    assert!(t.say(1, ":join vault pw").contains("[room/vault]> "));
    assert!(t.say(0, ":join general").contains("[room/general]> "));
    assert!(
        t.say(1, ":join small").contains("joined"),
        "small is free again"
    );
}

#[test]
fn message_fans_out_to_viewers_only() {
    let mut t = T::new("");
    for (i, n) in ["a", "b", "c"].iter().enumerate() {
        t.user(i, n);
        t.say(i, ":join general");
    }
    t.say(0, ":chat");
    t.say(1, ":chat");
    let own = t.say(0, "hello");
    assert!(own.contains("[a         ]: hello"), "sender sees a redraw");
    let b = t.out(1);
    assert!(b.starts_with("\x1b7") && b.ends_with("\x1b[r\x1b8") && b.contains("hello"));
    assert_eq!(t.out(2), "", "c is in the palette");
}

#[test]
fn history_is_capped_at_chatview_max() {
    let mut t = T::new("");
    t.user(0, "a");
    t.say(0, ":join general");
    t.say(0, ":chat");
    for i in 0..10 {
        t.say(0, &format!("m{i}"));
    }
    let frame = String::from_utf8(t.chat.full_view(0).unwrap()).unwrap();
    assert!(frame.contains("m9") && frame.contains("m7") && !frame.contains("m6"));
}

#[test]
fn join_and_leave_notices_reach_viewers() {
    let mut t = T::new("");
    t.user(0, "a");
    t.user(1, "b");
    t.say(0, ":join general");
    t.say(0, ":chat");
    t.say(1, ":join general");
    assert!(t.out(0).contains("b joined the room."));
    t.say(1, ":close");
    assert!(t.out(0).contains("b left the room."));
}

#[test]
fn quit_needs_confirmation() {
    let mut t = T::new("");
    t.user(0, "a");
    assert!(t.say(0, ":quit").ends_with("(y/n) "));
    assert!(t.say(0, "n").ends_with("> "));
    t.say(0, ":quit");
    assert!(t.say(0, "YES").contains("Disconnecting. Goodbye!"));
    assert_eq!(t.chat.out.closes, vec![(0, "quit")]);
    assert_eq!(t.chat.named_count(), 0);
}

#[test]
fn dm_reaches_palette_and_other_views() {
    let mut t = T::new("");
    t.user(0, "a");
    t.user(1, "b");
    assert!(t.say(0, ":dm B").contains("You opened a DM with 'b'."));
    // b is told once, above its prompt.
    assert_eq!(
        t.out(1),
        "\r\x1b[Ka opened a DM with you — :r TEXT answers, :dm a opens it.\r\n> "
    );
    assert!(t.say(0, ":list").contains("  - a\r\n  - b\r\n"));
    let o = t.say(0, ":chat");
    assert!(o.contains("[dm/b]"));
    t.say(0, "psst");
    // A DM rings the bell once (SPEC §9).
    assert_eq!(t.out(1), "\x07\r\x1b[K[DM from a]: psst\r\n> ");
    t.say(1, ":join general");
    t.say(1, ":chat");
    t.say(0, "again");
    let b = t.out(1);
    assert!(
        b.starts_with("\x07\x1b7") && b.contains("[DM from a]: again"),
        "{b:?}"
    );
}

#[test]
fn dm_errors() {
    let mut t = T::new("");
    t.user(0, "a");
    assert!(t.say(0, ":dm a").contains("You can't DM yourself!"));
    assert!(t.say(0, ":dm nobody").contains("That user is not online!"));
    assert!(t.say(0, ":dm").contains("Usage: :dm USER"));
}

#[test]
fn dm_partner_disconnect_closes_the_dm() {
    let mut t = T::new("");
    t.user(0, "a");
    t.user(1, "b");
    t.say(0, ":dm b");
    t.say(0, ":chat");
    t.chat.disconnect(1);
    t.chat.check_invariants().unwrap();
    assert!(t.out(0).contains("b disconnected"));
    assert!(t.say(0, ":list").contains("You are not connected"));
}

#[test]
fn message_limit_counts_characters() {
    let mut t = T::new("");
    t.user(0, "a");
    t.user(1, "b");
    t.say(0, ":join general");
    t.say(1, ":join general");
    t.say(0, ":chat");
    t.say(1, ":chat");
    // Wide enough that the message is not wrapped.
    t.chat.terminal(1, Some((200, 24)), false);
    t.out(1);
    t.say(0, &"é".repeat(150));
    assert!(t.out(1).contains(&"é".repeat(150)));
    let own = t.say(0, &"x".repeat(151));
    assert!(own.contains("limited to 150 characters"));
    assert_eq!(t.out(1), "");
}

#[test]
fn shutdown_notice_then_goodbye_closes_everyone() {
    let mut t = T::new("");
    t.user(0, "a");
    t.user(1, "b");
    t.say(1, ":join general");
    t.say(1, ":chat");
    t.chat.shutdown_notice();
    assert!(t.out(0).contains(SHUTDOWN_NOTICE));
    assert!(t.out(1).contains(SHUTDOWN_NOTICE));
    t.chat.shutdown_goodbye();
    assert!(t.out(0).contains(GOODBYE));
    assert_eq!(t.chat.out.closes.len(), 2);
}

#[test]
fn constant_time_eq_compares() {
    assert!(constant_time_eq(b"abc", b"abc"));
    assert!(!constant_time_eq(b"abc", b"abd"));
    assert!(!constant_time_eq(b"abc", b"abcd"));
    assert!(!constant_time_eq(b"", b"a"));
}

#[test]
fn client_still_connecting_at_shutdown_is_told_and_closed_not_welcomed() {
    let mut t = T::new("connectionTimeout: true");
    t.chat.connect(0, Link::PlainLoopback, LOOPBACK);
    let gen = t.chat.out.timers[0].gen;
    t.out(0);
    t.chat.shutdown_notice();
    let got = t.out(0);
    assert!(got.contains("The server will be shutting down in 5 seconds!!"));
    assert!(got.contains("The server is shutting down, try again later."));
    assert!(t.chat.out.closes.iter().any(|&(id, _)| id == 0));
    // A dot timer still in flight does not lead to the banner.
    t.chat.timer(0, gen, TimerKind::Dot);
    assert_eq!(t.out(0), "");
    t.chat.check_invariants().unwrap();
}

#[test]
fn clients_closed_by_the_goodbye_leave_rooms_dms_and_names_on_disconnect() {
    let mut t = T::new("");
    t.user(0, "ann");
    t.user(1, "bob");
    t.user(2, "cy");
    t.say(0, ":dm bob");
    t.say(2, ":join general");
    t.chat.shutdown_goodbye();
    t.chat.out.writes.clear();
    t.chat.disconnect(1);
    t.chat.check_invariants().unwrap();
    t.chat.disconnect(2);
    t.chat.check_invariants().unwrap();
    assert_eq!(t.chat.named_count(), 1);
    // Nothing is written to clients that were already closed.
    assert!(t.chat.out.writes.is_empty());
    t.chat.disconnect(0);
    t.chat.check_invariants().unwrap();
    assert_eq!(t.chat.named_count(), 0);
}

#[test]
fn join_leave_notices_of_one_member_are_rate_limited() {
    let mut t = T::new("");
    t.user(0, "a");
    t.user(1, "b");
    t.say(0, ":join general");
    t.say(0, ":chat");
    t.out(0);
    let notices = |t: &mut T| {
        let o = t.out(0);
        o.matches("b joined the room.").count() + o.matches("b left the room.").count()
    };
    // 100 joins and leaves at one instant: the burst, nothing more.
    for _ in 0..50 {
        t.say(1, ":join general");
        t.say(1, ":close");
    }
    assert_eq!(notices(&mut t), NOTICE_BURST as usize);
    // Then one per NOTICE_EVERY, however fast b goes on.
    for step in 1..=6u32 {
        t.chat.set_now(NOTICE_EVERY * step);
        for _ in 0..10 {
            t.say(1, ":join general");
            t.say(1, ":close");
        }
        assert_eq!(notices(&mut t), 1, "step {step}");
    }
    // Another member's notices have their own budget.
    t.user(2, "c");
    t.say(2, ":join general");
    assert!(t.out(0).contains("c joined the room."));
}

#[test]
fn idle_named_client_is_disconnected_after_idle_timeout() {
    let mut t = T::new("idleTimeout: 2");
    t.user(0, "a");
    let timer = |t: &mut T| {
        let timers: Vec<Timer> = t.chat.out.timers.drain(..).collect();
        *timers.iter().find(|x| x.kind == TimerKind::Idle).unwrap()
    };
    let first = timer(&mut t);
    assert_eq!(first.after, Duration::from_secs(120));
    // A line after one minute moves the deadline: the timer re-arms for
    // the minute that is left.
    t.chat.set_now(Duration::from_secs(60));
    t.say(0, ":rooms");
    t.chat.set_now(Duration::from_secs(120));
    t.chat.timer(0, first.gen, TimerKind::Idle);
    assert!(t.chat.out.closes.is_empty());
    let again = timer(&mut t);
    assert_eq!(again.after, Duration::from_secs(60));
    t.chat.set_now(Duration::from_secs(180));
    t.chat.timer(0, again.gen, TimerKind::Idle);
    assert!(t
        .out(0)
        .contains("You sent nothing for 2 minutes. Goodbye!"));
    assert_eq!(t.chat.out.closes, vec![(0, "idle timeout")]);
    t.chat.check_invariants().unwrap();
}

#[test]
fn idle_timeout_zero_sets_no_timer() {
    let mut t = T::new("");
    t.user(0, "a");
    assert!(t.chat.out.timers.iter().all(|x| x.kind != TimerKind::Idle));
}

#[test]
fn tab_completion_in_a_server_of_ten_thousand_users_is_one_pass() {
    let mut t = T::new("usernameLimit: 6, maxClients: 0");
    for id in 0..10_000 {
        t.chat.connect(id, Link::PlainLoopback, LOOPBACK);
        t.chat.line(id, format!("u{id}").as_bytes());
    }
    t.chat.out = Outbox::default();
    let start = std::time::Instant::now();
    let all = t.chat.complete(0, ":dm u");
    assert_eq!(all.len(), 10_000);
    let some = t.chat.complete(0, ":dm u99");
    // u99, u990..u999, u9900..u9999.
    assert_eq!(some.len(), 1 + 10 + 100);
    assert!(some.iter().all(|n| n.starts_with("u99")));
    assert_eq!(t.chat.complete(0, ":jo"), vec![":join".to_string()]);
    assert_eq!(t.chat.complete(0, ":join sm"), vec!["small".to_string()]);
    // Hidden rooms are never offered.
    assert!(t
        .chat
        .complete(0, ":join ")
        .iter()
        .all(|r| r == "general" || r == "small"));
    // Bounded time (a generous bound; it is one scan of the names).
    assert!(start.elapsed() < Duration::from_secs(2));
    assert!(t.chat.out.writes.is_empty());
}

#[test]
fn an_overlong_line_is_input_too_for_the_idle_clock() {
    let mut t = T::new("idleTimeout: 1");
    t.user(0, "a");
    let first = t
        .chat
        .out
        .timers
        .drain(..)
        .find(|x| x.kind == TimerKind::Idle)
        .unwrap();
    t.chat.set_now(Duration::from_secs(50));
    t.chat.line_too_long(0);
    t.chat.set_now(Duration::from_secs(60));
    t.chat.timer(0, first.gen, TimerKind::Idle);
    assert!(t.chat.out.closes.is_empty());
}

/// Takes the output `chat` queued for `id` (leaving the rest), as text.
pub(super) fn output_for(chat: &mut Chat, id: ClientId) -> String {
    let mut s = Vec::new();
    let mut rest = Vec::new();
    for (to, chunk) in chat.out.writes.drain(..) {
        if to == id {
            s.extend_from_slice(chunk.bytes());
        } else {
            rest.push((to, chunk));
        }
    }
    chat.out.writes = rest;
    String::from_utf8_lossy(&s).into_owned()
}
