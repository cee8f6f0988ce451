//! Environments as configuration. On the estate each environment is its own
//! AWS account and its own EKS cluster, so a rotation that spans several
//! (`--also-env`, compromised mode) needs, for each, the AWS session and the
//! kube context to use, and what they must turn out to be:
//!
//! ```toml
//! [environments.production]
//! # its credentials: an AWS profile, or a command printing them (the
//! # `export` lines of `gds aws … -e`, or credential_process JSON); neither:
//! # the shell's session
//! credential_command = "gds aws govuk-production-platformengineer -e"
//! aws_endpoint_url = "http://127.0.0.1:PORT"  # sandbox/tests only
//! region = "eu-west-1"
//! account_id = "172025368201"                 # required
//! kube_context = "production"                 # required
//! cluster = "arn:aws:eks:eu-west-1:172025368201:cluster/govuk"
//! restored_from = "production"                # (PostgreSQL) overrides its cluster's data sync
//! webhook_url = "https://hooks.slack.com/services/…"  # optional: rotation notices
//! [apps.account-api]
//! copied_by_restore = false
//! ```
//!
//! Before the first write, the caller identity's account and the context's
//! cluster are checked against the environment ([`check_account`],
//! [`check_cluster`]); a mismatch names both sides.

use std::collections::BTreeMap;
use std::fmt;
use std::path::Path;

use serde::Deserialize;

/// One environment: its AWS account and its cluster.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct EnvConfig {
    /// The AWS profile to use; `None` = the shell's session (`gds aws … --shell`).
    pub aws_profile: Option<String>,
    /// A command printing this environment's credentials (`gds aws
    /// govuk-<env>-<role> -e`, or any `credential_process`), re-run before
    /// they expire. Instead of `aws_profile`.
    pub credential_command: Option<String>,
    /// A Secrets Manager/STS endpoint (the sandbox and tests only).
    pub aws_endpoint_url: Option<String>,
    pub region: Option<String>,
    /// The AWS account this environment is.
    pub account_id: String,
    /// The kubeconfig context of its cluster.
    pub kube_context: String,
    /// What the context's `cluster` entry must be (an EKS ARN is also
    /// checked against `account_id`).
    pub cluster: Option<String>,
    /// (PostgreSQL) restored from that environment, whatever its cluster's
    /// db-backup CronJobs say (they are read when this is unset).
    pub restored_from: Option<String>,
    /// Where this environment's rotation notices go (Slack-compatible
    /// JSON, [`crate::webhook`]); shown masked, never whole.
    pub webhook_url: Option<WebhookUrl>,
    /// The CA bundle its database servers' certificates are checked against
    /// (the RDS bundle): every login is then TLS verify-full against the
    /// host the app secret names. `None`: TLS required, not verified.
    pub ca_bundle: Option<std::path::PathBuf>,
    /// The image of `--tunnel`'s relay pod (a cluster that pulls only from
    /// its own registry names its mirror here) [default: a pinned alpine/socat].
    pub tunnel_image: Option<String>,
}

/// Each environment's webhook, where it has one.
pub fn webhooks(environments: &Environments) -> BTreeMap<String, WebhookUrl> {
    environments
        .iter()
        .filter_map(|(env, c)| Some((env.clone(), c.webhook_url.clone()?)))
        .collect()
}

/// A webhook's URL: http(s) only; shown masked (`https://hooks.slack.com/•••`).
#[derive(Clone, PartialEq, Eq)]
pub struct WebhookUrl(String);

