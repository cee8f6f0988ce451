//! From flags to live connections, the same way for every command: the AWS
//! session from the default chain, and the admin's database URL — given with
//! `--db-url`, or built from the app secret's `host` as the runbook does
//! (`mysql --host [rds-hostname] -u aws_db_admin`) — whose password, when the
//! URL carries none, comes from the `<env>-rds-admin-passwords` secret.
//!
//! An environment named in the config ([`crate::environments`]) gets its own
//! AWS session (profile, endpoint, region) and kube context; one that is not
//! uses the flags, the shell's session and the current context.

use color_eyre::eyre::Result;
use percent_encoding::{NON_ALPHANUMERIC, utf8_percent_encode};

use crate::aws::{AwsOptions, AwsSession};
use crate::cli::ConnArgs;
use crate::db::tls::TlsMode;
use crate::environments::{self, EnvConfig, Environments};
use crate::secret::{Redacted, SecretString};
use crate::target::Target;

/// How long closing each connection may take on the way out.
const CLOSE_WAIT: std::time::Duration = std::time::Duration::from_secs(3);

/// The AWS session the flags and environment describe.
pub async fn aws_session(conn: &ConnArgs) -> Result<AwsSession> {
    env_session(conn, None).await
}

/// An environment's AWS session: from its config when it has one.
pub async fn env_session(conn: &ConnArgs, env: Option<&EnvConfig>) -> Result<AwsSession> {
    Ok(AwsSession::load(&aws_options(conn, env)).await?)
}

/// How to reach an environment's AWS: its profile, endpoint and region from
/// its config (`None`: the flags alone, as for an unconfigured environment).
pub fn aws_options(conn: &ConnArgs, env: Option<&EnvConfig>) -> AwsOptions {
    let mut opts = AwsOptions {
        endpoint_url: conn.aws_endpoint_url.clone(),
        ..AwsOptions::default()
    };
    if let Some(env) = env {
        opts.profile = env.aws_profile.clone();
        opts.credential_command = env.credential_command.clone();
        opts.region = env.region.clone();
        if env.aws_endpoint_url.is_some() {
            opts.endpoint_url = env.aws_endpoint_url.clone();
        }
    }
    opts
}

/// An environment's AWS session and its cluster's client. With a
/// credential source of its own, the session comes first and the context's
/// exec plugin is given its credentials, so the cluster's token is minted
/// for this environment's account and not the shell's.
pub async fn env_connect(
    conn: &ConnArgs,
    env: Option<&EnvConfig>,
    context: Option<String>,
    namespace: &str,
) -> (Result<AwsSession, Redacted>, Result<crate::k8s::K8s, Redacted>) {
    use crate::k8s::{K8s, KubeOptions};
    let mut kube_opts = KubeOptions {
        kubeconfig: None,
        context,
        namespace: Some(namespace.to_owned()),
        exec_env: None,
    };
    if !env.is_some_and(EnvConfig::has_credential_source) {
        let (session, k8s) = tokio::join!(env_session(conn, env), K8s::connect(&kube_opts));
        return (session.map_err(Redacted::error), k8s.map_err(Redacted::error));
    }
    let session = env_session(conn, env).await.map_err(Redacted::error);
    let k8s = match &session {
        Err(why) => Err(why.context("the cluster's token is minted with the session's credentials")),
        Ok(s) => match s.plugin_env().await {
            Err(e) => Err(Redacted::error(e)),
            Ok(exec_env) => {
                kube_opts.exec_env = exec_env;
                K8s::connect(&kube_opts).await.map_err(Redacted::error)
            }
        },
    };
    (session, k8s)
}

/// How an environment's database logins are secured: `--ca-bundle`, else
/// its `ca_bundle`, gives verify-full; neither, TLS required unverified.
pub fn db_tls(conn: &ConnArgs, env: Option<&EnvConfig>) -> TlsMode {
    let bundle = conn
        .ca_bundle
        .as_deref()
        .or_else(|| env.and_then(|e| e.ca_bundle.as_deref()));
    TlsMode::for_bundle(bundle)
}

/// The admin's URL for a target, without a password unless `--db-url` had one.
pub async fn admin_db_url(target: &Target, conn: &ConnArgs, session: &AwsSession) -> Result<String> {
    if let Some(url) = &conn.db_url {
        return Ok(url.clone());
    }
    let app = session.secrets().app_secret(&target.app_secret).await?;
    Ok(url_for_host(target, &app.host))
}

