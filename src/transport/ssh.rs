//! SSH (SPEC §12): the host key, and one connection's SSH session pumped
//! from the event loop like a rustls connection — socket bytes in,
//! plaintext (the shell channel's data) out, plaintext in, socket bytes
//! out. No threads, no async runtime.
//!
//! Built on `sunset` 0.6.0 (sans-IO, 0BSD) with a local patch
//! (`vendor/sunset`, `vendor-patches/`): stock 0.6.0 does not tell a
//! server the pty size, drops `window-change`, cannot send `exit-status`,
//! EOF or CLOSE, fails every RSA signature, owns two 35 KB buffers, and has
//! no login without credentials but `none`. See SSH-EVALUATION.md.
//!
//! # What a connection may do
//! * Log in: the first request (OpenSSH's `none` probe) is refused, so a
//!   client with keys offers them; any public key is then accepted (its
//!   fingerprint is kept, [`SshConn::key`]); a client without keys gets in
//!   through `keyboard-interactive` with no prompts (a guest). The
//!   decisions are the [`Authenticator`]'s, asked synchronously.
//! * One `session` channel with a pty and a shell: that is the chat
//!   session. `exec` gets one line and exit status 1. Other channels,
//!   subsystems (sftp), `env`, agent and X11 forwarding, port forwarding
//!   are refused (sunset refuses what it does not know).
//! * At most 3 refused login attempts ([`MAX_AUTH_FAILURES`]); the loop closes
//!   a connection whose shell is not open after [`HANDSHAKE_TIMEOUT`].

use sha2::{Digest, Sha256};
use std::fmt;
use std::fs;
use std::io::{self, Read, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;
use sunset::{ChanData, ChanFail, ChanHandle, Event as SEvent, PubKey, Runner, ServEvent, SignKey};

/// How long a client has from connecting to an open shell (key exchange,
/// login, pty, shell) before it is closed.
pub const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(30);
/// Refused login requests (counting OpenSSH's `none` probe, which every
/// login starts with and which is always refused) at which the connection
/// is closed: a client gets 3 real tries.
pub const MAX_AUTH_FAILURES: u32 = 4;
/// sunset's receive buffer: the largest packet a client may send. OpenSSH
/// sends at most ~2.5 KB outside channel data (KEXINIT, an RSA-8192 key
/// with its signature); channel data is capped by sunset's 1000-byte
/// packets. (sunset's default is 35,000 bytes, RFC 4253's minimum.)
pub const BUF_IN: usize = 8 * 1024;
/// sunset's send buffer: bounds the packets sent, channel data included;
/// what the shell's queue hands over at once is bounded by it.
pub const BUF_OUT: usize = 8 * 1024;
/// Socket bytes read per call.
const READ_BYTES: usize = 2048;
/// Socket bytes sunset has not taken yet (it takes none during key
/// exchange until its output is written, none while channel data waits to
/// be read) beyond which the socket is not read (a client that waits for
/// replies sends far less: the inbound window is 1000 bytes).
const MAX_PENDING_INPUT: usize = 16 * 1024;

/// The line an `exec` request gets before exit status 1.
fn exec_refusal(local: Option<std::net::SocketAddr>) -> String {
    let (host, port) = match local {
        Some(a) => (a.ip().to_string(), a.port().to_string()),
        None => ("HOST".into(), "PORT".into()),
    };
    format!("chatsock: commands are not supported; connect with ssh -p {port} NAME@{host}\r\n")
}

/// The server's Ed25519 host key.
pub struct HostKey {
    key: SignKey,
    fingerprint: String,
    public_openssh: String,
}

impl fmt::Debug for HostKey {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.debug_struct("HostKey")
            .field("fingerprint", &self.fingerprint)
            .finish()
    }
}

impl HostKey {
    /// From the 32-byte Ed25519 seed.
    pub fn from_seed(seed: &[u8; 32]) -> HostKey {
        Self::from_key(SignKey::Ed25519(
            sunset::ed25519_dalek::SigningKey::from_bytes(seed),
        ))
    }

