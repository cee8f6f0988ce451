//! Fetches: each [`Request`] answered by its [`Answer`](crate::app::Answer), within a
//! deadline, so a dead server shows up as an error on its pane, never as a
//! frozen screen.

use std::future::Future;
use std::time::Duration;

use chrono::Utc;

use super::backend::Backend;
use crate::app::source::SessionView;
use crate::app::{Action, Answer, Request};
use crate::db::{Db, DbError};
use crate::secret::Redacted;
use crate::target::Engine;

/// How long one fetch may take before its pane shows an error.
pub(super) const DEADLINE: Duration = Duration::from_secs(20);

async fn within<T>(fut: impl Future<Output = Result<T, Redacted>>) -> Result<T, Redacted> {
    tokio::time::timeout(DEADLINE, fut)
        .await
        .unwrap_or_else(|_| Err(format!("no answer within {}s", DEADLINE.as_secs()).into()))
}

fn db(b: &Backend) -> Result<&Db, Redacted> {
    b.connected.db.as_ref().map_err(Clone::clone)
}

fn e(e: DbError) -> Redacted {
    Redacted::error(e)
}

/// Carry out `request` and answer with its action, under `generation`.
pub(super) async fn answer(b: &Backend, request: Request, generation: u64) -> Action {
    let answer = match request {
        Request::Users => Answer::Users(within(async { db(b)?.users().await.map_err(e) }).await),
        Request::Grants { user } => {
            let result = within(async {
                let db = db(b)?;
                // Users are keyed `name@host` (MySQL) or `name` (PostgreSQL).
                let (name, host) = match user.rsplit_once('@') {
                    Some((n, h)) if db.engine() == Engine::Mysql => (n, Some(h)),
                    _ => (user.as_str(), None),
                };
                db.grants(name, host).await.map_err(e)
            })
            .await;
            Answer::Grants { user, result }
        }
        Request::Objects => {
            let database = &b.connected.target.database;
            Answer::Objects(within(async { db(b)?.objects(database).await.map_err(e) }).await)
        }
        Request::Connections { rows } => {
            Answer::Connections(within(async { db(b)?.connections(rows).await.map_err(e) }).await)
        }
        Request::Plan => Answer::Plan(
            within(async {
                let (ctx, journal) = b.engine()?;
                super::plan::plan_view(&b.spec, ctx, journal).await
            })
            .await,
        ),
        Request::Session => Answer::Session(within(async { Ok(session_view(b).await) }).await),
    };
    Action::Loaded {
        generation,
        at: Utc::now(),
        answer,
    }
}

async fn session_view(b: &Backend) -> SessionView {
    let c = &b.connected;
    let mut view = SessionView {
        kube_context: c.kube_context.clone(),
        target: Some(c.target.clone()),
        flavor: c.db.as_ref().ok().map(|d| d.flavor().clone()),
        db_tls: c.db_tls().cloned(),
        ..SessionView::default()
    };
    if let Ok(s) = &c.session {
        view.session_expires = s.expiry();
        if let Ok(who) = s.caller_identity().await {
            let alias = crate::environments::env_of_account(&c.environments, &who.account);
            view.aws_account = Some((who.account.clone(), alias.map(str::to_owned)));
            view.aws_identity = Some(who.principal_name().to_owned());
        }
    }
    view
}
