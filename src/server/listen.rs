//! Accepting connections: the listeners, admission limits (`maxClients`,
//! `maxClientsPerIp` per address or IPv6 network) and running out of file
//! descriptors without leaving anyone unanswered.

use super::*;

/// A listening socket and the transport its clients use.
#[derive(Debug)]
pub struct Listener {
    /// The socket, non-blocking.
    pub socket: TcpListener,
    /// What its connections speak.
    pub kind: TransportKind,
}

impl Listener {
    /// A plaintext listener.
    pub fn plain(socket: TcpListener) -> Listener {
        Listener {
            socket,
            kind: TransportKind::Plain,
        }
    }

    /// An SSH listener with `setup`'s host key.
    pub fn ssh(
        socket: TcpListener,
        setup: std::sync::Arc<crate::transport::ssh::Setup>,
    ) -> Listener {
        Listener {
            socket,
            kind: TransportKind::Ssh(setup),
        }
    }

    /// A TLS listener with `config`.
    pub fn tls(socket: TcpListener, config: std::sync::Arc<rustls::ServerConfig>) -> Listener {
        Listener {
            socket,
            kind: TransportKind::Tls(config),
        }
    }
}

/// The shell's state for accepting: who is connected from where, and what
/// to do when descriptors run out.
#[derive(Debug)]
pub(super) struct Accepting {
    /// Clients per address (IPv6: per `ipv6Prefix` network).
    per_ip: HashMap<IpAddr, usize>,
    /// A descriptor held back so that, when accept runs out of them, one
    /// can be freed to tell a waiting client the server is full.
    reserve: Option<File>,
    /// Accepting failed; an `Alarm::Accept(gen)` is set.
    pub(super) retry: bool,
    pub(super) gen: u64,
    /// A connection was removed this pass (a descriptor came free).
    pub(super) freed: bool,
    /// The last accept ran out of descriptors (logged once per episode).
    out_of_fds: bool,
}

impl Accepting {
    pub(super) fn new() -> Accepting {
        Accepting {
            per_ip: HashMap::new(),
            reserve: open_reserve(),
            retry: false,
            gen: 0,
            freed: false,
            out_of_fds: false,
        }
    }

    /// A client from `ip` (already keyed by `Config::ip_key`) left.
    pub(super) fn left(&mut self, ip: IpAddr) {
        if let Some(n) = self.per_ip.get_mut(&ip) {
            *n -= 1;
            if *n == 0 {
                self.per_ip.remove(&ip);
            }
        }
        self.freed = true;
    }
}

/// The one line a refused client gets.
const SERVER_FULL: &str = "Server full, try again later.\r\n";

/// How long after a failed accept (no descriptors, no memory) to try again;
/// a client leaving retries at once.
const ACCEPT_RETRY: Duration = Duration::from_millis(250);

/// Bytes of kernel send buffer per client (`SO_SNDBUF`; Linux doubles it
/// for its bookkeeping). A chat-view screen is a few KiB, so a reading
/// client never waits on it; a client that does not read pins at most this
/// much kernel memory besides its `sendQueueLimit`.
pub const KERNEL_SEND_BUFFER: usize = 16 * 1024;

/// Whether an accept error means the process or system ran out of
/// descriptors or socket memory.
fn out_of_descriptors(e: &io::Error) -> bool {
    // EMFILE 24, ENFILE 23, ENOBUFS 105, ENOMEM 12 on Linux.
    matches!(e.raw_os_error(), Some(24 | 23 | 105 | 12))
}

/// The reserve descriptor (see `Server::reserve`).
fn open_reserve() -> Option<File> {
    File::open("/dev/null").ok()
}

/// An IPv4 client of a dual-stack listener counts (and is logged) as its
/// IPv4 address, not as ::ffff:a.b.c.d.
fn canonical(mut addr: SocketAddr) -> SocketAddr {
    addr.set_ip(addr.ip().to_canonical());
    addr
}

