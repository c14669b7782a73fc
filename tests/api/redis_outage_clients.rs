//! The request path's Redis clients (the rate limiter and the response cache) while Redis is
//! down: killed (the kernel refuses new connections) and black-holed (`FaultProxy`: no FIN, no
//! RST, bytes vanish). A request must not wait for Redis: it completes quickly, the rate limit
//! falls back to the in-process limiter (still enforced, per instance), the cache reads as a
//! miss; and once Redis answers again both use it again within seconds, without a restart.

use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::{
    fault_proxy::FaultProxy,
    helpers::{code, require_postgres, Options, TestApp},
    realtime_outage::PrivateRedis,
};

const READ: &str = "{ leads(first: 1) { edges { node { id } } } }";
/// A request during an outage must finish well under a second; this bound leaves room for a
/// loaded test machine and still fails the old ~9 s (killed) or 0.5 s-per-command stalls.
const FAST: Duration = Duration::from_millis(1000);

async fn app_on(redis_url: &str) -> (TestApp, String) {
    require_postgres();
    let app = TestApp::spawn_with(Options::with_env(&[
        ("REDIS_URL", redis_url),
        // Under 200 a minute: no lease, every request asks Redis.
        ("RATE_LIMIT_VIEWER_PER_MINUTE", "30"),
    ]))
    .await;
    let (token, _) = crate::fixtures::owner_token(&app).await;
    (app, token)
}

async fn timed(app: &TestApp, token: &str) -> (Duration, Value) {
    let t = Instant::now();
    let v = app.gql(Some(token), READ, json!({})).await;
    (t.elapsed(), v)
}

async fn redis_conn(url: &str) -> redis::aio::MultiplexedConnection {
    redis::Client::open(url)
        .unwrap()
        .get_multiplexed_async_connection()
        .await
        .unwrap()
}

async fn limiter_keys(url: &str) -> Vec<String> {
    let mut c = redis_conn(url).await;
    redis::cmd("KEYS")
        .arg("lg:rl:*")
        .query_async(&mut c)
        .await
        .unwrap()
}

/// Requests and cache calls during the outage: each fast, none failing for Redis's sake.
async fn during_outage(app: &TestApp, token: &str) {
    for i in 0..6 {
        let (took, v) = timed(app, token).await;
        assert!(
            took < FAST,
            "request {i} during the Redis outage took {took:?}"
        );
        assert!(
            v["errors"].is_null(),
            "request {i} during the Redis outage: {v}"
        );
        let t = Instant::now();
        assert_eq!(app.state.cache.get("outage-probe").await, None);
        app.state
            .cache
            .put("outage-probe", "x", Duration::from_secs(30))
            .await;
        assert!(t.elapsed() < FAST, "cache calls took {:?}", t.elapsed());
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// After Redis is back: within a few seconds a request spends its budget in Redis again and the
/// cache writes to it again.
async fn recovers(app: &TestApp, token: &str, redis_url: &str) {
    let back = Instant::now();
    let mut direct = redis_conn(redis_url).await;
    let _: () = redis::cmd("FLUSHALL")
        .query_async(&mut direct)
        .await
        .unwrap();
    loop {
        let (took, _) = timed(app, token).await;
        assert!(took < FAST, "a request while Redis came back took {took:?}");
        app.state
            .cache
            .put("recovery-probe", "y", Duration::from_secs(30))
            .await;
        let cached: Option<String> = redis::cmd("GET")
            .arg("lg:cache:recovery-probe")
            .query_async(&mut direct)
            .await
            .unwrap();
        if !limiter_keys(redis_url).await.is_empty() && cached.as_deref() == Some("y") {
            break;
        }
        assert!(
            back.elapsed() < Duration::from_secs(8),
            "the limiter or the cache did not use Redis again within 8 s"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_eq!(
        app.state.cache.get("recovery-probe").await.as_deref(),
        Some("y")
    );
}

#[tokio::test]
#[ignore = "postgres-only: needs TEST_POSTGRES_URL and redis-server"]
async fn pg_only_a_killed_redis_slows_no_request_and_the_limit_holds_in_process() {
    let mut redis = PrivateRedis::start();
    let (app, token) = app_on(&redis.url()).await;
    let (_, v) = timed(&app, &token).await;
    assert!(v["errors"].is_null(), "{v}");
    assert!(
        !limiter_keys(&redis.url()).await.is_empty(),
        "the limiter uses Redis"
    );

    redis.kill();
    during_outage(&app, &token).await;
    // Fail open to the in-process limiter, not to no limit: the viewer's 30 a minute still hold.
    let mut limited = false;
    for _ in 0..40 {
        let (took, v) = timed(&app, &token).await;
        assert!(took < FAST, "a request during the outage took {took:?}");
        if code(&v) == Some("RATE_LIMITED") {
            limited = true;
            break;
        }
    }
    assert!(limited, "no limit was enforced while Redis was down");

    redis.up();
    recovers(&app, &token, &redis.url()).await;
}

#[tokio::test]
#[ignore = "postgres-only: needs TEST_POSTGRES_URL and redis-server"]
async fn pg_only_a_blackholed_redis_slows_no_request_and_its_dead_connection_is_replaced() {
    let redis = PrivateRedis::start();
    let proxy = FaultProxy::start(redis.port).await;
    let (app, token) = app_on(&proxy.url()).await;
    let (_, v) = timed(&app, &token).await;
    assert!(v["errors"].is_null(), "{v}");
    assert!(
        !limiter_keys(&redis.url()).await.is_empty(),
        "the limiter uses Redis"
    );

    proxy.blackhole();
    during_outage(&app, &token).await;

    // The black-holed connections stay dead: only new ones get through.
    proxy.heal();
    recovers(&app, &token, &redis.url()).await;
}
