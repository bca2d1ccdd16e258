//! Cursor pagination shared by every listing: `?limit=` (1..=1000, default 100) and an opaque
//! `?cursor=` returned as `next_cursor` by the previous page.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::Serialize;

use crate::error::ApiError;

pub const DEFAULT_LIMIT: i64 = 100;
pub const MAX_LIMIT: i64 = 1000;

/// One page of a listing.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Page<T> {
    pub items: Vec<T>,
    /// Pass as `cursor` to get the next page; null on the last page.
    pub next_cursor: Option<String>,
}

/// Checks `limit`, defaulting it.
pub fn limit(requested: Option<i64>) -> Result<i64, ApiError> {
    match requested {
        None => Ok(DEFAULT_LIMIT),
        Some(n) if (1..=MAX_LIMIT).contains(&n) => Ok(n),
        Some(n) => Err(ApiError::field(
            "limit",
            format!("limit must be between 1 and {MAX_LIMIT}, got {n}"),
        )),
    }
}

/// Builds a page from `limit + 1` fetched rows: the extra row only tells there is more.
pub fn page<T>(mut rows: Vec<T>, limit: i64, cursor_of: impl Fn(&T) -> String) -> Page<T> {
    let limit = usize::try_from(limit).unwrap_or(usize::MAX);
    let more = rows.len() > limit;
    rows.truncate(limit);
    let next_cursor = if more {
        rows.last().map(|r| encode(&cursor_of(r)))
    } else {
        None
    };
    Page {
        items: rows,
        next_cursor,
    }
}

pub fn encode(raw: &str) -> String {
    URL_SAFE_NO_PAD.encode(raw)
}

/// Decodes a cursor into the `parts` fields it was made of (joined by '|').
pub fn decode(cursor: &str, parts: usize) -> Result<Vec<String>, ApiError> {
    let invalid = || ApiError::field("cursor", "cursor is not one this API returned");
    let bytes = URL_SAFE_NO_PAD.decode(cursor).map_err(|_| invalid())?;
    let text = String::from_utf8(bytes).map_err(|_| invalid())?;
    let fields: Vec<String> = text.splitn(parts, '|').map(str::to_owned).collect();
    if fields.len() == parts {
        Ok(fields)
    } else {
        Err(invalid())
    }
}

/// The cursor of listings ordered by (a time, an id): what [`decode_time_id`] reads back.
pub fn time_id(at: chrono::DateTime<chrono::Utc>, id: uuid::Uuid) -> String {
    format!("{}|{id}", at.to_rfc3339())
}

/// Reads a cursor made by [`time_id`].
pub fn decode_time_id(
    cursor: &str,
) -> Result<(chrono::DateTime<chrono::Utc>, uuid::Uuid), ApiError> {
    let invalid = || ApiError::field("cursor", "cursor is not one this API returned");
    let parts = decode(cursor, 2)?;
    let at = chrono::DateTime::parse_from_rfc3339(&parts[0]).map_err(|_| invalid())?;
    let id = parts[1].parse::<uuid::Uuid>().map_err(|_| invalid())?;
    Ok((at.with_timezone(&chrono::Utc), id))
}
