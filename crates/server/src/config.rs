//! One typed settings tree, read from flags, `LINKWIRE_*` environment variables and an optional TOML file
//! (in that order of precedence), then defaults.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use clap::Args;
use linkwire_contract::RetrySchedule;
use serde::Deserialize;
use url::Url;

/// Flags and environment variables of `linkwire serve` (and, for the data location, `linkwire admin`).
#[derive(Debug, Clone, Default, Args)]
pub struct SettingsArgs {
    /// Optional TOML file with the same keys as the flags (snake_case).
    #[arg(long, env = "LINKWIRE_CONFIG")]
    pub config: Option<PathBuf>,
    /// Where the embedded database and generated keys live.
    #[arg(long, env = "LINKWIRE_DATA_DIR")]
    pub data_dir: Option<PathBuf>,
    /// Address for the API and the redirects.
    #[arg(long, env = "LINKWIRE_LISTEN")]
    pub listen: Option<SocketAddr>,
    /// Public base URL; its host is the default short-link domain.
    #[arg(long, env = "LINKWIRE_PUBLIC_URL")]
    pub public_url: Option<Url>,
    /// `postgres://…` to use PostgreSQL instead of the embedded SQLite database.
    #[arg(long, env = "LINKWIRE_DATABASE_URL")]
    pub database_url: Option<String>,
    /// Delays before retries 2..6, in seconds, comma-separated.
    #[arg(long, env = "LINKWIRE_RETRY_SCHEDULE")]
    pub retry_schedule: Option<String>,
    /// Allow deliveries to loopback, private and link-local addresses (tests, local development).
    #[arg(long, env = "LINKWIRE_ALLOW_PRIVATE_DESTINATIONS")]
    pub allow_private_destinations: Option<bool>,
    /// Allow plain `http://` destinations.
    #[arg(long, env = "LINKWIRE_ALLOW_HTTP_DESTINATIONS")]
    pub allow_http_destinations: Option<bool>,
    /// A MaxMind-format `.mmdb` file for country lookup.
    #[arg(long, env = "LINKWIRE_GEOIP_DB")]
    pub geoip_db: Option<PathBuf>,
    /// CIDRs of proxies whose X-Forwarded-For and country headers are trusted, comma-separated.
    #[arg(long, env = "LINKWIRE_TRUSTED_PROXIES")]
    pub trusted_proxies: Option<String>,
    /// Capacity of the in-memory click queue.
    #[arg(long, env = "LINKWIRE_CLICK_QUEUE")]
    pub click_queue: Option<usize>,
    /// Database pool size.
    #[arg(long, env = "LINKWIRE_DB_POOL")]
    pub db_pool: Option<u32>,
    /// Log format: `text` or `json`.
    #[arg(long, env = "LINKWIRE_LOG_FORMAT")]
    pub log_format: Option<String>,
    /// Base64 of 32 bytes encrypting signing secrets at rest (default: a key file in the data directory;
    /// set it on every node when several share PostgreSQL).
    #[arg(long, env = "LINKWIRE_ENCRYPTION_KEY", hide_env_values = true)]
    pub encryption_key: Option<String>,
    /// Seconds a claimed delivery stays leased before another worker may take it over.
    #[arg(long, env = "LINKWIRE_DELIVERY_LEASE")]
    pub delivery_lease: Option<u64>,
}

/// The same keys, from the TOML file.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileSettings {
    data_dir: Option<PathBuf>,
    listen: Option<SocketAddr>,
    public_url: Option<Url>,
    database_url: Option<String>,
    retry_schedule: Option<String>,
    allow_private_destinations: Option<bool>,
    allow_http_destinations: Option<bool>,
    geoip_db: Option<PathBuf>,
    trusted_proxies: Option<String>,
    click_queue: Option<usize>,
    db_pool: Option<u32>,
    log_format: Option<String>,
    encryption_key: Option<String>,
    delivery_lease: Option<u64>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    Text,
    Json,
}

#[derive(Clone)]
pub struct Settings {
    pub data_dir: PathBuf,
    pub listen: SocketAddr,
    pub public_url: Url,
    /// `None` means the embedded SQLite file in `data_dir`.
    pub database_url: Option<String>,
    pub retry_schedule: RetrySchedule,
    pub allow_private_destinations: bool,
    pub allow_http_destinations: bool,
    pub geoip_db: Option<PathBuf>,
    pub trusted_proxies: Vec<ipnet::IpNet>,
    pub click_queue: usize,
    pub db_pool: u32,
    pub log_format: LogFormat,
    pub max_body_bytes: usize,
    pub shutdown_grace: Duration,
    pub encryption_key: Option<String>,
    pub delivery_lease: Duration,
    pub connect_timeout: Duration,
    pub attempt_timeout: Duration,
    /// How often click data past its plan's retention is pruned.
    pub prune_interval: Duration,
}

