//! The accounts file (SPEC §11): its RON format, read and validated with
//! errors at `file:line:column`, and written atomically with mode 0600.
//!
//! It holds names, argon2id PHC hashes, creation times, SSH key
//! fingerprints, the `op` flag and bans — never a password, never a
//! message. [`parse`] refuses anything else (`deny_unknown_fields`), a hash
//! that is not an argon2id PHC string, a name that is not a valid
//! username, and two names that look alike (the same [`name key`]).
//!
//! [`name key`]: crate::chat::name_key

use serde::de::{SeqAccess, Visitor};
use serde::{Deserialize, Deserializer, Serialize};
use std::fmt;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

/// The longest name an account may have (the largest `usernameLimit`).
const NAME_MAX: usize = 32;

/// One account.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, try_from = "RawAccount")]
pub struct Account {
    /// The username, in NFC, as registered.
    pub name: String,
    /// The argon2id hash of its password, as a PHC string.
    pub hash: String,
    /// When it was registered (Unix seconds).
    pub created: u64,
    /// SSH public key fingerprints bound to it (`SHA256:…`; SPEC §12).
    pub keys: Vec<String>,
    /// May kick, mute and ban.
    pub op: bool,
}

/// An account as written, before validation.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawAccount {
    name: String,
    hash: String,
    #[serde(default)]
    created: u64,
    #[serde(default)]
    keys: Vec<String>,
    #[serde(default)]
    op: bool,
}

impl TryFrom<RawAccount> for Account {
    type Error = String;

    fn try_from(raw: RawAccount) -> Result<Account, String> {
        let name = &raw.name;
        match crate::chat::check_name(name, NAME_MAX, |_| false) {
            Ok(nfc) if nfc == *name => {}
            Ok(_) => return Err(format!("account name {name:?} is not in Unicode NFC")),
            Err(why) => {
                return Err(format!(
                    "account name {name:?} is not a valid username: {}",
                    why.reply()
                ))
            }
        }
        check_hash(&raw.hash).map_err(|e| format!("account {name:?}: {e}"))?;
        if let Some(k) = raw.keys.iter().find(|k| k.is_empty() || k.len() > 128) {
            return Err(format!("account {name:?}: bad key fingerprint {k:?}"));
        }
        Ok(Account {
            name: raw.name,
            hash: raw.hash,
            created: raw.created,
            keys: raw.keys,
            op: raw.op,
        })
    }
}

/// Whether `hash` is an argon2id PHC string argon2 can verify against.
pub fn check_hash(hash: &str) -> Result<(), String> {
    let parsed =
        argon2::PasswordHash::new(hash).map_err(|e| format!("hash is not a PHC string ({e})"))?;
    if parsed.algorithm != argon2::Algorithm::Argon2id.ident() {
        return Err(format!(
            "hash is {}, not argon2id",
            parsed.algorithm.as_str()
        ));
    }
    argon2::Params::try_from(&parsed).map_err(|e| format!("hash parameters: {e}"))?;
    if parsed.hash.is_none() || parsed.salt.is_none() {
        return Err("hash has no salt or output".into());
    }
    Ok(())
}

/// Who a ban keeps out.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Target {
    /// An account, by name.
    Account(String),
    /// A guest's address (IPv6: its `ipv6Prefix` network), as text.
    Address(String),
}

/// A ban.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Ban {
    /// Who.
    pub target: Target,
    /// The name the op gave (for an address: the guest's name then), so
    /// `:unban NAME` finds it.
    pub name: String,
    /// Until when (Unix seconds); `None`: until `:unban`.
    #[serde(default)]
    pub until: Option<u64>,
}

/// The whole file.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AccountsFile {
    /// Accounts, no two with the same name key.
    #[serde(default, deserialize_with = "distinct_accounts")]
    pub accounts: Vec<Account>,
    /// Bans in force (expired ones are dropped at the next write).
    #[serde(default)]
    pub bans: Vec<Ban>,
}

