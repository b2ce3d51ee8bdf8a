//! A fake Kubernetes API server for the k8s kind's tests, faithful to the API
//! reference where whenready and kubectl look: HTTPS with a test CA, bearer tokens
//! and client certificates, 401 and 403 answered with `Status` objects worded as the
//! API server words them, namespaced and cluster-scoped lists with
//! `metadata.resourceVersion`, field and label selectors, API discovery in both
//! styles kubectl reads (the aggregated `APIGroupDiscoveryList` when asked for it,
//! else the group lists; [`FakeApi::legacy_discovery`] serves only those), custom
//! resources served once their CustomResourceDefinition is Established (and
//! deleted with it), and watches streamed in
//! chunks (ADDED / MODIFIED / DELETED, BOOKMARK, ERROR 410 Expired for a compacted
//! resourceVersion), lists in pages (`limit` and `continue`, with 410 Expired for a
//! continue token older than the history). Tests change objects with
//! [`FakeApi::put`], expire history with [`FakeApi::compact_and_drop_watches`], cut open watches with
//! [`FakeApi::drop_watches`], make pages smaller than asked with
//! [`FakeApi::page_size`], and read every request back with [`FakeApi::requests`].
//!
//! For the hostile-peer tests it can also misbehave ([`Mischief`]): answer every
//! list or discovery request with a body of any size, or stream a watch event line
//! that never ends.
//!
//! Served from plain threads with rustls (as the other fakes in tests/common), so a
//! test can stop a stream mid-chunk exactly where it wants.
#![allow(dead_code)]

use super::{Fake, TempDir};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use serde_json::{json, Value};
use std::collections::{BTreeMap, HashMap};
use std::io::{BufRead, BufReader, Write};
use std::net::TcpStream;
use std::path::PathBuf;
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

/// The user of the default token: a service account, as in a pod.
pub const USER: &str = "system:serviceaccount:app:web";
/// The default token.
pub const TOKEN: &str = "sa-token-4c1d2e9f";

/// A built-in resource: (group, version, plural, kind, short names, namespaced).
type Builtin = (
    &'static str,
    &'static str,
    &'static str,
    &'static str,
    &'static [&'static str],
    bool,
);

/// The built-in resources the fake serves, in the order discovery lists them.
const BUILTIN: &[Builtin] = &[
    ("", "v1", "pods", "Pod", &["po"], true),
    ("", "v1", "services", "Service", &["svc"], true),
    (
        "",
        "v1",
        "persistentvolumeclaims",
        "PersistentVolumeClaim",
        &["pvc"],
        true,
    ),
    ("", "v1", "serviceaccounts", "ServiceAccount", &["sa"], true),
    ("", "v1", "secrets", "Secret", &[], true),
    ("", "v1", "nodes", "Node", &["no"], false),
    ("", "v1", "namespaces", "Namespace", &["ns"], false),
    ("apps", "v1", "deployments", "Deployment", &["deploy"], true),
    ("apps", "v1", "statefulsets", "StatefulSet", &["sts"], true),
    ("apps", "v1", "daemonsets", "DaemonSet", &["ds"], true),
    ("batch", "v1", "jobs", "Job", &[], true),
    (
        "discovery.k8s.io",
        "v1",
        "endpointslices",
        "EndpointSlice",
        &[],
        true,
    ),
    (
        "rbac.authorization.k8s.io",
        "v1",
        "roles",
        "Role",
        &[],
        true,
    ),
    (
        "rbac.authorization.k8s.io",
        "v1",
        "rolebindings",
        "RoleBinding",
        &[],
        true,
    ),
    (
        "apiextensions.k8s.io",
        "v1",
        "customresourcedefinitions",
        "CustomResourceDefinition",
        &["crd", "crds"],
        false,
    ),
    (
        "apiregistration.k8s.io",
        "v1",
        "apiservices",
        "APIService",
        &[],
        false,
    ),
];

/// A resource the fake serves.
#[derive(Debug, Clone)]
struct Res {
    group: String,
    version: String,
    plural: String,
    singular: String,
    kind: String,
    short: Vec<String>,
    namespaced: bool,
}

impl Res {
    fn prefix(&self) -> String {
        if self.group.is_empty() {
            format!("/api/{}", self.version)
        } else {
            format!("/apis/{}/{}", self.group, self.version)
        }
    }
    fn api_version(&self) -> String {
        if self.group.is_empty() {
            self.version.clone()
        } else {
            format!("{}/{}", self.group, self.version)
        }
    }
}

/// What the fake serves now: the built-in resources, then the served versions
/// of every Established CustomResourceDefinition (by name).
fn served(w: &World) -> Vec<Res> {
    let mut all: Vec<Res> = BUILTIN
        .iter()
        .map(|(g, v, plural, kind, short, namespaced)| Res {
            group: g.to_string(),
            version: v.to_string(),
            plural: plural.to_string(),
            singular: kind.to_lowercase(),
            kind: kind.to_string(),
            short: short.iter().map(|s| s.to_string()).collect(),
            namespaced: *namespaced,
        })
        .collect();
    for ((res, _, _), crd) in &w.objects {
        if res != "customresourcedefinitions" {
            continue;
        }
        let established = crd["status"]["conditions"]
            .as_array()
            .into_iter()
            .flatten()
            .any(|c| c["type"] == "Established" && c["status"] == "True");
        if !established {
            continue;
        }
        let spec = &crd["spec"];
        let names = &spec["names"];
        for v in spec["versions"].as_array().into_iter().flatten() {
            if v["served"] != true {
                continue;
            }
            all.push(Res {
                group: spec["group"].as_str().unwrap_or("").to_string(),
                version: v["name"].as_str().unwrap_or("").to_string(),
                plural: names["plural"].as_str().unwrap_or("").to_string(),
                singular: names["singular"].as_str().unwrap_or("").to_string(),
                kind: names["kind"].as_str().unwrap_or("").to_string(),
                short: names["shortNames"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(|s| s.as_str().map(str::to_string))
                    .collect(),
                namespaced: spec["scope"] != "Cluster",
            });
        }
    }
    all
}

#[derive(Default)]
struct World {
    rv: u64,
    /// (resource, namespace, name) -> object.
    objects: BTreeMap<(String, String, String), Value>,
    /// (rv, resource, namespace, type, object).
    events: Vec<(u64, String, String, String, Value)>,
    /// Watches from an older resourceVersion get 410 Expired.
    oldest: u64,
    /// token -> user.
    tokens: HashMap<String, String>,
    /// (user, verb, resource) refused.
    denied: Vec<(String, String, String)>,
    /// user -> the only rules it may use, as Roles grant them.
    grants: HashMap<String, Vec<Grant>>,
    /// Every request: "VERB-ish path?query" and the token it carried.
    requests: Vec<(String, String)>,
    /// Open watches end when this changes.
    drops: u64,
    /// The most items a list page holds, whatever `limit` asks (the API allows
    /// fewer); 0: as `limit` asks.
    page_size: usize,
    /// 410 Expired answers sent (watches from a compacted resourceVersion and
    /// continue tokens older than the history).
    expired: usize,
    /// The next continue token is answered 410 Expired, as after a compaction.
    expire_next_continue: bool,
    /// Watches that got past their start (not refused, not expired): streaming.
    streaming: usize,
    /// Discovery only as group lists, never the aggregated document.
    legacy_discovery: bool,
    /// Every discovery request: its path and Accept header.
    accepts: Vec<(String, String)>,
    mischief: Mischief,
}

/// One verb on one resource, as a Role rule grants it; with `names`
/// (`resourceNames`), only those objects: a get of one of them, or a list or
/// watch whose field selector is `metadata.name=` one of them (as the API server
/// authorizes them).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Grant {
    /// `list`, `watch`, `get`.
    pub verb: String,
    /// The resource (plural).
    pub resource: String,
    /// `resourceNames`; empty: any.
    pub names: Vec<String>,
}

