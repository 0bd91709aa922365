//! The dispatcher. One loop claims due deliveries in batches under a lease and hands each to a task that
//! waits for its endpoint's concurrency slot, sends, and reports; one writer records outcomes in batches.
//! New work wakes the loop at once ([`Engine::wake`]); otherwise it sleeps until the next retry is due.

use std::sync::atomic::{AtomicI64, AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use dashmap::DashMap;
use linkwire_contract::delivery::{next_step, NextStep};
use linkwire_contract::{
    from_millis, AttemptOutcome, Clock, DeliveryId, DeliveryReason, EndpointId, EventRecord,
    RetrySchedule, Timestamp,
};
use linkwire_store::{
    AttemptDisposition, AttemptRecord, ClaimedDelivery, DeliveryHandoff, Endpoint, EndpointKind,
    Store, StoreError,
};
use linkwire_verify::SigningSecret;
use tokio::sync::{mpsc, Notify, Semaphore};
use tokio::task::JoinHandle;

use crate::secrets::SecretBox;
use crate::sender::{Outgoing, SendResult, Sender};
use crate::templates::PayloadTemplate;

/// How many deliveries one endpoint may have queued on this node, in multiples of its concurrency
/// limit. A fast receiver gets many, so its slots never sit idle waiting for the next claim (one endpoint
/// ran at 8k deliveries/s with 4, 11.7k with 16, 5 % more with 32); a slow one gets few, so what it has
/// queued is sent well within the claim's lease.
const QUEUE_FACTOR_FAST: usize = 32;
const QUEUE_FACTOR_SLOW: usize = 4;
/// A receiver whose recent attempts took this long or less (on average) is fast.
const FAST_RECEIVER_US: u64 = 250_000;
/// Until its attempts show otherwise, a receiver counts as slow.
const FIRST_LATENCY_US: u64 = 1_000_000;
/// Time left on a claim, beyond the attempt timeout, for recording the outcome before the lease ends.
const LEASE_MARGIN: Duration = Duration::from_millis(250);
/// Queued deliveries across all endpoints on this node, in multiples of `max_in_flight`: bounds memory
/// (each is a task holding its body) and the wait for a global slot however many endpoints there are.
const QUEUE_FACTOR_TOTAL: usize = 8;

/// Outcomes recorded per transaction, at most.
const RECORD_BATCH: usize = 1024;
/// How long the result writer gathers outcomes before writing a small batch.
const RECORD_GATHER: Duration = Duration::from_millis(5);
/// How soon the loop looks again when due work was left unclaimed because its endpoints are busy.
const BUSY_RECHECK: Duration = Duration::from_millis(20);

#[derive(Debug, Clone)]
pub struct EngineConfig {
    pub schedule: RetrySchedule,
    /// How long a claim holds before another worker may take the delivery over.
    pub lease: Duration,
    /// Deliveries claimed per round trip.
    pub batch: u32,
    /// Attempts in flight across all endpoints.
    pub max_in_flight: usize,
    /// Longest sleep between checks when nothing wakes the loop (other nodes' work, clock drift).
    pub idle_poll: Duration,
}

impl Default for EngineConfig {
    fn default() -> Self {
        Self {
            schedule: RetrySchedule::default(),
            lease: Duration::from_secs(120),
            batch: 512,
            max_in_flight: 512,
            idle_poll: Duration::from_secs(2),
        }
    }
}

/// Deliveries queued on this node across all endpoints, against a cap.
struct NodeQueue {
    queued: AtomicUsize,
    cap: usize,
}

impl NodeQueue {
    fn new(cap: usize) -> Self {
        Self {
            queued: AtomicUsize::new(0),
            cap,
        }
    }

    fn room(&self) -> usize {
        self.cap.saturating_sub(self.queued.load(Ordering::Relaxed))
    }

    fn try_add_one(&self) -> bool {
        self.queued
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |q| {
                (q < self.cap).then_some(q + 1)
            })
            .is_ok()
    }

    fn remove_one(&self) {
        let _ = self
            .queued
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |q| {
                Some(q.saturating_sub(1))
            });
    }
}

/// Told about every recorded attempt, after it is stored (metrics live outside this crate).
pub trait AttemptObserver: Send + Sync {
    fn attempts_recorded(&self, records: &[AttemptRecord]);
}

impl DeliveryHandoff for Engine {
    fn reserve(&self, endpoint: EndpointId) -> bool {
        if self.0.results.read().expect("results lock").is_none() {
            return false;
        }
        // Only endpoints already loaded here, and only up to the same share the claim loop allows.
        self.0
            .endpoints
            .get(&endpoint)
            .is_some_and(|rt| rt.try_queue_one())
    }

