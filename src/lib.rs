//! chatsock: a chat server for terminal clients (`nc`, `telnet`, `socat`,
//! TLS clients).
//!
//! # Layout
//!
//! ```text
//!  listeners ──► server::Conn { transport } ──► term::Terminal ──► chat::Chat
//!                (bytes ⇄ plaintext)           (telnet, line or     (the sans-IO
//!                                               character mode,      core)
//!                                               editor, size)
//! ```
//!
//! - [`server`]: the event loop — one `mio::Poll`, the listeners, the
//!   shutdown source, timers and a `Slab` of connections
//!   (`server::conn`: one socket's life; `server::listen`: accepting,
//!   admission limits, running out of descriptors); it only moves bytes
//!   and time.
//! - [`transport`]: bytes ⇄ plaintext between a socket and its terminal
//!   (plain; TLS with rustls), written for any `Read + Write` socket.
//! - [`term`]: the per-connection terminal layer, sans-IO: telnet options,
//!   line or character mode, the line editor, the size, display widths.
//! - [`line`]: bytes → lines in line mode (CR/LF/NUL, the length limit).
//! - [`chat`]: the sans-IO core — users, rooms, DMs, chat-view histories.
//! - [`command`]: a palette line → a command.
//! - [`view`]: the screen format, written once: banner, prompts, the chat
//!   view's layout and escape sequences.
//! - [`text`]: sanitising what users typed; counting characters.
//! - [`config`]: `chatsock.ron` → a validated [`config::Config`].
//! - [`log`]: log output that never blocks or kills the loop.
//! - [`shutdown`]: shutdown requests (signals, or a trigger in tests).

pub mod chat;
pub mod command;
pub mod config;
pub mod line;
pub mod log;
pub mod server;
pub mod shutdown;
pub mod term;
pub mod text;
pub mod transport;
pub mod view;

/// The crate version, shown in the banner and by `--version`.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