/// How the fake misbehaves, for the hostile-peer tests.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Mischief {
    /// It does not: an API server as the reference describes it.
    #[default]
    None,
    /// Every list is answered 200 with a JSON list of pods this many bytes long
    /// (chunked, no Content-Length), whatever `limit` asks.
    HugeLists(usize),
    /// Every watch is answered 200 with an event line that never ends (bytes
    /// stream until the client goes).
    EndlessWatchLine,
    /// A request with a token the server does not know is answered 401 with a
    /// `Status` whose message repeats that token (a server that echoes what it got).
    EchoUnknownToken,
    /// Every discovery request is answered 200 with an aggregated discovery
    /// document this many bytes long (chunked, no Content-Length), full of
    /// resources no target names.
    HugeDiscovery(usize),
    /// Every request is read, recorded and never answered: the connection is held
    /// until the client goes (an API server that hangs, its etcd down, say).
    Silent,
}

/// The fake API server; stops on drop.
pub struct FakeApi {
    /// Where it listens.
    pub fake: Fake,
    /// The CA, client certificate and key files.
    pub dir: TempDir,
    /// The CA certificate (PEM).
    pub ca: PathBuf,
    /// A client certificate (PEM) the server accepts, for user `kubernetes-admin`.
    pub client_cert: PathBuf,
    /// Its key (PEM).
    pub client_key: PathBuf,
    world: Arc<(Mutex<World>, Condvar)>,
}