    /// A new key from the OS's random numbers.
    pub fn generate() -> Result<HostKey, String> {
        SignKey::generate(sunset::KeyType::Ed25519, None)
            .map(Self::from_key)
            .map_err(|e| format!("cannot make an SSH host key: {e}"))
    }

    fn from_key(key: SignKey) -> HostKey {
        let blob = pubkey_blob(&key.pubkey()).unwrap_or_default();
        HostKey {
            fingerprint: fingerprint_of_blob(&blob),
            public_openssh: format!("ssh-ed25519 {}", base64(&blob, true)),
            key,
        }
    }

    fn seed(&self) -> [u8; 32] {
        match &self.key {
            SignKey::Ed25519(k) => k.to_bytes(),
            _ => [0; 32],
        }
    }

    /// `SHA256:…`, as `ssh-keygen -lf` and the client's first-connection
    /// question show it.
    pub fn fingerprint(&self) -> &str {
        &self.fingerprint
    }

    /// `ssh-ed25519 AAAA…`: the public key as a `known_hosts` line has it.
    pub fn public_openssh(&self) -> &str {
        &self.public_openssh
    }

    /// The key in OpenSSH's private key format (unencrypted), which
    /// `ssh-keygen -lf` reads.
    pub fn to_openssh(&self) -> String {
        let seed = self.seed();
        let blob = pubkey_blob(&self.key.pubkey()).unwrap_or_default();
        let public = &blob[blob.len().saturating_sub(32)..];
        let mut private = Vec::new();
        let check: u32 = u32::from_be_bytes(seed[..4].try_into().unwrap_or([0; 4])) ^ 0x5eed;
        put_u32(&mut private, check);
        put_u32(&mut private, check);
        put_string(&mut private, b"ssh-ed25519");
        put_string(&mut private, public);
        let mut both = seed.to_vec();
        both.extend_from_slice(public);
        put_string(&mut private, &both);
        put_string(&mut private, b"chatsock host key");
        let mut pad = 1u8;
        while private.len() % 8 != 0 {
            private.push(pad);
            pad += 1;
        }
        let mut body = b"openssh-key-v1\0".to_vec();
        put_string(&mut body, b"none");
        put_string(&mut body, b"none");
        put_string(&mut body, b"");
        put_u32(&mut body, 1);
        put_string(&mut body, &blob);
        put_string(&mut body, &private);
        let text = base64(&body, true);
        let mut out = String::from("-----BEGIN OPENSSH PRIVATE KEY-----\n");
        for line in text.as_bytes().chunks(70) {
            out.push_str(&String::from_utf8_lossy(line));
            out.push('\n');
        }
        out.push_str("-----END OPENSSH PRIVATE KEY-----\n");
        out
    }

    /// Reads an unencrypted Ed25519 key in OpenSSH's private key format.
    pub fn from_openssh(text: &str) -> Result<HostKey, &'static str> {
        let inner: String = text
            .lines()
            .map(str::trim)
            .skip_while(|l| *l != "-----BEGIN OPENSSH PRIVATE KEY-----")
            .skip(1)
            .take_while(|l| *l != "-----END OPENSSH PRIVATE KEY-----")
            .collect();
        if inner.is_empty() {
            return Err("no -----BEGIN OPENSSH PRIVATE KEY----- block");
        }
        let body = unbase64(&inner).ok_or("not base64")?;
        let mut r = body
            .strip_prefix(b"openssh-key-v1\0")
            .ok_or("not an openssh-key-v1 key")?;
        if take_string(&mut r)? != b"none" || take_string(&mut r)? != b"none" {
            return Err("the key is encrypted (chatsock needs it without a passphrase)");
        }
        take_string(&mut r)?;
        if take_u32(&mut r)? != 1 {
            return Err("more than one key");
        }
        take_string(&mut r)?;
        let mut p = take_string(&mut r)?;
        if take_u32(&mut p)? != take_u32(&mut p)? {
            return Err("damaged key (check bytes differ)");
        }
        if take_string(&mut p)? != b"ssh-ed25519" {
            return Err("not an Ed25519 key");
        }
        let public = take_string(&mut p)?;
        let both = take_string(&mut p)?;
        if public.len() != 32 || both.len() != 64 || &both[32..] != public {
            return Err("damaged Ed25519 key");
        }
        let mut seed = [0u8; 32];
        seed.copy_from_slice(&both[..32]);
        let key = HostKey::from_seed(&seed);
        if pubkey_blob(&key.key.pubkey()).is_none_or(|b| !b.ends_with(public)) {
            return Err("the public half does not match the private key");
        }
        Ok(key)
    }
}

