//! Targets: what the user asked to wait for, parsed once at the edge. This module
//! reads `HOST:PORT`, dispatches a URL to the kind that owns its scheme
//! ([`crate::kinds::KINDS`]), and masks secrets in every form a target is shown in
//! ([`Target::shown`]); each kind parses the rest of its own URL.

use crate::endpoint::{decode, parse_host_port, Endpoint, MISSING_PORT};
use crate::env::Env;
use crate::probe::{file::FileTarget, tcp::TcpTarget, Check, Kind};
use std::path::PathBuf;
use std::sync::Arc;
use url::Url;

/// One thing to wait for, as parsed from the command line or `WHENREADY_TARGETS`.
#[derive(Clone)]
pub struct Target {
    /// What to probe and how.
    pub check: Arc<dyn Check>,
    /// How the target is shown in every message: the user's text with secrets masked.
    pub shown: String,
}

impl std::fmt::Debug for Target {
    // Debug must not leak secrets either: show only the masked form.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Target({})", self.shown)
    }
}

impl std::fmt::Display for Target {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.shown)
    }
}

/// Why a target does not parse. Every variant displays as one sentence that quotes
/// the input with its secrets masked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ParseError {
    /// Nothing but white space.
    Empty,
    /// `unix:` or `file:` without the three slashes of an absolute path.
    NotAbsolute {
        /// `unix` or `file`.
        scheme: String,
        /// The input.
        text: String,
    },
    /// No kind owns the URL's scheme.
    UnsupportedScheme {
        /// The scheme, lowercase.
        scheme: String,
        /// The input, masked.
        shown: String,
    },
    /// The input, masked, and why it is not a valid target of its kind.
    Invalid {
        /// The input, masked.
        shown: String,
        /// Why, as the kind or the host parser says it.
        why: String,
    },
}

impl std::fmt::Display for ParseError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ParseError::Empty => f.write_str("empty target"),
            ParseError::NotAbsolute { scheme, text } => {
                write!(
                    f,
                    "invalid target {text:?}: write {scheme}:///ABSOLUTE/PATH"
                )
            }
            ParseError::UnsupportedScheme { scheme, shown } => write!(
                f,
                "unsupported scheme {scheme:?} in {shown:?}: use {}",
                crate::kinds::all_forms()
            ),
            ParseError::Invalid { shown, why } => write!(f, "invalid target {shown:?}: {why}"),
        }
    }
}

impl std::error::Error for ParseError {}

