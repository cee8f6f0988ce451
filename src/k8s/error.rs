//! Kubernetes failures as data, with messages an operator can act on. Every
//! message passes through [`redact`] because API servers echo request bodies
//! (and so, potentially, Secret data) in their errors.

use crate::secret::redact;

/// What went wrong talking to the cluster.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum K8sError {
    /// RBAC said no: names the verb and resource so the operator can ask for
    /// the right role (e.g. `create pods/portforward`).
    #[error("forbidden: cannot {verb} {resource}{} — your role lacks RBAC permission ({message})", in_ns(.namespace))]
    Forbidden {
        verb: String,
        resource: String,
        namespace: Option<String>,
        message: String,
    },
    #[error("{resource} {name:?} not found{}", in_ns(.namespace))]
    NotFound {
        resource: String,
        name: String,
        namespace: Option<String>,
    },
    /// The token is missing, wrong or expired (EKS tokens last 15 minutes and
    /// come from the AWS session).
    #[error(
        "not authorised by the cluster ({message}); the AWS session or EKS token has probably expired — re-run `gds aws <role> --shell` (or `gds aws <role> -- rotui …`)"
    )]
    Unauthorized { message: String },
    #[error("cannot reach the Kubernetes API server{}: {message}", at(.url))]
    Unreachable { url: Option<String>, message: String },
    /// kubeconfig missing, unreadable, or without the requested context.
    #[error("kubeconfig: {0}")]
    Config(String),
    /// An object exists but lacks what we need (e.g. a Secret without
    /// DATABASE_URL); `keys` lists what it does have.
    #[error("{object} has no key {key:?} (keys present: {})", list(.keys))]
    MissingKey {
        object: String,
        key: String,
        keys: Vec<String>,
    },
    /// Data that cannot be understood (never includes the data itself).
    #[error("{0}")]
    Invalid(String),
    #[error("timed out after {seconds}s waiting for {what}")]
    Timeout { what: String, seconds: u64 },
    #[error("{0}")]
    Other(String),
}

fn in_ns(ns: &Option<String>) -> String {
    ns.as_ref()
        .map(|n| format!(" in namespace {n:?}"))
        .unwrap_or_default()
}

fn at(url: &Option<String>) -> String {
    url.as_ref().map(|u| format!(" at {u}")).unwrap_or_default()
}

fn list(keys: &[String]) -> String {
    if keys.is_empty() {
        "none".to_owned()
    } else {
        keys.join(", ")
    }
}

/// What we were doing when an API call failed, so the error can say it.
#[derive(Debug, Clone)]
pub(crate) struct Op<'a> {
    pub verb: &'a str,
    pub resource: &'a str,
    pub name: Option<&'a str>,
    pub namespace: Option<&'a str>,
    /// The API server, named when it cannot be reached.
    pub server: Option<&'a str>,
}

impl<'a> Op<'a> {
    pub fn new(verb: &'a str, resource: &'a str, namespace: &'a str) -> Self {
        Op {
            verb,
            resource,
            name: None,
            namespace: Some(namespace),
            server: None,
        }
    }

    pub fn named(mut self, name: &'a str) -> Self {
        self.name = Some(name);
        self
    }

    /// Classify a kube client error.
    pub fn err(&self, e: kube::Error) -> K8sError {
        let ns = self.namespace.map(str::to_owned);
        match e {
            kube::Error::Api(s) => {
                let message = redact(&s.message);
                match s.code {
                    403 => K8sError::Forbidden {
                        verb: self.verb.to_owned(),
                        resource: self.resource.to_owned(),
                        namespace: ns,
                        message,
                    },
                    404 => K8sError::NotFound {
                        resource: self.resource.to_owned(),
                        name: self.name.unwrap_or_default().to_owned(),
                        namespace: ns,
                    },
                    401 => K8sError::Unauthorized { message },
                    code => K8sError::Other(format!(
                        "{} {}{}: {} {} ({message})",
                        self.verb,
                        self.resource,
                        self.name.map(|n| format!(" {n:?}")).unwrap_or_default(),
                        code,
                        s.reason
                    )),
                }
            }
            kube::Error::Auth(a) => K8sError::Unauthorized {
                message: redact(&a.to_string()),
            },
            kube::Error::HyperError(h) => K8sError::Unreachable {
                url: self.server.map(str::to_owned),
                message: redact(&chain(&h)),
            },
            kube::Error::Service(s) => {
                let text = redact(&chain(s.as_ref()));
                K8sError::Unreachable {
                    url: self.server.map(str::to_owned),
                    message: text,
                }
            }
            kube::Error::UpgradeConnection(u) => {
                use kube::client::UpgradeConnectionError as U;
                // Normally kube turns a refused upgrade's Status body into
                // `Error::Api`; a bare status code still says enough.
                let code = match &u {
                    U::ProtocolSwitch(code) => code.as_u16(),
                    _ => 0,
                };
                let message = redact(&u.to_string());
                let status = kube::core::Status {
                    code,
                    message,
                    ..Default::default()
                };
                match code {
                    401 | 403 | 404 => self.err(kube::Error::Api(Box::new(status))),
                    _ => K8sError::Other(format!("{} {}: {}", self.verb, self.resource, status.message)),
                }
            }
            other => K8sError::Other(format!(
                "{} {}: {}",
                self.verb,
                self.resource,
                redact(&chain(&other))
            )),
        }
    }

    /// Classify a watcher error (watch/list failures carry a client error).
    pub fn watch_err(&self, e: kube::runtime::watcher::Error) -> K8sError {
        use kube::runtime::watcher::Error as W;
        match e {
            // A watch starts with a list: name the verb RBAC actually refused.
            W::InitialListFailed(e) => Op {
                verb: "list",
                ..self.clone()
            }
            .err(e),
            W::WatchStartFailed(e) | W::WatchFailed(e) => self.err(e),
            W::WatchError(s) => self.err(kube::Error::Api(s)),
            W::NoResourceVersion => K8sError::Other(format!(
                "watch {}: the server gave no resourceVersion",
                self.resource
            )),
        }
    }
}

/// An error and all its sources on one line ("connection refused" hides deep).
pub(crate) fn chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut s = e.to_string();
    let mut cur = e.source();
    while let Some(c) = cur {
        let t = c.to_string();
        if !s.contains(&t) {
            s.push_str(": ");
            s.push_str(&t);
        }
        cur = c.source();
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forbidden_names_verb_and_resource_and_redacts() {
        let status = kube::core::Status {
            code: 403,
            message: "pods is forbidden: user x cannot create postgresql://u:hunter2abc@h/d".into(),
            reason: "Forbidden".into(),
            ..Default::default()
        };
        let e = Op::new("create", "pods/portforward", "apps").err(kube::Error::Api(Box::new(status)));
        let text = e.to_string();
        assert!(text.contains("cannot create pods/portforward"), "{text}");
        assert!(text.contains("RBAC"), "{text}");
        assert!(!text.contains("hunter2abc"), "{text}");
    }

    #[test]
    fn missing_key_lists_present_keys() {
        let e = K8sError::MissingKey {
            object: "Secret apps/signon-mysql".into(),
            key: "DATABASE_URL".into(),
            keys: vec!["OTHER".into()],
        };
        assert_eq!(
            e.to_string(),
            "Secret apps/signon-mysql has no key \"DATABASE_URL\" (keys present: OTHER)"
        );
    }
}
