//! The linkwire child process: spawn `linkwire serve` on a fresh data directory and a free port, wait
//! until it is healthy, talk to its API, and stop it with SIGTERM.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{ExitStatus, Stdio};
use std::time::Duration;

use anyhow::{bail, Context, Result};
use hyper::StatusCode;
use tempfile::TempDir;
use tokio::process::{Child, Command};
use tokio::time::Instant;

use crate::client;

const START_DEADLINE: Duration = Duration::from_secs(30);
const STOP_DEADLINE: Duration = Duration::from_secs(60);
const POLL_INTERVAL: Duration = Duration::from_millis(20);

pub struct LinkwireServer {
    pub addr: SocketAddr,
    pub admin_key: String,
    data_dir: TempDir,
    child: Child,
}

impl LinkwireServer {
    /// Spawns the binary with extra environment variables for the child (e.g. `LINKWIRE_RETRY_SCHEDULE`)
    /// and returns once `/healthz` answers 200 and the bootstrap key is on disk.
    pub async fn start_with_env(binary: &Path, env: &[(&str, &str)]) -> Result<Self> {
        Self::start_node(binary, env, &[], None).await
    }

    /// [`Self::start_with_env`] with extra `serve` arguments (e.g. `--database-url`). With `admin_key`
    /// (a node joining a database another node bootstrapped) it waits for `/healthz` only and uses that key;
    /// without, it waits for the bootstrap key in its own data directory too.
    pub async fn start_node(
        binary: &Path,
        env: &[(&str, &str)],
        args: &[&str],
        admin_key: Option<&str>,
    ) -> Result<Self> {
        check_binary(binary)?;
        let data_dir = tempfile::Builder::new()
            .prefix("linkwire-bench-")
            .tempdir()?;
        let addr = free_local_addr()?;
        let child = spawn(binary, data_dir.path(), addr, env, args)?;
        let mut server = Self {
            addr,
            admin_key: admin_key.unwrap_or_default().to_owned(),
            data_dir,
            child,
        };
        server.wait_ready(admin_key.is_none()).await?;
        Ok(server)
    }

    pub fn data_dir(&self) -> &Path {
        self.data_dir.path()
    }

    /// The child's process id (None once it has been reaped).
    pub fn pid(&self) -> Option<u32> {
        self.child.id()
    }

    async fn wait_ready(&mut self, read_key: bool) -> Result<()> {
        let addr = self.addr;
        let key_path = self.data_dir().join("bootstrap-admin-key");
        let deadline = Instant::now() + START_DEADLINE;
        loop {
            if let Some(status) = self.child.try_wait()? {
                bail!(
                    "linkwire exited during start-up ({status}){}",
                    self.log_tail()
                );
            }
            if !read_key {
                if healthy(addr).await {
                    return Ok(());
                }
            } else if let Some(key) = poll_ready(addr, &key_path).await {
                self.admin_key = key;
                return Ok(());
            }
            if Instant::now() >= deadline {
                bail!(
                    "linkwire not ready after {START_DEADLINE:?}{}",
                    self.log_tail()
                );
            }
            tokio::time::sleep(POLL_INTERVAL).await;
        }
    }

    /// The caller's workspace id, from `GET /api/v1/whoami`.
    pub async fn workspace_id(&self) -> Result<String> {
        let body = client::get(self.addr, "/api/v1/whoami", Some(&self.admin_key))
            .await?
            .json(StatusCode::OK)
            .context("GET /api/v1/whoami")?;
        string_field(&body, "/workspace_id")
    }

    /// Creates a link with a custom slug; returns its short URL.
    pub async fn create_link(&self, slug: &str, long_url: &str) -> Result<String> {
        let request = serde_json::json!({ "long_url": long_url, "custom_slug": slug });
        let body = client::post_json(self.addr, "/api/v1/links", Some(&self.admin_key), &request)
            .await?
            .json(StatusCode::CREATED)
            .context("POST /api/v1/links")?;
        let short_code = string_field(&body, "/link/short_code")?;
        if short_code != slug {
            bail!("POST /api/v1/links: asked for slug {slug:?}, got short_code {short_code:?}");
        }
        string_field(&body, "/link/short_url")
    }

    /// Creates a webhook endpoint; returns its id and signing secret.
    pub async fn create_endpoint(
        &self,
        url: &str,
        subscriptions: &[&str],
    ) -> Result<(String, String)> {
        let request = serde_json::json!({ "endpoint_url": url, "subscriptions": subscriptions });
        let body = client::post_json(
            self.addr,
            "/api/v1/webhooks/endpoints",
            Some(&self.admin_key),
            &request,
        )
        .await?
        .json(StatusCode::CREATED)
        .context("POST /api/v1/webhooks/endpoints")?;
        Ok((
            string_field(&body, "/endpoint/id")?,
            string_field(&body, "/signing_secret")?,
        ))
    }

    /// The ids of every webhook endpoint of the bootstrap workspace.
    pub async fn endpoint_ids(&self) -> Result<Vec<String>> {
        let body = client::get(
            self.addr,
            "/api/v1/webhooks/endpoints",
            Some(&self.admin_key),
        )
        .await?
        .json(StatusCode::OK)
        .context("GET /api/v1/webhooks/endpoints")?;
        body["endpoints"]
            .as_array()
            .context("no endpoints array")?
            .iter()
            .map(|e| string_field(e, "/id"))
            .collect()
    }

