//! The staged update of an app secret, as AWS's own rotation functions do
//! it: the new credentials go in as a new version labelled AWSPENDING (every
//! other key kept), are read back, and later AWSCURRENT moves to that version
//! (the old one becomes AWSPREVIOUS). It can be rolled back.
//!
//! Each write is first worked out from live state as a [`SecretWrite`]: the
//! exact calls it would make (its preview), or the fact that it is already
//! done. Applying a done write changes nothing, so every step can be re-run.

use std::fmt::Write as _;

use super::app_secret::AppSecret;
use super::error::{AwsError, AwsResult};
use super::secrets::{AWSCURRENT, AWSPENDING, AWSPREVIOUS, SecretVersion, SecretsManager, VersionRef};
use crate::secret::{ExposeSecret, MASK, SecretString};

/// Which staged step a write performs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WriteKind {
    PutPending,
    Promote,
    Rollback,
    RemovePending,
}

/// A Secrets Manager write worked out from live state: the calls to make,
/// or why nothing needs doing.
#[derive(Debug, Clone)]
pub struct SecretWrite {
    pub secret_id: String,
    pub kind: WriteKind,
    /// The version the write leaves in place (the pending version for
    /// PutPending and Promote, the restored one for Rollback).
    pub version_id: String,
    /// Set when live state already is what the write would make it.
    pub done: Option<String>,
    calls: Vec<Call>,
}

#[derive(Debug, Clone)]
enum Call {
    /// PutSecretValue with VersionStages [AWSPENDING].
    PutPending {
        token: String,
        value: SecretString,
        /// Human lines: which keys change, with passwords masked.
        changes: Vec<String>,
        /// A stale AWSPENDING version the label moves away from.
        replaces: Option<(String, String)>,
    },
    /// UpdateSecretVersionStage.
    MoveStage {
        stage: &'static str,
        to: Option<String>,
        from: Option<String>,
    },
}

impl SecretWrite {
    pub fn is_done(&self) -> bool {
        self.done.is_some()
    }

    /// One line per AWS call, naming the call, secret, labels and keys that
    /// change (passwords masked); or why nothing will be called.
    pub fn preview(&self) -> String {
        if let Some(why) = &self.done {
            return format!("nothing to do on secret {}: {why}", self.secret_id);
        }
        self.call_lines().join("\n")
    }

    fn call_lines(&self) -> Vec<String> {
        let id = &self.secret_id;
        self.calls
            .iter()
            .map(|c| match c {
                Call::PutPending {
                    token,
                    changes,
                    replaces,
                    ..
                } => {
                    let mut s = format!(
                        "PutSecretValue {id}: new version {token} labelled {AWSPENDING} ({})",
                        changes.join("; ")
                    );
                    if let Some((v, user)) = replaces {
                        let _ = write!(s, "; moves {AWSPENDING} off stale version {v} (user {user})");
                    }
                    s
                }
                Call::MoveStage { stage, to, from } => {
                    let mut s = format!("UpdateSecretVersionStage {id}: {stage}");
                    match (to, from) {
                        (Some(to), Some(from)) => {
                            let _ = write!(s, " moves from version {from} to version {to}");
                            if *stage == AWSCURRENT {
                                let _ = write!(s, " ({from} becomes {AWSPREVIOUS})");
                            }
                        }
                        (Some(to), None) => {
                            let _ = write!(s, " added to version {to}");
                        }
                        (None, Some(from)) => {
                            let _ = write!(s, " removed from version {from}");
                        }
                        (None, None) => {}
                    }
                    s
                }
            })
            .collect()
    }
}

impl std::fmt::Display for SecretWrite {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.preview())
    }
}

