//! Test databases: a fresh SQLite file, or a fresh PostgreSQL database created for one test and dropped
//! after it. PostgreSQL tests skip loudly when the server is unreachable, unless
//! `LINKWIRE_TEST_REQUIRE_POSTGRES=1` (CI) makes that a failure.

use linkwire_contract::{from_millis, Plan, Timestamp};
use linkwire_store::{Store, StoreOptions, Tenant};
use sqlx::{Connection, Executor, PgConnection};

pub const DEFAULT_PG_URL: &str = "postgres://postgres@127.0.0.1:5432/test";

pub fn t(secs: i64) -> Timestamp {
    from_millis(1_774_872_000_000 + secs * 1000)
}

pub struct TestDb {
    pub store: Store,
    pub url: String,
    cleanup: Cleanup,
}

enum Cleanup {
    Sqlite(#[allow(dead_code)] tempfile::TempDir),
    Postgres { admin_url: String, name: String },
}

impl TestDb {
    pub async fn sqlite() -> TestDb {
        let dir = tempfile::tempdir().expect("tempdir");
        let url = format!("sqlite://{}", dir.path().join("linkwire.db").display());
        let store = Store::open(&url, &StoreOptions::default())
            .await
            .expect("open sqlite");
        TestDb {
            store,
            url,
            cleanup: Cleanup::Sqlite(dir),
        }
    }

    pub async fn postgres() -> Option<TestDb> {
        let admin_url = std::env::var("LINKWIRE_TEST_POSTGRES_URL")
            .unwrap_or_else(|_| DEFAULT_PG_URL.to_owned());
        let mut admin = match PgConnection::connect(&admin_url).await {
            Ok(c) => c,
            Err(e) => {
                if std::env::var("LINKWIRE_TEST_REQUIRE_POSTGRES").as_deref() == Ok("1") {
                    panic!("PostgreSQL is required (LINKWIRE_TEST_REQUIRE_POSTGRES=1) but {admin_url} is unreachable: {e}");
                }
                eprintln!("\n*** SKIPPED: PostgreSQL at {admin_url} is unreachable ({e}); set LINKWIRE_TEST_POSTGRES_URL ***\n");
                return None;
            }
        };
        let name = format!("lw_test_{}", uuid::Uuid::new_v4().simple());
        admin
            .execute(format!("CREATE DATABASE {name}").as_str())
            .await
            .expect("create database");
        let url = match admin_url.rsplit_once('/') {
            Some((base, _)) => format!("{base}/{name}"),
            None => panic!("LINKWIRE_TEST_POSTGRES_URL must name a database"),
        };
        let store = Store::open(&url, &StoreOptions::default())
            .await
            .expect("open postgres");
        Some(TestDb {
            store,
            url,
            cleanup: Cleanup::Postgres { admin_url, name },
        })
    }

    /// A second handle on the same database, as another node would have.
    pub async fn another_node(&self) -> Store {
        Store::open(&self.url, &StoreOptions::default())
            .await
            .expect("second handle")
    }

    pub async fn finish(self) {
        self.store.close().await;
        if let Cleanup::Postgres { admin_url, name } = self.cleanup {
            if let Ok(mut admin) = PgConnection::connect(&admin_url).await {
                let _ = admin
                    .execute(format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)").as_str())
                    .await;
            }
        }
    }
}

pub async fn tenant(store: &Store, plan: Plan) -> Tenant {
    let org = store.create_organization("Acme", plan, t(0)).await.unwrap();
    let ws = store
        .create_workspace(org.id, "Marketing", t(0))
        .await
        .unwrap();
    store.tenant(ws.id).await.unwrap().unwrap()
}

/// Expands each named `async fn(&TestDb)` into a `sqlite` and a `postgres` test.
#[macro_export]
macro_rules! storage_tests {
    ($($name:ident),+ $(,)?) => {$(
        mod $name {
            #[tokio::test]
            async fn sqlite() {
                let db = $crate::support::TestDb::sqlite().await;
                super::$name(&db).await;
                db.finish().await;
            }

            #[tokio::test]
            async fn postgres() {
                let Some(db) = $crate::support::TestDb::postgres().await else { return };
                super::$name(&db).await;
                db.finish().await;
            }
        }
    )+};
}
