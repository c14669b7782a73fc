//! Tests of the SSRF guard.
#![allow(clippy::unwrap_used, clippy::expect_used)]
use super::*;
use reqwest::dns::{Name, Resolve};

pub(super) fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

fn assert_forbidden(addrs: &[&str]) {
    for a in addrs {
        assert!(is_forbidden_ip(ip(a)), "{a} should be forbidden");
    }
}

fn assert_allowed(addrs: &[&str]) {
    for a in addrs {
        assert!(!is_forbidden_ip(ip(a)), "{a} should be allowed");
    }
}

fn forbidden_url(raw: &str) -> IpAddr {
    match check_url(raw, false) {
        Err(OutboundError::ForbiddenAddress { addr, .. }) => addr,
        other => panic!("{raw}: expected ForbiddenAddress, got {other:?}"),
    }
}

#[test]
fn loopback_and_unspecified_are_forbidden() {
    assert_forbidden(&[
        "127.0.0.1",
        "127.255.255.254",
        "0.0.0.0",
        "0.1.2.3",
        "::1",
        "::",
    ]);
}

#[test]
fn private_ranges_are_forbidden() {
    assert_forbidden(&[
        "10.0.0.1",
        "10.255.255.255",
        "172.16.0.1",
        "172.31.255.255",
        "192.168.0.1",
        "192.168.255.255",
    ]);
    assert_allowed(&["172.15.255.255", "172.32.0.0", "11.0.0.1", "192.169.0.1"]);
}

#[test]
fn link_local_and_metadata_are_forbidden() {
    assert_forbidden(&[
        "169.254.0.1",
        "169.254.169.254",
        "fe80::1",
        "febf::1",
        "fd00:ec2::254",
        "fc00::1",
        "fec0::1",
        "192.0.0.192",
    ]);
}

#[test]
fn cgnat_is_forbidden_with_exact_bounds() {
    assert_forbidden(&["100.64.0.0", "100.127.255.255"]);
    assert_allowed(&["100.63.255.255", "100.128.0.0"]);
}

#[test]
fn special_purpose_ipv4_ranges_are_forbidden() {
    assert_forbidden(&[
        "255.255.255.255", // broadcast
        "224.0.0.1",       // multicast
        "239.255.255.250",
        "240.0.0.1", // reserved
        "192.0.2.1", // documentation
        "198.51.100.7",
        "203.0.113.9",
        "198.18.0.1", // benchmarking
        "198.19.255.255",
        "192.0.0.8",
        "192.88.99.1",
    ]);
    assert_allowed(&["198.17.255.255", "198.20.0.0", "223.255.255.255"]);
}

#[test]
fn ipv6_special_ranges_are_forbidden() {
    assert_forbidden(&[
        "ff02::1",
        "2001:db8::1",
        "3fff::1",
        "100::1",
        "2001:2::1",
        "64:ff9b:1::1",
        "5f00::1",
        "4000::1", // outside 2000::/3
    ]);
}

#[test]
fn ipv6_forms_embedding_ipv4_are_decided_by_the_ipv4() {
    // mapped, translated, compatible, NAT64 and 6to4 forms of forbidden addresses
    assert_forbidden(&[
        "::ffff:127.0.0.1",
        "::ffff:7f00:1",
        "::ffff:169.254.169.254",
        "::ffff:10.0.0.1",
        "::ffff:0:127.0.0.1",
        "::127.0.0.1",
        "::10.1.2.3",
        "64:ff9b::127.0.0.1",
        "64:ff9b::a9fe:a9fe",
        "2002:7f00:1::",
        "2002:a9fe:a9fe::1",
        "2002:c0a8:101:1::1",
    ]);
    // ... and of public ones
    assert_allowed(&[
        "::ffff:1.1.1.1",
        "::1.1.1.1",
        "64:ff9b::8.8.8.8",
        "2002:101:101::1",
    ]);
}

#[test]
fn teredo_is_refused_as_a_whole() {
    assert_forbidden(&["2001:0:4136:e378:8000:63bf:3fff:fdd2", "2001::1"]);
}

#[test]
fn public_addresses_are_allowed() {
    assert_allowed(&[
        "1.1.1.1",
        "8.8.8.8",
        "93.184.216.34",
        "2606:4700::1111",
        "2a00:1450:4001:80e::200e",
    ]);
    for raw in [
        "http://1.1.1.1/",
        "https://[2606:4700::1111]/dns",
        "https://example.com/a?b=c",
    ] {
        assert!(check_url(raw, false).is_ok(), "{raw}");
    }
}

#[test]
fn ipv4_spellings_are_normalized_and_refused() {
    let loopback = ip("127.0.0.1");
    for raw in [
        "http://2130706433/",
        "http://0x7f.1/",
        "http://0177.0.0.1/",
        "http://0x7f000001/",
        "http://127.1/",
        "http://127.0.0.1./",
        "http://0177.0.0.01:8080/x",
        "HTTP://127.0.0.1/",
    ] {
        assert_eq!(forbidden_url(raw), loopback, "{raw}");
    }
    assert_eq!(forbidden_url("http://0/"), ip("0.0.0.0"));
    assert_eq!(forbidden_url("http://0xa9fea9fe/"), ip("169.254.169.254"));
    assert_eq!(
        forbidden_url("http://[::ffff:127.0.0.1]/"),
        ip("::ffff:7f00:1")
    );
    assert_eq!(
        forbidden_url("http://[fd00:ec2::254]/"),
        ip("fd00:ec2::254")
    );
    assert_eq!(
        forbidden_url("http://169.254.169.254/latest/meta-data"),
        ip("169.254.169.254")
    );
    // the normalized URL is what gets returned when private networks are allowed
    let url = check_url("http://0x7f.1:9/", true).unwrap();
    assert_eq!(url.host_str(), Some("127.0.0.1"));
}

