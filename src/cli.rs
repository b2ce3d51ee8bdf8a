//! The command line of whenready: every option in one table ([`OPTIONS`]) with its
//! help text and its variable, the parser (lexopt), and the `--help` and
//! `--version` texts. The man page and completions (`whenready-docs`) are made from
//! the same table.
//!
//! Values stay strings here; [`crate::config`] parses them together with the
//! `WHENREADY_*` variables, so that an error can name where a bad value came from.
//!
//! Why not clap, which built this before: building its command definition and
//! matching against it was 40% of the instructions of a one-shot check, and its
//! code 130 KB of the binary (README, Performance). lexopt only splits arguments;
//! the table, the messages and the help layout are ours.

use crate::kinds::KINDS;
use std::ffi::{OsStr, OsString};
use std::fmt::Write as _;

/// One option of whenready's command line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Opt {
    /// The long name, without `--`.
    pub long: &'static str,
    /// The short name, if any.
    pub short: Option<char>,
    /// The value's name in help (`DURATION`), or `None` for a switch.
    pub value: Option<&'static str>,
    /// Whether a value may begin with `-` (a duration given as `-1` is then named
    /// as invalid, rather than taken for an option).
    pub hyphen_value: bool,
    /// Its `WHENREADY_*` variable (the contract's rule: `--attempt-timeout` is
    /// `WHENREADY_ATTEMPT_TIMEOUT`), or `None` (`--help`, `--version`).
    pub env: Option<&'static str>,
    /// One line of help: what it does and its default (the variable is added).
    pub help: &'static str,
}

impl Opt {
    /// Its `WHENREADY_*` variable, which `--help` shows and [`crate::config`] reads.
    pub fn var(&self) -> Option<&'static str> {
        self.env
    }

    /// Its line of help, with its variable: `… [env: WHENREADY_TIMEOUT]`.
    pub fn help_line(&self) -> std::borrow::Cow<'static, str> {
        match self.env {
            Some(var) => format!("{} [env: {var}]", self.help).into(),
            None => self.help.into(),
        }
    }

    /// The row of option `--long`.
    pub fn named(long: &str) -> Option<&'static Opt> {
        OPTIONS.iter().find(|o| o.long == long)
    }
}

const fn switch(
    long: &'static str,
    short: Option<char>,
    env: Option<&'static str>,
    help: &'static str,
) -> Opt {
    Opt {
        long,
        short,
        value: None,
        hyphen_value: false,
        env,
        help,
    }
}

const fn valued(
    long: &'static str,
    short: Option<char>,
    value: &'static str,
    hyphen_value: bool,
    env: &'static str,
    help: &'static str,
) -> Opt {
    Opt {
        long,
        short,
        value: Some(value),
        hyphen_value,
        env: Some(env),
        help,
    }
}

