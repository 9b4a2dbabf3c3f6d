#[tokio::main]
async fn main() -> anyhow::Result<()> {
    refroute_platform::service::launch(|s| &s.transfer, refroute_transfer::run).await
}
