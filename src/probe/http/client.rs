//! Sending an http target's request over a connection of our own (resolved again at
//! every attempt, every address tried, our TLS, or the Unix socket of `http+unix`),
//! with hyper's HTTP/1.1, following at most [`MAX_REDIRECTS`] redirects.

use super::spec::{expectations, status_reason, Answer, BODY_LIMIT};
use super::HttpTarget;
use crate::endpoint::{decode, Endpoint, Host};
use crate::probe::error::{find_io, io_reason, tls_failure, ProbeError};
use crate::probe::net;
use crate::probe::status::StatusSet;
use crate::probe::tls::{self, Tls};
use base64::Engine;
use http_body_util::{BodyExt, Full};
use hyper::body::{Bytes, Incoming};
use hyper::header::{HeaderName, HeaderValue};
use hyper::Method;
use hyper_util::rt::TokioIo;
use std::net::IpAddr;
use std::path::PathBuf;
use std::sync::Arc;
use tokio::io::{AsyncRead, AsyncWrite};
use url::Url;

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

/// One request as sent: where, how, with which headers and body.
struct Request<'a> {
    url: &'a Url,
    socket: Option<&'a PathBuf>,
    method: Method,
    headers: Vec<&'a (HeaderName, HeaderValue)>,
    body: Option<Bytes>,
}

/// One attempt: the request, following redirects; ready when the final answer
/// meets the target's expectations (`accepted` is `--http-status`, used when the
/// target has no `status=` of its own).
pub async fn probe(
    t: &HttpTarget,
    file_headers: &[(HeaderName, HeaderValue)],
    accepted: &StatusSet,
    tls: LazyTls<'_>,
) -> Result<(), ProbeError> {
    let spec = &t.spec;
    let accepted = spec.status.as_ref().unwrap_or(accepted);
    let origin = origin_of(&t.url);
    let mut url = t.url.clone();
    let mut socket = t.socket.as_ref();
    let mut method = spec.method();
    let mut body = spec.body.clone();
    for _ in 0..=MAX_REDIRECTS {
        // Headers from the fragment go to the target's own origin only, as curl
        // drops credentials when a redirect leads to another host.
        let headers = if origin_of(&url) == origin {
            spec.headers.iter().chain(file_headers).collect()
        } else {
            Vec::new()
        };
        let request = Request {
            url: &url,
            socket,
            method: method.clone(),
            headers,
            body: body.clone(),
        };
        let answer = send(request, spec.needs_body(), tls).await?;
        let status = answer.status;
        let follow = matches!(status, 301 | 302 | 303 | 307 | 308);
        let location = answer
            .headers
            .get(hyper::header::LOCATION)
            .and_then(|v| v.to_str().ok());
        match location.filter(|_| follow) {
            Some(location) => {
                let next = url.join(location).map_err(|_| {
                    ProbeError::transient(format!("HTTP {status} with an invalid Location"))
                })?;
                match next.scheme() {
                    "http" | "https" => socket = None,
                    // Only a socket's own server may send us to another path on it.
                    "http+unix" if url.scheme() == "http+unix" => {}
                    other => {
                        return Err(ProbeError::transient(format!(
                            "HTTP {status} redirects to a {other} URL"
                        )))
                    }
                }
                url = next;
                // As curl and browsers do: 303 always, 301 and 302 after a POST,
                // continue with a GET without body.
                if status == 303 || (matches!(status, 301 | 302) && method == Method::POST) {
                    method = Method::GET;
                    body = None;
                }
            }
            None if accepted.contains(status) => return expectations(spec, &answer),
            None => return Err(ProbeError::transient(status_reason(status))),
        }
    }
    Err(ProbeError::transient(format!(
        "more than {MAX_REDIRECTS} redirects"
    )))
}

/// Scheme, host and port: where headers from the fragment may go. (`Url::origin`
/// is opaque, so never equal, for `http+unix`.)
fn origin_of(url: &Url) -> (&str, Option<&str>, Option<u16>) {
    (url.scheme(), url.host_str(), url.port_or_known_default())
}

/// One request over a fresh connection (TCP, TLS or a Unix socket).
async fn send(
    request: Request<'_>,
    read_body: bool,
    tls: LazyTls<'_>,
) -> Result<Answer, ProbeError> {
    if let Some(path) = request.socket {
        let stream = tokio::net::UnixStream::connect(path)
            .await
            .map_err(|e| ProbeError::transient(format!("{}: {}", path.display(), io_reason(&e))))?;
        return exchange(stream, &request, read_body).await;
    }
    let url = request.url;
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
        exchange(stream, &request, read_body).await
    } else {
        exchange(stream, &request, read_body).await
    }
}

