//! SQLite WAL checkpoints off the write path.
//!
//! With SQLite's default, the connection that commits past 1,000 WAL pages copies them into the database
//! file inside that commit: the click writer or the delivery engine stalls for it, and hot index pages are
//! copied again at every checkpoint. Here automatic checkpoints are off and a background task checkpoints
//! passively (never blocking the writer) every few hundred milliseconds from a reader connection.
//!
//! The WAL starts over from its beginning only when a write begins with every frame copied, which under
//! steady writes almost never happens: some commit always lands while the reader's checkpoint runs. A
//! `RESTART` checkpoint forces it but holds the write lock while it waits for readers, and the writer
//! then sleeps in SQLite's busy handler (1, 2, 5, 10, 15 ms…): that was the delivery latency's tail.
//! Instead, once the WAL is large, a second passive checkpoint runs on the writer connection itself, in
//! turn with the writes: it only has the frames committed since the first one to copy, leaves nothing
//! behind, and the next write starts the WAL over. Nothing ever waits on a lock.

use std::time::Duration;

use sqlx::{AnyPool, Row};

const INTERVAL: Duration = Duration::from_millis(250);
/// WAL frames (pages) after which the writer connection finishes the checkpoint: 4,096 pages of 4 KiB
/// = 16 MiB, so a quiet database rarely needs it and a busy one starts over a few times a second.
const FINISH_ON_WRITER_AFTER_FRAMES: i64 = 4_096;

pub(crate) fn spawn(reader: AnyPool, writer: AnyPool) {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(INTERVAL);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            if reader.is_closed() || writer.is_closed() {
                return;
            }
            match checkpoint(&reader, "PASSIVE").await {
                Ok(frames) if frames > FINISH_ON_WRITER_AFTER_FRAMES => {
                    match checkpoint(&writer, "PASSIVE").await {
                        Ok(_) => {}
                        Err(_) if writer.is_closed() => return,
                        Err(e) => tracing::warn!(error = %e, "WAL checkpoint on the writer failed"),
                    }
                }
                Ok(_) => {}
                Err(_) if reader.is_closed() => return,
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
