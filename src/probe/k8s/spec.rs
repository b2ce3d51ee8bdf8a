//! A k8s target as written: `k8s://[NAMESPACE/]RESOURCE/NAME` or
//! `k8s://[NAMESPACE/]RESOURCE?selector=LABELS`, with `condition=TYPE[=VALUE]`,
//! `field=/POINTER[:V1,V2]`, `min=N` and `context=`. RESOURCE is a plural, a kind
//! or a short name, optionally with its API group (`certificates.cert-manager.io`)
//! or version and group (`deployments.v1.apps`), as kubectl reads it; which
//! resource it is, the API server says ([`super::discovery`]).

use crate::probe::pointer::JsonExpectation;
use std::fmt;
use url::Url;

/// A resource as written: a name (plural, singular, kind or short name, in
/// lowercase), and the API group and version when given.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ResourceName {
    /// The name, lowercase.
    pub name: String,
    /// The API group (`cert-manager.io`), when given.
    pub group: Option<String>,
    /// The version (`v1`), when given with the group (`deployments.v1.apps`).
    pub version: Option<String>,
}

impl fmt::Display for ResourceName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.name)?;
        if let Some(v) = &self.version {
            write!(f, ".{v}")?;
        }
        if let Some(g) = &self.group {
            write!(f, ".{g}")?;
        }
        Ok(())
    }
}

/// Whether `s` reads as an API version: `v1`, `v2beta1`, `v1alpha3`.
fn is_version(s: &str) -> bool {
    let Some(rest) = s.strip_prefix('v') else {
        return false;
    };
    let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
    let (major, tail) = rest.split_at(digits);
    if major.is_empty() || major.starts_with('0') {
        return false;
    }
    if tail.is_empty() {
        return true;
    }
    tail.strip_prefix("alpha")
        .or_else(|| tail.strip_prefix("beta"))
        .is_some_and(|n| {
            !n.is_empty() && !n.starts_with('0') && n.bytes().all(|b| b.is_ascii_digit())
        })
}

impl ResourceName {
    /// `NAME`, `NAME.GROUP` or `NAME.VERSION.GROUP` (kubectl's forms), any case.
    pub fn parse(text: &str) -> Result<ResourceName, String> {
        let lower = text.to_ascii_lowercase();
        let bad = || {
            format!(
                "{text:?} is not a resource: write a plural, kind or short name, with its API group if needed (pods, deploy, certificates.cert-manager.io)"
            )
        };
        let (name, rest) = match lower.split_once('.') {
            Some((n, r)) => (n.to_string(), Some(r.to_string())),
            None => (lower.clone(), None),
        };
        if !valid_name(&name, true) {
            return Err(bad());
        }
        let (version, group) = match rest {
            None => (None, None),
            Some(rest) => match rest.split_once('.') {
                Some((v, g)) if is_version(v) => (Some(v.to_string()), Some(g.to_string())),
                _ => (None, Some(rest)),
            },
        };
        let group = match group {
            Some(g) if valid_name(&g, false) => Some(g),
            Some(_) => return Err(bad()),
            None => None,
        };
        Ok(ResourceName {
            name,
            group,
            version,
        })
    }
}

/// Which objects of the resource a target is about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Select {
    /// The one of this name.
    Name(String),
    /// Those a label selector matches.
    Labels(String),
}

/// `condition=TYPE[=VALUE]`: a status condition of this type whose status is
/// VALUE (`True` unless written), both compared without regard to case, as
/// `kubectl wait --for=condition=` compares them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CondWant {
    /// The condition's type, as written.
    pub kind: String,
    /// The status wanted, as written (`True` by default).
    pub status: String,
}

