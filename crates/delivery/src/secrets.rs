//! Signing secrets at rest: AES-256-GCM with a key from configuration or a key file generated, mode 0600,
//! in the data directory. Stored form: base64(nonce || ciphertext).

use std::path::Path;

use aes_gcm::aead::{Aead, KeyInit};
use aes_gcm::{Aes256Gcm, Nonce};
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use rand::RngCore;

pub const KEY_FILE: &str = "encryption-key";

#[derive(Debug, thiserror::Error)]
pub enum SecretError {
    #[error("the encryption key must be base64 of exactly 32 bytes")]
    BadKey,
    #[error("reading or writing the key file {path}")]
    KeyFile {
        path: String,
        source: std::io::Error,
    },
    #[error("a stored secret could not be decrypted (wrong encryption key?)")]
    Decrypt,
}

/// Seals and opens secrets. `Debug` never shows the key.
pub struct SecretBox {
    cipher: Aes256Gcm,
}

impl std::fmt::Debug for SecretBox {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SecretBox(***)")
    }
}

impl SecretBox {
    pub fn from_key(key: &[u8; 32]) -> Self {
        Self {
            cipher: Aes256Gcm::new(key.into()),
        }
    }

    pub fn from_base64(key: &str) -> Result<Self, SecretError> {
        let bytes = STANDARD
            .decode(key.trim())
            .map_err(|_| SecretError::BadKey)?;
        let key: [u8; 32] = bytes.try_into().map_err(|_| SecretError::BadKey)?;
        Ok(Self::from_key(&key))
    }

    /// The configured key if given, else the key file in `data_dir`, created on first use.
    pub fn load_or_create(configured: Option<&str>, data_dir: &Path) -> Result<Self, SecretError> {
        if let Some(k) = configured {
            return Self::from_base64(k);
        }
        let path = data_dir.join(KEY_FILE);
        let io = |source| SecretError::KeyFile {
            path: path.display().to_string(),
            source,
        };
        match std::fs::read_to_string(&path) {
            Ok(k) => Self::from_base64(&k),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let mut key = [0u8; 32];
                rand::thread_rng().fill_bytes(&mut key);
                write_private(&path, &format!("{}\n", STANDARD.encode(key))).map_err(io)?;
                Ok(Self::from_key(&key))
            }
            Err(e) => Err(io(e)),
        }
    }

    pub fn seal(&self, plaintext: &str) -> String {
        let mut nonce = [0u8; 12];
        rand::thread_rng().fill_bytes(&mut nonce);
        let ct = self
            .cipher
            .encrypt(Nonce::from_slice(&nonce), plaintext.as_bytes())
            .expect("AES-GCM encryption cannot fail");
        let mut out = nonce.to_vec();
        out.extend_from_slice(&ct);
        STANDARD.encode(out)
    }

    pub fn open(&self, sealed: &str) -> Result<String, SecretError> {
        let raw = STANDARD.decode(sealed).map_err(|_| SecretError::Decrypt)?;
        if raw.len() < 12 {
            return Err(SecretError::Decrypt);
        }
        let (nonce, ct) = raw.split_at(12);
        let pt = self
            .cipher
            .decrypt(Nonce::from_slice(nonce), ct)
            .map_err(|_| SecretError::Decrypt)?;
        String::from_utf8(pt).map_err(|_| SecretError::Decrypt)
    }
}

fn write_private(path: &Path, contents: &str) -> std::io::Result<()> {
    use std::io::Write;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut f = options.open(path)?;
    f.write_all(contents.as_bytes())?;
    f.sync_all()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seal_and_open_round_trip_and_differ_each_time() {
        let b = SecretBox::from_key(&[7; 32]);
        let a1 = b.seal("whsec_abc");
        let a2 = b.seal("whsec_abc");
        assert_ne!(a1, a2);
        assert!(!a1.contains("whsec"));
        assert_eq!(b.open(&a1).unwrap(), "whsec_abc");
        assert!(SecretBox::from_key(&[8; 32]).open(&a1).is_err());
        assert!(b.open("garbage").is_err());
        assert_eq!(format!("{b:?}"), "SecretBox(***)");
    }

    #[test]
    fn key_file_is_created_once_with_owner_only_mode() {
        let dir = tempfile::tempdir().unwrap();
        let b1 = SecretBox::load_or_create(None, dir.path()).unwrap();
        let sealed = b1.seal("x");
        let b2 = SecretBox::load_or_create(None, dir.path()).unwrap();
        assert_eq!(b2.open(&sealed).unwrap(), "x");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(dir.path().join(KEY_FILE))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        assert!(SecretBox::from_base64("c2hvcnQ=").is_err());
    }
}
