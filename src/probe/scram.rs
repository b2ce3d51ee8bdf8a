//! SCRAM, the Salted Challenge Response Authentication Mechanism (RFC 5802, with
//! SHA-256 from RFC 7677 and SHA-512 as Kafka names it), as a client: the four
//! messages of a conversation, for Kafka's SCRAM-SHA-256/512 and MongoDB's
//! SCRAM-SHA-1/256. The password never leaves the client: the server sees a nonce,
//! the user name and a proof, and proves in turn that it knows the salted password
//! (its signature is checked, so a server that does not know the password cannot
//! pass for one that does).
//!
//! What the server chooses is read through limits: its nonce must extend ours, its
//! salt must be base64, and its iteration count must lie between
//! [`MIN_ITERATIONS`] (what Kafka's and MongoDB's clients demand: fewer makes the
//! proof cheap to attack offline) and the caller's cap. The key derivation (PBKDF2,
//! as many rounds as the server asks) runs on the blocking pool ([`KeyCache::keys`]),
//! never on the runtime's thread, and its result is kept for the next attempt
//! against the same salt and count, as the clients do: a server that asks for many
//! rounds costs them once per run, and never delays the deadline.
//!
//! Who normalises the password is the caller's business: MongoDB's SCRAM-SHA-256
//! wants SASLprep, its SCRAM-SHA-1 an MD5 digest of it, Kafka its UTF-8 bytes.

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine;
use ring::{digest, hmac, pbkdf2};
use std::num::NonZeroU32;
use std::sync::{Arc, Mutex};

/// The fewest iterations a server may ask for (Kafka's and MongoDB's clients refuse
/// fewer; RFC 7677 recommends at least this many).
pub const MIN_ITERATIONS: u32 = 4096;

/// The longest salt a server may send, decoded (servers use 16 to 64 bytes).
pub const MAX_SALT: usize = 1024;

/// The hash a SCRAM mechanism is built on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Hash {
    /// SCRAM-SHA-1 (MongoDB before 4.0, and users without SHA-256 credentials).
    Sha1,
    /// SCRAM-SHA-256.
    Sha256,
    /// SCRAM-SHA-512 (Kafka).
    Sha512,
}

impl Hash {
    /// The mechanism's SASL name, e.g. `SCRAM-SHA-256`.
    pub fn mechanism(self) -> &'static str {
        match self {
            Hash::Sha1 => "SCRAM-SHA-1",
            Hash::Sha256 => "SCRAM-SHA-256",
            Hash::Sha512 => "SCRAM-SHA-512",
        }
    }

    fn hmac(self) -> hmac::Algorithm {
        match self {
            Hash::Sha1 => hmac::HMAC_SHA1_FOR_LEGACY_USE_ONLY,
            Hash::Sha256 => hmac::HMAC_SHA256,
            Hash::Sha512 => hmac::HMAC_SHA512,
        }
    }

    fn digest(self) -> &'static digest::Algorithm {
        match self {
            Hash::Sha1 => &digest::SHA1_FOR_LEGACY_USE_ONLY,
            Hash::Sha256 => &digest::SHA256,
            Hash::Sha512 => &digest::SHA512,
        }
    }

    fn pbkdf2(self) -> pbkdf2::Algorithm {
        match self {
            Hash::Sha1 => pbkdf2::PBKDF2_HMAC_SHA1,
            Hash::Sha256 => pbkdf2::PBKDF2_HMAC_SHA256,
            Hash::Sha512 => pbkdf2::PBKDF2_HMAC_SHA512,
        }
    }

    fn len(self) -> usize {
        self.digest().output_len()
    }
}

/// The keys derived from the salted password: what proves the client, and what
/// checks the server.
#[derive(Clone, PartialEq, Eq)]
pub struct Keys {
    client_key: Vec<u8>,
    server_key: Vec<u8>,
}

impl std::fmt::Debug for Keys {
    // They stand for the password: never shown.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Keys(***)")
    }
}

