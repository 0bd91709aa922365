//! Building and running the service: storage, state, workers and the listener, with graceful shutdown
//! that drains the click queue.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;

use anyhow::Context;
use linkwire_contract::{Clock, SystemClock};
use linkwire_enrich::{Enricher, EnricherConfig};
use linkwire_store::{Store, StoreOptions};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

use crate::bootstrap::{self, Bootstrapped};
use crate::cache::LinkCache;
use crate::clicks::{self, ClickWriter};
use crate::config::Settings;
use crate::dns::{SystemResolver, TxtResolver};
use crate::metrics::Metrics;
use crate::state::{self, AppState, Inner};

/// What the environment supplies; tests swap the clock and the resolver.
pub struct Dependencies {
    pub clock: Arc<dyn Clock>,
    pub resolver: Arc<dyn TxtResolver>,
}

impl Default for Dependencies {
    fn default() -> Self {
        Self {
            clock: Arc::new(SystemClock),
            resolver: Arc::new(SystemResolver::new()),
        }
    }
}

pub struct Application {
    listener: TcpListener,
    state: AppState,
    click_writer: JoinHandle<()>,
    /// Set on the first start of a fresh data directory.
    pub bootstrapped: Option<Bootstrapped>,
}

impl Application {
    pub async fn build(settings: Settings, deps: Dependencies) -> anyhow::Result<Self> {
        std::fs::create_dir_all(&settings.data_dir)
            .with_context(|| format!("creating data directory {}", settings.data_dir.display()))?;
        let store = Store::open(
            &settings.database_url(),
            &StoreOptions {
                max_connections: settings.db_pool,
                ..Default::default()
            },
        )
        .await
        .with_context(|| format!("opening {}", settings.database_label()))?;
        let now = deps.clock.now();
        let bootstrapped = bootstrap::bootstrap_if_empty(&store, &settings.data_dir, now).await?;
        let default_domain = store
            .ensure_default_domain(&settings.default_domain(), now)
            .await?;

        let enricher = Enricher::new(EnricherConfig {
            geo_db: settings.geoip_db.clone(),
            trusted_proxies: settings.trusted_proxies.clone(),
        })
        .context("loading the geo database")?;
        let metrics = Arc::new(Metrics::new());
        let (click_queue, click_writer) = clicks::start(
            ClickWriter {
                store: store.clone(),
                enricher: Arc::new(enricher),
                clock: deps.clock.clone(),
                metrics: metrics.clone(),
                on_events: None,
            },
            settings.click_queue,
        );
        let public_base = settings.public_base();
        let cache = LinkCache::new(&default_domain, move |link| {
            state::short_url(&public_base, link)
        });
        let listener = TcpListener::bind(settings.listen)
            .await
            .with_context(|| format!("binding {}", settings.listen))?;
        let state = AppState::new(Inner {
            store,
            settings,
            clock: deps.clock,
            cache,
            clicks: click_queue,
            metrics,
            resolver: deps.resolver,
            default_domain,
        });
        Ok(Self {
            listener,
            state,
            click_writer,
            bootstrapped,
        })
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.listener
            .local_addr()
            .expect("a bound listener has an address")
    }

    pub fn state(&self) -> &AppState {
        &self.state
    }

    /// Serves until `shutdown` resolves, then stops accepting, finishes open requests and drains clicks.
    pub async fn run_until(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> anyhow::Result<()> {
        let Application {
            listener,
            state,
            click_writer,
            ..
        } = self;
        let store = state.store.clone();
        let grace = state.settings.shutdown_grace;
        let app = crate::http::router(state);
        axum::serve(
            listener,
            app.into_make_service_with_connect_info::<SocketAddr>(),
        )
        .with_graceful_shutdown(shutdown)
        .await
        .context("serving HTTP")?;
        // The router (and with it every click queue sender) is gone: the writer drains what is left.
        match tokio::time::timeout(grace * 3, click_writer).await {
            Ok(_) => tracing::info!("shutdown complete"),
            Err(_) => tracing::error!("click writer did not drain in time"),
        }
        store.close().await;
        Ok(())
    }
}

/// Resolves on SIGINT or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
    tracing::info!("shutdown signal received");
}
