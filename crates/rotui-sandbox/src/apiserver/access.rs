//! `SelfSubjectAccessReview` ("kubectl auth can-i"): answers from the same
//! deny list ([`KubeStore::deny`]) that turns requests into 403s, so a
//! client that asks first gets the answer its request would get.

use serde_json::{Value, json};

use super::status::ApiError;
use super::store::KubeStore;

/// Answer a review: the request echoed back with `status.allowed`.
pub fn review(store: &KubeStore, body: &[u8]) -> Result<Value, ApiError> {
    let mut review: Value = serde_json::from_slice(body)
        .map_err(|e| ApiError::new(400, "BadRequest", format!("invalid SelfSubjectAccessReview: {e}")))?;
    let attrs = &review["spec"]["resourceAttributes"];
    let Some(verb) = attrs["verb"].as_str() else {
        return Err(ApiError::new(
            400,
            "BadRequest",
            "spec.resourceAttributes.verb is required (non-resource reviews are not modelled)",
        ));
    };
    let resource = match (attrs["resource"].as_str(), attrs["subresource"].as_str()) {
        (Some(r), Some(s)) if !s.is_empty() => format!("{r}/{s}"),
        (Some(r), _) => r.to_owned(),
        (None, _) => "*".to_owned(),
    };
    let allowed = !store.is_denied(verb, &resource);
    let reason = if allowed {
        "allowed by the sandbox's RBAC".to_owned()
    } else {
        format!("the sandbox denies {verb} on {resource}")
    };
    review["status"] = json!({ "allowed": allowed, "denied": !allowed, "reason": reason });
    review["apiVersion"] = json!("authorization.k8s.io/v1");
    review["kind"] = json!("SelfSubjectAccessReview");
    Ok(review)
}
