//! Targets: what the user asked to wait for, parsed once at the edge into a typed
//! [`Kind`], with a display form ([`Target::shown`]) in which every secret is `***`.

use crate::env::Env;
use std::net::{IpAddr, Ipv6Addr};
use std::path::PathBuf;
use url::Url;

/// One thing to wait for, as parsed from the command line or `WHENREADY_TARGETS`.
#[derive(Clone)]
pub struct Target {
    /// What to probe and how.
    pub kind: Kind,
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

/// The kinds of target of the contract; one probe module each.
#[derive(Clone)]
pub enum Kind {
    /// A TCP connection to HOST:PORT.
    Tcp(Endpoint),
    /// A connection to a Unix stream socket.
    Unix(PathBuf),
    /// A path that must exist.
    File(PathBuf),
    /// A GET whose status is accepted.
    Http(Url),
    /// An authenticated session and `SELECT 1`.
    Postgres(Box<PgTarget>),
    /// AUTH / SELECT where asked for, then PING answered with PONG.
    Redis(Box<RedisTarget>),
    /// A MySQL / MariaDB login (on the database, when given), then COM_PING.
    Mysql(Box<crate::probe::mysql::MysqlTarget>),
}

/// A host and a port; names are resolved again at every attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint {
    /// The host as given.
    pub host: Host,
    /// The TCP port.
    pub port: u16,
}

/// A host: an address literal or a name to resolve.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Host {
    /// An IPv4 or IPv6 literal: no resolution needed.
    Ip(IpAddr),
    /// A DNS name, resolved at every attempt.
    Name(String),
}

impl std::fmt::Display for Host {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Host::Ip(IpAddr::V6(a)) => write!(f, "[{a}]"),
            Host::Ip(a) => write!(f, "{a}"),
            Host::Name(n) => f.write_str(n),
        }
    }
}

/// libpq's `sslmode`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SslMode {
    /// Plaintext only.
    Disable,
    /// TLS if the server offers it, without verification; plaintext otherwise.
    /// `allow` is treated the same way.
    Prefer,
    /// TLS, certificate not verified (verified against `sslrootcert` when one is given).
    Require,
    /// TLS, certificate chain verified, host name not checked.
    VerifyCa,
    /// TLS, certificate chain and host name verified.
    VerifyFull,
}

/// Where a PostgreSQL server listens.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PgHost {
    /// TCP to a host.
    Tcp(Host),
    /// A Unix socket directory (the socket is `DIR/.s.PGSQL.PORT`).
    Socket(PathBuf),
}

/// A PostgreSQL target with the libpq defaults and environment already applied.
#[derive(Clone)]
pub struct PgTarget {
    /// Server address.
    pub host: PgHost,
    /// Server port (also names the Unix socket).
    pub port: u16,
    /// Role to log in as.
    pub user: String,
    /// Password, from the URL or PGPASSWORD.
    pub password: Option<String>,
    /// Database to connect to.
    pub dbname: String,
    /// TLS policy.
    pub sslmode: SslMode,
    /// CA file for verify-ca / verify-full (or to turn `require` into verify-ca).
    pub sslrootcert: Option<PathBuf>,
    /// `application_name` shown in pg_stat_activity.
    pub application_name: String,
    /// `options` sent at startup.
    pub options: Option<String>,
}

/// A Redis target with REDISCLI_AUTH already applied.
#[derive(Clone)]
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
}

const SCHEMES: &str =
    "HOST:PORT, tcp://, http(s)://, postgres(ql)://, redis(s)://, mysql://, mariadb://, unix:///PATH or file:///PATH";

/// Query parameters whose value is a secret.
const SECRET_PARAMS: [&str; 3] = ["password", "sslpassword", "pass"];