/// Every option, in the order `--help` lists them (`--help` and `--version` last).
pub static OPTIONS: &[Opt] = &[
    valued("timeout", Some('t'), "DURATION", true, "WHENREADY_TIMEOUT",
        "Deadline for all targets together: 500ms, 30s, 2m, 1h30m or seconds; 0 = none [default: 60s]"),
    valued("interval", None, "DURATION", true, "WHENREADY_INTERVAL",
        "Longest pause between two attempts at one target [default: 250ms]"),
    valued("attempt-timeout", None, "DURATION", true, "WHENREADY_ATTEMPT_TIMEOUT",
        "Most one attempt may take: connect, TLS, login, query [default: 5s]"),
    switch("once", None, Some("WHENREADY_ONCE"),
        "One attempt per target, no retries: exit 0 if all are ready, else 1 (for healthchecks)"),
    switch("reverse", None, Some("WHENREADY_REVERSE"),
        "Wait until every target is NOT ready (a port closed, a file removed); a permanent failure is still exit 3"),
    valued("stable", None, "DURATION", true, "WHENREADY_STABLE",
        "A target counts only after answering ready (with --reverse: gone) on every attempt for this long [default: 0]"),
    switch("quiet", Some('q'), Some("WHENREADY_QUIET"),
        "Print nothing unless whenready fails, then only the final reason"),
    switch("json", None, Some("WHENREADY_JSON"),
        "Print events as JSON objects, one per line, on stderr"),
    switch("retry-all", None, Some("WHENREADY_RETRY_ALL"),
        "Treat every failure as transient, even a rejected password"),
    valued("http-status", None, "LIST", false, "WHENREADY_HTTP_STATUS",
        "HTTP statuses that mean ready: codes and ranges, e.g. 200,204,300-399 [default: 200-299]"),
    valued("cacert", None, "FILE", false, "WHENREADY_CACERT",
        "Also trust the CA certificates in this PEM file (https, rediss, nats, mqtts, amqps, grpcs)"),
    valued("cert", None, "FILE", false, "WHENREADY_CERT",
        "Client certificate (PEM) presented to TLS servers that ask for one (mTLS); needs --key"),
    valued("key", None, "FILE", false, "WHENREADY_KEY",
        "Private key (PEM) of --cert; group- or world-readable gets a warning"),
    switch("insecure", None, Some("WHENREADY_INSECURE"),
        "Do not verify certificates of https, rediss, nats, mqtts, amqps and grpcs targets (says so on stderr)"),
    switch("help", Some('h'), None, "Print help (see more with '--help')"),
    switch("version", Some('V'), None, "Print version"),
];

/// The program's name in usage and help.
pub const NAME: &str = "whenready";

/// The usage line.
pub const USAGE: &str = "whenready [OPTIONS] [TARGET]... [-- COMMAND [ARG]...]";

/// The positional arguments: the targets, and the command after `--`.
pub const ARGUMENTS: [(&str, &str); 2] = [
    ("TARGET", "Things to wait for (see Targets below)"),
    ("COMMAND", "The command to exec once every target is ready"),
];

/// The first line of help (and the man page's NAME).
pub const ABOUT: &str = "Wait until TCP ports, databases, message brokers, HTTP(S) and gRPC endpoints, DNS records, files and Kubernetes objects are ready, then replace this process with COMMAND";

/// What `--help` says after [`ABOUT`].
pub const LONG_ABOUT: &str = "All targets are probed concurrently, with fast attempts that back off up to --interval. Without a COMMAND, whenready exits 0 once everything is ready.";

/// `--version`: the version, the target it was built for (from build.rs) and every
/// kind's schemes this build can probe.
pub fn version() -> String {
    let schemes: Vec<&str> = KINDS.iter().flat_map(|k| k.schemes()).copied().collect();
    format!(
        "{} ({}; probes: {}; TLS: rustls, ring)",
        env!("CARGO_PKG_VERSION"),
        env!("WHENREADY_TARGET"),
        schemes.join(", ")
    )
}

/// The short help points to the long one.
pub const AFTER_SHORT_HELP: &str =
    "Use --help for examples, exit statuses and environment variables.";

const EXAMPLES: &str = "\
Examples:
  whenready db:5432 -- ./server                 wait for a port, then exec ./server
  whenready postgres://app:$PW@db/app redis://cache:6379 -- python app.py
  whenready --once postgres://app@db/app        compose healthcheck (exit 0 or 1)
  whenready -t 2m https://api/health http://auth:8080/ready
  whenready 'http://es:9200/_cluster/health#json=/status:green,yellow'
                                                JSON value at a pointer (see README)
  whenready --stable 5s postgres://app@db/app   ready only after 5 s without a failure
  whenready --reverse -t 30s old-db:5432 -- ./migrate   wait until the old server is gone";

const EXIT_AND_ENVIRONMENT: &str = "\
Exit status:
  0        all targets ready, or all gone with --reverse (with a COMMAND: its own status)
  1        the deadline passed, or --once found a target not ready (not gone)
  2        usage error (also: no target at all)
  3        permanent failure: authentication rejected, database missing, bad certificate
  126/127  COMMAND cannot be executed / was not found
  130/143  interrupted by SIGINT / SIGTERM before COMMAND started

