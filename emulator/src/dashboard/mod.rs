//! The dashboard `conveyor up` serves on its HTTP address: plain HTML, CSS and JavaScript
//! compiled into the binary (nothing to install or build), over a JSON API of its own. The page
//! polls a cheap cursor and reloads only the view on screen when something changed, so it costs
//! the emulator at most a few small requests a second at any event rate.
//!
//! # Layout
//! - [`views`] — functions, schedules, topics (samples, schemas, validation), the change cursor
//! - [`traffic`] — the event stream with filters, one event's detail, flows
//! - [`dlq`] — deleting and editing dead letters
//! - sagas: the list and one saga's page (`assets/sagas.js`), over [`crate::sagas`]' API
//! - [`stored`] — the event store's query API (`/api/store/events`)

pub mod dlq;
pub mod stored;
pub mod traffic;
pub mod views;

use axum::Router;
use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::{delete, get, post};

use crate::http::ApiState;

const INDEX: &str = include_str!("assets/index.html");
const SCRIPT: &str = include_str!("assets/app.js");
const SAGAS_SCRIPT: &str = include_str!("assets/sagas.js");
const STYLE: &str = include_str!("assets/app.css");

fn asset(content_type: &'static str, body: &'static str) -> impl IntoResponse {
    (
        [
            (header::CONTENT_TYPE, content_type),
            (header::CACHE_CONTROL, "no-cache"),
        ],
        body,
    )
}

/// The dashboard's routes (the page, its assets and `/api/...`), merged into the API router.
pub fn routes() -> Router<ApiState> {
    Router::new()
        .route(
            "/",
            get(|| async { asset("text/html; charset=utf-8", INDEX) }),
        )
        .route(
            "/ui/app.js",
            get(|| async { asset("text/javascript; charset=utf-8", SCRIPT) }),
        )
        .route(
            "/ui/sagas.js",
            get(|| async { asset("text/javascript; charset=utf-8", SAGAS_SCRIPT) }),
        )
        .route(
            "/ui/app.css",
            get(|| async { asset("text/css; charset=utf-8", STYLE) }),
        )
        .route("/api/cursor", get(views::cursor))
        .route("/api/functions", get(views::functions))
        .route("/api/schedules", get(views::schedules))
        .route("/api/topics", get(views::topics))
        .route("/api/topics/{topic}", get(views::topic))
        .route("/api/topics/{topic}/validate", post(views::validate))
        .route("/api/events", get(traffic::events))
        .route("/api/events/{id}", get(traffic::event))
        .route("/api/flows/{correlation_id}", get(traffic::flow))
        .route("/api/store/events", get(stored::events))
        .route(
            "/dlq/{function}/{id}",
            delete(dlq::delete_one).put(dlq::edit),
        )
        .route("/dlq/{function}/all", delete(dlq::delete_all))
}
