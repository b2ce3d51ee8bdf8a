//! PostgreSQL: an authenticated session opens and `SELECT 1` returns.
//!
//! The socket is ours (every address tried, or the Unix socket `DIR/.s.PGSQL.PORT`);
//! tokio-postgres speaks the protocol over it (`connect_raw`). TLS follows libpq's
//! `sslmode`, which tokio-postgres alone cannot (it knows disable/prefer/require).

use super::error::{io_reason, tls_failure, ProbeError};
use super::net;
use super::tls;
use crate::target::{Endpoint, PgHost, PgTarget, SslMode};
use rustls::pki_types::CertificateDer;
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio_postgres::error::SqlState;
use tokio_postgres::tls::{MakeTlsConnect, NoTls, TlsConnect};
use tokio_postgres::Socket;

/// CA files named by `sslrootcert`, read and checked before the first probe.
pub type RootCerts = HashMap<PathBuf, Vec<CertificateDer<'static>>>;

/// One attempt at a PostgreSQL target.
pub async fn probe(pg: &PgTarget, roots: &RootCerts) -> Result<(), ProbeError> {
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
            session(&config, stream, NoTls).await
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
                    return session(&config, stream, NoTls).await;
                }
                SslMode::Prefer => {
                    config.ssl_mode(tokio_postgres::config::SslMode::Prefer);
                    tls::unverified()
                }
                mode => {
                    config.ssl_mode(tokio_postgres::config::SslMode::Require);
                    let root = pg.sslrootcert.as_ref().and_then(|p| roots.get(p));
                    match (mode, root) {
                        // libpq: require with a root certificate behaves as verify-ca.
                        (SslMode::Require, None) => tls::unverified(),
                        (SslMode::Require | SslMode::VerifyCa, Some(r)) => {
                            tls::with_roots(r, false)
                        }
                        (SslMode::VerifyFull, Some(r)) => tls::with_roots(r, true),
                        (SslMode::VerifyCa, None) => tls::with_system_roots(false),
                        _ => tls::with_system_roots(true),
                    }
                }
            };
            let mut maker =
                tokio_postgres_rustls::MakeRustlsConnect::new(Arc::unwrap_or_clone(client_config));
            let connect = <tokio_postgres_rustls::MakeRustlsConnect as MakeTlsConnect<Socket>>::make_tls_connect(
                &mut maker,
                host.to_string().trim_start_matches('[').trim_end_matches(']'),
            )
            .map_err(|e| ProbeError::permanent(format!("invalid TLS server name: {e}")))?;
            session(&config, stream, connect).await
        }
    }
}

/// Logs in over `stream` and runs `SELECT 1`; closes the session cleanly after.
async fn session<S, T>(config: &tokio_postgres::Config, stream: S, tls: T) -> Result<(), ProbeError>
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    T: TlsConnect<S> + Send + 'static,
    T::Stream: Send + 'static,
{
    let (client, connection) = config
        .connect_raw(stream, tls)
        .await
        .map_err(|e| classify(&e))?;
    let mut connection = std::pin::pin!(connection);
    let outcome = tokio::select! {
        done = &mut connection => match done {
            Ok(()) => Err(ProbeError::transient("connection closed by the server")),
            Err(e) => Err(classify(&e)),
        },
        rows = client.simple_query("SELECT 1") => rows.map(|_| ()).map_err(|e| classify(&e)),
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
        return match classify_code(db.code()) {
            super::error::Transience::Permanent => ProbeError::permanent(reason),
            super::error::Transience::Transient => ProbeError::transient(reason),
        };
    }
    if let Some(tls) = tls_failure(e) {
        return tls;
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
    // tokio-postgres reports a password request it cannot answer as a configuration
    // error: waiting cannot fix that, so it counts as a rejected authentication.
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
