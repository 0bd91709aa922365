//! DNS TXT lookups for domain verification, behind a trait so tests can answer without the network.

use std::future::Future;
use std::pin::Pin;

use dashmap::DashMap;

pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

pub trait TxtResolver: Send + Sync + 'static {
    /// The TXT strings at `name`; an empty list when there are none.
    fn txt<'a>(&'a self, name: &'a str) -> BoxFuture<'a, Result<Vec<String>, String>>;
}

/// Real DNS through the system's resolver configuration.
pub struct SystemResolver(hickory_resolver::TokioAsyncResolver);

impl SystemResolver {
    pub fn new() -> Self {
        let resolver = hickory_resolver::TokioAsyncResolver::tokio_from_system_conf()
            .unwrap_or_else(|_| {
                hickory_resolver::TokioAsyncResolver::tokio(Default::default(), Default::default())
            });
        Self(resolver)
    }
}

impl Default for SystemResolver {
    fn default() -> Self {
        Self::new()
    }
}

impl TxtResolver for SystemResolver {
    fn txt<'a>(&'a self, name: &'a str) -> BoxFuture<'a, Result<Vec<String>, String>> {
        Box::pin(async move {
            match self.0.txt_lookup(name).await {
                Ok(answer) => Ok(answer
                    .iter()
                    .map(|txt| {
                        txt.txt_data()
                            .iter()
                            .map(|part| String::from_utf8_lossy(part))
                            .collect::<String>()
                    })
                    .collect()),
                Err(e)
                    if matches!(
                        e.kind(),
                        hickory_resolver::error::ResolveErrorKind::NoRecordsFound { .. }
                    ) =>
                {
                    Ok(Vec::new())
                }
                Err(e) => Err(e.to_string()),
            }
        })
    }
}

/// A resolver that answers from a table: for tests and air-gapped installs.
#[derive(Default)]
pub struct StaticResolver(DashMap<String, Vec<String>>);

impl StaticResolver {
    pub fn set(&self, name: &str, values: Vec<String>) {
        self.0.insert(name.to_ascii_lowercase(), values);
    }
}

impl TxtResolver for StaticResolver {
    fn txt<'a>(&'a self, name: &'a str) -> BoxFuture<'a, Result<Vec<String>, String>> {
        let values = self
            .0
            .get(&name.to_ascii_lowercase())
            .map(|v| v.clone())
            .unwrap_or_default();
        Box::pin(async move { Ok(values) })
    }
}
