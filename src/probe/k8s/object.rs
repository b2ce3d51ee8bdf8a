//! The parts of Kubernetes objects that readiness reads, parsed from the API's JSON
//! within bounds: a list page or a watch event becomes a few typed fields per
//! object, never a `serde_json::Value` of the whole answer.
//!
//! What the API sends is read through a limit before it gets here (4 MiB an
//! answer or an event line, [`super::api`]); here, each object of a page or event
//! is borrowed as text from it and parsed for what its target keeps ([`item`]):
//! a pod's phase and Ready condition, an EndpointSlice's ready endpoints as keys,
//! the fields a rollout or Job rule reads ([`Object::keep`]), or, for a target's
//! own `condition=` and `field=`, the one condition of that type and the value at
//! each pointer ([`KeptExpect`]). What is kept is counted ([`Kept::cost`])
//! against the target's budget ([`MAX_KEPT`]): about 150 bytes a ready pod.
//! Sequences a peer could make long are bounded while they are parsed: a rollout's
//! conditions (64), an EndpointSlice's endpoints (1000, the API's own maximum), an
//! endpoint's addresses (the first is kept); a target's own condition is looked
//! for among any number of them, and every text kept is capped.

use super::what::{Rule, What};
use crate::probe::pointer::{self, Leaf};
use serde::de::{DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde::Deserialize;
use serde_json::value::RawValue;
use std::collections::BTreeMap;
use std::fmt;

/// The most a target keeps of the objects it watches (what [`Object::keep`]
/// leaves of them), about 25,000 pods or 60,000 ready endpoints: a selector that
/// matches more is a transient failure that says so.
pub const MAX_KEPT: usize = 4 << 20;

/// The longest condition reason or message kept (a reason shown is capped at 512
/// bytes anyway).
const MAX_TEXT: usize = 512;

/// An object as the built-in rules see it: a Pod, Job, Deployment, StatefulSet,
/// DaemonSet or EndpointSlice (only the fields of its kind are there).
#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct Object {
    /// Name, resourceVersion, generation.
    pub metadata: Meta,
    /// What the object asks for.
    pub spec: Spec,
    /// What it has; absent for a `Status` (whose `status` is a string).
    pub status: Lenient<Status>,
    /// An EndpointSlice's endpoints.
    pub endpoints: Bounded<Endpoint, 1000>,
}

/// `metadata`.
#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct Meta {
    /// The object's name.
    pub name: Option<String>,
    /// Its resourceVersion.
    pub resource_version: Option<String>,
    /// Its generation.
    pub generation: Option<i64>,
}

/// `spec`.
#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct Spec {
    /// Replicas wanted (Deployment, StatefulSet).
    pub replicas: Option<i64>,
    /// The update strategy (StatefulSet, DaemonSet).
    pub update_strategy: Option<Strategy>,
}

/// `spec.updateStrategy`.
#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct Strategy {
    /// `RollingUpdate`, `OnDelete`.
    #[serde(rename = "type")]
    pub kind: Option<String>,
    /// Present (even empty) for a rolling update with settings.
    pub rolling_update: Option<RollingUpdate>,
}

/// `spec.updateStrategy.rollingUpdate`.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct RollingUpdate {
    /// A StatefulSet's partition.
    pub partition: Option<i64>,
}

/// `status`: the fields of every kind readiness reads.
#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct Status {
    /// A Pod's phase.
    pub phase: Option<String>,
    /// Conditions (Pod Ready, Job Complete/Failed, Deployment Progressing).
    pub conditions: Bounded<Condition, 64>,
    /// Job: active pods.
    pub active: Option<i64>,
    /// Job: succeeded pods.
    pub succeeded: Option<i64>,
    /// Job: failed pods.
    pub failed: Option<i64>,
    /// The generation the controller has seen.
    pub observed_generation: Option<i64>,
    /// Deployment: replicas.
    pub replicas: Option<i64>,
    /// Deployment, StatefulSet: updated replicas.
    pub updated_replicas: Option<i64>,
    /// Deployment: available replicas.
    pub available_replicas: Option<i64>,
    /// StatefulSet: ready replicas.
    pub ready_replicas: Option<i64>,
    /// StatefulSet: current revision.
    pub current_revision: Option<String>,
    /// StatefulSet: update revision.
    pub update_revision: Option<String>,
    /// DaemonSet: pods that should run.
    pub desired_number_scheduled: Option<i64>,
    /// DaemonSet: pods updated.
    pub updated_number_scheduled: Option<i64>,
    /// DaemonSet: pods available.
    pub number_available: Option<i64>,
}

