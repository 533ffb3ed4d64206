//! The sans-IO chat core: users, rooms, DMs, sessions and chat-view
//! histories, driven by events and answering through an [`Outbox`].
//!
//! It owns no socket and no clock: the shell calls [`Chat::connect`],
//! [`Chat::line`], [`Chat::timer`], [`Chat::disconnect`] and the shutdown
//! methods, then carries out what the outbox asks for.

//! # Layout
//!
//! - `outbox`: what the core asks of the shell (writes, closes, timers,
//!   hash jobs, saving the accounts file).
//! - `names`: choosing a username: the rules and the name key.
//! - `accounts`: logging in, `:register`, `:passwd`, `:unregister`, the
//!   failed-login limits (SPEC §11).
//! - `moderation`: `:kick`, `:mute`, `:ban`, `:unban` for ops.
//! - `palette`: the command palette's commands.
//! - `rooms`: joining and leaving rooms, their notices.
//! - `dm`: direct messages.
//! - `chatview`: the chat view: messages, histories, redraws.
//! - `invariants`: the checks tests and the session fuzzer run.

mod accounts;
mod chatview;
mod dm;
mod invariants;
mod moderation;
mod names;
mod outbox;
mod palette;
mod rooms;

pub use accounts::{Link, FAILS_PER_MINUTE, WRONG_PASSWORDS};
pub use names::{check as check_name, key as name_key, Refusal};
pub use outbox::{Chunk, ClientId, Outbox, Timer, TimerKind};
pub use rooms::{constant_time_eq, NOTICE_BURST, NOTICE_EVERY};

use crate::config::Config;
use crate::text::sanitize;
use crate::view::{self, HistLine, Label, Layout};
use std::collections::{HashMap, VecDeque};
use std::net::IpAddr;
use std::rc::Rc;
use std::time::Duration;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Connecting {
        dots: u8,
    },
    Naming,
    /// At `Password for NAME: ` (the name is in `Client::login`).
    Password,
    Palette,
    ChatView,
    ConfirmQuit,
    Closed,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Place {
    None,
    Room(usize),
    Dm(ClientId),
}

#[derive(Debug)]
struct Client {
    gen: u64,
    state: State,
    name: Option<Rc<str>>,
    place: Place,
    /// Last `chatviewMax` lines of the chat view: while viewing, and for a
    /// DM also while not (a room's lines wait in the room's `recent`);
    /// empty when in no room or DM.
    history: VecDeque<Rc<HistLine>>,
    /// The room line number this client joined after (its room history
    /// starts there).
    joined_seq: u64,
    /// History lines that arrived while the client was not viewing.
    unread: u32,
    /// Who last sent this client a DM (for `:r`).
    last_dm_from: Option<Rc<str>>,
    /// Ring the bell for DMs and mentions (`:bell`).
    bell: bool,
    /// `HH:MM ` before each history line (`:time`).
    timestamps: bool,
    /// When it connected (for `:whois`).
    since: Secs,
    /// The client's terminal as the shell and `:size` report it.
    term: Term,
    /// Clients whose current place is a DM with this one.
    dm_watchers: Vec<ClientId>,
    /// Join/leave notices this client may still cause now (a token bucket:
    /// `NOTICE_BURST` at most, one more every `NOTICE_EVERY`).
    notice_tokens: f32,
    /// When `notice_tokens` was last brought up to date.
    notice_at: Duration,
    /// When the client last sent a line (for `idleTimeout`).
    last_line: Secs,
    /// When it last asked for an account change (`:register`,
    /// `:passwd`, `:unregister`), each a hash and a file write; `None`:
    /// never.
    changed_at: Option<Secs>,
    /// The OpenSSH fingerprint (`SHA256:…`) of the key an SSH client logged
    /// in with: it may log in to an account that has it bound, and
    /// `:addkey` binds it.
    ssh_key: Option<Box<str>>,
    /// How it reached the server (the plaintext-password rule).
    link: Link,
    /// Its address, keyed as `maxClientsPerIp` counts it (bans, limits).
    ip: IpAddr,
    /// It holds its name by logging in to the account of that name.
    account: bool,
    /// A hash job of its own is out: its input waits.
    busy: bool,
    /// Wrong passwords on this connection.
    wrong: u8,
    /// The account it is logging in to, at the password prompt.
    login: Option<Box<str>>,
}