    fn unreserve(&self, endpoint: EndpointId) {
        match self.0.endpoints.get(&endpoint) {
            Some(rt) => {
                rt.finish_one();
            }
            // Forgotten since it was reserved: only the node's count still holds it.
            None => self.0.queued.remove_one(),
        }
    }

    fn lease(&self) -> Duration {
        self.0.config.lease
    }
}

/// One queued delivery of an attempt task, counted done when dropped.
struct Queued {
    engine: Engine,
    rt: Option<Arc<EndpointRuntime>>,
}

impl Drop for Queued {
    fn drop(&mut self) {
        if let Some(rt) = &self.rt {
            // Room for a claim's worth again: the endpoint's skipped backlog can be claimed.
            if rt.finish_one() == rt.claim_threshold() + 1 {
                self.engine.wake();
            }
        }
    }
}

/// What one attempt did, as the API reports a test-send.
#[derive(Debug, Clone)]
pub struct AttemptReport {
    pub delivery_id: DeliveryId,
    pub status_code: Option<u16>,
    pub error_class: Option<&'static str>,
    pub latency: Duration,
    pub delivered: bool,
    pub response_snippet: Option<String>,
}

/// An endpoint as the sender needs it: decrypted secrets and its concurrency slots.
struct EndpointRuntime {
    url: String,
    kind: EndpointKind,
    method: reqwest::Method,
    headers: Vec<(String, String)>,
    /// Generic HTTP destinations may reshape the body; the signature covers what is sent.
    template: Option<PayloadTemplate>,
    secrets: Vec<(SigningSecret, Option<Timestamp>)>,
    slots: Arc<Semaphore>,
    limit: usize,
    /// Claimed and not yet finished, this node.
    queued: AtomicUsize,
    /// The same, counted for all endpoints of this node.
    node: Arc<NodeQueue>,
    /// Moving average of recent attempts' latency, in microseconds.
    latency_us: AtomicU64,
}

impl EndpointRuntime {
    /// Queued here at or below which the claim loop takes more for this endpoint: half its share, so
    /// claims come in useful sizes rather than one delivery at a time, while what is queued still keeps
    /// every slot busy.
    fn claim_threshold(&self) -> usize {
        self.share() / 2
    }

    fn claims_more(&self) -> bool {
        self.queued.load(Ordering::Relaxed) <= self.claim_threshold()
    }

    /// How many may be queued here at once: claimed or handed over, waiting for a slot or being sent.
    fn share(&self) -> usize {
        if self.latency_us.load(Ordering::Relaxed) <= FAST_RECEIVER_US {
            self.limit * QUEUE_FACTOR_FAST
        } else {
            self.limit * QUEUE_FACTOR_SLOW
        }
    }

    /// Folds one attempt's latency into the moving average (weight 1/8).
    fn observe_latency(&self, latency: Duration) {
        let sample = latency.as_micros().min(u64::MAX as u128) as u64;
        let _ = self
            .latency_us
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |avg| {
                Some(avg - avg / 8 + sample / 8)
            });
    }

    /// How many more may be queued here.
    fn room(&self) -> usize {
        self.share()
            .saturating_sub(self.queued.load(Ordering::Relaxed))
    }

    /// Counts one more queued delivery if the share, and the node, have room for it.
    fn try_queue_one(&self) -> bool {
        if !self.node.try_add_one() {
            return false;
        }
        let queued = self
            .queued
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |q| {
                (q < self.share()).then_some(q + 1)
            })
            .is_ok();
        if !queued {
            self.node.remove_one();
        }
        queued
    }

    /// Counts one queued delivery as done; returns how many were queued before.
    fn finish_one(&self) -> usize {
        self.node.remove_one();
        self.queued
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |q| {
                Some(q.saturating_sub(1))
            })
            .unwrap_or_default()
    }

    fn live_secrets(&self, now: Timestamp) -> Vec<SigningSecret> {
        self.secrets
            .iter()
            .filter(|(_, exp)| exp.is_none_or(|e| e > now))
            .map(|(s, _)| s.clone())
            .collect()
    }
}

