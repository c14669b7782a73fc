//! Spherical geometry, with no database: great-circle distances, the lat/lng boxes that hold a
//! circle, the 3-D box that holds a lat/lng box (PostgreSQL's `earth` cubes), and the geohash
//! grid that heatmaps and clusters count in.
//!
//! Longitudes wrap: a box whose `west` is greater than its `east` crosses the antimeridian, and
//! a circle that reaches past ±180° becomes such a box. A circle that reaches a pole covers every
//! longitude. Distances use the haversine formula on a sphere of the IUGG mean radius.

use std::f64::consts::FRAC_PI_2;

/// IUGG mean Earth radius, kilometres.
pub const EARTH_RADIUS_KM: f64 = 6371.0088;
/// Largest radius accepted: half the mean circumference (every point is within it).
pub const MAX_RADIUS_KM: f64 = 20_016.0;
/// Slack added to candidate boxes (degrees, unit-sphere units): rounding never loses a point;
/// the exact check after the index drops what the slack lets in.
const SLACK: f64 = 1e-7;

/// A point in degrees.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Point {
    /// Latitude, −90…90.
    pub lat: f64,
    /// Longitude, −180…180.
    pub lng: f64,
}

/// A lat/lng box in degrees; `west > east` means it crosses the antimeridian.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Bbox {
    /// Southern edge.
    pub south: f64,
    /// Northern edge.
    pub north: f64,
    /// Western edge.
    pub west: f64,
    /// Eastern edge.
    pub east: f64,
}

/// Great-circle distance in kilometres (haversine; exact across the antimeridian and at the
/// poles, where the longitude difference wraps or stops mattering by itself).
pub fn distance_km(a: Point, b: Point) -> f64 {
    let (p1, p2) = (a.lat.to_radians(), b.lat.to_radians());
    let dp = p2 - p1;
    let dl = (b.lng - a.lng).to_radians();
    let h = (dp / 2.0).sin().powi(2) + p1.cos() * p2.cos() * (dl / 2.0).sin().powi(2);
    2.0 * EARTH_RADIUS_KM * h.sqrt().min(1.0).asin()
}

impl Bbox {
    /// Every longitude between these latitudes.
    fn band(south: f64, north: f64) -> Bbox {
        Bbox {
            south: south.max(-90.0),
            north: north.min(90.0),
            west: -180.0,
            east: 180.0,
        }
    }

    /// Whether it crosses the antimeridian.
    pub fn wraps(&self) -> bool {
        self.west > self.east
    }

    /// Its longitude spans without wrapping: one, or two when it crosses the antimeridian.
    pub fn spans(&self) -> Vec<(f64, f64)> {
        if self.wraps() {
            vec![(self.west, 180.0), (-180.0, self.east)]
        } else {
            vec![(self.west, self.east)]
        }
    }

    /// Width in degrees of longitude.
    pub fn width(&self) -> f64 {
        if self.wraps() {
            360.0 - (self.west - self.east)
        } else {
            self.east - self.west
        }
    }

    /// Whether `lng` lies in its longitude span.
    fn has_lng(&self, lng: f64) -> bool {
        if self.wraps() {
            lng >= self.west || lng <= self.east
        } else {
            lng >= self.west && lng <= self.east
        }
    }

    /// Whether the point lies inside (edges included).
    pub fn contains(&self, p: Point) -> bool {
        p.lat >= self.south && p.lat <= self.north && self.has_lng(p.lng)
    }

    /// The axis-aligned box in 3-D (unit sphere, x towards 0°/0°, z towards the north pole)
    /// that holds every point of this lat/lng box: `(min, max)` corners, with slack.
    pub fn unit_cube(&self) -> ([f64; 3], [f64; 3]) {
        let (s, n) = (self.south.to_radians(), self.north.to_radians());
        let c_min = s.cos().min(n.cos());
        let c_max = if s <= 0.0 && n >= 0.0 {
            1.0
        } else {
            s.cos().max(n.cos())
        };
        let (w, e) = (self.west.to_radians(), self.east.to_radians());
        let mut cos_l = vec![w.cos(), e.cos()];
        let mut sin_l = vec![w.sin(), e.sin()];
        if self.has_lng(0.0) {
            cos_l.push(1.0);
        }
        if self.has_lng(180.0) || self.has_lng(-180.0) {
            cos_l.push(-1.0);
        }
        if self.has_lng(90.0) {
            sin_l.push(1.0);
        }
        if self.has_lng(-90.0) {
            sin_l.push(-1.0);
        }
        let range = |trig: &[f64]| {
            let products = trig.iter().flat_map(|t| [c_min * t, c_max * t]);
            products.fold((f64::MAX, f64::MIN), |(lo, hi), v| (lo.min(v), hi.max(v)))
        };
        let (x, y) = (range(&cos_l), range(&sin_l));
        let z = (s.sin(), n.sin());
        (
            [x.0 - SLACK, y.0 - SLACK, z.0 - SLACK],
            [x.1 + SLACK, y.1 + SLACK, z.1 + SLACK],
        )
    }
}