/// A time on the core's clock to the second: 4 bytes where a `Duration`
/// takes 16, since every client keeps a few of them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
struct Secs(u32);

impl From<Duration> for Secs {
    fn from(d: Duration) -> Secs {
        Secs(u32::try_from(d.as_secs()).unwrap_or(u32::MAX))
    }
}

impl From<Secs> for Duration {
    fn from(s: Secs) -> Duration {
        Duration::from_secs(u64::from(s.0))
    }
}

/// What the core knows of a client's terminal.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Term {
    /// Columns.
    pub cols: u16,
    /// Rows.
    pub rows: u16,
    /// The server echoes and edits the input line (character mode).
    pub char_mode: bool,
    /// Where the size came from.
    pub source: SizeSource,
}

/// Where a client's terminal size came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SizeSource {
    /// Nothing told us: 80×24 assumed.
    Assumed,
    /// The client's terminal reported it (telnet NAWS, a cursor-position
    /// report, an SSH pty).
    Terminal,
    /// The user set it with `:size`.
    Command,
}

impl Term {
    /// 80×24, line mode, assumed.
    pub const DEFAULT: Term = Term {
        cols: 80,
        rows: 24,
        char_mode: false,
        source: SizeSource::Assumed,
    };
}

#[derive(Debug)]
struct RoomState {
    name: String,
    public: bool,
    password: String,
    description: String,
    limit: usize,
    members: Vec<ClientId>,
    /// The room's last `chatviewMax` lines, numbered: a member's history
    /// while it is not viewing is the part of this since it joined, so an
    /// idle member holds no copy of it.
    recent: VecDeque<(u64, Rc<HistLine>)>,
    /// The number of the room's latest line.
    seq: u64,
}

const USERNAME_PROMPT: &str = "Enter a username: ";
const QUIT_PROMPT: &str = "Are you sure you want to quit? (y/n) ";
const NOT_CONNECTED: &str = "You are not connected to a chatroom or a DM!";
/// The notice every client gets when a shutdown begins.
pub const SHUTDOWN_NOTICE: &str = "The server will be shutting down in 5 seconds!!";
/// The last words every client gets.
pub const GOODBYE: &str = "Server shut down. Goodbye!";
const DOT_INTERVAL: Duration = Duration::from_millis(500);
const DOTS: u8 = 5;

/// The chat core.
#[derive(Debug)]
pub struct Chat {
    cfg: Config,
    version: &'static str,
    clients: Vec<Option<Client>>,
    /// Name key ([`names::key`]: the case-folded UTS #39 skeleton) → client.
    names: HashMap<String, ClientId>,
    rooms: Vec<RoomState>,
    next_gen: u64,
    shutting_down: bool,
    /// Time since the shell started, as last told by [`Chat::set_now`].
    now: Duration,
    /// Unix time when that clock started ([`Chat::set_wall_clock`]).
    wall_start: u64,
    /// Accounts, bans, mutes, hash jobs and login limits.
    auth: accounts::Auth,
    /// Requests for the shell; drain after every call.
    pub out: Outbox,
}

impl Chat {
    /// A core serving `cfg`; `version` is shown in the banner.
    pub fn new(cfg: Config, version: &'static str) -> Chat {
        let rooms = cfg
            .rooms
            .0
            .iter()
            .map(|(name, r)| RoomState {
                name: name.clone(),
                public: r.public,
                password: r.password.clone(),
                description: r.description.clone(),
                limit: r.limit,
                members: Vec::new(),
                recent: VecDeque::new(),
                seq: 0,
            })
            .collect();
        let accounts_on = !cfg.accounts.is_empty();
        Chat {
            cfg,
            version,
            clients: Vec::new(),
            names: HashMap::new(),
            rooms,
            next_gen: 0,
            shutting_down: false,
            now: Duration::ZERO,
            wall_start: 0,
            auth: accounts::Auth::new(accounts_on),
            out: Outbox::default(),
        }
    }