/// A target as written.
#[derive(Debug, Clone, PartialEq)]
pub struct Spec {
    /// The resource.
    pub resource: ResourceName,
    /// Which of its objects.
    pub select: Select,
    /// The namespace given in the URL.
    pub namespace: Option<String>,
    /// `context=`: the kubeconfig context.
    pub context: Option<String>,
    /// `condition=`.
    pub condition: Option<CondWant>,
    /// `field=` (any number; all must hold).
    pub fields: Vec<JsonExpectation>,
    /// `min=`.
    pub min: Option<u64>,
}

impl Spec {
    /// Whether the target names its own rule (`condition=` or `field=`) instead of
    /// the resource's readiness rule.
    pub fn expects(&self) -> bool {
        self.condition.is_some() || !self.fields.is_empty()
    }
}

/// A DNS label (namespaces, resource names) or subdomain (object names, API
/// groups), as the API validates them.
pub fn valid_name(s: &str, label: bool) -> bool {
    let max = if label { 63 } else { 253 };
    !s.is_empty()
        && s.len() <= max
        && s.bytes().all(|b| {
            b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || (!label && b == b'.')
        })
        && !s.starts_with(['-', '.'])
        && !s.ends_with(['-', '.'])
}

/// Every query parameter a k8s target knows, for the message that names an
/// unknown one.
const KEYS: &str = "selector, condition, field, min, context";

/// How the forms read, for the message of a target that is none of them.
const FORM: &str = "write k8s://[NAMESPACE/]RESOURCE/NAME or k8s://[NAMESPACE/]RESOURCE?selector=LABELS (RESOURCE: pod, service, job, deployment, a CRD's plural such as certificates.cert-manager.io, ...)";

/// Parses a k8s URL.
pub fn parse(url: &Url) -> Result<Spec, String> {
    if !url.username().is_empty() || url.password().is_some() || url.port().is_some() {
        return Err("a k8s target has no user, password or port: credentials come from the kubeconfig or the service account".into());
    }
    if url.fragment().is_some() {
        return Err("a k8s target has no #fragment".into());
    }
    let decode = |s: &str| {
        percent_encoding::percent_decode_str(s)
            .decode_utf8_lossy()
            .into_owned()
    };
    let mut parts: Vec<String> = Vec::new();
    if let Some(h) = url.host_str().filter(|h| !h.is_empty()) {
        parts.push(decode(h));
    }
    parts.extend(url.path().split('/').filter(|s| !s.is_empty()).map(decode));
    let (mut min, mut selector, mut context, mut condition) = (None, None, None, None);
    let mut fields = Vec::new();
    for pair in url
        .query()
        .unwrap_or("")
        .split('&')
        .filter(|p| !p.is_empty())
    {
        let (k, raw) = pair.split_once('=').unwrap_or((pair, ""));
        // As a form decodes it ('+' is a space), except field='s value, which is
        // split before it is decoded (as http's #json=).
        let form = |s: &str| -> String {
            url::form_urlencoded::parse(format!("x={s}").as_bytes())
                .next()
                .map(|(_, v)| v.into_owned())
                .unwrap_or_default()
        };
        let key = form(k);
        let once = |taken: bool| {
            if taken {
                Err(format!("{key}= is given twice"))
            } else {
                Ok(())
            }
        };
        match key.as_str() {
            "min" => {
                once(min.is_some())?;
                let v = form(raw);
                min = Some(
                    v.parse::<u64>()
                        .ok()
                        .filter(|n| *n >= 1)
                        .ok_or_else(|| format!("min={v:?} is not a whole number >= 1"))?,
                )
            }
            "selector" => {
                once(selector.is_some())?;
                let v = form(raw);
                if v.trim().is_empty() {
                    return Err("selector= is empty: write e.g. selector=app%3Ddb".into());
                }
                selector = Some(v.trim().to_string());
            }
            "context" => {
                once(context.is_some())?;
                context = Some(form(raw));
            }
            "condition" => {
                once(condition.is_some())?;
                let v = form(raw);
                let (kind, status) = match v.split_once('=') {
                    Some((k, s)) => (k.trim(), s.trim()),
                    None => (v.trim(), "True"),
                };
                if kind.is_empty() || status.is_empty() {
                    return Err(format!(
                        "condition={v:?}: write condition=TYPE or condition=TYPE=VALUE (condition=Ready, condition=Ready=False)"
                    ));
                }
                condition = Some(CondWant {
                    kind: kind.to_string(),
                    status: status.to_string(),
                });
            }
            "field" => fields.push(JsonExpectation::parse(
                raw,
                "field",
                "field=/status/phase:Bound",
            )?),
            other => return Err(format!("unknown parameter {other:?} (known: {KEYS})")),
        }
    }
    let (namespace, resource, name) = match (selector.is_some(), parts.as_slice()) {
        (true, [res]) => (None, res.clone(), None),
        (true, [ns, res]) => (Some(ns.clone()), res.clone(), None),
        (false, [res, name]) => (None, res.clone(), Some(name.clone())),
        (false, [ns, res, name]) => (Some(ns.clone()), res.clone(), Some(name.clone())),
        (true, [_, _, _]) => {
            return Err("selector= selects objects: write k8s://[NAMESPACE/]RESOURCE?selector=LABELS, without a name".into())
        }
        _ => return Err(FORM.into()),
    };
    if let Some(ns) = &namespace {
        if !valid_name(ns, true) {
            return Err(format!(
                "{ns:?} is not a namespace name (lowercase letters, digits and '-')"
            ));
        }
    }
    let resource = ResourceName::parse(&resource)?;
    let select = match (name, selector) {
        (Some(name), None) => {
            if !valid_name(&name, false) {
                return Err(format!(
                    "{name:?} is not an object name (lowercase letters, digits, '-' and '.')"
                ));
            }
            Select::Name(name)
        }
        (None, Some(selector)) => Select::Labels(selector),
        _ => return Err(FORM.into()),
    };
    let spec = Spec {
        resource,
        select,
        namespace,
        context,
        condition,
        fields,
        min,
    };
    if spec.min.is_some()
        && matches!(spec.select, Select::Name(_))
        && (spec.expects() || !is_service(&spec.resource))
    {
        return Err("min= counts the objects a selector matches, or a service's ready endpoints: write RESOURCE?selector=LABELS&min=N or service/NAME?min=N".into());
    }
    Ok(spec)
}