impl std::fmt::Debug for Settings {
    // The database URL may carry a password: print only its scheme and host.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Settings")
            .field("data_dir", &self.data_dir)
            .field("listen", &self.listen)
            .field("public_url", &self.public_url.as_str())
            .field("database", &self.database_label())
            .field("retry_schedule", &self.retry_schedule)
            .field(
                "allow_private_destinations",
                &self.allow_private_destinations,
            )
            .field("allow_http_destinations", &self.allow_http_destinations)
            .finish_non_exhaustive()
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read config file {path}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("invalid config file {path}")]
    Parse {
        path: PathBuf,
        source: toml::de::Error,
    },
    #[error("invalid {key}: {message}")]
    Invalid { key: &'static str, message: String },
}

impl Settings {
    pub fn load(args: &SettingsArgs) -> Result<Self, ConfigError> {
        let file = match &args.config {
            Some(path) => {
                let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
                    path: path.clone(),
                    source,
                })?;
                toml::from_str(&text).map_err(|source| ConfigError::Parse {
                    path: path.clone(),
                    source,
                })?
            }
            None => FileSettings::default(),
        };
        let listen = args
            .listen
            .or(file.listen)
            .unwrap_or_else(|| "127.0.0.1:8080".parse().expect("valid"));
        let public_url = args
            .public_url
            .clone()
            .or(file.public_url)
            .unwrap_or_else(|| Url::parse("http://127.0.0.1:8080").expect("valid"));
        if public_url.host_str().is_none() || !matches!(public_url.scheme(), "http" | "https") {
            return Err(ConfigError::Invalid {
                key: "public_url",
                message: "must be an http(s) URL with a host".into(),
            });
        }
        let retry_schedule = match args.retry_schedule.clone().or(file.retry_schedule) {
            Some(s) => RetrySchedule::parse(&s).map_err(|e| ConfigError::Invalid {
                key: "retry_schedule",
                message: e.to_string(),
            })?,
            None => RetrySchedule::default(),
        };
        let trusted_proxies = match args.trusted_proxies.clone().or(file.trusted_proxies) {
            Some(s) => s
                .split(',')
                .map(str::trim)
                .filter(|p| !p.is_empty())
                .map(|p| {
                    p.parse().map_err(|_| ConfigError::Invalid {
                        key: "trusted_proxies",
                        message: format!("`{p}` is not a CIDR"),
                    })
                })
                .collect::<Result<_, _>>()?,
            None => Vec::new(),
        };
        let log_format = match args.log_format.clone().or(file.log_format).as_deref() {
            None | Some("text") => LogFormat::Text,
            Some("json") => LogFormat::Json,
            Some(other) => {
                return Err(ConfigError::Invalid {
                    key: "log_format",
                    message: format!("`{other}`: use text or json"),
                })
            }
        };
        Ok(Settings {
            data_dir: args
                .data_dir
                .clone()
                .or(file.data_dir)
                .unwrap_or_else(|| PathBuf::from("./linkwire-data")),
            listen,
            public_url,
            database_url: args
                .database_url
                .clone()
                .or(file.database_url)
                .filter(|s| !s.is_empty()),
            retry_schedule,
            allow_private_destinations: args
                .allow_private_destinations
                .or(file.allow_private_destinations)
                .unwrap_or(false),
            allow_http_destinations: args
                .allow_http_destinations
                .or(file.allow_http_destinations)
                .unwrap_or(false),
            geoip_db: args.geoip_db.clone().or(file.geoip_db),
            trusted_proxies,
            click_queue: args
                .click_queue
                .or(file.click_queue)
                .unwrap_or(65_536)
                .max(16),
            db_pool: args.db_pool.or(file.db_pool).unwrap_or(8),
            log_format,
            max_body_bytes: 256 * 1024,
            shutdown_grace: Duration::from_secs(10),
            encryption_key: args.encryption_key.clone().or(file.encryption_key),
            delivery_lease: Duration::from_secs(
                args.delivery_lease
                    .or(file.delivery_lease)
                    .unwrap_or(120)
                    .max(1),
            ),
            connect_timeout: Duration::from_secs(5),
            attempt_timeout: Duration::from_secs(15),
            prune_interval: Duration::from_secs(3600),
        })
    }

    /// Settings for tests: a data directory, an ephemeral port, short retries, loopback allowed.
    pub fn for_tests(data_dir: &Path) -> Self {
        let mut s = Settings::load(&SettingsArgs::default()).expect("defaults are valid");
        s.data_dir = data_dir.to_path_buf();
        s.listen = "127.0.0.1:0".parse().expect("valid");
        s.retry_schedule = RetrySchedule::parse("0.05,0.05,0.05,0.05,0.05").expect("valid");
        s.allow_private_destinations = true;
        s.allow_http_destinations = true;
        s.attempt_timeout = Duration::from_secs(2);
        s.connect_timeout = Duration::from_secs(1);
        s
    }

    /// The URL the store opens: PostgreSQL when configured, else the SQLite file in the data directory.
    pub fn database_url(&self) -> String {
        match &self.database_url {
            Some(url) => url.clone(),
            None => format!("sqlite://{}", self.data_dir.join("linkwire.db").display()),
        }
    }

    /// A loggable description of the database (no credentials).
    pub fn database_label(&self) -> String {
        match &self.database_url {
            None => format!("sqlite {}", self.data_dir.join("linkwire.db").display()),
            Some(url) => match Url::parse(url) {
                Ok(u) => format!(
                    "{}://{}{}",
                    u.scheme(),
                    u.host_str().unwrap_or(""),
                    u.path()
                ),
                Err(_) => "postgres".into(),
            },
        }
    }

    /// The default domain's name: the public URL's host (without port).
    pub fn default_domain(&self) -> String {
        self.public_url
            .host_str()
            .unwrap_or("localhost")
            .to_ascii_lowercase()
    }

    /// `https://host[:port]` of the public URL, without a trailing slash.
    pub fn public_base(&self) -> String {
        self.public_url.as_str().trim_end_matches('/').to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_match_the_readme() {
        let s = Settings::load(&SettingsArgs::default()).unwrap();
        assert_eq!(s.listen.to_string(), "127.0.0.1:8080");
        assert_eq!(s.public_url.as_str(), "http://127.0.0.1:8080/");
        assert_eq!(s.data_dir, PathBuf::from("./linkwire-data"));
        assert_eq!(s.retry_schedule, RetrySchedule::default());
        assert!(!s.allow_private_destinations && !s.allow_http_destinations);
        assert_eq!(s.default_domain(), "127.0.0.1");
        assert_eq!(s.public_base(), "http://127.0.0.1:8080");
    }

    #[test]
    fn flags_beat_the_file_and_the_file_beats_defaults() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("linkwire.toml");
        std::fs::write(&path, "listen = \"127.0.0.1:9000\"\nretry_schedule = \"1,2\"\npublic_url = \"https://go.example.com\"\n").unwrap();
        let args = SettingsArgs {
            config: Some(path.clone()),
            listen: Some("127.0.0.1:9100".parse().unwrap()),
            ..Default::default()
        };
        let s = Settings::load(&args).unwrap();
        assert_eq!(s.listen.port(), 9100);
        assert_eq!(s.retry_schedule.max_attempts(), 3);
        assert_eq!(s.default_domain(), "go.example.com");

        std::fs::write(&path, "bogus_key = 1\n").unwrap();
        assert!(matches!(
            Settings::load(&SettingsArgs {
                config: Some(path),
                ..Default::default()
            }),
            Err(ConfigError::Parse { .. })
        ));
    }

    #[test]
    fn bad_values_are_named() {
        let args = SettingsArgs {
            retry_schedule: Some("soon".into()),
            ..Default::default()
        };
        let err = Settings::load(&args).unwrap_err().to_string();
        assert!(err.contains("retry_schedule"), "{err}");
        let args = SettingsArgs {
            trusted_proxies: Some("10.0.0.0/8, nope".into()),
            ..Default::default()
        };
        assert!(Settings::load(&args)
            .unwrap_err()
            .to_string()
            .contains("nope"));
    }

    #[test]
    fn debug_hides_database_credentials() {
        let args = SettingsArgs {
            database_url: Some("postgres://u:hunter2@db.internal/linkwire".into()),
            ..Default::default()
        };
        let s = Settings::load(&args).unwrap();
        let printed = format!("{s:?}");
        assert!(!printed.contains("hunter2"), "{printed}");
        assert!(printed.contains("db.internal"));
    }
}
