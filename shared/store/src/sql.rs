//! Small SQL-building helpers every repository shares.

/// `$from, $from+1, ...`: `n` placeholders for an `IN (...)` list.
pub(crate) fn placeholders(from: usize, n: usize) -> String {
    (from..from + n)
        .map(|i| format!("${i}"))
        .collect::<Vec<_>>()
        .join(", ")
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
