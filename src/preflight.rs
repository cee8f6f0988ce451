//! Before the first write of a rotation: everything it will need, checked
//! at once, read-only. A rotation that would fail half-way (a role that may
//! not patch the ExternalSecret, a cluster that cannot be reached, an admin
//! that cannot create users) is refused with every problem listed, before
//! AWSPENDING is written, rather than discovered after AWSCURRENT moved.
//!
//! A configured environment ([`crate::environments`]) is first checked to be
//! itself: the session's account and the kube context's cluster are the
//! ones its config names, so production is never rotated as staging. One
//! not configured is checked against itself: the session's account must be
//! the one its context's EKS cluster ARN names.

use std::fmt;

use crate::connect::Connected;
use crate::environments;
use crate::k8s::{access, secret_check};
use crate::secret::{ExposeSecret, Redacted};

/// One thing the rotation needs, and what is wrong with it (if anything).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Check {
    /// The system it concerns: `AWS`, `Kubernetes`, `database`.
    pub system: &'static str,
    pub what: String,
    /// `None` when it is fine.
    pub problem: Option<Redacted>,
    /// A finding the rotation goes ahead with (said before any write, never
    /// a refusal): a problem the rotation mends, say.
    pub advisory: bool,
}

/// Every check, in the order they were made.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Report {
    pub checks: Vec<Check>,
}

impl Report {
    pub fn failures(&self) -> impl Iterator<Item = &Check> {
        self.checks.iter().filter(|c| c.problem.is_some() && !c.advisory)
    }

    /// Problems that do not stop the rotation, but that the operator must hear of.
    pub fn findings(&self) -> impl Iterator<Item = &Check> {
        self.checks.iter().filter(|c| c.problem.is_some() && c.advisory)
    }

    pub fn passed(&self) -> bool {
        self.failures().next().is_none()
    }

    fn push(&mut self, system: &'static str, what: impl Into<String>, problem: Option<Redacted>) {
        self.checks.push(Check {
            system,
            what: what.into(),
            problem,
            advisory: false,
        });
    }
}

/// The failures, one a line, as the refusal says them; then the findings.
impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let failures: Vec<&Check> = self.failures().collect();
        let findings: Vec<&Check> = self.findings().collect();
        let line = |f: &mut fmt::Formatter<'_>, c: &Check| {
            writeln!(
                f,
                "  - {}: {}: {}",
                c.system,
                c.what,
                c.problem.as_ref().map(Redacted::as_str).unwrap_or_default()
            )
        };
        if !findings.is_empty() {
            writeln!(
                f,
                "preflight: {} finding(s) that do not stop the rotation:",
                findings.len()
            )?;
            for c in findings {
                line(f, c)?;
            }
        }
        if failures.is_empty() {
            return write!(f, "preflight: {} checks passed", self.checks.len());
        }
        writeln!(
            f,
            "preflight: {} of {} checks failed, nothing was written:",
            failures.len(),
            self.checks.len()
        )?;
        for c in failures {
            writeln!(
                f,
                "  - {}: {}: {}",
                c.system,
                c.what,
                c.problem.as_ref().map(Redacted::as_str).unwrap_or_default()
            )?;
        }
        Ok(())
    }
}

