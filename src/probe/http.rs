//! `http://…`, `https://…`, `http+unix://%2FSOCKET/PATH`: a request whose final
//! answer meets the target's expectations (by default: a status in
//! `--http-status`), at most 10 redirects.
//!
//! Each request goes over a connection of our own: the host is resolved again and
//! every address tried ([`super::net`]), or the Unix socket named by the host of an
//! `http+unix` URL is connected; TLS uses the run's rustls configuration (system +
//! bundled roots + `--cacert`, or none with `--insecure`; `--cert`/`--key` or the
//! target's `#cert=`/`#key=` as client certificate), and hyper speaks HTTP/1.1.
//! Credentials in the URL become Basic authentication. Proxy variables
//! (HTTP_PROXY, ...) are not used: a readiness probe goes straight to the service.
//!
//! The URL's fragment, never sent to a server, holds the target's own request and
//! expectations ([`Spec`]): `#status=200,204&json=/status:green,yellow`. Whatever
//! the fragment says that whenready does not understand is a usage error.

use super::error::{find_io, io_reason, tls_failure, ProbeError};
use super::tls::{self, Tls};
use super::{net, Attempt, Check, Ctx, Kind};
use crate::env::Env;
use crate::target::{decode, Endpoint, Host};
use base64::Engine;
use http_body_util::{BodyExt, Full};
use hyper::body::{Bytes, Incoming};
use hyper::header::{HeaderName, HeaderValue};
use hyper::Method;
use hyper_util::rt::TokioIo;
use std::net::IpAddr;
use std::ops::RangeInclusive;
use std::path::PathBuf;
use std::sync::{Arc, OnceLock};
use tokio::io::{AsyncRead, AsyncWrite};
use url::Url;

/// The HTTP(S) kind, also over a Unix socket.
pub struct Http;

impl Kind for Http {
    fn name(&self) -> &'static str {
        "http"
    }
    fn schemes(&self) -> &'static [&'static str] {
        &["http", "https", "http+unix"]
    }
    fn forms(&self) -> &'static str {
        "http(s)://, http+unix://"
    }
    fn help(&self) -> (&'static str, &'static str) {
        (
            "http(s)://..., http+unix://%2FSOCK/...",
            "status in --http-status; or #status=, #body=, #json=, #header=",
        )
    }
    fn takes_fragment(&self) -> bool {
        true
    }
    fn environment(&self) -> Option<&'static str> {
        Some("An http target's #bearer-env=VAR and #send-header-env=NAME:VAR send the value of VAR")
    }
    fn parse(&self, url: &Url, env: &Env) -> Result<Box<dyn Check>, String> {
        let socket = if url.scheme() == "http+unix" {
            Some(socket_path(url)?)
        } else {
            if url.host_str().is_none_or(str::is_empty) {
                return Err("missing host".into());
            }
            None
        };
        let spec = Spec::parse(url.fragment().unwrap_or(""), env)?;
        if let Some(basic) = basic_authorization(url) {
            crate::secret::register_header(&basic);
        }
        let mut url = url.clone();
        url.set_fragment(None);
        Ok(Box::new(HttpTarget {
            url,
            socket,
            spec,
            file_headers: OnceLock::new(),
            identity: tls::TargetIdentity::default(),
            tls: OnceLock::new(),
        }))
    }
}

/// The socket of `http+unix://%2Frun%2Fdocker.sock/_ping`: the host, percent-decoded.
fn socket_path(url: &Url) -> Result<PathBuf, String> {
    let host = decode(url.host_str().unwrap_or(""));
    if !host.starts_with('/') {
        return Err(
            "expected the socket's absolute path, percent-encoded, as the host: http+unix://%2Frun%2Fapp.sock/PATH".into(),
        );
    }
    if url.port().is_some() || !url.username().is_empty() || url.password().is_some() {
        return Err("an http+unix URL has no port and no credentials".into());
    }
    Ok(PathBuf::from(host))
}