fn put_u32(out: &mut Vec<u8>, n: u32) {
    out.extend_from_slice(&n.to_be_bytes());
}

fn put_string(out: &mut Vec<u8>, s: &[u8]) {
    put_u32(out, u32::try_from(s.len()).unwrap_or(u32::MAX));
    out.extend_from_slice(s);
}

fn take_u32(r: &mut &[u8]) -> Result<u32, &'static str> {
    let (head, rest) = r.split_at_checked(4).ok_or("truncated key")?;
    *r = rest;
    Ok(u32::from_be_bytes(
        head.try_into().map_err(|_| "truncated key")?,
    ))
}

fn take_string<'a>(r: &mut &'a [u8]) -> Result<&'a [u8], &'static str> {
    let n = take_u32(r)? as usize;
    let (s, rest) = r.split_at_checked(n).ok_or("truncated key")?;
    *r = rest;
    Ok(s)
}

/// The server's SSH setup and what stdout says about it.
#[derive(Debug)]
pub struct Setup {
    /// The host key every connection signs its key exchange with.
    pub host_key: HostKey,
    /// The key file was made on this start.
    pub made: bool,
}

/// Loads the host key from `path`, first making one (mode 0600, written
/// under a temporary name and renamed) when the file does not exist.
/// Errors name the file.
pub fn setup(path: &Path) -> Result<Arc<Setup>, String> {
    let made = match fs::symlink_metadata(path) {
        Ok(_) => false,
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            let key = HostKey::generate()?;
            write_key(path, &key)
                .map_err(|e| format!("cannot write SSH host key file {}: {e}", path.display()))?;
            true
        }
        Err(e) => return Err(format!("cannot look at {}: {e}", path.display())),
    };
    let host_key = load(path)?;
    Ok(Arc::new(Setup { host_key, made }))
}

/// For `--check`: the key's fingerprint, or None when the file does not
/// exist yet (one would be made at start).
pub fn check(path: &Path) -> Result<Option<String>, String> {
    match fs::symlink_metadata(path) {
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        _ => load(path).map(|k| Some(k.fingerprint)),
    }
}

fn load(path: &Path) -> Result<HostKey, String> {
    let text = fs::read_to_string(path)
        .map_err(|e| format!("cannot read SSH host key file {}: {e}", path.display()))?;
    HostKey::from_openssh(&text).map_err(|e| {
        format!(
            "SSH host key file {} is not a usable key: {e} (move it away to have a new one made)",
            path.display()
        )
    })
}

fn write_key(path: &Path, key: &HostKey) -> io::Result<()> {
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(".tmp");
    let tmp = std::path::PathBuf::from(tmp);
    let _ = fs::remove_file(&tmp);
    let result = (|| {
        let mut file = fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&tmp)?;
        file.write_all(key.to_openssh().as_bytes())?;
        file.sync_all()?;
        fs::rename(&tmp, path)
    })();
    let _ = fs::remove_file(&tmp);
    result
}

/// The wire blob of a public key (`string name, key fields`).
fn pubkey_blob(pk: &PubKey) -> Option<Vec<u8>> {
    let mut buf = vec![0u8; 2200]; // fits RSA 8192 (sunset's limit)
    let n = sunset::sshwire::write_ssh(&mut buf, pk).ok()?;
    buf.truncate(n);
    Some(buf)
}

/// OpenSSH's fingerprint: `SHA256:` and unpadded base64 of the blob's
/// SHA-256.
pub fn fingerprint_of_blob(blob: &[u8]) -> String {
    format!("SHA256:{}", base64(&Sha256::digest(blob), false))
}

