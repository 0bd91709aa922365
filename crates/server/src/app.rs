//! Building and running the service: storage, state, workers and the listener, with graceful shutdown
//! that drains the click queue.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;

use anyhow::Context;
use axum::serve::ListenerExt;
use linkwire_contract::{Clock, SystemClock};
use linkwire_delivery::{Engine, EngineConfig, EngineHandle, SecretBox, Sender, SenderConfig};
use linkwire_enrich::{Enricher, EnricherConfig};
use linkwire_store::{Backend, Notice, Store, StoreOptions};
use tokio::net::TcpListener;

use crate::bootstrap::{self, Bootstrapped};
use crate::cache::LinkCache;
use crate::clicks::{self, ClickWriter, ClickWriterHandle};
use crate::config::Settings;
use crate::dns::{SystemResolver, TxtResolver};
use crate::metrics::Metrics;
use crate::retention;
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
    click_writer: ClickWriterHandle,
    engine: EngineHandle,
    retention: tokio::task::JoinHandle<()>,
    /// Set on the first start of a fresh data directory.
    pub bootstrapped: Option<Bootstrapped>,
}

impl Application {
    pub async fn build(settings: Settings, deps: Dependencies) -> anyhow::Result<Self> {
        let listener = std::net::TcpListener::bind(settings.listen)
            .with_context(|| format!("binding {}", settings.listen))?;
        Self::build_on(listener, settings, deps).await
    }

    /// Like [`Application::build`], on a listener the caller already bound (tests bind port 0 first, so the
    /// public URL can name the real port without a race for it).
    pub async fn build_on(
        listener: std::net::TcpListener,
        settings: Settings,
        deps: Dependencies,
    ) -> anyhow::Result<Self> {
        listener
            .set_nonblocking(true)
            .context("configuring the listener")?;
        let listener = TcpListener::from_std(listener).context("registering the listener")?;
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
        let secrets =
            SecretBox::load_or_create(settings.encryption_key.as_deref(), &settings.data_dir)
                .context("loading the secret encryption key")?;
        let sender = Sender::new(SenderConfig {
            connect_timeout: settings.connect_timeout,
            attempt_timeout: settings.attempt_timeout,
            allow_private: settings.allow_private_destinations,
            allow_http: settings.allow_http_destinations,
            ..Default::default()
        })
        .context("building the HTTP client")?;
        if store.backend() == Backend::Sqlite {
            // One process owns an SQLite file: any claim left in it belongs to a process that died.
            let released = store
                .release_expired_claims(now + chrono::Duration::days(36_500))
                .await?;
            if released > 0 {
                tracing::warn!(
                    released,
                    "re-queued deliveries claimed by a previous run that did not finish"
                );
            }
        }
        let engine = Engine::new(
            store.clone(),
            deps.clock.clone(),
            sender,
            Arc::new(secrets),
            EngineConfig {
                schedule: settings.retry_schedule.clone(),
                lease: settings.delivery_lease,
                ..Default::default()
            },
        );
        engine.observe(Arc::new(metrics.deliveries.clone()));
        let engine_handle = engine.start();
        let (click_queue, click_writer) = clicks::start(
            ClickWriter {
                store: store.clone(),
                enricher: Arc::new(enricher),
                clock: deps.clock.clone(),
                metrics: metrics.clone(),
                engine: Some(engine.clone()),
            },
            settings.click_queue,
        );
        let public_base = settings.public_base();
        let cache = Arc::new(LinkCache::new(&default_domain, move |link| {
            state::short_url(&public_base, link)
        }));
        if let Some(mut notices) = store.listen() {
            // Other nodes' changes: wake this node's engine and drop stale cache entries.
            let (engine, cache) = (engine.clone(), cache.clone());
            tokio::spawn(async move {
                while let Some(notice) = notices.recv().await {
                    match notice {
                        Notice::Work => engine.wake(),
                        Notice::Link { domain_id, code } => cache.invalidate_link(domain_id, &code),
                        Notice::Domain { name } => cache.invalidate_domain(&name),
                        Notice::Resync => {
                            cache.clear();
                            engine.wake();
                        }
                    }
                }
            });
        }
        let retention = retention::spawn(
            store.clone(),
            deps.clock.clone(),
            metrics.clone(),
            settings.prune_interval,
        );
        let state = AppState::new(Inner {
            store,
            settings,
            clock: deps.clock,
            cache,
            clicks: click_queue,
            metrics,
            resolver: deps.resolver,
            default_domain,
            engine,
            passwords: Default::default(),
        });
        Ok(Self {
            listener,
            state,
            click_writer,
            engine: engine_handle,
            retention,
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
            engine,
            retention,
            ..
        } = self;
        let store = state.store.clone();
        let grace = state.settings.shutdown_grace;
        let app = crate::http::router(state);
        // Responses are small and written whole: send them at once rather than waiting on Nagle.
        let listener = listener.tap_io(|tcp| {
            let _ = tcp.set_nodelay(true);
        });
        axum::serve(
            listener,
            app.into_make_service_with_connect_info::<SocketAddr>(),
        )
        .with_graceful_shutdown(shutdown)
        .await
        .context("serving HTTP")?;
        // No request is in progress any more: close the click queue and write what it holds.
        match tokio::time::timeout(grace * 3, click_writer.drain()).await {
            Ok(_) => tracing::info!("shutdown complete"),
            Err(_) => tracing::error!("click writer did not drain in time"),
        }
        // In-flight attempts finish and are recorded; unclaimed work stays queued in the database.
        if tokio::time::timeout(grace * 2, engine.shutdown())
            .await
            .is_err()
        {
            tracing::error!(
                "delivery engine did not stop in time; its claims will be re-queued on restart"
            );
        }
        // A pruning step cut short rolls back; the next start prunes again.
        retention.abort();
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
