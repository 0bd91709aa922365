//! Several `linkwire` processes on one PostgreSQL database (issue 4): every stored event is delivered at
//! least once through a SIGKILL of one node, live nodes never deliver an event twice, and a link changed
//! through one node redirects to its new destination on another within a second.
//!
//! Each test starts real `linkwire serve` processes (the binary Cargo built for this package) on a fresh
//! database of its own, created and dropped with the `psql` CLI (this crate does not depend on sqlx).
//! The server is `LINKWIRE_TEST_POSTGRES_URL` (default `postgres://postgres@127.0.0.1:5432/test`); when it
//! cannot be reached the tests print a loud SKIPPED note and pass, unless
//! `LINKWIRE_TEST_REQUIRE_POSTGRES=1`, in which case they fail.
//!
//! The tests run one at a time (a shared lock): each already loads the machine with three servers, and
//! a node starved of CPU for longer than the short test lease would make the results meaningless.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::{ConnectInfo, State};
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use base64::Engine as _;
use rand::RngCore;
use serde_json::{json, Value};

const DEFAULT_ADMIN_URL: &str = "postgres://postgres@127.0.0.1:5432/test";
const BROWSER_UA: &str = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36";
/// Seconds a delivery claim holds on these nodes: short, so the crash test does not wait two minutes.
const LEASE_SECS: u64 = 3;
/// How long a node may take to answer `/healthz` after it was started (migrations, a debug build).
const START_DEADLINE: Duration = Duration::from_secs(60);
/// Polling interval of every wait.
const POLL: Duration = Duration::from_millis(25);

/// One test at a time (see the module docs). A tokio mutex: it is held across awaits and survives a
/// panicking holder.
static SERIAL: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

// ---------------------------------------------------------------------------------------------------
// PostgreSQL: a fresh database per test, through `psql`.

fn admin_url() -> String {
    std::env::var("LINKWIRE_TEST_POSTGRES_URL")
        .ok()
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| DEFAULT_ADMIN_URL.to_owned())
}

/// Runs one SQL command through `psql`; returns its unaligned, tuples-only output.
fn psql(url: &str, sql: &str) -> Result<String, String> {
    let out = Command::new("psql")
        .arg(url)
        .args(["-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-c", sql])
        .env("PGCONNECT_TIMEOUT", "5")
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("cannot run psql: {e}"))?;
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).trim().to_owned())
    } else {
        Err(format!(
            "psql failed ({}): {}",
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        ))
    }
}

/// `psql` off the async workers.
async fn psql_async(url: &str, sql: &str) -> Result<String, String> {
    let (url, sql) = (url.to_owned(), sql.to_owned());
    tokio::task::spawn_blocking(move || psql(&url, &sql))
        .await
        .expect("psql task")
}

/// A database created for one test and dropped (forcibly) when the guard goes, panics included.
struct TestDb {
    admin_url: String,
    name: String,
    url: String,
}

impl TestDb {
    /// `None` when PostgreSQL is not reachable and the suite is not required to run.
    fn create(test: &str) -> Option<TestDb> {
        let admin = admin_url();
        if let Err(e) = psql(&admin, "SELECT 1") {
            if std::env::var("LINKWIRE_TEST_REQUIRE_POSTGRES").as_deref() == Ok("1") {
                panic!("PostgreSQL at {admin} is required (LINKWIRE_TEST_REQUIRE_POSTGRES=1) but unreachable: {e}");
            }
            eprintln!();
            eprintln!("==================================================================================");
            eprintln!(
                "  SKIPPED {test}: PostgreSQL is not reachable at LINKWIRE_TEST_POSTGRES_URL"
            );
            eprintln!("  ({e})");
            eprintln!("  Set LINKWIRE_TEST_REQUIRE_POSTGRES=1 to make this a failure.");
            eprintln!("==================================================================================");
            eprintln!();
            return None;
        }
        let name = format!("lw_mn_{}", uuid::Uuid::new_v4().simple());
        psql(&admin, &format!("CREATE DATABASE {name}"))
            .unwrap_or_else(|e| panic!("creating database {name}: {e}"));
        let mut url = url::Url::parse(&admin).expect("LINKWIRE_TEST_POSTGRES_URL is a URL");
        url.set_path(&format!("/{name}"));
        Some(TestDb {
            admin_url: admin,
            name,
            url: url.to_string(),
        })
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        let sql = format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.name);
        if let Err(e) = psql(&self.admin_url, &sql) {
            eprintln!("warning: dropping test database {}: {e}", self.name);
        }
    }
}

