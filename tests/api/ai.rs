//! AI: the local provider on a fixture set (exact results), the OpenAI-compatible provider
//! against a wiremock fake speaking the chat-completions wire format (strategy, repair, 429
//! backoff, fallback model, cache hits, budget), usage, authentication, roles, isolation and
//! validation.

use std::{collections::HashMap, time::Instant};

use leadgraph::auth::Role;
use serde_json::{json, Value};
use uuid::Uuid;
use wiremock::{
    matchers::{body_partial_json, header, method, path},
    Mock, MockServer, ResponseTemplate,
};

use crate::{
    fixtures::{data, owner_token},
    helpers::{code, Options, TestApp},
};

const SENTIMENT: &str =
    "mutation($t: String!) { analyzeSentiment(text: $t) { sentiment score provider model cached } }";
const CLASSIFY: &str = "mutation($t: String!, $l: [String!]!) { classifyText(text: $t, labels: $l) { label confidence scores { label score } provider model cached } }";
const SUMMARIZE: &str = "mutation($t: String!, $n: Int) { summarizeText(text: $t, maxWords: $n) { summary provider model } }";
const ENTITIES: &str = "mutation($t: String!) { extractEntities(text: $t) { emails phones urls organizations money dates provider model } }";
const LEAD_INFO: &str = "mutation($t: String!) { extractLeadInfo(text: $t) { name email phone company title website provider model } }";
const CREATE_GOAL: &str = "mutation($i: CreateSearchGoalInput!) { createSearchGoal(input: $i) { id text targetMarket locations maxLeads status provider model strategy { industries keywords jobTitles locations exclusions sources { source query } } } }";
const GOAL: &str =
    "query($id: ID!) { searchGoal(id: $id) { id strategy { keywords sources { source query } } } }";
const UPDATE_STRATEGY: &str = "mutation($id: ID!, $s: SearchStrategyInput!) { updateSearchStrategy(id: $id, strategy: $s) { id strategy { industries keywords sources { source query } } } }";
const USAGE: &str = "query($p: AiUsagePeriod) { aiUsage(period: $p) { calls cachedCalls promptTokens completionTokens costMicros monthTokensUsed monthlyTokenBudget byOperation { operation provider model calls cachedCalls promptTokens completionTokens costMicros } } }";

