//! Click-data retention (contract §1): a background task deletes clicks older than their organization
//! plan's retention (14 / 60 / 120 / 270 / 540 days), with the click events they produced and those
//! events' deliveries and attempts. It runs at start and then every `prune_interval`.

use std::sync::Arc;
use std::time::Duration;

use linkwire_contract::{Clock, Timestamp};
use linkwire_store::{Pruned, Store};
use tokio::task::JoinHandle;

use crate::metrics::Metrics;

/// Clicks per transaction. A step also deletes every delivery and attempt of those clicks' events, so
/// with many endpoints it is larger than it looks; after each step the task rests as long as the step
/// took, so pruning never holds more than half of the one SQLite writer's time.
const CHUNK: u32 = 500;

/// Starts the task; abort the handle to stop it (an interrupted step rolls back).
pub fn spawn(
    store: Store,
    clock: Arc<dyn Clock>,
    metrics: Arc<Metrics>,
    every: Duration,
) -> JoinHandle<()> {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(every);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            match prune_once(&store, clock.now()).await {
                Ok(pruned) => {
                    metrics.clicks_pruned.inc_by(pruned.clicks);
                    metrics.click_events_pruned.inc_by(pruned.events);
                    if pruned != Pruned::default() {
                        tracing::info!(
                            clicks = pruned.clicks,
                            events = pruned.events,
                            deliveries = pruned.deliveries,
                            attempts = pruned.attempts,
                            "pruned click data past its plan's retention"
                        );
                    }
                }
                Err(e) => {
                    tracing::warn!(error = %e, "pruning click data failed; next try at the next interval")
                }
            }
        }
    })
}

/// One pass over every workspace: deletes what is past its plan's retention at `now`. A workspace whose
/// pruning fails is logged and skipped; the others are still pruned.
pub async fn prune_once(store: &Store, now: Timestamp) -> linkwire_store::Result<Pruned> {
    let mut total = Pruned::default();
    for (workspace, plan) in store.workspace_plans().await? {
        let cutoff = now - chrono::Duration::days(i64::from(plan.click_retention_days()));
        loop {
            let started = std::time::Instant::now();
            match store.prune_clicks(workspace, cutoff, CHUNK).await {
                Ok((step, more)) => {
                    total += step;
                    if !more || step.clicks == 0 {
                        break;
                    }
                }
                Err(e) => {
                    tracing::warn!(error = %e, %workspace, "pruning a workspace's click data failed");
                    break;
                }
            }
            tokio::time::sleep(started.elapsed()).await;
        }
    }
    Ok(total)
}