struct Inner {
    store: Store,
    clock: Arc<dyn Clock>,
    sender: Sender,
    secrets: Arc<SecretBox>,
    config: EngineConfig,
    wake: Notify,
    endpoints: DashMap<EndpointId, Arc<EndpointRuntime>>,
    in_flight: Arc<Semaphore>,
    /// Deliveries claimed or handed over and not yet finished, all endpoints.
    queued: Arc<NodeQueue>,
    last_release_ms: AtomicI64,
    /// Claim rounds so far: where the next round starts among the endpoints with due work.
    claim_rounds: AtomicUsize,
    /// When this node last looked for endpoints with due work that it has not loaded.
    last_discovery_ms: AtomicI64,
    observer: std::sync::OnceLock<Arc<dyn AttemptObserver>>,
    /// Where attempts report; set by `start`. Cleared at shutdown, so no delivery is handed over to an
    /// engine that is stopping.
    results: std::sync::RwLock<Option<mpsc::Sender<AttemptRecord>>>,
}

/// How often endpoints with due work that this node has not loaded are looked for.
const DISCOVER_EVERY_MS: i64 = 500;
/// How often expired claims are looked for.
const RELEASE_EVERY_MS: i64 = 5_000;

/// Cheap to clone; every clone drives the same engine.
#[derive(Clone)]
pub struct Engine(Arc<Inner>);

pub struct EngineHandle {
    stop: Arc<Notify>,
    tasks: Vec<JoinHandle<()>>,
}

impl EngineHandle {
    /// Stops claiming, lets in-flight attempts finish and records them.
    pub async fn shutdown(self) {
        self.stop.notify_waiters();
        for t in self.tasks {
            let _ = t.await;
        }
    }
}

impl Engine {
    pub fn new(
        store: Store,
        clock: Arc<dyn Clock>,
        sender: Sender,
        secrets: Arc<SecretBox>,
        config: EngineConfig,
    ) -> Self {
        let in_flight = Arc::new(Semaphore::new(config.max_in_flight));
        let queued = Arc::new(NodeQueue::new(config.max_in_flight * QUEUE_FACTOR_TOTAL));
        Self(Arc::new(Inner {
            store,
            clock,
            sender,
            secrets,
            config,
            wake: Notify::new(),
            endpoints: DashMap::new(),
            in_flight,
            queued,
            last_release_ms: AtomicI64::new(i64::MIN / 2),
            claim_rounds: AtomicUsize::new(0),
            last_discovery_ms: AtomicI64::new(i64::MIN / 2),
            observer: std::sync::OnceLock::new(),
            results: std::sync::RwLock::new(None),
        }))
    }

    /// Sets the observer of recorded attempts (once, before `start`).
    pub fn observe(&self, observer: Arc<dyn AttemptObserver>) {
        let _ = self.0.observer.set(observer);
    }

    /// Attempts that may start now without waiting for a global slot.
    pub fn free_slots(&self) -> usize {
        self.0.in_flight.available_permits()
    }

    pub fn sender(&self) -> &Sender {
        &self.0.sender
    }

    pub fn secrets(&self) -> &SecretBox {
        &self.0.secrets
    }

    /// New deliveries exist: claim now rather than at the next poll.
    pub fn wake(&self) {
        self.0.wake.notify_one();
    }

    /// An endpoint was created or changed (URL, secrets, limits, deletion): forget what was cached about
    /// it, and look for endpoints with due work in the next claim round rather than up to
    /// `DISCOVER_EVERY_MS` later.
    pub fn invalidate_endpoint(&self, id: EndpointId) {
        self.0.endpoints.remove(&id);
        self.0
            .last_discovery_ms
            .store(i64::MIN / 2, Ordering::Relaxed);
    }

    async fn runtime(&self, id: EndpointId) -> Result<Option<Arc<EndpointRuntime>>, StoreError> {
        if let Some(rt) = self.0.endpoints.get(&id) {
            return Ok(Some(rt.clone()));
        }
        let Some(ep) = self.0.store.endpoint_for_delivery(id).await? else {
            return Ok(None);
        };
        let rt = Arc::new(self.build_runtime(&ep));
        self.0.endpoints.insert(id, rt.clone());
        Ok(Some(rt))
    }