Environment:
  Every option has a variable: WHENREADY_TIMEOUT, WHENREADY_INTERVAL,
  WHENREADY_ATTEMPT_TIMEOUT, WHENREADY_ONCE, WHENREADY_REVERSE, WHENREADY_STABLE,
  WHENREADY_QUIET, WHENREADY_JSON, WHENREADY_RETRY_ALL, WHENREADY_HTTP_STATUS,
  WHENREADY_CACERT, WHENREADY_CERT, WHENREADY_KEY, WHENREADY_INSECURE.
  Switches take 1/true/yes or 0/false/no. The command line wins.
  WHENREADY_TARGETS adds targets, separated by commas or white space.";

/// The long help's sections: examples, every kind's target form (from the kinds
/// themselves), exit statuses, and the environment with every kind's variables.
pub fn after_long_help() -> String {
    let mut kinds: Vec<_> = KINDS.iter().collect();
    // Network forms first, local paths last.
    kinds.sort_by_key(|k| k.forms().ends_with("PATH"));
    let mut text = format!("{EXAMPLES}\n\nTargets:\n");
    for k in &kinds {
        let (form, ready) = k.help();
        let _ = writeln!(text, "  {form:<41}  {ready}");
    }
    text.push('\n');
    text.push_str(EXIT_AND_ENVIRONMENT);
    for line in KINDS.iter().filter_map(|k| k.environment()) {
        let _ = write!(text, "\n  {line}.");
    }
    text
}

/// An option as help and messages show it: `--timeout <DURATION>`.
fn shown(o: &Opt) -> String {
    match o.value {
        Some(v) => format!("--{} <{v}>", o.long),
        None => format!("--{}", o.long),
    }
}

/// `-h` (short) or `--help` (long): the layout clap gave whenready before, so that
/// scripts and habits do not notice: one line per option in the short form, the
/// description below each option in the long one, then the long help's sections.
pub fn help(long: bool) -> String {
    let mut out = String::new();
    out.push_str(ABOUT);
    if long {
        let _ = write!(out, ".\n\n{LONG_ABOUT}");
    }
    let _ = write!(out, "\n\nUsage: {USAGE}\n\nArguments:\n");
    let names: Vec<String> = ARGUMENTS.iter().map(|(n, _)| format!("[{n}]...")).collect();
    let flags: Vec<String> = OPTIONS
        .iter()
        .map(|o| {
            let short = o.short.map_or("    ".to_string(), |c| format!("-{c}, "));
            format!("{short}{}", shown(o))
        })
        .collect();
    // Each section is aligned on its own longest name, as clap did.
    let width = |names: &[String]| names.iter().map(String::len).max().unwrap_or(0);
    let row = |out: &mut String, width: usize, name: &str, text: &str| {
        if long {
            let _ = write!(out, "  {name}\n          {text}\n\n");
        } else {
            let _ = writeln!(out, "  {name:<width$}  {text}");
        }
    };
    for (name, (_, text)) in names.iter().zip(ARGUMENTS) {
        row(&mut out, width(&names), name, text);
    }
    if !long {
        out.push('\n');
    }
    out.push_str("Options:\n");
    for (flag, o) in flags.iter().zip(OPTIONS) {
        let text = if long && o.long == "help" {
            "Print help (see a summary with '-h')".into()
        } else {
            o.help_line()
        };
        row(&mut out, width(&flags), flag, &text);
    }
    if long {
        out.push_str(&after_long_help());
    } else {
        let _ = write!(out, "\n{AFTER_SHORT_HELP}");
    }
    out.push('\n');
    out
}

