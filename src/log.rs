//! Log output that never blocks or kills the event loop (stub: replaced by
//! the bounded writer).

/// Queues one line for stdout.
pub fn out(line: String) {
    let _ = std::io::Write::write_all(&mut std::io::stdout(), format!("{line}\n").as_bytes());
}

/// Queues one line for stderr.
pub fn err(line: String) {
    let _ = std::io::Write::write_all(&mut std::io::stderr(), format!("{line}\n").as_bytes());
}

/// A line for stdout, formatted like `println!`.
#[macro_export]
macro_rules! log_out {
    ($($arg:tt)*) => { $crate::log::out(format!($($arg)*)) };
}

/// A line for stderr (the operational log), formatted like `eprintln!`.
#[macro_export]
macro_rules! log_err {
    ($($arg:tt)*) => { $crate::log::err(format!($($arg)*)) };
}
