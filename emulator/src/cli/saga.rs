//! `conveyor saga list | show | abort | retry`: a running emulator's sagas, through its HTTP
//! API ([`crate::sagas`]). `list` prints one line per saga, the others the saga as JSON.

use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use serde_json::{Value, json};

use super::args::SagaCommand;
use super::client::{self, ClientError};
use super::commands::print_json;

/// What a path segment or a query value keeps unescaped (RFC 3986's unreserved characters).
const UNRESERVED: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~');

fn escape(text: &str) -> String {
    utf8_percent_encode(text, UNRESERVED).to_string()
}

fn query(pairs: &[(&str, Option<String>)]) -> String {
    let given: Vec<String> = pairs
        .iter()
        .filter_map(|(k, v)| {
            let v = v.as_deref().filter(|v| !v.is_empty())?;
            Some(format!("{k}={}", escape(v)))
        })
        .collect();
    if given.is_empty() {
        String::new()
    } else {
        format!("?{}", given.join("&"))
    }
}

fn path(id: &str, action: &str, definition: Option<String>) -> String {
    let q = query(&[("definition", definition)]);
    format!("/api/sagas/{}{action}{q}", escape(id))
}

/// Runs one `saga` subcommand against the emulator at its `--api`.
///
/// # Errors
/// [`ClientError`]: unreachable, or the emulator's refusal (an unknown saga, an abort of a saga
/// that is not running, a retry of one that is not failed) with its reason.
pub fn run(command: SagaCommand) -> Result<(), ClientError> {
    match command {
        SagaCommand::List {
            status,
            definition,
            limit,
            api,
        } => {
            let q = query(&[
                ("status", status),
                ("definition", definition),
                ("limit", Some(limit.to_string())),
            ]);
            print_sagas(&client::get(&api, &format!("/api/sagas{q}"))?);
        }
        SagaCommand::Show {
            id,
            definition,
            api,
        } => print_json(&client::get(&api, &path(&id, "", definition))?),
        SagaCommand::Abort {
            id,
            reason,
            definition,
            api,
        } => {
            let body = json!({ "reason": reason }).to_string().into_bytes();
            let answer = client::post(&api, &path(&id, "/abort", definition), Some(body))?;
            print_json(&answer);
        }
        SagaCommand::Retry {
            id,
            definition,
            api,
        } => print_json(&client::post(&api, &path(&id, "/retry", definition), None)?),
    }
    Ok(())
}

/// One line per saga.
pub fn print_sagas(list: &Value) {
    let empty = Vec::new();
    let list = list.as_array().unwrap_or(&empty);
    if list.is_empty() {
        println!("no sagas");
        return;
    }
    println!(
        "{:<28} {:<16} {:<13} {:<14} {:<26} UPDATED",
        "ID", "DEFINITION", "STATUS", "STEP", "DEADLINE"
    );
    for s in list {
        let field = |k: &str| s.get(k).and_then(Value::as_str).unwrap_or("-").to_owned();
        println!(
            "{:<28} {:<16} {:<13} {:<14} {:<26} {}",
            field("id"),
            field("definition"),
            field("status"),
            field("current_step_name"),
            field("deadline"),
            field("updated_at")
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_escape_the_id_and_carry_only_the_filters_given() {
        assert_eq!(
            path("ord 1/x", "/abort", None),
            "/api/sagas/ord%201%2Fx/abort"
        );
        assert_eq!(
            path("ord-1", "", Some("order-checkout".into())),
            "/api/sagas/ord-1?definition=order-checkout"
        );
        assert_eq!(
            query(&[
                ("status", Some("failed".into())),
                ("definition", None),
                ("x", Some(String::new()))
            ]),
            "?status=failed"
        );
        assert_eq!(query(&[("status", None)]), "");
    }
}