const B64: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

fn base64(data: &[u8], pad: bool) -> String {
    let mut s = String::with_capacity(data.len().div_ceil(3) * 4);
    for c in data.chunks(3) {
        let byte = |i: usize| u32::from(c.get(i).copied().unwrap_or(0));
        let n = (byte(0) << 16) | (byte(1) << 8) | byte(2);
        for i in 0..=c.len() {
            s.push(char::from(B64[((n >> (18 - 6 * i)) & 63) as usize]));
        }
        if pad {
            for _ in c.len()..3 {
                s.push('=');
            }
        }
    }
    s
}

fn unbase64(text: &str) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(text.len() / 4 * 3);
    let mut acc = 0u32;
    let mut bits = 0;
    for b in text.bytes().filter(|b| *b != b'=') {
        let v = B64.iter().position(|c| *c == b)? as u32;
        acc = (acc << 6) | v;
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
        }
    }
    Some(out)
}

/// Decides logins, on the spot: sunset's auth events borrow the
/// connection and must be answered before it goes on. The shell passes
/// one to [`SshConn::read`] (through `Transport::read`); today it is
/// [`Guests`], and an accounts-aware one answers from the chat core
/// ("is NAME registered, which keys are bound to it").
pub trait Authenticator {
    /// Whether to offer password logins to `user` (asked at the client's
    /// first request, before it picks a method).
    fn offer_password(&mut self, _user: &str) -> bool {
        false
    }
    /// A login without credentials (keyboard-interactive with no prompts).
    fn guest(&mut self, user: &str) -> bool;
    /// A public key, `SHA256:…` (asked for the client's "would you take
    /// this key" query, and again for the signed request whose signature
    /// sunset has already checked).
    fn public_key(&mut self, user: &str, fingerprint: &str) -> bool;
    /// A password.
    fn password(&mut self, _user: &str, _password: &str) -> bool {
        false
    }
}

/// Everyone is a guest: any public key, or none.
#[derive(Debug, Default, Clone, Copy)]
pub struct Guests;

impl Authenticator for Guests {
    fn guest(&mut self, _user: &str) -> bool {
        true
    }
    fn public_key(&mut self, _user: &str, _fingerprint: &str) -> bool {
        true
    }
}

fn would_block() -> io::Error {
    io::ErrorKind::WouldBlock.into()
}

fn ssh_error(e: sunset::Error) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, format!("SSH error: {e}"))
}

/// Where the session is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stage {
    /// Key exchange, login, channel, pty: no shell yet.
    Setup,
    /// The shell is open: channel data is the chat session.
    Shell,
    /// exit-status, EOF and CLOSE are sent (or about to be); nothing
    /// more is taken.
    Closing,
    /// The client ended the channel or the connection.
    Ended,
}

/// One SSH server connection (see the module doc).
pub struct SshConn {
    runner: Runner<'static, sunset::Server>,
    setup: Arc<Setup>,
    /// Socket bytes sunset has not taken yet (it refuses input during key
    /// exchange until its output has been written): at most
    /// [`MAX_PENDING_INPUT`] and one read.
    pending_in: Vec<u8>,
    chan: Option<ChanHandle>,
    stage: Stage,
    user: Option<Box<str>>,
    /// The public key the client logged in with, `SHA256:…`.
    key: Option<Box<str>>,
    /// The last key allowed (the signed request follows the query).
    allowed_key: Option<Box<str>>,
    /// The first auth request (the `none` probe) has been refused.
    probed: bool,
    /// A pty size not yet taken by the terminal (pty-req, window-change).
    size: Option<(u16, u16)>,
    pty: bool,
    /// The shell was opened (the session began).
    shell: bool,
    /// The login name has been handed to the terminal.
    name_taken: bool,
    /// An exec request: refused, the connection ends when the refusal is
    /// out.
    refused: Option<&'static str>,
    socket_eof: bool,
    local: Option<std::net::SocketAddr>,
}

