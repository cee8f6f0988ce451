//! Reading Secrets Manager: the app secret, the admin password and the
//! versions with their staging labels. Writes are in `staged.rs`.

use aws_sdk_secretsmanager::Client;
use aws_sdk_secretsmanager::config::http::HttpResponse;
use aws_sdk_secretsmanager::error::ProvideErrorMetadata;
use chrono::{DateTime, Utc};
use serde_json::Value;

use super::app_secret::{AppSecret, list_or_none, parse_object};
use super::error::{AwsError, AwsErrorKind, AwsResult};
use crate::secret::{ExposeSecret, SecretString};

pub const AWSCURRENT: &str = "AWSCURRENT";
pub const AWSPENDING: &str = "AWSPENDING";
pub const AWSPREVIOUS: &str = "AWSPREVIOUS";

/// A Secrets Manager client bound to one region.
#[derive(Clone)]
pub struct SecretsManager {
    pub(crate) client: Client,
    region: String,
}

impl std::fmt::Debug for SecretsManager {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SecretsManager")
            .field("region", &self.region)
            .finish_non_exhaustive()
    }
}

/// One version of a secret and its staging labels.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SecretVersion {
    pub version_id: String,
    pub stages: Vec<String>,
    pub created: Option<DateTime<Utc>>,
}

impl SecretVersion {
    pub fn has_stage(&self, stage: &str) -> bool {
        self.stages.iter().any(|s| s == stage)
    }
}

/// A secret as ListSecrets describes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListedSecret {
    pub name: String,
    pub tags: Vec<(String, String)>,
    /// Version id → its staging labels.
    pub stages: std::collections::BTreeMap<String, Vec<String>>,
}

/// What a paged read found, and how many calls (pages) it took.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Paged<T> {
    pub value: T,
    pub calls: u32,
}

