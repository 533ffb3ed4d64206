// NOT YET COMPILED INTO THE CRATE (issue 13 wires it in). It builds in the
// prototype with, in Cargo.toml:
//   sunset = { version = "0.6.0", default-features = false, features = ["std", "rsa", "ecdsa256"] }
//   sha2 = "0.11"
//   [patch.crates-io] sunset = { path = "vendor/sunset" }
// where vendor/sunset is the crates.io sunset 0.6.0 source with
// vendor-patches/sunset-0.6.0-chatsock.patch applied (`patch -p1`).
// See SSH-EVALUATION.md.

//! SSH transport for a single-threaded mio loop: one [`SshConn`] per TCP
//! connection, pumped like a rustls `ServerConnection` — socket bytes go in
//! with [`SshConn::input`], socket bytes come out of [`SshConn::output`] /
//! [`SshConn::consume`], and what the client asked for comes out of
//! [`SshConn::events`]. No threads, no async runtime, no I/O in here.
//!
//! Built on `sunset` 0.6.0 (Matt Johnston's sans-IO, `no_std`-capable SSH
//! library, 0BSD) **with a small local patch** (vendor/sunset, ~110 lines):
//! stock 0.6.0 does not tell a server the pty size, drops `window-change`,
//! and has no way for a server to send `exit-status`, channel EOF or
//! channel CLOSE. See PATCH.md next to the vendored crate.
//!
//! # What it speaks (sunset 0.6.0)
//! * kex: `mlkem768x25519-sha256`, `curve25519-sha256(@libssh.org)`, strict
//!   kex (Terrapin fix); host key `ssh-ed25519` (this wrapper only loads
//!   Ed25519 host keys); ciphers `chacha20-poly1305@openssh.com`,
//!   `aes256-ctr` + `hmac-sha2-256`. No compression.
//! * client keys for publickey auth: ed25519, rsa-sha2-256/512 (feature
//!   `rsa`), ecdsa-sha2-nistp256 (feature `ecdsa256`). Other key types
//!   (ecdsa p384/p521, sk-*, certificates) are refused as unknown.
//! * auth methods: `none` (via [`Authenticator::none`], called once for the
//!   client's first request of a method sunset does not handle, normally
//!   `none`), `publickey`, `password`. No keyboard-interactive.
//!
//! # Limits (by design of this wrapper or of sunset)
//! * One `session` channel per connection: later channel opens are refused
//!   (sunset also caps a connection at 4 channels in its whole life — slots
//!   are never reused). No port forwarding, no agent forwarding, no X11, no
//!   subsystems (sftp), `env` requests are refused.
//! * Auth decisions are **synchronous**: sunset's auth event borrows the
//!   connection and must be answered before it goes on, so the
//!   [`Authenticator`] passed to [`SshConn::pump`] decides on the spot.
//!   The key's fingerprint *is* known before deciding. A publickey request
//!   is asked twice (the "would you accept this key" query and the signed
//!   request, whose signature sunset has already verified); answer the same.
//! * sunset has no timers: no login grace time, no limit on auth attempts,
//!   no keepalive. This wrapper adds a login deadline ([`SshConn::expired`])
//!   and a cap on failed attempts ([`MAX_AUTH_FAILURES`]).
//! * Inbound channel window is sunset's fixed 1000 bytes (packets of at
//!   most 1000 bytes; it re-opens the window once half is read): plenty for
//!   typing, slow for a large paste over a long RTT.
//! * Memory: each connection owns two 35,000-byte packet buffers (sunset's
//!   `new_server_owned`), about 70 KB per connection plus the runner state.
//! * After the client's EOF ([`Event::Eof`]) the server may still send
//!   (stock sunset echoed EOF at once; the patch leaves that to `close`).
//! * Re-keying is driven by the client (OpenSSH re-keys after ~1 GB): while
//!   it runs, `send_data` accepts 0 bytes and input waits for output to be
//!   drained; just keep pumping.

use std::collections::VecDeque;
use std::fmt;
use std::rc::Rc;
use std::time::{Duration, Instant};

use sha2::{Digest, Sha256};
use sunset::{ChanData, ChanFail, ChanHandle, Event as SEvent, PubKey, Runner, ServEvent, SignKey};

