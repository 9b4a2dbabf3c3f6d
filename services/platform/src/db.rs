//! PostgreSQL pools, the migrations that create each service's schema, and the grants that give
//! each service's login its own schema and nothing else.

use crate::settings::DatabaseSettings;
use sqlx::PgPool;
use sqlx::postgres::PgPoolOptions;
use std::time::Duration;

/// Every service's schema: `intake`, `triage`, `transfer`, `notification`. One migration set so a
/// fresh database is one command away; each service still reads and writes only its own schema.
pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("../../migrations");

/// Each service's rights, restated in full after every migration run (see the file).
pub const PRIVILEGES: &str = include_str!("../../../migrations/privileges.sql");

/// The services that log in to the database, each as `refroute_<service>`.
pub const SERVICES: [&str; 4] = ["intake", "triage", "transfer", "notification"];

pub async fn connect(settings: &DatabaseSettings) -> Result<PgPool, sqlx::Error> {
    PgPoolOptions::new()
        .max_connections(settings.max_connections)
        .acquire_timeout(Duration::from_secs(5))
        .connect(settings.url.expose())
        .await
}

/// The role `service` logs in as.
pub fn service_role(service: &str) -> String {
    format!("refroute_{service}")
}

/// The URL `service` logs in with: its own from `database.logins`, or else `database.url` with
/// the user replaced by the service's role and the password dropped (the owner's password is
/// never offered for another role). `None` if `database.url` is not a URL.
pub fn service_url(settings: &DatabaseSettings, service: &str) -> Option<String> {
    match settings.logins.get(service) {
        Some(own) if !own.expose().is_empty() => Some(own.expose().to_string()),
        _ => with_user(settings.url.expose(), &service_role(service)),
    }
}

/// `scheme://[user[:password]@]rest` with `user@` in place of the user and password.
fn with_user(url: &str, user: &str) -> Option<String> {
    let (scheme, after) = url.split_once("://")?;
    let authority_end = after.find(['/', '?']).unwrap_or(after.len());
    let host_start = after[..authority_end].rfind('@').map_or(0, |at| at + 1);
    Some(format!("{scheme}://{user}@{}", &after[host_start..]))
}

#[derive(Debug, thiserror::Error)]
pub enum LoginError {
    #[error("database.url is not a URL, so no login can be derived for {0}")]
    NoUrl(String),
    #[error("cannot log in to PostgreSQL as {role}: {source}")]
    Connect {
        role: String,
        #[source]
        source: sqlx::Error,
    },
    #[error(
        "{service} logged in to PostgreSQL as {actual}{superuser}, not as {role}: a service runs \
         with its own schema's rights only (set database.logins.{service} to {role}'s URL)"
    )]
    WrongRole {
        service: String,
        role: String,
        actual: String,
        superuser: &'static str,
    },
}

/// A pool that is logged in as `refroute_<service>` (see `migrations/privileges.sql`), which may
/// touch only that service's schema. Refuses any other login, a superuser above all: a service
/// that could `RESET ROLE` or `SET ROLE` its way out would have no boundary.
pub async fn connect_as_service(
    settings: &DatabaseSettings,
    service: &str,
) -> Result<PgPool, LoginError> {
    let role = service_role(service);
    let url = service_url(settings, service).ok_or_else(|| LoginError::NoUrl(service.into()))?;
    let connect = |source| LoginError::Connect {
        role: role.clone(),
        source,
    };
    let pool = PgPoolOptions::new()
        .max_connections(settings.max_connections)
        .acquire_timeout(Duration::from_secs(5))
        .connect(&url)
        .await
        .map_err(connect)?;
    let (actual, superuser): (String, bool) = sqlx::query_as(
        "SELECT session_user::text, rolsuper FROM pg_roles WHERE rolname = session_user",
    )
    .fetch_one(&pool)
    .await
    .map_err(connect)?;
    if actual != role || superuser {
        pool.close().await;
        return Err(LoginError::WrongRole {
            service: service.into(),
            role,
            actual,
            superuser: if superuser { " (a superuser)" } else { "" },
        });
    }
    Ok(pool)
}

/// Applies the migrations, then restates every service's rights (`migrations/privileges.sql`),
/// so that which role ran which migration makes no difference to who may do what.
pub async fn migrate(pool: &PgPool) -> Result<(), sqlx::migrate::MigrateError> {
    MIGRATOR.run(pool).await?;
    sqlx::raw_sql(sqlx::AssertSqlSafe(PRIVILEGES))
        .execute(pool)
        .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Secret;

    fn settings(url: &str) -> DatabaseSettings {
        DatabaseSettings {
            url: Secret::new(url),
            max_connections: 1,
            logins: Default::default(),
        }
    }

    #[test]
    fn a_derived_login_is_the_services_role_without_the_owners_password() {
        let s =
            settings("postgres://postgres:owner-secret@db.example:5432/refroute?sslmode=require");
        assert_eq!(
            service_url(&s, "triage").as_deref(),
            Some("postgres://refroute_triage@db.example:5432/refroute?sslmode=require")
        );
        let s = settings("postgres://127.0.0.1/refroute");
        assert_eq!(
            service_url(&s, "intake").as_deref(),
            Some("postgres://refroute_intake@127.0.0.1/refroute")
        );
        // An '@' in the query is not a user.
        let s = settings("postgres://h/db?options=a@b");
        assert_eq!(
            service_url(&s, "intake").as_deref(),
            Some("postgres://refroute_intake@h/db?options=a@b")
        );
        assert_eq!(service_url(&settings("refroute"), "intake"), None);
    }

    #[test]
    fn a_configured_login_wins() {
        let mut s = settings("postgres://postgres@h/refroute");
        s.logins.transfer = Secret::new("postgres://refroute_transfer:pw@other/refroute");
        assert_eq!(
            service_url(&s, "transfer").as_deref(),
            Some("postgres://refroute_transfer:pw@other/refroute")
        );
        assert_eq!(
            service_url(&s, "intake").as_deref(),
            Some("postgres://refroute_intake@h/refroute")
        );
    }
}
