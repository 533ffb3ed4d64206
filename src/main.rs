//! The `chatsock` binary: command line → config → `server::run`; exit codes.

use chatsock::config::{Config, ConfigError, DEFAULT_RON};
use chatsock::transport::{ssh, tls};
use chatsock::{log, log_err, log_out, server, VERSION};
use std::net::SocketAddr;
use std::path::Path;
use std::process::ExitCode;
use std::time::Duration;

const USAGE: &str = "\
Usage: chatsock [--config PATH] [--port N] [--tls-port N] [--ssh-port N] [--check]
       chatsock [--config PATH] --op NAME

  --config PATH  read the configuration from PATH (default ./chatsock.ron,
                 or the built-in default when that file does not exist)
  --port N       listen on port N instead of the configured one (0 = any)
  --tls-port N   listen for TLS clients on port N (0 = any); turns TLS on
                 with the default certificate files when the config has no
                 `tls`
  --ssh-port N   listen for SSH clients on port N (0 = any); turns SSH on
                 with the default host key file when the config has no
                 `ssh`
  --check        validate the configuration, print a summary and exit
  --op NAME      make account NAME an op in the accounts file (of a stopped
                 server) and exit
  --help         show this help
  --version      show the version";

/// How the program ends, mapped to an exit code in `main`.
enum Failure {
    /// Bad command line: exit 2.
    Usage(String),
    /// Config or bind error: exit 1.
    Fatal(String),
}

struct Args {
    config: Option<String>,
    port: Option<u16>,
    tls_port: Option<u16>,
    ssh_port: Option<u16>,
    check: bool,
    op: Option<String>,
}

fn parse_args() -> Result<Option<Args>, Failure> {
    let mut args = Args {
        config: None,
        port: None,
        tls_port: None,
        ssh_port: None,
        check: false,
        op: None,
    };
    let mut it = std::env::args().skip(1);
    while let Some(a) = it.next() {
        match a.as_str() {
            "--help" | "-h" => {
                log_out!("{USAGE}");
                return Ok(None);
            }
            "--version" | "-V" => {
                log_out!("chatsock {VERSION}");
                return Ok(None);
            }
            "--check" => args.check = true,
            "--config" => {
                let path = it
                    .next()
                    .ok_or_else(|| Failure::Usage("--config needs a PATH".into()))?;
                args.config = Some(path);
            }
            "--op" => {
                let name = it
                    .next()
                    .ok_or_else(|| Failure::Usage("--op needs a NAME".into()))?;
                args.op = Some(name);
            }
            "--port" | "--tls-port" | "--ssh-port" => {
                let n = it
                    .next()
                    .ok_or_else(|| Failure::Usage(format!("{a} needs a number")))?;
                let port = n.parse().map_err(|_| {
                    Failure::Usage(format!("{a}: {n:?} is not a port number (0-65535)"))
                })?;
                match a.as_str() {
                    "--port" => args.port = Some(port),
                    "--tls-port" => args.tls_port = Some(port),
                    _ => args.ssh_port = Some(port),
                }
            }
            other => return Err(Failure::Usage(format!("unknown argument {other:?}"))),
        }
    }
    Ok(Some(args))
}

/// What `--check` calls the built-in config.
const BUILT_IN: &str = "built-in default";

/// Reads the config from `path`, else `./chatsock.ron`, else the built-in
/// default; returns it with the name of what was read (the file, or
/// [`BUILT_IN`]).
fn load(path: Option<&str>) -> Result<(Config, String), ConfigError> {
    let unreadable = |file: &str, e: std::io::Error| ConfigError {
        file: file.to_string(),
        position: None,
        message: format!("cannot read the config file: {e}"),
    };
    let (source, file, name) = match path {
        Some(p) => match std::fs::read_to_string(p) {
            Ok(s) => (s, p, p),
            Err(e) => return Err(unreadable(p, e)),
        },
        None => match std::fs::read_to_string("chatsock.ron") {
            Ok(s) => (s, "chatsock.ron", "chatsock.ron"),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                (DEFAULT_RON.to_string(), "<built-in chatsock.ron>", BUILT_IN)
            }
            Err(e) => return Err(unreadable("chatsock.ron", e)),
        },
    };
    Ok((Config::from_ron(&source, file)?, name.to_string()))
}

