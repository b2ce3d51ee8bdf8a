//! Probes: one attempt at one target. The one `match` over target kinds lives here;
//! each kind has its module. Deadlines and retries are not a probe's business
//! ([`crate::wait`] bounds every attempt).

pub mod error;
pub mod http;
pub mod mysql;
pub mod net;
pub mod postgres;
pub mod redis;
pub mod simple;
pub mod tls;

pub use error::ProbeError;

use crate::config::{Config, StatusSet, UsageError};
use crate::target::Kind;
use std::sync::OnceLock;

/// What probes share during a run: TLS settings, CA files.
pub struct Ctx {
    tls: tls::Tls,
    http_status: StatusSet,
    http_tls: OnceLock<std::sync::Arc<rustls::ClientConfig>>,
    pg_roots: postgres::RootCerts,
}

impl Ctx {
    /// Prepares the shared state; reads `--cacert` and every `sslrootcert` so that a
    /// missing or broken file is a usage error before the first probe.
    pub fn prepare(config: &Config) -> Result<Ctx, UsageError> {
        let extra = match &config.cacert {
            Some(path) => {
                tls::load_pem(path).map_err(|e| UsageError(format!("invalid --cacert: {e}")))?
            }
            None => Vec::new(),
        };
        let mut pg_roots = postgres::RootCerts::new();
        for t in &config.targets {
            if let Kind::Postgres(pg) = &t.kind {
                if let Some(path) = &pg.sslrootcert {
                    if !pg_roots.contains_key(path) {
                        let certs = tls::load_pem(path).map_err(|e| {
                            UsageError(format!("invalid sslrootcert for {}: {e}", t.shown))
                        })?;
                        pg_roots.insert(path.clone(), certs);
                    }
                }
            }
        }
        Ok(Ctx {
            tls: tls::Tls::new(extra, config.insecure),
            http_status: config.http_status.clone(),
            http_tls: OnceLock::new(),
            pg_roots,
        })
    }
}

/// Makes one attempt at `kind`.
pub async fn probe(kind: &Kind, ctx: &Ctx) -> Result<(), ProbeError> {
    match kind {
        Kind::Tcp(ep) => simple::tcp(ep).await,
        Kind::Unix(path) => simple::unix(path).await,
        Kind::File(path) => simple::file(path).await,
        Kind::Http(url) => {
            let tls = || {
                ctx.http_tls
                    .get_or_init(|| http::tls_config(&ctx.tls))
                    .clone()
            };
            http::probe(url, &ctx.http_status, &tls).await
        }
        Kind::Postgres(pg) => postgres::probe(pg, &ctx.pg_roots).await,
        Kind::Redis(r) => redis::probe(r, &ctx.tls).await,
        Kind::Mysql(t) => mysql::probe(t).await,
    }
}
