//! One MySQL session over a byte stream: the greeting, TLS as `ssl-mode` asks, the
//! login with its auth switches and AuthMoreData rounds, the database, `COM_PING`
//! (or the target's `#query=` / `#table=`, [`super::query`]), then `COM_QUIT`.

use super::auth::{auth_response, native_scramble, nonce_of};
use super::packet::Link;
use super::packet::*;
use super::{MysqlTarget, SslMode};
use crate::probe::error::ProbeError;
use crate::probe::tls;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::AsyncWriteExt;

/// The TLS configuration for the target's mode and whether it verifies the server's
/// certificate, or `None` for plaintext. The verifying modes come with `ssl-ca`
/// ([`super::parse`] sees to it), as the mysql client requires.
pub(super) fn tls_config(
    t: &MysqlTarget,
    server_offers: bool,
) -> Result<Option<(Arc<rustls::ClientConfig>, Link)>, ProbeError> {
    let ca = t.ssl_ca.as_ref().map(|(_, c)| c.as_slice());
    Ok(match (t.ssl_mode, server_offers, ca) {
        (SslMode::Disabled, _, _) | (SslMode::Preferred, false, _) => None,
        (_, false, _) => {
            return Err(ProbeError::transient(
                "the server does not support TLS, and ssl-mode requires it",
            ))
        }
        (SslMode::Preferred, true, _) | (SslMode::Required, true, None) => {
            Some((tls::unverified(), Link::Unverified))
        }
        (SslMode::Required | SslMode::VerifyCa, true, Some(c)) => {
            Some((tls::with_roots(c, false), Link::Verified))
        }
        (SslMode::VerifyIdentity, true, Some(c)) => {
            Some((tls::with_roots(c, true), Link::Verified))
        }
        (SslMode::VerifyCa | SslMode::VerifyIdentity, true, None) => {
            return Err(ProbeError::permanent(super::NEEDS_CA))
        }
    })
}

