//! PostgreSQL pool and the migrations that create each service's schema.

use crate::settings::DatabaseSettings;
use sqlx::PgPool;
use sqlx::postgres::PgPoolOptions;
use std::time::Duration;

/// Every service's schema: `intake`, `triage`, `transfer`, `notification`. One migration set so a
/// fresh database is one command away; each service still reads and writes only its own schema.
pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("../../migrations");

pub async fn connect(settings: &DatabaseSettings) -> Result<PgPool, sqlx::Error> {
    PgPoolOptions::new()
        .max_connections(settings.max_connections)
        .acquire_timeout(Duration::from_secs(5))
        .connect(settings.url.expose())
        .await
}

/// A pool whose every connection acts as `refroute_<service>`, which may touch only that
/// service's schema (see the service_roles migration). The configured user must be allowed to
/// `SET ROLE` to it (a superuser, or a member of the role).
pub async fn connect_as_service(
    settings: &DatabaseSettings,
    service: &'static str,
) -> Result<PgPool, sqlx::Error> {
    PgPoolOptions::new()
        .max_connections(settings.max_connections)
        .acquire_timeout(Duration::from_secs(5))
        .after_connect(move |conn, _| {
            Box::pin(async move {
                sqlx::query(sqlx::AssertSqlSafe(format!("SET ROLE refroute_{service}")))
                    .execute(conn)
                    .await?;
                Ok(())
            })
        })
        .connect(settings.url.expose())
        .await
}

pub async fn migrate(pool: &PgPool) -> Result<(), sqlx::migrate::MigrateError> {
    MIGRATOR.run(pool).await
}
