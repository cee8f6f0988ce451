//! Where rotui keeps its files: the state directory, home of the journals,
//! the log and the definer backups. Any layer may ask; it names nothing of rotui's.

use std::ffi::OsString;
use std::path::{Path, PathBuf};

/// `$ROTUI_STATE_DIR`, else the XDG state directory (`~/.local/state/rotui`),
/// else the data directory (macOS has no state dir); `None` when the
/// platform has no home directory to put either in.
pub fn state_dir() -> Option<PathBuf> {
    state_dir_from(std::env::var_os("ROTUI_STATE_DIR"))
}

fn state_dir_from(overridden: Option<OsString>) -> Option<PathBuf> {
    if let Some(d) = overridden.filter(|d| !d.is_empty()) {
        return Some(PathBuf::from(d));
    }
    let dirs = directories::ProjectDirs::from("dev", "rotui", "rotui")?;
    Some(
        dirs.state_dir()
            .map(Path::to_path_buf)
            .unwrap_or_else(|| dirs.data_dir().to_path_buf()),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn state_dir_prefers_the_override() {
        assert_eq!(
            state_dir_from(Some("/tmp/rotui-state".into())).unwrap(),
            PathBuf::from("/tmp/rotui-state")
        );
        if let Some(d) = state_dir_from(None) {
            assert!(d.ends_with("rotui"), "{}", d.display());
        }
    }
}