/// Runs a whole session over `io`: handshake, TLS, login, ping, quit.
pub async fn session(io: Box<dyn Io>, t: &MysqlTarget) -> Result<(), ProbeError> {
    let mut conn = Conn {
        io,
        seq: 0,
        link: Link::Plain,
    };
    let greeting = parse_greeting(&conn.read().await?)?;
    let mut caps = CLIENT_LONG_PASSWORD
        | CLIENT_PROTOCOL_41
        | CLIENT_TRANSACTIONS
        | CLIENT_SECURE_CONNECTION
        | CLIENT_PLUGIN_AUTH
        | CLIENT_PLUGIN_AUTH_LENENC_CLIENT_DATA;
    if t.database.is_some() {
        caps |= CLIENT_CONNECT_WITH_DB;
    }
    caps &= greeting.capabilities;
    let mut fixed = Vec::with_capacity(64);
    if let Some((config, link)) = tls_config(t, greeting.capabilities & CLIENT_SSL != 0)? {
        caps |= CLIENT_SSL;
        // SSLRequest: the first 32 bytes of the handshake response, then TLS.
        fixed_part(&mut fixed, caps);
        conn.write(&fixed).await?;
        let stream = tls::connect(conn.io, &t.endpoint.host, config).await?;
        conn = Conn {
            io: Box::new(stream),
            seq: conn.seq,
            link,
        };
        fixed.clear();
    }
    let password = t.password.as_deref().unwrap_or("").as_bytes();
    let mut nonce = greeting.nonce.clone();
    // A method we lack in the greeting is not final: the server switches to the
    // user's own method. Offer mysql_native_password then, as other clients do.
    let (mut plugin, first) = match auth_response(&greeting.plugin, password, &nonce, conn.link) {
        Ok(first) => (greeting.plugin.clone(), first),
        Err(_) => (
            "mysql_native_password".to_string(),
            native_scramble(password, nonce_of(&nonce)),
        ),
    };
    fixed_part(&mut fixed, caps);
    let mut response = fixed;
    response.extend_from_slice(t.user.as_bytes());
    response.push(0);
    if caps & CLIENT_PLUGIN_AUTH_LENENC_CLIENT_DATA != 0 {
        lenenc(&mut response, first.len());
    } else {
        response.push(u8::try_from(first.len()).map_err(|_| {
            ProbeError::permanent("the password is too long for this server's login packet")
        })?);
    }
    response.extend_from_slice(&first);
    if let Some(db) = &t.database {
        if caps & CLIENT_CONNECT_WITH_DB != 0 {
            response.extend_from_slice(db.as_bytes());
            response.push(0);
        }
    }
    if caps & CLIENT_PLUGIN_AUTH != 0 {
        response.extend_from_slice(plugin.as_bytes());
        response.push(0);
    }
    conn.write(&response).await?;
    let mut rounds = 0;
    loop {
        rounds += 1;
        if rounds > MAX_AUTH_ROUNDS {
            return Err(garbage("the login exchange does not end"));
        }
        let p = conn.read().await?;
        match p.first() {
            Some(0x00) => break,
            Some(0xFF) => return Err(server_error(&p)),
            // AuthSwitchRequest: another method, with a fresh nonce.
            Some(0xFE) => {
                (plugin, nonce) = parse_auth_switch(&p)?;
                let answer = auth_response(&plugin, password, &nonce, conn.link)?;
                conn.write(&answer).await?;
            }
            // AuthMoreData: caching_sha2_password's verdict on the fast path.
            Some(0x01) if plugin == "caching_sha2_password" => match p.get(1) {
                // Fast authentication succeeded; OK follows.
                Some(0x03) => {}
                // Full authentication: the password itself, over TLS only (verified
                // or not, as the mysql client does: MySQL 8's default path).
                Some(0x04) if conn.link != Link::Plain => {
                    let mut v = password.to_vec();
                    v.push(0);
                    conn.write(&v).await?;
                }
                Some(0x04) if t.get_server_public_key => {
                    conn.write(&[0x02]).await?;
                    let key = conn.read().await?;
                    match key.first() {
                        Some(0x01) => {}
                        Some(0xFF) => return Err(server_error(&key)),
                        _ => return Err(garbage("no RSA public key in answer to its request")),
                    }
                    let mut message = password.to_vec();
                    message.push(0);
                    let seed = nonce_of(&nonce);
                    if !seed.is_empty() {
                        for (i, b) in message.iter_mut().enumerate() {
                            *b ^= seed[i % seed.len()];
                        }
                    }
                    let cipher = super::server_key::encrypt(&key[1..], &message)?;
                    conn.write(&cipher).await?;
                }
                Some(0x04) => {
                    return Err(ProbeError::permanent(
                        "caching_sha2_password needs full authentication (the server has no cached login for this user): use TLS (ssl-mode=REQUIRED or VERIFY_*), or add get-server-public-key=true to send the password encrypted with the server's RSA key",
                    ))
                }
                _ => return Err(garbage("an unexpected caching_sha2_password message")),
            },
            _ => return Err(garbage("an unexpected packet during login")),
        }
    }
    // Logged in. A server that cannot take the database with the login gets
    // COM_INIT_DB (every server since 4.1 can; this is for odd proxies).
    if let Some(db) = &t.database {
        if caps & CLIENT_CONNECT_WITH_DB == 0 {
            let mut init = vec![COM_INIT_DB];
            init.extend_from_slice(db.as_bytes());
            conn.command(&init).await?;
            let p = conn.read().await?;
            match p.first() {
                Some(0x00) => {}
                Some(0xFF) => return Err(server_error(&p)),
                _ => return Err(garbage("an unexpected answer to COM_INIT_DB")),
            }
        }
    }
    if let Some(expect) = &t.expect {
        let outcome = super::query::check(&mut conn, expect).await;
        let _ = tokio::time::timeout(Duration::from_millis(50), conn.io.shutdown()).await;
        return outcome;
    }
    // Ping, then leave politely.
    conn.command(&[COM_PING]).await?;
    let p = conn.read().await?;
    match p.first() {
        Some(0x00) => {}
        Some(0xFF) => return Err(server_error(&p)),
        _ => return Err(garbage("an unexpected answer to COM_PING")),
    }
    let _ = conn.command(&[COM_QUIT]).await;
    let _ = tokio::time::timeout(Duration::from_millis(50), conn.io.shutdown()).await;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::probe::mysql::auth::sha2_scramble;
    use crate::probe::mysql::fake::*;
    use tokio::io::AsyncReadExt;

    #[tokio::test]
    async fn caching_sha2_fast_path_then_ping_and_quit() {
        let t = target(Some("secret"), Some("app"));
        let out = against(t, |mut s| async move {
            send(&mut s, 0, &greeting("caching_sha2_password", SERVER_CAPS)).await;
            let (seq, p) = recv(&mut s).await;
            assert_eq!(seq, 1);
            let (user, auth, db, plugin) = response_parts(&p);
            assert_eq!(user, "app");
            assert_eq!(auth, sha2_scramble(b"secret", &NONCE));
            assert_eq!(db.as_deref(), Some("app"));
            assert_eq!(plugin, "caching_sha2_password");
            send(&mut s, 2, &[0x01, 0x03]).await;
            send(&mut s, 3, OK).await;
            assert_eq!(recv(&mut s).await, (0, vec![COM_PING]));
            send(&mut s, 1, OK).await;
            assert_eq!(recv(&mut s).await, (0, vec![COM_QUIT]));
        })
        .await;
        assert_eq!(out, Ok(()));
    }

    #[tokio::test]
    async fn caching_sha2_full_authentication_without_tls_is_permanent() {
        let t = target(Some("secret"), None);
        let out = against(t, |mut s| async move {
            send(&mut s, 0, &greeting("caching_sha2_password", SERVER_CAPS)).await;
            let _ = recv(&mut s).await;
            send(&mut s, 2, &[0x01, 0x04]).await;
        })
        .await
        .unwrap_err();
        assert!(out.is_permanent(), "{out:?}");
        assert!(out.reason.contains("TLS"), "{out:?}");
        assert!(!out.reason.contains("secret"));
    }

    #[tokio::test]
    async fn caching_sha2_full_authentication_with_the_servers_rsa_key() {
        let dir = std::env::temp_dir().join(format!("whenready-rsa2-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let (key, public) = openssl_key(&dir, 2048, "65537");
        let mut t = target(Some("secret"), None);
        t.get_server_public_key = true;
        let out = against(t, |mut s| async move {
            send(&mut s, 0, &greeting("caching_sha2_password", SERVER_CAPS)).await;
            let _ = recv(&mut s).await;
            send(&mut s, 2, &[0x01, 0x04]).await;
            assert_eq!(recv(&mut s).await, (3, vec![0x02]));
            let mut pem = vec![0x01];
            pem.extend_from_slice(&public);
            send(&mut s, 4, &pem).await;
            let (seq, cipher) = recv(&mut s).await;
            assert_eq!((seq, cipher.len()), (5, 256));
            // The server's side: decrypt, then undo the XOR with the nonce.
            let plain = openssl_decrypt(&key, &cipher);
            let password: Vec<u8> = plain
                .iter()
                .enumerate()
                .map(|(i, b)| b ^ NONCE[i % NONCE.len()])
                .collect();
            assert_eq!(password, b"secret\0");
            send(&mut s, 6, OK).await;
            assert_eq!(recv(&mut s).await, (0, vec![COM_PING]));
            send(&mut s, 1, OK).await;
            let _ = recv(&mut s).await;
        })
        .await;
        let _ = std::fs::remove_dir_all(&dir);
        assert_eq!(out, Ok(()));
    }

    #[tokio::test]
    async fn caching_sha2_full_authentication_over_tls_sends_the_password() {
        let mut t = target(Some("secret"), Some("app"));
        t.ssl_mode = SslMode::Required;
        let out = against(t, |s| async move {
            let (mut tls, login) = tls_login(s, "caching_sha2_password").await;
            assert_eq!(response_parts(&login).1, sha2_scramble(b"secret", &NONCE));
            send(&mut tls, 3, &[0x01, 0x04]).await;
            assert_eq!(recv(&mut tls).await, (4, b"secret\0".to_vec()));
            send(&mut tls, 5, OK).await;
            assert_eq!(recv(&mut tls).await, (0, vec![COM_PING]));
            send(&mut tls, 1, OK).await;
            assert_eq!(recv(&mut tls).await, (0, vec![COM_QUIT]));
        })
        .await;
        assert_eq!(out, Ok(()));
    }

    #[tokio::test]
    async fn clear_password_over_verified_tls_after_a_switch() {
        for plugin in ["mysql_clear_password", "sha256_password"] {
            let t = verifying(target(Some("secret"), None));
            let out = against(t, move |s| async move {
                let (mut tls, _) = tls_login(s, "mysql_native_password").await;
                let mut switch = vec![0xFE];
                switch.extend_from_slice(plugin.as_bytes());
                switch.push(0);
                send(&mut tls, 3, &switch).await;
                assert_eq!(recv(&mut tls).await, (4, b"secret\0".to_vec()));
                send(&mut tls, 5, OK).await;
                let _ = recv(&mut tls).await;
                send(&mut tls, 1, OK).await;
                let _ = recv(&mut tls).await;
            })
            .await;
            assert_eq!(out, Ok(()), "{plugin}");
        }
    }

    #[tokio::test]
    async fn no_password_in_clear_over_unverified_tls() {
        for plugin in ["mysql_clear_password", "sha256_password"] {
            for mode in [SslMode::Preferred, SslMode::Required] {
                let mut t = target(Some("secret"), None);
                t.ssl_mode = mode;
                let out = against(t, move |s| async move {
                    // Named in the greeting: the client offers a scramble instead.
                    let (mut tls, login) = tls_login(s, plugin).await;
                    let (_, auth, _, offered) = response_parts(&login);
                    assert_eq!(offered, "mysql_native_password");
                    assert_eq!(auth, native_scramble(b"secret", &NONCE));
                    // Asked for in a switch: nothing more is sent.
                    let mut switch = vec![0xFE];
                    switch.extend_from_slice(plugin.as_bytes());
                    switch.push(0);
                    send(&mut tls, 3, &switch).await;
                    let mut rest = Vec::new();
                    let _ = tls.read_to_end(&mut rest).await;
                    assert!(rest.is_empty(), "{rest:?}");
                })
                .await
                .unwrap_err();
                assert!(out.is_permanent(), "{out:?}");
                assert!(out.reason.contains(plugin), "{out:?}");
                assert!(out.reason.contains("not verified"), "{out:?}");
            }
        }
    }

    #[tokio::test]
    async fn caching_sha2_full_authentication_over_verified_tls() {
        let t = verifying(target(Some("secret"), None));
        let out = against(t, |s| async move {
            let (mut tls, _) = tls_login(s, "caching_sha2_password").await;
            send(&mut tls, 3, &[0x01, 0x04]).await;
            assert_eq!(recv(&mut tls).await, (4, b"secret\0".to_vec()));
            send(&mut tls, 5, OK).await;
            let _ = recv(&mut tls).await;
            send(&mut tls, 1, OK).await;
            let _ = recv(&mut tls).await;
        })
        .await;
        assert_eq!(out, Ok(()));
    }

    #[test]
    fn verifying_modes_without_a_ca_are_refused() {
        for mode in [SslMode::VerifyCa, SslMode::VerifyIdentity] {
            let mut t = target(None, None);
            t.ssl_mode = mode;
            let e = tls_config(&t, true).err().unwrap();
            assert!(e.is_permanent() && e.reason.contains("ssl-ca"), "{e:?}");
        }
    }

    #[tokio::test]
    async fn database_by_com_init_db_when_the_login_cannot_carry_it() {
        let t = target(Some("secret"), Some("nope"));
        let out = against(t, |mut s| async move {
            send(
                &mut s,
                0,
                &greeting(
                    "mysql_native_password",
                    SERVER_CAPS & !CLIENT_CONNECT_WITH_DB,
                ),
            )
            .await;
            let (_, p) = recv(&mut s).await;
            assert_eq!(response_parts(&p).2, None);
            send(&mut s, 2, OK).await;
            assert_eq!(recv(&mut s).await, (0, b"\x02nope".to_vec()));
            send(&mut s, 1, b"\xff\x19\x04#42000Unknown database 'nope'").await;
        })
        .await
        .unwrap_err();
        assert!(out.is_permanent(), "{out:?}");
        assert_eq!(out.reason, "Unknown database 'nope' (1049)");
    }

    #[tokio::test]
    async fn auth_switch_to_native_password() {
        let t = target(Some("secret"), None);
        let out = against(t, |mut s| async move {
            send(&mut s, 0, &greeting("caching_sha2_password", SERVER_CAPS)).await;
            let _ = recv(&mut s).await;
            let mut switch = vec![0xFE];
            switch.extend_from_slice(b"mysql_native_password\0");
            switch.extend_from_slice(&NONCE);
            switch.push(0);
            send(&mut s, 2, &switch).await;
            let (seq, p) = recv(&mut s).await;
            assert_eq!(seq, 3);
            assert_eq!(p, native_scramble(b"secret", &NONCE));
            send(&mut s, 4, OK).await;
            let _ = recv(&mut s).await;
            send(&mut s, 1, OK).await;
            let _ = recv(&mut s).await;
        })
        .await;
        assert_eq!(out, Ok(()));
    }

    #[tokio::test]
    async fn unknown_plugin_is_permanent_and_named() {
        let t = target(Some("secret"), None);
        let out = against(t, |mut s| async move {
            // The greeting's method is unknown: the client offers native instead.
            send(&mut s, 0, &greeting("auth_gssapi_client", SERVER_CAPS)).await;
            let (_, p) = recv(&mut s).await;
            assert_eq!(response_parts(&p).3, "mysql_native_password");
            let mut switch = vec![0xFE];
            switch.extend_from_slice(b"auth_gssapi_client\0");
            switch.extend_from_slice(&NONCE);
            send(&mut s, 2, &switch).await;
        })
        .await
        .unwrap_err();
        assert!(out.is_permanent(), "{out:?}");
        assert!(out.reason.contains("auth_gssapi_client"), "{out:?}");
    }

    #[tokio::test]
    async fn clear_password_only_over_tls() {
        let t = target(Some("secret"), None);
        let out = against(t, |mut s| async move {
            send(&mut s, 0, &greeting("mysql_native_password", SERVER_CAPS)).await;
            let _ = recv(&mut s).await;
            send(&mut s, 2, b"\xfemysql_clear_password\0").await;
        })
        .await
        .unwrap_err();
        assert!(out.is_permanent(), "{out:?}");
        assert!(out.reason.contains("mysql_clear_password"), "{out:?}");
    }

    #[tokio::test]
    async fn server_errors_carry_message_and_code() {
        for (code, permanent) in [(1045u16, true), (1040, false)] {
            let t = target(Some("secret"), None);
            let out = against(t, move |mut s| async move {
                send(&mut s, 0, &greeting("mysql_native_password", SERVER_CAPS)).await;
                let _ = recv(&mut s).await;
                let mut err = vec![0xFF];
                err.extend_from_slice(&code.to_le_bytes());
                err.extend_from_slice(
                    b"#28000Access denied for user 'app'@'localhost' (using password: YES)",
                );
                send(&mut s, 2, &err).await;
            })
            .await
            .unwrap_err();
            assert_eq!(out.is_permanent(), permanent, "{out:?}");
            assert!(
                out.reason.starts_with(
                    "Access denied for user 'app'@'localhost' (using password: YES) ("
                ),
                "{out:?}"
            );
            assert!(out.reason.ends_with(&format!("({code})")));
        }
    }

    #[tokio::test]
    async fn error_instead_of_greeting_is_classified() {
        let t = target(None, None);
        let out = against(t, |mut s| async move {
            send(&mut s, 0, b"\xff\x10\x04Too many connections").await;
        })
        .await
        .unwrap_err();
        assert!(!out.is_permanent());
        assert_eq!(out.reason, "Too many connections (1040)");
    }

    #[tokio::test]
    async fn garbage_short_packets_and_huge_lengths_are_transient() {
        let cases: Vec<Vec<u8>> = vec![
            b"HTTP/1.1 400 Bad Request\r\n\r\n".to_vec(),
            vec![0xff, 0xff, 0xff, 0],
            vec![1, 0, 0, 0, 10],
            vec![3, 0, 0, 0, 10, 0, 1],
            vec![2, 0, 0, 0, 0xff, 1],
            vec![],
        ];
        for bytes in cases {
            let t = target(Some("secret"), None);
            let b = bytes.clone();
            let out = against(t, move |mut s| async move {
                s.write_all(&b).await.unwrap();
                drop(s);
            })
            .await
            .unwrap_err();
            assert!(!out.is_permanent(), "{bytes:?}: {out:?}");
        }
    }

    #[tokio::test]
    async fn required_against_a_server_without_tls_is_transient() {
        let mut t = target(None, None);
        t.ssl_mode = SslMode::Required;
        let out = against(t, |mut s| async move {
            send(&mut s, 0, &greeting("mysql_native_password", SERVER_CAPS)).await;
        })
        .await
        .unwrap_err();
        assert!(!out.is_permanent());
        assert!(out.reason.contains("does not support TLS"), "{out:?}");
    }
}
