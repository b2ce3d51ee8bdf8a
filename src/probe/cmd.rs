//! `cmd:WORDS`: ready when the command exits 0. The escape hatch for whatever
//! whenready has no kind for (`cmd:pg_isready -h db`, `cmd:./migrations-done.sh`).
//!
//! WORDS are split as a POSIX shell splits words (quotes and backslashes; no
//! variables, globs or `~` are expanded) and run without a shell: the first word
//! is the program, looked up in PATH. The command runs with stdin from /dev/null,
//! whenready's own environment and working directory, in a process group of its own
//! ([`crate::children`]).
//!
//! Each attempt runs the command once. Exit 0 is ready; any other exit, or death
//! by a signal, is transient; 126 and 127 (the shell's "cannot execute" and "not
//! found", also from a script whose own command is missing) are permanent, and so
//! is a program that cannot be started at all (not found, permission denied, not
//! an executable). The reason is the status and the last non-empty line of what
//! the command wrote to stdout and stderr (one pipe, so in the order written;
//! `\r` ends a line too), read to the end but kept only [`LINE_MAX`] bytes a line,
//! then made safe by the reporter like every peer's reason (masked, escaped, one
//! line of at most 512 bytes).
//!
//! The attempt timeout, the deadline, a signal and every way whenready ends kill
//! the command's whole process group: the attempt's guard kills it when the
//! attempt is dropped, and [`crate::children::kill_all`] when whenready exits or
//! becomes COMMAND. As PID 1 (a container's entrypoint), whenready inherits what a
//! command left in its group when it exited; those are reaped once the group is
//! killed, so that no zombie piles up and none is COMMAND's.

use super::error::{io_reason, ProbeError};
use super::kind::{Attempt, Check, Ctx, Kind};
use crate::env::Env;
use std::os::fd::OwnedFd;
use std::process::{Command, ExitStatus, Stdio};
use std::time::Duration;
use tokio::io::AsyncReadExt;
use url::Url;

/// The most bytes of one line of the command's output that are kept (its start).
pub const LINE_MAX: usize = 1024;

/// How long the output is still read once the command has exited and its group
/// has been killed: a process that left the group (`setsid`) may hold the pipe.
const AFTER_EXIT: Duration = Duration::from_millis(100);

/// The command kind.
pub struct Cmd;

impl Kind for Cmd {
    fn name(&self) -> &'static str {
        "cmd"
    }
    fn schemes(&self) -> &'static [&'static str] {
        &["cmd"]
    }
    fn forms(&self) -> &'static str {
        "cmd:WORDS"
    }
    fn help(&self) -> (&'static str, &'static str) {
        (
            "cmd:WORDS",
            "the command exits 0 (run without a shell; exit 126/127 stop)",
        )
    }
    fn opaque(&self) -> bool {
        true
    }
    fn parse_opaque(&self, rest: &str, _env: &Env) -> Result<Box<dyn Check>, String> {
        Ok(Box::new(CmdTarget::parse(rest)?))
    }
    fn parse(&self, _url: &Url, _env: &Env) -> Result<Box<dyn Check>, String> {
        Err("write cmd:WORDS, e.g. cmd:pg_isready -h db".into())
    }
}

/// A command to run at every attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CmdTarget {
    /// The program and its arguments.
    pub argv: Vec<String>,
}

impl CmdTarget {
    /// Splits WORDS as a POSIX shell would (no expansion); the error says why not.
    pub fn parse(words: &str) -> Result<CmdTarget, String> {
        let argv = shell_words::split(words).map_err(|_| {
            "a quote is not closed: WORDS are split as a shell splits them (write \\' or \"'\" for a lone quote)".to_string()
        })?;
        match argv.first() {
            None => Err("no command: write cmd:WORDS, e.g. cmd:pg_isready -h db".into()),
            Some(p) if p.is_empty() => Err("the command's name is empty".into()),
            Some(p) if argv.len() == 1 && p.bytes().all(|b| b.is_ascii_digit()) => Err(format!(
                "this reads as a command named {p:?}: for a host named cmd, write tcp://cmd:{p}"
            )),
            Some(_) => Ok(CmdTarget { argv }),
        }
    }
}

impl Check for CmdTarget {
    fn probe<'a>(&'a self, _ctx: &'a Ctx) -> Attempt<'a> {
        Box::pin(run(self))
    }
}

/// Kills the command's group when the attempt that waits for it is dropped (its
/// timeout, the deadline, a signal); a group already reaped is not touched.
struct KillOnDrop(u32);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        crate::children::kill(self.0);
    }
}

