//! TLS client configurations (rustls with ring, no OpenSSL), built once per run, and
//! the one client handshake every protocol uses ([`connect`]).
//!
//! Verified connections trust the system's CA bundle (SSL_CERT_FILE, /etc/ssl/certs, ...)
//! plus the bundled Mozilla roots (so a `FROM scratch` image works) plus `--cacert`.
//! PostgreSQL has its own policy from `sslmode` / `sslrootcert`, built per target here.
//!
//! Client certificates (mTLS): `--cert`/`--key` set the run's [`Identity`] once
//! ([`set_default_identity`]), and every configuration built here presents it, so
//! every kind that speaks TLS (https, rediss, postgres, mysql, amqps, nats, mqtts)
//! gets it in one place. A target's own certificate (postgres `sslcert`, rediss
//! `?cert=`, https `#cert=`) replaces it for that target ([`with_identity`]).

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::{ResolvesClientCert, WebPkiServerVerifier};
use rustls::crypto::CryptoProvider;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::sign::CertifiedKey;
use rustls::{
    CertificateError, ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme,
};
use std::path::Path;
use std::sync::{Arc, OnceLock};

/// The crypto provider: ring, compiled in, so no process-wide default is needed.
pub fn provider() -> Arc<CryptoProvider> {
    static P: OnceLock<Arc<CryptoProvider>> = OnceLock::new();
    P.get_or_init(|| Arc::new(rustls::crypto::ring::default_provider()))
        .clone()
}

/// Reads the certificates of a PEM file; the error names the file.
pub fn load_pem(path: &Path) -> Result<Vec<CertificateDer<'static>>, String> {
    let data = std::fs::read(path).map_err(|e| {
        format!(
            "cannot read {}: {}",
            path.display(),
            super::error::io_reason(&e)
        )
    })?;
    let certs: Vec<_> = rustls_pemfile::certs(&mut data.as_slice())
        .collect::<Result<_, _>>()
        .map_err(|e| format!("{} is not a PEM certificate file: {e}", path.display()))?;
    if certs.is_empty() {
        return Err(format!("{} holds no PEM certificate", path.display()));
    }
    Ok(certs)
}

/// A target's own client certificate (`#cert=`, `?cert=`, `sslcert`), loaded by the
/// target's `prepare` before the first attempt, with the warning its key's
/// permissions earned.
#[derive(Debug, Default)]
pub struct TargetIdentity {
    identity: OnceLock<Arc<Identity>>,
    warnings: OnceLock<Vec<String>>,
}

impl TargetIdentity {
    /// Loads the certificate and key `files`, when the target has them; a bad file is
    /// an error that reads `invalid WHAT: why`.
    pub fn load(&self, files: Option<(&Path, &Path)>, what: &str) -> Result<(), String> {
        let mut warnings = Vec::new();
        if let Some((cert, key)) = files {
            let identity = Identity::load(cert, key).map_err(|e| format!("invalid {what}: {e}"))?;
            warnings.extend(key_permission_warning(key));
            let _ = self.identity.set(Arc::new(identity));
        }
        let _ = self.warnings.set(warnings);
        Ok(())
    }

    /// The loaded identity, if the target has one.
    pub fn get(&self) -> Option<&Arc<Identity>> {
        self.identity.get()
    }

    /// What loading found worth a warning (a key readable by others).
    pub fn warnings(&self) -> Vec<String> {
        self.warnings.get().cloned().unwrap_or_default()
    }
}

/// A client certificate chain with its private key, presented to servers that ask.
#[derive(Debug)]
pub struct Identity(Arc<CertifiedKey>);

