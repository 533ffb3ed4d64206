//! TLS (SPEC §10): the certificate and key (made on first start when
//! neither file exists), the server configuration, and one connection's
//! rustls session pumped from the event loop.

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::{ServerConfig, ServerConnection};
use std::fmt;
use std::fs;
use std::io::{self, Read, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;
use std::sync::Arc;

/// How long a client has to finish the TLS handshake before it is closed.
pub const HANDSHAKE_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

/// Most plaintext handed to rustls at once: one full TLS record. The
/// shell's queue keeps the rest, so what rustls holds for a client that does
/// not read is bounded by this (plus the record overhead), and the
/// queue's `sendQueueLimit` and chat-view coalescing still see the rest.
pub const RECORD_PLAINTEXT: usize = 16 * 1024;

/// One connection's TLS session.
pub struct Tls {
    conn: ServerConnection,
}

impl fmt::Debug for Tls {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.debug_struct("Tls")
            .field("handshaking", &self.conn.is_handshaking())
            .finish()
    }
}

fn would_block() -> io::Error {
    io::ErrorKind::WouldBlock.into()
}

impl Tls {
    /// A new server-side session with `config`.
    pub fn new(config: &Arc<ServerConfig>) -> io::Result<Tls> {
        let conn = ServerConnection::new(Arc::clone(config)).map_err(io::Error::other)?;
        Ok(Tls { conn })
    }

    /// Whether the handshake is still going on.
    pub fn handshaking(&self) -> bool {
        self.conn.is_handshaking()
    }

    /// Whether rustls holds records for the socket.
    pub fn wants_write(&self) -> bool {
        self.conn.wants_write()
    }

    /// Plaintext already decrypted, else reads and decrypts more from
    /// `socket`. Handshake messages are processed on the way; their replies
    /// wait in rustls for [`Tls::flush`].
    pub fn read<S: Read + Write>(&mut self, socket: &mut S, buf: &mut [u8]) -> io::Result<usize> {
        loop {
            match self.conn.reader().read(buf) {
                Ok(n) => return Ok(n),
                // A peer that closes without close_notify: the end, as for
                // a plain client (a truncation attack can only cut a chat
                // session short, which the peer could do anyway).
                Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => return Ok(0),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                Err(e) => return Err(e),
            }
            if self.conn.read_tls(socket)? == 0 {
                return Ok(0);
            }
            // An error is the end: the alert rustls queues for it is not
            // sent (plaintext on the TLS port gets no reply).
            if let Err(e) = self.conn.process_new_packets() {
                let what = if self.conn.is_handshaking() {
                    "TLS handshake failed"
                } else {
                    "TLS error"
                };
                return Err(io::Error::new(
                    io::ErrorKind::InvalidData,
                    format!("{what}: {e}"),
                ));
            }
        }
    }

    /// Takes up to one record of plaintext once earlier records have gone
    /// out, encrypts it and sends what the socket takes.
    pub fn write<S: Read + Write>(&mut self, socket: &mut S, buf: &[u8]) -> io::Result<usize> {
        if self.conn.is_handshaking() {
            return Err(would_block());
        }
        self.flush(socket)?;
        let n = self
            .conn
            .writer()
            .write(&buf[..buf.len().min(RECORD_PLAINTEXT)])?;
        match self.flush(socket) {
            Err(e) if e.kind() != io::ErrorKind::WouldBlock => Err(e),
            _ => Ok(n),
        }
    }