impl Server {
    /// Accepts every waiting connection. Out of descriptors, it refuses
    /// them with the reserve descriptor; without one, it retries on a timer
    /// and whenever a client leaves, so none waits unanswered.
    pub(super) fn accept_all(&mut self) {
        for i in 0..self.listeners.len() {
            self.accept(i);
        }
    }

    pub(super) fn accept(&mut self, listener: usize) {
        self.accepting.retry = false;
        self.accepting.freed = false;
        if self.accepting.reserve.is_none() {
            self.accepting.reserve = open_reserve();
        }
        loop {
            let Some(l) = self.listeners.get(listener) else {
                return;
            };
            match l.socket.accept() {
                Ok((stream, addr)) => {
                    if std::mem::take(&mut self.accepting.out_of_fds) {
                        crate::log_err!("chatsock: file descriptors available again");
                    }
                    match Transport::new(&l.kind) {
                        Ok(mut transport) => {
                            if let (Some(ssh), Ok(local)) =
                                (transport.ssh_mut(), stream.local_addr())
                            {
                                ssh.set_local_addr(local);
                            }
                            self.admit(stream, addr, transport)
                        }
                        Err(e) => crate::log_err!(
                            "chatsock: refused {}: cannot start {:?}: {e}",
                            canonical(addr),
                            l.kind
                        ),
                    }
                }
                Err(e) => match e.kind() {
                    io::ErrorKind::WouldBlock => return,
                    // Gone before we took it, or refused by a firewall rule.
                    io::ErrorKind::Interrupted
                    | io::ErrorKind::ConnectionAborted
                    | io::ErrorKind::PermissionDenied => {}
                    _ if out_of_descriptors(&e) => {
                        if !self.accepting.out_of_fds {
                            self.accepting.out_of_fds = true;
                            crate::log_err!(
                                "chatsock: out of file descriptors ({e}): new clients are told `Server full`"
                            );
                        }
                        match self.refuse_with_reserve(listener) {
                            Some(true) => {}
                            // Linux reports EMFILE before it looks at the
                            // queue: nobody waits, and the next connection
                            // is a new readiness event.
                            Some(false) => return,
                            None => return self.retry_accept_later(&e),
                        }
                    }
                    _ => return self.retry_accept_later(&e),
                },
            }
        }
    }

    /// Frees the reserve descriptor for one accept, tells that client the
    /// server is full, closes it and takes the reserve back. Returns whether
    /// a client was refused, or None when there was no reserve to use.
    pub(super) fn refuse_with_reserve(&mut self, listener: usize) -> Option<bool> {
        self.accepting.reserve.take()?;
        let refused = match self.listeners.get(listener)?.socket.accept() {
            Ok((mut stream, addr)) => {
                let _ = stream.write(SERVER_FULL.as_bytes());
                crate::log_err!(
                    "chatsock: refused {}: out of file descriptors",
                    canonical(addr)
                );
                true
            }
            Err(_) => false,
        };
        self.accepting.reserve = open_reserve();
        Some(refused)
    }

    pub(super) fn retry_accept_later(&mut self, e: &io::Error) {
        if !self.accepting.retry {
            self.accepting.retry = true;
            self.accepting.gen += 1;
            crate::log_err!("chatsock: accept failed: {e}; retrying");
            let at = Instant::now() + ACCEPT_RETRY;
            self.timers
                .push(Reverse((at, Alarm::Accept(self.accepting.gen))));
        }
    }

