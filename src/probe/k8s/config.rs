//! Where the API server is and how to log in, found as client-go finds it.
//!
//! Order (client-go's `clientcmd` deferred loading): `KUBECONFIG` when set (a
//! colon-separated list, merged with the first definition of each name winning),
//! else the in-cluster service account when `KUBERNETES_SERVICE_HOST` and
//! `KUBERNETES_SERVICE_PORT` are set, else `~/.kube/config`. Everything is read
//! before the first attempt, so a broken file is a usage error; only the service
//! account's token is read again for every request, because projected tokens
//! rotate, and an exec plugin ([`super::exec`]) runs when its token is needed.

use base64::Engine;
use rustls::pki_types::CertificateDer;
use std::path::{Path, PathBuf};
use yaml_rust2::Yaml;

/// The service account's files inside a pod.
pub const SERVICE_ACCOUNT: &str = "/var/run/secrets/kubernetes.io/serviceaccount";

/// What the environment says about credentials (captured at parse time).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Sources {
    /// `KUBECONFIG`.
    pub kubeconfig: Option<String>,
    /// `HOME`, for `~/.kube/config`.
    pub home: Option<String>,
    /// `KUBERNETES_SERVICE_HOST` and `KUBERNETES_SERVICE_PORT`.
    pub in_cluster: Option<(String, String)>,
    /// The context named by the target (`?context=`), else the current one.
    pub context: Option<String>,
}

/// How to authenticate a request.
#[derive(Clone)]
pub enum Auth {
    /// No credentials (a client certificate may still be presented).
    None,
    /// A bearer token from the kubeconfig.
    Token(String),
    /// A bearer token read from this file for every request (service account,
    /// kubeconfig `tokenFile`).
    TokenFile(PathBuf),
    /// A bearer token from an exec credential plugin.
    Exec(std::sync::Arc<super::exec::Plugin>),
}

/// Everything needed to talk to the API server.
#[derive(Clone)]
pub struct Credentials {
    /// `https://HOST:PORT[/PREFIX]` (or http).
    pub server: url::Url,
    /// CAs to trust instead of the system's; `None`: the system's and bundled roots.
    pub ca: Option<Vec<CertificateDer<'static>>>,
    /// `insecure-skip-tls-verify`.
    pub insecure: bool,
    /// A client certificate chain and key.
    pub client_cert: Option<std::sync::Arc<rustls::sign::CertifiedKey>>,
    /// The bearer token, if any.
    pub auth: Auth,
    /// The namespace of the context or the service account, if any.
    pub namespace: Option<String>,
    /// Where they came from, for messages (`kubeconfig /root/.kube/config, context "kind"`).
    pub origin: String,
}

impl Credentials {
    /// Finds the credentials; the error says which file or setting is wrong.
    pub fn load(src: &Sources) -> Result<Credentials, String> {
        if let Some(list) = &src.kubeconfig {
            let files: Vec<PathBuf> = list
                .split(':')
                .filter(|s| !s.is_empty())
                .map(PathBuf::from)
                .collect();
            return from_kubeconfig(&files, src.context.as_deref());
        }
        if let Some((host, port)) = &src.in_cluster {
            if src.context.is_some() {
                return Err("?context= needs a kubeconfig, but this runs with the in-cluster service account (KUBECONFIG is not set)".into());
            }
            return in_cluster(host, port, Path::new(SERVICE_ACCOUNT));
        }
        match &src.home {
            Some(home) => from_kubeconfig(
                &[Path::new(home).join(".kube/config")],
                src.context.as_deref(),
            ),
            None => Err("no Kubernetes credentials: KUBERNETES_SERVICE_HOST is not set (not in a pod), and neither KUBECONFIG nor HOME".into()),
        }
    }

    /// The bearer token to send now (a token file is read again every time, an exec
    /// plugin runs again when its token expires), registered as a secret so that no
    /// reason shows it.
    pub async fn token(&self) -> Result<Option<String>, crate::probe::error::ProbeError> {
        let token = self.fresh_token().await?;
        if let Some(t) = &token {
            crate::secret::register(t);
        }
        Ok(token)
    }