/// One of `status.conditions`.
#[derive(Debug, Default, Deserialize, Clone)]
#[serde(default)]
pub struct Condition {
    /// `Ready`, `Complete`, ...
    #[serde(rename = "type")]
    pub kind: Option<String>,
    /// `True`, `False`, `Unknown`.
    pub status: Option<String>,
    /// A CamelCase reason.
    pub reason: Option<String>,
    /// A sentence.
    pub message: Option<String>,
}

/// One of an EndpointSlice's `endpoints`.
#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct Endpoint {
    /// The first of its addresses.
    pub addresses: First,
    /// `conditions.ready`: absent (null) means ready.
    pub conditions: EndpointConditions,
    /// The pod behind it.
    pub target_ref: Option<TargetRef>,
}

/// An endpoint's `conditions`.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct EndpointConditions {
    /// Ready, or not; `None`: ready (the API's rule for nil).
    pub ready: Option<bool>,
}

/// An endpoint's `targetRef`.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct TargetRef {
    /// The pod's uid.
    pub uid: Option<String>,
}

impl Object {
    /// The object's name (empty when it has none).
    pub fn name(&self) -> &str {
        self.metadata.name.as_deref().unwrap_or("")
    }

    /// `status`, or an empty one.
    pub fn status(&self) -> &Status {
        static EMPTY: Status = Status {
            phase: None,
            conditions: Bounded(Vec::new()),
            active: None,
            succeeded: None,
            failed: None,
            observed_generation: None,
            replicas: None,
            updated_replicas: None,
            available_replicas: None,
            ready_replicas: None,
            current_revision: None,
            update_revision: None,
            desired_number_scheduled: None,
            updated_number_scheduled: None,
            number_available: None,
        };
        self.status.0.as_ref().unwrap_or(&EMPTY)
    }

    /// The condition of type `kind`.
    pub fn condition(&self, kind: &str) -> Option<&Condition> {
        self.status()
            .conditions
            .0
            .iter()
            .find(|c| c.kind.as_deref() == Some(kind))
    }

    /// What `what` keeps of this object: a pod's phase and Ready condition, an
    /// EndpointSlice's ready endpoints (the uid of the pod behind each, else its
    /// first address), else the object with only the conditions its rules read
    /// (texts capped).
    pub fn keep(mut self, what: &What) -> Kept {
        match what.rule {
            Rule::Pod => Kept::Pod {
                phase: self
                    .status
                    .0
                    .as_mut()
                    .and_then(|s| s.phase.take())
                    .map(String::into_boxed_str),
                ready: self.condition("Ready").map(|c| Cond {
                    is_true: c.status.as_deref() == Some("True"),
                    why: c.reason_message().map(|mut w| {
                        truncate(&mut w, MAX_TEXT);
                        w.into_boxed_str()
                    }),
                }),
            },
            Rule::Service { .. } => Kept::Slice(
                std::mem::take(&mut self.endpoints.0)
                    .into_iter()
                    .filter(|e| e.conditions.ready != Some(false))
                    .filter_map(|e| e.target_ref.and_then(|t| t.uid).or(e.addresses.0))
                    .map(String::into_boxed_str)
                    .collect(),
            ),
            _ => {
                let wanted = what.conditions();
                if let Some(status) = self.status.0.as_mut() {
                    status.conditions.0.retain_mut(|c| {
                        for text in [&mut c.reason, &mut c.message].into_iter().flatten() {
                            truncate(text, MAX_TEXT);
                        }
                        c.kind.as_deref().is_some_and(|k| wanted.contains(&k))
                    });
                }
                self.endpoints = Bounded::default();
                self.metadata.resource_version = None;
                Kept::Whole(Box::new(self))
            }
        }
    }

    /// About what this object takes in memory (strings and the conditions kept
    /// included), in bytes.
    fn cost(&self) -> usize {
        let text = |s: &Option<String>| s.as_ref().map_or(0, String::len);
        let status = self.status.0.as_ref().map_or(0, |s| {
            text(&s.phase)
                + text(&s.current_revision)
                + text(&s.update_revision)
                + s.conditions
                    .0
                    .iter()
                    .map(|c| {
                        std::mem::size_of::<Condition>()
                            + text(&c.kind)
                            + text(&c.status)
                            + text(&c.reason)
                            + text(&c.message)
                    })
                    .sum::<usize>()
        });
        std::mem::size_of::<Object>() + self.name().len() + status
    }
}

