//! The storage floor: the CPU that SQLite alone spends storing clicks the way linkwire keeps them.
//!
//! Click rows and `link.clicked` events are copied from the redirect run's own database into a fresh
//! database (linkwire's schema, SQLite build and pragmas) with `INSERT … SELECT` in 1,024-click
//! transactions, checkpointed as the server does. No HTTP, no enrichment, no parameter binding: what it
//! costs is a lower bound on what linkwire's click writer can cost. It runs again without the event
//! indexes and without any secondary index, to show where that floor comes from.

use std::path::Path;

use anyhow::{Context, Result};
use linkwire_store::{Store, StoreOptions};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqliteSynchronous};
use sqlx::{Connection, Executor, SqliteConnection};

use crate::cpu;
use crate::redirect::thousands;

/// Clicks per transaction: the click writer's largest batch.
const BATCH: u64 = 1_024;
const BATCHES: u64 = 200;
/// Batches between passive checkpoints: the server checkpoints every 250 ms, about 20 batches at the
/// rates measured here.
const CHECKPOINT_EVERY: u64 = 20;
/// Turns each variant takes.
const ROUNDS: usize = 5;

struct Variant {
    label: &'static str,
    drop_indexes: &'static [&'static str],
}

const VARIANTS: [Variant; 3] = [
    Variant {
        label: "as linkwire stores it (click + event, 6 indexes)",
        drop_indexes: &[],
    },
    Variant {
        label: "without the 3 event indexes",
        drop_indexes: &["events_by_workspace", "events_by_type", "events_by_link"],
    },
    Variant {
        label: "without any secondary index",
        drop_indexes: &[
            "events_by_workspace",
            "events_by_type",
            "events_by_link",
            "clicks_by_link",
            "clicks_by_time",
        ],
    },
];

/// Measures and prints the floor; `source` is the data directory of the finished SQLite run. Returns the
/// median CPU µs per click of the schema as shipped.
pub(crate) async fn run(source: &Path) -> Result<f64> {
    println!(
        "  storage floor: SQLite alone, {BATCH} clicks of this run copied {BATCHES} times ({} clicks), one transaction per copy:",
        thousands(BATCH * BATCHES)
    );
    // The kernel's share (page cache writes, writeback) varies from run to run: the variants take
    // turns, and each prints its median.
    let mut samples = [const { Vec::new() }; VARIANTS.len()];
    let mut bytes = [0; VARIANTS.len()];
    for _ in 0..ROUNDS {
        for (i, variant) in VARIANTS.iter().enumerate() {
            let (cpu_us, size) = measure(source, variant).await?;
            samples[i].push(cpu_us);
            bytes[i] = size;
        }
    }
    for (i, variant) in VARIANTS.iter().enumerate() {
        let runs = &mut samples[i];
        runs.sort_by(f64::total_cmp);
        println!(
            "    {:<48} : {:5.1} µs CPU per click (runs {:.1}–{:.1}), {} bytes",
            variant.label,
            runs[runs.len() / 2],
            runs[0],
            runs[runs.len() - 1],
            thousands(bytes[i])
        );
    }
    let as_shipped = &samples[0];
    Ok(as_shipped[as_shipped.len() / 2])
}

/// Returns CPU µs per click and database bytes per click for one variant.
async fn measure(source: &Path, variant: &Variant) -> Result<(f64, u64)> {
    let dir = tempfile::Builder::new()
        .prefix("linkwire-floor-")
        .tempdir()?;
    // linkwire's own migrations make the schema.
    Store::open_sqlite_dir(dir.path(), &StoreOptions::default())
        .await
        .context("creating the floor database")?
        .close()
        .await;
    let db = dir.path().join("linkwire.db");
    // The pragmas of linkwire's connections: WAL, synchronous NORMAL, checkpoints by hand.
    let options = SqliteConnectOptions::new()
        .filename(&db)
        .journal_mode(SqliteJournalMode::Wal)
        .synchronous(SqliteSynchronous::Normal)
        .pragma("wal_autocheckpoint", "0")
        .pragma("temp_store", "MEMORY");
    let mut conn = SqliteConnection::connect_with(&options).await?;
    for index in variant.drop_indexes {
        conn.execute(format!("DROP INDEX {index}").as_str()).await?;
    }
    let source_db = source.join("linkwire.db");
    conn.execute(
        sqlx::query("ATTACH DATABASE ? AS src").bind(source_db.to_string_lossy().into_owned()),
    )
    .await?;
    conn.execute(sqlx::raw_sql(&format!(
        "CREATE TEMP TABLE te AS SELECT * FROM src.events WHERE type = 'link.clicked' ORDER BY id LIMIT {BATCH};
         CREATE TEMP TABLE tc AS SELECT * FROM src.clicks WHERE event_id IS NOT NULL ORDER BY id LIMIT {BATCH};"
    )))
    .await?;
    conn.execute("DETACH DATABASE src").await?;
    let (events, clicks, prefix): (i64, i64, String) = sqlx::query_as(
        "SELECT (SELECT COUNT(*) FROM temp.te), (SELECT COUNT(*) FROM temp.tc), \
         (SELECT substr(MIN(id), 1, 24) FROM temp.te)",
    )
    .fetch_one(&mut conn)
    .await?;
    anyhow::ensure!(
        events as u64 == BATCH && clicks as u64 == BATCH,
        "the redirect run stored fewer than {BATCH} human clicks"
    );

    // Ids and times grow from batch to batch, as the UUID v7 ids and click times of a live run do.
    let insert = |batch: u64| {
        let first = batch * BATCH;
        format!(
            "BEGIN;
             INSERT INTO events (id, organization_id, workspace_id, type, link_id, created_at, body)
               SELECT '{prefix}' || printf('%012x', {first} + rowid), organization_id, workspace_id, type,
                      link_id, created_at + {first} + rowid, body FROM temp.te;
             INSERT INTO clicks (link_id, workspace_id, clicked_at, touch_type, is_bot, country, device_category,
                      browser_family, os_family, referrer_host, social_source, utm_source, utm_medium,
                      utm_campaign, utm_term, utm_content, visitor_hash, event_id)
               SELECT link_id, workspace_id, clicked_at + {first} + rowid, touch_type, is_bot, country,
                      device_category, browser_family, os_family, referrer_host, social_source, utm_source,
                      utm_medium, utm_campaign, utm_term, utm_content, visitor_hash,
                      '{prefix}' || printf('%012x', {first} + rowid) FROM temp.tc;
             COMMIT;"
        )
    };
    let statements: Vec<String> = (0..BATCHES).map(insert).collect();

    let cpu_before = cpu::own_seconds()?;
    for (batch, sql) in statements.iter().enumerate() {
        conn.execute(sqlx::raw_sql(sql)).await?;
        if batch as u64 % CHECKPOINT_EVERY == CHECKPOINT_EVERY - 1 {
            conn.execute("PRAGMA wal_checkpoint(PASSIVE)").await?;
        }
    }
    conn.execute("PRAGMA wal_checkpoint(PASSIVE)").await?;
    let cpu = cpu::own_seconds()? - cpu_before;
    let pages: (i64, i64) = sqlx::query_as(
        "SELECT (SELECT page_count FROM pragma_page_count), (SELECT page_size FROM pragma_page_size)",
    )
    .fetch_one(&mut conn)
    .await?;
    conn.close().await?;
    let clicks = (BATCH * BATCHES) as f64;
    Ok((
        cpu / clicks * 1e6,
        (pages.0 * pages.1) as u64 / (BATCH * BATCHES),
    ))
}