    fn build_runtime(&self, ep: &Endpoint) -> EndpointRuntime {
        let open = |sealed: &str| {
            self.0
                .secrets
                .open(sealed)
                .ok()
                .and_then(|s| SigningSecret::parse(&s).ok())
        };
        let mut secrets = Vec::new();
        if let Some(s) = open(&ep.secret_ciphertext) {
            secrets.push((s, None));
        }
        for prev in &ep.previous_secrets {
            if let Some(s) = open(&prev.ciphertext) {
                secrets.push((s, Some(from_millis(prev.expires_at))));
            }
        }
        let options = ep.options.as_ref();
        let method = options
            .and_then(|o| o.get("method"))
            .and_then(|m| m.as_str())
            .and_then(|m| m.parse().ok())
            .unwrap_or(reqwest::Method::POST);
        let headers = options
            .and_then(|o| o.get("headers_sealed"))
            .and_then(|h| h.as_str())
            .and_then(|sealed| self.0.secrets.open(sealed).ok())
            .and_then(|plain| serde_json::from_str::<Vec<(String, String)>>(&plain).ok())
            .unwrap_or_default();
        let template = options
            .and_then(|o| o.get("payload_template"))
            .and_then(|t| t.as_str())
            .and_then(|t| PayloadTemplate::parse(t).ok());
        let limit = ep.max_concurrency.clamp(1, 256) as usize;
        EndpointRuntime {
            url: ep.url.clone(),
            kind: ep.kind,
            method,
            headers,
            template,
            secrets,
            slots: Arc::new(Semaphore::new(limit)),
            limit,
            queued: AtomicUsize::new(0),
            node: self.0.queued.clone(),
            latency_us: AtomicU64::new(FIRST_LATENCY_US),
        }
    }

    /// Starts the claim loop and the result writer.
    pub fn start(&self) -> EngineHandle {
        let stop = Arc::new(Notify::new());
        let (results_tx, results_rx) =
            mpsc::channel::<AttemptRecord>(self.0.config.max_in_flight * 4);
        let writer = tokio::spawn(self.clone().write_results(results_rx));
        *self.0.results.write().expect("results lock") = Some(results_tx.clone());
        let looper = tokio::spawn(self.clone().claim_loop(results_tx, stop.clone()));
        EngineHandle {
            stop,
            tasks: vec![looper, writer],
        }
    }

    async fn claim_loop(self, results: mpsc::Sender<AttemptRecord>, stop: Arc<Notify>) {
        let stopped = stop.notified();
        tokio::pin!(stopped);
        loop {
            let claimed = match self.claim_and_dispatch(&results).await {
                Ok(n) => n,
                Err(e) => {
                    tracing::error!(error = %e, "claiming deliveries failed");
                    0
                }
            };
            if claimed > 0 {
                tokio::task::yield_now().await;
                continue;
            }
            let mut sleep = self.idle_sleep().await;
            if sleep.is_zero() {
                // Due work remains that this round did not claim: it belongs to endpoints whose queue
                // here is full (or claiming failed). Look again shortly instead of spinning on the
                // database; an endpoint whose queue drains wakes the loop at once.
                sleep = BUSY_RECHECK;
            }
            tokio::select! {
                _ = &mut stopped => break,
                _ = self.0.wake.notified() => {}
                _ = tokio::time::sleep(sleep) => {}
            }
        }
        self.0.results.write().expect("results lock").take();
        // Waiting for every in-flight attempt: they hold permits of the global semaphore.
        let _ = self
            .0
            .in_flight
            .acquire_many(self.0.config.max_in_flight as u32)
            .await;
        drop(results);
    }

    /// Until the next retry is due, at most `idle_poll`.
    async fn idle_sleep(&self) -> Duration {
        let poll = self.0.config.idle_poll;
        match self.0.store.next_due().await {
            Ok(Some(at)) => {
                let wait = (at - self.0.clock.now()).to_std().unwrap_or(Duration::ZERO);
                wait.min(poll)
            }
            _ => poll,
        }
    }