    /// Tells the core the time (since the shell started; never decreasing)
    /// for the rules that need it, such as the join/leave notice budget.
    pub fn set_now(&mut self, now: Duration) {
        self.now = self.now.max(now);
    }

    /// Tells the core the wall-clock time (seconds since the Unix epoch)
    /// at which its `set_now` clock started, for `HH:MM` stamps (UTC).
    pub fn set_wall_clock(&mut self, unix_secs_at_start: u64) {
        self.wall_start = unix_secs_at_start;
    }

    /// Minutes since midnight UTC, now.
    fn minute_of_day(&self) -> u16 {
        ((self.wall_start.saturating_add(self.now.as_secs()) / 60) % 1440) as u16
    }

    /// A line said now: stamped with the minute for `:time on` viewers.
    fn stamped(&self, mut line: Rc<HistLine>) -> Rc<HistLine> {
        let minute = self.minute_of_day();
        Rc::make_mut(&mut line).minute = Some(minute);
        line
    }

    /// The configuration in force.
    pub fn config(&self) -> &Config {
        &self.cfg
    }

    /// Clients known to the core (named or not).
    pub fn client_count(&self) -> usize {
        self.clients.iter().filter(|c| c.is_some()).count()
    }

    /// Clients that have chosen a username.
    pub fn named_count(&self) -> usize {
        self.names.len()
    }

    /// A client's username, once chosen.
    pub fn name(&self, id: ClientId) -> Option<&str> {
        self.client(id)?.name.as_deref()
    }

    /// Whether the client's input should be handed over now (not during the
    /// connection delay, when typed lines wait).
    pub fn wants_input(&self, id: ClientId) -> bool {
        matches!(
            self.client(id).map(|c| c.state),
            Some(
                State::Naming
                    | State::Password
                    | State::Palette
                    | State::ChatView
                    | State::ConfirmQuit
            )
        ) && self.client(id).is_some_and(|c| !c.busy)
    }

    /// The full chat-view frame for a client that is viewing, to replace
    /// pending incremental updates when it has fallen behind; the input
    /// prompt (`> `) follows it.
    pub fn full_view(&self, id: ClientId) -> Option<Vec<u8>> {
        let c = self.client(id)?;
        (c.state == State::ChatView)
            .then(|| view::full_view(&c.history, self.layout(id), self.label(id)))
    }

    /// The chat view's input prompt.
    pub const VIEW_PROMPT: &'static str = "> ";

    /// Where the chat view sits on this client's screen.
    fn layout(&self, id: ClientId) -> Layout {
        let t = self.client(id).map_or(Term::DEFAULT, |c| c.term);
        let mut layout = Layout::new(
            usize::from(t.cols),
            usize::from(t.rows),
            self.cfg.chatview_max,
            t.char_mode,
        );
        layout.time = self.client(id).is_some_and(|c| c.timestamps);
        layout
    }

    /// What the core knows of a client's terminal.
    pub fn term(&self, id: ClientId) -> Option<Term> {
        Some(self.client(id)?.term)
    }

    /// The shell learned the client's terminal mode (character mode agreed
    /// or detected) or size (`Some((cols, rows))`: telnet NAWS, a
    /// cursor-position report): a viewer's screen is redrawn to fit.
    pub fn terminal(&mut self, id: ClientId, size: Option<(u16, u16)>, char_mode: bool) {
        let Some(c) = self.client_mut(id) else { return };
        let mut new = Term {
            char_mode,
            ..c.term
        };
        if let Some((cols, rows)) = size {
            let cols = cols.clamp(1, crate::term::MAX_COLS);
            let rows = rows.clamp(1, crate::term::MAX_ROWS);
            (new.cols, new.rows, new.source) = (cols, rows, SizeSource::Terminal);
        }
        let changed =
            (c.term.cols, c.term.rows, c.term.char_mode) != (new.cols, new.rows, char_mode);
        c.term = new;
        if changed {
            self.redraw_view(id);
        }
    }

