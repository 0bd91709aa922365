//! Versioned migrations, one list per backend. Safe when several nodes start at once: PostgreSQL holds an
//! advisory lock for the run; SQLite serializes through its single writer.

use sqlx::{Acquire, Executor};

use crate::{Backend, Result, Store, StoreError};

const SQLITE: &[(i64, &str)] = &[
    (1, include_str!("migrations/sqlite_0001_foundation.sql")),
    (2, include_str!("migrations/sqlite_0002_webhooks.sql")),
    (3, include_str!("migrations/sqlite_0003_instance.sql")),
    (4, include_str!("migrations/sqlite_0004_members.sql")),
    (
        5,
        include_str!("migrations/sqlite_0005_pending_by_endpoint.sql"),
    ),
];
const POSTGRES: &[(i64, &str)] = &[
    (1, include_str!("migrations/postgres_0001_foundation.sql")),
    (2, include_str!("migrations/postgres_0002_webhooks.sql")),
    (3, include_str!("migrations/postgres_0003_instance.sql")),
    (4, include_str!("migrations/postgres_0004_members.sql")),
    (
        5,
        include_str!("migrations/postgres_0005_pending_by_endpoint.sql"),
    ),
];

/// Arbitrary constant naming linkwire's migration lock.
const PG_LOCK_KEY: i64 = 0x6c69_6e6b_7769_7265;

pub(crate) async fn run(store: &Store) -> Result<()> {
    let mut conn = store.writer.acquire().await?;
    let steps = match store.backend {
        Backend::Sqlite => SQLITE,
        Backend::Postgres => {
            conn.execute(sqlx::query("SELECT pg_advisory_lock($1)").bind(PG_LOCK_KEY))
                .await?;
            POSTGRES
        }
    };
    let outcome = apply(&mut conn, steps).await;
    if store.backend == Backend::Postgres {
        conn.execute(sqlx::query("SELECT pg_advisory_unlock($1)").bind(PG_LOCK_KEY))
            .await?;
    }
    outcome
}

async fn apply(
    conn: &mut sqlx::pool::PoolConnection<sqlx::Any>,
    steps: &[(i64, &str)],
) -> Result<()> {
    conn.execute(sqlx::raw_sql(
        "CREATE TABLE IF NOT EXISTS schema_migrations (version BIGINT PRIMARY KEY, applied_at BIGINT NOT NULL)",
    ))
    .await?;
    let applied: Vec<i64> = sqlx::query_scalar("SELECT version FROM schema_migrations")
        .fetch_all(&mut **conn)
        .await?;
    for &(version, sql) in steps {
        if applied.contains(&version) {
            continue;
        }
        let mut tx = conn.begin().await?;
        tx.execute(sqlx::raw_sql(sql))
            .await
            .map_err(|source| StoreError::Migration { version, source })?;
        sqlx::query("INSERT INTO schema_migrations (version, applied_at) VALUES ($1, $2)")
            .bind(version)
            .bind(chrono_free_now_millis())
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        tracing::info!(version, "applied migration");
    }
    Ok(())
}

/// Migration bookkeeping is the one place a wall-clock read is harmless: it is never compared.
fn chrono_free_now_millis() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}