/// Derives the keys: PBKDF2 over the normalised password, then HMAC (RFC 5802,
/// section 3). Costs `iterations` rounds of HMAC: call it off the runtime's thread.
pub fn derive_keys(hash: Hash, password: &[u8], salt: &[u8], iterations: NonZeroU32) -> Keys {
    let mut salted = vec![0u8; hash.len()];
    pbkdf2::derive(hash.pbkdf2(), iterations, salt, password, &mut salted);
    let key = hmac::Key::new(hash.hmac(), &salted);
    Keys {
        client_key: hmac::sign(&key, b"Client Key").as_ref().to_vec(),
        server_key: hmac::sign(&key, b"Server Key").as_ref().to_vec(),
    }
}

/// The keys of the last derivation, kept for the next attempt with the same
/// mechanism, salt and count (a target's password does not change during a run).
#[derive(Default)]
pub struct KeyCache(Mutex<Option<Kept>>);

/// A derivation kept: what it was for, and its keys.
struct Kept {
    hash: Hash,
    salt: Vec<u8>,
    iterations: u32,
    keys: Keys,
}

impl KeyCache {
    /// The keys for `password` under the server's salt and count: kept ones, or
    /// derived on the blocking pool, so that the runtime's thread (timers, the
    /// deadline, signals) is never held by the server's choice of count.
    pub async fn keys(
        &self,
        hash: Hash,
        password: Arc<[u8]>,
        salt: &[u8],
        iterations: NonZeroU32,
    ) -> Result<Keys, String> {
        if let Ok(kept) = self.0.lock() {
            if let Some(k) = kept.as_ref() {
                if k.hash == hash && k.salt == salt && k.iterations == iterations.get() {
                    return Ok(k.keys.clone());
                }
            }
        }
        let owned_salt = salt.to_vec();
        let keys = tokio::task::spawn_blocking(move || {
            derive_keys(hash, &password, &owned_salt, iterations)
        })
        .await
        .map_err(|e| format!("deriving the SCRAM keys failed: {e}"))?;
        if let Ok(mut kept) = self.0.lock() {
            *kept = Some(Kept {
                hash,
                salt: salt.to_vec(),
                iterations: iterations.get(),
                keys: keys.clone(),
            });
        }
        Ok(keys)
    }
}

/// The user name as SCRAM writes it (`saslname`): `=` and `,` escaped.
pub fn sasl_name(user: &str) -> String {
    user.replace('=', "=3D").replace(',', "=2C")
}

/// One conversation, from the client's side.
#[derive(Debug)]
pub struct Client {
    hash: Hash,
    nonce: String,
    first_bare: String,
}

/// What the server's first message asks: its nonce (ours extended), the salt, and
/// the iteration count, all checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Challenge {
    server_first: String,
    nonce: String,
    /// The salt, decoded.
    pub salt: Vec<u8>,
    /// The iteration count, within the limits.
    pub iterations: NonZeroU32,
}

impl Client {
    /// A conversation for `user` with a fresh random nonce (24 bytes from the
    /// system's random source, base64).
    pub fn new(hash: Hash, user: &str) -> Client {
        let mut bytes = [0u8; 24];
        let _ = ring::rand::SecureRandom::fill(&ring::rand::SystemRandom::new(), &mut bytes);
        Client::with_nonce(hash, user, &BASE64.encode(bytes))
    }

    /// A conversation with a given nonce (tests against published vectors).
    pub fn with_nonce(hash: Hash, user: &str, nonce: &str) -> Client {
        Client {
            hash,
            nonce: nonce.to_string(),
            first_bare: format!("n={},r={nonce}", sasl_name(user)),
        }
    }

    /// The hash of the mechanism.
    pub fn hash(&self) -> Hash {
        self.hash
    }

    /// The client's first message: no channel binding (`n,,`), the user, our nonce.
    pub fn first(&self) -> String {
        format!("n,,{}", self.first_bare)
    }

