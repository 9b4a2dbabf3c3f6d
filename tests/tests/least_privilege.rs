//! Least privilege below the API. Each service logs in to PostgreSQL as its own role and reaches
//! its own schema and nothing else, whatever it runs (`RESET ROLE`, `SET ROLE`), and whichever
//! role ran the migrations; each logs in to RabbitMQ as its own user and can consume its own
//! queues only; and a consumer refuses an event not published by the service that owns it.

use lapin::options::{BasicConsumeOptions, BasicPublishOptions, ConfirmSelectOptions};
use lapin::types::{FieldTable, ShortString};
use lapin::{BasicProperties, Connection, ConnectionProperties};
use refroute_e2e::{Sample, spawn_system, spawn_system_with_own_broker_users};
use refroute_platform::db;
use refroute_platform::messaging::topology::{self, QUEUES, dead_letter_queue};
use refroute_proto::v1::ReferralStatus;
use sqlx::{Connection as _, PgConnection};
use std::time::Duration;

const SCHEMAS: [&str; 4] = ["intake", "triage", "transfer", "notification"];

/// Tables the services may add to and move forward but never delete from.
const RECORDS: [&str; 10] = [
    "intake.referrals",
    "triage.decisions",
    "triage.superseded_decisions",
    "triage.marac_referrals",
    "triage.police_incidents",
    "triage.rule_sets",
    "notification.deliveries",
    "notification.decision_order",
    "transfer.transfers",
    "transfer.steps",
];

