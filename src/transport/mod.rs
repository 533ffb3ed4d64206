//! Transports: what a connection speaks between its socket and the
//! terminal layer. Plain is the identity; TLS is a rustls connection pumped
//! from the loop (like rustls's `tlsserver-mio`). The shell's queues hold
//! plaintext, so `sendQueueLimit` and chat-view coalescing work the same for
//! every transport; encryption happens at flush. SSH is a sunset `Runner`
//! pumped the same way (its shell channel's data is the plaintext).
//!
//! The functions take any `Read + Write` socket, so the fuzzer drives the
//! same code with an in-memory one.

pub mod ssh;
pub mod tls;

use std::io::{self, Read, Write};
use std::sync::Arc;

/// What a listener's connections speak.
#[derive(Debug, Clone)]
pub enum TransportKind {
    /// Bytes as they are.
    Plain,
    /// TLS with this server configuration (certificate, key, versions).
    Tls(Arc<rustls::ServerConfig>),
    /// SSH with this host key.
    Ssh(Arc<ssh::Setup>),
}

/// One connection's transport state.
#[derive(Debug)]
pub enum Transport {
    /// Plaintext: the socket's bytes as they are.
    Plain,
    /// A TLS session; boxed, since it is large next to `Plain`.
    Tls(Box<tls::Tls>),
    /// An SSH session; boxed likewise.
    Ssh(Box<ssh::SshConn>),
}

impl Transport {
    /// The transport for a new connection of a listener of `kind`.
    pub fn new(kind: &TransportKind) -> io::Result<Transport> {
        Ok(match kind {
            TransportKind::Plain => Transport::Plain,
            TransportKind::Tls(config) => Transport::Tls(Box::new(tls::Tls::new(config)?)),
            TransportKind::Ssh(setup) => Transport::Ssh(Box::new(ssh::SshConn::new(setup))),
        })
    }

    /// How long the handshake may take before the connection is closed
    /// (TLS: the handshake; SSH: key exchange, login, pty and shell).
    pub fn handshake_timeout(&self) -> std::time::Duration {
        match self {
            Transport::Ssh(_) => ssh::HANDSHAKE_TIMEOUT,
            _ => tls::HANDSHAKE_TIMEOUT,
        }
    }

    /// Socket bytes the transport read but could not use yet (sunset takes
    /// more only once its output is written): read again after a flush.
    pub fn has_pending_input(&self) -> bool {
        match self {
            Transport::Ssh(ssh) => ssh.has_pending_input(),
            _ => false,
        }
    }

    /// Whether the transport said goodbye and waits for the peer's (SSH:
    /// our CLOSE sent, the client's not yet received).
    pub fn lingering(&self) -> bool {
        self.ssh().is_some_and(ssh::SshConn::lingering)
    }

    /// The SSH session, if this is one.
    pub fn ssh(&self) -> Option<&ssh::SshConn> {
        match self {
            Transport::Ssh(ssh) => Some(ssh),
            _ => None,
        }
    }

    /// The SSH session, if this is one.
    pub fn ssh_mut(&mut self) -> Option<&mut ssh::SshConn> {
        match self {
            Transport::Ssh(ssh) => Some(ssh),
            _ => None,
        }
    }

    /// The public key an SSH client logged in with (`SHA256:…`, OpenSSH's
    /// fingerprint); None for other transports and keyless guests.
    pub fn ssh_key(&self) -> Option<&str> {
        self.ssh().and_then(ssh::SshConn::key)
    }

    /// Whether the transport is still setting up (a TLS handshake): no
    /// session exists yet and no plaintext is written.
    pub fn handshaking(&self) -> bool {
        match self {
            Transport::Plain => false,
            Transport::Tls(tls) => tls.handshaking(),
            Transport::Ssh(ssh) => ssh.handshaking(),
        }
    }

    /// Whether the transport holds bytes of its own for the socket (TLS
    /// records, handshake messages): the connection needs a flush, and
    /// WRITABLE interest while the socket is full.
    pub fn wants_write(&self) -> bool {
        match self {
            Transport::Plain => false,
            Transport::Tls(tls) => tls.wants_write(),
            Transport::Ssh(ssh) => ssh.wants_write(),
        }
    }

    /// Reads plaintext from `socket`. `Ok(0)` is the end of the stream;
    /// `WouldBlock` means nothing more for now (the handshake may have
    /// advanced, see [`Transport::wants_write`]). `auth` decides SSH
    /// logins.
    pub fn read<S: Read + Write>(
        &mut self,
        socket: &mut S,
        buf: &mut [u8],
        auth: &mut dyn ssh::Authenticator,
    ) -> io::Result<usize> {
        match self {
            Transport::Plain => socket.read(buf),
            Transport::Tls(tls) => tls.read(socket, buf),
            Transport::Ssh(ssh) => ssh.read(socket, buf, auth),
        }
    }

    /// Writes plaintext towards `socket`, returning how much of `buf` was
    /// taken. A transport with framing takes it only when what it already
    /// holds has gone out, so it never holds more than one record's worth.
    pub fn write<S: Read + Write>(&mut self, socket: &mut S, buf: &[u8]) -> io::Result<usize> {
        match self {
            Transport::Plain => socket.write(buf),
            Transport::Tls(tls) => tls.write(socket, buf),
            Transport::Ssh(ssh) => ssh.write(socket, buf),
        }
    }

    /// Sends what the transport holds of its own (`WouldBlock` when the
    /// socket takes no more).
    pub fn flush<S: Read + Write>(&mut self, socket: &mut S) -> io::Result<()> {
        match self {
            Transport::Plain => Ok(()),
            Transport::Tls(tls) => tls.flush(socket),
            Transport::Ssh(ssh) => ssh.flush(socket),
        }
    }

    /// Says goodbye in the transport's own terms (TLS `close_notify`; SSH
    /// exit-status 0, EOF and CLOSE); sent
    /// by the next [`Transport::flush`].
    pub fn close(&mut self) {
        match self {
            Transport::Plain => {}
            Transport::Tls(tls) => tls.close(),
            Transport::Ssh(ssh) => ssh.close(),
        }
    }

    /// The transport's name for the log.
    pub fn name(&self) -> &'static str {
        match self {
            Transport::Plain => "plain",
            Transport::Tls(_) => "TLS",
            Transport::Ssh(_) => "SSH",
        }
    }
}
