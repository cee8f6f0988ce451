//! A run's progress as `rotui rotate` and `rotui rollback` print it: a line
//! (or a few) per step event, as [`runner::drive`](super::runner::drive)
//! hands them over.
//!
//! Its own file because both commands print the same way: `cli` (rotate)
//! surveys through `survey`, which asks `rollback` whether a rollback is
//! possible, so `rollback` (rollback_cmd) cannot also reach back into `cli`.

use std::io::Write;

use super::context::{StepEvent, StepEventKind};
use super::outcome::Observation;

/// Print one step event (nothing for those the commands leave unsaid).
pub(super) fn print_event(out: &mut dyn Write, ev: &StepEvent) {
    let s = &ev.step;
    let _ = match &ev.kind {
        StepEventKind::Observed(Observation::Done(d)) => writeln!(out, "  ✓ {s}: {d}"),
        StepEventKind::Observed(_) => Ok(()),
        StepEventKind::Started { preview } => {
            let mut r = writeln!(out, "  → {s}");
            // The preview's `#` lines say what the calls below will touch
            // (the promote step's blast radius): shown before they are made.
            for l in preview.iter().filter(|l| l.starts_with('#')) {
                r = writeln!(out, "      {l}");
            }
            r
        }
        StepEventKind::Call { text, .. } => {
            let mut r = Ok(());
            for l in text.lines() {
                r = writeln!(out, "      | {l}");
            }
            r
        }
        StepEventKind::Finished => writeln!(out, "  ✓ {s}"),
        StepEventKind::Skipped { reason } => writeln!(out, "  ↷ {s} not run: {reason}"),
        StepEventKind::Waiting(_) => Ok(()),
        StepEventKind::Failed(e) => writeln!(out, "  ✗ {s}: {e}"),
    };
}