/// A chat-completions answer whose message content is `content`.
fn completion(model: &str, content: &str, prompt: u64, completion: u64) -> ResponseTemplate {
    ResponseTemplate::new(200).set_body_json(json!({
        "id": "chatcmpl-test",
        "object": "chat.completion",
        "created": 1_700_000_000,
        "model": model,
        "choices": [{
            "index": 0,
            "message": {"role": "assistant", "content": content},
            "finish_reason": "stop"
        }],
        "usage": {"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion}
    }))
}

async fn openai_app(fake: &MockServer, extra: &[(&str, &str)]) -> TestApp {
    let mut env: HashMap<String, String> = HashMap::from([
        ("AI_PROVIDER".into(), "openai".into()),
        ("OPENAI_BASE_URL".into(), format!("{}/v1", fake.uri())),
        ("OPENAI_API_KEY".into(), "sk-test".into()),
    ]);
    for (k, v) in extra {
        env.insert((*k).into(), (*v).into());
    }
    TestApp::spawn_with(Options {
        env,
        ..Default::default()
    })
    .await
}

async fn requests(fake: &MockServer) -> Vec<Value> {
    fake.received_requests()
        .await
        .unwrap()
        .iter()
        .map(|r| serde_json::from_slice(&r.body).unwrap())
        .collect()
}

#[tokio::test]
async fn local_provider_gives_stable_results_for_fixtures() {
    let app = TestApp::spawn().await;
    let (token, _) = owner_token(&app).await;
    let t = Some(token.as_str());

    let cases = [
        (
            "Thanks, the demo was great and the team is excited to start!",
            "positive",
            1.0,
        ),
        (
            "This is not good. The export is broken and support was slow.",
            "negative",
            -1.0,
        ),
        ("The meeting moved to Tuesday at 10am.", "neutral", 0.0),
        (
            "I like the product but the price is too expensive.",
            "neutral",
            0.0,
        ),
    ];
    for (text, sentiment, score) in cases {
        let v = app.gql(t, SENTIMENT, json!({"t": text})).await;
        let r = data(&v, "analyzeSentiment");
        assert_eq!(r["sentiment"], sentiment, "{text}: {r}");
        assert_eq!(r["score"].as_f64().unwrap(), score, "{text}: {r}");
        assert_eq!(r["provider"], "local");
        assert_eq!(r["model"], "heuristic-v1");
        assert_eq!(r["cached"], false);
    }
    // The same text again: a cache hit.
    let v = app.gql(t, SENTIMENT, json!({"t": cases[0].0})).await;
    assert_eq!(data(&v, "analyzeSentiment")["cached"], true);

    let v = app
        .gql(
            t,
            CLASSIFY,
            json!({"t": "Can you send me the pricing for 50 seats and an invoice?", "l": ["pricing question", "support request", "meeting request"]}),
        )
        .await;
    let r = data(&v, "classifyText");
    assert_eq!(r["label"], "pricing question", "{r}");
    assert_eq!(r["confidence"].as_f64().unwrap(), 1.0);
    assert_eq!(
        r["scores"],
        json!([{"label": "pricing question", "score": 1.0}, {"label": "support request", "score": 0.0}, {"label": "meeting request", "score": 0.0}])
    );
    let v = app
        .gql(
            t,
            CLASSIFY,
            json!({"t": "Could we set up a meeting next week? I also have a support question.", "l": ["pricing", "support", "meeting"]}),
        )
        .await;
    let r = data(&v, "classifyText");
    assert_eq!(
        r["label"], "support",
        "ties go to the label given first: {r}"
    );
    assert_eq!(r["confidence"].as_f64().unwrap(), 0.5);

    let text = "Acme builds routing software for logistics firms. It was founded in 2015 in Berlin. The company has 120 employees and is hiring.";
    let v = app.gql(t, SUMMARIZE, json!({"t": text, "n": 20})).await;
    assert_eq!(
        data(&v, "summarizeText")["summary"],
        "Acme builds routing software for logistics firms. It was founded in 2015 in Berlin."
    );
    let v = app.gql(t, SUMMARIZE, json!({"t": text, "n": 5})).await;
    assert_eq!(
        data(&v, "summarizeText")["summary"],
        "Acme builds routing software for…"
    );

    let text = "Hi, I'm Jane Doe, CTO at Northwind Technologies GmbH. Reach me at jane.doe@northwind.example or +49 30 1234567, see https://northwind.example/team. Our budget is $25,000 for the pilot starting 2026-03-01.";
    let v = app.gql(t, ENTITIES, json!({"t": text})).await;
    let r = data(&v, "extractEntities");
    assert_eq!(r["emails"], json!(["jane.doe@northwind.example"]), "{r}");
    assert_eq!(r["phones"], json!(["+49 30 1234567"]), "{r}");
    assert_eq!(r["urls"], json!(["https://northwind.example/team"]), "{r}");
    assert_eq!(
        r["organizations"],
        json!(["Northwind Technologies GmbH"]),
        "{r}"
    );
    assert_eq!(r["money"], json!(["$25,000"]), "{r}");
    assert_eq!(r["dates"], json!(["2026-03-01"]), "{r}");

    let v = app.gql(t, LEAD_INFO, json!({"t": text})).await;
    assert_eq!(
        data(&v, "extractLeadInfo"),
        &json!({"name": "Jane Doe", "email": "jane.doe@northwind.example", "phone": "+49 30 1234567", "company": "Northwind Technologies GmbH", "title": "CTO", "website": "https://northwind.example/team", "provider": "local", "model": "heuristic-v1"})
    );

    let v = app
        .gql(
            t,
            CREATE_GOAL,
            json!({"i": {"text": "Find CTOs of SaaS companies in Berlin, excluding agencies", "locations": ["Munich"], "maxLeads": 50}}),
        )
        .await;
    let g = data(&v, "createSearchGoal");
    assert_eq!(g["status"], "DRAFT");
    assert_eq!(g["provider"], "local");
    assert_eq!(g["maxLeads"], 50);
    assert_eq!(g["locations"], json!(["Munich"]));
    assert_eq!(
        g["strategy"],
        json!({
            "industries": ["Software"],
            "keywords": ["saas"],
            "jobTitles": ["CTO"],
            "locations": ["Berlin", "Munich"],
            "exclusions": ["agencies"],
            "sources": [
                {"source": "SEARCH", "query": "software cto berlin"},
                {"source": "SEARCH", "query": "software cto munich"}
            ]
        })
    );
    let v = app
        .gql(
            t,
            CREATE_GOAL,
            json!({"i": {"text": "Dentists in London and Dublin who need a new booking system"}}),
        )
        .await;
    let g = data(&v, "createSearchGoal");
    assert_eq!(g["maxLeads"], 100);
    assert_eq!(
        g["strategy"],
        json!({
            "industries": ["Dental"],
            "keywords": ["dentists", "new", "booking", "system"],
            "jobTitles": [],
            "locations": ["London", "Dublin"],
            "exclusions": [],
            "sources": [
                {"source": "SEARCH", "query": "dental london"},
                {"source": "SEARCH", "query": "dental dublin"},
                {"source": "GOOGLE_MAPS", "query": "dental in London"},
                {"source": "GOOGLE_MAPS", "query": "dental in Dublin"}
            ]
        })
    );

    // Local calls use no tokens; every call (and the cache hit) is recorded.
    let v = app.gql(t, USAGE, json!({"p": "DAY"})).await;
    let u = data(&v, "aiUsage");
    assert_eq!(u["calls"], 13, "{u}");
    assert_eq!(u["cachedCalls"], 1);
    assert_eq!(u["promptTokens"], 0);
    assert_eq!(u["costMicros"], 0);
    let sentiment = u["byOperation"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["operation"] == "analyzeSentiment")
        .unwrap();
    assert_eq!(sentiment["calls"], 5);
    assert_eq!(sentiment["cachedCalls"], 1);
    assert_eq!(sentiment["model"], "heuristic-v1");
}

const STRATEGY_JSON: &str = r#"{"industries":["Software"],"keywords":["b2b saas","devtools"],"jobTitles":["CTO","VP of Engineering"],"locations":["Berlin"],"sources":[{"source":"SEARCH","query":"devtools startups berlin cto"},{"source":"WEBSITE","query":"https://startups.example/berlin"}],"exclusions":["agencies"]}"#;

#[tokio::test]
async fn openai_goal_produces_the_strategy_and_repeats_are_cache_hits() {
    let fake = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/v1/chat/completions"))
        .and(header("authorization", "Bearer sk-test"))
        .respond_with(completion("gpt-4o-mini", STRATEGY_JSON, 120, 80))
        .mount(&fake)
        .await;
    let app = openai_app(&fake, &[]).await;
    let (token, _) = owner_token(&app).await;
    let t = Some(token.as_str());
    let input = json!({"i": {"text": "Technical founders of devtools startups in Berlin", "targetMarket": "B2B SaaS", "maxLeads": 20}});
    let v = app.gql(t, CREATE_GOAL, input.clone()).await;
    let g = data(&v, "createSearchGoal");
    assert_eq!(g["provider"], "openai");
    assert_eq!(g["model"], "gpt-4o-mini");
    assert_eq!(
        g["strategy"],
        json!({
            "industries": ["Software"],
            "keywords": ["b2b saas", "devtools"],
            "jobTitles": ["CTO", "VP of Engineering"],
            "locations": ["Berlin"],
            "exclusions": ["agencies"],
            "sources": [
                {"source": "SEARCH", "query": "devtools startups berlin cto"},
                {"source": "WEBSITE", "query": "https://startups.example/berlin"}
            ]
        })
    );
    // The request spoke the chat-completions format with a JSON schema.
    let sent = requests(&fake).await;
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0]["model"], "gpt-4o-mini");
    assert_eq!(sent[0]["response_format"]["type"], "json_schema");
    assert_eq!(
        sent[0]["response_format"]["json_schema"]["schema"]["required"],
        json!([
            "industries",
            "keywords",
            "jobTitles",
            "locations",
            "sources",
            "exclusions"
        ])
    );
    assert_eq!(sent[0]["messages"][0]["role"], "system");
    assert_eq!(sent[0]["messages"][1]["role"], "user");
    let user: Value =
        serde_json::from_str(sent[0]["messages"][1]["content"].as_str().unwrap()).unwrap();
    assert_eq!(
        user["goal"]["text"],
        "Technical founders of devtools startups in Berlin"
    );
    assert_eq!(user["goal"]["targetMarket"], "B2B SaaS");

    // The same goal again: answered from the cache, no second HTTP call.
    let v = app.gql(t, CREATE_GOAL, input).await;
    let g2 = data(&v, "createSearchGoal");
    assert_eq!(g2["strategy"], g["strategy"]);
    assert_ne!(g2["id"], g["id"]);
    assert_eq!(fake.received_requests().await.unwrap().len(), 1);

    // Stored and readable; usage has the tokens once and the cache hit.
    let v = app.gql(t, GOAL, json!({"id": g["id"]})).await;
    assert_eq!(
        data(&v, "searchGoal")["strategy"]["keywords"],
        json!(["b2b saas", "devtools"])
    );
    let v = app.gql(t, USAGE, json!({})).await;
    let u = data(&v, "aiUsage");
    assert_eq!(u["calls"], 2);
    assert_eq!(u["cachedCalls"], 1);
    assert_eq!(u["promptTokens"], 120);
    assert_eq!(u["completionTokens"], 80);
    assert_eq!(u["monthTokensUsed"], 200);
    // gpt-4o-mini: 120 × 0.15 + 80 × 0.60 micro-dollars = 66.
    assert_eq!(u["costMicros"], 66);
    assert_eq!(
        u["byOperation"],
        json!([{"operation": "createSearchGoal", "provider": "openai", "model": "gpt-4o-mini", "calls": 2, "cachedCalls": 1, "promptTokens": 120, "completionTokens": 80, "costMicros": 66}])
    );
}

