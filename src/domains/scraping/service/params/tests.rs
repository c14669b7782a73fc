//! Unit tests of the `createScrapeJob` input validation.
#![allow(clippy::unwrap_used)]
use super::*;
use crate::{
    domains::scraping::types::{CraigslistScrapeInput, SocialScrapeInput},
    error::AppError,
};

fn cfg() -> Config {
    Config::from_lookup(|_| None).unwrap()
}

fn fields(e: AppError) -> Vec<String> {
    match e {
        AppError::BadUserInput { fields, .. } => fields.into_iter().map(|f| f.field).collect(),
        _ => panic!("not BAD_USER_INPUT"),
    }
}

#[test]
fn website_defaults_and_bounds() {
    let input = CreateScrapeJobInput {
        website: Some(WebsiteScrapeInput {
            urls: vec!["https://acme.example/".into()],
            ..Default::default()
        }),
        ..CreateScrapeJobInput::of(ScrapeSource::Website, None)
    };
    let (p, name) = validate(&input, &cfg()).unwrap();
    assert_eq!(name, "acme.example");
    let c = p.crawl();
    assert_eq!((c.max_depth, c.max_pages, c.concurrency), (2, 500, 4));
    assert_eq!(c.requests_per_second, 5.0);
    // Round trip through storage.
    let back: Params = serde_json::from_value(serde_json::to_value(&p).unwrap()).unwrap();
    assert_eq!(back, p);

    let bad = CreateScrapeJobInput {
        website: Some(WebsiteScrapeInput {
            urls: vec!["ftp://x.example".into(), "http://127.0.0.1/".into()],
            max_depth: Some(6),
            max_pages: Some(0),
            requests_per_second: Some(51.0),
            ..Default::default()
        }),
        search: Some(SearchScrapeInput::default()),
        ..input
    };
    assert_eq!(
        fields(validate(&bad, &cfg()).unwrap_err()),
        [
            "input.search",
            "input.website.urls[0]",
            "input.website.urls[1]",
            "input.website.maxDepth",
            "input.website.maxPages",
            "input.website.requestsPerSecond"
        ]
    );
}

fn craigslist_input() -> CreateScrapeJobInput {
    CreateScrapeJobInput::of(ScrapeSource::Craigslist, None)
}

#[test]
fn craigslist_params() {
    let input = craigslist_input();
    assert_eq!(
        fields(validate(&input, &cfg()).unwrap_err()),
        ["input.craigslist"]
    );
    let cl = CreateScrapeJobInput {
        craigslist: Some(CraigslistScrapeInput {
            city: "SFBay".into(),
            category: "bbb".into(),
            query: Some(" plumber ".into()),
            ..Default::default()
        }),
        ..input.clone()
    };
    let (p, name) = validate(&cl, &cfg()).unwrap();
    assert_eq!(name, "Craigslist sfbay/bbb: plumber");
    assert_eq!(p.crawl().max_depth, 0);
    assert_eq!(p.crawl().max_pages, 100);
    assert_eq!(p.crawl().default_country.as_deref(), Some("US"));
    let back: Params = serde_json::from_value(serde_json::to_value(&p).unwrap()).unwrap();
    assert_eq!(back, p);
    let bad = CreateScrapeJobInput {
        craigslist: Some(CraigslistScrapeInput {
            city: "sf.bay/x".into(),
            category: "b".into(),
            max_listings: Some(501),
            ..Default::default()
        }),
        ..input.clone()
    };
    assert_eq!(
        fields(validate(&bad, &cfg()).unwrap_err()),
        [
            "input.craigslist.city",
            "input.craigslist.category",
            "input.craigslist.maxListings"
        ]
    );
}

#[test]
fn unconfigured_keys_refuse_the_source() {
    let input = craigslist_input();
    let social = CreateScrapeJobInput {
        source: ScrapeSource::Social,
        social: Some(SocialScrapeInput {
            job_title: Some("CTO".into()),
            country: "us".into(),
            ..Default::default()
        }),
        ..input.clone()
    };
    // No key anywhere: refused on the source.
    assert_eq!(
        fields(validate(&social, &cfg()).unwrap_err()),
        ["input.source"]
    );
    let mut keys = Keys::from_config(&cfg());
    keys.social = Some((
        "org-key-123".into(),
        super::super::sources::settings::KeyOrigin::Organization,
    ));
    let (p, _) = validate_with(&social, &cfg(), &keys).unwrap();
    assert!(matches!(&p, Params::Social { social, .. } if social.country == "US"));

    let input = CreateScrapeJobInput {
        source: ScrapeSource::Search,
        search: Some(SearchScrapeInput {
            query: "dentists".into(),
            ..Default::default()
        }),
        ..input
    };
    assert_eq!(
        fields(validate(&input, &cfg()).unwrap_err()),
        ["input.source"]
    );
    let input = CreateScrapeJobInput {
        search: None,
        ..input
    };
    assert_eq!(
        fields(validate(&input, &cfg()).unwrap_err()),
        ["input.search"]
    );
}
