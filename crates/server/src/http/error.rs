//! The one place errors become HTTP: status, a stable `code` from a closed list, a message, and the
//! request id. Internal details are logged, never sent.

use axum::extract::rejection::{JsonRejection, QueryRejection};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::json;

use crate::error::AppError;
use crate::http::request_id::current_request_id;

/// Every `code` an API error can carry. Clients may match on these; they never change meaning.
pub const ERROR_CODES: &[&str] = &[
    "not_found",
    "validation_failed",
    "invalid_json",
    "bad_request",
    "unauthorized",
    "insufficient_scope",
    "forbidden",
    "plan_upgrade_required",
    "slug_taken",
    "slug_reserved",
    "conflict",
    "payload_too_large",
    "unsupported_media_type",
    "rate_limited",
    "internal_error",
];

impl AppError {
    pub fn status_and_code(&self) -> (StatusCode, &'static str) {
        match self {
            AppError::NotFound(_) => (StatusCode::NOT_FOUND, "not_found"),
            AppError::Validation { .. } => (StatusCode::UNPROCESSABLE_ENTITY, "validation_failed"),
            AppError::InvalidJson(_) => (StatusCode::BAD_REQUEST, "invalid_json"),
            AppError::BadRequest(_) => (StatusCode::BAD_REQUEST, "bad_request"),
            AppError::Unauthorized => (StatusCode::UNAUTHORIZED, "unauthorized"),
            AppError::MissingScope(_) => (StatusCode::FORBIDDEN, "insufficient_scope"),
            AppError::Forbidden(_) => (StatusCode::FORBIDDEN, "forbidden"),
            AppError::PlanUpgradeRequired { .. } => {
                (StatusCode::FORBIDDEN, "plan_upgrade_required")
            }
            AppError::SlugTaken(_) => (StatusCode::CONFLICT, "slug_taken"),
            AppError::SlugReserved(_) => (StatusCode::UNPROCESSABLE_ENTITY, "slug_reserved"),
            AppError::Conflict(_) => (StatusCode::CONFLICT, "conflict"),
            AppError::PayloadTooLarge => (StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large"),
            AppError::UnsupportedMediaType => {
                (StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type")
            }
            AppError::Store(_) | AppError::Internal(_) => {
                (StatusCode::INTERNAL_SERVER_ERROR, "internal_error")
            }
        }
    }

    fn details(&self) -> Option<serde_json::Value> {
        match self {
            AppError::Validation { field, .. } => Some(json!({ "field": field })),
            AppError::MissingScope(scope) => Some(json!({ "required_scope": scope.as_str() })),
            AppError::PlanUpgradeRequired {
                feature,
                required,
                current,
            } => Some(json!({
                "feature": feature.as_str(), "required_plan": required.as_str(), "current_plan": current.as_str()
            })),
            _ => None,
        }
    }
}

impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        let (status, code) = self.status_and_code();
        if status.is_server_error() {
            // The chain goes to the log; the client gets a request id to quote.
            let mut chain = vec![self.to_string()];
            let mut source = std::error::Error::source(&self);
            while let Some(s) = source {
                chain.push(s.to_string());
                source = s.source();
            }
            if let AppError::Internal(detail) = &self {
                chain.push(detail.clone());
            }
            tracing::error!(code, error = %chain.join(": "), "request failed");
        }
        let mut error = json!({ "code": code, "message": self.to_string(), "request_id": current_request_id() });
        if let Some(details) = self.details() {
            error["details"] = details;
        }
        (status, axum::Json(json!({ "error": error }))).into_response()
    }
}

impl From<JsonRejection> for AppError {
    fn from(rejection: JsonRejection) -> Self {
        match rejection {
            JsonRejection::MissingJsonContentType(_) => AppError::UnsupportedMediaType,
            JsonRejection::JsonDataError(e) => AppError::BadRequest(e.body_text()),
            JsonRejection::JsonSyntaxError(e) => AppError::InvalidJson(e.body_text()),
            JsonRejection::BytesRejection(e) if e.status() == StatusCode::PAYLOAD_TOO_LARGE => {
                AppError::PayloadTooLarge
            }
            other => AppError::BadRequest(other.body_text()),
        }
    }
}

impl From<QueryRejection> for AppError {
    fn from(rejection: QueryRejection) -> Self {
        AppError::BadRequest(rejection.body_text())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use linkwire_contract::{Feature, Plan, Scope};

    #[test]
    fn every_variant_maps_to_a_listed_code_and_never_500_for_bad_input() {
        let errors = [
            AppError::NotFound("link"),
            AppError::validation("long_url", "bad"),
            AppError::InvalidJson("x".into()),
            AppError::BadRequest("x".into()),
            AppError::Unauthorized,
            AppError::MissingScope(Scope::LinksWrite),
            AppError::Forbidden("x".into()),
            AppError::PlanUpgradeRequired {
                feature: Feature::ClickWebhooks,
                required: Plan::Professional,
                current: Plan::Plus,
            },
            AppError::SlugTaken("a".into()),
            AppError::SlugReserved("api".into()),
            AppError::Conflict("x".into()),
            AppError::PayloadTooLarge,
            AppError::UnsupportedMediaType,
        ];
        for e in errors {
            let (status, code) = e.status_and_code();
            assert!(ERROR_CODES.contains(&code), "{code}");
            assert!(status.is_client_error(), "{e:?} -> {status}");
        }
        let (status, code) = AppError::Internal("boom".into()).status_and_code();
        assert_eq!((status.as_u16(), code), (500, "internal_error"));
    }
}
