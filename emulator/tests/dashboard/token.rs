//! The dashboard in Chromium against an emulator that has an API token: refused without it,
//! opened once with `/?token=...`, then every view and action works from the cookie, with the
//! token gone from the address bar.

use conveyor_emulator::access::{Access, AccessSettings, ApiToken};

use super::browser::Browser;
use super::spawn_app;

const TOKEN: &str = "ui-s3cret";

#[tokio::test]
async fn opened_once_with_the_token_the_page_works_from_its_cookie() {
    let app = spawn_app("ui-token").await;
    let browser = Browser::open_with(&app, |address| {
        let settings = AccessSettings {
            token: ApiToken::new(TOKEN).unwrap(),
            ..AccessSettings::default()
        };
        Access::new(address, settings).unwrap()
    })
    .await;

    browser.goto("").await;
    let (source, _) = browser.page().await;
    assert!(source.contains("needs its API token"), "{source}");

    browser.goto(&format!("?token={TOKEN}")).await;
    let (_, address) = browser.page().await;
    assert!(!address.contains(TOKEN), "{address}");
    browser.run_session_cleanup_now().await;
    browser.screenshot("token").await;
    browser.close().await;
    app.running.shutdown().await;
}