async fn exchange<S>(
    stream: S,
    request: &Request<'_>,
    read_body: bool,
) -> Result<Answer, ProbeError>
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .map_err(|e| classify(&e))?;
    let request = build(request)
        .map_err(|e| ProbeError::transient(format!("cannot build the request: {e}")))?;
    let mut connection = std::pin::pin!(connection);
    let work = async move {
        let response = sender.send_request(request).await?;
        let (parts, body) = response.into_parts();
        // A redirect that will be followed has no body worth reading.
        let followed = matches!(parts.status.as_u16(), 301 | 302 | 303 | 307 | 308)
            && parts.headers.contains_key(hyper::header::LOCATION);
        let body = if read_body && !followed {
            first_mib(body).await?
        } else {
            // Not needed: dropping the response and the connection closes it.
            Vec::new()
        };
        Ok::<_, hyper::Error>(Answer {
            status: parts.status.as_u16(),
            headers: parts.headers,
            body,
        })
    };
    let mut work = std::pin::pin!(work);
    tokio::select! {
        answer = &mut work => answer,
        done = &mut connection => match done {
            // A server that closes after answering (Connection: close) ends the
            // connection task right after handing over the response: collect it.
            Ok(()) => work.await,
            Err(e) => return Err(classify(&e)),
        },
    }
    .map_err(|e| classify(&e))
}

/// The first MiB of a body (the rest is not read).
async fn first_mib(mut body: Incoming) -> Result<Vec<u8>, hyper::Error> {
    let mut out = Vec::new();
    while out.len() < BODY_LIMIT {
        match body.frame().await {
            None => break,
            Some(frame) => {
                if let Ok(data) = frame?.into_data() {
                    out.extend_from_slice(&data);
                }
            }
        }
    }
    out.truncate(BODY_LIMIT);
    Ok(out)
}

fn build(request: &Request<'_>) -> Result<hyper::Request<Full<Bytes>>, hyper::http::Error> {
    let url = request.url;
    let mut target = url.path().to_string();
    if target.is_empty() {
        target.push('/');
    }
    if let Some(q) = url.query() {
        target.push('?');
        target.push_str(q);
    }
    let host = if request.socket.is_some() {
        // What curl --unix-socket sends.
        "localhost".to_string()
    } else {
        match (url.host_str(), url.port()) {
            (Some(h), Some(p)) => format!("{h}:{p}"),
            (Some(h), None) => h.to_string(),
            (None, _) => String::new(),
        }
    };
    let mut builder = hyper::Request::builder()
        .method(request.method.clone())
        .uri(target)
        .header(hyper::header::HOST, host)
        .header(
            hyper::header::USER_AGENT,
            concat!("whenready/", env!("CARGO_PKG_VERSION")),
        )
        .header(hyper::header::ACCEPT, "*/*")
        .header(hyper::header::CONNECTION, "close");
    if let Some(basic) = basic_authorization(url) {
        builder = builder.header(hyper::header::AUTHORIZATION, basic);
    }
    if let Some(headers) = builder.headers_mut() {
        for (name, value) in &request.headers {
            headers.insert(name.clone(), value.clone());
        }
    }
    builder.body(Full::new(request.body.clone().unwrap_or_default()))
}

/// `Basic BASE64` of the URL's user and password, if it has either.
pub fn basic_authorization(url: &Url) -> Option<String> {
    if url.username().is_empty() && url.password().is_none() {
        return None;
    }
    let pair = format!(
        "{}:{}",
        decode(url.username()),
        decode(url.password().unwrap_or(""))
    );
    let encoded = base64::engine::general_purpose::STANDARD.encode(pair);
    Some(format!("Basic {encoded}"))
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

    fn request(url: &Url) -> hyper::Request<Full<Bytes>> {
        build(&Request {
            url,
            socket: None,
            method: Method::GET,
            headers: Vec::new(),
            body: None,
        })
        .unwrap()
    }

    #[test]

    fn request_carries_host_path_query_and_basic_auth() {
        let url = Url::parse("http://us%40er:p%3Ass@svc:8080/health/live?full=1").unwrap();
        let req = request(&url);
        assert_eq!(req.uri(), "/health/live?full=1");
        assert_eq!(req.headers()["host"], "svc:8080");
        // "us@er:p:ss"
        assert_eq!(req.headers()["authorization"], "Basic dXNAZXI6cDpzcw==");
        let req = request(&Url::parse("https://[::1]/").unwrap());
        assert_eq!(req.headers()["host"], "[::1]");
        assert!(req.headers().get("authorization").is_none());
    }
}
