//! The dashboard's report key: the report of the target's latest rotation,
//! written under `<state dir>/reports/` (`rotation::report`).

use super::backend::Backend;
use crate::app::Action;
use crate::rotation::{journal, report};
use crate::secret::Redacted;

pub(super) fn write(b: &Backend) -> Action {
    let failed = |error: Redacted| Action::Failed {
        what: "report".into(),
        error,
    };
    let journal = match &b.journal {
        Ok(j) => j,
        Err(e) => return failed(e.clone()),
    };
    let id = match report::latest(journal) {
        Ok(Some(id)) => id,
        Ok(None) => {
            return failed(
                "no rotation of this target in the journal yet: start one (Enter on a step), then write its report"
                    .into(),
            );
        }
        Err(e) => return failed(Redacted::error(e)),
    };
    let written = journal::state_dir().and_then(|state| {
        let out = state.join("reports");
        crate::paths::private_dir(&out).map_err(|e| journal::JournalError::Io {
            path: out.clone(),
            message: e.to_string(),
        })?;
        report::write(&state, &id, &out)
    });
    match written {
        Ok((md, _json)) => {
            Action::Notice(format!("report of rotation {id} written: {} and .json", md.display()).into())
        }
        Err(e) => failed(Redacted::error(e)),
    }
}