/// How long a client has to authenticate after connecting.
pub const LOGIN_GRACE: Duration = Duration::from_secs(30);
/// Failed auth attempts (every refused answer counts) before disconnecting.
pub const MAX_AUTH_FAILURES: u32 = 10;
/// Input held back (socket bytes sunset could not take yet) before
/// [`SshConn::wants_read`] says stop reading the socket.
const MAX_PENDING_INPUT: usize = 64 * 1024;
/// sunset's receive buffer: the largest packet the client may send. OpenSSH
/// sends at most ~2.5 KB outside channel data (KEXINIT, an RSA-8192 key
/// with its signature), and channel data is capped by sunset's 1000-byte
/// max packet. (sunset's default is 35,000, the RFC 4253 minimum.)
pub const BUF_IN: usize = 8 * 1024;
/// sunset's send buffer: bounds the packets we send, channel data included.
pub const BUF_OUT: usize = 8 * 1024;

/// An Ed25519 host key with its OpenSSH-style public forms.
pub struct HostKey {
    key: SignKey,
    fingerprint: String,
    public_openssh: String,
}

impl HostKey {
    /// From the 32-byte Ed25519 seed.
    pub fn from_seed(seed: &[u8; 32]) -> HostKey {
        Self::from_key(SignKey::Ed25519(sunset::ed25519_dalek::SigningKey::from_bytes(seed)))
    }

    /// A new random key (the OS RNG, through sunset's getrandom).
    pub fn generate() -> HostKey {
        Self::from_key(SignKey::generate(sunset::KeyType::Ed25519, None).expect("ed25519 keygen"))
    }

    fn from_key(key: SignKey) -> HostKey {
        let blob = pubkey_blob(&key.pubkey()).expect("encode host key");
        HostKey {
            fingerprint: fingerprint_of_blob(&blob),
            public_openssh: format!("ssh-ed25519 {}", base64(&blob, true)),
            key,
        }
    }

    /// The 32-byte seed, to store (mode 0600).
    pub fn seed(&self) -> [u8; 32] {
        match &self.key {
            SignKey::Ed25519(k) => k.to_bytes(),
            _ => unreachable!("only Ed25519 host keys are made"),
        }
    }

    /// Loads the seed file at `path` (32 raw bytes), or makes a key and
    /// writes it there with mode 0600 (created exclusively: never
    /// overwrites).
    pub fn load_or_generate(path: &std::path::Path) -> std::io::Result<HostKey> {
        use std::io::{Read, Write};
        use std::os::unix::fs::OpenOptionsExt;
        match std::fs::File::open(path) {
            Ok(mut f) => {
                let mut seed = [0u8; 32];
                let mut rest = Vec::new();
                f.read_exact(&mut seed)?;
                f.read_to_end(&mut rest)?;
                if !rest.is_empty() {
                    return Err(std::io::Error::other("host key file is not 32 bytes"));
                }
                Ok(HostKey::from_seed(&seed))
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let key = HostKey::generate();
                let mut f = std::fs::OpenOptions::new()
                    .write(true)
                    .create_new(true)
                    .mode(0o600)
                    .open(path)?;
                f.write_all(&key.seed())?;
                f.sync_all()?;
                Ok(key)
            }
            Err(e) => Err(e),
        }
    }

    /// `SHA256:…` as `ssh-keygen -lf` and the client's prompt show it.
    pub fn fingerprint(&self) -> &str {
        &self.fingerprint
    }

    /// `ssh-ed25519 AAAA…` (a line for known_hosts or a .pub file).
    pub fn public_openssh(&self) -> &str {
        &self.public_openssh
    }
}

/// The wire blob of a public key (`string name, key fields`).
fn pubkey_blob(pk: &PubKey) -> Option<Vec<u8>> {
    let mut buf = vec![0u8; 2200]; // fits RSA 8192 (sunset's limit)
    let n = sunset::sshwire::write_ssh(&mut buf, pk).ok()?;
    buf.truncate(n);
    Some(buf)
}

/// OpenSSH's fingerprint: "SHA256:" + unpadded base64 of sha256(blob).
pub fn fingerprint_of_blob(blob: &[u8]) -> String {
    format!("SHA256:{}", base64(&Sha256::digest(blob), false))
}

fn base64(data: &[u8], pad: bool) -> String {
    const A: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut s = String::with_capacity(data.len().div_ceil(3) * 4);
    for c in data.chunks(3) {
        let n = (c[0] as u32) << 16 | (*c.get(1).unwrap_or(&0) as u32) << 8 | *c.get(2).unwrap_or(&0) as u32;
        for i in 0..=c.len() {
            s.push(A[(n >> (18 - 6 * i) & 63) as usize] as char);
        }
        if pad {
            for _ in c.len()..3 {
                s.push('=');
            }
        }
    }
    s
}

