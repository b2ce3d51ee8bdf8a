//! MySQL and MariaDB (`mysql://`, `mariadb://`): an authenticated session opens (on
//! the database, when the URL names one) and `COM_PING` is answered with OK.
//!
//! The client side of the MySQL client/server protocol is written here by hand, just
//! what a readiness check needs, in one file per concern:
//! - this file: the kind, the target and its URL, the table of the server's error
//!   codes, and the probe;
//! - `packet`: the wire format (framing with sequence numbers and a size cap, the
//!   greeting, ERR packets, the fixed part of the login);
//! - `auth`: the authentication methods (`mysql_native_password`,
//!   `caching_sha2_password`, MariaDB's `client_ed25519`, and the methods that send
//!   the password as it is);
//! - `server_key`: the server's RSA key, for `caching_sha2_password`'s full
//!   authentication without TLS;
//! - `session`: one session, from the greeting through TLS and the login to
//!   `COM_PING` and `COM_QUIT`;
//! - `query`: a fragment's `#query=SQL` or `#table=NAME`, run read-only instead
//!   of the ping, and its result read through limits.
//!
//! Every packet from the server is bounds-checked and capped in size: no server input
//! can panic.

mod auth;
#[cfg(test)]
mod fake;
mod packet;
#[cfg(test)]
mod proptests;
pub mod query;
mod server_key;
mod session;

pub use packet::Io;
pub use session::session;

use super::error::{ProbeError, Transience};
use super::net;
use super::tls;
use crate::endpoint::{Endpoint, Host};
use crate::env::Env;
use rustls::pki_types::CertificateDer;
use std::path::PathBuf;
use std::sync::Arc;
use url::Url;

/// The port MySQL and MariaDB listen on by default.
pub const DEFAULT_PORT: u16 = 3306;

/// The mysql client's `--ssl-mode`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SslMode {
    /// Plaintext only.
    Disabled,
    /// TLS when the server offers it, certificate not verified; plaintext otherwise.
    Preferred,
    /// TLS or nothing; the certificate is verified against `ssl-ca` when one is given.
    Required,
    /// TLS, the chain verified against `ssl-ca` (which it needs); name not checked.
    VerifyCa,
    /// TLS, the chain verified against `ssl-ca` (which it needs) and the host name
    /// checked.
    VerifyIdentity,
}

/// A MySQL / MariaDB target with `MYSQL_PWD` already applied.
#[derive(Clone)]
pub struct MysqlTarget {
    /// Server address (port 3306 unless the URL says otherwise).
    pub endpoint: Endpoint,
    /// User to log in as.
    pub user: String,
    /// Password, from the URL or `MYSQL_PWD`.
    pub password: Option<String>,
    /// Database to open, when the URL names one.
    pub database: Option<String>,
    /// TLS policy.
    pub ssl_mode: SslMode,
    /// The `ssl-ca` file and its certificates, read when the URL is parsed.
    pub ssl_ca: Option<(PathBuf, Arc<Vec<CertificateDer<'static>>>)>,
    /// `get-server-public-key=true`: without TLS, caching_sha2_password's full
    /// authentication may ask the server for its RSA key (unauthenticated, as the
    /// mysql client's option of that name).
    pub get_server_public_key: bool,
    /// `#query=` or `#table=`: the statement run instead of the ping.
    pub expect: Option<query::Expect>,
}

impl std::fmt::Debug for MysqlTarget {
    // Never show the password, not even in Debug output.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MysqlTarget")
            .field("endpoint", &self.endpoint)
            .field("user", &self.user)
            .field("password", &self.password.as_ref().map(|_| "***"))
            .field("database", &self.database)
            .field("ssl_mode", &self.ssl_mode)
            .field("ssl_ca", &self.ssl_ca.as_ref().map(|(p, _)| p))
            .field("get_server_public_key", &self.get_server_public_key)
            .field("expect", &self.expect)
            .finish()
    }
}

/// Why a verifying ssl-mode without `ssl-ca` is refused (the mysql client's rule).
const NEEDS_CA: &str = "ssl-mode VERIFY_CA and VERIFY_IDENTITY need ssl-ca=FILE";

const FORM: &str =
    "a mysql URL is mysql://[USER[:PASSWORD]@][HOST][:PORT][/DB][?ssl-mode=MODE&ssl-ca=FILE]";

