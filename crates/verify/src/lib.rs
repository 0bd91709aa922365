//! Signing and verifying linkwire webhook deliveries.
//!
//! This crate owns both signature header families that a delivery carries
//! (contract §4):
//!
//! * **Nimriz** — `X-Nim-Timestamp` + `X-Nim-Signature: v1=<hex>`, an HMAC-SHA256
//!   keyed with the whole secret string (`whsec_…` as UTF-8) over
//!   `"{timestamp}.{raw body}"`. Several signatures are comma-separated.
//! * **Standard Webhooks** — `webhook-id`, `webhook-timestamp` and
//!   `webhook-signature: v1,<base64>`, an HMAC-SHA256 keyed with the
//!   base64-decoded bytes after `whsec_` over `"{id}.{timestamp}.{raw body}"`.
//!   Several signatures are space-separated.
//!
//! It provides [`SigningSecret`] (parsing, generation from random bytes,
//! redacted `Debug`), the senders' side ([`nim_signature`],
//! [`standard_signature`], [`sign_headers`]) and the receivers' side
//! ([`verify`], constant-time comparison, several signatures and several
//! secrets for rotation, timestamp tolerance).
//!
//! It must not do I/O, must not be async, and depends on crypto/encoding crates
//! only: callers pass headers, body, secrets and the current time in.
#![forbid(unsafe_code)]

use std::fmt;
use std::str::FromStr;

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use hmac::{Hmac, Mac};
use sha2::Sha256;

type HmacSha256 = Hmac<Sha256>;

/// Prefix of every signing secret.
pub const SECRET_PREFIX: &str = "whsec_";

/// `X-Nim-Signature` header name.
pub const HEADER_NIM_SIGNATURE: &str = "X-Nim-Signature";
/// `X-Nim-Timestamp` header name.
pub const HEADER_NIM_TIMESTAMP: &str = "X-Nim-Timestamp";
/// `X-Nim-Event-Id` header name.
pub const HEADER_NIM_EVENT_ID: &str = "X-Nim-Event-Id";
/// Standard Webhooks `webhook-id` header name.
pub const HEADER_WEBHOOK_ID: &str = "webhook-id";
/// Standard Webhooks `webhook-timestamp` header name.
pub const HEADER_WEBHOOK_TIMESTAMP: &str = "webhook-timestamp";
/// Standard Webhooks `webhook-signature` header name.
pub const HEADER_WEBHOOK_SIGNATURE: &str = "webhook-signature";

/// A reasonable default for `tolerance_secs` in [`verify`] (5 minutes, as in
/// the Standard Webhooks reference libraries).
pub const DEFAULT_TOLERANCE_SECS: i64 = 300;

/// Smallest accepted decoded key length (Standard Webhooks: 24..=64 bytes).
const MIN_KEY_LEN: usize = 24;
/// Largest accepted decoded key length.
const MAX_KEY_LEN: usize = 64;

/// Errors from parsing secrets or verifying a delivery.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VerifyError {
    /// A required header is absent.
    #[error("missing header: {0}")]
    MissingHeader(&'static str),
    /// The timestamp header is not an integer number of Unix seconds.
    #[error("bad timestamp header")]
    BadTimestamp,
    /// The timestamp is too far from `now`.
    #[error("timestamp {timestamp} is more than {tolerance_secs}s away from now ({now})")]
    TimestampOutOfTolerance {
        /// Timestamp from the header.
        timestamp: i64,
        /// The `now` passed to [`verify`].
        now: i64,
        /// The tolerance passed to [`verify`].
        tolerance_secs: i64,
    },
    /// No signature in the header matches any of the accepted secrets.
    #[error("no matching signature")]
    NoMatchingSignature,
    /// The secret is not `whsec_` followed by padded standard base64 of 24 to 64 bytes.
    #[error("invalid signing secret (expected whsec_ + base64 of 24..=64 bytes)")]
    InvalidSecret,
}

/// An endpoint signing secret, `whsec_` + base64 of random bytes.
///
/// `Debug` never prints the secret; use [`SigningSecret::as_str`] explicitly
/// when it has to be stored or shown once.
#[derive(Clone)]
pub struct SigningSecret {
    /// The full `whsec_…` string (HMAC key of `X-Nim-Signature`).
    text: String,
    /// The decoded bytes after `whsec_` (HMAC key of `webhook-signature`).
    key: Vec<u8>,
}

