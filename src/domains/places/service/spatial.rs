//! Spatial queries over the organization's leads: candidates through the spatial index, then
//! the exact test.
//!
//! [`within`] narrows a lead select to lat/lng boxes. The index finds candidates: on
//! PostgreSQL the GiST index on `lg_ll_to_earth(latitude, longitude)` (`<@` a cube holding the
//! box, [`Bbox::unit_cube`]), on SQLite the R*Tree `lead_geo` (`rowid IN` its matches, two
//! spans when the box crosses the antimeridian). Exact latitude/longitude bounds follow in the
//! same statement. Radius queries take the box around the circle ([`circle_bbox`]) and keep
//! the candidates whose great-circle distance is within the radius, computed here
//! ([`distance_km`]), so both backends give the same distances and the same order.

use std::collections::HashMap;

use async_graphql::connection::Edge;
use entity::lead;
use sea_orm::{
    sea_query::{Condition, Expr, SimpleExpr},
    ColumnTrait, DatabaseBackend, QueryFilter, QueryOrder, QuerySelect, Select,
};
use uuid::Uuid;

use super::geo::{circle_bbox, distance_km, Bbox, Point};
use crate::{
    auth::{Permission, Viewer},
    domains::{
        leads::{self, types::LeadFilter, types::LeadStatus, LeadPage},
        places::types::{
            GeoPoint, LeadDistance, LeadNearConnection, MapLeads, MapPin, NearCount, NearKey,
        },
    },
    error::{AppError, AppResult},
    graphql::pagination::{KeyCursor, KeysetArgs, KeysetRows},
    state::AppState,
};

/// Most pins `mapLeads` returns.
pub const MAX_PINS: u64 = 5_000;

/// `select` narrowed to leads with coordinates inside any of `boxes` (index, then exact).
pub fn within(
    backend: DatabaseBackend,
    select: Select<lead::Entity>,
    boxes: &[Bbox],
) -> Select<lead::Entity> {
    let index = match backend {
        DatabaseBackend::Postgres => boxes
            .iter()
            .fold(Condition::any(), |c, b| c.add(earth_cube(b))),
        _ => Condition::all().add(rtree(boxes)),
    };
    let exact = boxes.iter().fold(Condition::any(), |c, b| c.add(exact(b)));
    select
        .filter(lead::Column::Latitude.is_not_null())
        .filter(lead::Column::Longitude.is_not_null())
        .filter(index)
        .filter(exact)
}

fn exact(b: &Bbox) -> Condition {
    let lng = b.spans().into_iter().fold(Condition::any(), |c, (w, e)| {
        c.add(lead::Column::Longitude.between(w, e))
    });
    Condition::all()
        .add(lead::Column::Latitude.between(b.south, b.north))
        .add(lng)
}

/// PostgreSQL: the lead's `earth` point inside the cube that holds the box (GiST
/// `idx_leads_earth`).
fn earth_cube(b: &Bbox) -> SimpleExpr {
    let (lo, hi) = b.unit_cube();
    Expr::cust_with_values(
        // `cube(cube(cube(x0, x1), y0, y1), z0, z1)`: no `ARRAY[…]`, whose brackets sea-query's
        // tokenizer would take for a quoted identifier and leave its placeholders unbound.
        r#"lg_ll_to_earth("leads"."latitude", "leads"."longitude") <@ cube(cube(cube($1 * earth(), $2 * earth()), $3 * earth(), $4 * earth()), $5 * earth(), $6 * earth())"#,
        [lo[0], hi[0], lo[1], hi[1], lo[2], hi[2]],
    )
}