/// `scheme://admin@host/database` (the host may carry a port).
pub fn url_for_host(target: &Target, host: &str) -> String {
    let scheme = target.engine.url_scheme();
    // A bare IPv6 address gets the brackets a URL needs.
    let host = crate::db::Endpoint::parse(host).map_or_else(|_| host.to_owned(), |e| e.to_string());
    let enc = |s: &str| utf8_percent_encode(s, NON_ALPHANUMERIC).to_string();
    format!(
        "{scheme}://{}@{host}/{}",
        enc(&target.admin_user),
        enc(&target.database)
    )
}

/// Whether a URL carries a password.
pub fn has_password(url: &str) -> bool {
    url::Url::parse(url)
        .ok()
        .and_then(|u| u.password().map(|_| ()))
        .is_some()
}

/// The admin password from the admin secret (key: the target's admin secret key).
pub async fn admin_password(target: &Target, session: &AwsSession) -> Result<SecretString> {
    Ok(session
        .secrets()
        .admin_password(&target.admin_secret, &target.admin_secret_key)
        .await?)
}

/// Everything a target needs, each part on its own: the dashboard shows what
/// it can when one of them is down (an expired AWS session does not hide the
/// cluster, an unreachable cluster does not hide the database).
pub struct Connected {
    pub target: Target,
    pub session: Result<AwsSession, Redacted>,
    pub db: Result<crate::db::Db, Redacted>,
    pub k8s: Result<crate::k8s::K8s, Redacted>,
    /// The kubeconfig context in use (status bar).
    pub kube_context: Option<String>,
    /// That context's `cluster` entry in the kubeconfig, if known.
    pub kube_cluster: Option<String>,
    /// Every configured environment: what the preflight checks this one's
    /// session and cluster against (empty: nothing configured, no check).
    pub environments: Environments,
    /// Set with `--tunnel`: the relay pod the database connection goes through.
    pub tunnel: Option<crate::k8s::tunnel::Tunnel>,
    /// Where the admin connection goes (host, port), for the login tests.
    pub db_addr: Option<(String, u16)>,
    /// With `--tunnel` and a CA bundle (PostgreSQL): rotui's own TLS end,
    /// verifying the RDS name through the relay.
    pub tls_relay: Option<crate::db::tls_relay::TlsRelay>,
}

impl Connected {
    /// Nothing connected, every part failing with `why`.
    fn failed(target: &Target, why: Redacted) -> Connected {
        Connected {
            target: target.clone(),
            session: Err(why.clone()),
            db: Err(why.clone()),
            k8s: Err(why),
            kube_context: None,
            kube_cluster: None,
            environments: Environments::new(),
            tunnel: None,
            db_addr: None,
            tls_relay: None,
        }
    }

    /// How the database connection is secured, once connected.
    pub fn db_tls(&self) -> Option<&TlsMode> {
        self.db.as_ref().ok().map(crate::db::Db::tls)
    }

    /// Why this environment's session or context is not the one its config
    /// names, or (with no config for it) why the two are not one account.
    /// Reads STS, writes nothing.
    pub async fn identity_problems(&self) -> Vec<Redacted> {
        let env = &self.target.env;
        let Some(cfg) = self.environments.get(env.as_str()) else {
            let (Ok(session), Some(context)) = (&self.session, self.kube_context.as_deref()) else {
                return Vec::new();
            };
            if self
                .kube_cluster
                .as_deref()
                .and_then(environments::eks_account)
                .is_none()
            {
                return Vec::new();
            }
            return match session.caller_identity().await {
                Ok(who) => environments::check_session_matches_cluster(
                    env,
                    &who.account,
                    context,
                    self.kube_cluster.as_deref(),
                )
                .err()
                .map(Redacted::new)
                .into_iter()
                .collect(),
                Err(e) => vec![Redacted::error(e)],
            };
        };
        let mut problems = Vec::new();
        if let Ok(session) = &self.session {
            match session.caller_identity().await {
                Ok(who) => {
                    if let Err(e) = environments::check_account(env, &self.environments, &who.account) {
                        problems.push(Redacted::new(e));
                    }
                }
                Err(e) => problems.push(Redacted::error(e)),
            }
        }
        let context = self.kube_context.as_deref().unwrap_or(&cfg.kube_context);
        if let Err(e) =
            environments::check_cluster(env, &self.environments, context, self.kube_cluster.as_deref())
        {
            problems.push(Redacted::new(e));
        }
        problems
    }

    /// The app secret's store alone, through the port the rotation reads it
    /// by: what needs only credentials works while the database is down.
    pub fn secrets_port(&self) -> Result<std::sync::Arc<dyn crate::rotation::ports::SecretsPort>, Redacted> {
        let session = self.session.as_ref().map_err(Clone::clone)?;
        Ok(std::sync::Arc::new(crate::rotation::adapters::AwsSecrets::new(
            session.clone(),
            &self.target.app_secret,
        )))
    }

