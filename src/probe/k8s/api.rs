//! Requests to the Kubernetes API: a discovery document, a list page, and a watch
//! whose events are read one JSON line at a time, over hyper's HTTP/1.1 client on our own connection (the
//! shared resolver and TLS handshake). Every request counts, for `--json`'s
//! `requests`. Failures are mapped the way the API reports them: a `Status` object
//! with `reason` and `message`.
//!
//! Whatever the server sends is read through a limit: an answer's body (a
//! discovery document too) and a watch event's line are at most [`MAX_BODY`] bytes (etcd stores an object of at most
//! 1.5 MiB, its request limit, and its JSON is rarely more than twice that; a
//! page of a list is kept under the cap by its `limit`), an error's body
//! 64 KiB. Past the cap the request is a transient failure that says so,
//! and the connection is dropped. A watch's bytes are pulled only while an attempt
//! reads it (hyper reads no further than the body is polled), so a watch that lives
//! across attempts holds at most one line.

use super::config::Credentials;
use super::object;
use super::page::{self, Bad, Event, Objects, PageMeta};
use super::what::What;
use crate::endpoint::{Endpoint, Host};
use crate::probe::error::{find_io, io_reason, tls_failure, ProbeError};
use crate::probe::net;
use crate::probe::tls;
use http_body_util::{BodyExt, Empty};
use hyper::body::{Bytes, Incoming};
use hyper_util::rt::TokioIo;
use serde_json::Value;
use std::net::IpAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use tokio::io::{AsyncRead, AsyncWrite};

/// The largest answer (a page of a list) or watch event line whenready reads: 4 MiB.
/// One object is at most etcd's 1.5 MiB request limit (`--max-request-bytes`), a
/// little more as JSON; a page of [`super::informer::PAGE`] ordinary objects (a pod is 5 to
/// 20 KiB with its managed fields) is well under it, and a page over it makes the
/// next list ask for half as many.
pub const MAX_BODY: usize = 4 << 20;

/// The room an answer or a watch's line takes first; a longer one takes
/// [`MAX_BODY`] at once ([`room`]).
const SMALL: usize = 64 << 10;

/// The largest error body read (a `Status` is a few hundred bytes).
const MAX_STATUS: usize = 64 << 10;

/// What lists and watches accept.
const JSON: &str = "application/json";

/// What discovery accepts, as kubectl asks: the aggregated document (v2, then
/// v2beta1 as Kubernetes 1.26 to 1.29 serve it), else the legacy one.
const AGGREGATED: &str = "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,application/json;g=apidiscovery.k8s.io;v=v2beta1;as=APIGroupDiscoveryList,application/json";

/// How a request failed.
#[derive(Debug)]
pub enum Failure {
    /// 410 Gone / Expired: the resourceVersion (or a list's continue token) is too
    /// old; list again.
    Gone,
    /// The watch itself is refused (forbidden or not allowed); poll instead. The
    /// reason says why.
    WatchRefused(String),
    /// The answer is larger than [`MAX_BODY`].
    TooLarge,
    /// 404: the server does not serve the collection (a resource whose
    /// CustomResourceDefinition is gone); the server's message.
    NotFound(String),
    /// Anything else.
    Probe(ProbeError),
}

impl From<ProbeError> for Failure {
    fn from(e: ProbeError) -> Self {
        Failure::Probe(e)
    }
}

/// Why a watch stopped.
#[derive(Debug)]
pub enum WatchError {
    /// The stream broke (the connection, the server): watch again from the last
    /// resourceVersion.
    Broken(ProbeError),
    /// An event could not be read (too long, not JSON): what it changed is lost,
    /// and a watch from the same resourceVersion would send it again; list again.
    Lost(ProbeError),
}

/// A connection's driver, stopped when the response is dropped.
struct Driver(tokio::task::JoinHandle<()>);

