//! What a hostile peer sends never reaches the operator raw (contract, Output): a
//! reason is one line of at most 512 bytes with its control characters escaped, in
//! plain output, `-q`, `--json` and the live view; a secret whenready sends (a bearer
//! token, a header from a variable or a file, Basic authentication) is masked even
//! when the server echoes it in a body, a header or a JSON value; and a password with
//! a comma in `WHENREADY_TARGETS` stays one target, never printed.
//!
//! The peers are small fakes on 127.0.0.1: a MySQL server that answers the connection
//! with an ERR packet (valid as the first packet: "too many connections" comes so),
//! and an HTTP server that echoes what it was sent.

mod common;
use common::hostile::assert_no_forged_line;
use common::*;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

/// The most bytes a reason may take (contract, Output).
const REASON_MAX: usize = 512;

/// The line a hostile MySQL server tries to smuggle into whenready's output.
const FORGED: &str = "whenready: db ready";

/// How a run's output is read: on a pipe (plain, `-q`, `--json`) or on a terminal.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    Plain,
    Quiet,
    Json,
    Live,
}

const MODES: [Mode; 4] = [Mode::Plain, Mode::Quiet, Mode::Json, Mode::Live];

/// Runs whenready in `mode` with `args` and `env`.
fn run_in(mode: Mode, args: &[&str], env: &[(&str, &str)]) -> Run {
    let flags: &[&str] = match mode {
        Mode::Plain | Mode::Live => &[],
        Mode::Quiet => &["-q"],
        Mode::Json => &["--json"],
    };
    if mode == Mode::Live {
        return on_terminal(args, env);
    }
    let mut cmd = whenready();
    cmd.args(flags).args(args);
    for (k, v) in env {
        cmd.env(k, v);
    }
    run(&mut cmd, Duration::from_secs(30))
}

/// Runs whenready on a pseudo-terminal (util-linux `script`), so that the live view
/// draws; returns what the terminal received (lines end in "\r\n") as its stderr.
fn on_terminal(args: &[&str], env: &[(&str, &str)]) -> Run {
    require("script", "util-linux");
    let mut command = format!("stty rows 30 cols 200; {}", env!("CARGO_BIN_EXE_whenready"));
    for a in args {
        assert!(!a.contains('\''), "{a}");
        command.push_str(&format!(" '{a}'"));
    }
    let mut cmd = std::process::Command::new("script");
    cmd.args(["-qec", &command, "/dev/null"])
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap())
        .env("TERM", "xterm");
    for (k, v) in env {
        cmd.env(k, v);
    }
    let mut r = run(&mut cmd, Duration::from_secs(30));
    r.stderr = std::mem::take(&mut r.stdout) + &r.stderr;
    r
}

/// The longest line a run in `mode` may print about a target named `name`: a
/// reason, its target and a little text; in JSON, a reason's every escape may take
/// one more byte, and the event has more fields.
fn max_line(mode: Mode, name: &str) -> usize {
    match mode {
        Mode::Json => 2 * REASON_MAX + 2 * name.len() + 200,
        _ => REASON_MAX + name.len() + 120,
    }
}

/// The reasons a run printed: JSON `reason` fields, or the text after `marker`
/// (up to the attempt count of a summary line) in plain lines.
fn reasons(r: &Run, mode: Mode) -> Vec<String> {
    let mut out = Vec::new();
    for line in r.stderr.lines() {
        let line = line.trim_end_matches('\r');
        if mode == Mode::Json {
            if let Ok(event) = serde_json::from_str::<serde_json::Value>(line) {
                if let Some(reason) = event["reason"].as_str() {
                    out.push(reason.to_string());
                }
            }
            continue;
        }
        for marker in [" not ready: ", " failed permanently: "] {
            if let Some((_, rest)) = line.split_once(marker) {
                out.push(rest.to_string());
            }
        }
        // Summary lines: "whenready:   NAME: REASON (N attempts)".
        if let Some(rest) = line.strip_prefix("whenready:   ") {
            if let Some((_, reason)) = rest.split_once(": ") {
                let reason = reason.rsplit_once(" (").map_or(reason, |(r, _)| r);
                out.push(reason.to_string());
            }
        }
    }
    out
}

