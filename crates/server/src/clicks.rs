//! Click capture off the redirect path: the handler pushes a [`Hit`] onto a bounded queue and answers;
//! the writer enriches hits and stores them in batches (group commit), with the `link.clicked` /
//! `link.qr_scanned` event of every human click in the same transaction.
//!
//! Nothing is dropped silently: a full queue makes the handler wait (counted), a failed batch is retried,
//! and shutdown drains the queue before the process exits.

use std::sync::Arc;
use std::time::Duration;

use linkwire_contract::payload::{Click, EventData};
use linkwire_contract::{format_timestamp, Clock, EventRecord, Timestamp};
use linkwire_delivery::Engine;
use linkwire_enrich::{Enricher, RawHit};
use linkwire_store::{Backend, ClickRow, DeliveryHandoff, Store};
use rand::RngCore;
use tokio::sync::{mpsc, Notify};
use tokio::task::JoinHandle;

use crate::cache::CachedLink;
use crate::metrics::Metrics;

/// Clicks per transaction, at most.
const MAX_BATCH: usize = 1024;

/// One redirect that may count as a click.
pub struct Hit {
    pub link: Arc<CachedLink>,
    pub at: Timestamp,
    pub raw: RawHit,
}

#[derive(Clone)]
pub struct ClickQueue {
    tx: mpsc::Sender<Hit>,
    metrics: Arc<Metrics>,
}

impl ClickQueue {
    /// Queues a hit; waits for room when the queue is full rather than dropping it.
    pub async fn submit(&self, hit: Hit) {
        self.metrics.click_queue_depth.inc();
        match self.tx.try_send(hit) {
            Ok(()) => {}
            Err(mpsc::error::TrySendError::Full(hit)) => {
                self.metrics.click_queue_full_waits.inc();
                if self.tx.send(hit).await.is_err() {
                    self.metrics.click_queue_depth.dec();
                    tracing::error!("click writer stopped; a click was not recorded");
                }
            }
            Err(mpsc::error::TrySendError::Closed(_)) => {
                self.metrics.click_queue_depth.dec();
                tracing::error!("click writer stopped; a click was not recorded");
            }
        }
    }
}

pub struct ClickWriter {
    pub store: Store,
    pub enricher: Arc<Enricher>,
    pub clock: Arc<dyn Clock>,
    pub metrics: Arc<Metrics>,
    /// This node's delivery engine: it takes the batch's deliveries straight from the transaction when
    /// it has room, and is woken for the rest.
    pub engine: Option<Engine>,
}

/// Starts the writer; it ends once every [`ClickQueue`] clone is dropped and the queue is drained.
///
/// The writer runs on threads of its own, not on the async workers: one enriches a batch while the
/// other binds the batch before it and waits for SQLite's commit (on PostgreSQL the commit stays an
/// async task). Enriching and binding are long stretches of CPU that a worker cannot interrupt, and the
/// redirects queued behind them on that worker waited; the kernel time-slices a thread of its own with
/// the workers instead.
pub fn start(writer: ClickWriter, capacity: usize) -> (ClickQueue, ClickWriterHandle) {
    let (tx, rx) = mpsc::channel(capacity);
    let queue = ClickQueue {
        tx,
        metrics: writer.metrics.clone(),
    };
    let stop = Arc::new(Notify::new());
    // One batch waits while the previous one commits: building overlaps the commit, and batches land
    // in order.
    let (batches, pending) = mpsc::channel(1);
    let writer = Arc::new(writer);
    let runtime = tokio::runtime::Handle::current();
    let enrich = {
        let (writer, runtime, stop) = (writer.clone(), runtime.clone(), stop.clone());
        tokio::task::spawn_blocking(move || runtime.block_on(writer.enrich(rx, stop, batches)))
    };
    // On PostgreSQL a commit is a handful of network round trips, each woken by the async workers' I/O
    // driver: there it stays an async task, where those wake-ups are cheap.
    let commit = match writer.store.backend() {
        Backend::Sqlite => {
            tokio::task::spawn_blocking(move || runtime.block_on(writer.commit(pending)))
        }
        Backend::Postgres => tokio::spawn(async move { writer.commit(pending).await }),
    };
    (
        queue,
        ClickWriterHandle {
            stop,
            tasks: [enrich, commit],
        },
    )
}

/// Stops the writer once everything queued so far is written.
pub struct ClickWriterHandle {
    stop: Arc<Notify>,
    tasks: [JoinHandle<()>; 2],
}

impl ClickWriterHandle {
    /// Closes the queue (later submits fail and are logged), writes what it holds, and waits for the writer.
    pub async fn drain(self) {
        self.stop.notify_one();
        for task in self.tasks {
            let _ = task.await;
        }
        tracing::info!("click writer drained and stopped");
    }
}

/// The daily salt for visitor hashes: random, held only in memory, replaced when the UTC day changes.
struct DailySalt {
    day: i64,
    salt: [u8; 32],
}

impl DailySalt {
    fn for_day(&mut self, at: Timestamp) -> &[u8; 32] {
        let day = at.timestamp().div_euclid(86_400);
        if day != self.day {
            self.day = day;
            rand::thread_rng().fill_bytes(&mut self.salt);
        }
        &self.salt
    }
}

