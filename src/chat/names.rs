//! Choosing a username: the rules a name must follow and the key names
//! are compared by.
//!
//! The character rules come from Unicode's own data, through
//! `unicode-normalization` (NFC) and `unicode-security` (UTS #39: the
//! General Security Profile, confusable skeletons, restriction levels),
//! not from hand-made lists. A name is checked, after NFC, in this order:
//!
//! 1. more than `usernameLimit` characters: too long;
//! 2. not allowed: it starts with `:`, is `SERVER` in any ASCII case, holds
//!    whitespace, a control, a default-ignorable (invisible) character or a
//!    code point UTS #39 calls `Not_Character` (unassigned, private-use,
//!    noncharacter), or has no letter or digit at all;
//! 3. taken: its [`key`] equals that of a name online or of `SERVER`;
//! 4. not allowed: a character outside the General Security Profile
//!    (`Identifier_Status=Allowed`), other than printable ASCII;
//! 5. taken: it mixes scripts more than UTS #39's "moderately restrictive"
//!    level allows (Latin with Cyrillic or Greek, say), as SPEC §9 asks.
//!
//! Step 3 comes before step 4 so that a visible look-alike of a name
//! online (`ａｌｉｃｅ`, `ＳＥＲＶＥＲ`) is told it is taken; step 2 comes
//! first so that a name with invisible or unassigned characters is never
//! told anything but "not allowed".
//!
//! Printable ASCII (`!` to `~`) stays allowed although the profile allows
//! only letters, digits and `' - . : _` of it: every ASCII character is
//! visible on any terminal, ASCII names were accepted before, and the
//! confusable ones among them (`l`/`1`/`|`, `O`/`0`, `rn`/`m`) are
//! compared by their skeleton anyway.

use super::*;
use crate::text::char_len;
use unicode_normalization::UnicodeNormalization;
use unicode_security::general_security_profile::IdentifierType;
use unicode_security::{
    skeleton, GeneralSecurityProfile, RestrictionLevel, RestrictionLevelDetection,
};

const TAKEN: &str = "That username is taken, please pick another one.";
const TOO_LONG: &str = "That username is too long, please pick another one.";
const NOT_ALLOWED: &str = "That username is not allowed, please pick another one.";

/// The key a username is registered and looked up under: the UTS #39
/// skeleton of the lower-cased name, so names that look alike (`Alice`,
/// `аlice` with a Cyrillic а, `ａｌｉｃｅ`, `e` + U+0301 and `é`) share one.
pub fn key(name: &str) -> String {
    // The skeleton normalises (NFD) before and after its mapping.
    skeleton(&name.to_lowercase()).collect()
}

/// Why a username is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// Over `usernameLimit`.
    TooLong,
    /// Characters or a form no name may have.
    NotAllowed,
    /// It looks like a name in use.
    Taken,
}

impl Refusal {
    /// The reply the user gets.
    pub fn reply(self) -> &'static str {
        match self {
            Refusal::TooLong => TOO_LONG,
            Refusal::NotAllowed => NOT_ALLOWED,
            Refusal::Taken => TAKEN,
        }
    }
}

/// Checks a typed username (sanitised, trimmed, not empty) against the
/// rules of this module; `in_use` says whether a key belongs to someone.
/// Returns the name to store: its NFC form.
pub fn check(typed: &str, limit: usize, in_use: impl Fn(&str) -> bool) -> Result<String, Refusal> {
    let name: String = typed.nfc().collect();
    if char_len(&name) > limit {
        return Err(Refusal::TooLong);
    }
    if name.starts_with(':')
        || name.eq_ignore_ascii_case("server")
        || name.chars().any(is_hidden_or_unassigned)
        || !name.chars().any(char::is_alphanumeric)
    {
        return Err(Refusal::NotAllowed);
    }
    let k = key(&name);
    if k == key("server") || in_use(&k) {
        return Err(Refusal::Taken);
    }
    if !name
        .chars()
        .all(|c| c.identifier_allowed() || c.is_ascii_graphic())
    {
        return Err(Refusal::NotAllowed);
    }
    if mixes_scripts_confusably(&name) {
        return Err(Refusal::Taken);
    }
    Ok(name)
}

