//! Live credential checks on every request (Security S1, S2, S3, S19).
//!
//! An access token alone is not enough: it must name a session (`sid`, the refresh-token family)
//! that is still live, for the same user and organization, and the member's role there must still
//! be the role the token carries. An API key must be live and its creator still a member; it acts
//! with the weaker of its own role and the creator's current role.
//!
//! Each answer is remembered for [`Config::session_check_ttl`](crate::config::Config) (default
//! 5 s) so a busy client costs one map lookup per request, not two statements. Changes that end
//! or alter access (logout, password change or reset, reuse detection, role change, removal, key
//! revocation) forget the affected entries at once in the process that made them, and every other
//! process forgets them when the `access.revoked` / `api_key.revoked` event reaches it over the
//! event bus (Redis pub/sub when configured). If the bus misses events (a Redis reconnect), the
//! whole cache is dropped. The TTL bounds staleness when even that fails.

use std::{
    collections::HashMap,
    sync::Mutex,
    time::{Duration, Instant},
};

use chrono::Utc;
use entity::{api_key, membership, refresh_token};
use sea_orm::{
    sea_query::Expr, ColumnTrait, DatabaseConnection, EntityTrait, QueryFilter, QuerySelect,
};
use uuid::Uuid;

use super::{Role, Viewer, ViewerVia};
use crate::{
    error::{AppError, AppResult},
    events::{BusMessage, DomainEvent},
};

/// Entries kept before expired ones are swept.
const SWEEP_AT: usize = 50_000;

/// What the database said about a session or key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Live {
    /// A live session of `user_id` in `org_id` whose membership has `role`.
    Session {
        user_id: Uuid,
        org_id: Uuid,
        role: Role,
    },
    /// A live API key; `role` is already the weaker of the key's and its creator's.
    Key {
        key_id: Uuid,
        creator: Uuid,
        org_id: Uuid,
        role: Role,
    },
    /// Ended, expired, unknown, or the member is gone.
    Dead,
}

#[derive(Debug, Clone, Copy)]
struct Entry {
    checked: Instant,
    live: Live,
    /// For API keys: the key's id, dead or alive (so a reassigned key is forgotten too).
    key_id: Option<Uuid>,
}

/// The per-process cache of session and API-key checks.
pub struct SessionChecks {
    ttl: Duration,
    /// Sessions by family id; API keys by the SHA-256 digest of their secret (as stored).
    sessions: Mutex<HashMap<Uuid, Entry>>,
    keys: Mutex<HashMap<String, Entry>>,
}

fn unauthenticated(message: &str) -> AppError {
    AppError::Unauthenticated(message.into())
}

impl SessionChecks {
    /// A cache whose answers are trusted for `ttl` (zero: ask the database every time).
    pub fn new(ttl: Duration) -> Self {
        SessionChecks {
            ttl,
            sessions: Mutex::new(HashMap::new()),
            keys: Mutex::new(HashMap::new()),
        }
    }

    fn fresh<K: std::hash::Hash + Eq>(
        &self,
        map: &Mutex<HashMap<K, Entry>>,
        k: &K,
    ) -> Option<Live> {
        let map = map.lock().ok()?;
        map.get(k)
            .filter(|e| e.checked.elapsed() < self.ttl)
            .map(|e| e.live)
    }

    fn remember<K: std::hash::Hash + Eq>(
        &self,
        map: &Mutex<HashMap<K, Entry>>,
        k: K,
        live: Live,
        key_id: Option<Uuid>,
    ) {
        if self.ttl.is_zero() {
            return;
        }
        if let Ok(mut map) = map.lock() {
            if map.len() >= SWEEP_AT {
                let ttl = self.ttl;
                map.retain(|_, e| e.checked.elapsed() < ttl);
                if map.len() >= SWEEP_AT {
                    map.clear();
                }
            }
            map.insert(
                k,
                Entry {
                    checked: Instant::now(),
                    live,
                    key_id,
                },
            );
        }
    }

