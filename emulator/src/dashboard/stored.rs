//! The event store over HTTP: `GET /api/store/events`, the stored events by topic, time range,
//! correlation id and order id, a page at a time (`limit`, and `after` = the `next` of the page
//! before). The dashboard's "Stored" view reads it; it is behind the same access checks as
//! every route.

use axum::Json;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use conveyor_domain::Timestamp;
use conveyor_store::events::{EventCursor, EventQuery, MAX_PAGE, StoredEvent};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::http::{ApiError, ApiState};

/// Events a page holds unless `limit` says otherwise.
const DEFAULT_LIMIT: usize = 100;

/// The query string, as given.
#[derive(Debug, Default, Deserialize)]
pub(crate) struct StoreQuery {
    topic: Option<String>,
    from: Option<String>,
    to: Option<String>,
    correlation_id: Option<String>,
    order_id: Option<String>,
    limit: Option<usize>,
    after: Option<String>,
    order: Option<String>,
}

fn bad(message: String) -> ApiError {
    ApiError::new(StatusCode::BAD_REQUEST, message)
}

fn time(name: &str, text: Option<&str>) -> Result<Option<Timestamp>, ApiError> {
    text.filter(|t| !t.is_empty())
        .map(|t| {
            Timestamp::parse_rfc3339(t).map_err(|e| {
                bad(format!(
                    "{name}={t:?} is not an RFC 3339 time such as 2026-12-05T10:00:00Z: {e}"
                ))
            })
        })
        .transpose()
}

fn given(text: Option<String>) -> Option<String> {
    text.filter(|t| !t.is_empty())
}

impl StoreQuery {
    /// The store's query, or 400 naming the parameter that is wrong.
    fn parse(self) -> Result<EventQuery, ApiError> {
        let newest_first = match self.order.as_deref() {
            None | Some("" | "asc") => false,
            Some("desc") => true,
            Some(other) => return Err(bad(format!("order={other:?}: use asc or desc"))),
        };
        let limit = self.limit.unwrap_or(DEFAULT_LIMIT);
        if !(1..=MAX_PAGE).contains(&limit) {
            return Err(bad(format!("limit={limit}: use 1 to {MAX_PAGE}")));
        }
        Ok(EventQuery {
            from: time("from", self.from.as_deref())?,
            to: time("to", self.to.as_deref())?,
            topic: given(self.topic),
            correlation_id: given(self.correlation_id),
            order_id: given(self.order_id),
            after: given(self.after)
                .map(|a| a.parse::<EventCursor>())
                .transpose()
                .map_err(|e| bad(e.to_string()))?,
            newest_first,
            limit,
        })
    }
}

fn event_json(e: &StoredEvent) -> Value {
    json!({
        "position": e.position.to_string(),
        "id": e.id,
        "topic": e.topic,
        "time": e.time.to_rfc3339(),
        "correlation_id": e.correlation_id,
        "causation_id": e.causation_id,
        "order_id": e.order_id,
        "source": e.source,
        "stored_at": e.stored_at.to_rfc3339(),
        // The CloudEvent as JSON when it is JSON, else its text.
        "event": serde_json::from_str::<Value>(&e.body).unwrap_or_else(|_| json!(e.body)),
    })
}

/// `GET /api/store/events?topic=&from=&to=&correlation_id=&order_id=&limit=&after=&order=`:
/// `{"events": [...], "next": <cursor or null>, "enabled": <whether events are stored>}`.
pub(crate) async fn events(
    State(s): State<ApiState>,
    Query(query): Query<StoreQuery>,
) -> Result<Json<Value>, ApiError> {
    let query = query.parse()?;
    let page = s.deps.store.events_query(&query).await?;
    Ok(Json(json!({
        "events": page.events.iter().map(event_json).collect::<Vec<_>>(),
        "next": page.next.map(|c| c.to_string()),
        "enabled": s.deps.store.keeps_events(),
    })))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_query_string_becomes_the_stores_query_or_names_what_is_wrong() {
        let q = StoreQuery {
            topic: Some("payment.confirmed".to_owned()),
            from: Some("2026-12-05T10:00:00Z".to_owned()),
            to: Some(String::new()),
            order_id: Some("ord-1".to_owned()),
            after: Some("1000-7".to_owned()),
            order: Some("desc".to_owned()),
            ..StoreQuery::default()
        }
        .parse()
        .unwrap();
        assert_eq!(q.topic.as_deref(), Some("payment.confirmed"));
        assert_eq!(
            q.from.map(Timestamp::to_rfc3339).as_deref(),
            Some("2026-12-05T10:00:00.000Z")
        );
        assert_eq!(q.to, None);
        assert_eq!(q.after.map(|a| a.seq), Some(7));
        assert!(q.newest_first);
        assert_eq!(q.limit, DEFAULT_LIMIT);
        for (query, says) in [
            (
                StoreQuery {
                    from: Some("yesterday".to_owned()),
                    ..StoreQuery::default()
                },
                "from=",
            ),
            (
                StoreQuery {
                    limit: Some(0),
                    ..StoreQuery::default()
                },
                "limit=0: use 1 to 1000",
            ),
            (
                StoreQuery {
                    after: Some("x".to_owned()),
                    ..StoreQuery::default()
                },
                "is not an event cursor",
            ),
            (
                StoreQuery {
                    order: Some("up".to_owned()),
                    ..StoreQuery::default()
                },
                "use asc or desc",
            ),
        ] {
            let shown = format!("{:?}", query.parse().unwrap_err());
            assert!(shown.contains("400") && shown.contains(says), "{shown}");
        }
    }
}
