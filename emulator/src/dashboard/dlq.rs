//! Dead letters beyond list and redrive: delete one (`DELETE /dlq/{function}/{id}`), delete all
//! (`DELETE /dlq/{function}/all`) and replace one's body before a redrive
//! (`PUT /dlq/{function}/{id}` with the new body).

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde_json::{Value, json};

use crate::http::{ApiError, ApiState};
use crate::operations::MAX_EVENT_BYTES;

fn known(s: &ApiState, function: &str) -> Result<(), ApiError> {
    if s.functions.iter().any(|f| f.spec().name == function) {
        Ok(())
    } else {
        Err(ApiError::new(
            StatusCode::NOT_FOUND,
            format!(
                "no function {function} in this emulator: GET /functions lists the ones it runs"
            ),
        ))
    }
}

/// `DELETE /dlq/{function}/{id}`.
pub(crate) async fn delete_one(
    State(s): State<ApiState>,
    Path((function, id)): Path<(String, String)>,
) -> Result<Json<Value>, ApiError> {
    known(&s, &function)?;
    let ids = [id.clone()];
    let deleted = s.broker.delete_dead_letters(&function, Some(&ids)).await?;
    if deleted == 0 {
        return Err(ApiError::new(
            StatusCode::NOT_FOUND,
            format!("no dead letter {id} of {function}"),
        ));
    }
    Ok(Json(json!({ "function": function, "deleted": deleted })))
}

/// `DELETE /dlq/{function}/all`.
pub(crate) async fn delete_all(
    State(s): State<ApiState>,
    Path(function): Path<String>,
) -> Result<Json<Value>, ApiError> {
    known(&s, &function)?;
    let deleted = s.broker.delete_dead_letters(&function, None).await?;
    Ok(Json(json!({ "function": function, "deleted": deleted })))
}

/// `PUT /dlq/{function}/{id}`: the body replaces the dead letter's body (it may still be
/// invalid for the handler: fixing it is the point, and the redrive will tell).
pub(crate) async fn edit(
    State(s): State<ApiState>,
    Path((function, id)): Path<(String, String)>,
    body: axum::body::Bytes,
) -> Result<Json<Value>, ApiError> {
    known(&s, &function)?;
    if body.len() > MAX_EVENT_BYTES {
        return Err(ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!("body exceeds the {MAX_EVENT_BYTES}-byte limit"),
        ));
    }
    let text = std::str::from_utf8(&body)
        .map_err(|e| ApiError::new(StatusCode::BAD_REQUEST, format!("body is not UTF-8: {e}")))?;
    match s.broker.edit_dead_letter(&function, &id, text).await? {
        Some(new_id) => Ok(Json(
            json!({ "function": function, "id": new_id, "was": id }),
        )),
        None => Err(ApiError::new(
            StatusCode::NOT_FOUND,
            format!("no dead letter {id} of {function}"),
        )),
    }
}
