//! Property tests of every parser a user's input reaches: targets, durations, status
//! lists, whole command lines and the drop-in personalities' command lines and
//! variables never panic; every error is one line that says something; a password
//! never survives into what is shown. (The decoders of what peers send are fuzzed
//! by `src/probe/wire/fuzz.rs`, run for a bounded time by `.ci/fuzz`.)

use proptest::prelude::*;
use std::ffi::OsString;
use whenready::cli::Cli;
use whenready::compat::{compose_wait, wait_for, wait_for_it, Stop};
use whenready::config::Config;
use whenready::duration;
use whenready::env::Env;
use whenready::probe::dns::{self, RecordType};
use whenready::probe::status::StatusSet;
use whenready::target::Target;

fn one_line(e: &str) {
    assert!(!e.trim().is_empty(), "empty error");
    assert!(!e.contains('\n'), "multi-line error: {e:?}");
}

/// Strings that look like the inputs: URL pieces, separators, digits, brackets.
fn targetish() -> impl Strategy<Value = String> {
    let pieces = prop::sample::select(vec![
        "postgres://",
        "postgresql://",
        "redis://",
        "rediss://",
        "nats://",
        "mqtt://",
        "mqtts://",
        "amqp://",
        "amqps://",
        "http://",
        "https://",
        "tcp://",
        "unix://",
        "file://",
        "mysql://",
        "http+unix://",
        "json=/status:green,yellow",
        "status=",
        "body=",
        "header=",
        "send-header=",
        "bearer-env=",
        "cert=",
        "~",
        "%3A",
        "memcached://",
        "dns://",
        "grpc://",
        "grpcs://",
        "type=",
        "SRV",
        "expect=",
        "server=",
        "_svc._tcp.",
        "user",
        ":",
        "@",
        "/",
        "?",
        "&",
        "=",
        "#",
        "[",
        "]",
        "::1",
        "127.0.0.1",
        "localhost",
        "db",
        "5432",
        "65536",
        "0",
        "-1",
        "%2F",
        "%zz",
        "sslmode",
        "verify-full",
        "password",
        "host",
        ",",
        " ",
        "é",
        "\u{0}",
        "*",
        "..",
        "1e3",
        "\n",
        "\u{1b}[31m",
        "\t",
    ]);
    prop::collection::vec(pieces, 0..12).prop_map(|v| v.concat())
}

/// Fragments of http targets: keys, values, separators and escapes.
fn fragmentish() -> impl Strategy<Value = String> {
    let pieces = prop::sample::select(vec![
        "status=",
        "body=",
        "json=",
        "header=",
        "method=",
        "send-body=",
        "send-header=",
        "send-header-env=",
        "send-header-file=",
        "bearer-env=",
        "bearer-file=",
        "cert=",
        "key=",
        "jsn=",
        "TOKEN",
        "BAD",
        "UNSET",
        "/status",
        "/a~1b~0",
        "~2",
        "~",
        ":",
        ",",
        "&",
        "=",
        "%",
        "%2C",
        "%3A",
        "%26",
        "%zz",
        "%FF",
        "(",
        ")",
        "[",
        "*",
        "+",
        "\\",
        "green",
        "200-299",
        "600",
        "authorization",
        "content-type",
        "x y",
        "é",
        "\u{0}",
        "\n",
        "#",
    ]);
    prop::collection::vec(pieces, 0..10).prop_map(|v| v.concat())
}

/// A password that must never be printed.
const CANARY: &str = "PropCanary7pw";

