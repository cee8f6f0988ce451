//! Where rotui keeps its files, and how: the state directory, home of the
//! journals, the log and the definer backups, private to the user (0700
//! directories, 0600 files). Any layer may ask; it names nothing of rotui's.

use std::ffi::OsString;
use std::fs::{self, DirBuilder, OpenOptions, Permissions};
use std::io;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
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

/// Create `dir` (and its parents) 0700 when missing; when it exists with
/// group or other permissions, tighten it to 0700 (or, when that is not
/// allowed, say so on stderr and go on).
pub fn private_dir(dir: &Path) -> io::Result<()> {
    if !dir.exists() {
        DirBuilder::new().recursive(true).mode(0o700).create(dir)?;
    }
    let mode = fs::metadata(dir)?.permissions().mode();
    if mode & 0o077 != 0
        && let Err(e) = fs::set_permissions(dir, Permissions::from_mode(mode & 0o700))
    {
        eprintln!(
            "rotui: warning: {} is readable by others (mode {:o}) and could not be tightened ({e}): \
                 run `chmod 700 {}`",
            dir.display(),
            mode & 0o777,
            dir.display()
        );
    }
    Ok(())
}

/// Open `path` for appending, created 0600; an existing file readable by
/// others is tightened to 0600 first.
pub fn private_append(path: &Path) -> io::Result<fs::File> {
    let f = OpenOptions::new()
        .create(true)
        .append(true)
        .mode(0o600)
        .open(path)?;
    let mode = f.metadata()?.permissions().mode();
    if mode & 0o077 != 0 {
        f.set_permissions(Permissions::from_mode(mode & 0o600))?;
    }
    Ok(f)
}

/// Write `bytes` to `path` (replacing it), created 0600; an existing file
/// readable by others is tightened to 0600 first.
pub fn private_write(path: &Path, bytes: &[u8]) -> io::Result<()> {
    use std::io::Write;
    let mut f = OpenOptions::new()
        .create(true)
        .write(true)
        .truncate(true)
        .mode(0o600)
        .open(path)?;
    let mode = f.metadata()?.permissions().mode();
    if mode & 0o077 != 0 {
        f.set_permissions(Permissions::from_mode(mode & 0o600))?;
    }
    f.write_all(bytes)
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

    #[test]
    fn private_dir_tightens_a_loose_directory() {
        let tmp = tempfile::tempdir().unwrap();
        let loose = tmp.path().join("state");
        fs::create_dir(&loose).unwrap();
        fs::set_permissions(&loose, Permissions::from_mode(0o755)).unwrap();
        private_dir(&loose).unwrap();
        assert_eq!(fs::metadata(&loose).unwrap().permissions().mode() & 0o777, 0o700);
        let fresh = tmp.path().join("a/b");
        private_dir(&fresh).unwrap();
        assert_eq!(fs::metadata(&fresh).unwrap().permissions().mode() & 0o777, 0o700);
        let f = fresh.join("f");
        fs::write(&f, "x").unwrap();
        fs::set_permissions(&f, Permissions::from_mode(0o644)).unwrap();
        drop(private_append(&f).unwrap());
        assert_eq!(fs::metadata(&f).unwrap().permissions().mode() & 0o777, 0o600);
    }
}