    /// Reads the server's first message; `max_iterations` is the caller's cap on
    /// the count. The error says what is wrong with it.
    pub fn challenge(&self, server_first: &[u8], max_iterations: u32) -> Result<Challenge, String> {
        let text = std::str::from_utf8(server_first)
            .map_err(|_| "the server's SCRAM challenge is not UTF-8".to_string())?;
        let (mut nonce, mut salt, mut iterations) = (None, None, None);
        for attribute in text.split(',') {
            match attribute.split_once('=') {
                Some(("r", v)) if nonce.is_none() => nonce = Some(v),
                Some(("s", v)) if salt.is_none() => salt = Some(v),
                Some(("i", v)) if iterations.is_none() => iterations = Some(v),
                Some(("m", _)) => {
                    return Err("the server's SCRAM challenge demands an extension (m=)".into())
                }
                Some(("e", v)) => {
                    return Err(format!("the server ended the SCRAM exchange: {}", shown(v)))
                }
                // Extensions a client may ignore.
                _ => {}
            }
        }
        let nonce = nonce.ok_or("the server's SCRAM challenge has no nonce (r=)")?;
        if nonce.len() <= self.nonce.len() || !nonce.starts_with(&self.nonce) {
            return Err("the server's SCRAM nonce does not extend ours".into());
        }
        if !nonce
            .bytes()
            .all(|b| (0x21..=0x7e).contains(&b) && b != b',')
        {
            return Err("the server's SCRAM nonce is not printable".into());
        }
        let salt = salt.ok_or("the server's SCRAM challenge has no salt (s=)")?;
        if salt.len() > MAX_SALT * 4 / 3 + 4 {
            return Err(format!("the server's SCRAM salt is over {MAX_SALT} bytes"));
        }
        let salt = BASE64
            .decode(salt)
            .map_err(|_| "the server's SCRAM salt is not base64".to_string())?;
        if salt.is_empty() {
            return Err("the server's SCRAM salt is empty".into());
        }
        let iterations = iterations.ok_or("the server's SCRAM challenge has no count (i=)")?;
        let count: u32 = match iterations.parse::<u64>() {
            Ok(n) if n > u64::from(max_iterations) => {
                return Err(format!(
                    "the server asks for {n} SCRAM iterations, over the {max_iterations} whenready allows"
                ))
            }
            Ok(n) => n as u32,
            Err(_) => {
                return Err(format!(
                    "the server's SCRAM iteration count {} is not a number",
                    shown(iterations)
                ))
            }
        };
        let iterations = NonZeroU32::new(count)
            .filter(|n| n.get() >= MIN_ITERATIONS)
            .ok_or_else(|| {
                format!(
                    "the server asks for {count} SCRAM iterations, fewer than the {MIN_ITERATIONS} clients require"
                )
            })?;
        Ok(Challenge {
            server_first: text.to_string(),
            nonce: nonce.to_string(),
            salt,
            iterations,
        })
    }

    /// The client's final message (channel binding, the server's nonce, the proof)
    /// and the signature the server must answer with.
    pub fn finish(&self, challenge: &Challenge, keys: &Keys) -> (String, Vec<u8>) {
        let hash = self.hash;
        // "biws" is base64 of "n,,": the GS2 header of the first message.
        let without_proof = format!("c=biws,r={}", challenge.nonce);
        let auth_message = format!(
            "{},{},{without_proof}",
            self.first_bare, challenge.server_first
        );
        let stored_key = digest::digest(hash.digest(), &keys.client_key);
        let signature = hmac::sign(
            &hmac::Key::new(hash.hmac(), stored_key.as_ref()),
            auth_message.as_bytes(),
        );
        let proof: Vec<u8> = keys
            .client_key
            .iter()
            .zip(signature.as_ref())
            .map(|(k, s)| k ^ s)
            .collect();
        let server_signature = hmac::sign(
            &hmac::Key::new(hash.hmac(), &keys.server_key),
            auth_message.as_bytes(),
        );
        (
            format!("{without_proof},p={}", BASE64.encode(proof)),
            server_signature.as_ref().to_vec(),
        )
    }
}

