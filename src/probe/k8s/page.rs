//! A list page or a watch event, parsed from the API's JSON within bounds: each
//! object becomes what its target keeps of it ([`super::object`]), never a
//! `serde_json::Value` of the whole answer.
//!
//! What the API sends is read through a limit before it gets here (4 MiB an
//! answer or an event line, [`super::api`]); here, each object of a page or event
//! is borrowed as text from it and parsed for what its target keeps ([`item`]),
//! and added to the target's objects ([`Objects`]) as soon as it is read, within
//! their budget ([`MAX_KEPT`]). An object read for a target's own `condition=`
//! and `field=` may hold any JSON: the condition of that type is looked for
//! among any number of them, and every other field is read past.

use super::bounded::{truncate, Int, Lenient, Text, MAX_TEXT};
use super::object::{Condition, Kept, KeptCond, KeptExpect, Meta, Object, MAX_KEPT};
use super::what::{Rule, What};
use crate::probe::pointer;
use serde::de::{DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde::Deserialize;
use serde_json::value::RawValue;
use std::collections::BTreeMap;
use std::fmt;

/// Why a page or an event could not be taken.
#[derive(Debug, PartialEq, Eq)]
pub enum Bad {
    /// Not JSON, or not the JSON of a list or an event (the parser's words).
    Json(String),
    /// The objects would take more than [`MAX_KEPT`].
    OverBudget,
}

/// Objects by name, as readiness keeps them, and what they cost: never more than
/// [`MAX_KEPT`].
#[derive(Debug, Default)]
pub struct Objects {
    map: BTreeMap<String, Kept>,
    kept: usize,
}

impl Objects {
    /// Adds or replaces an object's [`Item`] (by name; one without a name is left
    /// out); refused when the objects would cost more than [`MAX_KEPT`].
    pub fn insert(&mut self, item: Item) -> Result<(), Bad> {
        let Some(name) = item.name.filter(|n| !n.is_empty()) else {
            return Ok(());
        };
        let cost = item.kept.cost(&name);
        let old = self.map.get(&name).map_or(0, |k| k.cost(&name));
        if self.kept - old + cost > MAX_KEPT {
            return Err(Bad::OverBudget);
        }
        self.kept = self.kept - old + cost;
        self.map.insert(name, item.kept);
        Ok(())
    }

    /// Forgets an object.
    pub fn remove(&mut self, name: &str) {
        if let Some(old) = self.map.remove(name) {
            self.kept -= old.cost(name);
        }
    }

    /// The objects, by name.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &Kept)> + Clone {
        self.map.iter().map(|(n, k)| (n.as_str(), k))
    }

    /// What they cost.
    pub fn kept(&self) -> usize {
        self.kept
    }
}

/// What a page of a list says besides its objects.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct PageMeta {
    /// `metadata.resourceVersion`.
    pub resource_version: String,
    /// `metadata.continue`, when more pages follow.
    pub next: Option<String>,
}

/// `metadata` of a list.
#[derive(Deserialize, Default)]
#[serde(default, rename_all = "camelCase")]
struct ListMeta {
    resource_version: Option<String>,
    #[serde(rename = "continue")]
    next: Option<String>,
}

/// Parses a list page for `what` into `into`, each object cut down and added as
/// soon as it is read (nothing of the page is kept but that).
pub fn page(bytes: &[u8], what: &What, into: &mut Objects) -> Result<PageMeta, Bad> {
    let over = std::cell::Cell::new(false);
    let seed = PageSeed {
        what,
        into,
        over: &over,
    };
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let parsed = seed.deserialize(&mut de).and_then(|p| de.end().map(|()| p));
    match parsed {
        Ok(p) => Ok(p),
        Err(_) if over.get() => Err(Bad::OverBudget),
        Err(e) => Err(Bad::Json(e.to_string())),
    }
}

struct PageSeed<'a> {
    what: &'a What,
    into: &'a mut Objects,
    over: &'a std::cell::Cell<bool>,
}

impl<'de> DeserializeSeed<'de> for PageSeed<'_> {
    type Value = PageMeta;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<PageMeta, D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for PageSeed<'_> {
    type Value = PageMeta;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a list")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<PageMeta, A::Error> {
        let mut page = PageMeta::default();
        while let Some(key) = map.next_key::<std::borrow::Cow<'de, str>>()? {
            match key.as_ref() {
                "metadata" => {
                    let meta: ListMeta = map.next_value()?;
                    page.resource_version = meta.resource_version.unwrap_or_default();
                    page.next = meta.next.filter(|c| !c.is_empty());
                }
                "items" => map.next_value_seed(Items {
                    what: self.what,
                    into: &mut *self.into,
                    over: self.over,
                })?,
                _ => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(page)
    }
}

