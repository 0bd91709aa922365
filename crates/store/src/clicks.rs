//! Clicks: written in batches (group commit) together with their events; read back as analytics.

use linkwire_contract::{EventRecord, LinkId, Timestamp, TouchType, WorkspaceId};
use serde::Serialize;

use crate::deliveries::{DeliveryHandoff, FanOut, Reservations};
use crate::rows::{get, int_flag, ms};
use crate::{Result, Store};

/// One stored click. Privacy-safe by construction: no IP, no user agent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClickRow {
    pub link_id: LinkId,
    pub workspace_id: WorkspaceId,
    pub clicked_at: Timestamp,
    pub touch_type: TouchType,
    pub is_bot: bool,
    pub country: Option<String>,
    pub device_category: Option<&'static str>,
    pub browser_family: Option<String>,
    pub os_family: Option<String>,
    pub referrer_host: Option<String>,
    pub social_source: Option<String>,
    pub utm: [Option<String>; 5],
    pub visitor_hash: String,
}

const CLICK_COLUMNS: usize = 18;
const EVENT_COLUMNS: usize = 7;

/// One stored click as the dashboard lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RecentClick {
    pub clicked_at: Timestamp,
    pub touch_type: String,
    pub is_bot: bool,
    pub country: Option<String>,
    pub device_category: Option<String>,
    pub browser_family: Option<String>,
    pub os_family: Option<String>,
    pub referrer_host: Option<String>,
    pub social_source: Option<String>,
}

