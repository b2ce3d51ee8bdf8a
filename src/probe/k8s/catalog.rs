//! The API server's discovery documents, read within bounds: the aggregated
//! document (`APIGroupDiscoveryList`, from `/api` and `/apis`), a legacy resource
//! list (`APIResourceList`, from `/api/v1` or `/apis/GROUP/VERSION`) and a legacy
//! group list (`APIGroupList`, from `/apis`). Each resource entry is parsed and
//! dropped at once unless it matches a name looked for (at most
//! [`MAX_CANDIDATES`] kept a group); the best match of each name is kept
//! ([`Best`]): the first group that has it, in it the first version, a plural or
//! singular before a short name before a kind. Which documents are asked for,
//! and when: [`super::discovery`].

use super::bounded::Bounded;
use super::spec::ResourceName;
use super::what::Resource;
use crate::probe::error::ProbeError;
use serde::de::{DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde::Deserialize;
use std::fmt;

/// The most resources a group may offer as candidates for the names looked for
/// (an honest server has a handful; more is ignored).
pub const MAX_CANDIDATES: usize = 256;

/// The most versions of a group read.
pub const MAX_VERSIONS: usize = 64;

/// The most groups of a legacy group list read.
pub const MAX_GROUPS: usize = 1000;

/// What orders two matches: the group's place, the version's place in it, and
/// how the name matched (plural or singular, short name, kind).
pub type Key = (usize, usize, u8);

/// The best match found for each name.
pub type Best = Vec<Option<(Key, Resource)>>;

/// Parses a discovery document (aggregated or a legacy resource list) into the
/// sink.
pub fn read(body: &[u8], sink: Sink<'_>) -> Result<(), ProbeError> {
    let mut de = serde_json::Deserializer::from_slice(body);
    Doc(sink)
        .deserialize(&mut de)
        .and_then(|()| de.end())
        .map_err(|e| {
            ProbeError::transient(format!(
                "the API server's discovery document is not one whenready can read: {e}"
            ))
        })
}

/// Where the resources of a document go: matched against the names, the best
/// match of each kept.
pub struct Sink<'a> {
    wanted: &'a [ResourceName],
    best: &'a mut Best,
    /// The place of the group being read; the next group's after it.
    order: &'a mut usize,
    /// A legacy resource list's group and version (known from its path).
    fixed: Option<(&'a str, &'a str)>,
    /// The group being read: its versions so far, and the candidates in them.
    versions: Vec<String>,
    candidates: Vec<Candidate>,
}

/// A resource whose names match a wanted name, before its group is known.
struct Candidate {
    wanted: usize,
    version: usize,
    rank: u8,
    resource: Resource,
}

impl<'a> Sink<'a> {
    /// A sink for the names `wanted`, their best matches so far in `best`, the
    /// next group's place at `order`; `fixed`: a legacy resource list's group and
    /// version.
    pub fn new(
        wanted: &'a [ResourceName],
        best: &'a mut Best,
        order: &'a mut usize,
        fixed: Option<(&'a str, &'a str)>,
    ) -> Sink<'a> {
        Sink {
            wanted,
            best,
            order,
            fixed,
            versions: Vec::new(),
            candidates: Vec::new(),
        }
    }

    /// A resource of version `version` (its place) of the group being read.
    fn offer(&mut self, e: Entry, version: usize) {
        let aggregated = !e.resource.is_empty();
        let (plural, singular, kind, namespaced) = if aggregated {
            (
                e.resource,
                e.singular_resource,
                e.response_kind.kind,
                e.scope == "Namespaced",
            )
        } else {
            (e.name, e.singular_name, e.kind, e.namespaced)
        };
        if plural.is_empty() || plural.contains('/') {
            // A legacy list's subresource (`pods/log`).
            return;
        }
        let kind = kind.to_ascii_lowercase();
        let singular = if singular.is_empty() {
            kind.clone()
        } else {
            singular
        };
        for (i, n) in self.wanted.iter().enumerate() {
            let rank = if n.name == plural || n.name == singular {
                0
            } else if e.short_names.0.contains(&n.name) {
                1
            } else if n.name == kind {
                2
            } else {
                continue;
            };
            if self.candidates.len() >= MAX_CANDIDATES {
                return;
            }
            self.candidates.push(Candidate {
                wanted: i,
                version,
                rank,
                resource: Resource {
                    group: String::new(),
                    version: String::new(),
                    plural: plural.clone(),
                    singular: singular.clone(),
                    namespaced,
                    list: e.verbs.0.iter().any(|v| v == "list"),
                    watch: e.verbs.0.iter().any(|v| v == "watch"),
                },
            });
        }
    }

    /// The group being read is over: its name is `group`.
    fn end_group(&mut self, group: &str) {
        for c in std::mem::take(&mut self.candidates) {
            let n = &self.wanted[c.wanted];
            let version = self.versions.get(c.version).map_or("", String::as_str);
            if n.group.as_deref().is_some_and(|g| g != group)
                || n.version.as_deref().is_some_and(|v| v != version)
                || version.is_empty()
            {
                continue;
            }
            let key = (*self.order, c.version, c.rank);
            if self.best[c.wanted].as_ref().is_none_or(|(k, _)| key < *k) {
                self.best[c.wanted] = Some((
                    key,
                    Resource {
                        group: group.to_string(),
                        version: version.to_string(),
                        ..c.resource
                    },
                ));
            }
        }
        self.versions.clear();
        *self.order += 1;
    }
}