/// Check what a rotation of `c.target` needs from AWS, the cluster and the
/// database. Every problem is [`Redacted`].
pub async fn check(c: &Connected, tunnel: bool) -> Report {
    let mut report = Report::default();
    let t = &c.target;
    let e = |e: &dyn fmt::Display| Some(Redacted::error(e));

    // AWS: a live session that can read the app secret and its versions.
    match &c.session {
        Err(why) => report.push("AWS", "a session", Some(why.clone())),
        Ok(session) => {
            let who = session.caller_identity().await;
            report.push(
                "AWS",
                "whose credentials these are (STS)",
                who.as_ref().err().and_then(|x| e(x)),
            );
            if let Ok(who) = &who {
                report.checks.extend(role_check(&t.env, &who.arn, &t.app_secret));
            }
            if let (Some(cfg), Ok(who)) = (c.environments.get(t.env.as_str()), &who) {
                let problem = environments::check_account(&t.env, &c.environments, &who.account).err();
                report.push(
                    "AWS",
                    format!("the session is {}'s account {}", t.env, cfg.account_id),
                    problem.map(Redacted::new),
                );
            }
            // No config for it: the session and the context must still be
            // one account (an EKS cluster's ARN names its own).
            if let (None, Ok(who), Some(context)) = (
                c.environments.get(t.env.as_str()),
                &who,
                c.kube_context.as_deref(),
            ) && let Some(account) = c.kube_cluster.as_deref().and_then(environments::eks_account)
            {
                let problem = environments::check_session_matches_cluster(
                    &t.env,
                    &who.account,
                    context,
                    c.kube_cluster.as_deref(),
                )
                .err();
                report.push(
                    "AWS",
                    format!("the session is the account of context {context}'s cluster ({account})"),
                    problem.map(Redacted::new),
                );
            }
            let secrets = session.secrets();
            let read = secrets.app_secret(&t.app_secret).await;
            report.push(
                "AWS",
                format!("read {} (AWSCURRENT)", t.app_secret),
                read.err().and_then(|x| e(&x)),
            );
            let versions = secrets.versions(&t.app_secret).await;
            report.push(
                "AWS",
                format!("list the versions of {}", t.app_secret),
                versions.err().and_then(|x| e(&x)),
            );
        }
    }

    // Kubernetes: the environment's own cluster (read from the kubeconfig).
    if let Some(cfg) = c.environments.get(t.env.as_str()) {
        let context = c.kube_context.as_deref().unwrap_or(&cfg.kube_context);
        let problem =
            environments::check_cluster(&t.env, &c.environments, context, c.kube_cluster.as_deref()).err();
        let what = match &cfg.cluster {
            Some(cluster) => format!("context {context} is {}'s cluster {cluster}", t.env),
            None => format!("context {context} is a cluster of {}'s account", t.env),
        };
        report.push("Kubernetes", what, problem.map(Redacted::new));
    }

    // Kubernetes: reachable, and the role may do each thing the steps do.
    match &c.k8s {
        Err(why) => report.push("Kubernetes", "a client", Some(why.clone())),
        Ok(k8s) => match k8s.check().await {
            Err(why) => report.push("Kubernetes", format!("reach {}", k8s.server()), e(&why)),
            Ok(_) => {
                report.push("Kubernetes", format!("reach {}", k8s.server()), None);
                let needs = access::rotation_needs(&t.external_secret, &t.k8s_secret, &t.deployment, tunnel);
                match access::denied(k8s, &needs).await {
                    Err(why) => report.push("Kubernetes", "ask what the role may do", e(&why)),
                    Ok(denied) => {
                        for p in &needs {
                            let problem = denied.contains(p).then(|| {
                                Redacted::new(format!(
                                    "RBAC denies it (needed to {}); ask for `kubectl auth can-i {}` in {}",
                                    p.why,
                                    p.can_i(),
                                    k8s.namespace()
                                ))
                            });
                            report.push("Kubernetes", p.can_i(), problem);
                        }
                    }
                }
            }
        },
    }

    // The database: connected as an admin that can create users and grant.
    match &c.db {
        Err(why) => report.push("database", "an admin connection", Some(why.clone())),
        Ok(db) => match db.users().await {
            Err(why) => report.push("database", "read the users", e(&why)),
            Ok(users) => {
                let admin = users.iter().find(|u| u.name == t.admin_user);
                let problem = match admin {
                    None => Some(Redacted::new(format!(
                        "{} is not among the users this connection can see",
                        t.admin_user
                    ))),
                    Some(u) if !(u.can_grant || u.superuser) => Some(Redacted::new(format!(
                        "{} may not create users and grant privileges (MySQL: CREATE USER and GRANT OPTION; PostgreSQL: CREATEROLE)",
                        u.name
                    ))),
                    Some(_) => None,
                };
                report.push(
                    "database",
                    format!("{} can create users and grant", t.admin_user),
                    problem,
                );
            }
        },
    }
    // How the admin password travels: said, and warned about when not
    // verified (a wrong CA bundle or name never connected: refused above).
    if let Some(tls) = c.db_tls() {
        report.checks.push(Check {
            system: "database",
            what: tls.label(),
            problem: tls.warning().map(Redacted::new),
            advisory: true,
        });
    }
    report.checks.extend(secret_url(c).await);
    report
}

/// The session's role, named, and whether it may write the app secret:
/// refused for a role of the estate that may not (naming the one to use),
/// a finding for a role rotui does not know. `None` when the caller is not
/// an assumed role (an IAM user, the sandbox's own keys): nothing to name.
pub fn role_check(env: &str, caller_arn: &str, secret: &str) -> Option<Check> {
    use crate::aws::role::{self, RoleVerdict};
    let name = role::assumed_role(caller_arn)?;
    let (problem, advisory) = match role::verdict(name) {
        RoleVerdict::CanWrite { .. } => (None, false),
        RoleVerdict::CannotWrite { known } => (Some(role::cannot_write(env, name, known, secret)), false),
        RoleVerdict::Unknown => (Some(role::unproven(name, secret)), true),
    };
    Some(Check {
        system: "AWS",
        what: format!("role {name} may write {secret}"),
        problem: problem.map(Redacted::new),
        advisory,
    })
}

/// A finding, not a refusal: the app's Secret holds a DATABASE_URL that does
/// not parse, most often a password with `@ : / % # ?` or a space that the
/// ExternalSecret's template writes without percent-encoding. The app
/// cannot connect with it now; rotating mends it (rotui's passwords are
/// letters and digits), and the rotation reads such a URL as "not synced
/// yet" rather than failing on it. `None` when it parses, or when the
/// Secret cannot be read (the checks above say why).
pub async fn secret_url(c: &Connected) -> Option<Check> {
    let k8s = c.k8s.as_ref().ok()?;
    let name = &c.target.k8s_secret;
    let url = secret_check::read_url(k8s, name).await.ok()?;
    let why = secret_check::unparsable(url.expose_secret())?;
    let es = &c.target.external_secret;
    Some(Check {
        system: "Kubernetes",
        what: format!(
            "Secret {}/{name} holds a DATABASE_URL the app can read",
            k8s.namespace()
        ),
        problem: Some(Redacted::new(format!(
            "{}: the app is broken already. Most likely its password holds characters a URL \
             must percent-encode (@ : / % # ? or a space) and ExternalSecret {es}'s template \
             writes them as they are. Rotating mends it (the new password is letters and \
             digits); a rollback would bring the broken URL back. To keep such passwords, \
             percent-encode them in the template",
            secret_check::unparsable_note(&why)
        ))),
        advisory: true,
    })
}
