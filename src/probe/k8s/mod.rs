//! `k8s://[NAMESPACE/]RESOURCE/NAME` and `k8s://[NAMESPACE/]RESOURCE?selector=…`:
//! Kubernetes objects through the API. Any resource the API server serves, custom
//! resources included, found by API discovery ([`discovery`]), and when it
//! counts: the target's own `condition=TYPE[=VALUE]` and `field=/POINTER:VALUES`
//! (as `kubectl wait --for=condition=` and `--for=jsonpath=`), else the
//! resource's own rule (a Service with ready endpoints, a complete Job, a rolled-out
//! Deployment, StatefulSet or DaemonSet, a Ready Pod; any other object once it
//! exists). With `--reverse`, a target waits until its objects are deleted (a
//! watch's DELETED event ends it at once), not until they stop being ready.
//!
//! The API server is spared as client-go's informers spare it: one list, then one
//! watch from the list's resourceVersion (with bookmarks) that lives across
//! attempts; a new list only when the watch says 410 Gone, polling (with the wait
//! loop's jittered backoff, and at most one list a second) only where the watch is
//! refused. An attempt applies the events that have come since the last one (and
//! waits a few milliseconds for more), so each attempt still ends at once with a
//! reason of its own, and the deadline, backoff and exit codes are the wait loop's
//! as for every kind. The target as written: [`spec`]; credentials: [`config`]
//! (an exec plugin's token: [`exec`]); which resource and rule it means:
//! [`resolve`] ([`builtin`], else [`discovery`], its documents read in
//! [`catalog`]); requests: [`api`]; the list and watch across attempts:
//! [`informer`]; a page or an event parsed: [`page`] (within the bounds of
//! [`bounded`]); what is kept of each object: [`object`]; when objects count:
//! [`ready`]; what a target waits for once its resource is known: [`what`].
//!
//! Lists come in pages of at most [`informer::PAGE`] objects (`limit` and
//! `continue`, as kubectl reads them); each object is cut down to what its target
//! reads as its page is parsed, so a target keeps a few hundred bytes an object
//! whatever the pages hold, up to [`object::MAX_KEPT`]. A list's progress is kept across
//! attempts (an attempt cut mid-list resumes from its continue token); an expired
//! token starts the list again, and the watch starts from the resourceVersion of
//! the list's last page. What a server sends is read through the limits of
//! [`api`].

pub mod api;
pub mod bounded;
pub mod builtin;
pub mod catalog;
pub mod config;
pub mod discovery;
pub mod exec;
pub mod informer;
pub mod object;
pub mod page;
pub mod ready;
pub mod resolve;
pub mod spec;
pub mod what;

use super::error::ProbeError;
use super::kind::{Attempt, Check, Ctx, Kind};
use crate::env::Env;
use api::Client;
use config::{Credentials, Sources};
use discovery::Discovery;
use informer::{Informer, Look};
use spec::Spec;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use url::Url;

/// The Kubernetes kind.
pub struct K8s;

impl Kind for K8s {
    fn name(&self) -> &'static str {
        "k8s"
    }
    fn schemes(&self) -> &'static [&'static str] {
        &["k8s"]
    }
    fn forms(&self) -> &'static str {
        "k8s://[NAMESPACE/]RESOURCE/NAME"
    }
    fn help(&self) -> (&'static str, &'static str) {
        (
            "k8s://[NS/]RESOURCE/NAME, …?selector=",
            "?condition=, ?field= hold; else endpoints, Job, rollout, Pod Ready",
        )
    }
    fn environment(&self) -> Option<&'static str> {
        Some("KUBECONFIG (or ~/.kube/config), else the in-cluster service account\n  (KUBERNETES_SERVICE_HOST, KUBERNETES_SERVICE_PORT): credentials of k8s targets")
    }
    fn parse(&self, url: &Url, env: &Env) -> Result<Box<dyn Check>, String> {
        let spec = spec::parse(url)?;
        let get = |name: &str| env.get(name).map(|v| v.map(str::to_string));
        let in_cluster = match (
            get("KUBERNETES_SERVICE_HOST")?,
            get("KUBERNETES_SERVICE_PORT")?,
        ) {
            (Some(h), Some(p)) => Some((h, p)),
            _ => None,
        };
        Ok(Box::new(K8sTarget {
            sources: Sources {
                kubeconfig: get("KUBECONFIG")?,
                home: get("HOME")?,
                in_cluster,
                context: spec.context.clone(),
            },
            spec,
            client: OnceLock::new(),
            informer: Informer::default(),
        }))
    }
}

/// A Kubernetes target: what to wait for, where, and the state of its list and
/// watch, which lives across attempts.
pub struct K8sTarget {
    spec: Spec,
    sources: Sources,
    client: OnceLock<Prepared>,
    informer: Informer,
}

