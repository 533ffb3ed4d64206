//! The sans-IO chat core: users, rooms, DMs, sessions and chat-view
//! histories, driven by events and answering through an [`Outbox`].
//!
//! It owns no socket and no clock: the shell calls [`Chat::connect`],
//! [`Chat::line`], [`Chat::timer`], [`Chat::disconnect`] and the shutdown
//! methods, then carries out what the outbox asks for.

use crate::command::{self, Command, HELP};
use crate::config::Config;
use crate::text::{char_len, is_invisible, sanitize};
use crate::view::{self, Label};
use std::collections::{HashMap, VecDeque};
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
}

impl Chunk {
    /// The bytes to send.
    pub fn bytes(&self) -> &[u8] {
        match self {
            Chunk::Owned(v) => v,
            Chunk::Shared(r) => r,
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
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Connecting { dots: u8 },
    Naming,
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
    /// Last `chatviewMax` lines of the chat view; only while viewing.
    history: VecDeque<Rc<[u8]>>,
    /// Clients whose current place is a DM with this one.
    dm_watchers: Vec<ClientId>,
    /// Join/leave notices this client may still cause now (a token bucket:
    /// `NOTICE_BURST` at most, one more every `NOTICE_EVERY`).
    notice_tokens: f32,
    /// When `notice_tokens` was last brought up to date.
    notice_at: Duration,
    /// When the client last sent a line (for `idleTimeout`).
    last_line: Duration,
}

#[derive(Debug)]
struct RoomState {
    name: String,
    public: bool,
    password: String,
    description: String,
    limit: usize,
    members: Vec<ClientId>,
}

const USERNAME_PROMPT: &str = "Enter a username: ";
const QUIT_PROMPT: &str = "Are you sure you want to quit? (y/n) ";
const NOT_CONNECTED: &str = "You are not connected to a chatroom or a DM!";
const NO_SUCH_ROOM: &str = "That chatroom does not exist!";
/// The notice every client gets when a shutdown begins.
pub const SHUTDOWN_NOTICE: &str = "The server will be shutting down in 5 seconds!!";
/// The last words every client gets.
pub const GOODBYE: &str = "Server shut down. Goodbye!";
const DOT_INTERVAL: Duration = Duration::from_millis(500);
/// Join and leave notices one member may cause at once…
pub const NOTICE_BURST: f32 = 4.0;
/// …and then one more per this long; the rest are not shown (`:list` is
/// always current), so a member who joins and leaves in a loop costs each
/// viewer at most a line per five seconds.
pub const NOTICE_EVERY: Duration = Duration::from_secs(5);
const DOTS: u8 = 5;

/// The chat core.
#[derive(Debug)]
pub struct Chat {
    cfg: Config,
    version: &'static str,
    clients: Vec<Option<Client>>,
    /// Lower-cased username → client.
    names: HashMap<String, ClientId>,
    rooms: Vec<RoomState>,
    next_gen: u64,
    shutting_down: bool,
    /// Time since the shell started, as last told by [`Chat::set_now`].
    now: Duration,
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
            })
            .collect();
        Chat {
            cfg,
            version,
            clients: Vec::new(),
            names: HashMap::new(),
            rooms,
            next_gen: 0,
            shutting_down: false,
            now: Duration::ZERO,
            out: Outbox::default(),
        }
    }

    /// Tells the core the time (since the shell started; never decreasing)
    /// for the rules that need it, such as the join/leave notice budget.
    pub fn set_now(&mut self, now: Duration) {
        self.now = self.now.max(now);
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
            Some(State::Naming | State::Palette | State::ChatView | State::ConfirmQuit)
        )
    }

    /// The full chat-view frame for a client that is viewing, to replace
    /// pending incremental updates when it has fallen behind.
    pub fn full_view(&self, id: ClientId) -> Option<Vec<u8>> {
        let c = self.client(id)?;
        (c.state == State::ChatView)
            .then(|| view::full_view(&c.history, self.cfg.chatview_max, self.label(id)))
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
            _ => view::prompt(self.label(id)),
        }
    }

    /// Replies with `lines` (each ended by CRLF) and the palette prompt.
    fn reply(&mut self, id: ClientId, lines: &[&str]) {
        let mut s = String::new();
        for l in lines {
            s.push_str(l);
            s.push_str("\r\n");
        }
        s.push_str(&self.prompt(id));
        self.write(id, s);
    }

    // ---- events -------------------------------------------------------

    /// A new connection with key `id` was accepted.
    pub fn connect(&mut self, id: ClientId) {
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
            dm_watchers: Vec::new(),
            notice_tokens: NOTICE_BURST,
            notice_at: self.now,
            last_line: self.now,
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
            "Pick a username: 1-{} characters, no spaces, not starting with ':'.\r\n{USERNAME_PROMPT}",
            self.cfg.username_limit
        ));
        self.write(id, s);
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
                let quiet = now.saturating_sub(c.last_line);
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
            (TimerKind::NameTimeout, State::Connecting { .. } | State::Naming) => {
                self.write(id, "\r\nYou took too long to pick a username. Goodbye!\r\n");
                self.close(id, "name timeout");
            }
            _ => {}
        }
    }

    /// The client sent a line longer than `maxLineLength`; it was dropped.
    pub fn line_too_long(&mut self, id: ClientId) {
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
            c.last_line = now;
        }
        let text = sanitize(raw);
        match self.state(id) {
            Some(State::Naming) => self.choose_name(id, text.trim()),
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
                    let p = self.prompt(id);
                    self.write(id, view::palette_notice(SHUTDOWN_NOTICE, &p));
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
                Some(_) => self.write(id, view::palette_notice(GOODBYE, "")),
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
        self.leave_place(id);
        let Some(c) = self.client_mut(id) else { return };
        let watchers = std::mem::take(&mut c.dm_watchers);
        let name = c.name.take();
        c.history = VecDeque::new();
        if let Some(name) = name {
            self.names.remove(&name.to_lowercase());
            for w in watchers {
                if let Some(wc) = self.client_mut(w) {
                    wc.place = Place::None;
                    if wc.state == State::Closed {
                        continue;
                    }
                    let viewing = wc.state == State::ChatView;
                    let msg = format!("{name} disconnected. Your DM with {name} was closed.");
                    if viewing {
                        wc.state = State::Palette;
                        wc.history = VecDeque::new();
                        let p = self.prompt(w);
                        self.write(w, format!("{}{msg}\r\n{p}", view::CLEAR));
                    } else {
                        let p = self.prompt(w);
                        self.write(w, view::palette_line(&msg, &p));
                    }
                }
            }
        }
    }

    /// Leaves the current room (telling its viewers) or DM.
    fn leave_place(&mut self, id: ClientId) {
        let Some(c) = self.client_mut(id) else { return };
        let place = std::mem::replace(&mut c.place, Place::None);
        let name = c.name.clone();
        match place {
            Place::None => {}
            Place::Room(r) => {
                self.rooms[r].members.retain(|&m| m != id);
                if let Some(name) = name.filter(|_| self.notice_allowed(id)) {
                    self.room_notice(r, &format!("{name} left the room."));
                }
            }
            Place::Dm(p) => {
                if let Some(pc) = self.client_mut(p) {
                    pc.dm_watchers.retain(|&w| w != id);
                }
            }
        }
    }

    fn choose_name(&mut self, id: ClientId, name: &str) {
        if name.is_empty() {
            self.write(id, USERNAME_PROMPT);
            return;
        }
        let key = name.to_lowercase();
        let problem = if char_len(name) > self.cfg.username_limit {
            Some("That username is too long, please pick another one.")
        } else if name.chars().any(|c| c.is_whitespace() || is_invisible(c))
            || name.starts_with(':')
            || key == "server"
        {
            Some("That username is not allowed, please pick another one.")
        } else if self.names.contains_key(&key) {
            Some("That username is taken, please pick another one.")
        } else {
            None
        };
        if let Some(problem) = problem {
            self.write(id, format!("{problem}\r\n{USERNAME_PROMPT}"));
            return;
        }
        self.names.insert(key, id);
        if let Some(c) = self.client_mut(id) {
            c.name = Some(Rc::from(name));
            c.state = State::Palette;
        }
        self.out.named.push(id);
        if self.cfg.idle_timeout > 0 {
            let gen = self.client(id).map_or(0, |c| c.gen);
            self.out.timers.push(Timer {
                client: id,
                gen,
                kind: TimerKind::Idle,
                after: self.idle_timeout(),
            });
        }
        let hello = format!("You are now connected as '{name}'.");
        self.reply(id, &[&hello, "Type :help to see what you can do."]);
    }

    fn palette(&mut self, id: ClientId, line: &str) {
        if line.is_empty() {
            self.reply(id, &[]);
            return;
        }
        match command::parse(line) {
            Err(e) => self.reply(id, &[e.message()]),
            Ok(Command::Help) => {
                let mut lines = vec!["Available commands:".to_string()];
                lines.extend(HELP.iter().map(|(u, d)| format!("  {u:<23}{d}")));
                lines.push(
                    "In the chat view, every line you type is a message; :q leaves it.".into(),
                );
                let refs: Vec<&str> = lines.iter().map(String::as_str).collect();
                self.reply(id, &refs);
            }
            Ok(Command::List) => self.list(id),
            Ok(Command::ListAll) => {
                let mut lines = vec!["Currently connected users:".to_string()];
                lines.extend(
                    self.clients
                        .iter()
                        .flatten()
                        .filter_map(|c| c.name.as_ref())
                        .map(|n| format!("  - {n}")),
                );
                let refs: Vec<&str> = lines.iter().map(String::as_str).collect();
                self.reply(id, &refs);
            }
            Ok(Command::Rooms) => {
                let mut lines = vec!["Available chatrooms:".to_string()];
                for r in self.rooms.iter().filter(|r| r.public) {
                    let desc = if r.description.is_empty() {
                        String::new()
                    } else {
                        format!(" ({})", r.description)
                    };
                    let count = if r.limit > 0 {
                        format!("{}/{}", r.members.len(), r.limit)
                    } else {
                        r.members.len().to_string()
                    };
                    lines.push(format!("  - {}{desc} [{count} online]", r.name));
                }
                let refs: Vec<&str> = lines.iter().map(String::as_str).collect();
                self.reply(id, &refs);
            }
            Ok(Command::Join { room, password }) => self.join(id, &room, password.as_deref()),
            Ok(Command::Dm { user }) => self.open_dm(id, &user),
            Ok(Command::Chat) => {
                if self.client(id).is_some_and(|c| c.place == Place::None) {
                    self.reply(
                        id,
                        &[&format!("{NOT_CONNECTED} Please connect to one first.")],
                    );
                    return;
                }
                if let Some(c) = self.client_mut(id) {
                    c.state = State::ChatView;
                    c.history = VecDeque::new();
                }
                if let Some(frame) = self.full_view(id) {
                    self.write(id, frame);
                }
            }
            Ok(Command::Close) => {
                let msg = match self.client(id).map(|c| c.place) {
                    Some(Place::Room(r)) => format!("You left the room '{}'.", self.rooms[r].name),
                    Some(Place::Dm(p)) => {
                        format!("You closed the DM with '{}'.", self.name(p).unwrap_or(""))
                    }
                    _ => NOT_CONNECTED.to_string(),
                };
                self.leave_place(id);
                self.reply(id, &[&msg]);
            }
            Ok(Command::Quit) => {
                self.set_state(id, State::ConfirmQuit);
                self.write(id, QUIT_PROMPT);
            }
        }
    }

    fn list(&mut self, id: ClientId) {
        let mut lines = Vec::new();
        match self.client(id).map(|c| c.place) {
            Some(Place::Room(r)) => {
                let room = &self.rooms[r];
                lines.push(format!("Users connected to room '{}':", room.name));
                lines.extend(
                    room.members
                        .iter()
                        .filter_map(|&m| self.name(m))
                        .map(|n| format!("  - {n}")),
                );
            }
            Some(Place::Dm(p)) => {
                let other = self.name(p).unwrap_or("");
                lines.push(format!("Users connected to the DM with '{other}':"));
                lines.push(format!("  - {}", self.name(id).unwrap_or("")));
                lines.push(format!("  - {other}"));
            }
            _ => lines.push(format!("{NOT_CONNECTED} Did you mean to use :listall?")),
        }
        let refs: Vec<&str> = lines.iter().map(String::as_str).collect();
        self.reply(id, &refs);
    }

    fn join(&mut self, id: ClientId, name: &str, password: Option<&str>) {
        let Some(r) = self.rooms.iter().position(|r| r.name == name) else {
            self.reply(id, &[NO_SUCH_ROOM]);
            return;
        };
        if self.client(id).is_some_and(|c| c.place == Place::Room(r)) {
            self.reply(id, &[&format!("You are already in '{name}'.")]);
            return;
        }
        let room = &self.rooms[r];
        let allowed = if room.password.is_empty() {
            room.public
        } else {
            password.is_some_and(|p| constant_time_eq(p.as_bytes(), room.password.as_bytes()))
        };
        if !allowed {
            self.reply(id, &[NO_SUCH_ROOM]);
            return;
        }
        if room.limit > 0 && room.members.len() >= room.limit {
            self.reply(id, &["That chatroom is full!"]);
            return;
        }
        self.leave_place(id);
        let user = self.client(id).and_then(|c| c.name.clone());
        if let Some(user) = user.filter(|_| self.notice_allowed(id)) {
            self.room_notice(r, &format!("{user} joined the room."));
        }
        self.rooms[r].members.push(id);
        if let Some(c) = self.client_mut(id) {
            c.place = Place::Room(r);
        }
        let msg = format!("You joined the room '{name}'!");
        self.reply(id, &[&msg, "Execute :chat to enter the chat view"]);
    }

    fn open_dm(&mut self, id: ClientId, user: &str) {
        let Some(&p) = self.names.get(&user.to_lowercase()) else {
            self.reply(id, &["That user is not online!"]);
            return;
        };
        if p == id {
            self.reply(id, &["You can't DM yourself!"]);
            return;
        }
        let other = self.name(p).unwrap_or("").to_string();
        if self.client(id).is_some_and(|c| c.place == Place::Dm(p)) {
            self.reply(
                id,
                &[&format!("You already have a DM open with '{other}'.")],
            );
            return;
        }
        self.leave_place(id);
        if let Some(c) = self.client_mut(id) {
            c.place = Place::Dm(p);
        }
        if let Some(pc) = self.client_mut(p) {
            pc.dm_watchers.push(id);
        }
        let msg = format!("You opened a DM with '{other}'.");
        self.reply(id, &[&msg, "Execute :chat to enter the chat view"]);
    }

    // ---- chat view ----------------------------------------------------

    fn chat_view_line(&mut self, id: ClientId, text: &str) {
        if text.trim() == ":q" {
            if let Some(c) = self.client_mut(id) {
                c.state = State::Palette;
                c.history = VecDeque::new();
            }
            let p = self.prompt(id);
            self.write(id, view::left_view(&p));
            return;
        }
        if text.trim().is_empty() {
            self.after_enter(id);
            return;
        }
        let limit = self.cfg.message_limit;
        if limit > 0 && char_len(text) > limit {
            let msg =
                format!("Your message was not sent: messages are limited to {limit} characters.");
            self.view_notice_to_self(id, &msg);
            return;
        }
        let Some(c) = self.client(id) else { return };
        let Some(name) = c.name.clone() else { return };
        let line = view::message_line(&name, self.cfg.username_limit, text);
        match c.place {
            Place::Room(r) => {
                let update: Rc<[u8]> = view::view_update(&line, self.cfg.chatview_max).into();
                let members = std::mem::take(&mut self.rooms[r].members);
                for &m in &members {
                    if self.state(m) == Some(State::ChatView) {
                        self.push_history(m, line.clone());
                        self.out.writes.push((m, Chunk::Shared(update.clone())));
                    }
                }
                self.rooms[r].members = members;
                self.after_enter(id);
            }
            Place::Dm(p) => {
                self.view_push_one(id, line.clone());
                self.after_enter(id);
                let partner = self.client(p).map(|pc| (pc.state, pc.place));
                match partner {
                    Some((State::ChatView, Place::Dm(q))) if q == id => {
                        self.view_push_one(p, line);
                    }
                    Some((State::ChatView, _)) => {
                        let l = view::highlight_line(&format!("[DM from {name}]: {text}"));
                        self.view_push_one(p, l);
                    }
                    Some((State::Palette | State::ConfirmQuit, _)) => {
                        let prompt = self.prompt(p);
                        self.write(
                            p,
                            view::palette_line(&format!("[DM from {name}]: {text}"), &prompt),
                        );
                    }
                    _ => {}
                }
            }
            Place::None => {}
        }
    }

    fn push_history(&mut self, id: ClientId, line: Rc<[u8]>) {
        let max = self.cfg.chatview_max;
        if let Some(c) = self.client_mut(id) {
            if c.history.len() >= max {
                c.history.pop_front();
            }
            c.history.push_back(line);
        }
    }

    /// Adds one line to a viewer's history and sends the incremental update.
    fn view_push_one(&mut self, id: ClientId, line: Rc<[u8]>) {
        let update = view::view_update(&line, self.cfg.chatview_max);
        self.push_history(id, line);
        self.write(id, update);
    }

    /// A viewer pressed Enter, so their terminal's echo left the typed line
    /// on the input row: clear it and redraw the prompt, nothing more (a
    /// full redraw would cost the whole history per message sent).
    fn after_enter(&mut self, id: ClientId) {
        if self.state(id) == Some(State::ChatView) {
            let reset = view::input_reset(self.cfg.chatview_max, self.label(id));
            self.write(id, reset);
        }
    }

    /// A SERVER line only the viewer sees, after they pressed Enter.
    fn view_notice_to_self(&mut self, id: ClientId, text: &str) {
        self.view_push_one(id, view::server_line(self.cfg.username_limit, text));
        self.after_enter(id);
    }

    /// `idleTimeout` as a duration (the config bounds it, so no overflow).
    fn idle_timeout(&self) -> Duration {
        Duration::from_secs(self.cfg.idle_timeout.saturating_mul(60))
    }

    /// Whether `id` may cause one more join/leave notice now (and uses it).
    fn notice_allowed(&mut self, id: ClientId) -> bool {
        let now = self.now;
        let Some(c) = self.client_mut(id) else {
            return false;
        };
        let refill = now.saturating_sub(c.notice_at).as_secs_f32() / NOTICE_EVERY.as_secs_f32();
        c.notice_tokens = (c.notice_tokens + refill).min(NOTICE_BURST);
        c.notice_at = now;
        if c.notice_tokens >= 1.0 {
            c.notice_tokens -= 1.0;
            true
        } else {
            false
        }
    }

    /// A SERVER line for every member of room `r` who is viewing it.
    fn room_notice(&mut self, r: usize, text: &str) {
        let line = view::server_line(self.cfg.username_limit, text);
        let update: Rc<[u8]> = view::view_update(&line, self.cfg.chatview_max).into();
        let members = std::mem::take(&mut self.rooms[r].members);
        for &m in &members {
            if self.state(m) == Some(State::ChatView) {
                self.push_history(m, line.clone());
                self.out.writes.push((m, Chunk::Shared(update.clone())));
            }
        }
        self.rooms[r].members = members;
    }

    /// Checks the core's invariants; returns a description of the first
    /// one broken. Used by tests and the session fuzzer.
    pub fn check_invariants(&self) -> Result<(), String> {
        for (r, room) in self.rooms.iter().enumerate() {
            if room.limit > 0 && room.members.len() > room.limit {
                return Err(format!("room {} over its limit", room.name));
            }
            for &m in &room.members {
                let c = self
                    .client(m)
                    .ok_or(format!("room {} has a ghost {m}", room.name))?;
                if c.place != Place::Room(r) || c.name.is_none() {
                    return Err(format!("member {m} of {} is elsewhere", room.name));
                }
            }
        }
        for (id, c) in self.clients.iter().enumerate() {
            let Some(c) = c else { continue };
            if c.history.len() > self.cfg.chatview_max {
                return Err(format!("client {id} history over chatviewMax"));
            }
            match c.place {
                Place::Room(r) => {
                    if self.rooms[r].members.iter().filter(|&&m| m == id).count() != 1 {
                        return Err(format!("client {id} not listed once in its room"));
                    }
                }
                Place::Dm(p) => {
                    let ok = self
                        .client(p)
                        .is_some_and(|pc| pc.dm_watchers.contains(&id));
                    if !ok {
                        return Err(format!("client {id} DMs a partner that does not know it"));
                    }
                }
                Place::None => {}
            }
            if let Some(n) = &c.name {
                if self.names.get(&n.to_lowercase()) != Some(&id) {
                    return Err(format!("client {id} name not registered"));
                }
            }
        }
        let named = self
            .clients
            .iter()
            .flatten()
            .filter(|c| c.name.is_some())
            .count();
        if named != self.names.len() {
            return Err("name table out of step".into());
        }
        Ok(())
    }
}

/// Compares two byte strings in time that depends only on their lengths,
/// never on where they first differ.
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    let mut diff = a.len() ^ b.len();
    for i in 0..a.len().max(b.len()) {
        let x = a.get(i).copied().unwrap_or(0);
        let y = b.get(i).copied().unwrap_or(0);
        diff |= usize::from(x ^ y);
    }
    diff == 0
}

#[cfg(test)]
#[path = "chat_tests.rs"]
mod tests;
