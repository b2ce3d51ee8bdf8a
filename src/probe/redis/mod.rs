//! `redis://…`, `rediss://…`: AUTH and SELECT where the URL asks for them, then PING
//! must answer PONG. REDISCLI_AUTH is the password when the URL has none.
//!
//! The connection is ours (every address tried, our TLS settings), and so is the
//! protocol: [`resp`] encodes the commands and reads the replies through limits
//! (a line 64 KiB, a bulk string 512 KiB, a reply 1 MiB), so that no peer can make
//! an attempt hold more. All commands go out in one write and the replies are read
//! in order, so a probe costs one round trip.
//!
//! `#key=NAME` and `#key=NAME:REGEX` ask for a key instead of PING ([`key`]).

use super::error::{io_reason, tls_failure, ProbeError};
use super::kind::{Attempt, Check, Ctx, Kind};
use super::net;
use super::tls::{self, Tls};
use crate::endpoint::{decode, url_endpoint, Endpoint};
use crate::env::Env;
use resp::{ReadError, Reader, Reply};
use std::path::PathBuf;
use std::sync::{Arc, OnceLock};
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt};
use url::Url;

pub mod key;
pub mod resp;

/// The Redis kind.
pub struct Redis;

impl Kind for Redis {
    fn name(&self) -> &'static str {
        "redis"
    }
    fn schemes(&self) -> &'static [&'static str] {
        &["redis", "rediss"]
    }
    fn forms(&self) -> &'static str {
        "redis(s)://"
    }
    fn help(&self) -> (&'static str, &'static str) {
        (
            "redis://..., rediss://...",
            "AUTH/SELECT succeed and PING answers PONG; #key=NAME exists, #key=NAME:REGEX matches",
        )
    }
    fn environment(&self) -> Option<&'static str> {
        Some("REDISCLI_AUTH is the Redis password when the URL has none")
    }
    fn takes_fragment(&self) -> bool {
        true
    }
    fn fragment_as_given(&self) -> bool {
        true
    }
    fn parse(&self, url: &Url, env: &Env) -> Result<Box<dyn Check>, String> {
        Ok(Box::new(parse(url, env)?))
    }
}

impl Check for RedisTarget {
    fn prepare(&self, shown: &str) -> Result<(), String> {
        let files = self
            .client_cert
            .as_ref()
            .map(|(c, k)| (c.as_path(), k.as_path()));
        self.identity.load(files, &format!("cert=/key= of {shown}"))
    }
    fn warnings(&self) -> Vec<String> {
        self.identity.warnings()
    }
    fn probe<'a>(&'a self, ctx: &'a Ctx) -> Attempt<'a> {
        Box::pin(probe(self, &ctx.tls))
    }
}

/// A Redis target with REDISCLI_AUTH already applied.
pub struct RedisTarget {
    /// Server address.
    pub endpoint: Endpoint,
    /// `rediss://`: TLS with certificate verification.
    pub tls: bool,
    /// ACL user name, if any.
    pub username: Option<String>,
    /// Password, from the URL or REDISCLI_AUTH.
    pub password: Option<String>,
    /// Database to SELECT, when the URL names one.
    pub db: Option<u32>,
    /// `rediss://…?cert=FILE&key=FILE`: the target's own client certificate.
    pub client_cert: Option<(PathBuf, PathBuf)>,
    /// `#key=NAME[:REGEX]`: asked instead of PING.
    pub key: Option<key::KeyExpectation>,
    identity: tls::TargetIdentity,
    /// The TLS configuration with the target's own certificate, made on first use.
    tls_config: OnceLock<Arc<rustls::ClientConfig>>,
}

