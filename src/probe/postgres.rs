//! `postgres://…`, `postgresql://…` (libpq URI): ready when an authenticated session
//! opens and `SELECT 1` returns.
//!
//! The URI is read as libpq reads it, with PGHOST, PGPORT, PGUSER, PGPASSWORD,
//! PGDATABASE, PGSSLMODE, PGSSLROOTCERT, PGSSLCERT, PGSSLKEY, PGAPPNAME and PGOPTIONS filling in what it
//! lacks. The socket is ours (every address tried, or the Unix socket
//! `DIR/.s.PGSQL.PORT`); tokio-postgres speaks the protocol over it (`connect_raw`).
//! TLS follows libpq's `sslmode`, which tokio-postgres alone cannot (it knows
//! disable/prefer/require), and libpq's `sslrootcert`: verify-ca and verify-full
//! without it read `~/.postgresql/root.crt`, and without that file are a usage error
//! before any attempt; `sslrootcert=system` trusts the system's roots, with
//! verify-full only (PostgreSQL 16's libpq). `prefer`, libpq's default, sends the
//! password to a server whose certificate it did not verify, as libpq does.
//!
//! A fragment asks for more than a login: `#query=SQL` (its first column is true)
//! or `#table=NAME` (the table exists), run read-only ([`expect`]). Every session
//! reads at most 1 MiB from the server ([`capped`]).

pub mod capped;
pub mod expect;

use super::error::{find_in_chain, io_reason, tls_failure, ProbeError};
use super::kind::{Attempt, Check, Ctx, Kind};
use super::net;
use super::sql::Expectation;
use super::tls;
use crate::endpoint::{decode, parse_host, parse_port, Endpoint, Host};
use crate::env::Env;
use rustls::pki_types::CertificateDer;
use std::path::PathBuf;
use std::sync::{Arc, OnceLock};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio_postgres::error::SqlState;
use tokio_postgres::tls::{MakeTlsConnect, NoTls, TlsConnect};
use tokio_postgres::Socket;
use url::Url;

/// The PostgreSQL kind.
pub struct Postgres;

impl Kind for Postgres {
    fn name(&self) -> &'static str {
        "postgres"
    }
    fn schemes(&self) -> &'static [&'static str] {
        &["postgres", "postgresql"]
    }
    fn forms(&self) -> &'static str {
        "postgres(ql)://"
    }
    fn help(&self) -> (&'static str, &'static str) {
        (
            "postgres://..., postgresql://...",
            "login succeeds and SELECT 1 returns; #query=SQL is true, #table=NAME exists",
        )
    }
    fn environment(&self) -> Option<&'static str> {
        Some("PGHOST, PGPORT, PGUSER, PGPASSWORD, PGDATABASE, PGSSLMODE, PGSSLROOTCERT,\n  PGSSLCERT, PGSSLKEY fill in postgres URLs")
    }
    fn secret_params(&self) -> &'static [&'static str] {
        &["password", "sslpassword"]
    }
    fn takes_fragment(&self) -> bool {
        true
    }
    fn fragment_as_given(&self) -> bool {
        true
    }
    fn check_raw(&self, text: &str) -> Result<(), String> {
        // libpq allows host1:port1,host2:port2; the url crate would report a bad port.
        let rest = text.split_once("://").map_or(text, |(_, r)| r);
        let authority = &rest[..rest.find(['/', '?']).unwrap_or(rest.len())];
        if authority
            .rsplit_once('@')
            .map_or(authority, |(_, h)| h)
            .contains(',')
        {
            return Err(
                "several hosts in one URL are not supported: give one target per host".into(),
            );
        }
        Ok(())
    }
    fn parse(&self, url: &Url, env: &Env) -> Result<Box<dyn Check>, String> {
        Ok(Box::new(parse(url, env)?))
    }
}