impl fmt::Debug for SshConn {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.debug_struct("SshConn")
            .field("stage", &self.stage)
            .field("user", &self.user)
            .field("key", &self.key)
            .finish()
    }
}

impl SshConn {
    /// A new server-side connection with the host key of `setup`.
    pub fn new(setup: &Arc<Setup>) -> SshConn {
        SshConn {
            runner: Runner::new_server_owned_sized(BUF_IN, BUF_OUT),
            setup: Arc::clone(setup),
            pending_in: Vec::new(),
            chan: None,
            stage: Stage::Setup,
            user: None,
            key: None,
            allowed_key: None,
            probed: false,
            size: None,
            pty: false,
            shell: false,
            name_taken: false,
            refused: None,
            socket_eof: false,
            local: None,
        }
    }

    /// The address the client connected to (for the exec refusal line).
    pub fn set_local_addr(&mut self, local: std::net::SocketAddr) {
        self.local = Some(local);
    }

    /// Until the shell is open (key exchange, login, pty, shell).
    pub fn handshaking(&self) -> bool {
        !self.shell
    }

    /// Whether sunset holds bytes for the socket.
    pub fn wants_write(&self) -> bool {
        self.runner.is_output_pending()
    }

    /// Whether socket bytes wait for sunset to take them (after its
    /// output has been written): the loop reads again after a flush.
    pub fn has_pending_input(&self) -> bool {
        !self.pending_in.is_empty()
    }

    /// The login name, as the client gave it.
    pub fn user(&self) -> Option<&str> {
        self.user.as_deref()
    }

    /// The session was closed by us (exit-status, EOF, CLOSE sent) and the
    /// client has not closed its side yet: closing the socket now would
    /// make it fail with "Broken pipe" instead of exiting with our status,
    /// so the loop keeps reading until then (for a short while).
    pub fn lingering(&self) -> bool {
        self.stage == Stage::Closing
    }

    /// The public key the client logged in with, `SHA256:…`; None for a
    /// guest without a key.
    pub fn key(&self) -> Option<&str> {
        self.key.as_deref()
    }

    /// The client asked for a pty: the terminal is in character mode.
    pub fn pty(&self) -> bool {
        self.pty
    }

    /// A size from the pty request or a window change, once.
    pub fn take_size(&mut self) -> Option<(u16, u16)> {
        self.size.take()
    }

    /// The login name, once: typed at the username prompt for the user.
    pub fn take_name(&mut self) -> Option<&str> {
        if self.stage != Stage::Shell || std::mem::replace(&mut self.name_taken, true) {
            return None;
        }
        self.user.as_deref()
    }

    /// Plaintext typed on the shell channel, else reads the socket and
    /// drives the protocol (answering logins with `auth`) until there is
    /// some, the socket has no more (`WouldBlock`), or the session ends
    /// (`Ok(0)`).
    pub fn read<S: Read + Write>(
        &mut self,
        socket: &mut S,
        buf: &mut [u8],
        auth: &mut dyn Authenticator,
    ) -> io::Result<usize> {
        loop {
            let n = self.read_channel(buf)?;
            if n > 0 {
                return Ok(n);
            }
            if self.stage == Stage::Ended {
                if let Some(why) = self.refused {
                    // The client has its refusal and exit status and has
                    // closed the channel: the connection ends.
                    return Err(io::Error::other(why));
                }
                return Ok(0);
            }
            if self.pump(auth)? {
                continue;
            }
            if self.runner.is_output_pending() {
                // sunset may take more input once its output is written.
                match self.flush(socket) {
                    Ok(()) => {
                        if self.pump(auth)? {
                            continue;
                        }
                    }
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                    Err(e) => return Err(e),
                }
            }
            if self.pending_in.len() >= MAX_PENDING_INPUT {
                // More than any client sends while waiting for its
                // replies: stop reading until sunset takes it.
                return Err(would_block());
            }
            if self.socket_eof {
                self.stage = Stage::Ended;
                continue;
            }
            let mut chunk = [0u8; READ_BYTES];
            let n = match socket.read(&mut chunk) {
                Ok(0) => {
                    self.socket_eof = true;
                    self.runner.close_input();
                    continue;
                }
                Ok(n) => n,
                Err(e) => return Err(e),
            };
            self.pending_in.extend_from_slice(&chunk[..n]);
        }
    }

