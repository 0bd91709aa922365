//! Cross-node notices over PostgreSQL `LISTEN` / `NOTIFY`: new delivery work, changed links and domains.
//! Notices are sent inside the writing transaction, so they arrive only if it commits. On SQLite (one
//! process) there is nobody else to tell and these are no-ops.

use linkwire_contract::DomainId;
use sqlx::postgres::PgListener;
use sqlx::{Any, Transaction};
use tokio::sync::mpsc;

use crate::{Backend, Result, Store};

const WORK: &str = "linkwire_work";
const LINKS: &str = "linkwire_links";
const DOMAINS: &str = "linkwire_domains";

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Notice {
    /// Deliveries were created or became due.
    Work,
    /// A link's code on a domain changed meaning (created, edited, deleted, taken down).
    Link { domain_id: DomainId, code: String },
    /// A domain's readiness changed.
    Domain { name: String },
    /// The listener reconnected and may have missed notices: drop every cached entry.
    Resync,
}

impl Notice {
    fn channel_and_payload(&self) -> Option<(&'static str, String)> {
        match self {
            Notice::Work => Some((WORK, String::new())),
            Notice::Link { domain_id, code } => Some((LINKS, format!("{domain_id}/{code}"))),
            Notice::Domain { name } => Some((DOMAINS, name.clone())),
            Notice::Resync => None,
        }
    }

    fn parse(channel: &str, payload: &str) -> Option<Notice> {
        match channel {
            WORK => Some(Notice::Work),
            LINKS => {
                let (domain, code) = payload.split_once('/')?;
                Some(Notice::Link {
                    domain_id: domain.parse().ok()?,
                    code: code.to_owned(),
                })
            }
            DOMAINS => Some(Notice::Domain {
                name: payload.to_owned(),
            }),
            _ => None,
        }
    }
}

impl Store {
    /// Queues `notice` for delivery to every node when `tx` commits.
    pub(crate) async fn notify_in(
        &self,
        tx: &mut Transaction<'static, Any>,
        notice: Notice,
    ) -> Result<()> {
        if self.backend != Backend::Postgres {
            return Ok(());
        }
        if let Some((channel, payload)) = notice.channel_and_payload() {
            sqlx::query("SELECT pg_notify($1, $2)")
                .bind(channel)
                .bind(payload)
                .execute(&mut **tx)
                .await?;
        }
        Ok(())
    }

    /// Notices from every node (this one included), or `None` on SQLite. Reconnects on its own and sends
    /// [`Notice::Resync`] after a gap.
    pub fn listen(&self) -> Option<mpsc::UnboundedReceiver<Notice>> {
        if self.backend != Backend::Postgres {
            return None;
        }
        let (tx, rx) = mpsc::unbounded_channel();
        let url = self.url.to_string();
        tokio::spawn(async move {
            let mut first = true;
            loop {
                match PgListener::connect(&url).await {
                    Ok(mut listener) => {
                        if listener.listen_all([WORK, LINKS, DOMAINS]).await.is_ok() {
                            if !first && tx.send(Notice::Resync).is_err() {
                                return;
                            }
                            first = false;
                            // `Ok(None)` or an error: the connection dropped; reconnect, then resync.
                            while let Ok(Some(n)) = listener.try_recv().await {
                                if let Some(notice) = Notice::parse(n.channel(), n.payload()) {
                                    if tx.send(notice).is_err() {
                                        return;
                                    }
                                }
                            }
                        }
                    }
                    Err(e) => tracing::warn!(error = %e, "LISTEN connection failed; retrying"),
                }
                if tx.is_closed() {
                    return;
                }
                tokio::time::sleep(std::time::Duration::from_secs(1)).await;
            }
        });
        Some(rx)
    }
}
