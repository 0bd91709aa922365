//! The server's error type. Services return it; `http::error` is the one place that maps it to HTTP.

use linkwire_contract::{Feature, Plan, Scope};
use linkwire_store::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum AppError {
    #[error("{0} not found")]
    NotFound(&'static str),
    #[error("{message}")]
    Validation {
        field: &'static str,
        message: String,
    },
    #[error("the request body is not valid JSON: {0}")]
    InvalidJson(String),
    #[error("{0}")]
    BadRequest(String),
    #[error("missing or invalid API key")]
    Unauthorized,
    #[error("this credential lacks the `{0}` scope")]
    MissingScope(Scope),
    #[error("{0}")]
    Forbidden(String),
    #[error("this needs the {required} plan or higher (current plan: {current})")]
    PlanUpgradeRequired {
        feature: Feature,
        required: Plan,
        current: Plan,
    },
    #[error("slug `{0}` is already taken on this domain")]
    SlugTaken(String),
    #[error("slug `{0}` is reserved")]
    SlugReserved(String),
    #[error("{0}")]
    Conflict(String),
    #[error("request body is too large")]
    PayloadTooLarge,
    #[error("expected Content-Type: application/json")]
    UnsupportedMediaType,
    #[error("internal error")]
    Store(#[from] StoreError),
    #[error("internal error")]
    Internal(String),
}

impl AppError {
    pub fn validation(field: &'static str, message: impl Into<String>) -> Self {
        AppError::Validation {
            field,
            message: message.into(),
        }
    }

    pub fn require_plan(current: Plan, feature: Feature) -> Result<(), AppError> {
        if current.allows(feature) {
            Ok(())
        } else {
            Err(AppError::PlanUpgradeRequired {
                feature,
                required: feature.minimum_plan(),
                current,
            })
        }
    }
}

pub type AppResult<T> = Result<T, AppError>;
