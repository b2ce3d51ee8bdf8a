//! `k8s://[NAMESPACE/]KIND/NAME` and `k8s://[NAMESPACE/]pods?selector=…`: Kubernetes
//! objects through the API: a Service with ready endpoints, a complete Job, a
//! rolled-out Deployment, StatefulSet or DaemonSet, a Ready Pod, Ready pods behind
//! a label selector.
//!
//! The API server is spared as client-go's informers spare it: one list, then one
//! watch from the list's resourceVersion (with bookmarks) that lives across
//! attempts; a new list only when the watch says 410 Gone, polling (with the wait
//! loop's jittered backoff, and at most one list a second) only where the watch is
//! refused. An attempt applies the events that have come since the last one (and
//! waits a few milliseconds for more), so each attempt still ends at once with a
//! reason of its own, and the deadline, backoff and exit codes are the wait loop's
//! as for every kind. Credentials: [`config`]; requests: [`api`]; what is kept
//! of each object: [`object`]; readiness rules: [`ready`].
//!
//! Lists come in pages of at most [`PAGE`] objects (`limit` and `continue`, as
//! kubectl reads them); each object is cut down to what readiness reads as its
//! page is parsed, so a target keeps a few hundred bytes an object whatever the
//! pages hold, up to [`object::MAX_KEPT`]. A list's progress is kept across
//! attempts (an attempt cut mid-list resumes from its continue token); an expired
//! token starts the list again, and the watch starts from the resourceVersion of
//! the list's last page. What a server sends is read through the limits of
//! [`api`].

pub mod api;
pub mod config;
pub mod exec;
pub mod object;
pub mod ready;

use super::error::ProbeError;
use super::{Attempt, Check, Ctx, Kind};
use crate::env::Env;
use api::{Client, Failure, Watch, WatchError};
use config::{Credentials, Sources};
use object::Objects;
use ready::{Verdict, What};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Duration;
use tokio::time::Instant;
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
        "k8s://[NAMESPACE/]KIND/NAME"
    }
    fn help(&self) -> (&'static str, &'static str) {
        (
            "k8s://[NS/]KIND/NAME, …/pods?selector=",
            "Service endpoint ready, Job complete, rollout done, Pod Ready",
        )
    }
    fn environment(&self) -> Option<&'static str> {
        Some("KUBECONFIG (or ~/.kube/config), else the in-cluster service account\n  (KUBERNETES_SERVICE_HOST, KUBERNETES_SERVICE_PORT): credentials of k8s targets")
    }
    fn parse(&self, url: &Url, env: &Env) -> Result<Box<dyn Check>, String> {
        let target = parse(url)?;
        let get = |name: &str| env.get(name).map(|v| v.map(str::to_string));
        let in_cluster = match (
            get("KUBERNETES_SERVICE_HOST")?,
            get("KUBERNETES_SERVICE_PORT")?,
        ) {
            (Some(h), Some(p)) => Some((h, p)),
            _ => None,
        };
        Ok(Box::new(K8sTarget {
            what: target.what,
            namespace: target.namespace,
            sources: Sources {
                kubeconfig: get("KUBECONFIG")?,
                home: get("HOME")?,
                in_cluster,
                context: target.context,
            },
            client: OnceLock::new(),
            state: tokio::sync::Mutex::new(State::default()),
        }))
    }
}

/// A target as written.
#[derive(Debug, PartialEq, Eq)]
struct Parsed {
    what: What,
    namespace: Option<String>,
    context: Option<String>,
}

/// A DNS label (namespaces) or subdomain (object names), as the API validates them.
fn valid_name(s: &str, label: bool) -> bool {
    let max = if label { 63 } else { 253 };
    !s.is_empty()
        && s.len() <= max
        && s.bytes().all(|b| {
            b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || (!label && b == b'.')
        })
        && !s.starts_with(['-', '.'])
        && !s.ends_with(['-', '.'])
}

