//! The link from a service to PostgreSQL: health follows it, and TLS works by configuration.

use refroute_e2e::spawn_system;
use refroute_platform::{Secret, db};
use std::time::Duration;
use tonic_health::pb::health_check_response::ServingStatus;

/// While intake cannot reach its database (here: its login may no longer connect, and its
/// sessions are ended) its health is NOT_SERVING, as when the broker is away; it returns to
/// SERVING by itself once it can log in again. Triage, which logs in as another role, serves on.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_is_not_serving_while_the_database_is_unreachable() {
    let system = spawn_system().await;
    let db_name = &system.db_name;
    // Per database, so other tests' databases are untouched.
    sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
        "REVOKE CONNECT ON DATABASE \"{db_name}\" FROM PUBLIC, refroute_intake; \
         SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
         WHERE datname = '{db_name}' AND usename = 'refroute_intake'"
    )))
    .execute(&system.pool)
    .await
    .unwrap();
    system
        .wait_health("intake", ServingStatus::NotServing, Duration::from_secs(15))
        .await
        .unwrap();
    assert_eq!(
        system.health("triage").await.unwrap(),
        ServingStatus::Serving
    );

    sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
        "GRANT CONNECT ON DATABASE \"{db_name}\" TO PUBLIC, refroute_intake"
    )))
    .execute(&system.pool)
    .await
    .unwrap();
    system
        .wait_health("intake", ServingStatus::Serving, Duration::from_secs(15))
        .await
        .unwrap();
    system.shutdown().await;
}

/// The machine's PostgreSQL serves TLS with Debian's self-signed certificate for `localhost`
/// (ssl = on is Debian's default; this test changes no server setting). `sslmode=require`
/// encrypts; `verify-full` with that certificate as `sslrootcert` also checks who the server
/// is, and refuses a server name the certificate does not name, or a certificate no trusted
/// root signed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_service_logs_in_over_tls_by_configuration() {
    const CERT: &str = "/etc/ssl/certs/ssl-cert-snakeoil.pem";
    let system = spawn_system().await;
    let (ssl,): (bool,) = sqlx::query_as("SELECT current_setting('ssl') = 'on'")
        .fetch_one(&system.pool)
        .await
        .unwrap();
    assert!(
        ssl && std::path::Path::new(CERT).exists(),
        "this test needs PostgreSQL's Debian default ssl = on with {CERT}"
    );
    let login = |host: &str, query: &str| {
        let mut settings = system.settings.database.clone();
        settings.logins.intake = Secret::new(format!(
            "postgres://refroute_intake@{host}:5432/{}?{query}",
            system.db_name
        ));
        settings
    };
    for (host, query) in [
        ("127.0.0.1", "sslmode=require".to_string()),
        (
            "localhost",
            format!("sslmode=verify-full&sslrootcert={CERT}"),
        ),
    ] {
        let pool = db::connect_as_service(&login(host, &query), "intake")
            .await
            .unwrap_or_else(|e| panic!("{query}: {e}"));
        let (encrypted,): (bool,) =
            sqlx::query_as("SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()")
                .fetch_one(&pool)
                .await
                .unwrap();
        assert!(encrypted, "{query}");
        pool.close().await;
    }
    // A server name the certificate does not name; a certificate no webpki root signed.
    for (host, query, why) in [
        (
            "127.0.0.1",
            format!("sslmode=verify-full&sslrootcert={CERT}"),
            "certificate not valid for name \"127.0.0.1\"",
        ),
        (
            "localhost",
            "sslmode=verify-full".to_string(),
            "UnknownIssuer",
        ),
    ] {
        let err = db::connect_as_service(&login(host, &query), "intake")
            .await
            .expect_err(why)
            .to_string();
        assert!(err.contains(why), "{query}: {err}");
    }
    system.shutdown().await;
}
