//! WatchQueue never goes quiet about a lost case: when an announcement may have been missed (the
//! listening connection dropped, a queued case could not be read) the stream ends UNAVAILABLE
//! telling the coordinator to list the queue and watch again, and a watch opened while nothing
//! listens is refused at once.

use refroute_e2e::{CITY, Sample, TestSystem, spawn_system};
use refroute_proto::v1::{Case, ListQueueRequest, Panel, ReferralStatus, WatchQueueRequest};
use sqlx::{Connection, Executor, PgConnection};
use std::time::{Duration, Instant};
use tokio_stream::StreamExt;
use tonic::{Code, Status, Streaming};
use tonic_types::StatusExt;

async fn watch(system: &TestSystem) -> Result<Streaming<Case>, Status> {
    system
        .coordinator
        .clone()
        .watch_queue(WatchQueueRequest {
            area_code: CITY.into(),
            panel: Panel::Marac as i32,
        })
        .await
        .map(|r| r.into_inner())
}

/// The status a watcher must act on by listing its queue again.
fn assert_told_to_relist(status: &Status) {
    assert_eq!(status.code(), Code::Unavailable, "{status:?}");
    assert_eq!(
        status.get_details_error_info().expect("ErrorInfo").reason,
        "ANNOUNCEMENTS_MISSED",
        "{status:?}"
    );
    assert!(
        status
            .message()
            .contains("announcements may have been missed")
            && status.message().contains("list the queue and watch again"),
        "{status:?}"
    );
}

/// What the watcher hears within `within`: the case, the end of the stream, or silence.
async fn next_within(
    stream: &mut Streaming<Case>,
    within: Duration,
) -> Option<Result<Case, Status>> {
    match tokio::time::timeout(within, stream.next()).await {
        Ok(Some(next)) => Some(next),
        Ok(None) => panic!("the stream ended without a status"),
        Err(_) => None,
    }
}

async fn count(conn: &mut PgConnection, sql: &str) -> i64 {
    let (n,): (i64,) = sqlx::query_as(sqlx::AssertSqlSafe(sql.to_string()))
        .fetch_one(&mut *conn)
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"));
    n
}