impl FakeApi {
    /// Starts the server on 127.0.0.1; [`TOKEN`] is valid for [`USER`].
    pub fn start() -> FakeApi {
        use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, KeyPair, SanType};
        let dir = TempDir::new("k8s-api");
        let ca_key = KeyPair::generate().unwrap();
        let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
        ca_params
            .distinguished_name
            .push(DnType::CommonName, "kubernetes");
        ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        let ca = ca_params.self_signed(&ca_key).unwrap();
        let issuer = rcgen::Issuer::new(ca_params, ca_key);
        let mut server = CertificateParams::new(vec!["localhost".to_string()]).unwrap();
        server
            .subject_alt_names
            .push(SanType::IpAddress("127.0.0.1".parse().unwrap()));
        server
            .distinguished_name
            .push(DnType::CommonName, "kube-apiserver");
        let server_key = KeyPair::generate().unwrap();
        let server_cert = server.signed_by(&server_key, &issuer).unwrap();
        let mut client = CertificateParams::new(Vec::<String>::new()).unwrap();
        client
            .distinguished_name
            .push(DnType::CommonName, "kubernetes-admin");
        let client_key = KeyPair::generate().unwrap();
        let client_cert = client.signed_by(&client_key, &issuer).unwrap();
        let write = |name: &str, data: &str| {
            let p = dir.join(name);
            std::fs::write(&p, data).unwrap();
            p
        };
        let ca_path = write("ca.crt", &ca.pem());
        let client_cert_path = write("client.crt", &client_cert.pem());
        let client_key_path = write("client.key", &client_key.serialize_pem());

        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let mut roots = rustls::RootCertStore::empty();
        roots.add(ca.der().clone()).unwrap();
        let verifier = rustls::server::WebPkiClientVerifier::builder_with_provider(
            Arc::new(roots),
            provider.clone(),
        )
        .allow_unauthenticated()
        .build()
        .unwrap();
        let config = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_client_cert_verifier(verifier)
            .with_single_cert(
                vec![CertificateDer::from(server_cert.der().to_vec())],
                PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(server_key.serialize_der())),
            )
            .unwrap();
        let config = Arc::new(config);
        // resourceVersions are etcd revisions: never 0 on a real server.
        let world = Arc::new((
            Mutex::new(World {
                rv: 100,
                ..World::default()
            }),
            Condvar::new(),
        ));
        world
            .0
            .lock()
            .unwrap()
            .tokens
            .insert(TOKEN.into(), USER.into());
        let w = world.clone();
        let fake = Fake::start(move |stream, _| {
            let conn = rustls::ServerConnection::new(config.clone()).unwrap();
            let tls = rustls::StreamOwned::new(conn, stream);
            serve(tls, &w);
        });
        FakeApi {
            fake,
            dir,
            ca: ca_path,
            client_cert: client_cert_path,
            client_key: client_key_path,
            world,
        }
    }

    /// `https://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("https://127.0.0.1:{}", self.fake.port)
    }

    fn with<R>(&self, f: impl FnOnce(&mut World) -> R) -> R {
        let r = f(&mut self.world.0.lock().unwrap());
        self.world.1.notify_all();
        r
    }

    /// Creates or replaces an object of `resource` (its namespace and name are in
    /// its metadata), as the API would: a new resourceVersion, an event.
    pub fn put(&self, resource: &str, mut object: Value) {
        self.with(|w| {
            w.rv += 1;
            // Cluster-scoped objects (nodes, CRDs) have no namespace.
            let ns = object["metadata"]["namespace"]
                .as_str()
                .unwrap_or("")
                .to_string();
            let name = object["metadata"]["name"].as_str().unwrap().to_string();
            object["metadata"]["resourceVersion"] = json!(w.rv.to_string());
            object["metadata"]["uid"] = json!(format!("uid-{resource}-{name}"));
            object["metadata"]["creationTimestamp"] = json!("2026-12-03T12:00:00Z");
            let key = (resource.to_string(), ns.clone(), name);
            let kind = if w.objects.contains_key(&key) {
                "MODIFIED"
            } else {
                "ADDED"
            };
            w.objects.insert(key, object.clone());
            w.events
                .push((w.rv, resource.into(), ns, kind.into(), object));
        });
    }

    /// Deletes an object, as the API would (`ns` empty for a cluster-scoped one).
    /// Deleting a CustomResourceDefinition deletes its objects first.
    pub fn delete(&self, resource: &str, ns: &str, name: &str) {
        self.with(|w| {
            let key = (resource.to_string(), ns.to_string(), name.to_string());
            if resource == "customresourcedefinitions" {
                if let Some(plural) = w
                    .objects
                    .get(&key)
                    .and_then(|crd| crd["spec"]["names"]["plural"].as_str())
                    .map(str::to_string)
                {
                    let owned: Vec<_> = w
                        .objects
                        .keys()
                        .filter(|(r, _, _)| *r == plural)
                        .cloned()
                        .collect();
                    for k in owned {
                        delete_one(w, &k);
                    }
                }
            }
            delete_one(w, &key);
        });
    }

    /// From now on, discovery only as group lists (a server before Kubernetes
    /// 1.26, or one without the aggregated document).
    pub fn legacy_discovery(&self) {
        self.with(|w| w.legacy_discovery = true);
    }

    /// Forgets the history and cuts every open watch, at once: the next watch from
    /// any resourceVersion seen so far gets 410 Expired, and a list starts the
    /// history again (a compaction is a revision of its own here, so that the
    /// list's resourceVersion can be watched).
    pub fn compact_and_drop_watches(&self) {
        self.with(|w| {
            w.rv += 1;
            w.oldest = w.rv;
            w.drops += 1;
        });
    }

    /// Ends every open watch abruptly (the connection closes mid-stream).
    pub fn drop_watches(&self) {
        self.with(|w| w.drops += 1);
    }

    /// Pages hold at most `n` items from now on, whatever `limit` asks (the API
    /// reference allows fewer items than the limit with a continue token).
    pub fn page_size(&self, n: usize) {
        self.with(|w| w.page_size = n);
    }

    /// The next continue token that comes is answered 410 Expired, as if the
    /// history had been compacted while the client read the list.
    pub fn expire_next_continue(&self) {
        self.with(|w| w.expire_next_continue = true);
    }

    /// Misbehaves from now on (see [`Mischief`]).
    pub fn misbehave(&self, m: Mischief) {
        self.with(|w| w.mischief = m);
    }

    /// How many 410 Expired answers were sent so far.
    pub fn expired(&self) -> usize {
        self.with(|w| w.expired)
    }

    /// Refuses `verb` on `resource` to `user`.
    pub fn deny(&self, user: &str, verb: &str, resource: &str) {
        self.with(|w| w.denied.push((user.into(), verb.into(), resource.into())));
    }

    /// Lets `user` use only these rules, as Roles would.
    pub fn grant_only(&self, user: &str, rules: Vec<Grant>) {
        self.with(|w| {
            w.grants.insert(user.into(), rules);
        });
    }

    /// Accepts another token, for `user`.
    pub fn add_token(&self, token: &str, user: &str) {
        self.with(|w| {
            w.tokens.insert(token.into(), user.into());
        });
    }

    /// Every discovery request so far: its path and Accept header.
    pub fn discovery_accepts(&self) -> Vec<(String, String)> {
        self.with(|w| w.accepts.clone())
    }

    /// Every request so far, as `list|watch|get|discover PATH?QUERY`, with its token.
    pub fn requests(&self) -> Vec<(String, String)> {
        self.with(|w| w.requests.clone())
    }

    /// Waits until `pred` holds for the requests (at most 20 s; the test fails
    /// then).
    pub fn wait_for_requests(&self, what: &str, pred: impl Fn(&[(String, String)]) -> bool) {
        let start = Instant::now();
        let (lock, cv) = &*self.world;
        let mut w = lock.lock().unwrap();
        while !pred(&w.requests) {
            if start.elapsed() > Duration::from_secs(20) {
                let seen = w.requests.clone();
                drop(w);
                panic!("waited 20 s for {what}; requests: {seen:?}");
            }
            w = cv.wait_timeout(w, Duration::from_millis(50)).unwrap().0;
        }
    }

    /// Waits until `n` watches have started streaming (past the checks a watch
    /// meets at its start: a compaction after this cuts them, and does not expire
    /// them); at most 20 s, the test fails then.
    pub fn wait_for_streaming_watches(&self, n: usize) {
        let start = Instant::now();
        let (lock, cv) = &*self.world;
        let mut w = lock.lock().unwrap();
        while w.streaming < n {
            assert!(
                start.elapsed() < Duration::from_secs(20),
                "waited 20 s for {n} streaming watches; requests: {:?}",
                w.requests
            );
            w = cv.wait_timeout(w, Duration::from_millis(50)).unwrap().0;
        }
    }

    /// A kubeconfig in the fake's directory: context `test` with namespace `app`,
    /// user `extra` (YAML lines under `user:`), CA by file.
    pub fn kubeconfig(&self, user: &str) -> PathBuf {
        let text = format!(
            "apiVersion: v1\nkind: Config\ncurrent-context: test\nclusters:\n- name: fake\n  cluster:\n    server: {}\n    certificate-authority: ca.crt\ncontexts:\n- name: test\n  context:\n    cluster: fake\n    user: tester\n    namespace: app\nusers:\n- name: tester\n  user:\n{user}\n",
            self.url()
        );
        let p = self.dir.join("kubeconfig");
        std::fs::write(&p, text).unwrap();
        p
    }
}

/// Removes one object, with its DELETED event.
fn delete_one(w: &mut World, key: &(String, String, String)) {
    if let Some(mut o) = w.objects.remove(key) {
        w.rv += 1;
        o["metadata"]["resourceVersion"] = json!(w.rv.to_string());
        w.events
            .push((w.rv, key.0.clone(), key.1.clone(), "DELETED".into(), o));
    }
}

/// One request's head.
struct Request {
    path: String,
    query: Vec<(String, String)>,
    raw_query: String,
    token: Option<String>,
    accept: String,
}

fn read_head(r: &mut impl BufRead) -> Option<Request> {
    let mut line = String::new();
    if r.read_line(&mut line).ok()? == 0 {
        return None;
    }
    let target = line.split_whitespace().nth(1)?.to_string();
    let mut token = None;
    let mut accept = String::new();
    loop {
        let mut h = String::new();
        if r.read_line(&mut h).ok()? == 0 {
            return None;
        }
        let h = h.trim_end();
        if h.is_empty() {
            break;
        }
        if let Some((k, v)) = h.split_once(':') {
            if k.eq_ignore_ascii_case("authorization") {
                token = v.trim().strip_prefix("Bearer ").map(str::to_string);
            }
            if k.eq_ignore_ascii_case("accept") {
                accept = v.trim().to_string();
            }
        }
    }
    let (path, raw_query) = target.split_once('?').unwrap_or((&target, ""));
    let query = raw_query
        .split('&')
        .filter(|s| !s.is_empty())
        .map(|kv| {
            let (k, v) = kv.split_once('=').unwrap_or((kv, ""));
            let dec = |s: &str| {
                percent_encoding::percent_decode_str(&s.replace('+', " "))
                    .decode_utf8_lossy()
                    .into_owned()
            };
            (dec(k), dec(v))
        })
        .collect();
    Some(Request {
        path: path.to_string(),
        query,
        raw_query: raw_query.to_string(),
        token,
        accept,
    })
}

type Tls = rustls::StreamOwned<rustls::ServerConnection, TcpStream>;

fn respond(w: &mut impl Write, status: u16, body: &Value) {
    respond_typed(w, status, body, "application/json");
}