    /// The rotation engine's ports, when every part is up.
    pub fn ports(&self) -> Result<crate::rotation::ports::EnvPorts, Redacted> {
        use std::sync::Arc;

        use crate::db::Db;
        use crate::rotation::adapters::{AwsSecrets, K8sCluster, MysqlPort, PgPort};
        let session = self.session.as_ref().map_err(Clone::clone)?;
        let db = self.db.as_ref().map_err(Clone::clone)?;
        let k8s = self.k8s.as_ref().map_err(Clone::clone)?;
        let (host, port) = self
            .db_addr
            .clone()
            .ok_or_else(|| Redacted::new("no database address"))?;
        let t = &self.target;
        let db: Arc<dyn crate::rotation::ports::DbPort> = match db {
            Db::Mysql(d) => Arc::new(MysqlPort::new(d.clone(), host, port, &t.database)),
            Db::Postgres(d) => Arc::new(PgPort::new((**d).clone(), host, port, &t.database)),
        };
        Ok(crate::rotation::ports::EnvPorts {
            target: t.clone(),
            db,
            secrets: Arc::new(AwsSecrets::new(session.clone(), &t.app_secret)),
            cluster: Arc::new(
                K8sCluster::new(
                    k8s.clone(),
                    &t.external_secret,
                    &t.k8s_secret,
                    &t.deployment,
                    &t.container,
                )
                .with_database(t.engine, &t.database),
            ),
        })
    }

    /// Close the database pool and the tunnel (deleting its relay pod),
    /// each for at most [`CLOSE_WAIT`]: a frozen server or API server must
    /// not keep rotui from exiting (its connections go when the process does).
    pub async fn close(self) {
        if let Ok(db) = &self.db
            && tokio::time::timeout(CLOSE_WAIT, db.close()).await.is_err()
        {
            tracing::warn!("the database did not answer while its connections were closed");
        }
        if let Some(t) = self.tunnel {
            let pod = t.pod_name().to_owned();
            if tokio::time::timeout(CLOSE_WAIT, t.close()).await.is_err() {
                tracing::warn!(%pod, "the API server did not answer: delete the tunnel's relay pod with kubectl");
            }
        }
    }
}

/// Connect to everything the target names, with its environment's session
/// and context when the config (`--config`) has it. Never fails as a whole:
/// each part carries its own error, already redacted.
pub async fn open(target: &Target, conn: &ConnArgs) -> Connected {
    let environments = match crate::config::Config::load(conn.config.as_deref()) {
        Ok(config) => config.environments,
        Err(e) => return Connected::failed(target, Redacted::error(e)),
    };
    // A misspelt environment connects to nothing (not the shell's session).
    let path = crate::config::resolved_path(conn.config.as_deref());
    if let Err(why) =
        environments::require_configured(&environments, &[target.env.to_string()], path.as_deref())
    {
        return Connected::failed(target, Redacted::new(why));
    }
    let env = environments.get(target.env.as_str());
    let context = env
        .map(|e| e.kube_context.clone())
        .or_else(|| conn.context.clone());
    let (session, k8s) = env_connect(conn, env, context.clone(), &target.namespace).await;
    // The names flags did not give, read from the live systems (read-only).
    let target = &crate::discover::resolve(target, &k8s, &session).await;
    let kube_context = context.or_else(current_kube_context);
    let kube_cluster = kube_context.as_deref().and_then(environments::context_cluster);
    let mut connected = Connected {
        target: target.clone(),
        session,
        db: Err(Redacted::new("not connected")),
        k8s,
        kube_context,
        kube_cluster,
        environments,
        tunnel: None,
        db_addr: None,
        tls_relay: None,
    };
    // An app that is not there, or names that say another engine: the
    // database is not tried, so its driver's error does not hide why.
    connected.db = match crate::discover::mismatch(target) {
        Some(why) => Err(Redacted::new(why)),
        None => open_db(target, conn, &mut connected).await,
    };
    connected
}