    async fn fresh_token(&self) -> Result<Option<String>, crate::probe::error::ProbeError> {
        match &self.auth {
            Auth::None => Ok(None),
            Auth::Token(t) => Ok(Some(t.clone())),
            Auth::TokenFile(p) => std::fs::read_to_string(p)
                .map(|t| Some(t.trim().to_string()))
                .map_err(|e| {
                    crate::probe::error::ProbeError::permanent(format!(
                        "cannot read the token {}: {}",
                        p.display(),
                        crate::probe::error::io_reason(&e)
                    ))
                }),
            Auth::Exec(plugin) => plugin.token().await.map(Some),
        }
    }
}

/// The in-cluster configuration: the API server from the environment, the service
/// account's CA, namespace and token from `dir`.
fn in_cluster(host: &str, port: &str, dir: &Path) -> Result<Credentials, String> {
    let authority = if host.contains(':') {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
    };
    let server = url::Url::parse(&format!("https://{authority}")).map_err(|_| {
        format!("KUBERNETES_SERVICE_HOST/PORT ({authority:?}) do not make a server address")
    })?;
    let ca = crate::probe::tls::load_pem(&dir.join("ca.crt"))?;
    let token = dir.join("token");
    // Fail early when the token is not there at all (no service account mounted).
    std::fs::metadata(&token).map_err(|e| {
        format!(
            "in a pod without a service account token: {}: {}",
            token.display(),
            crate::probe::error::io_reason(&e)
        )
    })?;
    let namespace = std::fs::read_to_string(dir.join("namespace"))
        .ok()
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty());
    Ok(Credentials {
        server,
        ca: Some(ca),
        insecure: false,
        client_cert: None,
        auth: Auth::TokenFile(token),
        namespace,
        origin: "the in-cluster service account".into(),
    })
}

/// One kubeconfig file, parsed, with the directory its relative paths start from.
struct File {
    path: PathBuf,
    doc: Yaml,
}

impl File {
    /// The entry `name` of the list `list` (`clusters`, `users`, `contexts`),
    /// its inner map under `inner`.
    fn named(&self, list: &str, inner: &str, name: &str) -> Option<&Yaml> {
        self.doc[list]
            .as_vec()?
            .iter()
            .find(|e| e["name"].as_str() == Some(name))
            .map(|e| &e[inner])
    }

    fn relative(&self, p: &str) -> PathBuf {
        let p = Path::new(p);
        match self.path.parent() {
            Some(dir) if p.is_relative() => dir.join(p),
            _ => p.to_path_buf(),
        }
    }
}

/// The first definition of `name` in `list` over all files (client-go's merge: the
/// first file that sets a name wins), with its file.
fn find<'a>(
    files: &'a [File],
    list: &str,
    inner: &str,
    name: &str,
) -> Option<(&'a File, &'a Yaml)> {
    files
        .iter()
        .find_map(|f| f.named(list, inner, name).map(|y| (f, y)))
}

