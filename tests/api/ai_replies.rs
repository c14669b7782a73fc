//! `generateReply` and `conversationSuggestions`: the local provider's exact copy (tones,
//! context intents, a template rendered for the lead), the OpenAI-compatible provider through
//! the wiremock fake, the `aiGenerated` marker, authentication, roles, isolation, validation.

use std::collections::HashMap;

use leadgraph::auth::Role;
use serde_json::{json, Value};
use wiremock::{
    matchers::{body_partial_json, method, path},
    Mock, MockServer, ResponseTemplate,
};

use crate::{
    fixtures::{data, signed_up_org},
    helpers::{code, Options, TestApp},
};

const REPLY: &str = "mutation($i: GenerateReplyInput!) { generateReply(input: $i) { subject body aiGenerated provider model cached } }";
const SUGGEST: &str = "query($id: ID!) { conversationSuggestions(leadId: $id) { aiGenerated provider model suggestions { action message reason } } }";
const CREATE_LEAD: &str = "mutation($i: CreateLeadInput!) { createLead(input: $i) { id } }";
const CREATE_TEMPLATE: &str =
    "mutation($i: CreateTemplateInput!) { createTemplate(input: $i) { id } }";

async fn maria(app: &TestApp, token: &str) -> String {
    let v = app
        .gql(
            Some(token),
            CREATE_LEAD,
            json!({"i": {"firstName": "Maria", "lastName": "Lopez", "company": "Acme Dental",
                "industry": "Dental", "email": "maria@acme-dental.com"}}),
        )
        .await;
    data(&v, "createLead")["id"].as_str().unwrap().to_string()
}

#[tokio::test]
async fn local_replies_follow_tone_context_and_template() {
    let app = TestApp::spawn().await;
    let org = signed_up_org(&app).await;
    let token = app.token(org, Role::Member).await;
    let lead = maria(&app, &token).await;

    // A pricing question, friendly.
    let v = app
        .gql(
            Some(&token),
            REPLY,
            json!({"i": {"leadId": lead, "tone": "FRIENDLY",
                "conversationContext": "Hi, what does it cost for a team of 10?"}}),
        )
        .await;
    let r = data(&v, "generateReply");
    assert_eq!(r["subject"], "Re: our conversation");
    assert_eq!(
        r["body"],
        "Hi Maria,\n\nThanks so much for getting back to me!\n\nOn pricing: it depends on the size of Acme Dental's team and what you need, so I'd rather give you an exact quote than a guess.\n\nI've been looking at what Acme Dental does in dental, and I think we could help.\n\nWould a quick chat next week work for you?\n\nBest wishes"
    );
    assert_eq!(r["aiGenerated"], true);
    assert_eq!(
        (&r["provider"], &r["model"]),
        (&json!("local"), &json!("heuristic-v1"))
    );

    // Not interested, default (professional) tone.
    let v = app
        .gql(
            Some(&token),
            REPLY,
            json!({"i": {"leadId": lead, "conversationContext": "Please remove me from your list."}}),
        )
        .await;
    assert_eq!(
        data(&v, "generateReply")["body"],
        "Dear Maria,\n\nThank you for your message.\n\nUnderstood — I won't follow up on this again. If anything changes, just reply to this email.\n\nKind regards"
    );

    // A first message built on a template rendered for the lead.
    let v = app
        .gql(
            Some(&token),
            CREATE_TEMPLATE,
            json!({"i": {"name": "Intro", "subject": "Ideas for {{ lead.company }}",
                "bodyHtml": "<p>We help {{ lead.industry }} teams grow.</p>",
                "bodyText": "We help {{ lead.industry }} teams grow."}}),
        )
        .await;
    let template = data(&v, "createTemplate")["id"]
        .as_str()
        .unwrap()
        .to_string();
    let v = app
        .gql(
            Some(&token),
            REPLY,
            json!({"i": {"leadId": lead, "tone": "CASUAL", "templateId": template}}),
        )
        .await;
    let r = data(&v, "generateReply");
    assert_eq!(r["subject"], "Ideas for Acme Dental");
    assert_eq!(
        r["body"],
        "Hey Maria,\n\nWe help Dental teams grow.\n\nCheers"
    );

    // Suggestions for a new, never contacted lead.
    let v = app.gql(Some(&token), SUGGEST, json!({"id": lead})).await;
    let s = data(&v, "conversationSuggestions");
    assert_eq!(s["aiGenerated"], true);
    assert_eq!(
        s["suggestions"],
        json!([{
            "action": "Send an introduction",
            "message": "Hi Maria,\n\nI work with companies like Acme Dental and had an idea I'd like to share — open to a quick chat?",
            "reason": "the lead is NEW and has not been contacted yet"
        }])
    );
}