    /// Channel data for the shell into `buf` (0: none ready).
    fn read_channel(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let Some(ch) = &self.chan else { return Ok(0) };
        let Some((num, dt, _len)) = self.runner.read_channel_ready() else {
            return Ok(0);
        };
        if num != ch.num() || dt != ChanData::Normal || self.stage != Stage::Shell {
            // stderr data from a client, or typing before the shell or
            // while closing: dropped (the window is still re-opened).
            self.runner.discard_read_channel(ch).map_err(ssh_error)?;
            return Ok(0);
        }
        match self.runner.read_channel(ch, ChanData::Normal, buf) {
            Ok(n) => Ok(n),
            Err(sunset::Error::ChannelEOF) => {
                let _ = self.runner.discard_read_channel(ch);
                Ok(0)
            }
            Err(e) => Err(ssh_error(e)),
        }
    }

    /// Feeds held input to sunset and answers what it asks. Returns
    /// whether anything moved.
    fn pump(&mut self, auth: &mut dyn Authenticator) -> io::Result<bool> {
        let mut any = false;
        loop {
            let mut moved = false;
            if !self.pending_in.is_empty() {
                let n = self.runner.input(&self.pending_in).map_err(ssh_error)?;
                if n > 0 {
                    self.pending_in.drain(..n);
                    if self.pending_in.is_empty() {
                        // An idle connection holds no input buffer.
                        self.pending_in = Vec::new();
                    }
                    moved = true;
                }
            }
            moved |= self.progress(auth)?;
            if self.stage == Stage::Ended {
                // sunset says Defunct on every progress() from now on.
                return Ok(true);
            }
            // sunset's count includes the `none` probe and the requests it
            // refuses itself (unknown key types, bad signatures).
            if self.runner.auth_failures() >= MAX_AUTH_FAILURES {
                return Err(io::Error::new(
                    io::ErrorKind::PermissionDenied,
                    "too many SSH authentication failures",
                ));
            }
            if let Some(ch) = &self.chan {
                // The client's EOF ends a session; once we have closed it,
                // its CLOSE (or the socket's end) does.
                let ended = match self.stage {
                    Stage::Shell => {
                        self.runner.is_channel_eof(ch) || self.runner.is_channel_closed(ch)
                    }
                    Stage::Closing => self.runner.is_channel_closed(ch) || self.socket_eof,
                    _ => false,
                };
                if ended {
                    self.stage = Stage::Ended;
                    return Ok(true);
                }
            }
            if self.runner.read_channel_ready().is_some() {
                return Ok(true);
            }
            if !moved {
                return Ok(any);
            }
            any = true;
        }
    }

