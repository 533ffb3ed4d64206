//! The per-connection terminal layer, sans-IO: between the socket's bytes
//! and the chat core's lines. (Being built: widths first.)

pub mod width;
