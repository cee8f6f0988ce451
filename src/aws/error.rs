//! AWS failures as the operator needs them: what went wrong, in words, and
//! what to do. Text from the SDK passes through [`crate::secret::redact`].

use aws_sdk_secretsmanager::config::http::HttpResponse;
use aws_sdk_secretsmanager::error::{ProvideErrorMetadata, SdkError};

use crate::secret::redact;

/// What rotui tells an operator to do when the session is gone.
pub const RELOGIN_HINT: &str =
    "your AWS session has expired or is invalid: re-run `gds aws <account>-<role> --shell`";

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum AwsErrorKind {
    /// The secret, version or key does not exist.
    NotFound,
    /// The role may not do this (IAM or resource policy).
    AccessDenied,
    /// No credentials, or expired/invalid ones.
    ExpiredSession,
    /// The endpoint could not be reached, or did not answer in time.
    Network,
    /// The request or the secret's content is not what rotui expects.
    Invalid,
    Other,
}

#[derive(Debug, Clone, thiserror::Error)]
#[error("{message}{}", hint_suffix(.hint))]
pub struct AwsError {
    pub kind: AwsErrorKind,
    /// The AWS error code (e.g. `ResourceNotFoundException`), when there is one.
    pub code: Option<String>,
    /// What happened (already redacted).
    pub message: String,
    /// What to do about it.
    pub hint: Option<String>,
}

fn hint_suffix(h: &Option<String>) -> String {
    h.as_ref().map(|h| format!(" — {h}")).unwrap_or_default()
}

pub type AwsResult<T> = Result<T, AwsError>;

impl AwsError {
    pub fn new(kind: AwsErrorKind, message: impl AsRef<str>) -> Self {
        AwsError {
            kind,
            code: None,
            message: redact(message.as_ref()),
            hint: default_hint(kind).map(str::to_owned),
        }
    }

    pub fn with_hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }

    pub fn invalid(message: impl AsRef<str>) -> Self {
        AwsError::new(AwsErrorKind::Invalid, message)
    }

    pub fn not_found(message: impl AsRef<str>) -> Self {
        AwsError::new(AwsErrorKind::NotFound, message)
    }

    /// Classify an SDK failure. `what` names the thing acted on, in words
    /// ("secret govuk/signon/mysql"), `region` where, so messages read
    /// "secret govuk/signon/mysql not found in eu-west-1".
    pub fn from_sdk<E>(err: &SdkError<E, HttpResponse>, what: &str, region: &str) -> Self
    where
        E: ProvideErrorMetadata + std::error::Error + 'static,
    {
        match err {
            SdkError::ServiceError(_) | SdkError::ResponseError(_) => {
                // Some endpoints (moto's IAM enforcement, proxies) answer a
                // JSON-protocol call with a query-style XML error the SDK
                // cannot parse: read the code from the body then.
                let body = err.raw_response().and_then(|r| r.body().bytes());
                let body = body.map(String::from_utf8_lossy).unwrap_or_default();
                let status = err.raw_response().map(|r| r.status().as_u16());
                let code = err.code().or_else(|| xml_tag(&body, "Code"));
                let kind = match (classify(code), status) {
                    (AwsErrorKind::Other, Some(401)) => AwsErrorKind::ExpiredSession,
                    (AwsErrorKind::Other, Some(403)) => AwsErrorKind::AccessDenied,
                    (AwsErrorKind::Other, Some(500..=599)) => AwsErrorKind::Network,
                    (kind, _) => kind,
                };
                let detail = err
                    .message()
                    .or_else(|| xml_tag(&body, "Message"))
                    .unwrap_or_default();
                let message = match kind {
                    AwsErrorKind::NotFound => format!("{what} not found in {region}"),
                    AwsErrorKind::AccessDenied => format!("{what} in {region}: access denied"),
                    AwsErrorKind::ExpiredSession => {
                        format!("{what} in {region}: AWS rejected the credentials")
                    }
                    _ => match (code, status) {
                        (Some(code), _) => format!("{what} in {region}: {code}"),
                        // No AWS error at all: something else answered.
                        (None, Some(status)) => format!(
                            "{what} in {region}: the endpoint answered HTTP {status} without an AWS error \
                             (is it Secrets Manager, or a proxy or firewall answering in its place?)"
                        ),
                        (None, None) => format!("{what} in {region}: the endpoint's answer was not AWS's"),
                    },
                };
                let no_aws_answer = code.is_none() && kind == AwsErrorKind::Other;
                let message = if detail.is_empty() {
                    message
                } else {
                    format!("{message} ({detail})")
                };
                let mut e = AwsError::new(kind, message);
                e.code = code.map(str::to_owned);
                if no_aws_answer {
                    e.hint = Some(
                        "check --aws-endpoint-url / AWS_ENDPOINT_URL (unset it for real AWS), the region and \
                         any HTTPS proxy"
                            .to_owned(),
                    );
                }
                e
            }
            SdkError::TimeoutError(_) => AwsError::new(
                AwsErrorKind::Network,
                format!("{what} in {region}: AWS did not answer in time"),
            ),
            SdkError::DispatchFailure(_) | SdkError::ConstructionFailure(_) => {
                let text = error_chain(err);
                if mentions_missing_credentials(&text) {
                    AwsError::new(
                        AwsErrorKind::ExpiredSession,
                        format!("{what} in {region}: no usable AWS credentials ({text})"),
                    )
                } else {
                    AwsError::new(
                        AwsErrorKind::Network,
                        format!("{what} in {region}: could not reach AWS ({text})"),
                    )
                }
            }
            _ => AwsError::new(
                AwsErrorKind::Other,
                format!("{what} in {region}: {}", error_chain(err)),
            ),
        }
    }
}

