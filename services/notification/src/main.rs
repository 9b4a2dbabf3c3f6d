use anyhow::Context;
use refroute_platform::{Settings, db, service, shutdown, telemetry};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let settings = Settings::load().context("loading configuration")?;
    telemetry::init(&settings.telemetry);
    let pool = db::connect(&settings.database)
        .await
        .context("connecting to PostgreSQL")?;
    let listener = service::bind(&settings.notification.grpc_addr).await?;
    refroute_notification::run(settings, pool, listener, shutdown::on_signal()).await
}
