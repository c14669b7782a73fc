//! Saved locations: CRUD with validation and events, the locations near a point, and leads per
//! location. The spatial queries over leads are in [`spatial`] and [`tiles`].

pub mod gazetteer;
pub mod geo;
pub mod geocode;
pub mod lead_geocoding;
pub mod spatial;
pub mod sweep;
pub mod target;
pub mod tiles;

use chrono::Utc;
use entity::location;
use sea_orm::{
    sea_query::LikeExpr, ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait,
    EntityTrait, QueryFilter, QueryOrder, QuerySelect, Select, TransactionTrait,
};
use uuid::Uuid;

use self::geo::{circle_bbox, distance_km, Bbox, Point, MAX_RADIUS_KM};
use super::types::{
    BoundingBox, CreateLocationInput, GeoPointInput, LocationFilter, LocationStat, NearbyLocation,
    SavedLocation, UpdateLocationInput,
};
use crate::{
    auth::{Permission, Viewer},
    db::{lower_contains, search_text},
    domains::leads::Check,
    error::{AppError, AppResult, FieldError},
    events::{outbox, DomainEvent, EventEnvelope, LocationChanged},
    graphql::pagination::{page_by_id_desc, IdConnection, PageArgs},
    state::{AppState, Wakes},
};

/// Radius of a location created without one, kilometres.
pub const DEFAULT_RADIUS_KM: f64 = 10.0;
/// Most locations `nearbyLocations` and `locationStats` return.
pub const MAX_LOCATIONS: u64 = 200;

/// Every location query starts here.
pub fn scoped(viewer: &Viewer) -> Select<location::Entity> {
    location::Entity::find().filter(location::Column::OrgId.eq(viewer.org_id))
}

/// A location of the viewer's organization, or NOT_FOUND.
pub async fn get(
    conn: &impl ConnectionTrait,
    viewer: &Viewer,
    id: Uuid,
) -> AppResult<location::Model> {
    scoped(viewer)
        .filter(location::Column::Id.eq(id))
        .one(conn)
        .await?
        .ok_or(AppError::NotFound("location"))
}

fn fail(c: &mut Check, field: String, message: &str) {
    c.errors.push(FieldError {
        field,
        message: message.into(),
    });
}

/// A point with both coordinates in range (`field.latitude`, `field.longitude`).
pub fn check_point(c: &mut Check, field: &str, p: GeoPointInput) -> Option<Point> {
    let lat = c.coordinate(&format!("{field}.latitude"), Some(p.latitude), 90.0);
    let lng = c.coordinate(&format!("{field}.longitude"), Some(p.longitude), 180.0);
    Some(Point {
        lat: lat?,
        lng: lng?,
    })
}

/// A radius greater than 0 and at most [`MAX_RADIUS_KM`].
pub fn check_radius(c: &mut Check, field: &str, r: f64) -> Option<f64> {
    if r.is_finite() && r > 0.0 && r <= MAX_RADIUS_KM {
        Some(r)
    } else {
        fail(
            c,
            field.into(),
            &format!("must be greater than 0 and at most {MAX_RADIUS_KM} km"),
        );
        None
    }
}

/// A point and radius given as query arguments (`point`, `radiusKm`), or BAD_USER_INPUT.
pub fn point_and_radius(point: GeoPointInput, radius_km: f64) -> AppResult<(Point, f64)> {
    let mut c = Check::new("");
    let p = check_point(&mut c, "point", point);
    let r = check_radius(&mut c, "radiusKm", radius_km);
    c.finish()?;
    match (p, r) {
        (Some(p), Some(r)) => Ok((p, r)),
        _ => Err(AppError::invalid("point", "is invalid")),
    }
}

/// A map view (`bbox`): edges in range, south not above north; `west > east` crosses the
/// antimeridian.
pub fn check_bbox(b: BoundingBox) -> AppResult<Bbox> {
    let mut c = Check::new("bbox.");
    let north = c.coordinate("north", Some(b.north), 90.0);
    let south = c.coordinate("south", Some(b.south), 90.0);
    let east = c.coordinate("east", Some(b.east), 180.0);
    let west = c.coordinate("west", Some(b.west), 180.0);
    if let (Some(n), Some(s)) = (north, south) {
        if s > n {
            fail(
                &mut c,
                "bbox.south".into(),
                "must not be north of bbox.north",
            );
        }
    }
    c.finish()?;
    match (north, south, east, west) {
        (Some(north), Some(south), Some(east), Some(west)) => Ok(Bbox {
            south,
            north,
            west,
            east,
        }),
        _ => Err(AppError::invalid("bbox", "is invalid")),
    }
}

fn name(c: &mut Check, v: &str) -> String {
    let n = c.text("name", Some(v), 200).unwrap_or_default();
    if n.is_empty() && v.chars().count() <= 200 {
        fail(c, "input.name".into(), "is required");
    }
    n
}

fn tags_json(tags: &[String]) -> String {
    serde_json::to_string(tags).unwrap_or_else(|_| "[]".into())
}

