//! Delivering the rotation's notices ([`crate::rotation::notice`]) to a
//! webhook per environment (`webhook_url` in `[environments.<env>]`), as
//! Slack-compatible JSON: `{"text": …, "blocks": […]}`.
//!
//! One background task per rotui reads the bounded queue the engine fills
//! and posts each notice in order, each attempt within a deadline and a
//! failed one retried a bounded number of times with a doubling backoff.
//! Nothing here can slow a rotation: the engine only enqueues. A delivery
//! that fails is logged (the URL masked to its scheme and host) and
//! reported once to whoever runs rotui (stderr, the status bar); on exit,
//! what is still queued gets a short bounded flush ([`Webhooks::finish`]).
//!
//! The URL of a Slack webhook is its credential: it is never printed whole,
//! and its path is registered for redaction so that no error can carry it.
//!
//! The HTTP client is the hyper stack already in the tree (under kube and
//! the AWS SDK): hyper-util's client over hyper-rustls, rustls with ring.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use http_body_util::Full;
use hyper::body::Bytes;
use serde_json::{Value, json};
use tokio::sync::mpsc;

use crate::environments::WebhookUrl;
use crate::rotation::notice::{Notice, NoticeKind, Notifier};

/// How hard delivery tries. The defaults bound one notice to about 20 s
/// (4 attempts of at most 4 s, 0.5 + 1 + 2 s apart).
#[derive(Debug, Clone)]
pub struct Policy {
    /// Notices held while the receiver is slow; more are dropped and counted.
    pub queue: usize,
    pub attempts: u32,
    pub attempt_timeout: Duration,
    pub first_backoff: Duration,
}

impl Default for Policy {
    fn default() -> Self {
        Policy {
            queue: 64,
            attempts: 4,
            attempt_timeout: Duration::from_secs(4),
            first_backoff: Duration::from_millis(500),
        }
    }
}

/// How long rotui waits, on exit, for notices still queued.
pub const EXIT_FLUSH: Duration = Duration::from_secs(3);

/// What became of the notices, counted as delivery goes.
#[derive(Debug, Default)]
struct Counts {
    delivered: AtomicU64,
    failed: AtomicU64,
}

/// The delivery task and the engine's end of its queue.
pub struct Webhooks {
    notifier: Notifier,
    counts: Arc<Counts>,
    task: tokio::task::JoinHandle<()>,
}

/// A delivery that failed for good (all attempts spent, or refused), told
/// once per rotui: `what` names the webhook masked and the notice.
pub type OnFailure = Box<dyn FnMut(&Notice, String) + Send>;

impl Webhooks {
    /// Start delivering to `hooks` (environment → URL); `None` when no
    /// environment has a webhook, so nothing runs and nothing is queued.
    pub fn start(
        hooks: BTreeMap<String, WebhookUrl>,
        policy: Policy,
        on_failure: OnFailure,
    ) -> Option<Webhooks> {
        if hooks.is_empty() {
            return None;
        }
        let (notifier, rx) = Notifier::channel(policy.queue);
        let counts = Arc::new(Counts::default());
        let task = tokio::spawn(deliver_all(hooks, policy, rx, counts.clone(), on_failure));
        Some(Webhooks {
            notifier,
            counts,
            task,
        })
    }

    /// The engine's end: for [`crate::rotation::RunOptions::notify`].
    pub fn notifier(&self) -> Notifier {
        self.notifier.clone()
    }

    /// Stop taking notices and give those still queued up to `within`;
    /// then what was not delivered, in words (`None`: every notice went).
    /// Every other [`Notifier`] clone must be gone by then (the runs ended).
    pub async fn finish(self, within: Duration) -> Option<String> {
        let Webhooks {
            notifier,
            counts,
            mut task,
        } = self;
        let dropped = notifier.dropped();
        drop(notifier);
        let timed_out = tokio::time::timeout(within, &mut task).await.is_err();
        if timed_out {
            task.abort();
        }
        let failed = counts.failed.load(Ordering::Relaxed);
        let mut lost = vec![];
        if failed > 0 {
            lost.push(format!("{failed} could not be delivered"));
        }
        if dropped > 0 {
            lost.push(format!("{dropped} were dropped (the queue was full)"));
        }
        if timed_out {
            lost.push(format!(
                "delivery was still under way after {} s and was given up",
                within.as_secs()
            ));
        }
        (!lost.is_empty()).then(|| {
            format!(
                "notifications: {} of them delivered; {}",
                counts.delivered.load(Ordering::Relaxed),
                lost.join("; ")
            )
        })
    }
}

