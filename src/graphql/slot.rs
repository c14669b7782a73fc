//! Field slots: a field of a lower domain's object whose items a higher domain provides.
//!
//! The dependency rule lets a domain import only lower domains, yet some objects show data a
//! higher domain owns: `Lead.campaigns` (outreach) and `Lead.analysis` (ai) are fields of the
//! leads domain's `Lead`. The lower domain declares a *slot*, a marker type implementing
//! [`Slot`] (the GraphQL name of the field's item type and a `static` [`SlotCell`]), and its
//! field returns [`Contributed<S>`] items taken from a page-wide [`SlotBatch<S>`]. The higher
//! domain implements [`SlotSource`] (the item type, the permission check and a batch loader:
//! keys → items per key) and registers it with [`Slot::provide`] from its `register_*`
//! function. The high layer calls those before any schema is built (`graphql::roots::
//! register_slots`, run by every schema builder: the server, `export-schema`, tests).
//! Registration is idempotent: the first source registered for a slot stays, so building many
//! applications in one process (the tests) is fine.
//!
//! `Contributed<S>` implements `OutputType` by delegating to the registered type: its type
//! info is `<T as OutputType>::create_type_info` of the source's item type `T`, and it resolves
//! through a boxed `T::resolve`; the SDL and the answers are those of `T` itself. The batch is
//! loaded once per page (one statement for all the page's keys, as the other page-wide loaders).

use std::{
    borrow::Cow,
    collections::HashMap,
    marker::PhantomData,
    sync::{Arc, OnceLock},
};

use async_graphql::{
    parser::types::Field, registry::Registry, Context, ContextSelectionSet, OutputType, Positioned,
    ServerResult, Value,
};
use futures::future::BoxFuture;
use tokio::sync::OnceCell;
use uuid::Uuid;

use super::ContextExt;
use crate::{
    error::{AppError, AppResult},
    state::AppState,
};

/// Items per key (e.g. per lead id), in the order the field shows them.
pub type PerKey<T> = HashMap<Uuid, Vec<T>>;

/// What a higher domain registers for a slot: the items' type, who may see them and how to
/// load them for a whole page.
pub trait SlotSource: Send + Sync + 'static {
    /// The field's item type; its GraphQL name must be the slot's [`Slot::TYPE_NAME`].
    type Item: OutputType + 'static;

    /// Checked every time the field resolves (permissions); an error is the field's error.
    fn check(&self, ctx: &Context<'_>) -> AppResult<()>;

    /// The items of every key in `keys`, in one batch.
    fn load<'a>(
        &'a self,
        state: &'a AppState,
        keys: &'a [Uuid],
    ) -> BoxFuture<'a, AppResult<PerKey<Self::Item>>>;
}

/// A resolved item of some registered type.
trait ErasedItem: Send + Sync {
    fn resolve<'a, 'b>(
        &'a self,
        ctx: &'a ContextSelectionSet<'b>,
        field: &'a Positioned<Field>,
    ) -> BoxFuture<'a, ServerResult<Value>>;
}

impl<T: OutputType> ErasedItem for T {
    fn resolve<'a, 'b>(
        &'a self,
        ctx: &'a ContextSelectionSet<'b>,
        field: &'a Positioned<Field>,
    ) -> BoxFuture<'a, ServerResult<Value>> {
        Box::pin(<T as OutputType>::resolve(self, ctx, field))
    }
}

type Erased = Arc<dyn ErasedItem>;

/// A registered source with its item type erased.
trait ErasedSource: Send + Sync {
    fn type_info(&self, registry: &mut Registry) -> String;
    fn check(&self, ctx: &Context<'_>) -> AppResult<()>;
    fn load<'a>(
        &'a self,
        state: &'a AppState,
        keys: &'a [Uuid],
    ) -> BoxFuture<'a, AppResult<PerKey<Erased>>>;
}

impl<S: SlotSource> ErasedSource for S {
    fn type_info(&self, registry: &mut Registry) -> String {
        <S::Item as OutputType>::create_type_info(registry)
    }

    fn check(&self, ctx: &Context<'_>) -> AppResult<()> {
        SlotSource::check(self, ctx)
    }

