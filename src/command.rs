//! Parses one command-palette line into a [`Command`].

/// A palette command with its arguments.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// `:help` or `:help COMMAND`.
    Help(Option<String>),
    /// `:list`
    List,
    /// `:listall`
    ListAll,
    /// `:rooms`
    Rooms,
    /// `:join ROOM [PASSWORD]`
    Join {
        /// Room name as typed.
        room: String,
        /// Password, if given.
        password: Option<String>,
    },
    /// `:dm USER`
    Dm {
        /// The other user's name as typed.
        user: String,
    },
    /// `:chat`
    Chat,
    /// `:close`
    Close,
    /// `:quit`
    Quit,
    /// `:size` (say the size) or `:size COLSxROWS` (set it).
    Size(Option<(u16, u16)>),
    /// `:msg USER TEXT`: one DM line, from anywhere.
    Msg {
        /// The other user's name as typed.
        user: String,
        /// The message, as typed after the name.
        text: String,
    },
    /// `:r TEXT`: answers whoever last sent you a DM.
    Reply {
        /// The message.
        text: String,
    },
    /// `:me ACTION`: `* NAME ACTION` to the room or DM.
    Me {
        /// The action.
        text: String,
    },
    /// `:bell on|off`.
    Bell(bool),
    /// `:time on|off`: `HH:MM ` before each history line.
    Time(bool),
    /// `:whois NAME`.
    Whois {
        /// The name as typed.
        user: String,
    },
    /// `:register PASSWORD`: registers the name you are using.
    Register {
        /// The password.
        password: String,
    },
    /// `:passwd OLD NEW`.
    Passwd {
        /// The current password.
        old: String,
        /// The new one.
        new: String,
    },
    /// `:unregister PASSWORD`.
    Unregister {
        /// The password.
        password: String,
    },
    /// `:addkey`: binds the key of this SSH session to your account.
    AddKey,
    /// `:keys`: the SSH keys bound to your account.
    Keys,
    /// `:delkey N`: unbinds the N-th of them.
    DelKey {
        /// Its number in `:keys`, from 1.
        n: usize,
    },
    /// `:kick NAME [REASON]` (ops).
    Kick {
        /// Who.
        user: String,
        /// Why, as typed after the name.
        reason: Option<String>,
    },
    /// `:mute NAME [MINUTES]` (ops).
    Mute {
        /// Who.
        user: String,
        /// How long; `None`: until `:unmute`.
        minutes: Option<u32>,
    },
    /// `:unmute NAME` (ops).
    Unmute {
        /// Who.
        user: String,
    },
    /// `:ban NAME [MINUTES]` (ops).
    Ban {
        /// Whose account, or which guest's address.
        user: String,
        /// How long; `None`: until `:unban`.
        minutes: Option<u32>,
    },
    /// `:unban NAME` (ops): NAME as banned, or an address.
    Unban {
        /// Who.
        user: String,
    },
}

/// Commands whose arguments are passwords: their lines are kept out of
/// the input history.
pub const PASSWORD_COMMANDS: &[&str] = &[":register", ":passwd", ":unregister"];

/// Whether `line` is a password command (its first word, any case), so
/// that it is never remembered or echoed.
pub fn holds_password(line: &str) -> bool {
    let first = line.split_whitespace().next().unwrap_or("");
    PASSWORD_COMMANDS
        .iter()
        .any(|c| first.eq_ignore_ascii_case(c))
}

/// Why a palette line is not a command that can run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ParseError {
    /// The line does not start with `:`.
    NotACommand,
    /// `:something` that is not a command.
    Unknown,
    /// A command without arguments was given some.
    NoArguments,
    /// Wrong number of arguments; the usage line to show.
    Usage(&'static str),
}

impl ParseError {
    /// The reply the user sees.
    pub fn message(&self) -> &'static str {
        match self {
            ParseError::NotACommand => {
                "That was not a command. Enter chat view by executing :chat to chat."
            }
            ParseError::Unknown => "Unknown command. Maybe check ':help'?",
            ParseError::NoArguments => "This command does not expect any arguments!",
            ParseError::Usage(u) => u,
        }
    }
}

