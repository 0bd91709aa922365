//! The linkwire contract: every type that crosses a boundary (wire, storage, API) is defined here once.
//!
//! Pure by rule: no tokio, no sqlx, no axum, no reqwest. Time comes in as a value or through [`Clock`].
#![forbid(unsafe_code)]

pub mod clock;
pub mod delivery;
pub mod domain;
pub mod event;
pub mod ids;
pub mod link;
pub mod payload;
pub mod slug;
pub mod tenancy;

pub use clock::{
    format_timestamp, from_millis, to_millis, Clock, ManualClock, SystemClock, Timestamp,
};
pub use delivery::{
    next_step, AttemptOutcome, DeliveryReason, DeliveryStatus, NextStep, RetrySchedule,
};
pub use domain::{DomainState, DomainStatus, VerificationStatus};
pub use event::{Envelope, EventRecord, EventType, API_VERSION};
pub use ids::*;
pub use link::{
    DestinationUrl, DeviceCategory, LinkSource, LinkStatus, RedirectStatus, TouchType, UtmParams,
};
pub use slug::{ShortCode, SlugError};
pub use tenancy::{Feature, Plan, Role, Scope, ScopeSet};

/// A closed string enum could not be parsed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown {kind} `{value}`")]
pub struct UnknownVariant {
    pub kind: &'static str,
    pub value: String,
}

/// Declares a closed string enum with one `as_str` / `FromStr` pair and serde support through them.
#[macro_export]
macro_rules! string_enum {
    ($(#[$meta:meta])* $vis:vis enum $name:ident : $kind:literal { $($(#[$vmeta:meta])* $variant:ident = $text:literal),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        $vis enum $name { $($(#[$vmeta])* $variant),+ }

        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$variant),+];
            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $text),+ }
            }
        }

        impl ::std::str::FromStr for $name {
            type Err = $crate::UnknownVariant;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                match s {
                    $($text => Ok($name::$variant),)+
                    _ => Err($crate::UnknownVariant { kind: $kind, value: s.to_owned() }),
                }
            }
        }

        impl ::std::fmt::Display for $name {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl ::serde::Serialize for $name {
            fn serialize<S: ::serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(self.as_str())
            }
        }

        impl<'de> ::serde::Deserialize<'de> for $name {
            fn deserialize<D: ::serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let s = <::std::borrow::Cow<'de, str> as ::serde::Deserialize>::deserialize(d)?;
                s.parse().map_err(::serde::de::Error::custom)
            }
        }
    };
}