impl Target {
    /// Parses one target. `env` supplies the libpq and redis-cli variables.
    /// The error is a full sentence that quotes the (masked) input.
    pub fn parse(text: &str, env: &Env) -> Result<Target, String> {
        let text = text.trim();
        if text.is_empty() {
            return Err("empty target".into());
        }
        let Some((scheme, _)) = text.split_once("://") else {
            if text.starts_with("unix:") || text.starts_with("file:") {
                let (scheme, _) = text.split_once(':').unwrap_or_default();
                return Err(format!(
                    "invalid target {text:?}: write {scheme}:///ABSOLUTE/PATH"
                ));
            }
            let endpoint =
                parse_host_port(text).map_err(|why| format!("invalid target {text:?}: {why}"))?;
            return Ok(Target {
                kind: Kind::Tcp(endpoint),
                shown: text.to_string(),
            });
        };
        let masked = mask_raw(text);
        let bad = |why: &dyn std::fmt::Display| format!("invalid target {masked:?}: {why}");
        if scheme.to_ascii_lowercase().starts_with("postgres") {
            // libpq allows host1:port1,host2:port2; the url crate would report a bad port.
            let rest = &text[scheme.len() + 3..];
            let authority = &rest[..rest.find(['/', '?']).unwrap_or(rest.len())];
            if authority
                .rsplit_once('@')
                .map_or(authority, |(_, h)| h)
                .contains(',')
            {
                return Err(bad(
                    &"several hosts in one URL are not supported: give one target per host",
                ));
            }
        }
        let url = Url::parse(text).map_err(|e| bad(&e))?;
        let shown = mask_url(&url);
        let kind = match scheme.to_ascii_lowercase().as_str() {
            "tcp" => {
                if !matches!(url.path(), "" | "/") || url.query().is_some() || has_userinfo(&url) {
                    return Err(bad(&"a tcp:// target is tcp://HOST:PORT and nothing more"));
                }
                Kind::Tcp(url_endpoint(&url, None).map_err(|e| bad(&e))?)
            }
            "http" | "https" => {
                if url.host_str().is_none_or(str::is_empty) {
                    return Err(bad(&"missing host"));
                }
                Kind::Http(url)
            }
            "postgres" | "postgresql" => {
                Kind::Postgres(Box::new(parse_postgres(&url, env).map_err(|e| bad(&e))?))
            }
            "redis" | "rediss" => {
                Kind::Redis(Box::new(parse_redis(&url, env).map_err(|e| bad(&e))?))
            }
            "mysql" | "mariadb" => Kind::Mysql(Box::new(
                crate::probe::mysql::parse(&url, env).map_err(|e| bad(&e))?,
            )),
            "unix" => Kind::Unix(local_path(&url).map_err(|e| bad(&e))?),
            "file" => Kind::File(local_path(&url).map_err(|e| bad(&e))?),
            other => {
                return Err(format!(
                    "unsupported scheme {other:?} in {masked:?}: use {SCHEMES}"
                ))
            }
        };
        Ok(Target { kind, shown })
    }
}

/// Parses `HOST:PORT` or `[IPV6]:PORT`.
pub fn parse_host_port(text: &str) -> Result<Endpoint, String> {
    let (host, port) = if let Some(rest) = text.strip_prefix('[') {
        let (addr, after) = rest
            .split_once(']')
            .ok_or("missing ']' after the IPv6 address")?;
        let addr: Ipv6Addr = addr
            .parse()
            .map_err(|_| format!("{addr:?} is not an IPv6 address"))?;
        let port = after
            .strip_prefix(':')
            .ok_or("missing port: write [IPV6]:PORT, e.g. [::1]:5432")?;
        (Host::Ip(IpAddr::V6(addr)), port)
    } else {
        let Some((host, port)) = text.rsplit_once(':') else {
            // Echo the input in the hint only when it is a plain name.
            let plain = text
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_'));
            let example = if plain { text } else { "db" };
            return Err(format!(
                "missing port: write HOST:PORT, e.g. {example}:5432, or a URL ({SCHEMES})"
            ));
        };
        if host.contains(':') {
            return Err("an IPv6 address needs brackets: [::1]:5432".into());
        }
        (parse_host(host)?, port)
    };
    Ok(Endpoint {
        host,
        port: parse_port(port)?,
    })
}