fn from_kubeconfig(paths: &[PathBuf], context: Option<&str>) -> Result<Credentials, String> {
    let mut files = Vec::new();
    for path in paths {
        let text = match std::fs::read_to_string(path) {
            Ok(t) => t,
            // client-go skips missing files of the KUBECONFIG list.
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(e) => {
                return Err(format!(
                    "cannot read the kubeconfig {}: {}",
                    path.display(),
                    crate::probe::error::io_reason(&e)
                ))
            }
        };
        let doc = yaml_rust2::YamlLoader::load_from_str(&text)
            .map_err(|e| format!("the kubeconfig {} is not YAML: {e}", path.display()))?
            .into_iter()
            .next()
            .unwrap_or(Yaml::Null);
        files.push(File {
            path: path.clone(),
            doc,
        });
    }
    let shown: Vec<String> = paths.iter().map(|p| p.display().to_string()).collect();
    let shown = shown.join(":");
    if files.is_empty() {
        return Err(format!(
            "no Kubernetes credentials: no kubeconfig at {shown}, and KUBERNETES_SERVICE_HOST is not set (not in a pod)"
        ));
    }
    let context = match context {
        Some(c) => c.to_string(),
        None => files
            .iter()
            .find_map(|f| f.doc["current-context"].as_str().filter(|s| !s.is_empty()))
            .ok_or_else(|| format!("the kubeconfig {shown} has no current-context"))?
            .to_string(),
    };
    let (_, ctx) = find(&files, "contexts", "context", &context)
        .ok_or_else(|| format!("the kubeconfig {shown} has no context {context:?}"))?;
    let cluster_name = ctx["cluster"]
        .as_str()
        .ok_or_else(|| format!("context {context:?} names no cluster"))?;
    let (cfile, cluster) = find(&files, "clusters", "cluster", cluster_name)
        .ok_or_else(|| format!("the kubeconfig {shown} has no cluster {cluster_name:?}"))?;
    let server = cluster["server"]
        .as_str()
        .ok_or_else(|| format!("cluster {cluster_name:?} has no server"))?;
    let server = url::Url::parse(server)
        .ok()
        .filter(|u| matches!(u.scheme(), "https" | "http") && u.host_str().is_some())
        .ok_or_else(|| {
            format!("cluster {cluster_name:?}: server {server:?} is not an http(s) URL")
        })?;
    let what = |field: &str| format!("cluster {cluster_name:?}: {field}");
    let ca = if let Some(data) = cluster["certificate-authority-data"].as_str() {
        Some(pem_certs(
            &decode(data, &what("certificate-authority-data"))?,
            &what("certificate-authority-data"),
        )?)
    } else if let Some(p) = cluster["certificate-authority"].as_str() {
        Some(crate::probe::tls::load_pem(&cfile.relative(p))?)
    } else {
        None
    };
    let insecure = cluster["insecure-skip-tls-verify"]
        .as_bool()
        .unwrap_or(false);
    let mut creds = Credentials {
        server,
        ca,
        insecure,
        client_cert: None,
        auth: Auth::None,
        namespace: ctx["namespace"]
            .as_str()
            .filter(|s| !s.is_empty())
            .map(str::to_string),
        origin: format!("kubeconfig {shown}, context {context:?}"),
    };
    let Some(user_name) = ctx["user"].as_str() else {
        return Ok(creds);
    };
    let (ufile, user) = find(&files, "users", "user", user_name)
        .ok_or_else(|| format!("the kubeconfig {shown} has no user {user_name:?}"))?;
    let what = |field: &str| format!("user {user_name:?}: {field}");
    let read = |data: &str, file: &str| -> Result<Option<Vec<u8>>, String> {
        if let Some(d) = user[data].as_str() {
            return decode(d, &what(data)).map(Some);
        }
        match user[file].as_str() {
            Some(p) => {
                let p = ufile.relative(p);
                std::fs::read(&p).map(Some).map_err(|e| {
                    format!(
                        "{}: cannot read {}: {}",
                        what(file),
                        p.display(),
                        crate::probe::error::io_reason(&e)
                    )
                })
            }
            None => Ok(None),
        }
    };
    let cert = read("client-certificate-data", "client-certificate")?;
    let key = read("client-key-data", "client-key")?;
    match (cert, key) {
        (Some(cert), Some(key)) => {
            let chain = pem_certs(&cert, &what("client certificate"))?;
            let key = rustls_pemfile::private_key(&mut key.as_slice())
                .ok()
                .flatten()
                .ok_or_else(|| format!("{}: no PEM private key", what("client key")))?;
            let signer = crate::probe::tls::provider()
                .key_provider
                .load_private_key(key)
                .map_err(|e| format!("{}: {e}", what("client key")))?;
            creds.client_cert = Some(std::sync::Arc::new(rustls::sign::CertifiedKey::new(
                chain, signer,
            )));
        }
        (None, None) => {}
        _ => {
            return Err(what(
                "a client certificate needs both the certificate and the key",
            ))
        }
    }
    if let Some(t) = user["token"].as_str().filter(|t| !t.is_empty()) {
        crate::secret::register(t);
        creds.auth = Auth::Token(t.to_string());
    } else if let Some(p) = user["tokenFile"].as_str() {
        creds.auth = Auth::TokenFile(ufile.relative(p));
    } else if !user["exec"].is_badvalue() && !user["exec"].is_null() {
        let plugin = super::exec::Plugin::from_yaml(&user["exec"], ufile.path.parent())
            .map_err(|e| what(&e))?;
        creds.auth = Auth::Exec(std::sync::Arc::new(plugin));
    } else if creds.client_cert.is_none() && !user["auth-provider"].is_badvalue() {
        return Err(what("auth-provider plugins are not supported; give the user a token, a tokenFile, an exec plugin or a client certificate"));
    }
    Ok(creds)
}