impl Drop for Driver {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// An open watch: its response body and the bytes of an unfinished line (at most
/// [`MAX_BODY`]).
pub struct Watch {
    body: Incoming,
    buf: Vec<u8>,
    what: Arc<What>,
    _driver: Driver,
}

impl Watch {
    /// The next event, or `None` when the server ended the stream. Cancel-safe:
    /// bytes read so far stay in the buffer. A line longer than [`MAX_BODY`] is
    /// [`WatchError::Lost`] (the caller drops the watch).
    pub async fn next(&mut self) -> Result<Option<Event>, WatchError> {
        // Where the search for the end of the line resumes.
        let mut from = 0;
        loop {
            if let Some(at) = self.buf[from..].iter().position(|b| *b == b'\n') {
                let end = from + at;
                let line = &self.buf[..end];
                let parsed = if line.iter().all(u8::is_ascii_whitespace) {
                    None
                } else {
                    Some(page::event(line, &self.what))
                };
                self.buf.drain(..=end);
                if self.buf.capacity() > SMALL && self.buf.len() <= SMALL {
                    // A long line is over: give its room back.
                    self.buf.shrink_to(SMALL);
                }
                from = 0;
                match parsed {
                    None => continue,
                    Some(Ok(e)) => return Ok(Some(e)),
                    Some(Err(_)) => {
                        return Err(WatchError::Lost(ProbeError::transient(
                            "the watch sent an event that is not JSON",
                        )))
                    }
                }
            }
            from = self.buf.len();
            match self.body.frame().await {
                None => return Ok(None),
                Some(Ok(frame)) => {
                    if let Ok(data) = frame.into_data() {
                        let need = self.buf.len() + data.len();
                        if need > MAX_BODY {
                            self.buf = Vec::new();
                            return Err(WatchError::Lost(ProbeError::transient(format!(
                                "the watch sent an event line longer than {} MiB",
                                MAX_BODY >> 20
                            ))));
                        }
                        room(&mut self.buf, need, MAX_BODY).map_err(WatchError::Lost)?;
                        self.buf.extend_from_slice(&data);
                    }
                }
                Some(Err(e)) => return Err(WatchError::Broken(classify(&e, "the watch broke"))),
            }
        }
    }
}

/// A client for one API server with one set of credentials.
pub struct Client {
    /// Where and who.
    pub creds: Credentials,
    /// The TLS configuration (https servers).
    pub tls: Arc<rustls::ClientConfig>,
    /// Requests sent so far.
    pub requests: AtomicU64,
}

impl Client {
    /// GET one page of a collection for `what` into `into`: at most `limit`
    /// objects, from the continue token `next` of the page before (none: the first
    /// page). Each object is cut down to what readiness reads as it is parsed.
    pub async fn list(
        &self,
        path: &str,
        query: &str,
        what: &What,
        limit: usize,
        next: Option<&str>,
        into: &mut Objects,
    ) -> Result<PageMeta, Failure> {
        let mut query = format!("{query}&limit={limit}");
        if let Some(token) = next {
            query.push_str("&continue=");
            query.push_str(&encode(token));
        }
        let (status, _, body, _driver) = self.get(path, &query, JSON).await?;
        if status != 200 {
            let bytes = read_body(body, MAX_STATUS).await?.unwrap_or_default();
            return Err(failure(status, &bytes, "list", path, false));
        }
        let Some(bytes) = read_body(body, MAX_BODY).await? else {
            return Err(Failure::TooLarge);
        };
        page::page(&bytes, what, into).map_err(|bad| match bad {
            Bad::OverBudget => Failure::Probe(over_budget()),
            Bad::Json(why) => Failure::Probe(ProbeError::transient(format!(
                "the API server's list is not a list whenready can read: {why}"
            ))),
        })
    }

    /// Opens a watch on a collection from `rv`; its events are read for `what`.
    pub async fn watch(
        &self,
        path: &str,
        query: &str,
        rv: &str,
        what: Arc<What>,
    ) -> Result<Watch, Failure> {
        let query = format!("{query}&watch=1&resourceVersion={rv}&allowWatchBookmarks=true");
        let (status, _, body, driver) = self.get(path, &query, JSON).await?;
        if status == 200 {
            return Ok(Watch {
                body,
                buf: Vec::new(),
                what,
                _driver: driver,
            });
        }
        let bytes = read_body(body, MAX_STATUS).await?.unwrap_or_default();
        Err(failure(status, &bytes, "watch", path, true))
    }

    /// GET a discovery document (`/api`, `/apis`, `/apis/GROUP/VERSION`), asked
    /// for in the aggregated form (`APIGroupDiscoveryList`) when `aggregated`:
    /// whether the answer is in that form, and its body (at most [`MAX_BODY`]).
    pub async fn discover(&self, path: &str, aggregated: bool) -> Result<(bool, Vec<u8>), Failure> {
        let accept = if aggregated { AGGREGATED } else { JSON };
        let (status, content_type, body, _driver) = self.get(path, "", accept).await?;
        if status != 200 {
            let bytes = read_body(body, MAX_STATUS).await?.unwrap_or_default();
            return Err(failure(status, &bytes, "get", path, false));
        }
        let Some(bytes) = read_body(body, MAX_BODY).await? else {
            return Err(Failure::TooLarge);
        };
        let is_aggregated = content_type
            .as_deref()
            .is_some_and(|t| t.contains("as=APIGroupDiscoveryList"));
        Ok((is_aggregated, bytes))
    }

