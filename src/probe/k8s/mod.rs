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
//! as for every kind. The target as written: [`spec`]; credentials: [`config`];
//! requests: [`api`]; what is kept of each object: [`object`]; when objects
//! count: [`ready`].
//!
//! Lists come in pages of at most [`PAGE`] objects (`limit` and `continue`, as
//! kubectl reads them); each object is cut down to what its target reads as its
//! page is parsed, so a target keeps a few hundred bytes an object whatever the
//! pages hold, up to [`object::MAX_KEPT`]. A list's progress is kept across
//! attempts (an attempt cut mid-list resumes from its continue token); an expired
//! token starts the list again, and the watch starts from the resourceVersion of
//! the list's last page. What a server sends is read through the limits of
//! [`api`].

pub mod api;
pub mod config;
pub mod discovery;
pub mod exec;
pub mod object;
pub mod ready;
pub mod spec;
pub mod what;

use super::error::ProbeError;
use super::kind::{Attempt, Check, Ctx, Kind};
use crate::env::Env;
use api::{Client, Failure, Watch, WatchError};
use config::{Credentials, Sources};
use discovery::{Builtin, Discovery};
use object::Objects;
use ready::Verdict;
use spec::{Select, Spec};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Duration;
use tokio::time::Instant;
use url::Url;
use what::{Expect, Rule, What};

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
            state: tokio::sync::Mutex::new(State::default()),
        }))
    }
}

/// A Kubernetes target: what to wait for, where, and the state of its list and
/// watch, which lives across attempts.
pub struct K8sTarget {
    spec: Spec,
    sources: Sources,
    client: OnceLock<Prepared>,
    state: tokio::sync::Mutex<State>,
}

/// What [`Check::prepare`] found: the credentials, the namespace to use, and the
/// discovery of their server.
struct Prepared {
    creds: Credentials,
    namespace: String,
    client: OnceLock<Client>,
    discovery: Arc<Discovery>,
}

/// The objects seen so far and the watch that keeps them current.
#[derive(Default)]
struct State {
    /// What the target waits for, once its resource is known.
    what: Option<Arc<What>>,
    /// The objects the selector matches, by name, as readiness keeps them.
    objects: Objects,
    /// The resourceVersion to watch from; `None`: list first.
    rv: Option<String>,
    /// A list read so far, when its last page has not come yet.
    listing: Option<Listing>,
    /// The most objects a page asks for: [`PAGE`], halved after a page larger
    /// than the API's answer cap.
    page: usize,
    watch: Option<Watch>,
    /// The watch was refused: list at every attempt (at most one a second).
    polling: Option<String>,
    last_list: Option<Instant>,
    /// The last reason given, so an attempt returns when it changes.
    reason: Option<String>,
}

/// A list between two of its pages.
struct Listing {
    objects: Objects,
    /// The continue token of the next page.
    next: String,
}

/// Objects a page of a list asks for (`limit=`). kubectl asks for 500 of its
/// server-side tables, rows of a few hundred bytes; whenready reads whole objects
/// (a pod is 5 to 20 KiB with its managed fields), and 100 of them stay well under
/// the 4 MiB an answer may take ([`api::MAX_BODY`]).
pub const PAGE: usize = 100;

/// The least time between two lists while polling.
const POLL_GAP: Duration = Duration::from_secs(1);

/// How long an attempt waits for watch events that are not there yet. Events that
/// come between attempts wait in the connection for the next one, so the wait
/// loop's pauses (`--interval`) pace the target as they pace every kind; an attempt
/// stays well under the 50 ms after which the reporter calls it unanswered.
const WATCH_WINDOW: Duration = Duration::from_millis(30);

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
        if discovery::builtin(&self.spec.resource).is_none() {
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
            match (reverse, self.attempt(client, prepared, reverse).await) {
                (false, Look::Reached(_)) => Ok(()),
                (false, Look::Waiting(e)) => Err(e),
                // --reverse: gone is the goal, which the wait loop reads from a
                // transient failure; anything that does not show the objects gone
                // (they exist, the API server cannot be reached) is not gone.
                (true, Look::Reached(why)) => Err(ProbeError::transient(why.unwrap_or_default())),
                (true, Look::Waiting(e)) if e.is_permanent() => Err(e),
                (true, Look::Waiting(_)) => Ok(()),
            }
        })
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