impl SigningSecret {
    /// Parses a `whsec_…` string. The part after the prefix must be padded
    /// standard base64 of 24 to 64 bytes (ours are 32).
    pub fn parse(s: &str) -> Result<Self, VerifyError> {
        let b64 = s
            .strip_prefix(SECRET_PREFIX)
            .ok_or(VerifyError::InvalidSecret)?;
        let key = STANDARD
            .decode(b64)
            .map_err(|_| VerifyError::InvalidSecret)?;
        if !(MIN_KEY_LEN..=MAX_KEY_LEN).contains(&key.len()) {
            return Err(VerifyError::InvalidSecret);
        }
        Ok(Self {
            text: s.to_owned(),
            key,
        })
    }

    /// Builds a secret from 32 (random) bytes: `whsec_` + base64(bytes).
    pub fn from_bytes(bytes: &[u8; 32]) -> Self {
        Self {
            text: format!("{SECRET_PREFIX}{}", STANDARD.encode(bytes)),
            key: bytes.to_vec(),
        }
    }

    /// The full `whsec_…` string, for storage or the one-time display.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    fn nim_mac(&self, timestamp: &str, body: &[u8]) -> HmacSha256 {
        let mut mac = new_mac(self.text.as_bytes());
        mac.update(timestamp.as_bytes());
        mac.update(b".");
        mac.update(body);
        mac
    }

    fn standard_mac(&self, msg_id: &str, timestamp: &str, body: &[u8]) -> HmacSha256 {
        let mut mac = new_mac(&self.key);
        mac.update(msg_id.as_bytes());
        mac.update(b".");
        mac.update(timestamp.as_bytes());
        mac.update(b".");
        mac.update(body);
        mac
    }
}

impl fmt::Debug for SigningSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SigningSecret(whsec_***)")
    }
}

impl FromStr for SigningSecret {
    type Err = VerifyError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

fn new_mac(key: &[u8]) -> HmacSha256 {
    HmacSha256::new_from_slice(key).expect("HMAC accepts keys of any length")
}

/// The `X-Nim-Signature` value for one secret, without the `v1=` prefix
/// (lowercase hex).
pub fn nim_signature(secret: &SigningSecret, timestamp: i64, body: &[u8]) -> String {
    let mac = secret.nim_mac(&timestamp.to_string(), body);
    hex::encode(mac.finalize().into_bytes())
}

/// The `webhook-signature` value for one secret, without the `v1,` prefix
/// (standard padded base64).
pub fn standard_signature(
    secret: &SigningSecret,
    msg_id: &str,
    timestamp: i64,
    body: &[u8],
) -> String {
    let mac = secret.standard_mac(msg_id, &timestamp.to_string(), body);
    STANDARD.encode(mac.finalize().into_bytes())
}

/// The two signature header values of a delivery.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignatureHeaders {
    /// `X-Nim-Signature` value, e.g. `v1=a,v1=b`.
    pub nim_signature: String,
    /// `webhook-signature` value, e.g. `v1,a v1,b`.
    pub webhook_signature: String,
}

/// Signs a delivery with every live secret (newest first, order kept). The
/// same `timestamp` goes into `X-Nim-Timestamp` and `webhook-timestamp`, and
/// `msg_id` (the event id) into `webhook-id`. With no secrets both values are
/// empty.
pub fn sign_headers(
    secrets: &[&SigningSecret],
    msg_id: &str,
    timestamp: i64,
    body: &[u8],
) -> SignatureHeaders {
    let nim: Vec<String> = secrets
        .iter()
        .map(|s| format!("v1={}", nim_signature(s, timestamp, body)))
        .collect();
    let standard: Vec<String> = secrets
        .iter()
        .map(|s| format!("v1,{}", standard_signature(s, msg_id, timestamp, body)))
        .collect();
    SignatureHeaders {
        nim_signature: nim.join(","),
        webhook_signature: standard.join(" "),
    }
}

