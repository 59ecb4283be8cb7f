//! The command line's errors and exit codes.

use std::fmt;

/// How a command ended, as the process exit status.
///
/// | status | meaning |
/// |---|---|
/// | 0 | everything done |
/// | 1 | a call or some rows failed, or an I/O error |
/// | 2 | bad usage: flags, configuration, input refused before anything was sent |
/// | 130 | interrupted (Ctrl-C / SIGINT / SIGTERM) |
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    Success,
    Failure,
    Usage,
    Interrupted,
}

impl From<Exit> for std::process::ExitCode {
    fn from(exit: Exit) -> Self {
        std::process::ExitCode::from(match exit {
            Exit::Success => 0,
            Exit::Failure => 1,
            Exit::Usage => 2,
            Exit::Interrupted => 130,
        })
    }
}

/// A command that could not do its job.
#[derive(Debug)]
pub enum CliError {
    /// Bad flags, missing configuration, input refused before anything was sent (exit 2).
    Usage(String),
    /// A call failed, a file could not be read or written (exit 1).
    Failed(String),
}

impl CliError {
    pub fn usage(message: impl Into<String>) -> Self {
        CliError::Usage(message.into())
    }

    pub fn failed(message: impl Into<String>) -> Self {
        CliError::Failed(message.into())
    }

    /// An I/O error about `what` (a path, "standard input").
    pub fn io(what: impl fmt::Display, e: std::io::Error) -> Self {
        CliError::Failed(format!("{what}: {e}"))
    }

    pub fn exit_code(&self) -> Exit {
        match self {
            CliError::Usage(_) => Exit::Usage,
            CliError::Failed(_) => Exit::Failure,
        }
    }
}

impl fmt::Display for CliError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CliError::Usage(m) | CliError::Failed(m) => f.write_str(m),
        }
    }
}

impl std::error::Error for CliError {}

impl From<gamooga::Error> for CliError {
    /// Input refused, bad configuration and a path that is not a spool (or a spool this
    /// version cannot read) are usage errors; everything else (a spool in use, corrupt, an
    /// I/O error) a failure.
    fn from(e: gamooga::Error) -> Self {
        use gamooga::error::SpoolErrorKind;
        match e {
            gamooga::Error::InvalidInput(_) | gamooga::Error::Config(_) => {
                CliError::Usage(e.to_string())
            }
            gamooga::Error::Spool {
                kind:
                    SpoolErrorKind::NotFound
                    | SpoolErrorKind::NotASpool
                    | SpoolErrorKind::UnknownVersion,
                ..
            } => CliError::Usage(e.to_string()),
            gamooga::Error::Spool {
                kind: SpoolErrorKind::InUse,
                ..
            } => CliError::Failed(format!(
                "{e} (another gamooga import or replay, or a service, is using it)"
            )),
            other => CliError::Failed(other.to_string()),
        }
    }
}

impl From<gamooga::InvalidInput> for CliError {
    fn from(e: gamooga::InvalidInput) -> Self {
        CliError::Usage(format!("invalid input: {e}"))
    }
}