/// Arguments for the personalities: their options, bundles, separators, targets, and
/// pieces that carry [`CANARY`] as a URL password or a password parameter.
fn personality_arg() -> impl Strategy<Value = String> {
    let pieces = prop::sample::select(vec![
        "-q",
        "-t",
        "-s",
        "-h",
        "-p",
        "-v",
        "--",
        "--help",
        "--quiet",
        "--strict",
        "--child",
        "--timeout",
        "--timeout=",
        "--host=",
        "--port=",
        "--version",
        "-qt",
        "-qq",
        "-q-",
        "-t1",
        "5",
        "0",
        "-1",
        "",
        "db",
        "db:1",
        ":",
        "[::1]:1",
        "127.0.0.1:",
        "http://h",
        "https://h/",
        "postgres://",
        "redis://",
        "tcp://",
        "x://",
        "SECRET_USERINFO",
        "SECRET_PARAM",
        "@",
        "/",
        "?",
        "&",
        "é",
        "\n",
        " ",
        "'",
        "\"",
    ]);
    prop::collection::vec(pieces, 0..4).prop_map(|v| {
        v.concat()
            .replace("SECRET_USERINFO", &format!("://u:{CANARY}@"))
            .replace("SECRET_PARAM", &format!("?password={CANARY}"))
    })
}

fn argv(program: &str, args: &[String]) -> Vec<OsString> {
    std::iter::once(program)
        .chain(args.iter().map(String::as_str))
        .map(OsString::from)
        .collect()
}