// ---------------------------------------------------------------------------------------------------
// Nodes: `linkwire serve` child processes.

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .expect("bind an ephemeral port")
        .local_addr()
        .expect("address")
        .port()
}

fn random_encryption_key() -> String {
    let mut key = [0u8; 32];
    rand::thread_rng().fill_bytes(&mut key);
    base64::engine::general_purpose::STANDARD.encode(key)
}

struct Node {
    number: usize,
    base: String,
    child: Option<Child>,
    dir: tempfile::TempDir,
    log: PathBuf,
}

impl Node {
    fn spawn(number: usize, db_url: &str, encryption_key: &str) -> Node {
        let dir = tempfile::tempdir().expect("tempdir");
        let port = free_port();
        let base = format!("http://127.0.0.1:{port}");
        let log = dir.path().join("node.log");
        let out = std::fs::File::create(&log).expect("log file");
        let err = out.try_clone().expect("log file");
        let child = Command::new(env!("CARGO_BIN_EXE_linkwire"))
            .arg("serve")
            .arg("--data-dir")
            .arg(dir.path().join("data"))
            .args(["--listen", &format!("127.0.0.1:{port}")])
            .args(["--public-url", &base])
            .args(["--database-url", db_url])
            .env_remove("LINKWIRE_CONFIG")
            .env("LINKWIRE_ENCRYPTION_KEY", encryption_key)
            .env("LINKWIRE_ALLOW_PRIVATE_DESTINATIONS", "true")
            .env("LINKWIRE_ALLOW_HTTP_DESTINATIONS", "true")
            .env("LINKWIRE_RETRY_SCHEDULE", "0.2,0.2,0.2,0.2,0.2")
            .env("LINKWIRE_DELIVERY_LEASE", LEASE_SECS.to_string())
            // JSON lines, so the test can read the `released` counts of lease expiry.
            .env("LINKWIRE_LOG_FORMAT", "json")
            .env("NO_COLOR", "1")
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            .spawn()
            .expect("start linkwire");
        Node {
            number,
            base,
            child: Some(child),
            dir,
            log,
        }
    }

    fn data_dir(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    fn log_tail(&self) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let start = text.len().saturating_sub(4000);
        let start = (start..text.len())
            .find(|i| text.is_char_boundary(*i))
            .unwrap_or(text.len());
        text[start..].to_owned()
    }

    async fn wait_healthy(&mut self, client: &reqwest::Client) {
        let deadline = Instant::now() + START_DEADLINE;
        loop {
            if let Some(status) = self
                .child
                .as_mut()
                .and_then(|c| c.try_wait().expect("child status"))
            {
                panic!(
                    "node {} exited during start ({status}); its log:\n{}",
                    self.number,
                    self.log_tail()
                );
            }
            if let Ok(r) = client.get(format!("{}/healthz", self.base)).send().await {
                if r.status() == StatusCode::OK {
                    return;
                }
            }
            assert!(
                Instant::now() < deadline,
                "node {} not healthy after {START_DEADLINE:?}; its log:\n{}",
                self.number,
                self.log_tail()
            );
            tokio::time::sleep(POLL).await;
        }
    }

    /// SIGKILL (what `kill -KILL <pid>` sends; `Child::kill` is exactly that on Unix): no drain, no
    /// recording of in-flight attempts.
    fn kill(&mut self) -> Option<u32> {
        let mut child = self.child.take()?;
        let pid = child.id();
        let _ = child.kill();
        let _ = child.wait();
        Some(pid)
    }

    /// Sum of `released` over the node's "re-queued deliveries whose claim expired" log lines.
    fn released_claims(&self) -> u64 {
        released_in_log(&self.log)
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        self.kill();
        if let Ok(d) = std::env::var("MN_KEEP_LOGS") {
            let _ = std::fs::copy(
                &self.log,
                format!(
                    "{d}/node{}-{}.log",
                    self.number,
                    self.base.rsplit(':').next().unwrap()
                ),
            );
        }
    }
}

fn released_in_log(path: &Path) -> u64 {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter_map(|v| v["fields"]["released"].as_u64())
        .sum()
}