/// Where an attempt leaves a target: its goal reached (ready; with `--reverse`,
/// gone, and why), or not (why, and whether waiting can help).
enum Look {
    Reached(Option<String>),
    Waiting(ProbeError),
}

/// Why a list or a watch stopped short of objects.
enum Stop {
    /// A failure of the attempt.
    Failed(ProbeError),
    /// 404: the server does not serve the collection (its message).
    NotFound(String),
}

impl From<ProbeError> for Stop {
    fn from(e: ProbeError) -> Self {
        Stop::Failed(e)
    }
}

impl K8sTarget {
    /// What the target waits for: its resource (found by discovery unless it is one
    /// whenready knows), which objects, and the rule. `None`: the server does not
    /// know the resource (yet).
    async fn resolve(
        &self,
        client: &Client,
        prepared: &Prepared,
        reverse: bool,
    ) -> Result<Option<What>, ProbeError> {
        let spec = &self.spec;
        if reverse && (spec.expects() || spec.min.is_some()) {
            return Err(ProbeError::permanent(
                "with --reverse a k8s target waits until its objects are deleted: condition=, field= and min= do not apply",
            ));
        }
        let (resource, builtin) = match discovery::builtin(&spec.resource) {
            Some((r, b)) => (r, Some(b)),
            None => match prepared.discovery.resolve(client, &spec.resource).await? {
                Some(r) => (r, None),
                None => return Ok(None),
            },
        };
        if !resource.list {
            return Err(ProbeError::permanent(format!(
                "the API server cannot list {} (its verbs do not include \"list\")",
                resource.shown()
            )));
        }
        if !resource.namespaced && spec.namespace.is_some() {
            return Err(ProbeError::permanent(format!(
                "{} are cluster-scoped: write k8s://{}/… without a namespace",
                resource.shown(),
                spec.resource
            )));
        }
        let rule = if reverse {
            Rule::Exists
        } else if spec.expects() {
            Rule::Expect(Expect {
                condition: spec.condition.clone(),
                fields: spec
                    .fields
                    .iter()
                    .map(|f| (f.clone(), f.tokens()))
                    .collect(),
            })
        } else {
            match (builtin, &spec.select) {
                (Some(Builtin::Service), Select::Name(name)) => {
                    Rule::Service { name: name.clone() }
                }
                (Some(Builtin::Pod), _) => Rule::Pod,
                (Some(Builtin::Job), _) => Rule::Job,
                (Some(Builtin::Deployment), _) => Rule::Deployment,
                (Some(Builtin::StatefulSet), _) => Rule::StatefulSet,
                (Some(Builtin::DaemonSet), _) => Rule::DaemonSet,
                _ => Rule::Exists,
            }
        };
        let (resource, select) = match &rule {
            Rule::Service { name } => (
                discovery::endpoint_slices(),
                Select::Labels(format!("kubernetes.io/service-name={name}")),
            ),
            _ => (resource, spec.select.clone()),
        };
        Ok(Some(What {
            resource,
            select,
            rule,
            min: spec.min.unwrap_or(1),
        }))
    }

    /// One attempt: find the resource when needed, list when needed, then read the
    /// watch until the goal, a new reason, or the end of the attempt's share of
    /// time.
    async fn attempt(&self, client: &Client, prepared: &Prepared, reverse: bool) -> Look {
        let until = Instant::now() + WATCH_WINDOW;
        let mut st = self.state.lock().await;
        let what = match st.what.clone() {
            Some(w) => w,
            None => match self.resolve(client, prepared, reverse).await {
                Ok(Some(w)) => {
                    let w = Arc::new(w);
                    if !w.resource.watch {
                        st.polling = Some(format!(
                            "the API server does not watch {}: polling instead",
                            w.resource.shown()
                        ));
                    }
                    st.what = Some(w.clone());
                    w
                }
                Ok(None) if reverse => {
                    return Look::Reached(Some(format!(
                        "the API server does not know the resource {:?}: no object of it exists",
                        self.spec.resource.to_string()
                    )))
                }
                Ok(None) => {
                    return Look::Waiting(ProbeError::transient(format!(
                        "the API server does not know the resource {:?} (yet: is its CustomResourceDefinition installed?)",
                        self.spec.resource.to_string()
                    )))
                }
                Err(e) => return Look::Waiting(e),
            },
        };
        match self
            .observe(&mut st, client, &what, &prepared.namespace, until, reverse)
            .await
        {
            Ok(look) => look,
            Err(Stop::Failed(e)) => Look::Waiting(e),
            Err(Stop::NotFound(message)) => {
                // The collection is gone (its CRD deleted): find the resource again.
                st.what = None;
                st.rv = None;
                st.listing = None;
                st.watch = None;
                st.objects = Objects::default();
                prepared.discovery.forget(&self.spec.resource).await;
                let shown = what.resource.shown();
                if reverse {
                    Look::Reached(Some(format!(
                        "the API server no longer serves {shown}: no object of it exists"
                    )))
                } else {
                    Look::Waiting(ProbeError::transient(format!(
                        "the API server does not serve {shown} (HTTP 404: {message})"
                    )))
                }
            }
        }
    }