    /// From the chat view to `state`: a room's lines are kept by the room,
    /// so the viewer's copy goes (`:chat` builds it again).
    fn leave_view(&mut self, id: ClientId, state: State) {
        if let Some(c) = self.client_mut(id) {
            c.state = state;
            if matches!(c.place, Place::Room(_)) {
                c.history = VecDeque::new();
            }
        }
    }

    /// Into the chat view: a room member's history is the room's lines
    /// since it joined (the last `chatviewMax`).
    fn enter_view(&mut self, id: ClientId) {
        let Some(c) = self.client(id) else { return };
        let (place, joined) = (c.place, c.joined_seq);
        let history: Option<VecDeque<Rc<HistLine>>> = match place {
            Place::Room(r) => Some(
                self.rooms[r]
                    .recent
                    .iter()
                    .filter(|(seq, _)| *seq > joined)
                    .map(|(_, l)| l.clone())
                    .collect(),
            ),
            _ => None,
        };
        if let Some(c) = self.client_mut(id) {
            c.state = State::ChatView;
            c.unread = 0;
            if let Some(h) = history {
                c.history = h;
            }
        }
    }

    /// Draws a viewer's whole chat view again (after a size change).
    fn redraw_view(&mut self, id: ClientId) {
        if let Some(frame) = self.full_view(id) {
            self.write(id, frame);
            self.write_prompt(id);
        }
    }

    fn client(&self, id: ClientId) -> Option<&Client> {
        self.clients.get(id)?.as_ref()
    }

    fn client_mut(&mut self, id: ClientId) -> Option<&mut Client> {
        self.clients.get_mut(id)?.as_mut()
    }

    fn state(&self, id: ClientId) -> Option<State> {
        self.client(id).map(|c| c.state)
    }

    fn write(&mut self, id: ClientId, bytes: impl Into<Vec<u8>>) {
        self.out.writes.push((id, Chunk::Owned(bytes.into())));
    }

