//! Heatmaps and clusters: the leads inside a map view counted per geohash cell, in one
//! grouped statement.
//!
//! The grid ([`Grid::for_view`]) follows the zoom (Web-Mercator tiles of 256 px: cluster cells
//! at most a quarter of a tile wide, heatmap cells an eighth) and is coarsened until the view
//! spans at most [`MAX_CLUSTER_CELLS`] / [`MAX_HEAT_CELLS`] cells. Cells are aligned on
//! −180°/−90°, never on the view, so panning keeps every cell (and cluster) where it was; a
//! cell never crosses the antimeridian, so its centroid is a plain mean. Only leads inside
//! the view are counted ([`super::spatial::within`]), so the counts sum to the leads in it.

use entity::lead;
use sea_orm::{
    sea_query::Expr, ConnectionTrait, DatabaseBackend, QuerySelect, QueryTrait, Statement,
};

use super::{
    geo::{Bbox, Grid},
    spatial::within,
};
use crate::{
    auth::{Permission, Viewer},
    domains::{
        leads::{self, types::LeadFilter},
        places::types::{BoundingBox, Cluster, Clusters, GeoPoint, Heatmap, HeatmapCell},
    },
    error::{AppError, AppResult},
    state::AppState,
};

/// Most cells a cluster view spans.
pub const MAX_CLUSTER_CELLS: f64 = 1_024.0;
/// Most cells a heatmap view spans.
pub const MAX_HEAT_CELLS: f64 = 4_096.0;
/// Highest zoom accepted.
pub const MAX_ZOOM: i32 = 22;

/// One non-empty cell: its indexes, count, mean and extent.
struct CellRow {
    x: i64,
    y: i64,
    count: u64,
    mean: GeoPoint,
    bounds: BoundingBox,
}

/// A zoom argument in 0…[`MAX_ZOOM`].
pub fn check_zoom(zoom: i32) -> AppResult<u8> {
    u8::try_from(zoom)
        .ok()
        .filter(|z| i32::from(*z) <= MAX_ZOOM)
        .ok_or_else(|| AppError::invalid("zoom", format!("must be between 0 and {MAX_ZOOM}")))
}

/// The cell indexes of a lead on `grid`, as SQL (the cell widths are exact binary fractions
/// written as literals, so the statement text depends only on the grid).
fn cell_sql(backend: DatabaseBackend, grid: Grid) -> (String, String) {
    let (w, h) = (grid.cell_width(), grid.cell_height());
    let (mx, my) = (grid.max_x(), grid.max_y());
    let lng = r#""leads"."longitude""#;
    let lat = r#""leads"."latitude""#;
    match backend {
        DatabaseBackend::Postgres => (
            format!("LEAST(FLOOR(({lng} + 180.0) / {w})::bigint, {mx})"),
            format!("LEAST(FLOOR(({lat} + 90.0) / {h})::bigint, {my})"),
        ),
        // Both sums are ≥ 0, so truncating is flooring.
        _ => (
            format!("MIN(CAST(({lng} + 180.0) / {w} AS INTEGER), {mx})"),
            format!("MIN(CAST(({lat} + 90.0) / {h} AS INTEGER), {my})"),
        ),
    }
}

/// The non-empty cells of `grid` inside `bbox`, for the viewer's leads matching `filter`.
async fn cells(
    state: &AppState,
    viewer: &Viewer,
    filter: &LeadFilter,
    bbox: Bbox,
    grid: Grid,
) -> AppResult<Vec<CellRow>> {
    viewer.require(Permission::ReadPlaces)?;
    viewer.require(Permission::ReadLeads)?;
    let backend = state.db.get_database_backend();
    let (gx, gy) = cell_sql(backend, grid);
    let inner = within(backend, leads::filtered(backend, viewer, filter)?, &[bbox])
        .select_only()
        .expr_as(Expr::cust(gx), "gx")
        .expr_as(Expr::cust(gy), "gy")
        .column_as(lead::Column::Latitude, "lat")
        .column_as(lead::Column::Longitude, "lng")
        .build(backend);
    let sql = format!(
        "SELECT gx, gy, COUNT(*) AS n, AVG(lat) AS mlat, AVG(lng) AS mlng, MIN(lat) AS s, \
         MAX(lat) AS nn, MIN(lng) AS w, MAX(lng) AS e FROM ({}) AS cells GROUP BY gx, gy \
         ORDER BY gy, gx",
        inner.sql
    );
    let values = inner.values.map(|v| v.0).unwrap_or_default();
    let rows = state
        .db
        .query_all_raw(Statement::from_sql_and_values(backend, sql, values))
        .await?;
    rows.iter()
        .map(|r| -> AppResult<CellRow> {
            let count: i64 = r.try_get_by_index(2)?;
            Ok(CellRow {
                x: r.try_get_by_index(0)?,
                y: r.try_get_by_index(1)?,
                count: count.max(0) as u64,
                mean: GeoPoint {
                    latitude: r.try_get_by_index(3)?,
                    longitude: r.try_get_by_index(4)?,
                },
                bounds: BoundingBox {
                    south: r.try_get_by_index(5)?,
                    north: r.try_get_by_index(6)?,
                    west: r.try_get_by_index(7)?,
                    east: r.try_get_by_index(8)?,
                },
            })
        })
        .collect()
}

fn as_bounds(b: Bbox) -> BoundingBox {
    BoundingBox {
        north: b.north,
        south: b.south,
        east: b.east,
        west: b.west,
    }
}

/// Lead counts per geohash cell of the view, with weights relative to the fullest cell.
pub async fn heatmap(
    state: &AppState,
    viewer: &Viewer,
    filter: &LeadFilter,
    bbox: Bbox,
    zoom: u8,
) -> AppResult<Heatmap> {
    let grid = Grid::for_view(zoom, 8.0, &bbox, MAX_HEAT_CELLS);
    let rows = cells(state, viewer, filter, bbox, grid).await?;
    let max = rows.iter().map(|r| r.count).max().unwrap_or(1).max(1) as f64;
    let total = rows.iter().map(|r| r.count).sum();
    let cells = rows
        .into_iter()
        .map(|r| {
            let cell = grid.cell(r.x, r.y);
            HeatmapCell {
                geohash: grid.geohash(r.x, r.y),
                center: GeoPoint {
                    latitude: (cell.south + cell.north) / 2.0,
                    longitude: (cell.west + cell.east) / 2.0,
                },
                bounds: as_bounds(cell),
                count: r.count,
                weight: r.count as f64 / max,
            }
        })
        .collect();
    Ok(Heatmap {
        precision: i32::from(grid.precision),
        cells,
        total,
    })
}

/// The leads of the view grouped per geohash cell: count, centroid and extent of each group.
pub async fn clusters(
    state: &AppState,
    viewer: &Viewer,
    filter: &LeadFilter,
    bbox: Bbox,
    zoom: u8,
) -> AppResult<Clusters> {
    let grid = Grid::for_view(zoom, 4.0, &bbox, MAX_CLUSTER_CELLS);
    let rows = cells(state, viewer, filter, bbox, grid).await?;
    let total = rows.iter().map(|r| r.count).sum();
    let clusters = rows
        .into_iter()
        .map(|r| Cluster {
            geohash: grid.geohash(r.x, r.y),
            count: r.count,
            centroid: r.mean,
            bounds: r.bounds,
        })
        .collect();
    Ok(Clusters {
        precision: i32::from(grid.precision),
        clusters,
        total,
    })
}
