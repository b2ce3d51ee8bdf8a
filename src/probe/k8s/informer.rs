//! A target's list and watch, which live across attempts, as client-go's
//! informers keep them: one list (in pages of at most [`PAGE`] objects), then one
//! watch from the list's resourceVersion; a new list only when the watch says 410
//! Gone, polling (at most one list a second) only where the watch is refused.
//! An attempt applies the events that have come since the last one (and waits a
//! few milliseconds for more), then says where the objects seen leave the target
//! ([`Look`]).
//!
//! A list's progress is kept across attempts (an attempt cut mid-list resumes
//! from its continue token); an expired token starts the list again, and the
//! watch starts from the resourceVersion of the list's last page. A page larger
//! than the API's answer cap makes the next list ask for half as many objects.

use super::api::{self, Client, Failure, Watch, WatchError};
use super::discovery::Discovery;
use super::page::{Event, Objects};
use super::ready::Verdict;
use super::resolve::resolve;
use super::spec::Spec;
use super::what::What;
use crate::probe::error::ProbeError;
use std::sync::Arc;
use std::time::Duration;
use tokio::time::Instant;

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

/// The list and watch of one target, and the objects seen: they live across its
/// attempts.
#[derive(Default)]
pub struct Informer {
    state: tokio::sync::Mutex<State>,
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

/// Where an attempt leaves a target: its goal reached (ready; with `--reverse`,
/// gone, and why), or not (why, and whether waiting can help).
pub enum Look {
    /// The goal is reached (with `--reverse`, why the objects count as gone).
    Reached(Option<String>),
    /// Not yet, or never: the failure says why and whether waiting can help.
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

impl Informer {
    /// One attempt for the target `spec` (its objects in `namespace`): find the
    /// resource when needed, list when needed, then read the watch until the
    /// goal, a new reason, or the end of the attempt's share of time.
    pub async fn attempt(
        &self,
        spec: &Spec,
        client: &Client,
        discovery: &Discovery,
        namespace: &str,
        reverse: bool,
    ) -> Look {
        let until = Instant::now() + WATCH_WINDOW;
        let mut st = self.state.lock().await;
        let what = match st.what.clone() {
            Some(w) => w,
            None => match resolve(spec, client, discovery, reverse).await {
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
                        spec.resource.to_string()
                    )))
                }
                Ok(None) => {
                    return Look::Waiting(ProbeError::transient(format!(
                        "the API server does not know the resource {:?} (yet: is its CustomResourceDefinition installed?)",
                        spec.resource.to_string()
                    )))
                }
                Err(e) => return Look::Waiting(e),
            },
        };
        match observe(&mut st, client, &what, namespace, until, reverse).await {
            Ok(look) => look,
            Err(Stop::Failed(e)) => Look::Waiting(e),
            Err(Stop::NotFound(message)) => {
                // The collection is gone (its CRD deleted): find the resource again.
                st.what = None;
                st.rv = None;
                st.listing = None;
                st.watch = None;
                st.objects = Objects::default();
                discovery.forget(&spec.resource).await;
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
}

/// Lists when needed, then reads the watch: the objects' verdict.
async fn observe(
    st: &mut State,
    client: &Client,
    what: &Arc<What>,
    ns: &str,
    until: Instant,
    reverse: bool,
) -> Result<Look, Stop> {
    let path = what.collection(ns);
    let (key, value) = what.selector();
    let query = format!("{key}={}", api::encode(&value));
    if st.rv.is_none() || st.polling.is_some() {
        if st.listing.is_none() {
            if let Some(last) = st.last_list {
                // Polling: no more than one list a second, whatever the backoff.
                let next = last + POLL_GAP;
                if next > until {
                    return Ok(look(st, what, reverse));
                }
                tokio::time::sleep_until(next).await;
            }
        }
        list(st, client, what, &path, &query).await?;
        st.last_list = st.polling.as_ref().map(|_| Instant::now());
        // The first answer is returned at once (one request for --once).
        return Ok(look(st, what, reverse));
    }
    if st.watch.is_none() {
        let rv = st.rv.clone().unwrap_or_default();
        match client.watch(&path, &query, &rv, what.clone()).await {
            Ok(w) => st.watch = Some(w),
            Err(Failure::Gone) => {
                st.rv = None;
                return Ok(look(st, what, reverse));
            }
            Err(Failure::WatchRefused(why)) => {
                st.polling = Some(why);
                st.last_list = Some(Instant::now());
                return Ok(look(st, what, reverse));
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
            return Ok(look(st, what, reverse));
        };
        let event = tokio::select! {
            e = watch.next() => e,
            () = tokio::time::sleep_until(until) => return Ok(look(st, what, reverse)),
        };
        match event {
            Ok(Some(event)) => {
                let before = st.reason.clone();
                if let Err(e) = apply(st, event) {
                    st.watch = None;
                    return Err(Stop::Failed(e));
                }
                let seen = look(st, what, reverse);
                if matches!(seen, Look::Reached(_)) || st.reason != before || st.watch.is_none() {
                    return Ok(seen);
                }
            }
            // The server ended the watch (its timeout, a restart): the next
            // attempt watches again from the last resourceVersion.
            Ok(None) => {
                st.watch = None;
                return Ok(look(st, what, reverse));
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
                let _ = look(st, what, reverse);
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
fn apply(st: &mut State, event: Event) -> Result<(), ProbeError> {
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
fn look(st: &mut State, what: &What, reverse: bool) -> Look {
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