impl Condition {
    /// `Reason: message`, or whichever of them is there.
    pub fn reason_message(&self) -> Option<String> {
        let reason = self.reason.as_deref().unwrap_or("");
        let message = self.message.as_deref().unwrap_or("");
        match (reason.is_empty(), message.is_empty()) {
            (false, false) => Some(format!("{reason}: {message}")),
            (false, true) => Some(reason.to_string()),
            (true, false) => Some(message.to_string()),
            (true, true) => None,
        }
    }
}

/// What a target keeps of an object ([`Object::keep`]).
#[derive(Debug)]
pub enum Kept {
    /// A pod: its phase and its Ready condition.
    Pod {
        /// `status.phase`.
        phase: Option<Box<str>>,
        /// The Ready condition.
        ready: Option<Cond>,
    },
    /// An EndpointSlice: the keys of its ready endpoints.
    Slice(Box<[Box<str>]>),
    /// One object a rollout or Job rule reads, cut down.
    Whole(Box<Object>),
    /// What a target's own condition and fields read (nothing for a target that
    /// waits for an object to exist).
    Expect(KeptExpect),
}

/// What `condition=` and `field=` read of an object.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct KeptExpect {
    /// The condition of the type wanted, if the object has one.
    pub condition: Option<KeptCond>,
    /// The value at each `field=` pointer (`None`: the pointer leads nowhere).
    pub fields: Box<[Option<Leaf>]>,
}

/// A condition as `condition=` keeps it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeptCond {
    /// Its status (capped).
    pub status: Box<str>,
    /// `Reason: message` (capped), if it gives either.
    pub why: Option<Box<str>>,
    /// `(observed, generation)` when it is for an older generation than the
    /// object's.
    pub stale: Option<(i64, i64)>,
}

/// A condition as a pod's is kept: whether it holds, and why not.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cond {
    /// Its status is `True`.
    pub is_true: bool,
    /// `Reason: message` (capped), if it gives either.
    pub why: Option<Box<str>>,
}

impl Kept {
    /// About what this takes in memory, in bytes, with its name as the key of the
    /// map of objects and that map's share of a node.
    pub fn cost(&self, name: &str) -> usize {
        let own = match self {
            Kept::Pod { phase, ready } => {
                phase.as_ref().map_or(0, |p| p.len())
                    + ready
                        .as_ref()
                        .and_then(|c| c.why.as_ref())
                        .map_or(0, |w| w.len())
            }
            Kept::Slice(keys) => keys
                .iter()
                .map(|k| std::mem::size_of::<Box<str>>() + k.len())
                .sum(),
            Kept::Whole(o) => o.cost(),
            Kept::Expect(e) => {
                e.condition.as_ref().map_or(0, |c| {
                    std::mem::size_of::<KeptCond>()
                        + c.status.len()
                        + c.why.as_ref().map_or(0, |w| w.len())
                }) + e
                    .fields
                    .iter()
                    .map(|f| std::mem::size_of::<Option<Leaf>>() + f.as_ref().map_or(0, Leaf::heap))
                    .sum::<usize>()
            }
        };
        std::mem::size_of::<Kept>() + std::mem::size_of::<String>() + name.len() + own + 48
    }
}

/// Cuts `s` to at most `max` bytes, at a character boundary.
fn truncate(s: &mut String, max: usize) {
    if s.len() > max {
        let mut end = max;
        while !s.is_char_boundary(end) {
            end -= 1;
        }
        s.truncate(end);
    }
}

/// A sequence of at most `N` elements: more is an error while parsing (a peer
/// cannot make whenready allocate for millions of `{}`).
#[derive(Debug)]
pub struct Bounded<T, const N: usize>(pub Vec<T>);

impl<T, const N: usize> Default for Bounded<T, N> {
    fn default() -> Self {
        Bounded(Vec::new())
    }
}

impl<'de, T: Deserialize<'de>, const N: usize> Deserialize<'de> for Bounded<T, N> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V<T, const N: usize>(std::marker::PhantomData<T>);
        impl<'de, T: Deserialize<'de>, const N: usize> Visitor<'de> for V<T, N> {
            type Value = Bounded<T, N>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                write!(f, "a list of at most {N} elements")
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
                let mut out = Vec::new();
                while let Some(x) = seq.next_element()? {
                    if out.len() == N {
                        return Err(serde::de::Error::custom(format!(
                            "a list of more than {N} elements"
                        )));
                    }
                    out.push(x);
                }
                Ok(Bounded(out))
            }
            fn visit_unit<E>(self) -> Result<Self::Value, E> {
                Ok(Bounded(Vec::new()))
            }
        }
        d.deserialize_any(V::<T, N>(std::marker::PhantomData))
    }
}

/// The first string of a list (the others are read past).
#[derive(Debug, Default)]
pub struct First(pub Option<String>);