/// SQLite: the lead's rowid among the R*Tree's matches of every span.
fn rtree(boxes: &[Bbox]) -> SimpleExpr {
    let mut parts = Vec::new();
    let mut values = Vec::new();
    for b in boxes {
        for (w, e) in b.spans() {
            parts.push(
                "SELECT id FROM lead_geo WHERE max_lat >= ? AND min_lat <= ? \
                 AND max_lng >= ? AND min_lng <= ?",
            );
            values.extend([b.south, b.north, w, e]);
        }
    }
    if parts.is_empty() {
        return Expr::cust("1 = 0");
    }
    Expr::cust_with_values(
        format!(r#""leads".rowid IN ({})"#, parts.join(" UNION ")),
        values,
    )
}

/// The viewer's leads matching `filter` (validated by leads), after both permissions.
fn leads_matching(
    backend: DatabaseBackend,
    viewer: &Viewer,
    filter: &LeadFilter,
) -> AppResult<Select<lead::Entity>> {
    viewer.require(Permission::ReadPlaces)?;
    viewer.require(Permission::ReadLeads)?;
    leads::filtered(backend, viewer, filter)
}

/// `(distance, id)` of every lead within `radius_km` of `center` that matches `filter`,
/// nearest first (ties by id).
async fn near(
    state: &AppState,
    viewer: &Viewer,
    filter: &LeadFilter,
    center: Point,
    radius_km: f64,
) -> AppResult<Vec<NearKey>> {
    let backend = state.db.get_database_backend();
    let q = within(
        backend,
        leads_matching(backend, viewer, filter)?,
        &[circle_bbox(center, radius_km)],
    );
    let rows: Vec<(Uuid, Option<f64>, Option<f64>)> = q
        .select_only()
        .column(lead::Column::Id)
        .column(lead::Column::Latitude)
        .column(lead::Column::Longitude)
        .into_tuple()
        .all(&state.db)
        .await?;
    let mut out: Vec<NearKey> = rows
        .into_iter()
        .filter_map(|(id, lat, lng)| {
            let d = distance_km(
                center,
                Point {
                    lat: lat?,
                    lng: lng?,
                },
            );
            (d <= radius_km).then_some(NearKey { d, id })
        })
        .collect();
    out.sort_by(order);
    Ok(out)
}

fn order(a: &NearKey, b: &NearKey) -> std::cmp::Ordering {
    a.d.total_cmp(&b.d).then(a.id.cmp(&b.id))
}

/// The page of `sorted` that `args` asks for, in reading order, with its page info.
fn page_of(sorted: &[NearKey], args: &KeysetArgs<NearKey>) -> KeysetRows<NearKey> {
    use std::cmp::Ordering::{Greater, Less};
    let inside = |k: &&NearKey| {
        args.after.is_none_or(|a| order(k, &a) == Greater)
            && args.before.is_none_or(|b| order(k, &b) == Less)
    };
    let n = args.limit as usize + 1;
    let rows: Vec<NearKey> = if args.backward {
        sorted
            .iter()
            .rev()
            .filter(inside)
            .take(n)
            .copied()
            .collect()
    } else {
        sorted.iter().filter(inside).take(n).copied().collect()
    };
    KeysetRows::new(args, rows)
}

/// Leads within `radius_km` of `center` that match `filter`, nearest first, each edge with
/// its distance: two statements (the candidates' ids and coordinates; the page's leads),
/// whatever the page size; nested lead fields load page-wide (`LeadPage`).
pub async fn leads_near(
    state: &AppState,
    viewer: &Viewer,
    filter: &LeadFilter,
    center: Point,
    radius_km: f64,
    args: KeysetArgs<NearKey>,
) -> AppResult<LeadNearConnection> {
    let args = args.check(|k| k.d.is_finite() && k.d >= 0.0, "invalid cursor")?;
    let sorted = near(state, viewer, filter, center, radius_km).await?;
    let page = page_of(&sorted, &args);
    let ids: Vec<Uuid> = page.rows.iter().map(|k| k.id).collect();
    let mut models: HashMap<Uuid, lead::Model> = if ids.is_empty() {
        HashMap::new()
    } else {
        leads::scoped(viewer)
            .filter(lead::Column::Id.is_in(ids))
            .all(&state.db)
            .await?
            .into_iter()
            .map(|m| (m.id, m))
            .collect()
    };
    // A lead deleted between the two statements is left out of the page.
    let (keys, rows): (Vec<NearKey>, Vec<lead::Model>) = page
        .rows
        .iter()
        .filter_map(|k| models.remove(&k.id).map(|m| (*k, m)))
        .unzip();
    let total = NearCount {
        total_count: sorted.len() as u64,
    };
    let mut connection =
        LeadNearConnection::with_additional_fields(page.has_prev, page.has_next, total);
    connection
        .edges
        .extend(keys.into_iter().zip(LeadPage::wrap(rows)).map(|(k, lead)| {
            Edge::with_additional_fields(KeyCursor(k), lead, LeadDistance { distance_km: k.d })
        }));
    Ok(connection)
}

/// How many leads lie within each `(center, radius)` area: one statement for the candidates
/// of all the areas' boxes, the exact distances in memory.
pub async fn count_within(
    state: &AppState,
    viewer: &Viewer,
    areas: &[(Point, f64)],
) -> AppResult<Vec<u64>> {
    if areas.is_empty() {
        return Ok(Vec::new());
    }
    let backend = state.db.get_database_backend();
    let boxes: Vec<Bbox> = areas.iter().map(|(p, r)| circle_bbox(*p, *r)).collect();
    let q = within(
        backend,
        leads_matching(backend, viewer, &LeadFilter::default())?,
        &boxes,
    );
    let rows: Vec<(Option<f64>, Option<f64>)> = q
        .select_only()
        .column(lead::Column::Latitude)
        .column(lead::Column::Longitude)
        .into_tuple()
        .all(&state.db)
        .await?;
    let mut counts = vec![0u64; areas.len()];
    for (lat, lng) in rows {
        let (Some(lat), Some(lng)) = (lat, lng) else {
            continue;
        };
        let p = Point { lat, lng };
        for (i, (center, radius)) in areas.iter().enumerate() {
            if distance_km(*center, p) <= *radius {
                counts[i] += 1;
            }
        }
    }
    Ok(counts)
}

/// The viewer's leads inside `bbox` that match `filter` as map pins, highest score first
/// (then by id), at most `limit`: one statement.
pub async fn map_leads(
    state: &AppState,
    viewer: &Viewer,
    filter: &LeadFilter,
    bbox: Bbox,
    limit: u64,
) -> AppResult<MapLeads> {
    if limit == 0 || limit > MAX_PINS {
        return Err(AppError::invalid(
            "limit",
            format!("must be between 1 and {MAX_PINS}"),
        ));
    }
    let backend = state.db.get_database_backend();
    type Row = (
        Uuid,
        Option<f64>,
        Option<f64>,
        Option<String>,
        Option<String>,
        String,
        String,
        i32,
    );
    let rows: Vec<Row> = within(backend, leads_matching(backend, viewer, filter)?, &[bbox])
        .select_only()
        .columns([
            lead::Column::Id,
            lead::Column::Latitude,
            lead::Column::Longitude,
            lead::Column::FirstName,
            lead::Column::LastName,
            lead::Column::Company,
            lead::Column::Status,
            lead::Column::Score,
        ])
        .order_by_desc(lead::Column::Score)
        .order_by_asc(lead::Column::Id)
        .limit(limit + 1)
        .into_tuple()
        .all(&state.db)
        .await?;
    let truncated = rows.len() as u64 > limit;
    let pins = rows
        .into_iter()
        .take(limit as usize)
        .filter_map(|(id, lat, lng, first, last, company, status, score)| {
            let name = [first, last].into_iter().flatten().collect::<Vec<_>>();
            Some(MapPin {
                id: id.to_string().into(),
                point: GeoPoint {
                    latitude: lat?,
                    longitude: lng?,
                },
                name: (!name.is_empty()).then(|| name.join(" ")),
                company,
                status: LeadStatus::parse(&status),
                score,
            })
        })
        .collect();
    Ok(MapLeads { pins, truncated })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys(n: u128) -> Vec<NearKey> {
        // Two leads at each distance: ties are ordered by id.
        (0..n)
            .map(|i| NearKey {
                d: (i / 2) as f64,
                id: Uuid::from_u128(i),
            })
            .collect()
    }

    fn args(
        first: Option<i32>,
        after: Option<NearKey>,
        last: Option<i32>,
        before: Option<NearKey>,
    ) -> KeysetArgs<NearKey> {
        let enc = |k: Option<NearKey>| {
            k.map(|k| async_graphql::connection::CursorType::encode_cursor(&KeyCursor(k)))
        };
        KeysetArgs::new(first, enc(after), last, enc(before)).unwrap()
    }

    #[test]
    fn cursors_give_back_exactly_the_distance_they_were_made_from() {
        use async_graphql::connection::CursorType;
        // Distances as `distance_km` makes them: 17 significant digits, where a float parsed
        // back from its shortest text can land one ulp away.
        let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
        let mut off = Vec::new();
        for i in 0..20_000u128 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let d = (x >> 11) as f64 / (1u64 << 53) as f64 * 20_000.0;
            let k = NearKey {
                d,
                id: Uuid::from_u128(i),
            };
            let back = KeyCursor::<NearKey>::decode_cursor(&KeyCursor(k).encode_cursor()).unwrap();
            if back.0.d.to_bits() != d.to_bits() {
                off.push((d, back.0.d));
            }
        }
        assert!(
            off.is_empty(),
            "{} of 20000 off, e.g. {:?}",
            off.len(),
            off.first()
        );
    }

    #[test]
    fn pages_follow_distance_then_id_both_ways() {
        let all = keys(7);
        let p = page_of(&all, &args(Some(3), None, None, None));
        assert_eq!(p.rows, all[0..3]);
        assert_eq!((p.has_prev, p.has_next), (false, true));
        let p = page_of(&all, &args(Some(3), Some(all[2]), None, None));
        assert_eq!(p.rows, all[3..6]);
        let p = page_of(&all, &args(Some(3), Some(all[5]), None, None));
        assert_eq!(p.rows, all[6..7]);
        assert!(!p.has_next);
        let p = page_of(&all, &args(None, None, Some(2), Some(all[5])));
        assert_eq!(p.rows, all[3..5]);
        assert_eq!((p.has_prev, p.has_next), (true, true));
    }
}