/// A resource of either style: aggregated (`resource`, `singularResource`,
/// `responseKind.kind`, `scope`) or legacy (`name`, `singularName`, `kind`,
/// `namespaced`).
#[derive(Deserialize, Default)]
#[serde(default, rename_all = "camelCase")]
struct Entry {
    resource: String,
    singular_resource: String,
    response_kind: ResponseKind,
    scope: String,
    name: String,
    singular_name: String,
    kind: String,
    namespaced: bool,
    short_names: Bounded<String, 64>,
    verbs: Bounded<String, 64>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct ResponseKind {
    kind: String,
}

/// A discovery document: `items` (aggregated: groups) or `resources` (legacy: one
/// group version's).
struct Doc<'a>(Sink<'a>);

impl<'de> DeserializeSeed<'de> for Doc<'_> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for Doc<'_> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a discovery document")
    }
    fn visit_map<A: MapAccess<'de>>(mut self, mut map: A) -> Result<(), A::Error> {
        let sink = &mut self.0;
        while let Some(key) = map.next_key::<std::borrow::Cow<'de, str>>()? {
            match (key.as_ref(), sink.fixed) {
                ("items", None) => map.next_value_seed(Groups(sink))?,
                ("resources", Some((_, version))) => {
                    sink.versions = vec![version.to_string()];
                    map.next_value_seed(Resources(sink, 0))?;
                }
                _ => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        if let Some((group, _)) = sink.fixed {
            sink.end_group(group);
        }
        Ok(())
    }
}

/// The groups of an aggregated document.
struct Groups<'s, 'a>(&'s mut Sink<'a>);

impl<'de> DeserializeSeed<'de> for Groups<'_, '_> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_seq(self)
    }
}

impl<'de> Visitor<'de> for Groups<'_, '_> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a list of API groups")
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        while seq.next_element_seed(Group(&mut *self.0))?.is_some() {}
        Ok(())
    }
}

/// One group of an aggregated document: `metadata.name` (none for the core
/// group) and `versions`, in either order.
struct Group<'s, 'a>(&'s mut Sink<'a>);

#[derive(Deserialize, Default)]
#[serde(default)]
struct GroupMeta {
    name: String,
}

impl<'de> DeserializeSeed<'de> for Group<'_, '_> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for Group<'_, '_> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("an API group")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let mut name = String::new();
        while let Some(key) = map.next_key::<std::borrow::Cow<'de, str>>()? {
            match key.as_ref() {
                "metadata" => name = map.next_value::<GroupMeta>()?.name,
                "versions" => map.next_value_seed(Versions(&mut *self.0))?,
                _ => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        self.0.end_group(&name);
        Ok(())
    }
}

/// The versions of an aggregated group, preferred first.
struct Versions<'s, 'a>(&'s mut Sink<'a>);

impl<'de> DeserializeSeed<'de> for Versions<'_, '_> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_seq(self)
    }
}

