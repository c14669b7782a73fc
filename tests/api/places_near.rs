//! `leadsNear` against a brute-force sort: a seeded fixture of leads around the antimeridian
//! and both poles (with several leads on one point, so distances tie), paged forwards with
//! `first/after` and backwards with `last/before` at several page sizes. Every walk must give
//! exactly the leads within the radius, in (great-circle distance, id) order, each once, with
//! the distances computed here another way (chord length on the unit sphere, not haversine).

use leadgraph::auth::Role;
use serde_json::{json, Value};
use uuid::Uuid;

use crate::{
    fixtures::{ok, org_named},
    helpers::TestApp,
    places::lead_at,
};

const EARTH_RADIUS_KM: f64 = 6371.0088;

const FORWARD: &str = "query($p: GeoPointInput!, $r: Float!, $n: Int, $after: String) {
    leadsNear(point: $p, radiusKm: $r, first: $n, after: $after) {
        totalCount pageInfo { hasNextPage endCursor }
        edges { distanceKm node { id } } } }";
const BACKWARD: &str = "query($p: GeoPointInput!, $r: Float!, $n: Int, $before: String) {
    leadsNear(point: $p, radiusKm: $r, last: $n, before: $before) {
        totalCount pageInfo { hasPreviousPage startCursor }
        edges { distanceKm node { id } } } }";

/// Great-circle distance from the chord between the two unit vectors.
fn chord_km(a: (f64, f64), b: (f64, f64)) -> f64 {
    let v = |(lat, lng): (f64, f64)| {
        let (la, lo) = (f64::to_radians(lat), f64::to_radians(lng));
        [la.cos() * lo.cos(), la.cos() * lo.sin(), la.sin()]
    };
    let (p, q) = (v(a), v(b));
    let chord = ((p[0] - q[0]).powi(2) + (p[1] - q[1]).powi(2) + (p[2] - q[2]).powi(2)).sqrt();
    2.0 * EARTH_RADIUS_KM * (chord / 2.0).min(1.0).asin()
}

/// A seeded xorshift in [0, 1).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> f64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// The fixture's points: scattered around (0°, 180°), (90°N) and (90°S), and five points with
/// three leads each.
fn fixture() -> Vec<(f64, f64)> {
    let mut rng = Rng(0x2545_f491_4f6c_dd1d);
    let mut points = Vec::new();
    let wrap = |l: f64| if l > 180.0 { l - 360.0 } else { l };
    for _ in 0..40 {
        points.push((rng.next() * 16.0 - 8.0, wrap(172.0 + rng.next() * 16.0)));
    }
    for _ in 0..30 {
        points.push((86.0 + rng.next() * 4.0, rng.next() * 360.0 - 180.0));
    }
    for _ in 0..20 {
        points.push((-90.0 + rng.next() * 3.0, rng.next() * 360.0 - 180.0));
    }
    for p in [
        (0.0, 180.0),
        (0.5, -179.5),
        (89.0, 45.0),
        (90.0, 0.0),
        (-89.5, -120.0),
    ] {
        points.extend([p, p, p]);
    }
    points
}

/// `(id, distance)` of every edge of a page.
fn page_edges(v: &Value) -> Vec<(String, f64)> {
    v["edges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            let id = e["node"]["id"].as_str().unwrap().to_string();
            (id, e["distanceKm"].as_f64().unwrap())
        })
        .collect()
}

/// Walks every page of `leadsNear` around `p`, forwards (`backward` false) or backwards.
async fn walk(
    app: &TestApp,
    token: &str,
    p: Value,
    r: f64,
    n: i32,
    backward: bool,
) -> Vec<(String, f64)> {
    let (q, cursor, more, next) = if backward {
        (BACKWARD, "before", "hasPreviousPage", "startCursor")
    } else {
        (FORWARD, "after", "hasNextPage", "endCursor")
    };
    let mut out: Vec<(String, f64)> = Vec::new();
    let mut at = Value::Null;
    for _ in 0..200 {
        let vars = json!({"p": p, "r": r, "n": n, cursor: at});
        let v = ok(app, token, q, vars).await["leadsNear"].clone();
        let mut page = page_edges(&v);
        assert!(page.len() <= n as usize, "{v}");
        if backward {
            page.extend(out);
            out = page;
        } else {
            out.extend(page);
        }
        if v["pageInfo"][more] != json!(true) {
            return out;
        }
        at = v["pageInfo"][next].clone();
    }
    panic!("more than 200 pages");
}