/// Parses a `mysql://` or `mariadb://` URL. The password comes from `MYSQL_PWD` when
/// the URL has none; the user defaults to `USER` (then `root`), the host to
/// `localhost`. Query parameters: `ssl-mode` (also spelled `ssl_mode`) with the mysql
/// client's values, case-insensitive; `ssl-ca` (also `ssl_ca`), a PEM file read
/// here so that a missing file is an error before the first attempt, and which
/// VERIFY_CA and VERIFY_IDENTITY need;
/// `get-server-public-key` (also `get_server_public_key`), true or false. Errors never
/// contain the password.
pub fn parse(url: &Url, env: &Env) -> Result<MysqlTarget, String> {
    let endpoint = match url.host() {
        None | Some(url::Host::Domain("")) => Endpoint {
            host: Host::Name("localhost".into()),
            port: match url.port() {
                Some(0) => {
                    return Err("invalid port \"0\": expected a number from 1 to 65535".into())
                }
                Some(p) => p,
                None => DEFAULT_PORT,
            },
        },
        Some(_) => crate::endpoint::url_endpoint(url, Some(DEFAULT_PORT))?,
    };
    let user = match crate::endpoint::decode(url.username()) {
        u if !u.is_empty() => u,
        _ => env
            .get("USER")?
            .map(str::to_string)
            .unwrap_or_else(|| "root".into()),
    };
    let password = match url.password() {
        Some(p) => Some(crate::endpoint::decode(p)),
        None => env.get("MYSQL_PWD")?.map(str::to_string),
    };
    password.iter().for_each(|p| crate::secret::register(p));
    let path = crate::endpoint::decode(url.path().trim_start_matches('/'));
    let database = match path.as_str() {
        "" => None,
        p if p.contains('/') || p.contains('\0') => {
            return Err(format!("invalid database {p:?}: {FORM}"))
        }
        p => Some(p.to_string()),
    };
    let mut ssl_mode = SslMode::Preferred;
    let mut ssl_ca = None;
    let mut get_server_public_key = false;
    for (k, v) in url.query_pairs() {
        match k.as_ref() {
            "ssl-mode" | "ssl_mode" => {
                ssl_mode = match v.to_ascii_uppercase().as_str() {
                    "DISABLED" => SslMode::Disabled,
                    "PREFERRED" => SslMode::Preferred,
                    "REQUIRED" => SslMode::Required,
                    "VERIFY_CA" => SslMode::VerifyCa,
                    "VERIFY_IDENTITY" => SslMode::VerifyIdentity,
                    _ => {
                        return Err(format!(
                            "invalid ssl-mode {v:?}: expected DISABLED, PREFERRED, REQUIRED, VERIFY_CA or VERIFY_IDENTITY"
                        ))
                    }
                }
            }
            "ssl-ca" | "ssl_ca" => {
                let path = PathBuf::from(v.as_ref());
                let certs = tls::load_pem(&path).map_err(|e| format!("invalid ssl-ca: {e}"))?;
                ssl_ca = Some((path, Arc::new(certs)));
            }
            "get-server-public-key" | "get_server_public_key" => {
                get_server_public_key = match v.to_ascii_lowercase().as_str() {
                    "true" | "1" | "on" | "yes" => true,
                    "false" | "0" | "off" | "no" => false,
                    _ => {
                        return Err(format!(
                            "invalid get-server-public-key {v:?}: expected true or false"
                        ))
                    }
                }
            }
            other => return Err(format!("unknown parameter {other:?}: {FORM}")),
        }
    }
    // The mysql client refuses these modes without a CA ("CA certificate is required
    // if ssl-mode is VERIFY_CA or VERIFY_IDENTITY"): the system's roots would let any
    // publicly trusted certificate pass, and VERIFY_CA does not check the name.
    if ssl_ca.is_none() {
        let mode = match ssl_mode {
            SslMode::VerifyCa => "VERIFY_CA",
            SslMode::VerifyIdentity => "VERIFY_IDENTITY",
            _ => "",
        };
        if !mode.is_empty() {
            return Err(format!(
                "ssl-mode={mode} needs ssl-ca=FILE, the CA certificate that signed the server's certificate (the mysql client refuses it too: \"CA certificate is required if ssl-mode is VERIFY_CA or VERIFY_IDENTITY\")"
            ));
        }
    }
    let expect = super::sql::Expectation::parse(url.fragment().unwrap_or(""), "mysql")?
        .map(|e| query::Expect::new(e, database.as_deref()))
        .transpose()?;
    Ok(MysqlTarget {
        endpoint,
        user,
        password,
        database,
        ssl_mode,
        ssl_ca,
        get_server_public_key,
        expect,
    })
}