fn parse_host(host: &str) -> Result<Host, String> {
    if host.is_empty() {
        return Err("missing host".into());
    }
    match url::Host::parse(host) {
        Ok(url::Host::Ipv4(a)) => Ok(Host::Ip(IpAddr::V4(a))),
        Ok(url::Host::Ipv6(a)) => Ok(Host::Ip(IpAddr::V6(a))),
        Ok(url::Host::Domain(d)) => Ok(Host::Name(d)),
        Err(e) => Err(format!("invalid host {host:?}: {e}")),
    }
}

fn parse_port(port: &str) -> Result<u16, String> {
    match port.parse::<u16>() {
        Ok(0) | Err(_) => Err(format!(
            "invalid port {port:?}: expected a number from 1 to 65535"
        )),
        Ok(p) => Ok(p),
    }
}

fn has_userinfo(url: &Url) -> bool {
    !url.username().is_empty() || url.password().is_some()
}

/// The host and port of a URL; `default_port` when the URL has none.
pub(crate) fn url_endpoint(url: &Url, default_port: Option<u16>) -> Result<Endpoint, String> {
    let host = match url.host() {
        None => return Err("missing host".into()),
        Some(url::Host::Ipv4(a)) => Host::Ip(IpAddr::V4(a)),
        Some(url::Host::Ipv6(a)) => Host::Ip(IpAddr::V6(a)),
        Some(url::Host::Domain("")) => return Err("missing host".into()),
        // Hosts of non-special schemes (tcp, redis, postgres) stay opaque in the url
        // crate: decode and validate them like a HOST of HOST:PORT.
        Some(url::Host::Domain(d)) => parse_host(&decode(d))?,
    };
    let port = url.port().or(default_port).ok_or("missing port")?;
    if port == 0 {
        return Err("invalid port \"0\": expected a number from 1 to 65535".into());
    }
    Ok(Endpoint { host, port })
}

/// Percent-decodes a URL component.
pub(crate) fn decode(s: &str) -> String {
    percent_encoding::percent_decode_str(s)
        .decode_utf8_lossy()
        .into_owned()
}

fn local_path(url: &Url) -> Result<PathBuf, String> {
    if url
        .host_str()
        .is_some_and(|h| !h.is_empty() && h != "localhost")
    {
        return Err(
            "expected an absolute path: write unix:///PATH or file:///PATH (three slashes)".into(),
        );
    }
    let path = decode(url.path());
    if !path.starts_with('/') || path == "/" && url.path().is_empty() {
        return Err("expected an absolute path".into());
    }
    Ok(PathBuf::from(path))
}

/// The URL with its password and password query parameters replaced by `***`.
pub fn mask_url(url: &Url) -> String {
    let mut url = url.clone();
    if url.password().is_some() {
        let _ = url.set_password(Some("***"));
    }
    if url.query().is_some() {
        let pairs: Vec<(String, String)> = url
            .query_pairs()
            .map(|(k, v)| {
                let secret = SECRET_PARAMS.contains(&k.to_ascii_lowercase().as_str());
                (
                    k.into_owned(),
                    if secret { "***".into() } else { v.into_owned() },
                )
            })
            .collect();
        url.query_pairs_mut().clear().extend_pairs(pairs);
    }
    url.to_string().replace("%2A%2A%2A", "***")
}

/// Masks secrets in text that did not parse as a URL: the password of the userinfo
/// and the value of password query parameters.
pub fn mask_raw(text: &str) -> String {
    let mut out = text.to_string();
    if let Some(start) = out.find("://").map(|i| i + 3) {
        let authority_end = out[start..]
            .find(['/', '?', '#'])
            .map_or(out.len(), |i| start + i);
        if let Some(at) = out[start..authority_end].rfind('@').map(|i| start + i) {
            if let Some(colon) = out[start..at].find(':').map(|i| start + i) {
                out.replace_range(colon + 1..at, "***");
            }
        }
    }
    if let Some(q) = out.find('?') {
        let (head, query) = out.split_at(q + 1);
        let masked: Vec<String> = query
            .split('&')
            .map(|pair| match pair.split_once('=') {
                Some((k, _))
                    if SECRET_PARAMS.contains(&decode(k).to_ascii_lowercase().as_str()) =>
                {
                    format!("{k}=***")
                }
                _ => pair.to_string(),
            })
            .collect();
        out = format!("{head}{}", masked.join("&"));
    }
    out
}

