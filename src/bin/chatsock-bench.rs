//! chatsock-bench: a single-threaded mio load generator that logs many
//! clients into a chatsock server and measures chat fan-out (`fanout`),
//! the server's memory per idle client (`idle`), or what chat-view clients
//! that never read cost the server and the kernel (`stall`); see
//! BENCHMARKS.md.
//!
//! Message text carries `%%SENDER:SEQ:NANOS%` (NANOS since the bench
//! started) padded to `--len` characters; every receiver scans its byte
//! stream for those tokens and counts each message's first arrival only,
//! since a sender's full redraw repeats its history. A token counts only
//! right after `]: `, the end of a history line's `[name      ]: ` prefix,
//! so a character-mode sender's echo of its own typing (`> %%…`, maybe
//! scrolled) is never taken for a delivery. Never prints message text.
//!
//! The server opens every connection with telnet option offers (IAC WILL
//! ECHO, WILL SGA, DO NAWS, then `\r ESC[K`); by default clients ignore
//! them (the scan skips non-token bytes) and stay in line mode, ending
//! their lines with `\r\n`. With `--char` each client answers at once (DO
//! ECHO, DO SGA, WILL NAWS and an 80×24 NAWS report): the server then
//! echoes and edits what it types, and every line it sends ends in `\r`
//! (Enter), as a telnet client in character mode would.
//!
//! `stall` reads the kernel's side from /proc: /proc/net/sockstat (TCP
//! memory in pages) and /proc/net/tcp{,6} (each server socket's Send-Q, the
//! `tx_queue` column, and its state, which tells which viewers the server
//! has closed).