/// The classification table for the server's error codes: access denied and unknown
/// database are permanent; everything else (too many connections 1040, shutdown in
/// progress 1053, host blocked 1129, aborted connection 1152, too many user
/// connections 1203, server starting, ...) is transient, as the contract says of
/// every failure it does not list.
pub fn classify(code: u16) -> Transience {
    match code {
        // ER_DBACCESS_DENIED_ERROR, ER_ACCESS_DENIED_ERROR,
        // ER_ACCESS_DENIED_NO_PASSWORD_ERROR.
        1044 | 1045 | 1698 => Transience::Permanent,
        // ER_BAD_DB_ERROR.
        1049 => Transience::Permanent,
        // ER_NOT_SUPPORTED_AUTH_MODE: the server demands a method the client lacks.
        1251 => Transience::Permanent,
        _ => Transience::Transient,
    }
}

/// One attempt at a MySQL / MariaDB target: connect (every address, resolved now),
/// handshake, TLS as `ssl-mode` asks, authenticate, open the database, `COM_PING`,
/// then `COM_QUIT`.
pub async fn probe(t: &MysqlTarget) -> Result<(), ProbeError> {
    let stream = net::connect(&t.endpoint).await?;
    session(Box::new(stream), t).await
}

/// The MySQL / MariaDB kind.
pub struct Mysql;

impl super::kind::Kind for Mysql {
    fn name(&self) -> &'static str {
        "mysql"
    }
    fn schemes(&self) -> &'static [&'static str] {
        &["mysql", "mariadb"]
    }
    fn forms(&self) -> &'static str {
        "mysql://, mariadb://"
    }
    fn help(&self) -> (&'static str, &'static str) {
        (
            "mysql://..., mariadb://...",
            "login (on DB, if given) succeeds, COM_PING answers OK; #query=SQL is true, #table=NAME exists",
        )
    }
    fn environment(&self) -> Option<&'static str> {
        Some("MYSQL_PWD is the MySQL / MariaDB password when the URL has none")
    }
    fn takes_fragment(&self) -> bool {
        true
    }
    fn fragment_as_given(&self) -> bool {
        true
    }
    fn parse(&self, url: &Url, env: &Env) -> Result<Box<dyn super::kind::Check>, String> {
        Ok(Box::new(parse(url, env)?))
    }
}