/// A usage error: one line, no secret, one of the original's codes.
fn check_stop(stop: Stop, codes: &[i32]) -> Result<(), TestCaseError> {
    if let Stop::Usage { message, exit } = stop {
        one_line(&message);
        prop_assert!(!message.contains(CANARY), "{message}");
        prop_assert!(
            codes.contains(&exit.code()),
            "{} for {message}",
            exit.code()
        );
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

    #[test]
    fn targets_never_panic(text in targetish()) {
        if let Err(e) = Target::parse(&text, &Env::default()) {
            one_line(&e.to_string());
        }
    }

    #[test]
    fn arbitrary_targets_never_panic(text in any::<String>()) {
        if let Err(e) = Target::parse(&text, &Env::default()) {
            one_line(&e.to_string());
        }
    }

    #[test]
    fn durations_never_panic(text in "[0-9.a-z ]{0,12}") {
        let _ = duration::parse(&text);
    }

    #[test]
    fn status_lists_never_panic(text in "[0-9,\\- a]{0,16}") {
        if let Err(e) = StatusSet::parse(&text) {
            one_line(&e);
        }
    }

    #[test]
    fn command_lines_never_panic(args in prop::collection::vec(prop_oneof![
        targetish(),
        Just("-t".to_string()), Just("--timeout".to_string()), Just("--interval".to_string()),
        Just("--attempt-timeout".to_string()), Just("--http-status".to_string()), Just("--once".to_string()),
        Just("-q".to_string()), Just("--".to_string()), "[0-9a-z.]{0,5}",
    ], 0..8)) {
        let argv = std::iter::once("whenready".to_string()).chain(args);
        match Cli::try_parse_from(argv) {
            Ok(cli) => {
                if let Err(e) = Config::from_cli(cli, &Env::default()) {
                    one_line(&e.0);
                }
            }
            Err(stop @ whenready::cli::Stop::Usage(_)) => one_line(&stop.to_string()),
            Err(_) => {}
        }
    }

    /// Any argument vector at all (options of every form, clusters, `=`, non-ASCII):
    /// the parser ends in a command line, help, the version or a one-line usage error.
    #[test]
    fn arbitrary_command_lines_never_panic(args in prop::collection::vec(prop_oneof![
        any::<String>(),
        "-[a-zA-Z0-9=-]{0,4}",
        "--[a-z\n\t-]{0,16}(=[a-z0-9\n-]{0,4})?",
        "-[a-z\n]{1,3}",
    ], 0..8)) {
        let argv = std::iter::once("whenready".to_string()).chain(args);
        if let Err(stop @ whenready::cli::Stop::Usage(_)) = Cli::try_parse_from(argv) {
            one_line(&stop.to_string());
        }
    }

    #[test]
    fn passwords_are_never_shown(
        scheme in prop::sample::select(vec!["postgres", "postgresql", "redis", "rediss", "nats", "mqtt", "mqtts", "amqp", "amqps", "http", "https"]),
        password in "Pw[A-Za-z0-9!$&'()*+,;=~_.-]{10,20}",
        port in prop::option::of(0u32..70000),
        query in prop::sample::select(vec!["", "?sslmode=disable", "?bogus=1", "?password=SAME"]),
    ) {
        let port = port.map(|p| format!(":{p}")).unwrap_or_default();
        let query = query.replace("SAME", &password);
        let text = format!("{scheme}://user:{password}@db{port}/app{query}");
        match Target::parse(&text, &Env::default()) {
            Ok(t) => {
                prop_assert!(!t.shown.contains(&password), "{}", t.shown);
                let debug = format!("{:?}", t);
                prop_assert!(!debug.contains(&password));
            }
            Err(e) => prop_assert!(!e.to_string().contains(&password), "{e}"),
        }
    }

    #[test]
    fn wait_for_command_lines(args in prop::collection::vec(personality_arg(), 0..7)) {
        match wait_for::parse(&argv("wait-for", &args), &Env::default()) {
            Ok(a) => {
                // Names the personality made (HOST:PORT); a URL's name is Target's
                // masked URL, where CANARY may stand in a path (passwords_are_never_shown).
                for t in a.targets.iter().filter(|t| !t.shown.contains("://")) {
                    prop_assert!(!t.shown.contains(CANARY), "{}", t.shown);
                }
                // The command is all that follows one of the "--" given, whatever the
                // bundles before it (-qt5) expanded to.
                let full = argv("wait-for", &args);
                let after_separator = (1..full.len())
                    .any(|j| full[j] == "--" && full[j + 1..] == a.command[..]);
                prop_assert!(a.command.is_empty() || after_separator, "{:?} from {args:?}", a.command);
                if let Some(j) = args.iter().position(|x| x == "--") {
                    if args[..j].iter().all(|x| !x.starts_with("-q") && !x.starts_with("-t") && x != "--timeout") {
                        prop_assert_eq!(&a.command[..], &full[j + 2..]);
                    }
                }
            }
            Err(stop) => check_stop(stop, &[1, 2, 3])?,
        }
    }

    #[test]
    fn wait_for_it_command_lines(args in prop::collection::vec(personality_arg(), 0..7)) {
        match wait_for_it::parse(&argv("wait-for-it.sh", &args)) {
            Ok(a) => {
                prop_assert!(!a.target.shown.contains(CANARY), "{}", a.target.shown);
                // One decision for "is there a command" and for what runs.
                prop_assert!(a.command.first().is_none_or(|c| !c.is_empty()));
            }
            Err(stop) => check_stop(stop, &[1])?,
        }
    }

    #[test]
    fn compose_wait_variables(values in prop::collection::vec(
        prop_oneof![personality_arg(), targetish(), "[0-9.]{0,4}"], 0..12)) {
        let names = [
            "WAIT_HOSTS", "WAIT_PATHS", "WAIT_TIMEOUT", "WAIT_COMMAND", "WAIT_BEFORE",
            "WAIT_AFTER", "WAIT_SLEEP_INTERVAL", "WAIT_HOST_CONNECT_TIMEOUT",
            "WAIT_LOGGER_LEVEL", "WAIT_HOSTS_TIMEOUT", "WAIT_BEFORE_HOSTS", "WAIT_AFTER_HOSTS",
        ];
        let pairs: Vec<(&str, &str)> =
            names.iter().copied().zip(values.iter().map(String::as_str)).collect();
        match compose_wait::parse(&argv("wait", &[]), &Env::from_pairs(&pairs)) {
            Ok(s) => {
                // WAIT_PATHS entries; WAIT_HOSTS are targets as above.
                for t in &s.targets[s.hosts..] {
                    prop_assert!(!t.shown.contains(CANARY), "{}", t.shown);
                }
            }
            Err(e) => {
                one_line(&e);
                prop_assert!(!e.contains(CANARY), "{e}");
            }
        }
    }

    #[test]
    fn http_fragments_never_panic(fragment in fragmentish()) {
        let env = Env::from_pairs(&[("TOKEN", "tok"), ("BAD", "a\nb")]);
        for base in ["http://h/", "https://h:1/x?y=1", "http+unix://%2Frun%2Fa.sock/_ping"] {
            if let Err(e) = Target::parse(&format!("{base}#{fragment}"), &env) {
                one_line(&e.to_string());
            }
        }
    }

    #[test]
    fn secret_headers_are_never_shown(
        name in prop::sample::select(vec!["Authorization", "proxy-authorization", "COOKIE", "Cookie"]),
        token in "Tk[A-Za-z0-9!$'()*+,;=~_.-]{10,20}",
        rest in prop::sample::select(vec!["", "&status=200", "&jsn=1", "&send-header=accept:x"]),
    ) {
        // Written on the command line: refused, and the refusal masks it.
        let text = format!("http://h/#send-header={name}:Bearer%20{token}{rest}");
        let e = Target::parse(&text, &Env::default()).err();
        prop_assert!(e.is_some(), "{text} accepted");
        let e = e.unwrap().to_string();
        prop_assert!(!e.contains(&token), "{e}");
        // From a variable: sent, never shown.
        let env = Env::from_pairs(&[("TOK", &token)]);
        let text = format!("https://h/#bearer-env=TOK&send-header-env={name}:TOK{rest}");
        match Target::parse(&text, &env) {
            Ok(t) => {
                prop_assert!(!t.shown.contains(&token), "{}", t.shown);
                let debug = format!("{t:?}");
                prop_assert!(!debug.contains(&token));
            }
            Err(e) => prop_assert!(!e.to_string().contains(&token), "{e}"),
        }
    }

    #[test]
    fn nats_tokens_are_never_shown(
        token in "Tk[A-Za-z0-9!$&'()*+,;=~_.-]{10,20}",
        port in prop::option::of(0u32..70000),
        query in prop::sample::select(vec!["", "?tls=true", "?bogus=1", "?tls=maybe"]),
    ) {
        let port = port.map(|p| format!(":{p}")).unwrap_or_default();
        let text = format!("nats://{token}@broker{port}{query}");
        match Target::parse(&text, &Env::default()) {
            Ok(t) => {
                prop_assert!(!t.shown.contains(&token), "{}", t.shown);
                let debug = format!("{:?}", t);
                prop_assert!(!debug.contains(&token));
            }
            Err(e) => prop_assert!(!e.to_string().contains(&token), "{e}"),
        }
    }
}

const DNS_TYPES: [RecordType; 6] = [
    RecordType::A,
    RecordType::Aaaa,
    RecordType::Cname,
    RecordType::Mx,
    RecordType::Txt,
    RecordType::Srv,
];

/// Answer-like bytes: records whose owners, names and lengths point anywhere,
/// compression pointers included (0xC0 and up).
fn dns_tail() -> impl Strategy<Value = Vec<u8>> {
    let byte = prop_oneof![
        any::<u8>(),
        Just(0xC0u8),
        Just(0u8),
        Just(12u8),
        Just(1u8),
        Just(5u8),
        Just(16u8),
        Just(33u8),
    ];
    prop::collection::vec(byte, 0..400)
}

proptest! {
    /// Any datagram at all: an outcome, never a panic.
    #[test]
    fn dns_any_message_never_panics(bytes in prop::collection::vec(any::<u8>(), 0..600), id: u16, t in 0..6usize) {
        let _ = dns::parse_response(&bytes, id, "db.test", DNS_TYPES[t]);
    }

    /// Our own query's header and question with an answer count and any answer
    /// section after them: the parser goes past the anti-spoofing checks into the
    /// records, and still never panics or loops.
    #[test]
    fn dns_any_answer_section_never_panics(tail in dns_tail(), count: u16, flags: u16, t in 0..6usize) {
        let rtype = DNS_TYPES[t];
        let mut m = dns::build_query(7, "db.test", rtype);
        m[2..4].copy_from_slice(&((flags | 0x8000) & !0x7A00).to_be_bytes());
        m[6..8].copy_from_slice(&count.to_be_bytes());
        m.extend(tail);
        let _ = dns::parse_response(&m, 7, "db.test", rtype);
    }

    /// Names anywhere in any bytes: read or refused, never a loop or a panic.
    #[test]
    fn dns_names_never_loop(bytes in dns_tail(), at in 0..420usize) {
        if let Ok((name, next)) = dns::read_name(&bytes, at) {
            prop_assert!(next <= bytes.len());
            prop_assert!(name.len() <= 1100);
        }
    }
}