#[tokio::test]
async fn leads_near_pages_agree_with_a_brute_force_sort_across_the_antimeridian_and_poles() {
    let app = TestApp::spawn().await;
    let org = org_named(&app, "Near Mine").await;
    let other = org_named(&app, "Near Theirs").await;
    let token = app.token(org, Role::Viewer).await;
    let mut leads = Vec::new();
    for (i, &(lat, lng)) in fixture().iter().enumerate() {
        let id = lead_at(&app, org, &format!("L{i}"), lat, lng).await;
        leads.push((id, (lat, lng)));
    }
    // Another organization's leads on the same points are never counted.
    for &(lat, lng) in fixture().iter().step_by(4) {
        lead_at(&app, other, "X", lat, lng).await;
    }
    let centers = [
        ((0.0, 180.0), 700.0),
        ((0.3, -179.8), 250.0),
        ((90.0, 0.0), 400.0),
        ((88.5, 100.0), 300.0),
        ((-89.5, -120.0), 260.0),
    ];
    for ((lat, lng), r) in centers {
        let mut want: Vec<(Uuid, f64)> = leads
            .iter()
            .map(|&(id, at)| (id, chord_km((lat, lng), at)))
            .filter(|&(_, d)| d <= r)
            .collect();
        // Distance, then id; distances within a micrometre of each other are one distance.
        want.sort_by(|a, b| {
            if (a.1 - b.1).abs() < 1e-9 {
                a.0.cmp(&b.0)
            } else {
                a.1.total_cmp(&b.1)
            }
        });
        assert!(
            want.len() >= 6,
            "({lat}, {lng}) {r} km: {} leads",
            want.len()
        );
        let want_ids: Vec<String> = want.iter().map(|(id, _)| id.to_string()).collect();
        let p = json!({"latitude": lat, "longitude": lng});
        for (n, backward) in [
            (1, false),
            (4, false),
            (7, false),
            (100, false),
            (3, true),
            (5, true),
        ] {
            let got = walk(&app, &token, p.clone(), r, n, backward).await;
            let ids: Vec<&String> = got.iter().map(|(id, _)| id).collect();
            assert_eq!(
                ids,
                want_ids.iter().collect::<Vec<_>>(),
                "({lat}, {lng}) {r} km, pages of {n}, backward {backward}"
            );
            for ((_, d), (_, w)) in got.iter().zip(&want) {
                assert!((d - w).abs() < 1e-6, "{d} km, brute force {w} km");
            }
        }
        let v = ok(&app, &token, FORWARD, json!({"p": p, "r": r, "n": 1})).await;
        assert_eq!(v["leadsNear"]["totalCount"], want.len(), "({lat}, {lng})");
    }
}

/// Autovacuum analyzes with `search_path = pg_catalog`: the spatial index's expression must
/// still evaluate there, or the automatic ANALYZE of `leads` fails whole (it did with
/// `ll_to_earth`, whose body names the `earth` type unqualified) and the leads' planner
/// statistics go stale.
#[tokio::test]
#[ignore = "postgres-only: needs TEST_POSTGRES_URL (earthdistance and autovacuum are PostgreSQL's)"]
async fn pg_only_the_leads_analyze_under_autovacuums_search_path() {
    use sea_orm::{ConnectionTrait, TransactionTrait};
    crate::helpers::require_postgres();
    let app = TestApp::spawn().await;
    let org = org_named(&app, "Analyzed").await;
    for i in 0..5 {
        lead_at(&app, org, &format!("P{i}"), 30.0 + f64::from(i), -97.0).await;
    }
    let txn = app.state.db.begin().await.unwrap();
    txn.execute_unprepared("SET LOCAL search_path = pg_catalog, pg_temp")
        .await
        .unwrap();
    let analyzed = txn.execute_unprepared("ANALYZE public.leads").await;
    txn.rollback().await.unwrap();
    assert!(analyzed.is_ok(), "{analyzed:?}");
}
