//! The generated signing key, for a server started with no `SECRET_KEY`.
//!
//! With an HMAC algorithm and no secret configured, the server signs with a random
//! 64-byte secret (128 hex digits) kept in the file [`KEY_FILE_NAME`] beside the SQLite
//! database (in the current directory for PostgreSQL or an in-memory database). The file
//! is created atomically with mode 0600 (written under a temporary name, then linked into
//! place, so no reader ever sees a partial key and two servers starting at once agree on
//! one key) and reused on later starts; a key file that others can read or write is
//! refused.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};

use jwt_allauth::Secret;
use rand::RngCore;

/// The name of the generated key file.
pub const KEY_FILE_NAME: &str = "jwt-allauth.key";

/// Random bytes in a generated key.
pub const KEY_BYTES: usize = 64;

/// Why the key file could not be used.
#[derive(Debug, thiserror::Error)]
pub enum KeyFileError {
    /// The file's permissions let other users read or write it.
    #[error(
        "the key file {} has permissions {mode:04o}; it must be accessible by its owner only (chmod 600 {})",
        .path.display(), .path.display()
    )]
    Permissions {
        /// The file.
        path: PathBuf,
        /// Its permission bits.
        mode: u32,
    },
    /// The file is empty or holds only whitespace.
    #[error("the key file {} is empty", .path.display())]
    Empty {
        /// The file.
        path: PathBuf,
    },
    /// The path exists but is not a regular file.
    #[error("the key file {} is not a regular file", .path.display())]
    NotAFile {
        /// The path.
        path: PathBuf,
    },
    /// The file is not UTF-8 text.
    #[error("the key file {} is not text", .path.display())]
    NotText {
        /// The file.
        path: PathBuf,
    },
    /// Reading or creating the file failed.
    #[error("cannot use the key file {}", .path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: io::Error,
    },
}

/// Where the generated key lives for the database `database_url`: beside a SQLite file,
/// else in the current directory.
pub fn key_file_path(database_url: &str) -> PathBuf {
    crate::db::data_dir(database_url).join(KEY_FILE_NAME)
}

/// A key loaded from, or freshly written to, a key file.
#[derive(Debug)]
pub struct KeyFile {
    /// The secret (the file's text, trimmed).
    pub secret: Secret,
    /// The file.
    pub path: PathBuf,
    /// Whether this call created the file.
    pub created: bool,
}

/// Reads the key in `path`, creating it with a random key first if it does not exist.
pub fn load_or_create(path: &Path) -> Result<KeyFile, KeyFileError> {
    match read(path) {
        Ok(secret) => {
            return Ok(KeyFile {
                secret,
                path: path.to_path_buf(),
                created: false,
            });
        }
        Err(KeyFileError::Io { source, .. }) if source.kind() == io::ErrorKind::NotFound => {}
        Err(err) => return Err(err),
    }
    let created = create(path)?;
    let secret = read(path)?;
    Ok(KeyFile {
        secret,
        path: path.to_path_buf(),
        created,
    })
}

/// Reads and checks an existing key file.
pub fn read(path: &Path) -> Result<Secret, KeyFileError> {
    let io_error = |source| KeyFileError::Io {
        path: path.to_path_buf(),
        source,
    };
    let mut file = File::open(path).map_err(io_error)?;
    // Checked on the open file, so the file checked is the file read.
    let metadata = file.metadata().map_err(io_error)?;
    if !metadata.is_file() {
        return Err(KeyFileError::NotAFile {
            path: path.to_path_buf(),
        });
    }
    check_permissions(path, &metadata)?;
    let mut bytes = Vec::new();
    file.read_to_end(&mut bytes).map_err(io_error)?;
    let text = String::from_utf8(bytes).map_err(|_| KeyFileError::NotText {
        path: path.to_path_buf(),
    })?;
    let key = text.trim();
    if key.is_empty() {
        return Err(KeyFileError::Empty {
            path: path.to_path_buf(),
        });
    }
    Ok(Secret::new(key))
}

#[cfg(unix)]
fn check_permissions(path: &Path, metadata: &fs::Metadata) -> Result<(), KeyFileError> {
    use std::os::unix::fs::PermissionsExt;
    let mode = metadata.permissions().mode() & 0o7777;
    if mode & 0o077 != 0 {
        return Err(KeyFileError::Permissions {
            path: path.to_path_buf(),
            mode,
        });
    }
    Ok(())
}