fn decode(data: &str, what: &str) -> Result<Vec<u8>, String> {
    let clean: String = data.split_whitespace().collect();
    base64::engine::general_purpose::STANDARD
        .decode(clean)
        .map_err(|_| format!("{what} is not base64"))
}

fn pem_certs(pem: &[u8], what: &str) -> Result<Vec<CertificateDer<'static>>, String> {
    let certs: Vec<_> = rustls_pemfile::certs(&mut &pem[..])
        .collect::<Result<_, _>>()
        .map_err(|_| format!("{what} is not PEM"))?;
    if certs.is_empty() {
        return Err(format!("{what} holds no PEM certificate"));
    }
    Ok(certs)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn temp(tag: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("whenready-k8s-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        d
    }

    #[test]
    fn merged_kubeconfigs_first_definition_wins() {
        let d = temp("merge");
        std::fs::write(
            d.join("a"),
            "current-context: dev\ncontexts:\n- name: dev\n  context: {cluster: c, user: u, namespace: app}\n",
        )
        .unwrap();
        std::fs::write(
            d.join("b"),
            "current-context: other\nclusters:\n- name: c\n  cluster:\n    server: https://10.0.0.1:6443\n    insecure-skip-tls-verify: true\nusers:\n- name: u\n  user:\n    token: abc\n",
        )
        .unwrap();
        let list = format!(
            "{}:{}:{}",
            d.join("a").display(),
            d.join("missing").display(),
            d.join("b").display()
        );
        let c = Credentials::load(&Sources {
            kubeconfig: Some(list),
            ..Default::default()
        })
        .unwrap();
        assert_eq!(c.server.as_str(), "https://10.0.0.1:6443/");
        assert!(c.insecure);
        assert_eq!(c.namespace.as_deref(), Some("app"));
        assert!(matches!(&c.auth, Auth::Token(t) if t == "abc"));
        let _ = std::fs::remove_dir_all(&d);
    }

    #[test]
    fn broken_kubeconfigs_say_what_is_wrong() {
        let d = temp("broken");
        let cases = [
            ("a: [", "is not YAML"),
            ("clusters: []", "has no current-context"),
            ("current-context: x", "has no context \"x\""),
            ("current-context: x\ncontexts:\n- name: x\n  context: {cluster: c}\nclusters:\n- name: c\n  cluster: {server: 'ftp://h'}", "is not an http(s) URL"),
            ("current-context: x\ncontexts:\n- name: x\n  context: {cluster: c, user: u}\nclusters:\n- name: c\n  cluster: {server: 'https://h', certificate-authority-data: '!!'}", "not base64"),
            ("current-context: x\ncontexts:\n- name: x\n  context: {cluster: c, user: u}\nclusters:\n- name: c\n  cluster: {server: 'https://h'}\nusers:\n- name: u\n  user: {exec: {apiVersion: client.authentication.k8s.io/v1alpha1, command: aws}}", "is not client.authentication.k8s.io/v1 or v1beta1"),
            ("current-context: x\ncontexts:\n- name: x\n  context: {cluster: c, user: u}\nclusters:\n- name: c\n  cluster: {server: 'https://h'}\nusers:\n- name: u\n  user: {auth-provider: {name: gcp}}", "auth-provider plugins are not supported"),
        ];
        for (text, want) in cases {
            let p = d.join("config");
            std::fs::write(&p, text).unwrap();
            let e = Credentials::load(&Sources {
                kubeconfig: Some(p.display().to_string()),
                ..Default::default()
            })
            .err()
            .unwrap();
            assert!(e.contains(want), "{text:?}: {e}");
        }
        let e = Credentials::load(&Sources::default()).err().unwrap();
        assert!(e.contains("no Kubernetes credentials"), "{e}");
        let _ = std::fs::remove_dir_all(&d);
    }
}
