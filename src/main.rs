//! The `chatsock` binary: command line → config → `server::run`; exit codes.

use chatsock::config::{Config, ConfigError, DEFAULT_RON};
use chatsock::{log, log_err, log_out, server, VERSION};
use std::net::SocketAddr;
use std::process::ExitCode;
use std::time::Duration;

const USAGE: &str = "\
Usage: chatsock [--config PATH] [--port N] [--check]
       chatsock [--config PATH] --op NAME

  --config PATH  read the configuration from PATH (default ./chatsock.ron,
                 or the built-in default when that file does not exist)
  --port N       listen on port N instead of the configured one (0 = any)
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
    check: bool,
    op: Option<String>,
}

fn parse_args() -> Result<Option<Args>, Failure> {
    let mut args = Args {
        config: None,
        port: None,
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
            "--port" => {
                let n = it
                    .next()
                    .ok_or_else(|| Failure::Usage("--port needs a number".into()))?;
                let port = n.parse().map_err(|_| {
                    Failure::Usage(format!("--port: {n:?} is not a port number (0-65535)"))
                })?;
                args.port = Some(port);
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
        log_out!("config OK ({read}): {}{count}", config.summary());
        return Ok(());
    }
    // Resolved again: the port may have changed, and so may the name.
    let addr = config
        .listen_addr()
        .map_err(|e| Failure::Fatal(format!("cannot resolve host {:?}: {e}", config.host)))?;
    let listener = listen(addr).map_err(|e| Failure::Fatal(bind_error(addr, &e)))?;
    let bound = listener
        .local_addr()
        .map_err(|e| Failure::Fatal(e.to_string()))?;
    // Before the listening line: a signal sent as soon as it is read must
    // reach the handler, not end the process.
    let shutdown = chatsock::shutdown::Shutdown::signals()
        .map_err(|e| Failure::Fatal(format!("cannot watch for signals: {e}")))?;
    log_out!("chatsock v{VERSION}");
    log_out!("Now running on {bound}");
    log_err!("chatsock: listening on {bound}");
    check_fd_limit(config.max_clients);
    server::run(
        vec![server::Listener::plain(listener)],
        shutdown,
        config,
        accounts,
        VERSION,
    )
    .map_err(|e| Failure::Fatal(format!("event loop failed: {e}")))
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

fn main() -> ExitCode {
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
