//! `mongodb://` and `mongodb+srv://` connection strings, as MongoDB's
//! connection-string specification writes them:
//! `mongodb://[USER:PASSWORD@]HOST[:PORT][,HOST[:PORT]…][/[DB]][?OPTIONS]`, and
//! `mongodb+srv://[USER:PASSWORD@]NAME[/[DB]][?OPTIONS]` (one name, no port).
//!
//! The options that change what the probe does are read (`authSource`,
//! `authMechanism`, `replicaSet`, `tls`/`ssl`, `tlsCAFile`,
//! `tlsCertificateKeyFile`, `tlsAllowInvalidCertificates`,
//! `tlsAllowInvalidHostnames`, `tlsInsecure`, `loadBalanced`, `srvServiceName`);
//! the other options of the specification (pools, timeouts, read and write
//! concerns, ...) are accepted and ignored, so that an application's own
//! connection string works as it is; an option the specification does not know is
//! a usage error (a typo), as are options whenready cannot honour (another
//! authentication mechanism, a proxy, an encrypted key).

use crate::endpoint::{decode, Endpoint, Host};
use crate::probe::cluster::host_list;
use crate::probe::scram::KeyCache;
use crate::probe::tls::TargetIdentity;
use std::path::PathBuf;
use std::sync::{Arc, OnceLock};
use url::Url;

/// The port of a host without one.
pub const DEFAULT_PORT: u16 = 27017;

const FORM: &str = "mongodb://[USER:PASSWORD@]HOST[:PORT][,HOST...][/DB][?authSource=&replicaSet=&tls=true] or mongodb+srv://[USER:PASSWORD@]NAME[/DB][?OPTIONS]";

/// The SCRAM mechanism, when the URL names one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mechanism {
    /// SCRAM-SHA-1.
    Sha1,
    /// SCRAM-SHA-256.
    Sha256,
}

/// Where the servers come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Seeds {
    /// The URL's hosts.
    Hosts(Vec<Endpoint>),
    /// `mongodb+srv://NAME`: SRV records of `_SERVICE._tcp.NAME` (and options from
    /// its TXT record), looked up at every attempt.
    Srv {
        /// The name (lowercase ASCII).
        name: String,
        /// The service (`srvServiceName`, default `mongodb`).
        service: String,
    },
}

/// Options that may also come from an SRV name's TXT record.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Shared {
    /// `authSource`.
    pub auth_source: Option<String>,
    /// `replicaSet`.
    pub replica_set: Option<String>,
    /// `loadBalanced`.
    pub load_balanced: Option<bool>,
}

/// The TLS settings of a target.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TlsOptions {
    /// TLS at all.
    pub enabled: bool,
    /// `tlsCAFile`: the roots, instead of the system's and `--cacert`'s.
    pub ca_file: Option<PathBuf>,
    /// `tlsCertificateKeyFile`: the client certificate and its key, in one file.
    pub cert_key_file: Option<PathBuf>,
    /// `tlsAllowInvalidCertificates` or `tlsInsecure`: nothing verified.
    pub insecure: bool,
    /// `tlsAllowInvalidHostnames`: the chain verified, not the name.
    pub any_name: bool,
}

/// A parsed `mongodb://` or `mongodb+srv://` target.
pub struct MongoTarget {
    /// The seeds.
    pub seeds: Seeds,
    /// User and password, when given.
    pub credentials: Option<(String, Arc<str>)>,
    /// The database of the URL's path (the default `authSource`).
    pub database: Option<String>,
    /// `authMechanism`.
    pub mechanism: Option<Mechanism>,
    /// Options a TXT record may also give; the URL's win.
    pub shared: Shared,
    /// TLS.
    pub tls: TlsOptions,
    /// The CA file's certificates, read before the first attempt.
    pub ca: OnceLock<Vec<rustls::pki_types::CertificateDer<'static>>>,
    /// The client certificate, read before the first attempt.
    pub identity: TargetIdentity,
    /// SCRAM keys kept between attempts.
    pub keys: KeyCache,
}

