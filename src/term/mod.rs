//! The per-connection terminal layer, sans-IO: between the socket's bytes
//! and the chat core's lines. (Being built: widths first.)

pub mod width;

/// Widest terminal the server lays out for (larger reports are clamped).
pub const MAX_COLS: u16 = 500;
/// Tallest terminal the server lays out for (larger reports are clamped).
pub const MAX_ROWS: u16 = 200;