/// The ClientRequestToken (= version id) of a rotation's pending version:
/// derived from the rotation id so a re-run names the same version, and AWS
/// itself refuses to write other content under it. 38 characters, within
/// AWS's 32–64.
pub fn pending_token(rotation_id: &str) -> String {
    // FNV-1a over two offset bases: stable across Rust releases, unlike std's hasher.
    let fnv = |basis: u64| {
        rotation_id.bytes().fold(basis, |h, b| {
            (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
        })
    };
    format!(
        "rotui-{:016x}{:016x}",
        fnv(0xcbf2_9ce4_8422_2325),
        fnv(0x6c62_272e_07bb_0142)
    )
}

impl SecretsManager {
    /// Work out writing `username`/`password` as the AWSPENDING version of
    /// `secret_id` for rotation `rotation_id`, every other key kept from
    /// AWSCURRENT. Done when this rotation's version, the AWSPENDING version
    /// or AWSCURRENT already holds these credentials. Refused when this
    /// rotation already wrote other credentials: reuse those (see
    /// [`pending`](Self::pending)) so the password never forks.
    pub async fn plan_put_pending(
        &self,
        secret_id: &str,
        rotation_id: &str,
        username: &str,
        password: &SecretString,
    ) -> AwsResult<SecretWrite> {
        let token = pending_token(rotation_id);
        let versions = self.versions(secret_id).await?;
        let current = self.app_secret(secret_id).await?;
        let mut write = SecretWrite {
            secret_id: secret_id.to_owned(),
            kind: WriteKind::PutPending,
            version_id: token.clone(),
            done: None,
            calls: Vec::new(),
        };
        let pending_version = find_stage(&versions, AWSPENDING);

        if versions.iter().any(|v| v.version_id == token) {
            let mine = self.version(secret_id, &token).await?;
            if !mine.holds(username, password) {
                return Err(AwsError::invalid(format!(
                    "version {token} of secret {secret_id} was already written by this rotation \
                     with other credentials (user {}); reuse them instead of new ones",
                    mine.username
                )));
            }
            if mine.has_stage(AWSPENDING) || mine.has_stage(AWSCURRENT) {
                write.done = Some(format!(
                    "version {token} already holds user {username} (labels: {})",
                    mine.stages.join(", ")
                ));
            } else {
                // Written, but its label was moved away since: put it back.
                write.calls.push(Call::MoveStage {
                    stage: AWSPENDING,
                    to: Some(token.clone()),
                    from: pending_version.map(|v| v.version_id.clone()),
                });
            }
            return Ok(write);
        }
        let pending = match pending_version {
            Some(p) => Some(self.version(secret_id, &p.version_id).await?),
            None => None,
        };
        if let Some(p) = pending.as_ref().filter(|p| p.holds(username, password)) {
            write.version_id = p.version_id.clone();
            write.done = Some(format!(
                "{AWSPENDING} version {} already holds user {username}",
                p.version_id
            ));
            return Ok(write);
        }
        if current.holds(username, password) {
            write.version_id = current.version_id.clone();
            write.done = Some(format!(
                "{AWSCURRENT} version {} already holds user {username}",
                current.version_id
            ));
            return Ok(write);
        }
        let replaces = pending.map(|stale| (stale.version_id, stale.username));
        write.calls.push(Call::PutPending {
            token,
            value: current.json_with(username, password),
            changes: changes(&current, username),
            replaces,
        });
        Ok(write)
    }

    /// Work out moving AWSCURRENT to `version_id` (the pending version; the
    /// old current becomes AWSPREVIOUS) and removing its AWSPENDING label.
    /// Refuses a version that is neither pending nor current.
    pub async fn plan_promote(&self, secret_id: &str, version_id: &str) -> AwsResult<SecretWrite> {
        let versions = self.versions(secret_id).await?;
        let target = find_version(&versions, secret_id, version_id)?;
        let current = find_stage(&versions, AWSCURRENT);
        let mut write = SecretWrite {
            secret_id: secret_id.to_owned(),
            kind: WriteKind::Promote,
            version_id: version_id.to_owned(),
            done: None,
            calls: Vec::new(),
        };
        if !target.has_stage(AWSPENDING) && !target.has_stage(AWSCURRENT) {
            return Err(AwsError::invalid(format!(
                "version {version_id} of secret {secret_id} is neither {AWSPENDING} nor \
                 {AWSCURRENT} (labels: {}); refusing to promote it",
                labels(target)
            )));
        }
        if !target.has_stage(AWSCURRENT) {
            write.calls.push(Call::MoveStage {
                stage: AWSCURRENT,
                to: Some(version_id.to_owned()),
                from: current.map(|c| c.version_id.clone()),
            });
        }
        if target.has_stage(AWSPENDING) {
            write.calls.push(Call::MoveStage {
                stage: AWSPENDING,
                to: None,
                from: Some(version_id.to_owned()),
            });
        }
        if write.calls.is_empty() {
            write.done = Some(format!("{AWSCURRENT} is already on version {version_id}"));
        }
        Ok(write)
    }

    /// Work out undoing the promotion of `rotated_version_id`: AWSCURRENT
    /// moves back to the AWSPREVIOUS version. Done when AWSCURRENT is no
    /// longer on `rotated_version_id` (naming it makes a re-run harmless,
    /// where "swap current and previous" would flip back).
    pub async fn plan_rollback(&self, secret_id: &str, rotated_version_id: &str) -> AwsResult<SecretWrite> {
        let versions = self.versions(secret_id).await?;
        let rotated = find_version(&versions, secret_id, rotated_version_id)?;
        let mut write = SecretWrite {
            secret_id: secret_id.to_owned(),
            kind: WriteKind::Rollback,
            version_id: String::new(),
            done: None,
            calls: Vec::new(),
        };
        if !rotated.has_stage(AWSCURRENT) {
            write.version_id = find_stage(&versions, AWSCURRENT)
                .map(|v| v.version_id.clone())
                .unwrap_or_default();
            write.done = Some(format!(
                "{AWSCURRENT} is not on version {rotated_version_id} (it is on {})",
                if write.version_id.is_empty() {
                    "none"
                } else {
                    &write.version_id
                }
            ));
            return Ok(write);
        }
        let previous = find_stage(&versions, AWSPREVIOUS).ok_or_else(|| {
            AwsError::invalid(format!(
                "secret {secret_id} has no {AWSPREVIOUS} version to roll back to"
            ))
        })?;
        write.version_id = previous.version_id.clone();
        write.calls.push(Call::MoveStage {
            stage: AWSCURRENT,
            to: Some(previous.version_id.clone()),
            from: Some(rotated_version_id.to_owned()),
        });
        Ok(write)
    }

    /// Work out removing the AWSPENDING label from `version_id` (a staged
    /// update given up: rolled back before its promotion). Done when that
    /// version does not carry the label.
    pub async fn plan_remove_pending(&self, secret_id: &str, version_id: &str) -> AwsResult<SecretWrite> {
        let versions = self.versions(secret_id).await?;
        let target = find_version(&versions, secret_id, version_id)?;
        let mut write = SecretWrite {
            secret_id: secret_id.to_owned(),
            kind: WriteKind::RemovePending,
            version_id: version_id.to_owned(),
            done: None,
            calls: Vec::new(),
        };
        if target.has_stage(AWSPENDING) {
            write.calls.push(Call::MoveStage {
                stage: AWSPENDING,
                to: None,
                from: Some(version_id.to_owned()),
            });
        } else {
            write.done = Some(format!("version {version_id} is not {AWSPENDING}"));
        }
        Ok(write)
    }

    /// Remove the AWSPENDING label from `version_id`, unless it is gone already.
    pub async fn remove_pending(&self, secret_id: &str, version_id: &str) -> AwsResult<()> {
        let write = self.plan_remove_pending(secret_id, version_id).await?;
        self.apply(&write).await
    }

    /// Make the calls of `write`, in order. A done write makes none.
    pub async fn apply(&self, write: &SecretWrite) -> AwsResult<()> {
        let id = write.secret_id.as_str();
        for call in &write.calls {
            match call {
                Call::PutPending { token, value, .. } => {
                    self.client
                        .put_secret_value()
                        .secret_id(id)
                        .secret_string(value.expose_secret())
                        .client_request_token(token)
                        .version_stages(AWSPENDING)
                        .send()
                        .await
                        .map_err(|e| self.sdk_error(&e, id))?;
                    crate::fault::point("secret-call");
                }
                Call::MoveStage { stage, to, from } => {
                    self.client
                        .update_secret_version_stage()
                        .secret_id(id)
                        .version_stage(*stage)
                        .set_move_to_version_id(to.clone())
                        .set_remove_from_version_id(from.clone())
                        .send()
                        .await
                        .map_err(|e| self.sdk_error(&e, id))?;
                    crate::fault::point("secret-call");
                }
            }
        }
        Ok(())
    }

    /// Write the new credentials as the AWSPENDING version (unless already
    /// there) and read them back. Returns the pending version.
    pub async fn put_pending(
        &self,
        secret_id: &str,
        rotation_id: &str,
        username: &str,
        password: &SecretString,
    ) -> AwsResult<AppSecret> {
        let write = self
            .plan_put_pending(secret_id, rotation_id, username, password)
            .await?;
        self.apply(&write).await?;
        let back = self.version(secret_id, &write.version_id).await?;
        if !back.holds(username, password) {
            return Err(AwsError::invalid(format!(
                "read-back of version {} of secret {secret_id} does not hold the credentials \
                 just written (user {})",
                write.version_id, back.username
            )));
        }
        Ok(back)
    }

    /// Move AWSCURRENT to `version_id` (unless already there) and check it.
    pub async fn promote(&self, secret_id: &str, version_id: &str) -> AwsResult<()> {
        let write = self.plan_promote(secret_id, version_id).await?;
        self.apply(&write).await?;
        self.expect_current(secret_id, version_id).await
    }

    /// Move AWSCURRENT back to AWSPREVIOUS, if it is still on
    /// `rotated_version_id`, and check it. Returns the version now current.
    pub async fn rollback(&self, secret_id: &str, rotated_version_id: &str) -> AwsResult<String> {
        let write = self.plan_rollback(secret_id, rotated_version_id).await?;
        self.apply(&write).await?;
        if !write.is_done() {
            self.expect_current(secret_id, &write.version_id).await?;
        }
        Ok(write.version_id)
    }

    async fn version(&self, secret_id: &str, version_id: &str) -> AwsResult<AppSecret> {
        self.app_secret_at(secret_id, VersionRef::Id(version_id))
            .await?
            .ok_or_else(|| {
                AwsError::not_found(format!(
                    "version {version_id} of secret {secret_id} not found in {}",
                    self.region()
                ))
            })
    }

    async fn expect_current(&self, secret_id: &str, version_id: &str) -> AwsResult<()> {
        let versions = self.versions(secret_id).await?;
        match find_stage(&versions, AWSCURRENT) {
            Some(v) if v.version_id == version_id => Ok(()),
            other => Err(AwsError::invalid(format!(
                "after the update, {AWSCURRENT} of secret {secret_id} is on {} rather than {version_id}",
                other.map(|v| v.version_id.as_str()).unwrap_or("no version")
            ))),
        }
    }
}

fn find_stage<'a>(versions: &'a [SecretVersion], stage: &str) -> Option<&'a SecretVersion> {
    versions.iter().find(|v| v.has_stage(stage))
}