/// Decides logins, on the spot (see the module doc). Every method refuses
/// unless overridden.
pub trait Authenticator {
    /// Which methods to offer the client: (password, publickey). Applied
    /// from the client's first auth request on (sunset offers both until
    /// then).
    fn methods(&mut self) -> (bool, bool) {
        (true, true)
    }
    /// The client's first attempt with a method sunset does not check
    /// itself (normally `none`). `true` lets it in without credentials.
    fn none(&mut self, _user: &str) -> bool {
        false
    }
    /// A public key (its signature verified by sunset when it is the signed
    /// request; asked also for the unsigned query). `fingerprint` is
    /// OpenSSH's `SHA256:…`.
    fn public_key(&mut self, _user: &str, _fingerprint: &str) -> bool {
        false
    }
    /// A password.
    fn password(&mut self, _user: &str, _password: &str) -> bool {
        false
    }
}

/// How a client got in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AuthMethod {
    None,
    PublicKey { fingerprint: String },
    Password,
}

/// What the client did, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// Logged in (once per connection).
    Authenticated { user: String, method: AuthMethod },
    /// pty-req (accepted). `term` is the client's TERM.
    Pty { term: String, cols: u32, rows: u32 },
    /// window-change.
    Resize { cols: u32, rows: u32 },
    /// shell request (accepted).
    Shell,
    /// exec request: accepted at the SSH level so that the app can answer
    /// on the channel (e.g. a line and `close(1)`).
    Exec(String),
    /// Bytes typed by the client.
    Data(Vec<u8>),
    /// The client will send no more data (channel EOF).
    Eof,
    /// The connection is over (socket closed or the session was closed):
    /// flush [`SshConn::output`] if you like, then drop it.
    Closed,
}

#[derive(Debug)]
pub struct SshError(String);

impl fmt::Display for SshError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for SshError {}

impl From<sunset::Error> for SshError {
    fn from(e: sunset::Error) -> Self {
        SshError(e.to_string())
    }
}

/// One SSH server connection (see the module doc).
pub struct SshConn {
    runner: Runner<'static, sunset::Server>,
    host_key: Rc<HostKey>,
    /// Socket bytes not yet taken by sunset (it refuses input during key
    /// exchange until its output has been drained).
    pending_in: Vec<u8>,
    events: VecDeque<Event>,
    chan: Option<ChanHandle>,
    user: Option<String>,
    /// Fingerprint of the last public key allowed, for `Authenticated`.
    allowed_key: Option<String>,
    last_allowed: Option<AuthMethod>,
    authed: bool,
    auth_failures: u32,
    deadline: Instant,
    eof_seen: bool,
    /// The socket hit EOF; sunset is told once the held input is fed.
    socket_eof: bool,
    closing: bool,
    closed: bool,
}

impl SshConn {
    pub fn new(host_key: Rc<HostKey>, now: Instant) -> SshConn {
        Self::with_buffers(host_key, now, BUF_IN, BUF_OUT)
    }

    /// With sunset packet buffers of chosen sizes (35,000 each is sunset's
    /// default and the RFC 4253 minimum).
    pub fn with_buffers(host_key: Rc<HostKey>, now: Instant, buf_in: usize, buf_out: usize) -> SshConn {
        SshConn {
            runner: Runner::new_server_owned_sized(buf_in, buf_out),
            host_key,
            pending_in: Vec::new(),
            events: VecDeque::new(),
            chan: None,
            user: None,
            allowed_key: None,
            last_allowed: None,
            authed: false,
            auth_failures: 0,
            deadline: now + LOGIN_GRACE,
            eof_seen: false,
            socket_eof: false,
            closing: false,
            closed: false,
        }
    }

    /// Bytes read from the socket. Call [`pump`](Self::pump) afterwards.
    pub fn input(&mut self, bytes: &[u8]) {
        if !self.closed {
            self.pending_in.extend_from_slice(bytes);
        }
    }

    /// The socket reached EOF (or failed): the connection winds down and
    /// the next [`pump`](Self::pump) yields [`Event::Closed`].
    pub fn input_eof(&mut self) {
        self.socket_eof = true;
    }

    /// Whether to keep reading the socket (false while too much input
    /// waits for the output to be written: backpressure).
    pub fn wants_read(&self) -> bool {
        !self.closed && self.pending_in.len() < MAX_PENDING_INPUT
    }

    /// Whether [`output`](Self::output) has bytes for the socket.
    pub fn wants_write(&mut self) -> bool {
        !self.runner.output_buf().is_empty()
    }

    /// Bytes to write to the socket; then [`consume`](Self::consume) what
    /// was written and [`pump`](Self::pump) again (output space lets
    /// sunset take more input).
    pub fn output(&mut self) -> &[u8] {
        self.runner.output_buf()
    }

