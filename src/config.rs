//! The configuration: `chatsock.ron` read with serde + ron into a validated
//! [`Config`], with errors that name the field, line and column.

use serde::de::{MapAccess, Visitor};
use serde::{Deserialize, Deserializer};
use std::fmt;
use std::io;
use std::net::{IpAddr, Ipv6Addr, SocketAddr, ToSocketAddrs};

/// The repo's `chatsock.ron`, compiled in for when there is no file.
pub const DEFAULT_RON: &str = include_str!("../chatsock.ron");

/// The largest `limit` a room may have.
const ROOM_LIMIT_MAX: usize = 1_000_000;

/// A chat room's settings.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Room {
    /// Listed by `:rooms`.
    pub public: bool,
    /// Needed to join when not empty.
    pub password: String,
    /// Shown by `:rooms`.
    pub description: String,
    /// Most members at once (at most 1000000); 0 = unlimited.
    pub limit: usize,
}

impl Default for Room {
    fn default() -> Self {
        Room {
            public: true,
            password: String::new(),
            description: String::new(),
            limit: 0,
        }
    }
}

/// The TLS listener (SPEC §10).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Tls {
    /// TCP port for TLS clients (0 = any free port).
    pub port: u16,
    /// PEM certificate chain; made self-signed with `key` when neither
    /// file exists. Relative paths are from the working directory.
    pub cert: String,
    /// PEM private key (mode 0600 when made).
    pub key: String,
}

impl Default for Tls {
    fn default() -> Self {
        Tls {
            port: 22223,
            cert: "chatsock-cert.pem".into(),
            key: "chatsock-key.pem".into(),
        }
    }
}

/// The SSH listener (SPEC §12).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default, rename_all = "camelCase")]
pub struct Ssh {
    /// TCP port for SSH clients (0 = any free port).
    pub port: u16,
    /// The Ed25519 host key (OpenSSH private key format); made with mode
    /// 0600 when the file does not exist. Relative to the working
    /// directory.
    pub host_key: String,
}

impl Default for Ssh {
    fn default() -> Self {
        Ssh {
            port: 2222,
            host_key: "chatsock-hostkey".into(),
        }
    }
}

/// Rooms in file order (a RON map read without losing its order).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rooms(pub Vec<(String, Room)>);

impl<'de> Deserialize<'de> for Rooms {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Rooms;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a map of room name to room")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Rooms, A::Error> {
                let mut rooms: Vec<(String, Room)> = Vec::new();
                while let Some((name, room)) = map.next_entry::<String, Room>()? {
                    if rooms.iter().any(|(n, _)| *n == name) {
                        return Err(serde::de::Error::custom(format!("duplicate room `{name}`")));
                    }
                    rooms.push((name, room));
                }
                Ok(Rooms(rooms))
            }
        }
        d.deserialize_map(V)
    }
}

