//! What only AWS would know, made up for the evaluation: stand-in ARNs, URLs, data sources and
//! the Terraform functions the configuration calls.

use hcl::eval::{FuncArgs, FuncDef, ParamType};
use serde_json::Value as Json;

/// The account id the stand-in data source reports.
pub(crate) const ACCOUNT_ID: &str = "123456789012";
/// Values of the variables without default.
pub(crate) const REQUIRED_VARS: [(&str, &str); 3] = [
    ("environment", "test"),
    ("aws_region", "eu-west-1"),
    (
        "database_secret_arn",
        "arn:aws:secretsmanager:eu-west-1:123456789012:secret:conveyor-db-AbCdEf",
    ),
];

/// The address `type.name` of a resource instance with key `key`.
pub(crate) fn address(ty: &str, name: &str, key: Option<&str>) -> String {
    match key {
        Some(key) => format!("{ty}.{name}[{key}]"),
        None => format!("{ty}.{name}"),
    }
}

/// The stand-in ARN of a resource instance.
pub(crate) fn mock_arn(ty: &str, name: &str, key: Option<&str>) -> String {
    format!("arn:mock:{}", address(ty, name, key))
}

/// The stand-in URL of a queue instance.
pub(crate) fn mock_url(name: &str, key: &str) -> String {
    format!(
        "https://sqs.mock/{}",
        address("aws_sqs_queue", name, Some(key))
    )
}

pub(crate) fn to_hcl(json: &Json) -> hcl::Value {
    hcl::to_value(json).expect("JSON converts to an HCL value")
}

pub(crate) fn to_json(value: &hcl::Value) -> Json {
    serde_json::to_value(value).expect("an HCL value converts to JSON")
}

// The functions take `FuncArgs` by value (hcl's `Func` signature) and consume it.

fn jsonencode(args: FuncArgs) -> Result<hcl::Value, String> {
    let [value] = &args.into_values()[..] else {
        return Err("jsonencode takes one argument".to_owned());
    };
    serde_json::to_string(&to_json(value))
        .map(hcl::Value::from)
        .map_err(|e| e.to_string())
}

fn numbers(args: FuncArgs) -> Vec<f64> {
    args.into_values()
        .iter()
        .filter_map(hcl::Value::as_f64)
        .collect()
}

fn min(args: FuncArgs) -> Result<hcl::Value, String> {
    let n = numbers(args).into_iter().fold(f64::INFINITY, f64::min);
    hcl::to_value(n as i64).map_err(|e| e.to_string())
}

fn max(args: FuncArgs) -> Result<hcl::Value, String> {
    let n = numbers(args).into_iter().fold(f64::NEG_INFINITY, f64::max);
    hcl::to_value(n as i64).map_err(|e| e.to_string())
}

fn length(args: FuncArgs) -> Result<hcl::Value, String> {
    let n = match args.into_values().pop() {
        Some(hcl::Value::Array(items)) => items.len(),
        Some(hcl::Value::Object(map)) => map.len(),
        Some(hcl::Value::String(s)) => s.chars().count(),
        other => return Err(format!("length of {other:?}")),
    };
    Ok(hcl::Value::from(n as u64))
}

fn tostring(args: FuncArgs) -> Result<hcl::Value, String> {
    match args.into_values().pop() {
        Some(hcl::Value::String(s)) => Ok(hcl::Value::from(s)),
        Some(hcl::Value::Number(n)) => Ok(hcl::Value::from(n.to_string())),
        other => Err(format!("tostring of {other:?}")),
    }
}

fn floor(args: FuncArgs) -> Result<hcl::Value, String> {
    let n = numbers(args).pop().ok_or("floor takes a number")?;
    hcl::to_value(n.floor() as i64).map_err(|e| e.to_string())
}

fn sum(args: FuncArgs) -> Result<hcl::Value, String> {
    match args.into_values().pop() {
        Some(hcl::Value::Array(items)) if !items.is_empty() => {
            let n: f64 = items.iter().filter_map(hcl::Value::as_f64).sum();
            hcl::to_value(n as i64).map_err(|e| e.to_string())
        }
        other => Err(format!("sum of {other:?}: a non-empty list")),
    }
}

fn concat(args: FuncArgs) -> Result<hcl::Value, String> {
    let mut all = Vec::new();
    for list in args.into_values() {
        match list {
            hcl::Value::Array(items) => all.extend(items),
            other => return Err(format!("concat of {other:?}")),
        }
    }
    Ok(hcl::Value::Array(all))
}

fn merge(args: FuncArgs) -> Result<hcl::Value, String> {
    let mut all = hcl::Map::new();
    for map in args.into_values() {
        match map {
            hcl::Value::Object(entries) => all.extend(entries),
            other => return Err(format!("merge of {other:?}")),
        }
    }
    Ok(hcl::Value::Object(all))
}

fn lookup(args: FuncArgs) -> Result<hcl::Value, String> {
    let [map, key, default] = &args.into_values()[..] else {
        return Err("lookup takes a map, a key and a default".to_owned());
    };
    let found = map
        .as_object()
        .zip(key.as_str())
        .and_then(|(m, k)| m.get(k));
    Ok(found.unwrap_or(default).clone())
}

fn filebase64sha256(args: FuncArgs) -> Result<hcl::Value, String> {
    let path = args.into_values().pop().unwrap_or(hcl::Value::Null);
    Ok(hcl::Value::from(format!(
        "sha256-of:{}",
        path.as_str().unwrap_or_default()
    )))
}

pub(crate) fn functions() -> Vec<(&'static str, FuncDef)> {
    let def = |param: ParamType, func: hcl::eval::Func| FuncDef::builder().param(param).build(func);
    let variadic = |func: hcl::eval::Func| {
        FuncDef::builder()
            .variadic_param(ParamType::Number)
            .build(func)
    };
    vec![
        ("jsonencode", def(ParamType::Any, jsonencode)),
        ("length", def(ParamType::Any, length)),
        ("filebase64sha256", def(ParamType::String, filebase64sha256)),
        ("min", variadic(min)),
        ("max", variadic(max)),
        ("floor", def(ParamType::Number, floor)),
        ("tostring", def(ParamType::Any, tostring)),
        ("sum", def(ParamType::Any, sum)),
        (
            "concat",
            FuncDef::builder()
                .variadic_param(ParamType::Any)
                .build(concat),
        ),
        (
            "merge",
            FuncDef::builder()
                .variadic_param(ParamType::Any)
                .build(merge),
        ),
        (
            "lookup",
            FuncDef::builder()
                .param(ParamType::Any)
                .param(ParamType::String)
                .param(ParamType::Any)
                .build(lookup),
        ),
    ]
}

/// Stand-ins for the data sources the configuration reads.
pub(crate) fn data_sources() -> Json {
    serde_json::json!({
        "aws_caller_identity": { "current": { "account_id": ACCOUNT_ID } },
        "aws_partition": { "current": { "partition": "aws" } },
    })
}