/// Parses a redis URL, with REDISCLI_AUTH as the password when it has none.
pub fn parse(url: &Url, env: &Env) -> Result<RedisTarget, String> {
    let endpoint = url_endpoint(url, Some(6379))?;
    let username = Some(decode(url.username())).filter(|u| !u.is_empty());
    let password = match url.password().map(decode) {
        Some(p) => Some(p),
        None => env.get("REDISCLI_AUTH")?.map(str::to_string),
    };
    password.iter().for_each(|p| crate::secret::register(p));
    let path = url.path().trim_start_matches('/');
    let db = if path.is_empty() {
        None
    } else {
        Some(path.parse::<u32>().map_err(|_| {
            format!("invalid database {path:?}: expected a number, as in redis://HOST:6379/0")
        })?)
    };
    let tls = url.scheme() == "rediss";
    let (mut cert, mut key) = (None, None);
    for (k, v) in url.query_pairs() {
        match &*k {
            "cert" if tls => cert = Some(PathBuf::from(&*v)),
            "key" if tls => key = Some(PathBuf::from(&*v)),
            "cert" | "key" => return Err(format!("{k}= needs rediss:// (TLS)")),
            _ => {
                return Err(format!(
                    "unknown parameter {k:?}: a redis URL is redis[s]://[[USER]:PASSWORD@]HOST[:PORT][/DB], rediss:// may add ?cert=FILE&key=FILE"
                ))
            }
        }
    }
    let client_cert = match (cert, key) {
        (Some(c), Some(k)) => Some((c, k)),
        (None, None) => None,
        _ => return Err("cert= and key= go together (a client certificate and its key)".into()),
    };
    let key = key::KeyExpectation::parse(url.fragment().unwrap_or(""))?;
    Ok(RedisTarget {
        endpoint,
        tls,
        username,
        password,
        db,
        client_cert,
        key,
        identity: tls::TargetIdentity::default(),
        tls_config: OnceLock::new(),
    })
}

/// One attempt at a Redis target.
pub async fn probe(target: &RedisTarget, tls_settings: &Tls) -> Result<(), ProbeError> {
    let stream = net::connect(&target.endpoint).await?;
    if target.tls {
        let config = match target.identity.get() {
            Some(identity) => target
                .tls_config
                .get_or_init(|| tls::with_identity(tls_settings.verified(), identity))
                .clone(),
            None => tls_settings.verified(),
        };
        let stream = tls::connect(stream, &target.endpoint.host, config).await?;
        converse(stream, target).await
    } else {
        converse(stream, target).await
    }
}

async fn converse<S: AsyncRead + AsyncWrite + Unpin>(
    mut stream: S,
    target: &RedisTarget,
) -> Result<(), ProbeError> {
    let mut commands = Vec::new();
    let mut expect = Vec::new();
    if let Some(password) = &target.password {
        match &target.username {
            Some(user) => resp::command(
                &mut commands,
                &[b"AUTH", user.as_bytes(), password.as_bytes()],
            ),
            None => resp::command(&mut commands, &[b"AUTH", password.as_bytes()]),
        }
        expect.push("AUTH");
    }
    if let Some(db) = target.db {
        resp::command(&mut commands, &[b"SELECT", db.to_string().as_bytes()]);
        expect.push("SELECT");
    }
    let asked: &[&str] = match &target.key {
        Some(key) => key.commands(&mut commands),
        None => {
            resp::command(&mut commands, &[b"PING"]);
            &["PING"]
        }
    };
    let sent = async {
        stream.write_all(&commands).await?;
        stream.flush().await
    };
    sent.await.map_err(|e| write_failure(&e))?;
    drop(commands);

    // A server may echo what it was sent: no reason shows the password.
    let mut reader = Reader::new(stream);
    for command in expect {
        let reply = reader.reply().await.map_err(|e| read_failure(command, e))?;
        check(command, reply)?;
    }
    // The last command (or an earlier one) decides; the replies after a decisive
    // one are not read.
    let mut ready = false;
    for &command in asked {
        let reply = reader.reply().await.map_err(|e| read_failure(command, e))?;
        ready = match &target.key {
            Some(key) if !matches!(reply, Reply::Error(_)) => key.judge(command, &reply)?,
            _ => {
                check(command, reply)?;
                true
            }
        };
        if ready {
            break;
        }
    }
    let _ = reader.get_mut().shutdown().await;
    match ready {
        true => Ok(()),
        false => Err(ProbeError::transient("no decisive reply")),
    }
}

fn write_failure(e: &std::io::Error) -> ProbeError {
    tls_failure(e).unwrap_or_else(|| ProbeError::transient(io_reason(e)))
}