    pub fn consume(&mut self, n: usize) {
        self.runner.consume_output(n);
    }

    /// Convenience: append all pending output to `out`.
    pub fn write_to(&mut self, out: &mut Vec<u8>) {
        loop {
            let b = self.runner.output_buf();
            if b.is_empty() {
                break;
            }
            let n = b.len();
            out.extend_from_slice(b);
            self.runner.consume_output(n);
        }
    }

    /// Events produced by the last pumps.
    pub fn events(&mut self) -> impl Iterator<Item = Event> + '_ {
        self.events.drain(..)
    }

    /// True once authentication is past the login deadline (`now` from the
    /// loop's clock): the caller drops the connection.
    pub fn expired(&self, now: Instant) -> bool {
        !self.authed && now >= self.deadline
    }

    pub fn is_authenticated(&self) -> bool {
        self.authed
    }

    /// Whether the connection is over: [`Event::Closed`] was produced, or
    /// we closed the session and the client closed it too. Flush output,
    /// then drop the socket.
    pub fn is_closed(&self) -> bool {
        self.closed
    }

    /// Drives the protocol: feeds held input to sunset and answers what
    /// needs answering (auth with `auth`, the rest by this wrapper's
    /// policy). Call after `input`, `input_eof`, `consume`, `send_data` and
    /// `close`. An error is fatal for the connection.
    pub fn pump(&mut self, auth: &mut dyn Authenticator) -> Result<(), SshError> {
        let r = self.pump_inner(auth);
        if r.is_err() {
            self.closed = true;
        }
        r
    }

    fn pump_inner(&mut self, auth: &mut dyn Authenticator) -> Result<(), SshError> {
        if self.closed {
            return Ok(());
        }
        loop {
            let mut moved = false;
            if !self.pending_in.is_empty() {
                let n = self.runner.input(&self.pending_in)?;
                if n > 0 {
                    self.pending_in.drain(..n);
                    moved = true;
                }
            }
            if self.socket_eof && self.pending_in.is_empty() {
                // Only now: sunset refuses input() once closed.
                self.socket_eof = false;
                self.runner.close_input();
                moved = true;
            }
            let mut failed_auth = false;
            match self.runner.progress()? {
                SEvent::Serv(ev) => {
                    moved = true;
                    match ev {
                        ServEvent::Hostkeys(h) => h.hostkeys(&[&self.host_key.key])?,
                        ServEvent::FirstAuth(mut a) => {
                            let (pw, pk) = auth.methods();
                            a.set_auth_methods(pw, pk)?;
                            let user = a.username()?.to_string();
                            let ok = auth.none(&user);
                            self.user = Some(user);
                            if ok {
                                self.last_allowed = Some(AuthMethod::None);
                                a.allow()?
                            } else {
                                a.reject()?
                            }
                        }
                        ServEvent::PubkeyAuth(mut a) => {
                            let (pw, pk) = auth.methods();
                            a.set_auth_methods(pw, pk)?;
                            let user = a.username()?.to_string();
                            let fp = pubkey_blob(&a.pubkey()?).map(|b| fingerprint_of_blob(&b));
                            let ok = fp.as_ref().is_some_and(|fp| auth.public_key(&user, fp));
                            self.user = Some(user);
                            if ok {
                                self.last_allowed = Some(AuthMethod::PublicKey {
                                    fingerprint: fp.clone().unwrap_or_default(),
                                });
                                self.allowed_key = fp;
                                a.allow()?
                            } else {
                                failed_auth = true;
                                a.reject()?
                            }
                        }
                        ServEvent::PasswordAuth(mut a) => {
                            let (pw, pk) = auth.methods();
                            a.set_auth_methods(pw, pk)?;
                            let user = a.username()?.to_string();
                            let ok = auth.password(&user, a.password().unwrap_or(""));
                            self.user = Some(user);
                            if ok {
                                self.last_allowed = Some(AuthMethod::Password);
                                a.allow()?
                            } else {
                                failed_auth = true;
                                a.reject()?
                            }
                        }
                        ServEvent::Authenticated => {
                            self.authed = true;
                            let method = self.last_allowed.take().unwrap_or(AuthMethod::None);
                            self.events.push_back(Event::Authenticated {
                                user: self.user.clone().unwrap_or_default(),
                                method,
                            });
                        }
                        ServEvent::OpenSession(o) => {
                            if self.chan.is_none() && !self.closing {
                                self.chan = Some(o.accept()?);
                            } else {
                                o.reject(ChanFail::SSH_OPEN_ADMINISTRATIVELY_PROHIBITED)?;
                            }
                        }
                        ServEvent::SessionPty(p) => {
                            let pty = p.pty()?;
                            p.succeed()?;
                            self.events.push_back(Event::Pty {
                                term: pty.term.as_str().to_string(),
                                cols: pty.cols,
                                rows: pty.rows,
                            });
                        }
                        ServEvent::SessionWinChange { cols, rows, .. } => {
                            self.events.push_back(Event::Resize { cols, rows });
                        }
                        ServEvent::SessionShell(s) => {
                            s.succeed()?;
                            self.events.push_back(Event::Shell);
                        }
                        ServEvent::SessionExec(x) => {
                            let cmd = x.command().unwrap_or("").to_string();
                            x.succeed()?;
                            self.events.push_back(Event::Exec(cmd));
                        }
                        // sftp etc.: refused (sunset answers failure).
                        ServEvent::SessionSubsystem(x) => x.fail()?,
                        // env: refused. It must be answered: this event has
                        // no Drop default, and progress() fails otherwise.
                        ServEvent::SessionEnv(x) => x.fail()?,
                        ServEvent::Defunct => {
                            self.closed = true;
                            self.events.push_back(Event::Closed);
                            return Ok(());
                        }
                        ServEvent::PollAgain => {}
                    }
                }
                SEvent::Progressed => moved = true,
                SEvent::None => {}
                SEvent::Cli(_) => {}
            }
            if failed_auth {
                self.auth_failures += 1;
                if self.auth_failures >= MAX_AUTH_FAILURES {
                    return Err(SshError("too many authentication failures".into()));
                }
            }
            moved |= self.read_channel()?;
            if let Some(ch) = &self.chan {
                if !self.eof_seen && self.runner.is_channel_eof(ch) {
                    self.eof_seen = true;
                    self.events.push_back(Event::Eof);
                }
                if self.closing && self.runner.is_channel_closed(ch) && !self.closed {
                    // Both sides sent CLOSE: the session is over.
                    self.closed = true;
                    self.events.push_back(Event::Closed);
                    return Ok(());
                }
            }
            if !moved {
                return Ok(());
            }
        }
    }

    /// Moves received channel data into `Event::Data`.
    fn read_channel(&mut self) -> Result<bool, SshError> {
        let Some(ch) = &self.chan else { return Ok(false) };
        let mut moved = false;
        while let Some((_num, _dt, len)) = self.runner.read_channel_ready() {
            let mut buf = vec![0u8; len];
            let n = match self.runner.read_channel(ch, ChanData::Normal, &mut buf) {
                Ok(n) => n,
                Err(sunset::Error::ChannelEOF) => {
                    self.runner.discard_read_channel(ch)?;
                    0
                }
                Err(e) => return Err(e.into()),
            };
            if n == 0 {
                break;
            }
            moved = true;
            buf.truncate(n);
            if !self.closing {
                self.events.push_back(Event::Data(buf));
            }
        }
        Ok(moved)
    }

    /// How many bytes [`send_data`](Self::send_data) would take now
    /// (min of the client's window, its max packet and output space).
    pub fn send_capacity(&self) -> usize {
        match &self.chan {
            Some(ch) if !self.closing => {
                self.runner.write_channel_ready(ch, ChanData::Normal).ok().flatten().unwrap_or(0)
            }
            _ => 0,
        }
    }

    /// Sends `plaintext` on the session channel, as much as the client's
    /// window and the output buffer allow; returns how much was taken (0:
    /// try again after the output has been written / the client opened
    /// its window, i.e. after the next `consume`+`pump` or `input`+`pump`).
    pub fn send_data(&mut self, plaintext: &[u8]) -> usize {
        let Some(ch) = &self.chan else { return 0 };
        if self.closing {
            return 0;
        }
        let mut sent = 0;
        while sent < plaintext.len() {
            match self.runner.write_channel(ch, ChanData::Normal, &plaintext[sent..]) {
                Ok(0) | Err(_) => break,
                Ok(n) => sent += n,
            }
        }
        sent
    }

    /// Ends the session: `exit-status`, EOF, CLOSE. The client then closes
    /// its side and exits with `exit_status`; [`Event::Closed`] follows.
    /// Without a session channel (before `shell`) this just closes.
    pub fn close(&mut self, exit_status: u32) {
        if self.closing || self.closed {
            return;
        }
        self.closing = true;
        match &self.chan {
            Some(ch) => {
                let _ = self.runner.send_exit_status(ch, exit_status);
                let _ = self.runner.send_eof(ch);
                let _ = self.runner.send_close(ch);
            }
            None => self.closed = true,
        }
    }
}