async fn open_db(target: &Target, conn: &ConnArgs, c: &mut Connected) -> Result<crate::db::Db, Redacted> {
    let mut password = None;
    let url = match &conn.db_url {
        Some(url) if has_password(url) => url.clone(),
        _ => {
            let session = c.session.as_ref().map_err(|e| e.context("database"))?;
            let url = admin_db_url(target, conn, session)
                .await
                .map_err(Redacted::error)?;
            password = Some(admin_password(target, session).await.map_err(Redacted::error)?);
            url
        }
    };
    let mut parsed = url::Url::parse(&url).map_err(|_| Redacted::new("the database URL is not a URL"))?;
    let env = c.environments.get(target.env.as_str());
    let mut tls = db_tls(conn, env);
    // A `--db-url` that names its own CA (`sslrootcert`, `ssl-ca`) is not
    // downgraded to unverified: its CA is the bundle.
    if tls == TlsMode::Require
        && let Some(ca) = url_ca(&parsed)
    {
        tls = TlsMode::VerifyFull(ca);
    }
    if conn.tunnel {
        let k8s = c.k8s.as_ref().map_err(|e| e.context("tunnel"))?;
        // The relay pod is a write: never in another environment's cluster.
        if let Some(why) = c.identity_problems().await.into_iter().next() {
            return Err(why.context("tunnel"));
        }
        let host = match parsed.port() {
            Some(p) => format!("{}:{p}", parsed.host_str().unwrap_or_default()),
            None => parsed.host_str().unwrap_or_default().to_owned(),
        };
        let mut cfg = crate::k8s::tunnel::TunnelConfig::for_db(&host, target.engine);
        if let Some(image) = env.and_then(|e| e.tunnel_image.clone()) {
            cfg.image = image;
        }
        let rds_name = cfg.remote_host.clone();
        let tunnel = crate::k8s::tunnel::Tunnel::start(k8s, &cfg)
            .await
            .map_err(Redacted::error)?;
        let mut local = tunnel.local_addr();
        c.tunnel = Some(tunnel);
        // sqlx would check the certificate against 127.0.0.1: rotui's own
        // end does the handshake, against the RDS name, and sqlx speaks
        // plaintext to it inside this process.
        if let TlsMode::VerifyFull(ca) = &tls {
            let relay = crate::db::tls_relay::TlsRelay::start(target.engine, local, ca, &rds_name)
                .await
                .map_err(Redacted::error)?;
            local = relay.local_addr();
            c.tls_relay = Some(relay);
            tls = TlsMode::VerifiedByTunnel {
                ca: ca.clone(),
                name: rds_name,
            };
        }
        parsed
            .set_host(Some(&local.ip().to_string()))
            .map_err(Redacted::error)?;
        parsed
            .set_port(Some(local.port()))
            .map_err(|_| Redacted::new("cannot set the port"))?;
    }
    let default_port = target.engine.default_port();
    c.db_addr = Some((
        parsed.host_str().unwrap_or("localhost").to_owned(),
        parsed.port().unwrap_or(default_port),
    ));
    crate::db::Db::connect_secured(target.engine, parsed.as_str(), password.as_ref(), tls)
        .await
        .map_err(Redacted::error)
}

/// The CA a database URL names (`sslrootcert`, MySQL's `ssl-ca`).
fn url_ca(url: &url::Url) -> Option<std::path::PathBuf> {
    url.query_pairs()
        .find(|(k, _)| k == "sslrootcert" || k == "ssl-ca" || k == "ssl_ca")
        .map(|(_, ca)| ca.into_owned().into())
}

/// The kubeconfig's current context, for the status bar.
fn current_kube_context() -> Option<String> {
    kube::config::Kubeconfig::read()
        .ok()
        .and_then(|k| k.current_context)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::target::Engine;

    #[test]
    fn urls_from_the_secrets_host() {
        let t = Target::new("production", "account-api", Engine::Postgres);
        assert_eq!(
            url_for_host(&t, "db.internal:5432"),
            "postgresql://aws%5Fdb%5Fadmin@db.internal:5432/account%2Dapi%5Fproduction"
        );
        assert!(!has_password(&url_for_host(&t, "h")));
        assert!(has_password("mysql://u:p@h/d"));
    }

    #[test]
    fn a_url_naming_its_ca_is_verified_with_it_and_the_flag_wins_over_the_config() {
        let u = |s: &str| url::Url::parse(s).unwrap();
        assert_eq!(
            url_ca(&u(
                "postgresql://a@h/d?sslmode=verify-full&sslrootcert=/etc/rds.pem"
            )),
            Some("/etc/rds.pem".into())
        );
        assert_eq!(
            url_ca(&u("mysql://a@h/d?ssl-ca=/etc/rds.pem")),
            Some("/etc/rds.pem".into())
        );
        assert_eq!(url_ca(&u("mysql://a@h/d")), None);
        let env: EnvConfig =
            toml::from_str("account_id = \"1\"\nkube_context = \"p\"\nca_bundle = \"/cfg.pem\"\n").unwrap();
        let mut conn = ConnArgs::default();
        assert_eq!(db_tls(&conn, None), TlsMode::Require);
        assert_eq!(db_tls(&conn, Some(&env)), TlsMode::VerifyFull("/cfg.pem".into()));
        conn.ca_bundle = Some("/flag.pem".into());
        assert_eq!(db_tls(&conn, Some(&env)), TlsMode::VerifyFull("/flag.pem".into()));
    }
}
