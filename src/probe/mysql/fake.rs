//! Test helpers for the session tests: a target, a fake server's side of the wire
//! over an in-memory pipe (packets, greeting, TLS), and RSA keys made by openssl.

use super::packet::*;
use super::session::session;
use super::*;
use rustls::pki_types::CertificateDer;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, DuplexStream};

pub(super) fn target(password: Option<&str>, database: Option<&str>) -> MysqlTarget {
    MysqlTarget {
        endpoint: Endpoint {
            host: Host::Name("localhost".into()),
            port: 3306,
        },
        user: "app".into(),
        password: password.map(str::to_string),
        database: database.map(str::to_string),
        ssl_mode: SslMode::Disabled,
        ssl_ca: None,
        get_server_public_key: false,
        expect: None,
    }
}

pub(super) const NONCE: [u8; 20] = [
    1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20,
];

pub(super) async fn send<S: AsyncWrite + Unpin>(s: &mut S, seq: u8, payload: &[u8]) {
    let mut p = (payload.len() as u32).to_le_bytes()[..3].to_vec();
    p.push(seq);
    p.extend_from_slice(payload);
    s.write_all(&p).await.unwrap();
}

pub(super) async fn recv<S: AsyncRead + Unpin>(s: &mut S) -> (u8, Vec<u8>) {
    let mut h = [0u8; 4];
    s.read_exact(&mut h).await.unwrap();
    let len = usize::from(h[0]) | usize::from(h[1]) << 8 | usize::from(h[2]) << 16;
    let mut p = vec![0u8; len];
    s.read_exact(&mut p).await.unwrap();
    (h[3], p)
}

pub(super) fn greeting(plugin: &str, caps: u32) -> Vec<u8> {
    let mut g = vec![10];
    g.extend_from_slice(b"8.0.36\0");
    g.extend_from_slice(&7u32.to_le_bytes());
    g.extend_from_slice(&NONCE[..8]);
    g.push(0);
    g.extend_from_slice(&(caps as u16).to_le_bytes());
    g.push(45);
    g.extend_from_slice(&2u16.to_le_bytes());
    g.extend_from_slice(&((caps >> 16) as u16).to_le_bytes());
    g.push(21);
    g.extend_from_slice(&[0; 10]);
    g.extend_from_slice(&NONCE[8..]);
    g.push(0);
    g.extend_from_slice(plugin.as_bytes());
    g.push(0);
    g
}

pub(super) const SERVER_CAPS: u32 = CLIENT_LONG_PASSWORD
    | CLIENT_CONNECT_WITH_DB
    | CLIENT_PROTOCOL_41
    | CLIENT_TRANSACTIONS
    | CLIENT_SECURE_CONNECTION
    | CLIENT_PLUGIN_AUTH
    | CLIENT_PLUGIN_AUTH_LENENC_CLIENT_DATA;

pub(super) const OK: &[u8] = &[0, 0, 0, 2, 0, 0, 0];

/// The parts of a HandshakeResponse41: user, auth data, database, plugin.
pub(super) fn response_parts(p: &[u8]) -> (String, Vec<u8>, Option<String>, String) {
    let caps = u32::from_le_bytes([p[0], p[1], p[2], p[3]]);
    let mut r = Reader(&p[32..]);
    let user = String::from_utf8(r.cstr().to_vec()).unwrap();
    let n = usize::from(r.u8().unwrap());
    let auth = r.take(n).unwrap().to_vec();
    let db =
        (caps & CLIENT_CONNECT_WITH_DB != 0).then(|| String::from_utf8(r.cstr().to_vec()).unwrap());
    let plugin = String::from_utf8(r.cstr().to_vec()).unwrap();
    (user, auth, db, plugin)
}

/// Runs the client against `server` over an in-memory pipe.
pub(super) async fn against<F, Fut>(t: MysqlTarget, server: F) -> Result<(), ProbeError>
where
    F: FnOnce(DuplexStream) -> Fut,
    Fut: std::future::Future<Output = ()> + Send + 'static,
{
    let (client, server_end) = tokio::io::duplex(4096);
    let s = tokio::spawn(server(server_end));
    let out = session(Box::new(client), &t).await;
    s.await.unwrap();
    out
}