fn refused(result: Result<impl std::fmt::Debug, sqlx::Error>, what: &str) -> String {
    let err = result.expect_err(what).to_string();
    assert!(err.contains("permission denied"), "{what}: {err}");
    err
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_services_login_cannot_reach_another_schema_even_after_reset_role() {
    let system = spawn_system().await;
    for service in SCHEMAS {
        // One connection, so that RESET ROLE and the reads after it are on the same session.
        let url = db::service_url(&system.settings.database, service).unwrap();
        let mut conn = PgConnection::connect(&url).await.unwrap();
        let (who,): (String,) = sqlx::query_as("SELECT session_user::text")
            .fetch_one(&mut conn)
            .await
            .unwrap();
        assert_eq!(who, format!("refroute_{service}"));
        for escape in ["RESET ROLE", "SET ROLE NONE"] {
            sqlx::query(sqlx::AssertSqlSafe(escape))
                .execute(&mut conn)
                .await
                .unwrap();
            for schema in SCHEMAS {
                let read = sqlx::query(sqlx::AssertSqlSafe(format!(
                    "SELECT count(*) FROM {schema}.outbox"
                )))
                .execute(&mut conn)
                .await;
                if schema == service {
                    read.unwrap_or_else(|e| panic!("{service} reads its own outbox: {e}"));
                } else {
                    refused(read, &format!("{service} after {escape} reads {schema}"));
                }
            }
        }
        // Nor can it become anyone else.
        let mut others = vec!["postgres".to_string()];
        others.extend(
            SCHEMAS
                .iter()
                .filter(|s| **s != service)
                .map(|s| format!("refroute_{s}")),
        );
        for other in others {
            refused(
                sqlx::query(sqlx::AssertSqlSafe(format!("SET ROLE {other}")))
                    .execute(&mut conn)
                    .await,
                &format!("{service} SET ROLE {other}"),
            );
            refused(
                sqlx::query(sqlx::AssertSqlSafe(format!(
                    "SET SESSION AUTHORIZATION {other}"
                )))
                .execute(&mut conn)
                .await,
                &format!("{service} SET SESSION AUTHORIZATION {other}"),
            );
        }
        conn.close().await.unwrap();
    }

    // Records are kept: every delete from them is refused to the service that writes them...
    for table in RECORDS {
        let service = table.split('.').next().unwrap();
        let pool = db::connect_as_service(&system.settings.database, service)
            .await
            .unwrap();
        refused(
            sqlx::query(sqlx::AssertSqlSafe(format!("DELETE FROM {table}")))
                .execute(&pool)
                .await,
            &format!("{service} deletes from {table}"),
        );
        // ...which still reads them.
        sqlx::query(sqlx::AssertSqlSafe(format!("SELECT count(*) FROM {table}")))
            .execute(&pool)
            .await
            .unwrap_or_else(|e| panic!("{service} reads {table}: {e}"));
        pool.close().await;
    }

    // A service configured with another login (here the owner, a superuser) refuses to start.
    let mut as_owner = system.settings.database.clone();
    as_owner.logins.intake = as_owner.url.clone();
    let err = db::connect_as_service(&as_owner, "intake")
        .await
        .expect_err("intake refuses to run as the owner")
        .to_string();
    assert!(
        err.contains("as postgres (a superuser), not as refroute_intake"),
        "{err}"
    );

    assert_every_table_granted_to_its_service_alone(&system.pool).await;
    system.shutdown().await;
}

/// Every table and sequence in the four schemas, found in the catalogue rather than listed:
/// its service may read, add and update; no other service may do anything; and only the records
/// refuse deletion.
async fn assert_every_table_granted_to_its_service_alone(pool: &sqlx::PgPool) {
    let tables: Vec<(String, String, String)> = sqlx::query_as(
        "SELECT n.nspname::text, n.nspname || '.' || c.relname, c.relkind::text \
         FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace \
         WHERE n.nspname = ANY($1) AND c.relkind IN ('r', 'p', 'S') ORDER BY 2",
    )
    .bind(&SCHEMAS[..])
    .fetch_all(pool)
    .await
    .unwrap();
    assert!(
        tables.len() > 20,
        "only {} tables and sequences",
        tables.len()
    );
    let mut problems = Vec::new();
    for (schema, table, kind) in &tables {
        for service in SCHEMAS {
            let role = format!("refroute_{service}");
            let own = *schema == service;
            let rights: &[(&str, bool)] = if kind == "S" {
                &[("USAGE", own), ("SELECT", own), ("UPDATE", false)]
            } else {
                let delete = own && !RECORDS.contains(&table.as_str());
                &[
                    ("SELECT", own),
                    ("INSERT", own),
                    ("UPDATE", own),
                    ("DELETE", delete),
                    ("TRUNCATE", false),
                    ("REFERENCES", false),
                    ("TRIGGER", false),
                ]
            };
            for (right, want) in rights {
                let check = if kind == "S" {
                    "SELECT has_sequence_privilege($1, $2, $3)"
                } else {
                    "SELECT has_table_privilege($1, $2, $3)"
                };
                let (has,): (bool,) = sqlx::query_as(check)
                    .bind(&role)
                    .bind(table)
                    .bind(right)
                    .fetch_one(pool)
                    .await
                    .unwrap();
                if has != *want {
                    problems.push(format!("{role} {right} on {table}: {has}, want {want}"));
                }
            }
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

/// A table added by another role than the one that ran the first migrations (a migrator that
/// is not the superuser) gets no rights from ALTER DEFAULT PRIVILEGES; `refroute migrate`
/// grants them all the same.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tables_created_by_another_role_are_granted_after_migrating() {
    let system = spawn_system().await;
    let migrator = format!("migrator_{}", &system.db_name["refroute_test_".len()..]);
    // One session: SET ROLE holds for the statement after it.
    sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
        "CREATE ROLE {migrator} NOSUPERUSER; \
         GRANT USAGE, CREATE ON SCHEMA triage TO {migrator}; \
         SET ROLE {migrator}; \
         CREATE TABLE triage.later_addition (id bigserial PRIMARY KEY, note text); \
         RESET ROLE"
    )))
    .execute(&system.pool)
    .await
    .unwrap();
    let granted = || async {
        let (has,): (bool,) = sqlx::query_as(
            "SELECT has_table_privilege('refroute_triage', 'triage.later_addition', 'INSERT')",
        )
        .fetch_one(&system.pool)
        .await
        .unwrap();
        has
    };
    assert!(!granted().await, "the gap this test is about");
    db::migrate(&system.pool).await.unwrap();
    assert!(granted().await);
    assert_every_table_granted_to_its_service_alone(&system.pool).await;
    sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
        "DROP TABLE triage.later_addition; REVOKE ALL ON SCHEMA triage FROM {migrator}; \
         DROP ROLE {migrator}"
    )))
    .execute(&system.pool)
    .await
    .unwrap();
    system.shutdown().await;
}

