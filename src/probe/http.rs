//! `http://…`, `https://…`: a GET whose final status is in `--http-status`, at most
//! 10 redirects.
//!
//! Each request goes over a connection of our own: the host is resolved again and
//! every address tried ([`super::net`]), TLS uses the run's rustls configuration
//! (system + bundled roots + `--cacert`, or none with `--insecure`), and hyper speaks
//! HTTP/1.1. Credentials in the URL become Basic authentication. Proxy variables
//! (HTTP_PROXY, ...) are not used: a readiness probe goes straight to the service.

use super::error::{find_io, io_reason, tls_failure, ProbeError};
use super::tls::{self, Tls};
use super::{net, Attempt, Check, Ctx, Kind};
use crate::env::Env;
use crate::target::{Endpoint, Host};
use base64::Engine;
use http_body_util::Empty;
use hyper::body::Bytes;
use hyper_util::rt::TokioIo;
use std::net::IpAddr;
use std::ops::RangeInclusive;
use std::sync::{Arc, OnceLock};
use tokio::io::{AsyncRead, AsyncWrite};
use url::Url;

/// The HTTP(S) kind.
pub struct Http;

impl Kind for Http {
    fn name(&self) -> &'static str {
        "http"
    }
    fn schemes(&self) -> &'static [&'static str] {
        &["http", "https"]
    }
    fn forms(&self) -> &'static str {
        "http(s)://"
    }
    fn help(&self) -> (&'static str, &'static str) {
        (
            "http://..., https://...",
            "GET answers a status in --http-status",
        )
    }
    fn parse(&self, url: &Url, _env: &Env) -> Result<Box<dyn Check>, String> {
        if url.host_str().is_none_or(str::is_empty) {
            return Err("missing host".into());
        }
        Ok(Box::new(HttpTarget {
            url: url.clone(),
            tls: OnceLock::new(),
        }))
    }
}

/// An HTTP(S) target: the URL, and the TLS configuration made on first use (plain
/// http never reads the CA bundle).
pub struct HttpTarget {
    /// The URL to GET.
    pub url: Url,
    tls: OnceLock<Arc<rustls::ClientConfig>>,
}

impl Check for HttpTarget {
    fn probe<'a>(&'a self, ctx: &'a Ctx) -> Attempt<'a> {
        Box::pin(async move {
            let tls = || self.tls.get_or_init(|| tls_config(&ctx.tls)).clone();
            probe(&self.url, &ctx.http_status, &tls).await
        })
    }
}

/// A set of accepted HTTP statuses: codes and inclusive ranges (`--http-status`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatusSet(Vec<RangeInclusive<u16>>);

impl StatusSet {
    /// Parses `200,204,300-399`.
    pub fn parse(text: &str) -> Result<StatusSet, String> {
        let mut ranges = Vec::new();
        for part in text.split(',').map(str::trim) {
            let code = |s: &str| -> Result<u16, String> {
                match s.trim().parse::<u16>() {
                    Ok(c) if (100..=599).contains(&c) => Ok(c),
                    _ => Err(format!("{s:?} is not an HTTP status (100-599)")),
                }
            };
            if part.is_empty() {
                return Err("empty entry: write codes and ranges such as 200,204,300-399".into());
            }
            let range = match part.split_once('-') {
                Some((lo, hi)) => {
                    let (lo, hi) = (code(lo)?, code(hi)?);
                    if lo > hi {
                        return Err(format!("range {part:?} is backwards"));
                    }
                    lo..=hi
                }
                None => {
                    let c = code(part)?;
                    c..=c
                }
            };
            ranges.push(range);
        }
        Ok(StatusSet(ranges))
    }

    /// Whether `status` is accepted.
    pub fn contains(&self, status: u16) -> bool {
        self.0.iter().any(|r| r.contains(&status))
    }
}

impl Default for StatusSet {
    fn default() -> Self {
        StatusSet(vec![200..=299])
    }
}

impl std::fmt::Display for StatusSet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let parts: Vec<String> = self
            .0
            .iter()
            .map(|r| {
                if r.start() == r.end() {
                    r.start().to_string()
                } else {
                    format!("{}-{}", r.start(), r.end())
                }
            })
            .collect();
        f.write_str(&parts.join(","))
    }
}

/// How many redirects one attempt follows before it counts as not ready.
pub const MAX_REDIRECTS: usize = 10;

/// The TLS configuration for https targets, with HTTP/1.1 offered by ALPN.
pub fn tls_config(tls: &Tls) -> Arc<rustls::ClientConfig> {
    let mut config = (*tls.verified()).clone();
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Arc::new(config)
}

/// The TLS configuration, made on first use: plain http never reads the CA bundle.
pub type LazyTls<'a> = &'a (dyn Fn() -> Arc<rustls::ClientConfig> + Sync);

/// One attempt: GET `url`, following redirects; ready when the final status is
/// accepted.
pub async fn probe(url: &Url, accepted: &StatusSet, tls: LazyTls<'_>) -> Result<(), ProbeError> {
    let mut url = url.clone();
    for _ in 0..=MAX_REDIRECTS {
        let (status, location) = get(&url, tls).await?;
        let follow = matches!(status, 301 | 302 | 303 | 307 | 308);
        match location.filter(|_| follow) {
            Some(location) => {
                url = url.join(&location).map_err(|_| {
                    ProbeError::transient(format!("HTTP {status} with an invalid Location"))
                })?;
                if !matches!(url.scheme(), "http" | "https") {
                    return Err(ProbeError::transient(format!(
                        "HTTP {status} redirects to a {} URL",
                        url.scheme()
                    )));
                }
            }
            None if accepted.contains(status) => return Ok(()),
            None => return Err(ProbeError::transient(status_reason(status))),
        }
    }
    Err(ProbeError::transient(format!(
        "more than {MAX_REDIRECTS} redirects"
    )))
}