fn respond_typed(w: &mut impl Write, status: u16, body: &Value, content_type: &str) {
    let text = body.to_string();
    let reason = match status {
        200 => "OK",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        410 => "Gone",
        _ => "Error",
    };
    let _ = write!(
        w,
        "HTTP/1.1 {status} {reason}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\nCache-Control: no-cache, private\r\n\r\n{text}",
        text.len()
    );
    let _ = w.flush();
}

fn status(code: u16, reason: &str, message: &str, details: Value) -> Value {
    let mut s = json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
        "message": message, "reason": reason, "code": code});
    if !details.is_null() {
        s["details"] = details;
    }
    s
}

/// Serves requests on one connection until it closes or a watch ends.
fn serve(tls: Tls, world: &Arc<(Mutex<World>, Condvar)>) {
    let mut reader = BufReader::new(tls);
    while let Some(req) = read_head(&mut reader) {
        let client_cert = reader
            .get_ref()
            .conn
            .peer_certificates()
            .is_some_and(|c| !c.is_empty());
        if !handle(&mut reader, req, client_cert, world) {
            break;
        }
    }
}

/// One request; false when the connection must close.
fn handle(
    r: &mut BufReader<Tls>,
    req: Request,
    client_cert: bool,
    world: &Arc<(Mutex<World>, Condvar)>,
) -> bool {
    let watching = req
        .query
        .iter()
        .any(|(k, v)| k == "watch" && (v == "1" || v == "true"));
    let param = |k: &str| {
        req.query
            .iter()
            .find(|(key, _)| key == k)
            .map(|(_, v)| v.clone())
    };
    let parts: Vec<&str> = req.path.trim_matches('/').split('/').collect();
    // The API prefix, namespace (none: the cluster scope), resource and name the
    // path is about; anything else is discovery (or /version).
    let about = match parts.as_slice() {
        ["api", v, "namespaces", ns, res] => Some((format!("/api/{v}"), Some(*ns), *res, None)),
        ["api", v, "namespaces", ns, res, name] => {
            Some((format!("/api/{v}"), Some(*ns), *res, Some(*name)))
        }
        ["apis", g, v, "namespaces", ns, res] => {
            Some((format!("/apis/{g}/{v}"), Some(*ns), *res, None))
        }
        ["apis", g, v, "namespaces", ns, res, name] => {
            Some((format!("/apis/{g}/{v}"), Some(*ns), *res, Some(*name)))
        }
        ["api", v, res] => Some((format!("/api/{v}"), None, *res, None)),
        ["api", v, res, name] => Some((format!("/api/{v}"), None, *res, Some(*name))),
        ["apis", g, v, res] => Some((format!("/apis/{g}/{v}"), None, *res, None)),
        ["apis", g, v, res, name] => Some((format!("/apis/{g}/{v}"), None, *res, Some(*name))),
        _ => None,
    };
    let verb = match &about {
        None => "discover",
        Some(_) if watching => "watch",
        Some((_, _, _, Some(_))) => "get",
        Some(_) => "list",
    };
    // The generation of drop_watches() when the request came: a drop after a test
    // saw the request must reach this watch.
    let (user, drops) = {
        let mut w = world.0.lock().unwrap();
        let shown = if req.raw_query.is_empty() {
            format!("{verb} {}", req.path)
        } else {
            format!("{verb} {}?{}", req.path, req.raw_query)
        };
        w.requests
            .push((shown, req.token.clone().unwrap_or_default()));
        world.1.notify_all();
        let user = match &req.token {
            Some(t) => w.tokens.get(t).cloned(),
            None if client_cert => Some("kubernetes-admin".into()),
            None => None,
        };
        (user, w.drops)
    };
    if world.0.lock().unwrap().mischief == Mischief::Silent {
        let _ = std::io::copy(r, &mut std::io::sink());
        return false;
    }
    let Some(user) = user else {
        let echo = world.0.lock().unwrap().mischief == Mischief::EchoUnknownToken;
        let message = match (&req.token, echo) {
            (Some(t), true) => format!("Unauthorized: unknown token {t}"),
            _ => "Unauthorized".to_string(),
        };
        respond(
            r.get_mut(),
            401,
            &status(401, "Unauthorized", &message, Value::Null),
        );
        return true;
    };
    let Some((prefix, ns, resource, name)) = about else {
        world
            .0
            .lock()
            .unwrap()
            .accepts
            .push((req.path.clone(), req.accept.clone()));
        return discovery(r.get_mut(), &req.path, &req.accept, world);
    };
    let served = served(&world.0.lock().unwrap());
    let res = served
        .iter()
        .find(|x| x.prefix() == prefix && x.plural == resource)
        // A cluster-scoped resource has no namespaced path.
        .filter(|x| x.namespaced || ns.is_none())
        .cloned();
    let Some(res) = res else {
        respond(
            r.get_mut(),
            404,
            &status(
                404,
                "NotFound",
                "the server could not find the requested resource",
                Value::Null,
            ),
        );
        return true;
    };
    let kind = res.kind.clone();
    let group = res.group.clone();
    let group = group.as_str();
    // The one object a request is about: its name, or its list's or watch's
    // field selector metadata.name=NAME (what resourceNames can grant).
    let named = name.map(str::to_string).or_else(|| {
        param("fieldSelector")
            .as_deref()
            .and_then(|f| f.strip_prefix("metadata.name="))
            .filter(|n| !n.contains(','))
            .map(str::to_string)
    });
    let denied = {
        let w = world.0.lock().unwrap();
        w.denied
            .iter()
            .any(|(u, v, r)| *u == user && v == verb && r == resource)
            || w.grants.get(&user).is_some_and(|rules| {
                !rules.iter().any(|g| {
                    g.verb == verb
                        && g.resource == resource
                        && (g.names.is_empty()
                            || named.as_ref().is_some_and(|n| g.names.contains(n)))
                })
            })
    };
    if denied {
        // As the API server words it: `pods "x" is forbidden` for one object,
        // `deployments.apps is forbidden` for a collection.
        let qualified = if group.is_empty() {
            resource.to_string()
        } else {
            format!("{resource}.{group}")
        };
        let subject = match name {
            Some(n) => format!("{qualified} {n:?}"),
            None => qualified,
        };
        let scope = match ns {
            Some(ns) => format!("in the namespace {ns:?}"),
            None => "at the cluster scope".to_string(),
        };
        let message = format!(
            "{subject} is forbidden: User {user:?} cannot {verb} resource {resource:?} in API group {group:?} {scope}"
        );
        let mut details = json!({"kind": resource});
        if !group.is_empty() {
            details["group"] = json!(group);
        }
        if let Some(n) = name {
            details["name"] = json!(n);
        }
        respond(
            r.get_mut(),
            403,
            &status(403, "Forbidden", &message, details),
        );
        return true;
    }
    // Objects of this namespace (cluster-scoped ones have none; a namespaced
    // resource at the cluster scope lists every namespace).
    let in_ns = move |n: &str| ns.is_none_or(|ns| n == ns);
    let field = param("fieldSelector");
    let labels = param("labelSelector");
    let matches = move |o: &Value| -> bool {
        if let Some(f) = &field {
            for term in f.split(',') {
                let (k, v) = term.split_once('=').unwrap_or((term, ""));
                let at = match k {
                    "metadata.name" => o["metadata"]["name"].as_str(),
                    "metadata.namespace" => o["metadata"]["namespace"].as_str(),
                    _ => None,
                };
                if at != Some(v) {
                    return false;
                }
            }
        }
        if let Some(l) = &labels {
            for term in l.split(',').filter(|t| !t.is_empty()) {
                let (k, v) = term.split_once('=').unwrap_or((term, ""));
                if o["metadata"]["labels"][k].as_str() != Some(v) {
                    return false;
                }
            }
        }
        true
    };
    let api_version = res.api_version();
    if let Some(name) = name {
        let w = world.0.lock().unwrap();
        match w
            .objects
            .get(&(resource.into(), ns.unwrap_or("").into(), name.into()))
        {
            Some(o) => {
                let mut o = o.clone();
                o["kind"] = json!(kind);
                o["apiVersion"] = json!(api_version);
                drop(w);
                respond(r.get_mut(), 200, &o);
            }
            None => {
                drop(w);
                let qualified = if group.is_empty() {
                    resource.to_string()
                } else {
                    format!("{resource}.{group}")
                };
                let message = format!("{qualified} {name:?} not found");
                respond(
                    r.get_mut(),
                    404,
                    &status(
                        404,
                        "NotFound",
                        &message,
                        json!({"name": name, "kind": resource}),
                    ),
                );
            }
        }
        return true;
    }
    let mischief = world.0.lock().unwrap().mischief;
    if !watching {
        if let Mischief::HugeLists(size) = mischief {
            return huge_list(r.get_mut(), size);
        }
        let mut w = world.0.lock().unwrap();
        // Pages: `continue` is `c-RV-OFFSET`, the resourceVersion of the list's
        // first page (every page of a list is one snapshot) and where the page
        // starts; a token older than the history is 410 Expired, as the API answers.
        let (snapshot, offset) = match param("continue").filter(|c| !c.is_empty()) {
            None => (w.rv, 0),
            Some(token) => {
                let parsed = token.strip_prefix("c-").and_then(|t| {
                    let (rv, off) = t.split_once('-')?;
                    Some((rv.parse::<u64>().ok()?, off.parse::<usize>().ok()?))
                });
                let Some((rv, off)) = parsed else {
                    drop(w);
                    let message = "continue key is not valid: illegal base64 data at input byte 0";
                    respond(
                        r.get_mut(),
                        400,
                        &status(400, "BadRequest", message, Value::Null),
                    );
                    return true;
                };
                if rv < w.oldest || std::mem::take(&mut w.expire_next_continue) {
                    w.expired += 1;
                    drop(w);
                    respond(
                        r.get_mut(),
                        410,
                        &status(410, "Expired", "The provided continue parameter is too old to display a consistent list result. You can start a new list without the continue parameter, or use the continue token in this response to retrieve the remainder of the results. Continuing with the provided token results in an inconsistent list - objects that were created, modified, or deleted between the time the first chunk was returned and now may show up in the list.", Value::Null),
                    );
                    return true;
                }
                (rv, off)
            }
        };
        let all: Vec<&Value> = w
            .objects
            .iter()
            .filter(|((res, n, _), o)| res == resource && in_ns(n) && matches(o))
            .map(|(_, o)| o)
            .collect();
        let mut size = param("limit")
            .and_then(|l| l.parse::<usize>().ok())
            .filter(|l| *l > 0)
            .unwrap_or(usize::MAX);
        if w.page_size > 0 {
            size = size.min(w.page_size);
        }
        let end = offset.saturating_add(size).min(all.len());
        let items: Vec<Value> = all
            .get(offset..end)
            .unwrap_or_default()
            .iter()
            .map(|o| (*o).clone())
            .collect();
        let mut metadata = json!({"resourceVersion": snapshot.to_string()});
        if end < all.len() {
            metadata["continue"] = json!(format!("c-{snapshot}-{end}"));
            metadata["remainingItemCount"] = json!(all.len() - end);
        }
        let list = json!({"kind": format!("{kind}List"), "apiVersion": api_version,
            "metadata": metadata, "items": items});
        drop(w);
        respond(r.get_mut(), 200, &list);
        return true;
    }
    // A watch: chunked JSON lines until the client goes, the server drops it, or
    // timeoutSeconds passes.
    let from: u64 = param("resourceVersion")
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    let bookmarks = param("allowWatchBookmarks").is_some_and(|v| v == "true" || v == "1");
    let limit = param("timeoutSeconds")
        .and_then(|v| v.parse().ok())
        .map_or(Duration::from_secs(3600), Duration::from_secs);
    let out = r.get_mut();
    let _ = write!(
        out,
        "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\nCache-Control: no-cache, private\r\n\r\n"
    );
    if mischief == Mischief::EndlessWatchLine {
        endless_line(out);
        return false;
    }
    let chunk = |out: &mut Tls, v: &Value| -> bool {
        let line = format!("{v}\n");
        write!(out, "{:x}\r\n{line}\r\n", line.len()).is_ok() && out.flush().is_ok()
    };
    let (lock, cv) = &**world;
    let mut w = lock.lock().unwrap();
    if from != 0 && from < w.oldest {
        let message = format!("too old resource version: {from} ({})", w.oldest);
        w.expired += 1;
        drop(w);
        chunk(
            out,
            &json!({"type": "ERROR", "object": status(410, "Expired", &message, Value::Null)}),
        );
        let _ = write!(out, "0\r\n\r\n");
        let _ = out.flush();
        return false;
    }
    w.streaming += 1;
    cv.notify_all();
    let start = Instant::now();
    // From 0 ("any"): the current objects first, as ADDED events.
    let mut initial: Vec<Value> = Vec::new();
    if from == 0 {
        initial = w
            .objects
            .iter()
            .filter(|((res, n, _), o)| res == resource && in_ns(n) && matches(o))
            .map(|(_, o)| json!({"type": "ADDED", "object": o}))
            .collect();
    }
    let mut cursor = if from == 0 { w.rv } else { from };
    let mut last_bookmark = Instant::now();
    let cut = |out: &mut Tls| {
        // Mid-stream: half a chunk, then the connection closes.
        let _ = write!(out, "40\r\n{{\"type\":\"MODIF");
        let _ = out.flush();
        let _ = out.sock.shutdown(std::net::Shutdown::Both);
        false
    };
    loop {
        // A drop comes first: nothing more (no event, no bookmark) after it.
        if w.drops != drops {
            drop(w);
            return cut(out);
        }
        let pending: Vec<Value> = std::mem::take(&mut initial)
            .into_iter()
            .chain(
                w.events
                    .iter()
                    .filter(|(rv, res, n, _, o)| {
                        *rv > cursor && res == resource && in_ns(n) && matches(o)
                    })
                    .map(|(_, _, _, t, o)| json!({"type": t, "object": o})),
            )
            .collect();
        cursor = w.rv;
        drop(w);
        for mut e in pending {
            e["object"]["kind"] = json!(kind);
            e["object"]["apiVersion"] = json!(api_version);
            if !chunk(out, &e) {
                return false;
            }
        }
        if bookmarks && last_bookmark.elapsed() > Duration::from_millis(500) {
            last_bookmark = Instant::now();
            let b = json!({"type": "BOOKMARK", "object": {"kind": kind, "apiVersion": api_version,
                "metadata": {"resourceVersion": cursor.to_string()}}});
            if !chunk(out, &b) {
                return false;
            }
        }
        if start.elapsed() > limit {
            let _ = write!(out, "0\r\n\r\n");
            let _ = out.flush();
            return false;
        }
        w = lock.lock().unwrap();
        if w.drops != drops {
            drop(w);
            return cut(out);
        }
        w = cv.wait_timeout(w, Duration::from_millis(100)).unwrap().0;
    }
}