/// An RSA key pair made by the openssl command, with a modulus of `bits` and the
/// public exponent `exponent`: (private key PEM path, public key PEM), in `dir`
/// (removed by the caller).
pub(super) fn openssl_key(
    dir: &std::path::Path,
    bits: usize,
    exponent: &str,
) -> (PathBuf, Vec<u8>) {
    use std::process::Command;
    let key = dir.join(format!("key-{bits}-{exponent}.pem"));
    let ok = Command::new("openssl")
        .args(["genpkey", "-algorithm", "RSA", "-pkeyopt"])
        .arg(format!("rsa_keygen_bits:{bits}"))
        .arg("-pkeyopt")
        .arg(format!("rsa_keygen_pubexp:{exponent}"))
        .arg("-out")
        .arg(&key)
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false);
    assert!(
        ok,
        "this test needs the openssl command: apt-get install openssl"
    );
    let out = Command::new("openssl")
        .args(["pkey", "-pubout", "-in"])
        .arg(&key)
        .output()
        .unwrap();
    assert!(out.status.success());
    (key, out.stdout)
}

/// Decrypts RSA-OAEP (SHA-1) with the openssl command.
pub(super) fn openssl_decrypt(key: &std::path::Path, cipher: &[u8]) -> Vec<u8> {
    use std::process::{Command, Stdio};
    let mut child = Command::new("openssl")
        .args(["pkeyutl", "-decrypt", "-pkeyopt", "rsa_padding_mode:oaep"])
        .args([
            "-pkeyopt",
            "rsa_oaep_md:sha1",
            "-pkeyopt",
            "rsa_mgf1_md:sha1",
            "-inkey",
        ])
        .arg(key)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    std::io::Write::write_all(&mut child.stdin.take().unwrap(), cipher).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "openssl could not decrypt");
    out.stdout
}

/// A test CA and a certificate for localhost that it signed (DER: certificate, key),
/// made once.
fn server_cert() -> &'static (CertificateDer<'static>, CertificateDer<'static>, Vec<u8>) {
    static C: std::sync::OnceLock<(CertificateDer<'static>, CertificateDer<'static>, Vec<u8>)> =
        std::sync::OnceLock::new();
    C.get_or_init(|| {
        use rcgen::{BasicConstraints, CertificateParams, IsCa, Issuer, KeyPair};
        let ca_key = KeyPair::generate().unwrap();
        let mut ca = CertificateParams::new(Vec::<String>::new()).unwrap();
        ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        let ca_cert = ca.self_signed(&ca_key).unwrap();
        let issuer = Issuer::new(ca, ca_key);
        let key = KeyPair::generate().unwrap();
        let cert = CertificateParams::new(vec!["localhost".to_string()])
            .unwrap()
            .signed_by(&key, &issuer)
            .unwrap();
        (
            ca_cert.der().clone(),
            cert.der().clone(),
            key.serialize_der(),
        )
    })
}

/// `t` verifying the server (VERIFY_IDENTITY) against the CA of [`acceptor`]'s
/// certificate.
pub(super) fn verifying(mut t: MysqlTarget) -> MysqlTarget {
    t.ssl_mode = SslMode::VerifyIdentity;
    t.ssl_ca = Some(("ca.pem".into(), Arc::new(vec![server_cert().0.clone()])));
    t
}

/// A TLS acceptor with a certificate for localhost signed by a test CA.
pub(super) fn acceptor() -> tokio_rustls::TlsAcceptor {
    use rustls::pki_types::{PrivateKeyDer, PrivatePkcs8KeyDer};
    let (_, cert, key) = server_cert();
    let config = rustls::ServerConfig::builder_with_provider(tls::provider())
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(
            vec![cert.clone()],
            PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.clone())),
        )
        .unwrap();
    tokio_rustls::TlsAcceptor::from(Arc::new(config))
}

/// The server's side up to the login over TLS: greeting with CLIENT_SSL, the
/// SSLRequest, the TLS handshake; returns the TLS stream and the login packet.
pub(super) async fn tls_login(
    mut s: DuplexStream,
    plugin: &str,
) -> (tokio_rustls::server::TlsStream<DuplexStream>, Vec<u8>) {
    send(&mut s, 0, &greeting(plugin, SERVER_CAPS | CLIENT_SSL)).await;
    let (seq, request) = recv(&mut s).await;
    assert_eq!((seq, request.len()), (1, 32), "SSLRequest");
    let caps = u32::from_le_bytes([request[0], request[1], request[2], request[3]]);
    assert_ne!(caps & CLIENT_SSL, 0);
    let mut tls = acceptor().accept(s).await.unwrap();
    let (seq, login) = recv(&mut tls).await;
    assert_eq!(seq, 2);
    (tls, login)
}