    /// Sets every endpoint's per-endpoint concurrency limit (1..64; the default is 8).
    pub async fn set_max_concurrency(&self, limit: u32) -> Result<()> {
        for id in self.endpoint_ids().await? {
            let path = format!("/api/v1/webhooks/endpoints/{id}");
            client::patch_json(
                self.addr,
                &path,
                Some(&self.admin_key),
                &serde_json::json!({ "max_concurrency": limit }),
            )
            .await?
            .json(StatusCode::OK)
            .with_context(|| format!("PATCH {path}"))?;
        }
        Ok(())
    }

    /// `POST …/{id}/retry-now`: the endpoint's waiting retries become due now.
    pub async fn retry_now(&self, endpoint_id: &str) -> Result<u64> {
        let path = format!("/api/v1/webhooks/endpoints/{endpoint_id}/retry-now");
        let body = client::post_json(
            self.addr,
            &path,
            Some(&self.admin_key),
            &serde_json::json!({}),
        )
        .await?
        .json(StatusCode::OK)
        .with_context(|| format!("POST {path}"))?;
        body["rescheduled"].as_u64().context("no rescheduled count")
    }

    /// The value of one Prometheus sample from `GET /metrics` (e.g. `linkwire_click_queue_depth`).
    pub async fn metric(&self, name: &str) -> Result<f64> {
        let reply = client::get(self.addr, "/metrics", None).await?;
        let text = String::from_utf8_lossy(&reply.body);
        text.lines()
            .filter_map(|line| line.strip_prefix(name)?.strip_prefix(' '))
            .find_map(|value| value.trim().parse().ok())
            .with_context(|| format!("no {name} in GET /metrics ({})", reply.status))
    }

    /// Sends SIGTERM and waits for the process to exit. Keeps the data directory for inspection.
    pub async fn stop(mut self) -> Result<(ExitStatus, StoppedServer)> {
        let pid = self.child.id().context("linkwire already reaped")?;
        let kill = std::process::Command::new("kill")
            .arg("-TERM")
            .arg(pid.to_string())
            .status()?;
        if !kill.success() {
            bail!("`kill -TERM {pid}` failed ({kill})");
        }
        let status = match tokio::time::timeout(STOP_DEADLINE, self.child.wait()).await {
            Ok(status) => status?,
            Err(_) => bail!(
                "linkwire still running {STOP_DEADLINE:?} after SIGTERM{}",
                self.log_tail()
            ),
        };
        Ok((
            status,
            StoppedServer {
                data_dir: self.data_dir,
            },
        ))
    }

    fn log_tail(&self) -> String {
        log_tail(self.data_dir())
    }
}

/// What is left after the process exited: its data directory (removed on drop).
pub struct StoppedServer {
    data_dir: TempDir,
}

impl StoppedServer {
    pub fn data_dir(&self) -> PathBuf {
        self.data_dir.path().to_owned()
    }

    pub fn log_tail(&self) -> String {
        log_tail(self.data_dir.path())
    }
}

/// Fails early, with a hint, when the binary is missing.
pub fn check_binary(binary: &Path) -> Result<()> {
    if !binary.is_file() {
        bail!(
            "linkwire binary not found at {} (build it with `cargo build --release -p linkwire-server`, \
             or pass --binary)",
            binary.display()
        );
    }
    Ok(())
}

fn spawn(
    binary: &Path,
    data_dir: &Path,
    addr: SocketAddr,
    env: &[(&str, &str)],
    args: &[&str],
) -> Result<Child> {
    let log = std::fs::File::create(log_path(data_dir))?;
    Command::new(binary)
        .envs(env.iter().copied())
        .arg("serve")
        .args(args)
        .arg("--data-dir")
        .arg(data_dir)
        .arg("--listen")
        .arg(addr.to_string())
        .arg("--public-url")
        .arg(format!("http://{addr}"))
        .stdin(Stdio::null())
        .stdout(log.try_clone()?)
        .stderr(log)
        .kill_on_drop(true)
        .spawn()
        .with_context(|| format!("spawning {}", binary.display()))
}

/// True once `/healthz` answers 200.
async fn healthy(addr: SocketAddr) -> bool {
    client::get(addr, "/healthz", None)
        .await
        .is_ok_and(|r| r.status == StatusCode::OK)
}

/// `Some(admin key)` once `/healthz` answers 200 and the bootstrap key file is written.
async fn poll_ready(addr: SocketAddr, key_path: &Path) -> Option<String> {
    if !healthy(addr).await {
        return None;
    }
    let key = std::fs::read_to_string(key_path).ok()?;
    let key = key.trim();
    (!key.is_empty()).then(|| key.to_owned())
}

/// A port that was free a moment ago (bind to :0, read the port, release it).
fn free_local_addr() -> Result<SocketAddr> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?)
}

fn string_field(body: &serde_json::Value, pointer: &str) -> Result<String> {
    body.pointer(pointer)
        .and_then(|v| v.as_str())
        .map(str::to_owned)
        .with_context(|| format!("no string at {pointer} in {body}"))
}

fn log_path(data_dir: &Path) -> PathBuf {
    data_dir.join("bench-server.log")
}

fn log_tail(data_dir: &Path) -> String {
    let log = std::fs::read_to_string(log_path(data_dir)).unwrap_or_default();
    if log.trim().is_empty() {
        return String::new();
    }
    let lines: Vec<&str> = log.lines().collect();
    let tail = lines[lines.len().saturating_sub(20)..].join("\n");
    format!("\n--- last lines of the server log ---\n{tail}")
}