impl WebhookUrl {
    pub fn parse(text: &str) -> Result<WebhookUrl, String> {
        // Whatever it turns out to be, the value may be a credential: masked
        // from now on, in the config's own parse error (which quotes the line) too.
        crate::secret::register(text);
        let url = url::Url::parse(text).map_err(|e| format!("webhook_url is not a URL ({e})"))?;
        if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
            return Err(format!(
                "webhook_url must be an http(s) URL with a host, not {}",
                masked(&url)
            ));
        }
        // The path (and query) is the credential: no error or log may show it.
        crate::secret::register(&url[url::Position::BeforePath..]);
        Ok(WebhookUrl(text.to_owned()))
    }

    /// Scheme, host and port; the path masked.
    pub fn masked(&self) -> String {
        url::Url::parse(&self.0).map_or_else(|_| crate::secret::MASK.to_owned(), |u| masked(&u))
    }

    /// The whole URL, for the request only.
    pub(crate) fn expose(&self) -> &str {
        &self.0
    }
}

fn masked(url: &url::Url) -> String {
    format!("{}/{}", &url[..url::Position::BeforePath], crate::secret::MASK)
}

impl fmt::Debug for WebhookUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "WebhookUrl({})", self.masked())
    }
}

impl fmt::Display for WebhookUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.masked())
    }
}

impl<'de> Deserialize<'de> for WebhookUrl {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        WebhookUrl::parse(&text).map_err(serde::de::Error::custom)
    }
}

impl EnvConfig {
    /// Whether this environment has credentials of its own (else it runs
    /// on the shell's session, which is one account at a time).
    pub fn has_credential_source(&self) -> bool {
        self.aws_profile.is_some() || self.credential_command.is_some()
    }

    /// What the TOML cannot say by itself: one credential source at most.
    pub fn check(&self, name: &str) -> Result<(), String> {
        if self.aws_profile.is_some() && self.credential_command.is_some() {
            return Err(format!(
                "[environments.{name}] has both aws_profile and credential_command: keep the one \
                 that gives {name}'s credentials"
            ));
        }
        if self
            .credential_command
            .as_deref()
            .is_some_and(|c| c.trim().is_empty())
        {
            return Err(format!("[environments.{name}] credential_command is empty"));
        }
        Ok(())
    }
}

/// Per-app settings.
#[derive(Debug, Clone, Default, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct AppConfig {
    /// `false`: the nightly restore does not copy this app's database
    /// (e.g. account-api), so its restored environments stand on their own.
    pub copied_by_restore: Option<bool>,
    /// `true`: rotations restart the app's workloads one at a time, each
    /// behind its health gate (`rotui rotate --stagger`; the dashboard too).
    pub stagger: Option<bool>,
}

/// Every configured environment, by name.
pub type Environments = BTreeMap<String, EnvConfig>;

/// Every environment a run names must be one the config names, once it
/// names any: a misspelt `--env prod` would otherwise go ahead with the
/// shell's session and the current context, and fail only at the end. With
/// no environment configured, one environment runs on the shell's session
/// and context, but several need each one configured: with one shell
/// session and one kube context, every environment would be the same
/// account and cluster. The error lists the configured ones and shows the
/// TOML to write.
pub fn require_configured(
    environments: &Environments,
    envs: &[String],
    config_path: Option<&Path>,
) -> Result<(), String> {
    let missing: Vec<&str> = envs
        .iter()
        .filter(|e| !environments.contains_key(*e))
        .map(String::as_str)
        .collect();
    if missing.is_empty() || (environments.is_empty() && envs.len() < 2) {
        return Ok(());
    }
    Err(missing_message(environments, &missing, envs, config_path))
}

