//! TLS client configurations (rustls with ring, no OpenSSL), built once per run, and
//! the one client handshake every protocol uses ([`connect`]).
//!
//! Verified connections trust the system's CA bundle (SSL_CERT_FILE, /etc/ssl/certs, ...)
//! plus the bundled Mozilla roots (so a `FROM scratch` image works) plus `--cacert`.
//! PostgreSQL has its own policy from `sslmode` / `sslrootcert`, built per target here.

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::WebPkiServerVerifier;
use rustls::crypto::CryptoProvider;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
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
    let config = ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .expect("ring supports the default TLS versions")
        .dangerous()
        .with_custom_certificate_verifier(verifier)
        .with_no_client_auth();
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

/// A configuration trusting the system and bundled roots; `check_name` false skips
/// the host name check (verify-ca without sslrootcert).
pub fn with_system_roots(check_name: bool) -> Arc<ClientConfig> {
    with_store(system_roots(), check_name)
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
pub fn server_name(host: &crate::target::Host) -> Result<ServerName<'static>, String> {
    match host {
        crate::target::Host::Ip(ip) => Ok(ServerName::IpAddress((*ip).into())),
        crate::target::Host::Name(n) => ServerName::try_from(n.clone())
            .map_err(|_| format!("{n:?} is not a valid TLS server name")),
    }
}

/// The TLS handshake over `stream` to `host`, for every protocol: a rejected
/// certificate is permanent, any other failure transient.
pub async fn connect<S>(
    stream: S,
    host: &crate::target::Host,
    config: Arc<ClientConfig>,
) -> Result<tokio_rustls::client::TlsStream<S>, super::ProbeError>
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
