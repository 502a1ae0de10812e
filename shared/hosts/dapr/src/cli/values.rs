//! Value parsers whose errors say which variable to set and to what. clap prefixes the text
//! with the flag and the value it got, so a bad `CONVEYOR_APP_PORT=http` reads
//! "invalid value 'http' for '--port <PORT>': set CONVEYOR_APP_PORT (or --port) to a port
//! number, 0 to 65535": one sentence a person can act on, whether the value came from the
//! flag or from the environment.

use std::str::FromStr;

use clap::ValueEnum;

/// A parser of `T` from text whose error names `variable`, `flag` and what they take.
pub fn parsed<T: FromStr>(
    variable: &'static str,
    flag: &'static str,
    takes: &'static str,
) -> impl Fn(&str) -> Result<T, String> + Clone + Send + Sync + 'static {
    move |text| {
        text.trim()
            .parse()
            .map_err(|_| format!("set {variable} (or {flag}) to {takes}"))
    }
}

/// A whole number of at least 1.
pub fn at_least_one<T: FromStr + PartialOrd + From<u8>>(
    variable: &'static str,
    flag: &'static str,
) -> impl Fn(&str) -> Result<T, String> + Clone + Send + Sync + 'static {
    let parse = parsed::<T>(variable, flag, "a whole number of at least 1");
    move |text| {
        parse(text).and_then(|n| {
            if n >= T::from(1) {
                Ok(n)
            } else {
                Err(format!(
                    "set {variable} (or {flag}) to a whole number of at least 1"
                ))
            }
        })
    }
}

/// A number of seconds, 0 or more (fractions allowed).
pub fn seconds(
    variable: &'static str,
    flag: &'static str,
) -> impl Fn(&str) -> Result<f64, String> + Clone + Send + Sync + 'static {
    move |text| match text.trim().parse::<f64>() {
        Ok(s) if s.is_finite() && s >= 0.0 => Ok(s),
        _ => Err(format!(
            "set {variable} (or {flag}) to a number of seconds, 0 or more"
        )),
    }
}

/// `true` or `false` and nothing else: a switch that a typo would silently flip is refused.
pub fn boolean(
    variable: &'static str,
    flag: &'static str,
) -> impl Fn(&str) -> Result<bool, String> + Clone + Send + Sync + 'static {
    move |text| match text.trim() {
        "true" => Ok(true),
        "false" => Ok(false),
        _ => Err(format!("set {variable} (or {flag}) to true or false")),
    }
}

/// One of a `ValueEnum`'s names, listed in the error.
pub fn one_of<T: ValueEnum + Clone + Send + Sync + 'static>(
    variable: &'static str,
    flag: &'static str,
) -> impl Fn(&str) -> Result<T, String> + Clone + Send + Sync + 'static {
    move |text| {
        T::from_str(text.trim(), false).map_err(|_| {
            let names: Vec<String> = T::value_variants()
                .iter()
                .filter_map(ValueEnum::to_possible_value)
                .map(|v| v.get_name().to_owned())
                .collect();
            let listed = match names.split_last() {
                Some((last, [])) => last.clone(),
                Some((last, rest)) => format!("{} or {last}", rest.join(", ")),
                None => String::new(),
            };
            format!("set {variable} (or {flag}) to {listed}")
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A choice of two, as `--log-format` takes.
    #[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
    enum Format {
        Text,
        Json,
    }

    #[test]
    fn errors_name_the_variable_and_what_it_takes() {
        let port = parsed::<u16>("CONVEYOR_APP_PORT", "--port", "a port number, 0 to 65535");
        assert_eq!(port(" 5005"), Ok(5005));
        assert_eq!(
            port("70000"),
            Err("set CONVEYOR_APP_PORT (or --port) to a port number, 0 to 65535".to_owned())
        );
        let attempts = at_least_one::<u32>("CONVEYOR_PUBLISH_ATTEMPTS", "--publish-attempts");
        assert_eq!(attempts("3"), Ok(3));
        assert_eq!(
            attempts("0"),
            Err("set CONVEYOR_PUBLISH_ATTEMPTS (or --publish-attempts) to a whole number of at least 1".to_owned())
        );
        let open = seconds("CONVEYOR_BREAKER_OPEN_SECS", "--breaker-open-secs");
        assert_eq!(open("0.5"), Ok(0.5));
        assert_eq!(
            open("-1"),
            Err("set CONVEYOR_BREAKER_OPEN_SECS (or --breaker-open-secs) to a number of seconds, 0 or more".to_owned())
        );
        let migrate = boolean("CONVEYOR_MIGRATE", "--migrate");
        assert_eq!((migrate("false"), migrate(" true")), (Ok(false), Ok(true)));
        assert_eq!(
            migrate("no"),
            Err("set CONVEYOR_MIGRATE (or --migrate) to true or false".to_owned())
        );
        let format = one_of::<Format>("CONVEYOR_LOG_FORMAT", "--log-format");
        assert_eq!(format("json"), Ok(Format::Json));
        assert_eq!(
            format("yaml"),
            Err("set CONVEYOR_LOG_FORMAT (or --log-format) to text or json".to_owned())
        );
    }
}