/// Reads the account list, refusing a name that looks like an earlier one
/// as soon as it is read, so the error points at that account.
fn distinct_accounts<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<Account>, D::Error> {
    struct V;
    impl<'de> Visitor<'de> for V {
        type Value = Vec<Account>;
        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            f.write_str("a list of accounts")
        }
        fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Vec<Account>, A::Error> {
            let mut out: Vec<Account> = Vec::new();
            let mut keys = std::collections::HashMap::new();
            while let Some(a) = seq.next_element::<Account>()? {
                let key = crate::chat::name_key(&a.name);
                if let Some(other) = keys.insert(key, a.name.clone()) {
                    return Err(serde::de::Error::custom(format!(
                        "account {:?} looks like account {other:?} (names that look alike are one name)",
                        a.name
                    )));
                }
                out.push(a);
            }
            Ok(out)
        }
    }
    d.deserialize_seq(V)
}

/// A file that could not be read, with where it went wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileError {
    /// The file's path.
    pub file: String,
    /// 1-based line and column, when known.
    pub position: Option<(usize, usize)>,
    /// What is wrong.
    pub message: String,
}

impl fmt::Display for FileError {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        match self.position {
            Some((line, col)) => write!(f, "{}:{line}:{col}: {}", self.file, self.message),
            None => write!(f, "{}: {}", self.file, self.message),
        }
    }
}

impl std::error::Error for FileError {}

/// What the server writes at the top of the file.
const HEADER: &str = "// chatsock accounts (SPEC §11): names, argon2id password hashes, SSH key\n\
// fingerprints, ops and bans. Written by the server; edit it only while the\n\
// server is stopped (`chatsock --op NAME` sets `op`).\n";

/// Parses and validates the file's text; `file` names it in errors.
pub fn parse(source: &str, file: &str) -> Result<AccountsFile, FileError> {
    let parsed: AccountsFile = ron::from_str(source).map_err(|e| FileError {
        file: file.to_string(),
        position: Some((e.span.start.line, e.span.start.col)),
        message: e.code.to_string(),
    })?;
    for (i, ban) in parsed.bans.iter().enumerate() {
        let bad = match &ban.target {
            Target::Account(n) if n.is_empty() => Some("an account ban names no account"),
            Target::Address(a) if a.parse::<std::net::IpAddr>().is_err() => {
                Some("an address ban holds no IP address")
            }
            _ => None,
        };
        if let Some(message) = bad {
            return Err(FileError {
                file: file.to_string(),
                position: nth_position(source, "target", i),
                message: format!("bans[{i}]: {message}"),
            });
        }
    }
    Ok(parsed)
}

/// The line and column of the `n`th (0-based) occurrence of the word
/// `word` in `source`.
fn nth_position(source: &str, word: &str, n: usize) -> Option<(usize, usize)> {
    let at = source.match_indices(word).nth(n)?.0;
    let before = source.get(..at)?;
    let line = before.matches('\n').count() + 1;
    let col = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    Some((line, col))
}

/// The file's text: a header comment, then the RON.
pub fn serialize(file: &AccountsFile) -> String {
    let pretty = ron::ser::PrettyConfig::new()
        .depth_limit(3)
        .indentor("    ".to_string());
    match ron::ser::to_string_pretty(file, pretty) {
        Ok(body) => format!("{HEADER}{body}\n"),
        // Plain data of strings, numbers and lists always serializes.
        Err(_) => String::new(),
    }
}

/// Reads `path`: `Ok(None)` when it does not exist (it is created at the
/// first registration), an error naming the file for anything else that
/// is wrong.
pub fn load(path: &Path) -> Result<Option<AccountsFile>, FileError> {
    let name = path.display().to_string();
    match fs::read_to_string(path) {
        Ok(text) => parse(&text, &name).map(Some),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(FileError {
            file: name,
            position: None,
            message: format!("cannot read the accounts file: {e}"),
        }),
    }
}

/// Writes `bytes` to `path` atomically: a temporary file beside it (mode
/// 0600), fsync, rename over `path`, fsync of the directory. On failure
/// the temporary file is removed and `path` is as it was.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> io::Result<()> {
    write_atomic_with(path, bytes, |tmp| {
        OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(tmp)
    })
}

/// The temporary file [`write_atomic`] writes before the rename.
pub fn temp_path(path: &Path) -> PathBuf {
    let name = path
        .file_name()
        .map_or_else(|| "accounts".into(), |n| n.to_string_lossy().into_owned());
    path.with_file_name(format!(".{name}.tmp"))
}