fn missing_message(
    environments: &Environments,
    missing: &[&str],
    envs: &[String],
    config_path: Option<&Path>,
) -> String {
    let path = config_path.map_or_else(
        || "the config file (--config or ROTUI_CONFIG)".to_owned(),
        |p| p.display().to_string(),
    );
    let which = match missing {
        [one] => format!("{one} is"),
        many => format!("{} are", many.join(", ")),
    };
    let mut out = if environments.is_empty() {
        format!(
            "{} spans {} environments, each its own AWS account and cluster, but {which} not configured: \
             nothing was connected to. Add to {path}:\n",
            envs.join("+"),
            envs.len(),
        )
    } else {
        let known: Vec<&str> = environments.keys().map(String::as_str).collect();
        let guesses: Vec<String> = missing
            .iter()
            .filter_map(|m| Some(format!("{m} → {}", likely(&known, m)?)))
            .collect();
        let guess = if guesses.is_empty() {
            String::new()
        } else {
            format!(" (did you mean {}?)", guesses.join(", "))
        };
        format!(
            "{which} not configured{guess}: {path} names the environments {}, and nothing was \
             connected to. Pass --env with one of those, or, if {which} another AWS account and \
             cluster, add to {path}:\n",
            known.join(", "),
        )
    };
    for env in missing {
        out.push_str(&template(env));
    }
    out.push_str(
        "\nWithout credential_command or aws_profile, rotui uses the shell's session for every \
         environment, which holds one account at a time; with one, each environment's session \
         (and its cluster's token) comes from its own source.",
    );
    out
}

/// The configured name `typed` most likely meant: one it begins or ends,
/// or one that begins it (`prod` → `production`).
fn likely<'a>(known: &[&'a str], typed: &str) -> Option<&'a str> {
    let typed = typed.to_ascii_lowercase();
    let close: Vec<&str> = known
        .iter()
        .copied()
        .filter(|k| {
            let k = k.to_ascii_lowercase();
            typed.len() >= 3 && (k.starts_with(&typed) || typed.starts_with(&k))
        })
        .collect();
    match close.as_slice() {
        [one] => Some(one),
        _ => None,
    }
}

/// The config block for `env`, with placeholders.
pub fn template(env: &str) -> String {
    format!(
        "\n[environments.{env}]\n\
         # credentials: a command printing them (a rotation needs the platformengineer\n\
         # or fulladmin role), or aws_profile = \"<profile>\", or neither: the shell's session\n\
         credential_command = \"gds aws govuk-{env}-platformengineer -e\"\n\
         account_id = \"<12-digit account id of {env}>\"\n\
         kube_context = \"<kubeconfig context of {env}'s cluster>\"\n\
         cluster = \"arn:aws:eks:eu-west-1:<account id>:cluster/<name>\"  # optional\n"
    )
}

/// The environment whose account is `account`, if the config knows it.
pub fn env_of_account<'a>(environments: &'a Environments, account: &str) -> Option<&'a str> {
    environments
        .iter()
        .find(|(_, c)| c.account_id == account)
        .map(|(name, _)| name.as_str())
}

fn whose(environments: &Environments, account: &str) -> String {
    env_of_account(environments, account).map_or_else(String::new, |e| format!(" ({e}?)"))
}

/// The caller identity's account must be the environment's.
pub fn check_account(env: &str, environments: &Environments, found: &str) -> Result<(), String> {
    let Some(cfg) = environments.get(env) else {
        return Ok(());
    };
    if found == cfg.account_id {
        return Ok(());
    }
    let mut why = format!(
        "{env}: the AWS session is account {found}{}, expected {}",
        whose(environments, found),
        cfg.account_id
    );
    if !cfg.has_credential_source() {
        why.push_str(&format!(
            ". {env} has no credential source, so it ran on the shell's session, which is \
             another account's: nothing was written. Give {env} its own, in \
             [environments.{env}]:\n  credential_command = \"gds aws govuk-{env}-platformengineer -e\""
        ));
    }
    Err(why)
}