/// The server's whole configuration, validated.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default, rename_all = "camelCase")]
pub struct Config {
    /// Address to listen on.
    pub host: String,
    /// TCP port (0 = any free port).
    pub port: u16,
    /// Rooms in file order.
    pub rooms: Rooms,
    /// Shown in a box on connect; empty shows `Welcome!`.
    pub welcome_message: String,
    /// Make new clients wait 2.5 s before the banner.
    pub connection_timeout: bool,
    /// History lines per client and chat view height.
    pub chatview_max: usize,
    /// Longest username, in characters.
    pub username_limit: usize,
    /// Longest chat message, in characters; 0 = no limit.
    pub message_limit: usize,
    /// Most clients at once; 0 = unlimited.
    pub max_clients: usize,
    /// Most clients from one IP address; 0 = unlimited. IPv6 clients are
    /// counted per network of `ipv6_prefix` bits (see [`Config::ip_key`]).
    pub max_clients_per_ip: usize,
    /// Prefix length (16-128) of the IPv6 network that `max_clients_per_ip`
    /// counts as one address; 128 = each address alone.
    pub ipv6_prefix: u8,
    /// Longest input line in bytes.
    pub max_line_length: usize,
    /// Most unsent output bytes per client before it is disconnected.
    pub send_queue_limit: usize,
    /// Lines per second a client may send, sustained; 0 = no throttling.
    pub flood_rate: u32,
    /// Lines a client may send at once before throttling starts.
    pub flood_burst: u32,
    /// Seconds to choose a username; 0 = no limit.
    pub name_timeout: u64,
    /// Offer telnet options on connect (echo, suppress go-ahead, window
    /// size), so telnet clients get character mode and their size.
    pub telnet: bool,
    /// Minutes a named client may send nothing before it is disconnected;
    /// 0 = never.
    pub idle_timeout: u64,
    /// The TLS listener; `None` = no TLS.
    pub tls: Option<Tls>,
    /// The SSH listener; `None` = no SSH.
    pub ssh: Option<Ssh>,
    /// Listen for plaintext clients on `port` (false needs `tls` or `ssh`).
    pub plaintext: bool,
    /// The accounts file (SPEC §11); empty: no accounts.
    pub accounts: String,
    /// Accept passwords on plain connections from other machines too.
    pub allow_plaintext_passwords: bool,
}

impl Default for Config {
    fn default() -> Self {
        let room = |description: &str| Room {
            description: description.to_string(),
            ..Room::default()
        };
        Config {
            host: "127.0.0.1".into(),
            port: 22222,
            rooms: Rooms(vec![
                ("general".into(), room("General chat")),
                ("games".into(), room("Talk about games")),
            ]),
            welcome_message: "WELCOME!".into(),
            connection_timeout: true,
            chatview_max: 20,
            username_limit: 10,
            message_limit: 150,
            max_clients: 1024,
            max_clients_per_ip: 16,
            ipv6_prefix: 64,
            max_line_length: 1024,
            send_queue_limit: 262_144,
            flood_rate: 5,
            flood_burst: 10,
            name_timeout: 60,
            telnet: true,
            idle_timeout: 0,
            tls: None,
            ssh: None,
            plaintext: true,
            accounts: "chatsock-accounts.ron".into(),
            allow_plaintext_passwords: false,
        }
    }
}

/// A config that could not be read, with where it went wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    /// File name (or `<embedded default>`).
    pub file: String,
    /// 1-based line and column, when known.
    pub position: Option<(usize, usize)>,
    /// What is wrong, naming the field.
    pub message: String,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        match self.position {
            Some((line, col)) => write!(f, "{}:{}:{}: {}", self.file, line, col, self.message),
            None => write!(f, "{}: {}", self.file, self.message),
        }
    }
}

impl std::error::Error for ConfigError {}

impl Config {
    /// Parses and validates RON `source`; `file` names it in errors.
    pub fn from_ron(source: &str, file: &str) -> Result<Config, ConfigError> {
        // `tls: (port: …)` without `Some(…)`, as SPEC §10 writes it.
        let options = ron::Options::default()
            .with_default_extension(ron::extensions::Extensions::IMPLICIT_SOME);
        let config: Config = options.from_str(source).map_err(|e| {
            let at = (e.span.start.line, e.span.start.col);
            // serde's type errors do not say which field; the source does.
            let message = match field_at(source, at) {
                Some(path) => format!("`{path}`: {}", e.code),
                None => e.code.to_string(),
            };
            ConfigError {
                file: file.to_string(),
                position: Some(at),
                message,
            }
        })?;
        config.validate().map_err(|(path, message)| ConfigError {
            file: file.to_string(),
            position: locate(source, &path),
            message,
        })?;
        Ok(config)
    }

