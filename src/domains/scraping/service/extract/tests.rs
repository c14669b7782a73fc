//! Extraction unit tests.

#![allow(clippy::unwrap_used)]
use super::*;

fn base() -> Url {
    Url::parse("https://acme.example/contact").unwrap()
}

#[test]
fn finds_emails_plain_mailto_and_obfuscated() {
    let html = r#"<html><head><title>Contact | Acme Inc</title>
        <script>var x = "hidden@script.example";</script></head><body>
        <p>Write to Jane.Doe@Acme.example or sales [at] acme [dot] example.</p>
        <p>Also bob (at) acme (dot) example, and carol{at}acme{dot}example</p>
        <a href="mailto:Ops@acme.example?subject=Hi">mail</a>
        <a href="mailto:a%40b.example,c@d.example">two</a>
        <img src="logo@2x.png"> logo@2x.png
        </body></html>"#;
    let d = extract(html, &base(), None);
    assert_eq!(
        d.emails,
        [
            "ops@acme.example",
            "a@b.example",
            "c@d.example",
            "jane.doe@acme.example",
            "sales@acme.example",
            "bob@acme.example",
            "carol@acme.example",
        ]
    );
    assert_eq!(
        d.company,
        Some(Company {
            name: "Acme Inc".into(),
            signal: CompanySignal::Title
        })
    );
}

#[test]
fn finds_phones_in_links_and_text_as_e164() {
    let html = r#"<body><a href="tel:+1-415-555-2671">call</a>
        <p>Berlin office: 030 901820. Fax +44 20 7946 0958.</p>
        <p>Order 2024-01-15, zip 94107, id 12345678901234567890.</p></body>"#;
    let d = extract(html, &base(), Some("DE"));
    assert_eq!(d.phones, ["+14155552671", "+4930901820", "+442079460958"]);
    // Without a region only international numbers parse.
    let d = extract(html, &base(), None);
    assert_eq!(d.phones, ["+14155552671", "+442079460958"]);
}

#[test]
fn company_address_and_social_from_json_ld_and_meta() {
    let html = r#"<head><title>Home</title>
        <script type="application/ld+json">{"@context":"https://schema.org","@graph":[
          {"@type":"WebSite","name":"Not me"},
          {"@type":"LocalBusiness","name":"Acme Robotics","telephone":"+1 415 555 2671",
           "email":"mailto:hello@acme.example",
           "address":{"@type":"PostalAddress","streetAddress":"1 Main St","addressLocality":"San Francisco","addressRegion":"CA","postalCode":"94107","addressCountry":"us"},
           "sameAs":["https://www.linkedin.com/company/acme","https://twitter.com/acme"]}]}</script>
        </head><body><a href="https://facebook.com/sharer/sharer.php?u=x">share</a>
        <a href="https://github.com/acme">gh</a><a href="/about#team">About</a>
        <a href="javascript:void(0)">js</a><a href="ftp://x.example/">ftp</a></body>"#;
    let d = extract(html, &base(), None);
    assert_eq!(d.company.as_ref().unwrap().name, "Acme Robotics");
    assert_eq!(d.company.as_ref().unwrap().signal, CompanySignal::JsonLd);
    assert_eq!(d.phones, ["+14155552671"]);
    assert_eq!(d.emails, ["hello@acme.example"]);
    let a = d.address.unwrap();
    assert_eq!(a.city.as_deref(), Some("San Francisco"));
    assert_eq!(a.country.as_deref(), Some("US"));
    assert_eq!(
        d.social.keys().collect::<Vec<_>>(),
        ["github", "linkedin", "twitter"]
    );
    let links: Vec<&str> = d.links.iter().map(Url::as_str).collect();
    assert_eq!(
        links,
        [
            "https://facebook.com/sharer/sharer.php?u=x",
            "https://github.com/acme",
            "https://acme.example/about#team"
        ]
    );
    let og =
        r#"<head><meta property="og:site_name" content=" Acme  Corp "><title>x</title></head>"#;
    assert_eq!(
        extract(og, &base(), None).company.unwrap().name,
        "Acme Corp"
    );
}

#[test]
fn email_checks() {
    assert_eq!(
        check_email("jane@acme.example"),
        EmailVerdict::Valid { role: false }
    );
    assert_eq!(
        check_email("info@acme.example"),
        EmailVerdict::Valid { role: true }
    );
    assert_eq!(
        check_email("sales+eu@acme.example"),
        EmailVerdict::Valid { role: true }
    );
    assert!(matches!(
        check_email("x@mailinator.com"),
        EmailVerdict::Rejected(_)
    ));
    assert!(matches!(
        check_email("noreply@acme.example"),
        EmailVerdict::Rejected(_)
    ));
    assert!(matches!(
        check_email("a@localhost"),
        EmailVerdict::Rejected(_)
    ));
    assert!(matches!(
        check_email("img@2x.png"),
        EmailVerdict::Rejected(_)
    ));
}

#[test]
fn constant_patterns_parse() {
    assert!(LINKS.is_some() && TITLE.is_some() && OG_SITE.is_some() && JSON_LD.is_some());
    assert!(OBF_AT.is_some() && OBF_DOT.is_some() && PHONE.is_some() && DATE.is_some());
}

#[test]
fn titles() {
    assert_eq!(
        title_company("Contact | Acme Inc").as_deref(),
        Some("Acme Inc")
    );
    assert_eq!(title_company("About – Acme").as_deref(), Some("Acme"));
    assert_eq!(title_company("Acme").as_deref(), Some("Acme"));
    assert_eq!(title_company("   ").as_deref(), None);
}
