//! The child processes whenready starts (a kubeconfig's exec credential plugins,
//! `cmd:` targets), and the promise that none of them outlives it.
//!
//! A child starts in a process group of its own (`process_group(0)`: its PID is
//! the group's id) and is recorded here until it has been reaped, so that every
//! way whenready ends can kill what is still running: [`kill_all`] is called by
//! [`crate::exit::Exit::exit`] (the deadline, a signal, a permanent failure, any
//! exit status) and by [`crate::exec::replace_process`] before COMMAND replaces
//! whenready. A group is killed whole (SIGKILL to `-pgid`), so a plugin's own
//! children go with it; and when a leader exits, what it left running in its group
//! is killed then: nothing a child starts outlives it.
//!
//! Use: [`spawn`] a `Command` (stdout and stderr piped), move the [`Child`] to a
//! blocking thread that collects its [`Child::output`] within caps, and keep its
//! [`Child::id`] in a guard that calls [`kill`] when the attempt that waits for it
//! is dropped (its timeout, the deadline): the output then ends at once and the
//! leader is reaped (src/probe/k8s/exec.rs does this for exec plugins).
//!
//! PIDs are reused once reaped, so the order matters: a group is killed only while
//! it is recorded, and it is unrecorded (under the same lock) before its leader is
//! reaped. While the leader is unreaped, even as a zombie, its PID and thus the
//! group's id cannot be taken by another process, so a kill never reaches a
//! stranger. [`Child::output`] keeps that order: it waits for the leader's exit
//! without reaping it (a pidfd, else `waitid(WNOWAIT)`), kills what is left of
//! the group, unrecords it, then reaps the leader and, as PID 1, what the leader
//! left in its group (see `reap_orphans`).

use rustix::event::{poll, PollFd, PollFlags};
use rustix::process::{Pid, Signal, WaitId, WaitIdOptions, WaitOptions};
use std::io::{self, Read};
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::process::CommandExt;
use std::process::{Command, ExitStatus};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// The groups whose leaders have not been reaped, and whether whenready is ending.
struct Registry {
    groups: Vec<Pid>,
    closed: bool,
}

static REGISTRY: Mutex<Registry> = Mutex::new(Registry {
    groups: Vec::new(),
    closed: false,
});

fn registry() -> std::sync::MutexGuard<'static, Registry> {
    REGISTRY.lock().unwrap_or_else(|p| p.into_inner())
}

/// Records a group (its leader just started).
fn register(r: &mut Registry, pgid: Pid) {
    r.groups.push(pgid);
}

/// Unrecords a group; whether it was recorded (not taken by [`kill_all`]).
fn unregister(r: &mut Registry, pgid: Pid) -> bool {
    let before = r.groups.len();
    r.groups.retain(|g| *g != pgid);
    r.groups.len() != before
}

/// A child in its own process group, recorded until it is reaped; dropping it
/// kills the group and reaps the leader.
pub struct Child {
    child: std::process::Child,
    pgid: Pid,
    reaped: bool,
}

/// Starts `cmd` in a process group of its own and records the group. Refused once
/// [`kill_all`] has run (whenready is ending).
pub fn spawn(cmd: &mut Command) -> io::Result<Child> {
    cmd.process_group(0);
    let mut r = registry();
    if r.closed {
        return Err(io::Error::other("whenready is ending"));
    }
    // Started under the lock: kill_all cannot run between the start and the record.
    let child = cmd.spawn()?;
    let pgid = Pid::from_child(&child);
    register(&mut r, pgid);
    Ok(Child {
        child,
        pgid,
        reaped: false,
    })
}

/// Kills the group `pgid` if it is still recorded (its leader not yet reaped).
pub fn kill(pgid: u32) {
    let r = registry();
    if let Some(pgid) = r
        .groups
        .iter()
        .copied()
        .find(|g| g.as_raw_pid() as u32 == pgid)
    {
        let _ = rustix::process::kill_process_group(pgid, Signal::KILL);
    }
}

/// Kills every recorded group and reaps their leaders (waiting at most 20 ms in
/// all for them to die), so that COMMAND inherits no child; no child starts
/// afterwards. Costs nothing when no child was ever started.
pub fn kill_all() {
    let mut r = registry();
    r.closed = true;
    if r.groups.is_empty() {
        return;
    }
    let groups = std::mem::take(&mut r.groups);
    for g in &groups {
        let _ = rustix::process::kill_process_group(*g, Signal::KILL);
    }
    // SIGKILL ends a sleeping process at once; one in an uninterruptible wait (a
    // hung NFS read) dies when that ends, and is left to init.
    let until = Instant::now() + Duration::from_millis(20);
    let mut left = groups;
    while !left.is_empty() {
        left.retain(|g| {
            matches!(
                rustix::process::waitpid(Some(*g), WaitOptions::NOHANG),
                Ok(None)
            )
        });
        if left.is_empty() || Instant::now() >= until {
            break;
        }
        std::thread::sleep(Duration::from_millis(1));
    }
}