    /// Serves a new connection, or refuses it with one line.
    pub(super) fn admit(
        &mut self,
        mut stream: mio::net::TcpStream,
        addr: SocketAddr,
        transport: Transport,
    ) {
        let addr = canonical(addr);
        let cfg = self.chat.config();
        let ip = cfg.ip_key(addr.ip());
        let from_ip = self.accepting.per_ip.get(&ip).copied().unwrap_or(0);
        let refusal = if self.shutdown {
            Some("The server is shutting down, try again later.\r\n")
        } else if (cfg.max_clients > 0 && self.conns.len() >= cfg.max_clients)
            || (cfg.max_clients_per_ip > 0 && from_ip >= cfg.max_clients_per_ip)
        {
            Some(SERVER_FULL)
        } else {
            None
        };
        if let Some(msg) = refusal {
            let _ = stream.write(msg.as_bytes());
            crate::log_err!("chatsock: refused {addr}: {}", msg.trim_end());
            return;
        }
        let entry = self.conns.vacant_entry();
        let key = entry.key();
        if let Err(e) = self
            .poll
            .registry()
            .register(&mut stream, Token(key), Interest::READABLE)
        {
            let _ = stream.write(SERVER_FULL.as_bytes());
            crate::log_err!("chatsock: cannot register {addr}: {e}");
            return;
        }
        let _ = stream.set_nodelay(true);
        // The kernel's send buffer would otherwise grow to tcp_wmem's
        // maximum (MiBs) for a client that does not read; this caps it.
        let _ = socket2::SockRef::from(&stream).set_send_buffer_size(KERNEL_SEND_BUFFER);
        self.next_gen += 1;
        let bucket = Bucket::new(cfg.flood_rate, cfg.flood_burst, Instant::now());
        // An SSH session has a pty instead of telnet options.
        let telnet = cfg.telnet && transport.ssh().is_none();
        entry.insert(Conn::new(
            stream,
            transport,
            addr,
            self.next_gen,
            cfg.max_line_length,
            telnet,
            bucket,
        ));
        *self.accepting.per_ip.entry(ip).or_insert(0) += 1;
        let Some(conn) = self.conns.get(key) else {
            return;
        };
        crate::log_err!(
            "chatsock: client connected: {addr}{} ({} online)",
            if conn.transport.name() == "plain" {
                String::new()
            } else {
                format!(" over {}", conn.transport.name())
            },
            self.conns.len()
        );
        if conn.life == Life::Handshaking {
            let alarm = Alarm::Handshake { key, gen: conn.gen };
            let at = later(Instant::now(), conn.transport.handshake_timeout());
            self.timers.push(Reverse((at, alarm)));
            return;
        }
        self.start_session(key);
    }

    /// The transport is ready: the session begins, as SPEC §3 says.
    pub(super) fn start_session(&mut self, key: usize) {
        if let Some(conn) = self.conns.get(key) {
            if let Some(ssh) = conn.transport.ssh() {
                crate::log_err!(
                    "chatsock: SSH login: {} as {:?}, {}",
                    conn.addr,
                    ssh.user().unwrap_or(""),
                    ssh.key()
                        .map_or_else(|| "no key".to_string(), |k| format!("key {k}"))
                );
            }
        }
        // The telnet offer first (erased at once for a client that does
        // not speak telnet), then whatever the core says.
        let Some(conn) = self.conns.get_mut(key) else {
            return;
        };
        let greeting = conn.term.greeting();
        let dirty = !greeting.is_empty() && conn.queue(greeting, usize::MAX, &mut self.pool);
        // The core decides where passwords may come from (SPEC §11).
        let ip = conn.addr.ip();
        let link = match &conn.transport {
            Transport::Tls(_) => Link::Tls,
            Transport::Ssh(_) => Link::Ssh,
            Transport::Plain if ip.is_loopback() => Link::PlainLoopback,
            Transport::Plain => Link::PlainRemote,
        };
        let ssh_key = conn.transport.ssh_key().map(str::to_string);
        if dirty {
            self.mark_dirty(key);
        }
        self.chat.connect(key, link, ip);
        if let Some(fp) = ssh_key {
            // Before the name is typed: a key bound to the account logs in.
            self.chat.set_ssh_key(key, &fp);
        }
        self.apply();
        self.drive(key);
    }
}