impl<'de> Visitor<'de> for Versions<'_, '_> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a list of versions")
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        loop {
            if self.0.versions.len() >= MAX_VERSIONS {
                while seq.next_element::<IgnoredAny>()?.is_some() {}
                return Ok(());
            }
            let slot = self.0.versions.len();
            self.0.versions.push(String::new());
            if seq
                .next_element_seed(Version(&mut *self.0, slot))?
                .is_none()
            {
                self.0.versions.pop();
                return Ok(());
            }
        }
    }
}

/// One version of an aggregated group: `version` and `resources`, in either order.
struct Version<'s, 'a>(&'s mut Sink<'a>, usize);

impl<'de> DeserializeSeed<'de> for Version<'_, '_> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for Version<'_, '_> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("an API version")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        while let Some(key) = map.next_key::<std::borrow::Cow<'de, str>>()? {
            match key.as_ref() {
                "version" => self.0.versions[self.1] = map.next_value()?,
                "resources" => map.next_value_seed(Resources(&mut *self.0, self.1))?,
                _ => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(())
    }
}

/// The resources of a version, each offered to the sink and dropped.
struct Resources<'s, 'a>(&'s mut Sink<'a>, usize);

impl<'de> DeserializeSeed<'de> for Resources<'_, '_> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Resources<'_, '_> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a list of resources")
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        while let Some(e) = seq.next_element::<Entry>()? {
            self.0.offer(e, self.1);
        }
        Ok(())
    }
    fn visit_unit<E>(self) -> Result<(), E> {
        Ok(())
    }
}