impl std::fmt::Debug for MongoTarget {
    // Never shows the password.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MongoTarget")
            .field("seeds", &self.seeds)
            .field(
                "credentials",
                &self
                    .credentials
                    .as_ref()
                    .map(|(u, _)| format!("{u:?} with password ***")),
            )
            .field("database", &self.database)
            .field("mechanism", &self.mechanism)
            .field("shared", &self.shared)
            .field("tls", &self.tls)
            .finish()
    }
}

/// Options of the specification that do not change what the probe does
/// (lowercase).
const IGNORED: &[&str] = &[
    "appname",
    "authmechanismproperties",
    "compressors",
    "connecttimeoutms",
    "directconnection",
    "heartbeatfrequencyms",
    "journal",
    "localthresholdms",
    "maxconnecting",
    "maxidletimems",
    "maxpoolsize",
    "maxstalenessseconds",
    "minpoolsize",
    "readconcernlevel",
    "readpreference",
    "readpreferencetags",
    "retryreads",
    "retrywrites",
    "servermonitoringmode",
    "serverselectiontimeoutms",
    "serverselectiontryonce",
    "sockettimeoutms",
    "srvmaxhosts",
    "timeoutms",
    "tlsdisablecertificaterevocationcheck",
    "tlsdisableocspendpointcheck",
    "uuidrepresentation",
    "w",
    "waitqueuetimeoutms",
    "wtimeoutms",
    "zlibcompressionlevel",
];

/// A boolean option's value.
fn boolean(key: &str, v: &str) -> Result<bool, String> {
    match v.to_ascii_lowercase().as_str() {
        "true" => Ok(true),
        "false" => Ok(false),
        _ => Err(format!("invalid {key} value {v:?}: expected true or false")),
    }
}

/// Reads the `authSource`, `replicaSet` and `loadBalanced` options of `pairs`
/// into `shared`; other keys go to `other`. Names are compared without case.
pub fn shared_option(shared: &mut Shared, key: &str, value: &str) -> Result<bool, String> {
    match key.to_ascii_lowercase().as_str() {
        "authsource" => {
            if value.is_empty() {
                return Err("authSource is empty".into());
            }
            shared.auth_source = Some(value.to_string());
        }
        "replicaset" => {
            if value.is_empty() {
                return Err("replicaSet is empty".into());
            }
            shared.replica_set = Some(value.to_string());
        }
        "loadbalanced" => shared.load_balanced = Some(boolean(key, value)?),
        _ => return Ok(false),
    }
    Ok(true)
}