    /// Claims one batch and spawns its attempts. Returns how many were claimed.
    async fn claim_and_dispatch(
        &self,
        results: &mpsc::Sender<AttemptRecord>,
    ) -> Result<usize, StoreError> {
        let now = self.0.clock.now();
        // Claims whose lease ran out belong to a worker that died (another node, or this process
        // before a restart): put them back in the queue, at most every few seconds.
        let now_ms = now.timestamp_millis();
        let last = self.0.last_release_ms.load(Ordering::Relaxed);
        if now_ms - last >= RELEASE_EVERY_MS
            && self
                .0
                .last_release_ms
                .compare_exchange(last, now_ms, Ordering::Relaxed, Ordering::Relaxed)
                .is_ok()
        {
            let released = self.0.store.release_expired_claims(now).await?;
            if released > 0 {
                tracing::warn!(released, "re-queued deliveries whose claim expired");
            }
        }
        let lease_until = now + chrono::Duration::from_std(self.0.config.lease).unwrap_or_default();
        // Endpoints with due work that this node has not loaded yet (after a start, or created since):
        // load them, so the claims below know their room. Looked for at most every few hundred ms.
        if self.0.endpoints.is_empty()
            || now_ms - self.0.last_discovery_ms.load(Ordering::Relaxed) >= DISCOVER_EVERY_MS
        {
            self.0.last_discovery_ms.store(now_ms, Ordering::Relaxed);
            let known: Vec<EndpointId> = self.0.endpoints.iter().map(|e| *e.key()).collect();
            for id in self.0.store.endpoints_with_due_work(now, &known).await? {
                self.runtime(id).await?;
            }
        }
        // Endpoints with plenty already queued here are skipped, so their backlog cannot crowd out others.
        let busy: Vec<EndpointId> = self
            .0
            .endpoints
            .iter()
            .filter(|e| !e.claims_more())
            .map(|e| *e.key())
            .collect();
        let want = self
            .0
            .endpoints
            .iter()
            .filter(|e| e.claims_more())
            .map(|e| e.room())
            .sum::<usize>()
            .min(self.0.config.batch as usize)
            .min(self.0.queued.room());
        if want == 0 {
            return Ok(0);
        }
        // First the oldest due work, within a bounded window of it: the usual case, and it takes whole
        // events across their endpoints, which keeps the pages a claim touches few.
        let claimed = self
            .0
            .store
            .claim_due(now, lease_until, want as u32, &busy)
            .await?;
        let mut n = self.dispatch_claimed(claimed, results).await?;
        // If busy endpoints' backlog filled that window, endpoints with room may have due work beyond
        // it: claim theirs directly, an index range each, so they never wait behind a slow endpoint.
        if n < want && !busy.is_empty() {
            n += self
                .claim_for_endpoints_with_room(now, lease_until, &busy, results)
                .await?;
        }
        Ok(n)
    }

    /// Claims, for each endpoint with due work and room here, up to its room.
    async fn claim_for_endpoints_with_room(
        &self,
        now: Timestamp,
        lease_until: Timestamp,
        busy: &[EndpointId],
        results: &mpsc::Sender<AttemptRecord>,
    ) -> Result<usize, StoreError> {
        let due = self.0.store.endpoints_with_due_work(now, busy).await?;
        if due.is_empty() {
            return Ok(0);
        }
        // With more endpoints than one batch holds, a rotating start gives each its turn.
        let mut budget = (self.0.config.batch as usize).min(self.0.queued.room());
        let mut wants = Vec::with_capacity(due.len());
        let start = self.0.claim_rounds.fetch_add(1, Ordering::Relaxed) % due.len();
        for id in due.iter().cycle().skip(start).take(due.len()) {
            if budget == 0 {
                break;
            }
            let Some(rt) = self.runtime(*id).await? else {
                continue;
            };
            let room = rt.room().min(budget);
            if room > 0 {
                wants.push((*id, room as u32));
                budget -= room;
            }
        }
        let claimed = self.0.store.claim_due_for(now, lease_until, &wants).await?;
        self.dispatch_claimed(claimed, results).await
    }

    /// Starts claimed deliveries; hands back those whose endpoint has no room here after all (the
    /// oldest due work may hold more for one endpoint than its share).
    async fn dispatch_claimed(
        &self,
        claimed: Vec<ClaimedDelivery>,
        results: &mpsc::Sender<AttemptRecord>,
    ) -> Result<usize, StoreError> {
        let mut started = 0;
        let mut overflow = Vec::new();
        for delivery in claimed {
            let rt = self.runtime(delivery.endpoint_id).await?;
            if rt.as_ref().is_some_and(|rt| !rt.try_queue_one()) {
                overflow.push(delivery.id);
                continue;
            }
            self.spawn_attempt(delivery, rt, results.clone());
            started += 1;
        }
        if !overflow.is_empty() {
            self.0.store.release_claims(&overflow).await?;
        }
        Ok(started)
    }

    /// Runs one attempt in its own task; its endpoint's queue count (already raised) drops when it ends.
    fn spawn_attempt(
        &self,
        delivery: ClaimedDelivery,
        rt: Option<Arc<EndpointRuntime>>,
        results: mpsc::Sender<AttemptRecord>,
    ) {
        let engine = self.clone();
        tokio::spawn(async move {
            // Counted done however the attempt ends, a panic included: a count left behind would
            // shrink this node's room for good.
            let queued = Queued {
                engine: engine.clone(),
                rt: rt.clone(),
            };
            let record = engine.attempt(delivery, rt).await;
            drop(queued);
            if let Some(record) = record {
                let _ = results.send(record).await;
            }
        });
    }

