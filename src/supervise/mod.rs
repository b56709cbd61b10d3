//! Supervising a session (nsgate(8), "Signals and the end of a session").
//! nsgate stays in the host's namespaces and runs one poll loop: it learns
//! of the command's process from the exec stage, forwards signals, relays
//! the client's terminal or pipes, enforces the timeout and the end of the
//! login's certificate, and notices the client going away. The session is
//! every process in its cgroup: when the command exits, or the timeout or
//! the certificate's end passes, or the client goes, whatever is left of it
//! is ended (SIGTERM, SIGKILL 5 s later), unless a `detach` rule lets
//! background processes stay.
#![forbid(unsafe_code)]

mod relay;
mod tree;

use crate::enter::{EndReason, Entering, Message, Received, Relay, Started};
use crate::error::{Error, Result, EXIT_FAILURE};
use crate::recording::{Failure, Recording, Stream};
use crate::system::{self, Exit, Interest, Ready, Signals};
use relay::{Filled, Handle, NonBlocking, Pump};
use std::io;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::rc::Rc;
use std::time::{Duration, Instant, SystemTime};
use tree::Tree;

/// The earlier of two deadlines, either of which may be missing.
fn earliest(a: Option<Instant>, b: Option<Instant>) -> Option<Instant> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

/// Between SIGTERM and SIGKILL when nsgate ends a session.
pub(crate) const GRACE: Duration = Duration::from_secs(5);
/// How long to keep killing a session that will not die before giving up.
const GIVE_UP: Duration = Duration::from_secs(10);
/// How often a session being ended, or output left behind, is looked at.
const TICK: Duration = Duration::from_millis(100);

/// How a command that was started ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Outcome {
    pub status: Exit,
    /// Set when nsgate ended the command: its timeout passed or the client
    /// went away.
    pub ended_by: Option<EndReason>,
    /// From fork to the end of the command (and its session).
    pub duration: Duration,
    /// Processes of the session nsgate had to end (at the timeout, the
    /// disconnect, or still running when the command exited).
    pub ended: usize,
    /// Processes a `detach` rule left running.
    pub left: Option<usize>,
    /// The recording's size in bytes, for a `record` rule.
    pub recorded: Option<u64>,
}

impl Outcome {
    /// nsgate's exit code (nsgate(8) EXIT STATUS): the command's status, or
    /// 128+N for signal N.
    pub(crate) fn exit_code(&self) -> i32 {
        match self.status {
            Exit::Exited(code) => code,
            Exit::Signaled(signal) => 128 + signal,
        }
    }
}

/// How the command ended, or why it never started.
enum Ended {
    Exited(Exit),
    Failed { code: i32, message: String },
}

/// What happened.
struct Report {
    exit: Ended,
    ended_by: Option<EndReason>,
    /// Processes nsgate had to end.
    ended: usize,
    /// Processes a `detach` rule left running.
    left: Option<usize>,
    recorded: Option<u64>,
}

/// The command's process: the supervisor's child in the container.
struct Command {
    pidfd: OwnedFd,
    exit: Option<Exit>,
}

/// Supervises the started session until it has ended, and says how the
/// command ended: `Err` for a failure before the command started (exit code
/// 125, or 126/127 when the program cannot be executed or is not found).
/// A `recording` gets everything relayed, before it is relayed.
pub(crate) fn run(started: Started, recording: Option<Recording>) -> Result<Outcome> {
    let begun = started.begun;
    let report = supervise(started, recording).map_err(|e| Error::Enter {
        code: EXIT_FAILURE,
        message: format!("cannot enter the container: supervising: {e}"),
    })?;
    match report.exit {
        Ended::Failed { code, message } => Err(Error::Enter { code, message }),
        Ended::Exited(status) => Ok(Outcome {
            status,
            ended_by: report.ended_by,
            duration: begun.elapsed(),
            ended: report.ended,
            left: report.left,
            recorded: report.recorded,
        }),
    }
}