/// Which version to read.
#[derive(Debug, Clone, Copy)]
pub enum VersionRef<'a> {
    Stage(&'a str),
    Id(&'a str),
}

impl SecretsManager {
    pub fn new(client: Client, region: &str) -> Self {
        SecretsManager {
            client,
            region: region.to_owned(),
        }
    }

    pub fn region(&self) -> &str {
        &self.region
    }

    /// "secret govuk/signon/mysql in eu-west-1", for messages.
    pub(crate) fn what(&self, secret_id: &str) -> String {
        format!("secret {secret_id} in {}", self.region)
    }

    /// Classify an SDK failure about `secret_id`.
    pub(crate) fn sdk_error<E>(
        &self,
        err: &aws_sdk_secretsmanager::error::SdkError<E, HttpResponse>,
        secret_id: &str,
    ) -> AwsError
    where
        E: aws_sdk_secretsmanager::error::ProvideErrorMetadata + std::error::Error + 'static,
    {
        AwsError::from_sdk(err, &format!("secret {secret_id}"), &self.region)
    }

    /// The app secret as the app sees it now (AWSCURRENT).
    pub async fn app_secret(&self, secret_id: &str) -> AwsResult<AppSecret> {
        self.app_secret_at(secret_id, VersionRef::Stage(AWSCURRENT))
            .await?
            .ok_or_else(|| self.no_version(secret_id, AWSCURRENT))
    }

    /// One version of the app secret; `None` when no version has that
    /// label or id (the secret itself must exist).
    pub async fn app_secret_at(&self, secret_id: &str, at: VersionRef<'_>) -> AwsResult<Option<AppSecret>> {
        let Some(raw) = self.get(secret_id, at).await? else {
            return Ok(None);
        };
        AppSecret::parse(secret_id, &raw.version_id, raw.stages, &raw.text).map(Some)
    }

    /// Every username the app secret has held, in any version AWS still
    /// keeps (deprecated ones included), sorted, each once. A version whose
    /// value is gone or not app-secret JSON is passed over.
    pub async fn past_usernames(&self, secret_id: &str) -> AwsResult<Vec<String>> {
        let mut names = std::collections::BTreeSet::new();
        for v in self.versions(secret_id).await? {
            if let Ok(Some(s)) = self.app_secret_at(secret_id, VersionRef::Id(&v.version_id)).await {
                names.insert(s.username);
            }
        }
        Ok(names.into_iter().collect())
    }

    /// The version labelled AWSPENDING, if there is one: a staged update
    /// that was written but not yet promoted, to be reused on a re-run.
    pub async fn pending(&self, secret_id: &str) -> AwsResult<Option<AppSecret>> {
        self.app_secret_at(secret_id, VersionRef::Stage(AWSPENDING)).await
    }

    /// The RDS admin password: key `key` of `<env>-rds-admin-passwords`.
    /// When the key is missing the error lists the keys that exist.
    pub async fn admin_password(&self, secret_id: &str, key: &str) -> AwsResult<SecretString> {
        let raw = self
            .get(secret_id, VersionRef::Stage(AWSCURRENT))
            .await?
            .ok_or_else(|| self.no_version(secret_id, AWSCURRENT))?;
        let mut map = parse_object(secret_id, &raw.text)?;
        match map.remove(key) {
            Some(Value::String(p)) => Ok(crate::secret::secret(p)),
            Some(_) => Err(AwsError::invalid(format!(
                "key {key} of {} is not a string",
                self.what(secret_id)
            ))),
            None => {
                let have: Vec<&str> = map.keys().map(String::as_str).collect();
                Err(AwsError::not_found(format!(
                    "no key {key} in {}; it has: {}",
                    self.what(secret_id),
                    list_or_none(&have)
                ))
                .with_hint("name the database's key with --admin-secret-key"))
            }
        }
    }

    /// The keys of the admin passwords secret, sorted — never its values
    /// (which are dropped here, unread by anything else).
    pub async fn admin_secret_keys(&self, secret_id: &str) -> AwsResult<Vec<String>> {
        let raw = self
            .get(secret_id, VersionRef::Stage(AWSCURRENT))
            .await?
            .ok_or_else(|| self.no_version(secret_id, AWSCURRENT))?;
        let mut keys: Vec<String> = parse_object(secret_id, &raw.text)?
            .into_iter()
            .map(|(k, _)| k)
            .collect();
        keys.sort();
        Ok(keys)
    }

    /// Create `secret_id` holding `value` unless it exists; `true` when it
    /// was created. For seeding the sandbox: an existing secret is never
    /// touched.
    pub async fn create_if_missing(&self, secret_id: &str, value: &Value) -> AwsResult<bool> {
        if self.exists(secret_id).await? {
            return Ok(false);
        }
        let text = SecretString::from(value.to_string());
        match self
            .client
            .create_secret()
            .name(secret_id)
            .secret_string(text.expose_secret())
            .send()
            .await
        {
            Ok(_) => Ok(true),
            // Created meanwhile by someone else: just as good.
            Err(e) if e.code() == Some("ResourceExistsException") => Ok(false),
            Err(e) => Err(self.sdk_error(&e, secret_id)),
        }
    }

    /// Every secret whose name starts with `prefix` (ListSecrets' name
    /// filter, which is case-insensitive, made exact here), every page.
    pub async fn list_by_prefix(&self, prefix: &str) -> AwsResult<Paged<Vec<ListedSecret>>> {
        use aws_sdk_secretsmanager::types::{Filter, FilterNameStringType};
        let mut out = Vec::new();
        let mut calls = 0;
        let mut next: Option<String> = None;
        loop {
            calls += 1;
            let page = self
                .client
                .list_secrets()
                .filters(
                    Filter::builder()
                        .key(FilterNameStringType::Name)
                        .values(prefix)
                        .build(),
                )
                .max_results(100)
                .set_next_token(next.take())
                .send()
                .await
                .map_err(|e| self.sdk_error(&e, &format!("{prefix}*")))?;
            for entry in page.secret_list.unwrap_or_default() {
                let Some(name) = entry.name.clone() else { continue };
                if !name.starts_with(prefix) {
                    continue;
                }
                let tags = entry
                    .tags()
                    .iter()
                    .filter_map(|t| Some((t.key.clone()?, t.value.clone().unwrap_or_default())))
                    .collect();
                let stages = entry
                    .secret_versions_to_stages()
                    .map(|m| m.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
                    .unwrap_or_default();
                out.push(ListedSecret { name, tags, stages });
            }
            match page.next_token {
                Some(t) if !t.is_empty() => next = Some(t),
                _ => break,
            }
        }
        Ok(Paged { value: out, calls })
    }

    /// When version `version_id` of `secret_id` was created
    /// (ListSecretVersionIds, reading pages until it is found).
    pub async fn version_created(
        &self,
        secret_id: &str,
        version_id: &str,
    ) -> AwsResult<Paged<Option<DateTime<Utc>>>> {
        let mut calls = 0;
        let mut next: Option<String> = None;
        loop {
            calls += 1;
            let page = self
                .client
                .list_secret_version_ids()
                .secret_id(secret_id)
                .max_results(100)
                .set_next_token(next.take())
                .send()
                .await
                .map_err(|e| self.sdk_error(&e, secret_id))?;
            let found = page
                .versions
                .unwrap_or_default()
                .into_iter()
                .find(|v| v.version_id.as_deref() == Some(version_id));
            if let Some(v) = found {
                let created = v
                    .created_date
                    .and_then(|d| DateTime::<Utc>::from_timestamp(d.secs(), d.subsec_nanos()));
                return Ok(Paged {
                    value: created,
                    calls,
                });
            }
            match page.next_token {
                Some(t) if !t.is_empty() => next = Some(t),
                _ => return Ok(Paged { value: None, calls }),
            }
        }
    }

    /// Every version with its labels, oldest first — deprecated (unlabelled)
    /// ones included, which DescribeSecret would leave out.
    pub async fn versions(&self, secret_id: &str) -> AwsResult<Vec<SecretVersion>> {
        let mut versions = Vec::new();
        let mut next: Option<String> = None;
        loop {
            let page = self
                .client
                .list_secret_version_ids()
                .secret_id(secret_id)
                .include_deprecated(true)
                .max_results(100)
                .set_next_token(next.take())
                .send()
                .await
                .map_err(|e| self.sdk_error(&e, secret_id))?;
            for v in page.versions.unwrap_or_default() {
                let mut stages = v.version_stages.unwrap_or_default();
                stages.sort();
                versions.push(SecretVersion {
                    version_id: v.version_id.unwrap_or_default(),
                    stages,
                    created: v
                        .created_date
                        .and_then(|d| DateTime::<Utc>::from_timestamp(d.secs(), d.subsec_nanos())),
                });
            }
            match page.next_token {
                Some(t) if !t.is_empty() => next = Some(t),
                _ => break,
            }
        }
        versions.sort_by(|a, b| a.created.cmp(&b.created).then(a.version_id.cmp(&b.version_id)));
        Ok(versions)
    }

    /// GetSecretValue. `Ok(None)` when the secret exists but the label or
    /// version does not; NotFound when the secret itself does not.
    async fn get(&self, secret_id: &str, at: VersionRef<'_>) -> AwsResult<Option<RawVersion>> {
        let req = self.client.get_secret_value().secret_id(secret_id);
        let req = match at {
            VersionRef::Stage(s) => req.version_stage(s),
            VersionRef::Id(v) => req.version_id(v),
        };
        match req.send().await {
            Ok(out) => {
                let text = out.secret_string.ok_or_else(|| {
                    AwsError::invalid(format!(
                        "{} holds binary data, not a JSON SecretString",
                        self.what(secret_id)
                    ))
                })?;
                Ok(Some(RawVersion {
                    version_id: out.version_id.unwrap_or_default(),
                    stages: out.version_stages.unwrap_or_default(),
                    text,
                }))
            }
            Err(e) => {
                let err = self.sdk_error(&e, secret_id);
                if err.kind == AwsErrorKind::NotFound && self.exists(secret_id).await? {
                    return Ok(None);
                }
                Err(err)
            }
        }
    }

    /// The secret's tags (DescribeSecret), as (key, value).
    pub async fn tags(&self, secret_id: &str) -> AwsResult<Vec<(String, String)>> {
        let out = self
            .client
            .describe_secret()
            .secret_id(secret_id)
            .send()
            .await
            .map_err(|e| self.sdk_error(&e, secret_id))?;
        Ok(out
            .tags
            .unwrap_or_default()
            .into_iter()
            .filter_map(|t| Some((t.key?, t.value.unwrap_or_default())))
            .collect())
    }

    /// Add or overwrite tags (TagResource).
    pub async fn tag(&self, secret_id: &str, tags: &[(String, String)]) -> AwsResult<()> {
        let mut req = self.client.tag_resource().secret_id(secret_id);
        for (k, v) in tags {
            req = req.tags(
                aws_sdk_secretsmanager::types::Tag::builder()
                    .key(k)
                    .value(v)
                    .build(),
            );
        }
        req.send().await.map_err(|e| self.sdk_error(&e, secret_id))?;
        Ok(())
    }

    /// Remove tags by key (UntagResource); nothing to remove is no call.
    pub async fn untag(&self, secret_id: &str, keys: &[String]) -> AwsResult<()> {
        if keys.is_empty() {
            return Ok(());
        }
        self.client
            .untag_resource()
            .secret_id(secret_id)
            .set_tag_keys(Some(keys.to_vec()))
            .send()
            .await
            .map_err(|e| self.sdk_error(&e, secret_id))?;
        Ok(())
    }

    /// Whether the secret exists (NotFound is the only "no").
    async fn exists(&self, secret_id: &str) -> AwsResult<bool> {
        match self.client.describe_secret().secret_id(secret_id).send().await {
            Ok(_) => Ok(true),
            Err(e) => {
                let err = self.sdk_error(&e, secret_id);
                if err.kind == AwsErrorKind::NotFound {
                    Ok(false)
                } else {
                    Err(err)
                }
            }
        }
    }

    fn no_version(&self, secret_id: &str, stage: &str) -> AwsError {
        AwsError::not_found(format!(
            "{} has no version labelled {stage}",
            self.what(secret_id)
        ))
    }
}

/// A SecretString straight from AWS; never printed.
struct RawVersion {
    version_id: String,
    stages: Vec<String>,
    text: String,
}