/// A list of pods `size` bytes long, in chunks (as the API server streams a large
/// list: the client learns its size only by reading it), written as it goes: the
/// fake never holds it. False: the connection closes.
fn huge_list(out: &mut Tls, size: usize) -> bool {
    let head =
        r#"{"kind":"PodList","apiVersion":"v1","metadata":{"resourceVersion":"100"},"items":["#;
    let tail = "]}";
    let item = pod("filler", true, json!({"app": "filler"})).to_string();
    let mut block = String::new();
    while block.len() < 64 << 10 {
        if !block.is_empty() {
            block.push(',');
        }
        block.push_str(&item);
    }
    let chunk = |out: &mut Tls, data: &str| -> bool {
        write!(out, "{:x}\r\n{data}\r\n", data.len()).is_ok()
    };
    if write!(
        out,
        "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"
    )
    .is_err()
        || !chunk(out, head)
    {
        return false;
    }
    let mut left = size.saturating_sub(head.len() + tail.len());
    let mut first = true;
    // Whole items while they fit (each block after the first with its comma),
    // then white space to the exact length.
    while left > block.len() + 1 {
        let data = if first {
            block.clone()
        } else {
            format!(",{block}")
        };
        if !chunk(out, &data) {
            return false;
        }
        left -= data.len();
        first = false;
    }
    let _ = chunk(out, &" ".repeat(left)) && chunk(out, tail);
    let _ = write!(out, "0\r\n\r\n");
    let _ = out.flush();
    false
}