impl Identity {
    /// Reads a PEM certificate chain and its PEM private key (PKCS#8, PKCS#1 or
    /// SEC1); the error names the file and says what is wrong with it.
    pub fn load(cert: &Path, key: &Path) -> Result<Identity, String> {
        let chain = load_pem(cert)?;
        let data = std::fs::read(key).map_err(|e| {
            format!(
                "cannot read {}: {}",
                key.display(),
                super::error::io_reason(&e)
            )
        })?;
        let der = rustls_pemfile::private_key(&mut data.as_slice())
            .map_err(|e| format!("{} is not a PEM private key file: {e}", key.display()))?
            .ok_or_else(|| {
                let encrypted = data.windows(b"ENCRYPTED".len()).any(|w| w == b"ENCRYPTED");
                if encrypted {
                    format!(
                        "{} holds an encrypted private key: give it without a passphrase",
                        key.display()
                    )
                } else {
                    format!("{} holds no PEM private key", key.display())
                }
            })?;
        let signer = provider()
            .key_provider
            .load_private_key(der)
            .map_err(|e| format!("{}: unusable private key: {e}", key.display()))?;
        let certified = CertifiedKey::new(chain, signer);
        certified.keys_match().map_err(|_| {
            format!(
                "the key in {} does not belong to the certificate in {}",
                key.display(),
                cert.display()
            )
        })?;
        Ok(Identity(Arc::new(certified)))
    }
}

impl ResolvesClientCert for Identity {
    fn resolve(&self, _hints: &[&[u8]], _schemes: &[SignatureScheme]) -> Option<Arc<CertifiedKey>> {
        Some(self.0.clone())
    }
    fn has_certs(&self) -> bool {
        true
    }
}

/// libpq's rule for a private key file, as a warning: group or others may not
/// read it (mode 0600 or less), except that a root-owned file may be readable by
/// its group (0640 or less). libpq refuses such a file; whenready only warns,
/// because it is a gate, not the client that will use the key (see README).
pub fn key_permission_warning(key: &Path) -> Option<String> {
    use std::os::unix::fs::MetadataExt;
    let meta = std::fs::metadata(key).ok()?;
    let mode = meta.mode();
    let loose = if meta.uid() == 0 {
        mode & 0o037 != 0
    } else {
        mode & 0o077 != 0
    };
    loose.then(|| {
        format!(
            "private key file \"{}\" has group or world access; it should have permissions u=rw (0600) or less if owned by the current user, or u=rw,g=r (0640) or less if owned by root (libpq refuses it)",
            key.display()
        )
    })
}

/// The run's client certificate (`--cert`/`--key`), if any: set once before the
/// first attempt, presented by every configuration built afterwards.
static DEFAULT_IDENTITY: OnceLock<Arc<Identity>> = OnceLock::new();

/// Sets the run's client certificate (`--cert`/`--key`); call before any
/// configuration is built (a run sets it at most once).
pub fn set_default_identity(identity: Identity) {
    let _ = DEFAULT_IDENTITY.set(Arc::new(identity));
}

/// `config` presenting `identity` instead of the run's client certificate (a
/// target's own certificate). Sessions are not resumed across identities.
pub fn with_identity(config: Arc<ClientConfig>, identity: &Arc<Identity>) -> Arc<ClientConfig> {
    let mut config = (*config).clone();
    config.client_auth_cert_resolver = identity.clone();
    config.resumption = rustls::client::Resumption::default();
    Arc::new(config)
}

/// TLS settings shared by all targets of a run.
pub struct Tls {
    extra: Vec<CertificateDer<'static>>,
    insecure: bool,
    verified: OnceLock<Arc<ClientConfig>>,
}

impl Tls {
    /// Settings with extra trusted CAs (`--cacert`) and `--insecure`.
    pub fn new(extra: Vec<CertificateDer<'static>>, insecure: bool) -> Self {
        Tls {
            extra,
            insecure,
            verified: OnceLock::new(),
        }
    }

    /// The configuration for https and rediss: verified against system, bundled and
    /// extra roots, or not verified at all with `--insecure`.
    pub fn verified(&self) -> Arc<ClientConfig> {
        if self.insecure {
            return unverified();
        }
        self.verified
            .get_or_init(|| {
                let mut roots = system_roots();
                for c in &self.extra {
                    let _ = roots.add(c.clone());
                }
                with_store(roots, true)
            })
            .clone()
    }
}

