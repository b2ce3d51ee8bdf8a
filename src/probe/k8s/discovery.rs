//! Which resource a name means, as the API server says: API discovery, as kubectl
//! reads it. The aggregated discovery document where the server offers it (`/api`
//! and `/apis` asked for `APIGroupDiscoveryList`, Kubernetes 1.26 and later: two
//! requests for every group and version), else the group lists (`/api/v1`, `/apis`,
//! then `/apis/GROUP/VERSION` group by group until every name is found).
//!
//! A name is a plural, a singular (the kind in lowercase), a short name or a kind,
//! with an API group and version when given; the first group that has it wins
//! (the core group first, then the groups in the server's order), and in it the
//! first version (the preferred one) that has it, a plural or singular before a
//! short name before a kind. The resources whose readiness whenready knows
//! (pods, services, jobs, deployments, statefulsets, daemonsets) need no discovery
//! ([`super::builtin`]).
//!
//! What the server says is read within bounds: each answer through the cap of
//! [`super::api`], each resource entry parsed and dropped at once unless it is
//! named by a target (at most [`MAX_CANDIDATES`] kept a group: the documents are
//! read in [`super::catalog`]). What is found is kept for the run, per server and
//! credentials: targets that share them share one discovery. A name the server
//! does not know is asked again at most once a [`GAP`] (its
//! CustomResourceDefinition may be installed by the same release).
//!
//! [`MAX_CANDIDATES`]: super::catalog::MAX_CANDIDATES

use super::api::{self, Client, Failure};
use super::catalog::{group_list, read, Best, Sink};
use super::spec::ResourceName;
use super::what::Resource;
use crate::probe::error::ProbeError;
use std::time::Duration;
use tokio::time::Instant;

/// The least time between two discoveries of a server for a name it did not know.
pub const GAP: Duration = Duration::from_secs(1);

/// The discovery of one API server, shared by the targets that use it.
#[derive(Default)]
pub struct Discovery {
    /// Every name the targets look for (registered before the first attempt), so
    /// that one discovery answers them all.
    wanted: std::sync::Mutex<Vec<ResourceName>>,
    /// What was found; locked while a discovery runs (single flight).
    known: tokio::sync::Mutex<Known>,
}

#[derive(Default)]
struct Known {
    found: Vec<(ResourceName, Resource)>,
    /// The last discovery's end.
    last: Option<Instant>,
    /// The server answered a request for the aggregated document with a group
    /// list: ask only for those from now on.
    legacy: bool,
}

impl Discovery {
    /// Registers a name a target will look for.
    pub fn want(&self, name: &ResourceName) {
        let mut w = self.wanted.lock().unwrap_or_else(|p| p.into_inner());
        if !w.contains(name) {
            w.push(name.clone());
        }
    }

    /// The resource `name` means, or `None` when the server does not know it (yet).
    /// Asks the server when the name has not been found (at most once a [`GAP`]);
    /// targets that ask meanwhile wait for that answer.
    pub async fn resolve(
        &self,
        client: &Client,
        name: &ResourceName,
    ) -> Result<Option<Resource>, ProbeError> {
        let mut known = self.known.lock().await;
        let found = |k: &Known| {
            k.found
                .iter()
                .find(|(n, _)| n == name)
                .map(|(_, r)| r.clone())
        };
        if let Some(r) = found(&known) {
            return Ok(Some(r));
        }
        if known.last.is_some_and(|t| t.elapsed() < GAP) {
            return Ok(None);
        }
        let mut wanted: Vec<ResourceName> = self
            .wanted
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .iter()
            .filter(|n| !known.found.iter().any(|(f, _)| f == *n))
            .cloned()
            .collect();
        if !wanted.contains(name) {
            wanted.push(name.clone());
        }
        let mut legacy = known.legacy;
        let best = discover(client, &wanted, &mut legacy).await?;
        known.legacy = legacy;
        for (n, r) in wanted.into_iter().zip(best) {
            if let Some((_, r)) = r {
                known.found.push((n, r));
            }
        }
        known.last = Some(Instant::now());
        Ok(found(&known))
    }