/// One `:help` line per command: usage and description.
pub const HELP: &[(&str, &str)] = &[
    (":help [COMMAND]", "Show this list, or explain one command"),
    (":list", "List the users in your current chatroom or DM"),
    (":listall", "List every user online"),
    (":rooms", "List the public chatrooms"),
    (
        ":join ROOM [PASSWORD]",
        "Join a chatroom (a hidden room needs its password)",
    ),
    (":dm USER", "Open a private conversation with USER"),
    (
        ":msg USER TEXT",
        "Send USER one private line, from anywhere",
    ),
    (":r TEXT", "Answer whoever last sent you a private line"),
    (":me ACTION", "Tell your room or DM '* NAME ACTION'"),
    (":whois USER", "Who USER is: online since, where, idle time"),
    (
        ":bell on|off",
        "Ring the bell for DMs and mentions of your name",
    ),
    (":time on|off", "Show the time (UTC) before each chat line"),
    (
        ":chat",
        "Enter the chat view of your room or DM (leave it with :q)",
    ),
    (":close", "Leave your current chatroom or close your DM"),
    (":size [COLSxROWS]", "Show or set your terminal's size"),
    (":register PASSWORD", "Register the name you are using"),
    (":passwd OLD NEW", "Change your account's password"),
    (":unregister PASSWORD", "Remove your account"),
    (":addkey", "Bind this SSH session's key to your account"),
    (":keys", "List the SSH keys bound to your account"),
    (":delkey N", "Unbind key N of :keys"),
    (":kick USER [REASON]", "Ops: disconnect USER"),
    (":mute USER [MINUTES]", "Ops: USER's messages reach nobody"),
    (":unmute USER", "Ops: end a mute"),
    (
        ":ban USER [MINUTES]",
        "Ops: keep out USER's account, or a guest's address",
    ),
    (":unban USER", "Ops: end a ban"),
    (":quit", "Disconnect from the server"),
];

/// More words on each command, for `:help COMMAND`.
pub const DETAILS: &[(&str, &str)] = &[
    ("help", "':help' lists every command; ':help join' explains one."),
    ("list", "In a room, its members; in a DM, both of you."),
    ("listall", "Everyone online."),
    ("rooms", "Public rooms with their member counts; hidden rooms are not listed."),
    ("join", "':join ROOM', or ':join ROOM PASSWORD' for a hidden room. Leaves your room or DM first. Room names ignore case."),
    ("dm", "':dm USER' opens a DM (USER is told); ':chat' enters its view."),
    ("msg", "':msg USER TEXT' sends USER one line from wherever you are."),
    ("r", "':r TEXT' answers whoever last sent you a DM or opened one with you."),
    ("me", "':me waves' shows '* NAME waves' to your room or DM."),
    ("whois", "':whois USER': online since when, the room if it is public, guest or registered, idle time."),
    ("bell", "':bell off' stops the bell for DMs and mentions of your name; ':bell on' brings it back."),
    ("time", "':time on' shows HH:MM (UTC) before each line of your chat view; ':time off' hides it."),
    ("chat", "Enters the chat view of your room or DM; ':q' leaves it. Commands work there too; '::text' sends ':text'."),
    ("close", "Leaves your room, or closes your DM."),
    ("size", "':size' says the size the server uses for your terminal; ':size 100x30' sets it."),
    ("register", "':register PASSWORD' (8 characters or more, one word) registers your name: from then on it asks for the password. Only over TLS, SSH or from the server's machine."),
    ("passwd", "':passwd OLD NEW' changes your account's password."),
    ("unregister", "':unregister PASSWORD' removes your account; you stay online as a guest."),
    ("addkey", "In an SSH session logged in to your account: ':addkey' binds the session's key to it, so 'ssh NAME@HOST' with that key logs you in without a password."),
    ("keys", "':keys' lists the SSH key fingerprints bound to your account, numbered."),
    ("delkey", "':delkey N' unbinds key number N of ':keys'."),
    ("kick", "Ops only: ':kick USER [REASON]' disconnects USER; the room is told."),
    ("mute", "Ops only: ':mute USER [MINUTES]': USER's messages reach nobody, for MINUTES or until ':unmute USER'."),
    ("unmute", "Ops only: ':unmute USER' lets USER's messages through again."),
    ("ban", "Ops only: ':ban USER [MINUTES]' disconnects USER and keeps out their account (or, for a guest, guests from their address) for MINUTES or until ':unban USER'. Bans survive a restart."),
    ("unban", "Ops only: ':unban USER' (or ':unban ADDRESS') ends a ban."),
    ("quit", "Asks, then disconnects. Ctrl+C on an empty line asks too (telnet, raw terminals)."),
];