    /// The viewer of a verified access token, if its session is live and unchanged.
    /// UNAUTHENTICATED otherwise: the client refreshes (and gets the current role) or signs in.
    pub async fn check_token(&self, db: &DatabaseConnection, viewer: Viewer) -> AppResult<Viewer> {
        let Some(sid) = viewer.session_id else {
            return Err(unauthenticated("access token without a session"));
        };
        let live = match self.fresh(&self.sessions, &sid) {
            Some(live) => live,
            None => {
                let live = load_session(db, sid).await?;
                self.remember(&self.sessions, sid, live, None);
                live
            }
        };
        match live {
            Live::Session {
                user_id,
                org_id,
                role,
            } if user_id == viewer.user_id && org_id == viewer.org_id => {
                if role == viewer.role {
                    Ok(viewer)
                } else {
                    Err(unauthenticated(
                        "your role in this organization changed; refresh the session",
                    ))
                }
            }
            _ => Err(unauthenticated("the session has ended; sign in again")),
        }
    }

    /// The viewer of an API key, by the digest of its secret (the stored form).
    pub async fn check_key(&self, db: &DatabaseConnection, digest: &str) -> AppResult<Viewer> {
        let live = match self.fresh(&self.keys, &digest.to_string()) {
            Some(live) => live,
            None => {
                let (live, key_id) = load_key(db, KeyBy::Digest(digest)).await?;
                self.remember(&self.keys, digest.to_string(), live, key_id);
                live
            }
        };
        match live {
            Live::Key {
                key_id,
                creator,
                org_id,
                role,
            } => Ok(Viewer {
                user_id: creator,
                org_id,
                role,
                via: ViewerVia::ApiKey,
                session_id: Some(key_id),
            }),
            _ => Err(unauthenticated("invalid API key")),
        }
    }

    /// Forgets one session.
    pub fn forget_session(&self, sid: Uuid) {
        if let Ok(mut m) = self.sessions.lock() {
            m.remove(&sid);
        }
    }

    /// Forgets one API key.
    pub fn forget_key(&self, key_id: Uuid) {
        if let Ok(mut m) = self.keys.lock() {
            m.retain(|_, e| e.key_id != Some(key_id));
        }
    }

    /// Forgets every session of `user_id` and every key they created, in `org_id` (or in every
    /// organization when `None`).
    pub fn forget_user(&self, org_id: Option<Uuid>, user_id: Uuid) {
        let in_org = |o: Uuid| org_id.is_none_or(|x| x == o);
        if let Ok(mut m) = self.sessions.lock() {
            m.retain(|_, e| {
                !matches!(e.live, Live::Session { user_id: u, org_id: o, .. } if u == user_id && in_org(o))
            });
        }
        if let Ok(mut m) = self.keys.lock() {
            m.retain(|_, e| {
                !matches!(e.live, Live::Key { creator: u, org_id: o, .. } if u == user_id && in_org(o))
            });
        }
    }

    /// Forgets everything (the bus may have missed revocations).
    pub fn forget_all(&self) {
        if let Ok(mut m) = self.sessions.lock() {
            m.clear();
        }
        if let Ok(mut m) = self.keys.lock() {
            m.clear();
        }
    }

    /// Applies what a bus message says about access.
    pub fn observe(&self, msg: &BusMessage) {
        match msg {
            BusMessage::Resync => self.forget_all(),
            BusMessage::Event(env) => match &env.event {
                DomainEvent::AccessRevoked(r) => {
                    if let Some(s) = r.session_id {
                        self.forget_session(s);
                    }
                    if let Some(u) = r.user_id {
                        self.forget_user(Some(env.org_id), u);
                    }
                }
                DomainEvent::ApiKeyRevoked(r) => self.forget_key(r.api_key_id),
                _ => {}
            },
        }
    }

    /// Keeps this cache in step with revocations published by any process, until shutdown.
    pub fn spawn_listener(
        checks: std::sync::Arc<SessionChecks>,
        bus: std::sync::Arc<dyn crate::events::EventBus>,
        mut shutdown: tokio::sync::watch::Receiver<bool>,
    ) -> tokio::task::JoinHandle<()> {
        let mut rx = bus.subscribe();
        tokio::spawn(async move {
            loop {
                tokio::select! {
                    _ = shutdown.changed() => break,
                    msg = rx.recv() => match msg {
                        Ok(m) => checks.observe(&m),
                        Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => checks.forget_all(),
                        Err(tokio::sync::broadcast::error::RecvError::Closed) => break,
                    },
                }
            }
        })
    }
}

