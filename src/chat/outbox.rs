//! What the core asks of the shell: bytes to write, connections to close,
//! timers to set, names to log.

use crate::accounts::hash::HashJob;
use std::rc::Rc;
use std::time::Duration;

/// A client's handle: the shell's slab key. The shell reports a disconnect
/// before it reuses a key; timers carry a generation on top of it.
pub type ClientId = usize;

/// Bytes for one client: its own, or shared with other recipients.
#[derive(Debug, Clone)]
pub enum Chunk {
    /// Rendered for this client only.
    Owned(Vec<u8>),
    /// Rendered once, the same bytes for every recipient.
    Shared(Rc<[u8]>),
    /// The client's prompt: where its input line starts. The shell writes
    /// `text` and, in character mode, the half-typed line after it.
    Prompt {
        /// The prompt's text.
        text: Box<str>,
        /// It is the chat view's input row (not a palette prompt).
        view: bool,
        /// What is typed after it is a password: shown as `*` in
        /// character mode and kept out of the input history.
        secret: bool,
    },
}

impl Chunk {
    /// The bytes to send.
    pub fn bytes(&self) -> &[u8] {
        match self {
            Chunk::Owned(v) => v,
            Chunk::Shared(r) => r,
            Chunk::Prompt { text, .. } => text.as_bytes(),
        }
    }
}

/// What a timer the core asked for is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum TimerKind {
    /// One more dot of the connection delay.
    Dot,
    /// The time to choose a username is up.
    NameTimeout,
    /// A named client may have been silent for `idleTimeout` minutes.
    Idle,
}

/// A timer the shell must fire after `after`, passing `gen` back.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timer {
    /// The client it is for.
    pub client: ClientId,
    /// That client's generation when the timer was set.
    pub gen: u64,
    /// What it is for.
    pub kind: TimerKind,
    /// Delay from now.
    pub after: Duration,
}

/// What the core asks the shell to do; the shell drains it after each event.
#[derive(Debug, Default)]
pub struct Outbox {
    /// Bytes to queue for a client, in order.
    pub writes: Vec<(ClientId, Chunk)>,
    /// Clients to close once their queued output is flushed, with the reason.
    pub closes: Vec<(ClientId, &'static str)>,
    /// Timers to set.
    pub timers: Vec<Timer>,
    /// Clients that just chose a username (for the log).
    pub named: Vec<ClientId>,
    /// Clients that set their terminal size with `:size` (cols, rows), for
    /// the shell's terminal layer.
    pub resized: Vec<(ClientId, u16, u16)>,
    /// Passwords to hash or check; answer each with [`Chat::hashed`]
    /// (in any order, later).
    ///
    /// [`Chat::hashed`]: super::Chat::hashed
    pub hash_jobs: Vec<HashJob>,
    /// The accounts changed: write [`Chat::accounts_text`] to the accounts
    /// file and report how it went with [`Chat::saved`].
    ///
    /// [`Chat::accounts_text`]: super::Chat::accounts_text
    /// [`Chat::saved`]: super::Chat::saved
    pub save: bool,
    /// Lines for the operational log (names and actions, never message
    /// text or passwords), without the `chatsock: ` prefix.
    pub logs: Vec<String>,
}
