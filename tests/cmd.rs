//! `cmd:WORDS` targets with real processes: ready late, never ready, the permanent
//! failures (not found, cannot execute, 126, 127), `--once`, `--reverse`,
//! `--stable`, malformed targets, a command's output as the reason (the last
//! non-empty line, one line of at most 512 bytes, no forged line, no password), and
//! the promise that no process of a command's group outlives its attempt or
//! whenready: after the attempt timeout, the deadline, `--once`, SIGTERM and exec
//! of COMMAND.

mod common;
use common::hostile::assert_no_forged_line;
use common::*;
use std::path::Path;
use std::thread;
use std::time::{Duration, Instant};

/// The live processes (zombies aside) of process group `pgid`.
fn alive_in_group(pgid: u32) -> Vec<String> {
    processes_in_group(pgid, 0)
        .into_iter()
        .filter(|stat| {
            let state = stat
                .rfind(')')
                .and_then(|i| stat[i + 1..].split_whitespace().next());
            state != Some("Z")
        })
        .collect()
}

/// Waits (bounded) until no process of group `pgid` is alive; fails with those left.
fn assert_group_gone(pgid: u32) {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let left = alive_in_group(pgid);
        if left.is_empty() {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "processes of group {pgid} outlived it: {left:?}"
        );
        thread::sleep(Duration::from_millis(10));
    }
}

/// The process groups a [`sleeper`] recorded (one line per attempt).
fn groups(file: &Path) -> Vec<u32> {
    std::fs::read_to_string(file)
        .unwrap_or_default()
        .lines()
        .filter_map(|l| l.trim().parse().ok())
        .collect()
}

/// Waits until `file` lists at least `n` groups.
fn wait_for_groups(file: &Path, n: usize) -> Vec<u32> {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let g = groups(file);
        if g.len() >= n {
            return g;
        }
        assert!(
            Instant::now() < deadline,
            "only {g:?} in {}",
            file.display()
        );
        thread::sleep(Duration::from_millis(10));
    }
}

/// A command that records its process group (the shell's PID) in `file`, starts a
/// grandchild that sleeps, and sleeps itself.
fn sleeper(file: &Path) -> String {
    format!(
        "cmd:sh -c 'echo $$ >> {}; sleep 300 & sleep 300'",
        file.display()
    )
}

/// A script in `dir` (made executable) and its path.
fn script(dir: &TempDir, name: &str, body: &str) -> String {
    let path = dir.join(name);
    std::fs::write(&path, format!("#!/bin/sh\n{body}\n")).unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    path.display().to_string()
}

#[test]
fn ready_late_runs_the_command() {
    let dir = TempDir::new("cmd-late");
    let flag = dir.join("migrated");
    let check = script(
        &dir,
        "check",
        &format!(
            "test -f {} && exit 0; echo 'migrations: 3 pending'; exit 1",
            flag.display()
        ),
    );
    let start = Instant::now();
    let child = whenready()
        .args(["-t", "30s", &format!("cmd:{check}"), "--", "echo", "ran"])
        .spawn_piped();
    thread::sleep(Duration::from_millis(800));
    std::fs::write(&flag, "").unwrap();
    let r = finish(child, start, Duration::from_secs(40));
    assert_exited(&r, 0);
    assert_eq!(r.stdout, "ran\n");
    assert!(
        r.stderr
            .contains("not ready: exit 1: migrations: 3 pending"),
        "{r:?}"
    );
    assert!(
        r.stderr.contains(&format!("cmd:{check} ready after")),
        "{r:?}"
    );
}

#[test]
fn never_ready_exits_1_with_the_reason() {
    assert_never_ready(
        "cmd:sh -c 'echo db:5432 - no response >&2; exit 2'",
        "exit 2: db:5432 - no response",
    );
    // Killed by a signal: transient too, and said so.
    let r = wr(&["-t", "1s", "cmd:sh -c 'kill -9 $$'"]);
    assert_exited(&r, 1);
    assert!(r.stderr.contains("killed by signal 9 (SIGKILL)"), "{r:?}");
}