/// Checks the server's final message against the signature [`Client::finish`]
/// expects. An `e=` message is the server's refusal, said as such.
pub fn verify_final(server_final: &[u8], expected: &[u8]) -> Result<(), Refusal> {
    let text = String::from_utf8_lossy(server_final);
    let first = text.split(',').next().unwrap_or("");
    if let Some(error) = first.strip_prefix("e=") {
        return Err(Refusal::Refused(shown(error)));
    }
    let Some(signature) = first.strip_prefix("v=") else {
        return Err(Refusal::Garbage(
            "the server's last SCRAM message has no signature (v=)".into(),
        ));
    };
    match BASE64.decode(signature) {
        Ok(s) if s == expected => Ok(()),
        _ => Err(Refusal::Garbage(
            "the server's SCRAM signature does not match: it does not know the password".into(),
        )),
    }
}

/// Why the server's final message does not complete the exchange.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// `e=…`: the server refused the proof (a wrong password), with its words.
    Refused(String),
    /// No valid signature: not the server that holds the password's keys.
    Garbage(String),
}

/// At most 100 characters of a server's value, quoted and escaped.
fn shown(value: &str) -> String {
    let cut: String = value.chars().take(100).collect();
    format!("{cut:?}")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn n(i: u32) -> NonZeroU32 {
        NonZeroU32::new(i).unwrap()
    }

    /// RFC 5802, section 5: user "user", password "pencil", SCRAM-SHA-1.
    #[test]
    fn rfc5802_vector() {
        let c = Client::with_nonce(Hash::Sha1, "user", "fyko+d2lbbFgONRv9qkxdawL");
        assert_eq!(c.first(), "n,,n=user,r=fyko+d2lbbFgONRv9qkxdawL");
        let server_first =
            b"r=fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j,s=QSXCR+Q6sek8bf92,i=4096";
        let ch = c.challenge(server_first, 10_000).unwrap();
        let keys = derive_keys(Hash::Sha1, b"pencil", &ch.salt, ch.iterations);
        let (last, signature) = c.finish(&ch, &keys);
        assert_eq!(
            last,
            "c=biws,r=fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j,p=v0X8v3Bz2T0CJGbJQyF0X+HI4Ts="
        );
        verify_final(b"v=rmF9pqV8S7suAoZWja4dJRkFsKQ=", &signature).unwrap();
    }

    /// RFC 7677, section 3: user "user", password "pencil", SCRAM-SHA-256.
    #[test]
    fn rfc7677_vector() {
        let c = Client::with_nonce(Hash::Sha256, "user", "rOprNGfwEbeRWgbNEkqO");
        let server_first =
            b"r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096";
        let ch = c.challenge(server_first, 10_000).unwrap();
        let keys = derive_keys(Hash::Sha256, b"pencil", &ch.salt, ch.iterations);
        let (last, signature) = c.finish(&ch, &keys);
        assert_eq!(
            last,
            "c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ="
        );
        verify_final(
            b"v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=",
            &signature,
        )
        .unwrap();
        let wrong = verify_final(b"v=AAAA", &signature).unwrap_err();
        assert!(matches!(wrong, Refusal::Garbage(ref w) if w.contains("does not match")));
        let refused = verify_final(b"e=invalid-proof", &signature).unwrap_err();
        assert_eq!(refused, Refusal::Refused("\"invalid-proof\"".into()));
    }

    #[test]
    fn user_names_are_escaped() {
        assert_eq!(sasl_name("a=b,c"), "a=3Db=2Cc");
        let c = Client::with_nonce(Hash::Sha512, "a,b", "x");
        assert_eq!(c.first(), "n,,n=a=2Cb,r=x");
        assert_eq!(c.hash().mechanism(), "SCRAM-SHA-512");
    }

    #[test]
    fn the_server_first_message_is_checked() {
        let c = Client::with_nonce(Hash::Sha256, "u", "abc");
        let bad = |msg: &str, max: u32| c.challenge(msg.as_bytes(), max).unwrap_err();
        assert!(bad("r=abcd,s=c2FsdA==,i=2147483648", 1 << 20).contains("over the"));
        assert!(bad("r=abcd,s=c2FsdA==,i=99999999999999999999", 1 << 20).contains("not a number"));
        assert!(bad("r=abcd,s=c2FsdA==,i=4095", 1 << 20).contains("fewer than"));
        assert!(bad("r=abcd,s=c2FsdA==,i=0", 1 << 20).contains("fewer than"));
        assert!(bad("r=xyzd,s=c2FsdA==,i=4096", 1 << 20).contains("does not extend"));
        assert!(bad("r=abc,s=c2FsdA==,i=4096", 1 << 20).contains("does not extend"));
        assert!(bad("r=abcd,s=!!,i=4096", 1 << 20).contains("not base64"));
        assert!(bad("r=abcd,s=,i=4096", 1 << 20).contains("empty"));
        assert!(bad("m=x,r=abcd,s=c2FsdA==,i=4096", 1 << 20).contains("extension"));
        assert!(bad("e=unknown-user", 1 << 20).contains("unknown-user"));
        assert!(bad("s=c2FsdA==,i=4096", 1 << 20).contains("no nonce"));
        assert!(bad("r=abcd,i=4096", 1 << 20).contains("no salt"));
        assert!(bad("r=abcd,s=c2FsdA==", 1 << 20).contains("no count"));
        let salt = "A".repeat(4 * MAX_SALT);
        assert!(bad(&format!("r=abcd,s={salt},i=4096"), 1 << 20).contains("over"));
        let ok = c
            .challenge(b"r=abcd,s=c2FsdA==,i=4096,x=ext", 4096)
            .unwrap();
        assert_eq!(
            (ok.salt.as_slice(), ok.iterations.get()),
            (&b"salt"[..], 4096)
        );
    }

    #[test]
    fn fuzz_scram_server_messages() {
        use crate::probe::wire::fuzz::{assert_reason, outcome, run};
        let c = Client::with_nonce(Hash::Sha256, "u", "abc");
        let seeds = vec![
            b"r=abcdef,s=c2FsdA==,i=4096".to_vec(),
            b"v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=".to_vec(),
            b"e=invalid-proof".to_vec(),
        ];
        run("scram", &seeds, 512, |input, _| {
            let challenge = c.challenge(input, 1 << 20);
            if let Err(e) = &challenge {
                assert_reason(e);
            }
            match verify_final(input, &[1, 2, 3]) {
                Err(Refusal::Refused(why) | Refusal::Garbage(why)) => assert_reason(&why),
                Ok(()) => {}
            }
            outcome(&challenge)
        });
    }

    #[test]
    fn keys_are_kept_for_the_same_salt_and_count() {
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        rt.block_on(async {
            let cache = KeyCache::default();
            let pw: Arc<[u8]> = Arc::from(&b"pencil"[..]);
            let a = cache
                .keys(Hash::Sha256, pw.clone(), b"salt", n(4096))
                .await
                .unwrap();
            assert_eq!(a, derive_keys(Hash::Sha256, b"pencil", b"salt", n(4096)));
            let b = cache
                .keys(Hash::Sha256, pw.clone(), b"salt", n(4096))
                .await
                .unwrap();
            assert_eq!(a, b);
            let c = cache
                .keys(Hash::Sha256, pw, b"other", n(4096))
                .await
                .unwrap();
            assert_ne!(a, c);
            assert_eq!(format!("{c:?}"), "Keys(***)");
        });
    }
}