/// The start of a watch event whose line never ends: chunks of one letter until
/// the client goes.
fn endless_line(out: &mut Tls) {
    let start = r#"{"type":"ADDED","object":{"kind":"Pod","apiVersion":"v1","metadata":{"name":""#;
    if write!(out, "{:x}\r\n{start}\r\n", start.len()).is_err() {
        return;
    }
    let block = "a".repeat(64 << 10);
    while write!(out, "{:x}\r\n{block}\r\n", block.len()).is_ok() && out.flush().is_ok() {}
}

/// The content type of an aggregated discovery document.
const AGGREGATED: &str = "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList";

/// The discovery documents kubectl reads before it lists or watches, in both
/// styles: the aggregated `APIGroupDiscoveryList` (Kubernetes 1.26 and later)
/// when `accept` asks for it, else `APIVersions`, `APIGroupList` and
/// `APIResourceList`s. False: the connection closes.
fn discovery(
    out: &mut Tls,
    path: &str,
    accept: &str,
    world: &Arc<(Mutex<World>, Condvar)>,
) -> bool {
    let (served, legacy, mischief) = {
        let w = world.0.lock().unwrap();
        (served(&w), w.legacy_discovery, w.mischief)
    };
    if let Mischief::HugeDiscovery(size) = mischief {
        if path != "/version" {
            return huge_discovery(out, size);
        }
    }
    let aggregated = accept.contains("as=APIGroupDiscoveryList") && !legacy;
    let verbs = [
        "create",
        "delete",
        "deletecollection",
        "get",
        "list",
        "patch",
        "update",
        "watch",
    ];
    let scope = |r: &Res| {
        if r.namespaced {
            "Namespaced"
        } else {
            "Cluster"
        }
    };
    let aggregated_resource = |r: &Res| {
        let mut e = json!({"resource": r.plural,
            "responseKind": {"group": r.group, "version": r.version, "kind": r.kind},
            "scope": scope(r), "singularResource": r.singular, "verbs": verbs,
            "subresources": [{"subresource": "status",
                "responseKind": {"group": r.group, "version": r.version, "kind": r.kind},
                "verbs": ["get", "patch", "update"]}]});
        if !r.short.is_empty() {
            e["shortNames"] = json!(r.short);
        }
        e
    };
    let legacy_resources = |rs: Vec<&Res>| -> Vec<Value> {
        let mut out = Vec::new();
        for r in rs {
            let mut e = json!({"name": r.plural, "singularName": r.singular, "namespaced": r.namespaced,
                "kind": r.kind, "verbs": verbs, "storageVersionHash": "abc="});
            if !r.short.is_empty() {
                e["shortNames"] = json!(r.short);
            }
            out.push(e);
            out.push(
                json!({"name": format!("{}/status", r.plural), "singularName": "",
                "namespaced": r.namespaced, "kind": r.kind, "verbs": ["get", "patch", "update"]}),
            );
        }
        out
    };
    // The groups in the order they are served, each with its versions in order.
    let mut groups: Vec<(String, Vec<String>)> = Vec::new();
    for r in served.iter().filter(|r| !r.group.is_empty()) {
        match groups.iter_mut().find(|(g, _)| *g == r.group) {
            Some((_, vs)) if !vs.contains(&r.version) => vs.push(r.version.clone()),
            Some(_) => {}
            None => groups.push((r.group.clone(), vec![r.version.clone()])),
        }
    }
    let of = |g: &str, v: &str| -> Vec<&Res> {
        served
            .iter()
            .filter(|r| r.group == g && r.version == v)
            .collect()
    };
    let body = match path.trim_end_matches('/') {
        "/api" if aggregated => {
            let resources: Vec<Value> = of("", "v1").into_iter().map(aggregated_resource).collect();
            respond_typed(
                out,
                200,
                &json!({"kind": "APIGroupDiscoveryList", "apiVersion": "apidiscovery.k8s.io/v2", "metadata": {},
                    "items": [{"metadata": {"creationTimestamp": null},
                               "versions": [{"version": "v1", "resources": resources, "freshness": "Current"}]}]}),
                AGGREGATED,
            );
            return true;
        }
        "/apis" if aggregated => {
            let items: Vec<Value> = groups
                .iter()
                .map(|(g, vs)| {
                    let versions: Vec<Value> = vs
                        .iter()
                        .map(|v| {
                            let resources: Vec<Value> =
                                of(g, v).into_iter().map(aggregated_resource).collect();
                            json!({"version": v, "resources": resources, "freshness": "Current"})
                        })
                        .collect();
                    json!({"metadata": {"name": g, "creationTimestamp": null}, "versions": versions})
                })
                .collect();
            respond_typed(
                out,
                200,
                &json!({"kind": "APIGroupDiscoveryList", "apiVersion": "apidiscovery.k8s.io/v2",
                    "metadata": {}, "items": items}),
                AGGREGATED,
            );
            return true;
        }
        "/api" => json!({"kind": "APIVersions", "versions": ["v1"],
            "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": "127.0.0.1:6443"}]}),
        "/apis" => {
            let list: Vec<Value> = groups
                .iter()
                .map(|(g, vs)| {
                    let versions: Vec<Value> = vs
                        .iter()
                        .map(|v| json!({"groupVersion": format!("{g}/{v}"), "version": v}))
                        .collect();
                    json!({"name": g, "versions": versions, "preferredVersion": versions[0]})
                })
                .collect();
            json!({"kind": "APIGroupList", "apiVersion": "v1", "groups": list})
        }
        "/api/v1" => json!({"kind": "APIResourceList", "groupVersion": "v1",
            "resources": legacy_resources(of("", "v1"))}),
        "/version" => {
            json!({"major": "1", "minor": "34", "gitVersion": "v1.34.0", "platform": "linux/amd64"})
        }
        other => {
            let parts: Vec<&str> = other.trim_start_matches('/').split('/').collect();
            let listed = match parts.as_slice() {
                ["apis", g, v] => Some(of(g, v))
                    .filter(|rs| !rs.is_empty())
                    .map(|rs| (format!("{g}/{v}"), rs)),
                _ => None,
            };
            match listed {
                Some((gv, rs)) => json!({"kind": "APIResourceList", "apiVersion": "v1",
                    "groupVersion": gv, "resources": legacy_resources(rs)}),
                None => {
                    respond(
                        out,
                        404,
                        &status(
                            404,
                            "NotFound",
                            "the server could not find the requested resource",
                            Value::Null,
                        ),
                    );
                    return true;
                }
            }
        }
    };
    respond(out, 200, &body);
    true
}

