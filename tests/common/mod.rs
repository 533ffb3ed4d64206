//! Test harness: starts the real `chatsock` binary on `--port 0` with a
//! temporary config, and drives it over loopback with line clients that
//! wait for expected text with a timeout (never a bare sleep).
#![allow(dead_code)]

use std::io::{BufRead, BufReader, PipeReader, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::time::{Duration, Instant};

/// How long any single expectation may wait before the test fails.
pub const TIMEOUT: Duration = Duration::from_secs(10);

static NEXT_FILE: AtomicUsize = AtomicUsize::new(0);

/// A config built field by field; `base()` is what most tests want: no
/// connection delay, no flood throttling, the seed's rooms plus a hidden one.
#[derive(Clone)]
pub struct Cfg {
    fields: Vec<(String, String)>,
    /// Where the TLS certificate and key live (`Cfg::tls`).
    pub tls_dir: Option<PathBuf>,
    /// Where the SSH host key lives (`Cfg::ssh`).
    pub ssh_dir: Option<PathBuf>,
}

impl Cfg {
    /// The test default.
    pub fn base() -> Cfg {
        Cfg {
            fields: Vec::new(),
            tls_dir: None,
            ssh_dir: None,
        }
        .set("host", "\"127.0.0.1\"")
        .set("connectionTimeout", "false")
        .set("floodRate", "0")
        // No test writes an accounts file in the working directory.
        .set("accounts", "\"\"")
        .set(
            "rooms",
            r#"{
        "general": (public: true, password: "", description: "General chat", limit: 0),
        "games": (public: true, password: "", description: "Talk about games", limit: 2),
        "staff": (public: false, password: "", description: "Closed", limit: 0),
        "backstage": (public: false, password: "letmein", description: "Invite only", limit: 0),
    }"#,
        )
    }

    /// Sets (or replaces) one field; `value` is RON source.
    pub fn set(mut self, field: &str, value: &str) -> Cfg {
        self.fields.retain(|(f, _)| f != field);
        self.fields.push((field.to_string(), value.to_string()));
        self
    }

    /// Adds a TLS listener on a free port, its certificate and key in a
    /// fresh temporary directory (made by the server on first start).
    pub fn tls(mut self) -> Cfg {
        let n = NEXT_FILE.fetch_add(1, Ordering::Relaxed);
        let dir = std::env::temp_dir().join(format!("chatsock-tls-{}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("temp dir");
        let value = format!(
            "(port: 0, cert: {:?}, key: {:?})",
            dir.join("cert.pem"),
            dir.join("key.pem")
        );
        self.tls_dir = Some(dir);
        self.set("tls", &value)
    }

    /// Adds an SSH listener on a free port, its host key in a fresh
    /// temporary directory (made by the server on first start).
    pub fn ssh(mut self) -> Cfg {
        let n = NEXT_FILE.fetch_add(1, Ordering::Relaxed);
        let dir = std::env::temp_dir().join(format!("chatsock-ssh-{}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("temp dir");
        let value = format!("(port: 0, hostKey: {:?})", dir.join("hostkey"));
        self.ssh_dir = Some(dir);
        self.set("ssh", &value)
    }

    /// Whether the plain listener is on.
    fn plaintext(&self) -> bool {
        !self
            .fields
            .iter()
            .any(|(f, v)| f == "plaintext" && v == "false")
    }

    /// The RON text.
    pub fn ron(&self) -> String {
        let mut s = String::from("(\n");
        for (f, v) in &self.fields {
            s.push_str(&format!("    {f}: {v},\n"));
        }
        s.push_str(")\n");
        s
    }
}

/// Writes `text` to a fresh temporary file and returns its path.
pub fn temp_file(text: &str) -> PathBuf {
    let n = NEXT_FILE.fetch_add(1, Ordering::Relaxed);
    let path = std::env::temp_dir().join(format!("chatsock-test-{}-{n}.ron", std::process::id()));
    std::fs::write(&path, text).expect("write temp config");
    path
}

/// A fresh empty temporary directory.
pub fn temp_dir() -> PathBuf {
    let n = NEXT_FILE.fetch_add(1, Ordering::Relaxed);
    let path = std::env::temp_dir().join(format!("chatsock-test-{}-dir{n}", std::process::id()));
    let _ = std::fs::remove_dir_all(&path);
    std::fs::create_dir_all(&path).expect("create temp dir");
    path
}

impl Cfg {
    /// Accounts on, kept in the file at `path`.
    pub fn accounts(self, path: &std::path::Path) -> Cfg {
        self.set("accounts", &format!("{:?}", path.display().to_string()))
    }
}

impl Client {
    /// Logs in to a registered account from a fresh connection: the name,
    /// `Password for NAME: `, the password; waits for the palette prompt.
    pub fn log_in(&mut self, name: &str, password: &str) {
        self.expect("Enter a username: ");
        self.send(name);
        self.expect(&format!("Password for {name}: "));
        self.send(password);
        self.expect(&format!("You are now connected as '{name}'."));
        self.expect("> ");
    }
}

/// Path of the server binary under test.
pub fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_chatsock")
}

/// Runs the binary with `args` to completion (bounded by TIMEOUT) and
/// returns (exit status, stdout, stderr).
pub fn run_to_end(args: &[&str]) -> (ExitStatus, String, String) {
    let mut child = Command::new(bin())
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn chatsock");
    let deadline = Instant::now() + TIMEOUT;
    loop {
        if let Some(status) = child.try_wait().expect("wait") {
            let mut out = String::new();
            let mut err = String::new();
            child
                .stdout
                .take()
                .unwrap()
                .read_to_string(&mut out)
                .unwrap();
            child
                .stderr
                .take()
                .unwrap()
                .read_to_string(&mut err)
                .unwrap();
            return (status, out, err);
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("chatsock {args:?} did not exit within {TIMEOUT:?}");
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// CPU time the process `pid` has used so far (user + system), in clock
/// ticks (usually 1/100 s).
pub fn cpu_ticks(pid: u32) -> u64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).expect("read stat");
    // Fields after the parenthesised command name; utime and stime are the
    // 14th and 15th fields of the whole line.
    let rest = &stat[stat.rfind(')').expect("comm") + 2..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    fields[11].parse::<u64>().unwrap() + fields[12].parse::<u64>().unwrap()
}

/// Asserts the process `pid` uses at most 5 clock ticks (50 ms) of CPU in
/// one idle second: it waits for events, it does not spin.
pub fn assert_not_spinning(pid: u32, when: &str) {
    let before = cpu_ticks(pid);
    std::thread::sleep(Duration::from_secs(1));
    let used = cpu_ticks(pid) - before;
    assert!(used <= 5, "{used} ticks of CPU in 1 s {when}");
}

/// Send-Q (bytes the kernel holds unacknowledged or unsent) of every
/// established TCP socket whose local port is `port`, from /proc/net/tcp
/// and tcp6.
pub fn send_queues(port: u16) -> Vec<u64> {
    let mut out = Vec::new();
    for file in ["/proc/net/tcp", "/proc/net/tcp6"] {
        let Ok(text) = std::fs::read_to_string(file) else {
            continue;
        };
        for line in text.lines().skip(1) {
            let f: Vec<&str> = line.split_whitespace().collect();
            if f.len() < 5 || f[3] != "01" {
                continue; // not ESTABLISHED
            }
            let local_port = f[1].rsplit(':').next().unwrap();
            if u16::from_str_radix(local_port, 16).ok() != Some(port) {
                continue;
            }
            let tx = f[4].split(':').next().unwrap();
            out.push(u64::from_str_radix(tx, 16).unwrap());
        }
    }
    out
}

/// A running server; killed when dropped.
pub struct Server {
    child: Child,
    /// Where it listens.
    pub addr: SocketAddr,
    stdout: Receiver<String>,
    stderr: Receiver<String>,
    /// Every stdout line seen so far.
    pub stdout_seen: Vec<String>,
    /// Every stderr line seen so far.
    pub stderr_seen: Vec<String>,
    config: PathBuf,
    /// Read ends of pipes the test keeps open but never reads
    /// (`Output::Stalled`).
    held: Vec<PipeReader>,
    /// The TLS listener's address, when the config has one.
    pub tls_addr: Option<SocketAddr>,
    /// The certificate fingerprint the `TLS on` line printed.
    pub tls_fingerprint: Option<String>,
    /// The directory of the TLS certificate and key.
    pub tls_dir: Option<PathBuf>,
    /// The SSH listener's address, when the config has one.
    pub ssh_addr: Option<SocketAddr>,
    /// The host key fingerprint the `SSH on` line printed.
    pub ssh_fingerprint: Option<String>,
    /// The directory of the SSH host key.
    pub ssh_dir: Option<PathBuf>,
}

fn pump(reader: impl Read + Send + 'static) -> Receiver<String> {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(reader).lines() {
            let Ok(line) = line else { return };
            if tx.send(line).is_err() {
                return;
            }
        }
    });
    rx
}

/// The first line (already `seen`, or arriving on `lines` within TIMEOUT)
/// that contains `needle`.
fn wait_line(lines: &Receiver<String>, seen: &mut Vec<String>, needle: &str, what: &str) -> String {
    if let Some(line) = seen.iter().find(|l| l.contains(needle)) {
        return line.clone();
    }
    let deadline = Instant::now() + TIMEOUT;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match lines.recv_timeout(left) {
            Ok(line) => {
                seen.push(line.clone());
                if line.contains(needle) {
                    return line;
                }
            }
            Err(_) => panic!("no {what} line containing {needle:?}; seen: {seen:?}"),
        }
    }
}

impl Server {
    /// Starts the server with the test default config.
    pub fn start() -> Server {
        Server::with(&Cfg::base())
    }

    /// Starts the server with `cfg` on a free port.
    pub fn with(cfg: &Cfg) -> Server {
        Server::launch(cfg, None)
    }

    /// Starts the server with `cfg` on a free port, its open-file limit
    /// (soft and hard) set to `limit` by the shell that execs it.
    pub fn with_fd_limit(cfg: &Cfg, limit: u32) -> Server {
        Server::launch(cfg, Some(limit))
    }

    /// The command that runs the binary, its open-file limit (soft and
    /// hard) set to `fd_limit` by a shell that execs it.
    fn command(fd_limit: Option<u32>) -> Command {
        match fd_limit {
            None => Command::new(bin()),
            Some(n) => {
                let mut c = Command::new("bash");
                c.args(["-c", &format!("ulimit -n {n} && exec \"$0\" \"$@\""), bin()]);
                c
            }
        }
    }

    fn launch(cfg: &Cfg, fd_limit: Option<u32>) -> Server {
        let config = temp_file(&cfg.ron());
        let mut child = Server::command(fd_limit)
            .arg("--config")
            .arg(&config)
            .args(["--port", "0"])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn chatsock");
        let stdout = pump(child.stdout.take().unwrap());
        let stderr = pump(child.stderr.take().unwrap());
        let mut server = Server {
            child,
            addr: "127.0.0.1:0".parse().unwrap(),
            stdout,
            stderr,
            stdout_seen: Vec::new(),
            stderr_seen: Vec::new(),
            config,
            held: Vec::new(),
            tls_addr: None,
            tls_fingerprint: None,
            tls_dir: cfg.tls_dir.clone(),
            ssh_addr: None,
            ssh_fingerprint: None,
            ssh_dir: cfg.ssh_dir.clone(),
        };
        if cfg.plaintext() {
            let line = server.expect_stdout("Now running on ");
            let addr = line.rsplit("Now running on ").next().unwrap().trim();
            server.addr = addr.parse().expect("address in 'Now running on'");
        }
        if cfg.tls_dir.is_some() {
            // `TLS on 127.0.0.1:PORT, certificate SHA-256 AB:CD:…`
            let line = server.expect_stdout("TLS on ");
            let rest = line.rsplit("TLS on ").next().unwrap();
            let (addr, fp) = rest
                .split_once(", certificate SHA-256 ")
                .expect("fingerprint");
            server.tls_addr = Some(addr.parse().expect("address in 'TLS on'"));
            server.tls_fingerprint = Some(fp.trim().to_string());
        }
        if cfg.ssh_dir.is_some() {
            // `SSH on 127.0.0.1:PORT, host key SHA256:…`
            let line = server.expect_stdout("SSH on ");
            let rest = line.rsplit("SSH on ").next().unwrap();
            let (addr, fp) = rest.split_once(", host key ").expect("fingerprint");
            server.ssh_addr = Some(addr.parse().expect("address in 'SSH on'"));
            server.ssh_fingerprint = Some(fp.trim().to_string());
        }
        server
    }

    /// Starts the server with `cfg` on a free port, its stdout and stderr
    /// going where `stdout` and `stderr` say. The address comes from stdout's
    /// `Now running on` if the test reads stdout, else from stderr's
    /// `chatsock: listening on`; one of the two must be `Output::Read`.
    pub fn with_outputs(cfg: &Cfg, stdout: Output, stderr: Output) -> Server {
        Server::launch_with_outputs(cfg, None, stdout, stderr)
    }

    /// `with_outputs` and `with_fd_limit` at once.
    pub fn with_fd_limit_and_outputs(
        cfg: &Cfg,
        limit: u32,
        stdout: Output,
        stderr: Output,
    ) -> Server {
        Server::launch_with_outputs(cfg, Some(limit), stdout, stderr)
    }

    fn launch_with_outputs(
        cfg: &Cfg,
        fd_limit: Option<u32>,
        stdout: Output,
        stderr: Output,
    ) -> Server {
        let read_stdout = matches!(stdout, Output::Read);
        let read_stderr = matches!(stderr, Output::Read);
        assert!(
            read_stdout || read_stderr,
            "no stream to read the address from"
        );
        let config = temp_file(&cfg.ron());
        let (out_stdio, out_lines, out_held) = stdout.open();
        let (err_stdio, err_lines, err_held) = stderr.open();
        // The Command (and with it the parent's copy of each write end) is
        // dropped right after the spawn, so a pipe ends when the server exits.
        let child = Server::command(fd_limit)
            .arg("--config")
            .arg(&config)
            .args(["--port", "0"])
            .stdin(Stdio::null())
            .stdout(out_stdio)
            .stderr(err_stdio)
            .spawn()
            .expect("spawn chatsock");
        let mut server = Server {
            child,
            addr: "127.0.0.1:0".parse().unwrap(),
            stdout: out_lines,
            stderr: err_lines,
            stdout_seen: Vec::new(),
            stderr_seen: Vec::new(),
            config,
            held: out_held.into_iter().chain(err_held).collect(),
            tls_addr: None,
            tls_fingerprint: None,
            tls_dir: None,
            ssh_addr: None,
            ssh_fingerprint: None,
            ssh_dir: None,
        };
        let (line, prefix) = if read_stdout {
            (server.expect_stdout("Now running on "), "Now running on ")
        } else {
            (
                server.expect_log("chatsock: listening on "),
                "chatsock: listening on ",
            )
        };
        let addr = line.rsplit(prefix).next().unwrap().trim();
        server.addr = addr.parse().expect("address in the start line");
        server
    }

    /// Bytes waiting unread in the `Output::Stalled` pipes.
    pub fn stalled_bytes(&self) -> usize {
        use std::os::fd::AsRawFd;
        self.held
            .iter()
            .map(|r| {
                let mut n: libc::c_int = 0;
                // SAFETY: FIONREAD stores one int through the pointer.
                let rc = unsafe { libc::ioctl(r.as_raw_fd(), libc::FIONREAD, &mut n) };
                assert_eq!(rc, 0, "FIONREAD");
                n as usize
            })
            .sum()
    }

    /// The server's process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Waits for a stdout line containing `needle`; returns it.
    pub fn expect_stdout(&mut self, needle: &str) -> String {
        wait_line(&self.stdout, &mut self.stdout_seen, needle, "stdout")
    }

    /// Waits for a stderr (log) line containing `needle`; returns it.
    pub fn expect_log(&mut self, needle: &str) -> String {
        wait_line(&self.stderr, &mut self.stderr_seen, needle, "log")
    }

    /// Collects whatever stdout/stderr lines are available right now.
    pub fn drain_output(&mut self) {
        while let Ok(l) = self.stdout.try_recv() {
            self.stdout_seen.push(l);
        }
        while let Ok(l) = self.stderr.try_recv() {
            self.stderr_seen.push(l);
        }
    }

    /// The most recent "N online" figure in the log.
    pub fn online_count_logged(&mut self) -> Option<usize> {
        self.drain_output();
        self.stderr_seen.iter().rev().find_map(|l| {
            let i = l.rfind(" online)")?;
            let start = l[..i].rfind(|c: char| !c.is_ascii_digit())? + 1;
            l[start..i].parse().ok()
        })
    }

    /// Sends a signal to the server process.
    pub fn signal(&self, sig: &str) {
        let status = Command::new("kill")
            .args([&format!("-{sig}"), &self.child.id().to_string()])
            .status()
            .expect("run kill");
        assert!(status.success(), "kill -{sig} failed");
    }

    /// Waits for the process to exit; returns its status.
    pub fn wait_exit(&mut self) -> ExitStatus {
        let deadline = Instant::now() + TIMEOUT;
        loop {
            if let Some(status) = self.child.try_wait().expect("wait") {
                self.drain_all();
                return status;
            }
            if Instant::now() > deadline {
                panic!("server did not exit within {TIMEOUT:?}");
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    fn drain_all(&mut self) {
        // After exit the pipes close; take everything that is left.
        let deadline = Instant::now() + Duration::from_secs(2);
        loop {
            match self.stdout.recv_timeout(Duration::from_millis(50)) {
                Ok(l) => self.stdout_seen.push(l),
                Err(RecvTimeoutError::Disconnected) => break,
                Err(RecvTimeoutError::Timeout) if Instant::now() > deadline => break,
                Err(RecvTimeoutError::Timeout) => {}
            }
        }
        loop {
            match self.stderr.recv_timeout(Duration::from_millis(50)) {
                Ok(l) => self.stderr_seen.push(l),
                Err(RecvTimeoutError::Disconnected) => break,
                Err(RecvTimeoutError::Timeout) if Instant::now() > deadline => break,
                Err(RecvTimeoutError::Timeout) => {}
            }
        }
    }

    /// A new client connected to this server.
    pub fn client(&self) -> Client {
        Client::connect(self.addr)
    }

    /// A new client, already named `name` (with the test config's no-delay
    /// connection), sitting at the palette prompt.
    pub fn login(&self, name: &str) -> Client {
        let mut c = self.client();
        c.login(name);
        c
    }

    /// The TLS certificate the server made (or was given).
    pub fn cert_path(&self) -> PathBuf {
        self.tls_dir
            .as_ref()
            .expect("a TLS config")
            .join("cert.pem")
    }

    /// A new TLS client (trusting the server's certificate) with the
    /// handshake done.
    pub fn tls_client(&self) -> Client {
        Client::connect_tls(
            self.tls_addr.expect("a TLS listener"),
            &self.cert_path(),
            "localhost",
        )
    }

    /// A new TLS client, named `name`, at the palette prompt.
    pub fn tls_login(&self, name: &str) -> Client {
        let mut c = self.tls_client();
        c.login(name);
        c
    }

    /// Asserts the server is still running.
    pub fn assert_alive(&mut self) {
        assert!(
            self.child.try_wait().expect("wait").is_none(),
            "server exited"
        );
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if std::thread::panicking() {
            // The server's side of a failed test (the log holds no message
            // text by design).
            self.drain_output();
            eprintln!("server stdout: {:#?}", self.stdout_seen);
            eprintln!("server log: {:#?}", self.stderr_seen);
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_file(&self.config);
        for dir in [&self.tls_dir, &self.ssh_dir].into_iter().flatten() {
            let _ = std::fs::remove_dir_all(dir);
        }
    }
}

/// Where `Server::with_outputs` sends the server's stdout or stderr.
pub enum Output {
    /// A pipe the test reads, line by line (as `Server::with` does).
    Read,
    /// A pipe whose read end is closed before the server starts: every
    /// write fails with EPIPE.
    Closed,
    /// A pipe the test keeps open but never reads: once its buffer (64 KiB)
    /// is full, a write blocks.
    Stalled,
    /// `/dev/full`: every write fails with ENOSPC.
    Full,
    /// A pipe already full when the server starts, kept open and never
    /// read: the server's first write to it blocks, and so does every one
    /// after.
    Jammed,
}

impl Output {
    /// The child's end, the lines the test will see (none unless `Read`),
    /// and a read end to keep open (`Stalled`, `Jammed`).
    fn open(self) -> (Stdio, Receiver<String>, Option<PipeReader>) {
        let nothing = || mpsc::channel().1;
        match self {
            Output::Read => {
                let (r, w) = std::io::pipe().expect("pipe");
                (w.into(), pump(r), None)
            }
            Output::Closed => {
                let (r, w) = std::io::pipe().expect("pipe");
                drop(r);
                (w.into(), nothing(), None)
            }
            Output::Stalled => {
                let (r, w) = std::io::pipe().expect("pipe");
                (w.into(), nothing(), Some(r))
            }
            Output::Full => {
                let full = std::fs::OpenOptions::new()
                    .write(true)
                    .open("/dev/full")
                    .expect("open /dev/full");
                (full.into(), nothing(), None)
            }
            Output::Jammed => {
                use std::os::fd::AsRawFd;
                let (r, mut w) = std::io::pipe().expect("pipe");
                // An empty pipe takes one write of its whole capacity.
                // SAFETY: F_GETPIPE_SZ only reads the pipe's size.
                let capacity = unsafe { libc::fcntl(w.as_raw_fd(), libc::F_GETPIPE_SZ) };
                assert!(capacity > 0, "F_GETPIPE_SZ");
                w.write_all(&vec![b'x'; capacity as usize])
                    .expect("fill the pipe");
                (w.into(), nothing(), Some(r))
            }
        }
    }
}

/// A line client, as `nc` would be.
pub struct Client {
    /// The socket.
    pub stream: TcpStream,
    buf: Vec<u8>,
    /// Set once the server closed the connection.
    pub closed: bool,
    /// Bytes received so far (to spot the telnet greeting at the start).
    received: usize,
    /// The telnet greeting (`IAC WILL ECHO …`, erased by `\r ESC[K`) that
    /// opened the stream, if it did; kept out of `buf`: a line client
    /// answers none of it, as `nc` does, and stays in line mode.
    pub greeting: Vec<u8>,
    /// The TLS session of a TLS client (rustls, in this process).
    pub tls: Option<Box<rustls::ClientConnection>>,
}

/// A rustls client configuration trusting the certificates in `cert`.
pub fn tls_client_config(cert: &std::path::Path) -> std::sync::Arc<rustls::ClientConfig> {
    use rustls::pki_types::pem::PemObject;
    let mut roots = rustls::RootCertStore::empty();
    for c in rustls::pki_types::CertificateDer::pem_file_iter(cert).expect("read the certificate") {
        roots
            .add(c.expect("a PEM certificate"))
            .expect("a usable certificate");
    }
    let provider = std::sync::Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    std::sync::Arc::new(config)
}

impl Client {
    /// Connects to `addr`.
    pub fn connect(addr: SocketAddr) -> Client {
        let stream = TcpStream::connect_timeout(&addr, TIMEOUT).expect("connect");
        stream.set_nodelay(true).unwrap();
        Client::from_stream(stream)
    }

    /// Connects to the TLS listener at `addr`, trusting the certificate in
    /// `cert` for `name`, and completes the handshake.
    pub fn connect_tls(addr: SocketAddr, cert: &std::path::Path, name: &str) -> Client {
        let mut c = Client::connect(addr);
        c.start_tls(cert, name);
        c
    }

    /// Starts TLS on this connection (before anything else was sent) and
    /// completes the handshake within TIMEOUT; panics if it fails.
    pub fn start_tls(&mut self, cert: &std::path::Path, name: &str) {
        let server_name = rustls::pki_types::ServerName::try_from(name.to_string()).unwrap();
        let mut conn =
            rustls::ClientConnection::new(tls_client_config(cert), server_name).expect("client");
        self.stream.set_read_timeout(Some(TIMEOUT)).unwrap();
        while conn.is_handshaking() {
            conn.complete_io(&mut self.stream).expect("TLS handshake");
        }
        self.tls = Some(Box::new(conn));
    }

    /// `bytes` encrypted as this TLS client would send them, for a test to
    /// write to a clone of the socket from another thread.
    pub fn encrypt(&mut self, bytes: &[u8]) -> Vec<u8> {
        let conn = self.tls.as_mut().expect("a TLS client");
        let mut out = Vec::new();
        for chunk in bytes.chunks(16 * 1024) {
            conn.writer().write_all(chunk).unwrap();
            while conn.wants_write() {
                conn.write_tls(&mut out).unwrap();
            }
        }
        out
    }

    /// Connects with a 4 KiB receive buffer, so that when it stops
    /// reading the kernel holds little and the server's queue fills fast.
    pub fn connect_small_rcvbuf(addr: SocketAddr) -> Client {
        let socket = socket2::Socket::new(
            socket2::Domain::for_address(addr),
            socket2::Type::STREAM,
            None,
        )
        .unwrap();
        socket.set_recv_buffer_size(4096).unwrap();
        socket
            .connect_timeout(&addr.into(), TIMEOUT)
            .expect("connect");
        let stream: TcpStream = socket.into();
        stream.set_nodelay(true).unwrap();
        Client::from_stream(stream)
    }

    /// Wraps an already connected socket.
    pub fn from_stream(stream: TcpStream) -> Client {
        Client {
            stream,
            buf: Vec::new(),
            closed: false,
            received: 0,
            greeting: Vec::new(),
            tls: None,
        }
    }

    /// Sends raw bytes (through TLS for a TLS client).
    pub fn send_raw(&mut self, bytes: &[u8]) {
        match self.tls.as_mut() {
            None => self.stream.write_all(bytes).expect("send"),
            Some(conn) => {
                let mut s = rustls::Stream::new(conn.as_mut(), &mut self.stream);
                s.write_all(bytes).expect("send over TLS");
                s.flush().expect("send over TLS");
            }
        }
    }

    /// Reads plaintext (through TLS for a TLS client).
    fn read_some(&mut self, chunk: &mut [u8]) -> std::io::Result<usize> {
        match self.tls.as_mut() {
            None => self.stream.read(chunk),
            Some(conn) => rustls::Stream::new(conn.as_mut(), &mut self.stream).read(chunk),
        }
    }

    /// Sends one line ending in `\r\n` (as telnet does).
    pub fn send(&mut self, line: &str) {
        self.send_raw(format!("{line}\r\n").as_bytes());
    }

    /// Reads once (up to `wait`); false on timeout. Sets `closed` on EOF.
    fn fill(&mut self, wait: Duration) -> bool {
        let wait = wait.max(Duration::from_millis(1));
        self.stream.set_read_timeout(Some(wait)).unwrap();
        let mut chunk = [0u8; 16384];
        match self.read_some(&mut chunk) {
            Ok(0) => {
                self.closed = true;
                true
            }
            Ok(n) => {
                let mut got = &chunk[..n];
                if self.received == 0 && got.starts_with(chatsock::term::telnet::GREETING) {
                    let len = chatsock::term::telnet::GREETING.len();
                    self.greeting = got[..len].to_vec();
                    got = &got[len..];
                }
                self.received += n;
                self.buf.extend_from_slice(got);
                true
            }
            Err(e)
                if e.kind() == std::io::ErrorKind::WouldBlock
                    || e.kind() == std::io::ErrorKind::TimedOut
                    || e.kind() == std::io::ErrorKind::Interrupted =>
            {
                false
            }
            Err(_) => {
                self.closed = true;
                true
            }
        }
    }

    /// Waits until the received text contains `needle`; returns everything
    /// up to and including it, and keeps the rest for the next call.
    pub fn expect(&mut self, needle: &str) -> String {
        self.expect_within(needle, TIMEOUT)
    }

    /// `expect` with its own timeout.
    pub fn expect_within(&mut self, needle: &str, timeout: Duration) -> String {
        let deadline = Instant::now() + timeout;
        let n = needle.as_bytes();
        // Only the bytes that arrived since the last look can complete a
        // match, so each byte is scanned about once.
        let mut from = 0;
        loop {
            if let Some(i) = find(&self.buf[from..], n).map(|i| i + from) {
                let rest = self.buf.split_off(i + n.len());
                let got = std::mem::replace(&mut self.buf, rest);
                return String::from_utf8_lossy(&got).into_owned();
            }
            if self.closed {
                panic!(
                    "connection closed before {needle:?}; received: {:?}",
                    String::from_utf8_lossy(&self.buf)
                );
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                panic!(
                    "timed out waiting for {needle:?}; received: {:?}",
                    String::from_utf8_lossy(&self.buf)
                );
            }
            from = self.buf.len().saturating_sub(n.len());
            self.fill(left);
        }
    }

    /// Waits up to `timeout` until the received text contains one of
    /// `needles`; returns the index of the first found, leaving the text
    /// for later `expect`s. None on timeout, or if the connection closed
    /// without any of them.
    pub fn wait_for_any(&mut self, needles: &[&str], timeout: Duration) -> Option<usize> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(i) = needles
                .iter()
                .position(|n| find(&self.buf, n.as_bytes()).is_some())
            {
                return Some(i);
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if self.closed || left.is_zero() {
                return None;
            }
            self.fill(left);
        }
    }

    /// Waits until the server closes the connection; returns what arrived.
    pub fn expect_closed(&mut self) -> String {
        let deadline = Instant::now() + TIMEOUT;
        while !self.closed {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                panic!(
                    "connection not closed; received: {:?}",
                    String::from_utf8_lossy(&self.buf)
                );
            }
            self.fill(left);
        }
        String::from_utf8_lossy(&std::mem::take(&mut self.buf)).into_owned()
    }

    /// Everything received but not yet consumed by `expect`, after reading
    /// whatever arrives within `wait`.
    pub fn take_pending(&mut self, wait: Duration) -> String {
        let deadline = Instant::now() + wait;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() || self.closed || !self.fill(left) {
                break;
            }
        }
        String::from_utf8_lossy(&std::mem::take(&mut self.buf)).into_owned()
    }

    /// Goes from a fresh connection (no connection delay) to the palette.
    pub fn login(&mut self, name: &str) {
        self.expect("Enter a username: ");
        self.send(name);
        self.expect(&format!("You are now connected as '{name}'."));
        self.expect("> ");
    }

    /// Sends a palette command and returns the reply up to the next prompt
    /// ending in `> ` (the reply does not include the prompt).
    pub fn command(&mut self, line: &str) -> String {
        self.send(line);
        self.expect("> ")
    }

    /// Joins `room` and enters its chat view (waits for the input prompt).
    pub fn enter_room(&mut self, room: &str) {
        self.send(&format!(":join {room}"));
        self.expect(&format!("You joined the room '{room}'!"));
        self.expect("> ");
        self.send(":chat");
        self.expect(&format!("[room/{room}]"));
        self.expect("> ");
    }

    /// Closes only our sending side (a half-closed socket).
    pub fn shutdown_write(&mut self) {
        let _ = self.stream.shutdown(Shutdown::Write);
    }
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    if needle.is_empty() {
        return Some(0);
    }
    hay.windows(needle.len()).position(|w| w == needle)
}

/// Removes ANSI escape sequences (CSI, ESC 7/8) so assertions can look at
/// the visible text.
pub fn strip_ansi(s: &str) -> String {
    let mut out = String::new();
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        if c != '\x1b' {
            out.push(c);
            continue;
        }
        if chars.next() == Some('[') {
            for c in chars.by_ref() {
                if ('\x40'..='\x7e').contains(&c) {
                    break;
                }
            }
        }
    }
    out
}

// ---- chat-view helpers (tests/chatview.rs, tests/private.rs, …) ----------

/// Clear screen and home, as the server sends it.
pub const CLEAR: &str = "\x1b[2J\x1b[H";

/// The red-background style of SERVER lines.
pub const RED_BG: &str = "\x1b[41m";

// The screen format is the server's own (chatsock::view): these helpers
// only pick the layout a test client has — a line-mode terminal of the
// assumed 80×24 — and the label from a tag such as `[room/general]`.

/// The size the server assumes for a client that does not say.
pub const COLS: usize = 80;
/// See [`COLS`].
pub const ROWS: usize = 24;

/// The chat-view layout of an 80×24 line-mode client with `chatviewMax`
/// `max`.
pub fn layout(max: usize) -> chatsock::view::Layout {
    chatsock::view::Layout::new(COLS, ROWS, max, false)
}

/// The label a separator tag (`[room/general]`, `[dm/bob]`) stands for.
pub fn label(tag: &str) -> chatsock::view::Label<'_> {
    let inner = tag.trim_start_matches('[').trim_end_matches(']');
    match inner.split_once('/') {
        Some(("room", name)) => chatsock::view::Label::Room(name),
        Some(("dm", name)) => chatsock::view::Label::Dm(name),
        _ => chatsock::view::Label::None,
    }
}

