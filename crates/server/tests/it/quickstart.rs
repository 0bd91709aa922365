//! The README quickstart, run verbatim against the real binary.

use std::process::Stdio;
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::common::*;

fn quickstart_block() -> String {
    let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../README.md"))
        .expect("README.md");
    let start = readme
        .find("<!-- quickstart:start -->")
        .expect("quickstart start marker");
    let end = readme
        .find("<!-- quickstart:end -->")
        .expect("quickstart end marker");
    let block = &readme[start..end];
    let open = block.find("```sh\n").expect("a sh block") + "```sh\n".len();
    let close = block[open..].find("```").expect("closed block") + open;
    block[open..close].to_owned()
}

#[tokio::test]
async fn readme_quickstart_works_against_the_real_binary() {
    let script = quickstart_block();
    assert!(script.contains("127.0.0.1:8080"), "{script}");
    let dir = tempfile::tempdir().unwrap();
    // A port picked by binding 0 and releasing it can, rarely, be taken again before the child binds it
    // (outgoing connections use the same range): start over on a new port if the child exits early.
    let client = reqwest::Client::new();
    let mut attempt = 0;
    let (server, port, base) = loop {
        attempt += 1;
        let port = free_port();
        let base = format!("http://127.0.0.1:{port}");
        let mut server = tokio::process::Command::new(env!("CARGO_BIN_EXE_linkwire"))
            .args([
                "serve",
                "--data-dir",
                &dir.path().join("linkwire-data").display().to_string(),
                "--listen",
                &format!("127.0.0.1:{port}"),
                "--public-url",
                &base,
            ])
            .current_dir(dir.path())
            .env_remove("LINKWIRE_CONFIG")
            .env_remove("LINKWIRE_DATABASE_URL")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .expect("spawn linkwire");
        let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
        let up = loop {
            if client
                .get(format!("{base}/healthz"))
                .send()
                .await
                .is_ok_and(|r| r.status() == 200)
            {
                break true;
            }
            if server.try_wait().expect("child status").is_some()
                || tokio::time::Instant::now() > deadline
            {
                break false;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        };
        if up {
            break (server, port, base);
        }
        let _ = server.kill().await;
        assert!(
            attempt < 3,
            "linkwire did not come up on three ports in a row"
        );
    };

    let key_file = dir.path().join("linkwire-data/bootstrap-admin-key");
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&key_file)
            .expect("bootstrap key file")
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600, "mode {mode:o}");
    }
    let key = std::fs::read_to_string(&key_file)
        .unwrap()
        .trim()
        .to_owned();

    let script = script.replace("127.0.0.1:8080", &format!("127.0.0.1:{port}"));
    let out = tokio::process::Command::new("bash")
        .args(["-euo", "pipefail", "-c", &script])
        .current_dir(dir.path())
        .output()
        .await
        .expect("run bash");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(out.status.success(), "stdout: {stdout}\nstderr: {stderr}");
    let expected = "302 https://example.com/pricing?ref=secret-token&utm_source=newsletter";
    // Counted as substrings: the first curl prints its JSON without a trailing newline, so the first
    // redirect line is glued to it.
    assert_eq!(stdout.matches(expected).count(), 2, "{stdout}");
    assert!(stdout.contains("\"short_code\":\"hello\""), "{stdout}");
    assert!(!stdout.contains("\"error\""), "{stdout}");

    // Clicks are written asynchronously: poll until the three events are there.
    let fetch = || async {
        let v: Value = client
            .get(format!("{base}/api/v1/events"))
            .bearer_auth(&key)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        v["events"].as_array().cloned().unwrap_or_default()
    };
    wait_until(DEADLINE, || async { fetch().await.len() >= 3 }).await;
    let events = fetch().await;
    let types: Vec<&str> = events.iter().map(|e| e["type"].as_str().unwrap()).collect();
    assert_eq!(
        types,
        ["link.qr_scanned", "link.clicked", "link.created"],
        "{events:#?}"
    );
    let text = serde_json::to_string(&events).unwrap();
    assert!(!text.contains("secret-token"), "{text}");

    // SIGTERM: a clean, prompt exit.
    let pid = server.id().expect("pid").to_string();
    let status = std::process::Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .unwrap();
    assert!(status.success());
    let start = Instant::now();
    let exit = tokio::time::timeout(Duration::from_secs(20), server.wait_with_output())
        .await
        .unwrap_or_else(|_| panic!("no exit {:?} after SIGTERM", start.elapsed()))
        .unwrap();
    assert!(exit.status.success(), "{:?}", exit.status);

    // The first-start banner: the key once, and how to become the dashboard's first member.
    let banner = String::from_utf8_lossy(&exit.stdout);
    assert_eq!(banner.matches(&key).count(), 1, "{banner}");
    assert!(banner.contains(&format!("{base}/dashboard")), "{banner}");
    assert!(
        banner.contains("linkwire admin user create --email you@example.com --role owner"),
        "{banner}"
    );
}
