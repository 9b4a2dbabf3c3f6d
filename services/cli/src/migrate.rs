//! `refroute migrate`: creates the database if it is missing, then applies the migrations.

use anyhow::Context;
use refroute_platform::settings::DatabaseSettings;
use refroute_platform::{Secret, db};
use sqlx::Connection;

/// `postgres://server/name?query` as (server, name, query).
fn split_url(url: &str) -> Option<(&str, &str, Option<&str>)> {
    let (base, query) = match url.split_once('?') {
        Some((b, q)) => (b, Some(q)),
        None => (url, None),
    };
    let (server, name) = base.rsplit_once('/')?;
    if name.is_empty() || server.ends_with('/') {
        return None;
    }
    Some((server, name, query))
}

/// The same server and options with another database name.
fn url_for(url: &str, database: &str) -> Option<String> {
    let (server, _, query) = split_url(url)?;
    Some(match query {
        Some(q) => format!("{server}/{database}?{q}"),
        None => format!("{server}/{database}"),
    })
}

/// The URL of the server's `postgres` maintenance database, and the configured database's name.
fn maintenance_url(url: &str) -> Option<(String, String)> {
    let (_, name, _) = split_url(url)?;
    Some((url_for(url, "postgres")?, name.to_string()))
}

pub async fn ensure_database(settings: &DatabaseSettings) -> anyhow::Result<()> {
    let url = settings.url.expose();
    let (admin, name) = maintenance_url(url).context("database.url has no database name")?;
    let mut conn = sqlx::PgConnection::connect(&admin)
        .await
        .context("connecting to the PostgreSQL server")?;
    let exists: Option<(i32,)> = sqlx::query_as("SELECT 1 FROM pg_database WHERE datname = $1")
        .bind(&name)
        .fetch_optional(&mut conn)
        .await?;
    if exists.is_none() {
        let quoted = format!("\"{}\"", name.replace('"', "\"\""));
        sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {quoted}")))
            .execute(&mut conn)
            .await
            .with_context(|| format!("creating database {name}"))?;
    }
    Ok(())
}

pub async fn run(settings: &DatabaseSettings) -> anyhow::Result<()> {
    ensure_database(settings).await?;
    let pool = db::connect(settings)
        .await
        .context("connecting to the database")?;
    db::migrate(&pool).await.context("applying migrations")?;
    Ok(())
}

/// Settings for a named database on the configured server (tests make one per test).
pub fn with_database(settings: &DatabaseSettings, name: &str) -> DatabaseSettings {
    let url = url_for(settings.url.expose(), name).expect("database.url has a database name");
    let mut logins = settings.logins.clone();
    for service in db::SERVICES {
        if let Some(login) = logins.get_mut(service)
            && !login.expose().is_empty()
        {
            let moved = url_for(login.expose(), name).expect("a login URL has a database name");
            *login = Secret::new(moved);
        }
    }
    DatabaseSettings {
        url: Secret::new(url),
        max_connections: settings.max_connections,
        logins,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_database_name() {
        assert_eq!(
            maintenance_url("postgres://u@h:5432/refroute?sslmode=disable"),
            Some((
                "postgres://u@h:5432/postgres?sslmode=disable".into(),
                "refroute".into()
            ))
        );
        assert_eq!(maintenance_url("postgres://u@h:5432/"), None);
        assert_eq!(
            url_for("postgres://postgres@h/refroute", "t1").as_deref(),
            Some("postgres://postgres@h/t1")
        );
    }
}