/// The chat view's separator ending in `tag`, across the terminal.
pub fn separator(tag: &str) -> String {
    chatsock::view::separator(label(tag), COLS)
}

/// A message line as SPEC §5 shows it: `[NAME<pad>]: TEXT`.
pub fn msg_line(name: &str, width: usize, text: &str) -> String {
    chatsock::view::message_line(name, width, text)
        .text
        .to_string()
}

/// The whole chat view an 80×24 line-mode viewer gets (chatviewMax
/// `max`): `history` as plain message lines, then the input prompt.
pub fn frame(max: usize, history: &[String], tag: &str) -> String {
    let lines: std::collections::VecDeque<_> = history
        .iter()
        .map(|l| {
            std::rc::Rc::new(chatsock::view::HistLine {
                style: chatsock::view::Style::Plain,
                text: l.as_str().into(),
                ..Default::default()
            })
        })
        .collect();
    let bytes = chatsock::view::full_view(&lines, layout(max), label(tag));
    format!("{}> ", String::from_utf8(bytes).unwrap())
}

impl Client {
    /// Waits for the next full chat-view frame ending in the separator
    /// `tag` and the input prompt; returns it from its last clear-screen.
    pub fn expect_frame(&mut self, tag: &str) -> String {
        let got = self.expect(&format!("{tag}\r\n> "));
        match got.rfind(CLEAR) {
            Some(i) => got[i..].to_string(),
            None => panic!("no clear-screen before the frame: {got:?}"),
        }
    }