/// An HTTP(S) target: the URL, its expectations, and what is read or made before
/// the first attempt (header files, the client certificate, the TLS configuration).
pub struct HttpTarget {
    /// The URL to request (without its fragment).
    pub url: Url,
    /// The Unix socket of an `http+unix` URL.
    pub socket: Option<PathBuf>,
    /// The request and the expectations from the fragment.
    pub spec: Spec,
    file_headers: OnceLock<Vec<(HeaderName, HeaderValue)>>,
    identity: tls::TargetIdentity,
    tls: OnceLock<Arc<rustls::ClientConfig>>,
}

impl Check for HttpTarget {
    fn prepare(&self, shown: &str) -> Result<(), String> {
        let mut headers = Vec::new();
        for (name, path, prefix) in &self.spec.file_headers {
            let text = std::fs::read_to_string(path).map_err(|e| {
                format!(
                    "cannot read the header file {} of {shown}: {}",
                    path.display(),
                    io_reason(&e)
                )
            })?;
            let text = format!("{prefix}{}", text.trim());
            crate::secret::register_header(&text);
            let value = HeaderValue::try_from(text).map_err(|_| {
                format!(
                    "{} (for {name} of {shown}) does not hold a valid header value",
                    path.display()
                )
            })?;
            headers.push((name.clone(), secret(value)));
        }
        let _ = self.file_headers.set(headers);
        let files = self
            .spec
            .client_cert
            .as_ref()
            .map(|(c, k)| (c.as_path(), k.as_path()));
        self.identity.load(files, &format!("#cert/#key of {shown}"))
    }
    fn warnings(&self) -> Vec<String> {
        self.identity.warnings()
    }
    fn probe<'a>(&'a self, ctx: &'a Ctx) -> Attempt<'a> {
        Box::pin(async move {
            let tls = || {
                self.tls
                    .get_or_init(|| {
                        let config = tls_config(&ctx.tls);
                        match self.identity.get() {
                            Some(identity) => tls::with_identity(config, identity),
                            None => config,
                        }
                    })
                    .clone()
            };
            let headers = self.file_headers.get().map_or(&[][..], Vec::as_slice);
            probe(self, headers, &ctx.http_status, &tls).await
        })
    }
}

