//! Rotation notices delivered to webhooks (`rotui::webhook`), against a real
//! local HTTP server started by the test ([`Receiver`]): retried until the
//! receiver takes them, said once (masked) when it never does, and never
//! in the way of whoever sends them. The estate test
//! (`estate::notifications_…`) drives them from real rotations.

use std::collections::{BTreeMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rotui::environments::WebhookUrl;
use rotui::rotation::notice::{Notice, NoticeKind};
use rotui::rotation::{Mode, PlanSpec, Rotation};
use rotui::target::{Engine, Target};
use rotui::webhook::{Policy, Webhooks};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::watch;

/// How the receiver answers.
#[derive(Clone)]
pub enum Answer {
    /// These statuses in turn, then 200.
    Statuses(Arc<Mutex<VecDeque<u16>>>),
    /// Take the request and answer nothing until the test releases it.
    Hold(watch::Receiver<bool>),
}

/// A real HTTP/1.1 server on 127.0.0.1 that records every request body.
pub struct Receiver {
    pub port: u16,
    /// Bodies in the order they arrived, and how many are held unanswered.
    seen: watch::Receiver<(Vec<String>, usize)>,
    release: Option<watch::Sender<bool>>,
    task: tokio::task::JoinHandle<()>,
}

impl Receiver {
    /// Answers `statuses` in turn, then 200 to everything.
    pub async fn answering(statuses: &[u16]) -> Receiver {
        let answer = Answer::Statuses(Arc::new(Mutex::new(statuses.iter().copied().collect())));
        Receiver::start(answer, None).await
    }

    /// Takes each request and holds it open, unanswered, until [`Self::release`].
    pub async fn holding() -> Receiver {
        let (tx, rx) = watch::channel(false);
        Receiver::start(Answer::Hold(rx), Some(tx)).await
    }

    async fn start(answer: Answer, release: Option<watch::Sender<bool>>) -> Receiver {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let (seen_tx, seen) = watch::channel((Vec::new(), 0usize));
        let seen_tx = Arc::new(seen_tx);
        let task = tokio::spawn(async move {
            loop {
                let Ok((mut socket, _)) = listener.accept().await else {
                    return;
                };
                let (answer, seen_tx) = (answer.clone(), seen_tx.clone());
                tokio::spawn(async move {
                    let Some(body) = read_request(&mut socket).await else {
                        return;
                    };
                    let status = match answer {
                        Answer::Statuses(queue) => queue.lock().unwrap().pop_front().unwrap_or(200),
                        Answer::Hold(mut release) => {
                            seen_tx.send_modify(|(bodies, held)| {
                                bodies.push(body);
                                *held += 1;
                            });
                            let _ = release.wait_for(|r| *r).await;
                            seen_tx.send_modify(|(_, held)| *held -= 1);
                            let _ = socket.write_all(&response(200)).await;
                            return;
                        }
                    };
                    seen_tx.send_modify(|(bodies, _)| bodies.push(body));
                    let _ = socket.write_all(&response(status)).await;
                });
            }
        });
        Receiver {
            port,
            seen,
            release,
            task,
        }
    }

    /// The webhook URL of this receiver, under a path that stands for a
    /// real webhook's secret.
    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}/{path}", self.port)
    }

    /// Every body received so far.
    pub fn bodies(&self) -> Vec<String> {
        self.seen.borrow().0.clone()
    }

    /// How many requests it holds unanswered now.
    pub fn held(&self) -> usize {
        self.seen.borrow().1
    }

    /// Wait (a minute at most) until `until` holds of the bodies received.
    pub async fn wait_for(&self, what: &str, until: impl Fn(&[String]) -> bool) {
        let mut seen = self.seen.clone();
        let waited = tokio::time::timeout(Duration::from_secs(60), seen.wait_for(|(b, _)| until(b))).await;
        assert!(
            waited.is_ok(),
            "the receiver never got {what}: {:#?}",
            self.bodies()
        );
    }

    /// Answer every held request, and those still to come.
    pub fn release(&self) {
        if let Some(r) = &self.release {
            let _ = r.send(true);
        }
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        self.release();
        self.task.abort();
    }
}

/// One request's body (headers read to their end, then Content-Length bytes).
async fn read_request(socket: &mut tokio::net::TcpStream) -> Option<String> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    let head_end = loop {
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
        let n = socket.read(&mut chunk).await.ok()?;
        if n == 0 {
            return None;
        }
        buf.extend_from_slice(&chunk[..n]);
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).to_ascii_lowercase();
    let length: usize = head
        .lines()
        .find_map(|l| l.strip_prefix("content-length:"))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0);
    while buf.len() < head_end + length {
        let n = socket.read(&mut chunk).await.ok()?;
        if n == 0 {
            return None;
        }
        buf.extend_from_slice(&chunk[..n]);
    }
    Some(String::from_utf8_lossy(&buf[head_end..head_end + length]).into_owned())
}

fn response(status: u16) -> Vec<u8> {
    format!("HTTP/1.1 {status} X\r\ncontent-length: 2\r\nconnection: close\r\n\r\nok").into_bytes()
}

/// The `rotui event: …` of a message body.
pub fn event_of(body: &str) -> String {
    let v: serde_json::Value =
        serde_json::from_str(body).unwrap_or_else(|e| panic!("not JSON ({e}): {body}"));
    let context = v["blocks"][1]["elements"][0]["text"].as_str().unwrap_or_default();
    context
        .strip_prefix("rotui event: ")
        .and_then(|r| r.split(' ').next())
        .unwrap_or_default()
        .to_owned()
}

