#[tokio::main]
async fn main() -> anyhow::Result<()> {
    refroute_platform::service::launch(|s| &s.intake, refroute_intake::run).await
}