/// Asserts what the contract promises of every reason a run printed: one line (no
/// control character), at most [`REASON_MAX`] bytes; and that some reason contains
/// `needle`.
fn assert_safe_reasons(r: &Run, mode: Mode, needle: &str) {
    let all = reasons(r, mode);
    assert!(
        all.iter().any(|x| x.contains(needle)),
        "{mode:?}: no reason contains {needle:?}: {all:?}\n{r:?}"
    );
    for reason in &all {
        assert!(
            !reason.chars().any(char::is_control),
            "{mode:?}: a control character in {reason:?}"
        );
        // A summary line's reason runs up to its attempt count; the rest of a line
        // after a marker may carry it too.
        let core = reason.rsplit_once(" (").map_or(&reason[..], |(c, _)| c);
        assert!(
            core.len() <= REASON_MAX + 40,
            "{mode:?}: a reason of {} bytes: {:?}…",
            core.len(),
            &core[..200]
        );
    }
}

/// An ERR packet (sequence 0) with this code and message, as a MySQL server sends
/// one instead of its greeting.
fn err_packet(code: u16, message: &[u8]) -> Vec<u8> {
    let mut payload = vec![0xff];
    payload.extend_from_slice(&code.to_le_bytes());
    payload.extend_from_slice(b"#08004");
    payload.extend_from_slice(message);
    let mut packet = (payload.len() as u32).to_le_bytes()[..3].to_vec();
    packet.push(0);
    packet.extend(payload);
    packet
}

/// A MySQL server that answers every connection with `packet` and closes.
fn mysql_fake(packet: Vec<u8>) -> Fake {
    Fake::start(move |mut s, _| {
        let _ = s.write_all(&packet);
        let _ = s.flush();
        // Close only once the client has read it (or gone).
        let _ = s.set_read_timeout(Some(Duration::from_secs(2)));
        let _ = s.read(&mut [0u8; 64]);
    })
}

/// A 60 KB error message whose first line ends in a forged line of whenready's own,
/// with a terminal escape (clear the screen) after it.
fn hostile_message() -> Vec<u8> {
    let mut m =
        b"Too many connections\nwhenready: db ready after 1ms (1 attempt)\r\n\x1b[2J".to_vec();
    m.extend(std::iter::repeat_n(b'A', 60_000));
    m
}

#[test]
fn a_mysql_error_cannot_forge_a_line_or_flood_the_output() {
    let srv = mysql_fake(err_packet(1040, &hostile_message()));
    let url = format!("mysql://root@127.0.0.1:{}/db", srv.port);
    for mode in MODES {
        let r = run_in(mode, &["-t", "700ms", &url], &[]);
        assert_exited(&r, 1);
        assert_no_forged_line(&r, FORGED, max_line(mode, &url));
        assert!(!r.stderr.contains("\x1b[2J"), "{mode:?}: {r:?}");
        // The forged line is there, escaped, on the reason's own line, and the
        // reason says it was cut.
        assert_safe_reasons(&r, mode, "\\u{a}whenready: db ready after 1ms");
        assert_safe_reasons(&r, mode, "bytes cut)");
        if mode != Mode::Json {
            assert!(r.stderr.contains("timed out after"), "{mode:?}: {r:?}");
        }
    }
}

#[test]
fn a_permanent_mysql_error_is_made_safe_too() {
    let srv = mysql_fake(err_packet(1045, &hostile_message()));
    let url = format!("mysql://root@127.0.0.1:{}/db", srv.port);
    for mode in MODES {
        let r = run_in(mode, &["-t", "10s", &url], &[]);
        assert_exited(&r, 3);
        assert_no_forged_line(&r, FORGED, max_line(mode, &url));
        assert_safe_reasons(&r, mode, "\\u{a}whenready: db ready after 1ms");
        if mode != Mode::Json {
            assert!(r.stderr.contains("failed permanently"), "{mode:?}: {r:?}");
        }
    }
}

