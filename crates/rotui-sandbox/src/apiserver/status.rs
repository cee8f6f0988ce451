//! API errors, carried as data and sent as `meta/v1` `Status` objects with
//! the HTTP code and wording of the real API server.

use serde_json::{Value, json};

/// An API error: HTTP code, machine-readable reason and message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message} ({code} {reason})")]
pub struct ApiError {
    pub code: u16,
    pub reason: String,
    pub message: String,
    /// `details.name` / `details.group` / `details.kind` of the Status.
    pub details: Option<Box<(String, String, String)>>,
}

impl ApiError {
    pub fn new(code: u16, reason: &str, message: impl Into<String>) -> Self {
        ApiError {
            code,
            reason: reason.into(),
            message: message.into(),
            details: None,
        }
    }

    fn with_details(mut self, name: &str, group: &str, plural: &str) -> Self {
        self.details = Some(Box::new((name.into(), group.into(), plural.into())));
        self
    }

    /// `pods "x" not found`
    pub fn not_found(group: &str, plural: &str, name: &str) -> Self {
        Self::new(
            404,
            "NotFound",
            format!("{} \"{name}\" not found", qualified(group, plural)),
        )
        .with_details(name, group, plural)
    }

    pub fn already_exists(group: &str, plural: &str, name: &str) -> Self {
        Self::new(
            409,
            "AlreadyExists",
            format!("{} \"{name}\" already exists", qualified(group, plural)),
        )
        .with_details(name, group, plural)
    }

    pub fn conflict(group: &str, plural: &str, name: &str) -> Self {
        Self::new(
            409,
            "Conflict",
            format!(
                "Operation cannot be fulfilled on {} \"{name}\": the object has been modified; \
                 please apply your changes to the latest version and try again",
                qualified(group, plural)
            ),
        )
        .with_details(name, group, plural)
    }

    /// 422 with the real server's `Kind.group "name" is invalid: field: reason` shape.
    pub fn invalid(kind: &str, group: &str, name: &str, field_msg: &str) -> Self {
        let k = if group.is_empty() {
            kind.to_string()
        } else {
            format!("{kind}.{group}")
        };
        Self::new(422, "Invalid", format!("{k} \"{name}\" is invalid: {field_msg}"))
    }

    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(400, "BadRequest", message)
    }

    pub fn gone(message: impl Into<String>) -> Self {
        Self::new(410, "Expired", message)
    }

    /// The RBAC denial, worded like the real authorizer's.
    pub fn forbidden(
        user: &str,
        verb: &str,
        group: &str,
        resource: &str,
        name: Option<&str>,
        namespace: Option<&str>,
    ) -> Self {
        let base = resource.split('/').next().unwrap_or(resource);
        let subject = match name {
            Some(n) => format!("{} \"{n}\"", qualified(group, base)),
            None => qualified(group, base),
        };
        let scope = match namespace {
            Some(ns) => format!(" in the namespace \"{ns}\""),
            None => " at the cluster scope".to_string(),
        };
        Self::new(
            403,
            "Forbidden",
            format!(
                "{subject} is forbidden: User \"{user}\" cannot {verb} resource \"{resource}\" \
                 in API group \"{group}\"{scope}"
            ),
        )
        .with_details(name.unwrap_or(""), group, base)
    }

    /// The `Status` object sent to clients.
    pub fn to_status(&self) -> Value {
        let mut s = json!({
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": self.message,
            "reason": self.reason,
            "code": self.code,
        });
        if let Some((name, group, kind)) = self.details.as_deref() {
            let mut d = json!({ "kind": kind });
            if !name.is_empty() {
                d["name"] = json!(name);
            }
            if !group.is_empty() {
                d["group"] = json!(group);
            }
            s["details"] = d;
        }
        s
    }
}

/// `pods`, `deployments.apps`, `externalsecrets.external-secrets.io`.
pub fn qualified(group: &str, plural: &str) -> String {
    if group.is_empty() {
        plural.to_string()
    } else {
        format!("{plural}.{group}")
    }
}
