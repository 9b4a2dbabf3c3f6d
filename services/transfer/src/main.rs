#[tokio::main]
async fn main() -> anyhow::Result<()> {
    refroute_platform::service::launch("transfer", |s| &s.transfer, refroute_transfer::run).await
}