    /// One `progress()` of sunset, its event answered.
    fn progress(&mut self, auth: &mut dyn Authenticator) -> io::Result<bool> {
        let mut exec = false;
        {
            let ev = match self.runner.progress() {
                Ok(ev) => ev,
                Err(e) => return Err(ssh_error(e)),
            };
            let ev = match ev {
                SEvent::Serv(ev) => ev,
                SEvent::Progressed => return Ok(true),
                SEvent::None | SEvent::Cli(_) => return Ok(false),
            };
            let r: sunset::Result<()> = (|| {
                match ev {
                    ServEvent::Hostkeys(h) => h.hostkeys(&[&self.setup.host_key.key])?,
                    ServEvent::FirstAuth(mut a) => {
                        let user = a.username()?.to_string();
                        if std::mem::replace(&mut self.probed, true) {
                            // keyboard-interactive: a guest login.
                            if auth.guest(&user) {
                                self.allowed_key = None;
                                self.user = Some(user.into());
                                a.allow()?;
                            } else {
                                a.reject()?;
                            }
                        } else {
                            // The `none` probe: refused, with the methods on
                            // offer, so that a client with keys shows them.
                            let password = auth.offer_password(&user);
                            a.set_auth_methods(password, true)?;
                            a.enable_kbdint_auth(true)?;
                            self.user = Some(user.into());
                            a.reject()?;
                        }
                    }
                    ServEvent::PubkeyAuth(a) => {
                        let user = a.username()?.to_string();
                        let fp = pubkey_blob(&a.pubkey()?).map(|b| fingerprint_of_blob(&b));
                        let ok = fp.as_ref().is_some_and(|fp| auth.public_key(&user, fp));
                        self.user = Some(user.into());
                        if ok {
                            self.allowed_key = fp.map(Into::into);
                            a.allow()?;
                        } else {
                            a.reject()?;
                        }
                    }
                    ServEvent::PasswordAuth(a) => {
                        let user = a.username()?.to_string();
                        let ok = auth.password(&user, a.password().unwrap_or(""));
                        self.user = Some(user.into());
                        if ok {
                            self.allowed_key = None;
                            a.allow()?;
                        } else {
                            a.reject()?;
                        }
                    }
                    ServEvent::Authenticated => self.key = self.allowed_key.take(),
                    ServEvent::OpenSession(o) => {
                        if self.chan.is_none() && self.stage == Stage::Setup {
                            self.chan = Some(o.accept()?);
                        } else {
                            o.reject(ChanFail::SSH_OPEN_ADMINISTRATIVELY_PROHIBITED)?;
                        }
                    }
                    ServEvent::SessionPty(p) => {
                        if self.stage == Stage::Setup && !self.pty {
                            let pty = p.pty()?;
                            p.succeed()?;
                            self.pty = true;
                            self.size = Some(clamp_size(pty.cols, pty.rows));
                        } else {
                            p.fail()?;
                        }
                    }
                    ServEvent::SessionWinChange { cols, rows, .. } => {
                        if self.pty {
                            self.size = Some(clamp_size(cols, rows));
                        }
                    }
                    ServEvent::SessionShell(s) => {
                        if self.stage == Stage::Setup {
                            s.succeed()?;
                            self.stage = Stage::Shell;
                            self.shell = true;
                        } else {
                            s.fail()?;
                        }
                    }
                    ServEvent::SessionExec(x) => {
                        if self.stage == Stage::Setup {
                            x.succeed()?;
                            exec = true;
                        } else {
                            x.fail()?;
                        }
                    }
                    ServEvent::SessionSubsystem(x) => x.fail()?,
                    // Must be answered: this event has no Drop default.
                    ServEvent::SessionEnv(x) => x.fail()?,
                    ServEvent::Defunct => self.stage = Stage::Ended,
                    ServEvent::PollAgain => {}
                }
                Ok(())
            })();
            r.map_err(ssh_error)?;
        }
        if exec {
            self.refuse_exec();
        }
        Ok(true)
    }

    fn refuse_exec(&mut self) {
        let Some(ch) = &self.chan else { return };
        let line = exec_refusal(self.local);
        let _ = self
            .runner
            .write_channel(ch, ChanData::Normal, line.as_bytes());
        let _ = self.runner.send_exit_status(ch, 1);
        let _ = self.runner.send_eof(ch);
        let _ = self.runner.send_close(ch);
        self.stage = Stage::Closing;
        self.refused = Some("SSH exec request refused");
    }

    /// Takes what fits in the channel's window and sunset's buffer (one
    /// packet) once its output has gone out, and sends what the socket
    /// takes.
    pub fn write<S: Read + Write>(&mut self, socket: &mut S, buf: &[u8]) -> io::Result<usize> {
        if self.stage != Stage::Shell {
            return match self.stage {
                Stage::Setup => Err(would_block()),
                _ => Err(io::Error::new(
                    io::ErrorKind::BrokenPipe,
                    "the SSH session has ended",
                )),
            };
        }
        self.flush(socket)?;
        let Some(ch) = &self.chan else {
            return Err(would_block());
        };
        let n = match self.runner.write_channel(ch, ChanData::Normal, buf) {
            Ok(0) => return Err(would_block()),
            Ok(n) => n,
            Err(sunset::Error::ChannelEOF) => {
                return Err(io::Error::new(
                    io::ErrorKind::BrokenPipe,
                    "the SSH channel is closed",
                ))
            }
            Err(e) => return Err(ssh_error(e)),
        };
        match self.flush(socket) {
            Err(e) if e.kind() != io::ErrorKind::WouldBlock => Err(e),
            _ => Ok(n),
        }
    }