#[test]
fn permanent_failures_exit_3_at_once_without_a_password() {
    let dir = TempDir::new("cmd-perm");
    let plain = dir.join("not-executable");
    std::fs::write(&plain, "#!/bin/sh\nexit 0\n").unwrap();
    let pw = "cmd-Canary-3f8a";
    // A password in a URL among the words, echoed by the command as its reason.
    let url = format!("postgres://app:{pw}@db/app");
    let cases = [
        (
            "cmd:whenready-no-such-program-17".to_string(),
            "command not found: whenready-no-such-program-17",
        ),
        (format!("cmd:{}", plain.display()), "permission denied"),
        (format!("cmd:{}", dir.0.display()), "permission denied"),
        (
            format!("cmd:sh -c 'echo \"$0\"; exit 127' {url}"),
            "exit 127 (not found): postgres://app:***@db/app",
        ),
        (
            format!("cmd:sh -c 'echo cannot run \"$0\" >&2; exit 126' {url}"),
            "exit 126 (cannot execute): cannot run postgres://app:***@db/app",
        ),
    ];
    for (target, reason) in &cases {
        // --once says 1.
        for r in &assert_permanent(target, reason) {
            assert_no_secret(r, pw);
        }
        // --retry-all keeps waiting instead.
        let r = wr(&["-t", "500ms", "--retry-all", target]);
        assert_exited(&r, 1);
    }
}

#[test]
fn once_is_0_or_1() {
    let r = wr(&["--once", "cmd:true", "--", "echo", "ran"]);
    assert_exited(&r, 0);
    assert_eq!(r.stdout, "ran\n");
    let r = wr(&[
        "--once",
        "cmd:sh -c 'echo not yet; exit 1'",
        "--",
        "echo",
        "ran",
    ]);
    assert_exited(&r, 1);
    assert_eq!(r.stdout, "");
    assert!(r.stderr.contains("exit 1: not yet"), "{r:?}");
}

#[test]
fn reverse_and_stable() {
    // --reverse: ready once the command fails.
    let r = wr(&["-t", "10s", "--reverse", "cmd:false"]);
    assert_exited(&r, 0);
    let r = wr(&["-t", "1s", "--reverse", "cmd:true"]);
    assert_exited(&r, 1);
    // --stable: ready only after succeeding for the whole window.
    let r = wr(&["-t", "10s", "--stable", "600ms", "cmd:true"]);
    assert_exited(&r, 0);
    assert!(r.elapsed >= Duration::from_millis(600), "{r:?}");
}

#[test]
fn malformed_targets_are_usage_errors_that_name_them() {
    for (target, why) in [
        ("cmd:", "no command"),
        ("cmd:   ", "no command"),
        ("cmd:echo 'unclosed", "a quote is not closed"),
        ("cmd:5432", "tcp://cmd:5432"),
    ] {
        let r = wr(&[target, "--", "echo", "ran"]);
        assert_exited(&r, 2);
        assert!(
            r.stderr
                .contains(&format!("invalid target {:?}", target.trim()))
                && r.stderr.contains(why),
            "{target}: {r:?}"
        );
        assert_eq!(r.stdout, "");
    }
}

#[test]
fn output_is_one_safe_line_of_at_most_512_bytes() {
    let dir = TempDir::new("cmd-forge");
    // A forged line, then 100 KB on one line (with escapes), then nothing.
    let noisy = script(
        &dir,
        "noisy",
        "printf '\\nwhenready: x ready\\n'; head -c 100000 /dev/zero | tr '\\0' 'a'; printf '\\033[31mred\\n' >&2; exit 1",
    );
    // The forged line last.
    let forger = script(
        &dir,
        "forger",
        "head -c 100000 /dev/zero | tr '\\0' 'b'; printf '\\nwhenready: x ready\\n'; exit 1",
    );
    for target in [format!("cmd:{noisy}"), format!("cmd:{forger}")] {
        for json in [false, true] {
            let mut args = vec!["-t", "1s", target.as_str()];
            if json {
                args.insert(0, "--json");
            }
            let r = wr(&args);
            assert_exited(&r, 1);
            assert_no_forged_line(&r, "whenready: x ready", 512 + 200);
            assert!(!r.stderr.contains('\u{1b}'), "{r:?}");
            if !json {
                // The reason at the end: "  TARGET: REASON (N attempts)".
                let last = r.stderr.lines().last().unwrap();
                let reason = last.split_once(&format!("{target}: ")).unwrap().1;
                let reason = &reason[..reason.rfind(" (").unwrap()];
                assert!(reason.len() <= 512, "{} bytes: {reason}", reason.len());
                assert!(reason.starts_with("exit 1: "), "{reason}");
            }
        }
    }
}