#[tokio::test]
async fn openai_malformed_answer_is_repaired_once_then_reported() {
    let fake = MockServer::start().await;
    // First text: malformed, then valid after the repair request.
    Mock::given(method("POST"))
        .and(path("/v1/chat/completions"))
        .respond_with(completion(
            "gpt-4o-mini",
            "Sure! The sentiment is positive.",
            10,
            5,
        ))
        .up_to_n_times(1)
        .with_priority(1)
        .mount(&fake)
        .await;
    Mock::given(method("POST"))
        .and(path("/v1/chat/completions"))
        .respond_with(completion(
            "gpt-4o-mini",
            r#"{"sentiment":"positive","score":0.8}"#,
            12,
            6,
        ))
        .up_to_n_times(1)
        .with_priority(2)
        .mount(&fake)
        .await;
    // Afterwards: always the wrong shape.
    Mock::given(method("POST"))
        .and(path("/v1/chat/completions"))
        .respond_with(completion(
            "gpt-4o-mini",
            r#"{"sentiment":"ecstatic","score":3}"#,
            10,
            5,
        ))
        .with_priority(3)
        .mount(&fake)
        .await;
    let app = openai_app(&fake, &[]).await;
    let (token, _) = owner_token(&app).await;
    let t = Some(token.as_str());

    let v = app.gql(t, SENTIMENT, json!({"t": "We love it"})).await;
    let r = data(&v, "analyzeSentiment");
    assert_eq!(r["sentiment"], "positive");
    assert_eq!(r["score"].as_f64().unwrap(), 0.8);
    let sent = requests(&fake).await;
    assert_eq!(sent.len(), 2);
    // The repair request carries the bad answer and the error.
    let msgs = sent[1]["messages"].as_array().unwrap();
    assert_eq!(msgs.len(), 4);
    assert_eq!(msgs[2]["role"], "assistant");
    assert_eq!(msgs[2]["content"], "Sure! The sentiment is positive.");
    assert_eq!(msgs[3]["role"], "user");
    assert!(
        msgs[3]["content"].as_str().unwrap().contains("not JSON"),
        "{}",
        msgs[3]
    );

    let v = app.gql(t, SENTIMENT, json!({"t": "Something else"})).await;
    assert_eq!(code(&v), Some("SERVICE_UNAVAILABLE"), "{v}");
    let msg = v["errors"][0]["message"].as_str().unwrap();
    assert!(msg.contains("invalid output"), "{msg}");
    assert_eq!(
        fake.received_requests().await.unwrap().len(),
        4,
        "one try and one repair"
    );
    // Both calls of the failed operation were paid for? No: a failed call is not recorded, the
    // repaired one is, with the tokens of both its requests.
    let v = app.gql(t, USAGE, json!({})).await;
    let u = data(&v, "aiUsage");
    assert_eq!(u["calls"], 1);
    assert_eq!(u["promptTokens"], 22);
    assert_eq!(u["completionTokens"], 11);
}

