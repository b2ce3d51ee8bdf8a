//! The static release binary as a container would run it: alone in an empty root
//! directory (no libc, no shell, no /etc, no /proc), as PID 1 of a new PID
//! namespace, against a PostgreSQL that starts late; and SIGTERM while waiting.
//!
//! The binary is the musl release build, built here if it is missing or stale, or the
//! file that `WHENREADY_STATIC_BINARY` names (.ci/run passes the reproducible build
//! that .ci/build-static made, instead of building it a second time with other flags).

mod common;
use common::*;
use std::path::PathBuf;
use std::process::Command;
use std::thread;
use std::time::{Duration, Instant};

const TARGET: &str = "x86_64-unknown-linux-musl";

/// Builds (or finds up to date) the static release binary, once per test binary.
fn static_binary() -> PathBuf {
    static BIN: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    BIN.get_or_init(build_static_binary).clone()
}

fn build_static_binary() -> PathBuf {
    if let Some(given) = std::env::var_os("WHENREADY_STATIC_BINARY") {
        let given = PathBuf::from(given);
        assert!(
            given.is_file(),
            "WHENREADY_STATIC_BINARY names {}, which is not a file (build it with .ci/build-static)",
            given.display()
        );
        return given;
    }
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let out = Command::new(cargo)
        .current_dir(&root)
        .args([
            "build",
            "--release",
            "--locked",
            "--quiet",
            "--target",
            TARGET,
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "building the static binary failed; it needs `rustup target add {TARGET}` and musl-gcc \
         (apt-get install musl-tools):\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let target_dir = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| root.join("target"));
    target_dir.join(TARGET).join("release/whenready")
}

/// An empty directory holding only the binary, as `/whenready`.
fn lonely_root() -> TempDir {
    let dir = TempDir::new("root");
    std::fs::copy(static_binary(), dir.join("whenready")).unwrap();
    dir
}

fn in_empty_root_as_pid1(root: &TempDir) -> Command {
    require("unshare", "util-linux");
    let mut cmd = Command::new("unshare");
    cmd.args(["--pid", "--fork", "--root"])
        .arg(&root.0)
        .arg("/whenready");
    cmd.env_clear();
    cmd
}

#[test]
fn release_binary_is_static_pie_and_small() {
    let bin = static_binary();
    let ldd = Command::new("ldd").arg(&bin).output().unwrap();
    let text =
        String::from_utf8_lossy(&ldd.stdout).to_string() + &String::from_utf8_lossy(&ldd.stderr);
    assert!(text.contains("statically linked"), "ldd: {text}");
    // Position-independent (loaded at a random address), with no dynamic loader
    // and no shared library: what the contract asks for.
    let file = Command::new(require("file", "file"))
        .arg(&bin)
        .output()
        .unwrap();
    let file = String::from_utf8_lossy(&file.stdout);
    assert!(file.contains("static-pie linked"), "file: {file}");
    let version = Command::new(&bin).arg("--version").output().unwrap();
    let version = String::from_utf8_lossy(&version.stdout);
    assert!(
        version.contains(&format!("({TARGET};")),
        "--version: {version}"
    );
    let size = std::fs::metadata(&bin).unwrap().len();
    assert!(
        size <= 4_000_000,
        "the static binary is {size} bytes, over the 4 MB budget (every kind built in)"
    );
}

#[test]
fn runs_alone_as_pid1_against_a_late_postgres() {
    let root = lonely_root();
    let mut pg = Pg::new();
    let child = in_empty_root_as_pid1(&root)
        .args([
            "-t",
            "60s",
            &pg.url(PG_PASSWORD, "?sslmode=disable"),
            "--",
            "/whenready",
            "--version",
        ])
        .spawn_piped();
    let start = Instant::now();
    thread::sleep(Duration::from_millis(1500));
    pg.start();
    let r = finish(child, start, Duration::from_secs(60));
    assert_eq!(r.code, 0, "{r:?}");
    // COMMAND ran: /whenready --version, exec'd in place of the waiting whenready.
    assert!(r.stdout.starts_with("whenready "), "{r:?}");
    assert!(r.stderr.contains("connection refused"), "{r:?}");
    assert_no_secret(&r, PG_PASSWORD);
}

#[test]
fn sigterm_as_pid1_in_an_empty_root_exits_143() {
    let root = lonely_root();
    let port = free_port();
    let mut child = Watched::spawn(in_empty_root_as_pid1(&root).args([
        "-t",
        "60s",
        &format!("127.0.0.1:{port}"),
        "--",
        "/whenready",
        "--version",
    ]));
    let pid1 = forked_child(child.id()).to_string();
    child.wait_for_line("not ready", Duration::from_secs(10));
    let start = Instant::now();
    assert!(Command::new("kill")
        .args(["-TERM", &pid1])
        .status()
        .unwrap()
        .success());
    let r = child.finish(start, Duration::from_secs(10));
    assert_exited(&r, 143);
    assert!(r.stdout.is_empty(), "COMMAND must not run: {r:?}");
    assert!(r.elapsed < Duration::from_secs(2), "{r:?}");
}