#[test]
fn the_attempt_timeout_kills_the_commands_group() {
    let dir = TempDir::new("cmd-timeout");
    let file = dir.join("groups");
    let mut w = Watched::spawn(whenready().args([
        "-t",
        "20s",
        "--attempt-timeout",
        "300ms",
        &sleeper(&file),
    ]));
    let start = Instant::now();
    // A second attempt started: the first one's group is gone while whenready runs.
    let g = wait_for_groups(&file, 2);
    assert_group_gone(g[0]);
    w.wait_for_line("no answer within", Duration::from_secs(10));
    let _ = rustix::process::kill_process(
        rustix::process::Pid::from_raw(w.id() as i32).unwrap(),
        rustix::process::Signal::TERM,
    );
    let r = w.finish(start, Duration::from_secs(30));
    assert_exited(&r, 143);
    for g in groups(&file) {
        assert_group_gone(g);
    }
}

#[test]
fn sigterm_kills_the_commands_group() {
    let dir = TempDir::new("cmd-sigterm");
    let file = dir.join("groups");
    let start = Instant::now();
    let w = Watched::spawn(whenready().args([
        "-t",
        "60s",
        "--attempt-timeout",
        "60s",
        &sleeper(&file),
    ]));
    let g = wait_for_groups(&file, 1);
    assert!(!alive_in_group(g[0]).is_empty());
    wait_for_handler(w.id(), 15);
    let _ = rustix::process::kill_process(
        rustix::process::Pid::from_raw(w.id() as i32).unwrap(),
        rustix::process::Signal::TERM,
    );
    let r = w.finish(start, Duration::from_secs(10));
    assert_exited(&r, 143);
    assert_group_gone(g[0]);
}

#[test]
fn the_deadline_and_once_kill_the_commands_group() {
    let dir = TempDir::new("cmd-deadline");
    for (options, code) in [
        (&["-t", "1s", "--attempt-timeout", "60s"][..], 1),
        (&["--once", "--attempt-timeout", "1s"][..], 1),
    ] {
        let file = dir.join(&format!("groups-{}", options[0]));
        let mut args = options.to_vec();
        let target = sleeper(&file);
        args.push(&target);
        let r = wr(&args);
        assert_exited(&r, code);
        assert!(r.elapsed < Duration::from_secs(5), "{r:?}");
        let g = groups(&file);
        assert!(!g.is_empty(), "{r:?}");
        for g in g {
            assert_group_gone(g);
        }
    }
}

#[test]
fn nothing_of_the_commands_group_lives_on_as_commands() {
    // The check succeeds and leaves a grandchild in its group; while COMMAND (the
    // same PID as whenready) runs, nothing of that group is alive.
    let dir = TempDir::new("cmd-exec");
    let file = dir.join("groups");
    let target = format!(
        "cmd:sh -c 'echo $$ >> {}; sleep 300 & exit 0'",
        file.display()
    );
    let start = Instant::now();
    let w = Watched::spawn(whenready().args(["-t", "10s", &target, "--", "sleep", "3"]));
    let comm = format!("/proc/{}/comm", w.id());
    let deadline = Instant::now() + Duration::from_secs(10);
    while std::fs::read_to_string(&comm).unwrap_or_default().trim() != "sleep" {
        assert!(Instant::now() < deadline, "COMMAND never started");
        thread::sleep(Duration::from_millis(5));
    }
    let g = groups(&file);
    assert_eq!(g.len(), 1, "{g:?}");
    assert_group_gone(g[0]);
    assert_eq!(
        std::fs::read_to_string(&comm).unwrap_or_default().trim(),
        "sleep",
        "COMMAND still runs"
    );
    let r = w.finish(start, Duration::from_secs(20));
    assert_exited(&r, 0);
}

#[test]
fn as_pid_1_no_zombie_is_left_to_command() {
    // Each attempt leaves a grandchild in its group when its shell exits: as PID 1,
    // whenready inherits them. COMMAND (ps, which reaps nothing) lists zombies.
    let dir = TempDir::new("cmd-pid1");
    let count = dir.join("count");
    let check = script(
        &dir,
        "check",
        &format!(
            "echo x >> {c}; sleep 300 & n=$(wc -l < {c}); test \"$n\" -ge 4",
            c = count.display()
        ),
    );
    let r = run(
        &mut as_pid_1_then_ps(&["-q", "-t", "20s", &format!("cmd:{check}")]),
        Duration::from_secs(30),
    );
    assert_no_zombie_left(&r);
}