    /// Forgets what `name` was found to be (its collection is gone: the next
    /// resolution asks again).
    pub async fn forget(&self, name: &ResourceName) {
        let mut known = self.known.lock().await;
        known.found.retain(|(n, _)| n != name);
        known.last = None;
    }
}

/// One discovery for `wanted`: the core group (when a name has no group) and the
/// groups, aggregated or listed. `legacy` says (and learns) whether the server
/// serves the aggregated document.
async fn discover(
    client: &Client,
    wanted: &[ResourceName],
    legacy: &mut bool,
) -> Result<Best, ProbeError> {
    let mut best: Best = vec![None; wanted.len()];
    let mut order = 0;
    if wanted.iter().any(|n| n.group.is_none()) {
        let mut agg = false;
        if !*legacy {
            let (is_agg, body) = fetch(client, "/api", true).await?;
            agg = is_agg;
            if agg {
                read(&body, Sink::new(wanted, &mut best, &mut order, None))?;
            } else {
                *legacy = true;
            }
        }
        if !agg {
            let (_, body) = fetch(client, "/api/v1", false).await?;
            read(
                &body,
                Sink::new(wanted, &mut best, &mut order, Some(("", "v1"))),
            )?;
        }
    }
    order = order.max(1);
    if !*legacy {
        let (agg, body) = fetch(client, "/apis", true).await?;
        if agg {
            read(&body, Sink::new(wanted, &mut best, &mut order, None))?;
            return Ok(best);
        }
        *legacy = true;
        return listed_groups(client, wanted, &mut best, order, &body)
            .await
            .map(|()| best);
    }
    let (_, body) = fetch(client, "/apis", false).await?;
    listed_groups(client, wanted, &mut best, order, &body).await?;
    Ok(best)
}

/// The legacy way: the group list (`body`, an `APIGroupList`), then each group
/// a name may be in, in order, until every name is found.
async fn listed_groups(
    client: &Client,
    wanted: &[ResourceName],
    best: &mut Best,
    mut order: usize,
    body: &[u8],
) -> Result<(), ProbeError> {
    let groups = group_list(body, wanted)?;
    for (group, preferred, versions) in groups {
        let open = |best: &Best| {
            wanted
                .iter()
                .zip(best.iter())
                .any(|(n, b)| b.is_none() && n.group.as_deref().is_none_or(|g| g == group))
        };
        if !open(best) {
            if best.iter().all(Option::is_some) {
                break;
            }
            continue;
        }
        // The versions named for this group, else its preferred one.
        let mut asked: Vec<&str> = wanted
            .iter()
            .filter(|n| n.group.as_deref() == Some(group.as_str()))
            .filter_map(|n| n.version.as_deref())
            .filter(|v| versions.iter().any(|x| x == v))
            .collect();
        if wanted
            .iter()
            .any(|n| n.version.is_none() && n.group.as_deref().is_none_or(|g| g == group))
        {
            asked.push(&preferred);
        }
        asked.dedup();
        for version in asked {
            let path = format!("/apis/{group}/{version}");
            match fetch(client, &path, false).await {
                Ok((_, body)) => read(
                    &body,
                    Sink::new(wanted, best, &mut order, Some((&group, version))),
                )?,
                // An aggregated API that is down (503) or gone: the others may
                // still answer, as kubectl reads a partial discovery.
                Err(e) if !e.is_permanent() => order += 1,
                Err(e) => return Err(e),
            }
        }
    }
    Ok(())
}

/// GET a discovery document; `(aggregated, body)`. Asked for the aggregated form
/// when `aggregated`; a server without it answers the legacy one.
async fn fetch(
    client: &Client,
    path: &str,
    aggregated: bool,
) -> Result<(bool, Vec<u8>), ProbeError> {
    match client.discover(path, aggregated).await {
        Ok(r) => Ok(r),
        Err(Failure::Probe(e)) => Err(e),
        Err(Failure::TooLarge) => Err(ProbeError::transient(format!(
            "the API server's discovery answer ({path}) is larger than {} MiB",
            api::MAX_BODY >> 20
        ))),
        Err(other) => Err(ProbeError::transient(format!(
            "API discovery ({path}) failed: {other:?}"
        ))),
    }
}