/// Every service logs in to the broker as its own user: the system routes end to end, each user
/// is refused another service's queues (and every dead-letter queue), and a consumer refuses an
/// event published by any other user than the service that owns its routing key.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_services_broker_user_consumes_its_own_queues_only() {
    let system = spawn_system_with_own_broker_users(|_| {}).await;
    let routed = system.decide(Sample::new("Bea Brokered").yes(16)).await;
    assert_eq!(
        routed.status(),
        ReferralStatus::Routed,
        "{:?}",
        routed.decision
    );
    let amqp = &system.settings.amqp;

    for service in SCHEMAS {
        let conn = Connection::connect(
            amqp.uri_for(service).expose(),
            ConnectionProperties::default(),
        )
        .await
        .unwrap_or_else(|e| panic!("{service} logs in to the broker: {e}"));
        let theirs = QUEUES
            .iter()
            .filter(|q| !q.name.starts_with(&format!("{service}.")))
            .map(|q| q.name.to_string());
        let dead_letters = QUEUES.iter().map(|q| dead_letter_queue(q.name));
        for queue in theirs.chain(dead_letters) {
            // A refusal closes the channel: a fresh one each time.
            let channel = conn.create_channel().await.unwrap();
            let err = channel
                .basic_consume(
                    ShortString::from(queue.as_str()),
                    ShortString::from(""),
                    BasicConsumeOptions::default(),
                    FieldTable::default(),
                )
                .await
                .err()
                .unwrap_or_else(|| panic!("{service}'s user consumed {queue}"));
            assert!(
                err.to_string().contains("ACCESS_REFUSED"),
                "{service} -> {queue}: {err}"
            );
        }
        let _ = conn.close(200, ShortString::from("done")).await;
    }

    // The referral's own referral.received, as intake published it.
    let (message_id, sealed): (uuid::Uuid, Vec<u8>) = sqlx::query_as(
        "SELECT message_id, payload FROM intake.outbox WHERE routing_key = 'referral.received.v1'",
    )
    .fetch_one(&system.pool)
    .await
    .unwrap();
    let sealer = refroute_platform::keys::load(&system.settings)
        .unwrap()
        .sealer;
    let payload = sealer.open(&message_id.to_string(), &sealed).unwrap();
    let publish_as = |service: &'static str, user_id: String| {
        let payload = payload.clone();
        let uri = amqp.uri_for(service).expose().to_string();
        let exchange = amqp.exchange.clone();
        async move {
            let conn = Connection::connect(&uri, ConnectionProperties::default()).await?;
            let channel = conn.create_channel().await?;
            channel
                .confirm_select(ConfirmSelectOptions::default())
                .await?;
            let id = uuid::Uuid::now_v7();
            let confirm = channel
                .basic_publish(
                    ShortString::from(exchange.as_str()),
                    ShortString::from("referral.received.v1"),
                    BasicPublishOptions {
                        mandatory: true,
                        ..Default::default()
                    },
                    &payload,
                    BasicProperties::default()
                        .with_message_id(ShortString::from(id.to_string()))
                        .with_type(ShortString::from("refroute.v1.ReferralReceived"))
                        .with_user_id(ShortString::from(user_id.as_str())),
                )
                .await?
                .await?;
            assert!(confirm.is_ack(), "{confirm:?}");
            let _ = conn.close(200, ShortString::from("done")).await;
            anyhow::Ok(id)
        }
    };
    let user = |service: &str| amqp.users.get(service).unwrap().clone();
    let applied = |id: uuid::Uuid| {
        let pool = system.pool.clone();
        async move {
            let (n,): (i64,) =
                sqlx::query_as("SELECT count(*) FROM triage.inbox WHERE message_id = $1")
                    .bind(id)
                    .fetch_one(&pool)
                    .await
                    .unwrap();
            n
        }
    };
    let dlq = dead_letter_queue(topology::TRIAGE_REFERRAL_RECEIVED.name);

    // RabbitMQ itself refuses a user_id that is not the connection's user.
    let err = publish_as("triage", user("intake"))
        .await
        .expect_err("triage's user passes as intake's");
    assert!(
        format!("{err:#}").contains("PRECONDITION_FAILED"),
        "{err:#}"
    );

    // Triage's user may publish to the exchange, but referral.received is intake's to publish:
    // triage's consumer dead-letters it without applying it.
    let forged = publish_as("triage", user("triage")).await.unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while system.queue_depth(&dlq).await.unwrap().0 < 1 {
        assert!(
            std::time::Instant::now() < deadline,
            "nothing dead-lettered"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(applied(forged).await, 0);

    // The same bytes from intake's user are taken (a repeat of a decided referral: acked, and
    // recorded in the inbox), so the refusal above was of the publisher alone.
    let genuine = publish_as("intake", user("intake")).await.unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while applied(genuine).await == 0 {
        assert!(std::time::Instant::now() < deadline, "not applied");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(system.queue_depth(&dlq).await.unwrap().0, 1);

    system.shutdown().await;
}
