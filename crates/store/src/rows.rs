//! Small decoding helpers shared by the row types: text ids, millisecond timestamps, closed enums.

use std::str::FromStr;

use linkwire_contract::{from_millis, Timestamp};
use sqlx::any::AnyRow;
use sqlx::Row;

use crate::{Result, StoreError};

pub(crate) fn get<T>(row: &AnyRow, col: &str) -> Result<T>
where
    T: for<'r> sqlx::Decode<'r, sqlx::Any> + sqlx::Type<sqlx::Any>,
{
    row.try_get(col)
        .map_err(|e| StoreError::Corrupt(format!("{col}: {e}")))
}

/// A column holding a value with a `FromStr` (ids, closed enums).
pub(crate) fn parsed<T: FromStr>(row: &AnyRow, col: &str) -> Result<T>
where
    T::Err: std::fmt::Display,
{
    let raw: String = get(row, col)?;
    raw.parse()
        .map_err(|e: T::Err| StoreError::Corrupt(format!("{col}: {e}")))
}

pub(crate) fn parsed_opt<T: FromStr>(row: &AnyRow, col: &str) -> Result<Option<T>>
where
    T::Err: std::fmt::Display,
{
    let raw: Option<String> = get(row, col)?;
    raw.map(|r| {
        r.parse()
            .map_err(|e: T::Err| StoreError::Corrupt(format!("{col}: {e}")))
    })
    .transpose()
}

pub(crate) fn time(row: &AnyRow, col: &str) -> Result<Timestamp> {
    Ok(from_millis(get::<i64>(row, col)?))
}

pub(crate) fn time_opt(row: &AnyRow, col: &str) -> Result<Option<Timestamp>> {
    Ok(get::<Option<i64>>(row, col)?.map(from_millis))
}

pub(crate) fn flag(row: &AnyRow, col: &str) -> Result<bool> {
    Ok(get::<i64>(row, col)? != 0)
}

pub(crate) fn json<T: serde::de::DeserializeOwned>(row: &AnyRow, col: &str) -> Result<T> {
    let raw: String = get(row, col)?;
    serde_json::from_str(&raw).map_err(|e| StoreError::Corrupt(format!("{col}: {e}")))
}

pub(crate) fn ms(t: Timestamp) -> i64 {
    t.timestamp_millis()
}

pub(crate) fn ms_opt(t: Option<Timestamp>) -> Option<i64> {
    t.map(ms)
}

pub(crate) fn int_flag(b: bool) -> i64 {
    i64::from(b)
}