/// [`write_atomic`] with the temporary file opened by `open` (tests pass
/// one that writes to `/dev/full`, to see a full disk).
pub fn write_atomic_with(
    path: &Path,
    bytes: &[u8],
    open: impl FnOnce(&Path) -> io::Result<File>,
) -> io::Result<()> {
    let tmp = temp_path(path);
    // A temporary file left by a crash would block create_new.
    let _ = fs::remove_file(&tmp);
    let written = (|| {
        let mut f = open(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        drop(f);
        fs::rename(&tmp, path)
    })();
    if let Err(e) = written {
        let _ = fs::remove_file(&tmp);
        return Err(e);
    }
    // The rename is durable once the directory is; the new file is in
    // place either way, so a failure here is not the write's failure.
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    if let Err(e) = File::open(dir).and_then(|d| d.sync_all()) {
        crate::log_err!(
            "chatsock: accounts file {} written, but syncing its directory failed: {e}",
            path.display()
        );
    }
    Ok(())
}

/// What identifies one version of a file on disk, to notice that someone
/// else changed it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stamp {
    len: u64,
    mtime: i64,
    mtime_nsec: i64,
    ino: u64,
}

impl Stamp {
    /// The stamp of `path` now, if it exists.
    pub fn of(path: &Path) -> Option<Stamp> {
        let m = fs::metadata(path).ok()?;
        Some(Stamp {
            len: m.len(),
            mtime: m.mtime(),
            mtime_nsec: m.mtime_nsec(),
            ino: m.ino(),
        })
    }
}

/// The accounts file as the shell keeps it: where it is, and the version
/// last read or written, so a hand-broken file is never overwritten.
#[derive(Debug)]
pub struct Disk {
    path: PathBuf,
    last: Option<Stamp>,
}

impl Disk {
    /// The file at `path`, as just loaded (or absent).
    pub fn new(path: PathBuf) -> Disk {
        let last = Stamp::of(&path);
        Disk { path, last }
    }

