//! The operator's `linkwire admin user …` commands, run as the real binary against a data directory.

use std::io::Write;
use std::process::{Command, Output, Stdio};

fn admin(data_dir: &std::path::Path, args: &[&str], stdin: &str) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_linkwire"))
        .arg("admin")
        .arg("--data-dir")
        .arg(data_dir)
        .args(args)
        .env("LINKWIRE_LOG", "warn")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("linkwire runs");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(stdin.as_bytes())
        .expect("write stdin");
    child.wait_with_output().expect("linkwire exits")
}

fn text(out: &Output) -> String {
    format!(
        "status {}\nstdout: {}\nstderr: {}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

#[test]
fn an_operator_resets_a_password_and_removes_a_member() {
    let dir = tempfile::tempdir().expect("tempdir");
    // A fresh data directory has no workspace until the service starts once; make one.
    let org = admin(dir.path(), &["org", "create", "--name", "Acme"], "");
    assert!(org.status.success(), "{}", text(&org));
    let org_id = String::from_utf8_lossy(&org.stdout)
        .split_whitespace()
        .find(|w| w.len() == 36)
        .expect("org id")
        .to_owned();
    let ws = admin(
        dir.path(),
        &["workspace", "create", "--org", &org_id, "--name", "Main"],
        "",
    );
    assert!(ws.status.success(), "{}", text(&ws));

    let create = admin(
        dir.path(),
        &[
            "user",
            "create",
            "--email",
            "ops@example.com",
            "--role",
            "admin",
            "--password-stdin",
        ],
        "first passphrase\n",
    );
    assert!(create.status.success(), "{}", text(&create));

    let short = admin(
        dir.path(),
        &[
            "user",
            "set-password",
            "--email",
            "ops@example.com",
            "--password-stdin",
        ],
        "short\n",
    );
    assert!(!short.status.success(), "{}", text(&short));
    assert!(
        text(&short).contains("at least") || text(&short).contains("must be"),
        "{}",
        text(&short)
    );

    let reset = admin(
        dir.path(),
        &[
            "user",
            "set-password",
            "--email",
            "OPS@example.com",
            "--password-stdin",
        ],
        "second passphrase\n",
    );
    assert!(reset.status.success(), "{}", text(&reset));
    assert!(
        text(&reset).contains("password set for ops@example.com"),
        "{}",
        text(&reset)
    );

    let remove = admin(
        dir.path(),
        &["user", "remove", "--email", "ops@example.com"],
        "",
    );
    assert!(remove.status.success(), "{}", text(&remove));
    let list = admin(dir.path(), &["user", "list"], "");
    assert!(list.status.success(), "{}", text(&list));
    assert!(!text(&list).contains("ops@example.com"), "{}", text(&list));

    let again = admin(
        dir.path(),
        &["user", "remove", "--email", "ops@example.com"],
        "",
    );
    assert!(!again.status.success());
    assert!(
        text(&again).contains("no member ops@example.com"),
        "{}",
        text(&again)
    );
}
