//! Settings that may come from a mounted file. A variable `X` holds the value itself, or
//! `X_FILE` names a file that holds it (a Kubernetes Secret mounted as a volume), so that no
//! secret has to sit in a process's environment, where `kubectl describe`, crash dumps and
//! child processes would see it. One of the two, never both: which one wins would otherwise
//! be a guess.

use std::path::PathBuf;

/// The suffix of the variable that names the file.
pub const FILE_SUFFIX: &str = "_FILE";

/// Why a setting could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EnvFileError {
    /// `X` and `X_FILE` are both set.
    #[error("{variable} and {variable}_FILE are both set: set only one of them")]
    Both {
        /// `X`.
        variable: String,
    },
    /// The file cannot be read.
    #[error(
        "{variable}_FILE names {path}, which cannot be read ({reason}): mount the secret there or correct {variable}_FILE"
    )]
    Unreadable {
        /// `X`.
        variable: String,
        /// The file.
        path: PathBuf,
        /// The I/O error, or that the content is not text.
        reason: String,
    },
    /// The file holds nothing (or only a newline).
    #[error(
        "{variable}_FILE names {path}, which is empty: put the value in the secret or correct {variable}_FILE"
    )]
    Empty {
        /// `X`.
        variable: String,
        /// The file.
        path: PathBuf,
    },
}

/// The value of `variable` as `env` sees it: `variable` itself, or the content of the file
/// `<variable>_FILE` names without its trailing line break. `None` when neither is set.
///
/// # Errors
/// [`EnvFileError`] when both are set, or the file cannot be read or is empty.
pub fn read(
    variable: &str,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Option<String>, EnvFileError> {
    let file_variable = format!("{variable}{FILE_SUFFIX}");
    match (env(variable), env(&file_variable)) {
        (Some(_), Some(_)) => Err(EnvFileError::Both {
            variable: variable.to_owned(),
        }),
        (value, None) => Ok(value),
        (None, Some(path)) => {
            let path = PathBuf::from(path);
            let unreadable = |reason: String| EnvFileError::Unreadable {
                variable: variable.to_owned(),
                path: path.clone(),
                reason,
            };
            let bytes = std::fs::read(&path).map_err(|e| unreadable(e.to_string()))?;
            let text =
                String::from_utf8(bytes).map_err(|_| unreadable("not UTF-8 text".to_owned()))?;
            // `echo value > file` and most editors end the file with a line break.
            let value = text.trim_end_matches(['\n', '\r']);
            if value.is_empty() {
                return Err(EnvFileError::Empty {
                    variable: variable.to_owned(),
                    path,
                });
            }
            Ok(Some(value.to_owned()))
        }
    }
}

/// [`read`] against the process's environment (a value that is not UTF-8 counts as unset).
///
/// # Errors
/// As [`read`].
pub fn read_process(variable: &str) -> Result<Option<String>, EnvFileError> {
    read(variable, &|name| std::env::var(name).ok())
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    fn env(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        move |name| map.get(name).cloned()
    }

    #[test]
    fn the_variable_itself_is_used_when_no_file_is_named() {
        assert_eq!(
            read("TOKEN", &env(&[("TOKEN", "abc")])),
            Ok(Some("abc".to_owned()))
        );
        assert_eq!(read("TOKEN", &env(&[])), Ok(None));
    }

    #[test]
    fn the_file_is_read_and_its_trailing_line_break_trimmed() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("token");
        std::fs::write(&path, "s3cret\r\n").unwrap();
        let path = path.to_str().unwrap();
        assert_eq!(
            read("TOKEN", &env(&[("TOKEN_FILE", path)])),
            Ok(Some("s3cret".to_owned()))
        );
        std::fs::write(path, "postgres://u:p@db/x").unwrap();
        assert_eq!(
            read("TOKEN", &env(&[("TOKEN_FILE", path)])),
            Ok(Some("postgres://u:p@db/x".to_owned()))
        );
    }

    #[test]
    fn both_set_is_an_error() {
        let err = read("TOKEN", &env(&[("TOKEN", "a"), ("TOKEN_FILE", "/x")])).unwrap_err();
        assert_eq!(
            err.to_string(),
            "TOKEN and TOKEN_FILE are both set: set only one of them"
        );
    }

    #[test]
    fn a_missing_or_empty_file_is_a_clear_error() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("nothing-here");
        let text = read(
            "APP_API_TOKEN",
            &env(&[("APP_API_TOKEN_FILE", missing.to_str().unwrap())]),
        )
        .unwrap_err()
        .to_string();
        assert_eq!(
            text,
            format!(
                "APP_API_TOKEN_FILE names {}, which cannot be read (No such file or directory (os error 2)): mount the secret there or correct APP_API_TOKEN_FILE",
                missing.display()
            )
        );
        let empty = dir.path().join("empty");
        std::fs::write(&empty, "\n").unwrap();
        let text = read(
            "APP_API_TOKEN",
            &env(&[("APP_API_TOKEN_FILE", empty.to_str().unwrap())]),
        )
        .unwrap_err()
        .to_string();
        assert_eq!(
            text,
            format!(
                "APP_API_TOKEN_FILE names {}, which is empty: put the value in the secret or correct APP_API_TOKEN_FILE",
                empty.display()
            )
        );
    }
}
