//! A `kube::Client` from the operator's kubeconfig, as kubectl would build
//! it: `$KUBECONFIG` or `~/.kube/config` (or an explicit path), `--context`,
//! and exec credential plugins such as `aws eks get-token`.

use crate::aws::ExecEnv;
use std::path::PathBuf;

use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::{Api, Client, Config};

use super::error::{K8sError, Op, chain};
use crate::secret::{ExposeSecret, redact};

/// GOV.UK apps live in `apps`; the kubeconfig context's namespace is not
/// used, because a rotation must not silently act on another namespace.
pub const DEFAULT_NAMESPACE: &str = "apps";

/// How to reach the cluster (the CLI's `--kubeconfig`, `--context`, `--namespace`).
#[derive(Debug, Clone, Default)]
pub struct KubeOptions {
    /// kubeconfig file; `None` = `$KUBECONFIG` or `~/.kube/config`.
    pub kubeconfig: Option<PathBuf>,
    /// Context name; `None` = the kubeconfig's current-context.
    pub context: Option<String>,
    /// Namespace; `None` = [`DEFAULT_NAMESPACE`].
    pub namespace: Option<String>,
    /// Given to the context's exec credential plugin: that environment's
    /// AWS credentials, so its token is minted for its own account.
    pub exec_env: Option<ExecEnv>,
}

/// Give `env` to the exec plugin of `context`'s user (the current context
/// when `None`). A user without one (a static token, the sandbox's old
/// kubeconfigs) is left as it is. The values live in memory only: kube
/// passes them to the plugin's environment, never its arguments.
pub fn give_exec_env(kubeconfig: &mut Kubeconfig, context: Option<&str>, env: &ExecEnv) {
    let Some(context) = context
        .or(kubeconfig.current_context.as_deref())
        .map(str::to_owned)
    else {
        return;
    };
    let Some(user) = kubeconfig
        .contexts
        .iter()
        .find(|c| c.name == context)
        .and_then(|c| c.context.as_ref())
        .and_then(|c| c.user.clone())
    else {
        return;
    };
    for named in kubeconfig.auth_infos.iter_mut().filter(|a| a.name == user) {
        let Some(exec) = named.auth_info.as_mut().and_then(|a| a.exec.as_mut()) else {
            continue;
        };
        let mut vars: Vec<std::collections::HashMap<String, String>> = exec
            .env
            .take()
            .unwrap_or_default()
            .into_iter()
            .filter(|v| {
                v.get("name")
                    .is_none_or(|n| !env.set.iter().any(|(k, _)| k == n) && !env.drop.contains(n))
            })
            .collect();
        for (name, value) in &env.set {
            vars.push(
                [
                    ("name".to_owned(), name.clone()),
                    ("value".to_owned(), value.expose_secret().to_owned()),
                ]
                .into(),
            );
        }
        exec.env = Some(vars);
        let mut drop = exec.drop_env.take().unwrap_or_default();
        drop.extend(env.drop.iter().cloned());
        exec.drop_env = Some(drop);
    }
}

/// A connected client bound to one namespace.
#[derive(Clone)]
pub struct K8s {
    client: Client,
    namespace: String,
    server: String,
}

impl std::fmt::Debug for K8s {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("K8s")
            .field("server", &self.server)
            .field("namespace", &self.namespace)
            .finish()
    }
}