    /// Where the file is.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Writes the server's accounts. A file changed on disk since the
    /// server last read or wrote it is read first: if it is broken it is
    /// left alone (and this fails); a deleted file is written anew.
    pub fn save(&mut self, text: &str) -> Result<(), String> {
        let now = Stamp::of(&self.path);
        if now.is_some() && now != self.last {
            match load(&self.path) {
                Err(e) => return Err(format!("{e}; the file is left as it is")),
                Ok(_) => crate::log_err!(
                    "chatsock: accounts file {} was changed by someone else; writing the server's accounts over it",
                    self.path.display()
                ),
            }
        }
        write_atomic(&self.path, text.as_bytes())
            .map_err(|e| format!("cannot write {}: {e}", self.path.display()))?;
        self.last = Stamp::of(&self.path);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A real argon2id hash (tiny parameters) of "password".
    fn hash() -> String {
        crate::accounts::hash::Hasher::cheap()
            .hash("password")
            .unwrap()
    }

    fn account(name: &str) -> Account {
        Account {
            name: name.into(),
            hash: hash(),
            created: 1_700_000_000,
            keys: vec![],
            op: false,
        }
    }

    fn dir() -> PathBuf {
        let d = std::env::temp_dir().join(format!(
            "chatsock-store-{}-{:?}",
            std::process::id(),
            std::thread::current().id()
        ));
        let _ = fs::remove_dir_all(&d);
        fs::create_dir_all(&d).unwrap();
        d
    }

    #[test]
    fn a_file_round_trips() {
        let file = AccountsFile {
            accounts: vec![account("alice"), account("bob")],
            bans: vec![
                Ban {
                    target: Target::Account("bob".into()),
                    name: "bob".into(),
                    until: Some(1_800_000_000),
                },
                Ban {
                    target: Target::Address("203.0.113.7".into()),
                    name: "eve".into(),
                    until: None,
                },
            ],
        };
        let text = serialize(&file);
        assert!(text.starts_with("// chatsock accounts"), "{text}");
        assert_eq!(parse(&text, "a.ron").unwrap(), file);
        assert_eq!(parse("()", "a.ron").unwrap(), AccountsFile::default());
    }

    #[test]
    fn broken_files_are_errors_with_file_line_and_column() {
        let e = parse(
            "(\n  accounts: [\n    (name: \"a\", hash: \"x\", pw: 1),\n  ],\n)",
            "a.ron",
        )
        .unwrap_err();
        assert!(e.to_string().starts_with("a.ron:3:"), "{e}");
        let e = parse(
            "(\n  accounts: [\n    (name: \"a\", hash: \"nope\"),\n  ],\n)",
            "a.ron",
        )
        .unwrap_err();
        assert!(e.to_string().starts_with("a.ron:3:"), "{e}");
        assert!(e.message.contains("PHC"), "{e}");
        let e = parse("(accounts: [(", "a.ron").unwrap_err();
        assert!(e.position.is_some(), "{e}");
    }

    #[test]
    fn argon2i_and_other_hashes_are_refused() {
        let i = "$argon2i$v=19$m=16,t=2,p=1$c2FsdHNhbHQ$ZG9vb2Rvb2Rvb2Rvb2Rvbw";
        assert!(check_hash(i).unwrap_err().contains("not argon2id"));
        assert!(check_hash("$2b$12$abcdefghijklmnopqrstuv").is_err());
        assert!(check_hash(&hash()).is_ok());
    }

    #[test]
    fn look_alike_names_and_bad_names_are_refused() {
        let text = serialize(&AccountsFile {
            accounts: vec![account("alice"), account("Alice")],
            bans: vec![],
        });
        let e = parse(&text, "a.ron").unwrap_err();
        assert!(e.message.contains("looks like"), "{e}");
        assert!(e.position.is_some());
        for bad in ["SERVER", ":x", "a b", ""] {
            let text = serialize(&AccountsFile {
                accounts: vec![account(bad)],
                bans: vec![],
            });
            let e = parse(&text, "a.ron").unwrap_err();
            assert!(e.message.contains("not a valid username"), "{bad}: {e}");
        }
    }

    #[test]
    fn bad_ban_addresses_are_located() {
        let text = "(bans: [\n (target: Address(\"x\"), name: \"e\"),\n])";
        let e = parse(text, "a.ron").unwrap_err();
        assert_eq!(e.position, Some((2, 3)), "{e}");
    }

    #[test]
    fn atomic_write_makes_a_0600_file_and_leaves_no_temp() {
        use std::os::unix::fs::PermissionsExt;
        let d = dir();
        let path = d.join("acc.ron");
        write_atomic(&path, b"()").unwrap();
        write_atomic(&path, b"(accounts: [])").unwrap();
        assert_eq!(fs::read_to_string(&path).unwrap(), "(accounts: [])");
        let mode = fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        assert!(!temp_path(&path).exists());
        let _ = fs::remove_dir_all(&d);
    }

    #[test]
    fn a_full_disk_leaves_the_old_file_and_no_temp() {
        // /dev/full stands in for the temporary file: every write fails
        // with ENOSPC, as on a full disk.
        let d = dir();
        let path = d.join("acc.ron");
        write_atomic(&path, b"old").unwrap();
        let e = write_atomic_with(&path, b"new", |_| {
            OpenOptions::new().write(true).open("/dev/full")
        })
        .unwrap_err();
        assert_eq!(e.raw_os_error(), Some(28), "{e}"); // ENOSPC
        assert_eq!(fs::read_to_string(&path).unwrap(), "old");
        assert!(!temp_path(&path).exists());
        let _ = fs::remove_dir_all(&d);
    }

    #[test]
    fn a_hand_broken_file_is_not_overwritten_while_running() {
        let d = dir();
        let path = d.join("acc.ron");
        let mut disk = Disk::new(path.clone());
        disk.save("()\n").unwrap();
        // Someone edits it by hand and breaks it.
        fs::write(&path, "(accounts: [oops").unwrap();
        let e = disk.save("(accounts: [])\n").unwrap_err();
        assert!(e.contains("acc.ron:1:"), "{e}");
        assert_eq!(fs::read_to_string(&path).unwrap(), "(accounts: [oops");
        // Deleted: written anew.
        fs::remove_file(&path).unwrap();
        disk.save("()\n").unwrap();
        assert_eq!(fs::read_to_string(&path).unwrap(), "()\n");
        let _ = fs::remove_dir_all(&d);
    }
}
