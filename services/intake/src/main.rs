#[tokio::main]
async fn main() -> anyhow::Result<()> {
    refroute_platform::service::launch("intake", |s| &s.intake, refroute_intake::run).await
}