impl super::kind::Check for MysqlTarget {
    fn probe<'a>(&'a self, _ctx: &'a super::kind::Ctx) -> super::kind::Attempt<'a> {
        Box::pin(probe(self))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_str(text: &str, env: &Env) -> Result<MysqlTarget, String> {
        parse(&Url::parse(text).unwrap(), env)
    }

    /// A PEM file with one (self-signed) certificate, removed by the caller.
    fn ca_file() -> PathBuf {
        use std::sync::atomic::{AtomicUsize, Ordering};
        static N: AtomicUsize = AtomicUsize::new(0);
        let key = rcgen::KeyPair::generate().unwrap();
        let cert = rcgen::CertificateParams::new(vec!["ca.test".to_string()])
            .unwrap()
            .self_signed(&key)
            .unwrap();
        let path = std::env::temp_dir().join(format!(
            "whenready-mysql-ca-{}-{}.pem",
            std::process::id(),
            N.fetch_add(1, Ordering::SeqCst)
        ));
        std::fs::write(&path, cert.pem()).unwrap();
        path
    }

    #[test]
    fn classification_table() {
        for code in [1044, 1045, 1698, 1049, 1251] {
            assert_eq!(classify(code), Transience::Permanent, "{code}");
        }
        for code in [1040, 1053, 1129, 1152, 1203, 1226, 2013, 0, 65535] {
            assert_eq!(classify(code), Transience::Transient, "{code}");
        }
    }

    #[test]
    fn urls() {
        let env = Env::from_pairs(&[("USER", "me")]);
        let t = parse_str("mysql://", &env).unwrap();
        assert_eq!(t.endpoint.host, Host::Name("localhost".into()));
        assert_eq!(t.endpoint.port, 3306);
        assert_eq!(t.user, "me");
        assert_eq!(t.password, None);
        assert_eq!(t.database, None);
        assert_eq!(t.ssl_mode, SslMode::Preferred);
        let t = parse_str("mariadb://a%40b:p%40ss@[::1]:3307/my%20db?SSL-MODE=x", &env);
        assert!(t.unwrap_err().contains("unknown parameter \"SSL-MODE\""));
        let ca = ca_file();
        let t = parse_str(
            &format!(
                "mariadb://a%40b:p%40ss@[::1]:3307/my%20db?ssl-mode=verify_identity&ssl_ca={}",
                ca.display()
            ),
            &env,
        )
        .unwrap();
        assert_eq!(t.ssl_ca.as_ref().map(|(p, c)| (p, c.len())), Some((&ca, 1)));
        assert_eq!(t.user, "a@b");
        assert_eq!(t.password.as_deref(), Some("p@ss"));
        assert_eq!(t.database.as_deref(), Some("my db"));
        assert_eq!(t.endpoint.port, 3307);
        assert_eq!(t.ssl_mode, SslMode::VerifyIdentity);
        for (mode, want) in [
            ("DISABLED", SslMode::Disabled),
            ("preferred", SslMode::Preferred),
            ("Required", SslMode::Required),
            ("verify_ca", SslMode::VerifyCa),
            ("Verify_Identity", SslMode::VerifyIdentity),
        ] {
            let url = format!("mysql://h?ssl_mode={mode}&ssl-ca={}", ca.display());
            let t = parse_str(&url, &env).unwrap();
            assert_eq!(t.ssl_mode, want);
        }
        // The verifying modes need a CA, in either order of the parameters.
        for mode in ["VERIFY_CA", "verify_identity"] {
            let e = parse_str(&format!("mysql://u:Sekret-1@h?ssl-mode={mode}"), &env).unwrap_err();
            assert!(
                e.contains(&format!("ssl-mode={}", mode.to_uppercase()))
                    && e.contains("needs ssl-ca=FILE")
                    && !e.contains("Sekret-1"),
                "{e}"
            );
            let url = format!("mysql://h?ssl-ca={}&ssl-mode={mode}", ca.display());
            assert!(parse_str(&url, &env).is_ok());
        }
        let _ = std::fs::remove_file(&ca);
        let e = parse_str("mysql://h?ssl-mode=verify-full", &env).unwrap_err();
        assert!(e.contains("invalid ssl-mode"), "{e}");
        let e = parse_str("mysql://h?ssl-ca=/nonexistent/ca.pem", &env).unwrap_err();
        assert!(
            e.contains("invalid ssl-ca") && e.contains("/nonexistent/ca.pem"),
            "{e}"
        );
        let e = parse_str("mysql://u:Sekret-1@h/a/b", &env).unwrap_err();
        assert!(
            e.contains("invalid database") && !e.contains("Sekret-1"),
            "{e}"
        );
        let t = parse_str("mysql://h?get-server-public-key=TRUE", &env).unwrap();
        assert!(t.get_server_public_key);
        let e = parse_str("mysql://h?get_server_public_key=maybe", &env).unwrap_err();
        assert!(e.contains("invalid get-server-public-key"), "{e}");
        let e = parse_str("mysql://h:0", &env).unwrap_err();
        assert!(e.contains("invalid port"), "{e}");
    }

    #[test]
    fn mysql_pwd_is_the_password_when_the_url_has_none() {
        let env = Env::from_pairs(&[("MYSQL_PWD", "from-env")]);
        let t = parse_str("mysql://u@h", &env).unwrap();
        assert_eq!(t.password.as_deref(), Some("from-env"));
        let t = parse_str("mysql://u:url@h", &env).unwrap();
        assert_eq!(t.password.as_deref(), Some("url"));
        let shown = format!("{t:?}");
        assert!(!shown.contains("url\""), "{shown}");
        assert!(shown.contains("***"), "{shown}");
    }

    // ------------------------------------------------------------ a fake server
}