use mio::net::TcpStream;
use mio::{Events, Interest, Poll, Token};
use std::io::{self, Read, Write};
use std::net::{Ipv4Addr, SocketAddr, ToSocketAddrs};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// A rustls client configuration trusting the certificates in `path`.
fn tls_config(path: &str) -> Result<Arc<rustls::ClientConfig>, String> {
    use rustls::pki_types::pem::PemObject;
    let mut roots = rustls::RootCertStore::empty();
    let certs = rustls::pki_types::CertificateDer::pem_file_iter(path)
        .map_err(|e| format!("--cafile {path}: {e}"))?;
    for c in certs {
        let c = c.map_err(|e| format!("--cafile {path}: {e}"))?;
        roots.add(c).map_err(|e| format!("--cafile {path}: {e}"))?;
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(Arc::new(config))
}

/// The Ed25519 key every `--ssh` client logs in with (any key is a guest).
fn ssh_key() -> sunset::SignKey {
    sunset::SignKey::Ed25519(sunset::ed25519_dalek::SigningKey::from_bytes(&[42; 32]))
}

/// `--ssh`: one client's SSH session, sunset's client side pumped like
/// rustls's (sans-IO): publickey login with [`ssh_key`] as the client's
/// name, one `session` channel with a shell and no pty, so the server's
/// terminal is in line mode as for a default plain client.
struct SshClient {
    runner: sunset::Runner<'static, sunset::Client>,
    user: String,
    chan: Option<sunset::ChanHandle>,
    key_offered: bool,
    shell: bool,
    ended: bool,
    pending_in: Vec<u8>,
}

fn ssh_err(e: sunset::Error) -> io::Error {
    io::Error::other(format!("SSH: {e}"))
}

impl SshClient {
    fn new(user: String) -> SshClient {
        SshClient {
            runner: sunset::Runner::new_client_owned(),
            user,
            chan: None,
            key_offered: false,
            shell: false,
            ended: false,
            pending_in: Vec::new(),
        }
    }

    /// Writes what sunset holds until done or the socket is full.
    fn send(&mut self, stream: &mut TcpStream) -> io::Result<()> {
        loop {
            let out = self.runner.output_buf();
            if out.is_empty() {
                return Ok(());
            }
            match stream.write(out) {
                Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
                Ok(n) => self.runner.consume_output(n),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(()),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
    }

    /// One `progress()`, its event answered; whether anything moved.
    fn progress(&mut self) -> io::Result<bool> {
        use sunset::{CliEvent, Event};
        let mut open = false;
        let moved = {
            let ev = self.runner.progress().map_err(ssh_err)?;
            match ev {
                Event::Cli(ev) => {
                    match ev {
                        CliEvent::Hostkey(h) => h.accept(),
                        CliEvent::Username(u) => u.username(&self.user),
                        CliEvent::Password(p) => p.skip(),
                        CliEvent::Pubkey(p) => {
                            if std::mem::replace(&mut self.key_offered, true) {
                                p.skip()
                            } else {
                                p.pubkey(ssh_key())
                            }
                        }
                        CliEvent::AgentSign(a) => a.skip(),
                        CliEvent::Authenticated => {
                            open = true;
                            Ok(())
                        }
                        CliEvent::SessionOpened(mut o) => {
                            self.shell = true;
                            o.shell()
                        }
                        CliEvent::SessionExit(_) | CliEvent::Defunct => {
                            self.ended = true;
                            Ok(())
                        }
                        CliEvent::Banner(_) | CliEvent::PollAgain => Ok(()),
                    }
                    .map_err(ssh_err)?;
                    true
                }
                Event::Progressed => true,
                Event::None | Event::Serv(_) => false,
            }
        };
        if open {
            self.chan = Some(self.runner.open_client_session().map_err(ssh_err)?);
        }
        Ok(moved)
    }

    /// Plaintext from the shell channel; else drives the protocol and
    /// reads the socket until it has none (`WouldBlock`).
    fn read(&mut self, stream: &mut TcpStream, buf: &mut [u8]) -> io::Result<usize> {
        loop {
            if let (Some(ch), true) = (&self.chan, self.shell) {
                if self.runner.read_channel_ready().is_some() {
                    match self.runner.read_channel(ch, sunset::ChanData::Normal, buf) {
                        Ok(0) => {}
                        Ok(n) => return Ok(n),
                        Err(_) => return Ok(0),
                    }
                }
            }
            if self.ended {
                return Ok(0);
            }
            let mut moved = false;
            if !self.pending_in.is_empty() {
                let n = self.runner.input(&self.pending_in).map_err(ssh_err)?;
                self.pending_in.drain(..n);
                moved = n > 0;
            }
            moved |= self.progress()?;
            self.send(stream)?;
            if moved || self.runner.read_channel_ready().is_some() {
                continue;
            }
            if self.pending_in.len() > 1 << 20 {
                return Err(io::Error::other("SSH: the server sends too much"));
            }
            let mut chunk = [0u8; 4096];
            match stream.read(&mut chunk)? {
                0 => return Ok(0),
                n => self.pending_in.extend_from_slice(&chunk[..n]),
            }
        }
    }

    /// Hands plaintext to the shell channel (what its window takes).
    fn write(&mut self, stream: &mut TcpStream, buf: &[u8]) -> io::Result<usize> {
        self.send(stream)?;
        let Some(ch) = self.chan.as_ref().filter(|_| self.shell) else {
            return Err(io::ErrorKind::WouldBlock.into());
        };
        let n = self
            .runner
            .write_channel(ch, sunset::ChanData::Normal, buf)
            .map_err(ssh_err)?;
        self.send(stream)?;
        if n == 0 {
            return Err(io::ErrorKind::WouldBlock.into());
        }
        Ok(n)
    }
}

const USAGE: &str = "\
chatsock-bench: load generator for a chatsock server (start it with bench.ron)

usage:
  chatsock-bench fanout --addr HOST:PORT -n N -s S -m M [options]
  chatsock-bench idle   --addr HOST:PORT -n N [options]
  chatsock-bench stall  --addr HOST:PORT -n N [-s SECS] [--rate R] [options]
  chatsock-bench handshake --addr HOST:PORT -n N [--rate R] [--cafile F] [options]

fanout: N clients log in, `:join ROOM` and `:chat`; S of them then send M
messages each; every receiver records each message's first arrival.
  --rate R          total messages/s over all senders (open loop; default:
                    as fast as the window allows)
  --window W        as-fast-as-possible mode: messages a sender may have in
                    flight (sent, not yet seen by any receiver); default 32
  --ack-timeout MS  window mode: give up on (count as lost) a message no
                    receiver has shown after MS ms (default 250)
  --len L           message length in characters (default 100)
  --room ROOM       room to join (default general)
  --logins L        while the viewers chat, L more clients log in to
                    accounts (login0 .. login(L-1), registered first if they
                    are not), spread evenly over the first --login-secs
                    (default 1) of the measurement; reports their login
                    times (each includes one argon2id check)
idle: N clients log in with distinct names, join rooms round-robin and sit.
  --rooms A,B       rooms to spread clients over (default general,games)
  --hold SECS       stay connected this long after measuring (default 0)
stall: N viewers (P0 .. P(N-1)) with a small receive buffer log in,
`:join ROOM` and `:chat`, then never read again; one more client, PN, then
sends messages for SECS seconds (default 30) and reads and discards what
it gets. Every second it prints the server's RSS, the kernel's TCP memory
(/proc/net/sockstat), the Send-Q of the server's sockets to the viewers
(/proc/net/tcp, tcp6) and how many viewers the server has closed.
  --rate R          messages/s from the sender (default 5, the server's
                    default floodRate)
  --rcvbuf B        the viewers' SO_RCVBUF, set before connect (default
                    4096; the kernel doubles it)
  --len L, --room ROOM  as for fanout
  --hold SECS       stay connected this long after the RESULT line,
                    sending nothing (default 0)
handshake: N new TLS (or --ssh) connections, each closed once the server's
first byte of the session arrives (the handshake done); at most
--concurrency at once, or opened at --rate R per second (open loop).
common:
  --ssh             clients speak SSH (to the server's SSH port): sunset's
                    client, publickey login with a fixed Ed25519 key as
                    the client's name, a shell without a pty (line mode)
  --tls             clients speak TLS (to the server's TLS port), trusting
                    the certificate in --cafile (default chatsock-cert.pem)
  --pid PID         the server's pid: report its CPU time and memory
  --prefix P        username prefix (default u; names are P0, P1, ...)
  --char            character mode: every client answers the server's telnet
                    offer (DO ECHO, DO SGA, WILL NAWS, NAWS 80x24) before
                    its username and ends its lines with \r; the server
                    echoes what it types (default: line mode, lines end
                    with \r\n, the offer unanswered)
  --concurrency C   logins in progress at once (default 100; the
                    server's listen backlog is 128)
  --src-ips K       spread sockets over source addresses 127.0.0.1..K
                    (default: one per 10,000 clients on loopback)
  --settle SECS     quiet time before measuring (default 0.3 fanout, 1 idle)
  --stall SECS      fail when nothing progresses this long (default 10)
  --timeout SECS    fail after this long in all (default 600)

Prints one machine-readable `RESULT key=value ...` line and a summary.
Exit status: 0 ok, 1 the run failed (stalled, refused, disconnected), 2 usage.";

/// The longest `%%S:Q:T%` token (u32:u32:u64) with the [`LEAD`] before it,
/// plus slack: bytes kept from the end of one read for the next.
const CARRY: usize = 64;
/// What precedes a token in a chat-view history line (`[u3        ]: %%…`),
/// and never in a character-mode sender's echo of its own typing (`> %%…`).
const LEAD: &[u8] = b"]: ";
/// Telnet bytes a `--char` client sends first: IAC DO ECHO, IAC DO SGA,
/// IAC WILL NAWS, IAC SB NAWS 0 80 0 24 IAC SE (80 columns, 24 rows).
const TELNET_CHAR_ANSWER: &[u8] = &[
    255, 253, 1, 255, 253, 3, 255, 251, 31, 255, 250, 31, 0, 80, 0, 24, 255, 240,
];
/// Bytes per `read` call.
const READ_BUF: usize = 256 * 1024;
/// Clients per source address before spreading over more: the ephemeral
/// port range to one destination holds about 28,000, and ports of an
/// earlier run may still be in TIME_WAIT (which made 19,900 clients from
/// one address take 5 s to connect instead of 1).
const PER_SOURCE_IP: usize = 10_000;
/// After the last message is sent, the run ends once every receiver has
/// every sender's last message, or nothing has arrived for this long.
const DRAIN_QUIET: Duration = Duration::from_millis(500);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    Fanout,
    Idle,
    Stall,
    Handshake,
}

#[derive(Debug, Clone)]
struct Args {
    mode: Mode,
    addr: SocketAddr,
    n: usize,
    senders: usize,
    messages: u32,
    rate: Option<f64>,
    window: u32,
    ack_timeout: Duration,
    len: usize,
    pid: Option<u32>,
    rooms: Vec<String>,
    prefix: String,
    concurrency: usize,
    src_ips: Option<usize>,
    settle: Option<Duration>,
    stall: Duration,
    timeout: Duration,
    hold: Duration,
    /// stall: how long the sender sends.
    secs: Duration,
    /// stall: the viewers' SO_RCVBUF.
    rcvbuf: usize,
    /// `--char`: answer the telnet offer, end lines with `\r`.
    char_mode: bool,
    /// `--tls`: clients speak TLS, trusting the certificate in `cafile`.
    tls: Option<Arc<rustls::ClientConfig>>,
    cafile: String,
    /// fanout: accounts to log in to during the measurement.
    logins: usize,
    /// fanout: the time the logins are spread over.
    login_secs: f64,
    /// `--ssh`: clients speak SSH.
    ssh: bool,
}

impl Args {
    /// What ends a line the client types: Enter is `\r` in character mode.
    fn eol(&self) -> &'static str {
        if self.char_mode {
            "\r"
        } else {
            "\r\n"
        }
    }

    fn term(&self) -> &'static str {
        if self.ssh {
            "ssh-line"
        } else if self.char_mode {
            "char"
        } else {
            "line"
        }
    }
}

fn parse_args(argv: &[String]) -> Result<Args, String> {
    let mode = match argv.first().map(String::as_str) {
        Some("fanout") => Mode::Fanout,
        Some("idle") => Mode::Idle,
        Some("stall") => Mode::Stall,
        Some("handshake") => Mode::Handshake,
        Some("-h" | "--help") => return Err(String::new()),
        Some(other) => return Err(format!("unknown mode `{other}`")),
        None => return Err("missing mode".into()),
    };
    let mut a = Args {
        mode,
        addr: SocketAddr::from(([127, 0, 0, 1], 22222)),
        n: 0,
        senders: 0,
        messages: 0,
        rate: None,
        window: 32,
        ack_timeout: Duration::from_millis(250),
        len: 100,
        pid: None,
        rooms: Vec::new(),
        prefix: "u".into(),
        concurrency: 100,
        src_ips: None,
        settle: None,
        stall: Duration::from_secs(10),
        timeout: Duration::from_secs(600),
        hold: Duration::ZERO,
        secs: Duration::from_secs(30),
        rcvbuf: 4096,
        char_mode: false,
        tls: None,
        cafile: "chatsock-cert.pem".into(),
        logins: 0,
        login_secs: 1.0,
        ssh: false,
    };
    let mut want_tls = false;
    let mut have_addr = false;
    let mut it = argv[1..].iter();
    while let Some(flag) = it.next() {
        if flag == "-h" || flag == "--help" {
            return Err(String::new());
        }
        if flag == "--char" {
            a.char_mode = true;
            continue;
        }
        if flag == "--tls" {
            want_tls = true;
            continue;
        }
        if flag == "--ssh" {
            a.ssh = true;
            continue;
        }
        let value = it.next().ok_or_else(|| format!("`{flag}` needs a value"))?;
        let num = |what: &str| -> Result<f64, String> {
            value
                .parse::<f64>()
                .ok()
                .filter(|v| v.is_finite() && *v >= 0.0)
                .ok_or_else(|| format!("`{what}` needs a non-negative number, not `{value}`"))
        };
        let secs = |what: &str| num(what).map(Duration::from_secs_f64);
        match flag.as_str() {
            "--addr" => {
                a.addr = value
                    .to_socket_addrs()
                    .ok()
                    .and_then(|mut addrs| addrs.next())
                    .ok_or_else(|| format!("cannot resolve `--addr {value}` (want HOST:PORT)"))?;
                have_addr = true;
            }
            "-n" => a.n = num(flag)? as usize,
            "-s" if mode == Mode::Stall => a.secs = secs(flag)?,
            "-s" => a.senders = num(flag)? as usize,
            "-m" => a.messages = num(flag)? as u32,
            "--rate" => a.rate = Some(num(flag)?).filter(|r| *r > 0.0),
            "--window" => a.window = (num(flag)? as u32).max(1),
            "--ack-timeout" => a.ack_timeout = Duration::from_secs_f64(num(flag)? / 1000.0),
            "--len" => a.len = num(flag)? as usize,
            "--logins" => a.logins = num(flag)? as usize,
            "--login-secs" => a.login_secs = num(flag)?.max(0.001),
            "--pid" => a.pid = Some(num(flag)? as u32),
            "--room" | "--rooms" => {
                a.rooms = value
                    .split(',')
                    .filter(|r| !r.is_empty())
                    .map(String::from)
                    .collect()
            }
            "--prefix" => a.prefix = value.clone(),
            "--concurrency" => a.concurrency = (num(flag)? as usize).max(1),
            "--src-ips" => a.src_ips = Some((num(flag)? as usize).clamp(1, 254)),
            "--settle" => a.settle = Some(secs(flag)?),
            "--stall" => a.stall = secs(flag)?,
            "--timeout" => a.timeout = secs(flag)?,
            "--hold" => a.hold = secs(flag)?,
            "--rcvbuf" => a.rcvbuf = (num(flag)? as usize).max(1),
            "--cafile" => a.cafile = value.clone(),
            _ => return Err(format!("unknown option `{flag}`")),
        }
    }
    if !have_addr {
        return Err("missing --addr HOST:PORT".into());
    }
    if want_tls || (mode == Mode::Handshake && !a.ssh) {
        a.tls = Some(tls_config(&a.cafile)?);
    }
    if a.n == 0 {
        return Err("missing -n N (clients, at least 1)".into());
    }
    if a.rooms.is_empty() {
        a.rooms = match mode {
            Mode::Fanout | Mode::Stall => vec!["general".into()],
            Mode::Idle | Mode::Handshake => vec!["general".into(), "games".into()],
        };
    }
    if mode == Mode::Stall {
        a.rate = Some(a.rate.unwrap_or(5.0));
        a.rooms.truncate(1);
    }
    if mode == Mode::Fanout {
        if a.senders == 0 || a.senders > a.n {
            return Err("fanout needs -s S with 1 <= S <= N".into());
        }
        if a.messages == 0 {
            return Err("fanout needs -m M (messages per sender, at least 1)".into());
        }
    }
    Ok(a)
}

// ---- latency histogram ------------------------------------------------

/// A log-linear histogram of nanoseconds: exact below 128, then 128 buckets
/// per power of two (under 1% relative error).
struct Hist {
    counts: Vec<u64>,
    n: u64,
    max: u64,
}

impl Hist {
    fn new() -> Hist {
        Hist {
            counts: vec![0; 128 + 57 * 128],
            n: 0,
            max: 0,
        }
    }

    fn bucket(v: u64) -> usize {
        if v < 128 {
            return v as usize;
        }
        let e = 63 - u64::from(v.leading_zeros());
        let m = v >> (e - 7);
        (128 + (e - 7) * 128 + (m - 128)) as usize
    }

    /// The largest value that falls in bucket `b`.
    fn upper(b: usize) -> u64 {
        if b < 128 {
            return b as u64;
        }
        let k = (b - 128) as u64;
        let shift = k / 128;
        let m = 128 + k % 128;
        ((m + 1) << shift) - 1
    }

    fn record(&mut self, v: u64) {
        if let Some(c) = self.counts.get_mut(Self::bucket(v)) {
            *c += 1;
        }
        self.n += 1;
        self.max = self.max.max(v);
    }

    /// The value at quantile `q` (an upper bound, within 1%).
    fn quantile(&self, q: f64) -> u64 {
        let target = ((q * self.n as f64).ceil() as u64).max(1);
        let mut seen = 0;
        for (b, &c) in self.counts.iter().enumerate() {
            seen += c;
            if seen >= target {
                return Self::upper(b).min(self.max);
            }
        }
        self.max
    }
}

// ---- token scanning ---------------------------------------------------

enum Parsed {
    Token(u32, u32, u64, usize),
    Incomplete,
    Invalid,
}

/// Parses `S:Q:T%` at the start of `b` (after a `%%`).
fn parse_token(b: &[u8]) -> Parsed {
    let mut vals = [0u64; 3];
    let mut i = 0;
    for (k, val) in vals.iter_mut().enumerate() {
        let start = i;
        while let Some(&d) = b.get(i) {
            if !d.is_ascii_digit() {
                break;
            }
            if i - start >= 20 {
                return Parsed::Invalid;
            }
            *val = val.wrapping_mul(10).wrapping_add(u64::from(d - b'0'));
            i += 1;
        }
        let Some(&sep) = b.get(i) else {
            return Parsed::Incomplete;
        };
        let want = if k < 2 { b':' } else { b'%' };
        if i == start || sep != want {
            return Parsed::Invalid;
        }
        i += 1;
    }
    match (u32::try_from(vals[0]), u32::try_from(vals[1])) {
        (Ok(s), Ok(q)) => Parsed::Token(s, q, vals[2], i),
        _ => Parsed::Invalid,
    }
}

/// Finds every complete `%%S:Q:T%` token in `buf` that directly follows
/// [`LEAD`], calling `on` for each; returns where the tail to carry into the
/// next read starts: an unfinished token with the bytes before it, or else
/// the last `LEAD.len()` bytes (a history line's lead may end one read and
/// its token start the next). A carried tail never holds a whole token, so
/// nothing is reported twice.
fn scan(buf: &[u8], mut on: impl FnMut(u32, u32, u64)) -> usize {
    let keep = |p: usize| p.saturating_sub(LEAD.len());
    let mut i = 0;
    while let Some(off) = buf.get(i..).and_then(|t| t.iter().position(|&b| b == b'%')) {
        let p = i + off;
        match buf.get(p + 1) {
            None => return keep(p),
            Some(b'%') => {}
            Some(_) => {
                i = p + 1;
                continue;
            }
        }
        match parse_token(buf.get(p + 2..).unwrap_or_default()) {
            Parsed::Token(s, q, t, used) => {
                if buf.get(..p).is_some_and(|b| b.ends_with(LEAD)) {
                    on(s, q, t);
                }
                i = p + 2 + used;
            }
            Parsed::Incomplete if buf.len() - keep(p) <= CARRY => return keep(p),
            Parsed::Incomplete | Parsed::Invalid => i = p + 1,
        }
    }
    keep(buf.len())
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

// ---- /proc ------------------------------------------------------------

/// utime + stime of a process, in seconds.
fn cpu_seconds(pid: &str) -> Option<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let rest = &stat[stat.rfind(')')? + 1..];
    let f: Vec<&str> = rest.split_whitespace().collect();
    // After the command name: field 3 (state) is f[0]; utime is field 14.
    let ticks: u64 = f.get(11)?.parse::<u64>().ok()? + f.get(12)?.parse::<u64>().ok()?;
    // SAFETY: sysconf only reads a constant.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    Some(ticks as f64 / if hz > 0 { hz as f64 } else { 100.0 })
}

/// A `Vm...:` line of /proc/PID/status, in KiB.
fn vm_kib(pid: u32, key: &str) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find(|l| l.starts_with(key))?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()
}

/// Resets the process's peak RSS (VmHWM) so it covers this run only.
fn reset_peak_rss(pid: u32) -> bool {
    std::fs::write(format!("/proc/{pid}/clear_refs"), "5").is_ok()
}

/// One socket line of /proc/net/tcp or /proc/net/tcp6.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct TcpSock {
    local_port: u16,
    remote_port: u16,
    /// The kernel's TCP state number (1 = ESTABLISHED, 4 = FIN_WAIT1, ...).
    state: u8,
    /// Bytes written and not yet acknowledged by the peer (Send-Q).
    tx_queue: u64,
}