impl Store {
    /// The newest clicks of one link, bots included (flagged), newest first.
    pub async fn recent_clicks(
        &self,
        ws: WorkspaceId,
        link: LinkId,
        limit: u32,
    ) -> Result<Vec<RecentClick>> {
        let rows = sqlx::query(&format!(
            "SELECT clicked_at, touch_type, is_bot, country, device_category, browser_family, os_family, \
             referrer_host, social_source FROM clicks WHERE workspace_id = $1 AND link_id = $2 \
             ORDER BY clicked_at DESC, id DESC LIMIT {}",
            limit.clamp(1, 500)
        ))
        .bind(ws.to_string())
        .bind(link.to_string())
        .fetch_all(&self.reader)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(RecentClick {
                    clicked_at: crate::rows::time(r, "clicked_at")?,
                    touch_type: get(r, "touch_type")?,
                    is_bot: crate::rows::flag(r, "is_bot")?,
                    country: get(r, "country")?,
                    device_category: get(r, "device_category")?,
                    browser_family: get(r, "browser_family")?,
                    os_family: get(r, "os_family")?,
                    referrer_host: get(r, "referrer_host")?,
                    social_source: get(r, "social_source")?,
                })
            })
            .collect()
    }

    /// Writes a batch of clicks and their events (human clicks only have one) in one transaction, with
    /// the events' deliveries. Deliveries that `handoff` takes are created already claimed and returned
    /// in [`FanOut::handed_over`], for the caller to give to its engine.
    pub async fn insert_clicks(
        &self,
        batch: &[(ClickRow, Option<EventRecord>)],
        handoff: Option<&dyn DeliveryHandoff>,
    ) -> Result<FanOut> {
        if batch.is_empty() {
            return Ok(FanOut::default());
        }
        let mut tx = self.begin().await?;
        let ph = crate::Placeholders::for_backend(self.backend);
        for chunk in crate::statement_chunks(batch, ph.max_rows(CLICK_COLUMNS)) {
            let sql = format!(
                "INSERT INTO clicks (link_id, workspace_id, clicked_at, touch_type, is_bot, country, device_category, \
                 browser_family, os_family, referrer_host, social_source, utm_source, utm_medium, utm_campaign, \
                 utm_term, utm_content, visitor_hash, event_id) VALUES {}",
                ph.rows(chunk.len(), CLICK_COLUMNS, 0)
            );
            let mut q = sqlx::query(&sql);
            for (c, ev) in chunk {
                q = q
                    .bind(c.link_id.to_string())
                    .bind(c.workspace_id.to_string())
                    .bind(ms(c.clicked_at))
                    .bind(c.touch_type.as_str())
                    .bind(int_flag(c.is_bot))
                    .bind(c.country.clone())
                    .bind(c.device_category)
                    .bind(c.browser_family.clone())
                    .bind(c.os_family.clone())
                    .bind(c.referrer_host.clone())
                    .bind(c.social_source.clone());
                for u in &c.utm {
                    q = q.bind(u.clone());
                }
                q = q
                    .bind(c.visitor_hash.clone())
                    .bind(ev.as_ref().map(|e| e.id.to_string()));
            }
            q.execute(&mut *tx).await?;
        }

        let events: Vec<&EventRecord> = batch.iter().filter_map(|(_, e)| e.as_ref()).collect();
        if events.is_empty() {
            tx.commit().await?;
            return Ok(FanOut::default());
        }
        for chunk in crate::statement_chunks(&events, ph.max_rows(EVENT_COLUMNS)) {
            let sql = format!(
                "INSERT INTO events (id, organization_id, workspace_id, type, link_id, created_at, body) VALUES {}",
                ph.rows(chunk.len(), EVENT_COLUMNS, 0)
            );
            let mut q = sqlx::query(&sql);
            for e in chunk {
                q = q
                    .bind(e.id.to_string())
                    .bind(e.organization_id.to_string())
                    .bind(e.workspace_id.to_string())
                    .bind(e.event_type.as_str())
                    .bind(e.link_id.map(|l| l.to_string()))
                    .bind(ms(e.created_at))
                    .bind(e.body.as_str());
            }
            q.execute(&mut *tx).await?;
        }
        let now = batch
            .iter()
            .map(|(c, _)| c.clicked_at)
            .max()
            .expect("non-empty batch");
        let mut reservations = Reservations::new(handoff, now);
        let fan_out = crate::deliveries::fan_out(&mut tx, &events, now, &mut reservations).await?;
        self.notify_in(&mut tx, crate::Notice::Work).await?;
        tx.commit().await?;
        reservations.keep();
        if fan_out.left_for_claims() {
            // The claims that pick these up will want the bodies: spare them the read.
            for e in &events {
                self.bodies.insert(e.id, e.body.as_str().into());
            }
        }
        Ok(fan_out)
    }

    pub async fn count_clicks(&self, ws: WorkspaceId) -> Result<(i64, i64)> {
        let row = sqlx::query(
            "SELECT COUNT(*) AS total, CAST(COALESCE(SUM(is_bot), 0) AS BIGINT) AS bots FROM clicks WHERE workspace_id = $1",
        )
        .bind(ws.to_string())
        .fetch_one(&self.reader)
        .await?;
        Ok((get(&row, "total")?, get(&row, "bots")?))
    }

    pub async fn link_analytics(&self, filter: &AnalyticsFilter) -> Result<AnalyticsReport> {
        let mut cond = String::from("workspace_id = $1 AND link_id = $2 AND clicked_at >= $3");
        if filter.touch_type.is_some() {
            cond.push_str(" AND touch_type = $4");
        }
        if !filter.include_bots {
            cond.push_str(" AND is_bot = 0");
        }
        let run = |sql: String| async move {
            let mut q = sqlx::query(&sql)
                .bind(filter.workspace_id.to_string())
                .bind(filter.link_id.to_string())
                .bind(ms(filter.since));
            if let Some(t) = filter.touch_type {
                q = q.bind(t.as_str());
            }
            q.fetch_all(&self.reader).await
        };

        let totals = run(format!(
            "SELECT COUNT(*) AS clicks, COUNT(DISTINCT visitor_hash) AS visitors, \
                    CAST(COALESCE(SUM(CASE WHEN touch_type = 'qr_scan' THEN 1 ELSE 0 END), 0) AS BIGINT) AS scans, \
                    CAST(COALESCE(SUM(is_bot), 0) AS BIGINT) AS bots FROM clicks WHERE {cond}"
        ))
        .await?;
        let t = &totals[0];
        let mut report = AnalyticsReport {
            clicks: get(t, "clicks")?,
            unique_visitors: get(t, "visitors")?,
            qr_scans: get(t, "scans")?,
            bot_clicks: get(t, "bots")?,
            ..Default::default()
        };
        // Days are UTC calendar days of the millisecond timestamp.
        let by_day = run(format!(
            "SELECT (clicked_at / 86400000) AS day, COUNT(*) AS n FROM clicks WHERE {cond} GROUP BY (clicked_at / 86400000) ORDER BY day"
        ))
        .await?;
        for r in &by_day {
            let day: i64 = get(r, "day")?;
            let date = chrono::DateTime::from_timestamp(day * 86_400, 0)
                .unwrap_or_default()
                .date_naive();
            report.by_day.push(DayCount {
                date: date.to_string(),
                clicks: get(r, "n")?,
            });
        }
        for (column, target) in [
            ("country", &mut report.top_countries),
            ("device_category", &mut report.top_devices),
            ("browser_family", &mut report.top_browsers),
            ("referrer_host", &mut report.top_referrers),
            ("social_source", &mut report.top_social_sources),
        ] {
            let rows = run(format!(
                "SELECT {column} AS value, COUNT(*) AS n FROM clicks WHERE {cond} AND {column} IS NOT NULL \
                 GROUP BY {column} ORDER BY n DESC, value LIMIT 10"
            ))
            .await?;
            for r in &rows {
                target.push(CountBy {
                    value: get(r, "value")?,
                    clicks: get(r, "n")?,
                });
            }
        }
        Ok(report)
    }
}

#[derive(Debug, Clone)]
pub struct AnalyticsFilter {
    pub workspace_id: WorkspaceId,
    pub link_id: LinkId,
    pub since: Timestamp,
    pub touch_type: Option<TouchType>,
    pub include_bots: bool,
}

#[derive(Debug, Clone, Default, Serialize, PartialEq, Eq)]
pub struct AnalyticsReport {
    pub clicks: i64,
    pub unique_visitors: i64,
    pub qr_scans: i64,
    pub bot_clicks: i64,
    pub by_day: Vec<DayCount>,
    pub top_countries: Vec<CountBy>,
    pub top_devices: Vec<CountBy>,
    pub top_browsers: Vec<CountBy>,
    pub top_referrers: Vec<CountBy>,
    pub top_social_sources: Vec<CountBy>,
}

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct DayCount {
    pub date: String,
    pub clicks: i64,
}

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct CountBy {
    pub value: String,
    pub clicks: i64,
}