/// Parses the text of a `mongodb://` or `mongodb+srv://` target. Errors never
/// contain the password.
pub fn parse(text: &str) -> Result<MongoTarget, String> {
    let (scheme, rest) = text
        .split_once("://")
        .ok_or_else(|| format!("expected {FORM}"))?;
    let srv = scheme.eq_ignore_ascii_case("mongodb+srv");
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(end);
    if tail.contains('#') {
        return Err("a mongodb target takes no #fragment".into());
    }
    let (userinfo, hosts) = match authority.rfind('@') {
        Some(at) => (Some(&authority[..at]), &authority[at + 1..]),
        None => (None, authority),
    };
    if hosts.contains(".sock") || hosts.starts_with("%2F") || hosts.starts_with("%2f") {
        return Err("Unix domain sockets are not supported: give HOST[:PORT]".into());
    }
    if !tail.is_empty() && !tail.starts_with('/') {
        // mongodb://host?x=1: the specification wants the slash.
        return Err(format!("write a / before the options: {FORM}"));
    }
    let stand_in = format!(
        "mongodb://{}x{tail}",
        userinfo.map(|u| format!("{u}@")).unwrap_or_default()
    );
    let url = Url::parse(&stand_in).map_err(|e| e.to_string())?;
    let database = match decode(url.path().trim_start_matches('/')) {
        d if d.is_empty() => None,
        d if d.contains(['/', '\\', ' ', '"', '$', '.']) => {
            return Err(format!("invalid database name {d:?}"))
        }
        d => Some(d),
    };
    let mut shared = Shared::default();
    let mut tls = TlsOptions {
        enabled: srv,
        ..TlsOptions::default()
    };
    let mut tls_seen: Option<bool> = None;
    let mut mechanism = None;
    let mut service = None;
    for (key, value) in url.query_pairs() {
        if shared_option(&mut shared, &key, &value)? {
            continue;
        }
        let lower = key.to_ascii_lowercase();
        match lower.as_str() {
            "tls" | "ssl" => {
                let v = boolean(&key, &value)?;
                if tls_seen.is_some_and(|s| s != v) {
                    return Err("tls and ssl disagree".into());
                }
                tls_seen = Some(v);
            }
            "tlscafile" => tls.ca_file = Some(PathBuf::from(&*value)),
            "tlscertificatekeyfile" => tls.cert_key_file = Some(PathBuf::from(&*value)),
            "tlsallowinvalidcertificates" | "tlsinsecure" => {
                tls.insecure |= boolean(&key, &value)?
            }
            "tlsallowinvalidhostnames" => tls.any_name = boolean(&key, &value)?,
            "tlscertificatekeyfilepassword" => {
                return Err(
                    "an encrypted tlsCertificateKeyFile is not supported: give the key without a passphrase".into(),
                )
            }
            "proxyhost" | "proxyport" | "proxyusername" | "proxypassword" => {
                return Err("a SOCKS5 proxy (proxyHost) is not supported".into())
            }
            "authmechanism" => {
                mechanism = Some(match value.to_ascii_uppercase().as_str() {
                    "SCRAM-SHA-1" => Mechanism::Sha1,
                    "SCRAM-SHA-256" => Mechanism::Sha256,
                    other => {
                        return Err(format!(
                            "authMechanism {other} is not supported: whenready speaks SCRAM-SHA-256 and SCRAM-SHA-1"
                        ))
                    }
                })
            }
            "srvservicename" if srv => {
                let ok = !value.is_empty()
                    && value.len() <= 62
                    && value
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b == b'-');
                if !ok {
                    return Err(format!("invalid srvServiceName {value:?}"));
                }
                service = Some(value.to_ascii_lowercase());
            }
            "srvservicename" | "srvmaxhosts" if !srv => {
                return Err(format!("{key} needs mongodb+srv://"));
            }
            k if IGNORED.contains(&k) => {}
            _ => {
                return Err(format!(
                    "unknown option {key:?}: see MongoDB's connection string options"
                ))
            }
        }
    }
    if let Some(v) = tls_seen {
        tls.enabled = v;
    }
    if !tls.enabled
        && (tls.ca_file.is_some() || tls.cert_key_file.is_some() || tls.insecure || tls.any_name)
    {
        return Err("TLS options need tls=true".into());
    }
    let seeds = if srv {
        let one = host_list(hosts, DEFAULT_PORT)?;
        match (one.as_slice(), hosts.contains(':') || hosts.contains(',')) {
            (
                [Endpoint {
                    host: Host::Name(name),
                    ..
                }],
                false,
            ) => Seeds::Srv {
                name: name.clone(),
                service: service.unwrap_or_else(|| "mongodb".into()),
            },
            _ => return Err("mongodb+srv:// takes one host name, without a port".into()),
        }
    } else {
        Seeds::Hosts(host_list(hosts, DEFAULT_PORT)?)
    };
    let user = decode(url.username());
    let credentials = match url.password().map(decode) {
        Some(_) if user.is_empty() => return Err("missing user name before the password".into()),
        Some(p) => Some((user, Arc::from(p))),
        None if user.is_empty() => None,
        None => return Err("missing password: write USER:PASSWORD@HOST".into()),
    };
    if credentials.is_none() && mechanism.is_some() {
        return Err("authMechanism needs USER:PASSWORD@".into());
    }
    Ok(MongoTarget {
        seeds,
        credentials,
        database,
        mechanism,
        shared,
        tls,
        ca: OnceLock::new(),
        identity: TargetIdentity::default(),
        keys: KeyCache::default(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forms() {
        let t = parse("mongodb://h").unwrap();
        assert_eq!(
            t.seeds,
            Seeds::Hosts(vec![Endpoint {
                host: Host::Name("h".into()),
                port: 27017
            }])
        );
        assert!(t.credentials.is_none() && !t.tls.enabled);
        let t = parse(
            "mongodb://u%40x:p%3Aw@a:1,b/app?replicaSet=rs0&authSource=admin&tls=true&retryWrites=true&w=majority&appName=x",
        )
        .unwrap();
        let Seeds::Hosts(h) = &t.seeds else { panic!() };
        assert_eq!(h.len(), 2);
        let (u, p) = t.credentials.as_ref().unwrap();
        assert_eq!((u.as_str(), &**p), ("u@x", "p:w"));
        assert_eq!(t.database.as_deref(), Some("app"));
        assert_eq!(t.shared.replica_set.as_deref(), Some("rs0"));
        assert_eq!(t.shared.auth_source.as_deref(), Some("admin"));
        assert!(t.tls.enabled);
        assert!(!format!("{t:?}").contains("p:w"));
        let t = parse("mongodb+srv://u:p@cluster0.example.net/?authMechanism=SCRAM-SHA-1").unwrap();
        assert_eq!(
            t.seeds,
            Seeds::Srv {
                name: "cluster0.example.net".into(),
                service: "mongodb".into()
            }
        );
        assert!(t.tls.enabled, "mongodb+srv:// implies TLS");
        assert_eq!(t.mechanism, Some(Mechanism::Sha1));
        let t = parse("mongodb+srv://c.example.net/?tls=false&srvServiceName=db").unwrap();
        assert!(!t.tls.enabled);
        assert!(matches!(t.seeds, Seeds::Srv { ref service, .. } if service == "db"));
        let t = parse("mongodb://h/?SSL=TRUE&TLSAllowInvalidHostnames=true").unwrap();
        assert!(t.tls.enabled && t.tls.any_name);
    }

    #[test]
    fn bad_forms_say_why_without_the_password() {
        for (text, why) in [
            ("mongodb://", "missing host"),
            ("mongodb://h:0", "invalid port"),
            ("mongodb://h?replicaSet=x", "a / before the options"),
            ("mongodb://h/?replicaSet=", "replicaSet is empty"),
            ("mongodb://h/?bogus=1", "unknown option \"bogus\""),
            ("mongodb://h/?tls=maybe", "expected true or false"),
            ("mongodb://h/?tls=true&ssl=false", "disagree"),
            ("mongodb://h/?tlsCAFile=/x", "need tls=true"),
            ("mongodb://u:s3cret@h/?authMechanism=PLAIN", "not supported"),
            (
                "mongodb://u:s3cret@h/?authMechanism=MONGODB-X509",
                "not supported",
            ),
            ("mongodb://u:s3cret@h/?proxyHost=p", "proxy"),
            ("mongodb://u@h", "missing password"),
            ("mongodb://:s3cret@h", "missing user name"),
            (
                "mongodb://h/?authMechanism=SCRAM-SHA-1",
                "needs USER:PASSWORD@",
            ),
            ("mongodb://h/?srvServiceName=x", "needs mongodb+srv"),
            ("mongodb+srv://a.example.com:27017", "without a port"),
            ("mongodb+srv://a.example.com,b.example.com", "one host name"),
            ("mongodb+srv://127.0.0.1", "one host name"),
            (
                "mongodb+srv://a.b.c/?srvServiceName=a_b",
                "invalid srvServiceName",
            ),
            (
                "mongodb://%2Ftmp%2Fmongodb-27017.sock",
                "Unix domain sockets",
            ),
            ("mongodb://h/a.b", "invalid database name"),
            ("mongodb://u:s3cret@h#x", "fragment"),
        ] {
            let e = parse(text).unwrap_err();
            assert!(e.contains(why), "{text}: {e}");
            assert!(!e.contains("s3cret"), "{text}: {e}");
        }
    }
}
