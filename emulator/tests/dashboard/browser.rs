//! The dashboard's pages in headless Chromium, driven through chromedriver (WebDriver) against
//! an emulator served on 127.0.0.1. Chromium and chromedriver must be installed
//! (`scripts/install-dev-tools.sh` does it); without them these tests fail and say so.
//! Screenshots of every page are saved under `tests/artifacts/dashboard/`.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use conveyor_emulator::access::Access;
use fantoccini::elements::Element;
use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::{Value, json};
use tokio::process::{Child, Command};

use super::{
    App, PAYMENT_FLOW, call, payment_for, spawn_app, spawn_app_one_payment_consumer, until,
};

const WAIT: Duration = Duration::from_secs(20);

fn on_path(program: &str) -> Option<PathBuf> {
    std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|dir| dir.join(program))
            .find(|p| p.is_file())
    })
}

fn artifacts() -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../tests/artifacts/dashboard");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// chromedriver on a free port, and a headless Chromium session through it.
pub(super) struct Browser {
    client: Client,
    _driver: Child,
    base: String,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
}

impl Browser {
    async fn open(app: &App) -> Self {
        Self::open_with(app, Access::local).await
    }

    /// Chromium on an emulator served with the access policy `access` makes for its address.
    pub(super) async fn open_with(app: &App, access: impl FnOnce(SocketAddr) -> Access) -> Self {
        let (Some(chromium), Some(chromedriver)) = (on_path("chromium"), on_path("chromedriver"))
        else {
            panic!(
                "the dashboard's browser tests need `chromium` and `chromedriver` on PATH; \
                 install them with scripts/install-dev-tools.sh (Debian: apt-get install chromium chromium-driver)"
            );
        };
        // The emulator, served.
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        let base = format!("http://{address}");
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let access = access(address);
        let router = conveyor_emulator::api::router(app.state.clone(), access);
        tokio::spawn(async move {
            axum::serve(listener, router)
                .with_graceful_shutdown(async {
                    let _ = rx.await;
                })
                .await
                .unwrap();
        });
        // chromedriver.
        let port = {
            let probe = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            probe.local_addr().unwrap().port()
        };
        let driver = Command::new(chromedriver)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .unwrap();
        let deadline = tokio::time::Instant::now() + WAIT;
        while tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .is_err()
        {
            assert!(
                tokio::time::Instant::now() < deadline,
                "chromedriver did not start"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let mut caps = serde_json::Map::new();
        caps.insert(
            "goog:chromeOptions".to_owned(),
            json!({
                "binary": chromium,
                "args": ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--window-size=1400,1000"],
            }),
        );
        let client = ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
            .capabilities(caps)
            .connect(&format!("http://127.0.0.1:{port}"))
            .await
            .unwrap();
        Self {
            client,
            _driver: driver,
            base,
            shutdown: Some(tx),
        }
    }

    /// Opens the schedules page, presses "Run now" on order-session-cleanup (never run yet) and
    /// waits until its run is recorded.
    pub(super) async fn run_session_cleanup_now(&self) {
        self.goto("#/schedules").await;
        let job = "tr[data-job=\"order-session-cleanup\"]";
        self.wait("the job", &format!("{job}[data-runs=\"0\"]"))
            .await;
        self.click("run now", &format!("{job} button.run-now"))
            .await;
        self.wait(
            "the recorded run",
            &format!("{job}[data-runs=\"1\"] td.runs .status.ticked"),
        )
        .await;
    }

    pub(super) async fn goto(&self, hash: &str) {
        self.client
            .goto(&format!("{}/{hash}", self.base))
            .await
            .unwrap();
    }

    /// Waits until `css` matches elements that pass `check`; returns them.
    pub(super) async fn wait_all(
        &self,
        what: &str,
        css: &str,
        check: impl Fn(&[Element]) -> bool,
    ) -> Vec<Element> {
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            if let Ok(found) = self.client.find_all(Locator::Css(css)).await
                && check(&found)
            {
                return found;
            }
            if tokio::time::Instant::now() > deadline {
                self.screenshot(&format!("failed-{}", what.replace(' ', "-")))
                    .await;
                panic!("timed out waiting for {what} ({css})");
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    pub(super) async fn wait(&self, what: &str, css: &str) -> Element {
        self.wait_all(what, css, |f| !f.is_empty()).await.remove(0)
    }

    /// Clicks `css`, again if the page redrew it in between.
    pub(super) async fn click(&self, what: &str, css: &str) {
        for _ in 0..20 {
            let element = self.wait(what, css).await;
            if element.click().await.is_ok() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("could not click {what} ({css})");
    }

    /// One attribute of every element matching `css`, read in one script so that a redraw of
    /// the view between two reads cannot mix two drawings.
    async fn attr_of_all(&self, css: &str, name: &str) -> Vec<String> {
        let script = "return Array.from(document.querySelectorAll(arguments[0])) \
                      .map((e) => e.getAttribute(arguments[1])) \
                      .filter((v) => v !== null);";
        let value = self
            .client
            .execute(script, vec![json!(css), json!(name)])
            .await
            .unwrap_or(Value::Null);
        serde_json::from_value(value).unwrap_or_default()
    }

    /// The page's source and address.
    pub(super) async fn page(&self) -> (String, String) {
        (
            self.client.source().await.unwrap_or_default(),
            self.client
                .current_url()
                .await
                .map(|u| u.to_string())
                .unwrap_or_default(),
        )
    }

    pub(super) async fn screenshot(&self, name: &str) {
        if let Ok(png) = self.client.screenshot().await {
            std::fs::write(artifacts().join(format!("{name}.png")), png).unwrap();
        }
    }

    pub(super) async fn close(mut self) {
        let _ = self.client.clone().close().await;
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}

#[tokio::test]
async fn functions_page_lists_the_catalog_and_a_payment_draws_its_flow() {
    let app = spawn_app("ui-flow").await;
    let browser = Browser::open(&app).await;
    let catalog = conveyor_catalog::all();
    browser.goto("#/functions").await;
    let rows = browser
        .wait_all("every function", "table#functions tbody tr", |r| {
            r.len() == catalog.len()
        })
        .await;
    assert_eq!(rows.len(), catalog.len());
    let names = browser
        .attr_of_all("table#functions tbody tr", "data-function")
        .await;
    for f in &catalog {
        assert!(
            names.iter().any(|n| n == f.spec().name),
            "{} missing",
            f.spec().name
        );
    }
    browser.screenshot("functions").await;

    // Send a payment for a seeded order from the send page, validated first.
    browser.goto("#/send?topic=payment.confirmed").await;
    let payload = browser.wait("the payload editor", "textarea#payload").await;
    payload.clear().await.unwrap();
    payload
        .send_keys(&payment_for(&app.orders[0], "pay-ui-1"))
        .await
        .unwrap();
    browser.click("validate", "button#validate").await;
    browser.wait("the verdict", "#send-result .valid").await;
    browser.click("send", "button#send").await;
    browser
        .wait("the sent event", "#send-result a.flow-link")
        .await;
    browser.screenshot("send").await;
    browser
        .click("the flow link", "#send-result a.flow-link")
        .await;

    let handled = browser
        .wait_all(
            "every handler of the payment's flow",
            "svg#flow g.handler",
            |h| h.len() == PAYMENT_FLOW.len(),
        )
        .await;
    assert_eq!(handled.len(), PAYMENT_FLOW.len());
    // The view redraws as events arrive: each read is one pass over one drawing, repeated until
    // the drawing is complete.
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let statuses = browser
            .attr_of_all("svg#flow g.handler", "data-status")
            .await;
        let mut functions = browser
            .attr_of_all("svg#flow g.handler", "data-function")
            .await;
        functions.sort();
        let topics = browser.attr_of_all("svg#flow g.event", "data-topic").await;
        let complete = statuses.len() == PAYMENT_FLOW.len()
            && statuses.iter().all(|s| s == "handled")
            && functions == PAYMENT_FLOW
            && topics.iter().any(|t| t == "payment.confirmed")
            && topics.iter().any(|t| t == "fulfillment.status_changed");
        if complete {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "flow not complete: statuses {statuses:?}, functions {functions:?}, topics {topics:?}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    browser.screenshot("flow").await;

    // The stream, filtered by order id, and one event's detail.
    browser
        .goto(&format!(
            "#/events?order_id={}&topic=payment.confirmed",
            app.orders[0].as_str()
        ))
        .await;
    browser
        .wait_all("the payment in the stream", "table#events tbody tr", |r| {
            r.len() == 1
        })
        .await;
    browser.screenshot("events").await;
    browser
        .click("the event", "table#events a.event-link")
        .await;
    browser
        .wait("the attempts", "#event-detail table#attempts tbody tr")
        .await;
    browser
        .wait("the caused events", "#event-detail ul#caused li")
        .await;
    browser.screenshot("event").await;
    browser.close().await;
    app.running.shutdown().await;
}

#[tokio::test]
async fn a_poison_event_is_fixed_and_redriven_from_the_dlq_view_and_a_job_runs_now() {
    let app = spawn_app_one_payment_consumer("ui-dlq").await;
    let state = &app.state;
    let f = "order-payment-confirmed";
    let (_, poison) = call(
        state,
        "POST",
        "/publish/payment.confirmed",
        Some(r#"{"order_id": 7}"#),
    )
    .await;
    let event_id = poison["id"].as_str().unwrap().to_owned();
    let letters = until(
        "the poison event in the DLQ",
        state,
        &format!("/dlq/{f}"),
        |v| v.as_array().is_some_and(|a| a.len() == 1),
    )
    .await;
    let mut fixed: Value = serde_json::from_str(letters[0]["body"].as_str().unwrap()).unwrap();
    fixed["data"] = serde_json::from_str(&payment_for(&app.orders[1], "pay-ui-2")).unwrap();

    let browser = Browser::open(&app).await;
    browser.goto("#/dlq").await;
    let row = format!("table.dlq tr[data-event=\"{event_id}\"]");
    browser.wait("the poison event in the DLQ view", &row).await;
    browser.screenshot("dlq").await;
    browser.click("edit", &format!("{row} button.edit")).await;
    let editor = browser
        .wait(
            "the payload editor",
            "td.editor:not([hidden]) textarea.payload",
        )
        .await;
    editor.clear().await.unwrap();
    editor.send_keys(&fixed.to_string()).await.unwrap();
    browser.screenshot("dlq-edit").await;
    browser
        .click("save", "td.editor:not([hidden]) button.save")
        .await;
    until("the edit stored", state, &format!("/dlq/{f}"), |v| {
        v[0]["body"]
            .as_str()
            .is_some_and(|b| b.contains(app.orders[1].as_str()))
    })
    .await;
    browser
        .click("redrive", &format!("{row} button.redrive"))
        .await;
    browser.wait("an empty DLQ view", "#dlq-empty").await;
    let detail = until(
        "the redelivered event handled",
        state,
        &format!("/api/events/{event_id}"),
        |d| d["summary"]["status"] == "handled",
    )
    .await;
    assert_eq!(detail["attempts"].as_array().unwrap().len(), 2);

    // Run a job now.
    browser.run_session_cleanup_now().await;
    browser.screenshot("schedules").await;
    let (_, jobs) = call(state, "GET", "/api/schedules", None).await;
    let runs = jobs
        .as_array()
        .unwrap()
        .iter()
        .find(|j| j["name"] == "order-session-cleanup")
        .unwrap()["runs"]
        .clone();
    assert_eq!(runs.as_array().unwrap().len(), 1);
    browser.close().await;
    app.running.shutdown().await;
}