/// Supervises `session` until it has ended, relaying as it says.
fn supervise(session: Started, recording: Option<Recording>) -> io::Result<Report> {
    let fd0 = system::std_fd(0);
    let is_pty = matches!(session.relay, Relay::Pty(_));
    // Restored (in reverse order, for descriptors sharing one open file)
    // when dropped, on every way out of this function.
    let _blocking = match session.relay {
        Relay::Direct => None,
        _ => Some(NonBlocking::set(&[
            fd0,
            system::std_fd(1),
            system::std_fd(2),
        ])),
    };
    let _raw = if is_pty && session.client.stdin {
        Some(system::RawMode::enter(fd0)?)
    } else {
        None
    };
    let (mut pumps, master) = pumps_for(session.relay)?;
    let _lifeline = session.lifeline;
    system::set_nonblocking(session.channel.as_fd(), true)?;
    let mut sup = Supervisor {
        entering_pid: session.entering.pid,
        entering: Some(session.entering),
        entering_exit: None,
        command: None,
        channel: session.channel,
        channel_open: true,
        failure: None,
        pending: Vec::new(),
        ending: None,
        deadline: session.timeout.map(|t| Instant::now() + t),
        timeout: session.timeout,
        cert_end: session.cert_end,
        master,
        input_is_tty: session.client.stdin,
        detach: session.detach,
        tree: Tree::new(session.cgroup),
        settled: false,
        recording,
        record_failed: false,
    };
    let signals = &session.signals;
    while !sup.finished(&pumps) {
        let (slots, fds) = sup.watched(&pumps, signals);
        let ready = system::poll(&fds, sup.wait_time(!pumps.is_empty()))?;
        drop(fds);
        for (slot, r) in slots.iter().zip(&ready) {
            sup.handle(*slot, r, &mut pumps, signals)?;
        }
        sup.reap()?;
        sup.settle();
        sup.drain(&mut pumps);
        sup.check_clock();
    }
    let recorded = sup.finish_recording();
    sup.report(recorded)
}

