#[tokio::main]
async fn main() -> anyhow::Result<()> {
    refroute_platform::service::launch("triage", |s| &s.triage, refroute_triage::run).await
}