/// The parsed command line: values as given, checked by [`crate::config`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Cli {
    /// Things to wait for.
    pub targets: Vec<String>,
    /// `-t`, `--timeout`.
    pub timeout: Option<String>,
    /// `--interval`.
    pub interval: Option<String>,
    /// `--attempt-timeout`.
    pub attempt_timeout: Option<String>,
    /// `--once`.
    pub once: bool,
    /// `--reverse`.
    pub reverse: bool,
    /// `--stable`.
    pub stable: Option<String>,
    /// `-q`, `--quiet`.
    pub quiet: bool,
    /// `--json`.
    pub json: bool,
    /// `--retry-all`.
    pub retry_all: bool,
    /// `--http-status`.
    pub http_status: Option<String>,
    /// `--cacert`.
    pub cacert: Option<OsString>,
    /// `--cert`.
    pub cert: Option<OsString>,
    /// `--key`.
    pub key: Option<OsString>,
    /// `--insecure`.
    pub insecure: bool,
    /// The command to exec once every target is ready (after `--`).
    pub command: Vec<OsString>,
}

/// Why parsing stopped before a [`Cli`]: help or the version was asked for
/// (printed on stdout, exit 0), or the command line is wrong (exit 2).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Stop {
    /// `-h` (false) or `--help` (true).
    Help(bool),
    /// `-V`, `--version`.
    Version,
    /// A usage error, one line, naming the bad argument.
    Usage(String),
}

impl std::fmt::Display for Stop {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Stop::Help(long) => f.write_str(&help(*long)),
            Stop::Version => write!(f, "{NAME} {}", version()),
            Stop::Usage(why) => write!(f, "{why} (see whenready --help)"),
        }
    }
}

/// An argument as messages quote it: lossy for bytes that are not UTF-8, control
/// characters escaped (`\n`), so that a usage error stays on one line.
fn quoted(a: &OsStr) -> String {
    printable(&a.to_string_lossy())
}

fn printable(s: &str) -> String {
    s.chars()
        .flat_map(|c| {
            let escaped = c.is_control().then(|| c.escape_default());
            escaped
                .into_iter()
                .flatten()
                .chain((!c.is_control()).then_some(c))
        })
        .collect()
}

/// "unexpected argument" for something that looks like an option but is none,
/// with clap's tips: a similar long option, or how to pass it as a value.
fn unknown(arg: &str) -> Stop {
    let arg = &printable(arg);
    let tip = arg
        .strip_prefix("--")
        .and_then(|name| {
            let name = name.split_once('=').map_or(name, |(n, _)| n);
            OPTIONS
                .iter()
                .map(|o| (strsim::jaro(name, o.long), o.long))
                .filter(|(score, _)| *score > 0.7)
                .max_by(|a, b| a.0.total_cmp(&b.0))
                .map(|(_, long)| format!("a similar argument exists: '--{long}'"))
        })
        .unwrap_or_else(|| format!("to pass '{arg}' as a value, use '-- {arg}'"));
    Stop::Usage(format!("unexpected argument '{arg}' found; {tip}"))
}

fn utf8(value: OsString, what: &str) -> Result<String, Stop> {
    value.into_string().map_err(|v| {
        Stop::Usage(format!(
            "invalid UTF-8 in {what}: {:?}",
            v.to_string_lossy()
        ))
    })
}

fn string(v: &mut Option<String>, value: OsString, o: &Opt) -> Result<(), Stop> {
    *v = Some(utf8(value, &shown(o))?);
    Ok(())
}

impl Cli {
    /// Parses a command line (`args[0]` is the program), as [`parse`].
    pub fn try_parse_from<I, T>(args: I) -> Result<Cli, Stop>
    where
        I: IntoIterator<Item = T>,
        T: Into<OsString>,
    {
        let args: Vec<OsString> = args.into_iter().map(Into::into).collect();
        parse(&args)
    }
}

