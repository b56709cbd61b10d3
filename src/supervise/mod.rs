//! Supervising the command (§5). nsgate stays in the host's namespaces and
//! runs one poll loop: it forwards signals, relays the client's terminal or
//! pipes, takes the child's report from the private channel, enforces the
//! timeout, notices the client going away, and then ends the command's whole
//! session (SIGTERM, SIGKILL 5 s later) so nothing is left behind.
#![forbid(unsafe_code)]

mod relay;
mod tree;

use crate::enter::Msg;
use crate::system::{self, Exit, Interest, Ready, Signals};
use relay::{Filled, Handle, NonBlocking, Pump};
use std::io;
use std::os::fd::{AsFd, OwnedFd};
use std::rc::Rc;
use std::time::{Duration, Instant};
use tree::Tree;

/// Signals forwarded to the command.
pub const FORWARDED: [i32; 7] = [
    system::SIGHUP,
    system::SIGINT,
    system::SIGQUIT,
    system::SIGTERM,
    system::SIGUSR1,
    system::SIGUSR2,
    system::SIGWINCH,
];

/// Between SIGTERM and SIGKILL when nsgate ends a session.
pub const GRACE: Duration = Duration::from_secs(5);
/// How long to keep killing a session that will not die before giving up.
const GIVE_UP: Duration = Duration::from_secs(10);
/// How often a session being ended, or output left behind, is looked at.
const TICK: Duration = Duration::from_millis(100);

/// Why nsgate ended the command rather than the command ending by itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EndReason {
    Timeout,
    Disconnect,
}

impl std::fmt::Display for EndReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            EndReason::Timeout => "timeout",
            EndReason::Disconnect => "client disconnected",
        })
    }
}

/// The child being supervised.
pub struct Child {
    /// In the host's pid namespace; also the id of its session.
    pub pid: i32,
    pub pidfd: OwnedFd,
    pub channel: OwnedFd,
}

/// How the command's stdin, stdout and stderr reach the client.
pub enum Relay {
    /// The command has nsgate's own 0, 1, 2.
    Direct,
    /// Our ends of the command's stdin, stdout and stderr pipes.
    Pipes {
        stdin: OwnedFd,
        stdout: OwnedFd,
        stderr: OwnedFd,
    },
    /// A pty whose master the child sends over the channel.
    Pty,
}

/// What happened.
pub struct Report {
    pub exit: Exit,
    pub ended_by: Option<EndReason>,
    /// The child's own report of why it could not start the command.
    pub failure: Option<(i32, String)>,
}

