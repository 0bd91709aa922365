//! SQLite WAL checkpoints off the write path.
//!
//! With SQLite's default, the connection that commits past 1,000 WAL pages copies them into the database
//! file inside that commit: the click writer or the delivery engine stalls for it, and hot index pages are
//! copied again at every checkpoint. Here automatic checkpoints are off and a background task checkpoints
//! passively (never blocking the writer) every few hundred milliseconds from a reader connection. Under
//! sustained writes the WAL can only restart once everything is copied, so past a size limit one
//! `RESTART` checkpoint (which waits for the current write) lets it start over.

use std::time::Duration;

use sqlx::{AnyPool, Row};

const INTERVAL: Duration = Duration::from_millis(250);
/// WAL frames (pages) after which a blocking restart is worth it: 32,768 pages of 4 KiB = 128 MiB.
const RESTART_AFTER_FRAMES: i64 = 32_768;

pub(crate) fn spawn(pool: AnyPool) {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(INTERVAL);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            if pool.is_closed() {
                return;
            }
            match checkpoint(&pool, "PASSIVE").await {
                Ok(frames) if frames > RESTART_AFTER_FRAMES => {
                    if let Err(e) = checkpoint(&pool, "RESTART").await {
                        tracing::warn!(error = %e, "WAL restart checkpoint failed");
                    }
                }
                Ok(_) => {}
                Err(_) if pool.is_closed() => return,
                Err(e) => tracing::warn!(error = %e, "WAL checkpoint failed"),
            }
        }
    });
}

/// Runs one checkpoint; returns the WAL's size in frames.
async fn checkpoint(pool: &AnyPool, mode: &str) -> Result<i64, sqlx::Error> {
    let row = sqlx::query(&format!("PRAGMA wal_checkpoint({mode})"))
        .fetch_one(pool)
        .await?;
    row.try_get::<i64, _>(1)
}