fn try_main() -> Result<(), Failure> {
    let Some(args) = parse_args()? else {
        return Ok(());
    };
    let (mut config, read) =
        load(args.config.as_deref()).map_err(|e| Failure::Fatal(e.to_string()))?;
    if let Some(port) = args.port {
        config.port = port;
    }
    if let Some(port) = args.tls_port {
        config.tls.get_or_insert_with(Default::default).port = port;
    }
    if let Some(port) = args.ssh_port {
        config.ssh.get_or_insert_with(Default::default).port = port;
    }
    if let Some(name) = &args.op {
        return make_op(&config, &read, name);
    }
    let accounts = load_accounts(&config)?;
    if args.check {
        let count = accounts.as_ref().map_or(String::new(), |a| {
            format!(
                ", {} accounts in {}",
                a.file.accounts.len(),
                a.path.display()
            )
        });
        let tls = match &config.tls {
            None => String::new(),
            Some(t) => match tls::check(Path::new(&t.cert), Path::new(&t.key)) {
                Ok(Some(fp)) => format!(", TLS on port {} (certificate SHA-256 {fp})", t.port),
                Ok(None) => format!(
                    ", TLS on port {} (a self-signed certificate will be made)",
                    t.port
                ),
                Err(e) => return Err(Failure::Fatal(e)),
            },
        };
        let ssh = match &config.ssh {
            None => String::new(),
            Some(s) => match ssh::check(Path::new(&s.host_key)) {
                Ok(Some(fp)) => format!(", SSH on port {} (host key {fp})", s.port),
                Ok(None) => format!(", SSH on port {} (a host key will be made)", s.port),
                Err(e) => return Err(Failure::Fatal(e)),
            },
        };
        log_out!("config OK ({read}): {}{tls}{ssh}{count}", config.summary());
        return Ok(());
    }
    // Resolved again: the port may have changed, and so may the name.
    let addr = config
        .listen_addr()
        .map_err(|e| Failure::Fatal(format!("cannot resolve host {:?}: {e}", config.host)))?;
    // The files first: a bad pair stops the server before it listens.
    let tls = match &config.tls {
        None => None,
        Some(t) => {
            let names = certificate_names(&config.host);
            let setup = tls::setup(Path::new(&t.cert), Path::new(&t.key), &names)
                .map_err(Failure::Fatal)?;
            Some((setup, SocketAddr::new(addr.ip(), t.port)))
        }
    };
    let ssh = match &config.ssh {
        None => None,
        Some(s) => {
            let setup = ssh::setup(Path::new(&s.host_key)).map_err(Failure::Fatal)?;
            Some((setup, SocketAddr::new(addr.ip(), s.port)))
        }
    };
    let mut listeners = Vec::new();
    let mut lines = Vec::new();
    let mut made = Vec::new();
    if config.plaintext {
        let listener = listen(addr).map_err(|e| Failure::Fatal(bind_error(addr, &e)))?;
        let bound = listener
            .local_addr()
            .map_err(|e| Failure::Fatal(e.to_string()))?;
        lines.push((
            format!("Now running on {bound}"),
            format!("listening on {bound}"),
        ));
        listeners.push(server::Listener::plain(listener));
    }
    if let Some((setup, addr)) = tls {
        if let (Some(names), Some(t)) = (&setup.made, &config.tls) {
            made.push(format!(
                "Made a self-signed certificate for {}: {} (key {}, mode 0600)",
                names.join(", "),
                t.cert,
                t.key
            ));
        }
        let listener = listen(addr).map_err(|e| Failure::Fatal(bind_error(addr, &e)))?;
        let bound = listener
            .local_addr()
            .map_err(|e| Failure::Fatal(e.to_string()))?;
        lines.push((
            format!("TLS on {bound}, certificate SHA-256 {}", setup.fingerprint),
            format!("listening for TLS on {bound}"),
        ));
        listeners.push(server::Listener::tls(listener, setup.config));
    }
    if let Some((setup, addr)) = ssh {
        if let (true, Some(s)) = (setup.made, &config.ssh) {
            made.push(format!("Made an SSH host key: {} (mode 0600)", s.host_key));
        }
        let listener = listen(addr).map_err(|e| Failure::Fatal(bind_error(addr, &e)))?;
        let bound = listener
            .local_addr()
            .map_err(|e| Failure::Fatal(e.to_string()))?;
        lines.push((
            format!("SSH on {bound}, host key {}", setup.host_key.fingerprint()),
            format!("listening for SSH on {bound}"),
        ));
        listeners.push(server::Listener::ssh(listener, setup));
    }
    // Before the listening lines: a signal sent as soon as one is read
    // must reach the handler, not end the process.
    let shutdown = chatsock::shutdown::Shutdown::signals()
        .map_err(|e| Failure::Fatal(format!("cannot watch for signals: {e}")))?;
    log_out!("chatsock v{VERSION}");
    for made in made {
        log_out!("{made}");
    }
    for (out, err) in &lines {
        log_out!("{out}");
        log_err!("chatsock: {err}");
    }
    check_fd_limit(config.max_clients);
    server::run(listeners, shutdown, config, accounts, VERSION)
        .map_err(|e| Failure::Fatal(format!("event loop failed: {e}")))
}