impl ClickWriter {
    /// Receives hits and enriches them into batches for [`Self::commit`]; ends when the queue is closed
    /// and empty.
    async fn enrich(
        &self,
        mut rx: mpsc::Receiver<Hit>,
        stop: Arc<Notify>,
        batches: mpsc::Sender<Vec<(ClickRow, Option<EventRecord>)>>,
    ) {
        let mut salt = DailySalt {
            day: i64::MIN,
            salt: [0; 32],
        };
        let mut hits = Vec::with_capacity(MAX_BATCH);
        let stopped = stop.notified();
        tokio::pin!(stopped);
        let mut closed = false;
        loop {
            tokio::select! {
                n = rx.recv_many(&mut hits, MAX_BATCH) => if n == 0 { break },
                _ = &mut stopped, if !closed => {
                    // No new clicks from here on; what is buffered is still received below.
                    rx.close();
                    closed = true;
                    continue;
                }
            }
            let batch = hits
                .drain(..)
                .map(|hit| self.click_of(hit, salt.for_day(self.clock.now())))
                .collect();
            if let Err(lost) = batches.send(batch).await {
                tracing::error!(
                    clicks = lost.0.len(),
                    "click committer stopped; clicks were not recorded"
                );
                self.metrics.click_queue_depth.dec_by(lost.0.len() as i64);
                break;
            }
        }
    }

    /// Commits batches in the order they were built; ends when [`Self::enrich`] has ended.
    async fn commit(&self, mut batches: mpsc::Receiver<Vec<(ClickRow, Option<EventRecord>)>>) {
        while let Some(batch) = batches.recv().await {
            self.write(&batch).await;
        }
    }

    fn click_of(&self, hit: Hit, salt: &[u8; 32]) -> (ClickRow, Option<EventRecord>) {
        let facts = self.enricher.enrich(&hit.raw, salt);
        let link = &hit.link.link;
        let row = ClickRow {
            link_id: link.id,
            workspace_id: link.workspace_id,
            clicked_at: hit.at,
            touch_type: facts.touch_type,
            is_bot: facts.is_bot,
            country: facts.country.clone(),
            device_category: facts.device_category.map(|d| d.as_str()),
            browser_family: facts.browser_family.clone(),
            os_family: facts.os_family.clone(),
            referrer_host: facts.referrer_host.clone(),
            social_source: facts.social_source.clone(),
            utm: [
                facts.utm.utm_source.clone(),
                facts.utm.utm_medium.clone(),
                facts.utm.utm_campaign.clone(),
                facts.utm.utm_term.clone(),
                facts.utm.utm_content.clone(),
            ],
            visitor_hash: facts.visitor_hash.clone(),
        };
        // Bots are stored (flagged) for analytics but never become events.
        let event = (!facts.is_bot).then(|| {
            let data = EventData::Click(Click {
                link: hit.link.link_ref.clone(),
                touch_type: facts.touch_type,
                clicked_at: format_timestamp(hit.at),
                country: facts.country,
                device_category: facts.device_category,
                browser_family: facts.browser_family,
                os_family: facts.os_family,
                referrer_host: facts.referrer_host,
                social_source: facts.social_source,
                utm: facts.utm,
            });
            EventRecord::new(link.organization_id, link.workspace_id, hit.at, &data)
        });
        (row, event)
    }

    /// Writes one batch, retrying with backoff until it is stored: the queue behind it waits, so
    /// back-pressure reaches the redirect handlers instead of clicks being lost.
    async fn write(&self, batch: &[(ClickRow, Option<EventRecord>)]) {
        let mut backoff = Duration::from_millis(50);
        let handoff = self.engine.as_ref().map(|e| e as &dyn DeliveryHandoff);
        let fan_out = loop {
            match self.store.insert_clicks(batch, handoff).await {
                Ok(fan_out) => break fan_out,
                Err(e) if self.store.is_closed() => {
                    // Shutdown gave up waiting for this batch and closed the database.
                    tracing::error!(error = %e, clicks = batch.len(), "database closed; click batch not written");
                    self.metrics.click_queue_depth.dec_by(batch.len() as i64);
                    return;
                }
                Err(e) => {
                    self.metrics.click_write_failures.inc();
                    tracing::error!(error = %e, clicks = batch.len(), "click batch write failed; retrying");
                    tokio::time::sleep(backoff).await;
                    backoff = (backoff * 2).min(Duration::from_secs(5));
                }
            }
        };
        if let Some(engine) = &self.engine {
            if fan_out.left_for_claims() {
                engine.wake();
            }
            engine.dispatch_handed_over(fan_out.handed_over).await;
        }
        let bots = batch.iter().filter(|(c, _)| c.is_bot).count() as u64;
        let events = batch.iter().filter(|(_, e)| e.is_some()).count();
        self.metrics.click_batches.inc();
        self.metrics.clicks_written.inc_by(batch.len() as u64);
        self.metrics.bot_clicks_written.inc_by(bots);
        self.metrics.click_events_written.inc_by(events as u64);
        self.metrics.click_queue_depth.dec_by(batch.len() as i64);
    }
}
