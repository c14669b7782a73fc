//! Positional row decoding (`src/db/fast.rs`) reads the same models as SeaORM's derived, by-name
//! decoding — on PostgreSQL, where it is used, and on SQLite, where it falls back to names — for
//! rows with every column set and rows with every nullable column NULL.

use chrono::{DateTime, TimeZone, Utc};
use entity::{
    campaign, campaign_recipient, lead, lead_analysis, lead_interaction, lead_note, lead_tag, user,
};
use leadgraph::db::fast;
use sea_orm::{ActiveModelTrait, EntityTrait, IntoActiveModel, QueryOrder};
use serde_json::json;
use uuid::Uuid;

use crate::helpers::TestApp;

/// A timestamp with microseconds (what PostgreSQL keeps).
fn at(n: i64) -> DateTime<Utc> {
    Utc.timestamp_micros(1_700_000_000_123_456 + n).unwrap()
}

#[tokio::test]
async fn positional_and_named_decoding_read_the_same_models() {
    let app = TestApp::spawn().await;
    let db = &app.state.db;
    let org = Uuid::now_v7();
    entity::organization::Model {
        id: org,
        name: "Fast rows".into(),
        slug: format!("fast-rows-{org}"),
        timezone: "UTC".into(),
        logo_file_id: None,
        created_at: at(0),
        updated_at: at(0),
    }
    .into_active_model()
    .insert(db)
    .await
    .unwrap();

    let full_user = user::Model {
        id: Uuid::now_v7(),
        email: "ada@example.com".into(),
        name: "Ada".into(),
        password_hash: "$argon2id$v=19$…".into(),
        email_verified_at: Some(at(1)),
        avatar_file_id: Some(Uuid::now_v7()),
        created_at: at(2),
        updated_at: at(3),
    };
    let bare_user = user::Model {
        id: Uuid::now_v7(),
        email: "bob@example.com".into(),
        email_verified_at: None,
        avatar_file_id: None,
        ..full_user.clone()
    };
    let full_lead = lead::Model {
        id: Uuid::now_v7(),
        org_id: org,
        first_name: Some("Ada".into()),
        last_name: Some("Lovelace".into()),
        email: Some("ada@acme.test".into()),
        phone: Some("+14155552671".into()),
        company: "Acme".into(),
        title: Some("CTO".into()),
        website: Some("https://acme.test/".into()),
        industry: Some("Software".into()),
        city: Some("Berlin".into()),
        region: Some("BE".into()),
        country: Some("DE".into()),
        latitude: Some(52.520_008),
        longitude: Some(-13.404_954),
        source: "MANUAL".into(),
        status: "QUALIFIED".into(),
        score: 87,
        score_reasons: json!([{"rule": "email", "points": 20}]),
        custom_fields: json!({"size": 42, "nested": {"a": [1, 2]}}),
        provenance: json!({"email": {"kind": "MANUAL"}}),
        owner_id: Some(full_user.id),
        last_contacted_at: Some(at(4)),
        created_at: at(5),
        updated_at: at(6),
        email_status: Some("RISKY".into()),
        validated_at: Some(at(7)),
        phone_type: Some("MOBILE".into()),
        phone_carrier: Some("AT&T Mobility LLC".into()),
        phone_country: Some("US".into()),
    };
    let bare_lead = lead::Model {
        id: Uuid::now_v7(),
        first_name: None,
        last_name: None,
        email: None,
        phone: None,
        company: String::new(),
        title: None,
        website: None,
        industry: None,
        city: None,
        region: None,
        country: None,
        latitude: None,
        longitude: None,
        score: 0,
        score_reasons: json!([]),
        custom_fields: json!({}),
        provenance: json!({}),
        owner_id: None,
        last_contacted_at: None,
        email_status: None,
        validated_at: None,
        phone_type: None,
        phone_carrier: None,
        phone_country: None,
        ..full_lead.clone()
    };
    for u in [&full_user, &bare_user] {
        u.clone().into_active_model().insert(db).await.unwrap();
    }
    for l in [&full_lead, &bare_lead] {
        l.clone().into_active_model().insert(db).await.unwrap();
    }
    let tag = lead_tag::Model {
        lead_id: full_lead.id,
        tag: "vip".into(),
        org_id: org,
    };
    tag.clone().into_active_model().insert(db).await.unwrap();
    let notes = [
        lead_note::Model {
            id: Uuid::now_v7(),
            lead_id: full_lead.id,
            org_id: org,
            author_id: Some(full_user.id),
            body: "Met at the fair — ünïcödé".into(),
            created_at: at(7),
            updated_at: at(8),
        },
        lead_note::Model {
            id: Uuid::now_v7(),
            lead_id: full_lead.id,
            org_id: org,
            author_id: None,
            body: String::new(),
            created_at: at(9),
            updated_at: at(9),
        },
    ];
    for n in &notes {
        n.clone().into_active_model().insert(db).await.unwrap();
    }
    let event = lead_interaction::Model {
        id: Uuid::now_v7(),
        lead_id: full_lead.id,
        org_id: org,
        kind: "note".into(),
        actor_id: None,
        data: json!({"changed": ["email"]}),
        created_at: at(10),
    };
    event.clone().into_active_model().insert(db).await.unwrap();
    let analysis = lead_analysis::Model {
        id: Uuid::now_v7(),
        org_id: org,
        lead_id: full_lead.id,
        summary: "Good fit".into(),
        fit_score: 77,
        reasons: json!(["has email"]),
        next_action: "Call".into(),
        talking_points: json!(["robots"]),
        provider: "local".into(),
        model: "heuristic-v1".into(),
        created_at: at(11),
    };
    analysis
        .clone()
        .into_active_model()
        .insert(db)
        .await
        .unwrap();
    let full_campaign = campaign::Model {
        id: Uuid::now_v7(),
        org_id: org,
        name: "Spring".into(),
        template_id: None,
        from_name: "Ada".into(),
        from_email: "ada@example.com".into(),
        reply_to: Some("reply@example.com".into()),
        send_rate_per_minute: Some(600),
        schedule_at: Some(at(12)),
        status: "RUNNING".into(),
        variants: json!([{"subject": "A"}]),
        content: Some(json!({"subject": "Hi"})),
        job_id: Some(Uuid::now_v7()),
        created_by: Some(full_user.id),
        launched_at: Some(at(13)),
        completed_at: Some(at(14)),
        last_error: Some("none".into()),
        ab_test: Some(json!({"fraction": 0.2})),
        ab_winner: Some(json!({"variant": "A"})),
        created_at: at(15),
        updated_at: at(16),
        require_validated_recipients: true,
    };
    full_campaign
        .clone()
        .into_active_model()
        .insert(db)
        .await
        .unwrap();
    let recipient = campaign_recipient::Model {
        id: Uuid::now_v7(),
        campaign_id: full_campaign.id,
        org_id: org,
        lead_id: Some(full_lead.id),
        email: "ada@acme.test".into(),
        status: "OPENED".into(),
        variant: Some("A".into()),
        message_id: format!("<{}@example.com>", Uuid::now_v7()),
        attempts: 2,
        open_count: 3,
        click_count: 1,
        sent_at: Some(at(17)),
        opened_at: Some(at(18)),
        clicked_at: Some(at(19)),
        replied_at: None,
        bounced_at: None,
        bounce_kind: Some("soft".into()),
        unsubscribed_at: None,
        last_event_at: Some(at(20)),
        error: None,
        created_at: at(21),
        updated_at: at(22),
    };
    recipient
        .clone()
        .into_active_model()
        .insert(db)
        .await
        .unwrap();

    // Leads and users: the fast reader equals the derived one and what was written.
    let q = || lead::Entity::find().order_by_asc(lead::Column::Id);
    let fast_leads = fast::all(db, q()).await.unwrap();
    assert_eq!(fast_leads, q().all(db).await.unwrap());
    assert_eq!(fast_leads, vec![full_lead.clone(), bare_lead.clone()]);
    let q = || user::Entity::find().order_by_asc(user::Column::Id);
    let fast_users = fast::all(db, q()).await.unwrap();
    assert_eq!(fast_users, q().all(db).await.unwrap());
    assert_eq!(fast_users, vec![full_user.clone(), bare_user.clone()]);

    // The page loaders built on it.
    let ids = [full_lead.id, bare_lead.id];
    let tags = leadgraph::domains::leads::tags(db, &ids).await.unwrap();
    assert_eq!(tags.get(&full_lead.id), Some(&vec!["vip".to_string()]));
    assert!(!tags.contains_key(&bare_lead.id));
    let newest = leadgraph::domains::leads::newest_per_lead(
        db,
        "lead_notes",
        &ids,
        5,
        |m: &lead_note::Model| m.lead_id,
    )
    .await
    .unwrap();
    assert_eq!(
        newest[&full_lead.id],
        vec![notes[1].clone(), notes[0].clone()],
        "newest first"
    );
    let newest = leadgraph::domains::leads::newest_per_lead(
        db,
        "lead_interactions",
        &ids,
        5,
        |m: &lead_interaction::Model| m.lead_id,
    )
    .await
    .unwrap();
    assert_eq!(newest[&full_lead.id], vec![event]);
    let newest = leadgraph::domains::leads::newest_per_lead(
        db,
        "lead_analyses",
        &ids,
        1,
        |m: &lead_analysis::Model| m.lead_id,
    )
    .await
    .unwrap();
    assert_eq!(newest[&full_lead.id], vec![analysis]);
    let campaigns = leadgraph::domains::outreach::campaigns::campaigns_of_leads(db, &ids)
        .await
        .unwrap();
    assert_eq!(campaigns[&full_lead.id], vec![(recipient, full_campaign)]);
    assert!(!campaigns.contains_key(&bare_lead.id));
}