fn find_version<'a>(
    versions: &'a [SecretVersion],
    secret_id: &str,
    version_id: &str,
) -> AwsResult<&'a SecretVersion> {
    versions
        .iter()
        .find(|v| v.version_id == version_id)
        .ok_or_else(|| AwsError::not_found(format!("version {version_id} of secret {secret_id} not found")))
}

fn labels(v: &SecretVersion) -> String {
    if v.stages.is_empty() {
        "none".to_owned()
    } else {
        v.stages.join(", ")
    }
}

/// What a new version changes, for the preview: the username in clear, the
/// password only as a mask, and the names of the keys carried over.
fn changes(current: &AppSecret, username: &str) -> Vec<String> {
    let mut out = Vec::new();
    if current.username == username {
        out.push(format!("username {username} unchanged"));
    } else {
        out.push(format!("username {} → {username}", current.username));
    }
    out.push(format!("password {MASK} → {MASK}"));
    let mut kept = vec!["host"];
    kept.extend(current.other_keys());
    out.push(format!("kept: {}", kept.join(", ")));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pending_tokens_are_stable_distinct_and_valid() {
        let a = pending_token("signon-production-20260121T101500");
        assert_eq!(a, pending_token("signon-production-20260121T101500"));
        assert_ne!(a, pending_token("signon-production-20260121T101501"));
        assert!((32..=64).contains(&a.len()), "{a}");
        assert!(a.chars().all(|c| c.is_ascii_alphanumeric() || c == '-'));
        // Pinned to FNV-1a's published value for "a": a change of hash would
        // orphan the pending versions of rotations under way.
        assert!(pending_token("a").starts_with("rotui-af63dc4c8601ec8c"));
    }

    #[test]
    fn preview_names_calls_labels_and_keys_but_masks_passwords() {
        let current = AppSecret::parse(
            "govuk/signon/mysql",
            "v-old",
            vec![AWSCURRENT.into()],
            r#"{"username":"signon","password":"OldPreviewPassw0rd","host":"h","hostReplica":"r"}"#,
        )
        .unwrap();
        let new = crate::secret::secret("NewPreviewPassw0rd");
        let write = SecretWrite {
            secret_id: "govuk/signon/mysql".into(),
            kind: WriteKind::PutPending,
            version_id: "rotui-x".into(),
            done: None,
            calls: vec![
                Call::PutPending {
                    token: "rotui-x".into(),
                    value: current.json_with("signon_user_20260121", &new),
                    changes: changes(&current, "signon_user_20260121"),
                    replaces: Some(("v-stale".into(), "signon_user_20250101".into())),
                },
                Call::MoveStage {
                    stage: AWSCURRENT,
                    to: Some("rotui-x".into()),
                    from: Some("v-old".into()),
                },
            ],
        };
        let p = write.preview();
        assert!(
            p.contains("PutSecretValue govuk/signon/mysql: new version rotui-x labelled AWSPENDING"),
            "{p}"
        );
        assert!(p.contains("username signon → signon_user_20260121"), "{p}");
        assert!(p.contains("kept: host, hostReplica"), "{p}");
        assert!(
            p.contains("stale version v-stale (user signon_user_20250101)"),
            "{p}"
        );
        assert!(
            p.contains("AWSCURRENT moves from version v-old to version rotui-x (v-old becomes AWSPREVIOUS)"),
            "{p}"
        );
        for text in [p, format!("{write:?}")] {
            assert!(!text.contains("PreviewPassw0rd"), "{text}");
        }
    }
}