fn parse(url: &Url) -> Result<Parsed, String> {
    if !url.username().is_empty() || url.password().is_some() || url.port().is_some() {
        return Err("a k8s target has no user, password or port: credentials come from the kubeconfig or the service account".into());
    }
    if url.fragment().is_some() {
        return Err("a k8s target has no #fragment".into());
    }
    let mut parts: Vec<String> = Vec::new();
    if let Some(h) = url.host_str().filter(|h| !h.is_empty()) {
        parts.push(h.to_string());
    }
    parts.extend(url.path().split('/').filter(|s| !s.is_empty()).map(|s| {
        percent_encoding::percent_decode_str(s)
            .decode_utf8_lossy()
            .into_owned()
    }));
    let (mut min, mut selector, mut context) = (None, None, None);
    for (k, v) in url.query_pairs() {
        match k.as_ref() {
            "min" => {
                min = Some(
                    v.parse::<u64>()
                        .ok()
                        .filter(|n| *n >= 1)
                        .ok_or_else(|| format!("min={v:?} is not a whole number >= 1"))?,
                )
            }
            "selector" if !v.trim().is_empty() => selector = Some(v.trim().to_string()),
            "selector" => return Err("selector= is empty: write e.g. selector=app%3Ddb".into()),
            "context" => context = Some(v.into_owned()),
            other => {
                return Err(format!(
                    "unknown parameter {other:?} (known: selector, min, context)"
                ))
            }
        }
    }
    const FORM: &str = "write k8s://[NAMESPACE/]KIND/NAME (KIND: service, job, deployment, statefulset, daemonset, pod) or k8s://[NAMESPACE/]pods?selector=LABELS";
    let (namespace, kind, name) = match (selector.is_some(), parts.as_slice()) {
        (true, [kind]) => (None, kind.clone(), None),
        (true, [ns, kind]) => (Some(ns.clone()), kind.clone(), None),
        (false, [kind, name]) => (None, kind.clone(), Some(name.clone())),
        (false, [ns, kind, name]) => (Some(ns.clone()), kind.clone(), Some(name.clone())),
        _ => return Err(FORM.into()),
    };
    if let Some(ns) = &namespace {
        if !valid_name(ns, true) {
            return Err(format!(
                "{ns:?} is not a namespace name (lowercase letters, digits and '-')"
            ));
        }
    }
    let kind = kind.to_ascii_lowercase();
    let what = match (kind.as_str(), name, selector) {
        ("pod" | "pods" | "po", None, Some(selector)) => What::Pods {
            selector,
            min: min.unwrap_or(1),
        },
        (_, None, Some(_)) => return Err(format!("selector= works with pods only, not {kind:?}")),
        (_, Some(name), None) => {
            if !valid_name(&name, false) {
                return Err(format!(
                    "{name:?} is not an object name (lowercase letters, digits, '-' and '.')"
                ));
            }
            if min.is_some() && !matches!(kind.as_str(), "service" | "services" | "svc") {
                return Err("min= works with services and pod selectors only".into());
            }
            match kind.as_str() {
                "service" | "services" | "svc" => What::Service {
                    name,
                    min: min.unwrap_or(1),
                },
                "job" | "jobs" => What::Job(name),
                "deployment" | "deployments" | "deploy" => What::Deployment(name),
                "statefulset" | "statefulsets" | "sts" => What::StatefulSet(name),
                "daemonset" | "daemonsets" | "ds" => What::DaemonSet(name),
                "pod" | "pods" | "po" => What::Pod(name),
                other => return Err(format!("unknown kind {other:?}: {FORM}")),
            }
        }
        _ => return Err(FORM.into()),
    };
    Ok(Parsed {
        what,
        namespace,
        context,
    })
}

/// A Kubernetes target: what to wait for, where, and the state of its list and
/// watch, which lives across attempts.
pub struct K8sTarget {
    what: What,
    namespace: Option<String>,
    sources: Sources,
    client: OnceLock<Prepared>,
    state: tokio::sync::Mutex<State>,
}

/// What [`Check::prepare`] found: the credentials and the namespace to use.
struct Prepared {
    creds: Credentials,
    namespace: String,
    client: OnceLock<Client>,
}

