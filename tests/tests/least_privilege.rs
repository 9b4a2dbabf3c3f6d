//! Each service's database role reaches its own schema and nothing else.

use refroute_e2e::spawn_system;
use refroute_platform::db;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_service_role_cannot_touch_another_services_schema() {
    let system = spawn_system().await;
    let schemas = ["intake", "triage", "transfer", "notification"];
    for service in schemas {
        let pool = db::connect_as_service(&system.settings.database, service)
            .await
            .unwrap();
        for schema in schemas {
            let read = sqlx::query(sqlx::AssertSqlSafe(format!(
                "SELECT count(*) FROM {schema}.outbox"
            )))
            .execute(&pool)
            .await;
            if schema == service {
                read.unwrap_or_else(|e| panic!("{service} reads its own outbox: {e}"));
            } else {
                let err = read.expect_err("cross-schema read refused").to_string();
                assert!(
                    err.contains("permission denied"),
                    "{service} -> {schema}: {err}"
                );
            }
        }
        pool.close().await;
    }

    // Records are kept: intake may not delete referrals, triage may not delete decisions.
    let intake = db::connect_as_service(&system.settings.database, "intake")
        .await
        .unwrap();
    let err = sqlx::query("DELETE FROM intake.referrals")
        .execute(&intake)
        .await
        .unwrap_err();
    assert!(err.to_string().contains("permission denied"), "{err}");
    // Nor triage its decisions, the victims' MARAC history or the rule sets decisions were made
    // under; nor notification the record of deliveries (disclosures).
    for (service, table) in [
        ("triage", "triage.decisions"),
        ("triage", "triage.rule_sets"),
        ("triage", "triage.marac_referrals"),
        ("notification", "notification.deliveries"),
    ] {
        let pool = db::connect_as_service(&system.settings.database, service)
            .await
            .unwrap();
        let err = sqlx::query(sqlx::AssertSqlSafe(format!("DELETE FROM {table}")))
            .execute(&pool)
            .await
            .expect_err("delete refused");
        assert!(
            err.to_string().contains("permission denied"),
            "{service} deletes from {table}: {err}"
        );
        pool.close().await;
    }
    // The refusals are of deleting alone: the same roles read those tables.
    for (service, table) in [
        ("triage", "triage.rule_sets"),
        ("notification", "notification.deliveries"),
    ] {
        let pool = db::connect_as_service(&system.settings.database, service)
            .await
            .unwrap();
        sqlx::query(sqlx::AssertSqlSafe(format!("SELECT count(*) FROM {table}")))
            .execute(&pool)
            .await
            .unwrap_or_else(|e| panic!("{service} reads {table}: {e}"));
        pool.close().await;
    }

    system.shutdown().await;
}