#[test]
fn a_reason_that_shows_a_target_gone_is_made_safe_too() {
    let srv = mysql_fake(err_packet(1040, &hostile_message()));
    let url = format!("mysql://root@127.0.0.1:{}/db", srv.port);
    for mode in [Mode::Plain, Mode::Json] {
        let r = run_in(mode, &["--reverse", "-t", "10s", &url], &[]);
        assert_exited(&r, 0);
        assert_no_forged_line(&r, FORGED, max_line(mode, &url));
        let line = r
            .stderr
            .lines()
            .find(|l| l.contains("gone"))
            .unwrap_or_else(|| panic!("{mode:?}: {r:?}"));
        assert!(line.contains("\\u{a}whenready: db ready"), "{line}");
        assert!(line.len() <= max_line(mode, &url), "{line}");
    }
}

// ------------------------------------------------------------------ echoed secrets

/// Reads a request head; returns its header lines as (lowercase name, value).
fn read_headers(s: &mut TcpStream) -> Vec<(String, String)> {
    let mut buf = Vec::new();
    let mut byte = [0u8; 1];
    while !buf.ends_with(b"\r\n\r\n") {
        match s.read(&mut byte) {
            Ok(1) => buf.push(byte[0]),
            _ => break,
        }
    }
    String::from_utf8_lossy(&buf)
        .lines()
        .skip(1)
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect()
}

/// An HTTP server that echoes the credentials it was sent (Authorization, or else
/// x-api-key or cookie): in the JSON body's field `token`, in an `x-echo` header,
/// and decoded from Basic in `x-decoded`. A field of `pad` characters comes before
/// the echo in the body, so that it can straddle where a reason cuts it.
fn echo_server(pad: usize) -> Fake {
    Fake::start(move |mut s, _| {
        let headers = read_headers(&mut s);
        let sent = ["authorization", "x-api-key", "cookie"]
            .iter()
            .find_map(|want| headers.iter().find(|(n, _)| n == want))
            .map(|(_, v)| v.clone())
            .unwrap_or_default();
        let basic = sent
            .strip_prefix("Basic ")
            .map(decode_base64)
            .unwrap_or_default();
        let body = format!(
            "{{\"pad\":\"{}\",\"token\":\"{sent}\",\"status\":\"red\"}}",
            "x".repeat(pad)
        );
        let extra = format!("X-Echo: {sent}\r\nX-Decoded: {basic}\r\n");
        respond(&mut s, 200, &extra, &body);
    })
}