/// Nodes on one fresh database. Field order matters: the nodes are killed before the database is dropped.
struct Cluster {
    nodes: Vec<Node>,
    db: TestDb,
    key: String,
    client: reqwest::Client,
}

impl Cluster {
    /// Starts `n` nodes: node 1 first (it bootstraps the fresh database), then the others together.
    async fn start(test: &str, n: usize) -> Option<Cluster> {
        let db = TestDb::create(test)?;
        let encryption_key = random_encryption_key();
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(Duration::from_secs(30))
            .pool_max_idle_per_host(64)
            .build()
            .expect("client");
        let mut first = Node::spawn(1, &db.url, &encryption_key);
        first.wait_healthy(&client).await;
        let key_file = first.data_dir().join("bootstrap-admin-key");
        let key = std::fs::read_to_string(&key_file)
            .unwrap_or_else(|e| {
                panic!(
                    "node 1 wrote no {} ({e}); its log:\n{}",
                    key_file.display(),
                    first.log_tail()
                )
            })
            .trim()
            .to_owned();
        let mut nodes = vec![first];
        for number in 2..=n {
            nodes.push(Node::spawn(number, &db.url, &encryption_key));
        }
        for node in nodes.iter_mut().skip(1) {
            node.wait_healthy(&client).await;
            assert!(
                !node.data_dir().join("bootstrap-admin-key").exists(),
                "node {} bootstrapped a second time",
                node.number
            );
        }
        Some(Cluster {
            nodes,
            db,
            key,
            client,
        })
    }

    fn base(&self, node: usize) -> &str {
        &self.nodes[node - 1].base
    }

    async fn api(
        &self,
        node: usize,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> Value {
        let mut req = self
            .client
            .request(method.clone(), format!("{}{path}", self.base(node)))
            .bearer_auth(&self.key);
        if let Some(b) = body {
            req = req.json(&b);
        }
        let resp = req
            .send()
            .await
            .unwrap_or_else(|e| panic!("{method} {path} on node {node}: {e}"));
        let status = resp.status();
        let text = resp.text().await.expect("body");
        assert!(
            status.is_success(),
            "{method} {path} on node {node}: {status} {text}"
        );
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("{method} {path}: {e}: {text}"))
    }

    async fn create_endpoint(&self, receiver: SocketAddr) {
        self.api(
            1,
            reqwest::Method::POST,
            "/api/v1/webhooks/endpoints",
            Some(json!({
                "endpoint_url": format!("http://{receiver}/hook"),
                "subscriptions": ["link.clicked"],
            })),
        )
        .await;
    }

    async fn create_link(&self, slug: &str, long_url: &str) -> Value {
        let v = self
            .api(
                1,
                reqwest::Method::POST,
                "/api/v1/links",
                Some(json!({ "long_url": long_url, "custom_slug": slug })),
            )
            .await;
        v["link"].clone()
    }

    /// Every stored `link.clicked` event id, read through node 1's events API page by page.
    async fn clicked_event_ids(&self) -> Vec<String> {
        let mut ids = Vec::new();
        let mut cursor = String::new();
        loop {
            let page = self
                .api(
                    1,
                    reqwest::Method::GET,
                    &format!("/api/v1/events?type=link.clicked&limit=500&cursor={cursor}"),
                    None,
                )
                .await;
            for e in page["events"].as_array().expect("events array") {
                assert_eq!(e["type"], "link.clicked", "{e}");
                ids.push(e["id"].as_str().expect("event id").to_owned());
            }
            match page["next_cursor"].as_str() {
                Some(c) => cursor = c.to_owned(),
                None => return ids,
            }
        }
    }

    /// `status=count` of every delivery row, e.g. `{"delivered": 10000}`.
    async fn delivery_statuses(&self) -> HashMap<String, u64> {
        let out = psql_async(
            &self.db.url,
            "SELECT status || '=' || count(*) FROM deliveries GROUP BY status ORDER BY status",
        )
        .await
        .expect("counting deliveries");
        out.lines()
            .filter_map(|l| l.split_once('='))
            .map(|(s, n)| (s.to_owned(), n.parse().expect("a count")))
            .collect()
    }

    async fn count(&self, sql: &str) -> u64 {
        psql_async(&self.db.url, sql)
            .await
            .unwrap_or_else(|e| panic!("{sql}: {e}"))
            .parse()
            .expect("a count")
    }
}