type Client = hyper_util::client::legacy::Client<
    hyper_rustls::HttpsConnector<hyper_util::client::legacy::connect::HttpConnector>,
    Full<Bytes>,
>;

fn client() -> Result<Client, String> {
    let https = hyper_rustls::HttpsConnectorBuilder::new()
        .with_provider_and_native_roots(rustls::crypto::ring::default_provider())
        .map_err(|e| format!("no TLS roots for webhooks: {e}"))?
        .https_or_http()
        .enable_http1()
        .build();
    Ok(hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new()).build(https))
}

async fn deliver_all(
    hooks: BTreeMap<String, WebhookUrl>,
    policy: Policy,
    mut rx: mpsc::Receiver<Notice>,
    counts: Arc<Counts>,
    mut on_failure: OnFailure,
) {
    let client = client();
    let mut told = false;
    while let Some(notice) = rx.recv().await {
        // One message per webhook, though several environments share it.
        let mut urls: Vec<(&str, &WebhookUrl)> = notice
            .envs
            .iter()
            .filter_map(|e| hooks.get_key_value(e.as_str()).map(|(k, v)| (k.as_str(), v)))
            .collect();
        urls.dedup_by(|a, b| a.1 == b.1);
        let body = Bytes::from(message(&notice).to_string());
        for (env, url) in urls {
            let result = match &client {
                Ok(c) => post(c, url, body.clone(), &policy).await,
                Err(e) => Err(e.clone()),
            };
            match result {
                Ok(()) => {
                    counts.delivered.fetch_add(1, Ordering::Relaxed);
                }
                Err(why) => {
                    counts.failed.fetch_add(1, Ordering::Relaxed);
                    let what = crate::secret::redact(&format!(
                        "the {} notice of rotation {} to {env}'s webhook {} was not delivered: {why}",
                        notice.kind,
                        notice.rotation,
                        url.masked()
                    ));
                    tracing::warn!("{what}");
                    if !told {
                        told = true;
                        on_failure(
                            &notice,
                            format!("{what}; the rotation goes on, and further failures are only logged"),
                        );
                    }
                }
            }
        }
    }
}

/// One notice to one webhook: retried with a doubling backoff until a 2xx,
/// a refusal that retrying cannot change (4xx but 408 and 429), or the
/// attempts are spent.
async fn post(client: &Client, url: &WebhookUrl, body: Bytes, policy: &Policy) -> Result<(), String> {
    let mut backoff = policy.first_backoff;
    let mut last = String::new();
    for attempt in 1..=policy.attempts.max(1) {
        let request = hyper::Request::post(url.expose())
            .header(hyper::header::CONTENT_TYPE, "application/json")
            .header(
                hyper::header::USER_AGENT,
                concat!("rotui/", env!("CARGO_PKG_VERSION")),
            )
            .body(Full::new(body.clone()))
            .map_err(|e| format!("bad request: {e}"))?;
        match tokio::time::timeout(policy.attempt_timeout, client.request(request)).await {
            Ok(Ok(response)) => {
                let status = response.status();
                if status.is_success() {
                    return Ok(());
                }
                last = format!("HTTP {status}");
                if status.is_client_error()
                    && status != hyper::StatusCode::REQUEST_TIMEOUT
                    && status != hyper::StatusCode::TOO_MANY_REQUESTS
                {
                    return Err(format!("{last} (not retried: check the webhook_url)"));
                }
            }
            Ok(Err(e)) => last = crate::secret::redact(&error_chain(&e)),
            Err(_) => last = format!("no answer within {} s", policy.attempt_timeout.as_secs_f64()),
        }
        if attempt < policy.attempts {
            tokio::time::sleep(backoff).await;
            backoff *= 2;
        }
    }
    Err(format!("{last} ({} attempts)", policy.attempts.max(1)))
}

fn error_chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut out = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        out.push_str(": ");
        out.push_str(&s.to_string());
        source = s.source();
    }
    out
}

/// How much of a wait's or an error's words a message carries.
const DETAIL_MAX: usize = 1500;