#[tokio::test]
async fn openai_429_is_retried_after_the_wait() {
    let fake = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/v1/chat/completions"))
        .respond_with(ResponseTemplate::new(429).insert_header("retry-after", "1"))
        .up_to_n_times(1)
        .with_priority(1)
        .mount(&fake)
        .await;
    Mock::given(method("POST"))
        .and(path("/v1/chat/completions"))
        .respond_with(completion("gpt-4o-mini", r#"{"summary":"Short."}"#, 30, 3))
        .with_priority(2)
        .mount(&fake)
        .await;
    let app = openai_app(&fake, &[]).await;
    let (token, _) = owner_token(&app).await;
    let started = Instant::now();
    let v = app
        .gql(
            Some(&token),
            SUMMARIZE,
            json!({"t": "A long text. With sentences.", "n": 10}),
        )
        .await;
    assert_eq!(data(&v, "summarizeText")["summary"], "Short.");
    assert!(
        started.elapsed().as_millis() >= 1_000,
        "Retry-After honoured"
    );
    assert_eq!(fake.received_requests().await.unwrap().len(), 2);
}

#[tokio::test]
async fn openai_primary_failing_falls_back_to_the_fallback_model() {
    let fake = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/v1/chat/completions"))
        .and(body_partial_json(json!({"model": "big-model"})))
        .respond_with(ResponseTemplate::new(503).insert_header("retry-after", "0"))
        .mount(&fake)
        .await;
    Mock::given(method("POST"))
        .and(path("/v1/chat/completions"))
        .and(body_partial_json(json!({"model": "small-model"})))
        .respond_with(completion(
            "small-model",
            r#"{"label":"support","confidence":0.9,"scores":[{"label":"sales","score":0.1},{"label":"support","score":0.9}]}"#,
            40,
            10,
        ))
        .mount(&fake)
        .await;
    let app = openai_app(
        &fake,
        &[
            ("OPENAI_MODEL", "big-model"),
            ("OPENAI_FALLBACK_MODEL", "small-model"),
        ],
    )
    .await;
    let (token, _) = owner_token(&app).await;
    let v = app
        .gql(
            Some(&token),
            CLASSIFY,
            json!({"t": "My export is broken", "l": ["sales", "support"]}),
        )
        .await;
    let r = data(&v, "classifyText");
    assert_eq!(r["label"], "support");
    assert_eq!(r["model"], "small-model");
    let models: Vec<String> = requests(&fake)
        .await
        .iter()
        .map(|b| b["model"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(
        models,
        [
            "big-model",
            "big-model",
            "big-model",
            "big-model",
            "small-model"
        ],
        "4 attempts at the primary, then the fallback"
    );
    let v = app.gql(Some(&token), USAGE, json!({})).await;
    assert_eq!(
        data(&v, "aiUsage")["byOperation"][0]["model"],
        "small-model"
    );
}

#[tokio::test]
async fn budget_exhaustion_is_a_coded_error_without_a_call() {
    let fake = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/v1/chat/completions"))
        .respond_with(completion(
            "gpt-4o-mini",
            r#"{"sentiment":"neutral","score":0}"#,
            80,
            30,
        ))
        .mount(&fake)
        .await;
    let app = openai_app(&fake, &[("AI_MONTHLY_TOKEN_BUDGET", "100")]).await;
    let (token, _) = owner_token(&app).await;
    let (other, _) = owner_token(&app).await;
    let v = app
        .gql(Some(&token), SENTIMENT, json!({"t": "first"}))
        .await;
    assert_eq!(data(&v, "analyzeSentiment")["sentiment"], "neutral");
    // 110 of 100 tokens used: refused before any HTTP call, cache hits included.
    for text in ["second", "first"] {
        let v = app.gql(Some(&token), SENTIMENT, json!({"t": text})).await;
        assert_eq!(code(&v), Some("AI_BUDGET_EXCEEDED"), "{v}");
        let msg = v["errors"][0]["message"].as_str().unwrap();
        assert!(msg.contains("monthly AI budget of 100 tokens"), "{msg}");
    }
    let v = app
        .gql(
            Some(&token),
            CREATE_GOAL,
            json!({"i": {"text": "CTOs in Berlin"}}),
        )
        .await;
    assert_eq!(code(&v), Some("AI_BUDGET_EXCEEDED"), "{v}");
    assert_eq!(fake.received_requests().await.unwrap().len(), 1);
    // The budget is per organization.
    let v = app
        .gql(Some(&other), SENTIMENT, json!({"t": "second"}))
        .await;
    assert_eq!(data(&v, "analyzeSentiment")["sentiment"], "neutral");
    assert_eq!(fake.received_requests().await.unwrap().len(), 2);
    let v = app.gql(Some(&token), USAGE, json!({})).await;
    let u = data(&v, "aiUsage");
    assert_eq!(u["monthlyTokenBudget"], 100);
    assert_eq!(u["monthTokensUsed"], 110);
}

#[tokio::test]
async fn auth_roles_isolation_and_validation() {
    let app = TestApp::spawn().await;
    let (token, org) = owner_token(&app).await;
    let (other, _) = owner_token(&app).await;
    let t = Some(token.as_str());

    let v = app.gql(None, SENTIMENT, json!({"t": "hello"})).await;
    assert_eq!(code(&v), Some("UNAUTHENTICATED"), "{v}");
    let v = app.gql(None, USAGE, json!({})).await;
    assert_eq!(code(&v), Some("UNAUTHENTICATED"), "{v}");

    // Roles: VIEWER reads goals but may not spend budget; usage is ADMIN+.
    let viewer = app.token(org, Role::Viewer).await;
    let member = app.token(org, Role::Member).await;
    let v = app
        .gql(Some(&viewer), SENTIMENT, json!({"t": "hello"}))
        .await;
    assert_eq!(code(&v), Some("FORBIDDEN"), "{v}");
    let v = app
        .gql(Some(&member), SENTIMENT, json!({"t": "hello"}))
        .await;
    assert_eq!(data(&v, "analyzeSentiment")["sentiment"], "neutral");
    let v = app.gql(Some(&member), USAGE, json!({})).await;
    assert_eq!(code(&v), Some("FORBIDDEN"), "{v}");

    // Validation names the field.
    let v = app.gql(t, SENTIMENT, json!({"t": "   "})).await;
    assert_eq!(code(&v), Some("BAD_USER_INPUT"));
    assert_eq!(v["errors"][0]["extensions"]["fields"][0]["field"], "text");
    let long = "a".repeat(20_001);
    let v = app.gql(t, SUMMARIZE, json!({"t": long})).await;
    assert_eq!(
        v["errors"][0]["extensions"]["fields"][0]["field"], "text",
        "{v}"
    );
    let v = app.gql(t, SUMMARIZE, json!({"t": "Fine.", "n": 1})).await;
    assert_eq!(
        v["errors"][0]["extensions"]["fields"][0]["field"],
        "maxWords"
    );
    let v = app.gql(t, CLASSIFY, json!({"t": "x", "l": ["only"]})).await;
    assert_eq!(v["errors"][0]["extensions"]["fields"][0]["field"], "labels");
    let v = app
        .gql(t, CLASSIFY, json!({"t": "x", "l": ["a", "a"]}))
        .await;
    assert_eq!(v["errors"][0]["extensions"]["fields"][0]["field"], "labels");
    let v = app
        .gql(t, CREATE_GOAL, json!({"i": {"text": "x", "maxLeads": 0}}))
        .await;
    assert_eq!(code(&v), Some("BAD_USER_INPUT"));
    let fields: Vec<&str> = v["errors"][0]["extensions"]["fields"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["field"].as_str().unwrap())
        .collect();
    assert_eq!(fields, ["input.text", "input.maxLeads"]);
    // Nothing was recorded for refused calls (the member's one call only).
    let v = app.gql(t, USAGE, json!({})).await;
    assert_eq!(data(&v, "aiUsage")["calls"], 1);

    // Goals: readable by VIEWER, editable, another organization's goal is NOT_FOUND.
    let v = app
        .gql(
            t,
            CREATE_GOAL,
            json!({"i": {"text": "Restaurants in Paris"}}),
        )
        .await;
    let id = data(&v, "createSearchGoal")["id"].clone();
    let v = app.gql(Some(&viewer), GOAL, json!({"id": id})).await;
    assert_eq!(data(&v, "searchGoal")["id"], id);
    let v = app
        .gql(
            Some(&viewer),
            "{ searchGoals(first: 10) { totalCount nodes { id } } }",
            json!({}),
        )
        .await;
    assert_eq!(data(&v, "searchGoals")["totalCount"], 1);
    let v = app
        .gql(
            Some(&other),
            "{ searchGoals(first: 10) { totalCount } }",
            json!({}),
        )
        .await;
    assert_eq!(data(&v, "searchGoals")["totalCount"], 0);
    let missing = json!({"id": Uuid::now_v7().to_string()});
    let v_missing = app.gql(Some(&other), GOAL, missing).await;
    let v_other = app.gql(Some(&other), GOAL, json!({"id": id})).await;
    assert_eq!(code(&v_other), Some("NOT_FOUND"));
    assert_eq!(
        v_other["errors"][0]["message"],
        v_missing["errors"][0]["message"]
    );

    let strategy = json!({"industries": ["Restaurants"], "keywords": ["bistro"], "jobTitles": ["Owner"], "locations": ["Paris"], "exclusions": [], "sources": [{"source": "GOOGLE_MAPS", "query": "bistro in Paris"}]});
    let v = app
        .gql(
            Some(&other),
            UPDATE_STRATEGY,
            json!({"id": id, "s": strategy}),
        )
        .await;
    assert_eq!(code(&v), Some("NOT_FOUND"));
    let v = app
        .gql(
            Some(&viewer),
            UPDATE_STRATEGY,
            json!({"id": id, "s": strategy}),
        )
        .await;
    assert_eq!(code(&v), Some("FORBIDDEN"));
    let mut bad = strategy.clone();
    bad["sources"] = json!([{"source": "CRAIGSLIST", "query": "x"}]);
    let v = app
        .gql(t, UPDATE_STRATEGY, json!({"id": id, "s": bad}))
        .await;
    assert_eq!(
        v["errors"][0]["extensions"]["fields"][0]["field"], "strategy.sources",
        "{v}"
    );
    let v = app
        .gql(t, UPDATE_STRATEGY, json!({"id": id, "s": strategy}))
        .await;
    let g = data(&v, "updateSearchStrategy");
    assert_eq!(g["strategy"]["keywords"], json!(["bistro"]));
    assert_eq!(g["strategy"]["sources"], strategy["sources"]);
    let v = app.gql(t, GOAL, json!({"id": id})).await;
    assert_eq!(
        data(&v, "searchGoal")["strategy"]["keywords"],
        json!(["bistro"])
    );
}

const CREATE_LEAD: &str =
    "mutation($i: CreateLeadInput!) { createLead(input: $i) { id score scoreReasons { detail } } }";
const ANALYZE: &str = "mutation($id: ID!) { analyzeLead(id: $id) { id leadId summary fitScore reasons nextAction talkingPoints provider model } }";
const LEAD_ANALYSIS: &str =
    "query($id: ID!) { lead(id: $id) { id analysis { id summary fitScore nextAction } } }";

#[tokio::test]
async fn analyze_lead_stores_the_analysis_and_scopes_by_organization() {
    let app = TestApp::spawn().await;
    let (token, org) = owner_token(&app).await;
    let (other, _) = owner_token(&app).await;
    let t = Some(token.as_str());
    let v = app
        .gql(
            t,
            CREATE_LEAD,
            json!({"i": {"firstName": "Ada", "lastName": "Lovelace", "email": "ada@analytical.example", "company": "Analytical Engines", "title": "CTO", "industry": "Software", "website": "https://analytical.example", "location": {"city": "London", "country": "GB"}}}),
        )
        .await;
    let lead = data(&v, "createLead").clone();
    let id = lead["id"].clone();
    let reasons: Vec<Value> = lead["scoreReasons"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["detail"].clone())
        .collect();

    // No analysis yet.
    let v = app.gql(t, LEAD_ANALYSIS, json!({"id": id})).await;
    assert!(data(&v, "lead")["analysis"].is_null());

    let v = app.gql(t, ANALYZE, json!({"id": id})).await;
    let a = data(&v, "analyzeLead");
    assert_eq!(a["leadId"], id);
    assert_eq!(
        a["summary"],
        "Ada Lovelace, CTO at Analytical Engines (Software, London, GB)."
    );
    assert_eq!(a["fitScore"], lead["score"]);
    assert_eq!(a["reasons"], Value::Array(reasons));
    assert_eq!(a["nextAction"], "Send an introduction email");
    assert_eq!(
        a["talkingPoints"],
        json!([
            "Current challenges in Software",
            "What a CTO is measured on",
            "What https://analytical.example/ says about their offer"
        ])
    );
    assert_eq!(a["provider"], "local");
    assert_eq!(a["model"], "heuristic-v1");

    // Lead.analysis shows the stored one, also to a VIEWER.
    let viewer = app.token(org, Role::Viewer).await;
    let v = app
        .gql(Some(&viewer), LEAD_ANALYSIS, json!({"id": id}))
        .await;
    let shown = &data(&v, "lead")["analysis"];
    assert_eq!(shown["id"], a["id"]);
    assert_eq!(shown["fitScore"], a["fitScore"]);
    let v = app.gql(Some(&viewer), ANALYZE, json!({"id": id})).await;
    assert_eq!(code(&v), Some("FORBIDDEN"));

    // Another organization's lead reads exactly like a missing one.
    let v_other = app.gql(Some(&other), ANALYZE, json!({"id": id})).await;
    let v_missing = app
        .gql(
            Some(&other),
            ANALYZE,
            json!({"id": Uuid::now_v7().to_string()}),
        )
        .await;
    assert_eq!(code(&v_other), Some("NOT_FOUND"));
    assert_eq!(
        v_other["errors"][0]["message"],
        v_missing["errors"][0]["message"]
    );
    assert_eq!(
        code(&app.gql(None, ANALYZE, json!({"id": id})).await),
        Some("UNAUTHENTICATED")
    );
}

#[tokio::test]
async fn analyze_lead_through_openai_sends_the_lead_facts() {
    let fake = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/v1/chat/completions"))
        .respond_with(completion(
            "gpt-4o-mini",
            r#"{"summary":"A CTO at a small software firm.","fitScore":77,"reasons":["Decision maker"],"nextAction":"Book a demo","talkingPoints":["Build vs buy"]}"#,
            200,
            50,
        ))
        .mount(&fake)
        .await;
    let app = openai_app(&fake, &[]).await;
    let (token, _) = owner_token(&app).await;
    let v = app
        .gql(
            Some(&token),
            CREATE_LEAD,
            json!({"i": {"firstName": "Grace", "company": "Compilers Inc", "title": "CTO", "phone": "+14155550100"}}),
        )
        .await;
    let id = data(&v, "createLead")["id"].clone();
    let v = app.gql(Some(&token), ANALYZE, json!({"id": id})).await;
    let a = data(&v, "analyzeLead");
    assert_eq!(a["fitScore"], 77);
    assert_eq!(a["nextAction"], "Book a demo");
    assert_eq!(a["model"], "gpt-4o-mini");
    let sent = requests(&fake).await;
    let user: Value =
        serde_json::from_str(sent[0]["messages"][1]["content"].as_str().unwrap()).unwrap();
    assert_eq!(user["lead"]["name"], "Grace");
    assert_eq!(user["lead"]["company"], "Compilers Inc");
    assert_eq!(user["lead"]["hasEmail"], false);
    assert_eq!(user["lead"]["hasPhone"], true);
    let v = app
        .gql(Some(&token), LEAD_ANALYSIS, json!({"id": id}))
        .await;
    assert_eq!(
        data(&v, "lead")["analysis"]["summary"],
        "A CTO at a small software firm."
    );
}

/// The operator's `OPENAI_BASE_URL` is trusted even on loopback (an Ollama next to the server)
/// while private networks stay closed: the same address given by a user as a crawl target is
/// still refused.
#[tokio::test]
async fn a_loopback_openai_base_url_is_reachable_without_opening_private_networks() {
    let fake = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/v1/chat/completions"))
        .respond_with(completion("gpt-4o-mini", STRATEGY_JSON, 10, 10))
        .mount(&fake)
        .await;
    let app = openai_app(&fake, &[("OUTBOUND_ALLOW_PRIVATE_NETWORKS", "false")]).await;
    assert!(!app.state.http.allow_private_networks());
    let (token, _) = owner_token(&app).await;
    let input =
        json!({"i": {"text": "Technical founders of devtools startups in Berlin", "maxLeads": 5}});
    let v = app.gql(Some(&token), CREATE_GOAL, input).await;
    let g = data(&v, "createSearchGoal");
    assert_eq!(g["provider"], "openai");
    assert_eq!(g["strategy"]["keywords"], json!(["b2b saas", "devtools"]));
    assert_eq!(fake.received_requests().await.unwrap().len(), 1);
    // The guarded client of user-supplied URLs does not trust the AI server's address.
    let refused = app
        .state
        .http
        .get(&format!("{}/v1/models", fake.uri()))
        .await;
    assert!(refused.is_err(), "{refused:?}");
    assert_eq!(fake.received_requests().await.unwrap().len(), 1);
}