#[tokio::test]
async fn replies_are_authenticated_authorized_scoped_and_validated() {
    let app = TestApp::spawn().await;
    let org = signed_up_org(&app).await;
    let member = app.token(org, Role::Member).await;
    let viewer = app.token(org, Role::Viewer).await;
    let stranger = app.token(signed_up_org(&app).await, Role::Owner).await;
    let lead = maria(&app, &member).await;
    let theirs = maria(&app, &stranger).await;
    let v = app
        .gql(
            Some(&stranger),
            CREATE_TEMPLATE,
            json!({"i": {"name": "T", "subject": "S", "bodyHtml": "<p>B</p>"}}),
        )
        .await;
    let their_template = data(&v, "createTemplate")["id"]
        .as_str()
        .unwrap()
        .to_string();

    let input = json!({"i": {"leadId": lead}});
    let v = app.gql(None, REPLY, input.clone()).await;
    assert_eq!(code(&v), Some("UNAUTHENTICATED"), "{v}");
    let v = app.gql(None, SUGGEST, json!({"id": lead})).await;
    assert_eq!(code(&v), Some("UNAUTHENTICATED"), "{v}");
    let v = app.gql(Some(&viewer), REPLY, input.clone()).await;
    assert_eq!(code(&v), Some("FORBIDDEN"), "{v}");
    let v = app.gql(Some(&viewer), SUGGEST, json!({"id": lead})).await;
    assert_eq!(code(&v), Some("FORBIDDEN"), "{v}");
    // Another organization's lead or template.
    let v = app
        .gql(Some(&member), REPLY, json!({"i": {"leadId": theirs}}))
        .await;
    assert_eq!(code(&v), Some("NOT_FOUND"), "{v}");
    let v = app.gql(Some(&member), SUGGEST, json!({"id": theirs})).await;
    assert_eq!(code(&v), Some("NOT_FOUND"), "{v}");
    let v = app
        .gql(
            Some(&member),
            REPLY,
            json!({"i": {"leadId": lead, "templateId": their_template}}),
        )
        .await;
    assert_eq!(code(&v), Some("BAD_USER_INPUT"), "{v}");
    assert_eq!(
        v["errors"][0]["extensions"]["fields"][0]["field"],
        "input.templateId"
    );
    // Too long a context.
    let v = app
        .gql(
            Some(&member),
            REPLY,
            json!({"i": {"leadId": lead, "conversationContext": "x".repeat(20_001)}}),
        )
        .await;
    assert_eq!(code(&v), Some("BAD_USER_INPUT"), "{v}");
    assert_eq!(
        v["errors"][0]["extensions"]["fields"][0]["field"],
        "input.conversationContext"
    );
    let v = app
        .gql(Some(&member), REPLY, json!({"i": {"leadId": "nope"}}))
        .await;
    assert_eq!(code(&v), Some("BAD_USER_INPUT"), "{v}");
}