    /// The address to listen on: `host` as an IP address, or else the
    /// first address the system resolver gives for it (`"localhost"` is
    /// 127.0.0.1 or ::1), with `port`.
    pub fn listen_addr(&self) -> io::Result<SocketAddr> {
        (self.host.as_str(), self.port)
            .to_socket_addrs()?
            .next()
            .ok_or_else(|| io::Error::new(io::ErrorKind::NotFound, "no addresses"))
    }

    /// Checks values serde cannot: ranges and room names. The error carries
    /// the path of the field (`["rooms", "x", "limit"]`) and the message.
    fn validate(&self) -> Result<(), (Vec<String>, String)> {
        let field = |name: &str, msg: String| (vec![name.to_string()], format!("`{name}` {msg}"));
        if let Err(e) = self.listen_addr() {
            return Err(field(
                "host",
                format!(
                    "must be an IP address such as \"127.0.0.1\" or \"::\", or a host name \
                     that resolves such as \"localhost\", not {:?} ({e})",
                    self.host
                ),
            ));
        }
        // Every number has an upper bound, so no later arithmetic on it (an
        // instant plus a timeout, a buffer size) can overflow.
        let n = |v: usize| v as u64;
        let ranges: [(&str, u64, u64, u64); 12] = [
            ("chatviewMax", n(self.chatview_max), 1, 200),
            ("usernameLimit", n(self.username_limit), 1, 32),
            ("messageLimit", n(self.message_limit), 0, 1 << 20),
            ("maxClients", n(self.max_clients), 0, 1_000_000),
            ("maxClientsPerIp", n(self.max_clients_per_ip), 0, 1_000_000),
            ("ipv6Prefix", self.ipv6_prefix.into(), 16, 128),
            ("maxLineLength", n(self.max_line_length), 16, 1 << 20),
            ("sendQueueLimit", n(self.send_queue_limit), 16_384, 1 << 30),
            ("floodRate", self.flood_rate.into(), 0, 100_000),
            ("floodBurst", self.flood_burst.into(), 1, 100_000),
            ("nameTimeout", self.name_timeout, 0, 86_400),
            ("idleTimeout", self.idle_timeout, 0, 43_200),
        ];
        for (name, value, lo, hi) in ranges {
            if !(lo..=hi).contains(&value) {
                return Err(field(
                    name,
                    format!("must be between {lo} and {hi}, not {value}"),
                ));
            }
        }
        if !self.plaintext && self.tls.is_none() && self.ssh.is_none() {
            return Err(field(
                "plaintext",
                "is false but there is no `tls` or `ssh`: clients could not connect at all".into(),
            ));
        }
        if let Some(ssh) = &self.ssh {
            if ssh.host_key.is_empty() {
                return Err((
                    vec!["ssh".into(), "hostKey".into()],
                    "`ssh.hostKey` must name a file".into(),
                ));
            }
        }
        if let Some(tls) = &self.tls {
            for (name, path) in [("cert", &tls.cert), ("key", &tls.key)] {
                if path.is_empty() {
                    return Err((
                        vec!["tls".into(), name.into()],
                        format!("`tls.{name}` must name a file"),
                    ));
                }
            }
            if tls.cert == tls.key {
                return Err((
                    vec!["tls".into(), "key".into()],
                    "`tls.key` must be another file than `tls.cert`".into(),
                ));
            }
        }
        if self.rooms.0.is_empty() {
            return Err(field("rooms", "must name at least one room".into()));
        }
        for (name, _) in &self.rooms.0 {
            let n = name.chars().count();
            if n == 0
                || n > 32
                || name
                    .chars()
                    .any(|c| c.is_whitespace() || c.is_control() || c == '/' || c == ':')
            {
                return Err((
                    vec!["rooms".into(), name.clone()],
                    format!(
                        "room name {name:?} is not allowed: 1-32 characters, no whitespace, no '/', no ':'"
                    ),
                ));
            }
        }
        // `:join` matches room names case-insensitively, so two names that
        // differ only in case would be one room.
        for (i, (name, _)) in self.rooms.0.iter().enumerate() {
            let folded = name.to_lowercase();
            if let Some((other, _)) = self.rooms.0[..i]
                .iter()
                .find(|(o, _)| o.to_lowercase() == folded)
            {
                return Err((
                    vec!["rooms".into(), name.clone()],
                    format!(
                        "room name {name:?} differs from {other:?} only in case; room names are matched case-insensitively"
                    ),
                ));
            }
        }
        for (name, room) in &self.rooms.0 {
            if room.limit > ROOM_LIMIT_MAX {
                return Err((
                    vec!["rooms".into(), name.clone(), "limit".into()],
                    format!(
                        "`rooms.{name}.limit` must be between 0 and {ROOM_LIMIT_MAX}, not {}",
                        room.limit
                    ),
                ));
            }
        }
        Ok(())
    }