/// The pumps that relay between the client and the command, and the pty
/// master if there is one.
fn pumps_for(relay: Relay) -> io::Result<(Vec<Pump>, Option<Rc<OwnedFd>>)> {
    let (fd0, fd1, fd2) = (system::std_fd(0), system::std_fd(1), system::std_fd(2));
    let ours = |fd: OwnedFd| -> io::Result<Rc<OwnedFd>> {
        system::set_nonblocking(fd.as_fd(), true)?;
        Ok(Rc::new(fd))
    };
    Ok(match relay {
        Relay::Direct => (Vec::new(), None),
        Relay::Pipes {
            stdin,
            stdout,
            stderr,
        } => (
            vec![
                Pump::new(Handle::Std(fd0), Handle::Ours(ours(stdin)?), true),
                Pump::new(Handle::Ours(ours(stdout)?), Handle::Std(fd1), false),
                Pump::new(Handle::Ours(ours(stderr)?), Handle::Std(fd2), false),
            ],
            None,
        ),
        Relay::Pty(fd) => {
            let fd = ours(fd)?;
            (
                vec![
                    Pump::new(Handle::Std(fd0), Handle::Ours(fd.clone()), true),
                    Pump::new(Handle::Ours(fd.clone()), Handle::Std(fd1), false),
                ],
                Some(fd),
            )
        }
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
    /// The entering process or the command's: reaped after every poll.
    Process,
    Channel,
    From(usize),
    To(usize),
}

fn gone(r: &Ready) -> bool {
    !r.invalid && (r.error || r.hangup)
}

struct Ending {
    /// None: the command exited and its session was ended after it.
    reason: Option<EndReason>,
    started: Instant,
    next_look: Instant,
}

struct Supervisor {
    entering: Option<Entering>,
    entering_pid: system::Pid,
    entering_exit: Option<Exit>,
    command: Option<Command>,
    channel: OwnedFd,
    channel_open: bool,
    failure: Option<(i32, String)>,
    /// Signals to forward that came before the command's process was known.
    pending: Vec<i32>,
    ending: Option<Ending>,
    deadline: Option<Instant>,
    /// The rule's timeout, for the client's line when it passes.
    timeout: Option<Duration>,
    /// The certificate's valid_before: wall-clock time, looked at as such
    /// on every wake-up, so a clock set forward or a suspend counts.
    cert_end: Option<SystemTime>,
    /// The pty master, when the command has a terminal.
    master: Option<Rc<OwnedFd>>,
    input_is_tty: bool,
    detach: bool,
    tree: Tree,
    /// The command has exited and nothing of its session is left to wait
    /// for (ended, or left running by `detach`).
    settled: bool,
    recording: Option<Recording>,
    /// A write to the recording failed: nothing more is relayed.
    record_failed: bool,
}

impl Supervisor {
    /// What to poll this time round, and what each descriptor is.
    fn watched<'a>(
        &'a self,
        pumps: &'a [Pump],
        signals: &'a Signals,
    ) -> (Vec<Slot>, Vec<(BorrowedFd<'a>, Interest)>) {
        let exited = self.command_exited();
        let mut slots = vec![Slot::Signals];
        let mut fds = vec![(signals.fd(), READ)];
        if self.ending.is_none() {
            // Once the session is being ended a hang-up here would only
            // wake the loop again and again.
            slots.push(Slot::ClientOut);
            fds.push((system::std_fd(1), Interest::default()));
        }
        if let Some(e) = &self.entering {
            slots.push(Slot::Process);
            fds.push((e.pidfd.as_fd(), READ));
        }
        if let Some(c) = self.command.as_ref().filter(|c| c.exit.is_none()) {
            slots.push(Slot::Process);
            fds.push((c.pidfd.as_fd(), READ));
        }
        if self.channel_open {
            slots.push(Slot::Channel);
            fds.push((self.channel.as_fd(), READ));
        }
        for (i, p) in pumps.iter().enumerate() {
            // Input stops when the command has ended or is being ended.
            if p.input && (exited || self.ending.is_some()) {
                continue;
            }
            // Only what there is to do is watched: a hang-up reported for a
            // descriptor with nothing to do would make the loop spin.
            if p.wants_read() && (p.input || !self.settled) {
                slots.push(Slot::From(i));
                fds.push((p.from.fd(), READ));
            }
            if let (Some(to), true) = (&p.to, p.wants_write()) {
                slots.push(Slot::To(i));
                let write = Interest {
                    read: false,
                    write: true,
                };
                fds.push((to.fd(), write));
            }
        }
        (slots, fds)
    }

    /// Acts on what poll reported for one descriptor.
    fn handle(
        &mut self,
        slot: Slot,
        r: &Ready,
        pumps: &mut [Pump],
        signals: &Signals,
    ) -> io::Result<()> {
        match slot {
            Slot::Signals if r.read => {
                while let Some(signal) = signals.next()? {
                    self.forward(signal);
                }
            }
            Slot::ClientOut if gone(r) => self.begin_end(Some(EndReason::Disconnect)),
            Slot::Channel if r.read || r.hangup || r.error => {
                self.read_channel();
            }
            Slot::From(i) if r.read || r.hangup || r.error => {
                self.pump_from(&mut pumps[i], Self::stream(i), r)
            }
            Slot::To(i) if r.write || gone(r) => self.pump_to(&mut pumps[i], r),
            _ => {}
        }
        Ok(())
    }

    /// Once the session is settled, what it left in its pipes or terminal
    /// is read now, without waiting for writers that may never close; and
    /// after a disconnect, output is dropped.
    fn drain(&mut self, pumps: &mut [Pump]) {
        if self.settled {
            for (i, p) in pumps.iter_mut().enumerate().filter(|(_, p)| !p.input) {
                loop {
                    if p.wants_write() && p.flush().is_err() {
                        self.begin_end(Some(EndReason::Disconnect));
                    }
                    // A slow client: poll says when to go on.
                    if p.wants_write() || !p.wants_read() {
                        break;
                    }
                    if !matches!(p.fill(true), Filled::Data) {
                        break;
                    }
                    self.record(p, Self::stream(i));
                }
            }
        }
        let disconnected = self
            .ending
            .as_ref()
            .is_some_and(|e| e.reason == Some(EndReason::Disconnect));
        if disconnected || self.record_failed {
            // Nobody is listening any more, or nothing more may be shown
            // unrecorded.
            for p in pumps {
                p.drop_output();
            }
        }
    }

    fn command_exited(&self) -> bool {
        self.command.as_ref().is_some_and(|c| c.exit.is_some())
    }

    /// Nothing more can start: the entering process is gone, and either
    /// the command's process exists or every other end of the channel is
    /// closed. (The channel may never close once the command's process
    /// exists: something in the container may hold it.)
    fn started_or_never(&self) -> bool {
        self.entering.is_none() && (self.command.is_some() || !self.channel_open)
    }

    fn finished(&mut self, pumps: &[Pump]) -> bool {
        if !self.started_or_never() {
            return false;
        }
        if self.command.is_none() {
            // It never started: end whatever got into the session.
            if self.tree.any_alive() != Some(true) {
                return true;
            }
            self.begin_end(None);
            return self.gave_up();
        }
        if !self.settled {
            return self.gave_up();
        }
        match &self.ending {
            Some(_) => true,
            None => pumps.iter().filter(|p| !p.input).all(Pump::done),
        }
    }

    fn gave_up(&self) -> bool {
        self.ending
            .as_ref()
            .is_some_and(|e| e.started.elapsed() >= GRACE + GIVE_UP)
    }

    /// Once the command has exited: ends what is left of its session, or
    /// counts what `detach` leaves running; settled when nothing is left to
    /// wait for.
    fn settle(&mut self) {
        if self.settled || !self.command_exited() || self.entering.is_some() {
            return;
        }
        if self.detach && self.ending.is_none() {
            self.settled = true;
            return;
        }
        match self.tree.any_alive() {
            Some(false) => self.settled = true,
            Some(true) => self.begin_end(None),
            // The session's cgroup cannot be read: nothing to wait for.
            None => self.settled = true,
        }
    }

    fn wait_time(&self, relaying: bool) -> Option<Duration> {
        let now = Instant::now();
        let mut next = match &self.ending {
            Some(e) => Some(e.next_look),
            None => earliest(self.deadline, self.cert_deadline(now)),
        };
        if self.settled && relaying {
            // Only leftovers to write to a slow client: look again soon.
            next = Some(next.map_or(now + TICK, |n: Instant| n.min(now + TICK)));
        }
        next.map(|n| n.saturating_duration_since(now))
    }

    /// The certificate's end as an instant of the monotonic clock, from now.
    fn cert_deadline(&self, now: Instant) -> Option<Instant> {
        let end = self.cert_end?;
        Some(now + end.duration_since(SystemTime::now()).unwrap_or_default())
    }

    fn check_clock(&mut self) {
        let now = Instant::now();
        if self.ending.is_none() && !self.settled {
            let timed_out = self.deadline.is_some_and(|d| now >= d);
            let expired = self.cert_end.is_some_and(|e| SystemTime::now() >= e);
            // The one that came first (nsgate(8), "Signals and the end of a
            // session"); the client learns why before the session ends.
            let first = match (timed_out, expired) {
                (true, true) if self.cert_deadline(now) <= self.deadline => {
                    Some(EndReason::CertExpired)
                }
                (true, _) => Some(EndReason::Timeout),
                (false, true) => Some(EndReason::CertExpired),
                (false, false) => None,
            };
            if let Some(reason) = first {
                self.tell_client(reason);
                self.begin_end(Some(reason));
            }
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
            // Processes forked meanwhile (by a SIGTERM handler) get it too.
            self.tree.follow(system::SIGTERM);
        }
    }

    /// The end of a line nsgate writes to the client: a terminal in raw
    /// mode needs its carriage return.
    fn line_end(&self) -> &'static str {
        if self.master.is_some() && self.input_is_tty {
            "\r\n"
        } else {
            "\n"
        }
    }

    /// Why nsgate ends the session at a deadline, in one line on stderr.
    fn tell_client(&self, reason: EndReason) {
        let end = self.line_end();
        match (reason, self.timeout) {
            (EndReason::Timeout, Some(limit)) => {
                let limit = crate::config::duration_text(limit);
                crate::output::stderr(&format!("nsgate: timed out after {limit}{end}"));
            }
            (EndReason::CertExpired, _) => {
                crate::output::stderr(&format!("nsgate: certificate expired{end}"));
            }
            _ => {}
        }
    }

    fn begin_end(&mut self, reason: Option<EndReason>) {
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

    fn forward(&mut self, signal: i32) {
        if signal == system::SIGWINCH && self.master.is_some() {
            // The kernel tells the terminal's foreground job itself.
            if let (Some(m), Ok(size)) = (&self.master, system::window_size(system::std_fd(0))) {
                let _ = system::set_window_size(m.as_fd(), size);
                if let Some(Err(e)) = self
                    .recording
                    .as_mut()
                    .map(|r| r.resize(size.cols, size.rows))
                {
                    self.record_failure(&e);
                }
            }
            return;
        }
        match &self.command {
            Some(c) if c.exit.is_none() => {
                let _ = system::pidfd_send_signal(c.pidfd.as_fd(), signal);
            }
            // Not known yet (it may already run): delivered once it is.
            None if self.entering.is_some() || self.channel_open => self.pending.push(signal),
            _ => {}
        }
    }

    /// Handles one message. Once the command's process exists the channel
    /// may also be in other hands (a process in the container that took it
    /// from the command's process before exec): a pid is believed only for
    /// our own child in the session, and a failure only for a process that
    /// then exits with its code.
    fn read_channel(&mut self) -> bool {
        match Message::recv(self.channel.as_fd()) {
            Err(e) if system::would_block(&e) => return false,
            // The peers gone without closing cleanly is end of file too.
            Ok(None) | Err(_) => self.channel_open = false,
            Ok(Some(Received::Message(Message::Started(pid)))) if self.command.is_none() => {
                self.command = Tree::own_child(pid, self.entering_pid)
                    .map(|pidfd| Command { pidfd, exit: None });
                // What came while the process ran unknown to us: it may
                // already have told the client it was ready.
                for signal in std::mem::take(&mut self.pending) {
                    self.forward(signal);
                }
            }
            Ok(Some(Received::Message(Message::Failed { code, text }))) => {
                self.failure.get_or_insert((code, text));
            }
            Ok(Some(_)) => {}
        }
        self.channel_open
    }

    /// Reaps the entering process and the command's, if they have ended.
    fn reap(&mut self) -> io::Result<()> {
        if let Some(e) = &self.entering {
            if let Some(exit) = system::try_wait(e.pidfd.as_fd())? {
                self.entering_exit = Some(exit);
                self.entering = None;
            }
        }
        if let Some(c) = self.command.as_mut().filter(|c| c.exit.is_none()) {
            c.exit = system::try_wait(c.pidfd.as_fd())?;
            if c.exit.is_some() {
                // What it said before it exited (why exec failed) is queued.
                for _ in 0..16 {
                    if !self.read_channel() {
                        break;
                    }
                }
            }
        }
        Ok(())
    }

    /// Which stream pump `i` carries (see `pumps_for`).
    fn stream(i: usize) -> Stream {
        match i {
            0 => Stream::Input,
            1 => Stream::Stdout,
            _ => Stream::Stderr,
        }
    }

    /// Records what pump `p` just read, before it is relayed. Once the
    /// recording fails nothing more is relayed and the session ends
    /// (nsgate(8) RECORDING): it never goes on unrecorded.
    fn record(&mut self, p: &mut Pump, stream: Stream) {
        let Some(recording) = &mut self.recording else {
            return;
        };
        if self.record_failed {
            p.clear();
            return;
        }
        let data = p.pending();
        let written = match stream {
            Stream::Input => recording.input(data),
            _ => recording.output(stream, data),
        };
        if let Err(e) = written {
            p.clear();
            self.record_failure(&e);
        }
    }

    fn record_failure(&mut self, why: &Failure) {
        if self.record_failed {
            return;
        }
        self.record_failed = true;
        let end = self.line_end();
        // The client learns why; the exit record says reason=record-failed.
        crate::output::stderr(&format!("nsgate: session ended: {why}{end}"));
        self.begin_end(Some(EndReason::RecordFailed));
    }

    /// Writes out the recording; its size.
    fn finish_recording(&mut self) -> Option<u64> {
        let recording = self.recording.take()?;
        let written = recording.written();
        match recording.finish() {
            Ok(n) => Some(n),
            Err(e) => {
                self.record_failure(&e);
                Some(written)
            }
        }
    }

    fn report(self, recorded: Option<u64>) -> io::Result<Report> {
        let failure = |code: i32, fallback: String| {
            let (code, message) = match &self.failure {
                Some((c, text)) if *c == code => (*c, text.clone()),
                _ => (code, fallback),
            };
            Ended::Failed { code, message }
        };
        let exit = match (&self.command, self.entering_exit) {
            // The command's process could not exec the command: it said why
            // and exited with that code.
            (
                Some(Command {
                    exit: Some(Exit::Exited(code)),
                    ..
                }),
                _,
            ) if self.failure.as_ref().is_some_and(|(c, _)| c == code) => {
                failure(*code, String::new())
            }
            (
                Some(Command {
                    exit: Some(exit), ..
                }),
                _,
            ) => Ended::Exited(*exit),
            (Some(Command { exit: None, .. }), _) => Ended::Exited(Exit::Signaled(system::SIGKILL)),
            (None, Some(Exit::Exited(code))) if code != 0 => failure(
                code,
                format!(
                    "cannot enter the container: the entering process exited with status {code}"
                ),
            ),
            (None, Some(Exit::Signaled(signal))) => failure(
                crate::error::EXIT_FAILURE,
                format!(
                    "cannot enter the container: the entering process was killed by signal {}",
                    system::signal_name(signal)
                ),
            ),
            (None, _) => failure(
                crate::error::EXIT_FAILURE,
                "cannot enter the container: the command's process was not made".into(),
            ),
        };
        let left = if self.detach {
            let left = self.tree.count_alive();
            if left > 0 {
                self.tree.release();
            }
            Some(left)
        } else {
            None
        };
        let ended_by = self.ending.as_ref().and_then(|e| e.reason);
        Ok(Report {
            exit,
            // A recording that failed as the command ended still counts.
            ended_by: ended_by.or(self.record_failed.then_some(EndReason::RecordFailed)),
            ended: self.tree.ended(),
            left,
            recorded,
        })
    }

    fn pump_from(&mut self, p: &mut Pump, stream: Stream, r: &Ready) {
        let filled = if p.wants_read() {
            p.fill(self.settled && !p.input)
        } else {
            Filled::Nothing
        };
        if matches!(filled, Filled::Data) {
            self.record(p, stream);
        }
        if p.input {
            // On the client's terminal, end of file in raw mode, an I/O
            // error or a hang-up is the client going away. End of file on a
            // pipe, or ^D on a terminal in line mode, only ends the input
            // (`ssh -n` is an ordinary session).
            let hangup = self.input_is_tty && (r.hangup || r.error);
            let eof = matches!(filled, Filled::Eof | Filled::Failed);
            if hangup || (eof && self.input_is_tty && self.master.is_some()) {
                self.begin_end(Some(EndReason::Disconnect));
            } else if eof || r.hangup {
                p.from_done = true;
            }
            if p.done() {
                // Closes the command's stdin.
                p.to = None;
            }
        }
        if p.wants_write() && p.flush().is_err() && !p.input {
            self.begin_end(Some(EndReason::Disconnect));
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
                self.begin_end(Some(EndReason::Disconnect));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exit_codes() {
        let o = |status| Outcome {
            status,
            ended_by: None,
            duration: Duration::ZERO,
            ended: 0,
            left: None,
            recorded: None,
        };
        assert_eq!(o(Exit::Exited(3)).exit_code(), 3);
        assert_eq!(o(Exit::Signaled(15)).exit_code(), 143);
    }
}