/// Which header family a delivery was verified with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum HeaderFamily {
    /// `X-Nim-Signature` + `X-Nim-Timestamp`.
    Nim,
    /// `webhook-id` + `webhook-timestamp` + `webhook-signature`.
    Standard,
}

/// A successfully verified delivery.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verified {
    /// The family whose signature matched.
    pub family: HeaderFamily,
    /// The signed timestamp (Unix seconds).
    pub timestamp: i64,
    /// `X-Nim-Event-Id` (Nim family; present if sent, **not** covered by the
    /// signature) or `webhook-id` (Standard family; signed).
    pub event_id: Option<String>,
}

/// The headers [`verify`] looks at, picked out of the caller's list.
#[derive(Default)]
struct Picked<'a> {
    nim_signature: Vec<&'a str>,
    nim_timestamp: Option<&'a str>,
    nim_event_id: Option<&'a str>,
    webhook_id: Option<&'a str>,
    webhook_timestamp: Option<&'a str>,
    webhook_signature: Vec<&'a str>,
}

impl<'a> Picked<'a> {
    fn from_headers(headers: impl IntoIterator<Item = (&'a str, &'a str)>) -> Self {
        let mut p = Picked::default();
        for (name, value) in headers {
            let name = name.trim();
            let value = value.trim();
            let is = |h: &str| name.eq_ignore_ascii_case(h);
            if is(HEADER_NIM_SIGNATURE) {
                p.nim_signature.push(value);
            } else if is(HEADER_NIM_TIMESTAMP) {
                p.nim_timestamp.get_or_insert(value);
            } else if is(HEADER_NIM_EVENT_ID) {
                p.nim_event_id.get_or_insert(value);
            } else if is(HEADER_WEBHOOK_ID) {
                p.webhook_id.get_or_insert(value);
            } else if is(HEADER_WEBHOOK_TIMESTAMP) {
                p.webhook_timestamp.get_or_insert(value);
            } else if is(HEADER_WEBHOOK_SIGNATURE) {
                p.webhook_signature.push(value);
            }
        }
        p
    }
}

fn check_timestamp(raw: &str, now: i64, tolerance_secs: i64) -> Result<i64, VerifyError> {
    if raw.is_empty() || !raw.bytes().all(|b| b.is_ascii_digit()) {
        return Err(VerifyError::BadTimestamp);
    }
    let timestamp: i64 = raw.parse().map_err(|_| VerifyError::BadTimestamp)?;
    if now.abs_diff(timestamp) > tolerance_secs.max(0).unsigned_abs() {
        return Err(VerifyError::TimestampOutOfTolerance {
            timestamp,
            now,
            tolerance_secs,
        });
    }
    Ok(timestamp)
}

/// Decoded `v1` signatures from `X-Nim-Signature` values (`v1=<hex>`,
/// comma-separated). Entries of other versions or that fail to decode are
/// skipped.
fn nim_candidates(values: &[&str]) -> Vec<Vec<u8>> {
    values
        .iter()
        .flat_map(|v| v.split(','))
        .filter_map(|entry| entry.trim().strip_prefix("v1="))
        .filter_map(|hex_sig| hex::decode(hex_sig.trim()).ok())
        .collect()
}

/// Decoded `v1` signatures from `webhook-signature` values (`v1,<base64>`,
/// space-separated). Entries of other versions or that fail to decode are
/// skipped.
fn standard_candidates(values: &[&str]) -> Vec<Vec<u8>> {
    values
        .iter()
        .flat_map(|v| v.split_ascii_whitespace())
        .filter_map(|entry| entry.split_once(','))
        .filter(|(version, _)| *version == "v1")
        .filter_map(|(_, b64)| STANDARD.decode(b64).ok())
        .collect()
}

/// Constant-time check of every candidate against every secret's MAC.
fn any_matches(macs: impl Iterator<Item = HmacSha256>, candidates: &[Vec<u8>]) -> bool {
    let mut matched = false;
    for mac in macs {
        for candidate in candidates {
            // `verify_slice` compares in constant time.
            if mac.clone().verify_slice(candidate).is_ok() {
                matched = true;
            }
        }
    }
    matched
}

