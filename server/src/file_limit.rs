//! The process's open-file limit (`RLIMIT_NOFILE`).
//!
//! Every client connection holds a file descriptor. Many systems start processes with a
//! soft limit of 1024 (or less) under a much higher hard limit; `serve` raises the soft
//! limit to the hard one ([`raise_to_hard`]) so that `MAX_CONNECTIONS`, not the limit,
//! decides how many connections are served, and then fits the cap under whatever limit
//! it got (`connections::connection_cap`).

/// The open-file limits of the process; `None` is unlimited.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OpenFileLimit {
    /// The soft limit: the one enforced.
    pub soft: Option<u64>,
    /// The hard limit: the most an unprivileged process may raise the soft one to.
    pub hard: Option<u64>,
}

/// The soft limit before and after [`raise_to_hard`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Raised {
    /// The limits found.
    pub before: OpenFileLimit,
    /// The limits now in force (the same when the soft limit was already the hard one).
    pub after: OpenFileLimit,
}

/// Why the soft limit could not be raised.
#[derive(Debug, thiserror::Error)]
pub enum FileLimitError {
    /// `setrlimit` refused (some systems refuse an unlimited soft limit).
    #[error("cannot raise the open-file limit from {} to {}", show(.from), show(.to))]
    Raise {
        /// The soft limit in force, kept.
        from: Option<u64>,
        /// The hard limit it was to be raised to.
        to: Option<u64>,
        /// The system's refusal.
        #[source]
        source: std::io::Error,
    },
}

/// A limit as text: the number, or `unlimited`.
pub fn show(limit: &Option<u64>) -> String {
    limit.map_or_else(|| "unlimited".to_owned(), |limit| limit.to_string())
}

impl OpenFileLimit {
    /// The limits in force.
    #[cfg(unix)]
    pub fn current() -> Self {
        let limit = rustix::process::getrlimit(rustix::process::Resource::Nofile);
        Self {
            soft: limit.current,
            hard: limit.maximum,
        }
    }

    /// The limits in force: unknown here, taken as unlimited.
    #[cfg(not(unix))]
    pub fn current() -> Self {
        Self {
            soft: None,
            hard: None,
        }
    }
}

/// Raises the soft open-file limit to the hard limit, if it is lower.
#[cfg(unix)]
pub fn raise_to_hard() -> Result<Raised, FileLimitError> {
    use rustix::process::{Resource, Rlimit, setrlimit};
    let before = OpenFileLimit::current();
    let lower = match (before.soft, before.hard) {
        (_, None) => before.soft.is_some(),
        (Some(soft), Some(hard)) => soft < hard,
        (None, Some(_)) => false,
    };
    if !lower {
        return Ok(Raised {
            before,
            after: before,
        });
    }
    let wanted = Rlimit {
        current: before.hard,
        maximum: before.hard,
    };
    setrlimit(Resource::Nofile, wanted).map_err(|errno| FileLimitError::Raise {
        from: before.soft,
        to: before.hard,
        source: errno.into(),
    })?;
    Ok(Raised {
        before,
        after: OpenFileLimit::current(),
    })
}

/// Nothing to raise here.
#[cfg(not(unix))]
pub fn raise_to_hard() -> Result<Raised, FileLimitError> {
    let limit = OpenFileLimit::current();
    Ok(Raised {
        before: limit,
        after: limit,
    })
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;

    #[test]
    fn raising_leaves_the_soft_limit_at_the_hard_one() {
        // Raising to the hard limit is allowed to any process; the test binary then runs
        // on with the raised limit, which harms nothing.
        let raised = raise_to_hard().expect("raise");
        assert_eq!(raised.after.soft, raised.after.hard);
        assert_eq!(raised.after, OpenFileLimit::current());
        assert_eq!(raised.after.hard, raised.before.hard);
    }

    #[test]
    fn limits_show_as_numbers_or_unlimited() {
        assert_eq!(show(&Some(256)), "256");
        assert_eq!(show(&None), "unlimited");
    }
}