const TCP_ESTABLISHED: u8 = 1;

/// Parses one line of /proc/net/tcp or tcp6:
/// `sl local_address rem_address st tx_queue:rx_queue ...`, the addresses
/// as HEXADDR:HEXPORT and the rest in hex. None for the header.
fn parse_tcp_line(line: &str) -> Option<TcpSock> {
    let mut f = line.split_whitespace();
    if !f.next()?.ends_with(':') {
        return None;
    }
    let port =
        |field: &str| -> Option<u16> { u16::from_str_radix(field.rsplit_once(':')?.1, 16).ok() };
    let local_port = port(f.next()?)?;
    let remote_port = port(f.next()?)?;
    let state = u8::from_str_radix(f.next()?, 16).ok()?;
    let tx_queue = u64::from_str_radix(f.next()?.split_once(':')?.0, 16).ok()?;
    Some(TcpSock {
        local_port,
        remote_port,
        state,
        tx_queue,
    })
}

/// What the kernel holds for the server's sockets to the stalled viewers.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
struct SendQ {
    /// Send-Q summed over every server socket to a viewer, in any state
    /// (a socket the server closed keeps its queue while it is an orphan).
    total: u64,
    max: u64,
    /// Viewers whose server socket is still ESTABLISHED.
    open: usize,
}

/// Sums `text` (/proc/net/tcp{,6} lines) over sockets on `server_port`
/// whose peer port is one of `ports` (sorted).
fn sendq_of(text: &str, server_port: u16, ports: &[u16], q: &mut SendQ) {
    for t in text.lines().filter_map(parse_tcp_line) {
        if t.local_port != server_port || ports.binary_search(&t.remote_port).is_err() {
            continue;
        }
        q.total += t.tx_queue;
        q.max = q.max.max(t.tx_queue);
        if t.state == TCP_ESTABLISHED {
            q.open += 1;
        }
    }
}

fn sendq(server_port: u16, ports: &[u16]) -> SendQ {
    let mut q = SendQ::default();
    for path in ["/proc/net/tcp", "/proc/net/tcp6"] {
        if let Ok(text) = std::fs::read_to_string(path) {
            sendq_of(&text, server_port, ports, &mut q);
        }
    }
    q
}

/// The `TCP:` line of /proc/net/sockstat: (mem in pages, orphans).
fn parse_sockstat(text: &str) -> Option<(u64, u64)> {
    let f: Vec<&str> = text
        .lines()
        .find(|l| l.starts_with("TCP:"))?
        .split_whitespace()
        .collect();
    let get = |key: &str| -> Option<u64> {
        let k = f.iter().position(|w| *w == key)?;
        f.get(k + 1)?.parse().ok()
    };
    Some((get("mem")?, get("orphan")?))
}

/// All TCP sockets' memory, in MiB, and orphaned sockets (machine-wide).
fn tcp_mem() -> Option<(f64, u64)> {
    let (pages, orphans) = parse_sockstat(&std::fs::read_to_string("/proc/net/sockstat").ok()?)?;
    // SAFETY: sysconf only reads a constant.
    let page = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    let page = if page > 0 { page as f64 } else { 4096.0 };
    Some((pages as f64 * page / (1024.0 * 1024.0), orphans))
}

// ---- sockets ----------------------------------------------------------

/// Raises this process's RLIMIT_NOFILE to `want` if it is lower (the hard
/// limit too, which needs root); returns the soft limit in force.
fn raise_nofile(want: u64) -> u64 {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit writes into the struct we own.
    if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) } != 0 {
        return 0;
    }
    if lim.rlim_cur >= want {
        return lim.rlim_cur;
    }
    let raised = libc::rlimit {
        rlim_cur: want,
        rlim_max: lim.rlim_max.max(want),
    };
    // SAFETY: setrlimit reads the struct we own; failure leaves the limit.
    if unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &raised) } == 0 {
        return want;
    }
    let soft = libc::rlimit {
        rlim_cur: lim.rlim_max,
        rlim_max: lim.rlim_max,
    };
    // SAFETY: as above.
    if unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &soft) } == 0 {
        return lim.rlim_max;
    }
    lim.rlim_cur
}

/// Makes sure this process may open a socket per client.
fn ensure_nofile(n: usize) -> Result<(), String> {
    let want = n as u64 + 64;
    let limit = raise_nofile(want);
    if limit < want {
        return Err(format!(
            "open-file limit {limit} is too low for {n} clients: the bench raises its soft \
             limit up to the hard one (`ulimit -Hn`); raising that needs root with \
             CAP_SYS_RESOURCE (`ulimit -Hn {want}`), or use fewer clients"
        ));
    }
    Ok(())
}

/// A non-blocking connect to `dst`, from source address `src` when given
/// (bind before connect, which neither std nor mio 1.x offers), with
/// SO_RCVBUF `rcvbuf` when given (set before connect, so the window scale
/// agreed in the handshake fits it).
fn connect_from(
    src: Option<Ipv4Addr>,
    rcvbuf: Option<usize>,
    dst: SocketAddr,
) -> io::Result<TcpStream> {
    use socket2::{Domain, Protocol, Socket, Type};
    use std::os::fd::AsRawFd;
    if src.is_none() && rcvbuf.is_none() {
        return TcpStream::connect(dst);
    }
    // socket2 opens it close-on-exec.
    let sock = Socket::new(Domain::for_address(dst), Type::STREAM, Some(Protocol::TCP))?;
    sock.set_nonblocking(true)?;
    if let Some(bytes) = rcvbuf {
        sock.set_recv_buffer_size(bytes)?;
    }
    if let (Some(src), true) = (src, dst.is_ipv4()) {
        let one: libc::c_int = 1;
        // Pick the port at connect time, per 4-tuple, not per source address.
        // SAFETY: valid fd, pointer and length of a c_int.
        unsafe {
            libc::setsockopt(
                sock.as_raw_fd(),
                libc::IPPROTO_IP,
                libc::IP_BIND_ADDRESS_NO_PORT,
                (&one as *const libc::c_int).cast(),
                std::mem::size_of::<libc::c_int>() as libc::socklen_t,
            )
        };
        sock.bind(&SocketAddr::from((src, 0)).into())?;
    }
    match sock.connect(&dst.into()) {
        Ok(()) => {}
        Err(e) if e.raw_os_error() == Some(libc::EINPROGRESS) => {}
        Err(e) => return Err(e),
    }
    Ok(TcpStream::from_std(sock.into()))
}

// ---- clients ----------------------------------------------------------

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Stage {
    /// TCP connect in progress.
    Connecting,
    /// Waiting for `Enter a username: `.
    Prompt,
    /// Waiting for `You are now connected as`.
    Named,
    /// Waiting for `You joined the room`.
    Joined,
    /// Waiting for the chat view's separator and prompt.
    View,
    /// Logged in (and in the view, for fanout).
    Ready,
}

struct Client {
    stream: TcpStream,
    stage: Stage,
    /// Server text seen during login, searched for the next marker.
    login: Vec<u8>,
    out: Vec<u8>,
    out_pos: usize,
    carry: [u8; CARRY],
    carry_len: usize,
    rx_bytes: u64,
    /// A stall-mode viewer in the chat view: never read again.
    stalled: bool,
    /// `--tls`: the client's TLS session.
    tls: Option<Box<rustls::ClientConnection>>,
    /// `--ssh`: the client's SSH session.
    ssh: Option<Box<SshClient>>,
}

impl Client {
    /// Reads plaintext (through TLS when the client speaks it, answering
    /// handshake messages on the way).
    fn read_plain(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if let Some(ssh) = self.ssh.as_mut() {
            return ssh.read(&mut self.stream, buf);
        }
        let Some(tls) = self.tls.as_mut() else {
            return self.stream.read(buf);
        };
        loop {
            match tls.reader().read(buf) {
                Ok(n) => return Ok(n),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                Err(e) => return Err(e),
            }
            if tls.read_tls(&mut self.stream)? == 0 {
                return Ok(0);
            }
            tls.process_new_packets().map_err(io::Error::other)?;
            Client::send_records(tls, &mut self.stream)?;
        }
    }

    /// Writes plaintext (encrypted first when the client speaks TLS).
    fn write_plain(&mut self, buf: &[u8]) -> io::Result<usize> {
        if let Some(ssh) = self.ssh.as_mut() {
            return ssh.write(&mut self.stream, buf);
        }
        let Some(tls) = self.tls.as_mut() else {
            return self.stream.write(buf);
        };
        Client::send_records(tls, &mut self.stream)?;
        if tls.wants_write() {
            return Err(io::ErrorKind::WouldBlock.into());
        }
        let n = tls.writer().write(buf)?;
        Client::send_records(tls, &mut self.stream)?;
        Ok(n)
    }