async fn membership_role(
    db: &DatabaseConnection,
    user_id: Uuid,
    org_id: Uuid,
) -> AppResult<Option<Role>> {
    let role: Option<String> = membership::Entity::find()
        .select_only()
        .column(membership::Column::Role)
        .filter(membership::Column::UserId.eq(user_id))
        .filter(membership::Column::OrgId.eq(org_id))
        .into_tuple()
        .one(db)
        .await?;
    Ok(role.as_deref().and_then(Role::parse))
}

async fn load_session(db: &DatabaseConnection, sid: Uuid) -> AppResult<Live> {
    let row: Option<(Uuid, Uuid)> = refresh_token::Entity::find()
        .select_only()
        .column(refresh_token::Column::UserId)
        .column(refresh_token::Column::OrgId)
        .filter(refresh_token::Column::FamilyId.eq(sid))
        .filter(refresh_token::Column::RevokedAt.is_null())
        .filter(refresh_token::Column::ExpiresAt.gt(Utc::now()))
        .into_tuple()
        .one(db)
        .await?;
    let Some((user_id, org_id)) = row else {
        return Ok(Live::Dead);
    };
    Ok(match membership_role(db, user_id, org_id).await? {
        Some(role) => Live::Session {
            user_id,
            org_id,
            role,
        },
        None => Live::Dead,
    })
}

/// How a key is looked up: by the digest of the presented secret, or by id (live connections).
enum KeyBy<'a> {
    Digest(&'a str),
    Id(Uuid),
}

/// The key's state, and its id when a row was found (dead or alive).
async fn load_key(db: &DatabaseConnection, by: KeyBy<'_>) -> AppResult<(Live, Option<Uuid>)> {
    let now = Utc::now();
    let find = match by {
        KeyBy::Digest(d) => api_key::Entity::find().filter(api_key::Column::KeyHash.eq(d)),
        KeyBy::Id(id) => api_key::Entity::find().filter(api_key::Column::Id.eq(id)),
    };
    let Some(key) = find.one(db).await? else {
        return Ok((Live::Dead, None));
    };
    let id = Some(key.id);
    if key.revoked_at.is_some() || key.expires_at.is_some_and(|e| e <= now) {
        return Ok((Live::Dead, id));
    }
    let Some(key_role) = Role::parse(&key.role) else {
        return Ok((Live::Dead, id));
    };
    let Some(creator_role) = membership_role(db, key.created_by, key.org_id).await? else {
        return Ok((Live::Dead, id));
    };
    // Record use at most once a minute per key: no write on every request.
    if key
        .last_used_at
        .is_none_or(|t| now - t > chrono::Duration::minutes(1))
    {
        api_key::Entity::update_many()
            .col_expr(api_key::Column::LastUsedAt, Expr::value(now))
            .filter(api_key::Column::Id.eq(key.id))
            .exec(db)
            .await?;
    }
    let live = Live::Key {
        key_id: key.id,
        creator: key.created_by,
        org_id: key.org_id,
        role: key_role.min(creator_role),
    };
    Ok((live, id))
}

/// Asks the database, not the cache, whether the credential behind a long-lived connection is
/// still what it was when the connection authenticated: the session or key is live, the member
/// still belongs to the organization, and the role is unchanged.
pub async fn still_valid(db: &DatabaseConnection, viewer: &Viewer) -> AppResult<bool> {
    let Some(id) = viewer.session_id else {
        return Ok(false);
    };
    let live = match viewer.via {
        ViewerVia::Jwt => load_session(db, id).await?,
        ViewerVia::ApiKey => load_key(db, KeyBy::Id(id)).await?.0,
    };
    Ok(match live {
        Live::Session {
            user_id,
            org_id,
            role,
        } => user_id == viewer.user_id && org_id == viewer.org_id && role == viewer.role,
        Live::Key { org_id, role, .. } => org_id == viewer.org_id && role == viewer.role,
        Live::Dead => false,
    })
}