/// A legacy `APIGroupList`: the groups a name may be in, in order, with their
/// preferred version and their versions (at most [`MAX_GROUPS`]).
pub fn group_list(
    body: &[u8],
    wanted: &[ResourceName],
) -> Result<Vec<(String, String, Vec<String>)>, ProbeError> {
    #[derive(Deserialize, Default)]
    #[serde(default, rename_all = "camelCase")]
    struct Listed {
        name: String,
        versions: Bounded<GroupVersion, 64>,
        preferred_version: GroupVersion,
    }
    #[derive(Deserialize, Default)]
    #[serde(default)]
    struct GroupVersion {
        version: String,
    }
    struct List<'w>(&'w [ResourceName], Vec<(String, String, Vec<String>)>);
    impl<'de> Visitor<'de> for List<'_> {
        type Value = Vec<(String, String, Vec<String>)>;
        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            f.write_str("an APIGroupList")
        }
        fn visit_map<A: MapAccess<'de>>(mut self, mut map: A) -> Result<Self::Value, A::Error> {
            while let Some(key) = map.next_key::<std::borrow::Cow<'de, str>>()? {
                if key != "groups" {
                    map.next_value::<IgnoredAny>()?;
                    continue;
                }
                map.next_value_seed(Each(&mut self))?;
            }
            Ok(self.1)
        }
    }
    struct Each<'l, 'w>(&'l mut List<'w>);
    impl<'de> DeserializeSeed<'de> for Each<'_, '_> {
        type Value = ();
        fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
            d.deserialize_seq(self)
        }
    }
    impl<'de> Visitor<'de> for Each<'_, '_> {
        type Value = ();
        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            f.write_str("a list of groups")
        }
        fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
            while let Some(g) = seq.next_element::<Listed>()? {
                let wanted = self
                    .0
                     .0
                    .iter()
                    .any(|n| n.group.as_deref().is_none_or(|x| x == g.name));
                if wanted && !g.name.is_empty() && self.0 .1.len() < MAX_GROUPS {
                    let versions = g.versions.0.into_iter().map(|v| v.version).collect();
                    self.0
                         .1
                        .push((g.name, g.preferred_version.version, versions));
                }
            }
            Ok(())
        }
    }
    let mut de = serde_json::Deserializer::from_slice(body);
    let list = de
        .deserialize_map(List(wanted, Vec::new()))
        .and_then(|l| de.end().map(|()| l))
        .map_err(|e| {
            ProbeError::transient(format!(
                "the API server's group list is not one whenready can read: {e}"
            ))
        })?;
    Ok(list)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn name(s: &str) -> ResourceName {
        ResourceName::parse(s).unwrap()
    }

    /// The best match of each name in the documents, read in order.
    fn find(docs: &[(&str, Option<(&str, &str)>)], names: &[&str]) -> Vec<Option<Resource>> {
        let wanted: Vec<ResourceName> = names.iter().map(|n| name(n)).collect();
        let mut best: Best = vec![None; wanted.len()];
        let mut order = 0;
        for (doc, fixed) in docs {
            read(
                doc.as_bytes(),
                Sink::new(&wanted, &mut best, &mut order, *fixed),
            )
            .unwrap();
        }
        best.into_iter().map(|b| b.map(|(_, r)| r)).collect()
    }

    const CORE: &str = r#"{"kind":"APIGroupDiscoveryList","apiVersion":"apidiscovery.k8s.io/v2","metadata":{},"items":[
        {"metadata":{"creationTimestamp":null},"versions":[{"version":"v1","resources":[
          {"resource":"nodes","responseKind":{"group":"","version":"","kind":"Node"},"scope":"Cluster","singularResource":"node","verbs":["get","list","watch"],"shortNames":["no"]},
          {"resource":"persistentvolumeclaims","responseKind":{"kind":"PersistentVolumeClaim"},"scope":"Namespaced","singularResource":"persistentvolumeclaim","verbs":["get","list","watch"],"shortNames":["pvc"],
           "subresources":[{"subresource":"status","verbs":["get"]}]}],"freshness":"Current"}]}]}"#;

    const APIS: &str = r#"{"kind":"APIGroupDiscoveryList","apiVersion":"apidiscovery.k8s.io/v2","metadata":{},"items":[
        {"versions":[{"resources":[{"resource":"certificates","responseKind":{"kind":"Certificate"},"scope":"Namespaced","singularResource":"certificate","verbs":["list","watch"],"shortNames":["cert","certs"]}],"version":"v1"}],
         "metadata":{"name":"cert-manager.io"}},
        {"metadata":{"name":"networking.internal.knative.dev"},"versions":[{"version":"v1alpha1","resources":[
          {"resource":"certificates","responseKind":{"kind":"Certificate"},"scope":"Namespaced","singularResource":"certificate","verbs":["list"],"shortNames":["kcert"]}]}]},
        {"metadata":{"name":"stable.example.com"},"versions":[
          {"version":"v2","resources":[{"resource":"crontabs","responseKind":{"kind":"CronTab"},"scope":"Namespaced","singularResource":"crontab","verbs":["list","watch"]}]},
          {"version":"v1","resources":[{"resource":"crontabs","responseKind":{"kind":"CronTab"},"scope":"Namespaced","singularResource":"crontab","verbs":["list","watch"],"shortNames":["ct"]}]}]},
        {"metadata":{"name":"apiextensions.k8s.io"},"versions":[{"version":"v1","resources":[
          {"resource":"customresourcedefinitions","responseKind":{"kind":"CustomResourceDefinition"},"scope":"Cluster","singularResource":"customresourcedefinition","verbs":["list","watch"],"shortNames":["crd","crds"]}]}]}]}"#;

    #[test]
    fn aggregated_documents_resolve_every_form_of_a_name() {
        let docs = [(CORE, None), (APIS, None)];
        let found = find(
            &docs,
            &[
                "no",
                "Node",
                "pvc",
                "certificate",
                "certificates.networking.internal.knative.dev",
                "kcert",
                "crontabs",
                "crontabs.v1.stable.example.com",
                "crd",
                "CustomResourceDefinition",
                "widgets",
                "certificates.v2.cert-manager.io",
            ],
        );
        let r = |i: usize| found[i].clone().unwrap();
        assert_eq!(
            r(0),
            Resource {
                group: "".into(),
                version: "v1".into(),
                plural: "nodes".into(),
                singular: "node".into(),
                namespaced: false,
                list: true,
                watch: true
            }
        );
        assert_eq!(r(1), r(0));
        assert_eq!(
            r(2).collection("app"),
            "/api/v1/namespaces/app/persistentvolumeclaims"
        );
        // The first group that has it.
        assert_eq!(r(3).shown(), "certificates.cert-manager.io");
        assert_eq!(
            r(3).collection("app"),
            "/apis/cert-manager.io/v1/namespaces/app/certificates"
        );
        assert_eq!(r(4).group, "networking.internal.knative.dev");
        assert!(!r(4).watch);
        assert_eq!(r(5).group, "networking.internal.knative.dev");
        // The preferred (first) version, unless a version is named.
        assert_eq!(r(6).version, "v2");
        assert_eq!(r(7).version, "v1");
        assert_eq!(
            r(8).collection("app"),
            "/apis/apiextensions.k8s.io/v1/customresourcedefinitions"
        );
        assert_eq!(r(9), r(8));
        assert_eq!(found[10], None);
        assert_eq!(found[11], None);
    }

    #[test]
    fn legacy_lists_resolve_the_same() {
        let core = r#"{"kind":"APIResourceList","groupVersion":"v1","resources":[
            {"name":"pods","singularName":"pod","namespaced":true,"kind":"Pod","verbs":["get","list","watch"],"shortNames":["po"]},
            {"name":"pods/status","singularName":"","namespaced":true,"kind":"Pod","verbs":["get"]},
            {"name":"nodes","singularName":"","namespaced":false,"kind":"Node","verbs":["list","watch"],"shortNames":["no"]}]}"#;
        let certs = r#"{"kind":"APIResourceList","apiVersion":"v1","groupVersion":"cert-manager.io/v1","resources":[
            {"name":"certificates","singularName":"certificate","namespaced":true,"kind":"Certificate","verbs":["list","watch"],"shortNames":["cert"]}]}"#;
        let found = find(
            &[
                (core, Some(("", "v1"))),
                (certs, Some(("cert-manager.io", "v1"))),
            ],
            &[
                "node",
                "po",
                "status",
                "cert",
                "certificates.cert-manager.io",
            ],
        );
        assert!(!found[0].as_ref().unwrap().namespaced);
        assert_eq!(found[0].as_ref().unwrap().singular, "node");
        assert_eq!(found[1].as_ref().unwrap().plural, "pods");
        // A subresource is no resource.
        assert_eq!(found[2], None);
        assert_eq!(found[3].as_ref().unwrap().group, "cert-manager.io");
        assert_eq!(found[4], found[3]);
        let groups = group_list(
            br#"{"kind":"APIGroupList","apiVersion":"v1","groups":[
                {"name":"apps","versions":[{"groupVersion":"apps/v1","version":"v1"}],"preferredVersion":{"groupVersion":"apps/v1","version":"v1"}},
                {"name":"cert-manager.io","versions":[{"groupVersion":"cert-manager.io/v1","version":"v1"}],"preferredVersion":{"version":"v1"}}]}"#,
            &[name("certificates.cert-manager.io")],
        )
        .unwrap();
        assert_eq!(
            groups,
            [(
                "cert-manager.io".to_string(),
                "v1".to_string(),
                vec!["v1".to_string()]
            )]
        );
    }

    #[test]
    fn a_document_is_read_within_bounds() {
        // Thousands of resources, none wanted: nothing kept.
        let mut doc = String::from(
            r#"{"items":[{"metadata":{"name":"big.example.com"},"versions":[{"version":"v1","resources":["#,
        );
        for i in 0..20_000 {
            if i > 0 {
                doc.push(',');
            }
            doc.push_str(&format!(r#"{{"resource":"r{i}","responseKind":{{"kind":"R{i}"}},"scope":"Namespaced","verbs":["list"]}}"#));
        }
        doc.push_str("]}]}]}");
        assert_eq!(find(&[(&doc, None)], &["widgets"]), [None]);
        // Every one of them a candidate: at most MAX_CANDIDATES kept, the first wins.
        let same = doc.replace(r#""resource":"r"#, r#""shortNames":["w"],"resource":"r"#);
        let found = find(&[(&same, None)], &["w"]);
        assert_eq!(found[0].as_ref().unwrap().plural, "r0");
        // A list of more than 64 verbs is refused, not allocated.
        let verbs = vec!["\"x\""; 65].join(",");
        let bad = format!(
            r#"{{"items":[{{"versions":[{{"version":"v1","resources":[{{"resource":"a","verbs":[{verbs}]}}]}}]}}]}}"#
        );
        let wanted = [name("a")];
        let mut best: Best = vec![None];
        let mut order = 0;
        assert!(read(
            bad.as_bytes(),
            Sink::new(&wanted, &mut best, &mut order, None)
        )
        .is_err());
        assert!(read(b"[1,", Sink::new(&wanted, &mut best, &mut order, None)).is_err());
    }
}