/// The kind of failure an AWS error code means, for Secrets Manager and STS.
pub fn classify(code: Option<&str>) -> AwsErrorKind {
    use AwsErrorKind::*;
    match code.unwrap_or_default() {
        "ResourceNotFoundException" | "NoSuchEntity" => NotFound,
        "AccessDeniedException" | "AccessDenied" | "UnauthorizedOperation" => AccessDenied,
        "ExpiredToken"
        | "ExpiredTokenException"
        | "InvalidClientTokenId"
        | "UnrecognizedClientException"
        | "InvalidSignatureException"
        | "SignatureDoesNotMatch"
        | "IncompleteSignature"
        | "MissingAuthenticationToken"
        | "RequestExpired" => ExpiredSession,
        "InvalidRequestException"
        | "InvalidParameterException"
        | "InvalidNextTokenException"
        | "ResourceExistsException"
        | "MalformedPolicyDocumentException"
        | "PreconditionNotMetException"
        | "ValidationException"
        | "DecryptionFailure" => Invalid,
        "ThrottlingException" | "Throttling" | "RequestTimeout" | "ServiceUnavailable" => Network,
        _ => Other,
    }
}

fn default_hint(kind: AwsErrorKind) -> Option<&'static str> {
    match kind {
        AwsErrorKind::ExpiredSession => Some(RELOGIN_HINT),
        AwsErrorKind::AccessDenied => {
            Some("the current role may not do this: use a fulladmin or platformengineer session")
        }
        AwsErrorKind::Network => {
            Some("check the network, the region and --aws-endpoint-url / AWS_ENDPOINT_URL")
        }
        _ => None,
    }
}

/// "outer: cause: root cause", each error's Display once (the SDK's
/// `DisplayErrorContext` appends a Debug dump too long for a status line).
pub(crate) fn error_chain(err: &(dyn std::error::Error + 'static)) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut next = Some(err);
    while let Some(e) = next {
        let text = e.to_string();
        // Wrappers often repeat their source's text; keep it once.
        if !parts.last().is_some_and(|p| p.contains(&text)) {
            parts.push(text);
        }
        next = e.source();
    }
    parts.join(": ")
}

/// The text of the first `<tag>…</tag>` in an XML error body.
fn xml_tag<'a>(xml: &'a str, tag: &str) -> Option<&'a str> {
    let open = format!("<{tag}>");
    let start = xml.find(&open)? + open.len();
    let end = xml[start..].find("</")? + start;
    Some(xml[start..end].trim()).filter(|s| !s.is_empty())
}

