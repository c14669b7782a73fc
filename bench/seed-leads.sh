# shellcheck shell=bash
# Shared benchmark dataset for the leads figures (sourced by bench/nested.sh and
# bench/postgraphile.sh; not executable on its own).
#
#   seed_leads POSTGRES_URL ORG_ID LEADS OWNER_EMAIL
#       replaces the organization's leads with LEADS generated ones: one tag each
#       ('tag' || score % 7), every second lead owned by OWNER_EMAIL's user, every third with three
#       notes. All leads share one created_at, so pages are ordered by the id tie-break.
#   seed_campaigns POSTGRES_URL ORG_ID [CAMPAIGNS]
#       CAMPAIGNS (default 20) COMPLETED campaigns of the organization; each lead is a SENT
#       recipient of 0, 1 or 2 of them (score % 3 = 0, 1, 2).

seed_leads() {
    local url="$1" org="$2" leads="$3" owner_email="$4"
    psql "$url" -v ON_ERROR_STOP=1 -qAt -c "DELETE FROM leads WHERE org_id = '$org'"
    psql "$url" -v ON_ERROR_STOP=1 -qAt <<SQL
INSERT INTO leads (id, org_id, first_name, last_name, email, phone, company, title, website, industry,
  city, region, country, source, status, score, score_reasons, custom_fields, provenance, created_at, updated_at)
SELECT gen_random_uuid(), '$org', 'First' || g, 'Last' || g, 'lead' || g || '@example.com', NULL,
  'Company ' || (g % 5000), 'Title ' || (g % 40), 'https://c' || (g % 5000) || '.example.com/', 'Industry ' || (g % 30),
  'City ' || (g % 200), NULL, 'US', 'IMPORT', 'NEW', g % 100, '[]', '{}', '{}', now(), now()
FROM generate_series(1, $leads) AS g;
INSERT INTO lead_tags (lead_id, org_id, tag) SELECT id, org_id, 'tag' || (score % 7) FROM leads WHERE org_id = '$org';
UPDATE leads SET owner_id = (SELECT id FROM users WHERE email = '$owner_email') WHERE org_id = '$org' AND score % 2 = 0;
INSERT INTO lead_notes (id, lead_id, org_id, author_id, body, created_at, updated_at)
SELECT gen_random_uuid(), l.id, l.org_id, NULL, 'Note ' || n || ' on ' || l.company, now(), now()
FROM leads l, generate_series(1, 3) AS n WHERE l.org_id = '$org' AND l.score % 3 = 0;
ANALYZE leads; ANALYZE lead_tags; ANALYZE lead_notes;
SQL
}

seed_campaigns() {
    local url="$1" org="$2" campaigns="${3:-20}"
    psql "$url" -v ON_ERROR_STOP=1 -qAt <<SQL
DELETE FROM campaigns WHERE org_id = '$org';
CREATE TEMP TABLE bench_campaigns AS
SELECT k, gen_random_uuid() AS id FROM generate_series(0, $campaigns - 1) AS k;
INSERT INTO campaigns (id, org_id, name, from_name, from_email, status, variants, created_at, updated_at)
SELECT id, '$org', 'Campaign ' || k, 'Bench', 'bench@example.com', 'COMPLETED', '[]',
  now() - make_interval(mins => k), now()
FROM bench_campaigns;
INSERT INTO campaign_recipients (id, campaign_id, org_id, lead_id, email, status, message_id, sent_at, created_at, updated_at)
SELECT gen_random_uuid(), c.id, l.org_id, l.id, l.email, 'SENT', 'bench-' || c.id || '-' || l.id, now(), now(), now()
FROM leads l
JOIN bench_campaigns c ON c.k = l.score % $campaigns OR (l.score % 3 = 2 AND c.k = (l.score + 7) % $campaigns)
WHERE l.org_id = '$org' AND l.score % 3 <> 0;
ANALYZE campaigns; ANALYZE campaign_recipients;
SQL
}