/// The notice as Slack-compatible JSON: `text` (what a phone shows) and
/// blocks, the last a context line naming the event for receivers that
/// sort messages (`rotui event: blocked`). Names only: no secret.
pub fn message(n: &Notice) -> Value {
    let envs = n.envs.iter().map(|e| e.as_str()).collect::<Vec<_>>().join(", ");
    let target = format!("{} ({}) in {envs}", n.app, n.engine);
    let users = {
        let old: Vec<String> = n
            .old_users
            .iter()
            .filter(|(e, _)| n.envs.contains(e))
            .map(|(_, u)| u.clone())
            .collect();
        format!("{} → {}", old.join(", "), n.new_user)
    };
    let step = n.step.as_ref().map(|s| s.0.as_str()).unwrap_or_default();
    let headline = match n.kind {
        NoticeKind::Started => format!("rotui: rotation of {target} started ({users})"),
        NoticeKind::Waiting => format!("rotui: rotation of {target} is waiting for the operator at {step}"),
        NoticeKind::Blocked if step.is_empty() => format!("rotui: rotation of {target} stopped"),
        NoticeKind::Blocked => format!("rotui: rotation of {target} is blocked at {step}"),
        NoticeKind::Finished => format!("rotui: rotation of {target} finished ({users})"),
        NoticeKind::RolledBack => format!("rotui: rotation of {target} was rolled back to {}", {
            let old: Vec<&str> = n.old_users.values().map(String::as_str).collect();
            old.join(", ")
        }),
    };
    // Slack takes up to 3000 characters in a section: an error's words are cut well before.
    let detail: String = match n.detail.char_indices().nth(DETAIL_MAX) {
        Some((cut, _)) => format!("{}…", &n.detail[..cut]),
        None => n.detail.clone(),
    };
    let text = if detail.is_empty() {
        headline.clone()
    } else {
        format!("{headline}: {detail}")
    };
    let text = crate::secret::redact(&text);
    let context = crate::secret::redact(&format!(
        "rotui event: {} · rotation {} · by {} · {}",
        n.kind,
        n.rotation,
        n.by,
        n.at.format("%Y-%m-%d %H:%M:%S UTC")
    ));
    json!({
        "text": text,
        "blocks": [
            {"type": "section", "text": {"type": "mrkdwn", "text": text}},
            {"type": "context", "elements": [{"type": "mrkdwn", "text": context}]},
        ],
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::secret::MASK;

    #[test]
    fn a_url_is_shown_by_its_host_only_and_its_path_is_redacted_anywhere() {
        let url =
            WebhookUrl::parse("https://hooks.slack.com/services/T0NOTE/B0NOTE/xoxoSecretPath42").unwrap();
        assert_eq!(url.masked(), format!("https://hooks.slack.com/{MASK}"));
        assert_eq!(
            format!("{url:?}"),
            format!("WebhookUrl(https://hooks.slack.com/{MASK})")
        );
        let said = crate::secret::redact(
            "POST https://hooks.slack.com/services/T0NOTE/B0NOTE/xoxoSecretPath42 failed",
        );
        assert!(!said.contains("xoxoSecretPath42"), "{said}");
        assert!(WebhookUrl::parse("ftp://example.com/x").is_err());
        assert!(WebhookUrl::parse("not a url").is_err());
    }

    #[test]
    fn a_bad_webhook_url_in_the_config_is_refused_without_being_shown() {
        let bad = "[environments.production]\naccount_id = \"111111111111\"\nkube_context = \"production\"\n\
                   webhook_url = \"ftp://hooks.example/badSecretPath77\"\n";
        let error = crate::config::Config::parse(bad).unwrap_err();
        let said = crate::secret::redact(&error);
        assert!(said.contains("webhook_url must be an http(s) URL"), "{said}");
        assert!(!said.contains("badSecretPath77"), "{said}");
        let good = bad.replace(
            "ftp://hooks.example/badSecretPath77",
            "https://hooks.example/goodSecretPath77",
        );
        let config = crate::config::Config::parse(&good).unwrap();
        let hooks = crate::environments::webhooks(&config.environments);
        assert_eq!(
            hooks["production"].masked(),
            format!("https://hooks.example/{MASK}")
        );
        assert!(!format!("{config:?}").contains("goodSecretPath77"));
    }

    #[test]
    fn a_long_detail_is_cut() {
        let rotation = crate::rotation::Rotation {
            id: "r".into(),
            spec: crate::rotation::PlanSpec::for_target(
                &crate::target::Target::new("production", "signon", crate::target::Engine::Mysql),
                &[],
                crate::rotation::Mode::Normal,
            ),
            old_users: BTreeMap::new(),
            new_username: "n".into(),
        };
        let notice = Notice::new(NoticeKind::Blocked, &rotation, None, &"x".repeat(5000), "me@here");
        let text = message(&notice)["text"].as_str().unwrap().to_owned();
        assert!(
            text.chars().count() < 1700 && text.ends_with('…'),
            "{}",
            text.len()
        );
    }
}
