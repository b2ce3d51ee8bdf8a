//! Certificates for the TLS tests (a CA and server certificates made per test) and
//! TLS servers built from them.
#![allow(dead_code)]

use super::*;
use std::io::Write;
use std::path::PathBuf;
use std::sync::Arc;

// ---------------------------------------------------------------- certificates

/// A test CA and a server certificate for `localhost` and 127.0.0.1, as PEM files.
pub struct Certs {
    /// The directory holding the files.
    pub dir: TempDir,
    /// The CA certificate (PEM).
    pub ca: PathBuf,
    /// The server certificate (PEM).
    pub cert: PathBuf,
    /// The server key (PEM).
    pub key: PathBuf,
    /// The certificate in DER, for rustls servers.
    pub cert_der: Vec<u8>,
    /// The key in DER (PKCS#8), for rustls servers.
    pub key_der: Vec<u8>,
    /// A client certificate for the user `app` (CN=app), signed by the CA (PEM).
    pub client_cert: PathBuf,
    /// Its key (PEM, mode 0600).
    pub client_key: PathBuf,
}

/// Makes a CA and a server certificate signed by it, valid for `names`.
pub fn certs(names: &[&str]) -> Certs {
    use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, KeyPair, SanType};
    let dir = TempDir::new("certs");
    let ca_key = KeyPair::generate().unwrap();
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params
        .distinguished_name
        .push(DnType::CommonName, "whenready test CA");
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let ca = ca_params.self_signed(&ca_key).unwrap();
    let issuer = rcgen::Issuer::new(ca_params, ca_key);
    let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
    params.distinguished_name.push(DnType::CommonName, names[0]);
    for n in names {
        params
            .subject_alt_names
            .push(match n.parse::<std::net::IpAddr>() {
                Ok(ip) => SanType::IpAddress(ip),
                Err(_) => SanType::DnsName((*n).try_into().unwrap()),
            });
    }
    let key = KeyPair::generate().unwrap();
    let cert = params.signed_by(&key, &issuer).unwrap();
    let write = |name: &str, data: &str| {
        let p = dir.join(name);
        std::fs::write(&p, data).unwrap();
        p
    };
    let mut client = CertificateParams::new(Vec::<String>::new()).unwrap();
    client.distinguished_name.push(DnType::CommonName, "app");
    let client_key = KeyPair::generate().unwrap();
    let client_cert = client.signed_by(&client_key, &issuer).unwrap();
    let client_key_path = write("client.key", &client_key.serialize_pem());
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&client_key_path, std::fs::Permissions::from_mode(0o600)).unwrap();
    }
    Certs {
        client_cert: write("client.crt", &client_cert.pem()),
        client_key: client_key_path,
        ca: write("ca.pem", &ca.pem()),
        cert: write("server.crt", &cert.pem()),
        key: write("server.key", &key.serialize_pem()),
        cert_der: cert.der().to_vec(),
        key_der: key.serialize_der(),
        dir,
    }
}

/// A rustls server configuration for the certificate.
pub fn tls_server(certs: &Certs) -> Arc<rustls::ServerConfig> {
    use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(
            vec![CertificateDer::from(certs.cert_der.clone())],
            PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(certs.key_der.clone())),
        )
        .unwrap();
    Arc::new(config)
}

/// An HTTPS server answering every GET with `status`.
pub fn https(certs: &Certs, status: u16) -> Fake {
    let config = tls_server(certs);
    Fake::start(move |s, _| {
        let conn = rustls::ServerConnection::new(config.clone()).unwrap();
        let mut tls = rustls::StreamOwned::new(conn, s);
        read_request(&mut tls);
        respond(&mut tls, status, "", "ok\n");
        tls.conn.send_close_notify();
        let _ = tls.flush();
    })
}