/// Standard base64, enough for the echo of a Basic header.
fn decode_base64(text: &str) -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut bits = 0u32;
    let mut n = 0;
    let mut out = Vec::new();
    for c in text.bytes().take_while(|&c| c != b'=') {
        let Some(v) = ALPHABET.iter().position(|&a| a == c) else {
            break;
        };
        bits = bits << 6 | v as u32;
        n += 6;
        if n >= 8 {
            n -= 8;
            out.push((bits >> n) as u8);
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Asserts that no run printed `secret`, nor any `window` characters of it in a row.
fn assert_no_part(r: &Run, secret: &str, window: usize) {
    assert_no_secret(r, secret);
    let chars: Vec<char> = secret.chars().collect();
    for part in chars.windows(window.min(chars.len())) {
        let part: String = part.iter().collect();
        assert!(
            !r.stderr.contains(&part),
            "{part:?} of the secret {secret:?} was printed: {r:?}"
        );
    }
}

/// The fragments whose expectations fail on the echo, with what the reason says.
fn failing_expectations() -> [(&'static str, &'static str); 3] {
    [
        ("body=%5Egreen%24", "the body does not match"),
        ("header=x-echo:%5Enothing%24", "x-echo is"),
        ("json=/token:nothing", "/token is"),
    ]
}

const TOKEN: &str = "tQ7vK2mX9pL4wR8z";

#[test]
fn an_echoed_bearer_token_never_prints() {
    let srv = echo_server(0);
    let dir = TempDir::new("echo-bearer");
    let file = dir.join("token");
    std::fs::write(&file, format!("{TOKEN}\n")).unwrap();
    let env = [("TOKEN", TOKEN)];
    for (expect, says) in failing_expectations() {
        for auth in [
            "bearer-env=TOKEN".to_string(),
            format!("bearer-file={}", file.display()),
        ] {
            let url = format!("http://{}/#{auth}&{expect}", srv.addr());
            for mode in MODES {
                let r = run_in(mode, &["-t", "700ms", &url], &env);
                assert_exited(&r, 1);
                assert_no_part(&r, TOKEN, 6);
                assert_safe_reasons(&r, mode, says);
                assert_safe_reasons(&r, mode, "***");
            }
        }
    }
}

#[test]
fn an_echoed_token_cut_by_the_reason_leaves_no_part_behind() {
    // The body's excerpt in a reason is 80 characters: the echo, from the 30th
    // character on after a pad, straddles its end.
    for pad in [40, 44, 48, 52, 56, 60] {
        let srv = echo_server(pad);
        let url = format!("http://{}/#bearer-env=TOKEN&body=%5Egreen%24", srv.addr());
        let r = run_in(Mode::Plain, &["-t", "500ms", &url], &[("TOKEN", TOKEN)]);
        assert_exited(&r, 1);
        assert_safe_reasons(&r, Mode::Plain, "the body does not match");
        assert_no_part(&r, TOKEN, 4);
    }
}

#[test]
fn echoed_secret_headers_from_variables_and_files_never_print() {
    let srv = echo_server(0);
    let dir = TempDir::new("echo-header");
    let file = dir.join("cookie");
    std::fs::write(&file, format!("session={TOKEN}")).unwrap();
    let env = [("API_KEY", TOKEN)];
    for (expect, says) in failing_expectations() {
        for auth in [
            "send-header-env=x-api-key:API_KEY".to_string(),
            format!("send-header-file=cookie:{}", file.display()),
        ] {
            let url = format!("http://{}/#{auth}&{expect}", srv.addr());
            for mode in [Mode::Plain, Mode::Json] {
                let r = run_in(mode, &["-t", "700ms", &url], &env);
                assert_exited(&r, 1);
                assert_no_part(&r, TOKEN, 6);
                assert_safe_reasons(&r, mode, says);
            }
        }
    }
}

#[test]
fn a_short_echoed_token_is_masked_where_it_stands_alone() {
    // Three characters: masked where they stand alone, as an echo does, whether
    // with the scheme ("Bearer k3Y", in the JSON) or alone (after "Bearer ").
    let srv = echo_server(0);
    for (expect, says) in [
        ("json=/token:nothing", "/token is \"***\""),
        ("header=x-echo:%5Enothing%24", "x-echo is ***"),
    ] {
        let url = format!("http://{}/#bearer-env=TOKEN&{expect}", srv.addr());
        let r = run_in(Mode::Plain, &["-t", "500ms", &url], &[("TOKEN", "k3Y")]);
        assert_exited(&r, 1);
        assert_no_secret(&r, "k3Y");
        assert_safe_reasons(&r, Mode::Plain, says);
    }
}

#[test]
fn an_echoed_basic_authorization_never_prints() {
    let srv = echo_server(0);
    let password = "Pw9-Hq2m-Jx4";
    // base64("user:Pw9-Hq2m-Jx4"), as the Authorization header carries it.
    let encoded = "dXNlcjpQdzktSHEybS1KeDQ=";
    for (expect, says) in [
        ("body=%5Egreen%24", "the body does not match"),
        ("header=x-echo:%5Enothing%24", "x-echo is"),
        ("header=x-decoded:%5Enothing%24", "x-decoded is"),
        ("json=/token:nothing", "/token is"),
    ] {
        let url = format!("http://user:{password}@{}/#{expect}", srv.addr());
        for mode in [Mode::Plain, Mode::Quiet, Mode::Json] {
            let r = run_in(mode, &["-t", "700ms", &url], &[]);
            assert_exited(&r, 1);
            assert_no_part(&r, password, 6);
            assert_no_part(&r, encoded, 8);
            assert_safe_reasons(&r, mode, says);
            assert!(
                r.stderr
                    .contains(&format!("http://user:***@{}/", srv.addr())),
                "{mode:?}: {r:?}"
            );
        }
    }
}

// ---------------------------------------------------------- WHENREADY_TARGETS

#[test]
fn a_comma_in_a_password_in_whenready_targets_is_never_printed() {
    // Invalid (port 99999): the usage error quotes the URL, masked, whole.
    let r = run(
        whenready().env("WHENREADY_TARGETS", "postgres://u:Sec,retPw@db:99999/app"),
        Duration::from_secs(10),
    );
    assert_exited(&r, 2);
    assert!(r.stderr.contains("postgres://u:***@db:99999/app"), "{r:?}");
    assert!(r.stderr.contains("WHENREADY_TARGETS"), "{r:?}");
    assert_no_secret(&r, "Sec");
    assert_no_secret(&r, "retPw");
    // Valid: one target, not two (the issue's own text, on a closed port).
    let port = free_port();
    let r = run(
        whenready().arg("--once").env(
            "WHENREADY_TARGETS",
            format!("postgres://u:Sec,retPw@127.0.0.1:{port}/app"),
        ),
        Duration::from_secs(10),
    );
    assert_exited(&r, 1);
    assert!(
        r.stderr.contains(&format!(
            "postgres://u:***@127.0.0.1:{port}/app: connection refused"
        )),
        "{r:?}"
    );
    assert_no_secret(&r, "Sec");
    assert_no_secret(&r, "retPw");
}

#[test]
fn a_password_split_by_white_space_is_never_printed() {
    // White space always separates targets: a password with a space, unencoded,
    // becomes pieces that do not parse, and no piece of it is quoted.
    for text in [
        "postgres://u:Sec retPw@db/app",
        "redis://:Sec retPw@cache:6379",
        "postgres://u:Sec\tret,Pw@db/app",
    ] {
        let r = run(
            whenready().env("WHENREADY_TARGETS", text),
            Duration::from_secs(10),
        );
        assert_exited(&r, 2);
        assert!(r.stderr.contains("***"), "{text}: {r:?}");
        for part in ["Sec", "ret", "Pw"] {
            assert!(!r.stderr.contains(part), "{text}: {part} printed: {r:?}");
        }
    }
}

#[test]
fn a_url_with_a_comma_in_its_password_works_from_whenready_targets() {
    let expected = "Basic dTpTZWMscmV0UHc="; // base64("u:Sec,retPw")
    let srv = Fake::start(move |mut s, _| {
        let headers = read_headers(&mut s);
        let ok = headers
            .iter()
            .any(|(n, v)| n == "authorization" && v == expected);
        respond(&mut s, if ok { 200 } else { 401 }, "", "");
    });
    let other = Fake::start(|_, _| {});
    let r = run(
        whenready().args(["-t", "2s"]).env(
            "WHENREADY_TARGETS",
            format!(
                "http://u:Sec,retPw@{}/,{} redis://cache:6379,db:5432",
                srv.addr(),
                other.addr()
            ),
        ),
        Duration::from_secs(20),
    );
    // redis://cache:6379 and db:5432 are two targets (names that do not resolve
    // here): a comma splits where it is no user info.
    assert_exited(&r, 1);
    assert!(
        r.stderr.contains("for http://u:***@"),
        "the first target is the whole URL: {r:?}"
    );
    assert!(
        r.stderr
            .contains(&format!(", {}, redis://cache:6379, db:5432", other.addr())),
        "{r:?}"
    );
    assert!(
        r.stderr
            .contains(&format!("http://u:***@{}/ ready after", srv.addr())),
        "the password reached the server whole: {r:?}"
    );
    assert_no_secret(&r, "Sec");
    assert_no_secret(&r, "retPw");
}
