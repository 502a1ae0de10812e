//! The database secret against moto's Secrets Manager and a PostgreSQL cluster of the test's
//! own that checks passwords (the shared test server trusts every login): a cold start reads
//! the secret; after a rotation the next connection is refused, the secret is read again once,
//! and it works; a secret that is still wrong after a rotation gives a clear, transient error.

#[path = "../../../emulator/tests/sqs/moto.rs"]
mod moto;
#[path = "../../../shared/runtime/tests/support/runtime_api.rs"]
mod runtime_api;

use std::collections::HashMap;

use conveyor_runtime::HandlerError;
use conveyor_runtime::lambda::config::{LambdaConfig, SECRET_ARN, URL_OPTIONS};
use conveyor_store::{Store, StoreError};
use conveyor_testkit::tls::TestPki;
use conveyor_testkit::tls::postgres::TlsPostgres;
use moto::Moto;
use serde_json::json;

const ROLE: &str = "rotated_app";

struct Stand {
    pg: TlsPostgres,
    pki: TestPki,
    admin: Store,
    secrets: aws_sdk_secretsmanager::Client,
    moto: Moto,
    arn: String,
    _dir: tempfile::TempDir,
}

impl Stand {
    /// A cluster with a role whose password is `password` and a database it owns, and a secret
    /// in moto saying so (the RDS JSON form).
    async fn start(password: &str) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let pki = TestPki::generate(dir.path()).unwrap();
        let pg = TlsPostgres::start(&pki).unwrap();
        let admin = Store::connect(&pg.url("verify-full", Some(&pki.ca_cert)))
            .await
            .unwrap();
        for sql in [
            format!("CREATE ROLE {ROLE} LOGIN PASSWORD '{password}'"),
            format!("CREATE DATABASE app OWNER {ROLE}"),
        ] {
            conveyor_store::sqlx::query(&sql)
                .execute(admin.pool())
                .await
                .unwrap();
        }
        let moto = Moto::start();
        let secrets = moto.aws().secretsmanager_client();
        let created = secrets
            .create_secret()
            .name("conveyor/database")
            .secret_string(secret(&pg, password))
            .send()
            .await
            .unwrap();
        let arn = created.arn().unwrap().to_owned();
        Self {
            pg,
            pki,
            admin,
            secrets,
            moto,
            arn,
            _dir: dir,
        }
    }

    /// The Lambda's configuration: the secret's ARN and the deployment's TLS options, a pool of
    /// one connection so the test knows when a new one is opened.
    fn config(&self) -> LambdaConfig {
        let vars: HashMap<&str, String> = [
            (SECRET_ARN, self.arn.clone()),
            (
                URL_OPTIONS,
                format!(
                    "sslmode=verify-full&sslrootcert={}",
                    self.pki.ca_cert.display()
                ),
            ),
            ("CONVEYOR_PUBLISH", "outbox".to_owned()),
            ("CONVEYOR_DB_POOL_SIZE", "1".to_owned()),
        ]
        .into();
        LambdaConfig::from_lookup("order-payment-confirmed", |name| vars.get(name).cloned())
            .unwrap()
    }

    async fn set_password(&self, password: &str) {
        conveyor_store::sqlx::query(&format!("ALTER ROLE {ROLE} PASSWORD '{password}'"))
            .execute(self.admin.pool())
            .await
            .unwrap();
    }

    async fn put_secret(&self, password: &str) {
        self.secrets
            .put_secret_value()
            .secret_id(&self.arn)
            .secret_string(secret(&self.pg, password))
            .send()
            .await
            .unwrap();
    }

    /// Ends the role's sessions (as a failover or an idle timeout does), so the pool's next
    /// connection is a new login.
    async fn end_sessions(&self) {
        conveyor_store::sqlx::query(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = $1",
        )
        .bind(ROLE)
        .execute(self.admin.pool())
        .await
        .unwrap();
    }
}

fn secret(pg: &TlsPostgres, password: &str) -> String {
    json!({"engine": "postgres", "host": "localhost", "port": pg.port(), "username": ROLE,
        "password": password, "dbname": "app"})
    .to_string()
}

async fn works(store: &Store) {
    let mut tx = store.begin().await.unwrap();
    let user: String = conveyor_store::sqlx::query_scalar("SELECT current_user::text")
        .fetch_one(tx.conn())
        .await
        .unwrap();
    assert_eq!(user, ROLE);
    tx.rollback().await.unwrap();
}

#[tokio::test]
async fn a_cold_start_reads_the_secret_and_a_rotation_reads_it_again_once() {
    let stand = Stand::start("password-a").await;
    let deps = stand.config().deps_with(&stand.moto.aws()).await.unwrap();
    works(&deps.store).await;
    assert_eq!(deps.store.credential_reads(), 0);

    // Rotation: the role's password and the secret change; open sessions stay valid.
    stand.set_password("password-b").await;
    stand.put_secret("password-b").await;
    works(&deps.store).await;
    assert_eq!(deps.store.credential_reads(), 0, "no new login, no read");

    // The next login is refused with the old password: the secret is read again, once.
    stand.end_sessions().await;
    works(&deps.store).await;
    assert_eq!(deps.store.credential_reads(), 1);
    stand.end_sessions().await;
    works(&deps.store).await;
    assert_eq!(deps.store.credential_reads(), 1, "the new password is kept");

    deps.store.close().await;
    stand.admin.close().await;
}