/// One run of the command.
pub async fn run(t: &CmdTarget) -> Result<(), ProbeError> {
    let program = &t.argv[0];
    let (read, write) = std::io::pipe()
        .map_err(|e| ProbeError::transient(format!("cannot make a pipe: {}", io_reason(&e))))?;
    let write2 = write
        .try_clone()
        .map_err(|e| ProbeError::transient(format!("cannot make a pipe: {}", io_reason(&e))))?;
    let mut command = Command::new(program);
    command
        .args(&t.argv[1..])
        .stdin(Stdio::null())
        .stdout(write)
        .stderr(write2);
    let spawned = crate::children::spawn(&mut command);
    // The command holds our copies of the pipe's writing end: closed now, so that
    // the pipe ends when the group's processes are gone.
    drop(command);
    let child = spawned.map_err(|e| spawn_failure(program, &e))?;
    let pgid = child.id();
    let _guard = KillOnDrop(pgid);
    let mut waiter = tokio::task::spawn_blocking(move || child.output(0, 0));
    let mut tail = Tail::default();
    let mut pipe = tokio::net::unix::pipe::Receiver::from_owned_fd(OwnedFd::from(read)).ok();
    let outcome = {
        let read_all = async {
            let mut buf = [0u8; 8192];
            while let Some(p) = pipe.as_mut() {
                match p.read(&mut buf).await {
                    Ok(0) | Err(_) => pipe = None,
                    Ok(n) => tail.feed(&buf[..n]),
                }
            }
        };
        let mut read_all = std::pin::pin!(read_all);
        tokio::select! {
            () = &mut read_all => (&mut waiter).await,
            outcome = &mut waiter => {
                let _ = tokio::time::timeout(AFTER_EXIT, read_all).await;
                outcome
            }
        }
    };
    let last = tail.last_line();
    let status = match outcome {
        Ok(output) => output.status,
        Err(_) => None,
    };
    judge(status, last)
}

/// Why a command could not be started: a program that is missing, not executable
/// or no program at all is permanent (as 127 and 126 are); running out of
/// processes or descriptors is transient.
fn spawn_failure(program: &str, e: &std::io::Error) -> ProbeError {
    use std::io::ErrorKind::*;
    match e.kind() {
        NotFound => ProbeError::permanent(format!("command not found: {program}")),
        PermissionDenied => {
            ProbeError::permanent(format!("cannot execute {program}: permission denied"))
        }
        // ENOEXEC: no interpreter line and no binary format the kernel knows.
        _ if e.raw_os_error() == Some(8) => ProbeError::permanent(format!(
            "cannot execute {program}: not an executable (a script needs a #! line)"
        )),
        _ => ProbeError::transient(format!("cannot run {program}: {}", io_reason(e))),
    }
}

/// The verdict on a finished command: its status (`None`: whenready killed it while
/// ending) and the last non-empty line of its output.
fn judge(status: Option<ExitStatus>, last: Option<String>) -> Result<(), ProbeError> {
    use std::os::unix::process::ExitStatusExt;
    let with = |what: String| match &last {
        Some(line) => format!("{what}: {line}"),
        None => what,
    };
    let Some(status) = status else {
        return Err(ProbeError::transient(with("killed".into())));
    };
    match (status.code(), status.signal()) {
        (Some(0), _) => Ok(()),
        (Some(126), _) => Err(ProbeError::permanent(with(
            "exit 126 (cannot execute)".into(),
        ))),
        (Some(127), _) => Err(ProbeError::permanent(with("exit 127 (not found)".into()))),
        (Some(code), _) => Err(ProbeError::transient(with(format!("exit {code}")))),
        (None, Some(signal)) => Err(ProbeError::transient(with(format!(
            "killed by signal {signal}{}",
            signal_name(signal)
        )))),
        (None, None) => Err(ProbeError::transient(with("ended".into()))),
    }
}

/// ` (SIGKILL)` for the signals a command is usually ended by.
fn signal_name(n: i32) -> &'static str {
    match n {
        1 => " (SIGHUP)",
        2 => " (SIGINT)",
        6 => " (SIGABRT)",
        9 => " (SIGKILL)",
        11 => " (SIGSEGV)",
        13 => " (SIGPIPE)",
        15 => " (SIGTERM)",
        _ => "",
    }
}

/// The last non-empty line of a stream, in bounded memory: the start of each line
/// (at most [`LINE_MAX`] bytes) is kept until a later non-empty line replaces it.
#[derive(Debug, Default)]
struct Tail {
    line: Vec<u8>,
    last: Vec<u8>,
}

impl Tail {
    fn feed(&mut self, bytes: &[u8]) {
        for chunk in bytes.split_inclusive(|&b| b == b'\n' || b == b'\r') {
            let (text, ends) = match chunk.split_last() {
                Some((&b, head)) if b == b'\n' || b == b'\r' => (head, true),
                _ => (chunk, false),
            };
            let room = LINE_MAX.saturating_sub(self.line.len());
            self.line.extend_from_slice(&text[..text.len().min(room)]);
            if ends {
                self.end_line();
            }
        }
    }