    /// Starts the deliveries a committed transaction handed over (see [`DeliveryHandoff`]); their
    /// endpoints' queue counts were raised when they were reserved.
    pub async fn dispatch_handed_over(&self, deliveries: Vec<ClaimedDelivery>) {
        if deliveries.is_empty() {
            return;
        }
        let results = self.0.results.read().expect("results lock").clone();
        let Some(results) = results else {
            // Stopped meanwhile: leave them to the lease, like any claim of a stopped engine.
            self.unclaim(&deliveries).await;
            return;
        };
        for delivery in deliveries {
            let rt = match self.0.endpoints.get(&delivery.endpoint_id) {
                Some(rt) => Some(rt.clone()),
                // Forgotten since it was reserved (the endpoint changed): load it again.
                // The node's count already holds it; the new runtime's count must too.
                None => match self.runtime(delivery.endpoint_id).await {
                    Ok(Some(rt)) => {
                        rt.queued.fetch_add(1, Ordering::Relaxed);
                        Some(rt)
                    }
                    Ok(None) => {
                        // Deleted meanwhile: the attempt only records that.
                        self.0.queued.remove_one();
                        None
                    }
                    Err(e) => {
                        self.0.queued.remove_one();
                        tracing::error!(error = %e, "loading an endpoint failed; its delivery waits for its lease");
                        continue;
                    }
                },
            };
            self.spawn_attempt(delivery, rt, results.clone());
        }
    }

    /// Gives handed-over deliveries back to the queue (best effort: their lease re-queues them anyway).
    async fn unclaim(&self, deliveries: &[ClaimedDelivery]) {
        let ids: Vec<DeliveryId> = deliveries.iter().map(|d| d.id).collect();
        if let Err(e) = self.0.store.release_claims(&ids).await {
            tracing::warn!(error = %e, "releasing handed-over deliveries failed; their lease will");
        }
        for d in deliveries {
            self.unreserve(d.endpoint_id);
        }
    }

    /// Sends one claimed delivery (waiting for its endpoint slot) and decides what comes next. `None`:
    /// not sent, because the claim would run out before the attempt could finish; the lease re-queues it.
    async fn attempt(
        &self,
        d: ClaimedDelivery,
        rt: Option<Arc<EndpointRuntime>>,
    ) -> Option<AttemptRecord> {
        let started_at = self.0.clock.now();
        let Some(rt) = rt else {
            return Some(AttemptRecord {
                delivery_id: d.id,
                endpoint_id: d.endpoint_id,
                attempt: d.attempt,
                started_at,
                latency_ms: 0,
                status_code: None,
                error_class: Some("endpoint_deleted".into()),
                response_snippet: None,
                disposition: AttemptDisposition::DeadLetter,
                finished_at: started_at,
            });
        };
        let _slot = rt
            .slots
            .clone()
            .acquire_owned()
            .await
            .expect("endpoint semaphore is never closed");
        let _global = self
            .0
            .in_flight
            .clone()
            .acquire_owned()
            .await
            .expect("in-flight semaphore is never closed");
        let started_at = self.0.clock.now();
        if self.claim_outlasted(&d, started_at) {
            // Another worker may take it over once the lease ends; sending now could send it twice.
            tracing::warn!(delivery = %d.id, "claim nearly ran out while queued; left to its lease");
            return None;
        }
        let result = self.send(&rt, &d, started_at).await;
        rt.observe_latency(result.latency);
        let finished_at = self.0.clock.now();
        let single = d.reason == DeliveryReason::Test;
        let disposition = disposition(
            &self.0.config.schedule,
            d.attempt,
            result.outcome(rt.kind == EndpointKind::RestHook),
            result.retry_after,
            single,
            finished_at,
        );
        Some(record(&d, started_at, finished_at, &result, disposition))
    }

    /// Whether an attempt of `d` starting `now` could still be running (or not yet recorded) when its
    /// claim runs out. With a lease no longer than one attempt any attempt could; that is the operator's
    /// choice, and holding back would only stop every delivery.
    fn claim_outlasted(&self, d: &ClaimedDelivery, now: Timestamp) -> bool {
        let Some(lease_until) = d.lease_until else {
            return false;
        };
        let attempt = self.0.sender.config().attempt_timeout + LEASE_MARGIN;
        if self.0.config.lease <= attempt {
            return false;
        }
        now + chrono::Duration::from_std(attempt).unwrap_or_default() > lease_until
    }