/// Whether a name as written is the core Service (whose readiness without a
/// condition or field is its ready endpoints).
fn is_service(r: &ResourceName) -> bool {
    matches!(r.name.as_str(), "service" | "services" | "svc")
        && r.group.is_none()
        && r.version.as_deref().is_none_or(|v| v == "v1")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &str) -> Result<Spec, String> {
        parse(&Url::parse(s).unwrap())
    }

    fn res(name: &str, group: Option<&str>, version: Option<&str>) -> ResourceName {
        ResourceName {
            name: name.into(),
            group: group.map(Into::into),
            version: version.map(Into::into),
        }
    }

    #[test]
    fn resources_are_read_as_kubectl_reads_them() {
        let r = |s: &str| ResourceName::parse(s).unwrap();
        assert_eq!(r("deploy"), res("deploy", None, None));
        assert_eq!(r("Deployment"), res("deployment", None, None));
        assert_eq!(
            r("deployments.apps"),
            res("deployments", Some("apps"), None)
        );
        assert_eq!(
            r("deployments.v1.apps"),
            res("deployments", Some("apps"), Some("v1"))
        );
        assert_eq!(
            r("certificates.cert-manager.io"),
            res("certificates", Some("cert-manager.io"), None)
        );
        assert_eq!(
            r("certificates.v1.cert-manager.io"),
            res("certificates", Some("cert-manager.io"), Some("v1"))
        );
        assert_eq!(
            r("crontabs.v1beta2.stable.example.com"),
            res("crontabs", Some("stable.example.com"), Some("v1beta2"))
        );
        // Not a version: part of the group.
        assert_eq!(
            r("widgets.v1x.example.com"),
            res("widgets", Some("v1x.example.com"), None)
        );
        assert_eq!(
            r("crontabs.v1beta2.stable.example.com").to_string(),
            "crontabs.v1beta2.stable.example.com"
        );
        for bad in ["", "a_b", ".apps", "pods.", "pods..apps", "-x"] {
            assert!(ResourceName::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn target_forms() {
        let s = p("k8s://app/deployment/web").unwrap();
        assert_eq!(s.resource, res("deployment", None, None));
        assert_eq!(s.select, Select::Name("web".into()));
        assert_eq!(s.namespace.as_deref(), Some("app"));
        assert!(!s.expects());
        let s = p("k8s://svc/db?min=2").unwrap();
        assert_eq!(s.min, Some(2));
        assert_eq!(p("k8s://job/migrate").unwrap().namespace, None);
        let sel = p("k8s://app/pods?selector=app%3Ddb,tier%20in%20(a)&min=3&context=kind").unwrap();
        assert_eq!(sel.select, Select::Labels("app=db,tier in (a)".into()));
        assert_eq!((sel.min, sel.context.as_deref()), (Some(3), Some("kind")));
        let c = p("k8s://certificates.cert-manager.io/web?condition=Ready").unwrap();
        assert_eq!(
            c.condition,
            Some(CondWant {
                kind: "Ready".into(),
                status: "True".into()
            })
        );
        assert_eq!(c.resource.group.as_deref(), Some("cert-manager.io"));
        let c = p("k8s://node/worker-1?condition=MemoryPressure%3DFalse").unwrap();
        assert_eq!(c.condition.unwrap().status, "False");
        let f =
            p("k8s://app/pvc/data?field=/status/phase:Bound&field=/spec/x%3Ay:a%2Cb,c").unwrap();
        assert_eq!(f.fields[0].pointer, "/status/phase");
        assert_eq!(f.fields[0].values, ["Bound"]);
        assert_eq!(f.fields[1].pointer, "/spec/x:y");
        assert_eq!(f.fields[1].values, ["a,b", "c"]);
        let j = p("k8s://jobs?selector=release%3Dr1&condition=Complete&min=3").unwrap();
        assert_eq!(j.select, Select::Labels("release=r1".into()));
        assert_eq!(j.min, Some(3));
        // APIService names are subdomains.
        assert!(p("k8s://apiservice/v1beta1.metrics.k8s.io?condition=Available").is_ok());
        for (bad, why) in [
            ("k8s://web", "write k8s://"),
            ("k8s://a/b/c/d", "write k8s://"),
            ("k8s://a/b/c?selector=x", "without a name"),
            ("k8s://app/wid_get/x", "is not a resource"),
            ("k8s://Bad_NS/pod/x", "not a namespace name"),
            ("k8s://pod/X_Y", "not an object name"),
            ("k8s://job/x?min=2", "min= counts"),
            ("k8s://svc/x?min=2&condition=Ready", "min= counts"),
            ("k8s://svc/x?min=0", "min=\"0\""),
            ("k8s://pods?selector=", "selector= is empty"),
            ("k8s://pod/x?foo=1", "unknown parameter \"foo\""),
            ("k8s://pod/x?condition=", "write condition=TYPE"),
            ("k8s://pod/x?condition=Ready=", "write condition=TYPE"),
            ("k8s://pod/x?condition=A&condition=B", "given twice"),
            (
                "k8s://pvc/x?field=status",
                "invalid JSON pointer \"status\" in field=",
            ),
            ("k8s://u:p@ns/pod/x", "no user, password or port"),
            ("k8s://pod/x#a", "no #fragment"),
        ] {
            let e = p(bad).err().unwrap_or_else(|| panic!("{bad} parsed"));
            assert!(e.contains(why), "{bad}: {e}");
        }
    }
}