    /// Sends the TLS records the session holds, until the socket is full.
    fn send_records(tls: &mut rustls::ClientConnection, stream: &mut TcpStream) -> io::Result<()> {
        while tls.wants_write() {
            match tls.write_tls(stream) {
                Ok(_) => {}
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(()),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }
}

/// Per-run fan-out bookkeeping.
struct Fan {
    senders: usize,
    messages: u32,
    /// Highest sequence number receiver r has seen from sender s, at
    /// `r * senders + s` (0 = none); messages from one sender reach a
    /// receiver in order, so a higher one means a new first arrival.
    seen: Vec<u32>,
    sent: Vec<u32>,
    next_due: Vec<Instant>,
    /// Highest sequence number of each sender seen by any receiver: what
    /// the window counts as acknowledged.
    acked: Vec<u32>,
    acked_at: Vec<Instant>,
    deliveries: u64,
    /// Of those, first arrivals at clients that do not send.
    viewer_deliveries: u64,
    /// Pairs (receiver, sender) that saw the sender's last message.
    complete: usize,
    hist: Hist,
    last_progress: Instant,
    last_delivery: Instant,
    last_rx: Instant,
    last_send: Instant,
}

struct Bench {
    args: Args,
    poll: Poll,
    clients: Vec<Client>,
    tokens: Vec<usize>,
    scratch: Vec<u8>,
    start: Instant,
    connected: usize,
    ready: usize,
    in_login: usize,
    src_ips: usize,
    last_progress: Instant,
    fan: Option<Fan>,
    /// stall: clients 0..viewers get a small SO_RCVBUF and stop reading
    /// once in the chat view.
    viewers: usize,
}

fn name_of(args: &Args, i: usize) -> String {
    format!("{}{i}", args.prefix)
}

/// Server replies that end a login, as fixed phrases: only these are ever
/// printed, since received text may hold a message (a DM) and the bench
/// never shows message text.
const SERVER_ERRORS: &[&str] = &[
    "Server full",
    "The server is shutting down",
    "That username is taken",
    "That username is too long",
    "That username is not allowed",
    "That chatroom is full",
    "That chatroom does not exist",
    "You are not connected",
    "Unknown command",
];

fn known_error(text: &[u8]) -> Option<&'static str> {
    SERVER_ERRORS
        .iter()
        .copied()
        .find(|e| find(text, e.as_bytes()).is_some())
}

impl Bench {
    fn new(args: Args) -> Result<Bench, String> {
        let poll = Poll::new().map_err(|e| format!("cannot create poll: {e}"))?;
        let loopback = args.addr.ip().is_loopback() && args.addr.is_ipv4();
        let src_ips = match args.src_ips {
            Some(k) => k,
            None if loopback => args.n.div_ceil(PER_SOURCE_IP),
            None => 1,
        };
        if src_ips > 1 && !loopback {
            return Err("--src-ips needs a 127.x.x.x --addr".into());
        }
        let now = Instant::now();
        Ok(Bench {
            args,
            poll,
            clients: Vec::new(),
            tokens: Vec::new(),
            scratch: vec![0; CARRY + READ_BUF],
            start: now,
            connected: 0,
            ready: 0,
            in_login: 0,
            src_ips,
            last_progress: now,
            fan: None,
            viewers: 0,
        })
    }

    fn nanos(&self, t: Instant) -> u64 {
        t.saturating_duration_since(self.start).as_nanos() as u64
    }

    fn check_deadline(&self, what: &str) -> Result<(), String> {
        let now = Instant::now();
        if now.duration_since(self.start) > self.args.timeout {
            return Err(format!(
                "{what}: timed out after {:.1} s (--timeout)",
                self.args.timeout.as_secs_f64()
            ));
        }
        Ok(())
    }

    /// Opens connections while fewer than `--concurrency` logins run.
    fn connect_more(&mut self) -> Result<(), String> {
        while self.connected < self.args.n && self.in_login < self.args.concurrency {
            let i = self.connected;
            let src =
                (self.src_ips > 1).then(|| Ipv4Addr::new(127, 0, 0, 1 + (i % self.src_ips) as u8));
            let rcvbuf = (i < self.viewers).then_some(self.args.rcvbuf);
            let mut stream = connect_from(src, rcvbuf, self.args.addr).map_err(|e| {
                let hint = if e.raw_os_error() == Some(libc::EMFILE) {
                    " (raise `ulimit -n`)"
                } else if e.raw_os_error() == Some(libc::EADDRNOTAVAIL) {
                    " (out of source ports: use more --src-ips)"
                } else {
                    ""
                };
                format!(
                    "client {i}: cannot connect to {}: {e}{hint}",
                    self.args.addr
                )
            })?;
            self.poll
                .registry()
                .register(
                    &mut stream,
                    Token(i),
                    Interest::READABLE | Interest::WRITABLE,
                )
                .map_err(|e| format!("client {i}: cannot register: {e}"))?;
            self.clients.push(Client {
                stream,
                stage: Stage::Connecting,
                login: Vec::new(),
                out: Vec::new(),
                out_pos: 0,
                carry: [0; CARRY],
                carry_len: 0,
                rx_bytes: 0,
                stalled: false,
                tls: match &self.args.tls {
                    None => None,
                    Some(config) => {
                        let name =
                            rustls::pki_types::ServerName::IpAddress(self.args.addr.ip().into());
                        let conn = rustls::ClientConnection::new(Arc::clone(config), name)
                            .map_err(|e| format!("client {i}: TLS: {e}"))?;
                        Some(Box::new(conn))
                    }
                },
                ssh: self
                    .args
                    .ssh
                    .then(|| Box::new(SshClient::new(name_of(&self.args, i)))),
            });
            self.connected += 1;
            self.in_login += 1;
        }
        Ok(())
    }

    /// One poll: handles every ready socket.
    fn poll_once(&mut self, events: &mut Events, timeout: Duration) -> Result<(), String> {
        if let Err(e) = self.poll.poll(events, Some(timeout)) {
            if e.kind() == io::ErrorKind::Interrupted {
                return Ok(());
            }
            return Err(format!("poll failed: {e}"));
        }
        self.tokens.clear();
        self.tokens.extend(events.iter().map(|e| e.token().0));
        for k in 0..self.tokens.len() {
            let i = self.tokens[k];
            self.on_event(i)?;
        }
        Ok(())
    }

    fn on_event(&mut self, i: usize) -> Result<(), String> {
        let Some(c) = self.clients.get_mut(i) else {
            return Ok(());
        };
        if c.stage == Stage::Connecting {
            if let Ok(Some(e)) | Err(e) = c.stream.take_error() {
                return Err(format!("client {i}: connect failed: {e}"));
            }
            match c.stream.peer_addr() {
                Ok(_) => {
                    let _ = c.stream.set_nodelay(true);
                    if self.args.char_mode {
                        // Answered before the server's offer is even read,
                        // as the brief's character-mode client does; sent
                        // by the flush below.
                        c.out.extend_from_slice(TELNET_CHAR_ANSWER);
                    }
                    c.stage = Stage::Prompt;
                    self.last_progress = Instant::now();
                }
                Err(e) if e.kind() == io::ErrorKind::NotConnected => return Ok(()),
                Err(e) => return Err(format!("client {i}: connect failed: {e}")),
            }
        }
        self.flush(i)?;
        self.read(i)
    }

    fn send(&mut self, i: usize, bytes: &[u8]) -> Result<(), String> {
        if let Some(c) = self.clients.get_mut(i) {
            c.out.extend_from_slice(bytes);
        }
        self.flush(i)
    }

    fn flush(&mut self, i: usize) -> Result<(), String> {
        let Some(c) = self.clients.get_mut(i) else {
            return Ok(());
        };
        if let Some(tls) = c.tls.as_mut() {
            Client::send_records(tls, &mut c.stream)
                .map_err(|e| format!("client {i}: write failed: {e}"))?;
        }
        if let Some(ssh) = c.ssh.as_mut() {
            ssh.send(&mut c.stream)
                .map_err(|e| format!("client {i}: write failed: {e}"))?;
        }
        while c.out_pos < c.out.len() {
            let pos = c.out_pos;
            let end = c.out.len();
            let mut chunk = std::mem::take(&mut c.out);
            let res = c.write_plain(&chunk[pos..end]);
            std::mem::swap(&mut c.out, &mut chunk);
            match res {
                Ok(0) => return Err(format!("client {i}: write returned 0")),
                Ok(n) => c.out_pos += n,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(()),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(format!("client {i}: write failed: {e}")),
            }
        }
        c.out.clear();
        c.out_pos = 0;
        if c.out.capacity() > 64 * 1024 {
            c.out = Vec::new();
        }
        Ok(())
    }

    fn read(&mut self, i: usize) -> Result<(), String> {
        loop {
            let Some(c) = self.clients.get_mut(i) else {
                return Ok(());
            };
            if c.stalled {
                return Ok(());
            }
            let cl = c.carry_len;
            self.scratch[..cl].copy_from_slice(&c.carry[..cl]);
            let n = match c.read_plain(&mut self.scratch[cl..]) {
                Ok(0) => {
                    let said = known_error(&c.login)
                        .map(|e| format!(" after saying \"{e}\""))
                        .unwrap_or_default();
                    return Err(format!(
                        "client {i} ({}): the server closed the connection{said} while the \
                         client was at {:?}",
                        name_of(&self.args, i),
                        c.stage
                    ));
                }
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(()),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(format!("client {i}: read failed: {e}")),
            };
            c.rx_bytes += n as u64;
            if c.stage < Stage::Ready {
                c.login.extend_from_slice(&self.scratch[cl..cl + n]);
                c.carry_len = 0;
                self.advance_login(i)?;
                continue;
            }
            let Some(fan) = self.fan.as_mut() else {
                // Idle clients expect nothing and keep nothing.
                continue;
            };
            let now = Instant::now();
            let now_ns = now.saturating_duration_since(self.start).as_nanos() as u64;
            let buf = &self.scratch[..cl + n];
            let base = i * fan.senders;
            let before = fan.deliveries;
            let rest = scan(buf, |s, q, t| {
                let s = s as usize;
                if s >= fan.senders || q == 0 || q > fan.messages {
                    return;
                }
                let Some(seen) = fan.seen.get_mut(base + s) else {
                    return;
                };
                if let (Some(a), Some(at)) = (fan.acked.get_mut(s), fan.acked_at.get_mut(s)) {
                    if q > *a {
                        *a = q;
                        *at = now;
                    }
                }
                if q <= *seen {
                    return;
                }
                *seen = q;
                if q == fan.messages {
                    fan.complete += 1;
                }
                fan.deliveries += 1;
                if i >= fan.senders {
                    fan.viewer_deliveries += 1;
                }
                fan.hist.record(now_ns.saturating_sub(t));
            });
            fan.last_rx = now;
            if fan.deliveries > before {
                fan.last_progress = now;
                fan.last_delivery = now;
            }
            let tail = &buf[rest..];
            c.carry[..tail.len()].copy_from_slice(tail);
            c.carry_len = tail.len();
            if n < READ_BUF && c.tls.is_none() && c.ssh.is_none() {
                // A short read drained the socket; new data raises a new
                // edge-triggered event, so skip the read that would only
                // say WouldBlock (half the receive syscalls).
                return Ok(());
            }
        }
    }