    async fn send(&self, rt: &EndpointRuntime, d: &ClaimedDelivery, now: Timestamp) -> SendResult {
        let secrets = rt.live_secrets(now);
        let rendered = match &rt.template {
            None => None,
            Some(t) => match t.render(&d.body, now.timestamp()) {
                Ok(body) => Some(body),
                Err(e) => {
                    tracing::warn!(delivery = %d.id, error = %e, "payload template failed");
                    return SendResult {
                        status: None,
                        error_class: Some("template_error"),
                        retry_after: None,
                        latency: Duration::ZERO,
                        snippet: Some(e.to_string()),
                    };
                }
            },
        };
        self.0
            .sender
            .send(&Outgoing {
                url: &rt.url,
                method: rt.method.clone(),
                body: rendered.as_deref().unwrap_or(&d.body),
                event_id: d.event_id,
                event_type: d.event_type,
                delivery_id: d.id,
                attempt: d.attempt,
                reason: d.reason,
                secrets: &secrets,
                timestamp: now.timestamp(),
                extra_headers: &rt.headers,
            })
            .await
    }

    async fn write_results(self, mut rx: mpsc::Receiver<AttemptRecord>) {
        let mut batch = Vec::with_capacity(RECORD_BATCH);
        while rx.recv_many(&mut batch, RECORD_BATCH).await > 0 {
            // Every commit rewrites the pages it touched, so many small ones cost far more than a few
            // large ones; nobody waits on an outcome being recorded, so gather a few more first.
            let gather_until = tokio::time::Instant::now() + RECORD_GATHER;
            while batch.len() < RECORD_BATCH / 4 {
                let room = RECORD_BATCH - batch.len();
                tokio::select! {
                    n = rx.recv_many(&mut batch, room) => if n == 0 { break },
                    _ = tokio::time::sleep_until(gather_until) => break,
                }
            }
            let mut backoff = Duration::from_millis(50);
            loop {
                match self.0.store.record_attempts(&batch).await {
                    Ok(disabled) => {
                        for id in disabled {
                            tracing::warn!(endpoint = %id, "endpoint auto-disabled after failing every delivery for 5 days");
                            self.invalidate_endpoint(id);
                        }
                        break;
                    }
                    Err(e) => {
                        tracing::error!(error = %e, n = batch.len(), "recording attempts failed; retrying");
                        tokio::time::sleep(backoff).await;
                        backoff = (backoff * 2).min(Duration::from_secs(5));
                    }
                }
            }
            if let Some(observer) = self.0.observer.get() {
                observer.attempts_recorded(&batch);
            }
            let unsubscribed: Vec<EndpointId> = batch
                .iter()
                .filter(|r| r.disposition == AttemptDisposition::Unsubscribed)
                .map(|r| r.endpoint_id)
                .collect();
            for id in unsubscribed {
                self.invalidate_endpoint(id);
            }
            // Retries may now be due sooner than the loop's current sleep.
            if batch
                .iter()
                .any(|r| matches!(r.disposition, AttemptDisposition::Retry(_)))
            {
                self.wake();
            }
            batch.clear();
        }
    }

    /// Claims, sends and records everything due now, in the caller's task. For tests with a manual clock.
    pub async fn run_once(&self) -> Result<usize, StoreError> {
        let now = self.0.clock.now();
        let lease_until = now + chrono::Duration::from_std(self.0.config.lease).unwrap_or_default();
        let claimed = self
            .0
            .store
            .claim_due(now, lease_until, self.0.config.batch, &[])
            .await?;
        let n = claimed.len();
        let mut records = Vec::with_capacity(n);
        for d in claimed {
            let rt = self.runtime(d.endpoint_id).await?;
            records.extend(self.attempt(d, rt).await);
        }
        self.0.store.record_attempts(&records).await?;
        Ok(n)
    }

    /// Sends a test event to an endpoint once, now, records the attempt, and reports the outcome.
    pub async fn send_test(
        &self,
        endpoint: &Endpoint,
        event: &EventRecord,
    ) -> Result<AttemptReport, StoreError> {
        let delivery_id = DeliveryId::new();
        let now = self.0.clock.now();
        self.0
            .store
            .insert_delivery(
                &linkwire_store::NewDelivery {
                    id: delivery_id,
                    event_id: event.id,
                    endpoint_id: endpoint.id,
                    workspace_id: endpoint.workspace_id,
                    event_type: event.event_type,
                    reason: DeliveryReason::Test,
                    status: linkwire_contract::DeliveryStatus::Delivering,
                    claimed_until: None,
                },
                now,
            )
            .await?;
        let rt = self.build_runtime(endpoint);
        let d = ClaimedDelivery {
            id: delivery_id,
            event_id: event.id,
            endpoint_id: endpoint.id,
            event_type: event.event_type,
            reason: DeliveryReason::Test,
            attempt: 1,
            body: event.body.clone(),
            lease_until: None,
        };
        let started_at = self.0.clock.now();
        let result = self.send(&rt, &d, started_at).await;
        let finished_at = self.0.clock.now();
        let outcome = result.outcome(false);
        let disposition = if outcome == AttemptOutcome::Delivered {
            AttemptDisposition::Delivered
        } else {
            AttemptDisposition::DeadLetter
        };
        self.0
            .store
            .record_attempts(&[record(&d, started_at, finished_at, &result, disposition)])
            .await?;
        Ok(AttemptReport {
            delivery_id,
            status_code: result.status,
            error_class: result.error_class,
            latency: result.latency,
            delivered: outcome == AttemptOutcome::Delivered,
            response_snippet: result.snippet,
        })
    }
}