// ---------------------------------------------------------------------------------------------------
// The receiver: a real HTTP server counting what arrives.

#[derive(Default)]
struct Seen {
    /// Deliveries received per event id.
    by_event: HashMap<String, u32>,
    /// Requests whose body `id` differed from `X-Nim-Event-Id`.
    mismatched: u64,
}

#[derive(Default)]
struct Receiver {
    seen: Mutex<Seen>,
    total: AtomicU64,
    /// Which node sent each request, by the sender's TCP port (see [`node_of_port`]).
    senders: Mutex<Senders>,
    started: OnceInstant,
    /// Set by the crash test: the next request from node 2 asks for the kill and is held until it is done.
    kill_armed: AtomicBool,
    kill_requested: tokio::sync::Notify,
    node_2_dead: AtomicBool,
}

/// Node pids to attribute connections to, and what was learned.
#[derive(Default)]
struct Senders {
    /// (node number, pid)
    pids: Vec<(usize, u32)>,
    receiver_port: u16,
    port_owner: HashMap<u16, usize>,
    /// Requests per node number (index 0: unknown sender).
    per_node: [u64; 4],
    /// When each node's latest request arrived, in ms since the receiver started.
    last_ms: [u64; 4],
}

struct OnceInstant(Instant);

impl Default for OnceInstant {
    fn default() -> Self {
        OnceInstant(Instant::now())
    }
}

/// The node whose process owns the loopback TCP connection from `peer_port` to `receiver_port`, found
/// through `/proc` (Linux): the socket's inode in `/proc/net/tcp`, then that inode among each pid's fds.
fn node_of_port(pids: &[(usize, u32)], peer_port: u16, receiver_port: u16) -> Option<usize> {
    let table = std::fs::read_to_string("/proc/net/tcp").ok()?;
    let inode = table.lines().skip(1).find_map(|line| {
        let cols: Vec<&str> = line.split_whitespace().collect();
        let port = |col: &str| {
            col.rsplit_once(':')
                .and_then(|(_, p)| u16::from_str_radix(p, 16).ok())
        };
        (port(cols.get(1)?) == Some(peer_port) && port(cols.get(2)?) == Some(receiver_port))
            .then(|| cols.get(9).map(|i| format!("socket:[{i}]")))
            .flatten()
    })?;
    pids.iter().find_map(|&(node, pid)| {
        std::fs::read_dir(format!("/proc/{pid}/fd"))
            .ok()?
            .flatten()
            .any(|fd| {
                std::fs::read_link(fd.path())
                    .is_ok_and(|target| target.as_os_str() == inode.as_str())
            })
            .then_some(node)
    })
}