    /// The address that `max_clients_per_ip` counts a client from `ip`
    /// under: an IPv4 address (also one mapped into IPv6, `::ffff:a.b.c.d`)
    /// as itself, an IPv6 address masked to its first `ipv6_prefix` bits
    /// (`2001:db8:1:2:aaaa::1` under /64 is `2001:db8:1:2::`).
    pub fn ip_key(&self, ip: IpAddr) -> IpAddr {
        match ip.to_canonical() {
            IpAddr::V4(v4) => IpAddr::V4(v4),
            IpAddr::V6(v6) => {
                // The field is public: clamp rather than trust validation.
                let keep = u32::from(self.ipv6_prefix.min(128));
                let mask = u128::MAX.checked_shl(128 - keep).unwrap_or(0);
                IpAddr::V6(Ipv6Addr::from(u128::from(v6) & mask))
            }
        }
    }

    /// A one-line summary for `--check`.
    pub fn summary(&self) -> String {
        let public = self.rooms.0.iter().filter(|(_, r)| r.public).count();
        format!(
            "{}:{}, {} rooms ({} public), chatviewMax {}, usernameLimit {}, messageLimit {}, maxClients {}",
            self.host,
            self.port,
            self.rooms.0.len(),
            public,
            self.chatview_max,
            self.username_limit,
            self.message_limit,
            self.max_clients
        )
    }
}

/// Finds the line and column of a field in RON source: `path` is a field
/// name, or `rooms`, a room name and optionally one of its fields.
fn locate(source: &str, path: &[String]) -> Option<(usize, usize)> {
    let tokens = tokens(source);
    let mut from = 0;
    let mut found = None;
    for (depth, want) in path.iter().enumerate() {
        // Field names are identifiers; a room name is a string.
        let is_room_name = depth == 1 && path[0] == "rooms";
        let i = tokens[from..]
            .iter()
            .position(|t| t.text == *want && t.quoted == is_room_name)?
            + from;
        found = Some((tokens[i].line, tokens[i].col));
        from = i + 1;
    }
    found
}

/// The dotted path of the field whose value holds position `at`
/// (`rooms.general.limit`), or None at the top level.
fn field_at(source: &str, at: (usize, usize)) -> Option<String> {
    let tokens = tokens(source);
    // One entry per open bracket: the key being given a value there.
    let mut keys: Vec<Option<&str>> = Vec::new();
    for (i, t) in tokens.iter().enumerate() {
        if (t.line, t.col) >= at {
            break;
        }
        match (t.quoted, t.text) {
            (false, "(" | "{" | "[") => keys.push(None),
            (false, ")" | "}" | "]") => {
                keys.pop();
            }
            (false, ",") => {
                if let Some(top) = keys.last_mut() {
                    *top = None;
                }
            }
            (_, text)
                if tokens
                    .get(i + 1)
                    .is_some_and(|n| !n.quoted && n.text == ":") =>
            {
                if let Some(top) = keys.last_mut() {
                    *top = Some(text);
                }
            }
            _ => {}
        }
    }
    let path: Vec<&str> = keys.into_iter().flatten().collect();
    (!path.is_empty()).then(|| path.join("."))
}

