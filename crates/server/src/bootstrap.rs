//! First start: an organization (enterprise plan), a workspace and an admin API key, so a fresh install is
//! usable at once. The key is printed once and written, mode 0600, into the data directory.

use std::path::{Path, PathBuf};

use linkwire_contract::{Plan, ScopeSet, Timestamp};
use linkwire_store::{CredentialKind, Store};

use crate::auth;

pub const BOOTSTRAP_KEY_FILE: &str = "bootstrap-admin-key";

pub struct Bootstrapped {
    pub token: String,
    pub key_file: PathBuf,
}

/// Creates the first tenant and key when the database has no organization yet.
pub async fn bootstrap_if_empty(
    store: &Store,
    data_dir: &Path,
    now: Timestamp,
) -> anyhow::Result<Option<Bootstrapped>> {
    // Several nodes may start together on a fresh shared database: exactly one bootstraps.
    if !store.list_organizations().await?.is_empty()
        || !store
            .claim_once("bootstrap", "admin key issued", now)
            .await?
    {
        return Ok(None);
    }
    let org = store
        .create_organization("Default organization", Plan::Enterprise, now)
        .await?;
    let ws = store
        .create_workspace(org.id, "Default workspace", now)
        .await?;
    let issued = auth::issue(
        store,
        ws.id,
        CredentialKind::ApiKey,
        "bootstrap admin",
        None,
        &ScopeSet::all_api_key_scopes(),
        now,
    )
    .await
    .map_err(|e| anyhow::anyhow!("issuing the bootstrap key: {e}"))?;
    let key_file = data_dir.join(BOOTSTRAP_KEY_FILE);
    write_private(&key_file, &format!("{}\n", issued.token))?;
    Ok(Some(Bootstrapped {
        token: issued.token,
        key_file,
    }))
}

/// Writes a file readable only by its owner.
pub fn write_private(path: &Path, contents: &str) -> std::io::Result<()> {
    use std::io::Write;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut f = options.open(path)?;
    f.write_all(contents.as_bytes())?;
    f.sync_all()
}
