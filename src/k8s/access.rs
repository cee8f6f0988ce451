//! What the operator's role may do, asked before anything is written: one
//! `SelfSubjectAccessReview` per permission a rotation needs (what `kubectl
//! auth can-i` sends), so a role that cannot patch the ExternalSecret or
//! exec into the app's pods is found before AWSCURRENT moves, not after.

use k8s_openapi::api::authorization::v1::{
    ResourceAttributes, SelfSubjectAccessReview, SelfSubjectAccessReviewSpec,
};
use kube::Api;
use kube::api::PostParams;

use super::{K8s, K8sError};

/// One permission: `verb` on `resource` (`plural` or `plural/subresource`)
/// in the client's namespace, and why the rotation needs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Permission {
    pub verb: &'static str,
    pub group: &'static str,
    pub resource: &'static str,
    pub name: Option<String>,
    pub why: &'static str,
}

impl Permission {
    pub const fn new(
        verb: &'static str,
        group: &'static str,
        resource: &'static str,
        why: &'static str,
    ) -> Self {
        Permission {
            verb,
            group,
            resource,
            name: None,
            why,
        }
    }

    pub fn named(mut self, name: &str) -> Self {
        self.name = Some(name.to_owned());
        self
    }

    /// As `kubectl auth can-i` takes it: `patch externalsecrets.external-secrets.io/signon-mysql`.
    pub fn can_i(&self) -> String {
        let group = if self.group.is_empty() {
            String::new()
        } else {
            format!(".{}", self.group)
        };
        let (plural, sub) = match self.resource.split_once('/') {
            Some((p, s)) => (p, Some(s)),
            None => (self.resource, None),
        };
        let name = self.name.as_deref().map(|n| format!("/{n}")).unwrap_or_default();
        let sub = sub.map(|s| format!(" --subresource={s}")).unwrap_or_default();
        format!("{} {plural}{group}{name}{sub}", self.verb)
    }
}

/// What the rotation's cluster steps do, for the app's ExternalSecret, its
/// Secret and Deployment; `tunnel` adds the relay pod's needs.
pub fn rotation_needs(
    external_secret: &str,
    secret: &str,
    deployment: &str,
    tunnel: bool,
) -> Vec<Permission> {
    let mut needs = vec![
        Permission::new(
            "get",
            "external-secrets.io",
            "externalsecrets",
            "read the sync status",
        )
        .named(external_secret),
        Permission::new(
            "patch",
            "external-secrets.io",
            "externalsecrets",
            "force-sync (annotate)",
        )
        .named(external_secret),
        Permission::new(
            "watch",
            "external-secrets.io",
            "externalsecrets",
            "wait for the sync",
        ),
        Permission::new("get", "", "secrets", "check the Secret's DATABASE_URL").named(secret),
        Permission::new("get", "apps", "deployments", "follow the rollout").named(deployment),
        Permission::new("list", "", "pods", "find the app's pods"),
        Permission::new("create", "", "pods/exec", "check a pod's environment"),
    ];
    if tunnel {
        needs.extend([
            Permission::new("create", "", "pods", "start the relay pod"),
            Permission::new("delete", "", "pods", "remove the relay pod"),
            Permission::new(
                "create",
                "",
                "pods/portforward",
                "reach the database through the relay",
            ),
        ]);
    }
    needs
}

/// The permissions among `wanted` that the cluster denies (empty: all
/// allowed). Fails only when the cluster cannot be asked at all.
pub async fn denied(k8s: &K8s, wanted: &[Permission]) -> Result<Vec<Permission>, K8sError> {
    let api: Api<SelfSubjectAccessReview> = Api::all(k8s.client().clone());
    let mut denied = Vec::new();
    for p in wanted {
        let (resource, subresource) = match p.resource.split_once('/') {
            Some((r, s)) => (r, Some(s.to_owned())),
            None => (p.resource, None),
        };
        let review = SelfSubjectAccessReview {
            spec: SelfSubjectAccessReviewSpec {
                resource_attributes: Some(ResourceAttributes {
                    namespace: Some(k8s.namespace().to_owned()),
                    verb: Some(p.verb.to_owned()),
                    group: Some(p.group.to_owned()),
                    resource: Some(resource.to_owned()),
                    subresource,
                    name: p.name.clone(),
                    ..Default::default()
                }),
                ..Default::default()
            },
            ..Default::default()
        };
        let op = k8s.op("create", "selfsubjectaccessreviews");
        let answer = api
            .create(&PostParams::default(), &review)
            .await
            .map_err(|e| op.err(e))?;
        if !answer.status.is_some_and(|s| s.allowed) {
            denied.push(p.clone());
        }
    }
    Ok(denied)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn permissions_read_as_kubectl_auth_can_i() {
        let p = Permission::new("patch", "external-secrets.io", "externalsecrets", "").named("signon-mysql");
        assert_eq!(
            p.can_i(),
            "patch externalsecrets.external-secrets.io/signon-mysql"
        );
        let p = Permission::new("create", "", "pods/exec", "");
        assert_eq!(p.can_i(), "create pods --subresource=exec");
    }
}
