//! The only crate with SQL. One [`Store`] facade over SQLite (embedded default) or PostgreSQL (scale-out),
//! chosen at runtime from the database URL.
//!
//! Both backends run the same queries through sqlx's `Any` driver (`$N` placeholders work on both);
//! where they differ (migrations, claims, notifications) the code branches on [`Backend`]. Schemas keep
//! to types both understand: UUID text, Unix-millisecond integers, 0/1 flags.
//! Must not: know about HTTP, build payloads, or read the clock (callers pass `now`).
#![forbid(unsafe_code)]

mod bodies;
mod checkpoint;
mod clicks;
mod deliveries;
mod domains;
mod endpoints;
mod events;
mod links;
mod members;
mod migrate;
mod notify;
mod retention;
mod rows;
mod tenancy;

use std::time::Duration;

use sqlx::any::{AnyPoolOptions, AnyRow};
use sqlx::pool::PoolOptions;
use sqlx::{Any, AnyPool, Executor};

pub use clicks::{AnalyticsFilter, AnalyticsReport, ClickRow, CountBy, DayCount, RecentClick};
pub use deliveries::{
    AttemptDisposition, AttemptRecord, AttemptRow, ClaimedDelivery, DeliveryFilter,
    DeliveryHandoff, DeliveryRow, EndpointStats, NewDelivery, SeriesPoint,
};
pub use domains::Domain;
pub use endpoints::{Endpoint, EndpointFilter, EndpointKind, PreviousSecret};
pub use events::EventFilter;
pub use links::Link;
pub use members::{Member, MemberRemoval, Session};
pub use notify::Notice;
pub use retention::Pruned;
pub use tenancy::{Credential, CredentialKind, NewCredential, Organization, Tenant, Workspace};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

