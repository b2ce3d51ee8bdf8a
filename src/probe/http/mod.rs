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

//!
//! Files: [`spec`] reads the fragment and judges an answer (the statuses it accepts:
//! [`crate::probe::status`]), [`client`] sends the requests and follows redirects.

pub mod client;
pub mod spec;

pub use client::{tls_config, LazyTls, MAX_REDIRECTS};
pub use spec::{JsonExpectation, Pattern, Spec, BODY_LIMIT};

use super::error::io_reason;
use super::kind::{Attempt, Check, Ctx, Kind};
use super::tls;
use crate::endpoint::decode;
use crate::env::Env;
use hyper::header::{HeaderName, HeaderValue};
use std::path::PathBuf;
use std::sync::{Arc, OnceLock};
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
        if let Some(basic) = client::basic_authorization(url) {
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
            headers.push((name.clone(), spec::secret(value)));
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
            client::probe(self, headers, &ctx.http_status, &tls).await
        })
    }
}
