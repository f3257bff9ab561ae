//! Running the binary as a user whom file permissions bind. Root (or a process with
//! `CAP_DAC_OVERRIDE`) writes to files whatever their permission bits say, so when the
//! tests run that way the binary runs as `nobody` (uid and gid 65534) through
//! `setpriv`; otherwise it runs as the test's own user.

use std::fs::{self, OpenOptions, Permissions};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::common::bin;

/// The uid and gid of `nobody`.
const NOBODY: &str = "65534";

/// How to run the binary so that permission bits apply to it.
pub struct Unprivileged {
    /// Whether permission bits do not bind this process.
    as_nobody: bool,
}

impl Unprivileged {
    /// Finds out, in the writable directory `scratch`, whether a file without write
    /// permission can still be opened for writing.
    pub fn detect(scratch: &Path) -> Self {
        let probe = scratch.join("permission-probe");
        fs::write(&probe, b"").unwrap();
        fs::set_permissions(&probe, Permissions::from_mode(0o444)).unwrap();
        let bypasses = OpenOptions::new().write(true).open(&probe).is_ok();
        fs::remove_file(&probe).unwrap();
        let user = Self {
            as_nobody: bypasses,
        };
        if user.as_nobody {
            let help = user.command(scratch, &["--help"]).output().unwrap();
            assert!(
                help.status.success(),
                "permission bits do not bind this process, and `setpriv` cannot run the \
                 binary as nobody: {}",
                String::from_utf8_lossy(&help.stderr)
            );
        }
        user
    }

    /// `jwt-allauth ARGS` in `dir`, as a user whom permission bits bind, with no
    /// `JWT_ALLAUTH_*`, `DATABASE_URL` or `RUST_LOG` from the test's environment.
    pub fn command(&self, dir: &Path, args: &[&str]) -> Command {
        let mut command = if self.as_nobody {
            let mut command = Command::new("setpriv");
            command
                .arg(format!("--reuid={NOBODY}"))
                .arg(format!("--regid={NOBODY}"))
                .args(["--clear-groups", "--"])
                .arg(bin());
            command
        } else {
            Command::new(bin())
        };
        command.args(args).current_dir(dir);
        for (key, _) in std::env::vars_os() {
            let key_text = key.to_string_lossy();
            if key_text.starts_with("JWT_ALLAUTH_")
                || key_text == "DATABASE_URL"
                || key_text == "RUST_LOG"
            {
                command.env_remove(&key);
            }
        }
        command
    }
}

/// Sets the permission bits of a directory, and puts `0o700` back when dropped (so that
/// a temporary directory can be deleted even by a user whom permission bits bind).
pub struct DirMode {
    path: PathBuf,
}

impl DirMode {
    /// Gives the directory `path` the permission bits `mode`.
    pub fn set(path: &Path, mode: u32) -> Self {
        fs::set_permissions(path, Permissions::from_mode(mode)).unwrap();
        Self {
            path: path.to_owned(),
        }
    }
}

impl Drop for DirMode {
    fn drop(&mut self) {
        let _ = fs::set_permissions(&self.path, Permissions::from_mode(0o700));
    }
}
