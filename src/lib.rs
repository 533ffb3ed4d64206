//! chatsock: a chat server for plain TCP clients (`nc`, `telnet`, `socat`).
//!
//! # Layout
//!
//! - [`server`]: the event loop — one `mio::Poll`, the listener, signals,
//!   timers and a `Slab` of connections; it only moves bytes and time.
//! - [`conn`]: one socket — line reader and flood bucket in, bounded output
//!   queue out.
//! - [`line`]: bytes → lines (telnet IAC, CR/LF/NUL, the length limit).
//! - [`chat`]: the sans-IO core — users, rooms, DMs, chat-view histories.
//! - [`command`]: a palette line → a command.
//! - [`view`]: banner, prompts and chat-view escape sequences as bytes.
//! - [`text`]: sanitising what users typed; counting characters.
//! - [`config`]: `chatsock.ron` → a validated [`config::Config`].
//! - [`log`]: stdout and stderr lines through bounded queues and writer
//!   threads, so log output never blocks or kills the event loop.

pub mod chat;
pub mod command;
pub mod config;
pub mod conn;
pub mod line;
pub mod log;
pub mod server;
pub mod shutdown;
pub mod term;
pub mod text;
pub mod view;

/// The crate version, shown in the banner and by `--version`.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