/// Parses a command line (`args[0]` is the program). Options may come before,
/// between and after targets; everything after the first `--` is COMMAND, verbatim.
/// The last value of a repeated option wins, as in most Unix tools (a wrapper
/// script may append to a base command line).
pub fn parse(args: &[OsString]) -> Result<Cli, Stop> {
    use lexopt::Arg;
    let mut cli = Cli::default();
    // The first `--` ends the options and the targets: what follows is COMMAND. It
    // is never an option's value (`-t --` lacks one), so it can be cut off first.
    let args = args.get(1..).unwrap_or_default();
    let words = match args.iter().position(|a| a == "--") {
        Some(end) => {
            cli.command = args[end + 1..].to_vec();
            &args[..end]
        }
        None => args,
    };
    let mut parser = lexopt::Parser::from_args(words);
    loop {
        let arg = match parser.next() {
            Ok(Some(arg)) => arg,
            Ok(None) => break,
            Err(e) => return Err(lexopt_error(e)),
        };
        let long = matches!(arg, Arg::Long(_));
        let opt = match arg {
            Arg::Value(v) => {
                cli.targets.push(utf8(v, "a target")?);
                continue;
            }
            Arg::Short(c) => OPTIONS
                .iter()
                .find(|o| o.short == Some(c))
                .ok_or_else(|| unknown(&format!("-{c}")))?,
            Arg::Long(name) => OPTIONS
                .iter()
                .find(|o| o.long == name)
                .ok_or_else(|| unknown(&format!("--{name}")))?,
        };
        let value = match opt.value {
            // `--help=2`: lexopt would object at its next argument, but help and
            // the version end the parse here.
            None if long && matches!(opt.long, "help" | "version") => {
                if let Some(v) = parser.optional_value() {
                    return Err(lexopt_error(lexopt::Error::UnexpectedValue {
                        option: format!("--{}", opt.long),
                        value: v,
                    }));
                }
                None
            }
            None => None,
            Some(_) => Some(value_of(&mut parser, opt)?),
        };
        match (opt.long, value) {
            ("help", _) => return Err(Stop::Help(long)),
            ("version", _) => return Err(Stop::Version),
            ("once", _) => cli.once = true,
            ("reverse", _) => cli.reverse = true,
            ("quiet", _) => cli.quiet = true,
            ("json", _) => cli.json = true,
            ("retry-all", _) => cli.retry_all = true,
            ("insecure", _) => cli.insecure = true,
            ("timeout", Some(v)) => string(&mut cli.timeout, v, opt)?,
            ("interval", Some(v)) => string(&mut cli.interval, v, opt)?,
            ("attempt-timeout", Some(v)) => string(&mut cli.attempt_timeout, v, opt)?,
            ("stable", Some(v)) => string(&mut cli.stable, v, opt)?,
            ("http-status", Some(v)) => string(&mut cli.http_status, v, opt)?,
            ("cacert", Some(v)) => cli.cacert = Some(v),
            ("cert", Some(v)) => cli.cert = Some(v),
            ("key", Some(v)) => cli.key = Some(v),
            // Every row of OPTIONS has its arm above (a unit test walks them all).
            (other, _) => return Err(Stop::Usage(format!("option --{other} is not handled"))),
        }
    }
    Ok(cli)
}

/// The value of an option that takes one: `--opt=V`, `-oV`, or the next argument.
/// A next argument that looks like an option is not taken as the value, unless the
/// option's values may begin with `-` (durations, so that `-t -5` says why -5 is no
/// duration).
fn value_of(parser: &mut lexopt::Parser, opt: &Opt) -> Result<OsString, Stop> {
    let missing = || {
        Stop::Usage(format!(
            "a value is required for '{}' but none was supplied",
            shown(opt)
        ))
    };
    if let Some(v) = parser.optional_value() {
        return Ok(v);
    }
    let mut raw = parser.raw_args().map_err(|_| missing())?;
    match raw.peek() {
        None => Err(missing()),
        Some(next) if !opt.hyphen_value && next.len() > 1 && next.as_encoded_bytes()[0] == b'-' => {
            Err(missing())
        }
        Some(_) => raw.next().ok_or_else(missing),
    }
}