    fn load<'a>(
        &'a self,
        state: &'a AppState,
        keys: &'a [Uuid],
    ) -> BoxFuture<'a, AppResult<PerKey<Erased>>> {
        Box::pin(async move {
            let items = SlotSource::load(self, state, keys).await?;
            Ok(items
                .into_iter()
                .map(|(key, list)| {
                    let list = list.into_iter().map(|i| Arc::new(i) as Erased).collect();
                    (key, list)
                })
                .collect())
        })
    }
}

/// Where a slot's source is kept: one `static` per slot, in the declaring domain.
pub struct SlotCell(OnceLock<Box<dyn ErasedSource>>);

impl SlotCell {
    /// An empty cell.
    pub const fn new() -> Self {
        SlotCell(OnceLock::new())
    }
}

impl Default for SlotCell {
    fn default() -> Self {
        Self::new()
    }
}

/// A field slot, declared by the lower domain (a marker type).
pub trait Slot: Send + Sync + 'static {
    /// The GraphQL name of the field's item type.
    const TYPE_NAME: &'static str;

    /// The slot's cell.
    fn cell() -> &'static SlotCell;

    /// Registers the slot's source; the first registration stays (idempotent), and a source
    /// whose item type has another GraphQL name is refused (logged).
    fn provide<Src: SlotSource>(source: Src) {
        let name = <Src::Item as OutputType>::type_name();
        if name != Self::TYPE_NAME {
            tracing::error!(slot = Self::TYPE_NAME, %name, "slot source of another type ignored");
            return;
        }
        Self::cell().0.get_or_init(|| Box::new(source));
    }

    /// Whether a source is registered.
    fn is_provided() -> bool {
        Self::cell().0.get().is_some()
    }
}

/// One item of slot `S`: GraphQL-wise, a value of the registered item type.
pub struct Contributed<S: Slot>(Erased, PhantomData<fn() -> S>);

impl<S: Slot> Clone for Contributed<S> {
    fn clone(&self) -> Self {
        Contributed(self.0.clone(), PhantomData)
    }
}

impl<S: Slot> OutputType for Contributed<S> {
    fn type_name() -> Cow<'static, str> {
        Cow::Borrowed(S::TYPE_NAME)
    }

    fn create_type_info(registry: &mut Registry) -> String {
        match S::cell().0.get() {
            Some(source) => source.type_info(registry),
            None => {
                // A schema built before `graphql::roots::register_slots`: the SDL test fails.
                tracing::error!(slot = S::TYPE_NAME, "no source registered for the slot");
                S::TYPE_NAME.to_string()
            }
        }
    }

    async fn resolve(
        &self,
        ctx: &ContextSelectionSet<'_>,
        field: &Positioned<Field>,
    ) -> ServerResult<Value> {
        self.0.resolve(ctx, field).await
    }
}

/// A page's items of slot `S`, loaded once for all the page's keys on first use.
pub struct SlotBatch<S: Slot>(OnceCell<PerKey<Contributed<S>>>);

impl<S: Slot> Default for SlotBatch<S> {
    fn default() -> Self {
        SlotBatch(OnceCell::new())
    }
}

impl<S: Slot> SlotBatch<S> {
    /// The items of `key`: checks the source's permission, then loads the items of every key
    /// in `keys` (once per page).
    pub async fn get(
        &self,
        ctx: &Context<'_>,
        keys: &[Uuid],
        key: Uuid,
    ) -> AppResult<Vec<Contributed<S>>> {
        let source = S::cell()
            .0
            .get()
            .ok_or_else(|| AppError::internal(format!("no source for slot {}", S::TYPE_NAME)))?;
        source.check(ctx)?;
        let state = ctx.state()?;
        let all = self
            .0
            .get_or_try_init(|| async {
                let loaded = source.load(state, keys).await?;
                Ok::<_, AppError>(
                    loaded
                        .into_iter()
                        .map(|(k, list)| {
                            let list = list
                                .into_iter()
                                .map(|i| Contributed(i, PhantomData))
                                .collect();
                            (k, list)
                        })
                        .collect(),
                )
            })
            .await?;
        Ok(all.get(&key).cloned().unwrap_or_default())
    }
}
