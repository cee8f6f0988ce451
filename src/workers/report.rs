//! The dashboard's report key: the report of the target's latest rotation,
//! written under `<state dir>/reports/` (`rotation::report`).

use super::backend::Backend;
use crate::app::Action;
use crate::rotation::report;
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
    match report::write_latest(journal) {
        Ok((id, md, _json)) => {
            Action::Notice(format!("report of rotation {id} written: {} and .json", md.display()).into())
        }
        Err(e) => failed(Redacted::error(e)),
    }
}