    /// Moves a client through the login dialogue as its markers arrive.
    fn advance_login(&mut self, i: usize) -> Result<(), String> {
        loop {
            let view = self.args.mode != Mode::Idle;
            let room = self.args.rooms[i % self.args.rooms.len()].clone();
            let Some(c) = self.clients.get_mut(i) else {
                return Ok(());
            };
            if let Some(e) = known_error(&c.login) {
                return Err(format!(
                    "client {i} ({}): the server said \"{e}\" while the client was at {:?}",
                    name_of(&self.args, i),
                    c.stage
                ));
            }
            let view_marker = format!("[room/{room}]\r\n> ");
            let eol = self.args.eol();
            let (marker, next, reply): (&[u8], Stage, String) = match c.stage {
                // SSH: the login name is the username; the server types it.
                Stage::Prompt if c.ssh.is_some() => {
                    (b"Enter a username: ", Stage::Named, String::new())
                }
                Stage::Prompt => (
                    b"Enter a username: ",
                    Stage::Named,
                    format!("{}{eol}", name_of(&self.args, i)),
                ),
                Stage::Named => (
                    b"You are now connected as '",
                    Stage::Joined,
                    format!(":join {room}{eol}"),
                ),
                Stage::Joined if view => {
                    (b"You joined the room '", Stage::View, format!(":chat{eol}"))
                }
                Stage::Joined => (b"You joined the room '", Stage::Ready, String::new()),
                Stage::View => (view_marker.as_bytes(), Stage::Ready, String::new()),
                Stage::Connecting | Stage::Ready => return Ok(()),
            };
            let Some(at) = find(&c.login, marker) else {
                if c.login.len() > 64 * 1024 {
                    let cut = c.login.len() - 1024;
                    c.login.drain(..cut);
                }
                return Ok(());
            };
            c.login.drain(..at + marker.len());
            c.stage = next;
            self.last_progress = Instant::now();
            if next == Stage::Ready {
                c.login = Vec::new();
                if i < self.viewers {
                    // From here on it never reads: no events wanted (the
                    // server's closes are seen in /proc/net/tcp).
                    c.stalled = true;
                    let _ = self.poll.registry().deregister(&mut c.stream);
                }
                self.ready += 1;
                self.in_login -= 1;
                self.connect_more()?;
                return Ok(());
            }
            self.send(i, reply.as_bytes())?;
        }
    }

    /// `--hold`: keeps the `n` connections open (reading what arrives)
    /// for that long; `what` ends the stderr note.
    fn hold(&mut self, events: &mut Events, n: usize, what: &str) -> Result<(), String> {
        if self.args.hold.is_zero() {
            return Ok(());
        }
        eprintln!(
            "chatsock-bench: holding {n} connections for {:.0} s{what}",
            self.args.hold.as_secs_f64()
        );
        let until = Instant::now() + self.args.hold;
        while Instant::now() < until {
            let left = until.saturating_duration_since(Instant::now());
            self.poll_once(events, left.min(Duration::from_secs(1)))?;
        }
        Ok(())
    }

    /// Connects and logs in every client.
    fn login_all(&mut self, events: &mut Events) -> Result<Duration, String> {
        let t0 = Instant::now();
        self.last_progress = t0;
        self.connect_more()?;
        while self.ready < self.args.n {
            self.poll_once(events, Duration::from_millis(100))?;
            self.connect_more()?;
            self.check_deadline("login")?;
            if self.last_progress.elapsed() > self.args.stall {
                let behind: Vec<String> = self
                    .clients
                    .iter()
                    .enumerate()
                    .filter(|(_, c)| c.stage < Stage::Ready)
                    .take(3)
                    .map(|(i, c)| format!("client {i} waiting at {:?}", c.stage))
                    .collect();
                return Err(format!(
                    "login stalled: {} of {} clients ready, nothing happened for {:.1} s ({})",
                    self.ready,
                    self.args.n,
                    self.args.stall.as_secs_f64(),
                    behind.join(", ")
                ));
            }
        }
        Ok(t0.elapsed())
    }

    /// Reads until nothing arrives for `quiet` (join notices still flowing).
    fn settle(&mut self, events: &mut Events, quiet: Duration) -> Result<(), String> {
        let mut last_bytes = self.total_rx();
        let mut last_change = Instant::now();
        while last_change.elapsed() < quiet {
            self.poll_once(events, quiet / 4)?;
            self.check_deadline("settling")?;
            let b = self.total_rx();
            if b != last_bytes {
                last_bytes = b;
                last_change = Instant::now();
            }
        }
        Ok(())
    }

    fn total_rx(&self) -> u64 {
        self.clients.iter().map(|c| c.rx_bytes).sum()
    }

    fn message(&self, s: usize, q: u32, stamp: u64) -> Vec<u8> {
        let mut m = format!("%%{s}:{q}:{stamp}%").into_bytes();
        if m.len() < self.args.len {
            m.resize(self.args.len, b'x');
        }
        m.extend_from_slice(self.args.eol().as_bytes());
        m
    }

    /// Queues every message that is due (rate mode) or fits the window.
    fn pump_senders(&mut self) -> Result<(), String> {
        let now = Instant::now();
        let Some(fan) = self.fan.as_ref() else {
            return Ok(());
        };
        let (senders, messages) = (fan.senders, fan.messages);
        let interval = self
            .args
            .rate
            .map(|r| Duration::from_secs_f64(senders as f64 / r));
        for s in 0..senders {
            let mut batch = Vec::new();
            loop {
                let Some(fan) = self.fan.as_mut() else {
                    return Ok(());
                };
                let sent = fan.sent[s];
                if sent >= messages {
                    break;
                }
                let stamp = match interval {
                    Some(iv) => {
                        let due = fan.next_due[s];
                        if due > now {
                            break;
                        }
                        fan.next_due[s] = due + iv;
                        // Stamped with when it was due, so a late send counts
                        // as latency (no coordinated omission).
                        due
                    }
                    None => {
                        let acked = fan.acked[s].min(sent);
                        if acked == sent {
                            fan.acked_at[s] = now;
                        } else if sent - acked >= self.args.window {
                            // A message no receiver will ever show (a
                            // coalescing server replaced it with a later
                            // frame) must not hold the window forever.
                            if now.saturating_duration_since(fan.acked_at[s])
                                < self.args.ack_timeout
                            {
                                break;
                            }
                            fan.acked[s] = sent;
                            fan.acked_at[s] = now;
                        }
                        now
                    }
                };
                fan.sent[s] = sent + 1;
                fan.last_send = now;
                let ns = self.nanos(stamp);
                batch.extend_from_slice(&self.message(s, sent + 1, ns));
            }
            if !batch.is_empty() {
                self.send(s, &batch)?;
            }
        }
        Ok(())
    }
}

// ---- logins -------------------------------------------------------------

/// Clients that log in to accounts, on their own thread with blocking
/// sockets (they are few; the viewers' loop stays as it is).
mod logins {
    use std::io::{Read, Write};
    use std::net::{SocketAddr, TcpStream};
    use std::time::{Duration, Instant};

    /// The password of every bench account (never printed).
    const PASSWORD: &str = "bench-password";

    fn name(i: usize) -> String {
        format!("login{i}")
    }

    /// Reads until the received text contains one of `needles`; returns
    /// its index.
    fn wait(s: &mut TcpStream, buf: &mut Vec<u8>, needles: &[&str]) -> Result<usize, String> {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Some(i) = needles
                .iter()
                .position(|n| buf.windows(n.len()).any(|w| w == n.as_bytes()))
            {
                buf.clear();
                return Ok(i);
            }
            if Instant::now() > deadline {
                return Err(format!("login client: no {needles:?} within 30 s"));
            }
            let mut chunk = [0u8; 4096];
            match s.read(&mut chunk) {
                Ok(0) => return Err(format!("login client: closed before {needles:?}")),
                Ok(n) => buf.extend_from_slice(&chunk[..n]),
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
                Err(e) if e.kind() == std::io::ErrorKind::TimedOut => {}
                Err(e) => return Err(format!("login client: {e}")),
            }
        }
    }

    fn connect(addr: SocketAddr) -> Result<TcpStream, String> {
        let s = TcpStream::connect(addr).map_err(|e| format!("connect: {e}"))?;
        s.set_read_timeout(Some(Duration::from_secs(1)))
            .map_err(|e| e.to_string())?;
        let _ = s.set_nodelay(true);
        Ok(s)
    }

    fn send(s: &mut TcpStream, line: &str) -> Result<(), String> {
        s.write_all(format!("{line}\r\n").as_bytes())
            .map_err(|e| format!("send: {e}"))
    }

    /// Registers accounts login0 .. login(n-1) that do not exist yet.
    pub fn register(addr: SocketAddr, n: usize) -> Result<(), String> {
        for i in 0..n {
            let mut s = connect(addr)?;
            let mut buf = Vec::new();
            wait(&mut s, &mut buf, &["Enter a username: "])?;
            send(&mut s, &name(i))?;
            let found = wait(
                &mut s,
                &mut buf,
                &["Password for ", "You are now connected as"],
            )?;
            if found == 1 {
                send(&mut s, &format!(":register {PASSWORD}"))?;
                if wait(
                    &mut s,
                    &mut buf,
                    &["You registered", "could not", "not accepted"],
                )? != 0
                {
                    return Err("registering a bench account failed (see the server's log)".into());
                }
            }
        }
        Ok(())
    }

    /// Logs in to the n accounts, one every `secs / n` seconds, each on
    /// its own thread; returns each login's time from connect to
    /// `You are now connected`.
    pub fn storm(addr: SocketAddr, n: usize, secs: f64) -> Result<Vec<Duration>, String> {
        let start = Instant::now();
        let threads: Vec<_> = (0..n)
            .map(|i| {
                let at = start + Duration::from_secs_f64(secs * i as f64 / n as f64);
                std::thread::spawn(move || -> Result<Duration, String> {
                    std::thread::sleep(at.saturating_duration_since(Instant::now()));
                    let t = Instant::now();
                    let mut s = connect(addr)?;
                    let mut buf = Vec::new();
                    wait(&mut s, &mut buf, &["Enter a username: "])?;
                    send(&mut s, &name(i))?;
                    wait(&mut s, &mut buf, &["Password for "])?;
                    send(&mut s, PASSWORD)?;
                    wait(&mut s, &mut buf, &["You are now connected as"])?;
                    Ok(t.elapsed())
                })
            })
            .collect();
        threads
            .into_iter()
            .map(|t| {
                t.join()
                    .map_err(|_| "a login thread panicked".to_string())?
            })
            .collect()
    }
}

// ---- modes ------------------------------------------------------------

fn fmt_us(ns: u64) -> String {
    format!("{:.1}", ns as f64 / 1000.0)
}

