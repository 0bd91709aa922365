//! Crash safety: the real binary is killed with SIGKILL while deliveries are in flight, restarted on the
//! same data directory, and every event still reaches the receiver at least once.

use std::collections::HashMap;
use std::path::Path;
use std::process::Stdio;
use std::sync::Arc;
use std::time::{Duration, Instant};

use reqwest::Method;
use serde_json::{json, Value};
use tokio::process::{Child, Command};

use crate::support::*;

const LINKS: usize = 300;

struct Server {
    child: Child,
    base: String,
}

async fn start_server(dir: &Path, port: u16, run: u32) -> Server {
    let base = format!("http://127.0.0.1:{port}");
    let log = std::fs::File::create(dir.join(format!("server-{run}.log"))).expect("log file");
    let child = Command::new(env!("CARGO_BIN_EXE_linkwire"))
        .arg("serve")
        .arg("--data-dir")
        .arg(dir.join("data"))
        .arg("--listen")
        .arg(format!("127.0.0.1:{port}"))
        .arg("--public-url")
        .arg(&base)
        .env("LINKWIRE_ALLOW_PRIVATE_DESTINATIONS", "true")
        .env("LINKWIRE_ALLOW_HTTP_DESTINATIONS", "true")
        .env("LINKWIRE_RETRY_SCHEDULE", "0.2,0.2,0.2,0.2,0.2")
        .stdout(Stdio::null())
        .stderr(Stdio::from(log))
        .kill_on_drop(true)
        .spawn()
        .expect("spawn linkwire");
    let client = api_client();
    wait_until(Duration::from_secs(30), || async {
        client
            .get(format!("{base}/healthz"))
            .send()
            .await
            .is_ok_and(|r| r.status().is_success())
    })
    .await;
    Server { child, base }
}

async fn all_created_events(client: &reqwest::Client, base: &str, key: &str) -> Vec<String> {
    let mut ids = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let mut url = format!("{base}/api/v1/events?type=link.created&limit=500");
        if let Some(c) = &cursor {
            url.push_str(&format!("&cursor={c}"));
        }
        let v = expect_json(
            client.get(url).bearer_auth(key).send().await.expect("sent"),
            200,
        )
        .await;
        for e in v["events"].as_array().expect("events") {
            ids.push(s(&e["id"]));
        }
        match v["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_owned()),
            None => return ids,
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_while_delivering_loses_nothing() {
    let _g = SERIAL.write().await;
    let dir = tempfile::tempdir().expect("tempdir");
    let port = free_port();
    let mut server = start_server(dir.path(), port, 1).await;
    let key = std::fs::read_to_string(dir.path().join("data").join("bootstrap-admin-key"))
        .expect("bootstrap key file")
        .trim()
        .to_owned();
    let client = api_client();
    let rx = TestReceiver::start(Reply::ok().delay(Duration::from_millis(20))).await;
    let ep = expect_json(
        client
            .request(
                Method::POST,
                format!("{}/api/v1/webhooks/endpoints", server.base),
            )
            .bearer_auth(&key)
            .json(&json!({"endpoint_url": rx.url, "subscriptions": ["link.created"]}))
            .send()
            .await
            .expect("sent"),
        201,
    )
    .await;
    let secret = s(&ep["signing_secret"]);

    // Links are created by four writers while deliveries flow; the server dies midway.
    let created = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let mut writers = Vec::new();
    for w in 0..4 {
        let client = client.clone();
        let key = key.clone();
        let base = server.base.clone();
        let created = created.clone();
        writers.push(tokio::spawn(async move {
            for i in 0..LINKS / 4 {
                let r = client
                    .post(format!("{base}/api/v1/links"))
                    .bearer_auth(&key)
                    .json(&json!({"long_url": format!("https://example.com/{w}/{i}")}))
                    .send()
                    .await;
                match r {
                    Ok(r) if r.status() == 201 => {
                        created.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                    }
                    // The server is gone: stop writing.
                    _ => return,
                }
            }
        }));
    }
    // Midway: half the links written, deliveries flowing.
    wait_until(Duration::from_secs(60), || async {
        created.load(std::sync::atomic::Ordering::SeqCst) >= LINKS / 2 && rx.count() >= 20
    })
    .await;
    let pid = server.child.id().expect("running");
    let status = std::process::Command::new("kill")
        .arg("-KILL")
        .arg(pid.to_string())
        .status()
        .expect("kill");
    assert!(status.success());
    let _ = server.child.wait().await;
    let seen_at_kill = rx.count();
    let answered_at_kill = rx.answered();
    let created_at_kill = created.load(std::sync::atomic::Ordering::SeqCst);
    for w in writers {
        let _ = w.await;
    }

    // Restarted on the same data directory, it finishes the job.
    let restarted = Instant::now();
    let server = start_server(dir.path(), port, 2).await;
    let events = all_created_events(&client, &server.base, &key).await;
    assert!(
        events.len() >= created_at_kill,
        "{} events stored, {created_at_kill} creations acknowledged",
        events.len()
    );
    wait_until(Duration::from_secs(120), || async {
        let got: std::collections::HashSet<String> =
            rx.requests().iter().map(Received::event_id).collect();
        events.iter().all(|e| got.contains(e))
    })
    .await;
    let recovered_in = restarted.elapsed();
    let got = rx.requests();
    let mut per_event: HashMap<String, usize> = HashMap::new();
    for r in &got {
        *per_event.entry(r.event_id()).or_default() += 1;
    }
    assert!(
        per_event.keys().all(|k| events.contains(k)),
        "only known events"
    );
    let duplicates = got.len() - per_event.len();
    println!(
        "crash test: {} events ({created_at_kill} acknowledged before SIGKILL), receiver had seen {seen_at_kill} \
         ({answered_at_kill} answered) at kill; {} requests in all after restart, every event delivered within \
         {recovered_in:?} of the restart; duplicates: {duplicates}",
        events.len(),
        got.len(),
    );
    // Every request was properly signed, duplicates included.
    for r in &got {
        r.assert_signed(&secret);
    }
    assert!(
        duplicates <= LINKS,
        "duplicates are at most what was in flight at the kill: {duplicates}"
    );
    // And the server's own records agree: nothing is left pending or claimed.
    let endpoint_id = s(&ep["endpoint"]["id"]);
    wait_until(DEADLINE, || async {
        let mut open = 0;
        for status in ["pending", "delivering"] {
            let v: Value = expect_json(
                client
                    .get(format!(
                        "{}/api/v1/webhooks/endpoints/{endpoint_id}/deliveries?status={status}",
                        server.base
                    ))
                    .bearer_auth(&key)
                    .send()
                    .await
                    .expect("sent"),
                200,
            )
            .await;
            open += v["deliveries"].as_array().expect("list").len();
        }
        open == 0
    })
    .await;
    let stats = expect_json(
        client
            .get(format!("{}/api/v1/webhooks/stats", server.base))
            .bearer_auth(&key)
            .send()
            .await
            .expect("sent"),
        200,
    )
    .await;
    println!("crash test: stats after recovery {}", stats["totals"]);
    drop(server);
}
