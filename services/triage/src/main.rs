#[tokio::main]
async fn main() -> anyhow::Result<()> {
    refroute_platform::service::launch(|s| &s.triage, refroute_triage::run).await
}