fn run_fanout(args: Args) -> Result<(), String> {
    let mut b = Bench::new(args.clone())?;
    ensure_nofile(args.n)?;
    let mut events = Events::with_capacity(4096);
    let pid = args.pid.map(|p| p.to_string());
    let hwm_reset = args.pid.is_some_and(reset_peak_rss);
    if args.logins > 0 {
        let t = Instant::now();
        logins::register(args.addr, args.logins)?;
        eprintln!(
            "chatsock-bench: {} accounts ready in {:.2} s",
            args.logins,
            t.elapsed().as_secs_f64()
        );
    }
    let login = b.login_all(&mut events)?;
    eprintln!(
        "chatsock-bench: {} clients in the chat view of '{}' in {:.2} s",
        args.n,
        args.rooms[0],
        login.as_secs_f64()
    );
    let s = args.senders;
    let now = Instant::now();
    let interval = args.rate.map(|r| s as f64 / r).unwrap_or(0.0);
    b.fan = Some(Fan {
        senders: s,
        messages: args.messages,
        seen: vec![0; args.n * s],
        sent: vec![0; s],
        next_due: (0..s)
            .map(|k| now + Duration::from_secs_f64(interval * k as f64 / s as f64))
            .collect(),
        acked: vec![0; s],
        acked_at: vec![now; s],
        deliveries: 0,
        viewer_deliveries: 0,
        complete: 0,
        hist: Hist::new(),
        last_progress: now,
        last_delivery: now,
        last_rx: now,
        last_send: now,
    });
    b.settle(
        &mut events,
        args.settle.unwrap_or(Duration::from_millis(300)),
    )?;

    let rx0 = b.total_rx();
    let viewers_rx0: u64 = b.clients[s..].iter().map(|c| c.rx_bytes).sum();
    let cpu0 = pid.as_deref().and_then(cpu_seconds);
    let self_cpu0 = cpu_seconds("self");
    let t0 = Instant::now();
    if let Some(fan) = b.fan.as_mut() {
        let shift = t0.saturating_duration_since(now);
        for d in &mut fan.next_due {
            *d += shift;
        }
        fan.last_progress = t0;
    }
    let expected_pairs = args.n * s;
    let storm = (args.logins > 0).then(|| {
        let (addr, n, secs) = (args.addr, args.logins, args.login_secs);
        std::thread::spawn(move || logins::storm(addr, n, secs))
    });
    loop {
        b.pump_senders()?;
        let Some(fan) = b.fan.as_ref() else {
            break;
        };
        let all_sent = fan.sent.iter().all(|&x| x >= args.messages);
        let quiet = fan.last_rx.max(fan.last_send).elapsed() > DRAIN_QUIET;
        if fan.complete >= expected_pairs || (all_sent && quiet) {
            break;
        }
        let wait = match args.rate {
            Some(_) => fan
                .next_due
                .iter()
                .zip(&fan.sent)
                .filter(|(_, &sent)| sent < args.messages)
                .map(|(d, _)| d.saturating_duration_since(Instant::now()))
                .min()
                .unwrap_or(Duration::from_millis(100))
                .min(Duration::from_millis(100)),
            None => Duration::from_millis(20),
        };
        if fan.last_progress.elapsed() > args.stall {
            let sent: u64 = fan.sent.iter().map(|&x| u64::from(x)).sum();
            return Err(format!(
                "deliveries stalled: {} of {} delivered ({} of {} messages sent), none for {:.1} s",
                fan.deliveries,
                expected_pairs as u64 * u64::from(args.messages),
                sent,
                s as u64 * u64::from(args.messages),
                args.stall.as_secs_f64()
            ));
        }
        b.check_deadline("fanout")?;
        b.poll_once(&mut events, wait)?;
    }
    let cpu1 = pid.as_deref().and_then(cpu_seconds);
    let self_cpu1 = cpu_seconds("self");
    let login_times = match storm {
        Some(t) => Some(t.join().map_err(|_| "the login thread panicked")??),
        None => None,
    };
    let fan = b.fan.as_ref().ok_or("no fan-out state")?;
    let secs = fan
        .last_delivery
        .saturating_duration_since(t0)
        .as_secs_f64()
        .max(1e-9);
    let d = fan.deliveries.max(1) as f64;
    let rx = b.total_rx() - rx0;
    // Non-senders apart: a sender also gets its own input line reset and,
    // in character mode, the echo of what it types.
    let viewers_rx: u64 = b.clients[s..].iter().map(|c| c.rx_bytes).sum::<u64>() - viewers_rx0;
    let senders_rx = rx - viewers_rx;
    let viewer_deliveries = fan.viewer_deliveries;
    let sender_deliveries = fan.deliveries - viewer_deliveries;
    let per = |bytes: u64, deliveries: u64| -> String {
        if deliveries == 0 {
            "-".into()
        } else {
            format!("{:.1}", bytes as f64 / deliveries as f64)
        }
    };
    let rate = fan.deliveries as f64 / secs;
    let expected = expected_pairs as u64 * u64::from(args.messages);
    let lost = expected.saturating_sub(fan.deliveries);
    let viewer_lost = ((args.n - s) as u64 * s as u64 * u64::from(args.messages))
        .saturating_sub(viewer_deliveries);
    let server_cpu = cpu0.zip(cpu1).map(|(a, b)| b - a);
    let bench_cpu = self_cpu0.zip(self_cpu1).map(|(a, b)| b - a);
    let peak = args.pid.and_then(|p| vm_kib(p, "VmHWM:"));
    let rss = args.pid.and_then(|p| vm_kib(p, "VmRSS:"));
    let opt = |v: Option<String>| v.unwrap_or_else(|| "-".into());
    let offered = match args.rate {
        Some(r) => format!("{r}"),
        None => "max".into(),
    };
    println!(
        "RESULT mode=fanout clients={} senders={s} messages={} len={} rate={offered} window={} \
         deliveries={} expected={} lost={} viewer_lost={viewer_lost} secs={secs:.3} deliveries_per_s={rate:.0} \
         p50_us={} p99_us={} max_us={} bytes_per_delivery={:.1} viewer_bytes_per_delivery={} \
         sender_bytes_per_delivery={} term={} server_cpu_s={} server_cpu_s_per_million={} server_peak_rss_kib={} server_rss_kib={} \
         bench_cpu_s={}",
        args.n,
        args.messages,
        args.len,
        args.window,
        fan.deliveries,
        expected_pairs as u64 * u64::from(args.messages),
        lost,
        fmt_us(fan.hist.quantile(0.50)),
        fmt_us(fan.hist.quantile(0.99)),
        fmt_us(fan.hist.max),
        rx as f64 / d,
        per(viewers_rx, viewer_deliveries),
        per(senders_rx, sender_deliveries),
        args.term(),
        opt(server_cpu.map(|c| format!("{c:.2}"))),
        opt(server_cpu.map(|c| format!("{:.2}", c / d * 1e6))),
        opt(peak.map(|p| p.to_string())),
        opt(rss.map(|p| p.to_string())),
        opt(bench_cpu.map(|c| format!("{c:.2}"))),
    );
    println!(
        "fanout: {} clients, {s} senders x {} messages of {} chars ({})",
        args.n,
        args.messages,
        args.len,
        match args.rate {
            Some(r) => format!("offered {r} msgs/s = {:.0} deliveries/s", r * args.n as f64),
            None => format!("as fast as possible, window {}", args.window),
        }
    );
    println!(
        "  {} deliveries in {secs:.3} s = {rate:.0} deliveries/s",
        fan.deliveries
    );
    if lost > 0 {
        println!(
            "  {lost} of {expected} deliveries never shown ({:.1}%; {viewer_lost} of them to \
             non-senders): the server replaced them with a later full frame (coalescing) or \
             dropped the client",
            lost as f64 * 100.0 / expected as f64
        );
    }
    println!(
        "  latency p50 {} us, p99 {} us, max {} us",
        fmt_us(fan.hist.quantile(0.50)),
        fmt_us(fan.hist.quantile(0.99)),
        fmt_us(fan.hist.max)
    );
    if let Some(mut times) = login_times {
        times.sort();
        let at = |q: f64| {
            let i = ((times.len() as f64 * q).ceil() as usize).clamp(1, times.len()) - 1;
            times.get(i).map_or(0.0, |d| d.as_secs_f64() * 1000.0)
        };
        println!(
            "RESULT mode=logins logins={} over_s={} login_p50_ms={:.1} login_max_ms={:.1} viewer_p99_us={}",
            times.len(),
            args.login_secs,
            at(0.5),
            at(1.0),
            fmt_us(fan.hist.quantile(0.99)),
        );
        println!(
            "  {} logins (name, password, argon2id check) spread over {} s during it: \
             each took p50 {:.1} ms, max {:.1} ms",
            times.len(),
            args.login_secs,
            at(0.5),
            at(1.0)
        );
    }
    println!(
        "  {:.1} bytes received per delivery: {} for the {} non-senders (each line an \
         incremental update), {} for the {s} senders ({} mode)",
        rx as f64 / d,
        per(viewers_rx, viewer_deliveries),
        args.n - s,
        per(senders_rx, sender_deliveries),
        args.term()
    );
    if let Some(c) = server_cpu {
        println!(
            "  server CPU {c:.2} s = {:.2} s per million deliveries ({:.0}% of one core)",
            c / d * 1e6,
            c / secs * 100.0
        );
    }
    if let Some(p) = peak {
        println!(
            "  server peak RSS {:.1} MiB{}",
            p as f64 / 1024.0,
            if hwm_reset {
                " (this run)"
            } else {
                " (process lifetime)"
            }
        );
    }
    if let Some(c) = bench_cpu {
        let busy = c / secs * 100.0;
        println!("  bench CPU {c:.2} s ({busy:.0}% of one core)");
        if busy > 90.0 {
            println!("  warning: the bench was near 100% CPU and may be the bottleneck");
        }
    }
    Ok(())
}

fn run_idle(args: Args) -> Result<(), String> {
    let mut b = Bench::new(args.clone())?;
    ensure_nofile(args.n)?;
    let rss0 = args.pid.and_then(|p| vm_kib(p, "VmRSS:"));
    let mut events = Events::with_capacity(4096);
    let login = b.login_all(&mut events)?;
    b.settle(&mut events, args.settle.unwrap_or(Duration::from_secs(1)))?;
    let rss1 = args.pid.and_then(|p| vm_kib(p, "VmRSS:"));
    let hwm = args.pid.and_then(|p| vm_kib(p, "VmHWM:"));
    let per = rss0
        .zip(rss1)
        .map(|(a, b)| (b.saturating_sub(a)) as f64 * 1024.0 / args.n as f64);
    let opt = |v: Option<String>| v.unwrap_or_else(|| "-".into());
    println!(
        "RESULT mode=idle clients={} rooms={} src_ips={} term={} login_s={:.2} \
         server_rss_before_kib={} server_rss_kib={} server_rss_per_client_bytes={} \
         server_peak_rss_kib={}",
        args.n,
        args.rooms.join(","),
        b.src_ips,
        args.term(),
        login.as_secs_f64(),
        opt(rss0.map(|v| v.to_string())),
        opt(rss1.map(|v| v.to_string())),
        opt(per.map(|v| format!("{v:.0}"))),
        opt(hwm.map(|v| v.to_string())),
    );
    println!(
        "idle: {} named clients ({} mode) in rooms {} (from {} source address{}), logged in \
         in {:.2} s",
        args.n,
        args.term(),
        args.rooms.join(","),
        b.src_ips,
        if b.src_ips == 1 { "" } else { "es" },
        login.as_secs_f64()
    );
    if let (Some(a), Some(z)) = (rss0, rss1) {
        println!(
            "  server RSS {:.1} MiB before, {:.1} MiB with the clients = {:.0} bytes per client",
            a as f64 / 1024.0,
            z as f64 / 1024.0,
            per.unwrap_or(0.0)
        );
    }
    b.hold(&mut events, args.n, "")
}