/// Supervises `child` until it has ended (and, if nsgate ended it, its
/// whole session has), relaying as `relay` says.
pub fn supervise(
    child: Child,
    relay: Relay,
    signals: &Signals,
    timeout: Option<Duration>,
) -> io::Result<Report> {
    let (fd0, fd1, fd2) = (system::std_fd(0), system::std_fd(1), system::std_fd(2));
    let is_pty = matches!(relay, Relay::Pty);
    // Restored (in reverse order, for descriptors sharing one open file)
    // when dropped, on every way out of this function.
    let _blocking = match relay {
        Relay::Direct => None,
        _ => Some(NonBlocking::set(&[fd0, fd1, fd2])),
    };
    let _raw = if is_pty && system::is_tty(fd0) {
        Some(system::RawMode::enter(fd0)?)
    } else {
        None
    };
    let mut pumps = Vec::new();
    if let Relay::Pipes {
        stdin,
        stdout,
        stderr,
    } = relay
    {
        for fd in [&stdin, &stdout, &stderr] {
            system::set_nonblocking(fd.as_fd(), true)?;
        }
        pumps.push(Pump::new(
            Handle::Std(fd0),
            Handle::Ours(Rc::new(stdin)),
            true,
        ));
        pumps.push(Pump::new(
            Handle::Ours(Rc::new(stdout)),
            Handle::Std(fd1),
            false,
        ));
        pumps.push(Pump::new(
            Handle::Ours(Rc::new(stderr)),
            Handle::Std(fd2),
            false,
        ));
    }
    let mut sup = Supervisor {
        child: &child,
        exit: None,
        channel_open: true,
        failure: None,
        ending: None,
        deadline: timeout.map(|t| Instant::now() + t),
        master: None,
        input_is_tty: system::is_tty(fd0),
        is_pty,
        tree: Tree::new(child.pid),
    };

    while !sup.finished(&pumps) {
        let exited = sup.exit.is_some();
        let mut slots = vec![Slot::Signals];
        let mut fds = vec![(signals.fd(), READ)];
        if sup.ending.is_none() {
            // Once the session is being ended a hang-up here would only
            // wake the loop again and again.
            slots.push(Slot::ClientOut);
            fds.push((fd1, Interest::default()));
        }
        if !exited {
            slots.push(Slot::Child);
            fds.push((child.pidfd.as_fd(), READ));
        }
        if sup.channel_open {
            slots.push(Slot::Channel);
            fds.push((child.channel.as_fd(), READ));
        }
        for (i, p) in pumps.iter().enumerate() {
            // Input stops when the command has ended or is being ended.
            if p.input && (exited || sup.ending.is_some()) {
                continue;
            }
            // Only what there is to do is watched: a hang-up reported for a
            // descriptor with nothing to do would make the loop spin.
            if p.wants_read() && (p.input || !exited) {
                slots.push(Slot::From(i));
                fds.push((p.from.fd(), READ));
            }
            if let (Some(to), true) = (&p.to, p.wants_write()) {
                slots.push(Slot::To(i));
                fds.push((
                    to.fd(),
                    Interest {
                        read: false,
                        write: true,
                    },
                ));
            }
        }
        let ready = system::poll(&fds, sup.wait_time(!pumps.is_empty()))?;
        drop(fds);

        for (slot, r) in slots.iter().zip(&ready) {
            match slot {
                Slot::Signals if r.read => {
                    while let Some(signal) = signals.next()? {
                        sup.forward(signal);
                    }
                }
                Slot::ClientOut if gone(r) => sup.begin_end(EndReason::Disconnect),
                Slot::Channel if r.read || r.hangup || r.error => {
                    if let Some(master) = sup.read_channel()? {
                        system::set_nonblocking(master.as_fd(), true)?;
                        let master = Rc::new(master);
                        pumps.push(Pump::new(
                            Handle::Std(fd0),
                            Handle::Ours(master.clone()),
                            true,
                        ));
                        pumps.push(Pump::new(
                            Handle::Ours(master.clone()),
                            Handle::Std(fd1),
                            false,
                        ));
                        sup.master = Some(master);
                    }
                }
                Slot::From(i) if r.read || r.hangup || r.error => {
                    sup.pump_from(&mut pumps[*i], r, exited);
                }
                Slot::To(i) if r.write || gone(r) => {
                    sup.pump_to(&mut pumps[*i], r);
                }
                _ => {}
            }
        }
        if sup.exit.is_none() {
            sup.exit = system::try_wait(child.pidfd.as_fd())?;
        }
        if sup.exit.is_some() {
            // What the command left in its pipes or terminal is read now,
            // without waiting for writers that may never close.
            for p in pumps.iter_mut().filter(|p| !p.input) {
                loop {
                    if p.wants_write() && p.flush().is_err() {
                        sup.begin_end(EndReason::Disconnect);
                    }
                    // A slow client: poll says when to go on.
                    if p.wants_write() || !p.wants_read() {
                        break;
                    }
                    if !matches!(p.fill(true), Filled::Data) {
                        break;
                    }
                }
            }
        }
        if sup
            .ending
            .as_ref()
            .is_some_and(|e| e.reason == EndReason::Disconnect)
        {
            // Nobody is listening any more.
            for p in &mut pumps {
                p.drop_output();
            }
        }
        sup.check_clock();
    }
    Ok(Report {
        exit: sup.exit.unwrap_or(Exit::Signaled(system::SIGKILL)),
        ended_by: sup.ending.map(|e| e.reason),
        failure: sup.failure,
    })
}

const READ: Interest = Interest {
    read: true,
    write: false,
};

/// What a polled descriptor is, to act on what poll reports for it.
#[derive(Clone, Copy)]
enum Slot {
    Signals,
    /// nsgate's stdout, watched for the client going away.
    ClientOut,
    Child,
    Channel,
    From(usize),
    To(usize),
}

fn gone(r: &Ready) -> bool {
    !r.invalid && (r.error || r.hangup)
}

struct Ending {
    reason: EndReason,
    started: Instant,
    next_look: Instant,
}

struct Supervisor<'a> {
    child: &'a Child,
    exit: Option<Exit>,
    channel_open: bool,
    failure: Option<(i32, String)>,
    ending: Option<Ending>,
    deadline: Option<Instant>,
    master: Option<Rc<OwnedFd>>,
    input_is_tty: bool,
    is_pty: bool,
    tree: Tree,
}