fn read_failure(command: &str, e: ReadError) -> ProbeError {
    match e {
        ReadError::Closed => {
            ProbeError::transient(format!("connection closed before the reply to {command}"))
        }
        ReadError::Io(e) => {
            if let Some(tls) = tls_failure(&e) {
                return tls;
            }
            if e.kind() == std::io::ErrorKind::UnexpectedEof {
                return read_failure(command, ReadError::Closed);
            }
            ProbeError::transient(format!("no reply to {command}: {}", io_reason(&e)))
        }
        ReadError::Garbage(what) => {
            ProbeError::transient(format!("not a Redis reply to {command}: {what}"))
        }
    }
}

/// The most of a server's error message a reason shows.
const SHOWN_ERROR: usize = 300;

/// Checks one reply. Server errors are classified by their code; a message is cut
/// to [`SHOWN_ERROR`] characters with the secrets it echoes masked first
/// ([`crate::secret::excerpt`]), so that the cut cannot leave part of one.
fn check(command: &str, reply: Reply) -> Result<(), ProbeError> {
    match reply {
        Reply::Error(line) => {
            let full = String::from_utf8_lossy(&line);
            let mut text = crate::secret::excerpt(&full, SHOWN_ERROR);
            if text.chars().count() == SHOWN_ERROR && full.chars().count() > SHOWN_ERROR {
                text.push('…');
            }
            let (code, detail) = text.split_once(' ').unwrap_or((&text, ""));
            if code.is_empty() && detail.is_empty() {
                return Err(ProbeError::transient(format!(
                    "an empty error reply to {command}"
                )));
            }
            Err(classify(command, code, detail))
        }
        Reply::Simple(s) if command == "PING" && s == b"PONG" => Ok(()),
        Reply::Simple(s) if command != "PING" && s == b"OK" => Ok(()),
        other => Err(ProbeError::transient(format!(
            "unexpected reply to {command}: {}",
            other.describe()
        ))),
    }
}