    fn end_line(&mut self) {
        if !self.line.trim_ascii().is_empty() {
            std::mem::swap(&mut self.line, &mut self.last);
        }
        self.line.clear();
    }

    fn last_line(mut self) -> Option<String> {
        self.end_line();
        let text = String::from_utf8_lossy(self.last.trim_ascii()).into_owned();
        (!text.is_empty()).then_some(text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::process::ExitStatusExt;

    #[test]
    fn words_split_as_a_shell_splits_them() {
        let argv = |w: &str| CmdTarget::parse(w).map(|t| t.argv);
        assert_eq!(
            argv("pg_isready -h 'db one' -p\\ 5432 \"x y\""),
            Ok(vec![
                "pg_isready".into(),
                "-h".into(),
                "db one".into(),
                "-p 5432".into(),
                "x y".into()
            ])
        );
        assert_eq!(
            argv("echo $HOME *"),
            Ok(vec!["echo".into(), "$HOME".into(), "*".into()])
        );
        for (w, needle) in [
            ("", "no command"),
            ("   ", "no command"),
            ("echo 'open", "quote is not closed"),
            ("'' x", "name is empty"),
            ("5432", "tcp://cmd:5432"),
        ] {
            let e = argv(w).unwrap_err();
            assert!(e.contains(needle), "{w:?}: {e}");
        }
    }

    #[test]
    fn the_last_non_empty_line_in_bounded_memory() {
        let last = |chunks: &[&[u8]]| {
            let mut t = Tail::default();
            chunks.iter().for_each(|c| t.feed(c));
            t.last_line()
        };
        assert_eq!(last(&[b"one\ntwo\n\n  \n"]), Some("two".into()));
        assert_eq!(last(&[b"on", b"e\ntw", b"o"]), Some("two".into()));
        assert_eq!(
            last(&[b"progress 10%\rprogress 100%\r\n"]),
            Some("progress 100%".into())
        );
        assert_eq!(last(&[b"\n\n"]), None);
        assert_eq!(last(&[]), None);
        let long = vec![b'x'; 100_000];
        let got = last(&[b"first\n", &long, b"\n"]).unwrap();
        assert_eq!(got.len(), LINE_MAX);
        let mut t = Tail::default();
        for _ in 0..1000 {
            t.feed(&long);
        }
        assert!(t.line.capacity() < 4 * LINE_MAX && t.last.capacity() < 4 * LINE_MAX);
    }

    #[test]
    fn statuses() {
        let exit = |code: i32| Some(ExitStatus::from_raw(code << 8));
        assert_eq!(judge(exit(0), Some("x".into())), Ok(()));
        let e = judge(exit(1), Some("db: no response".into())).unwrap_err();
        assert_eq!(
            (e.is_permanent(), &*e.reason),
            (false, "exit 1: db: no response")
        );
        let e = judge(exit(2), None).unwrap_err();
        assert_eq!((e.is_permanent(), &*e.reason), (false, "exit 2"));
        for code in [126, 127] {
            assert!(judge(exit(code), None).unwrap_err().is_permanent());
        }
        let e = judge(Some(ExitStatus::from_raw(9)), None).unwrap_err();
        assert_eq!(
            (e.is_permanent(), &*e.reason),
            (false, "killed by signal 9 (SIGKILL)")
        );
        assert!(!judge(None, None).unwrap_err().is_permanent());
    }

    #[tokio::test]
    async fn commands_run_for_real() {
        let t = |w: &str| CmdTarget::parse(w).unwrap();
        assert_eq!(run(&t("true")).await, Ok(()));
        let e = run(&t("sh -c 'echo out; echo err >&2; exit 4'"))
            .await
            .unwrap_err();
        assert_eq!((e.is_permanent(), &*e.reason), (false, "exit 4: err"));
        let e = run(&t("whenready-no-such-command-x1")).await.unwrap_err();
        assert_eq!(
            (e.is_permanent(), &*e.reason),
            (true, "command not found: whenready-no-such-command-x1")
        );
        let e = run(&t("/")).await.unwrap_err();
        assert!(
            e.is_permanent() && e.reason.contains("permission denied"),
            "{e:?}"
        );
        let e = run(&t("sh -c 'exit 127'")).await.unwrap_err();
        assert!(e.is_permanent(), "{e:?}");
        // stdin is /dev/null: a command that reads it sees its end at once.
        assert_eq!(run(&t("sh -c 'read x; test -z \"$x\"'")).await, Ok(()));
    }
}