/// Every command name, for Tab completion.
pub const NAMES: &[&str] = &[
    ":help",
    ":list",
    ":listall",
    ":rooms",
    ":join",
    ":dm",
    ":msg",
    ":r",
    ":me",
    ":whois",
    ":bell",
    ":time",
    ":chat",
    ":close",
    ":size",
    ":quit",
    ":register",
    ":passwd",
    ":unregister",
    ":addkey",
    ":keys",
    ":delkey",
    ":kick",
    ":mute",
    ":unmute",
    ":ban",
    ":unban",
];

const JOIN_USAGE: &str = "Usage: :join ROOM [PASSWORD]";
const DM_USAGE: &str = "Usage: :dm USER";
const SIZE_USAGE: &str = "Usage: :size [COLSxROWS], e.g. :size 80x24";
const MSG_USAGE: &str = "Usage: :msg USER TEXT";
const REPLY_USAGE: &str = "Usage: :r TEXT";

/// Parses a sanitised palette line (not empty). Command names are
/// case-insensitive; arguments are separated by whitespace.
pub fn parse(line: &str) -> Result<Command, ParseError> {
    let Some(rest) = line.strip_prefix(':') else {
        return Err(ParseError::NotACommand);
    };
    let mut words = rest.split_whitespace();
    let name = words.next().unwrap_or("").to_ascii_lowercase();
    let args: Vec<&str> = words.collect();
    let none = |c: Command| {
        if args.is_empty() {
            Ok(c)
        } else {
            Err(ParseError::NoArguments)
        }
    };
    match name.as_str() {
        "help" => match args.as_slice() {
            [] => Ok(Command::Help(None)),
            [c] => {
                let name = c.strip_prefix(':').filter(|n| !n.is_empty()).unwrap_or(c);
                Ok(Command::Help(Some(name.to_ascii_lowercase())))
            }
            _ => Err(ParseError::Usage("Usage: :help [COMMAND]")),
        },
        "me" => {
            let text = rest.trim_start().get(name.len()..).unwrap_or("").trim();
            if text.is_empty() {
                Err(ParseError::Usage("Usage: :me ACTION"))
            } else {
                Ok(Command::Me {
                    text: text.to_string(),
                })
            }
        }
        "bell" | "time" => {
            let on = match args.as_slice() {
                [a] if a.eq_ignore_ascii_case("on") => true,
                [a] if a.eq_ignore_ascii_case("off") => false,
                _ if name == "bell" => return Err(ParseError::Usage("Usage: :bell on|off")),
                _ => return Err(ParseError::Usage("Usage: :time on|off")),
            };
            Ok(if name == "bell" {
                Command::Bell(on)
            } else {
                Command::Time(on)
            })
        }
        "whois" => match args.as_slice() {
            [user] => Ok(Command::Whois {
                user: user.to_string(),
            }),
            _ => Err(ParseError::Usage("Usage: :whois USER")),
        },
        "list" => none(Command::List),
        "listall" => none(Command::ListAll),
        "rooms" => none(Command::Rooms),
        "chat" => none(Command::Chat),
        "close" => none(Command::Close),
        "quit" => none(Command::Quit),
        "join" => match args.as_slice() {
            [room] => Ok(Command::Join {
                room: room.to_string(),
                password: None,
            }),
            [room, password] => Ok(Command::Join {
                room: room.to_string(),
                password: Some(password.to_string()),
            }),
            _ => Err(ParseError::Usage(JOIN_USAGE)),
        },
        "dm" => match args.as_slice() {
            [user] => Ok(Command::Dm {
                user: user.to_string(),
            }),
            _ => Err(ParseError::Usage(DM_USAGE)),
        },
        "msg" => {
            // The text keeps its own spacing: everything after the name.
            let after = rest
                .trim_start()
                .get(name.len()..)
                .unwrap_or("")
                .trim_start();
            match after.split_once(char::is_whitespace) {
                Some((user, text)) if !text.trim().is_empty() => Ok(Command::Msg {
                    user: user.to_string(),
                    text: text.trim().to_string(),
                }),
                _ => Err(ParseError::Usage(MSG_USAGE)),
            }
        }
        "r" => {
            let text = rest.trim_start().get(name.len()..).unwrap_or("").trim();
            if text.is_empty() {
                Err(ParseError::Usage(REPLY_USAGE))
            } else {
                Ok(Command::Reply {
                    text: text.to_string(),
                })
            }
        }
        "register" => match args.as_slice() {
            [p] => Ok(Command::Register {
                password: p.to_string(),
            }),
            _ => Err(ParseError::Usage("Usage: :register PASSWORD (one word)")),
        },
        "passwd" => match args.as_slice() {
            [old, new] => Ok(Command::Passwd {
                old: old.to_string(),
                new: new.to_string(),
            }),
            _ => Err(ParseError::Usage("Usage: :passwd OLD NEW")),
        },
        "unregister" => match args.as_slice() {
            [p] => Ok(Command::Unregister {
                password: p.to_string(),
            }),
            _ => Err(ParseError::Usage("Usage: :unregister PASSWORD")),
        },
        "addkey" | "keys" if !args.is_empty() => Err(ParseError::NoArguments),
        "addkey" => Ok(Command::AddKey),
        "keys" => Ok(Command::Keys),
        "delkey" => match args.as_slice() {
            [n] => match n.parse::<usize>() {
                Ok(n) if n >= 1 => Ok(Command::DelKey { n }),
                _ => Err(ParseError::Usage("Usage: :delkey N (a number from :keys)")),
            },
            _ => Err(ParseError::Usage("Usage: :delkey N (a number from :keys)")),
        },
        "kick" => {
            let after = rest
                .trim_start()
                .get(name.len()..)
                .unwrap_or("")
                .trim_start();
            let (user, reason) = after.split_once(char::is_whitespace).unwrap_or((after, ""));
            if user.is_empty() {
                return Err(ParseError::Usage("Usage: :kick USER [REASON]"));
            }
            let reason = reason.trim();
            Ok(Command::Kick {
                user: user.to_string(),
                reason: (!reason.is_empty()).then(|| reason.to_string()),
            })
        }
        "mute" | "ban" => {
            let usage = if name == "mute" {
                "Usage: :mute USER [MINUTES]"
            } else {
                "Usage: :ban USER [MINUTES]"
            };
            let (user, minutes) = match args.as_slice() {
                [u] => (u.to_string(), None),
                [u, m] => match m.parse::<u32>() {
                    Ok(m) if (1..=MAX_MINUTES).contains(&m) => (u.to_string(), Some(m)),
                    _ => return Err(ParseError::Usage(usage)),
                },
                _ => return Err(ParseError::Usage(usage)),
            };
            Ok(if name == "mute" {
                Command::Mute { user, minutes }
            } else {
                Command::Ban { user, minutes }
            })
        }
        "unmute" | "unban" => match args.as_slice() {
            [u] if name == "unmute" => Ok(Command::Unmute {
                user: u.to_string(),
            }),
            [u] => Ok(Command::Unban {
                user: u.to_string(),
            }),
            _ if name == "unmute" => Err(ParseError::Usage("Usage: :unmute USER")),
            _ => Err(ParseError::Usage("Usage: :unban USER")),
        },
        "size" => match args.as_slice() {
            [] => Ok(Command::Size(None)),
            [size] => parse_size(size)
                .map(|s| Command::Size(Some(s)))
                .ok_or(ParseError::Usage(SIZE_USAGE)),
            _ => Err(ParseError::Usage(SIZE_USAGE)),
        },
        _ => Err(ParseError::Unknown),
    }
}

