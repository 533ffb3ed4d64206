//! Shutdown requests for the event loop: every SIGINT or SIGTERM, and every
//! [`Trigger::fire`], is one byte on a self-pipe that the loop polls, so two
//! signals in a row are two requests (the second ends the grace period).
//!
//! signal-hook-mio's `Signals` keeps one pending flag per signal number, so
//! two deliveries before the loop looks count as one; signal-hook's own
//! self-pipe (`low_level::pipe`, which signal-hook-mio is built on) writes a
//! byte per delivery instead. The kernel still merges a second signal that
//! arrives before the first was delivered; nothing in user space can count
//! that one.

use mio::net::UnixStream;
use mio::{Interest, Registry, Token};
use signal_hook::consts::{SIGINT, SIGTERM};
use std::io::{self, Read, Write};

/// The loop's end of the self-pipe.
#[derive(Debug)]
pub struct Shutdown {
    rx: UnixStream,
    /// Keeps the write end alive when no signal handler holds it (tests).
    _tx: Option<std::os::unix::net::UnixStream>,
}

/// Requests a shutdown from outside the loop (tests, embedders): each call
/// is one request, like one signal.
#[derive(Debug)]
pub struct Trigger(std::os::unix::net::UnixStream);

impl Trigger {
    /// One shutdown request.
    pub fn fire(&mut self) -> io::Result<()> {
        self.0.write_all(b"T")
    }
}

impl Shutdown {
    /// Requests come from SIGINT and SIGTERM.
    pub fn signals() -> io::Result<Shutdown> {
        let (rx, tx) = std::os::unix::net::UnixStream::pair()?;
        rx.set_nonblocking(true)?;
        // The handler sends with MSG_DONTWAIT, so a full pipe never blocks it.
        signal_hook::low_level::pipe::register(SIGINT, tx.try_clone()?)?;
        signal_hook::low_level::pipe::register(SIGTERM, tx)?;
        Ok(Shutdown {
            rx: UnixStream::from_std(rx),
            _tx: None,
        })
    }

    /// Requests come from the returned [`Trigger`] only.
    pub fn manual() -> io::Result<(Shutdown, Trigger)> {
        let (rx, tx) = std::os::unix::net::UnixStream::pair()?;
        rx.set_nonblocking(true)?;
        let trigger = Trigger(tx.try_clone()?);
        Ok((
            Shutdown {
                rx: UnixStream::from_std(rx),
                _tx: Some(tx),
            },
            trigger,
        ))
    }

    /// Registers the pipe with the loop's poll.
    pub fn register(&mut self, registry: &Registry, token: Token) -> io::Result<()> {
        registry.register(&mut self.rx, token, Interest::READABLE)
    }

    /// How many requests arrived since the last call (reads the pipe dry).
    pub fn take(&mut self) -> usize {
        let mut buf = [0u8; 64];
        let mut count = 0;
        loop {
            match self.rx.read(&mut buf) {
                Ok(0) => return count,
                Ok(n) => count += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(_) => return count,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_trigger_is_one_request() {
        let (mut s, mut t) = Shutdown::manual().unwrap();
        assert_eq!(s.take(), 0);
        t.fire().unwrap();
        t.fire().unwrap();
        assert_eq!(s.take(), 2);
        assert_eq!(s.take(), 0);
    }
}