/// `items`: each object parsed, cut down and added before the next is read.
struct Items<'a> {
    what: &'a What,
    into: &'a mut Objects,
    over: &'a std::cell::Cell<bool>,
}

impl<'de> DeserializeSeed<'de> for Items<'_> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Items<'_> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a list of objects")
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        while let Some(raw) = seq.next_element::<&'de RawValue>()? {
            let item = item(raw.get(), self.what).map_err(serde::de::Error::custom)?;
            if self.into.insert(item).is_err() {
                self.over.set(true);
                return Err(serde::de::Error::custom("over budget"));
            }
        }
        Ok(())
    }
    fn visit_unit<E>(self) -> Result<(), E> {
        Ok(())
    }
}

/// An object of a list or an event: its name and resourceVersion, and what its
/// target keeps of it.
#[derive(Debug)]
pub struct Item {
    /// `metadata.name`.
    pub name: Option<String>,
    /// `metadata.resourceVersion`.
    pub resource_version: Option<String>,
    /// What the target keeps.
    pub kept: Kept,
}

/// Parses one object (its JSON text) for what `what` keeps of it.
pub fn item(raw: &str, what: &What) -> Result<Item, serde_json::Error> {
    let expect = match &what.rule {
        Rule::Expect(e) => Some(e),
        Rule::Exists => None,
        _ => {
            let mut o: Object = serde_json::from_str(raw)?;
            return Ok(Item {
                name: o.metadata.name.take(),
                resource_version: o.metadata.resource_version.take(),
                kept: o.keep(what),
            });
        }
    };
    let want = expect
        .and_then(|e| e.condition.as_ref())
        .map(|c| c.kind.as_str());
    let mut de = serde_json::Deserializer::from_str(raw);
    let g = Generic { want }.deserialize(&mut de)?;
    de.end()?;
    let condition = g.condition.map(|c| {
        let observed = c.observed_generation.0.or(g.observed_generation);
        let stale = match (observed, g.meta.generation) {
            (Some(o), Some(gen)) if o < gen => Some((o, gen)),
            _ => None,
        };
        let why = Condition {
            kind: None,
            status: None,
            reason: c.reason.0,
            message: c.message.0,
        }
        .reason_message()
        .map(|mut w| {
            truncate(&mut w, MAX_TEXT);
            w.into_boxed_str()
        });
        KeptCond {
            status: c.status.0.unwrap_or_default().into_boxed_str(),
            why,
            stale,
        }
    });
    let mut fields = Vec::new();
    for (_, tokens) in expect.map_or(&[][..], |e| &e.fields[..]) {
        fields.push(pointer::lookup(raw, tokens)?);
    }
    Ok(Item {
        name: g.meta.name,
        resource_version: g.meta.resource_version,
        kept: Kept::Expect(KeptExpect {
            condition,
            fields: fields.into_boxed_slice(),
        }),
    })
}

/// Any object read for a target's own condition: its metadata, its status's
/// `observedGeneration`, and the first condition of the type wanted whose status
/// is a string (as `kubectl wait` takes it). Anything else is read past; the
/// fields of a custom resource may hold any JSON.
struct Generic<'w> {
    want: Option<&'w str>,
}

/// What [`Generic`] reads.
#[derive(Default)]
struct GenericObject {
    meta: Meta,
    observed_generation: Option<i64>,
    condition: Option<GenericCondition>,
}

/// A condition, each field taken only when it has the expected JSON type.
#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
struct GenericCondition {
    #[serde(rename = "type")]
    kind: Text,
    status: Text,
    reason: Text,
    message: Text,
    observed_generation: Int,
}

impl<'de> DeserializeSeed<'de> for Generic<'_> {
    type Value = GenericObject;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<GenericObject, D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for Generic<'_> {
    type Value = GenericObject;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("an object")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<GenericObject, A::Error> {
        let mut g = GenericObject::default();
        while let Some(key) = map.next_key::<std::borrow::Cow<'de, str>>()? {
            match key.as_ref() {
                "metadata" => g.meta = map.next_value()?,
                "status" => {
                    let (observed, condition) = map.next_value_seed(StatusSeed(self.want))?;
                    g.observed_generation = observed;
                    g.condition = condition;
                }
                _ => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(g)
    }
}

/// `status` of any object: `observedGeneration` and the condition wanted.
struct StatusSeed<'w>(Option<&'w str>);