    /// Writes the records rustls holds until done or the socket is full.
    pub fn flush<S: Read + Write>(&mut self, socket: &mut S) -> io::Result<()> {
        while self.conn.wants_write() {
            match self.conn.write_tls(socket) {
                Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
                Ok(_) => {}
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }

    /// Queues close_notify (sent by the next flush).
    pub fn close(&mut self) {
        self.conn.send_close_notify();
    }
}

/// The server's TLS configuration and what stdout says about it.
#[derive(Debug)]
pub struct Setup {
    /// For every connection of the TLS listener.
    pub config: Arc<ServerConfig>,
    /// SHA-256 of the certificate (DER), `AB:CD:…`, as
    /// `openssl x509 -fingerprint -sha256` prints it.
    pub fingerprint: String,
    /// The names a certificate was made for on this start, if one was.
    pub made: Option<Vec<String>>,
}

/// Loads the certificate and key from `cert` and `key`; when neither file
/// exists, first makes a self-signed certificate for `names` (the key
/// written with mode 0600). Errors name the file and say what to do.
pub fn setup(cert: &Path, key: &Path, names: &[String]) -> Result<Setup, String> {
    let made = match (exists(cert)?, exists(key)?) {
        (true, true) => None,
        (false, false) => {
            make_self_signed(cert, key, names)?;
            Some(names.to_vec())
        }
        (true, false) => return Err(one_missing(key, "key", cert, "certificate")),
        (false, true) => return Err(one_missing(cert, "certificate", key, "key")),
    };
    let (config, fingerprint) = load(cert, key)?;
    Ok(Setup {
        config,
        fingerprint,
        made,
    })
}

/// For `--check`: the pair loads, or neither file exists yet (one would be
/// made at start). Returns the fingerprint when the files exist.
pub fn check(cert: &Path, key: &Path) -> Result<Option<String>, String> {
    match (exists(cert)?, exists(key)?) {
        (false, false) => Ok(None),
        (true, false) => Err(one_missing(key, "key", cert, "certificate")),
        (false, true) => Err(one_missing(cert, "certificate", key, "key")),
        (true, true) => load(cert, key).map(|(_, fp)| Some(fp)),
    }
}

fn exists(path: &Path) -> Result<bool, String> {
    match fs::symlink_metadata(path) {
        Ok(_) => Ok(true),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(false),
        Err(e) => Err(format!("cannot look at {}: {e}", path.display())),
    }
}

fn one_missing(missing: &Path, what: &str, present: &Path, other: &str) -> String {
    format!(
        "TLS {what} file {} does not exist, but the {other} file {} does: give both, \
         or move the {other} away to have a new self-signed pair made",
        missing.display(),
        present.display()
    )
}

fn read(path: &Path, what: &str) -> Result<Vec<u8>, String> {
    fs::read(path).map_err(|e| format!("cannot read TLS {what} file {}: {e}", path.display()))
}

/// The server configuration for the pair, and the certificate's
/// fingerprint.
fn load(cert: &Path, key: &Path) -> Result<(Arc<ServerConfig>, String), String> {
    let pem = read(cert, "certificate")?;
    let chain = CertificateDer::pem_slice_iter(&pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| format!("TLS certificate file {}: {e}", cert.display()))?;
    let Some(first) = chain.first() else {
        return Err(format!(
            "TLS certificate file {} holds no certificate (-----BEGIN CERTIFICATE-----)",
            cert.display()
        ));
    };
    let fingerprint = fingerprint(first);
    let pem = read(key, "key")?;
    let private = PrivateKeyDer::from_pem_slice(&pem).map_err(|e| {
        format!(
            "TLS key file {} holds no usable private key: {e}",
            key.display()
        )
    })?;
    let config = server_config(chain, private).map_err(|e| match e {
        rustls::Error::InconsistentKeys(_) => format!(
            "TLS key file {} does not match the certificate in {}",
            key.display(),
            cert.display()
        ),
        e => format!(
            "TLS key file {} or certificate file {} cannot be used: {e}",
            key.display(),
            cert.display()
        ),
    })?;
    Ok((config, fingerprint))
}

/// The server configuration for a certificate chain and its key: the ring
/// provider, rustls's safe defaults (TLS 1.3 and 1.2), no client
/// certificates, no session tickets.
pub fn server_config(
    chain: Vec<CertificateDer<'static>>,
    key: PrivateKeyDer<'static>,
) -> Result<Arc<ServerConfig>, rustls::Error> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .with_no_client_auth()
        .with_single_cert(chain, key)?;
    // No session tickets: a chat session is long and one, and tickets cost
    // every handshake work and the server memory.
    config.send_tls13_tickets = 0;
    Ok(Arc::new(config))
}

/// `AB:CD:…`: SHA-256 of `cert`'s DER in upper-case hex pairs.
pub fn fingerprint(cert: &[u8]) -> String {
    let digest = ring::digest::digest(&ring::digest::SHA256, cert);
    let hex: Vec<String> = digest.as_ref().iter().map(|b| format!("{b:02X}")).collect();
    hex.join(":")
}

/// Writes a new self-signed certificate for `names` and its key (mode
/// 0600). Each file is written under a temporary name and renamed, so a
/// failure leaves neither half behind.
fn make_self_signed(cert: &Path, key: &Path, names: &[String]) -> Result<(), String> {
    let mut params = rcgen::CertificateParams::new(names.to_vec())
        .map_err(|e| format!("cannot make a certificate for {names:?}: {e}"))?;
    params.distinguished_name = rcgen::DistinguishedName::new();
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "chatsock");
    let signing_key =
        rcgen::KeyPair::generate().map_err(|e| format!("cannot make a TLS key: {e}"))?;
    let certificate = params
        .self_signed(&signing_key)
        .map_err(|e| format!("cannot make a certificate: {e}"))?;
    let key_tmp = temp_name(key);
    let cert_tmp = temp_name(cert);
    let result = write_new(&key_tmp, signing_key.serialize_pem().as_bytes(), 0o600)
        .map_err(|e| format!("cannot write TLS key file {}: {e}", key.display()))
        .and_then(|()| {
            write_new(&cert_tmp, certificate.pem().as_bytes(), 0o644)
                .map_err(|e| format!("cannot write TLS certificate file {}: {e}", cert.display()))
        })
        .and_then(|()| {
            fs::rename(&key_tmp, key)
                .map_err(|e| format!("cannot write TLS key file {}: {e}", key.display()))
        })
        .and_then(|()| {
            fs::rename(&cert_tmp, cert).map_err(|e| {
                let _ = fs::remove_file(key);
                format!("cannot write TLS certificate file {}: {e}", cert.display())
            })
        });
    let _ = fs::remove_file(&key_tmp);
    let _ = fs::remove_file(&cert_tmp);
    result
}