impl Backend {
    /// The clause that keeps the rows a `SELECT` read locked until its transaction ends: `FOR UPDATE` on
    /// PostgreSQL; nothing on SQLite, where a write transaction already holds the one writer connection.
    pub(crate) fn row_lock(self) -> &'static str {
        match self {
            Backend::Postgres => " FOR UPDATE",
            Backend::Sqlite => "",
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database error")]
    Database(#[from] sqlx::Error),
    #[error("{0} already exists")]
    Conflict(&'static str),
    #[error("the row changed while it was being updated")]
    Stale,
    #[error("stored value is invalid: {0}")]
    Corrupt(String),
    #[error("unsupported database URL `{0}`: use sqlite://PATH or postgres://…")]
    UnsupportedUrl(String),
    #[error("migration {version} failed")]
    Migration { version: i64, source: sqlx::Error },
}

pub type Result<T, E = StoreError> = std::result::Result<T, E>;

/// Pool sizes and timeouts.
#[derive(Debug, Clone)]
pub struct StoreOptions {
    /// Connections for reads (SQLite) or for everything (PostgreSQL).
    pub max_connections: u32,
    pub acquire_timeout: Duration,
}

impl Default for StoreOptions {
    fn default() -> Self {
        Self {
            max_connections: 8,
            acquire_timeout: Duration::from_secs(10),
        }
    }
}

/// The storage facade. Cheap to clone.
#[derive(Clone)]
pub struct Store {
    backend: Backend,
    /// The connection URL, for the notification listener. Never printed: it may hold a password.
    url: std::sync::Arc<str>,
    /// Reads. On PostgreSQL the same pool as `writer`.
    reader: AnyPool,
    /// Writes. On SQLite a single connection: SQLite has one writer, and queuing in the pool is cheaper
    /// than `SQLITE_BUSY` retries.
    writer: AnyPool,
    bodies: std::sync::Arc<bodies::BodyCache>,
}

impl Store {
    /// Opens (creating if needed) and migrates the database at `url`.
    pub async fn open(url: &str, options: &StoreOptions) -> Result<Self> {
        sqlx::any::install_default_drivers();
        let backend = if url.starts_with("sqlite:") {
            Backend::Sqlite
        } else if url.starts_with("postgres:") || url.starts_with("postgresql:") {
            Backend::Postgres
        } else {
            return Err(StoreError::UnsupportedUrl(
                url.split('@').next_back().unwrap_or_default().to_owned(),
            ));
        };
        let store = match backend {
            Backend::Sqlite => {
                let url = if url.contains('?') {
                    url.to_owned()
                } else {
                    format!("{url}?mode=rwc")
                };
                let writer = sqlite_pool(1, options).connect(&url).await?;
                // Create the file and switch to WAL before readers open it.
                let reader = sqlite_pool(options.max_connections.max(1), options)
                    .connect(&url)
                    .await?;
                checkpoint::spawn(reader.clone(), writer.clone());
                Store {
                    backend,
                    url: url.as_str().into(),
                    reader,
                    writer,
                    bodies: Default::default(),
                }
            }
            Backend::Postgres => {
                let pool = AnyPoolOptions::new()
                    .max_connections(options.max_connections.max(2))
                    .acquire_timeout(options.acquire_timeout)
                    .connect(url)
                    .await?;
                Store {
                    backend,
                    url: url.into(),
                    reader: pool.clone(),
                    writer: pool,
                    bodies: Default::default(),
                }
            }
        };
        migrate::run(&store).await?;
        Ok(store)
    }

    /// Opens the SQLite database `linkwire.db` inside `data_dir`.
    pub async fn open_sqlite_dir(
        data_dir: &std::path::Path,
        options: &StoreOptions,
    ) -> Result<Self> {
        Self::open(
            &format!("sqlite://{}", data_dir.join("linkwire.db").display()),
            options,
        )
        .await
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    pub async fn close(&self) {
        self.writer.close().await;
        self.reader.close().await;
    }

    /// Whether [`Store::close`] was called: nothing more can be written.
    pub fn is_closed(&self) -> bool {
        self.writer.is_closed()
    }

    /// A cheap round trip, for health checks.
    pub async fn ping(&self) -> Result<()> {
        sqlx::query("SELECT 1").fetch_one(&self.reader).await?;
        Ok(())
    }

    async fn begin(&self) -> Result<sqlx::Transaction<'static, Any>> {
        Ok(self.writer.begin().await?)
    }
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store")
            .field("backend", &self.backend)
            .finish_non_exhaustive()
    }
}

fn sqlite_pool(max: u32, options: &StoreOptions) -> PoolOptions<Any> {
    AnyPoolOptions::new().max_connections(max).acquire_timeout(options.acquire_timeout).after_connect(
        |conn, _meta| {
            Box::pin(async move {
                conn.execute(sqlx::raw_sql(
                    "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; PRAGMA busy_timeout = 10000; \
                     PRAGMA foreign_keys = ON; PRAGMA temp_store = MEMORY; \
                     PRAGMA wal_autocheckpoint = 0; PRAGMA journal_size_limit = 67108864;",
                ))
                .await?;
                Ok(())
            })
        },
    )
}

/// Splits `items` into the row groups of multi-row statements: chunks whose sizes are powers of two no
/// larger than `max_rows`, largest first. A batch of any size becomes a handful of statements whose texts
/// come from a small fixed set, so each stays in the connection's prepared-statement cache instead of
/// being parsed again for every new batch size.
pub(crate) fn statement_chunks<T>(items: &[T], max_rows: usize) -> impl Iterator<Item = &[T]> {
    let largest = 1 << max_rows.max(1).ilog2();
    let mut rest = items;
    std::iter::from_fn(move || {
        if rest.is_empty() {
            return None;
        }
        let n = if rest.len() >= largest {
            largest
        } else {
            1 << rest.len().ilog2()
        };
        let (head, tail) = rest.split_at(n);
        rest = tail;
        Some(head)
    })
}

/// Placeholders of generated statements. SQLite gets anonymous `?`: binding a numbered `$N` makes sqlx ask
/// SQLite for each parameter's name, a lookup that walks every name in the statement, so a statement of n
/// numbered parameters binds in O(n²) (it was the click writer's largest cost). PostgreSQL needs `$N`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Placeholders {
    backend: Backend,
}

impl Placeholders {
    pub(crate) fn for_backend(backend: Backend) -> Self {
        Self { backend }
    }