#[cfg(not(unix))]
fn check_permissions(_path: &Path, _metadata: &fs::Metadata) -> Result<(), KeyFileError> {
    Ok(())
}

/// Writes a random key to `path` unless it exists. Whether this call created it.
fn create(path: &Path) -> Result<bool, KeyFileError> {
    let io_error = |source| KeyFileError::Io {
        path: path.to_path_buf(),
        source,
    };
    let mut random = [0u8; KEY_BYTES];
    rand::rngs::OsRng.fill_bytes(&mut random);
    let mut text = hex::encode(random);
    text.push('\n');

    let mut suffix = [0u8; 8];
    rand::rngs::OsRng.fill_bytes(&mut suffix);
    let temp = path.with_file_name(format!(".{KEY_FILE_NAME}.{}.tmp", hex::encode(suffix)));
    let written = write_new(&temp, text.as_bytes());
    let linked = written.and_then(|()| fs::hard_link(&temp, path));
    // The temporary name goes in every case; the key stays under `path`.
    let _ = fs::remove_file(&temp);
    match linked {
        Ok(()) => {
            sync_parent(path);
            Ok(true)
        }
        // Another process created it first: use theirs.
        Err(err) if err.kind() == io::ErrorKind::AlreadyExists => Ok(false),
        Err(err) => Err(io_error(err)),
    }
}

/// Creates `path` (which must not exist) with mode 0600 and writes `bytes` durably.
fn write_new(path: &Path, bytes: &[u8]) -> io::Result<()> {
    let mut options = OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options.open(path)?;
    file.write_all(bytes)?;
    file.sync_all()
}

/// Makes the new directory entry durable (best effort).
fn sync_parent(path: &Path) {
    if let Some(dir) = path.parent().filter(|dir| !dir.as_os_str().is_empty())
        && let Ok(dir) = File::open(dir)
    {
        let _ = dir.sync_all();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_beside_the_database() {
        assert_eq!(
            key_file_path("sqlite://data/auth.sqlite3"),
            PathBuf::from("data/jwt-allauth.key")
        );
        assert_eq!(
            key_file_path("sqlite:///var/lib/jwt/auth.db?mode=rwc"),
            PathBuf::from("/var/lib/jwt/jwt-allauth.key")
        );
        assert_eq!(
            key_file_path("sqlite://auth.db"),
            PathBuf::from("./jwt-allauth.key")
        );
        assert_eq!(
            key_file_path("sqlite::memory:"),
            PathBuf::from("./jwt-allauth.key")
        );
        assert_eq!(
            key_file_path("postgres://h/db"),
            PathBuf::from("./jwt-allauth.key")
        );
    }

    #[cfg(unix)]
    #[test]
    fn created_private_then_reused_and_wide_permissions_refused() {
        use std::os::unix::fs::PermissionsExt;

        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join(KEY_FILE_NAME);
        let first = load_or_create(&path).expect("create");
        assert!(first.created);
        assert_eq!(first.secret.expose().len(), 2 * KEY_BYTES);
        let mode = fs::metadata(&path).expect("metadata").permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);

        let second = load_or_create(&path).expect("reuse");
        assert!(!second.created);
        assert_eq!(second.secret, first.secret);

        fs::set_permissions(&path, fs::Permissions::from_mode(0o640)).expect("chmod");
        let err = load_or_create(&path).expect_err("refused");
        assert!(
            matches!(err, KeyFileError::Permissions { mode: 0o640, .. }),
            "{err:?}"
        );
        assert!(!err.to_string().contains(first.secret.expose()));

        fs::set_permissions(&path, fs::Permissions::from_mode(0o600)).expect("chmod");
        fs::write(&path, "  \n").expect("write");
        assert!(matches!(
            load_or_create(&path),
            Err(KeyFileError::Empty { .. })
        ));

        let leftovers: Vec<_> = fs::read_dir(dir.path())
            .expect("read_dir")
            .filter_map(Result::ok)
            .filter(|entry| entry.file_name().to_string_lossy().ends_with(".tmp"))
            .collect();
        assert!(leftovers.is_empty());
    }
}