/// What the fragment of an http target asks for: the request (method, headers,
/// body, client certificate) and the expectations the answer must meet.
#[derive(Debug, Default)]
pub struct Spec {
    /// `method=`; POST when only `send-body=` is given, else GET.
    pub method: Option<Method>,
    /// `send-header=` and, marked sensitive, the values of `send-header-env=` and
    /// `bearer-env=`.
    pub headers: Vec<(HeaderName, HeaderValue)>,
    /// `send-header-file=` and `bearer-file=`: name, file, prefix (`Bearer `); read
    /// before the first attempt.
    pub file_headers: Vec<(HeaderName, PathBuf, &'static str)>,
    /// `send-body=`.
    pub body: Option<Bytes>,
    /// `status=`; `--http-status` when absent.
    pub status: Option<StatusSet>,
    /// `body=`: a regular expression the first MiB of the body must match.
    pub body_matches: Option<Pattern>,
    /// `json=`: values at JSON pointers.
    pub json: Vec<JsonExpectation>,
    /// `header=`: response headers that must match.
    pub header_matches: Vec<(HeaderName, Pattern)>,
    /// `cert=` and `key=`: the target's own client certificate.
    pub client_cert: Option<(PathBuf, PathBuf)>,
}

/// A regular expression with the text it was written as (for messages).
#[derive(Debug)]
pub struct Pattern {
    regex: regex_lite::Regex,
    text: String,
}

impl Pattern {
    fn new(text: String, what: &str) -> Result<Pattern, String> {
        match regex_lite::Regex::new(&text) {
            Ok(regex) => Ok(Pattern { regex, text }),
            Err(e) => {
                let why = e.to_string();
                let why = why.lines().last().unwrap_or("").trim();
                Err(format!(
                    "invalid regular expression {text:?} in {what}=: {why}"
                ))
            }
        }
    }
}

/// `json=POINTER[:VALUE,VALUE...]`: the value at an RFC 6901 pointer.
#[derive(Debug)]
pub struct JsonExpectation {
    /// The pointer, decoded (`~0`, `~1` still escaped, as RFC 6901 writes them).
    pub pointer: String,
    /// Accepted values; empty means present and neither `null` nor `false`.
    pub values: Vec<String>,
}

impl JsonExpectation {
    /// Whether `value` is one of the accepted values: a string equals one, a number
    /// equals one read as a number, `true`/`false`/`null` are written as such.
    fn accepts(&self, value: &serde_json::Value) -> bool {
        use serde_json::Value;
        if self.values.is_empty() {
            return !matches!(value, Value::Null | Value::Bool(false));
        }
        self.values.iter().any(|want| match value {
            Value::String(s) => s == want,
            Value::Number(n) => match (n.as_f64(), want.parse::<f64>()) {
                (Some(a), Ok(b)) => a == b,
                _ => false,
            },
            Value::Bool(b) => want == if *b { "true" } else { "false" },
            Value::Null => want == "null",
            Value::Array(_) | Value::Object(_) => false,
        })
    }
}

/// Every key the fragment knows, for the message that names an unknown one.
const FRAGMENT_KEYS: &str = "status, body, json, header, method, send-body, send-header, send-header-env, send-header-file, bearer-env, bearer-file, cert, key";

/// Headers whose value is a secret: never taken from the command line.
const SECRET_HEADERS: [&str; 3] = ["authorization", "proxy-authorization", "cookie"];

fn secret(mut value: HeaderValue) -> HeaderValue {
    value.set_sensitive(true);
    value
}

fn header_name(text: &str, key: &str) -> Result<HeaderName, String> {
    HeaderName::from_bytes(text.trim().as_bytes())
        .map_err(|_| format!("invalid header name {text:?} in {key}="))
}

/// `NAME:REST` of a fragment value, split at the first colon before decoding, so
/// that `%3A` stays a colon inside either part.
fn name_and_rest<'a>(raw: &'a str, key: &str, form: &str) -> Result<(String, &'a str), String> {
    match raw.split_once(':') {
        Some((name, rest)) if !name.is_empty() => Ok((decode(name), rest)),
        _ => Err(format!("{key}= takes {form}")),
    }
}

