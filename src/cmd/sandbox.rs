//! `rotui sandbox`: a thin alias for the `rotui-sandbox` binary, which lives
//! in its own crate so that the product carries none of the test world.

use std::path::PathBuf;

use color_eyre::eyre::{Result, eyre};

use crate::cli::SandboxArgs;

const BINARY: &str = "rotui-sandbox";

/// The sandbox binary: beside this executable (a cargo build puts both in
/// one directory), else on PATH.
fn find() -> Option<PathBuf> {
    let beside = std::env::current_exe()
        .ok()
        .and_then(|exe| exe.parent().map(|d| d.join(BINARY)))
        .filter(|p| p.is_file());
    beside.or_else(|| which::which(BINARY).ok())
}

/// Replaces this process with the sandbox, so signals reach it directly.
pub fn run(args: &SandboxArgs) -> Result<()> {
    use std::os::unix::process::CommandExt;
    let bin = find().ok_or_else(|| {
        eyre!("`rotui sandbox` runs `{BINARY}`, which is not beside rotui or on PATH: build it with `cargo build -p {BINARY}` (or `just sandbox`)")
    })?;
    let err = std::process::Command::new(&bin).args(&args.args).exec();
    Err(eyre!("could not run {}: {err}", bin.display()))
}
