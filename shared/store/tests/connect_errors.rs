//! Errors of a failed connection name the database's host and never its password.

use std::time::Duration;

use conveyor_store::{PoolOptions, Store, StoreError};

const PASSWORD: &str = "pw-never-shown-4711";

#[tokio::test]
async fn an_unreachable_server_is_named_without_the_password() {
    // Port 1 on loopback: nothing listens, the connection is refused at once.
    let url = format!("postgres://conveyor:{PASSWORD}@127.0.0.1:1/app?sslmode=prefer");
    let options = PoolOptions::new(1).with_acquire_timeout(Duration::from_millis(300));
    let err = Store::connect_with(&url, options).await.unwrap_err();
    assert!(matches!(err, StoreError::Connect { .. }), "{err:?}");
    let shown = format!("{err} {err:?}");
    assert!(
        shown.contains("postgres://conveyor:***@127.0.0.1:1/app"),
        "{shown}"
    );
    assert!(!shown.contains(PASSWORD), "{shown}");
    assert!(err.is_transient());
}

#[tokio::test]
async fn a_bad_option_is_named_without_the_password() {
    let url = format!("postgres://conveyor:{PASSWORD}@127.0.0.1:1/app?sslmode=sometimes");
    let err = Store::connect(&url).await.unwrap_err();
    let shown = format!("{err} {err:?}");
    assert!(shown.contains("127.0.0.1:1"), "{shown}");
    assert!(!shown.contains(PASSWORD), "{shown}");
    assert!(!err.is_transient(), "a wrong setting stays wrong: {err}");
}

#[tokio::test]
async fn an_unsupported_url_is_named_without_the_password() {
    let err = Store::connect(&format!("mysql://root:{PASSWORD}@db/app"))
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::UnsupportedUrl(_)), "{err:?}");
    assert!(!format!("{err} {err:?}").contains(PASSWORD), "{err:?}");
}