impl Supervisor<'_> {
    fn finished(&mut self, pumps: &[Pump]) -> bool {
        if self.exit.is_none() || self.channel_open {
            return false;
        }
        match &self.ending {
            Some(e) => e.started.elapsed() >= GRACE + GIVE_UP || !self.tree.any_alive(),
            None => pumps.iter().filter(|p| !p.input).all(Pump::done),
        }
    }

    fn wait_time(&self, relaying: bool) -> Option<Duration> {
        let now = Instant::now();
        let mut next = None;
        if let Some(e) = &self.ending {
            next = Some(e.next_look);
        } else if self.exit.is_none() {
            next = self.deadline;
        }
        if self.exit.is_some() && relaying {
            // Only leftovers to write to a slow client: look again soon.
            next = Some(next.map_or(now + TICK, |n: Instant| n.min(now + TICK)));
        }
        next.map(|n| n.saturating_duration_since(now))
    }

    fn check_clock(&mut self) {
        let now = Instant::now();
        if self.ending.is_none() && self.exit.is_none() && self.deadline.is_some_and(|d| now >= d) {
            self.begin_end(EndReason::Timeout);
        }
        let (look, kill) = match &mut self.ending {
            Some(e) if now >= e.next_look => {
                e.next_look = now + TICK;
                (true, now >= e.started + GRACE)
            }
            _ => (false, false),
        };
        if kill {
            self.tree.end(system::SIGKILL);
        } else if look {
            // Children forked meanwhile (by a SIGTERM handler) get it too.
            self.tree.follow(system::SIGTERM);
        }
    }

    fn begin_end(&mut self, reason: EndReason) {
        if self.ending.is_some() {
            return;
        }
        let now = Instant::now();
        self.ending = Some(Ending {
            reason,
            started: now,
            next_look: now + TICK,
        });
        self.tree.end(system::SIGTERM);
    }

    fn forward(&self, signal: i32) {
        if signal == system::SIGWINCH && self.is_pty {
            // The kernel tells the terminal's foreground job itself.
            if let (Some(m), Ok(size)) = (&self.master, system::window_size(system::std_fd(0))) {
                let _ = system::set_window_size(m.as_fd(), size);
            }
            return;
        }
        if self.exit.is_none() {
            let _ = system::pidfd_send_signal(self.child.pidfd.as_fd(), signal);
        }
    }

    /// Handles one message from the child; returns a pty master if it was one.
    fn read_channel(&mut self) -> io::Result<Option<OwnedFd>> {
        let mut buf = [0u8; crate::enter::MAX_MESSAGE + 2];
        // The child gone without closing cleanly is end of file too.
        let (n, fd) =
            system::channel_recv(self.child.channel.as_fd(), &mut buf).unwrap_or_default();
        if n == 0 {
            self.channel_open = false;
            return Ok(None);
        }
        match buf[0] {
            Msg::MASTER if self.is_pty && self.master.is_none() => Ok(fd),
            Msg::FAILED => {
                if let Some(failure) = Msg::failure(&buf[..n]) {
                    self.failure = Some(failure);
                }
                Ok(None)
            }
            _ => Ok(None),
        }
    }

    fn pump_from(&mut self, p: &mut Pump, r: &Ready, exited: bool) {
        let filled = if p.wants_read() {
            p.fill(exited && !p.input)
        } else {
            Filled::Nothing
        };
        if p.input {
            // On the client's terminal, end of file in raw mode, an I/O
            // error or a hang-up is the client going away. End of file on a
            // pipe, or ^D on a terminal in line mode, only ends the input
            // (`ssh -n` is an ordinary session).
            let hangup = self.input_is_tty && (r.hangup || r.error);
            let eof = matches!(filled, Filled::Eof | Filled::Failed);
            if hangup || (eof && self.input_is_tty && self.is_pty) {
                self.begin_end(EndReason::Disconnect);
            } else if eof || r.hangup {
                p.from_done = true;
            }
            if p.done() {
                // Closes the command's stdin.
                p.to = None;
            }
        }
        if p.wants_write() && p.flush().is_err() && !p.input {
            self.begin_end(EndReason::Disconnect);
        }
    }

    fn pump_to(&mut self, p: &mut Pump, r: &Ready) {
        if p.wants_write() && p.flush().is_err() || (gone(r) && !r.write) {
            if p.input {
                // The command closed its stdin: it wants no more input.
                p.from_done = true;
                p.clear();
                p.to = None;
            } else {
                self.begin_end(EndReason::Disconnect);
            }
        }
    }
}