/// The system's CA bundle plus the bundled Mozilla roots. The bundle is read and
/// parsed once per run (about 12 ms), however many targets and attempts use it.
fn system_roots() -> RootCertStore {
    static ROOTS: OnceLock<RootCertStore> = OnceLock::new();
    ROOTS
        .get_or_init(|| {
            let mut roots = RootCertStore::empty();
            roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
            // Unreadable or absent bundles are normal in FROM scratch images.
            let native = rustls_native_certs::load_native_certs();
            roots.add_parsable_certificates(native.certs);
            roots
        })
        .clone()
}

fn build(verifier: Arc<dyn ServerCertVerifier>) -> Arc<ClientConfig> {
    let builder = ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .expect("ring supports the default TLS versions")
        .dangerous()
        .with_custom_certificate_verifier(verifier);
    let config = match DEFAULT_IDENTITY.get() {
        Some(identity) => builder.with_client_cert_resolver(identity.clone()),
        None => builder.with_no_client_auth(),
    };
    Arc::new(config)
}

/// A configuration that accepts any certificate (`--insecure`, sslmode prefer/require).
pub fn unverified() -> Arc<ClientConfig> {
    static C: OnceLock<Arc<ClientConfig>> = OnceLock::new();
    C.get_or_init(|| build(Arc::new(ACCEPT_ALL))).clone()
}

/// A configuration trusting only `roots`; `check_name` false is libpq's verify-ca.
pub fn with_roots(roots: &[CertificateDer<'static>], check_name: bool) -> Arc<ClientConfig> {
    let mut store = RootCertStore::empty();
    store.add_parsable_certificates(roots.iter().cloned());
    with_store(store, check_name)
}

/// A configuration trusting the system and bundled roots, the host name checked:
/// libpq's `sslrootcert=system` (allowed with verify-full only, since a publicly
/// trusted certificate proves nothing without its name).
pub fn with_system_roots() -> Arc<ClientConfig> {
    with_store(system_roots(), true)
}

/// The system and bundled roots without the host name check: only for an explicit
/// request of the user's (MongoDB's `tlsAllowInvalidHostnames`), since then any
/// publicly trusted certificate passes.
pub fn with_system_roots_any_name() -> Arc<ClientConfig> {
    with_store(system_roots(), false)
}

fn with_store(store: RootCertStore, check_name: bool) -> Arc<ClientConfig> {
    match WebPkiServerVerifier::builder_with_provider(Arc::new(store), provider()).build() {
        Ok(v) if check_name => build(v),
        Ok(v) => build(Arc::new(IgnoreName(v))),
        // Only an empty root store fails here; nothing then can be verified.
        Err(_) => build(Arc::new(REJECT_ALL)),
    }
}

fn supported_schemes() -> Vec<SignatureScheme> {
    provider()
        .signature_verification_algorithms
        .supported_schemes()
}

fn verify12(
    message: &[u8],
    cert: &CertificateDer<'_>,
    dss: &DigitallySignedStruct,
) -> Result<HandshakeSignatureValid, rustls::Error> {
    rustls::crypto::verify_tls12_signature(
        message,
        cert,
        dss,
        &provider().signature_verification_algorithms,
    )
}

fn verify13(
    message: &[u8],
    cert: &CertificateDer<'_>,
    dss: &DigitallySignedStruct,
) -> Result<HandshakeSignatureValid, rustls::Error> {
    rustls::crypto::verify_tls13_signature(
        message,
        cert,
        dss,
        &provider().signature_verification_algorithms,
    )
}

/// A verifier with a fixed answer for the certificate (handshake signatures are
/// still checked): accept-all for `--insecure` and sslmode prefer/require, reject-all
/// when no usable root exists.
#[derive(Debug)]
struct Fixed {
    accept: bool,
}

const ACCEPT_ALL: Fixed = Fixed { accept: true };
const REJECT_ALL: Fixed = Fixed { accept: false };

impl ServerCertVerifier for Fixed {
    fn verify_server_cert(
        &self,
        _: &CertificateDer<'_>,
        _: &[CertificateDer<'_>],
        _: &ServerName<'_>,
        _: &[u8],
        _: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        if self.accept {
            Ok(ServerCertVerified::assertion())
        } else {
            Err(rustls::Error::InvalidCertificate(
                CertificateError::UnknownIssuer,
            ))
        }
    }
    fn verify_tls12_signature(
        &self,
        m: &[u8],
        c: &CertificateDer<'_>,
        d: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify12(m, c, d)
    }
    fn verify_tls13_signature(
        &self,
        m: &[u8],
        c: &CertificateDer<'_>,
        d: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify13(m, c, d)
    }
    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        supported_schemes()
    }
}

/// libpq's verify-ca: the chain must lead to a trusted root; the name is not checked.
#[derive(Debug)]
struct IgnoreName(Arc<WebPkiServerVerifier>);

impl ServerCertVerifier for IgnoreName {
    fn verify_server_cert(
        &self,
        end: &CertificateDer<'_>,
        inter: &[CertificateDer<'_>],
        name: &ServerName<'_>,
        ocsp: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        match self.0.verify_server_cert(end, inter, name, ocsp, now) {
            Err(rustls::Error::InvalidCertificate(
                CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. },
            )) => Ok(ServerCertVerified::assertion()),
            other => other,
        }
    }
    fn verify_tls12_signature(
        &self,
        m: &[u8],
        c: &CertificateDer<'_>,
        d: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls12_signature(m, c, d)
    }
    fn verify_tls13_signature(
        &self,
        m: &[u8],
        c: &CertificateDer<'_>,
        d: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls13_signature(m, c, d)
    }
    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.supported_verify_schemes()
    }
}