/// A page of locations, newest first.
pub async fn list(
    state: &AppState,
    viewer: &Viewer,
    filter: &LocationFilter,
    args: PageArgs,
) -> AppResult<IdConnection<SavedLocation>> {
    viewer.require(Permission::ReadPlaces)?;
    let mut q = scoped(viewer);
    if let Some(s) = search_text(filter.search.as_deref(), 200)? {
        q = q.filter(lower_contains(location::Column::Name, s));
    }
    if let Some(t) = filter
        .tag
        .as_deref()
        .map(str::trim)
        .filter(|t| !t.is_empty())
    {
        // Tags are stored as a JSON array of lowercased strings: match the quoted element.
        let quoted = serde_json::to_string(&t.to_lowercase())?;
        let escaped = quoted
            .replace('\\', "\\\\")
            .replace('%', "\\%")
            .replace('_', "\\_");
        let pattern = LikeExpr::new(format!("%{escaped}%")).escape('\\');
        q = q.filter(location::Column::Tags.like(pattern));
    }
    page_by_id_desc(
        &state.db,
        q,
        location::Column::Id,
        &args,
        |m| m.id,
        SavedLocation::from,
    )
    .await
}

async fn record(
    conn: &impl ConnectionTrait,
    viewer: &Viewer,
    id: Uuid,
    action: &str,
    changed_fields: Vec<String>,
) -> AppResult<()> {
    let event = DomainEvent::LocationChanged(LocationChanged {
        location_id: id,
        action: action.into(),
        changed_fields,
    });
    outbox::record(
        conn,
        &EventEnvelope::new(viewer.org_id, Some(viewer.user_id), event),
    )
    .await
}

/// Where a location's point comes from: given by a person, or geocoded from its address.
struct Placed {
    point: Point,
    geocoder: Option<String>,
    precision: Option<String>,
}

impl Placed {
    fn given(point: Point) -> Self {
        Placed {
            point,
            geocoder: None,
            precision: None,
        }
    }
}

/// The configured geocoder's best candidate for `address` (cached, polite: see [`geocode`]),
/// or BAD_USER_INPUT on `input.address` when it finds nothing.
async fn geocode_address(state: &AppState, address: &str) -> AppResult<Placed> {
    let found = geocode::cached(state, geocode::configured(state).as_ref(), address).await?;
    let best = found
        .into_iter()
        .next()
        .ok_or_else(|| AppError::invalid("input.address", "could not be geocoded: give a point"))?;
    let precision = serde_json::to_value(best.precision)?
        .as_str()
        .map(String::from);
    Ok(Placed {
        point: Point {
            lat: best.latitude,
            lng: best.longitude,
        },
        geocoder: Some(best.geocoder),
        precision,
    })
}

/// Creates a location (`location.changed`, action `created`). Without a point, the address
/// is geocoded (outside the transaction) and the geocoder and precision are recorded.
pub async fn create(
    state: &AppState,
    viewer: &Viewer,
    input: CreateLocationInput,
) -> AppResult<location::Model> {
    viewer.require(Permission::WritePlaces)?;
    let mut c = Check::new("input.");
    let name = name(&mut c, &input.name);
    let address = c.text("address", input.address.as_deref(), 500);
    let point = input.point.and_then(|p| check_point(&mut c, "point", p));
    let no_address = input.address.as_deref().is_none_or(|a| a.trim().is_empty());
    if input.point.is_none() && no_address {
        fail(&mut c, "input.point".into(), "give a point or an address");
    }
    let radius = check_radius(
        &mut c,
        "input.radiusKm",
        input.radius_km.unwrap_or(DEFAULT_RADIUS_KM),
    );
    let tags = c.tags("tags", input.tags.as_deref().unwrap_or_default());
    c.finish()?;
    let Some(radius) = radius else {
        return Err(AppError::invalid("input.radiusKm", "is invalid"));
    };
    let placed = match (point, address.as_deref()) {
        (Some(p), _) => Placed::given(p),
        (None, Some(a)) => geocode_address(state, a).await?,
        (None, None) => return Err(AppError::invalid("input.point", "is invalid")),
    };
    let now = Utc::now();
    let txn = state.db.begin().await?;
    let m = location::ActiveModel {
        id: Set(Uuid::now_v7()),
        org_id: Set(viewer.org_id),
        name: Set(name),
        address: Set(address),
        latitude: Set(placed.point.lat),
        longitude: Set(placed.point.lng),
        radius_km: Set(radius),
        tags: Set(tags_json(&tags)),
        geocoder: Set(placed.geocoder),
        geocode_precision: Set(placed.precision),
        created_by: Set(Some(viewer.user_id)),
        created_at: Set(now),
        updated_at: Set(now),
    }
    .insert(&txn)
    .await?;
    record(&txn, viewer, m.id, "created", Vec::new()).await?;
    state.commit(txn, Wakes::Events).await?;
    Ok(m)
}

fn set_placed(a: &mut location::ActiveModel, placed: Placed) {
    a.latitude = Set(placed.point.lat);
    a.longitude = Set(placed.point.lng);
    a.geocoder = Set(placed.geocoder);
    a.geocode_precision = Set(placed.precision);
}