impl<'de> DeserializeSeed<'de> for StatusSeed<'_> {
    type Value = (Option<i64>, Option<GenericCondition>);
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for StatusSeed<'_> {
    type Value = (Option<i64>, Option<GenericCondition>);
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a status")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let (mut observed, mut condition) = (None, None);
        while let Some(key) = map.next_key::<std::borrow::Cow<'de, str>>()? {
            match (key.as_ref(), self.0) {
                ("observedGeneration", _) => observed = map.next_value::<Int>()?.0,
                ("conditions", Some(want)) => condition = map.next_value_seed(Conditions(want))?,
                _ => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok((observed, condition))
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok((None, None))
    }
    fn visit_str<E>(self, _: &str) -> Result<Self::Value, E> {
        Ok((None, None))
    }
    fn visit_bool<E>(self, _: bool) -> Result<Self::Value, E> {
        Ok((None, None))
    }
    fn visit_i64<E>(self, _: i64) -> Result<Self::Value, E> {
        Ok((None, None))
    }
    fn visit_u64<E>(self, _: u64) -> Result<Self::Value, E> {
        Ok((None, None))
    }
    fn visit_f64<E>(self, _: f64) -> Result<Self::Value, E> {
        Ok((None, None))
    }
    fn visit_unit<E>(self) -> Result<Self::Value, E> {
        Ok((None, None))
    }
}

/// `status.conditions`: the first of type `.0` (without regard to case) whose
/// status is a string; kubectl stops at an entry that is not an object.
struct Conditions<'w>(&'w str);

impl<'de> DeserializeSeed<'de> for Conditions<'_> {
    type Value = Option<GenericCondition>;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Conditions<'_> {
    type Value = Option<GenericCondition>;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a list of conditions")
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        let want = self.0.to_lowercase();
        let mut found = None;
        let mut done = false;
        loop {
            if done {
                while seq.next_element::<IgnoredAny>()?.is_some() {}
                return Ok(found);
            }
            match seq.next_element::<Lenient<GenericCondition>>()? {
                None => return Ok(found),
                Some(Lenient(None)) => done = true,
                Some(Lenient(Some(c))) => {
                    let kind = c.kind.0.as_deref().map(str::to_lowercase);
                    if kind.as_deref() == Some(want.as_str()) && c.status.0.is_some() {
                        found = Some(c);
                        done = true;
                    }
                }
            }
        }
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
        Ok(None)
    }
    fn visit_str<E>(self, _: &str) -> Result<Self::Value, E> {
        Ok(None)
    }
    fn visit_bool<E>(self, _: bool) -> Result<Self::Value, E> {
        Ok(None)
    }
    fn visit_i64<E>(self, _: i64) -> Result<Self::Value, E> {
        Ok(None)
    }
    fn visit_u64<E>(self, _: u64) -> Result<Self::Value, E> {
        Ok(None)
    }
    fn visit_f64<E>(self, _: f64) -> Result<Self::Value, E> {
        Ok(None)
    }
    fn visit_unit<E>(self) -> Result<Self::Value, E> {
        Ok(None)
    }
}

/// A watch event: its type, and its object as what the target keeps of it (a
/// `Status`'s code and message for ERROR).
#[derive(Debug)]
pub struct Event {
    /// `ADDED`, `MODIFIED`, `DELETED`, `BOOKMARK`, `ERROR`.
    pub kind: String,
    /// The object (none for ERROR).
    pub item: Option<Item>,
    /// An ERROR's HTTP code (410 is Expired).
    pub code: Option<i64>,
    /// An ERROR's message.
    pub message: Option<String>,
}

/// Parses one watch event line for `what` (bounded as a page's objects are).
pub fn event(line: &[u8], what: &What) -> Result<Event, Bad> {
    #[derive(Deserialize)]
    struct Raw<'a> {
        #[serde(rename = "type", default)]
        kind: String,
        #[serde(borrow, default)]
        object: Option<&'a RawValue>,
    }
    #[derive(Deserialize, Default)]
    #[serde(default)]
    struct Status {
        code: Int,
        message: Text,
    }
    let bad = |e: serde_json::Error| Bad::Json(e.to_string());
    let raw: Raw = serde_json::from_slice(line).map_err(bad)?;
    let mut event = Event {
        kind: raw.kind,
        item: None,
        code: None,
        message: None,
    };
    let Some(object) = raw.object else {
        return Ok(event);
    };
    if event.kind == "ERROR" {
        let s: Status = serde_json::from_str(object.get()).map_err(bad)?;
        event.code = s.code.0;
        event.message = s.message.0;
    } else {
        event.item = Some(item(object.get(), what).map_err(bad)?);
    }
    Ok(event)
}