    async fn get(
        &self,
        path: &str,
        query: &str,
        accept: &'static str,
    ) -> Result<(u16, Option<String>, Incoming, Driver), ProbeError> {
        let token = self.creds.token().await?;
        let server = &self.creds.server;
        let host = match server.host() {
            Some(url::Host::Domain(d)) => Host::Name(d.to_string()),
            Some(url::Host::Ipv4(a)) => Host::Ip(IpAddr::V4(a)),
            Some(url::Host::Ipv6(a)) => Host::Ip(IpAddr::V6(a)),
            None => return Err(ProbeError::permanent("the API server URL has no host")),
        };
        let port = server.port_or_known_default().unwrap_or(443);
        let stream = net::connect(&Endpoint {
            host: host.clone(),
            port,
        })
        .await?;
        let prefix = server.path().trim_end_matches('/');
        let target = if query.is_empty() {
            format!("{prefix}{path}")
        } else {
            format!("{prefix}{path}?{query}")
        };
        let authority = match server.port() {
            Some(p) => format!("{}:{p}", server.host_str().unwrap_or("")),
            None => server.host_str().unwrap_or("").to_string(),
        };
        let mut req = hyper::Request::get(target)
            .header(hyper::header::HOST, authority)
            .header(
                hyper::header::USER_AGENT,
                concat!("whenready/", env!("CARGO_PKG_VERSION")),
            )
            .header(hyper::header::ACCEPT, accept);
        if let Some(t) = token {
            req = req.header(hyper::header::AUTHORIZATION, format!("Bearer {t}"));
        }
        let req = req
            .body(Empty::<Bytes>::new())
            .map_err(|e| ProbeError::permanent(format!("cannot build the request: {e}")))?;
        self.requests.fetch_add(1, Ordering::Relaxed);
        if server.scheme() == "https" {
            let stream = tls::connect(stream, &host, self.tls.clone()).await?;
            send(stream, req).await
        } else {
            send(stream, req).await
        }
    }
}

async fn send<S>(
    stream: S,
    req: hyper::Request<Empty<Bytes>>,
) -> Result<(u16, Option<String>, Incoming, Driver), ProbeError>
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .map_err(|e| classify(&e, "request failed"))?;
    let driver = Driver(tokio::spawn(async move {
        let _ = connection.await;
    }));
    let response = sender
        .send_request(req)
        .await
        .map_err(|e| classify(&e, "request failed"))?;
    let content_type = response
        .headers()
        .get(hyper::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    Ok((
        response.status().as_u16(),
        content_type,
        response.into_body(),
        driver,
    ))
}

/// The body, or `None` when it is longer than `max` bytes (read no further; a
/// Content-Length over it is not read at all).
async fn read_body(mut body: Incoming, max: usize) -> Result<Option<Vec<u8>>, ProbeError> {
    use hyper::body::Body;
    let hint = body.size_hint();
    if hint.lower() > max as u64 {
        return Ok(None);
    }
    let mut out = Vec::new();
    if let Some(n) = hint.exact() {
        out.try_reserve_exact(n as usize)
            .map_err(|_| ProbeError::transient(format!("cannot take {} KiB of memory", n >> 10)))?;
    }
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(|e| classify(&e, "the response broke"))?;
        if let Ok(data) = frame.into_data() {
            let need = out.len() + data.len();
            if need > max {
                return Ok(None);
            }
            room(&mut out, need, max)?;
            out.extend_from_slice(&data);
        }
    }
    Ok(Some(out))
}

/// Makes room for `need` bytes (at most `max`) in `buf`: [`SMALL`], else at once
/// all `max` may take. Growing by doubling would leave each smaller copy resident
/// in the allocator, up to twice `max`; untouched room is not resident. A machine
/// that cannot give the room fails the attempt instead of aborting.
fn room(buf: &mut Vec<u8>, need: usize, max: usize) -> Result<(), ProbeError> {
    if need <= buf.capacity() {
        return Ok(());
    }
    let want = if need <= SMALL { SMALL } else { max };
    buf.try_reserve_exact(want - buf.len())
        .map_err(|_| ProbeError::transient(format!("cannot take {} KiB of memory", want >> 10)))
}