#[test]
fn non_http_schemes_are_refused() {
    for raw in [
        "file:///etc/passwd",
        "ftp://example.com/",
        "gopher://example.com:70/_x",
        "data:text/plain,hi",
        "javascript:alert(1)",
        "ws://example.com/",
    ] {
        assert!(
            matches!(
                check_url(raw, true),
                Err(OutboundError::UnsupportedScheme(_))
            ),
            "{raw}"
        );
    }
}

#[test]
fn userinfo_is_refused() {
    for raw in [
        "http://user:pass@example.com/",
        "http://user@example.com/",
        "https://:secret@example.com/",
    ] {
        assert!(
            matches!(
                check_url(raw, true),
                Err(OutboundError::CredentialsNotAllowed)
            ),
            "{raw}"
        );
    }
}

#[test]
fn malformed_urls_are_invalid() {
    for raw in [
        "not a url",
        "http://",
        "/relative/path",
        "http://exa mple.com/",
        "",
    ] {
        assert!(
            matches!(check_url(raw, false), Err(OutboundError::InvalidUrl(_))),
            "{raw}"
        );
    }
}

#[test]
fn forbidden_message_names_host_not_address() {
    let err = OutboundError::ForbiddenAddress {
        host: "intranet.example".into(),
        addr: ip("10.1.2.3"),
    };
    let msg = err.to_string();
    assert!(msg.contains("intranet.example"));
    assert!(!msg.contains("10.1.2.3"));
}

#[test]
fn redirect_hops_are_rechecked() {
    let url = |s: &str| Url::parse(s).unwrap();
    assert!(check_redirect_hop(&url("https://example.com/next"), false, 1, 5).is_ok());
    assert!(check_redirect_hop(&url("https://example.com/next"), false, 5, 5).is_ok());
    assert!(matches!(
        check_redirect_hop(&url("https://example.com/next"), false, 6, 5),
        Err(OutboundError::TooManyRedirects)
    ));
    assert!(matches!(
        check_redirect_hop(&url("http://example.com/"), false, 1, 0),
        Err(OutboundError::TooManyRedirects)
    ));
    for target in [
        "http://169.254.169.254/latest/meta-data",
        "http://[fd00:ec2::254]/latest/meta-data",
        "http://127.0.0.1:8080/admin",
        "http://[::ffff:10.0.0.1]/",
        "http://2852039166/", // 169.254.169.254 in decimal
    ] {
        assert!(
            matches!(
                check_redirect_hop(&url(target), false, 1, 5),
                Err(OutboundError::ForbiddenAddress { .. })
            ),
            "{target}"
        );
        // allowed when private networks are allowed (fixture servers in tests)
        assert!(
            check_redirect_hop(&url(target), true, 1, 5).is_ok(),
            "{target}"
        );
    }
    assert!(matches!(
        check_redirect_hop(&url("file:///etc/passwd"), true, 1, 5),
        Err(OutboundError::UnsupportedScheme(_))
    ));
}

#[test]
fn resolved_addresses_are_filtered() {
    let sa = |s: &str| -> SocketAddr { s.parse().unwrap() };
    let mixed = vec![
        sa("127.0.0.1:0"),
        sa("1.1.1.1:0"),
        sa("[fd00::1]:0"),
        sa("[2606:4700::1111]:0"),
    ];
    assert_eq!(
        filter_resolved("h.example", mixed.clone(), false).unwrap(),
        vec![sa("1.1.1.1:0"), sa("[2606:4700::1111]:0")]
    );
    assert_eq!(
        filter_resolved("h.example", mixed.clone(), true).unwrap(),
        mixed
    );
    match filter_resolved("h.example", vec![sa("10.0.0.1:0"), sa("[::1]:0")], false) {
        Err(OutboundError::ForbiddenAddress { host, addr }) => {
            assert_eq!(host, "h.example");
            assert_eq!(addr, ip("10.0.0.1"));
        }
        other => panic!("expected ForbiddenAddress, got {other:?}"),
    }
    assert!(matches!(
        filter_resolved("h.example", Vec::new(), false),
        Err(OutboundError::Unresolvable { .. })
    ));
}

#[tokio::test]
async fn guarded_resolver_refuses_localhost() {
    let name: Name = "localhost".parse().unwrap();
    let err = GuardedResolver::default()
        .resolve(name)
        .await
        .err()
        .unwrap();
    let refusal = err.downcast_ref::<OutboundError>().unwrap();
    assert!(matches!(refusal, OutboundError::ForbiddenAddress { host, .. } if host == "localhost"));
}