fn status_reason(status: u16) -> String {
    let reason = hyper::StatusCode::from_u16(status)
        .ok()
        .and_then(|s| s.canonical_reason())
        .unwrap_or("");
    format!("HTTP {status} {reason}").trim_end().to_string()
}

/// One request; returns the status and the Location header.
async fn get(url: &Url, tls: LazyTls<'_>) -> Result<(u16, Option<String>), ProbeError> {
    let host = match url.host() {
        Some(url::Host::Domain(d)) => Host::Name(d.to_string()),
        Some(url::Host::Ipv4(a)) => Host::Ip(IpAddr::V4(a)),
        Some(url::Host::Ipv6(a)) => Host::Ip(IpAddr::V6(a)),
        None => return Err(ProbeError::transient("a redirect without a host")),
    };
    let port = url.port_or_known_default().unwrap_or(80);
    let endpoint = Endpoint {
        host: host.clone(),
        port,
    };
    let stream = net::connect(&endpoint).await?;
    if url.scheme() == "https" {
        let stream = tls::connect(stream, &host, tls()).await?;
        exchange(stream, url).await
    } else {
        exchange(stream, url).await
    }
}

async fn exchange<S>(stream: S, url: &Url) -> Result<(u16, Option<String>), ProbeError>
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .map_err(|e| classify(&e))?;
    let request = request(url)
        .map_err(|e| ProbeError::transient(format!("cannot build the request: {e}")))?;
    let mut connection = std::pin::pin!(connection);
    let mut send = std::pin::pin!(sender.send_request(request));
    let response = tokio::select! {
        response = &mut send => response,
        done = &mut connection => match done {
            // A server that closes after answering (Connection: close) ends the
            // connection task right after handing over the response: collect it.
            Ok(()) => send.await,
            Err(e) => return Err(classify(&e)),
        },
    }
    .map_err(|e| classify(&e))?;
    let location = response
        .headers()
        .get(hyper::header::LOCATION)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    // The body is not needed; dropping the response and the connection closes it.
    Ok((response.status().as_u16(), location))
}

fn request(url: &Url) -> Result<hyper::Request<Empty<Bytes>>, hyper::http::Error> {
    let mut target = url.path().to_string();
    if let Some(q) = url.query() {
        target.push('?');
        target.push_str(q);
    }
    let host = match (url.host_str(), url.port()) {
        (Some(h), Some(p)) => format!("{h}:{p}"),
        (Some(h), None) => h.to_string(),
        (None, _) => String::new(),
    };
    let mut builder = hyper::Request::get(target)
        .header(hyper::header::HOST, host)
        .header(
            hyper::header::USER_AGENT,
            concat!("whenready/", env!("CARGO_PKG_VERSION")),
        )
        .header(hyper::header::ACCEPT, "*/*")
        .header(hyper::header::CONNECTION, "close");
    if !url.username().is_empty() || url.password().is_some() {
        let decode = |s: &str| {
            percent_encoding::percent_decode_str(s)
                .decode_utf8_lossy()
                .into_owned()
        };
        let pair = format!(
            "{}:{}",
            decode(url.username()),
            decode(url.password().unwrap_or(""))
        );
        let encoded = base64::engine::general_purpose::STANDARD.encode(pair);
        builder = builder.header(hyper::header::AUTHORIZATION, format!("Basic {encoded}"));
    }
    builder.body(Empty::new())
}

fn classify(e: &hyper::Error) -> ProbeError {
    if let Some(tls) = tls_failure(e) {
        return tls;
    }
    if e.is_parse() || e.is_parse_status() {
        return ProbeError::transient("not an HTTP response (garbage from the peer)");
    }
    if e.is_incomplete_message() {
        return ProbeError::transient("connection closed before the response was complete");
    }
    if let Some(io) = find_io(e) {
        return ProbeError::transient(io_reason(io));
    }
    ProbeError::transient(e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_carries_host_path_query_and_basic_auth() {
        let url = Url::parse("http://us%40er:p%3Ass@svc:8080/health/live?full=1").unwrap();
        let req = request(&url).unwrap();
        assert_eq!(req.uri(), "/health/live?full=1");
        assert_eq!(req.headers()["host"], "svc:8080");
        // "us@er:p:ss"
        assert_eq!(req.headers()["authorization"], "Basic dXNAZXI6cDpzcw==");
        let req = request(&Url::parse("https://[::1]/").unwrap()).unwrap();
        assert_eq!(req.headers()["host"], "[::1]");
        assert!(req.headers().get("authorization").is_none());
    }

    #[test]
    fn status_lists() {
        let s = StatusSet::parse("200,204,300-399").unwrap();
        assert!(s.contains(204) && s.contains(301) && !s.contains(201) && !s.contains(400));
        assert_eq!(s.to_string(), "200,204,300-399");
        for bad in ["", "2OO", "99", "600", "300-200", "200,", "200-"] {
            assert!(StatusSet::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn status_reasons() {
        assert_eq!(status_reason(503), "HTTP 503 Service Unavailable");
        assert_eq!(status_reason(599), "HTTP 599");
    }
}
