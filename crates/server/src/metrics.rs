//! Prometheus metrics. Counters are created once at startup and cloned into the parts that bump them, so
//! the redirect path never looks up a label set.

use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::Registry;

type Labels = Vec<(&'static str, &'static str)>;

/// What the redirect answered.
#[derive(Clone, Debug)]
pub struct RedirectCounters {
    pub redirected: Counter,
    pub not_found: Counter,
    pub expired: Counter,
    pub disabled: Counter,
    pub password_form: Counter,
}

#[derive(Debug)]
pub struct Metrics {
    registry: Registry,
    pub redirects: RedirectCounters,
    /// Clicks that found the queue full and had to wait for room.
    pub click_queue_full_waits: Counter,
    pub click_queue_depth: Gauge,
    pub clicks_written: Counter,
    pub bot_clicks_written: Counter,
    pub click_events_written: Counter,
    pub click_batches: Counter,
    pub click_write_failures: Counter,
    /// Clicks deleted by retention, and the click events deleted with them.
    pub clicks_pruned: Counter,
    pub click_events_pruned: Counter,
    pub deliveries: DeliveryMetrics,
}

/// Webhook delivery: attempts by outcome and their latency, fed by the engine after each recorded batch.
#[derive(Debug, Clone)]
pub struct DeliveryMetrics {
    /// delivered, retry, dead_letter, unsubscribed: created once, so recording looks nothing up.
    attempts: [Counter; 4],
    latency: Histogram,
    /// Set at scrape time from the engine.
    pub free_slots: Gauge,
}

impl linkwire_delivery::AttemptObserver for DeliveryMetrics {
    fn attempts_recorded(&self, records: &[linkwire_store::AttemptRecord]) {
        use linkwire_store::AttemptDisposition as D;
        for r in records {
            let outcome = match r.disposition {
                D::Delivered => 0,
                D::Retry(_) => 1,
                D::DeadLetter => 2,
                D::Unsubscribed => 3,
            };
            self.attempts[outcome].inc();
            self.latency.observe(r.latency_ms as f64 / 1000.0);
        }
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    pub fn new() -> Self {
        let mut registry = Registry::with_prefix("linkwire");
        let redirects = Family::<Labels, Counter>::default();
        registry.register(
            "redirects",
            "Redirect requests by outcome",
            redirects.clone(),
        );
        let outcome = |o: &'static str| redirects.get_or_create(&vec![("outcome", o)]).clone();
        let redirect_counters = RedirectCounters {
            redirected: outcome("redirected"),
            not_found: outcome("not_found"),
            expired: outcome("expired"),
            disabled: outcome("disabled"),
            password_form: outcome("password_form"),
        };
        let mut counter = |name: &str, help: &str| {
            let c = Counter::default();
            registry.register(name, help, c.clone());
            c
        };
        let click_queue_full_waits = counter(
            "click_queue_full_waits",
            "Redirects that waited because the click queue was full",
        );
        let clicks_written = counter("clicks_written", "Clicks stored (humans and bots)");
        let bot_clicks_written = counter(
            "bot_clicks_written",
            "Bot clicks stored (never emitted as events)",
        );
        let click_events_written = counter(
            "click_events_written",
            "link.clicked and link.qr_scanned events stored",
        );
        let click_batches = counter("click_batches", "Click batches committed");
        let click_write_failures = counter(
            "click_write_failures",
            "Click batch writes that failed and were retried",
        );
        let clicks_pruned = counter(
            "clicks_pruned",
            "Clicks deleted because they were older than their plan's retention",
        );
        let click_events_pruned = counter(
            "click_events_pruned",
            "link.clicked and link.qr_scanned events deleted with their clicks",
        );
        let click_queue_depth = Gauge::default();
        registry.register(
            "click_queue_depth",
            "Clicks waiting to be written",
            click_queue_depth.clone(),
        );
        let attempts_family = Family::<Labels, Counter>::default();
        registry.register(
            "delivery_attempts",
            "Delivery attempts recorded by the engine, by outcome (delivered, retry, dead_letter, unsubscribed)",
            attempts_family.clone(),
        );
        let attempts = ["delivered", "retry", "dead_letter", "unsubscribed"]
            .map(|o| attempts_family.get_or_create(&vec![("outcome", o)]).clone());
        let latency = Histogram::new(exponential_buckets(0.001, 2.0, 15));
        registry.register(
            "delivery_attempt_duration_seconds",
            "Time from sending a delivery to its answer (or error)",
            latency.clone(),
        );
        let free_slots = Gauge::default();
        registry.register(
            "delivery_free_slots",
            "Attempts that could start now without waiting for a global slot",
            free_slots.clone(),
        );
        Self {
            registry,
            deliveries: DeliveryMetrics {
                attempts,
                latency,
                free_slots,
            },
            redirects: redirect_counters,
            click_queue_full_waits,
            click_queue_depth,
            clicks_written,
            bot_clicks_written,
            click_events_written,
            click_batches,
            click_write_failures,
            clicks_pruned,
            click_events_pruned,
        }
    }

    /// The Prometheus text exposition.
    pub fn render(&self) -> String {
        let mut out = String::new();
        encode(&mut out, &self.registry).expect("writing to a String cannot fail");
        out
    }
}
