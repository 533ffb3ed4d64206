//! Defends SPEC §10 and §7 through the shell's transport code
//! (`chatsock::transport::Transport`): bytes of any value from a TLS
//! client, in any split, never panic, never make the transport hand out
//! more than asked or hold more than one record for the socket, and never
//! turn into plaintext the client did not send.
//!
//! Input: byte 0 is flags (bit 0: a real rustls client first completes the
//! handshake in memory, so the rest reaches the record layer; bit 1: the
//! server's socket takes at most 100 bytes per write and then blocks;
//! bit 2: the client closes its side at the end). The rest is chunks
//! `[len, bytes…]`. Without a handshake, each chunk is raw bytes for the
//! server. After a handshake, each chunk is plaintext the client sends; if
//! the chunk's first byte is odd, one byte of the resulting records (at an
//! offset from the second byte) is flipped on the way.
//!
//! Checked: `read` returns at most the buffer's length; `write` takes at
//! most one record of plaintext; what the server decrypts is always a
//! prefix of what the client sent, and all of it when nothing was flipped;
//! what the server echoes back reaches the client intact.
#![no_main]

#[path = "common/mem.rs"]
mod mem;

use chatsock::transport::ssh::Guests;
use chatsock::transport::tls::RECORD_PLAINTEXT;
use chatsock::transport::{Transport, TransportKind};
use libfuzzer_sys::fuzz_target;
use mem::{chunks, Mem};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer, ServerName};
use std::io::{self, Read, Write};
use std::sync::{Arc, OnceLock};

fn configs() -> &'static (TransportKind, Arc<rustls::ClientConfig>) {
    static CONFIGS: OnceLock<(TransportKind, Arc<rustls::ClientConfig>)> = OnceLock::new();
    CONFIGS.get_or_init(|| {
        let made = rcgen::generate_simple_self_signed(vec!["localhost".to_string()]).unwrap();
        let cert: CertificateDer<'static> = made.cert.der().clone();
        let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(made.signing_key.serialize_der()));
        let server = chatsock::transport::tls::server_config(vec![cert.clone()], key).unwrap();
        let mut roots = rustls::RootCertStore::empty();
        roots.add(cert).unwrap();
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let client = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_root_certificates(roots)
            .with_no_client_auth();
        (TransportKind::Tls(server), Arc::new(client))
    })
}

/// The server side: reads everything available, echoes it back; returns
/// false once the connection is over (error or end of stream).
fn serve(server: &mut Transport, sock: &mut Mem, got: &mut Vec<u8>) -> bool {
    let mut buf = [0u8; 512];
    loop {
        match server.read(sock, &mut buf, &mut Guests) {
            Ok(0) => return false,
            Ok(n) => {
                assert!(n <= buf.len());
                got.extend_from_slice(&buf[..n]);
                let mut echo = &buf[..n];
                while !echo.is_empty() {
                    sock.blocked = false;
                    match server.write(sock, echo) {
                        Ok(0) => return false,
                        Ok(k) => {
                            assert!(k <= RECORD_PLAINTEXT.min(echo.len()));
                            echo = &echo[k..];
                        }
                        Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                        Err(_) => return false,
                    }
                }
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
            Err(_) => return false,
        }
    }
    for _ in 0..10_000 {
        sock.blocked = false;
        match server.flush(sock) {
            Ok(()) => return true,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
            Err(_) => return false,
        }
    }
    panic!("the transport never finished flushing");
}

fuzz_target!(|data: &[u8]| {
    let Some((&flags, data)) = data.split_first() else {
        return;
    };
    let (kind, client_config) = configs();
    let mut server = Transport::new(kind).unwrap();
    let mut sock = Mem {
        per_write: (flags & 2 != 0).then_some(100),
        ..Mem::default()
    };
    let mut got = Vec::new();
    if flags & 1 == 0 {
        for chunk in chunks(data) {
            sock.input.extend(chunk);
            if !serve(&mut server, &mut sock, &mut got) {
                return;
            }
        }
        // No handshake was completed from raw bytes that we could not sign.
        return;
    }

    // A real client: the handshake in memory.
    let name = ServerName::try_from("localhost").unwrap();
    let mut client = rustls::ClientConnection::new(Arc::clone(client_config), name).unwrap();
    let mut to_client = Vec::new();
    for _ in 0..20 {
        if !client.is_handshaking() && !server.handshaking() {
            break;
        }
        while client.wants_write() {
            let mut out = Vec::new();
            client.write_tls(&mut out).unwrap();
            sock.input.extend(out);
        }
        assert!(serve(&mut server, &mut sock, &mut got), "handshake failed");
        to_client.append(&mut sock.output);
        let mut slice = &to_client[..];
        while !slice.is_empty() {
            client.read_tls(&mut slice).unwrap();
        }
        to_client.clear();
        client.process_new_packets().unwrap();
    }
    assert!(!server.handshaking() && !client.is_handshaking());

    let mut sent = Vec::new();
    let mut echoed = Vec::new();
    let mut flipped = false;
    for chunk in chunks(data) {
        let Some((&first, rest)) = chunk.split_first() else {
            continue;
        };
        client.writer().write_all(rest).unwrap();
        sent.extend_from_slice(rest);
        let mut records = Vec::new();
        while client.wants_write() {
            client.write_tls(&mut records).unwrap();
        }
        if first & 1 == 1 && !records.is_empty() {
            let at = usize::from(rest.first().copied().unwrap_or(0)) % records.len();
            records[at] ^= 0x55;
            flipped = true;
        }
        sock.input.extend(records);
        let open = serve(&mut server, &mut sock, &mut got);
        assert!(sent.starts_with(&got), "plaintext the client never sent");
        if !flipped {
            assert_eq!(got, sent, "lost plaintext");
        }
        // The echo reaches the client intact.
        let mut slice = &sock.output[..];
        while !slice.is_empty() {
            if client.read_tls(&mut slice).is_err() {
                break;
            }
            if client.process_new_packets().is_err() {
                return;
            }
        }
        sock.output.clear();
        let mut buf = [0u8; 4096];
        while let Ok(n) = client.reader().read(&mut buf) {
            if n == 0 {
                break;
            }
            echoed.extend_from_slice(&buf[..n]);
        }
        assert!(got.starts_with(&echoed), "the echo differs");
        if !open {
            return;
        }
    }
    if flags & 4 != 0 {
        client.send_close_notify();
        let mut records = Vec::new();
        while client.wants_write() {
            client.write_tls(&mut records).unwrap();
        }
        sock.input.extend(records);
        sock.eof = true;
        assert!(
            !serve(&mut server, &mut sock, &mut got),
            "open after the end"
        );
    }
});