    /// Lists when needed, then reads the watch: the objects' verdict.
    async fn observe(
        &self,
        st: &mut State,
        client: &Client,
        what: &Arc<What>,
        ns: &str,
        until: Instant,
        reverse: bool,
    ) -> Result<Look, Stop> {
        let path = what.collection(ns);
        let (key, value) = what.selector();
        let query = format!("{key}={}", encode(&value));
        if st.rv.is_none() || st.polling.is_some() {
            if st.listing.is_none() {
                if let Some(last) = st.last_list {
                    // Polling: no more than one list a second, whatever the backoff.
                    let next = last + POLL_GAP;
                    if next > until {
                        return Ok(self.look(st, what, reverse));
                    }
                    tokio::time::sleep_until(next).await;
                }
            }
            self.list(st, client, what, &path, &query).await?;
            st.last_list = st.polling.as_ref().map(|_| Instant::now());
            // The first answer is returned at once (one request for --once).
            return Ok(self.look(st, what, reverse));
        }
        if st.watch.is_none() {
            let rv = st.rv.clone().unwrap_or_default();
            match client.watch(&path, &query, &rv, what.clone()).await {
                Ok(w) => st.watch = Some(w),
                Err(Failure::Gone) => {
                    st.rv = None;
                    return Ok(self.look(st, what, reverse));
                }
                Err(Failure::WatchRefused(why)) => {
                    st.polling = Some(why);
                    st.last_list = Some(Instant::now());
                    return Ok(self.look(st, what, reverse));
                }
                Err(Failure::TooLarge) => {
                    return Err(Stop::Failed(ProbeError::transient(
                        "the API server refused the watch",
                    )))
                }
                Err(Failure::NotFound(m)) => return Err(Stop::NotFound(m)),
                Err(Failure::Probe(e)) => return Err(Stop::Failed(e)),
            }
        }
        loop {
            let Some(watch) = st.watch.as_mut() else {
                return Ok(self.look(st, what, reverse));
            };
            let event = tokio::select! {
                e = watch.next() => e,
                () = tokio::time::sleep_until(until) => return Ok(self.look(st, what, reverse)),
            };
            match event {
                Ok(Some(event)) => {
                    let before = st.reason.clone();
                    if let Err(e) = self.apply(st, event) {
                        st.watch = None;
                        return Err(Stop::Failed(e));
                    }
                    let look = self.look(st, what, reverse);
                    if matches!(look, Look::Reached(_)) || st.reason != before || st.watch.is_none()
                    {
                        return Ok(look);
                    }
                }
                // The server ended the watch (its timeout, a restart): the next
                // attempt watches again from the last resourceVersion.
                Ok(None) => {
                    st.watch = None;
                    return Ok(self.look(st, what, reverse));
                }
                Err(e) => {
                    st.watch = None;
                    let e = match e {
                        WatchError::Broken(e) => e,
                        WatchError::Lost(e) => {
                            st.rv = None;
                            e
                        }
                    };
                    let _ = self.look(st, what, reverse);
                    return Err(Stop::Failed(e));
                }
            }
        }
    }