/// An aggregated discovery document `size` bytes long, in chunks: one group full
/// of resources no target names (whole entries while they fit, then white space to
/// the exact length), written as it goes. False: the connection closes.
fn huge_discovery(out: &mut Tls, size: usize) -> bool {
    let head = r#"{"kind":"APIGroupDiscoveryList","apiVersion":"apidiscovery.k8s.io/v2","metadata":{},"items":[{"metadata":{"name":"filler.example.com"},"versions":[{"version":"v1","resources":["#;
    let tail = "]}]}]}";
    let mut block = String::new();
    let mut i = 0;
    while block.len() < 64 << 10 {
        if !block.is_empty() {
            block.push(',');
        }
        block.push_str(&format!(
            r#"{{"resource":"filler{i}","responseKind":{{"group":"filler.example.com","version":"v1","kind":"Filler{i}"}},"scope":"Namespaced","singularResource":"filler{i}","verbs":["get","list","watch"],"shortNames":["f{i}"]}}"#
        ));
        i += 1;
    }
    let chunk = |out: &mut Tls, data: &str| -> bool {
        write!(out, "{:x}\r\n{data}\r\n", data.len()).is_ok()
    };
    if write!(
        out,
        "HTTP/1.1 200 OK\r\nContent-Type: {AGGREGATED}\r\nTransfer-Encoding: chunked\r\n\r\n"
    )
    .is_err()
        || !chunk(out, head)
    {
        return false;
    }
    let mut left = size.saturating_sub(head.len() + tail.len());
    let mut first = true;
    while left > block.len() + 1 {
        let data = if first {
            block.clone()
        } else {
            format!(",{block}")
        };
        if !chunk(out, &data) {
            return false;
        }
        left -= data.len();
        first = false;
    }
    let _ = chunk(out, &" ".repeat(left)) && chunk(out, tail);
    let _ = write!(out, "0\r\n\r\n");
    let _ = out.flush();
    true
}

// ------------------------------------------------------------ object builders

/// A Deployment: `replicas` wanted, `updated` and `available` in status, observed.
pub fn deployment(name: &str, replicas: i64, updated: i64, available: i64) -> Value {
    json!({"metadata": {"name": name, "namespace": "app", "generation": 2, "labels": {"app": name}},
        "spec": {"replicas": replicas, "selector": {"matchLabels": {"app": name}},
                 "strategy": {"type": "RollingUpdate"}},
        "status": {"observedGeneration": 2, "replicas": replicas, "updatedReplicas": updated,
                   "readyReplicas": available, "availableReplicas": available,
                   "conditions": [{"type": "Available", "status": if available >= replicas {"True"} else {"False"},
                                   "reason": "MinimumReplicasAvailable"},
                                  {"type": "Progressing", "status": "True", "reason": "ReplicaSetUpdated"}]}})
}

/// A StatefulSet with `ready` of `replicas` ready, at one revision.
pub fn statefulset(name: &str, replicas: i64, ready: i64) -> Value {
    json!({"metadata": {"name": name, "namespace": "app", "generation": 1},
        "spec": {"replicas": replicas, "updateStrategy": {"type": "RollingUpdate"}},
        "status": {"observedGeneration": 1, "replicas": replicas, "readyReplicas": ready,
                   "currentReplicas": replicas, "updatedReplicas": replicas,
                   "currentRevision": format!("{name}-7d9f"), "updateRevision": format!("{name}-7d9f")}})
}

/// A DaemonSet with `available` of `desired` pods available.
pub fn daemonset(name: &str, desired: i64, available: i64) -> Value {
    json!({"metadata": {"name": name, "namespace": "app", "generation": 1},
        "spec": {"updateStrategy": {"type": "RollingUpdate"}},
        "status": {"observedGeneration": 1, "desiredNumberScheduled": desired, "currentNumberScheduled": desired,
                   "updatedNumberScheduled": desired, "numberAvailable": available, "numberReady": available}})
}

/// A Job: running, `Complete` or `Failed`.
pub fn job(name: &str, state: &str) -> Value {
    let mut j = json!({"metadata": {"name": name, "namespace": "app", "generation": 1},
        "spec": {"backoffLimit": 2, "completions": 1, "parallelism": 1},
        "status": {"active": 1, "startTime": "2026-12-03T12:00:00Z"}});
    match state {
        "Complete" => {
            j["status"] = json!({"succeeded": 1, "conditions": [
                {"type": "SuccessCriteriaMet", "status": "True", "reason": "CompletionsReached"},
                {"type": "Complete", "status": "True", "reason": "CompletionsReached", "message": "Reached expected number of succeeded pods"}]});
        }
        "Failed" => {
            j["status"] = json!({"failed": 3, "conditions": [
                {"type": "FailureTarget", "status": "True", "reason": "BackoffLimitExceeded"},
                {"type": "Failed", "status": "True", "reason": "BackoffLimitExceeded", "message": "Job has reached the specified backoff limit"}]});
        }
        _ => {}
    }
    j
}