    fn label(&self, id: ClientId) -> Label<'_> {
        match self.client(id).map(|c| c.place) {
            Some(Place::Room(r)) => Label::Room(&self.rooms[r].name),
            Some(Place::Dm(p)) => self.name(p).map_or(Label::None, Label::Dm),
            _ => Label::None,
        }
    }

    fn prompt(&self, id: ClientId) -> String {
        match self.state(id) {
            Some(State::ConfirmQuit) => QUIT_PROMPT.to_string(),
            Some(State::Naming) => USERNAME_PROMPT.to_string(),
            Some(State::Password) => format!(
                "Password for {}: ",
                self.client(id)
                    .and_then(|c| c.login.as_deref())
                    .unwrap_or("")
            ),
            Some(State::ChatView) => Self::VIEW_PROMPT.to_string(),
            _ => view::prompt_unread(self.label(id), self.client(id).map_or(0, |c| c.unread)),
        }
    }

    /// The client's prompt for its state: where its input line starts (the
    /// shell draws a half-typed line after it in character mode).
    fn write_prompt(&mut self, id: ClientId) {
        let text = self.prompt(id).into_boxed_str();
        let view = self.state(id) == Some(State::ChatView);
        let secret = self.state(id) == Some(State::Password);
        self.out
            .writes
            .push((id, Chunk::Prompt { text, view, secret }));
    }

    /// Replies with `lines` (each ended by CRLF) and the palette prompt; in
    /// the chat view, as SERVER lines (the caller redraws the input line).
    fn reply(&mut self, id: ClientId, lines: &[&str]) {
        if self.state(id) == Some(State::ChatView) {
            for l in lines {
                let line = view::server_line(self.cfg.username_limit, l);
                self.view_push_one(id, line);
            }
            return;
        }
        let mut s = String::new();
        for l in lines {
            s.push_str(l);
            s.push_str("\r\n");
        }
        if !s.is_empty() {
            self.write(id, s);
        }
        self.write_prompt(id);
    }

    // ---- events -------------------------------------------------------

    /// A new connection with key `id` was accepted from `ip`, over `link`.
    pub fn connect(&mut self, id: ClientId, link: Link, ip: IpAddr) {
        if self.clients.len() <= id {
            self.clients.resize_with(id + 1, || None);
        }
        self.next_gen += 1;
        let gen = self.next_gen;
        self.clients[id] = Some(Client {
            gen,
            state: State::Connecting { dots: 0 },
            name: None,
            place: Place::None,
            history: VecDeque::new(),
            joined_seq: 0,
            unread: 0,
            last_dm_from: None,
            bell: true,
            timestamps: false,
            since: self.now.into(),
            term: Term::DEFAULT,
            dm_watchers: Vec::new(),
            notice_tokens: NOTICE_BURST,
            notice_at: self.now,
            last_line: self.now.into(),
            changed_at: None,
            ssh_key: None,
            link,
            ip: self.cfg.ip_key(ip),
            account: false,
            busy: false,
            wrong: 0,
            login: None,
        });
        if self.cfg.name_timeout > 0 {
            self.out.timers.push(Timer {
                client: id,
                gen,
                kind: TimerKind::NameTimeout,
                after: Duration::from_secs(self.cfg.name_timeout),
            });
        }
        if self.cfg.connection_timeout {
            self.write(id, "\r\nConnecting you");
            self.out.timers.push(Timer {
                client: id,
                gen,
                kind: TimerKind::Dot,
                after: DOT_INTERVAL,
            });
        } else {
            self.welcome(id);
        }
    }

    fn welcome(&mut self, id: ClientId) {
        if let Some(c) = self.client_mut(id) {
            c.state = State::Naming;
        }
        let mut s = view::banner(&self.cfg.welcome_message, self.version);
        s.push_str(&format!(
            "Pick a username: 1-{} characters, no spaces, not starting with ':'.\r\n",
            self.cfg.username_limit
        ));
        self.write(id, s);
        self.write_prompt(id);
    }

    /// A timer set for `id` at generation `gen` fired.
    pub fn timer(&mut self, id: ClientId, gen: u64, kind: TimerKind) {
        let now = self.now;
        let Some(c) = self.client_mut(id) else { return };
        if c.gen != gen {
            return;
        }
        match (kind, c.state) {
            (TimerKind::Dot, State::Connecting { dots }) => {
                c.state = State::Connecting { dots: dots + 1 };
                self.write(id, ".");
                if dots + 1 < DOTS {
                    self.out.timers.push(Timer {
                        client: id,
                        gen,
                        kind,
                        after: DOT_INTERVAL,
                    });
                } else {
                    self.welcome(id);
                }
            }
            (TimerKind::Idle, State::Palette | State::ChatView | State::ConfirmQuit) => {
                let quiet = now.saturating_sub(c.last_line.into());
                let idle = self.idle_timeout();
                if quiet < idle {
                    // A line came since the timer was set: wait for the rest.
                    self.out.timers.push(Timer {
                        client: id,
                        gen,
                        kind,
                        after: idle - quiet,
                    });
                } else {
                    let minutes = self.cfg.idle_timeout;
                    let s = if minutes == 1 { "" } else { "s" };
                    self.write(
                        id,
                        format!("\r\n\r\nYou sent nothing for {minutes} minute{s}. Goodbye!\r\n"),
                    );
                    self.close(id, "idle timeout");
                }
            }
            (
                TimerKind::NameTimeout,
                State::Connecting { .. } | State::Naming | State::Password,
            ) => {
                self.write(id, "\r\nYou took too long to pick a username. Goodbye!\r\n");
                self.close(id, "name timeout");
            }
            _ => {}
        }
    }

    /// Ctrl+C or Ctrl+D on an empty line (character mode): asks the
    /// `:quit` confirmation (from the chat view too); at the username prompt
    /// it disconnects; at the confirmation it means no.
    pub fn interrupt(&mut self, id: ClientId) {
        if self.client(id).is_some_and(|c| c.busy) {
            return;
        }
        match self.state(id) {
            Some(State::Naming | State::Password) => {
                self.write(id, "\r\nDisconnecting. Goodbye!\r\n");
                self.close(id, "quit");
            }
            Some(State::Palette) => {
                // The question goes on a line of its own, as after Enter.
                self.set_state(id, State::ConfirmQuit);
                self.write(id, "\r\n");
                self.write_prompt(id);
            }
            Some(State::ChatView) => {
                self.leave_view(id, State::ConfirmQuit);
                self.write(id, view::CLEAR);
                self.write_prompt(id);
            }
            Some(State::ConfirmQuit) => {
                self.write(id, "\r\n");
                self.set_state(id, State::Palette);
                self.write_prompt(id);
            }
            Some(State::Connecting { .. } | State::Closed) | None => {}
        }
    }

    /// Tab completion: the candidates for the last word of `before` (the
    /// input line up to the cursor): command names for a first word that
    /// starts with `:`, public room names after `:join`, user names
    /// otherwise. Case-insensitive prefix match; hidden rooms never appear.
    pub fn complete(&self, id: ClientId, before: &str) -> Vec<String> {
        if !matches!(self.state(id), Some(State::Palette | State::ChatView)) {
            return Vec::new();
        }
        let word_start = before.rfind(' ').map_or(0, |i| i + 1);
        let word = before[word_start..].to_lowercase();
        let first = before.split(' ').next().unwrap_or("").to_ascii_lowercase();
        let matches = |name: &str| name.to_lowercase().starts_with(&word);
        if word_start == 0 && word.starts_with(':') {
            crate::command::NAMES
                .iter()
                .filter(|n| n.starts_with(word.as_str()))
                .map(|n| n.to_string())
                .collect()
        } else if word_start > 0 && first == ":join" {
            self.rooms
                .iter()
                .filter(|r| r.public && matches(&r.name))
                .map(|r| r.name.clone())
                .collect()
        } else {
            self.names
                .values()
                .filter_map(|&c| self.name(c))
                .filter(|n| matches(n))
                .map(str::to_string)
                .collect()
        }
    }

    /// The client sent a line longer than `maxLineLength`; it was dropped.
    pub fn line_too_long(&mut self, id: ClientId) {
        // It was input all the same: the client is not idle.
        let now = self.now;
        if let Some(c) = self.client_mut(id) {
            c.last_line = now.into();
        }
        match self.state(id) {
            Some(State::ChatView) => self.view_notice_to_self(id, "Line too long."),
            Some(State::Connecting { .. } | State::Closed) | None => {}
            Some(_) => self.reply(id, &["Line too long."]),
        }
    }

    /// The client sent a complete line (raw bytes, not yet sanitised).
    pub fn line(&mut self, id: ClientId, raw: &[u8]) {
        let now = self.now;
        if let Some(c) = self.client_mut(id) {
            c.last_line = now.into();
        }
        let text = sanitize(raw);
        match self.state(id) {
            Some(State::Naming) => self.choose_name(id, text.trim()),
            Some(State::Password) => self.password_line(id, text.trim()),
            Some(State::Palette) => self.palette(id, text.trim()),
            Some(State::ChatView) => self.chat_view_line(id, &text),
            Some(State::ConfirmQuit) => {
                let answer = text.trim().to_ascii_lowercase();
                if answer == "y" || answer == "yes" {
                    self.write(id, "Disconnecting. Goodbye!\r\n");
                    self.close(id, "quit");
                } else {
                    self.set_state(id, State::Palette);
                    self.reply(id, &[]);
                }
            }
            Some(State::Connecting { .. } | State::Closed) | None => {}
        }
    }

    /// The connection is gone (EOF, error, closed by request, or dropped by
    /// the shell); the key may be reused afterwards.
    pub fn disconnect(&mut self, id: ClientId) {
        // A client closed by the shutdown goodbye still holds its room, DM
        // and name; cleanup is quiet towards clients that are closed.
        self.cleanup(id);
        if let Some(slot) = self.clients.get_mut(id) {
            *slot = None;
        }
    }

    /// First shutdown signal: tell everyone.
    pub fn shutdown_notice(&mut self) {
        self.shutting_down = true;
        for id in 0..self.clients.len() {
            match self.state(id) {
                Some(State::ChatView) => {
                    let line = view::server_line(self.cfg.username_limit, SHUTDOWN_NOTICE);
                    self.view_push_one(id, line);
                }
                Some(State::Connecting { .. }) => {
                    // Not welcomed yet, and nobody is welcomed now.
                    self.write(
                        id,
                        format!("\r\n{SHUTDOWN_NOTICE}\r\nThe server is shutting down, try again later.\r\n"),
                    );
                    self.close(id, "server shutdown");
                }
                Some(State::Closed) | None => {}
                Some(_) => {
                    self.write(id, view::palette_notice(SHUTDOWN_NOTICE));
                    self.write_prompt(id);
                }
            }
        }
    }

    /// Whether a shutdown has begun.
    pub fn shutting_down(&self) -> bool {
        self.shutting_down
    }

    /// End of the grace period: say goodbye to everyone and close them all.
    pub fn shutdown_goodbye(&mut self) {
        self.shutting_down = true;
        for id in 0..self.clients.len() {
            match self.state(id) {
                Some(State::ChatView) => {
                    let line = view::server_line(self.cfg.username_limit, GOODBYE);
                    self.view_push_one(id, line);
                    self.write(id, "\r\n");
                }
                Some(State::Closed) | None => continue,
                Some(_) => self.write(id, view::palette_notice(GOODBYE)),
            }
            self.set_state(id, State::Closed);
            self.out.closes.push((id, "server shutdown"));
        }
    }

    // ---- sessions -----------------------------------------------------

    fn set_state(&mut self, id: ClientId, state: State) {
        if let Some(c) = self.client_mut(id) {
            c.state = state;
        }
    }

    fn close(&mut self, id: ClientId, reason: &'static str) {
        if self.state(id).is_some_and(|s| s != State::Closed) {
            self.cleanup(id);
            self.set_state(id, State::Closed);
            self.out.closes.push((id, reason));
        }
    }

    /// Leaves the client's room or DM, closes DMs others have with it, and
    /// frees its name.
    fn cleanup(&mut self, id: ClientId) {
        // Its DM partner hears of the disconnect below, not "left the DM".
        self.leave_place_quietly(id);
        let Some(c) = self.client_mut(id) else { return };
        let watchers = std::mem::take(&mut c.dm_watchers);
        let name = c.name.take();
        c.login = None;
        c.history = VecDeque::new();
        if let Some(name) = name {
            self.names.remove(&names::key(&name));
            for w in watchers {
                if let Some(wc) = self.client_mut(w) {
                    // Nothing is kept of a DM that is gone.
                    wc.place = Place::None;
                    wc.history = VecDeque::new();
                    wc.unread = 0;
                    if wc.state == State::Closed {
                        continue;
                    }
                    let viewing = wc.state == State::ChatView;
                    let msg = format!("{name} disconnected. Your DM with {name} was closed.");
                    if viewing {
                        wc.state = State::Palette;
                        self.write(w, format!("{}{msg}\r\n", view::CLEAR));
                    } else {
                        self.write(w, view::palette_line(&msg));
                    }
                    self.write_prompt(w);
                }
            }
        }
    }
}

impl Chat {
    /// `idleTimeout` as a duration (the config bounds it, so no overflow).
    fn idle_timeout(&self) -> Duration {
        Duration::from_secs(self.cfg.idle_timeout.saturating_mul(60))
    }
}

#[cfg(test)]
mod account_tests;
#[cfg(test)]
mod tests;