#[tokio::test]
async fn a_secret_still_wrong_after_a_rotation_gives_a_clear_transient_error() {
    let stand = Stand::start("password-a").await;
    let deps = stand.config().deps_with(&stand.moto.aws()).await.unwrap();
    works(&deps.store).await;

    // The password changed but the secret was not updated.
    stand.set_password("password-c").await;
    stand.end_sessions().await;
    let err = deps.store.begin().await.unwrap_err();
    assert!(
        matches!(err, StoreError::CredentialsRefused { .. }),
        "{err:?}"
    );
    let text = err.to_string();
    assert!(
        text.starts_with(&format!(
            "the database refused the credentials from the secret {}, also after reading them again: ",
            stand.arn
        )),
        "{text}"
    );
    assert!(
        text.contains("check that the secret holds the role's current password"),
        "{text}"
    );
    assert!(!text.contains("password-a"), "{text}");
    assert_eq!(deps.store.credential_reads(), 1);
    // A delivery that meets it is retried, never dropped.
    assert!(HandlerError::from(err).is_retry());

    // Put right, the next attempt reads the secret again and works.
    stand.put_secret("password-c").await;
    works(&deps.store).await;
    assert_eq!(deps.store.credential_reads(), 2);

    deps.store.close().await;
    stand.admin.close().await;
}

#[tokio::test]
async fn a_secret_that_cannot_be_read_stops_the_cold_start_with_what_to_check() {
    let stand = Stand::start("password-a").await;
    let mut config = stand.config();
    config.database = conveyor_runtime::lambda::config::Database::Secret {
        arn: format!("{}-missing", stand.arn),
        options: None,
    };
    let err = config.deps_with(&stand.moto.aws()).await.unwrap_err();
    let text = format!("{err:?}");
    assert!(
        text.starts_with(&format!(
            "could not read the secret {}-missing from Secrets Manager (",
            stand.arn
        )),
        "{text}"
    );
    assert!(text.ends_with("check CONVEYOR_DATABASE_SECRET_ARN and that the function's role may call secretsmanager:GetSecretValue on it (and kms:Decrypt on its key)"), "{text}");
    stand.admin.close().await;
}

/// The real binary: started with the secret's ARN and no database URL in its environment, it
/// reads the secret at cold start and serves a batch.
#[tokio::test]
async fn the_function_binary_starts_from_the_secret() {
    let stand = Stand::start("password-a").await;
    let mut api = runtime_api::RuntimeApi::start().await;
    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_order-payment-confirmed"))
        .env_clear()
        .env("AWS_LAMBDA_RUNTIME_API", &api.address)
        .env("AWS_LAMBDA_FUNCTION_NAME", "order-payment-confirmed")
        .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128")
        .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
        .env(SECRET_ARN, &stand.arn)
        .env(
            URL_OPTIONS,
            format!(
                "sslmode=verify-full&sslrootcert={}",
                stand.pki.ca_cert.display()
            ),
        )
        .env("AWS_ENDPOINT_URL_SECRETS_MANAGER", stand.moto.url())
        .env("AWS_REGION", "us-east-1")
        .env("AWS_ACCESS_KEY_ID", "test")
        .env("AWS_SECRET_ACCESS_KEY", "test")
        .env("CONVEYOR_PUBLISH", "outbox")
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .unwrap();

    // An order that does not exist is a transient failure: the record is listed for retry,
    // which takes a query against the database the secret names.
    let body = json!({"specversion": "1.0", "id": "evt-1", "source": "payment-service",
        "type": "payment.confirmed", "datacontenttype": "application/json",
        "data": conveyor_domain::events::samples::payment_confirmed()})
    .to_string();
    let batch = json!({"Records": [{"messageId": "m-1", "receiptHandle": "rh", "body": body,
        "attributes": {"ApproximateReceiveCount": "1"}, "messageAttributes": {},
        "eventSource": "aws:sqs", "eventSourceARN": "arn:aws:sqs:us-east-1:0:q", "awsRegion": "us-east-1"}]});
    let outcome = api.invoke(batch).await;
    let runtime_api::Outcome::Response(response) = outcome else {
        panic!("expected a batch response, got {outcome:?}");
    };
    assert_eq!(
        response,
        json!({"batchItemFailures": [{"itemIdentifier": "m-1"}]})
    );
    let seen: i64 = conveyor_store::sqlx::query_scalar(
        "SELECT COUNT(*) FROM pg_stat_activity WHERE usename = $1 AND datname = 'app'",
    )
    .bind(ROLE)
    .fetch_one(stand.admin.pool())
    .await
    .unwrap();
    assert!(seen >= 1, "the function is connected as the secret's role");
    child.start_kill().unwrap();
    child.wait().await.unwrap();
    stand.admin.close().await;
}