/// The context's cluster must be the configured one, and an EKS cluster's
/// ARN must name the environment's account. `found` is the context's
/// `cluster` entry from the kubeconfig (`None`: no such context).
pub fn check_cluster(
    env: &str,
    environments: &Environments,
    context: &str,
    found: Option<&str>,
) -> Result<(), String> {
    let Some(cfg) = environments.get(env) else {
        return Ok(());
    };
    let Some(found) = found else {
        return Err(format!(
            "{env}: the kubeconfig has no context {context} (or it names no cluster)"
        ));
    };
    if let Some(expected) = &cfg.cluster
        && found != expected
    {
        let owner = eks_account(found).map_or_else(String::new, |a| whose(environments, a));
        return Err(format!(
            "{env}: kube context {context} is cluster {found}{owner}, expected {expected}"
        ));
    }
    if let Some(account) = eks_account(found)
        && account != cfg.account_id
    {
        return Err(format!(
            "{env}: kube context {context} is cluster {found}, in account {account}{}, expected {}",
            whose(environments, account),
            cfg.account_id
        ));
    }
    Ok(())
}

/// Without a config for the environment, the session's account and the
/// kube context's cluster must still be one account: an EKS cluster's ARN
/// names its account, so production's session with staging's context is
/// caught here too. `cluster` is the context's `cluster` entry (`None`, or
/// a name that is not an EKS ARN: nothing to compare).
pub fn check_session_matches_cluster(
    env: &str,
    account: &str,
    context: &str,
    cluster: Option<&str>,
) -> Result<(), String> {
    let Some(cluster_account) = cluster.and_then(eks_account) else {
        return Ok(());
    };
    if cluster_account == account {
        return Ok(());
    }
    Err(format!(
        "{env}: the AWS session is account {account}, but kube context {context} is cluster {}, in \
         account {cluster_account}: one of them is another environment's. Use the session of \
         {env}'s account (`gds aws govuk-{env}-<role> --shell`) and the context of its cluster \
         (`--context`, see `kubectl config get-contexts`), or name {env}'s account and context in \
         the config file ([environments.{env}]) so rotui picks both",
        cluster.unwrap_or_default()
    ))
}

/// The account of an EKS cluster ARN (`arn:aws:eks:<region>:<account>:cluster/<name>`).
pub fn eks_account(cluster: &str) -> Option<&str> {
    let parts: Vec<&str> = cluster.splitn(6, ':').collect();
    match parts.as_slice() {
        ["arn", _, "eks", _, account, rest] if rest.starts_with("cluster/") && !account.is_empty() => {
            Some(account)
        }
        _ => None,
    }
}

/// The `cluster` entry of `context` in the operator's kubeconfig
/// (`$KUBECONFIG` or `~/.kube/config`, merged as kubectl does).
pub fn context_cluster(context: &str) -> Option<String> {
    let kubeconfig = kube::config::Kubeconfig::read().ok()?;
    cluster_of(&kubeconfig, context)
}

