//! AI: one provider trait with a deterministic local default and an OpenAI-compatible client;
//! text tools, lead-info extraction, lead analysis, replies and conversation suggestions, and
//! search goals run as a saga over scraping — with a per-organization monthly token budget, a
//! result cache and usage recording.
//!
//! **Provider** (`service/provider/`): `AiProvider::complete(state, &Task) -> Completion {value,
//! usage {prompt_tokens, completion_tokens}, provider, model}`. A `Task` (sentiment, classify,
//! summarize, entities, lead info, strategy, lead analysis, ranking, replies) knows its
//! operation name, instructions, JSON input and the JSON schema of its answer; `Task::validate`
//! deserializes the answer into the typed output (`types/`, `deny_unknown_fields`) and checks
//! task rules (sentiment value, a label from the given list, score ranges, known sources).
//! `AI_PROVIDER` picks the implementation.
//!
//! **`LocalHeuristic`** (`service/provider/local/`: provider + shared patterns, `text.rs`,
//! `goals.rs`, `rank.rs`, `reply.rs`; the default; provider `local`, model `heuristic-v1`, no
//! network, no tokens): sentiment from two word lists with a one-word negation flip;
//! classification by word overlap with each label; summaries from leading sentences up to
//! `maxWords`; entities by regex (emails, URLs, phones, money, dates, company names with a legal
//! suffix); lead info = the first of each plus a job title and a name; goal → strategy from
//! built-in lists of industries, job titles and places (other words as keywords, "excluding …"
//! as exclusions, URLs as WEBSITE sources, SEARCH per location, GOOGLE_MAPS for local
//! businesses); lead analysis = the lead's own rule-based score (`leads::scoring`), a next
//! action and talking points. Ranking (`rank.rs`): points for a strategy industry, keywords, a
//! job title, a location, email and phone, each with a reason; REJECTED on an exclusion, with
//! no email and no phone, or when the strategy has criteria and none matched. Replies
//! (`reply.rs`): tone phrases, the context's intent by keyword lists, a template rendered for
//! the lead by outreach's renderer. These are heuristics: only English word lists.
//!
//! **`OpenAiCompatible`** (`service/provider/openai.rs`): `POST {OPENAI_BASE_URL}/chat/
//! completions` with async-openai's wire types and a `json_schema` response format, sent
//! through `state.operator_http` (our SSRF guard, timeouts and retry policy). Per request: 60 s
//! timeout, 4 attempts with exponential backoff honouring `Retry-After` on 429/5xx/timeouts.
//! An answer that is not JSON of the task's shape gets one repair request; when the primary
//! model still fails, `OPENAI_FALLBACK_MODEL` is asked. Failures reach the client as
//! `SERVICE_UNAVAILABLE` with the reason.
//!
//! **Service** (`service/`: `mod.rs` = `run`, budget, cache, usage recording; `usage.rs`,
//! `goals.rs`, `saga.rs`, `ranking.rs`, `analysis.rs`, `reply.rs`). Every AI operation goes
//! through `run`: permission → monthly budget → cache → provider → usage. The budget
//! (`AI_MONTHLY_TOKEN_BUDGET` per organization per UTC month, 0 = unlimited) is the sum of
//! `ai_usage` tokens since the first of the month; reached, calls fail with
//! `AI_BUDGET_EXCEEDED` before any cache or HTTP access. The cache key is SHA-256 of provider,
//! model, operation, instructions and input; values live in Redis when configured, else in the
//! `ai_cache` table, for `AI_CACHE_TTL_SECS`, shared across organizations. A hit is recorded
//! with `cached = true` and 0 tokens; every answered call writes one `ai_usage` row with an
//! estimated `cost_micros` from a small price table.
//!
//! **Search goals**: `createSearchGoal` stores the goal with the provider's strategy (DRAFT);
//! `updateSearchStrategy` replaces it while DRAFT. `runSearchGoal` moves DRAFT → RUNNING and
//! queues the saga's first `search_goal.run` job ([`SEARCH_GOAL_KIND`], handler
//! [`SearchGoalRun`]) in one transaction; a goal runs once. The saga (`service/saga.rs`, each
//! step re-reads the goal and is safe to repeat): *launch* validates every strategy source as a
//! scrape-job input (skipping those without an API key or with an invalid query) and creates
//! the scrape jobs and `search_goal_jobs` rows in one transaction; *wait* polls the jobs
//! (scraping knows nothing of goals); *rank* (`service/ranking.rs`) sends the distinct leads
//! the jobs found to the provider in batches of 25, keeps the best `maxLeads` and stores the
//! results, COMPLETED and the event in one transaction. `cancelSearchGoal` cancels the goal,
//! then its unfinished scrape jobs.
//!
//! **Lead fields**: `analyzeLead` stores a `lead_analyses` row. `Lead.analysis` (the newest)
//! belongs to the leads domain's `Lead`; ai provides it through the leads analysis slot
//! (`graphql::slot`, `loader.rs`, one statement per page), registered by
//! [`register_lead_fields`] before any schema is built.
//!
//! **Events**: `search_goal.progress` (`{searchGoalId, status, jobsTotal, jobsDone,
//! sourcesSkipped, leadsFound, ranked, valid, error}`, visible with `ReadAi`) through the
//! outbox on every step; the last payload is stored as the goal's `progress`.
//!
//! **Roles**: `ReadAi` VIEWER (goals, `Lead.analysis`), `UseAi` MEMBER (every provider-calling
//! operation and `updateSearchStrategy`), `ReadAiUsage` ADMIN. Another organization's goal or
//! lead is NOT_FOUND.

pub mod loader;
pub mod resolver;
pub mod service;
pub mod types;

pub use loader::register_lead_fields;
pub use resolver::{AiMutation, AiQuery};
pub use service::reply::generate_reply;
pub use service::saga::{SearchGoalRun, KIND as SEARCH_GOAL_KIND};