impl Spec {
    /// Parses a fragment such as `status=200-299&json=/status:green,yellow`: pairs
    /// separated by `&`, each `KEY=VALUE`, percent-decoded after splitting (so
    /// `%26`, `%2C`, `%3A` are a literal `&`, `,`, `:`). Variables named by
    /// `*-env=` are read from `env` here; files are read by [`Check::prepare`].
    pub fn parse(fragment: &str, env: &Env) -> Result<Spec, String> {
        let mut spec = Spec::default();
        let mut cert = None;
        let mut key_file = None;
        for pair in fragment.split('&').filter(|p| !p.is_empty()) {
            let (key, raw) = match pair.split_once('=') {
                Some((k, v)) => (decode(k), v),
                None => {
                    let key = decode(pair);
                    return Err(format!(
                        "{key:?} after # needs a value: write KEY=VALUE pairs separated by & (keys: {FRAGMENT_KEYS})"
                    ));
                }
            };
            let once = |taken: bool| {
                if taken {
                    Err(format!("{key}= is given twice after #"))
                } else {
                    Ok(())
                }
            };
            match key.as_str() {
                "status" => {
                    once(spec.status.is_some())?;
                    let text = decode(raw);
                    spec.status = Some(
                        StatusSet::parse(&text)
                            .map_err(|why| format!("invalid status={text}: {why}"))?,
                    );
                }
                "body" => {
                    once(spec.body_matches.is_some())?;
                    spec.body_matches = Some(Pattern::new(decode(raw), "body")?);
                }
                "json" => {
                    let (pointer, values) = match raw.split_once(':') {
                        Some((p, v)) => (decode(p), v.split(',').map(decode).collect()),
                        None => (decode(raw), Vec::new()),
                    };
                    check_pointer(&pointer)?;
                    spec.json.push(JsonExpectation { pointer, values });
                }
                "header" => {
                    let (name, rest) =
                        name_and_rest(raw, "header", "NAME:REGEX, e.g. header=content-type:json")?;
                    let name = header_name(&name, "header")?;
                    spec.header_matches
                        .push((name, Pattern::new(decode(rest), "header")?));
                }
                "method" => {
                    once(spec.method.is_some())?;
                    let text = decode(raw);
                    let method = Method::from_bytes(text.to_ascii_uppercase().as_bytes())
                        .ok()
                        .filter(|_| !text.is_empty())
                        .ok_or_else(|| {
                            format!("invalid method={text:?}: e.g. GET, HEAD or POST")
                        })?;
                    spec.method = Some(method);
                }
                "send-body" => {
                    once(spec.body.is_some())?;
                    let bytes: Vec<u8> = percent_encoding::percent_decode_str(raw).collect();
                    spec.body = Some(Bytes::from(bytes));
                }
                "send-header" => {
                    let (name, rest) = name_and_rest(
                        raw,
                        "send-header",
                        "NAME:VALUE, e.g. send-header=accept:application/json",
                    )?;
                    let name = header_name(&name, "send-header")?;
                    if SECRET_HEADERS.contains(&name.as_str()) {
                        return Err(format!(
                            "send-header={name}:… would put a secret on the command line: use send-header-env={name}:VAR, send-header-file={name}:PATH, bearer-env=VAR or bearer-file=PATH"
                        ));
                    }
                    let value = HeaderValue::try_from(decode(rest).trim())
                        .map_err(|_| format!("invalid value for send-header={name}"))?;
                    spec.headers.push((name, value));
                }
                "send-header-env" | "bearer-env" => {
                    let (name, var, prefix) = if key == "bearer-env" {
                        (hyper::header::AUTHORIZATION, decode(raw), "Bearer ")
                    } else {
                        let (name, var) = name_and_rest(
                            raw,
                            &key,
                            "NAME:VARIABLE, e.g. send-header-env=x-api-key:API_KEY",
                        )?;
                        (header_name(&name, &key)?, decode(var), "")
                    };
                    let value = env.get(&var)?.ok_or_else(|| {
                        format!("{key}= names the variable {var:?}, which is not set")
                    })?;
                    let value = format!("{prefix}{}", value.trim());
                    crate::secret::register_header(&value);
                    let value = HeaderValue::try_from(value).map_err(|_| {
                        format!("the variable {var} ({key}=) does not hold a valid header value")
                    })?;
                    spec.headers.push((name, secret(value)));
                }
                "send-header-file" | "bearer-file" => {
                    let (name, path, prefix) = if key == "bearer-file" {
                        (hyper::header::AUTHORIZATION, decode(raw), "Bearer ")
                    } else {
                        let (name, path) = name_and_rest(
                            raw,
                            &key,
                            "NAME:PATH, e.g. send-header-file=x-api-key:/run/secrets/key",
                        )?;
                        (header_name(&name, &key)?, decode(path), "")
                    };
                    if path.is_empty() {
                        return Err(format!("{key}= needs a file"));
                    }
                    spec.file_headers.push((name, PathBuf::from(path), prefix));
                }
                "cert" => {
                    once(cert.is_some())?;
                    cert = Some(PathBuf::from(decode(raw)));
                }
                "key" => {
                    once(key_file.is_some())?;
                    key_file = Some(PathBuf::from(decode(raw)));
                }
                other => {
                    return Err(format!(
                    "unknown expectation or option {other:?} after #: the keys are {FRAGMENT_KEYS}"
                ))
                }
            }
        }
        spec.client_cert = match (cert, key_file) {
            (Some(c), Some(k)) => Some((c, k)),
            (None, None) => None,
            (Some(_), None) => return Err("cert= needs key= (the private key file)".into()),
            (None, Some(_)) => return Err("key= needs cert= (the certificate file)".into()),
        };
        Ok(spec)
    }