/// Polls `sql` on `conn` until it counts at least one row.
async fn until_some(conn: &mut PgConnection, sql: &str, within: Duration) {
    let start = Instant::now();
    while count(conn, sql).await == 0 {
        assert!(
            start.elapsed() < within,
            "nothing for {sql} within {within:?}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// A session on the test's database, outside every service's pool.
async fn session(system: &TestSystem) -> PgConnection {
    PgConnection::connect(system.settings.database.url.expose())
        .await
        .expect("a session on the test database")
}

/// A session on the server's `postgres` database: a database cannot close its own doors.
async fn server_session(system: &TestSystem) -> PgConnection {
    let postgres = refroute_cli::migrate::with_database(&system.settings.database, "postgres");
    PgConnection::connect(postgres.url.expose())
        .await
        .expect("a session on the postgres database")
}

/// Watches until the service accepts the watch (it refuses while it is not listening).
async fn watch_again(system: &TestSystem) -> Streaming<Case> {
    let start = Instant::now();
    loop {
        match watch(system).await {
            Ok(stream) => return stream,
            Err(status) => {
                assert_told_to_relist(&status);
                assert!(
                    start.elapsed() < Duration::from_secs(30),
                    "not listening again within 30 s"
                );
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    }
}

/// After the watcher was told, a new watch is accepted again and carries the next case.
async fn watching_works_again(system: &TestSystem, name: &str) {
    let mut stream = watch_again(system).await;
    let next = system.decide(Sample::new(name).yes(16)).await;
    assert_eq!(next.status(), ReferralStatus::Routed);
    let case = next_within(&mut stream, Duration::from_secs(20))
        .await
        .expect("the next case")
        .expect("a case, not an error");
    assert_eq!(case.referral_id, next.id);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_watcher_is_told_when_the_listening_connection_drops() {
    let system = spawn_system().await;
    let mut watcher = watch(&system).await.expect("WatchQueue");
    let mut admin = session(&system).await;
    // Notification's listener is the one backend whose last statement was LISTEN.
    let listener = "SELECT count(*) FROM pg_stat_activity \
                    WHERE datname = current_database() AND query LIKE 'LISTEN%'";
    until_some(&mut admin, listener, Duration::from_secs(10)).await;

    // Hold notification's other connections in place, so that nothing idle is left in its pool
    // for a listener to take: its relay waits on the outbox, and the case below waits on the
    // queue, until released.
    let mut queue_lock = session(&system).await;
    let mut outbox_lock = session(&system).await;
    queue_lock
        .execute("BEGIN; LOCK TABLE notification.queue_cases IN ACCESS EXCLUSIVE MODE")
        .await
        .unwrap();
    outbox_lock
        .execute("BEGIN; LOCK TABLE notification.outbox IN ACCESS EXCLUSIVE MODE")
        .await
        .unwrap();
    let routed = system.decide(Sample::new("Gail Gap").yes(16)).await;
    assert_eq!(routed.status(), ReferralStatus::Routed);
    let waiting = |what: &str| {
        format!(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() \
             AND wait_event_type = 'Lock' AND query LIKE '{what}'"
        )
    };
    until_some(
        &mut admin,
        &waiting("INSERT INTO notification.queue_cases%"),
        Duration::from_secs(20),
    )
    .await;
    until_some(
        &mut admin,
        &waiting("%FROM notification.outbox%"),
        Duration::from_secs(20),
    )
    .await;

    // Drop the listening connection, and let nobody connect (superusers included), so the
    // listener cannot come back while the case is announced.
    let database = &system.db_name;
    let mut server = server_session(&system).await;
    server
        .execute(sqlx::AssertSqlSafe(format!(
            "ALTER DATABASE \"{database}\" WITH ALLOW_CONNECTIONS false"
        )))
        .await
        .unwrap();
    let (killed,): (i64,) = sqlx::query_as(
        "SELECT count(*) FROM (SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
         WHERE datname = current_database() AND query LIKE 'LISTEN%') AS t",
    )
    .fetch_one(&mut admin)
    .await
    .unwrap();
    assert_eq!(killed, 1, "one listener");
    tokio::time::sleep(Duration::from_millis(500)).await;

    // A coordinator who starts watching now is told at once.
    let refused = watch(&system)
        .await
        .expect_err("a watch opened while nothing listens is refused");
    assert_told_to_relist(&refused);

    // The case is queued and announced while nothing listens.
    queue_lock.execute("ROLLBACK").await.unwrap();
    let queued = format!(
        "SELECT count(*) FROM notification.queue_cases WHERE referral_id = '{}'",
        routed.id
    );
    until_some(&mut admin, &queued, Duration::from_secs(20)).await;
    outbox_lock.execute("ROLLBACK").await.unwrap();
    server
        .execute(sqlx::AssertSqlSafe(format!(
            "ALTER DATABASE \"{database}\" WITH ALLOW_CONNECTIONS true"
        )))
        .await
        .unwrap();

    // The watcher hears of the case, or is told to list: never silence.
    match next_within(&mut watcher, Duration::from_secs(20)).await {
        Some(Ok(case)) => assert_eq!(case.referral_id, routed.id),
        Some(Err(status)) => assert_told_to_relist(&status),
        None => panic!("the watcher was never told of case {}", routed.id),
    }
    // Listing, as told, finds the case.
    let listed = system.queue(CITY).await;
    assert!(listed.iter().any(|c| c.referral_id == routed.id));
    watching_works_again(&system, "Gwen Again").await;
    system.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_watcher_is_told_when_an_announced_case_cannot_be_read() {
    let system = spawn_system().await;
    let mut watcher = watch(&system).await.expect("WatchQueue");
    let mut admin = session(&system).await;
    // Every case queued from now on is stored unreadable, as one sealed under another key is.
    admin
        .execute(
            "CREATE FUNCTION notification.spoil() RETURNS trigger LANGUAGE plpgsql AS \
             $$ BEGIN NEW.sealed_case := '\\x00'::bytea; RETURN NEW; END $$; \
             CREATE TRIGGER spoil BEFORE INSERT ON notification.queue_cases \
             FOR EACH ROW EXECUTE FUNCTION notification.spoil()",
        )
        .await
        .unwrap();
    let routed = system.decide(Sample::new("Una Unreadable").yes(16)).await;
    assert_eq!(routed.status(), ReferralStatus::Routed);
    match next_within(&mut watcher, Duration::from_secs(20)).await {
        Some(Err(status)) => assert_told_to_relist(&status),
        Some(Ok(case)) => panic!("an unreadable case was read: {}", case.referral_id),
        None => panic!("the watcher was never told of case {}", routed.id),
    }
    // Listing it is a server fault, not a reason to retry.
    let listed = system
        .coordinator
        .clone()
        .list_queue(ListQueueRequest {
            area_code: CITY.into(),
            panel: Panel::Marac as i32,
            ..Default::default()
        })
        .await
        .expect_err("an unreadable case cannot be listed");
    assert_eq!(listed.code(), Code::Internal, "{listed:?}");
    assert_eq!(
        listed.get_details_error_info().unwrap().reason,
        "CASE_UNREADABLE"
    );
    admin
        .execute(
            "DROP TRIGGER spoil ON notification.queue_cases; \
             DELETE FROM notification.queue_cases WHERE sealed_case = '\\x00'::bytea",
        )
        .await
        .unwrap();
    watching_works_again(&system, "Una Again").await;
    system.shutdown().await;
}