/// The classification table: which Redis error codes waiting can fix.
pub fn classify(command: &str, code: &str, detail: &str) -> ProbeError {
    let message = format!("{code} {detail}").trim().to_string();
    let lower = detail.to_ascii_lowercase();
    match code {
        // The server is starting, busy with a script, or its primary is down.
        "LOADING" | "BUSY" | "MASTERDOWN" | "TRYAGAIN" | "CLUSTERDOWN" => {
            ProbeError::transient(message)
        }
        // The credentials are wrong or missing, or the user may not run the command.
        "WRONGPASS" | "NOAUTH" | "NOPERM" => ProbeError::permanent(message),
        // Redis before 6 answered a wrong password with a plain ERR, and every
        // version answers AUTH with ERR when no password is configured.
        "ERR"
            if command == "AUTH"
                && (lower.contains("invalid password")
                    || lower.contains("without any password configured")
                    || lower.contains("no password is set")) =>
        {
            ProbeError::permanent(message)
        }
        "ERR" if command == "SELECT" && lower.contains("out of range") => {
            ProbeError::permanent(message)
        }
        _ => ProbeError::transient(message),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::probe::error::Transience::{self, *};

    fn parsed(text: &str, env: &Env) -> Result<RedisTarget, String> {
        parse(&Url::parse(text).unwrap(), env)
    }

    #[test]
    fn redis_forms() {
        let env = Env::from_pairs(&[("REDISCLI_AUTH", "fromenv")]);
        let r = parsed("redis://cache", &env).unwrap();
        assert_eq!(r.endpoint.port, 6379);
        assert_eq!(r.password.as_deref(), Some("fromenv"));
        assert_eq!((r.tls, r.db, r.username.clone()), (false, None, None));
        let r = parsed("rediss://bob:pw@cache:6380/2", &env).unwrap();
        assert_eq!(
            (r.tls, r.db, r.username.as_deref(), r.password.as_deref()),
            (true, Some(2), Some("bob"), Some("pw"))
        );
    }

    fn t(command: &str, code: &str, detail: &str) -> Transience {
        classify(command, code, detail).transience
    }

    #[test]
    fn loading_is_transient() {
        assert_eq!(
            t("PING", "LOADING", "Redis is loading the dataset in memory"),
            Transient
        );
    }
    #[test]
    fn busy_is_transient() {
        assert_eq!(
            t("PING", "BUSY", "Redis is busy running a script"),
            Transient
        );
    }
    #[test]
    fn masterdown_is_transient() {
        assert_eq!(
            t("PING", "MASTERDOWN", "Link with MASTER is down"),
            Transient
        );
    }
    #[test]
    fn tryagain_is_transient() {
        assert_eq!(
            t("PING", "TRYAGAIN", "Multiple keys request during rehashing"),
            Transient
        );
    }
    #[test]
    fn wrongpass_is_permanent() {
        assert_eq!(
            t("AUTH", "WRONGPASS", "invalid username-password pair"),
            Permanent
        );
    }
    #[test]
    fn noauth_is_permanent() {
        assert_eq!(t("PING", "NOAUTH", "Authentication required."), Permanent);
    }
    #[test]
    fn noperm_is_permanent() {
        assert_eq!(
            t("PING", "NOPERM", "this user has no permissions"),
            Permanent
        );
    }
    #[test]
    fn old_invalid_password_is_permanent() {
        assert_eq!(t("AUTH", "ERR", "invalid password"), Permanent);
    }
    #[test]
    fn auth_without_configured_password_is_permanent() {
        assert_eq!(
            t(
                "AUTH",
                "ERR",
                "AUTH <password> called without any password configured for the default user."
            ),
            Permanent
        );
    }
    #[test]
    fn select_out_of_range_is_permanent() {
        assert_eq!(t("SELECT", "ERR", "DB index is out of range"), Permanent);
    }
    #[test]
    fn other_errors_are_transient() {
        assert_eq!(t("PING", "ERR", "unknown command"), Transient);
    }

    #[test]
    fn pong_and_ok_are_accepted() {
        let simple = |s: &str| Reply::Simple(s.as_bytes().to_vec());
        assert!(check("PING", simple("PONG")).is_ok());
        assert!(check("AUTH", simple("OK")).is_ok());
        assert!(check("SELECT", simple("OK")).is_ok());
        let e = check("PING", simple("OK")).unwrap_err();
        assert_eq!(e.reason, "unexpected reply to PING: +\"OK\"");
        let e = check("PING", Reply::Integer(1)).unwrap_err();
        assert_eq!(e.reason, "unexpected reply to PING: the integer 1");
        assert!(check("AUTH", simple("PONG")).is_err());
    }

    #[test]
    fn error_replies_are_split_and_capped() {
        let error = |s: &str| check("PING", Reply::Error(s.as_bytes().to_vec())).unwrap_err();
        let e = error("LOADING Redis is loading the dataset in memory");
        assert_eq!(
            (e.transience, &*e.reason),
            (Transient, "LOADING Redis is loading the dataset in memory")
        );
        let e = error("NOAUTH");
        assert_eq!((e.transience, &*e.reason), (Permanent, "NOAUTH"));
        assert_eq!(error("").reason, "an empty error reply to PING");
        let e = error(&format!("ERR {}", "é".repeat(10_000)));
        assert_eq!(e.reason.chars().count(), SHOWN_ERROR + 1);
        assert!(e.reason.ends_with('…'));
    }

    #[test]
    fn an_echoed_password_is_masked_before_the_cut() {
        let pw = "redis-unit-Canary-77";
        crate::secret::register(pw);
        // The cut at SHOWN_ERROR characters falls inside the echoed password.
        let long = format!("ERR {}{pw}", "x".repeat(SHOWN_ERROR - 7));
        let e = check("AUTH", Reply::Error(long.into_bytes())).unwrap_err();
        assert!(!e.reason.contains("redis-u"), "{}", e.reason);
        let e = check("PING", Reply::Simple(pw.as_bytes().to_vec())).unwrap_err();
        assert_eq!(e.reason, "unexpected reply to PING: +\"***\"");
    }

    #[test]
    fn read_failures_name_the_command() {
        let r = |e| read_failure("AUTH", e).reason;
        assert_eq!(
            r(ReadError::Closed),
            "connection closed before the reply to AUTH"
        );
        assert_eq!(
            r(ReadError::Io(std::io::ErrorKind::ConnectionReset.into())),
            "no reply to AUTH: connection reset"
        );
        assert_eq!(
            r(ReadError::Garbage("a line over 64 KiB".into())),
            "not a Redis reply to AUTH: a line over 64 KiB"
        );
    }
}