fn temp_name(path: &Path) -> std::path::PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(".tmp");
    name.into()
}

/// Creates `path` (replacing a stale temporary file) with `mode`, writes
/// `bytes` and syncs them to disk.
fn write_new(path: &Path, bytes: &[u8], mode: u32) -> io::Result<()> {
    let _ = fs::remove_file(path);
    let mut file = fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(mode)
        .open(path)?;
    file.write_all(bytes)?;
    file.sync_all()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn temp_dir(tag: &str) -> std::path::PathBuf {
        let dir = std::env::temp_dir().join(format!("chatsock-tls-{tag}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).unwrap();
        dir
    }

    #[test]
    fn a_pair_is_made_when_neither_file_exists_and_reused_after() {
        let dir = temp_dir("made");
        let (cert, key) = (dir.join("c.pem"), dir.join("k.pem"));
        let names = vec!["127.0.0.1".to_string(), "localhost".to_string()];
        let first = setup(&cert, &key, &names).unwrap();
        assert_eq!(first.made.as_deref(), Some(&names[..]));
        use std::os::unix::fs::PermissionsExt;
        let mode = fs::metadata(&key).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        let second = setup(&cert, &key, &names).unwrap();
        assert!(second.made.is_none());
        assert_eq!(first.fingerprint, second.fingerprint);
        assert_eq!(first.fingerprint.len(), 32 * 3 - 1);
        assert_eq!(check(&cert, &key).unwrap(), Some(first.fingerprint));
        let _ = fs::remove_dir_all(&dir);
    }

    #[test]
    fn broken_pairs_name_the_file() {
        let dir = temp_dir("broken");
        let (cert, key) = (dir.join("c.pem"), dir.join("k.pem"));
        let names = vec!["localhost".to_string()];
        setup(&cert, &key, &names).unwrap();
        // A key of another pair: mismatched.
        let (cert2, key2) = (dir.join("c2.pem"), dir.join("k2.pem"));
        setup(&cert2, &key2, &names).unwrap();
        let e = setup(&cert, &key2, &names).unwrap_err();
        assert!(e.contains("does not match") && e.contains("k2.pem"), "{e}");
        // One file without the other.
        let e = setup(&cert, &dir.join("none.pem"), &names).unwrap_err();
        assert!(
            e.contains("none.pem") && e.contains("does not exist"),
            "{e}"
        );
        let e = setup(&dir.join("none.pem"), &key, &names).unwrap_err();
        assert!(e.contains("none.pem"), "{e}");
        // Garbage in either file.
        let junk = dir.join("junk.pem");
        fs::write(&junk, "hello").unwrap();
        let e = setup(&junk, &key, &names).unwrap_err();
        assert!(
            e.contains("junk.pem") && e.contains("no certificate"),
            "{e}"
        );
        let e = setup(&cert, &junk, &names).unwrap_err();
        assert!(e.contains("junk.pem") && e.contains("private key"), "{e}");
        // A directory where the certificate should be: unreadable.
        let e = setup(&dir, &key, &names).unwrap_err();
        assert!(e.contains(&dir.display().to_string()), "{e}");
        let _ = fs::remove_dir_all(&dir);
    }

    #[test]
    fn fingerprint_is_colon_separated_upper_hex() {
        let fp = fingerprint(b"abc");
        assert!(fp.starts_with("BA:78:16:BF:8F:01:CF:EA"), "{fp}");
    }
}