/// A query value, percent-encoded (unreserved characters stay as they are).
pub fn encode(s: &str) -> String {
    const SET: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
        .remove(b'-')
        .remove(b'.')
        .remove(b'_')
        .remove(b'~');
    percent_encoding::utf8_percent_encode(s, SET).to_string()
}

/// The objects that match are more than a target keeps.
pub fn over_budget() -> ProbeError {
    ProbeError::transient(format!(
        "the objects that match take more than the {} MiB whenready keeps for a target: narrow the selector",
        object::MAX_KEPT >> 20
    ))
}

fn classify(e: &hyper::Error, what: &str) -> ProbeError {
    if let Some(tls) = tls_failure(e) {
        return tls;
    }
    if e.is_parse() || e.is_parse_status() {
        return ProbeError::transient(
            "the API server's answer is not HTTP (garbage from the peer)",
        );
    }
    if e.is_incomplete_message() {
        return ProbeError::transient(format!("{what}: connection closed"));
    }
    if let Some(io) = find_io(e) {
        return ProbeError::transient(format!("{what}: {}", io_reason(io)));
    }
    ProbeError::transient(format!("{what}: {e}"))
}

/// What a request path is about: the API group and resource, and the namespace
/// (`None`: the cluster scope), or `None` for a path that names no resource
/// (discovery: `/apis`).
fn resource_of(path: &str) -> Option<(&str, Option<&str>, &str)> {
    let parts: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    match parts.as_slice() {
        ["api", _, "namespaces", ns, res] => Some(("", Some(*ns), *res)),
        ["apis", group, _, "namespaces", ns, res] => Some((*group, Some(*ns), *res)),
        ["api", _, res] => Some(("", None, *res)),
        ["apis", group, _, res] => Some((*group, None, *res)),
        _ => None,
    }
}

