//! Exec credential plugins (`users[].user.exec` in a kubeconfig: `aws eks get-token`,
//! `gke-gcloud-auth-plugin`, `kubelogin`, ...), as client-go runs them: the command
//! with its args and env added to whenready's environment, `KUBERNETES_EXEC_INFO`
//! holding an `ExecCredential` request (never interactive: stdin is closed), and an
//! `ExecCredential` on stdout whose `status.token` is the bearer token. The token is
//! kept until its `expirationTimestamp` (for the whole run when there is none), so a
//! target's list and watch cost one run of the plugin, and the targets that share a
//! kubeconfig and context share that run: one target runs the plugin while the
//! others wait for its token (single flight).
//!
//! A plugin is a child of whenready's ([`crate::children`]): it starts in a process
//! group of its own, and lives no longer than the attempt that waits for its token.
//! When that attempt ends without it (the attempt timeout or the deadline cuts
//! it, a signal, exit, exec of COMMAND), the whole group is killed and reaped. Its
//! stdout is read up to [`MAX_STDOUT`] (an ExecCredential is a few KiB), the
//! start of its stderr for the reason of a failure; both are read on a blocking
//! thread, so the deadline and signals are never held up by the plugin.
//!
//! Not supported: client certificates from a plugin (`clientCertificateData`), and
//! running the plugin again on a 401 (a 401 is permanent, as for every credential).

use crate::children;
use crate::probe::error::ProbeError;
use serde_json::Value;
use std::path::PathBuf;
use std::process::Stdio;
use std::time::SystemTime;

/// The most of a plugin's stdout read: an ExecCredential holds a token of a few
/// KiB (a JWT, an EKS presigned URL), or a client certificate and key.
pub const MAX_STDOUT: usize = 256 << 10;

/// The start of its stderr kept for a failure's reason (the rest is read and
/// dropped, so the plugin never blocks on a full pipe).
const MAX_STDERR: usize = 4 << 10;

/// A plugin as the kubeconfig declares it, and the token it last gave.
#[derive(Debug)]
pub struct Plugin {
    /// The program (a path relative to the kubeconfig's directory is resolved).
    pub command: PathBuf,
    /// Its arguments.
    pub args: Vec<String>,
    /// Variables added to its environment.
    pub env: Vec<(String, String)>,
    /// `client.authentication.k8s.io/v1` or `v1beta1`: what it is asked for and
    /// must answer.
    pub api_version: String,
    /// `installHint`, shown when the program is missing.
    pub install_hint: Option<String>,
    /// The token and its expiry; locked while the plugin runs, so that the
    /// targets that want a token at once wait for one run.
    cached: tokio::sync::Mutex<Option<(String, Option<SystemTime>)>>,
}