impl Target {
    /// Parses one target. `env` supplies the variables kinds read (PGHOST, ...).
    pub fn parse(text: &str, env: &Env) -> Result<Target, ParseError> {
        let text = text.trim();
        if text.is_empty() {
            return Err(ParseError::Empty);
        }
        if let Some((scheme, rest)) = text.split_once(':') {
            let kind = crate::kinds::kind_of(&scheme.to_ascii_lowercase());
            if let Some(kind) = kind.filter(|k| k.opaque()) {
                let shown = mask_opaque(text);
                let check = kind
                    .parse_opaque(rest, env)
                    .map_err(|why| ParseError::Invalid {
                        shown: shown.clone(),
                        why,
                    })?;
                return Ok(Target {
                    check: Arc::from(check),
                    shown,
                });
            }
        }
        let Some((scheme, _)) = text.split_once("://") else {
            if text.starts_with("unix:") || text.starts_with("file:") {
                let (scheme, _) = text.split_once(':').unwrap_or_default();
                return Err(ParseError::NotAbsolute {
                    scheme: scheme.into(),
                    text: mask_raw(text),
                });
            }
            let invalid = |why: String| ParseError::Invalid {
                shown: mask_raw(text),
                why,
            };
            if text.contains('@') {
                // USER:PASSWORD@HOST:PORT, or the end of a password that white
                // space cut off its URL: everything before the '@' is masked.
                return Err(ParseError::Invalid {
                    shown: mask_raw(text),
                    why: "credentials need a URL, e.g. postgres://USER:PASSWORD@HOST".into(),
                });
            }
            let endpoint = parse_host_port(text)
                .map_err(|why| match why.starts_with(MISSING_PORT) {
                    // A host alone may be a URL missing its scheme: name the forms.
                    true => format!("{why}, or a URL ({})", crate::kinds::all_forms()),
                    false => why,
                })
                .map_err(invalid)?;
            return Ok(Target::tcp(endpoint, text.to_string()));
        };
        let masked = mask_raw(text);
        let invalid = |why: String| ParseError::Invalid {
            shown: masked.clone(),
            why,
        };
        let scheme = scheme.to_ascii_lowercase();
        let Some(kind) = crate::kinds::kind_of(&scheme) else {
            return Err(ParseError::UnsupportedScheme {
                scheme,
                shown: masked,
            });
        };
        kind.check_raw(text).map_err(invalid)?;
        if let Some(check) = kind.parse_text(text, env) {
            return Ok(Target {
                check: Arc::from(check.map_err(invalid)?),
                shown: masked,
            });
        }
        let url = Url::parse(text).map_err(|e| invalid(e.to_string()))?;
        register_secrets(&url, kind);
        if url.fragment().is_some() && !kind.takes_fragment() {
            let readers: Vec<&str> = crate::kinds::KINDS
                .iter()
                .filter(|k| k.takes_fragment())
                .map(|k| k.name())
                .collect();
            return Err(invalid(format!(
                "a {} target takes no #fragment (only {} targets read #expectations)",
                kind.name(),
                readers.join(", ")
            )));
        }
        let mut shown = mask_url(&url, kind);
        if kind.fragment_as_given() {
            if let (Some(at), Some(raw)) = (shown.find('#'), text.find('#')) {
                shown.truncate(at);
                shown.push_str(&text[raw..]);
            }
        }
        let check = kind.parse(&url, env).map_err(invalid)?;
        Ok(Target {
            check: Arc::from(check),
            shown,
        })
    }

    /// A TCP target for an endpoint parsed elsewhere (the drop-in personalities).
    pub fn tcp(endpoint: Endpoint, shown: String) -> Target {
        Target {
            check: Arc::new(TcpTarget(endpoint)),
            shown,
        }
    }

    /// A file target for a path given as such (docker-compose-wait's WAIT_PATHS).
    pub fn file(path: PathBuf, shown: String) -> Target {
        Target {
            check: Arc::new(FileTarget::new(path)),
            shown,
        }
    }
}

/// Registers the secrets a URL carries ([`crate::secret`]), as written and decoded:
/// its password, a user part that the kind reads as a token, and the values of the
/// kind's secret query parameters.
fn register_secrets(url: &Url, kind: &dyn Kind) {
    let both = |raw: &str| {
        crate::secret::register(raw);
        crate::secret::register(&decode(raw));
    };
    match url.password() {
        Some(password) => both(password),
        None if kind.user_is_token() => both(url.username()),
        None => {}
    }
    let secret = kind.secret_params();
    for pair in url.query().unwrap_or("").split('&') {
        if let Some((key, value)) = pair.split_once('=') {
            if secret.contains(&decode(key).to_ascii_lowercase().as_str()) {
                both(value);
                // Form encoding: '+' is a space (as `query_pairs` reads it).
                both(&value.replace('+', " "));
            }
        }
    }
}