    /// The placeholders of a connection inside a transaction (which knows its driver).
    pub(crate) fn of(conn: &sqlx::AnyConnection) -> Self {
        Self::for_backend(if conn.backend_name().eq_ignore_ascii_case("sqlite") {
            Backend::Sqlite
        } else {
            Backend::Postgres
        })
    }

    /// Rows of `columns` bound values that one statement may carry. SQLite takes up to 32,766 parameters
    /// per statement, and each statement is a round trip to its connection's thread, so its batches go
    /// in a few large statements; PostgreSQL's are kept small for its planner.
    pub(crate) fn max_rows(self, columns: usize) -> usize {
        let params = match self.backend {
            Backend::Sqlite => 32_766,
            Backend::Postgres => 900,
        };
        (params / columns.max(1)).max(1)
    }

    /// The placeholder of the `n`th (1-based) bound value.
    pub(crate) fn param(self, n: usize) -> String {
        match self.backend {
            Backend::Sqlite => "?".to_owned(),
            Backend::Postgres => format!("${n}"),
        }
    }

    /// `(…),(…)`: `rows` rows of `cols` values, numbered from `first + 1`.
    pub(crate) fn rows(self, rows: usize, cols: usize, first: usize) -> String {
        let mut s = String::with_capacity(rows * cols * 5);
        for r in 0..rows {
            s.push_str(if r == 0 { "(" } else { ",(" });
            for c in 0..cols {
                if c > 0 {
                    s.push(',');
                }
                s.push_str(&self.param(first + r * cols + c + 1));
            }
            s.push(')');
        }
        s
    }

    /// `…,…`: `n` values numbered from `first + 1`, for `IN (…)`.
    pub(crate) fn list(self, n: usize, first: usize) -> String {
        (1..=n)
            .map(|i| self.param(first + i))
            .collect::<Vec<_>>()
            .join(",")
    }
}

/// Maps a unique-constraint violation to [`StoreError::Conflict`].
fn conflict_on_unique(what: &'static str) -> impl FnOnce(sqlx::Error) -> StoreError {
    move |e| match &e {
        sqlx::Error::Database(db) if db.is_unique_violation() => StoreError::Conflict(what),
        _ => StoreError::Database(e),
    }
}

/// Decodes one row, mapping decode failures to [`StoreError::Corrupt`].
trait FromAnyRow: Sized {
    fn from_row(row: &AnyRow) -> Result<Self>;
}

#[cfg(test)]
mod tests {
    use super::statement_chunks;

    fn sizes(n: usize, max_rows: usize) -> Vec<usize> {
        let items = vec![0u8; n];
        statement_chunks(&items, max_rows)
            .map(<[u8]>::len)
            .collect()
    }

    #[test]
    fn statement_chunks_are_powers_of_two_largest_first_and_cover_everything() {
        assert_eq!(sizes(0, 1024), Vec::<usize>::new());
        assert_eq!(sizes(1, 1024), vec![1]);
        assert_eq!(sizes(1000, 1024), vec![512, 256, 128, 64, 32, 8]);
        assert_eq!(sizes(2500, 1820), vec![1024, 1024, 256, 128, 64, 4]);
        assert_eq!(sizes(5, 1), vec![1; 5]);
        assert_eq!(sizes(3, 0), vec![1; 3]);
        for n in 0..300 {
            let got = sizes(n, 90);
            assert_eq!(got.iter().sum::<usize>(), n);
            assert!(got.iter().all(|s| s.is_power_of_two() && *s <= 64));
            assert!(got.windows(2).all(|w| w[0] >= w[1]));
        }
    }
}