/// One stall-mode sample.
struct StallSample {
    rss: Option<u64>,
    mem: Option<(f64, u64)>,
    q: SendQ,
}

impl StallSample {
    fn take(pid: Option<u32>, server_port: u16, ports: &[u16]) -> StallSample {
        StallSample {
            rss: pid.and_then(|p| vm_kib(p, "VmRSS:")),
            mem: tcp_mem(),
            q: sendq(server_port, ports),
        }
    }
}

fn run_stall(args: Args) -> Result<(), String> {
    let viewers = args.n;
    let sender = viewers;
    let mut b = Bench::new(Args {
        n: viewers + 1,
        ..args.clone()
    })?;
    b.viewers = viewers;
    ensure_nofile(viewers + 1)?;
    let opt = |v: Option<String>| v.unwrap_or_else(|| "-".into());
    let mib = |m: Option<(f64, u64)>| opt(m.map(|(m, _)| format!("{m:.1}")));
    let server_port = args.addr.port();
    let hwm_reset = args.pid.is_some_and(reset_peak_rss);
    let rss0 = args.pid.and_then(|p| vm_kib(p, "VmRSS:"));
    let mem0 = tcp_mem();
    let mut events = Events::with_capacity(1024);
    let login = b.login_all(&mut events)?;
    let mut ports: Vec<u16> = b.clients[..viewers]
        .iter()
        .filter_map(|c| c.stream.local_addr().ok())
        .map(|a| a.port())
        .collect();
    ports.sort_unstable();
    if ports.len() < viewers {
        return Err("cannot read the viewers' local ports".into());
    }
    eprintln!(
        "chatsock-bench: {viewers} viewers (SO_RCVBUF {}) in the chat view of '{}' and not \
         reading, plus 1 sender, in {:.2} s",
        args.rcvbuf,
        args.rooms[0],
        login.as_secs_f64()
    );
    let rate = args.rate.unwrap_or(5.0);
    let interval = Duration::from_secs_f64(1.0 / rate);
    let t0 = Instant::now();
    let end = t0 + args.secs;
    let mut next_due = t0;
    let mut next_sample = t0 + Duration::from_secs(1);
    let mut sent: u32 = 0;
    let mut peak_total = 0u64;
    let mut peak_mem = mem0.map(|(m, _)| m);
    println!(
        "{:>6} {:>6} {:>14} {:>11} {:>7} {:>15} {:>13} {:>7}",
        "t_s",
        "sent",
        "server_rss_kib",
        "tcp_mem_mib",
        "orphans",
        "sendq_total_kib",
        "sendq_max_kib",
        "closed"
    );
    let last = loop {
        let now = Instant::now();
        let mut batch = Vec::new();
        while next_due <= now && next_due < end {
            sent += 1;
            batch.extend_from_slice(&b.message(0, sent, b.nanos(next_due)));
            next_due += interval;
        }
        if !batch.is_empty() {
            b.send(sender, &batch)?;
        }
        if now >= next_sample || now >= end {
            let smp = StallSample::take(args.pid, server_port, &ports);
            peak_total = peak_total.max(smp.q.total);
            if let Some((m, _)) = smp.mem {
                peak_mem = Some(peak_mem.map_or(m, |p| p.max(m)));
            }
            println!(
                "{:>6.1} {sent:>6} {:>14} {:>11} {:>7} {:>15} {:>13} {:>7}",
                now.saturating_duration_since(t0).as_secs_f64(),
                opt(smp.rss.map(|v| v.to_string())),
                mib(smp.mem),
                opt(smp.mem.map(|(_, o)| o.to_string())),
                smp.q.total / 1024,
                smp.q.max / 1024,
                viewers.saturating_sub(smp.q.open)
            );
            if now >= end {
                break smp;
            }
            while next_sample <= now {
                next_sample += Duration::from_secs(1);
            }
        }
        b.check_deadline("stall")?;
        let wake = next_due.min(next_sample).min(end);
        b.poll_once(&mut events, wake.saturating_duration_since(Instant::now()))?;
    };
    let hwm = args.pid.and_then(|p| vm_kib(p, "VmHWM:"));
    let closed = viewers.saturating_sub(last.q.open);
    println!(
        "RESULT mode=stall clients={viewers} secs={} rate={rate} len={} rcvbuf={} sent={sent} \
         term={} login_s={:.2} server_rss_before_kib={} server_rss_kib={} server_peak_rss_kib={} \
         tcp_mem_before_mib={} tcp_mem_mib={} tcp_mem_peak_mib={} orphans={} \
         sendq_total_kib={} sendq_max_kib={} sendq_total_peak_kib={} closed={closed}",
        args.secs.as_secs_f64(),
        args.len,
        args.rcvbuf,
        args.term(),
        login.as_secs_f64(),
        opt(rss0.map(|v| v.to_string())),
        opt(last.rss.map(|v| v.to_string())),
        opt(hwm.map(|v| v.to_string())),
        mib(mem0),
        mib(last.mem),
        opt(peak_mem.map(|m| format!("{m:.1}"))),
        opt(last.mem.map(|(_, o)| o.to_string())),
        last.q.total / 1024,
        last.q.max / 1024,
        peak_total / 1024,
    );
    println!(
        "stall: {viewers} chat-view clients that never read (SO_RCVBUF {}), 1 sender of {sent} \
         messages of {} chars at {rate}/s for {:.0} s",
        args.rcvbuf,
        args.len,
        args.secs.as_secs_f64()
    );
    println!(
        "  kernel Send-Q of the server's sockets to them at the end: {} KiB ({:.1} MiB) in all \
         (peak {:.1} MiB), {:.1} KiB per viewer on average, {:.1} KiB the largest",
        last.q.total / 1024,
        last.q.total as f64 / 1048576.0,
        peak_total as f64 / 1048576.0,
        last.q.total as f64 / 1024.0 / viewers as f64,
        last.q.max as f64 / 1024.0
    );
    if let (Some((m0, _)), Some((m1, _))) = (mem0, last.mem) {
        println!(
            "  kernel TCP memory (machine-wide, /proc/net/sockstat): {m0:.1} MiB before, \
             {m1:.1} MiB at the end"
        );
    }
    println!("  the server closed {closed} of the {viewers} viewers");
    if let Some(r) = last.rss {
        println!(
            "  server RSS {:.1} MiB (peak {}{})",
            r as f64 / 1024.0,
            opt(hwm.map(|h| format!("{:.1} MiB", h as f64 / 1024.0))),
            if hwm_reset {
                ", this run"
            } else {
                ", process lifetime"
            }
        );
    }
    b.hold(&mut events, viewers + 1, ", sending nothing")
}

/// One handshake-mode connection: TCP connect, TLS handshake, the first
/// plaintext byte (the server began the session), close.
struct Shake {
    stream: TcpStream,
    tls: Option<rustls::ClientConnection>,
    ssh: Option<Box<SshClient>>,
    started: Instant,
    connected: bool,
}

/// What a readiness event did to a handshake-mode connection.
enum ShakeState {
    Going,
    Done,
    Failed(String),
}

fn drive_shake(c: &mut Shake) -> ShakeState {
    if !c.connected {
        match c.stream.peer_addr() {
            Ok(_) => c.connected = true,
            Err(e) if e.kind() == io::ErrorKind::NotConnected => return ShakeState::Going,
            Err(e) => return ShakeState::Failed(format!("connect: {e}")),
        }
    }
    let mut byte = [0u8; 256];
    if let Some(ssh) = c.ssh.as_mut() {
        return match ssh.read(&mut c.stream, &mut byte) {
            Ok(0) => ShakeState::Failed("closed by the server".into()),
            Ok(_) => ShakeState::Done,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => ShakeState::Going,
            Err(e) => ShakeState::Failed(format!("{e}")),
        };
    }
    let Some(tls) = c.tls.as_mut() else {
        return ShakeState::Failed("no transport".into());
    };
    if let Err(e) = Client::send_records(tls, &mut c.stream) {
        return ShakeState::Failed(format!("write: {e}"));
    }
    loop {
        if !tls.is_handshaking() {
            if let Ok(n) = tls.reader().read(&mut byte) {
                if n > 0 {
                    return ShakeState::Done;
                }
            }
        }
        match tls.read_tls(&mut c.stream) {
            Ok(0) => return ShakeState::Failed("closed by the server".into()),
            Ok(_) => {}
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => return ShakeState::Going,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return ShakeState::Failed(format!("read: {e}")),
        }
        if let Err(e) = tls.process_new_packets() {
            return ShakeState::Failed(format!("TLS: {e}"));
        }
        if let Err(e) = Client::send_records(tls, &mut c.stream) {
            return ShakeState::Failed(format!("write: {e}"));
        }
    }
}