impl<'de> Deserialize<'de> for First {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = First;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a list of strings")
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<First, A::Error> {
                let first = seq.next_element::<String>()?;
                while seq.next_element::<IgnoredAny>()?.is_some() {}
                Ok(First(first))
            }
            fn visit_unit<E>(self) -> Result<First, E> {
                Ok(First(None))
            }
        }
        d.deserialize_any(V)
    }
}

/// A map parsed as `T`, anything else (a `Status`'s `"status": "Failure"`, null)
/// as nothing.
#[derive(Debug)]
pub struct Lenient<T>(pub Option<T>);

impl<T> Default for Lenient<T> {
    fn default() -> Self {
        Lenient(None)
    }
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Lenient<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V<T>(std::marker::PhantomData<T>);
        impl<'de, T: Deserialize<'de>> Visitor<'de> for V<T> {
            type Value = Lenient<T>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("an object or anything else")
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
                T::deserialize(serde::de::value::MapAccessDeserializer::new(map))
                    .map(|t| Lenient(Some(t)))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
                while seq.next_element::<IgnoredAny>()?.is_some() {}
                Ok(Lenient(None))
            }
            fn visit_str<E>(self, _: &str) -> Result<Self::Value, E> {
                Ok(Lenient(None))
            }
            fn visit_bool<E>(self, _: bool) -> Result<Self::Value, E> {
                Ok(Lenient(None))
            }
            fn visit_i64<E>(self, _: i64) -> Result<Self::Value, E> {
                Ok(Lenient(None))
            }
            fn visit_u64<E>(self, _: u64) -> Result<Self::Value, E> {
                Ok(Lenient(None))
            }
            fn visit_f64<E>(self, _: f64) -> Result<Self::Value, E> {
                Ok(Lenient(None))
            }
            fn visit_unit<E>(self) -> Result<Self::Value, E> {
                Ok(Lenient(None))
            }
        }
        d.deserialize_any(V(std::marker::PhantomData))
    }
}

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

/// A string, capped at [`MAX_TEXT`] bytes; any other JSON is read past as none.
#[derive(Debug, Default)]
struct Text(Option<String>);

impl<'de> Deserialize<'de> for Text {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Text;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("any JSON")
            }
            fn visit_str<E>(self, s: &str) -> Result<Text, E> {
                // Only what is kept is copied.
                let mut end = s.len().min(MAX_TEXT);
                while !s.is_char_boundary(end) {
                    end -= 1;
                }
                Ok(Text(Some(s[..end].to_string())))
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Text, A::Error> {
                while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
                Ok(Text(None))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Text, A::Error> {
                while seq.next_element::<IgnoredAny>()?.is_some() {}
                Ok(Text(None))
            }
            fn visit_bool<E>(self, _: bool) -> Result<Text, E> {
                Ok(Text(None))
            }
            fn visit_i64<E>(self, _: i64) -> Result<Text, E> {
                Ok(Text(None))
            }
            fn visit_u64<E>(self, _: u64) -> Result<Text, E> {
                Ok(Text(None))
            }
            fn visit_f64<E>(self, _: f64) -> Result<Text, E> {
                Ok(Text(None))
            }
            fn visit_unit<E>(self) -> Result<Text, E> {
                Ok(Text(None))
            }
        }
        d.deserialize_any(V)
    }
}

/// A whole number; any other JSON is read past as none.
#[derive(Debug, Default)]
struct Int(Option<i64>);

impl<'de> Deserialize<'de> for Int {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Int;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("any JSON")
            }
            fn visit_i64<E>(self, n: i64) -> Result<Int, E> {
                Ok(Int(Some(n)))
            }
            fn visit_u64<E>(self, n: u64) -> Result<Int, E> {
                Ok(Int(i64::try_from(n).ok()))
            }
            fn visit_f64<E>(self, _: f64) -> Result<Int, E> {
                Ok(Int(None))
            }
            fn visit_str<E>(self, _: &str) -> Result<Int, E> {
                Ok(Int(None))
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Int, A::Error> {
                while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
                Ok(Int(None))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Int, A::Error> {
                while seq.next_element::<IgnoredAny>()?.is_some() {}
                Ok(Int(None))
            }
            fn visit_bool<E>(self, _: bool) -> Result<Int, E> {
                Ok(Int(None))
            }
            fn visit_unit<E>(self) -> Result<Int, E> {
                Ok(Int(None))
            }
        }
        d.deserialize_any(V)
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
    use super::super::ready::for_test;
    use super::super::spec::{CondWant, Select};
    use super::super::what::Expect;
    use super::*;
    use crate::probe::pointer::JsonExpectation;

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