impl Check for PgTarget {
    fn prepare(&self, shown: &str) -> Result<(), String> {
        // libpq's fix for a missing root file (its message, on one line).
        const FIX: &str = "either provide the file, use the system's trusted roots with sslrootcert=system, or change sslmode to disable server certificate verification";
        let mode = match self.sslmode {
            SslMode::VerifyCa => "verify-ca",
            _ => "verify-full",
        };
        match &self.sslrootcert {
            Some(RootCert::File(path)) => {
                let certs = tls::load_pem(path)
                    .map_err(|e| format!("invalid sslrootcert for {shown}: {e}"))?;
                let _ = self.roots.set(certs);
            }
            Some(RootCert::Default(Some(path))) if path.exists() => {
                let certs = tls::load_pem(path).map_err(|e| {
                    format!("invalid root certificate file for {shown} (sslmode={mode}): {e}")
                })?;
                let _ = self.roots.set(certs);
            }
            Some(RootCert::Default(Some(path))) => {
                return Err(format!(
                    "root certificate file \"{}\" does not exist, and sslmode={mode} needs one to verify the server of {shown}: {FIX}",
                    path.display()
                ))
            }
            Some(RootCert::Default(None)) => {
                return Err(format!(
                    "no home directory (HOME) to locate the root certificate file ~/.postgresql/root.crt, which sslmode={mode} needs to verify the server of {shown}: give sslrootcert=FILE, or {FIX}"
                ))
            }
            Some(RootCert::System) | None => {}
        }
        let files = match &self.client_cert {
            Some(ClientCert::Given(c, k)) => Some((c.as_path(), k.as_path())),
            Some(ClientCert::Default(c, k)) if c.exists() => Some((c.as_path(), k.as_path())),
            _ => None,
        };
        self.identity
            .load(files, &format!("sslcert/sslkey for {shown}"))
    }
    fn warnings(&self) -> Vec<String> {
        self.identity.warnings()
    }
    fn probe<'a>(&'a self, _ctx: &'a Ctx) -> Attempt<'a> {
        Box::pin(probe(self))
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

/// Where the trusted root certificates come from (libpq's `sslrootcert`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RootCert {
    /// `sslrootcert` / PGSSLROOTCERT: a PEM file, which must be readable.
    File(PathBuf),
    /// libpq's default for verify-ca and verify-full, `~/.postgresql/root.crt`
    /// (`None`: no HOME to find it in); without it, those modes are refused, as libpq
    /// refuses them.
    Default(Option<PathBuf>),
    /// `sslrootcert=system` (PostgreSQL 16's libpq): the system's trusted roots,
    /// with verify-full only.
    System,
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
    /// The trusted roots for verify-ca / verify-full (a file also turns `require`
    /// into verify-ca).
    pub sslrootcert: Option<RootCert>,
    /// `application_name` shown in pg_stat_activity.
    pub application_name: String,
    /// `options` sent at startup.
    pub options: Option<String>,
    /// The client certificate and key (`sslcert`, `sslkey`), if any.
    pub client_cert: Option<ClientCert>,
    /// `#query=` or `#table=`, if the fragment asks for one.
    pub expect: Option<Expectation>,
    /// The certificates of `sslrootcert`, read before the first attempt.
    roots: OnceLock<Vec<CertificateDer<'static>>>,
    /// The client certificate, read before the first attempt.
    identity: tls::TargetIdentity,
}

/// Where the client certificate and key come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClientCert {
    /// `sslcert` / `sslkey` or PGSSLCERT / PGSSLKEY: must be readable.
    Given(PathBuf, PathBuf),
    /// libpq's default, `~/.postgresql/postgresql.crt` and `.key`: used when the
    /// certificate file exists.
    Default(PathBuf, PathBuf),
}

