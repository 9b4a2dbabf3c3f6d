//! `refroute bench`: end-to-end throughput and latency of the running system. It watches the
//! receiving area's MARAC queue, posts high-risk referrals from several concurrent clients, and
//! times each from the CreateReferral call to the case reaching the coordinator's stream.

use crate::sample::Sample;
use anyhow::{Context, bail};
use futures_util::StreamExt;
use refroute_proto::v1::coordinator_service_client::CoordinatorServiceClient;
use refroute_proto::v1::intake_service_client::IntakeServiceClient;
use refroute_proto::v1::{Panel, WatchQueueRequest};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tonic::transport::Channel;

pub struct Report {
    pub referrals: usize,
    pub elapsed: Duration,
    pub create: Vec<Duration>,
    pub end_to_end: Vec<Duration>,
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let rank = ((p / 100.0) * (sorted.len() - 1) as f64).round() as usize;
    sorted[rank.min(sorted.len() - 1)]
}

impl Report {
    pub fn print(&mut self, out: &mut dyn std::io::Write) -> std::io::Result<()> {
        self.create.sort();
        self.end_to_end.sort();
        let ms = |d: Duration| d.as_secs_f64() * 1000.0;
        writeln!(out, "referrals routed:       {}", self.referrals)?;
        writeln!(
            out,
            "wall time:              {:.2} s",
            self.elapsed.as_secs_f64()
        )?;
        writeln!(
            out,
            "throughput:             {:.1} referrals/s (received -> triaged -> queued)",
            self.referrals as f64 / self.elapsed.as_secs_f64()
        )?;
        for (name, v) in [
            ("CreateReferral", &self.create),
            ("end to end", &self.end_to_end),
        ] {
            writeln!(
                out,
                "{name:<15} latency  p50 {:.1} ms  p90 {:.1} ms  p99 {:.1} ms  max {:.1} ms",
                ms(percentile(v, 50.0)),
                ms(percentile(v, 90.0)),
                ms(percentile(v, 99.0)),
                ms(*v.last().unwrap_or(&Duration::ZERO))
            )?;
        }
        Ok(())
    }
}

pub async fn run(
    intake: IntakeServiceClient<Channel>,
    mut coordinator: CoordinatorServiceClient<Channel>,
    area: &str,
    referrals: usize,
    concurrency: usize,
) -> anyhow::Result<Report> {
    let mut stream = coordinator
        .watch_queue(WatchQueueRequest {
            area_code: area.into(),
            panel: Panel::Marac as i32,
        })
        .await?
        .into_inner();
    let started: Arc<Mutex<HashMap<String, Instant>>> = Arc::default();
    let tag = uuid::Uuid::now_v7().simple().to_string();
    let begin = Instant::now();

    let mut posters = Vec::new();
    for worker in 0..concurrency.max(1) {
        let mut intake = intake.clone();
        let started = started.clone();
        let tag = tag.clone();
        let area = area.to_string();
        posters.push(tokio::spawn(async move {
            let mut create = Vec::new();
            for i in (worker..referrals).step_by(concurrency.max(1)) {
                let request = Sample::new(format!("Bench {tag} {i}"))
                    .yes(16)
                    .lives_in(&area)
                    .request();
                let t0 = Instant::now();
                let created = intake.create_referral(request).await?.into_inner();
                create.push(t0.elapsed());
                started.lock().expect("lock").insert(created.id, t0);
            }
            anyhow::Ok(create)
        }));
    }
    finish(begin, referrals, posters, &mut stream, started).await
}

async fn finish(
    begin: Instant,
    referrals: usize,
    posters: Vec<tokio::task::JoinHandle<anyhow::Result<Vec<Duration>>>>,
    stream: &mut tonic::Streaming<refroute_proto::v1::Case>,
    started: Arc<Mutex<HashMap<String, Instant>>>,
) -> anyhow::Result<Report> {
    let mut end_to_end = Vec::with_capacity(referrals);
    let deadline = Duration::from_secs(30 + referrals as u64 / 10);
    while end_to_end.len() < referrals {
        let case = tokio::time::timeout(deadline, stream.next())
            .await
            .context("cases stopped arriving")?
            .context("watch stream ended")??;
        let arrived = Instant::now();
        // A case can arrive before its poster has recorded the start; wait for it.
        let t0 = loop {
            if let Some(t0) = started.lock().expect("lock").remove(&case.referral_id) {
                break Some(t0);
            }
            if posters.iter().all(|p| p.is_finished()) {
                break None;
            }
            tokio::task::yield_now().await;
        };
        if let Some(t0) = t0 {
            end_to_end.push(arrived - t0);
        }
    }
    let elapsed = begin.elapsed();
    let mut create = Vec::new();
    for p in posters {
        create.extend(p.await??);
    }
    if create.len() != referrals {
        bail!("posted {} of {referrals}", create.len());
    }
    Ok(Report {
        referrals,
        elapsed,
        create,
        end_to_end,
    })
}