/// What a child wrote and how it ended ([`Child::output`]).
#[derive(Debug, Default)]
pub struct Output {
    /// How the leader ended; `None` when [`kill_all`] reaped it.
    pub status: Option<ExitStatus>,
    /// stdout, at most the cap given.
    pub stdout: Vec<u8>,
    /// stdout went past the cap: the group was killed then.
    pub stdout_over: bool,
    /// The start of stderr, at most the cap given (the rest was read and dropped).
    pub stderr: Vec<u8>,
}

impl Child {
    /// The group's id (the leader's PID), for [`kill`].
    pub fn id(&self) -> u32 {
        self.pgid.as_raw_pid() as u32
    }

    /// Reads the child's stdout and stderr (piped) until the leader exits, then
    /// kills what is left of its group and reaps it. Blocking: run it off the
    /// runtime. stdout past `out_max` bytes kills the group at once; stderr past
    /// `err_max` is read and dropped. Ends when the leader dies, whoever kills it
    /// ([`kill`] from the attempt that waits for it, [`kill_all`]).
    pub fn output(mut self, out_max: usize, err_max: usize) -> Output {
        let mut out = Output::default();
        let mut stdout = self.child.stdout.take();
        let mut stderr = self.child.stderr.take();
        // Readable when the leader has exited; without pidfds (Linux < 5.3, or a
        // seccomp profile that refuses it), the exit is looked for every 20 ms.
        let pidfd: Option<OwnedFd> =
            rustix::process::pidfd_open(self.pgid, rustix::process::PidfdFlags::empty()).ok();
        let mut buf = vec![0u8; 16 << 10];
        loop {
            if self.exited() {
                break;
            }
            let mut fds = Vec::with_capacity(3);
            if let Some(s) = &stdout {
                fds.push(PollFd::new(s, PollFlags::IN));
            }
            if let Some(s) = &stderr {
                fds.push(PollFd::new(s, PollFlags::IN));
            }
            if let Some(p) = &pidfd {
                fds.push(PollFd::new(p, PollFlags::IN));
            }
            let tick = rustix::time::Timespec {
                tv_sec: 0,
                tv_nsec: 20_000_000,
            };
            let timeout = if pidfd.is_some() { None } else { Some(&tick) };
            match poll(&mut fds, timeout) {
                Ok(_) | Err(rustix::io::Errno::INTR) => {}
                Err(_) => std::thread::sleep(Duration::from_millis(20)),
            }
            // In the order pushed: stdout, stderr (each when still open).
            let mut events = fds.iter().map(|f| !f.revents().is_empty());
            let out_ready = stdout.is_some() && events.next().unwrap_or(false);
            let err_ready = stderr.is_some() && events.next().unwrap_or(false);
            drop(fds);
            if out_ready && !read_into(&mut stdout, &mut buf, &mut out.stdout, out_max) {
                out.stdout_over = true;
                kill(self.id());
            }
            if err_ready {
                read_into(&mut stderr, &mut buf, &mut out.stderr, err_max);
            }
        }
        // The leader has exited (unreaped: the group's id is still ours). What it
        // left in its group goes now, and what the pipes hold is read (no further
        // than what is there: a process that escaped the group may hold them).
        let recorded = {
            let mut r = registry();
            if r.groups.contains(&self.pgid) {
                let _ = rustix::process::kill_process_group(self.pgid, Signal::KILL);
            }
            unregister(&mut r, self.pgid)
        };
        drain(
            &mut stdout,
            &mut buf,
            &mut out.stdout,
            out_max,
            &mut out.stdout_over,
        );
        let mut over = false;
        drain(&mut stderr, &mut buf, &mut out.stderr, err_max, &mut over);
        self.reaped = true;
        if recorded {
            out.status = self.child.wait().ok();
            reap_orphans(self.pgid);
        }
        out
    }

    /// Whether the leader has exited (it is not reaped: `WNOWAIT`).
    fn exited(&self) -> bool {
        !matches!(
            rustix::process::waitid(
                WaitId::Pid(self.pgid),
                WaitIdOptions::EXITED | WaitIdOptions::NOHANG | WaitIdOptions::NOWAIT,
            ),
            Ok(None)
        )
    }
}

impl Drop for Child {
    fn drop(&mut self) {
        if self.reaped {
            return;
        }
        let recorded = {
            let mut r = registry();
            if r.groups.contains(&self.pgid) {
                let _ = rustix::process::kill_process_group(self.pgid, Signal::KILL);
            }
            unregister(&mut r, self.pgid)
        };
        if recorded {
            let _ = self.child.wait();
            reap_orphans(self.pgid);
        }
    }
}