/// lexopt's own errors, in the words of the messages above.
fn lexopt_error(e: lexopt::Error) -> Stop {
    match e {
        lexopt::Error::UnexpectedValue { option, value } => Stop::Usage(format!(
            "unexpected value '{}' for '{}' found; no more were expected",
            quoted(&value),
            printable(&option)
        )),
        lexopt::Error::NonUnicodeValue(v) => Stop::Usage(format!(
            "invalid UTF-8 was detected in an argument: {:?}",
            v.to_string_lossy()
        )),
        other => Stop::Usage(printable(&other.to_string())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(a: &[&str]) -> Result<Cli, Stop> {
        Cli::try_parse_from(std::iter::once("whenready").chain(a.iter().copied()))
    }

    fn usage(a: &[&str]) -> String {
        match parse(a) {
            Err(Stop::Usage(why)) => why,
            other => panic!("{a:?}: {other:?}"),
        }
    }

    #[test]
    fn every_option_names_its_variable_by_the_contracts_rule() {
        for o in OPTIONS {
            if matches!(o.long, "help" | "version") {
                assert_eq!(o.var(), None, "--{}", o.long);
                continue;
            }
            let rule = format!("WHENREADY_{}", o.long.to_uppercase().replace('-', "_"));
            assert_eq!(o.var(), Some(rule.as_str()), "--{}", o.long);
            let listed = EXIT_AND_ENVIRONMENT.split(|c: char| !c.is_ascii_uppercase() && c != '_');
            assert!(
                listed.clone().any(|w| w == rule),
                "{rule} is not in the help's list"
            );
            assert!(std::ptr::eq(Opt::named(o.long).unwrap(), o));
        }
        assert!(Opt::named("timout").is_none());
    }

    #[test]
    fn every_option_is_handled() {
        for o in OPTIONS {
            let mut args = vec![format!("--{}", o.long)];
            if o.value.is_some() {
                args.push("1".into());
            }
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            match parse(&args) {
                Ok(cli) => assert_ne!(cli, Cli::default(), "--{}", o.long),
                Err(Stop::Help(true)) => assert_eq!(o.long, "help"),
                Err(Stop::Version) => assert_eq!(o.long, "version"),
                Err(e) => panic!("--{}: {e:?}", o.long),
            }
            if let Some(c) = o.short {
                assert!(
                    parse(&[&format!("-{c}"), "1"]).is_ok()
                        || matches!(
                            parse(&[&format!("-{c}")]),
                            Err(Stop::Help(false) | Stop::Version)
                        )
                );
            }
        }
        // Names are unique.
        for (i, o) in OPTIONS.iter().enumerate() {
            for p in &OPTIONS[i + 1..] {
                assert_ne!(o.long, p.long);
                assert!(o.short.is_none() || o.short != p.short, "{}", o.long);
            }
        }
    }

    #[test]
    fn forms_of_values_and_switches() {
        let cli = parse(&[
            "-t5",
            "--interval=1s",
            "--attempt-timeout",
            "2s",
            "-qt",
            "7",
            "db:1",
        ])
        .unwrap();
        assert_eq!(cli.timeout.as_deref(), Some("7"));
        assert_eq!(cli.interval.as_deref(), Some("1s"));
        assert_eq!(cli.attempt_timeout.as_deref(), Some("2s"));
        assert!(cli.quiet);
        assert_eq!(cli.targets, ["db:1"]);
        // A duration may begin with '-': the value is then said to be invalid.
        assert_eq!(parse(&["-t", "-5"]).unwrap().timeout.as_deref(), Some("-5"));
        // -tq is a timeout of "q", as clap read it.
        assert_eq!(parse(&["-tq"]).unwrap().timeout.as_deref(), Some("q"));
        // A lone "-" is a target (named as invalid later), not an option.
        assert_eq!(parse(&["-"]).unwrap().targets, ["-"]);
    }

    #[test]
    fn command_after_double_dash_is_kept_verbatim() {
        let cli = parse(&["db:1", "-t", "5", "--", "ls", "-la", "--", "x"]).unwrap();
        assert_eq!(cli.targets, ["db:1"]);
        assert_eq!(cli.timeout.as_deref(), Some("5"));
        assert_eq!(cli.command, ["ls", "-la", "--", "x"]);
        // After --, -V and --help belong to COMMAND.
        let cli = parse(&["db:1", "--", "prog", "-V", "--help"]).unwrap();
        assert_eq!(cli.command, ["prog", "-V", "--help"]);
        assert_eq!(parse(&["--", "x"]).unwrap().targets, Vec::<String>::new());
    }

    #[test]
    fn last_value_wins() {
        let cli = parse(&["-t", "5", "--timeout=7", "db:1"]).unwrap();
        assert_eq!(cli.timeout.as_deref(), Some("7"));
        assert!(parse(&["--once", "--once", "db:1"]).unwrap().once);
    }

    #[test]
    fn usage_errors_name_the_argument() {
        assert_eq!(
            usage(&["--frob"]),
            "unexpected argument '--frob' found; to pass '--frob' as a value, use '-- --frob'"
        );
        assert_eq!(
            usage(&["--timout", "5"]),
            "unexpected argument '--timout' found; a similar argument exists: '--timeout'"
        );
        assert_eq!(
            usage(&["-qx"]),
            "unexpected argument '-x' found; to pass '-x' as a value, use '-- -x'"
        );
        for args in [&["--timeout"][..], &["-t"], &["db:1", "-t", "--", "x"]] {
            assert_eq!(
                usage(args),
                "a value is required for '--timeout <DURATION>' but none was supplied",
                "{args:?}"
            );
        }
        assert_eq!(
            usage(&["--cacert", "--once"]),
            "a value is required for '--cacert <FILE>' but none was supplied"
        );
        assert_eq!(
            usage(&["--once=1"]),
            "unexpected value '1' for '--once' found; no more were expected"
        );
        assert_eq!(
            usage(&["--a\nb"]),
            "unexpected argument '--a\\nb' found; to pass '--a\\nb' as a value, use '-- --a\\nb'"
        );
        assert_eq!(
            usage(&["--once=x\ty"]),
            "unexpected value 'x\\ty' for '--once' found; no more were expected"
        );
        let shown = Stop::Usage(usage(&["--json=yes"])).to_string();
        assert!(shown.ends_with("(see whenready --help)"), "{shown}");
    }

    #[test]
    fn help_and_version_are_asked_for_anywhere_before_double_dash() {
        assert_eq!(parse(&["-h"]), Err(Stop::Help(false)));
        assert_eq!(parse(&["db:1", "--help"]), Err(Stop::Help(true)));
        assert_eq!(parse(&["-qV"]), Err(Stop::Version));
        assert_eq!(parse(&["--version"]), Err(Stop::Version));
        assert!(matches!(parse(&["--version=1"]), Err(Stop::Usage(_))));
        assert!(matches!(parse(&["--help=2"]), Err(Stop::Usage(_))));
        let v = Stop::Version.to_string();
        assert!(
            v.starts_with("whenready 0.") && v.contains("probes: tcp"),
            "{v}"
        );
    }

    #[test]
    fn help_lists_every_option_and_argument() {
        let (short, long) = (help(false), help(true));
        for o in OPTIONS {
            for text in [&short, &long] {
                assert!(text.contains(&shown(o)), "{}", o.long);
            }
            assert!(
                short.contains(&*o.help_line()) || o.long == "help",
                "{}",
                o.long
            );
        }
        assert!(short.contains("  -t, --timeout <DURATION>  "), "{short}");
        assert!(
            long.contains("\n  -t, --timeout <DURATION>\n          Deadline"),
            "{long}"
        );
        assert!(long.contains("Exit status:") && !short.contains("Exit status:"));
        assert!(short.ends_with("environment variables.\n"), "{short}");
    }
}