/// The longest mute or ban in minutes: ten years.
pub const MAX_MINUTES: u32 = 10 * 366 * 24 * 60;

/// `COLSxROWS` (also `COLS×ROWS`), each 1-9999.
fn parse_size(s: &str) -> Option<(u16, u16)> {
    let (c, r) = s.split_once(['x', 'X', '×'])?;
    let c: u16 = c.parse().ok()?;
    let r: u16 = r.parse().ok()?;
    ((1..10_000).contains(&c) && (1..10_000).contains(&r)).then_some((c, r))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_every_command() {
        assert_eq!(parse(":help"), Ok(Command::Help(None)));
        assert_eq!(parse(":help :JOIN"), Ok(Command::Help(Some("join".into()))));
        assert_eq!(
            parse(":me waves  hi"),
            Ok(Command::Me {
                text: "waves  hi".into()
            })
        );
        assert_eq!(parse(":bell OFF"), Ok(Command::Bell(false)));
        assert_eq!(parse(":time on"), Ok(Command::Time(true)));
        assert_eq!(
            parse(":time"),
            Err(ParseError::Usage("Usage: :time on|off"))
        );
        assert_eq!(
            parse(":whois bob"),
            Ok(Command::Whois { user: "bob".into() })
        );
        assert_eq!(parse(":list"), Ok(Command::List));
        assert_eq!(parse(":listall"), Ok(Command::ListAll));
        assert_eq!(parse(":rooms"), Ok(Command::Rooms));
        assert_eq!(parse(":chat"), Ok(Command::Chat));
        assert_eq!(parse(":close"), Ok(Command::Close));
        assert_eq!(parse(":QUIT"), Ok(Command::Quit));
        assert_eq!(
            parse(":join  games "),
            Ok(Command::Join {
                room: "games".into(),
                password: None
            })
        );
        assert_eq!(
            parse(":join vault s3cret"),
            Ok(Command::Join {
                room: "vault".into(),
                password: Some("s3cret".into())
            })
        );
        assert_eq!(parse(":dm bob"), Ok(Command::Dm { user: "bob".into() }));
        assert_eq!(parse(":size"), Ok(Command::Size(None)));
        assert_eq!(
            parse(":msg bob hi  there "),
            Ok(Command::Msg {
                user: "bob".into(),
                text: "hi  there".into()
            })
        );
        assert_eq!(parse(":msg bob"), Err(ParseError::Usage(MSG_USAGE)));
        assert_eq!(parse(":MSG"), Err(ParseError::Usage(MSG_USAGE)));
        assert_eq!(
            parse(":r  ok then"),
            Ok(Command::Reply {
                text: "ok then".into()
            })
        );
        assert_eq!(parse(":r"), Err(ParseError::Usage(REPLY_USAGE)));
        assert_eq!(parse(":size 60x15"), Ok(Command::Size(Some((60, 15)))));
        assert_eq!(parse(":size 60X15"), Ok(Command::Size(Some((60, 15)))));
        assert_eq!(parse(":size 60"), Err(ParseError::Usage(SIZE_USAGE)));
        assert_eq!(parse(":size 0x15"), Err(ParseError::Usage(SIZE_USAGE)));
        assert_eq!(parse(":size 60x15 1"), Err(ParseError::Usage(SIZE_USAGE)));
    }

    #[test]
    fn argument_errors() {
        assert_eq!(parse(":list me"), Err(ParseError::NoArguments));
        assert_eq!(parse(":join"), Err(ParseError::Usage(JOIN_USAGE)));
        assert_eq!(parse(":join a b c"), Err(ParseError::Usage(JOIN_USAGE)));
        assert_eq!(parse(":dm"), Err(ParseError::Usage(DM_USAGE)));
        assert_eq!(parse(":dm a b"), Err(ParseError::Usage(DM_USAGE)));
    }

    #[test]
    fn account_and_op_commands() {
        assert_eq!(
            parse(":register hunter22"),
            Ok(Command::Register {
                password: "hunter22".into()
            })
        );
        assert!(parse(":register a b").is_err());
        assert_eq!(
            parse(":passwd a b"),
            Ok(Command::Passwd {
                old: "a".into(),
                new: "b".into()
            })
        );
        assert_eq!(
            parse(":kick bob  being  rude "),
            Ok(Command::Kick {
                user: "bob".into(),
                reason: Some("being  rude".into())
            })
        );
        assert_eq!(
            parse(":kick bob"),
            Ok(Command::Kick {
                user: "bob".into(),
                reason: None
            })
        );
        assert!(parse(":kick").is_err());
        assert_eq!(
            parse(":mute bob 5"),
            Ok(Command::Mute {
                user: "bob".into(),
                minutes: Some(5)
            })
        );
        assert_eq!(
            parse(":ban bob"),
            Ok(Command::Ban {
                user: "bob".into(),
                minutes: None
            })
        );
        assert!(parse(":ban bob 0").is_err());
        assert!(parse(":ban bob x").is_err());
        assert_eq!(
            parse(":unban bob"),
            Ok(Command::Unban { user: "bob".into() })
        );
        assert!(holds_password(":REGISTER x"));
        assert!(holds_password("  :passwd a b"));
        assert!(!holds_password(":regist x"));
        assert!(!holds_password("register x"));
    }

    #[test]
    fn non_commands() {
        assert_eq!(parse("hello"), Err(ParseError::NotACommand));
        assert_eq!(parse(":frobnicate"), Err(ParseError::Unknown));
        assert_eq!(parse(":"), Err(ParseError::Unknown));
    }
}