/// Reaps the members of group `pgid` (its leader reaped, the group killed) that
/// are whenready's children: as PID 1 or a subreaper, the processes a leader left
/// behind (a plugin's or a command's `… &`) become whenready's when it exits, and
/// killed with the group they would stay zombies, then COMMAND's, which reaps
/// nothing it did not start. Elsewhere none is whenready's: one system call
/// (ECHILD). Waits at most 100 ms for the killed to die.
fn reap_orphans(pgid: Pid) {
    let until = Instant::now() + Duration::from_millis(100);
    loop {
        match rustix::process::waitpgid(pgid, WaitOptions::NOHANG) {
            Ok(Some(_)) => {}
            Ok(None) if Instant::now() < until => std::thread::sleep(Duration::from_millis(1)),
            // ECHILD: none left; or the time is up.
            _ => return,
        }
    }
}

/// Reads what is there from `pipe` into `into` (at most `max` bytes kept); closes
/// the pipe at its end. False when `into` went past `max`.
fn read_into<R: Read>(
    pipe: &mut Option<R>,
    buf: &mut [u8],
    into: &mut Vec<u8>,
    max: usize,
) -> bool {
    let Some(p) = pipe.as_mut() else {
        return true;
    };
    match p.read(buf) {
        Ok(0) => {
            *pipe = None;
            true
        }
        Ok(n) => {
            let room = max.saturating_sub(into.len());
            into.extend_from_slice(&buf[..n.min(room)]);
            n <= room
        }
        Err(e) if e.kind() == io::ErrorKind::Interrupted => true,
        Err(_) => {
            *pipe = None;
            true
        }
    }
}

/// Reads what `pipe` holds now, to its end or until nothing more is there.
fn drain<R: Read + AsFd>(
    pipe: &mut Option<R>,
    buf: &mut [u8],
    into: &mut Vec<u8>,
    max: usize,
    over: &mut bool,
) {
    let zero = rustix::time::Timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    while let Some(p) = pipe.as_ref() {
        let mut fds = [PollFd::new(p, PollFlags::IN)];
        if !matches!(poll(&mut fds, Some(&zero)), Ok(n) if n > 0) {
            return;
        }
        if !read_into(pipe, buf, into, max) {
            *over = true;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::process::Stdio;

    fn sh(script: &str) -> Command {
        let mut c = Command::new("sh");
        c.args(["-c", script])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        c
    }

    fn alive(pid: u32) -> bool {
        std::fs::read_to_string(format!("/proc/{pid}/stat"))
            .ok()
            .and_then(|s| {
                s.rfind(')')
                    .map(|i| s[i + 1..].trim_start().starts_with('Z'))
            })
            == Some(false)
    }

    #[test]
    fn output_is_capped_and_the_group_goes_with_its_leader() {
        let child = spawn(&mut sh("echo out; echo err >&2; exit 3")).unwrap();
        let id = child.id();
        let out = child.output(1024, 1024);
        assert_eq!(out.stdout, b"out\n");
        assert_eq!(out.stderr, b"err\n");
        assert_eq!(out.status.and_then(|s| s.code()), Some(3));
        assert!(!registry()
            .groups
            .iter()
            .any(|g| g.as_raw_pid() as u32 == id));

        // Past the cap: the group is killed, the rest is not kept.
        let out = spawn(&mut sh("yes; sleep 100")).unwrap().output(1000, 10);
        assert!(out.stdout_over);
        assert_eq!(out.stdout.len(), 1000);

        // A grandchild left behind by a leader that exits is killed with the group.
        let out = spawn(&mut sh("sleep 100 & echo $!"))
            .unwrap()
            .output(100, 100);
        let grandchild: u32 = String::from_utf8_lossy(&out.stdout).trim().parse().unwrap();
        let until = Instant::now() + Duration::from_secs(2);
        while alive(grandchild) && Instant::now() < until {
            std::thread::sleep(Duration::from_millis(5));
        }
        assert!(!alive(grandchild));
    }

    #[test]
    fn kill_ends_a_child_that_hangs() {
        let child = spawn(&mut sh("sleep 100")).unwrap();
        let id = child.id();
        let t = std::thread::spawn(move || child.output(100, 100));
        std::thread::sleep(Duration::from_millis(50));
        kill(id);
        let out = t.join().unwrap();
        use std::os::unix::process::ExitStatusExt;
        assert_eq!(out.status.and_then(|s| s.signal()), Some(9));
        // Unrecorded: killing it again reaches nobody.
        kill(id);
    }
}