impl K8s {
    /// Load the kubeconfig and build a client. This does not contact the
    /// server (use [`K8s::check`] for that), but it does fail early on a
    /// missing file or context.
    pub async fn connect(opts: &KubeOptions) -> Result<K8s, K8sError> {
        let kopts = KubeConfigOptions {
            context: opts.context.clone(),
            ..Default::default()
        };
        let config = match (&opts.kubeconfig, &opts.exec_env) {
            (Some(path), _) => {
                let mut kc = Kubeconfig::read_from(path).map_err(|e| {
                    K8sError::Config(format!("{}: {}", path.display(), redact(&e.to_string())))
                })?;
                if let Some(env) = &opts.exec_env {
                    give_exec_env(&mut kc, opts.context.as_deref(), env);
                }
                Config::from_custom_kubeconfig(kc, &kopts).await
            }
            (None, Some(env)) => {
                let mut kc = Kubeconfig::read().map_err(|e| K8sError::Config(redact(&chain(&e))))?;
                give_exec_env(&mut kc, opts.context.as_deref(), env);
                Config::from_custom_kubeconfig(kc, &kopts).await
            }
            (None, None) => Config::from_kubeconfig(&kopts).await,
        }
        .map_err(|e| K8sError::Config(redact(&chain(&e))))?;
        let mut config = config;
        // kube's default is 30 s; an unreachable cluster should say so sooner.
        config.connect_timeout = Some(std::time::Duration::from_secs(10));
        let server = config.cluster_url.to_string();
        let namespace = opts
            .namespace
            .clone()
            .unwrap_or_else(|| DEFAULT_NAMESPACE.to_owned());
        // Building the client runs an exec credential plugin (`aws eks
        // get-token`) there and then: off the async threads, so the
        // dashboard keeps drawing meanwhile.
        let client = tokio::task::spawn_blocking(move || Client::try_from(config))
            .await
            .map_err(|e| K8sError::Config(format!("building the Kubernetes client: {e}")))?;
        let client = client.map_err(|e| match e {
            // An exec credential plugin (`aws eks get-token`) that failed.
            kube::Error::Auth(_) => K8sError::Unauthorized {
                message: redact(&chain(&e)),
            },
            e => K8sError::Config(redact(&chain(&e))),
        })?;
        Ok(K8s {
            client,
            namespace,
            server,
        })
    }

    /// Contact the server (`GET /version`), so an unreachable cluster or an
    /// expired token shows up before any step runs.
    pub async fn check(&self) -> Result<String, K8sError> {
        let op = self.op("get", "version");
        let v = self.client.apiserver_version().await.map_err(|e| op.err(e))?;
        Ok(v.git_version)
    }

    pub fn namespace(&self) -> &str {
        &self.namespace
    }

    /// The API server's URL, for status lines.
    pub fn server(&self) -> &str {
        &self.server
    }

    pub fn client(&self) -> &Client {
        &self.client
    }

    /// A namespaced API for `K` in this client's namespace.
    pub fn api<K>(&self) -> Api<K>
    where
        K: kube::Resource<Scope = k8s_openapi::NamespaceResourceScope>,
        <K as kube::Resource>::DynamicType: Default,
    {
        Api::namespaced(self.client.clone(), &self.namespace)
    }

    pub(crate) fn op<'a>(&'a self, verb: &'a str, resource: &'a str) -> Op<'a> {
        Op {
            server: Some(&self.server),
            ..Op::new(verb, resource, &self.namespace)
        }
    }
}