fn rotation() -> Rotation {
    Rotation {
        id: "r-webhooks".into(),
        spec: PlanSpec::for_target(
            &Target::new("production", "signon", Engine::Mysql),
            &[],
            Mode::Normal,
        ),
        old_users: BTreeMap::from([("production".into(), "signon".into())]),
        new_username: "signon_user_20261206".into(),
    }
}

fn fast() -> Policy {
    Policy {
        attempts: 3,
        first_backoff: Duration::from_millis(20),
        ..Policy::default()
    }
}

fn hooks(url: &str) -> BTreeMap<String, WebhookUrl> {
    BTreeMap::from([("production".to_owned(), WebhookUrl::parse(url).unwrap())])
}

/// A receiver that fails twice (503, 429) gets the notice on the third
/// attempt; the message is Slack's `text` + blocks, naming the event.
#[tokio::test]
async fn a_failing_receiver_is_retried_until_it_takes_the_notice() {
    let receiver = Receiver::answering(&[503, 429]).await;
    let failures = Arc::new(Mutex::new(Vec::<String>::new()));
    let told = failures.clone();
    let hooks = Webhooks::start(
        hooks(&receiver.url("services/T1/B1/retrySecret")),
        fast(),
        Box::new(move |_, what| told.lock().unwrap().push(what)),
    )
    .unwrap();
    hooks.notifier().send(Notice::new(
        NoticeKind::Started,
        &rotation(),
        None,
        "",
        "op@laptop",
    ));
    receiver.wait_for("three attempts", |b| b.len() == 3).await;
    assert_eq!(hooks.finish(Duration::from_secs(30)).await, None, "all delivered");
    assert!(failures.lock().unwrap().is_empty());
    let bodies = receiver.bodies();
    assert!(
        bodies.iter().all(|b| b == &bodies[0]),
        "the same message each time"
    );
    let v: serde_json::Value = serde_json::from_str(&bodies[0]).unwrap();
    assert_eq!(
        v["text"],
        "rotui: rotation of signon (mysql) in production started (signon → signon_user_20261206)"
    );
    assert_eq!(event_of(&bodies[0]), "started");
    assert!(
        bodies[0].contains("rotation r-webhooks · by op@laptop"),
        "{}",
        bodies[0]
    );
}

/// A webhook whose port is closed: each notice's attempts are spent, the
/// failure is said once, with the URL masked to its host, and the flush
/// on exit says how many were lost.
#[tokio::test]
async fn a_dead_receiver_is_said_once_with_its_url_masked() {
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let url = format!("http://127.0.0.1:{port}/services/T2/B2/deadSecretPath");
    let failures = Arc::new(Mutex::new(Vec::<String>::new()));
    let told = failures.clone();
    let hooks = Webhooks::start(
        hooks(&url),
        fast(),
        Box::new(move |_, what| told.lock().unwrap().push(what)),
    )
    .unwrap();
    let notifier = hooks.notifier();
    notifier.send(Notice::new(
        NoticeKind::Started,
        &rotation(),
        None,
        "",
        "op@laptop",
    ));
    notifier.send(Notice::new(
        NoticeKind::Finished,
        &rotation(),
        None,
        "",
        "op@laptop",
    ));
    drop(notifier);
    let lost = hooks
        .finish(Duration::from_secs(30))
        .await
        .expect("losses are said");
    assert!(
        lost.contains("0 of them delivered; 2 could not be delivered"),
        "{lost}"
    );
    let failures = failures.lock().unwrap();
    assert_eq!(failures.len(), 1, "said once: {failures:?}");
    let said = &failures[0];
    assert!(
        said.contains(&format!("webhook http://127.0.0.1:{port}/•••")) && said.contains("3 attempts"),
        "{said}"
    );
    assert!(!said.contains("deadSecretPath"), "{said}");
}

/// A receiver that takes the request and never answers: sending never
/// waits (the queue takes every notice at once while the first is held),
/// and the exit flush gives up within its bound, saying so.
#[tokio::test]
async fn a_receiver_that_never_answers_holds_nobody() {
    let receiver = Receiver::holding().await;
    let hooks = Webhooks::start(
        hooks(&receiver.url("services/T3/B3/heldSecret")),
        Policy::default(),
        Box::new(|_, _| {}),
    )
    .unwrap();
    let notifier = hooks.notifier();
    notifier.send(Notice::new(
        NoticeKind::Started,
        &rotation(),
        None,
        "",
        "op@laptop",
    ));
    receiver.wait_for("the first notice", |b| b.len() == 1).await;
    // Held: every other notice is still taken at once.
    for kind in [NoticeKind::Waiting, NoticeKind::Blocked, NoticeKind::Finished] {
        notifier.send(Notice::new(kind, &rotation(), None, "", "op@laptop"));
    }
    assert_eq!(notifier.dropped(), 0);
    assert_eq!(receiver.held(), 1, "the receiver still holds the first");
    drop(notifier);
    let lost = hooks
        .finish(Duration::from_millis(300))
        .await
        .expect("losses are said");
    assert!(lost.contains("was given up"), "{lost}");
    assert_eq!(receiver.held(), 1, "nothing was answered");
    receiver.release();
}