fn parse_postgres(url: &Url, env: &Env) -> Result<PgTarget, String> {
    let envvar = |name: &str| env.get(name);
    let mut host: Option<String> = url.host_str().filter(|h| !h.is_empty()).map(|h| {
        if h.starts_with('[') {
            h.to_string()
        } else {
            decode(h)
        }
    });
    let mut port: Option<String> = url.port().map(|p| p.to_string());
    let mut user: Option<String> = Some(decode(url.username())).filter(|u| !u.is_empty());
    let mut password: Option<String> = url.password().map(decode);
    let mut dbname: Option<String> =
        Some(decode(url.path().trim_start_matches('/'))).filter(|d| !d.is_empty());
    let mut sslmode: Option<String> = None;
    let mut sslrootcert: Option<String> = None;
    let mut application_name: Option<String> = None;
    let mut options: Option<String> = None;
    for (k, v) in url.query_pairs() {
        let v = v.into_owned();
        match &*k {
            "host" => host = Some(v),
            "port" => port = Some(v),
            "user" => user = Some(v),
            "password" => password = Some(v),
            "dbname" => dbname = Some(v),
            "sslmode" => sslmode = Some(v),
            "sslrootcert" => sslrootcert = Some(v),
            "application_name" | "fallback_application_name" => application_name = Some(v),
            "options" => options = Some(v),
            // Accepted and ignored: whenready's own --attempt-timeout bounds the attempt,
            // and the rest tune long-lived connections.
            "connect_timeout"
            | "keepalives"
            | "keepalives_idle"
            | "keepalives_interval"
            | "keepalives_count"
            | "tcp_user_timeout"
            | "target_session_attrs"
            | "client_encoding"
            | "gssencmode"
            | "sslcompression"
            | "sslsni" => {}
            "sslcert" | "sslkey" | "sslpassword" | "sslcrl" | "sslcrldir" | "hostaddr"
            | "service" | "passfile" | "requirepeer" | "krbsrvname" | "gsslib" => {
                return Err(format!("the libpq parameter {k:?} is not supported"))
            }
            other => return Err(format!("unknown libpq parameter {other:?}")),
        }
    }
    let or_env = |v: Option<String>, name: &str| -> Result<Option<String>, String> {
        match v {
            Some(v) => Ok(Some(v)),
            None => Ok(envvar(name)?.map(str::to_string)),
        }
    };
    let host = or_env(host, "PGHOST")?.unwrap_or_else(|| "localhost".into());
    let port = match or_env(port, "PGPORT")? {
        None => 5432,
        Some(p) => parse_port(&p).map_err(|e| format!("{e} (from the URL or PGPORT)"))?,
    };
    let user = match or_env(user, "PGUSER")? {
        Some(u) => u,
        None => os_user(env),
    };
    let password = or_env(password, "PGPASSWORD")?;
    let dbname = or_env(dbname, "PGDATABASE")?.unwrap_or_else(|| user.clone());
    let sslmode = match or_env(sslmode, "PGSSLMODE")?.as_deref() {
        None | Some("prefer") | Some("allow") => SslMode::Prefer,
        Some("disable") => SslMode::Disable,
        Some("require") => SslMode::Require,
        Some("verify-ca") => SslMode::VerifyCa,
        Some("verify-full") => SslMode::VerifyFull,
        Some(other) => {
            return Err(format!(
                "invalid sslmode {other:?}: expected disable, allow, prefer, require, verify-ca or verify-full"
            ))
        }
    };
    let sslrootcert = or_env(sslrootcert, "PGSSLROOTCERT")?.map(PathBuf::from);
    let host = if host.starts_with('/') {
        PgHost::Socket(PathBuf::from(host))
    } else if let Some(inner) = host.strip_prefix('[').and_then(|h| h.strip_suffix(']')) {
        PgHost::Tcp(parse_host(inner).or_else(|_| parse_host(&host))?)
    } else {
        PgHost::Tcp(parse_host(&host)?)
    };
    let application_name = application_name
        .or_else(|| env.get_lossy("PGAPPNAME").map(str::to_string))
        .unwrap_or_else(|| "whenready".into());
    let options = or_env(options, "PGOPTIONS")?;
    Ok(PgTarget {
        host,
        port,
        user,
        password,
        dbname,
        sslmode,
        sslrootcert,
        application_name,
        options,
    })
}