/// The name to present (SNI) and verify for a host.
pub fn server_name(host: &crate::endpoint::Host) -> Result<ServerName<'static>, String> {
    match host {
        crate::endpoint::Host::Ip(ip) => Ok(ServerName::IpAddress((*ip).into())),
        crate::endpoint::Host::Name(n) => ServerName::try_from(n.clone())
            .map_err(|_| format!("{n:?} is not a valid TLS server name")),
    }
}

/// The TLS handshake over `stream` to `host`, for every protocol: a rejected
/// certificate is permanent, any other failure transient.
pub async fn connect<S>(
    stream: S,
    host: &crate::endpoint::Host,
    config: Arc<ClientConfig>,
) -> Result<tokio_rustls::client::TlsStream<S>, super::error::ProbeError>
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    use super::error::{io_reason, tls_failure, ProbeError};
    let name = server_name(host).map_err(ProbeError::permanent)?;
    tokio_rustls::TlsConnector::from(config)
        .connect(name, stream)
        .await
        .map_err(|e| {
            tls_failure(&e).unwrap_or_else(|| {
                ProbeError::transient(format!("TLS handshake failed: {}", io_reason(&e)))
            })
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::{MetadataExt, PermissionsExt};

    #[test]
    fn key_permissions_follow_libpq() {
        let path = std::env::temp_dir().join(format!("whenready-key-{}", std::process::id()));
        std::fs::write(&path, "").unwrap();
        let root = std::fs::metadata(&path).unwrap().uid() == 0;
        for (mode, warn_user, warn_root) in [
            (0o600, false, false),
            (0o400, false, false),
            (0o640, true, false),
            (0o660, true, true),
            (0o644, true, true),
            (0o604, true, true),
        ] {
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).unwrap();
            let warned = key_permission_warning(&path);
            let expected = if root { warn_root } else { warn_user };
            assert_eq!(warned.is_some(), expected, "{mode:o}: {warned:?}");
            if let Some(w) = warned {
                assert!(
                    w.contains("has group or world access") && !w.contains('\n'),
                    "{w}"
                );
            }
        }
        std::fs::remove_file(&path).unwrap();
        assert!(key_permission_warning(&path).is_none());
    }
}
