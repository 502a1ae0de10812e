//! Small SQL-building helpers every repository shares, and where a SQLite URL's file is.

/// `$from, $from+1, ...`: `n` placeholders for an `IN (...)` list.
pub(crate) fn placeholders(from: usize, n: usize) -> String {
    (from..from + n)
        .map(|i| format!("${i}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The file a `sqlite:` URL names, without its options; `None` for an in-memory database.
pub(crate) fn sqlite_path(url: &str) -> Option<&str> {
    let rest = url
        .strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"))?;
    let path = rest.split('?').next()?;
    (!path.is_empty() && path != ":memory:").then_some(path)
}

/// A batch size as SQL binds it.
pub(crate) fn sql_limit(limit: usize) -> i64 {
    i64::try_from(limit).unwrap_or(i64::MAX)
}

#[cfg(test)]
mod tests {
    #[test]
    fn placeholders_continue_the_numbering() {
        assert_eq!(super::placeholders(3, 3), "$3, $4, $5");
        assert_eq!(super::placeholders(1, 0), "");
        assert_eq!(super::sql_limit(usize::MAX), i64::MAX);
    }
}