fn mentions_missing_credentials(text: &str) -> bool {
    let t = text.to_ascii_lowercase();
    t.contains("credentials") || t.contains("no credential") || t.contains("identity")
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_sdk_secretsmanager::operation::get_secret_value::GetSecretValueError;

    #[test]
    fn session_codes_map_to_expired_session_with_relogin_hint() {
        for code in [
            "ExpiredToken",
            "ExpiredTokenException",
            "InvalidClientTokenId",
            "UnrecognizedClientException",
            "SignatureDoesNotMatch",
        ] {
            assert_eq!(classify(Some(code)), AwsErrorKind::ExpiredSession, "{code}");
        }
        let e = AwsError::new(classify(Some("ExpiredToken")), "x");
        assert!(
            e.to_string()
                .contains("re-run `gds aws <account>-<role> --shell`"),
            "{e}"
        );
    }

    #[test]
    fn other_codes_map_to_their_kinds() {
        assert_eq!(
            classify(Some("ResourceNotFoundException")),
            AwsErrorKind::NotFound
        );
        assert_eq!(
            classify(Some("AccessDeniedException")),
            AwsErrorKind::AccessDenied
        );
        assert_eq!(classify(Some("InvalidRequestException")), AwsErrorKind::Invalid);
        assert_eq!(classify(Some("ThrottlingException")), AwsErrorKind::Network);
        assert_eq!(classify(Some("SomethingNew")), AwsErrorKind::Other);
        assert_eq!(classify(None), AwsErrorKind::Other);
    }

    #[test]
    fn sdk_timeouts_and_credential_failures_are_classified() {
        let t: SdkError<GetSecretValueError, HttpResponse> = SdkError::timeout_error("slow");
        assert_eq!(
            AwsError::from_sdk(&t, "secret x", "eu-west-1").kind,
            AwsErrorKind::Network
        );
        let c: SdkError<GetSecretValueError, HttpResponse> =
            SdkError::construction_failure("no credentials in the environment");
        let e = AwsError::from_sdk(&c, "secret x", "eu-west-1");
        assert_eq!(e.kind, AwsErrorKind::ExpiredSession);
        assert!(e.to_string().contains("gds aws"));
    }

    #[test]
    fn error_chains_read_outer_to_root_without_repeats() {
        #[derive(Debug)]
        struct Wrap(&'static str, Option<Box<Wrap>>);
        impl std::fmt::Display for Wrap {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.0)
            }
        }
        impl std::error::Error for Wrap {
            fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
                self.1.as_deref().map(|w| w as _)
            }
        }
        let root = Wrap("connection refused", None);
        let same = Wrap("connection refused", Some(Box::new(root)));
        let outer = Wrap("dispatch failure", Some(Box::new(same)));
        assert_eq!(error_chain(&outer), "dispatch failure: connection refused");
    }

    #[test]
    fn xml_error_codes_are_found() {
        let body = r#"<?xml version="1.0"?><ErrorResponse><Errors><Error><Code>InvalidClientTokenId</Code><Message>The security token included in the request is invalid.</Message></Error></Errors></ErrorResponse>"#;
        assert_eq!(xml_tag(body, "Code"), Some("InvalidClientTokenId"));
        assert_eq!(
            xml_tag(body, "Message"),
            Some("The security token included in the request is invalid.")
        );
        assert_eq!(xml_tag("{}", "Code"), None);
    }

    #[test]
    fn messages_are_redacted() {
        crate::secret::register("SuperSecretAwsValue123");
        let e = AwsError::invalid("bad value SuperSecretAwsValue123 in key password");
        assert!(!e.to_string().contains("SuperSecretAwsValue123"));
        assert!(!format!("{e:?}").contains("SuperSecretAwsValue123"));
    }
}