impl Receiver {
    async fn start() -> (Arc<Receiver>, SocketAddr) {
        let receiver = Arc::new(Receiver::default());
        let app = axum::Router::new()
            .route("/hook", post(hook))
            .with_state(receiver.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind receiver");
        let addr = listener.local_addr().expect("address");
        receiver.senders.lock().expect("lock").receiver_port = addr.port();
        tokio::spawn(async move {
            axum::serve(
                listener,
                app.into_make_service_with_connect_info::<SocketAddr>(),
            )
            .await
            .expect("receiver serves");
        });
        (receiver, addr)
    }

    /// Attribute requests to these nodes from now on.
    fn watch_nodes(&self, nodes: &[Node]) {
        self.senders.lock().expect("lock").pids = nodes
            .iter()
            .filter_map(|n| Some((n.number, n.child.as_ref()?.id())))
            .collect();
    }

    /// Counts the request for the node that sent it; returns that node (0: unknown).
    fn record_sender(&self, peer: SocketAddr) -> usize {
        let now_ms = self.started.0.elapsed().as_millis() as u64;
        let mut s = self.senders.lock().expect("lock");
        if s.pids.is_empty() {
            return 0;
        }
        let node = match s.port_owner.get(&peer.port()) {
            Some(&n) => n,
            None => match node_of_port(&s.pids, peer.port(), s.receiver_port) {
                Some(n) => {
                    s.port_owner.insert(peer.port(), n);
                    n
                }
                None => 0,
            },
        };
        s.per_node[node] += 1;
        s.last_ms[node] = now_ms;
        node
    }

    /// Requests per node so far: `[unknown, node 1, node 2, node 3]`.
    fn per_node(&self) -> [u64; 4] {
        self.senders.lock().expect("lock").per_node
    }

    fn total(&self) -> u64 {
        self.total.load(Ordering::SeqCst)
    }

    fn distinct(&self) -> usize {
        self.seen.lock().expect("lock").by_event.len()
    }

    fn has_all(&self, ids: &[String]) -> bool {
        let seen = self.seen.lock().expect("lock");
        ids.iter().all(|id| seen.by_event.contains_key(id))
    }

    fn missing(&self, ids: &[String]) -> Vec<String> {
        let seen = self.seen.lock().expect("lock");
        ids.iter()
            .filter(|id| !seen.by_event.contains_key(*id))
            .cloned()
            .collect()
    }
}

async fn hook(
    State(r): State<Arc<Receiver>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    body: Bytes,
) -> StatusCode {
    let node = r.record_sender(peer);
    let header_id = headers
        .get("x-nim-event-id")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    let body_id = serde_json::from_slice::<Value>(&body)
        .ok()
        .and_then(|v| v["id"].as_str().map(str::to_owned));
    {
        let mut seen = r.seen.lock().expect("lock");
        if body_id.as_deref() != Some(header_id.as_str()) {
            seen.mismatched += 1;
        }
        *seen.by_event.entry(header_id).or_default() += 1;
    }
    r.total.fetch_add(1, Ordering::SeqCst);
    if node == 2 && r.kill_armed.swap(false, Ordering::SeqCst) {
        // This delivery reached the receiver; node 2 dies before it hears back, so it never records it.
        r.kill_requested.notify_one();
        let deadline = Instant::now() + Duration::from_secs(5);
        while !r.node_2_dead.load(Ordering::SeqCst) && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
    }
    tokio::time::sleep(Duration::from_millis(2)).await;
    StatusCode::OK
}

// ---------------------------------------------------------------------------------------------------
// Clicks.

/// Sends `total` human clicks on `/{slug}` from `workers` concurrent tasks. `pick(i, node_2_dead)` chooses
/// the node (1-based) of click `i`. When `gate` is set, clicks from that index on wait until `killed` is
/// set, so the kill falls in the middle of the traffic whatever the relative speeds. A click that fails
/// because node 2 was killed under it is sent again to another node. Returns clicks answered per node.
#[allow(clippy::too_many_arguments)]
async fn send_clicks(
    client: reqwest::Client,
    bases: Vec<String>,
    slug: &str,
    total: usize,
    workers: usize,
    pick: fn(usize, bool) -> usize,
    killed: Arc<AtomicBool>,
    gate: Option<usize>,
) -> Vec<u64> {
    let next = Arc::new(AtomicUsize::new(0));
    let per_node: Arc<Vec<AtomicU64>> = Arc::new(bases.iter().map(|_| AtomicU64::new(0)).collect());
    let bases = Arc::new(bases);
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..workers {
        let (client, bases, next, per_node, killed) = (
            client.clone(),
            bases.clone(),
            next.clone(),
            per_node.clone(),
            killed.clone(),
        );
        let slug = slug.to_owned();
        tasks.spawn(async move {
            loop {
                let i = next.fetch_add(1, Ordering::SeqCst);
                if i >= total {
                    return;
                }
                if gate.is_some_and(|g| i >= g) {
                    let deadline = Instant::now() + Duration::from_secs(120);
                    while !killed.load(Ordering::SeqCst) {
                        assert!(Instant::now() < deadline, "node 2 was never killed");
                        tokio::time::sleep(POLL).await;
                    }
                }
                loop {
                    let dead = killed.load(Ordering::SeqCst);
                    let node = pick(i, dead);
                    let result = client
                        .get(format!("{}/{slug}", bases[node - 1]))
                        .header("user-agent", BROWSER_UA)
                        .send()
                        .await;
                    match result {
                        Ok(r) if r.status().is_redirection() => {
                            per_node[node - 1].fetch_add(1, Ordering::SeqCst);
                            break;
                        }
                        Ok(r) => panic!("click {i} on node {node}: {}", r.status()),
                        // Killed under this request: it may or may not have been queued; send it again.
                        Err(_) if node == 2 && killed.load(Ordering::SeqCst) => continue,
                        Err(e) => panic!("click {i} on node {node}: {e}"),
                    }
                }
            }
        });
    }
    while let Some(done) = tasks.join_next().await {
        done.expect("click task");
    }
    per_node.iter().map(|n| n.load(Ordering::SeqCst)).collect()
}

fn round_robin_then_skip_node_2(i: usize, node_2_dead: bool) -> usize {
    if node_2_dead {
        [1, 3][i % 2]
    } else {
        i % 3 + 1
    }
}

/// Waits until every stored `link.clicked` event has reached the receiver and no delivery is left
/// unfinished (so late re-sends are counted too). Returns the stored event ids.
async fn wait_until_all_delivered(
    cluster: &Cluster,
    receiver: &Receiver,
    deadline: Duration,
) -> Vec<String> {
    let until = Instant::now() + deadline;
    let mut previous = usize::MAX;
    loop {
        let ids = cluster.clicked_event_ids().await;
        // Cheap polling of the receiver until it has at least as many distinct events as are stored.
        while receiver.distinct() < ids.len() && Instant::now() < until {
            tokio::time::sleep(POLL).await;
        }
        let statuses = cluster.delivery_statuses().await;
        let unfinished: u64 = statuses
            .iter()
            .filter(|(s, _)| s.as_str() != "delivered")
            .map(|(_, n)| n)
            .sum();
        // The event count is stable across two listings (no click batch still being written), every
        // stored event arrived, and every delivery row is finished.
        if ids.len() == previous && receiver.has_all(&ids) && unfinished == 0 {
            return ids;
        }
        if Instant::now() >= until {
            let missing = receiver.missing(&ids);
            panic!(
                "after {deadline:?}: {} events stored, {} distinct received ({} in all), {} missing \
                 (first: {:?}), deliveries by status: {statuses:?}",
                ids.len(),
                receiver.distinct(),
                receiver.total(),
                missing.len(),
                missing.first()
            );
        }
        previous = ids.len();
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// After everything is finished, waits a moment for a stray late request (there should be none).
async fn quiet_period(receiver: &Receiver) {
    let mut last = receiver.total();
    let mut still_since = Instant::now();
    let deadline = Instant::now() + Duration::from_secs(10);
    while still_since.elapsed() < Duration::from_millis(500) && Instant::now() < deadline {
        tokio::time::sleep(POLL).await;
        let now = receiver.total();
        if now != last {
            last = now;
            still_since = Instant::now();
        }
    }
}

// ---------------------------------------------------------------------------------------------------
// The tests.

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn three_nodes_deliver_every_event_through_a_crash() {
    const CLICKS: usize = 10_000;
    const KILL_AFTER_RECEIVED: u64 = 3_000;
    let _serial = SERIAL.lock().await;
    let Some(mut cluster) =
        Cluster::start("three_nodes_deliver_every_event_through_a_crash", 3).await
    else {
        return;
    };
    let (receiver, addr) = Receiver::start().await;
    receiver.watch_nodes(&cluster.nodes);
    cluster.create_endpoint(addr).await;
    cluster.create_link("mn", "https://example.com/a").await;

    let started = Instant::now();
    let killed = Arc::new(AtomicBool::new(false));
    let bases: Vec<String> = cluster.nodes.iter().map(|n| n.base.clone()).collect();
    let clicks = tokio::spawn(send_clicks(
        cluster.client.clone(),
        bases,
        "mn",
        CLICKS,
        32,
        round_robin_then_skip_node_2,
        killed.clone(),
        // Half the clicks wait for the kill, so at least 5,000 go to nodes 1 and 3 after it.
        Some(CLICKS / 2),
    ));

    // The crash: once ~3,000 deliveries have arrived, the receiver holds the next request node 2 sends
    // and asks for the kill, so node 2 dies mid-delivery, holding at least that claim (a kill at a moment
    // it happens to hold none would test nothing).
    let deadline = Instant::now() + Duration::from_secs(90);
    while receiver.total() < KILL_AFTER_RECEIVED {
        assert!(
            Instant::now() < deadline,
            "only {} deliveries received before the kill deadline",
            receiver.total()
        );
        assert!(!clicks.is_finished(), "the click senders stopped early");
        tokio::time::sleep(POLL).await;
    }
    let requested = receiver.kill_requested.notified();
    receiver.kill_armed.store(true, Ordering::SeqCst);
    if tokio::time::timeout(Duration::from_secs(60), requested)
        .await
        .is_err()
    {
        panic!(
            "node 2 sent nothing more after {} deliveries; per node [unknown, 1, 2, 3]: {:?}",
            receiver.total(),
            receiver.per_node()
        );
    }
    // Claims held by any node at the moment of the kill (node 2's are a part of these).
    let claimed_before = cluster
        .count("SELECT count(*) FROM deliveries WHERE status = 'delivering'")
        .await;
    killed.store(true, Ordering::SeqCst);
    let received_at_kill = receiver.total();
    let per_sender_at_kill = receiver.per_node();
    let pid = cluster.nodes[1].kill().expect("node 2 was running");
    receiver.node_2_dead.store(true, Ordering::SeqCst);
    let killed_at = started.elapsed();
    let claimed_after = cluster
        .count("SELECT count(*) FROM deliveries WHERE status = 'delivering'")
        .await;

    let per_node = clicks.await.expect("click senders");
    let sent_at = started.elapsed();
    let ids = wait_until_all_delivered(&cluster, &receiver, Duration::from_secs(90)).await;
    quiet_period(&receiver).await;

    let (distinct, max_per_event, mismatched) = {
        let seen = receiver.seen.lock().expect("lock");
        (
            seen.by_event.len() as u64,
            seen.by_event.values().copied().max().unwrap_or(0),
            seen.mismatched,
        )
    };
    let received = receiver.total();
    let duplicates = received - distinct;
    let stored = ids.len() as u64;
    // Lease expiry on the live nodes re-queued exactly the claims node 2 held when it died (no live
    // node's claim may expire: they finish in well under the lease).
    let released: u64 = [0, 2]
        .iter()
        .map(|&i| cluster.nodes[i].released_claims())
        .sum();
    let recorded_attempts = cluster.count("SELECT count(*) FROM attempts").await;
    let deliveries = cluster.count("SELECT count(*) FROM deliveries").await;

    println!("--- three nodes, SIGKILL of node 2 (pid {pid}) ---");
    println!(
        "clicks answered per node: {per_node:?} (sum {})",
        per_node.iter().sum::<u64>()
    );
    println!("node 2 killed at {killed_at:.1?}, after {received_at_kill} deliveries received");
    println!(
        "deliveries sent per node [unknown, 1, 2, 3]: at the kill {per_sender_at_kill:?}, in all {:?}",
        receiver.per_node()
    );
    println!(
        "claims held by all nodes just before/after the kill: {claimed_before} / {claimed_after}"
    );
    println!("node 2's claims re-queued by lease expiry on nodes 1 and 3: {released}");
    println!(
        "all clicks answered at {sent_at:.1?}; everything delivered at {:.1?}",
        started.elapsed()
    );
    println!("events stored (link.clicked): {stored}; deliveries rows: {deliveries}");
    println!("deliveries received: {received}; distinct events: {distinct}; duplicates: {duplicates} (max {max_per_event} per event)");
    println!(
        "attempts recorded in the database: {recorded_attempts}; sent but never recorded: {}",
        received.saturating_sub(recorded_attempts)
    );

    assert_eq!(mismatched, 0, "body id and X-Nim-Event-Id differed");
    assert!(
        stored > 0 && stored <= CLICKS as u64,
        "{stored} events stored"
    );
    // Every stored event was delivered at least once (checked by the wait) and nothing else arrived.
    assert_eq!(distinct, stored, "received events that are not stored");
    assert_eq!(deliveries, stored, "one delivery per event and endpoint");
    // Only clicks still in node 2's memory queue may be lost; the rest were all stored.
    assert!(
        stored >= per_node[0] + per_node[2],
        "clicks answered by live nodes were lost: {stored} stored, {per_node:?} answered"
    );
    // Duplicates come only from deliveries node 2 had sent (the receiver got them) but not yet recorded
    // when it was killed: their claims stayed `delivering` until the 3 s lease ran out, a live node put
    // them back in the queue and sent them again. So there are at most as many as node 2 had claimed —
    // one claim batch (512) plus what it still had in flight or waiting to be recorded — and every one of
    // them is an attempt that reached the receiver but is not in the attempts table.
    assert!(
        duplicates <= released,
        "{duplicates} duplicates but only {released} claims re-queued"
    );
    assert!(duplicates <= 1_024, "{duplicates} duplicates");
    assert_eq!(
        duplicates as i64,
        received as i64 - recorded_attempts as i64,
        "every duplicate is an attempt node 2 sent and never recorded"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn live_nodes_never_deliver_twice() {
    const CLICKS: usize = 3_000;
    let _serial = SERIAL.lock().await;
    let Some(cluster) = Cluster::start("live_nodes_never_deliver_twice", 3).await else {
        return;
    };
    let (receiver, addr) = Receiver::start().await;
    receiver.watch_nodes(&cluster.nodes);
    cluster.create_endpoint(addr).await;
    cluster.create_link("mn", "https://example.com/a").await;

    let started = Instant::now();
    let bases: Vec<String> = cluster.nodes.iter().map(|n| n.base.clone()).collect();
    let per_node = send_clicks(
        cluster.client.clone(),
        bases,
        "mn",
        CLICKS,
        32,
        round_robin_then_skip_node_2,
        Arc::new(AtomicBool::new(false)),
        None,
    )
    .await;
    let ids = wait_until_all_delivered(&cluster, &receiver, Duration::from_secs(60)).await;
    quiet_period(&receiver).await;

    let received = receiver.total();
    let distinct = receiver.distinct() as u64;
    let released: u64 = cluster.nodes.iter().map(Node::released_claims).sum();
    println!("--- three live nodes ---");
    println!(
        "clicks answered per node: {per_node:?}; delivered in {:.1?}",
        started.elapsed()
    );
    println!(
        "events stored: {}; deliveries received: {received}; duplicates: {}; claims re-queued: {released}",
        ids.len(),
        received - distinct
    );
    println!(
        "deliveries sent per node [unknown, 1, 2, 3]: {:?}",
        receiver.per_node()
    );
    assert_eq!(ids.len(), CLICKS, "every click on a live node is stored");
    assert_eq!(distinct, CLICKS as u64);
    assert_eq!(
        received, distinct,
        "an event was delivered twice by live nodes"
    );
    assert_eq!(released, 0, "a live node's claim expired");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_link_change_on_node_1_redirects_on_node_2_within_a_second() {
    let _serial = SERIAL.lock().await;
    let Some(cluster) = Cluster::start(
        "a_link_change_on_node_1_redirects_on_node_2_within_a_second",
        2,
    )
    .await
    else {
        return;
    };
    let link = cluster.create_link("moved", "https://example.com/a").await;
    let id = link["id"].as_str().expect("link id").to_owned();
    let old = link["long_url"].as_str().expect("long_url").to_owned();

    let location = |r: &reqwest::Response| {
        r.headers()
            .get("location")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    };
    let click = || {
        cluster
            .client
            .get(format!("{}/moved", cluster.base(2)))
            .header("user-agent", BROWSER_UA)
            .send()
    };
    // Node 2 learns the link (and caches it).
    let r = click().await.expect("redirect on node 2");
    assert!(r.status().is_redirection(), "{}", r.status());
    assert_eq!(location(&r).as_deref(), Some(old.as_str()));
    let r = click().await.expect("redirect on node 2");
    assert_eq!(location(&r).as_deref(), Some(old.as_str()));

    let patched = cluster
        .api(
            1,
            reqwest::Method::PATCH,
            &format!("/api/v1/links/{id}"),
            Some(json!({ "long_url": "https://example.com/b" })),
        )
        .await;
    let changed = Instant::now();
    let new = patched["link"]["long_url"]
        .as_str()
        .expect("long_url")
        .to_owned();
    assert_ne!(new, old);

    let mut polls = 0;
    let elapsed = loop {
        let r = click().await.expect("redirect on node 2");
        polls += 1;
        let at = location(&r);
        if at.as_deref() == Some(new.as_str()) {
            break changed.elapsed();
        }
        assert_eq!(at.as_deref(), Some(old.as_str()), "neither old nor new");
        assert!(
            changed.elapsed() < Duration::from_secs(1),
            "node 2 still redirects to {old} {:?} after the change on node 1",
            changed.elapsed()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    println!("--- cache invalidation across nodes ---");
    println!("node 2 redirected to the new destination {elapsed:.1?} after node 1 answered the PATCH ({polls} polls)");
    assert!(elapsed < Duration::from_secs(1));
}
