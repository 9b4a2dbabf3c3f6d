#[tokio::main]
async fn main() -> anyhow::Result<()> {
    refroute_platform::service::launch(
        "notification",
        |s| &s.notification,
        refroute_notification::run,
    )
    .await
}
