use anyhow::Context;
use refroute_platform::{Settings, db, service, shutdown, telemetry};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let settings = Settings::load().context("loading configuration")?;
    telemetry::init(&settings.telemetry);
    let pool = db::connect(&settings.database)
        .await
        .context("connecting to PostgreSQL")?;
    let listener = service::bind(&settings.intake.grpc_addr).await?;
    refroute_intake::run(settings, pool, listener, shutdown::on_signal()).await
}
