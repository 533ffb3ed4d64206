//! Defends SPEC §12 and §7 through the shell's transport code
//! (`chatsock::transport::Transport`, an SSH listener's kind): bytes of any
//! value from an SSH client, in any split, never panic, never yield
//! plaintext before a shell is open (random bytes cannot finish a key
//! exchange), never make the transport hold more than one read of input or
//! one buffer of output, and a stalled key exchange stays stalled (no
//! spinning: every call returns).
//!
//! Input: byte 0 is flags (bit 0: an OpenSSH banner and KEXINIT-looking
//! packet come first, so the rest reaches sunset's packet layer; bit 1: the
//! server's socket takes at most 100 bytes per write and then blocks;
//! bit 2: the client closes its side at the end). The rest is chunks
//! `[len, bytes…]` the client sends, one read pass each.
#![no_main]

#[path = "common/mem.rs"]
mod mem;

use chatsock::transport::ssh::{Guests, HostKey, Setup};
use chatsock::transport::{Transport, TransportKind};
use libfuzzer_sys::fuzz_target;
use mem::Mem;
use std::io;
use std::sync::{Arc, OnceLock};

fn kind() -> &'static TransportKind {
    static KIND: OnceLock<TransportKind> = OnceLock::new();
    KIND.get_or_init(|| {
        TransportKind::Ssh(Arc::new(Setup {
            host_key: HostKey::from_seed(&[7; 32]),
            made: false,
        }))
    })
}

/// A banner and the start of a binary packet (length, padding, KEXINIT).
const PREFIX: &[u8] = b"SSH-2.0-OpenSSH_9.2p1 Debian-2\r\n\x00\x00\x01\x0c\x0a\x14";

/// One read pass as the loop does it: until WouldBlock, EOF or an error;
/// then a flush. Returns whether the connection is over.
fn pass(t: &mut Transport, sock: &mut Mem) -> bool {
    let mut buf = [0u8; 4096];
    let mut auth = Guests;
    for _ in 0..10_000 {
        match t.read(sock, &mut buf, &mut auth) {
            Ok(0) => return true,
            Ok(n) => {
                assert!(n <= buf.len());
                panic!("plaintext from random bytes: {n} bytes");
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
            Err(_) => return true,
        }
    }
    assert!(t.handshaking());
    // Plaintext is not taken before the shell.
    match t.write(sock, b"hello") {
        Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
        other => panic!("write during the handshake: {other:?}"),
    }
    sock.blocked = false;
    match t.flush(sock) {
        Ok(()) => assert!(!t.wants_write()),
        Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
        Err(_) => return true,
    }
    false
}

fuzz_target!(|data: &[u8]| {
    let Some((&flags, mut rest)) = data.split_first() else {
        return;
    };
    let mut t = Transport::new(kind()).unwrap();
    let mut sock = Mem {
        per_write: (flags & 2 != 0).then_some(100),
        ..Mem::default()
    };
    if flags & 1 != 0 {
        sock.input.extend(PREFIX);
    }
    while let Some((&len, tail)) = rest.split_first() {
        let n = usize::from(len).min(tail.len());
        sock.input.extend(&tail[..n]);
        rest = &tail[n..];
        if pass(&mut t, &mut sock) {
            return;
        }
        // What sunset may hold: one read of input, one buffer of output.
        assert!(sock.output.len() < 1 << 24);
    }
    if flags & 4 != 0 {
        sock.eof = true;
        sock.blocked = false;
        pass(&mut t, &mut sock);
    }
});
