//! Extractors whose rejections are our JSON problem bodies instead of axum's plain text.

use axum::extract::{FromRequest, FromRequestParts};

use crate::error::AppError;

/// `axum::Json` with [`AppError`] rejections.
#[derive(Debug, FromRequest)]
#[from_request(via(axum::Json), rejection(AppError))]
pub struct Json<T>(pub T);

/// `axum::extract::Query` with [`AppError`] rejections.
#[derive(Debug, FromRequestParts)]
#[from_request(via(axum::extract::Query), rejection(AppError))]
pub struct Query<T>(pub T);

/// Path parameters that must parse as an id; a malformed id is simply "not found".
pub struct PathId<T>(pub T);

impl<S, T> FromRequestParts<S> for PathId<T>
where
    S: Send + Sync,
    T: std::str::FromStr + Send,
{
    type Rejection = AppError;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        state: &S,
    ) -> Result<Self, Self::Rejection> {
        let axum::extract::Path(raw): axum::extract::Path<String> =
            axum::extract::Path::from_request_parts(parts, state)
                .await
                .map_err(|_| AppError::NotFound("resource"))?;
        raw.parse()
            .map(PathId)
            .map_err(|_| AppError::NotFound("resource"))
    }
}

impl<T> axum::response::IntoResponse for Json<T>
where
    axum::Json<T>: axum::response::IntoResponse,
{
    fn into_response(self) -> axum::response::Response {
        axum::Json(self.0).into_response()
    }
}

/// Parses an RFC 3339 timestamp from a request field.
pub fn parse_time(
    field: &'static str,
    raw: &str,
) -> Result<linkwire_contract::Timestamp, AppError> {
    chrono::DateTime::parse_from_rfc3339(raw)
        .map(|t| t.with_timezone(&chrono::Utc))
        .map_err(|_| {
            AppError::validation(
                field,
                "must be an RFC 3339 timestamp such as 2026-12-31T23:59:59Z",
            )
        })
}

/// A JSON body that may be left out: an empty body means `T::default()`.
pub struct OptionalJson<T>(pub T);

impl<S, T> FromRequest<S> for OptionalJson<T>
where
    S: Send + Sync,
    T: serde::de::DeserializeOwned + Default,
{
    type Rejection = AppError;

    async fn from_request(req: axum::extract::Request, state: &S) -> Result<Self, Self::Rejection> {
        let bytes = axum::body::Bytes::from_request(req, state)
            .await
            .map_err(|e| {
                if e.status() == axum::http::StatusCode::PAYLOAD_TOO_LARGE {
                    AppError::PayloadTooLarge
                } else {
                    AppError::BadRequest(e.body_text())
                }
            })?;
        if bytes.iter().all(u8::is_ascii_whitespace) {
            return Ok(OptionalJson(T::default()));
        }
        serde_json::from_slice(&bytes)
            .map(OptionalJson)
            .map_err(|e| AppError::InvalidJson(e.to_string()))
    }
}