/// Parses a postgres URL the way libpq reads a connection URI, with the libpq
/// variables (PGHOST, ...) filling in what it lacks.
pub fn parse(url: &Url, env: &Env) -> Result<PgTarget, String> {
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
    let mut sslcert: Option<String> = None;
    let mut sslkey: Option<String> = None;
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
            "sslcert" => sslcert = Some(v),
            "sslkey" => sslkey = Some(v),
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
            "sslpassword" | "sslcrl" | "sslcrldir" | "hostaddr" | "service" | "passfile"
            | "requirepeer" | "krbsrvname" | "gsslib" => {
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
    password.iter().for_each(|p| crate::secret::register(p));
    let dbname = or_env(dbname, "PGDATABASE")?.unwrap_or_else(|| user.clone());
    let sslrootcert = or_env(sslrootcert, "PGSSLROOTCERT")?;
    let system = sslrootcert.as_deref() == Some("system");
    let sslmode_text = or_env(sslmode, "PGSSLMODE")?;
    let sslmode = match sslmode_text.as_deref() {
        // libpq: the system's roots are meant for names, so they imply verify-full.
        None if system => SslMode::VerifyFull,
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
    if system && sslmode != SslMode::VerifyFull {
        return Err(format!(
            "weak sslmode {:?} may not be used with sslrootcert=system (use \"verify-full\")",
            sslmode_text.unwrap_or_default()
        ));
    }
    // libpq's client certificate: sslcert / PGSSLCERT, else ~/.postgresql/postgresql.crt
    // when that file exists (looked at by prepare); the key likewise.
    let home = env
        .get_lossy("HOME")
        .filter(|h| !h.is_empty())
        .map(|h| PathBuf::from(h).join(".postgresql"));
    // libpq's root certificates: sslrootcert / PGSSLROOTCERT, else, for the modes
    // that verify, ~/.postgresql/root.crt (looked at by prepare).
    let sslrootcert = match sslrootcert {
        Some(s) if s == "system" => Some(RootCert::System),
        Some(s) => Some(RootCert::File(PathBuf::from(s))),
        None if matches!(sslmode, SslMode::VerifyCa | SslMode::VerifyFull) => {
            Some(RootCert::Default(home.as_ref().map(|h| h.join("root.crt"))))
        }
        None => None,
    };
    let sslcert = or_env(sslcert, "PGSSLCERT")?.map(PathBuf::from);
    let sslkey = or_env(sslkey, "PGSSLKEY")?.map(PathBuf::from);
    let client_cert = match (sslcert, sslkey, &home) {
        (Some(c), Some(k), _) => Some(ClientCert::Given(c, k)),
        (Some(c), None, Some(h)) => Some(ClientCert::Given(c, h.join("postgresql.key"))),
        (Some(_), None, None) => {
            return Err(
                "sslcert needs sslkey (or PGSSLKEY, or HOME for ~/.postgresql/postgresql.key)"
                    .into(),
            )
        }
        (None, Some(_), _) => return Err("sslkey needs sslcert (or PGSSLCERT)".into()),
        (None, None, Some(h)) => Some(ClientCert::Default(
            h.join("postgresql.crt"),
            h.join("postgresql.key"),
        )),
        (None, None, None) => None,
    };
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
    let expect = Expectation::parse(url.fragment().unwrap_or(""), "postgres")?;
    Ok(PgTarget {
        host,
        port,
        user,
        password,
        dbname,
        sslmode,
        sslrootcert,
        client_cert,
        application_name,
        options,
        expect,
        roots: OnceLock::new(),
        identity: tls::TargetIdentity::default(),
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

/// One attempt at a PostgreSQL target.
pub async fn probe(pg: &PgTarget) -> Result<(), ProbeError> {
    let mut config = tokio_postgres::Config::new();
    config
        .user(&pg.user)
        .dbname(&pg.dbname)
        .application_name(&pg.application_name);
    if let Some(password) = &pg.password {
        config.password(password);
    }
    if let Some(options) = &pg.options {
        config.options(options);
    }
    match &pg.host {
        PgHost::Socket(dir) => {
            // libpq never uses TLS over a Unix socket.
            let path = dir.join(format!(".s.PGSQL.{}", pg.port));
            let stream = tokio::net::UnixStream::connect(&path).await.map_err(|e| {
                ProbeError::transient(format!("{}: {}", path.display(), io_reason(&e)))
            })?;
            config.ssl_mode(tokio_postgres::config::SslMode::Disable);
            session(&config, stream, NoTls, pg.expect.as_ref()).await
        }
        PgHost::Tcp(host) => {
            let ep = Endpoint {
                host: host.clone(),
                port: pg.port,
            };
            let stream = net::connect(&ep).await?;
            let client_config = match pg.sslmode {
                SslMode::Disable => {
                    config.ssl_mode(tokio_postgres::config::SslMode::Disable);
                    return session(&config, stream, NoTls, pg.expect.as_ref()).await;
                }
                SslMode::Prefer => {
                    config.ssl_mode(tokio_postgres::config::SslMode::Prefer);
                    tls::unverified()
                }
                mode => {
                    config.ssl_mode(tokio_postgres::config::SslMode::Require);
                    let system = pg.sslrootcert == Some(RootCert::System);
                    match (mode, pg.roots.get()) {
                        (SslMode::VerifyFull, _) if system => tls::with_system_roots(),
                        // libpq: require with a root certificate behaves as verify-ca.
                        (SslMode::Require, None) => tls::unverified(),
                        (SslMode::Require | SslMode::VerifyCa, Some(r)) => {
                            tls::with_roots(r, false)
                        }
                        (SslMode::VerifyFull, Some(r)) => tls::with_roots(r, true),
                        // prepare refuses the verifying modes without roots.
                        _ => {
                            return Err(ProbeError::permanent(
                                "sslmode verify-ca and verify-full need a root certificate (sslrootcert)",
                            ))
                        }
                    }
                }
            };
            let client_config = match pg.identity.get() {
                Some(identity) => tls::with_identity(client_config, identity),
                None => client_config,
            };
            let mut maker =
                tokio_postgres_rustls::MakeRustlsConnect::new(Arc::unwrap_or_clone(client_config));
            let connect = <tokio_postgres_rustls::MakeRustlsConnect as MakeTlsConnect<Socket>>::make_tls_connect(
                &mut maker,
                host.to_string().trim_start_matches('[').trim_end_matches(']'),
            )
            .map_err(|e| ProbeError::permanent(format!("invalid TLS server name: {e}")))?;
            session(&config, stream, connect, pg.expect.as_ref()).await
        }
    }
}

/// Logs in over `stream` (read through [`capped::SESSION_MAX`]) and runs `SELECT 1`,
/// or the expectation; closes the session cleanly after.
async fn session<S, T>(
    config: &tokio_postgres::Config,
    stream: S,
    tls: T,
    expectation: Option<&Expectation>,
) -> Result<(), ProbeError>
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    T: TlsConnect<capped::Capped<S>> + Send + 'static,
    T::Stream: Send + 'static,
{
    let (mut client, connection) = config
        .connect_raw(capped::Capped::new(stream), tls)
        .await
        .map_err(|e| classify(&e))?;
    let mut connection = std::pin::pin!(connection);
    let asked = async {
        match expectation {
            Some(e) => expect::check(&mut client, e).await,
            None => client
                .simple_query("SELECT 1")
                .await
                .map(|_| ())
                .map_err(|e| classify(&e)),
        }
    };
    let outcome = tokio::select! {
        done = &mut connection => match done {
            Ok(()) => Err(ProbeError::transient("connection closed by the server")),
            Err(e) => Err(classify(&e)),
        },
        outcome = asked => outcome,
    };
    // Dropping the client makes the connection send Terminate and finish; give it a
    // moment so the server does not log an unexpected EOF.
    drop(client);
    let _ = tokio::time::timeout(Duration::from_millis(50), connection).await;
    outcome
}

/// Classifies a tokio-postgres error by SQLSTATE, TLS failure, or I/O error.
pub fn classify(e: &tokio_postgres::Error) -> ProbeError {
    if let Some(db) = e.as_db_error() {
        let reason = format!("{} ({})", db.message(), db.code().code());
        return ProbeError::new(classify_code(db.code()), reason);
    }
    if let Some(tls) = tls_failure(e) {
        return tls;
    }
    if find_in_chain::<capped::OverCap>(e).is_some() {
        return ProbeError::transient(format!(
            "the server sent over {} KiB in one session: a #query= reads one row, which must be smaller (select only the column that decides)",
            capped::SESSION_MAX / 1024
        ));
    }
    // tokio-postgres puts the detail in the source chain ("invalid configuration"
    // -> "password missing"), so read all of it.
    let mut text = e.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(inner) = source {
        text.push_str(": ");
        text.push_str(&inner.to_string());
        source = inner.source();
    }
    // Server replies are classified by SQLSTATE above. Two failures happen in the
    // client, and tokio-postgres gives them no typed form (its error kind is
    // private): they are told by that library's fixed messages, each pinned by a
    // test (tests/postgres.rs). A password request it cannot answer is a
    // configuration error: waiting cannot fix that, so it counts as a rejected
    // authentication.
    if text.contains("password missing") {
        return ProbeError::permanent(
            "the server asks for a password and none was given (URL or PGPASSWORD)",
        );
    }
    if let Some(io) = super::error::find_io(e) {
        return ProbeError::transient(io_reason(io));
    }
    if text.contains("server does not support TLS") {
        return ProbeError::transient("the server does not support TLS, and sslmode requires it");
    }
    if text.contains("unexpected message") || text.contains("protocol") {
        return ProbeError::transient(format!("not a PostgreSQL server? {text}"));
    }
    ProbeError::transient(text)
}

/// The classification table for SQLSTATE codes.
pub fn classify_code(code: &SqlState) -> super::error::Transience {
    use super::error::Transience::*;
    match *code {
        // Authentication rejected, or the role may not log in.
        SqlState::INVALID_PASSWORD | SqlState::INVALID_AUTHORIZATION_SPECIFICATION => Permanent,
        // The database does not exist.
        SqlState::UNDEFINED_DATABASE => Permanent,
        // Starting up, shutting down, in recovery, too many connections, and every
        // other server state: waiting may help.
        _ => Transient,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::probe::error::Transience::*;

    fn parsed(text: &str, env: &Env) -> Result<PgTarget, String> {
        parse(&Url::parse(text).unwrap(), env)
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
        let pg = parsed("postgres://", &env).unwrap();
        assert_eq!(pg.host, PgHost::Tcp(Host::Name("pg.internal".into())));
        assert_eq!(
            (pg.port, pg.user.as_str(), pg.dbname.as_str()),
            (6543, "svc", "main")
        );
        assert_eq!(pg.password.as_deref(), Some("pw"));
        assert_eq!(pg.sslmode, SslMode::Require);
        // The URL wins over the environment.
        let pg = parsed(
            "postgresql://me:x@db:5433/app?sslmode=verify-full&sslrootcert=/ca.pem",
            &env,
        )
        .unwrap();
        assert_eq!(pg.host, PgHost::Tcp(Host::Name("db".into())));
        assert_eq!(
            (pg.port, pg.user.as_str(), pg.dbname.as_str()),
            (5433, "me", "app")
        );
        assert_eq!(pg.password.as_deref(), Some("x"));
        assert_eq!(pg.sslmode, SslMode::VerifyFull);
        assert_eq!(
            pg.sslrootcert,
            Some(RootCert::File(PathBuf::from("/ca.pem")))
        );
        let err = parsed("postgres://h/db", &Env::from_pairs(&[("PGPORT", "x")]))
            .err()
            .unwrap();
        assert!(err.contains("PGPORT"), "{err}");
    }

    #[test]
    fn postgres_socket_and_defaults() {
        let env = Env::from_pairs(&[("USER", "alice")]);
        let pg = parsed("postgresql://%2Fvar%2Frun%2Fpostgresql/app", &env).unwrap();
        assert_eq!(pg.host, PgHost::Socket("/var/run/postgresql".into()));
        assert_eq!(
            (pg.user.as_str(), pg.dbname.as_str(), pg.port),
            ("alice", "app", 5432)
        );
        assert_eq!(pg.sslmode, SslMode::Prefer);
        let pg = parsed("postgres://u@[::1]:5/d", &env).unwrap();
        assert_eq!(pg.host, PgHost::Tcp(Host::Ip("::1".parse().unwrap())));
    }

    #[test]
    fn root_certificates_as_libpq_finds_them() {
        let env = Env::from_pairs(&[("HOME", "/home/u")]);
        let root = |q: &str| parsed(&format!("postgres://h/d{q}"), &env).map(|p| p.sslrootcert);
        let default = Some(RootCert::Default(Some(
            "/home/u/.postgresql/root.crt".into(),
        )));
        assert_eq!(root("?sslmode=verify-ca").unwrap(), default);
        assert_eq!(root("?sslmode=verify-full").unwrap(), default);
        for q in [
            "",
            "?sslmode=require",
            "?sslmode=prefer",
            "?sslmode=disable",
        ] {
            assert_eq!(root(q).unwrap(), None, "{q}");
        }
        assert_eq!(
            root("?sslmode=require&sslrootcert=/ca.pem").unwrap(),
            Some(RootCert::File("/ca.pem".into()))
        );
        // No HOME: the verifying modes have no root file to find.
        let pg = parsed("postgres://h/d?sslmode=verify-full", &Env::from_pairs(&[])).unwrap();
        assert_eq!(pg.sslrootcert, Some(RootCert::Default(None)));
        // sslrootcert=system: verify-full, by default too; a weaker mode is refused.
        let pg = parsed("postgres://h/d?sslrootcert=system", &env).unwrap();
        assert_eq!(
            (pg.sslmode, pg.sslrootcert),
            (SslMode::VerifyFull, Some(RootCert::System))
        );
        let with_env = Env::from_pairs(&[("PGSSLROOTCERT", "system")]);
        assert_eq!(
            parsed("postgres://h/d", &with_env).unwrap().sslmode,
            SslMode::VerifyFull
        );
        for mode in ["verify-ca", "require", "prefer", "allow", "disable"] {
            let e = root(&format!("?sslmode={mode}&sslrootcert=system")).unwrap_err();
            assert_eq!(
                e,
                format!(
                    "weak sslmode \"{mode}\" may not be used with sslrootcert=system (use \"verify-full\")"
                )
            );
        }
    }

    #[test]
    fn a_verifying_mode_without_its_root_file_is_refused_before_any_attempt() {
        let home = std::env::temp_dir().join(format!("whenready-pg-home-{}", std::process::id()));
        std::fs::create_dir_all(&home).unwrap();
        let env = Env::from_pairs(&[("HOME", home.to_str().unwrap())]);
        for mode in ["verify-ca", "verify-full"] {
            let pg = parsed(&format!("postgres://u:pw@h/d?sslmode={mode}"), &env).unwrap();
            let e = pg.prepare("postgres://u:***@h/d").unwrap_err();
            let file = home.join(".postgresql/root.crt");
            for part in [
                &format!(
                    "root certificate file \"{}\" does not exist",
                    file.display()
                ),
                &format!("sslmode={mode}"),
                "postgres://u:***@h/d",
                "sslrootcert=system",
            ] {
                assert!(e.contains(part), "{part}: {e}");
            }
            assert!(!e.contains('\n'), "{e}");
        }
        let pg = parsed("postgres://h/d?sslmode=verify-ca", &Env::from_pairs(&[])).unwrap();
        let e = pg.prepare("postgres://h/d").unwrap_err();
        assert!(e.contains("HOME") && e.contains("postgres://h/d"), "{e}");
        // sslrootcert=system and the modes that do not verify need no file.
        for q in ["?sslrootcert=system", "?sslmode=require", ""] {
            let pg = parsed(&format!("postgres://h/d{q}"), &env).unwrap();
            assert!(pg.prepare("x").is_ok(), "{q}");
        }
        let _ = std::fs::remove_dir_all(&home);
    }

    #[test]
    fn invalid_password_is_permanent() {
        assert_eq!(classify_code(&SqlState::INVALID_PASSWORD), Permanent);
    }
    #[test]
    fn invalid_authorization_is_permanent() {
        assert_eq!(
            classify_code(&SqlState::INVALID_AUTHORIZATION_SPECIFICATION),
            Permanent
        );
    }
    #[test]
    fn undefined_database_is_permanent() {
        assert_eq!(classify_code(&SqlState::UNDEFINED_DATABASE), Permanent);
    }
    #[test]
    fn cannot_connect_now_is_transient() {
        assert_eq!(classify_code(&SqlState::CANNOT_CONNECT_NOW), Transient);
    }
    #[test]
    fn admin_shutdown_is_transient() {
        assert_eq!(classify_code(&SqlState::ADMIN_SHUTDOWN), Transient);
    }
    #[test]
    fn crash_shutdown_is_transient() {
        assert_eq!(classify_code(&SqlState::CRASH_SHUTDOWN), Transient);
    }
    #[test]
    fn too_many_connections_is_transient() {
        assert_eq!(classify_code(&SqlState::TOO_MANY_CONNECTIONS), Transient);
    }
    #[test]
    fn connection_failure_is_transient() {
        assert_eq!(classify_code(&SqlState::CONNECTION_FAILURE), Transient);
    }
    #[test]
    fn configuration_limit_is_transient() {
        assert_eq!(
            classify_code(&SqlState::CONFIGURATION_LIMIT_EXCEEDED),
            Transient
        );
    }
}