/// The lat/lng box that holds every point within `radius_km` of `center` (the bounding
/// coordinates of a spherical cap): crossing the antimeridian when the cap does, and every
/// longitude when the cap holds a pole.
pub fn circle_bbox(center: Point, radius_km: f64) -> Bbox {
    let d = radius_km / EARTH_RADIUS_KM;
    let lat = center.lat.to_radians();
    let (south, north) = (lat - d, lat + d);
    let degrees = f64::to_degrees;
    if north >= FRAC_PI_2 || south <= -FRAC_PI_2 {
        return Bbox::band(degrees(south) - SLACK, degrees(north) + SLACK);
    }
    let ratio = d.sin() / lat.cos();
    if ratio >= 1.0 {
        return Bbox::band(degrees(south) - SLACK, degrees(north) + SLACK);
    }
    let dl = degrees(ratio.asin()) + SLACK;
    if dl >= 180.0 {
        return Bbox::band(degrees(south) - SLACK, degrees(north) + SLACK);
    }
    let wrap = |l: f64| {
        if l < -180.0 {
            l + 360.0
        } else if l > 180.0 {
            l - 360.0
        } else {
            l
        }
    };
    Bbox {
        south: degrees(south) - SLACK,
        north: degrees(north) + SLACK,
        west: wrap(center.lng - dl),
        east: wrap(center.lng + dl),
    }
}

/// Geohash cells of one precision (1–9 characters): an equirectangular grid aligned on
/// −180°/−90°, so a cell never depends on the viewport and never crosses the antimeridian.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Grid {
    /// Characters of the cells' geohashes.
    pub precision: u8,
}

const BASE32: &[u8; 32] = b"0123456789bcdefghjkmnpqrstuvwxyz";

impl Grid {
    /// Finest precision served.
    pub const MAX: u8 = 9;

    fn lng_bits(self) -> u32 {
        (5 * u32::from(self.precision)).div_ceil(2)
    }

    fn lat_bits(self) -> u32 {
        5 * u32::from(self.precision) / 2
    }

    /// Cell width, degrees of longitude.
    pub fn cell_width(self) -> f64 {
        360.0 / f64::from(1u32 << self.lng_bits())
    }

    /// Cell height, degrees of latitude.
    pub fn cell_height(self) -> f64 {
        180.0 / f64::from(1u32 << self.lat_bits())
    }

    /// Largest column index.
    pub fn max_x(self) -> i64 {
        (1i64 << self.lng_bits()) - 1
    }

    /// Largest row index.
    pub fn max_y(self) -> i64 {
        (1i64 << self.lat_bits()) - 1
    }

    /// The grid for map zoom `zoom` (Web-Mercator tiles of 256 px) whose cells are at most
    /// `1/per_tile` of a tile wide, coarsened until `bbox` spans at most `max_cells` cells:
    /// the same zoom and viewport size always give the same grid, so panning keeps cells.
    pub fn for_view(zoom: u8, per_tile: f64, bbox: &Bbox, max_cells: f64) -> Grid {
        let target = 360.0 / 2f64.powi(i32::from(zoom)) / per_tile;
        let mut grid = (1..=Self::MAX)
            .map(|precision| Grid { precision })
            .find(|g| g.cell_width() <= target)
            .unwrap_or(Grid {
                precision: Self::MAX,
            });
        while grid.precision > 1 && grid.cells_over(bbox) > max_cells {
            grid.precision -= 1;
        }
        grid
    }

    /// How many cells `bbox` touches, at most.
    fn cells_over(self, bbox: &Bbox) -> f64 {
        let cols = bbox.width() / self.cell_width() + 2.0;
        let rows = (bbox.north - bbox.south) / self.cell_height() + 2.0;
        cols * rows
    }

    /// The geohash of cell (`x`, `y`): bits interleaved from longitude first, base-32.
    pub fn geohash(self, x: i64, y: i64) -> String {
        let (lng_bits, lat_bits) = (self.lng_bits(), self.lat_bits());
        let (mut lb, mut tb) = (lng_bits, lat_bits);
        let mut out = String::with_capacity(usize::from(self.precision));
        let mut acc = 0usize;
        for i in 0..(lng_bits + lat_bits) {
            let bit = if i % 2 == 0 {
                lb -= 1;
                (x >> lb) & 1
            } else {
                tb -= 1;
                (y >> tb) & 1
            };
            acc = (acc << 1) | usize::from(bit == 1);
            if i % 5 == 4 {
                out.push(char::from(BASE32[acc]));
                acc = 0;
            }
        }
        out
    }