/// The names a self-signed certificate is made for: `host` and localhost;
/// for a wildcard host (`0.0.0.0`, `::`), the machine's name instead.
fn certificate_names(host: &str) -> Vec<String> {
    let mut names = Vec::new();
    match host.parse::<std::net::IpAddr>() {
        Ok(ip) if ip.is_unspecified() => names.extend(machine_name()),
        _ => names.push(host.to_string()),
    }
    if !names.iter().any(|n| n == "localhost") {
        names.push("localhost".into());
    }
    names
}

/// The machine's host name, if it has a usable one.
fn machine_name() -> Option<String> {
    let name = std::fs::read_to_string("/proc/sys/kernel/hostname").ok()?;
    let name = name.trim();
    (!name.is_empty() && name != "localhost" && !name.contains(char::is_whitespace))
        .then(|| name.to_string())
}

/// Reads the accounts file the config names (None when accounts are off);
/// a broken file stops the server, naming file, line and column.
fn load_accounts(config: &Config) -> Result<Option<server::Accounts>, Failure> {
    if config.accounts.is_empty() {
        return Ok(None);
    }
    let path = std::path::PathBuf::from(&config.accounts);
    let file = chatsock::accounts::store::load(&path)
        .map_err(|e| {
            Failure::Fatal(format!(
                "{e} (fix or move the accounts file; it was not changed)"
            ))
        })?
        .unwrap_or_default();
    Ok(Some(server::Accounts { path, file }))
}

/// `--op NAME`: sets `op: true` on account NAME in the accounts file.
fn make_op(config: &Config, read: &str, name: &str) -> Result<(), Failure> {
    let Some(mut accounts) = load_accounts(config)? else {
        return Err(Failure::Fatal(format!(
            "accounts are off in {read} (`accounts: \"\"`): there is no accounts file"
        )));
    };
    let file = accounts.path.display().to_string();
    let key = chatsock::chat::name_key(name);
    let Some(account) = accounts
        .file
        .accounts
        .iter_mut()
        .find(|a| chatsock::chat::name_key(&a.name) == key)
    else {
        return Err(Failure::Fatal(format!(
            "{file}: there is no account {name:?}"
        )));
    };
    account.op = true;
    let account = account.name.clone();
    let text = chatsock::accounts::store::serialize(&accounts.file);
    chatsock::accounts::store::write_atomic(&accounts.path, text.as_bytes())
        .map_err(|e| Failure::Fatal(format!("cannot write {file}: {e}")))?;
    log_out!("{account} is an op now ({file}).");
    Ok(())
}