/// A Pod, Ready or not, with labels.
pub fn pod(name: &str, ready: bool, labels: Value) -> Value {
    let status = if ready { "True" } else { "False" };
    let mut ready_cond = json!({"type": "Ready", "status": status});
    if !ready {
        ready_cond["reason"] = json!("ContainersNotReady");
        ready_cond["message"] = json!("containers with unready status: [app]");
    }
    json!({"metadata": {"name": name, "namespace": "app", "labels": labels},
        "spec": {"containers": [{"name": "app", "image": "registry.example.com/app:1.0.0"}]},
        "status": {"phase": "Running", "conditions": [
            {"type": "PodScheduled", "status": "True"}, {"type": "Initialized", "status": "True"},
            ready_cond, {"type": "ContainersReady", "status": status}]}})
}

/// An EndpointSlice of Service `service` with endpoints ready or not: endpoint `i`
/// is pod `SERVICE-i` (its uid `uid-SERVICE-i`) at 10.244.0.(10 + i).
pub fn endpoint_slice(name: &str, service: &str, ready: &[bool]) -> Value {
    slice(name, service, 0, ready, "IPv4")
}

/// [`endpoint_slice`] whose endpoints are pods `SERVICE-first`, `SERVICE-(first+1)`,
/// ... (a Service's second slice holds other pods than its first).
pub fn endpoint_slice_from(name: &str, service: &str, first: usize, ready: &[bool]) -> Value {
    slice(name, service, first, ready, "IPv4")
}

/// The IPv6 EndpointSlice of a dual-stack Service: the same pods as
/// [`endpoint_slice`] (the same targetRef uids) at fd00:10:244::(10 + i).
pub fn endpoint_slice_ipv6(name: &str, service: &str, ready: &[bool]) -> Value {
    slice(name, service, 0, ready, "IPv6")
}

fn slice(name: &str, service: &str, first: usize, ready: &[bool], family: &str) -> Value {
    let endpoints: Vec<Value> = ready
        .iter()
        .enumerate()
        .map(|(i, r)| {
            let i = first + i;
            let address = match family {
                "IPv6" => format!("fd00:10:244::{:x}", i + 10),
                _ => format!("10.244.0.{}", i + 10),
            };
            json!({"addresses": [address],
            "conditions": {"ready": r, "serving": r, "terminating": false},
            "targetRef": {"kind": "Pod", "namespace": "app", "name": format!("{service}-{i}"),
                          "uid": format!("uid-{service}-{i}")}})
        })
        .collect();
    json!({"metadata": {"name": name, "namespace": "app",
            "labels": {"kubernetes.io/service-name": service, "endpointslice.kubernetes.io/managed-by": "endpointslice-controller.k8s.io"}},
        "addressType": family, "endpoints": endpoints,
        "ports": [{"name": "", "port": 5432, "protocol": "TCP"}]})
}

/// A PersistentVolumeClaim in `phase` (`Pending`, `Bound`).
pub fn pvc(name: &str, phase: &str) -> Value {
    json!({"metadata": {"name": name, "namespace": "app"},
        "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}},
                 "storageClassName": "standard", "volumeMode": "Filesystem"},
        "status": {"phase": phase}})
}

/// A Node (cluster-scoped), Ready or not, as the kubelet reports it.
pub fn node(name: &str, ready: bool) -> Value {
    let (status, reason, message) = if ready {
        ("True", "KubeletReady", "kubelet is posting ready status")
    } else {
        (
            "False",
            "KubeletNotReady",
            "container runtime network not ready: NetworkReady=false",
        )
    };
    json!({"metadata": {"name": name, "labels": {"kubernetes.io/hostname": name}},
        "spec": {"podCIDR": "10.244.0.0/24"},
        "status": {"conditions": [
            {"type": "MemoryPressure", "status": "False", "reason": "KubeletHasSufficientMemory"},
            {"type": "Ready", "status": status, "reason": reason, "message": message}]}})
}

/// A CustomResourceDefinition of `plural.group` (kind `kind`, namespaced, version
/// v1 served), Established or not yet: its resource is served once it is.
pub fn crd(plural: &str, group: &str, kind: &str, short: &[&str], established: bool) -> Value {
    let status = if established { "True" } else { "False" };
    let singular = kind.to_lowercase();
    json!({"metadata": {"name": format!("{plural}.{group}"), "generation": 1},
        "spec": {"group": group, "scope": "Namespaced",
                 "names": {"plural": plural, "singular": singular, "kind": kind, "listKind": format!("{kind}List"), "shortNames": short},
                 "versions": [{"name": "v1", "served": true, "storage": true,
                               "schema": {"openAPIV3Schema": {"type": "object", "x-kubernetes-preserve-unknown-fields": true}},
                               "subresources": {"status": {}}}]},
        "status": {"acceptedNames": {"plural": plural, "kind": kind},
                   "storedVersions": ["v1"],
                   "conditions": [
                       {"type": "NamesAccepted", "status": "True", "reason": "NoConflicts", "message": "no conflicts found"},
                       {"type": "Established", "status": status, "reason": if established {"InitialNamesAccepted"} else {"Installing"},
                        "message": if established {"the initial names have been accepted"} else {"the resource is being installed"}}]}})
}

/// The CRD of cert-manager's Certificates (`certificates.cert-manager.io`).
pub fn certificate_crd(established: bool) -> Value {
    crd(
        "certificates",
        "cert-manager.io",
        "Certificate",
        &["cert", "certs"],
        established,
    )
}

/// A cert-manager Certificate at `generation`, whose Ready condition (for
/// `observed`) is True or False with cert-manager's reasons.
pub fn certificate(name: &str, ready: bool, generation: i64, observed: i64) -> Value {
    let (status, reason, message) = if ready {
        (
            "True",
            "Ready",
            "Certificate is up to date and has not expired",
        )
    } else {
        (
            "False",
            "DoesNotExist",
            "Issuing certificate as Secret does not exist",
        )
    };
    json!({"apiVersion": "cert-manager.io/v1", "kind": "Certificate",
        "metadata": {"name": name, "namespace": "app", "generation": generation, "labels": {"app": "web"}},
        "spec": {"secretName": format!("{name}-tls"), "dnsNames": ["web.example.com"],
                 "issuerRef": {"name": "letsencrypt", "kind": "ClusterIssuer"}},
        "status": {"conditions": [{"type": "Ready", "status": status, "reason": reason, "message": message,
                                   "observedGeneration": observed, "lastTransitionTime": "2026-12-03T12:00:00Z"}]}})
}

/// An APIService (cluster-scoped), Available or not.
pub fn apiservice(name: &str, available: bool) -> Value {
    let (status, reason, message) = if available {
        ("True", "Passed", "all checks passed")
    } else {
        (
            "False",
            "MissingEndpoints",
            "endpoints for service/metrics-server in \"kube-system\" have no addresses with port name \"https\"",
        )
    };
    json!({"metadata": {"name": name},
        "spec": {"group": "metrics.k8s.io", "version": "v1beta1", "groupPriorityMinimum": 100, "versionPriority": 100,
                 "service": {"name": "metrics-server", "namespace": "kube-system"}},
        "status": {"conditions": [{"type": "Available", "status": status, "reason": reason, "message": message}]}})
}
