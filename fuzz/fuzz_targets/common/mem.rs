//! An in-memory socket for the transport targets (`tls`, `ssh`): what the
//! client sent waits in `input`; what the server writes goes to `output`,
//! at most `per_write` bytes per write when set, after which the socket is
//! full (`blocked`) until the target drains it.

use std::collections::VecDeque;
use std::io::{self, Read, Write};

#[derive(Default)]
pub struct Mem {
    pub input: VecDeque<u8>,
    pub eof: bool,
    pub output: Vec<u8>,
    pub per_write: Option<usize>,
    pub blocked: bool,
}

impl Read for Mem {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.input.is_empty() {
            return if self.eof {
                Ok(0)
            } else {
                Err(io::ErrorKind::WouldBlock.into())
            };
        }
        let n = buf.len().min(self.input.len());
        for (b, x) in buf.iter_mut().zip(self.input.drain(..n)) {
            *b = x;
        }
        Ok(n)
    }
}

impl Write for Mem {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if self.blocked {
            return Err(io::ErrorKind::WouldBlock.into());
        }
        let n = self.per_write.map_or(buf.len(), |p| p.min(buf.len()));
        self.output.extend_from_slice(&buf[..n]);
        if self.per_write.is_some() {
            // The next write finds the kernel full until it drains.
            self.blocked = true;
        }
        Ok(n)
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// `[len, bytes…]` chunks of `data` (the last one cut short if need be).
#[allow(dead_code)] // the ssh target cuts its input its own way
pub fn chunks(data: &[u8]) -> impl Iterator<Item = &[u8]> {
    let mut rest = data;
    std::iter::from_fn(move || {
        let (&len, tail) = rest.split_first()?;
        let n = usize::from(len).min(tail.len());
        let (chunk, more) = tail.split_at(n);
        rest = more;
        Some(chunk)
    })
}
