#[tokio::main]
async fn main() -> anyhow::Result<()> {
    refroute_platform::service::launch(|s| &s.notification, refroute_notification::run).await
}