/// The failure for an answer other than 200, from its status and `Status` body.
fn failure(status: u16, body: &[u8], verb: &str, path: &str, watching: bool) -> Failure {
    let parsed: Option<Value> = serde_json::from_slice(body).ok();
    let field = |k: &str| {
        parsed
            .as_ref()
            .and_then(|v| v.get(k))
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string()
    };
    let (message, reason) = (field("message"), field("reason"));
    let about = resource_of(path);
    let shown = match about {
        Some(("", _, resource)) => resource.to_string(),
        Some((group, _, resource)) => format!("{group}/{resource}"),
        None => path.to_string(),
    };
    let scope = match about {
        Some((_, Some(ns), _)) => format!(" in namespace {ns:?}"),
        Some((_, None, _)) => " at the cluster scope".to_string(),
        None => String::new(),
    };
    match status {
        410 => Failure::Gone,
        401 => Failure::Probe(ProbeError::permanent(format!(
            "unauthorized (HTTP 401): the API server rejects the credentials{}",
            if message.is_empty() || message == "Unauthorized" {
                String::new()
            } else {
                format!(" ({message})")
            }
        ))),
        403 if watching => Failure::WatchRefused(format!(
            "cannot watch {shown}{scope}: polling instead (grant the verb \"watch\" to spare the API server)"
        )),
        405 if watching => Failure::WatchRefused(format!(
            "the API server does not watch {shown}: polling instead"
        )),
        403 => {
            // The API names the user in its message: `... User "system:..." cannot ...`.
            let user = message
                .split_once("User \"")
                .and_then(|(_, rest)| rest.split_once('"'))
                .map(|(u, _)| format!(" (User {u:?})"))
                .unwrap_or_default();
            let grant = match about {
                Some((group, ns, resource)) => format!(
                    "; grant{}: apiGroups: [{group:?}], resources: [{resource:?}], verbs: [\"list\",\"watch\"]",
                    if ns.is_none() { " in a ClusterRole" } else { "" }
                ),
                // Discovery is granted to every authenticated user by the
                // system:discovery ClusterRole.
                None => "; API discovery is granted by the ClusterRole system:discovery (bound to system:authenticated by default)".to_string(),
            };
            Failure::Probe(ProbeError::permanent(format!(
                "forbidden: cannot {verb} {shown}{scope}{user}{grant}"
            )))
        }
        404 if about.is_some() => Failure::NotFound(if message.is_empty() {
            "the server could not find the requested resource".into()
        } else {
            message
        }),
        400 | 422 => Failure::Probe(ProbeError::permanent(format!(
            "the API server rejects the request (HTTP {status} {reason}): {message}"
        ))),
        _ => {
            let mut text = format!("the API server answers HTTP {status}");
            if !reason.is_empty() {
                text.push_str(&format!(" {reason}"));
            }
            if !message.is_empty() {
                text.push_str(&format!(": {message}"));
            }
            if about.is_none() {
                text.push_str(&format!(" ({path})"));
            }
            Failure::Probe(ProbeError::transient(text))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn permanent(f: Failure) -> String {
        match f {
            Failure::Probe(e) if e.is_permanent() => e.reason.into_owned(),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn forbidden_names_the_verb_resource_namespace_and_rule() {
        let body = br#"{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"endpointslices.discovery.k8s.io is forbidden: User \"system:serviceaccount:app:web\" cannot list resource \"endpointslices\" in API group \"discovery.k8s.io\" in the namespace \"app\"","reason":"Forbidden","details":{"group":"discovery.k8s.io","kind":"endpointslices"},"code":403}"#;
        let r = permanent(failure(
            403,
            body,
            "list",
            "/apis/discovery.k8s.io/v1/namespaces/app/endpointslices",
            false,
        ));
        assert_eq!(
            r,
            r#"forbidden: cannot list discovery.k8s.io/endpointslices in namespace "app" (User "system:serviceaccount:app:web"); grant: apiGroups: ["discovery.k8s.io"], resources: ["endpointslices"], verbs: ["list","watch"]"#
        );
        let r = permanent(failure(
            403,
            b"",
            "list",
            "/api/v1/namespaces/ns/pods",
            false,
        ));
        assert!(r.starts_with("forbidden: cannot list pods in namespace \"ns\"; grant: apiGroups: [\"\"], resources: [\"pods\"]"), "{r}");
        assert!(matches!(
            failure(403, b"", "watch", "/api/v1/namespaces/ns/pods", true),
            Failure::WatchRefused(_)
        ));
        assert!(matches!(
            failure(410, b"", "watch", "/api/v1/namespaces/ns/pods", true),
            Failure::Gone
        ));
        assert!(permanent(failure(
            401,
            br#"{"message":"Unauthorized"}"#,
            "list",
            "/api/v1/namespaces/ns/pods",
            false
        ))
        .starts_with("unauthorized (HTTP 401)"));
        // Any resource, cluster-scoped too: a ClusterRole grants it.
        let r = permanent(failure(
            403,
            br#"{"message":"nodes is forbidden: User \"u\" cannot list resource \"nodes\" in API group \"\" at the cluster scope"}"#,
            "list",
            "/api/v1/nodes",
            false,
        ));
        assert_eq!(
            r,
            r#"forbidden: cannot list nodes at the cluster scope (User "u"); grant in a ClusterRole: apiGroups: [""], resources: ["nodes"], verbs: ["list","watch"]"#
        );
        let r = permanent(failure(
            403,
            b"",
            "list",
            "/apis/cert-manager.io/v1/namespaces/app/certificates",
            false,
        ));
        assert!(r.starts_with(r#"forbidden: cannot list cert-manager.io/certificates in namespace "app"; grant: apiGroups: ["cert-manager.io"], resources: ["certificates"]"#), "{r}");
        let r = permanent(failure(403, b"", "get", "/apis", false));
        assert!(r.starts_with("forbidden: cannot get /apis; API discovery is granted by the ClusterRole system:discovery"), "{r}");
        // A collection the server does not serve.
        assert!(matches!(
            failure(404, br#"{"message":"the server could not find the requested resource"}"#, "list", "/apis/example.com/v1/namespaces/app/widgets", false),
            Failure::NotFound(m) if m == "the server could not find the requested resource"
        ));
        match failure(
            503,
            br#"{"reason":"ServiceUnavailable","message":"etcd is down"}"#,
            "list",
            "/api/v1/namespaces/app/pods",
            false,
        ) {
            Failure::Probe(e) => {
                assert!(!e.is_permanent());
                assert_eq!(
                    e.reason,
                    "the API server answers HTTP 503 ServiceUnavailable: etcd is down"
                );
            }
            other => panic!("{other:?}"),
        }
    }
}