struct Token<'a> {
    text: &'a str,
    quoted: bool,
    line: usize,
    col: usize,
}

/// Identifiers, string literals and punctuation (brackets, `,`, `:`) of
/// RON source, with their positions; comments (which nest) are skipped,
/// raw strings are strings.
fn tokens<'a>(source: &'a str) -> Vec<Token<'a>> {
    let bytes = source.as_bytes();
    let mut out = Vec::new();
    // Line breaks are counted up to each token, so those inside comments
    // and strings count too.
    let (mut line, mut line_start, mut seen) = (1, 0, 0);
    let mut push = |out: &mut Vec<Token<'a>>, start: usize, text: &'a str, quoted: bool| {
        for (k, &b) in bytes[seen..start].iter().enumerate() {
            if b == b'\n' {
                line += 1;
                line_start = seen + k + 1;
            }
        }
        seen = start;
        let col = source
            .get(line_start..start)
            .map_or(0, |s| s.chars().count())
            + 1;
        out.push(Token {
            text,
            quoted,
            line,
            col,
        });
    };
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        let rest = &bytes[i..];
        if rest.starts_with(b"//") {
            while i < bytes.len() && bytes[i] != b'\n' {
                i += 1;
            }
        } else if rest.starts_with(b"/*") {
            let mut depth = 0usize;
            while i < bytes.len() {
                if bytes[i..].starts_with(b"/*") {
                    depth += 1;
                    i += 2;
                } else if bytes[i..].starts_with(b"*/") {
                    depth -= 1;
                    i += 2;
                    if depth == 0 {
                        break;
                    }
                } else {
                    i += 1;
                }
            }
        } else if let Some(hashes) = raw_string_hashes(rest) {
            // r"…" or r#"…"#: no escapes; ends at `"` and as many `#`.
            let body = i + hashes + 2;
            let mut close = vec![b'"'];
            close.resize(hashes + 1, b'#');
            let end = bytes[body..]
                .windows(close.len())
                .position(|w| w == close.as_slice())
                .map_or(bytes.len(), |p| body + p);
            push(&mut out, i, source.get(body..end).unwrap_or(""), true);
            i = end + close.len();
        } else if b == b'"' {
            let start = i;
            i += 1;
            while i < bytes.len() && bytes[i] != b'"' {
                i += if bytes[i] == b'\\' { 2 } else { 1 };
            }
            let end = i.min(bytes.len());
            push(
                &mut out,
                start,
                source.get(start + 1..end).unwrap_or(""),
                true,
            );
            i += 1;
        } else if b.is_ascii_alphabetic() || b == b'_' {
            let start = i;
            while i < bytes.len() && (bytes[i].is_ascii_alphanumeric() || bytes[i] == b'_') {
                i += 1;
            }
            push(&mut out, start, &source[start..i], false);
        } else if b"(){}[],:".contains(&b) {
            push(&mut out, i, &source[i..i + 1], false);
            i += 1;
        } else {
            i += 1;
        }
    }
    out
}

