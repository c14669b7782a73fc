//! GOOGLE_MAPS: Places API (New). Text Search (`POST /v1/places:searchText` with the
//! `X-Goog-Api-Key` and `X-Goog-FieldMask` headers; JSON `places[]` with `id`,
//! `displayName.text`, `formattedAddress`, `websiteUri`, `nationalPhoneNumber`,
//! `internationalPhoneNumber`, `location`, `addressComponents`, and `nextPageToken`), up to 20
//! places a page. A place that comes back with neither phone nor website is asked for again with
//! Place Details (`GET /v1/places/{id}`). Every place becomes a contact (company, phone,
//! website, coordinates, city/region/country); with `crawlWebsites` each website's first page is
//! crawled for emails too.

use std::collections::{BTreeMap, HashSet};

use async_trait::async_trait;
use serde_json::{json, Value};
use url::Url;

use super::{
    api::{call_json, ApiCall},
    settings::Keys,
    ScrapeSource, Seed, SeedEnv, SourceError,
};
use crate::domains::{
    leads::types::Location,
    scraping::service::{crawler::canonical, params::MapsParams, sink::Contact},
};

/// Fields asked of Text Search.
pub const SEARCH_FIELDS: &str = "places.id,places.displayName,places.formattedAddress,places.websiteUri,places.nationalPhoneNumber,places.internationalPhoneNumber,places.location,places.addressComponents,nextPageToken";
/// Fields asked of Place Details.
pub const DETAILS_FIELDS: &str =
    "id,displayName,websiteUri,nationalPhoneNumber,internationalPhoneNumber";

/// The GOOGLE_MAPS source.
pub struct GooglePlaces(pub MapsParams);

fn text(v: &Value) -> Option<String> {
    v.as_str()
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
}

/// The contact of one place (`None` without a name).
pub fn contact(place: &Value) -> Option<Contact> {
    let id = text(&place["id"])?;
    let name = text(&place["displayName"]["text"])?;
    let mut loc = Location {
        latitude: place["location"]["latitude"].as_f64(),
        longitude: place["location"]["longitude"].as_f64(),
        ..Default::default()
    };
    for comp in place["addressComponents"].as_array().into_iter().flatten() {
        let types: Vec<&str> = comp["types"]
            .as_array()
            .map(|t| t.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default();
        if types.contains(&"locality") {
            loc.city = text(&comp["longText"]);
        } else if types.contains(&"administrative_area_level_1") {
            loc.region = text(&comp["shortText"]).or_else(|| text(&comp["longText"]));
        } else if types.contains(&"country") {
            loc.country = text(&comp["shortText"]).filter(|c| c.len() == 2);
        }
    }
    let mut custom = BTreeMap::new();
    custom.insert("googlePlaceId".to_string(), json!(id));
    if let Some(a) = text(&place["formattedAddress"]) {
        custom.insert("address".to_string(), json!(a));
    }
    Some(Contact {
        email: None,
        phone: text(&place["internationalPhoneNumber"])
            .or_else(|| text(&place["nationalPhoneNumber"])),
        company: Some(name),
        website: text(&place["websiteUri"]),
        location: (loc != Location::default()).then_some(loc),
        tags: Vec::new(),
        custom,
        url: format!("https://www.google.com/maps/place/?q=place_id:{id}"),
        phone_e164: false,
    })
}

impl GooglePlaces {
    /// Text Search, page by page, up to `max_results` places.
    async fn search(&self, env: &SeedEnv<'_>, key: &str) -> Result<Vec<Value>, SourceError> {
        let base = &env.state.config.google_places_base_url;
        let max = usize::try_from(self.0.max_results).unwrap_or(0);
        let mut places: Vec<Value> = Vec::new();
        let mut token: Option<String> = None;
        loop {
            let mut body = json!({
                "textQuery": self.0.query,
                "pageSize": (max - places.len()).min(20),
            });
            if let Some(l) = self.0.location {
                body["locationBias"] = json!({"circle": {
                    "center": {"latitude": l.latitude, "longitude": l.longitude},
                    "radius": self.0.radius,
                }});
            }
            if let Some(t) = &token {
                body["pageToken"] = json!(t);
            }
            let url = format!("{base}/v1/places:searchText");
            let v = call_json(env.state, places_call(url, key, SEARCH_FIELDS, Some(body))).await?;
            let page = v["places"].as_array().cloned().unwrap_or_default();
            let empty = page.is_empty();
            places.extend(page);
            token = text(&v["nextPageToken"]);
            if empty || token.is_none() || places.len() >= max {
                break;
            }
        }
        places.truncate(max);
        Ok(places)
    }

    /// Fills a place without website or phone from Place Details.
    async fn complete(
        &self,
        env: &SeedEnv<'_>,
        key: &str,
        place: &mut Value,
    ) -> Result<(), SourceError> {
        let lacks_contact = place["websiteUri"].is_null()
            && place["internationalPhoneNumber"].is_null()
            && place["nationalPhoneNumber"].is_null();
        let Some(id) = text(&place["id"]).filter(|_| lacks_contact) else {
            return Ok(());
        };
        let base = &env.state.config.google_places_base_url;
        let url = format!("{base}/v1/places/{}", urlencode(&id));
        let details = call_json(env.state, places_call(url, key, DETAILS_FIELDS, None)).await?;
        for f in [
            "websiteUri",
            "internationalPhoneNumber",
            "nationalPhoneNumber",
        ] {
            if !details[f].is_null() {
                place[f] = details[f].clone();
            }
        }
        Ok(())
    }
}

/// A Places API call (POST with a body, else GET) asking for `fields`.
fn places_call(url: String, key: &str, fields: &str, body: Option<Value>) -> ApiCall<'static> {
    ApiCall {
        provider: "places",
        method: if body.is_some() {
            reqwest::Method::POST
        } else {
            reqwest::Method::GET
        },
        url,
        headers: vec![
            ("X-Goog-Api-Key", key.to_string()),
            ("X-Goog-FieldMask", fields.into()),
        ],
        secret_headers: &["X-Goog-Api-Key"],
        body,
        limit: None,
    }
}

#[async_trait]
impl ScrapeSource for GooglePlaces {
    async fn seed(&self, env: &SeedEnv<'_>) -> Result<Seed, SourceError> {
        let keys = Keys::load_detached(env.state, self.0.org_id)
            .await
            .map_err(SourceError::Retryable)?;
        let (key, _) = keys.places.ok_or_else(|| {
            SourceError::Permanent("no Google Places API key is configured".into())
        })?;
        let places = self.search(env, &key).await?;
        let mut seed = Seed::default();
        let mut sites = HashSet::new();
        for mut place in places {
            self.complete(env, &key, &mut place).await?;
            let Some(c) = contact(&place) else { continue };
            if self.0.crawl_websites {
                if let Some(u) = c
                    .website
                    .as_deref()
                    .and_then(|w| Url::parse(w).ok())
                    .and_then(|u| canonical(&u))
                {
                    if sites.insert(u.to_string()) {
                        seed.pages.push((u, 0));
                    }
                }
            }
            seed.contacts.push(c);
        }
        Ok(seed)
    }
}

/// Percent-encodes a path segment.
fn urlencode(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}