/// The objects seen so far and the watch that keeps them current.
#[derive(Default)]
struct State {
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
        let creds = shared_credentials(&self.sources).map_err(|e| format!("{shown}: {e}"))?;
        let namespace = self
            .namespace
            .clone()
            .or_else(|| creds.namespace.clone())
            .unwrap_or_else(|| "default".into());
        let _ = self.client.set(Prepared {
            creds,
            namespace,
            client: OnceLock::new(),
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
            self.attempt(client, &prepared.namespace).await
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

/// The credentials for `sources`, loaded once per run: targets that share a
/// kubeconfig and context share them, and so share an exec plugin's token.
fn shared_credentials(sources: &Sources) -> Result<Credentials, String> {
    static LOADED: std::sync::Mutex<Vec<(Sources, Credentials)>> =
        std::sync::Mutex::new(Vec::new());
    let mut loaded = LOADED.lock().unwrap_or_else(|p| p.into_inner());
    if let Some((_, c)) = loaded.iter().find(|(s, _)| s == sources) {
        return Ok(c.clone());
    }
    let creds = Credentials::load(sources)?;
    loaded.push((sources.clone(), creds.clone()));
    Ok(creds)
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

impl K8sTarget {
    /// One attempt: list when needed, then read the watch until ready, a new
    /// reason, or the end of the attempt's share of time.
    async fn attempt(&self, client: &Client, ns: &str) -> Result<(), ProbeError> {
        let until = Instant::now() + WATCH_WINDOW;
        let mut st = self.state.lock().await;
        let path = self.what.collection(ns);
        let (key, value) = self.what.selector();
        let query = format!("{key}={}", encode(&value));
        if st.rv.is_none() || st.polling.is_some() {
            if st.listing.is_none() {
                if let Some(last) = st.last_list {
                    // Polling: no more than one list a second, whatever the backoff.
                    let next = last + POLL_GAP;
                    if next > until {
                        return self.verdict(&mut st);
                    }
                    tokio::time::sleep_until(next).await;
                }
            }
            self.list(&mut st, client, &path, &query).await?;
            st.last_list = st.polling.as_ref().map(|_| Instant::now());
            // The first answer is returned at once (one request for --once).
            return self.verdict(&mut st);
        }
        if st.watch.is_none() {
            let rv = st.rv.clone().unwrap_or_default();
            match client.watch(&path, &query, &rv).await {
                Ok(w) => st.watch = Some(w),
                Err(Failure::Gone) => {
                    st.rv = None;
                    return self.verdict(&mut st);
                }
                Err(Failure::WatchRefused(why)) => {
                    st.polling = Some(why);
                    st.last_list = Some(Instant::now());
                    return self.verdict(&mut st);
                }
                Err(Failure::TooLarge) => {
                    return Err(ProbeError::transient("the API server refused the watch"))
                }
                Err(Failure::Probe(e)) => return Err(e),
            }
        }
        loop {
            let Some(watch) = st.watch.as_mut() else {
                return self.verdict(&mut st);
            };
            let event = tokio::select! {
                e = watch.next() => e,
                () = tokio::time::sleep_until(until) => return self.verdict(&mut st),
            };
            match event {
                Ok(Some(event)) => {
                    let before = st.reason.clone();
                    if let Err(e) = self.apply(&mut st, event) {
                        st.watch = None;
                        return Err(e);
                    }
                    let verdict = self.verdict(&mut st);
                    if verdict.is_ok() || st.reason != before || st.watch.is_none() {
                        return verdict;
                    }
                }
                // The server ended the watch (its timeout, a restart): the next
                // attempt watches again from the last resourceVersion.
                Ok(None) => {
                    st.watch = None;
                    return self.verdict(&mut st);
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
                    let _ = self.verdict(&mut st);
                    return Err(e);
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
        path: &str,
        query: &str,
    ) -> Result<(), ProbeError> {
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
                    &self.what,
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
                Err(Failure::Probe(e)) => return Err(e),
                Err(Failure::TooLarge) => {
                    // The same page again, smaller.
                    st.page = (size / 2).max(1);
                    return Err(ProbeError::transient(format!(
                        "the API server's answer is larger than {} MiB (the next list asks for {} objects a page)",
                        api::MAX_BODY >> 20,
                        st.page
                    )));
                }
                Err(Failure::Gone) if next.is_some() => {
                    st.listing = None;
                    return Err(ProbeError::transient(
                        "the list's continue token expired (HTTP 410): listing again",
                    ));
                }
                Err(Failure::Gone | Failure::WatchRefused(_)) => {
                    return Err(ProbeError::transient(
                        "the API server refused the list (HTTP 410)",
                    ))
                }
            }
        }
    }

    /// Applies one watch event to the objects seen.
    fn apply(&self, st: &mut State, event: object::Event) -> Result<(), ProbeError> {
        let object = event.object;
        let rv = object.metadata.resource_version.clone();
        match event.kind.as_str() {
            "ADDED" | "MODIFIED" | "DELETED" => {
                if let Some(rv) = rv {
                    st.rv = Some(rv);
                }
                let name = object.name().to_string();
                if event.kind == "DELETED" {
                    st.objects.remove(&name);
                } else if st.objects.insert(object, &self.what).is_err() {
                    // Listed again at the next attempt, which says so.
                    st.rv = None;
                    return Err(api::over_budget());
                }
                Ok(())
            }
            "BOOKMARK" => {
                if let Some(rv) = rv {
                    st.rv = Some(rv);
                }
                Ok(())
            }
            "ERROR" => {
                st.watch = None;
                if object.code == Some(410) {
                    // Expired: list again at the next attempt.
                    st.rv = None;
                    return Ok(());
                }
                let message = object.message.as_deref().unwrap_or("no message");
                Err(ProbeError::transient(format!(
                    "the watch failed: {message}"
                )))
            }
            _ => Ok(()),
        }
    }

    /// The verdict on the objects seen, remembered as the last reason.
    fn verdict(&self, st: &mut State) -> Result<(), ProbeError> {
        match self.what.verdict(st.objects.iter()) {
            Verdict::Ready => Ok(()),
            Verdict::NotYet(why) => {
                st.reason = Some(why.clone());
                let why = match &st.polling {
                    Some(p) => format!("{why} ({p})"),
                    None => why,
                };
                Err(ProbeError::transient(why))
            }
            Verdict::Never(why) => Err(ProbeError::permanent(why)),
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

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &str) -> Result<Parsed, String> {
        parse(&Url::parse(s).unwrap())
    }

    #[test]
    fn target_forms() {
        assert_eq!(
            p("k8s://app/deployment/web").unwrap(),
            Parsed {
                what: What::Deployment("web".into()),
                namespace: Some("app".into()),
                context: None
            }
        );
        assert_eq!(
            p("k8s://svc/db?min=2").unwrap().what,
            What::Service {
                name: "db".into(),
                min: 2
            }
        );
        assert_eq!(p("k8s://job/migrate").unwrap().namespace, None);
        let sel = p("k8s://app/pods?selector=app%3Ddb,tier%20in%20(a)&min=3&context=kind").unwrap();
        assert_eq!(
            sel.what,
            What::Pods {
                selector: "app=db,tier in (a)".into(),
                min: 3
            }
        );
        assert_eq!(sel.context.as_deref(), Some("kind"));
        for (bad, why) in [
            ("k8s://web", "write k8s://"),
            ("k8s://a/b/c/d", "write k8s://"),
            ("k8s://app/widget/x", "unknown kind \"widget\""),
            ("k8s://Bad_NS/pod/x", "not a namespace name"),
            ("k8s://pod/X_Y", "not an object name"),
            ("k8s://job/x?min=2", "min= works with services"),
            ("k8s://svc/x?min=0", "min=\"0\""),
            ("k8s://deployment?selector=a%3Db", "works with pods only"),
            ("k8s://pods?selector=", "selector= is empty"),
            ("k8s://pod/x?foo=1", "unknown parameter"),
            ("k8s://u:p@ns/pod/x", "no user, password or port"),
        ] {
            let e = p(bad).err().unwrap_or_else(|| panic!("{bad} parsed"));
            assert!(e.contains(why), "{bad}: {e}");
        }
    }
}