/// Whitespace, controls, default-ignorable characters (zero-width, fillers,
/// variation selectors, tags, …) and code points that are no characters
/// (unassigned, private-use, noncharacters): what UTS #39's
/// `IdentifierType.txt` types `Default_Ignorable` or `Not_Character` (the
/// type of every code point it does not list).
fn is_hidden_or_unassigned(c: char) -> bool {
    c.is_whitespace()
        || c.is_control()
        || matches!(
            c.identifier_type(),
            None | Some(IdentifierType::Not_Character | IdentifierType::Default_Ignorable)
        )
}

/// Whether the name's restriction level (UTS #39 §5.2) is below
/// "moderately restrictive": Latin with Cyrillic or Greek, two non-Latin
/// scripts, …. ASCII punctuation the profile does not allow is left out
/// of the count (it belongs to no script).
fn mixes_scripts_confusably(name: &str) -> bool {
    let letters: String = name.chars().filter(|c| c.identifier_allowed()).collect();
    letters.as_str().detect_restriction_level() > RestrictionLevel::ModeratelyRestrictive
}

impl Chat {
    pub(super) fn choose_name(&mut self, id: ClientId, typed: &str) {
        if typed.is_empty() {
            self.write_prompt(id);
            return;
        }
        // A registered name is free for its owner's login (in any case);
        // a different name that looks like it is taken.
        let nfc: String = typed.nfc().collect::<String>().to_lowercase();
        let checked = check(typed, self.cfg.username_limit, |k| {
            self.names.contains_key(k)
                || self
                    .account_name(k)
                    .is_some_and(|a| a.to_lowercase() != nfc)
        });
        let name = match checked {
            Ok(name) => name,
            Err(problem) => {
                self.write(id, format!("{}\r\n", problem.reply()));
                self.write_prompt(id);
                return;
            }
        };
        if let Some(account) = self.account_name(&key(&name)).map(str::to_string) {
            self.ask_password(id, account);
            return;
        }
        let ban = self
            .client(id)
            .and_then(|c| self.address_ban(c.ip))
            .map(|b| b.until);
        if let Some(until) = ban {
            let msg = format!(
                "Your address is banned{}: only accounts can log in from it.",
                self.ban_left(until)
            );
            self.write(id, format!("{msg}\r\n"));
            self.write_prompt(id);
            return;
        }
        self.take_name(id, &name, false);
    }