    fn method(&self) -> Method {
        match (&self.method, &self.body) {
            (Some(m), _) => m.clone(),
            (None, Some(_)) => Method::POST,
            (None, None) => Method::GET,
        }
    }

    fn needs_body(&self) -> bool {
        self.body_matches.is_some() || !self.json.is_empty()
    }
}

/// An RFC 6901 pointer: empty (the whole document) or `/`-separated tokens in
/// which `~` is followed by `0` or `1`.
fn check_pointer(pointer: &str) -> Result<(), String> {
    let bad = |why: &str| {
        Err(format!(
            "invalid JSON pointer {pointer:?} in json=: {why} (write json=/status:green,yellow)"
        ))
    };
    if !pointer.is_empty() && !pointer.starts_with('/') {
        return bad("it starts with /");
    }
    let mut chars = pointer.chars();
    while let Some(c) = chars.next() {
        if c == '~' && !matches!(chars.next(), Some('0' | '1')) {
            return bad("~ is followed by 0 or 1");
        }
    }
    Ok(())
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

/// How much of a body the expectations look at.
pub const BODY_LIMIT: usize = 1 << 20;

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

/// What came back: status, headers, and the start of the body when needed.
struct Answer {
    status: u16,
    headers: hyper::HeaderMap,
    body: Vec<u8>,
}

/// One attempt: the request, following redirects; ready when the final answer
/// meets the target's expectations (`accepted` is `--http-status`, used when the
/// target has no `status=` of its own).
async fn probe(
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

/// Checks the headers, the body and the JSON values of an accepted answer; the
/// error says what was seen.
fn expectations(spec: &Spec, answer: &Answer) -> Result<(), ProbeError> {
    let status = answer.status;
    for (name, pattern) in &spec.header_matches {
        let values: Vec<&str> = answer
            .headers
            .get_all(name)
            .iter()
            .map(|v| v.to_str().unwrap_or(""))
            .collect();
        if values.is_empty() {
            return Err(ProbeError::transient(format!(
                "HTTP {status}, but no {name} header (expected one matching {:?})",
                pattern.text
            )));
        }
        if !values.iter().any(|v| pattern.regex.is_match(v)) {
            return Err(ProbeError::transient(format!(
                "HTTP {status}, but {name} is {} (expected a match of {:?})",
                seen(values.join(", ").as_bytes()),
                pattern.text
            )));
        }
    }
    if let Some(pattern) = &spec.body_matches {
        let text = String::from_utf8_lossy(&answer.body);
        if !pattern.regex.is_match(&text) {
            return Err(ProbeError::transient(format!(
                "HTTP {status}, but the body does not match {:?}: {}",
                pattern.text,
                seen(&answer.body)
            )));
        }
    }
    if spec.json.is_empty() {
        return Ok(());
    }
    let document: serde_json::Value = serde_json::from_slice(&answer.body).map_err(|_| {
        let larger = if answer.body.len() >= BODY_LIMIT {
            " (or larger than 1 MiB)"
        } else {
            ""
        };
        ProbeError::transient(format!(
            "HTTP {status}, but the body is not JSON{larger}: {}",
            seen(&answer.body)
        ))
    })?;
    for want in &spec.json {
        let shown = if want.pointer.is_empty() {
            "the document"
        } else {
            &want.pointer
        };
        let expected = if want.values.is_empty() {
            "expected a value other than null and false".to_string()
        } else {
            format!("expected {}", want.values.join(" or "))
        };
        match document.pointer(&want.pointer) {
            None => {
                return Err(ProbeError::transient(format!(
                    "HTTP {status}, but the JSON has no {shown} ({expected})"
                )))
            }
            Some(value) if !want.accepts(value) => {
                return Err(ProbeError::transient(format!(
                    "HTTP {status}, but {shown} is {} ({expected})",
                    seen(value.to_string().as_bytes())
                )))
            }
            Some(_) => {}
        }
    }
    Ok(())
}

/// What a message shows of a body or a value: one line, white space collapsed,
/// at most 80 characters, control characters escaped, secrets masked before the
/// cut (which never falls inside one: a server may echo a token).
fn seen(bytes: &[u8]) -> String {
    const MAX: usize = 80;
    let window = bytes.len().min(4 * MAX + crate::secret::longest());
    let text = String::from_utf8_lossy(&bytes[..window]);
    let text = crate::secret::masked_prefix(&text, 4 * MAX);
    let words: Vec<&str> = text.split_whitespace().collect();
    let one_line = words.join(" ");
    if one_line.is_empty() {
        return "empty".into();
    }
    let mut shown: String = one_line.chars().take(MAX).collect();
    if shown.len() < one_line.len() || bytes.len() > 4 * MAX {
        shown.push('…');
    }
    crate::text::clean_line(&shown).into_owned()
}

fn status_reason(status: u16) -> String {
    let reason = hyper::StatusCode::from_u16(status)
        .ok()
        .and_then(|s| s.canonical_reason())
        .unwrap_or("");
    format!("HTTP {status} {reason}").trim_end().to_string()
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
fn basic_authorization(url: &Url) -> Option<String> {
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

    fn spec(fragment: &str) -> Result<Spec, String> {
        Spec::parse(fragment, &Env::from_pairs(&[("TOKEN", "s3cret\n")]))
    }

    #[test]
    fn fragments_compose() {
        let s = spec("status=200,204&json=/status:green,yellow&json=/a~1b~0c&header=content-type:json&method=put&send-body=%7B%22a%22%3A1%7D&send-header=accept:application/json&bearer-env=TOKEN&cert=c.pem&key=k.pem").unwrap();
        assert_eq!(s.status.unwrap().to_string(), "200,204");
        assert_eq!(s.json[0].pointer, "/status");
        assert_eq!(s.json[0].values, ["green", "yellow"]);
        assert_eq!(s.json[1].pointer, "/a~1b~0c");
        assert!(s.json[1].values.is_empty());
        assert_eq!(s.header_matches[0].0, "content-type");
        assert_eq!(s.method.unwrap(), Method::PUT);
        assert_eq!(s.body.unwrap(), &b"{\"a\":1}"[..]);
        assert_eq!(s.headers[0].1, "application/json");
        assert_eq!(s.headers[1].0, "authorization");
        assert_eq!(s.headers[1].1, "Bearer s3cret");
        assert!(s.headers[1].1.is_sensitive());
        assert_eq!(
            s.client_cert,
            Some((PathBuf::from("c.pem"), PathBuf::from("k.pem")))
        );
        // Decoding comes after splitting: an encoded comma or colon is literal.
        let s = spec("json=/a%3Ab:x%2Cy,z&body=a%26b+c").unwrap();
        assert_eq!(s.json[0].pointer, "/a:b");
        assert_eq!(s.json[0].values, ["x,y", "z"]);
        assert_eq!(s.body_matches.unwrap().text, "a&b+c");
        // send-body alone makes a POST.
        assert_eq!(spec("send-body=x").unwrap().method(), Method::POST);
        assert_eq!(spec("").unwrap().method(), Method::GET);
        assert!(spec("&&").unwrap().status.is_none());
    }

    #[test]
    fn bad_fragments_say_why() {
        for (fragment, needle) in [
            ("json=status:green", "starts with /"),
            ("json=/a~2", "~ is followed by 0 or 1"),
            ("status=200&status=204", "given twice"),
            ("status=abc", "invalid status=abc"),
            ("body=(", "invalid regular expression"),
            ("header=content-type", "NAME:REGEX"),
            ("header=bad name:x", "invalid header name"),
            ("method=", "invalid method"),
            (
                "send-header=Authorization:Bearer x",
                "secret on the command line",
            ),
            ("send-header=cookie:a=b", "secret on the command line"),
            ("bearer-env=NOPE", "\"NOPE\", which is not set"),
            ("send-header-env=x-key", "NAME:VARIABLE"),
            ("cert=c.pem", "needs key="),
            ("key=k.pem", "needs cert="),
            ("jsn=/a", "unknown expectation or option \"jsn\""),
            ("status", "needs a value"),
        ] {
            let e = spec(fragment).unwrap_err();
            assert!(e.contains(needle), "{fragment}: {e}");
            assert!(
                !e.contains("s3cret") && !e.contains('\n'),
                "{fragment}: {e}"
            );
        }
    }

    fn answer(status: u16, headers: &[(&str, &str)], body: &str) -> Answer {
        let mut map = hyper::HeaderMap::new();
        for (k, v) in headers {
            map.append(
                HeaderName::from_bytes(k.as_bytes()).unwrap(),
                HeaderValue::from_str(v).unwrap(),
            );
        }
        Answer {
            status,
            headers: map,
            body: body.as_bytes().to_vec(),
        }
    }

    #[test]
    fn expectations_say_what_was_seen() {
        let check = |fragment: &str, a: &Answer| expectations(&spec(fragment).unwrap(), a);
        let es = answer(
            200,
            &[("content-type", "application/json")],
            r#"{"status":"yellow","n":3,"ok":true,"a/b":{"~":null}}"#,
        );
        for good in [
            "json=/status:green,yellow",
            "json=/n:3.0",
            "json=/ok",
            "json=/ok:true",
            "json=/a~1b",
            "json=/a~1b/~0:null",
            "header=Content-Type:json",
            "body=\"status\":\"(green|yellow)\"",
        ] {
            assert_eq!(check(good, &es), Ok(()), "{good}");
        }
        for (bad, reason) in [
            ("json=/status:green", "HTTP 200, but /status is \"yellow\" (expected green)"),
            ("json=/missing", "HTTP 200, but the JSON has no /missing (expected a value other than null and false)"),
            ("json=/a~1b/~0", "HTTP 200, but /a~1b/~0 is null (expected a value other than null and false)"),
            ("header=content-type:xml", "HTTP 200, but content-type is application/json (expected a match of \"xml\")"),
            ("header=etag:.", "HTTP 200, but no etag header (expected one matching \".\")"),
            ("body=red", "HTTP 200, but the body does not match \"red\": {\"status\":\"yellow\",\"n\":3,\"ok\":true,\"a/b\":{\"~\":null}}"),
        ] {
            let e = check(bad, &es).unwrap_err();
            assert_eq!(e.reason, reason);
            assert!(!e.is_permanent());
        }
        let html = answer(
            200,
            &[],
            "<html>\n\t<body>starting\u{1b}[31m</body>\n</html>",
        );
        let e = check("json=/status", &html).unwrap_err();
        assert_eq!(
            e.reason,
            "HTTP 200, but the body is not JSON: <html> <body>starting\\u{1b}[31m</body> </html>"
        );
        let long = answer(200, &[], &"x".repeat(500));
        let e = check("body=y", &long).unwrap_err();
        assert!(
            e.reason.ends_with("…") && e.reason.len() < 200,
            "{}",
            e.reason
        );
        assert_eq!(
            check("body=y", &answer(200, &[], "")).unwrap_err().reason,
            "HTTP 200, but the body does not match \"y\": empty"
        );
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