    /// The bounds of cell (`x`, `y`).
    pub fn cell(self, x: i64, y: i64) -> Bbox {
        let (w, h) = (self.cell_width(), self.cell_height());
        Bbox {
            south: -90.0 + y as f64 * h,
            north: -90.0 + (y + 1) as f64 * h,
            west: -180.0 + x as f64 * w,
            east: -180.0 + (x + 1) as f64 * w,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(lat: f64, lng: f64) -> Point {
        Point { lat, lng }
    }

    /// One degree of arc on the mean sphere: 2πR / 360.
    const DEGREE_KM: f64 = 111.195_080_233_532_9;

    #[test]
    fn distances_across_the_antimeridian_and_over_a_pole() {
        assert!((distance_km(p(0.0, 179.5), p(0.0, -179.5)) - DEGREE_KM).abs() < 1e-6);
        assert!((distance_km(p(89.5, 0.0), p(89.5, 180.0)) - DEGREE_KM).abs() < 1e-6);
        assert!((distance_km(p(10.0, 20.0), p(12.0, 20.0)) - 2.0 * DEGREE_KM).abs() < 1e-6);
        assert!(distance_km(p(90.0, 10.0), p(90.0, -170.0)) < 1e-9);
        let antipode = distance_km(p(0.0, 0.0), p(0.0, 180.0));
        assert!((antipode - 180.0 * DEGREE_KM).abs() < 1e-6);
    }

    #[test]
    fn a_circle_over_the_antimeridian_wraps_and_one_over_a_pole_is_a_band() {
        let b = circle_bbox(p(0.0, 179.9), 50.0);
        assert!(b.wraps(), "{b:?}");
        assert!(b.contains(p(0.0, -179.9)) && b.contains(p(0.3, 179.9)));
        assert!(!b.contains(p(0.0, 170.0)));
        let polar = circle_bbox(p(89.5, 0.0), 120.0);
        assert_eq!((polar.west, polar.east, polar.north), (-180.0, 180.0, 90.0));
        assert!(polar.contains(p(89.5, 180.0)));
    }

    #[test]
    fn every_point_of_a_box_lies_in_its_cube() {
        let boxes = [
            Bbox {
                south: -10.0,
                north: 20.0,
                west: 170.0,
                east: -170.0,
            },
            Bbox {
                south: 80.0,
                north: 90.0,
                west: -180.0,
                east: 180.0,
            },
            Bbox {
                south: 30.0,
                north: 31.0,
                west: -98.0,
                east: -97.0,
            },
        ];
        for b in boxes {
            let (lo, hi) = b.unit_cube();
            for i in 0..=20 {
                for j in 0..=20 {
                    let lat = b.south + (b.north - b.south) * f64::from(i) / 20.0;
                    let lng = b.west + b.width() * f64::from(j) / 20.0;
                    let lng = if lng > 180.0 { lng - 360.0 } else { lng };
                    let (la, lo_) = (lat.to_radians(), lng.to_radians());
                    let v = [la.cos() * lo_.cos(), la.cos() * lo_.sin(), la.sin()];
                    let inside = v.iter().zip(lo.iter().zip(hi.iter()));
                    for (c, (l, h)) in inside {
                        assert!(c >= l && c <= h, "{b:?} {lat} {lng}");
                    }
                }
            }
        }
    }

    #[test]
    fn geohashes_match_the_reference_encoder() {
        // Reference values from the geohash definition: (57.64911, 10.40744) is "u4pruydqq".
        let g = Grid { precision: 9 };
        let x = ((10.40744 + 180.0) / g.cell_width()).floor() as i64;
        let y = ((57.64911 + 90.0) / g.cell_height()).floor() as i64;
        assert_eq!(g.geohash(x, y), "u4pruydqq");
        let g5 = Grid { precision: 5 };
        let x = ((10.40744 + 180.0) / g5.cell_width()).floor() as i64;
        let y = ((57.64911 + 90.0) / g5.cell_height()).floor() as i64;
        assert_eq!(g5.geohash(x, y), "u4pru");
        assert!(g5.cell(x, y).contains(p(57.64911, 10.40744)));
    }

    #[test]
    fn the_grid_depends_on_zoom_and_viewport_size_only() {
        let view = |w: f64| Bbox {
            south: 10.0,
            north: 20.0,
            west: w,
            east: w + 10.0,
        };
        let a = Grid::for_view(6, 4.0, &view(0.0), 4096.0);
        let b = Grid::for_view(6, 4.0, &view(3.3), 4096.0);
        assert_eq!(a, b);
        assert!(Grid::for_view(12, 4.0, &view(0.0), 4096.0).precision < Grid::MAX);
        assert!(Grid::for_view(0, 4.0, &view(0.0), 4096.0).precision == 1);
    }
}