/// An opaque target (`cmd:WORDS`) as shown: the passwords of the URLs among its
/// words registered as secrets ([`crate::secret`]), then every registered secret in
/// it masked.
fn mask_opaque(text: &str) -> String {
    let words = shell_words::split(text)
        .unwrap_or_else(|_| text.split_whitespace().map(str::to_string).collect());
    for word in &words {
        let Some(sep) = word.find("://") else {
            continue;
        };
        // Where the scheme starts: `--url=postgres://…` holds a URL too.
        let start = word[..sep]
            .rfind(|c: char| !(c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.')))
            .map_or(0, |i| i + 1);
        if let Ok(url) = Url::parse(&word[start..]) {
            if let Some(password) = url.password() {
                crate::secret::register(password);
                crate::secret::register(&decode(password));
            }
        }
    }
    crate::secret::mask(text).into_owned()
}

/// Splits a list of targets (`WHENREADY_TARGETS`) at white space and at commas,
/// except a comma that belongs to a URL: one in its user info
/// (`postgres://u:pa,ss@db`: no '/', '?' or '#' between "://" and the comma, and
/// an '@' after it before the next of them), or anywhere in the authority of a
/// kind whose authority is a list of hosts ([`Kind::authority_is_host_list`]).
/// So `redis://cache:6379,db:5432` is two targets.
pub fn split_list(text: &str) -> Vec<&str> {
    let mut out = Vec::new();
    for word in text.split(char::is_whitespace) {
        let (mut start, mut from) = (0, 0);
        while let Some(i) = word[from..].find(',') {
            let comma = from + i;
            if !comma_belongs_to_url(&word[start..], comma - start) {
                out.push(&word[start..comma]);
                start = comma + 1;
            }
            from = comma + 1;
        }
        out.push(&word[start..]);
    }
    out.retain(|t| !t.is_empty());
    out
}

/// Whether the comma at `comma` of `piece` (a list's entry so far) is part of a URL
/// that `piece` begins.
fn comma_belongs_to_url(piece: &str, comma: usize) -> bool {
    let Some(sep) = piece.find("://") else {
        return false;
    };
    let start = sep + 3;
    let end = piece[start..]
        .find(['/', '?', '#'])
        .map_or(piece.len(), |i| start + i);
    if comma < start || comma >= end {
        return false;
    }
    let host_list = crate::kinds::kind_of(&piece[..sep].to_ascii_lowercase())
        .is_some_and(|k| k.authority_is_host_list());
    host_list || piece[comma + 1..end].contains('@')
}

/// Whether a query parameter (lowercase) holds a secret for some kind.
fn is_secret_param(name: &str) -> bool {
    name == "pass"
        || crate::kinds::KINDS
            .iter()
            .any(|k| k.secret_params().contains(&name))
}

/// The URL as `kind` shows it: its password, the values of the kind's secret query
/// parameters, and a user part that the kind reads as a token, replaced by `***`.
pub fn mask_url(url: &Url, kind: &dyn Kind) -> String {
    let secret = kind.secret_params();
    let mut url = url.clone();
    if url.password().is_some() {
        let _ = url.set_password(Some("***"));
    } else if kind.user_is_token() && !url.username().is_empty() {
        let _ = url.set_username("***");
    }
    // The query is rewritten only to mask a secret in it: else it is shown as
    // written (`?field=/status/phase:Bound`, not re-encoded).
    let has_secret = url
        .query_pairs()
        .any(|(k, _)| secret.contains(&k.to_ascii_lowercase().as_str()));
    if has_secret {
        let pairs: Vec<(String, String)> = url
            .query_pairs()
            .map(|(k, v)| {
                let hide = secret.contains(&k.to_ascii_lowercase().as_str());
                (
                    k.into_owned(),
                    if hide { "***".into() } else { v.into_owned() },
                )
            })
            .collect();
        url.query_pairs_mut().clear().extend_pairs(pairs);
    }
    url.to_string().replace("%2A%2A%2A", "***")
}

/// Masks secrets in text that did not parse as a URL, or that a kind refused: the
/// password of the user info and the values of every kind's secret query
/// parameters. Where the text leaves it unsure what is a password, more is masked:
/// an authority whose port is no number (`postgres://u:Sec`, the start of a password
/// that white space or a comma cut off) is masked from its colon on, or, when an
/// '@' follows later (`postgres://u:pa/ss@db`), from "://" to that '@'; text
/// without "://" that has an '@' is masked up to it.
pub fn mask_raw(text: &str) -> String {
    let mut out = text.to_string();
    // Where a user info written without a URL, or cut loose, could end.
    let last_at = |s: &str| s[..s.find('#').unwrap_or(s.len())].rfind('@');
    if let Some(start) = out.find("://").map(|i| i + 3) {
        let authority_end = out[start..]
            .find(['/', '?', '#'])
            .map_or(out.len(), |i| start + i);
        if let Some(at) = out[start..authority_end].rfind('@').map(|i| start + i) {
            let scheme = out[..start - 3].to_ascii_lowercase();
            if let Some(colon) = out[start..at].find(':').map(|i| start + i) {
                out.replace_range(colon + 1..at, "***");
            } else if crate::kinds::kind_of(&scheme).is_some_and(|k| k.user_is_token()) {
                out.replace_range(start..at, "***");
            }
        } else if let Some(colon) = unsure_port(&out[start..authority_end]).map(|i| start + i) {
            match last_at(&out[authority_end..]).map(|i| authority_end + i) {
                Some(at) => out.replace_range(start..at, "***"),
                None => out.replace_range(colon + 1..authority_end, "***"),
            }
        }
    } else if let Some(at) = last_at(&out) {
        out.replace_range(..at, "***");
    }
    // A secret header written into an http fragment is refused, but the refusal
    // quotes the target: its value is masked too.
    let fragment = out.find('#').map(|h| out.split_off(h));
    if let Some(q) = out.find('?') {
        let (head, query) = out.split_at(q + 1);
        let masked: Vec<String> = query
            .split('&')
            .map(|pair| match pair.split_once('=') {
                Some((k, _)) if is_secret_param(&decode(k).to_ascii_lowercase()) => {
                    format!("{k}=***")
                }
                _ => pair.to_string(),
            })
            .collect();
        out = format!("{head}{}", masked.join("&"));
    }
    if let Some(fragment) = fragment {
        let masked: Vec<String> = fragment
            .split('&')
            .map(|pair| {
                let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
                let name = decode(value.split(':').next().unwrap_or("")).to_ascii_lowercase();
                let secret = matches!(key.trim_start_matches('#'), "send-header")
                    && matches!(
                        name.trim(),
                        "authorization" | "proxy-authorization" | "cookie"
                    );
                match value.split_once(':') {
                    Some((n, _)) if secret => format!("{key}={n}:***"),
                    _ => pair.to_string(),
                }
            })
            .collect();
        out.push_str(&masked.join("&"));
    }
    out
}

/// In an authority without user info, the colon before a port that is no number
/// (perhaps a piece of a password), if there is one. A list of hosts with ports
/// (`a:1,b:2`) is sure.
fn unsure_port(authority: &str) -> Option<usize> {
    // The colons of an IPv6 literal are no port's.
    let host_end = match authority.strip_prefix('[') {
        Some(rest) => rest.find(']').map_or(authority.len(), |i| i + 2),
        None => 0,
    };
    let colon = host_end + authority[host_end..].find(':')?;
    let digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    let sure = authority[colon + 1..]
        .split(',')
        .enumerate()
        .all(|(n, item)| match n {
            0 => digits(item),
            _ => digits(item.rsplit_once(':').map_or("", |(_, port)| port)),
        });
    (!sure).then_some(colon)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Target, String> {
        Target::parse(text, &Env::default()).map_err(|e| e.to_string())
    }

    #[test]
    fn kinds_mask_their_own_secrets_in_shown() {
        assert_eq!(parse("nats://tok@h:1").unwrap().shown, "nats://***@h:1");
        assert_eq!(parse("nats://u:pw@h:1").unwrap().shown, "nats://u:***@h:1");
        let e = parse("nats://tok@h:99999").unwrap_err();
        assert!(!e.contains("tok"), "{e}");
        assert_eq!(
            parse("memcached://app:s3cret@h:1").unwrap().shown,
            "memcached://app:***@h:1"
        );
    }

    #[test]
    fn host_port_forms_are_shown_as_written() {
        for text in [
            "db:5432",
            "127.0.0.1:80",
            "[::1]:6379",
            "tcp://[::1]:6379",
            "tcp://localhost:1",
            "tcp://10.0.0.1:1",
        ] {
            assert_eq!(parse(text).unwrap().shown, text);
        }
    }

    #[test]
    fn bad_targets_say_why() {
        for (text, needle) in [
            ("db", "missing port"),
            ("db:", "invalid port"),
            ("db:0", "invalid port"),
            ("db:65536", "invalid port"),
            ("db:http", "invalid port"),
            (":80", "missing host"),
            ("::1:80", "brackets"),
            ("[::1]", "missing port"),
            ("[nope]:1", "not an IPv6"),
            ("tcp://db", "missing port"),
            ("tcp://db:1/x", "nothing more"),
            ("cassandra://db:9042", "unsupported scheme"),
            ("unix:relative", "ABSOLUTE"),
            ("http://", "invalid target"),
            ("redis://h/abc", "invalid database"),
            ("postgres://h/db?bogus=1", "unknown libpq parameter"),
            ("postgres://h/db?sslmode=maybe", "invalid sslmode"),
            ("postgres://a:1,b:2/db", "several hosts"),
            ("a b:1", "invalid host"),
            ("app:s3cret@db:5432", "credentials need a URL"),
            ("tcp://h:1#x", "takes no #fragment"),
            ("redis://h#x", "needs a value"),
            ("postgres://h/db#query=", "query= needs SQL"),
            ("mysql://h/db#tabel=t", "unknown expectation \"tabel\""),
            ("cmd:", "no command"),
            ("cmd:echo 'unclosed", "quote"),
            ("http://h/#jsn=/a", "unknown expectation or option \"jsn\""),
            ("http+unix://relative/x", "absolute path"),
        ] {
            let err = parse(text)
                .err()
                .unwrap_or_else(|| panic!("{text} should fail"));
            assert!(err.contains(needle), "{text}: {err}");
            assert!(!err.contains("s3cret"), "{text}: {err}");
        }
    }

    #[test]
    fn secrets_are_masked_in_shown_and_errors() {
        let t = parse("postgres://app:s3cret@db:5432/app?sslmode=disable").unwrap();
        assert_eq!(t.shown, "postgres://app:***@db:5432/app?sslmode=disable");
        let t = parse("postgres://app@db/app?password=s3cret").unwrap();
        assert!(!t.shown.contains("s3cret"), "{}", t.shown);
        // A query without a secret is shown as written, not re-encoded.
        let t = parse("k8s://pvc/data?field=/status/phase:Bound").unwrap();
        assert_eq!(t.shown, "k8s://pvc/data?field=/status/phase:Bound");
        let t = parse("redis://:s3cret@cache:6379/1").unwrap();
        assert_eq!(t.shown, "redis://:***@cache:6379/1");
        let t = parse("https://u:s3cret@example.com/health").unwrap();
        assert_eq!(t.shown, "https://u:***@example.com/health");
        assert!(!format!("{t:?}").contains("s3cret"));
        let err = parse("postgres://app:s3cret@db:99999/app").unwrap_err();
        assert!(!err.contains("s3cret") && err.contains("***"), "{err}");
        let err = parse("postgres://app@db/app?password=s3cret&bogus=1").unwrap_err();
        assert!(!err.contains("s3cret"), "{err}");
        assert_eq!(
            mask_raw("x://u:p@a:b@h/?password=z&k=v"),
            "x://u:***@h/?password=***&k=v"
        );
        assert_eq!(
            mask_raw("http://h/?a=1#send-header=Authorization:Bearer%20s3cret&send-header=accept:x&status=200"),
            "http://h/?a=1#send-header=Authorization:***&send-header=accept:x&status=200"
        );
        let err = parse("http://h/#send-header=authorization:s3cret").unwrap_err();
        assert!(
            !err.contains("s3cret") && err.contains("secret on the command line"),
            "{err}"
        );
    }

    #[test]
    fn lists_split_at_white_space_and_commas_outside_user_info() {
        for (text, parts) in [
            ("a:1,b:2 \n c:3", &["a:1", "b:2", "c:3"][..]),
            (" , ,, ", &[][..]),
            (
                "redis://cache:6379,db:5432",
                &["redis://cache:6379", "db:5432"],
            ),
            (
                "postgres://u:Sec,retPw@db/app,db:1",
                &["postgres://u:Sec,retPw@db/app", "db:1"],
            ),
            ("postgres://u:a,b,c@db", &["postgres://u:a,b,c@db"]),
            (
                "postgres://u:p@db/app,x=1,y@z:1",
                &["postgres://u:p@db/app", "x=1", "y@z:1"],
            ),
            (
                "redis://cache:6379,postgres://u:p,w@db/app",
                &["redis://cache:6379", "postgres://u:p,w@db/app"],
            ),
            (
                "http://h/?a=1,2#json=/s:green,yellow",
                &["http://h/?a=1", "2#json=/s:green", "yellow"],
            ),
            ("tcp://h:1,u@h:2", &["tcp://h:1,u@h:2"]),
            ("postgres://a:1,b:2/db", &["postgres://a:1", "b:2/db"]),
            // Kinds whose authority is a list of hosts keep it whole.
            (
                "kafka://b1:9092,b2:9092,db:5432",
                &["kafka://b1:9092,b2:9092,db:5432"],
            ),
            (
                "mongodb://h1,h2/app,redis://cache:6379",
                &["mongodb://h1,h2/app", "redis://cache:6379"],
            ),
            (
                "kafka://b1:9092,b2:9092/ db:5432",
                &["kafka://b1:9092,b2:9092/", "db:5432"],
            ),
        ] {
            assert_eq!(split_list(text), parts, "{text}");
        }
    }

    #[test]
    fn unsure_text_never_shows_a_piece_of_a_password() {
        for (text, shown) in [
            ("postgres://u:Sec", "postgres://u:***"),
            ("postgres://u:Sec,ret", "postgres://u:***"),
            ("postgres://u:Se/c@db/app", "postgres://***@db/app"),
            ("postgres://u:Se?c@db/app", "postgres://***@db/app"),
            ("retPw@db/app", "***@db/app"),
            ("app:s3cret@db:5432", "***@db:5432"),
            ("postgres://a:1,b:2/db", "postgres://a:1,b:2/db"),
            ("tcp://[::1]:80", "tcp://[::1]:80"),
            ("tcp://[::1]:x", "tcp://[::1]:***"),
            ("redis://cache:6379/0", "redis://cache:6379/0"),
            ("http://h/p@x", "http://h/p@x"),
        ] {
            assert_eq!(mask_raw(text), shown, "{text}");
        }
        for text in [
            "postgres://u:Sec",
            "postgres://u:Se/c@db/app",
            "retPw@db/app",
            "file:u:Sec@x",
        ] {
            let err = parse(text).unwrap_err();
            for piece in ["Sec", "Se/c", "retPw"] {
                assert!(!err.contains(piece), "{text}: {err}");
            }
        }
    }

    #[test]
    fn parsing_registers_the_secrets_a_url_carries() {
        use crate::secret::mask;
        parse("postgres://app:Ab%2Fpw-reg-1@db/app").unwrap();
        assert_eq!(mask("Ab/pw-reg-1 Ab%2Fpw-reg-1"), "*** ***");
        parse("postgresql://app@db/app?sslmode=disable&password=Qp+pw-reg-2").unwrap();
        assert_eq!(mask("Qp pw-reg-2 Qp+pw-reg-2"), "*** ***");
        parse("nats://Tk-nats-reg-3@broker").unwrap();
        assert_eq!(mask("token Tk-nats-reg-3"), "token ***");
        // A user name is no secret.
        parse("redis://cacheuser-reg-4:Pw-reg-4@cache").unwrap();
        assert_eq!(mask("cacheuser-reg-4"), "cacheuser-reg-4");
    }

    #[test]
    fn parse_errors_are_typed() {
        let env = Env::default();
        assert_eq!(Target::parse("  ", &env).unwrap_err(), ParseError::Empty);
        assert!(matches!(
            Target::parse("mysqlx://u:pw@h", &env).unwrap_err(),
            ParseError::UnsupportedScheme { scheme, shown } if scheme == "mysqlx" && shown == "mysqlx://u:***@h"
        ));
        assert!(matches!(
            Target::parse("file:x", &env).unwrap_err(),
            ParseError::NotAbsolute { .. }
        ));
    }

    #[test]
    fn local_paths() {
        assert!(parse("unix:///run/app.sock").is_ok() && parse("file://host/x").is_err());
    }
}