/// What [`Check::prepare`] found: the credentials, the namespace to use, and the
/// discovery of their server.
struct Prepared {
    creds: Credentials,
    namespace: String,
    client: OnceLock<Client>,
    discovery: Arc<Discovery>,
}

impl Check for K8sTarget {
    fn prepare(&self, shown: &str) -> Result<(), String> {
        let (creds, discovery) =
            shared_credentials(&self.sources).map_err(|e| format!("{shown}: {e}"))?;
        let namespace = self
            .spec
            .namespace
            .clone()
            .or_else(|| creds.namespace.clone())
            .unwrap_or_else(|| "default".into());
        if builtin::builtin(&self.spec.resource).is_none() {
            discovery.want(&self.spec.resource);
        }
        let _ = self.client.set(Prepared {
            creds,
            namespace,
            client: OnceLock::new(),
            discovery,
        });
        Ok(())
    }

    fn probe<'a>(&'a self, ctx: &'a Ctx) -> Attempt<'a> {
        Box::pin(async move {
            let Some(prepared) = self.client.get() else {
                return Err(ProbeError::permanent("the credentials were not read"));
            };
            let client = prepared.client.get_or_init(|| Client {
                tls: tls_config(&prepared.creds, ctx),
                creds: prepared.creds.clone(),
                requests: AtomicU64::new(0),
            });
            let reverse = ctx.reverse;
            let look = self
                .informer
                .attempt(
                    &self.spec,
                    client,
                    &prepared.discovery,
                    &prepared.namespace,
                    reverse,
                )
                .await;
            match (reverse, look) {
                (false, Look::Reached(_)) => Ok(()),
                (false, Look::Waiting(e)) => Err(e),
                // --reverse: gone is the goal, which the wait loop reads from a
                // transient failure; anything that does not show the objects gone
                // (they exist, the API server cannot be reached) leaves it
                // unsettled, with its own reason.
                (true, Look::Reached(why)) => Err(ProbeError::transient(why.unwrap_or_default())),
                (true, Look::Waiting(e)) if e.is_permanent() => Err(e),
                (true, Look::Waiting(e)) => Err(ProbeError::unsettled(e.reason)),
            }
        })
    }

    /// A silent API server says nothing of whether the objects were deleted.
    fn silence_is_gone(&self) -> bool {
        false
    }

    fn requests(&self) -> Option<u64> {
        Some(
            self.client
                .get()
                .and_then(|p| p.client.get())
                .map_or(0, |c| c.requests.load(Ordering::Relaxed)),
        )
    }
}

/// The credentials for `sources` and the discovery of their server, loaded once
/// per run: targets that share a kubeconfig and context share them, and so share
/// an exec plugin's token and one discovery.
fn shared_credentials(sources: &Sources) -> Result<(Credentials, Arc<Discovery>), String> {
    type Loaded = Vec<(Sources, Credentials, Arc<Discovery>)>;
    static LOADED: std::sync::Mutex<Loaded> = std::sync::Mutex::new(Vec::new());
    let mut loaded = LOADED.lock().unwrap_or_else(|p| p.into_inner());
    if let Some((_, c, d)) = loaded.iter().find(|(s, _, _)| s == sources) {
        return Ok((c.clone(), d.clone()));
    }
    let creds = Credentials::load(sources)?;
    let discovery = Arc::new(Discovery::default());
    loaded.push((sources.clone(), creds.clone(), discovery.clone()));
    Ok((creds, discovery))
}

/// The TLS configuration: the kubeconfig's or service account's CA (else the run's
/// roots and `--cacert`), `insecure-skip-tls-verify` or `--insecure`, the client
/// certificate, HTTP/1.1 by ALPN.
fn tls_config(creds: &Credentials, ctx: &Ctx) -> Arc<rustls::ClientConfig> {
    let base = if creds.insecure {
        super::tls::unverified()
    } else {
        match &creds.ca {
            Some(ca) => super::tls::with_roots(ca, true),
            None => ctx.tls.verified(),
        }
    };
    let mut config = (*base).clone();
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    if let Some(certified) = &creds.client_cert {
        config.client_auth_cert_resolver = Arc::new(ClientCert(certified.clone()));
    }
    Arc::new(config)
}

/// Presents the kubeconfig's client certificate to every server that asks.
#[derive(Debug)]
struct ClientCert(Arc<rustls::sign::CertifiedKey>);

impl rustls::client::ResolvesClientCert for ClientCert {
    fn resolve(
        &self,
        _: &[&[u8]],
        _: &[rustls::SignatureScheme],
    ) -> Option<Arc<rustls::sign::CertifiedKey>> {
        Some(self.0.clone())
    }
    fn has_certs(&self) -> bool {
        true
    }
}
