//! HTTP(S): a GET whose final status is in `--http-status`, at most 10 redirects.
//!
//! One `reqwest::Client` serves the whole run; it uses our rustls configuration
//! (system + bundled roots + `--cacert`, or none with `--insecure`).

use super::error::{find_io, io_reason, tls_failure, ProbeError};
use crate::config::StatusSet;
use std::sync::Arc;
use url::Url;

/// How many redirects one attempt follows before it counts as not ready.
pub const MAX_REDIRECTS: usize = 10;

/// Builds the client used by every HTTP attempt of the run.
pub fn client(tls: Arc<rustls::ClientConfig>) -> Result<reqwest::Client, String> {
    let mut tls = (*tls).clone();
    tls.alpn_protocols = vec![b"http/1.1".to_vec()];
    reqwest::Client::builder()
        .tls_backend_preconfigured(tls)
        .redirect(reqwest::redirect::Policy::limited(MAX_REDIRECTS))
        .user_agent(concat!("whenready/", env!("CARGO_PKG_VERSION")))
        // Each attempt is a fresh look at the service, not a reused connection.
        .pool_max_idle_per_host(0)
        .build()
        .map_err(|e| format!("cannot set up the HTTP client: {e}"))
}

/// One GET of `url`; ready when the final status is accepted.
pub async fn probe(client: &reqwest::Client, url: &Url, accepted: &StatusSet) -> Result<(), ProbeError> {
    let response = client.get(url.clone()).send().await.map_err(classify)?;
    let status = response.status();
    if accepted.contains(status.as_u16()) {
        Ok(())
    } else {
        let reason = status.canonical_reason().unwrap_or("");
        Err(ProbeError::transient(format!("HTTP {} {reason}", status.as_u16()).trim_end().to_string()))
    }
}

fn classify(err: reqwest::Error) -> ProbeError {
    // reqwest's Display quotes the URL, which may hold a password: never use it whole.
    let err = err.without_url();
    if let Some(tls) = tls_failure(&err) {
        return tls;
    }
    if err.is_redirect() {
        return ProbeError::transient(format!("more than {MAX_REDIRECTS} redirects"));
    }
    if let Some(io) = find_io(&err) {
        return ProbeError::transient(io_reason(io));
    }
    // The innermost message is the most specific (hyper's "connection closed before
    // message completed", "invalid HTTP version parsed", ...).
    let mut inner: &(dyn std::error::Error + 'static) = &err;
    while let Some(next) = inner.source() {
        inner = next;
    }
    ProbeError::transient(inner.to_string())
}