fn disposition(
    schedule: &RetrySchedule,
    attempt: u32,
    outcome: AttemptOutcome,
    retry_after: Option<Duration>,
    single: bool,
    now: Timestamp,
) -> AttemptDisposition {
    match next_step(schedule, attempt, outcome, retry_after, single, now) {
        NextStep::Done => AttemptDisposition::Delivered,
        NextStep::RetryAt(at) => AttemptDisposition::Retry(at),
        NextStep::DeadLetter => AttemptDisposition::DeadLetter,
        NextStep::Unsubscribe => AttemptDisposition::Unsubscribed,
    }
}

fn record(
    d: &ClaimedDelivery,
    started_at: Timestamp,
    finished_at: Timestamp,
    r: &SendResult,
    disposition: AttemptDisposition,
) -> AttemptRecord {
    AttemptRecord {
        delivery_id: d.id,
        endpoint_id: d.endpoint_id,
        attempt: d.attempt,
        started_at,
        latency_ms: r.latency.as_millis() as i64,
        status_code: r.status,
        error_class: r.error_class.map(str::to_owned),
        response_snippet: r.snippet.clone(),
        disposition,
        finished_at,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn runtime(limit: usize) -> EndpointRuntime {
        runtime_on(limit, Arc::new(NodeQueue::new(1_000)))
    }

    fn runtime_on(limit: usize, node: Arc<NodeQueue>) -> EndpointRuntime {
        EndpointRuntime {
            url: "https://receiver.example/hook".into(),
            kind: EndpointKind::Webhook,
            method: reqwest::Method::POST,
            headers: Vec::new(),
            template: None,
            secrets: Vec::new(),
            slots: Arc::new(Semaphore::new(limit)),
            limit,
            queued: AtomicUsize::new(0),
            node,
            latency_us: AtomicU64::new(FIRST_LATENCY_US),
        }
    }

    #[test]
    fn a_receiver_queues_little_until_its_attempts_show_it_is_fast() {
        let rt = runtime(8);
        assert_eq!(rt.share(), 8 * QUEUE_FACTOR_SLOW);
        for _ in 0..10 {
            rt.observe_latency(Duration::from_millis(2));
        }
        assert_eq!(
            rt.share(),
            8 * QUEUE_FACTOR_SLOW,
            "not yet: the average is still high"
        );
        for _ in 0..10 {
            rt.observe_latency(Duration::from_millis(2));
        }
        assert_eq!(rt.share(), 8 * QUEUE_FACTOR_FAST);
        assert_eq!(rt.claim_threshold(), 8 * QUEUE_FACTOR_FAST / 2);

        // One attempt that runs into the timeout is enough to queue little again.
        rt.observe_latency(Duration::from_secs(15));
        assert_eq!(rt.share(), 8 * QUEUE_FACTOR_SLOW);
    }

    #[test]
    fn the_queue_count_stays_within_the_share() {
        let rt = runtime(1);
        for _ in 0..QUEUE_FACTOR_SLOW {
            assert!(rt.try_queue_one());
        }
        assert!(!rt.try_queue_one(), "the share is full");
        assert_eq!(rt.room(), 0);
        assert_eq!(rt.finish_one(), QUEUE_FACTOR_SLOW);
        assert_eq!(rt.room(), 1);
    }

    #[test]
    fn endpoints_share_the_node_cap() {
        let node = Arc::new(NodeQueue::new(5));
        let (a, b) = (runtime_on(1, node.clone()), runtime_on(1, node.clone()));
        for _ in 0..QUEUE_FACTOR_SLOW {
            assert!(a.try_queue_one());
        }
        assert!(b.try_queue_one());
        assert!(!b.try_queue_one(), "the node is full though b has room");
        assert_eq!(node.room(), 0);
        a.finish_one();
        assert!(b.try_queue_one());
        assert!(!a.try_queue_one());
    }
}