    /// Reads a list to its last page (resuming one an earlier attempt began), then
    /// makes it the objects seen, and its resourceVersion the watch's start. The
    /// list read so far stays in the state between pages, so an attempt cut or
    /// failed mid-list leaves the next one its continue token (a page read again
    /// replaces its objects by name).
    async fn list(
        &self,
        st: &mut State,
        client: &Client,
        what: &What,
        path: &str,
        query: &str,
    ) -> Result<(), Stop> {
        if st.page == 0 {
            st.page = PAGE;
        }
        if st.listing.is_none() {
            // A new list replaces the objects: they are not kept twice.
            st.objects = Objects::default();
        }
        loop {
            let size = st.page;
            let listing = st.listing.get_or_insert_with(|| Listing {
                objects: Objects::default(),
                next: String::new(),
            });
            let next = (!listing.next.is_empty()).then(|| listing.next.clone());
            let result = client
                .list(
                    path,
                    query,
                    what,
                    size,
                    next.as_deref(),
                    &mut listing.objects,
                )
                .await;
            match result {
                Ok(page) => match page.next {
                    Some(token) => listing.next = token,
                    None => {
                        st.objects = st.listing.take().map(|l| l.objects).unwrap_or_default();
                        st.rv = Some(page.resource_version);
                        return Ok(());
                    }
                },
                Err(Failure::Probe(e)) => return Err(Stop::Failed(e)),
                Err(Failure::NotFound(m)) => return Err(Stop::NotFound(m)),
                Err(Failure::TooLarge) => {
                    // The same page again, smaller.
                    st.page = (size / 2).max(1);
                    return Err(Stop::Failed(ProbeError::transient(format!(
                        "the API server's answer is larger than {} MiB (the next list asks for {} objects a page)",
                        api::MAX_BODY >> 20,
                        st.page
                    ))));
                }
                Err(Failure::Gone) if next.is_some() => {
                    st.listing = None;
                    return Err(Stop::Failed(ProbeError::transient(
                        "the list's continue token expired (HTTP 410): listing again",
                    )));
                }
                Err(Failure::Gone | Failure::WatchRefused(_)) => {
                    return Err(Stop::Failed(ProbeError::transient(
                        "the API server refused the list (HTTP 410)",
                    )))
                }
            }
        }
    }

    /// Applies one watch event to the objects seen.
    fn apply(&self, st: &mut State, event: object::Event) -> Result<(), ProbeError> {
        match event.kind.as_str() {
            "ADDED" | "MODIFIED" | "DELETED" => {
                let Some(item) = event.item else {
                    return Ok(());
                };
                if let Some(rv) = item.resource_version.clone() {
                    st.rv = Some(rv);
                }
                if event.kind == "DELETED" {
                    if let Some(name) = &item.name {
                        st.objects.remove(name);
                    }
                } else if st.objects.insert(item).is_err() {
                    // Listed again at the next attempt, which says so.
                    st.rv = None;
                    return Err(api::over_budget());
                }
                Ok(())
            }
            "BOOKMARK" => {
                if let Some(rv) = event.item.and_then(|i| i.resource_version) {
                    st.rv = Some(rv);
                }
                Ok(())
            }
            "ERROR" => {
                st.watch = None;
                if event.code == Some(410) {
                    // Expired: list again at the next attempt.
                    st.rv = None;
                    return Ok(());
                }
                let message = event.message.as_deref().unwrap_or("no message");
                Err(ProbeError::transient(format!(
                    "the watch failed: {message}"
                )))
            }
            _ => Ok(()),
        }
    }

    /// Where the objects seen leave the target (the last reason remembered).
    fn look(&self, st: &mut State, what: &What, reverse: bool) -> Look {
        let polled = |why: String, st: &State| match &st.polling {
            Some(p) => format!("{why} ({p})"),
            None => why,
        };
        if reverse {
            return match what.gone(st.objects.iter()) {
                Some(why) => Look::Reached(Some(why)),
                None => {
                    let why = "still there".to_string();
                    st.reason = Some(why.clone());
                    Look::Waiting(ProbeError::transient(polled(why, st)))
                }
            };
        }
        match what.verdict(st.objects.iter()) {
            Verdict::Ready => Look::Reached(None),
            Verdict::NotYet(why) => {
                st.reason = Some(why.clone());
                Look::Waiting(ProbeError::transient(polled(why, st)))
            }
            Verdict::Never(why) => Look::Waiting(ProbeError::permanent(why)),
        }
    }
}

/// A query value, percent-encoded (unreserved characters stay as they are).
fn encode(s: &str) -> String {
    const SET: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
        .remove(b'-')
        .remove(b'.')
        .remove(b'_')
        .remove(b'~');
    percent_encoding::utf8_percent_encode(s, SET).to_string()
}