    /// Writes what sunset holds until done or the socket is full.
    pub fn flush<S: Read + Write>(&mut self, socket: &mut S) -> io::Result<()> {
        loop {
            let out = self.runner.output_buf();
            if out.is_empty() {
                return Ok(());
            }
            match socket.write(out) {
                Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
                Ok(n) => self.runner.consume_output(n),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
    }

    /// Ends the session: exit-status 0, EOF, CLOSE (sent by the next
    /// flush), so the client exits cleanly.
    pub fn close(&mut self) {
        if self.stage != Stage::Shell {
            return;
        }
        self.stage = Stage::Closing;
        if let Some(ch) = &self.chan {
            let _ = self.runner.send_exit_status(ch, 0);
            let _ = self.runner.send_eof(ch);
            let _ = self.runner.send_close(ch);
        }
    }
}

/// A reported size as the terminal takes it (0 = unknown, kept by it).
fn clamp_size(cols: u32, rows: u32) -> (u16, u16) {
    let c = |v: u32| u16::try_from(v).unwrap_or(u16::MAX);
    (c(cols), c(rows))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_connection_is_sunset_s_buffers_and_a_few_kib() {
        // Besides the two packet buffers (BUF_IN + BUF_OUT, on the heap).
        let size = std::mem::size_of::<SshConn>();
        assert!(size <= 6 * 1024, "SshConn is {size} bytes");
    }

    #[test]
    fn base64_round_trips() {
        for data in [&b""[..], b"f", b"fo", b"foo", b"foob", b"fooba", b"foobar"] {
            assert_eq!(unbase64(&base64(data, true)).unwrap(), data);
        }
        assert_eq!(base64(b"foobar", true), "Zm9vYmFy");
        assert_eq!(base64(b"fo", true), "Zm8=");
        assert_eq!(base64(b"fo", false), "Zm8");
    }

    #[test]
    fn a_host_key_survives_its_file_format() {
        let key = HostKey::from_seed(&[7; 32]);
        let text = key.to_openssh();
        let again = HostKey::from_openssh(&text).unwrap();
        assert_eq!(again.fingerprint(), key.fingerprint());
        assert!(key.fingerprint().starts_with("SHA256:"));
        assert_eq!(key.fingerprint().len(), 7 + 43);
        assert!(HostKey::from_openssh("hello").is_err());
        let broken = text.replace('A', "B");
        assert!(HostKey::from_openssh(&broken).is_err());
    }

    #[test]
    fn setup_makes_a_private_key_once_and_names_broken_files() {
        let dir = std::env::temp_dir().join(format!("chatsock-ssh-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).unwrap();
        let path = dir.join("hostkey");
        let first = setup(&path).unwrap();
        assert!(first.made);
        use std::os::unix::fs::PermissionsExt;
        let mode = fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        let second = setup(&path).unwrap();
        assert!(!second.made);
        assert_eq!(first.host_key.fingerprint(), second.host_key.fingerprint());
        assert_eq!(
            check(&path).unwrap().as_deref(),
            Some(first.host_key.fingerprint())
        );
        assert_eq!(check(&dir.join("none")).unwrap(), None);
        let junk = dir.join("junk");
        fs::write(&junk, "hello").unwrap();
        let e = setup(&junk).unwrap_err();
        assert!(e.contains("junk") && e.contains("not a usable key"), "{e}");
        let e = setup(&dir).unwrap_err();
        assert!(e.contains(&dir.display().to_string()), "{e}");
        let _ = fs::remove_dir_all(&dir);
    }
}