    /// Waits for the next incremental chat-view update (ESC 7 … ESC 8);
    /// returns (what came before it, the update itself).
    pub fn expect_update(&mut self) -> (String, String) {
        let got = self.expect("\x1b8");
        match got.rfind("\x1b7") {
            Some(i) => (got[..i].to_string(), got[i..].to_string()),
            None => panic!("update without save-cursor: {got:?}"),
        }
    }

    /// Opens a DM with `user` and enters its chat view.
    pub fn enter_dm(&mut self, user: &str) {
        self.send(&format!(":dm {user}"));
        self.expect(&format!("You opened a DM with '{user}'."));
        self.expect("> ");
        self.send(":chat");
        self.expect_frame(&format!("[dm/{user}]"));
    }
}

/// The server's resident set (VmRSS) and peak (VmHWM), in KiB.
pub fn rss_kib(pid: u32) -> (u64, u64) {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("proc status");
    let field = |name: &str| {
        status
            .lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|v| v.parse().ok())
            .expect("VmRSS/VmHWM")
    };
    (field("VmRSS:"), field("VmHWM:"))
}

/// Waits until the log's latest "N online" figure is `n`.
pub fn wait_online(server: &mut Server, n: usize) {
    let deadline = Instant::now() + TIMEOUT;
    loop {
        if server.online_count_logged() == Some(n) {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "online count never reached {n}: {:?}",
            server.online_count_logged()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// A client socket that resets (RST) instead of closing when dropped.
pub fn resetting(client: &Client) {
    socket2::SockRef::from(&client.stream)
        .set_linger(Some(Duration::ZERO))
        .expect("SO_LINGER");
}

/// Waits until the log holds at least `n` lines containing `needle`.
pub fn wait_log_count(server: &mut Server, needle: &str, n: usize, timeout: Duration) {
    let deadline = Instant::now() + timeout;
    loop {
        server.drain_output();
        let seen = server
            .stderr_seen
            .iter()
            .filter(|l| l.contains(needle))
            .count();
        if seen >= n {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "only {seen} of {n} log lines with {needle:?}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// The incremental update that adds the plain `line` to an 80×24 line-mode
/// viewer's history (chatviewMax `max`).
pub fn view_update(max: usize, line: &str) -> String {
    let line = chatsock::view::HistLine {
        style: chatsock::view::Style::Plain,
        text: line.into(),
        ..Default::default()
    };
    String::from_utf8(chatsock::view::view_update(&line, layout(max))).unwrap()
}

/// What a viewer gets after pressing Enter (below any history update):
/// the separator and an empty input line again, the rest cleared.
pub fn input_reset(max: usize, tag: &str) -> String {
    let reset = chatsock::view::input_reset(layout(max), label(tag));
    format!("{}> ", String::from_utf8(reset).unwrap())
}

/// What a viewer gets for its own message `line`: the one-line update
/// everyone gets, then its input line redrawn.
pub fn own_message(rows: usize, line: &str, tag: &str) -> String {
    format!("{}{}", view_update(rows, line), input_reset(rows, tag))
}

impl Client {
    /// Waits for the input-line reset that answers this viewer's own Enter;
    /// returns everything up to and including it.
    pub fn expect_sent(&mut self, tag: &str) -> String {
        // The input-line reset, or a full redraw after a line wider than
        // the terminal (its echo wrapped and scrolled the screen).
        let mut got = self.expect(&format!("{tag}\r\n"));
        got.push_str(&self.expect("> "));
        got
    }
}

/// The config of [`stalled_viewer_gets_one_redraw`]: a 16 KiB queue
/// limit, five history rows, no message limit.
pub fn stalled_viewer_cfg(cfg: Cfg) -> Cfg {
    cfg.set("sendQueueLimit", "16384")
        .set("chatviewMax", "5")
        .set("messageLimit", "0")
}

/// SPEC §7: `staller` (logged in, at the palette) writes `spam` (raw
/// bytes, already encrypted for a TLS client) and never reads; it is
/// disconnected at `sendQueueLimit` while `talker` and `watcher` chat on
/// with low latency, and the server's memory stays bounded.
pub fn stalled_reader_is_dropped(
    server: &mut Server,
    mut talker: Client,
    mut watcher: Client,
    staller: Client,
    spam: Vec<u8>,
) {
    watcher.enter_room("general");
    talker.enter_room("general");
    watcher.expect("talker joined the room.");
    let (_, base_peak) = rss_kib(server.pid());
    let mut stall_stream = staller.stream.try_clone().unwrap();
    let writer = std::thread::spawn(move || {
        // Fails with a reset once the server drops it; that is expected.
        let _ = stall_stream.write_all(&spam);
    });
    // Meanwhile, chat goes on with low latency.
    let mut worst = Duration::ZERO;
    for i in 0..50 {
        let t = Instant::now();
        talker.send(&format!("ping {i} end"));
        watcher.expect(&format!("ping {i} end"));
        worst = worst.max(t.elapsed());
    }
    assert!(worst < Duration::from_millis(500), "latency {worst:?}");
    let log = server.expect_log("send queue full");
    assert!(log.contains("staller"), "{log}");
    let _ = writer.join();
    // The staller's connection is gone.
    let mut raw = staller.stream;
    raw.set_read_timeout(Some(TIMEOUT)).unwrap();
    let mut sink = vec![0u8; 1 << 16];
    let mut total = 0usize;
    while let Ok(n) = raw.read(&mut sink) {
        if n == 0 {
            break;
        }
        total += n;
    }
    assert!(total < 64 << 20);
    // 60,000 :help replies are ~60 MB of output; the server never held it.
    let (_, peak) = rss_kib(server.pid());
    assert!(
        peak < base_peak + 16 * 1024,
        "peak RSS grew from {base_peak} KiB to {peak} KiB"
    );
    // Everyone else still works.
    talker.send("still here");
    watcher.expect("still here");
}

/// SPEC §5/§7: `slow` (connected, not yet named; a small receive buffer)
/// views general and stops reading while 8,000 ~1 KB messages arrive; it
/// is not disconnected, and when it reads at last it gets the latest
/// screen (one full redraw), not the backlog.
pub fn stalled_viewer_gets_one_redraw(server: &mut Server, mut slow: Client) {
    slow.login("slow");
    slow.enter_room("general");
    let mut talker = server.login("talker");
    talker.enter_room("general");
    slow.expect("talker joined the room.");
    // 8,000 updates of ~1 KB for a viewer that is not reading: far more
    // than its socket buffers and the 16 KiB queue limit.
    let count = 8_000;
    let pad = "p".repeat(900);
    let mut tx = talker.stream.try_clone().unwrap();
    let writer = std::thread::spawn(move || {
        for i in 0..count {
            tx.write_all(format!("m{i} {pad} end{i}\r\n").as_bytes())
                .unwrap();
        }
    });
    // The talker reads its own redraws until its last message shows.
    let last = format!("end{}", count - 1);
    talker.expect_within(&last, Duration::from_secs(30));
    writer.join().unwrap();

    // The slow viewer was not disconnected: when it reads at last, the
    // final screen holds the last message.
    let mut got = slow.expect_within(&last, Duration::from_secs(30));
    // The rest of that write (the frame's separator, if the last line came
    // in a frame) is already on its way.
    got.push_str(&slow.take_pending(Duration::from_millis(300)));
    assert!(!slow.closed);
    // The redraw that replaced the backlog fills the chatviewMax history
    // rows (each ~900-character message wraps to several 80-column rows).
    let at = got.rfind("\x1b[2J").expect("a full redraw");
    let frame = &got[at..at + got[at..].find("[room/general]").expect("separator")];
    let rows: Vec<&str> = frame.split("\r\n").collect();
    assert_eq!(rows.len(), 5 + 1, "{frame:?}");
    assert!(
        rows[..5]
            .iter()
            .all(|r| r.ends_with('p') || r.contains(" end")),
        "{frame:?}"
    );
    assert!(
        got.len() < 4 << 20,
        "the stale updates were replaced, yet {} bytes arrived",
        got.len()
    );
    server.drain_output();
    assert!(
        !server
            .stderr_seen
            .iter()
            .any(|l| l.contains("send queue full")),
        "{:?}",
        server.stderr_seen
    );
    slow.send("alive");
    talker.expect("alive");
}