#[cfg(test)]
mod tests {
    use super::super::builtin::for_test;
    use super::super::object::Cond;
    use super::super::spec::{CondWant, Select};
    use super::super::what::Expect;
    use super::*;
    use crate::probe::pointer::{JsonExpectation, Leaf};

    fn pods() -> What {
        for_test(Rule::Pod, Select::Labels("app=web".into()), 1)
    }

    fn svc() -> What {
        for_test(
            Rule::Service { name: "web".into() },
            Select::Labels("kubernetes.io/service-name=web".into()),
            1,
        )
    }

    fn parse(json: &[u8], what: &What) -> Result<(PageMeta, Objects), Bad> {
        let mut into = Objects::default();
        page(json, what, &mut into).map(|m| (m, into))
    }

    #[test]
    fn a_page_keeps_only_what_readiness_reads() {
        let json = br#"{"kind":"PodList","apiVersion":"v1","metadata":{"resourceVersion":"42","continue":"abc","remainingItemCount":3},
            "items":[{"metadata":{"name":"web-0","labels":{"a":"b"},"managedFields":[{"x":1}]},"spec":{"containers":[{"name":"c"}]},
                      "status":{"phase":"Running","conditions":[{"type":"PodScheduled","status":"True"},
                                {"type":"Ready","status":"False","reason":"ContainersNotReady","message":"containers with unready status: [app]"}]}}]}"#;
        let (meta, objects) = parse(json, &pods()).unwrap();
        assert_eq!(meta.resource_version, "42");
        assert_eq!(meta.next.as_deref(), Some("abc"));
        let all: Vec<(&str, &Kept)> = objects.iter().collect();
        assert_eq!(all.len(), 1);
        let (name, kept) = all[0];
        assert_eq!(name, "web-0");
        match kept {
            Kept::Pod { phase, ready } => {
                assert_eq!(phase.as_deref(), Some("Running"));
                assert_eq!(
                    ready,
                    &Some(Cond {
                        is_true: false,
                        why: Some(
                            "ContainersNotReady: containers with unready status: [app]".into()
                        )
                    })
                );
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(objects.kept(), kept.cost(name));
        assert!(objects.kept() < 250, "{}", objects.kept());
        // The last page has an empty continue token.
        let (meta, objects) = parse(
            br#"{"metadata":{"resourceVersion":"7","continue":""},"items":[]}"#,
            &pods(),
        )
        .unwrap();
        assert_eq!((meta.next, objects.iter().count()), (None, 0));
    }

    #[test]
    fn what_a_peer_can_make_long_is_bounded() {
        // Many objects cost more than the budget: refused as they come.
        let mut json = String::from(r#"{"items":["#);
        for i in 0..200_000 {
            if i > 0 {
                json.push(',');
            }
            json.push_str(&format!(r#"{{"metadata":{{"name":"p{i}"}}}}"#));
        }
        json.push_str("]}");
        assert_eq!(
            parse(json.as_bytes(), &pods()).unwrap_err(),
            Bad::OverBudget
        );
        // The same name again and again is one object.
        let json = format!(
            r#"{{"items":[{}]}}"#,
            vec![r#"{"metadata":{"name":"p"}}"#; 100_000].join(",")
        );
        assert_eq!(parse(json.as_bytes(), &pods()).unwrap().1.iter().count(), 1);
        // 65 conditions, 1001 endpoints: errors, not allocations.
        let conds = vec![r#"{"type":"x"}"#; 65].join(",");
        let json = format!(r#"{{"items":[{{"status":{{"conditions":[{conds}]}}}}]}}"#);
        assert!(
            matches!(parse(json.as_bytes(), &pods()), Err(Bad::Json(e)) if e.contains("more than 64"))
        );
        let eps = vec!["{}"; 1001].join(",");
        let json = format!(r#"{{"items":[{{"endpoints":[{eps}]}}]}}"#);
        assert!(
            matches!(parse(json.as_bytes(), &svc()), Err(Bad::Json(e)) if e.contains("more than 1000"))
        );
        // Long texts are cut.
        let long = "x".repeat(100_000);
        let json = format!(
            r#"{{"items":[{{"metadata":{{"name":"p"}},"status":{{"conditions":[{{"type":"Ready","status":"False","message":"{long}"}}]}}}}]}}"#
        );
        let (_, objects) = parse(json.as_bytes(), &pods()).unwrap();
        let (_, kept) = objects.iter().next().unwrap();
        match kept {
            Kept::Pod {
                ready: Some(Cond { why: Some(w), .. }),
                ..
            } => assert_eq!(w.len(), MAX_TEXT),
            other => panic!("{other:?}"),
        }
        assert!(matches!(parse(b"[1,2", &pods()), Err(Bad::Json(_))));
        assert!(matches!(
            parse(br#"{"items":[]} x"#, &pods()),
            Err(Bad::Json(_))
        ));
    }

    #[test]
    fn endpoints_become_keys_of_ready_pods() {
        let json = br#"{"items":[{"metadata":{"name":"web-v6"},"addressType":"IPv6","endpoints":[
            {"addresses":["fd00::a","fd00::b"],"conditions":{"ready":true},"targetRef":{"kind":"Pod","uid":"u1"}},
            {"addresses":["fd00::c"],"conditions":{"ready":false},"targetRef":{"uid":"u2"}},
            {"addresses":["fd00::d"]}]}]}"#;
        let (_, objects) = parse(json, &svc()).unwrap();
        let (_, kept) = objects.iter().next().unwrap();
        match kept {
            Kept::Slice(keys) => assert_eq!(&keys[..], ["u1".into(), "fd00::d".into()]),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn events_and_the_status_of_an_error() {
        let e = event(
            br#"{"type":"ERROR","object":{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"too old resource version: 1 (2)","reason":"Expired","code":410}}"#,
            &pods(),
        )
        .unwrap();
        assert_eq!(e.kind, "ERROR");
        assert_eq!(e.code, Some(410));
        assert_eq!(
            e.message.as_deref(),
            Some("too old resource version: 1 (2)")
        );
        assert!(e.item.is_none());
        let e = event(
            br#"{"type":"BOOKMARK","object":{"kind":"Pod","metadata":{"resourceVersion":"12"}}}"#,
            &pods(),
        )
        .unwrap();
        assert_eq!(e.item.unwrap().resource_version.as_deref(), Some("12"));
        let e = event(
            br#"{"type":"DELETED","object":{"kind":"Widget","metadata":{"name":"w","resourceVersion":"13"},"status":{"phase":{"odd":true}}}}"#,
            &for_test(Rule::Exists, Select::Name("w".into()), 1),
        )
        .unwrap();
        assert_eq!(e.item.unwrap().name.as_deref(), Some("w"));
        assert!(matches!(event(b"{\"type\":", &pods()), Err(Bad::Json(_))));
    }

    #[test]
    fn a_custom_resource_keeps_its_condition_and_fields_only() {
        let what = for_test(
            Rule::Expect(Expect {
                condition: Some(CondWant {
                    kind: "Ready".into(),
                    status: "True".into(),
                }),
                fields: ["/status/phase:Bound", "/spec/missing"]
                    .iter()
                    .map(|f| {
                        let e = JsonExpectation::parse(f, "field", "field=/x").unwrap();
                        let t = e.tokens();
                        (e, t)
                    })
                    .collect(),
            }),
            Select::Labels("app=web".into()),
            1,
        );
        // Any JSON where a workload has typed fields: no error; a long message
        // is cut; every condition but the one wanted is read past.
        let long = "m".repeat(100_000);
        let others = vec![r#"{"type":"Other","status":"True"}"#; 1000].join(",");
        let json = format!(
            r#"{{"items":[{{"metadata":{{"name":"web","generation":3}},"spec":{{"replicas":"three","big":[{}]}},
                "status":{{"phase":"Bound","replicas":{{"x":1}},"conditions":[{others},{{"type":"Ready","status":"False","reason":"Issuing","message":"{long}","observedGeneration":2}}],"observedGeneration":3}}}}]}}"#,
            vec!["1"; 10_000].join(",")
        );
        let (_, objects) = parse(json.as_bytes(), &what).unwrap();
        let (name, kept) = objects.iter().next().unwrap();
        assert_eq!(name, "web");
        let Kept::Expect(k) = kept else {
            panic!("{kept:?}")
        };
        let c = k.condition.as_ref().unwrap();
        assert_eq!(&*c.status, "False");
        assert_eq!(c.stale, Some((2, 3)));
        assert!(c.why.as_ref().unwrap().len() <= MAX_TEXT);
        assert_eq!(
            &k.fields[..],
            [
                Some(Leaf::Str {
                    text: "Bound".into(),
                    cut: false
                }),
                None
            ]
        );
        assert!(objects.kept() < 1000, "{}", objects.kept());
    }
}