/// Verifies a delivery from its headers (case-insensitive names; pass an
/// iterator of `(name, value)` pairs), raw body, the secret(s) to accept,
/// `now` (Unix seconds) and a tolerance in seconds.
///
/// Accepts either header family: if `X-Nim-Signature` is present it is checked
/// with `X-Nim-Timestamp`; otherwise the Standard Webhooks trio (`webhook-id`,
/// `webhook-timestamp`, `webhook-signature`) is required. Signatures are
/// compared in constant time; the header may carry several signatures and
/// several secrets may be accepted (rotation). The timestamp is checked before
/// the signature. Repeated signature headers are all considered; for the other
/// headers the first occurrence wins.
pub fn verify<'a>(
    headers: impl IntoIterator<Item = (&'a str, &'a str)>,
    body: &[u8],
    secrets: &[&SigningSecret],
    now: i64,
    tolerance_secs: i64,
) -> Result<Verified, VerifyError> {
    let p = Picked::from_headers(headers);

    if !p.nim_signature.is_empty() {
        let raw_ts = p
            .nim_timestamp
            .ok_or(VerifyError::MissingHeader(HEADER_NIM_TIMESTAMP))?;
        let timestamp = check_timestamp(raw_ts, now, tolerance_secs)?;
        let candidates = nim_candidates(&p.nim_signature);
        let macs = secrets.iter().map(|s| s.nim_mac(raw_ts, body));
        if !any_matches(macs, &candidates) {
            return Err(VerifyError::NoMatchingSignature);
        }
        return Ok(Verified {
            family: HeaderFamily::Nim,
            timestamp,
            event_id: p.nim_event_id.map(str::to_owned),
        });
    }

    if p.webhook_signature.is_empty() {
        return Err(VerifyError::MissingHeader(
            "X-Nim-Signature or webhook-signature",
        ));
    }
    let msg_id = p
        .webhook_id
        .ok_or(VerifyError::MissingHeader(HEADER_WEBHOOK_ID))?;
    let raw_ts = p
        .webhook_timestamp
        .ok_or(VerifyError::MissingHeader(HEADER_WEBHOOK_TIMESTAMP))?;
    let timestamp = check_timestamp(raw_ts, now, tolerance_secs)?;
    let candidates = standard_candidates(&p.webhook_signature);
    let macs = secrets.iter().map(|s| s.standard_mac(msg_id, raw_ts, body));
    if !any_matches(macs, &candidates) {
        return Err(VerifyError::NoMatchingSignature);
    }
    Ok(Verified {
        family: HeaderFamily::Standard,
        timestamp,
        event_id: Some(msg_id.to_owned()),
    })
}

/// Compiles and runs the README example as a doctest.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;

#[cfg(test)]
mod tests {
    use super::*;

    /// `whsec_` + base64 of the bytes 0x01..=0x20.
    const SECRET_A: &str = "whsec_AQIDBAUGBwgJCgsMDQ4PEBESExQVFhcYGRobHB0eHyA=";
    const BODY: &[u8] = br#"{"type":"link.clicked","id":"evt_01HZX"}"#;
    const TS: i64 = 1_700_000_000;
    const EVENT_ID: &str = "evt_01HZX";
    /// Computed independently with Python:
    /// `hmac.new(SECRET_A.encode(), b'1700000000.' + BODY, hashlib.sha256).hexdigest()`
    const NIM_VECTOR: &str = "40948f651a92c3887a32d0db3dc28d6ef0369eeb994cf9b60f6b472e93a015e4";
    /// Computed independently with Python:
    /// `b64encode(hmac.new(bytes(range(1,33)), b'evt_01HZX.1700000000.' + BODY, sha256).digest())`
    const STANDARD_VECTOR: &str = "WmQ5w6cPGH5ToAj31g/6VUuBGeNRrZQ0Q8lGb3mjovs=";

    fn secret_a() -> SigningSecret {
        SigningSecret::parse(SECRET_A).unwrap()
    }

    fn secret_b() -> SigningSecret {
        SigningSecret::from_bytes(&[0xB5; 32])
    }

    fn nim_headers(sig: &str, ts: &str) -> Vec<(&'static str, String)> {
        vec![
            ("X-Nim-Event-Id", EVENT_ID.to_owned()),
            ("X-Nim-Timestamp", ts.to_owned()),
            ("X-Nim-Signature", sig.to_owned()),
        ]
    }