/// Why listening on `addr` failed; a port in use also says what to do.
fn bind_error(addr: SocketAddr, e: &std::io::Error) -> String {
    let hint = if e.kind() == std::io::ErrorKind::AddrInUse {
        ". Is another chatsock running? Pick another port with --port N (0 = any free port)."
    } else {
        ""
    };
    format!("cannot listen on {addr}: {e}{hint}")
}

/// Descriptors the server holds besides one per client: the standard
/// streams and their log writers, the listener, the poll, the signal pipe,
/// the reserve descriptor, with room to spare.
const BASE_DESCRIPTORS: u64 = 16;

/// Raises the soft open-file limit to the hard one (each client needs a
/// descriptor) and says on stderr when `maxClients` still does not fit, so
/// an operator knows why clients are told `Server full`.
fn check_fd_limit(max_clients: usize) {
    let limit = match rlimit::increase_nofile_limit(u64::MAX) {
        Ok(limit) => limit,
        Err(_) => match rlimit::getrlimit(rlimit::Resource::NOFILE) {
            Ok((soft, _)) => soft,
            Err(_) => return,
        },
    };
    let room = limit.saturating_sub(BASE_DESCRIPTORS);
    let wanted = max_clients as u64;
    if wanted == 0 || wanted > room {
        let clients = if wanted == 0 {
            "maxClients is 0 (unlimited)".to_string()
        } else {
            format!("maxClients is {wanted}")
        };
        log_err!(
            "chatsock: the open-file limit is {limit} and {clients}: beyond about {room} clients, \
             new ones are told `Server full`; raise it with `ulimit -n` or systemd's LimitNOFILE="
        );
    }
}

/// Connections the kernel may hold for `accept` (capped by
/// `net.core.somaxconn`): enough for hundreds of clients connecting at once.
const LISTEN_BACKLOG: i32 = 4096;

/// A non-blocking listener on `addr` with `LISTEN_BACKLOG`.
fn listen(addr: SocketAddr) -> std::io::Result<mio::net::TcpListener> {
    use socket2::{Domain, Socket, Type};
    let socket = Socket::new(Domain::for_address(addr), Type::STREAM, None)?;
    // Restarting the server must not wait for old connections' TIME_WAIT.
    socket.set_reuse_address(true)?;
    socket.bind(&addr.into())?;
    socket.listen(LISTEN_BACKLOG)?;
    socket.set_nonblocking(true)?;
    Ok(mio::net::TcpListener::from_std(socket.into()))
}

/// How long the last log lines (`Server shut down.`, a fatal error) may take
/// to get out before the process exits anyway (a stalled stdout or stderr
/// must not keep it alive).
const LOG_FLUSH: Duration = Duration::from_secs(1);

/// Allocations this large or larger are mmapped and unmapped when freed.
/// glibc otherwise raises its threshold after the first such free, and the
/// hashing worker's 19 MiB block, given back when it is idle, would stay
/// in the heap instead of going back to the system.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
const MMAP_THRESHOLD: libc::c_int = 1 << 20;

fn main() -> ExitCode {
    // SAFETY: mallopt only sets an allocator parameter; called first, before
    // any other thread exists.
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, MMAP_THRESHOLD);
    }
    // First, before any other file is opened: all output goes through the
    // log writers, which never block the event loop and ignore write
    // errors (a closed pipe, a full disk), so printing cannot change the
    // exit code.
    log::init();
    let code = match try_main() {
        Ok(()) => ExitCode::SUCCESS,
        Err(Failure::Usage(msg)) => {
            log_err!("chatsock: {msg}\n\n{USAGE}");
            ExitCode::from(2)
        }
        Err(Failure::Fatal(msg)) => {
            log_err!("chatsock: {msg}");
            ExitCode::from(1)
        }
    };
    log::finish(LOG_FLUSH);
    code
}