/// libpq's default user: the operating-system user name.
fn os_user(env: &Env) -> String {
    if let Some(u) = env.get_lossy("USER").or_else(|| env.get_lossy("LOGNAME")) {
        return u.to_string();
    }
    // /proc/self belongs to the effective user; uid 0 is root everywhere.
    use std::os::unix::fs::MetadataExt;
    match std::fs::metadata("/proc/self").map(|m| m.uid()) {
        Ok(0) => "root".into(),
        _ => "postgres".into(),
    }
}

fn parse_redis(url: &Url, env: &Env) -> Result<RedisTarget, String> {
    let endpoint = url_endpoint(url, Some(6379))?;
    let username = Some(decode(url.username())).filter(|u| !u.is_empty());
    let password = match url.password().map(decode) {
        Some(p) => Some(p),
        None => env.get("REDISCLI_AUTH")?.map(str::to_string),
    };
    let path = url.path().trim_start_matches('/');
    let db = if path.is_empty() {
        None
    } else {
        Some(path.parse::<u32>().map_err(|_| {
            format!("invalid database {path:?}: expected a number, as in redis://HOST:6379/0")
        })?)
    };
    if let Some((k, _)) = url.query_pairs().next() {
        return Err(format!(
            "unknown parameter {k:?}: a redis URL is redis[s]://[[USER]:PASSWORD@]HOST[:PORT][/DB]"
        ));
    }
    Ok(RedisTarget {
        endpoint,
        tls: url.scheme() == "rediss",
        username,
        password,
        db,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    fn parse(text: &str) -> Result<Target, String> {
        Target::parse(text, &Env::default())
    }

    #[test]
    fn host_port_forms() {
        let t = parse("db:5432").unwrap();
        assert!(
            matches!(t.kind, Kind::Tcp(Endpoint { host: Host::Name(ref n), port: 5432 }) if n == "db")
        );
        let t = parse("127.0.0.1:80").unwrap();
        assert!(matches!(
            t.kind,
            Kind::Tcp(Endpoint {
                host: Host::Ip(_),
                port: 80
            })
        ));
        let t = parse("[::1]:6379").unwrap();
        assert!(matches!(
            t.kind,
            Kind::Tcp(Endpoint {
                host: Host::Ip(IpAddr::V6(_)),
                port: 6379
            })
        ));
        let t = parse("tcp://[::1]:6379").unwrap();
        assert!(matches!(
            t.kind,
            Kind::Tcp(Endpoint {
                host: Host::Ip(IpAddr::V6(_)),
                port: 6379
            })
        ));
        let t = parse("tcp://localhost:1").unwrap();
        assert!(
            matches!(t.kind, Kind::Tcp(Endpoint { host: Host::Name(ref n), port: 1 }) if n == "localhost")
        );
        let t = parse("tcp://10.0.0.1:1").unwrap();
        assert!(matches!(
            t.kind,
            Kind::Tcp(Endpoint {
                host: Host::Ip(_),
                port: 1
            })
        ));
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
            ("amqp://db:5672", "unsupported scheme"),
            ("unix:relative", "ABSOLUTE"),
            ("http://", "invalid target"),
            ("redis://h/abc", "invalid database"),
            ("postgres://h/db?bogus=1", "unknown libpq parameter"),
            ("postgres://h/db?sslmode=maybe", "invalid sslmode"),
            ("postgres://a:1,b:2/db", "several hosts"),
            ("a b:1", "invalid host"),
        ] {
            let err = parse(text)
                .err()
                .unwrap_or_else(|| panic!("{text} should fail"));
            assert!(err.contains(needle), "{text}: {err}");
        }
    }

    #[test]
    fn secrets_are_masked_in_shown_and_errors() {
        let t = parse("postgres://app:s3cret@db:5432/app?sslmode=disable").unwrap();
        assert_eq!(t.shown, "postgres://app:***@db:5432/app?sslmode=disable");
        let t = parse("postgres://app@db/app?password=s3cret").unwrap();
        assert!(!t.shown.contains("s3cret"), "{}", t.shown);
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
    }

    #[test]
    fn postgres_defaults_come_from_the_libpq_environment() {
        let env = Env::from_pairs(&[
            ("PGHOST", "pg.internal"),
            ("PGPORT", "6543"),
            ("PGUSER", "svc"),
            ("PGPASSWORD", "pw"),
            ("PGDATABASE", "main"),
            ("PGSSLMODE", "require"),
        ]);
        let Kind::Postgres(pg) = Target::parse("postgres://", &env).unwrap().kind else {
            panic!()
        };
        assert_eq!(pg.host, PgHost::Tcp(Host::Name("pg.internal".into())));
        assert_eq!(
            (pg.port, pg.user.as_str(), pg.dbname.as_str()),
            (6543, "svc", "main")
        );
        assert_eq!(pg.password.as_deref(), Some("pw"));
        assert_eq!(pg.sslmode, SslMode::Require);
        // The URL wins over the environment.
        let Kind::Postgres(pg) = Target::parse(
            "postgresql://me:x@db:5433/app?sslmode=verify-full&sslrootcert=/ca.pem",
            &env,
        )
        .unwrap()
        .kind
        else {
            panic!()
        };
        assert_eq!(pg.host, PgHost::Tcp(Host::Name("db".into())));
        assert_eq!(
            (pg.port, pg.user.as_str(), pg.dbname.as_str()),
            (5433, "me", "app")
        );
        assert_eq!(pg.password.as_deref(), Some("x"));
        assert_eq!(pg.sslmode, SslMode::VerifyFull);
        assert_eq!(pg.sslrootcert, Some(PathBuf::from("/ca.pem")));
        let err =
            Target::parse("postgres://h/db", &Env::from_pairs(&[("PGPORT", "x")])).unwrap_err();
        assert!(err.contains("PGPORT"), "{err}");
    }

    #[test]
    fn postgres_socket_and_defaults() {
        let env = Env::from_pairs(&[("USER", "alice")]);
        let Kind::Postgres(pg) = Target::parse("postgresql://%2Fvar%2Frun%2Fpostgresql/app", &env)
            .unwrap()
            .kind
        else {
            panic!()
        };
        assert_eq!(pg.host, PgHost::Socket("/var/run/postgresql".into()));
        assert_eq!(
            (pg.user.as_str(), pg.dbname.as_str(), pg.port),
            ("alice", "app", 5432)
        );
        assert_eq!(pg.sslmode, SslMode::Prefer);
        let Kind::Postgres(pg) = Target::parse("postgres://u@[::1]:5/d", &env).unwrap().kind else {
            panic!()
        };
        assert_eq!(pg.host, PgHost::Tcp(Host::Ip("::1".parse().unwrap())));
    }

    #[test]
    fn redis_forms() {
        let env = Env::from_pairs(&[("REDISCLI_AUTH", "fromenv")]);
        let Kind::Redis(r) = Target::parse("redis://cache", &env).unwrap().kind else {
            panic!()
        };
        assert_eq!(r.endpoint.port, 6379);
        assert_eq!(r.password.as_deref(), Some("fromenv"));
        assert_eq!((r.tls, r.db, r.username.clone()), (false, None, None));
        let Kind::Redis(r) = Target::parse("rediss://bob:pw@cache:6380/2", &env)
            .unwrap()
            .kind
        else {
            panic!()
        };
        assert_eq!(
            (r.tls, r.db, r.username.as_deref(), r.password.as_deref()),
            (true, Some(2), Some("bob"), Some("pw"))
        );
    }

    #[test]
    fn local_paths() {
        assert!(
            matches!(parse("unix:///run/app.sock").unwrap().kind, Kind::Unix(p) if p == Path::new("/run/app.sock"))
        );
        assert!(
            matches!(parse("file:///tmp/a%20b").unwrap().kind, Kind::File(p) if p == Path::new("/tmp/a b"))
        );
        assert!(parse("file://host/x").is_err());
    }
}