/// If `rest` opens a raw string (`r"`, `r#"`, …), the number of `#`.
fn raw_string_hashes(rest: &[u8]) -> Option<usize> {
    let after_r = rest.strip_prefix(b"r")?;
    let hashes = after_r.iter().take_while(|&&b| b == b'#').count();
    (after_r.get(hashes) == Some(&b'"')).then_some(hashes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shipped_config_is_valid_and_ordered() {
        let c = Config::from_ron(DEFAULT_RON, "chatsock.ron").unwrap();
        let names: Vec<&str> = c.rooms.0.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(&names[..3], &["general", "games", "staff"]);
        assert!(c
            .rooms
            .0
            .iter()
            .any(|(_, r)| !r.public && !r.password.is_empty()));
        assert_eq!(c.port, 22222);
        // The file says each value shown is the default; only its rooms
        // deliberately differ.
        let default = Config::default();
        assert_eq!(
            Config {
                rooms: default.rooms.clone(),
                ..c
            },
            default
        );
    }

    #[test]
    fn empty_file_gives_defaults() {
        assert_eq!(Config::from_ron("()", "x").unwrap(), Config::default());
    }

    #[test]
    fn unknown_field_names_field_and_position() {
        let e = Config::from_ron("(\n  port: 1,\n  colour: 3,\n)", "c.ron").unwrap_err();
        assert_eq!(e.position.map(|p| p.0), Some(3));
        assert!(e.message.contains("colour"), "{e}");
        assert!(e.to_string().starts_with("c.ron:3:"), "{e}");
    }

    #[test]
    fn wrong_type_is_located() {
        let e = Config::from_ron("(\n  port: \"high\",\n)", "c.ron").unwrap_err();
        assert_eq!(e.position.map(|p| p.0), Some(2), "{e}");
        assert!(e.message.starts_with("`port`: "), "{e}");
    }

    #[test]
    fn wrong_type_in_a_room_names_the_room_field() {
        let src = "(\n  port: 1,\n  rooms: {\n    \"a\": (public: true, limit: \"x\"),\n  },\n)";
        let e = Config::from_ron(src, "c.ron").unwrap_err();
        assert_eq!(e.position.map(|p| p.0), Some(4), "{e}");
        assert!(e.message.starts_with("`rooms.a.limit`: "), "{e}");
    }

    #[test]
    fn impossible_value_names_field_line_and_column() {
        let e = Config::from_ron("(\n  port: 1,\n    chatviewMax: 0,\n)", "c.ron").unwrap_err();
        assert_eq!(e.position, Some((3, 5)));
        assert!(e.message.contains("chatviewMax"), "{e}");
        let e = Config::from_ron("(usernameLimit: 33)", "c.ron").unwrap_err();
        assert!(e.message.contains("usernameLimit"), "{e}");
    }

    #[test]
    fn bad_room_name_is_located() {
        let src = "(\n rooms: {\n  \"ok\": (),\n  \"bad name\": (limit: 2),\n },\n)";
        let e = Config::from_ron(src, "c.ron").unwrap_err();
        assert_eq!(e.position, Some((4, 3)), "{e}");
        assert!(e.message.contains("bad name"));
    }

    #[test]
    fn room_names_differing_only_in_case_are_refused_and_located() {
        let src = "(\n rooms: {\n  \"general\": (),\n  \"ok\": (),\n   \"GENERAL\": (),\n },\n)";
        let e = Config::from_ron(src, "c.ron").unwrap_err();
        assert_eq!(e.position, Some((5, 4)), "{e}");
        assert!(e.message.contains("\"GENERAL\""), "{e}");
        assert!(e.message.contains("\"general\""), "{e}");
        assert!(e.message.contains("only in case"), "{e}");
        let e = Config::from_ron("(rooms: {\"Straße\": (), \"STRASSE\": ()})", "c.ron");
        assert!(e.is_ok(), "different letters, not only case: {e:?}");
    }

    #[test]
    fn unknown_room_field_is_an_error() {
        let e = Config::from_ron("(rooms: {\"a\": (secret: 1)})", "c.ron").unwrap_err();
        assert!(e.message.contains("secret"), "{e}");
    }

    #[test]
    fn bad_host_is_an_error() {
        let e = Config::from_ron("(host: \"nowhere\")", "c.ron").unwrap_err();
        assert!(e.message.contains("host"), "{e}");
        let e = Config::from_ron("(\n  host: \"no such host\",\n)", "c.ron").unwrap_err();
        assert_eq!(e.position, Some((2, 3)), "{e}");
        assert!(e.message.starts_with("`host` "), "{e}");
    }

    #[test]
    fn a_host_name_that_resolves_is_accepted() {
        let c = Config::from_ron("(host: \"localhost\", port: 4000)", "c.ron").unwrap();
        let addr = c.listen_addr().unwrap();
        assert!(addr.ip().is_loopback(), "{addr}");
        assert_eq!(addr.port(), 4000);
        let c = Config::from_ron("(host: \"::\", port: 4000)", "c.ron").unwrap();
        assert_eq!(c.listen_addr().unwrap().to_string(), "[::]:4000");
    }

    #[test]
    fn comments_do_not_confuse_the_locator() {
        let src = "(\n // chatviewMax: 5\n /* chatviewMax */ chatviewMax: 999,\n)";
        let e = Config::from_ron(src, "c.ron").unwrap_err();
        assert_eq!(e.position, Some((3, 20)), "{e}");
    }

    #[test]
    fn non_ascii_outside_strings_does_not_panic_the_locator() {
        // Found by fuzz/fuzz_targets/config.rs: the locator sliced the
        // source inside a multi-byte character of a comment.
        let e = Config::from_ron("(/* é */ chatviewMax: 0)", "c.ron").unwrap_err();
        assert_eq!(e.position, Some((1, 10)), "{e}");
        let e = Config::from_ron("(\n // ü\n usernameLimit: 0 /* ö */)", "c.ron").unwrap_err();
        assert_eq!(e.position, Some((3, 2)), "{e}");
    }

    #[test]
    fn nested_comments_raw_strings_and_multiline_strings_are_skipped() {
        // Found by fuzz/fuzz_targets/config.rs: each of these hid the field
        // from the locator or moved it to the wrong line.
        let e = Config::from_ron("(/* a /* b */ \" */ host: \"x\")", "c.ron").unwrap_err();
        assert_eq!(e.position, Some((1, 20)), "{e}");
        let e = Config::from_ron("(welcomeMessage: r#\"\"\"#, host: \"x\")", "c.ron").unwrap_err();
        assert_eq!(e.position, Some((1, 26)), "{e}");
        let e = Config::from_ron("(welcomeMessage: \"a\nb\",\nhost: \"x\")", "c.ron").unwrap_err();
        assert_eq!(e.position, Some((3, 1)), "{e}");
    }

    /// Each numeric field with its documented range.
    const RANGES: &[(&str, u64, u64)] = &[
        ("chatviewMax", 1, 200),
        ("usernameLimit", 1, 32),
        ("messageLimit", 0, 1_048_576),
        ("maxClients", 0, 1_000_000),
        ("maxClientsPerIp", 0, 1_000_000),
        ("ipv6Prefix", 16, 128),
        ("maxLineLength", 16, 1_048_576),
        ("sendQueueLimit", 16_384, 1_073_741_824),
        ("floodRate", 0, 100_000),
        ("floodBurst", 1, 100_000),
        ("nameTimeout", 0, 86_400),
        ("idleTimeout", 0, 43_200),
    ];

    #[test]
    fn every_numeric_field_has_its_bounds() {
        for &(name, lo, hi) in RANGES {
            let src = |v: u64| format!("(\n  port: 1,\n   {name}: {v},\n)");
            for ok in [lo, hi] {
                if let Err(e) = Config::from_ron(&src(ok), "c.ron") {
                    panic!("{name}: {ok} is allowed: {e}");
                }
            }
            let mut bad = vec![hi + 1];
            if lo > 0 {
                bad.push(lo - 1);
            }
            for v in bad {
                let e = Config::from_ron(&src(v), "c.ron").unwrap_err();
                assert_eq!(
                    e.to_string(),
                    format!("c.ron:3:4: `{name}` must be between {lo} and {hi}, not {v}")
                );
            }
        }
    }

    #[test]
    fn huge_values_are_errors_not_overflows() {
        // Issue 8: this passed, and the first connection then panicked
        // adding the timeout to an instant.
        for name in ["nameTimeout", "idleTimeout", "maxClients", "messageLimit"] {
            let src = format!("({name}: 18446744073709551615)");
            let e = Config::from_ron(&src, "c.ron").unwrap_err();
            assert_eq!(e.position, Some((1, 2)), "{e}");
            assert!(
                e.message
                    .starts_with(&format!("`{name}` must be between 0 and ")),
                "{e}"
            );
            assert!(e.message.ends_with("not 18446744073709551615"), "{e}");
        }
    }

    #[test]
    fn room_limit_has_a_bound_and_is_located_in_its_room() {
        let src = |v: u64| {
            format!(
                "(\n rooms: {{\n  \"a\": (limit: 5),\n  \"b\": (public: true, limit: {v}),\n }},\n)"
            )
        };
        let c = Config::from_ron(&src(1_000_000), "c.ron").unwrap();
        assert_eq!(c.rooms.0[1].1.limit, 1_000_000);
        let e = Config::from_ron(&src(1_000_001), "c.ron").unwrap_err();
        assert_eq!(
            e.to_string(),
            "c.ron:4:23: `rooms.b.limit` must be between 0 and 1000000, not 1000001"
        );
        // A room named like the field: the room's own `limit` is found.
        let src = "(rooms: {\"limit\": (description: \"limit\", limit: 2000000)})";
        let e = Config::from_ron(src, "c.ron").unwrap_err();
        assert_eq!(e.position, Some((1, 42)), "{e}");
        assert!(e.message.starts_with("`rooms.limit.limit` "), "{e}");
    }

    #[test]
    fn new_fields_default_and_parse() {
        let c = Config::from_ron("()", "c.ron").unwrap();
        assert_eq!((c.idle_timeout, c.ipv6_prefix), (0, 64));
        let c = Config::from_ron("(idleTimeout: 30, ipv6Prefix: 48)", "c.ron").unwrap();
        assert_eq!((c.idle_timeout, c.ipv6_prefix), (30, 48));
        // Past the type's range is a type error that still names the field.
        let e = Config::from_ron("(\n ipv6Prefix: 256)", "c.ron").unwrap_err();
        assert_eq!(e.position.map(|p| p.0), Some(2), "{e}");
        assert!(e.message.starts_with("`ipv6Prefix`: "), "{e}");
    }

    #[test]
    fn ip_key_keeps_v4_and_masks_v6_to_the_prefix() {
        let key = |prefix: u8, ip: &str| {
            let c = Config {
                ipv6_prefix: prefix,
                ..Config::default()
            };
            c.ip_key(ip.parse().unwrap()).to_string()
        };
        assert_eq!(key(64, "203.0.113.7"), "203.0.113.7");
        assert_eq!(key(16, "203.0.113.7"), "203.0.113.7");
        // An IPv4 client on a dual-stack listener counts as its IPv4 address.
        assert_eq!(key(64, "::ffff:203.0.113.7"), "203.0.113.7");
        assert_eq!(key(64, "2001:db8:1:2:aaaa::1"), "2001:db8:1:2::");
        assert_eq!(
            key(64, "2001:db8:1:2:ffff:ffff:ffff:ffff"),
            "2001:db8:1:2::"
        );
        assert_eq!(key(64, "2001:db8:1:3::1"), "2001:db8:1:3::");
        assert_eq!(key(128, "2001:db8:1:2:aaaa::1"), "2001:db8:1:2:aaaa::1");
        assert_eq!(key(48, "2001:db8:1:2:aaaa::1"), "2001:db8:1::");
        assert_eq!(key(56, "2001:db8:1:2ff:aaaa::1"), "2001:db8:1:200::");
        // Out of range (the field is public): clamped, no panic.
        assert_eq!(key(0, "2001:db8::1"), "::");
        assert_eq!(key(200, "2001:db8::1"), "2001:db8::1");
    }
}