impl Plugin {
    /// A plugin from its kubeconfig entry; the error names the bad field.
    pub fn from_yaml(
        exec: &yaml_rust2::Yaml,
        dir: Option<&std::path::Path>,
    ) -> Result<Plugin, String> {
        let command = exec["command"]
            .as_str()
            .filter(|c| !c.is_empty())
            .ok_or("exec has no command")?;
        let mut path = PathBuf::from(command);
        // client-go: a relative path with a separator starts at the kubeconfig's
        // directory; a bare name is looked up in PATH.
        if command.contains('/') && path.is_relative() {
            if let Some(dir) = dir {
                path = dir.join(path);
            }
        }
        let api_version = exec["apiVersion"]
            .as_str()
            .unwrap_or("client.authentication.k8s.io/v1")
            .to_string();
        if !matches!(
            api_version.as_str(),
            "client.authentication.k8s.io/v1" | "client.authentication.k8s.io/v1beta1"
        ) {
            return Err(format!(
                "exec apiVersion {api_version:?} is not client.authentication.k8s.io/v1 or v1beta1"
            ));
        }
        let args = exec["args"]
            .as_vec()
            .map(|a| {
                a.iter()
                    .filter_map(|x| x.as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default();
        let env = exec["env"]
            .as_vec()
            .map(|e| {
                e.iter()
                    .filter_map(|kv| {
                        Some((
                            kv["name"].as_str()?.to_string(),
                            kv["value"].as_str()?.to_string(),
                        ))
                    })
                    .collect()
            })
            .unwrap_or_default();
        Ok(Plugin {
            command: path,
            args,
            env,
            api_version,
            install_hint: exec["installHint"].as_str().map(str::to_string),
            cached: tokio::sync::Mutex::new(None),
        })
    }

    fn shown(&self) -> String {
        format!(
            "exec credential plugin {:?}",
            self.command.display().to_string()
        )
    }

    /// The token: the cached one while it has not expired, else a new one from one
    /// run of the plugin, which the callers that come meanwhile wait for.
    pub async fn token(&self) -> Result<String, ProbeError> {
        let mut cached = self.cached.lock().await;
        if let Some((token, expiry)) = cached.as_ref() {
            if expiry.is_none_or(|e| e > SystemTime::now()) {
                return Ok(token.clone());
            }
        }
        let (token, expiry) = self.run().await?;
        *cached = Some((token.clone(), expiry));
        Ok(token)
    }

    /// Runs the plugin once. Dropped before the plugin ends (the attempt is cut),
    /// it kills the plugin's group.
    async fn run(&self) -> Result<(String, Option<SystemTime>), ProbeError> {
        let info = format!(
            "{{\"apiVersion\":\"{}\",\"kind\":\"ExecCredential\",\"spec\":{{\"interactive\":false}}}}",
            self.api_version
        );
        let mut cmd = std::process::Command::new(&self.command);
        cmd.args(&self.args)
            .envs(self.env.iter().map(|(k, v)| (k, v)))
            .env("KUBERNETES_EXEC_INFO", info)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let child = children::spawn(&mut cmd).map_err(|e| {
            let hint = self
                .install_hint
                .as_deref()
                .map(|h| format!("; {}", h.split_whitespace().collect::<Vec<_>>().join(" ")))
                .unwrap_or_default();
            ProbeError::permanent(format!(
                "cannot run the {}: {}{hint}",
                self.shown(),
                crate::probe::error::io_reason(&e)
            ))
        })?;
        let guard = KillOnDrop(Some(child.id()));
        let out = tokio::task::spawn_blocking(move || child.output(MAX_STDOUT, MAX_STDERR))
            .await
            .map_err(|e| ProbeError::transient(format!("exec credential plugin: {e}")))?;
        guard.disarm();
        if out.stdout_over {
            return Err(ProbeError::permanent(format!(
                "the {}: its output is longer than {} KiB",
                self.shown(),
                MAX_STDOUT >> 10
            )));
        }
        if !out.status.is_some_and(|s| s.success()) {
            let stderr = String::from_utf8_lossy(&out.stderr);
            let first = stderr
                .lines()
                .find(|l| !l.trim().is_empty())
                .unwrap_or("")
                .trim();
            let how = out.status.map_or("killed".to_string(), |s| s.to_string());
            return Err(ProbeError::transient(format!(
                "the {} failed ({how}){}",
                self.shown(),
                if first.is_empty() {
                    String::new()
                } else {
                    format!(": {first}")
                }
            )));
        }
        parse_output(&out.stdout, &self.api_version)
            .map_err(|why| ProbeError::permanent(format!("the {}: {why}", self.shown())))
    }
}

/// Kills a plugin's group when the attempt that waits for it is dropped.
struct KillOnDrop(Option<u32>);

impl KillOnDrop {
    /// The plugin ended and was reaped: nothing to kill.
    fn disarm(mut self) {
        self.0 = None;
    }
}

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        if let Some(pgid) = self.0 {
            children::kill(pgid);
        }
    }
}

/// The token and expiry of an `ExecCredential` on stdout.
fn parse_output(stdout: &[u8], api_version: &str) -> Result<(String, Option<SystemTime>), String> {
    let v: Value = serde_json::from_slice(stdout)
        .map_err(|_| "its output is not an ExecCredential (not JSON)".to_string())?;
    if v["kind"] != "ExecCredential" || v["apiVersion"] != api_version {
        return Err(format!(
            "its output is not an ExecCredential of {api_version}"
        ));
    }
    let status = &v["status"];
    let Some(token) = status["token"].as_str().filter(|t| !t.is_empty()) else {
        if status.get("clientCertificateData").is_some() {
            return Err(
                "it gives a client certificate, which whenready does not support (only tokens)"
                    .into(),
            );
        }
        return Err("its ExecCredential has no status.token".into());
    };
    let expiry = match status["expirationTimestamp"].as_str() {
        Some(t) => Some(
            humantime::parse_rfc3339_weak(t)
                .map_err(|_| format!("expirationTimestamp {t:?} is not RFC 3339"))?,
        ),
        None => None,
    };
    Ok((token.to_string(), expiry))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exec_credentials_are_read_as_client_go_reads_them() {
        let v1 = "client.authentication.k8s.io/v1";
        let (t, e) = parse_output(
            br#"{"apiVersion":"client.authentication.k8s.io/v1","kind":"ExecCredential","status":{"token":"k8s-aws-v1.abc","expirationTimestamp":"2026-12-03T12:15:00Z"}}"#,
            v1,
        )
        .unwrap();
        assert_eq!(t, "k8s-aws-v1.abc");
        assert_eq!(
            e,
            Some(humantime::parse_rfc3339("2026-12-03T12:15:00Z").unwrap())
        );
        for (bad, why) in [
            ("nope", "not JSON"),
            (
                r#"{"apiVersion":"client.authentication.k8s.io/v1beta1","kind":"ExecCredential","status":{"token":"x"}}"#,
                "not an ExecCredential of",
            ),
            (
                r#"{"apiVersion":"client.authentication.k8s.io/v1","kind":"ExecCredential","status":{"clientCertificateData":"x"}}"#,
                "client certificate",
            ),
            (
                r#"{"apiVersion":"client.authentication.k8s.io/v1","kind":"ExecCredential","status":{"token":"x","expirationTimestamp":"soon"}}"#,
                "not RFC 3339",
            ),
        ] {
            let e = parse_output(bad.as_bytes(), v1).err().unwrap();
            assert!(e.contains(why), "{bad}: {e}");
        }
    }
}