    /// The client is `name` from now on (`account`: logged in to it).
    pub(super) fn take_name(&mut self, id: ClientId, name: &str, account: bool) {
        self.names.insert(key(name), id);
        if let Some(c) = self.client_mut(id) {
            c.name = Some(Rc::from(name));
            c.state = State::Palette;
            c.account = account;
        }
        self.out.named.push(id);
        if self.cfg.idle_timeout > 0 {
            let gen = self.client(id).map_or(0, |c| c.gen);
            self.out.timers.push(Timer {
                client: id,
                gen,
                kind: TimerKind::Idle,
                after: self.idle_timeout(),
            });
        }
        let hello = format!("You are now connected as '{name}'.");
        let hint = if account {
            "You are logged in to your account. Type :help to see what you can do."
        } else {
            "Type :help to see what you can do."
        };
        self.reply(id, &[&hello, hint]);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Checks `name` with a limit of 10 and `online` online.
    fn verdict(name: &str, online: &[&str]) -> Result<String, Refusal> {
        let keys: Vec<String> = online.iter().map(|n| key(n)).collect();
        check(name, 10, |k| keys.iter().any(|o| o == k))
    }

    #[test]
    fn look_alikes_of_a_name_online_are_taken() {
        for name in [
            "alice",
            "Alice",
            "ALICE",
            "\u{430}lice",                         // Cyrillic а
            "\u{430}\u{4cf}\u{456}\u{441}\u{435}", // all Cyrillic: аӏісе
            "ａｌｉｃｅ",                          // fullwidth
        ] {
            assert_eq!(verdict(name, &["alice"]), Err(Refusal::Taken), "{name:?}");
        }
        // Small capital A is a technical letter, outside the profile: it
        // is refused, though its skeleton is not alice's.
        assert_eq!(
            verdict("\u{1d00}lice", &["alice"]),
            Err(Refusal::NotAllowed)
        );
        assert_eq!(verdict("\u{1d00}lice", &[]), Err(Refusal::NotAllowed));
        // Digits that look like letters: a1 and al.
        assert_eq!(verdict("a1", &["al"]), Err(Refusal::Taken));
        assert_eq!(verdict("al", &["a1"]), Err(Refusal::Taken));
    }

    #[test]
    fn server_and_its_look_alikes() {
        for name in ["server", "SERVER", "SeRvEr"] {
            assert_eq!(verdict(name, &[]), Err(Refusal::NotAllowed), "{name}");
        }
        for name in [
            "ＳＥＲＶＥＲ",
            "S\u{415}RV\u{415}R", // Cyrillic Е
            "\u{455}erver",       // Cyrillic ѕ
        ] {
            assert_eq!(verdict(name, &[]), Err(Refusal::Taken), "{name:?}");
        }
        assert_eq!(verdict("servers", &[]), Ok("servers".into()));
    }

    #[test]
    fn confusable_mixed_scripts_are_taken_even_when_nobody_has_the_name() {
        // Latin with Cyrillic or Greek.
        assert_eq!(verdict("b\u{43e}b", &[]), Err(Refusal::Taken));
        assert_eq!(verdict("\u{3b1}bc", &[]), Err(Refusal::Taken));
        // One script alone, or Latin with Han, kana or hangul, is fine.
        assert_eq!(verdict("привет", &[]), Ok("привет".into()));
        assert_eq!(verdict("Σίσυφος", &[]), Ok("Σίσυφος".into()));
        assert_eq!(verdict("日本aa", &[]), Ok("日本aa".into()));
        assert_eq!(verdict("ゆきyuki", &[]), Ok("ゆきyuki".into()));
    }

    #[test]
    fn invisible_unassigned_and_markless_names_are_not_allowed() {
        for name in [
            "alice\u{fff9}",  // interlinear annotation anchor (format)
            "alice\u{e0080}", // unassigned tag-block code point
            "alice\u{e0041}", // tag
            "\u{301}\u{301}", // combining marks alone
            "bob\u{e000}",    // private use
            "bob\u{378}",     // unassigned
            "bob\u{fdd0}",    // noncharacter
            "SER\u{200b}VER",
            "b\u{ad}ob",
            "\u{3164}",
            "\u{2800}",
            "bob\u{fe0f}",
            "a\u{a0}b",
            "a\u{fffd}b",
            "___",
            "--",
            "!?",
        ] {
            assert_eq!(verdict(name, &[]), Err(Refusal::NotAllowed), "{name:?}");
            // Even with the look-alike online: never "taken".
            if name.starts_with("alice") {
                assert_eq!(verdict(name, &["alice"]), Err(Refusal::NotAllowed));
            }
        }
    }

    #[test]
    fn names_are_stored_in_nfc_and_compared_so() {
        assert_eq!(verdict("e\u{301}va", &[]), Ok("\u{e9}va".into()));
        assert_eq!(verdict("e\u{301}va", &["\u{e9}va"]), Err(Refusal::Taken));
        assert_eq!(verdict("\u{e9}va", &["e\u{301}va"]), Err(Refusal::Taken));
        assert_eq!(key("e\u{301}va"), key("\u{c9}VA"));
        // The limit counts characters after NFC.
        assert_eq!(
            check("e\u{301}e\u{301}", 2, |_| false),
            Ok("\u{e9}\u{e9}".into())
        );
        assert_eq!(check("abc", 2, |_| false), Err(Refusal::TooLong));
    }

    #[test]
    fn ordinary_names_are_allowed() {
        for name in [
            "日本語",
            "zoë",
            "Ünal",
            "bob_2",
            "b:ob",
            "o'neil",
            "j.doe",
            "x-y",
            "[bob]",
            "bob!",
            "~bob",
            "a",
            "7",
            "한국어",
            "Ελένη",
            "محمد",
        ] {
            assert_eq!(verdict(name, &["alice"]), Ok(name.to_string()), "{name:?}");
        }
    }

    #[test]
    fn leading_colon_and_whitespace_are_not_allowed() {
        for name in [":bob", ":", "a b", "a\u{3000}b"] {
            assert_eq!(verdict(name, &[]), Err(Refusal::NotAllowed), "{name:?}");
        }
    }
}
