-- The rest of the shapes' dataset (bench/shapes.sh), on top of bench/seed-leads.sh's leads and
-- campaigns. psql variables: org (organization id), owner (the bench user's id).
-- Every row belongs to :'org'; sizes are fixed so every page the shapes read is full.
DELETE FROM email_templates WHERE org_id = :'org';
INSERT INTO email_templates (id, org_id, name, category, subject, body_html, body_text, favorite, ai_generated, created_by, created_at, updated_at)
SELECT gen_random_uuid(), :'org', 'Template ' || g, 'intro', 'Hello {{first_name}} ' || g, '<p>Hi</p>', 'Hi', g % 2 = 0, false, :'owner', now() - make_interval(mins => g), now()
FROM generate_series(1, 20) AS g;
UPDATE campaigns c SET template_id = t.id
FROM (SELECT id, row_number() OVER (ORDER BY id) AS k FROM email_templates WHERE org_id = :'org') t,
     (SELECT id, row_number() OVER (ORDER BY id) AS k FROM campaigns WHERE org_id = :'org') cc
WHERE c.id = cc.id AND t.k = (cc.k % 20) + 1;

-- Timeline: three entries for every lead that has notes.
INSERT INTO lead_interactions (id, lead_id, org_id, kind, actor_id, data, created_at)
SELECT gen_random_uuid(), l.id, l.org_id, 'manual', :'owner', jsonb_build_object('n', n), now()
FROM leads l, generate_series(1, 3) AS n WHERE l.org_id = :'org' AND l.score % 3 = 0;

-- 50 scrape jobs, each linked to 200 leads.
DELETE FROM scrape_jobs WHERE org_id = :'org';
CREATE TEMP TABLE shape_jobs AS SELECT k, gen_random_uuid() AS id FROM generate_series(0, 49) AS k;
INSERT INTO scrape_jobs (id, org_id, created_by, source, name, params, status, seeded, run_attempt, pages_total, pages_fetched, pages_failed, pages_skipped, leads_found, leads_created, leads_updated, created_at, updated_at)
SELECT id, :'org', :'owner', 'WEBSITE', 'Scrape ' || k, '{"urls": ["https://example.com/"]}', 'succeeded', true, 1, 1, 1, 0, 0, 200, 200, 0, now() - make_interval(mins => k), now()
FROM shape_jobs;
INSERT INTO scrape_job_leads (scrape_job_id, lead_id, org_id, outcome, url, created_at, lead_created_at)
SELECT j.id, l.id, l.org_id, 'created', 'https://example.com/' || l.rn, now(), l.created_at
FROM shape_jobs j
JOIN (SELECT id, org_id, created_at, row_number() OVER (ORDER BY id) AS rn FROM leads WHERE org_id = :'org' LIMIT 10000) l
  ON l.rn % 50 = j.k;

-- 20 audiences (an empty filter: every lead).
DELETE FROM audiences WHERE org_id = :'org';
INSERT INTO audiences (id, org_id, name, filter, created_by, created_at, updated_at)
SELECT gen_random_uuid(), :'org', 'Audience ' || g, '{}', :'owner', now() - make_interval(mins => g), now()
FROM generate_series(1, 20) AS g;

-- 5 rules, 100 requests (two history entries each).
DELETE FROM approval_requests WHERE org_id = :'org';
DELETE FROM approval_rules WHERE org_id = :'org';
CREATE TEMP TABLE shape_rules AS SELECT k, gen_random_uuid() AS id FROM generate_series(0, 4) AS k;
INSERT INTO approval_rules (id, org_id, name, resource_type, condition, approver_ids, required_approvals, sla_hours, enabled, created_by, created_at, updated_at)
SELECT id, :'org', 'Rule ' || k, 'CAMPAIGN', '{}', jsonb_build_array(:'owner'), 1, 24, false, :'owner', now(), now() FROM shape_rules;
CREATE TEMP TABLE shape_requests AS SELECT k, gen_random_uuid() AS id FROM generate_series(0, 99) AS k;
INSERT INTO approval_requests (id, org_id, rule_id, resource_type, resource_id, title, requested_by, assignee_ids, required_approvals, approval_count, status, priority, urgent, gated, payload, created_at, updated_at)
SELECT q.id, :'org', r.id, 'CAMPAIGN', q.id::text, 'Launch ' || q.k, :'owner', jsonb_build_array(:'owner'), 1, 0, 'PENDING', 'NORMAL', false, false, '{}', now() - make_interval(mins => q.k), now()
FROM shape_requests q JOIN shape_rules r ON r.k = q.k % 5;
INSERT INTO approval_actions (id, request_id, org_id, actor_id, action, created_at)
SELECT gen_random_uuid(), q.id, :'org', :'owner', a, now() + make_interval(secs => n)
FROM shape_requests q, unnest(ARRAY['CREATE', 'UPDATE']) WITH ORDINALITY AS x(a, n);

-- 200 notifications for the bench user, 1000 audit rows.
DELETE FROM notifications WHERE org_id = :'org';
INSERT INTO notifications (id, org_id, user_id, type, title, body, created_at)
SELECT gen_random_uuid(), :'org', :'owner', 'ANNOUNCEMENT', 'Notice ' || g, 'Body ' || g, now() - make_interval(mins => g)
FROM generate_series(1, 200) AS g;
INSERT INTO audit_logs (id, org_id, actor_user_id, action, resource_type, resource_id, outcome, created_at)
SELECT gen_random_uuid(), :'org', :'owner', 'lead.update', 'lead', g::text, 'success', now() - make_interval(secs => g)
FROM generate_series(1, 1000) AS g;

-- 20 search goals, 100 ranked results each.
DELETE FROM search_goals WHERE org_id = :'org';
CREATE TEMP TABLE shape_goals AS SELECT k, gen_random_uuid() AS id FROM generate_series(0, 19) AS k;
INSERT INTO search_goals (id, org_id, created_by, text, locations, max_leads, strategy, status, provider, model, created_at, updated_at)
SELECT id, :'org', :'owner', 'CTOs of SaaS companies ' || k, '["Berlin"]', 100,
  '{"industries": ["saas"], "keywords": [], "jobTitles": ["CTO"], "locations": ["Berlin"], "sources": [], "exclusions": []}',
  'completed', 'local', 'local', now() - make_interval(mins => k), now()
FROM shape_goals;
INSERT INTO search_goal_results (id, goal_id, org_id, lead_id, rank, score, validation, reasons, provider, model, created_at)
SELECT gen_random_uuid(), g.id, :'org', l.id, l.rn, 100 - l.rn % 100, 'valid', '["fits"]', 'local', 'local', now()
FROM shape_goals g
JOIN (SELECT id, row_number() OVER (ORDER BY id) AS rn FROM leads WHERE org_id = :'org' LIMIT 100) l ON true;

ANALYZE;
