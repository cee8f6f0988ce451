//! `rotui report <rotation>`: the rotation's report, Markdown and JSON,
//! from the journal in the state directory (`rotation::report`).

use color_eyre::eyre::{Result, eyre};

use crate::cli::ReportArgs;
use crate::rotation::{journal, report};

pub fn run(args: &ReportArgs) -> Result<()> {
    let state = journal::state_dir()?;
    let (md, json) = report::write(&state, &args.id, &args.out).map_err(|e| match e {
        journal::JournalError::NotFound(_) | journal::JournalError::Ambiguous(_) => {
            eyre!(
                "{e}: `rotui journal` lists the rotations recorded in {}",
                state.display()
            )
        }
        e => eyre!("{e}"),
    })?;
    let shown = crate::text::escape_controls(&format!("{}\n{}", md.display(), json.display())).into_owned();
    println!("wrote {shown}");
    Ok(())
}
