//! The analytics routes: `GET /v1/analytics` (JSON) and
//! `GET /v1/analytics.csv`, over the caller's organisation's aggregates
//! (see `voxdial_app::analytics` for the query string and the figures).

use axum::extract::{Query, State};
use axum::http::header;
use axum::response::IntoResponse;
use axum::{Extension, Json};
use voxdial_app::analytics::{AnalyticsParams, AnalyticsReport};
use voxdial_app::{Caller, Engine};

use crate::ApiError;

async fn report(
    engine: &Engine,
    caller: &Caller,
    params: &AnalyticsParams,
) -> Result<AnalyticsReport, ApiError> {
    let query = params.query(engine.clock().now())?;
    Ok(engine.analytics(&caller.org_id, &query).await?)
}

/// `GET /v1/analytics`: the series and its totals as JSON.
pub(crate) async fn json(
    State(engine): State<Engine>,
    Extension(caller): Extension<Caller>,
    Query(params): Query<AnalyticsParams>,
) -> Result<Json<AnalyticsReport>, ApiError> {
    Ok(Json(report(&engine, &caller, &params).await?))
}

/// `GET /v1/analytics.csv`: the same rows as CSV, formula-safe.
pub(crate) async fn csv(
    State(engine): State<Engine>,
    Extension(caller): Extension<Caller>,
    Query(params): Query<AnalyticsParams>,
) -> Result<impl IntoResponse, ApiError> {
    let csv = report(&engine, &caller, &params).await?.to_csv()?;
    Ok((
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8"),
            (
                header::CONTENT_DISPOSITION,
                "attachment; filename=\"voxdial-analytics.csv\"",
            ),
        ],
        csv,
    ))
}