/// `handshake`: N full TLS handshakes (each on a new connection, closed
/// once the server's first byte of the session arrives), at most
/// `--concurrency` at once, or opened at `--rate` per second.
fn run_handshake(args: Args) -> Result<(), String> {
    let config = args.tls.clone();
    let mut poll = Poll::new().map_err(|e| format!("cannot create poll: {e}"))?;
    let mut events = Events::with_capacity(1024);
    let mut conns: Vec<Option<Shake>> = Vec::new();
    let mut free: Vec<usize> = Vec::new();
    let src_ips = args.src_ips.unwrap_or(8);
    let interval = args.rate.map(|r| Duration::from_secs_f64(1.0 / r));
    let (mut started, mut done, mut in_flight) = (0usize, 0usize, 0usize);
    let mut hist = Hist::new();
    let cpu0 = args.pid.and_then(|p| cpu_seconds(&p.to_string()));
    let t0 = Instant::now();
    let mut next_due = t0;
    let mut last_progress = t0;
    while done < args.n {
        let now = Instant::now();
        while started < args.n
            && in_flight < args.concurrency
            && interval.is_none_or(|_| next_due <= now)
        {
            let src =
                (src_ips > 1).then(|| Ipv4Addr::new(127, 0, 0, 1 + (started % src_ips) as u8));
            let mut stream = connect_from(src, None, args.addr)
                .map_err(|e| format!("handshake {started}: cannot connect: {e}"))?;
            let key = free.pop().unwrap_or_else(|| {
                conns.push(None);
                conns.len() - 1
            });
            poll.registry()
                .register(
                    &mut stream,
                    Token(key),
                    Interest::READABLE | Interest::WRITABLE,
                )
                .map_err(|e| format!("cannot register: {e}"))?;
            let tls = match &config {
                Some(config) => {
                    let name = rustls::pki_types::ServerName::IpAddress(args.addr.ip().into());
                    Some(
                        rustls::ClientConnection::new(Arc::clone(config), name)
                            .map_err(|e| format!("TLS: {e}"))?,
                    )
                }
                None => None,
            };
            conns[key] = Some(Shake {
                stream,
                tls,
                ssh: args
                    .ssh
                    .then(|| Box::new(SshClient::new(format!("{}{started}", args.prefix)))),
                started: interval.map_or(now, |_| next_due),
                connected: false,
            });
            started += 1;
            in_flight += 1;
            if let Some(iv) = interval {
                next_due += iv;
            }
        }
        let wait = match interval {
            Some(_) if started < args.n => next_due.saturating_duration_since(Instant::now()),
            _ => Duration::from_millis(100),
        };
        poll.poll(&mut events, Some(wait.min(Duration::from_millis(100))))
            .map_err(|e| format!("poll failed: {e}"))?;
        for ev in events.iter() {
            let key = ev.token().0;
            let Some(Some(c)) = conns.get_mut(key) else {
                continue;
            };
            match drive_shake(c) {
                ShakeState::Going => {}
                ShakeState::Done => {
                    hist.record(c.started.elapsed().as_nanos() as u64);
                    if let Some(mut c) = conns[key].take() {
                        let _ = poll.registry().deregister(&mut c.stream);
                    }
                    free.push(key);
                    done += 1;
                    in_flight -= 1;
                    last_progress = Instant::now();
                }
                ShakeState::Failed(why) => {
                    return Err(format!("handshake {key}: {why}"));
                }
            }
        }
        if last_progress.elapsed() > args.stall {
            return Err(format!(
                "stalled: {done} of {} handshakes done, nothing for {:.1} s",
                args.n,
                args.stall.as_secs_f64()
            ));
        }
        if t0.elapsed() > args.timeout {
            return Err("timed out (--timeout)".into());
        }
    }
    let secs = t0.elapsed().as_secs_f64();
    let cpu = args
        .pid
        .and_then(|p| cpu_seconds(&p.to_string()))
        .zip(cpu0)
        .map(|(b, a)| b - a);
    println!(
        "RESULT mode=handshake transport={} handshakes={} secs={secs:.3} per_s={:.0} rate={} concurrency={} \
         p50_us={} p99_us={} max_us={} server_cpu_s={}",
        if args.ssh { "ssh" } else { "tls" },
        args.n,
        args.n as f64 / secs,
        args.rate.map_or("max".into(), |r| format!("{r}")),
        args.concurrency,
        fmt_us(hist.quantile(0.5)),
        fmt_us(hist.quantile(0.99)),
        fmt_us(hist.max),
        cpu.map_or("-".into(), |c| format!("{c:.2}")),
    );
    println!(
        "handshake: {} full {} handshakes in {secs:.2} s = {:.0}/s (connect to the session's \
         first byte: p50 {} us, p99 {} us)",
        args.n,
        if args.ssh { "SSH" } else { "TLS" },
        args.n as f64 / secs,
        fmt_us(hist.quantile(0.5)),
        fmt_us(hist.quantile(0.99)),
    );
    Ok(())
}

fn main() -> ExitCode {
    // Stop quietly, like other Unix tools, when stdout is a closed pipe
    // (`| head -1`); sockets are written with MSG_NOSIGNAL, so this only
    // concerns stdout and stderr.
    // SAFETY: sets a signal disposition before any other thread exists.
    unsafe { libc::signal(libc::SIGPIPE, libc::SIG_DFL) };
    let argv: Vec<String> = std::env::args().skip(1).collect();
    let args = match parse_args(&argv) {
        Ok(a) => a,
        Err(msg) if msg.is_empty() => {
            println!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        Err(msg) => {
            eprintln!("chatsock-bench: {msg}\n\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    let result = match args.mode {
        Mode::Fanout => run_fanout(args),
        Mode::Idle => run_idle(args),
        Mode::Stall => run_stall(args),
        Mode::Handshake => run_handshake(args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(msg) => {
            eprintln!("chatsock-bench: FAILED: {msg}");
            ExitCode::FAILURE
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scan_finds_tokens_and_carries_the_tail() {
        let mut got = Vec::new();
        let buf = b"\x1b7[u1 ]: %%3:17:123456%xxxx\x1b8 50% ]: %%1:2:3";
        let rest = scan(buf, |s, q, t| got.push((s, q, t)));
        assert_eq!(got, vec![(3, 17, 123456)]);
        assert_eq!(&buf[rest..], b"]: %%1:2:3");
        let rest = scan(b"abc%", |_, _, _| {});
        assert_eq!(rest, 0);
        let rest = scan(b"abcdef%", |_, _, _| {});
        assert_eq!(rest, 3);
        let buf = b"]: %%1:x:3%%]: %%2:5:9%";
        let rest = scan(buf, |s, q, t| got.push((s, q, t)));
        assert_eq!(rest, buf.len() - LEAD.len());
        assert_eq!(got.last(), Some(&(2, 5, 9)));
        // The carried tail is never scanned into a second report.
        let mut again = buf[rest..].to_vec();
        again.extend_from_slice(b"xx");
        let n = got.len();
        scan(&again, |s, q, t| got.push((s, q, t)));
        assert_eq!(got.len(), n);
    }

    /// Feeds `chunks` as successive reads, carrying the tail as `read` does.
    fn scan_reads(chunks: &[&[u8]]) -> Vec<(u32, u32, u64)> {
        let mut got = Vec::new();
        let mut carry = Vec::new();
        for chunk in chunks {
            carry.extend_from_slice(chunk);
            let rest = scan(&carry, |s, q, t| got.push((s, q, t)));
            assert!(carry.len() - rest <= CARRY);
            carry.drain(..rest);
        }
        got
    }

    #[test]
    fn only_history_lines_count_not_a_char_mode_echo() {
        // A character-mode sender's echo: the prompt, then what it typed,
        // or a horizontally scrolled part of it; then the real update.
        let echo: &[u8] = b"\r> %%0:7:99%xxxx\x1b[K";
        let scrolled: &[u8] = b"\r> %0:7:99%xxxx\x1b[K";
        let update: &[u8] = b"\x1b7\x1b[3;22r\x1b[22;1H\r\n[u0        ]: %%0:7:99%xxxx\x1b[r\x1b8";
        assert_eq!(scan_reads(&[echo, scrolled]), vec![]);
        assert_eq!(scan_reads(&[echo, update]), vec![(0, 7, 99)]);
        // The lead at the end of one read, the token in the next; a token
        // split anywhere.
        let whole = [echo, update].concat();
        for cut in 0..whole.len() {
            let (a, b) = whole.split_at(cut);
            assert_eq!(scan_reads(&[a, b]), vec![(0, 7, 99)], "cut at {cut}");
        }
        // The server's telnet offer first changes nothing.
        let greeting: &[u8] = b"\xff\xfb\x01\xff\xfb\x03\xff\xfd\x1f\r\x1b[K";
        assert_eq!(scan_reads(&[greeting, update]), vec![(0, 7, 99)]);
    }

    #[test]
    fn char_mode_ends_lines_with_cr() {
        let argv = |s: &str| s.split(' ').map(String::from).collect::<Vec<_>>();
        let a = parse_args(&argv("fanout --addr 127.0.0.1:1 -n 3 --char -s 2 -m 1")).unwrap();
        assert!(a.char_mode);
        assert_eq!((a.eol(), a.term()), ("\r", "char"));
        let a = parse_args(&argv("idle --addr 127.0.0.1:1 -n 3")).unwrap();
        assert!(!a.char_mode);
        assert_eq!((a.eol(), a.term()), ("\r\n", "line"));
        assert_eq!(TELNET_CHAR_ANSWER.len(), 18);
    }

    #[test]
    fn proc_net_tcp_lines_parse() {
        let text = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 0100007F:56CE 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 4242 1 0000000000000000 100 0 0 10 0
   1: 0100007F:56CE 0100007F:9C40 01 00401A2B:00000000 01:00000014 00000000     0        0 4243 2 0000000000000000 20 4 0 10 -1
   2: 0100007F:56CE 0100007F:9C41 04 00000800:00000000 01:00000014 00000008     0        0 0 1 0000000000000000 20 4 0 10 -1
   3: 0100007F:9C40 0100007F:56CE 01 00000000:00002000 00:00000000 00000000     0        0 4244 1 0000000000000000 20 4 0 10 -1
";
        assert_eq!(parse_tcp_line(text.lines().next().unwrap()), None);
        assert_eq!(
            parse_tcp_line(text.lines().nth(2).unwrap()),
            Some(TcpSock {
                local_port: 22222,
                remote_port: 40000,
                state: TCP_ESTABLISHED,
                tx_queue: 0x0040_1A2B,
            })
        );
        let six = "   5: 0000000000000000FFFF00000100007F:56CE 0000000000000000FFFF00000100007F:9C42 01 00000010:00000000 00:00000000 00000000  1000        0 77 1 0000000000000000 20 4 0 10 -1";
        assert_eq!(
            parse_tcp_line(six).map(|t| (t.local_port, t.remote_port, t.tx_queue)),
            Some((22222, 40002, 16))
        );
        let mut q = SendQ::default();
        // The listener, the client's own end (port 40000 talking to 22222)
        // and port 40001's orphan count or not as they should.
        sendq_of(text, 22222, &[40000, 40001], &mut q);
        assert_eq!(
            q,
            SendQ {
                total: 0x0040_1A2B + 0x800,
                max: 0x0040_1A2B,
                open: 1,
            }
        );
        let stat =
            "sockets: used 10\nTCP: inuse 1 orphan 2 tw 3 alloc 1 mem 33\nUDP: inuse 0 mem 0\n";
        assert_eq!(parse_sockstat(stat), Some((33, 2)));
    }

    #[test]
    fn stall_args() {
        let argv = |s: &str| s.split(' ').map(String::from).collect::<Vec<_>>();
        let a = parse_args(&argv("stall --addr 127.0.0.1:1 -n 3 -s 2")).unwrap();
        assert_eq!(
            (a.mode, a.n, a.secs),
            (Mode::Stall, 3, Duration::from_secs(2))
        );
        assert_eq!((a.rate, a.rcvbuf), (Some(5.0), 4096));
        assert_eq!(a.rooms, vec!["general".to_string()]);
        let a = parse_args(&argv("stall --addr 127.0.0.1:1 -n 3 --rate 50")).unwrap();
        assert_eq!((a.rate, a.secs), (Some(50.0), Duration::from_secs(30)));
        let a = parse_args(&argv("fanout --addr 127.0.0.1:1 -n 3 -s 2 -m 1")).unwrap();
        assert_eq!(a.senders, 2);
    }

    #[test]
    fn histogram_quantiles_within_one_percent() {
        let mut h = Hist::new();
        for v in 1..=100_000u64 {
            h.record(v * 1000);
        }
        let p50 = h.quantile(0.5) as f64;
        let p99 = h.quantile(0.99) as f64;
        assert!((p50 / 50_000_000.0 - 1.0).abs() < 0.01, "{p50}");
        assert!((p99 / 99_000_000.0 - 1.0).abs() < 0.01, "{p99}");
        assert_eq!(h.quantile(1.0), 100_000_000);
        for v in [0u64, 1, 127, 128, 129, 1 << 20, u64::MAX / 2] {
            assert!(Hist::upper(Hist::bucket(v)) >= v);
        }
    }
}