/// The `cluster` entry of `context` in `kubeconfig`.
pub fn cluster_of(kubeconfig: &kube::config::Kubeconfig, context: &str) -> Option<String> {
    kubeconfig
        .contexts
        .iter()
        .find(|c| c.name == context)?
        .context
        .as_ref()
        .map(|c| c.cluster.clone())
        .filter(|c| !c.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;

    const CONFIG: &str = r#"
[environments.production]
aws_profile = "govuk-production-developer"
region = "eu-west-1"
account_id = "111111111111"
kube_context = "production"
cluster = "arn:aws:eks:eu-west-1:111111111111:cluster/govuk"

[environments.staging]
aws_endpoint_url = "http://127.0.0.1:5000"
account_id = "222222222222"
kube_context = "staging"
restored_from = "production"

[apps.account-api]
copied_by_restore = false
"#;

    fn config() -> Config {
        Config::parse(CONFIG).unwrap()
    }

    fn envs(names: &[&str]) -> Vec<String> {
        names.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn parses_environments_and_apps() {
        let c = config();
        let p = &c.environments["production"];
        assert_eq!(p.aws_profile.as_deref(), Some("govuk-production-developer"));
        assert_eq!(p.account_id, "111111111111");
        assert_eq!(p.kube_context, "production");
        assert_eq!(p.restored_from, None);
        let s = &c.environments["staging"];
        assert_eq!(s.aws_endpoint_url.as_deref(), Some("http://127.0.0.1:5000"));
        assert_eq!(s.cluster, None);
        assert_eq!(c.apps["account-api"].copied_by_restore, Some(false));
    }

    #[test]
    fn account_and_context_are_required_and_typos_refused() {
        let err = Config::parse("[environments.x]\nkube_context = \"x\"\n").unwrap_err();
        assert!(err.contains("account_id"), "{err}");
        let err = Config::parse("[environments.x]\naccount_id = \"1\"\n").unwrap_err();
        assert!(err.contains("kube_context"), "{err}");
        let err =
            Config::parse("[environments.x]\naccount_id = \"1\"\nkube_context = \"x\"\naws_profle = \"p\"\n")
                .unwrap_err();
        assert!(err.contains("aws_profle"), "{err}");
    }

    #[test]
    fn one_credential_source_per_environment() {
        let both = "[environments.x]\naccount_id = \"1\"\nkube_context = \"x\"\naws_profile = \"p\"\n\
                    credential_command = \"gds aws govuk-x-platformengineer -e\"\n";
        let err = Config::parse(both).unwrap_err();
        assert!(
            err.contains("[environments.x] has both aws_profile and credential_command"),
            "{err}"
        );
        let one = both.replace("aws_profile = \"p\"\n", "");
        let c = Config::parse(&one).unwrap();
        assert!(c.environments["x"].has_credential_source());
        assert_eq!(
            c.environments["x"].credential_command.as_deref(),
            Some("gds aws govuk-x-platformengineer -e")
        );
    }

    #[test]
    fn several_environments_need_each_configured_and_are_shown_the_toml() {
        let c = config();
        let path = Path::new("/home/op/.config/rotui/config.toml");
        assert!(require_configured(&Environments::new(), &envs(&["integration"]), Some(path)).is_ok());
        assert!(require_configured(&c.environments, &envs(&["production", "staging"]), None).is_ok());
        assert!(require_configured(&c.environments, &envs(&["staging"]), None).is_ok());
        let err = require_configured(&c.environments, &envs(&["production", "integration"]), Some(path))
            .unwrap_err();
        assert!(err.contains("integration is not configured"), "{err}");
        assert!(err.contains("/home/op/.config/rotui/config.toml"), "{err}");
        assert!(err.contains("[environments.integration]"), "{err}");
        assert!(
            err.contains("credential_command = \"gds aws govuk-integration-platformengineer -e\""),
            "{err}"
        );
        assert!(!err.contains("[environments.production]"), "{err}");
        // The template is itself a valid config, once filled in.
        let filled = template("integration").replace("<12-digit account id of integration>", "3");
        assert!(Config::parse(&filled).is_ok(), "{filled}");
        // One environment the config does not name: refused too, listing
        // the ones it does, with the likely one.
        let err = require_configured(&c.environments, &envs(&["prod"]), Some(path)).unwrap_err();
        assert!(
            err.starts_with(
                "prod is not configured (did you mean prod → production?): \
                 /home/op/.config/rotui/config.toml names the environments production, staging"
            ),
            "{err}"
        );
        assert!(err.contains("Pass --env with one of those"), "{err}");
        let err = require_configured(&c.environments, &envs(&["integration"]), None).unwrap_err();
        assert!(!err.contains("did you mean"), "{err}");
        assert!(err.contains("[environments.integration]"), "{err}");
        let err = require_configured(&Environments::new(), &envs(&["a", "b"]), None).unwrap_err();
        assert!(err.contains("a, b are not configured"), "{err}");
        assert!(err.contains("--config or ROTUI_CONFIG"), "{err}");
    }

    #[test]
    fn an_account_mismatch_names_both_sides_and_whose_it_is() {
        let e = config().environments;
        assert_eq!(check_account("production", &e, "111111111111"), Ok(()));
        assert_eq!(
            check_account("production", &e, "222222222222").unwrap_err(),
            "production: the AWS session is account 222222222222 (staging?), expected 111111111111"
        );
        // Staging has no credential source: the refusal shows the TOML to add.
        let err = check_account("staging", &e, "333333333333").unwrap_err();
        assert!(
            err.starts_with("staging: the AWS session is account 333333333333, expected 222222222222. "),
            "{err}"
        );
        assert!(
            err.ends_with(
                "[environments.staging]:\n  credential_command = \"gds aws govuk-staging-platformengineer -e\""
            ),
            "{err}"
        );
        // Unconfigured environments are not checked.
        assert_eq!(check_account("integration", &e, "1"), Ok(()));
    }

    #[test]
    fn a_cluster_mismatch_names_both_sides() {
        let e = config().environments;
        let prod = "arn:aws:eks:eu-west-1:111111111111:cluster/govuk";
        let stag = "arn:aws:eks:eu-west-1:222222222222:cluster/govuk";
        assert_eq!(check_cluster("production", &e, "production", Some(prod)), Ok(()));
        assert_eq!(
            check_cluster("production", &e, "production", Some(stag)).unwrap_err(),
            format!("production: kube context production is cluster {stag} (staging?), expected {prod}")
        );
        // No `cluster` configured: an EKS ARN must still be in the account.
        assert_eq!(check_cluster("staging", &e, "staging", Some(stag)), Ok(()));
        assert_eq!(
            check_cluster("staging", &e, "staging", Some("kind-local")),
            Ok(())
        );
        assert_eq!(
            check_cluster("staging", &e, "staging", Some(prod)).unwrap_err(),
            format!(
                "staging: kube context staging is cluster {prod}, in account 111111111111 (production?), expected 222222222222"
            )
        );
        assert!(
            check_cluster("staging", &e, "staging", None)
                .unwrap_err()
                .contains("no context staging")
        );
    }

    #[test]
    fn without_config_the_session_and_the_clusters_account_must_agree() {
        let stag = "arn:aws:eks:eu-west-1:222222222222:cluster/govuk";
        let err =
            check_session_matches_cluster("production", "111111111111", "staging", Some(stag)).unwrap_err();
        assert!(
            err.starts_with(&format!(
                "production: the AWS session is account 111111111111, but kube context staging is \
                 cluster {stag}, in account 222222222222"
            )),
            "{err}"
        );
        assert!(err.contains("gds aws govuk-production-<role> --shell"), "{err}");
        assert_eq!(
            check_session_matches_cluster("staging", "222222222222", "staging", Some(stag)),
            Ok(())
        );
        // Not an EKS ARN (kind, the sandbox): nothing to compare.
        assert_eq!(
            check_session_matches_cluster("x", "1", "kind", Some("kind-local")),
            Ok(())
        );
        assert_eq!(check_session_matches_cluster("x", "1", "c", None), Ok(()));
    }

    #[test]
    fn eks_arns_name_their_account() {
        assert_eq!(
            eks_account("arn:aws:eks:eu-west-1:172025368201:cluster/govuk"),
            Some("172025368201")
        );
        assert_eq!(eks_account("govuk-production"), None);
        assert_eq!(eks_account("arn:aws:iam::1:role/x"), None);
    }

    #[test]
    fn reads_a_contexts_cluster_from_the_kubeconfig() {
        let kc: kube::config::Kubeconfig = serde_saphyr::from_str(
            "apiVersion: v1\nkind: Config\nclusters: []\nusers: []\ncontexts:\n\
             - name: production\n  context:\n    cluster: arn:aws:eks:eu-west-1:1:cluster/govuk\n    user: u\n",
        )
        .unwrap();
        assert_eq!(
            cluster_of(&kc, "production").as_deref(),
            Some("arn:aws:eks:eu-west-1:1:cluster/govuk")
        );
        assert_eq!(cluster_of(&kc, "staging"), None);
    }
}