impl K8s {
    /// Watch the one `K` called `name`: yields `map` of it now and after
    /// every change, `None` while it does not exist. Watch failures are
    /// yielded (naming the verb and `resource`) and the watch retries with
    /// backoff, so the stream only ends when dropped. The field selector
    /// keeps traffic down; the name check keeps us right on a server that
    /// ignores it.
    pub fn watch_named<K, T>(
        &self,
        resource: &'static str,
        name: &str,
        map: impl Fn(&K) -> Result<T, K8sError> + Send + 'static,
    ) -> impl futures::Stream<Item = Result<Option<T>, K8sError>> + Send + 'static
    where
        K: kube::Resource<Scope = k8s_openapi::NamespaceResourceScope>
            + Clone
            + serde::de::DeserializeOwned
            + std::fmt::Debug
            + Send
            + 'static,
        <K as kube::Resource>::DynamicType: Default,
        T: Send + 'static,
    {
        use futures::StreamExt;
        use kube::ResourceExt;
        use kube::runtime::{WatchStreamExt, watcher};
        let api = self.api::<K>();
        let name = name.to_owned();
        let k8s = self.clone();
        let config = watcher::Config::default().fields(&format!("metadata.name={name}"));
        async_stream::stream! {
            let mut events = std::pin::pin!(watcher(api, config).default_backoff());
            let mut seen = false;
            while let Some(event) = events.next().await {
                match event {
                    Ok(watcher::Event::Init) => seen = false,
                    Ok(watcher::Event::InitApply(o) | watcher::Event::Apply(o)) if o.name_any() == name => {
                        seen = true;
                        yield map(&o).map(Some);
                    }
                    Ok(watcher::Event::Delete(o)) if o.name_any() == name => {
                        seen = false;
                        yield Ok(None);
                    }
                    Ok(watcher::Event::InitDone) if !seen => yield Ok(None),
                    Ok(_) => {}
                    Err(e) => yield Err(k8s.op("watch", resource).named(&name).watch_err(e)),
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const KUBECONFIG: &str = r#"
apiVersion: v1
kind: Config
clusters:
- name: prod
  cluster: {server: "https://prod"}
- name: stag
  cluster: {server: "https://stag"}
users:
- name: prod
  user:
    exec:
      apiVersion: client.authentication.k8s.io/v1beta1
      command: aws
      args: [eks, get-token, --cluster-name, govuk]
      env: [{name: AWS_PROFILE, value: old}, {name: KEEP, value: "1"}]
- name: stag
  user:
    exec:
      apiVersion: client.authentication.k8s.io/v1beta1
      command: aws
      args: [eks, get-token, --cluster-name, govuk]
contexts:
- name: production
  context: {cluster: prod, user: prod}
- name: staging
  context: {cluster: stag, user: stag}
current-context: staging
"#;

    #[test]
    fn the_contexts_exec_plugin_gets_the_environments_credentials_only() {
        let mut kc = Kubeconfig::from_yaml(KUBECONFIG).unwrap();
        let env = ExecEnv {
            set: vec![
                (
                    "AWS_ACCESS_KEY_ID".into(),
                    crate::secret::SecretString::from("ASIAPROD".to_owned()),
                ),
                (
                    "AWS_SECRET_ACCESS_KEY".into(),
                    crate::secret::SecretString::from("prodSecretValue".to_owned()),
                ),
            ],
            drop: vec!["AWS_VAULT".into(), "AWS_PROFILE".into()],
        };
        give_exec_env(&mut kc, Some("production"), &env);
        let exec =
            |kc: &Kubeconfig, i: usize| kc.auth_infos[i].auth_info.as_ref().unwrap().exec.clone().unwrap();
        let prod = exec(&kc, 0);
        let vars: Vec<(String, String)> = prod
            .env
            .unwrap()
            .iter()
            .map(|v| (v["name"].clone(), v["value"].clone()))
            .collect();
        // The stale profile goes (it would name another account), the rest stays.
        assert_eq!(
            vars,
            [
                ("KEEP".to_owned(), "1".to_owned()),
                ("AWS_ACCESS_KEY_ID".to_owned(), "ASIAPROD".to_owned()),
                ("AWS_SECRET_ACCESS_KEY".to_owned(), "prodSecretValue".to_owned()),
            ]
        );
        assert_eq!(prod.drop_env.unwrap(), ["AWS_VAULT", "AWS_PROFILE"]);
        // Never in the plugin's arguments; the other context is untouched.
        assert!(!prod.args.unwrap().concat().contains("prodSecretValue"));
        assert!(exec(&kc, 1).env.is_none());
        // No context named: the current one's.
        give_exec_env(&mut kc, None, &env);
        assert_eq!(exec(&kc, 1).env.unwrap().len(), 2);
        // Debug never shows a value.
        assert!(!format!("{env:?}").contains("prodSecretValue"));
    }
}