/// Changes the fields present in `input` (`location.changed`, action `updated`, with the
/// changed fields). A new non-empty address without a point is geocoded (the point changes
/// too); a point given by a person clears the geocoder and precision.
pub async fn update(
    state: &AppState,
    viewer: &Viewer,
    id: Uuid,
    input: UpdateLocationInput,
) -> AppResult<location::Model> {
    viewer.require(Permission::WritePlaces)?;
    let old = get(&state.db, viewer, id).await?;
    let mut c = Check::new("input.");
    let mut a: location::ActiveModel = old.clone().into();
    let mut changed = Vec::new();
    if let Some(n) = &input.name {
        a.name = Set(name(&mut c, n));
        changed.push("name");
    }
    let mut geocode_from = None;
    if let Some(addr) = &input.address {
        let addr = c.text("address", Some(addr), 500);
        geocode_from = addr.clone().filter(|_| input.point.is_none());
        a.address = Set(addr);
        changed.push("address");
    }
    if let Some(p) = input.point {
        if let Some(p) = check_point(&mut c, "point", p) {
            set_placed(&mut a, Placed::given(p));
        }
        changed.push("point");
    }
    if let Some(r) = input.radius_km {
        if let Some(r) = check_radius(&mut c, "input.radiusKm", r) {
            a.radius_km = Set(r);
        }
        changed.push("radiusKm");
    }
    if let Some(t) = &input.tags {
        a.tags = Set(tags_json(&c.tags("tags", t)));
        changed.push("tags");
    }
    c.finish()?;
    if changed.is_empty() {
        return Ok(old);
    }
    if let Some(addr) = geocode_from.filter(|a| old.address.as_deref() != Some(a)) {
        set_placed(&mut a, geocode_address(state, &addr).await?);
        changed.push("point");
    }
    a.updated_at = Set(Utc::now());
    let txn = state.db.begin().await?;
    let m = a.update(&txn).await?;
    let fields = changed.into_iter().map(String::from).collect();
    record(&txn, viewer, id, "updated", fields).await?;
    state.commit(txn, Wakes::Events).await?;
    Ok(m)
}

/// Deletes a location (`location.changed`, action `deleted`).
pub async fn delete(state: &AppState, viewer: &Viewer, id: Uuid) -> AppResult<()> {
    viewer.require(Permission::DeletePlaces)?;
    let txn = state.db.begin().await?;
    let m = get(&txn, viewer, id).await?;
    location::Entity::delete_by_id(m.id).exec(&txn).await?;
    record(&txn, viewer, id, "deleted", Vec::new()).await?;
    state.commit(txn, Wakes::Events).await?;
    Ok(())
}

/// The organization's locations whose point lies within `radius_km` of `center`, nearest
/// first (at most [`MAX_LOCATIONS`]): candidates by latitude band (index
/// `idx_locations_org_latitude`) and longitude span, then the exact distance.
pub async fn nearby(
    state: &AppState,
    viewer: &Viewer,
    center: Point,
    radius_km: f64,
) -> AppResult<Vec<NearbyLocation>> {
    viewer.require(Permission::ReadPlaces)?;
    let b = circle_bbox(center, radius_km);
    let rows = scoped(viewer)
        .filter(location::Column::Latitude.between(b.south, b.north))
        .all(&state.db)
        .await?;
    let mut near: Vec<(f64, location::Model)> = rows
        .into_iter()
        .filter_map(|m| {
            let p = Point {
                lat: m.latitude,
                lng: m.longitude,
            };
            let d = distance_km(center, p);
            (b.contains(p) && d <= radius_km).then_some((d, m))
        })
        .collect();
    near.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.id.cmp(&b.1.id)));
    near.truncate(MAX_LOCATIONS as usize);
    Ok(near
        .into_iter()
        .map(|(d, m)| NearbyLocation {
            location: m.into(),
            distance_km: d,
        })
        .collect())
}

/// Leads within each location's radius, for the organization's newest [`MAX_LOCATIONS`]
/// locations: two statements whatever their number (the locations; the candidate leads of
/// all their boxes through the spatial index), exact distances in memory.
pub async fn stats(state: &AppState, viewer: &Viewer) -> AppResult<Vec<LocationStat>> {
    viewer.require(Permission::ReadPlaces)?;
    viewer.require(Permission::ReadLeads)?;
    let locations = scoped(viewer)
        .order_by_desc(location::Column::Id)
        .limit(MAX_LOCATIONS)
        .all(&state.db)
        .await?;
    let areas: Vec<(Point, f64)> = locations
        .iter()
        .map(|m| {
            let p = Point {
                lat: m.latitude,
                lng: m.longitude,
            };
            (p, m.radius_km)
        })
        .collect();
    let counts = spatial::count_within(state, viewer, &areas).await?;
    Ok(locations
        .into_iter()
        .zip(counts)
        .map(|(m, leads)| LocationStat {
            location: m.into(),
            leads,
        })
        .collect())
}
