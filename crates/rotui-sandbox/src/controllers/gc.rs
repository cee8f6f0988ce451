//! The garbage collector, reduced to what the sandbox creates: pods whose
//! owning Deployment is gone and Secrets whose owning ExternalSecret is gone
//! are deleted (background cascading deletion). Objects without an owner —
//! rotui's relay pods, hand-made Secrets — are never touched.

use std::collections::HashSet;
use std::time::Duration;

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{Pod, Secret};
use kube::api::{DeleteParams, ListParams};
use kube::{Api, Resource, ResourceExt};
use serde::de::DeserializeOwned;

use super::ExternalSecret;
use rotui::secret::redact;

const EVERY: Duration = Duration::from_secs(2);

pub(super) async fn run(client: kube::Client, namespace: String) {
    loop {
        if let Err(e) = sweep(&client, &namespace).await {
            tracing::debug!(error = %redact(&e.to_string()), "garbage collector");
        }
        tokio::time::sleep(EVERY).await;
    }
}

async fn sweep(client: &kube::Client, namespace: &str) -> kube::Result<()> {
    collect::<Pod, Deployment>(client, namespace).await?;
    collect::<Secret, ExternalSecret>(client, namespace).await
}

async fn uids<K>(client: &kube::Client, namespace: &str) -> kube::Result<HashSet<String>>
where
    K: Resource<DynamicType = (), Scope = k8s_openapi::NamespaceResourceScope>
        + Clone
        + DeserializeOwned
        + std::fmt::Debug,
{
    let api: Api<K> = Api::namespaced(client.clone(), namespace);
    Ok(api
        .list(&ListParams::default())
        .await?
        .items
        .iter()
        .filter_map(|o| o.uid())
        .collect())
}

/// Delete every `K` whose controller owner, an `O`, no longer exists.
/// Children are listed before owners: an owner made after our owner list
/// could otherwise have children we'd wrongly take for orphans.
async fn collect<K, O>(client: &kube::Client, namespace: &str) -> kube::Result<()>
where
    K: Resource<DynamicType = (), Scope = k8s_openapi::NamespaceResourceScope>
        + Clone
        + DeserializeOwned
        + std::fmt::Debug,
    O: Resource<DynamicType = (), Scope = k8s_openapi::NamespaceResourceScope>
        + Clone
        + DeserializeOwned
        + std::fmt::Debug,
{
    let api: Api<K> = Api::namespaced(client.clone(), namespace);
    let children = api.list(&ListParams::default()).await?;
    let alive = uids::<O>(client, namespace).await?;
    let kind = O::kind(&());
    for obj in children {
        let orphaned = obj
            .owner_references()
            .iter()
            .any(|o| o.controller == Some(true) && o.kind == kind && !alive.contains(&o.uid));
        if orphaned && obj.meta().deletion_timestamp.is_none() {
            match api.delete(&obj.name_any(), &DeleteParams::background()).await {
                Ok(_) => {
                    tracing::info!(kind = K::kind(&()).as_ref(), name = %obj.name_any(), "garbage collected")
                }
                Err(kube::Error::Api(s)) if s.code == 404 => {}
                Err(e) => return Err(e),
            }
        }
    }
    Ok(())
}