fn completion(content: &Value) -> ResponseTemplate {
    ResponseTemplate::new(200).set_body_json(json!({
        "id": "chatcmpl-test", "object": "chat.completion", "created": 1_700_000_000,
        "model": "gpt-4o-mini",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": content.to_string()}, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 120, "completion_tokens": 40, "total_tokens": 160}
    }))
}

#[tokio::test]
async fn openai_writes_replies_and_suggestions_through_structured_tasks() {
    let fake = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/v1/chat/completions"))
        .and(body_partial_json(
            json!({"response_format": {"json_schema": {"name": "generateReply"}}}),
        ))
        .respond_with(completion(
            &json!({"subject": "About your pricing question", "body": "Hi Maria, here are our prices."}),
        ))
        .expect(1)
        .mount(&fake)
        .await;
    Mock::given(method("POST"))
        .and(path("/v1/chat/completions"))
        .and(body_partial_json(
            json!({"response_format": {"json_schema": {"name": "conversationSuggestions"}}}),
        ))
        .respond_with(completion(&json!({"suggestions": [
            {"action": "Introduce", "message": "Hi Maria!", "reason": "new lead"}]})))
        .expect(1)
        .mount(&fake)
        .await;
    let app = TestApp::spawn_with(Options {
        env: HashMap::from([
            ("AI_PROVIDER".into(), "openai".into()),
            ("OPENAI_BASE_URL".into(), format!("{}/v1", fake.uri())),
            ("OPENAI_API_KEY".into(), "sk-test".into()),
        ]),
        ..Default::default()
    })
    .await;
    let token = app.token(signed_up_org(&app).await, Role::Member).await;
    let lead = maria(&app, &token).await;
    let v = app
        .gql(
            Some(&token),
            REPLY,
            json!({"i": {"leadId": lead, "tone": "FRIENDLY", "conversationContext": "How much is it?"}}),
        )
        .await;
    let r = data(&v, "generateReply");
    assert_eq!(r["subject"], "About your pricing question");
    assert_eq!(r["body"], "Hi Maria, here are our prices.");
    assert_eq!(
        (&r["provider"], &r["aiGenerated"]),
        (&json!("openai"), &json!(true))
    );
    // The same request again comes from the cache (the mock expects one call).
    let v = app
        .gql(
            Some(&token),
            REPLY,
            json!({"i": {"leadId": lead, "tone": "FRIENDLY", "conversationContext": "How much is it?"}}),
        )
        .await;
    assert_eq!(data(&v, "generateReply")["cached"], true);
    let v = app.gql(Some(&token), SUGGEST, json!({"id": lead})).await;
    let s = data(&v, "conversationSuggestions");
    assert_eq!(s["suggestions"][0]["action"], "Introduce");
    assert_eq!(s["provider"], "openai");

    // What the model was told: the lead facts, the tone and the context, as JSON.
    let bodies: Vec<Value> = fake
        .received_requests()
        .await
        .unwrap()
        .iter()
        .map(|r| serde_json::from_slice(&r.body).unwrap())
        .collect();
    let reply = bodies
        .iter()
        .find(|b| b["response_format"]["json_schema"]["name"] == "generateReply")
        .unwrap();
    let user: Value =
        serde_json::from_str(reply["messages"][1]["content"].as_str().unwrap()).unwrap();
    assert_eq!(user["tone"], "FRIENDLY");
    assert_eq!(user["conversationContext"], "How much is it?");
    assert_eq!(user["lead"]["name"], "Maria Lopez");
    assert_eq!(user["lead"]["company"], "Acme Dental");
    assert_eq!(
        reply["response_format"]["json_schema"]["schema"]["required"],
        json!(["subject", "body"])
    );
    let sugg = bodies
        .iter()
        .find(|b| b["response_format"]["json_schema"]["name"] == "conversationSuggestions")
        .unwrap();
    let user: Value =
        serde_json::from_str(sugg["messages"][1]["content"].as_str().unwrap()).unwrap();
    assert_eq!(user["timeline"][0]["kind"], "created", "{user}");
}