    fn as_pairs<'a>(h: &'a [(&'static str, String)]) -> Vec<(&'static str, &'a str)> {
        h.iter().map(|(n, v)| (*n, v.as_str())).collect()
    }

    #[test]
    fn nim_signature_matches_hand_computed_vector() {
        assert_eq!(nim_signature(&secret_a(), TS, BODY), NIM_VECTOR);
        let h = nim_headers(&format!("v1={NIM_VECTOR}"), "1700000000");
        let v = verify(as_pairs(&h), BODY, &[&secret_a()], TS + 10, 300).unwrap();
        assert_eq!(
            v,
            Verified {
                family: HeaderFamily::Nim,
                timestamp: TS,
                event_id: Some(EVENT_ID.to_owned()),
            }
        );
    }

    #[test]
    fn standard_signature_matches_hand_computed_vector() {
        assert_eq!(
            standard_signature(&secret_a(), EVENT_ID, TS, BODY),
            STANDARD_VECTOR
        );
    }

    #[test]
    fn standard_webhooks_published_vector() {
        let secret = SigningSecret::parse("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").unwrap();
        let msg_id = "msg_p5jXN8AQM9LWM0D4loKWxJek";
        let ts = 1_614_265_330;
        let body = br#"{"test": 2432232314}"#;
        let expected = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=";

        assert_eq!(
            format!("v1,{}", standard_signature(&secret, msg_id, ts, body)),
            expected
        );
        let headers = [
            ("webhook-id", msg_id),
            ("webhook-timestamp", "1614265330"),
            ("webhook-signature", expected),
        ];
        let v = verify(headers, body, &[&secret], ts, 300).unwrap();
        assert_eq!(v.family, HeaderFamily::Standard);
        assert_eq!(v.timestamp, ts);
        assert_eq!(v.event_id.as_deref(), Some(msg_id));
    }

    #[test]
    fn sign_headers_formats_and_round_trips() {
        let (a, b) = (secret_a(), secret_b());
        let h = sign_headers(&[&b, &a], EVENT_ID, TS, BODY);
        let nim_b = nim_signature(&b, TS, BODY);
        let std_b = standard_signature(&b, EVENT_ID, TS, BODY);
        assert_eq!(h.nim_signature, format!("v1={nim_b},v1={NIM_VECTOR}"));
        assert_eq!(
            h.webhook_signature,
            format!("v1,{std_b} v1,{STANDARD_VECTOR}")
        );

        let empty = sign_headers(&[], EVENT_ID, TS, BODY);
        assert_eq!(empty.nim_signature, "");
        assert_eq!(empty.webhook_signature, "");
    }

    #[test]
    fn rotation_old_and_new_secret_both_verify() {
        let (old, new) = (secret_a(), secret_b());
        let signed = sign_headers(&[&new, &old], EVENT_ID, TS, BODY);
        let ts = TS.to_string();

        for accepted in [&old, &new] {
            // Nim family.
            let h = nim_headers(&signed.nim_signature, &ts);
            let v = verify(as_pairs(&h), BODY, &[accepted], TS, 300).unwrap();
            assert_eq!(v.family, HeaderFamily::Nim);
            // Standard family.
            let h = [
                ("webhook-id", EVENT_ID),
                ("webhook-timestamp", ts.as_str()),
                ("webhook-signature", signed.webhook_signature.as_str()),
            ];
            let v = verify(h, BODY, &[accepted], TS, 300).unwrap();
            assert_eq!(v.family, HeaderFamily::Standard);
        }

        // Receiver accepting several secrets, sender signing with only the old one.
        let only_old = sign_headers(&[&old], EVENT_ID, TS, BODY);
        let h = nim_headers(&only_old.nim_signature, &ts);
        assert!(verify(as_pairs(&h), BODY, &[&new, &old], TS, 300).is_ok());

        // A third, unrelated secret matches nothing.
        let other = SigningSecret::from_bytes(&[7; 32]);
        let h = nim_headers(&signed.nim_signature, &ts);
        assert_eq!(
            verify(as_pairs(&h), BODY, &[&other], TS, 300),
            Err(VerifyError::NoMatchingSignature)
        );
        assert_eq!(
            verify(as_pairs(&h), BODY, &[], TS, 300),
            Err(VerifyError::NoMatchingSignature)
        );
    }

    #[test]
    fn unknown_versions_and_garbage_entries_are_skipped() {
        let sig = format!("v0=zz, v2=abcd ,garbage,v1={NIM_VECTOR}");
        let h = nim_headers(&sig, "1700000000");
        assert!(verify(as_pairs(&h), BODY, &[&secret_a()], TS, 300).is_ok());

        let sig = format!("v1a,xx v2,{STANDARD_VECTOR} v1,!!! v1,{STANDARD_VECTOR}");
        let h = [
            ("webhook-id", EVENT_ID),
            ("webhook-timestamp", "1700000000"),
            ("webhook-signature", sig.as_str()),
        ];
        assert!(verify(h, BODY, &[&secret_a()], TS, 300).is_ok());
    }

    #[test]
    fn tampered_body_fails() {
        let signed = sign_headers(&[&secret_a()], EVENT_ID, TS, BODY);
        let tampered = br#"{"type":"link.clicked","id":"evt_01HZY"}"#;
        let h = nim_headers(&signed.nim_signature, "1700000000");
        assert_eq!(
            verify(as_pairs(&h), tampered, &[&secret_a()], TS, 300),
            Err(VerifyError::NoMatchingSignature)
        );
        let h = [
            ("webhook-id", EVENT_ID),
            ("webhook-timestamp", "1700000000"),
            ("webhook-signature", signed.webhook_signature.as_str()),
        ];
        assert_eq!(
            verify(h, tampered, &[&secret_a()], TS, 300),
            Err(VerifyError::NoMatchingSignature)
        );
        // Tampered id (Standard family signs it).
        let h = [
            ("webhook-id", "evt_other"),
            ("webhook-timestamp", "1700000000"),
            ("webhook-signature", signed.webhook_signature.as_str()),
        ];
        assert_eq!(
            verify(h, BODY, &[&secret_a()], TS, 300),
            Err(VerifyError::NoMatchingSignature)
        );
    }

    #[test]
    fn timestamp_tolerance() {
        let h = nim_headers(&format!("v1={NIM_VECTOR}"), "1700000000");
        let s = secret_a();
        assert!(verify(as_pairs(&h), BODY, &[&s], TS + 300, 300).is_ok());
        assert!(verify(as_pairs(&h), BODY, &[&s], TS - 300, 300).is_ok());
        assert_eq!(
            verify(as_pairs(&h), BODY, &[&s], TS + 301, 300),
            Err(VerifyError::TimestampOutOfTolerance {
                timestamp: TS,
                now: TS + 301,
                tolerance_secs: 300
            })
        );
        assert!(matches!(
            verify(as_pairs(&h), BODY, &[&s], TS - 301, 300),
            Err(VerifyError::TimestampOutOfTolerance { .. })
        ));
        // A resigned message with a different timestamp is caught by the signature.
        let h = nim_headers(&format!("v1={NIM_VECTOR}"), "1700000001");
        assert_eq!(
            verify(as_pairs(&h), BODY, &[&s], TS, 300),
            Err(VerifyError::NoMatchingSignature)
        );
        for bad in ["", "abc", "-1700000000", "1.7e9", "99999999999999999999"] {
            let h = nim_headers(&format!("v1={NIM_VECTOR}"), bad);
            assert_eq!(
                verify(as_pairs(&h), BODY, &[&s], TS, 300),
                Err(VerifyError::BadTimestamp),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn missing_headers() {
        let s = secret_a();
        let sig = format!("v1={NIM_VECTOR}");
        assert_eq!(
            verify([("X-Nim-Signature", sig.as_str())], BODY, &[&s], TS, 300),
            Err(VerifyError::MissingHeader("X-Nim-Timestamp"))
        );
        assert_eq!(
            verify([("X-Nim-Timestamp", "1700000000")], BODY, &[&s], TS, 300),
            Err(VerifyError::MissingHeader(
                "X-Nim-Signature or webhook-signature"
            ))
        );
        assert_eq!(
            verify(std::iter::empty(), BODY, &[&s], TS, 300),
            Err(VerifyError::MissingHeader(
                "X-Nim-Signature or webhook-signature"
            ))
        );
        let std_sig = format!("v1,{STANDARD_VECTOR}");
        assert_eq!(
            verify(
                [
                    ("webhook-timestamp", "1700000000"),
                    ("webhook-signature", std_sig.as_str())
                ],
                BODY,
                &[&s],
                TS,
                300
            ),
            Err(VerifyError::MissingHeader("webhook-id"))
        );
        assert_eq!(
            verify(
                [
                    ("webhook-id", EVENT_ID),
                    ("webhook-signature", std_sig.as_str())
                ],
                BODY,
                &[&s],
                TS,
                300
            ),
            Err(VerifyError::MissingHeader("webhook-timestamp"))
        );
        // Nim event id is optional.
        let h = [
            ("X-Nim-Timestamp", "1700000000"),
            ("X-Nim-Signature", sig.as_str()),
        ];
        assert_eq!(verify(h, BODY, &[&s], TS, 300).unwrap().event_id, None);
    }

    #[test]
    fn header_names_are_case_insensitive() {
        let s = secret_a();
        let sig = format!("v1={NIM_VECTOR}");
        let h = [
            ("x-nim-timestamp", "1700000000"),
            ("X-NIM-SIGNATURE", sig.as_str()),
            ("x-Nim-event-ID", EVENT_ID),
        ];
        let v = verify(h, BODY, &[&s], TS, 300).unwrap();
        assert_eq!(v.event_id.as_deref(), Some(EVENT_ID));

        let std_sig = format!("v1,{STANDARD_VECTOR}");
        let h = [
            ("Webhook-Id", EVENT_ID),
            ("WEBHOOK-TIMESTAMP", "1700000000"),
            ("Webhook-Signature", std_sig.as_str()),
        ];
        assert_eq!(
            verify(h, BODY, &[&s], TS, 300).unwrap().family,
            HeaderFamily::Standard
        );
    }

    #[test]
    fn nim_family_takes_precedence() {
        // Both families present, Standard one broken: Nim is what gets checked.
        let s = secret_a();
        let sig = format!("v1={NIM_VECTOR}");
        let h = [
            ("webhook-id", EVENT_ID),
            ("webhook-timestamp", "1700000000"),
            ("webhook-signature", "v1,AAAA"),
            ("X-Nim-Timestamp", "1700000000"),
            ("X-Nim-Signature", sig.as_str()),
        ];
        assert_eq!(
            verify(h, BODY, &[&s], TS, 300).unwrap().family,
            HeaderFamily::Nim
        );
    }

    #[test]
    fn debug_does_not_leak_secret() {
        let s = secret_a();
        let dbg = format!("{s:?}");
        assert_eq!(dbg, "SigningSecret(whsec_***)");
        assert!(!dbg.contains("AQID"));
        let alt = format!("{:#?}", [&s]);
        assert!(!alt.contains("AQID"));
        assert_eq!(s.as_str(), SECRET_A);
    }

    #[test]
    fn secret_parsing() {
        let from_bytes = SigningSecret::from_bytes(&core::array::from_fn(|i| i as u8 + 1));
        assert_eq!(from_bytes.as_str(), SECRET_A);
        assert_eq!(
            SigningSecret::parse(from_bytes.as_str()).unwrap().as_str(),
            SECRET_A
        );
        assert!(SECRET_A.parse::<SigningSecret>().is_ok());

        for bad in [
            "",
            "whsec_",
            "AQIDBAUGBwgJCgsMDQ4PEBESExQVFhcYGRobHB0eHyA=", // no prefix
            "whsec_AQIDBAUGBwgJCgsMDQ4PEBESExQVFhcYGRobHB0eHyA", // unpadded
            "whsec_not base64!",
            "whsec_AQIDBAUGBwgJCgsMDQ4PEBESExQVFhc=", // 23 bytes
            "whsec_AAAA",                             // 3 bytes
        ] {
            assert_eq!(
                SigningSecret::parse(bad).unwrap_err(),
                VerifyError::InvalidSecret,
                "{bad:?}"
            );
        }
    }
}
