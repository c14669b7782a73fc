//! The files root objects: `FilesQuery` and `FilesMutation`.

use async_graphql::{Context, Object, ID};

use super::{
    service as files,
    types::{FileFilter, StorageUsage, StoredFile, UploadFileInput, UploadFilesInput},
};
use crate::{
    auth::Permission,
    domains::audit::note_ref as note,
    error::{AppError, AppResult},
    graphql::{
        pagination::{IdConnection, PageArgs},
        ContextExt,
    },
    ids::parse_id,
};

/// Validity of a download link when `expiresInSeconds` is not given: one hour.
const DEFAULT_EXPIRY_SECS: i64 = 3600;

/// Files queries.
#[derive(Default)]
pub struct FilesQuery;

#[Object]
impl FilesQuery {
    /// The organization's files, newest first.
    async fn files(
        &self,
        ctx: &Context<'_>,
        filter: Option<FileFilter>,
        first: Option<i32>,
        after: Option<String>,
        last: Option<i32>,
        before: Option<String>,
    ) -> AppResult<IdConnection<StoredFile>> {
        let (state, viewer) = ctx.state_and_viewer()?;
        let args = PageArgs::new(first, after, last, before)?;
        files::list(state, viewer, &filter.unwrap_or_default(), args).await
    }

    /// One file; null when it does not exist in the viewer's organization.
    async fn file(&self, ctx: &Context<'_>, id: ID) -> AppResult<Option<StoredFile>> {
        let (state, viewer) = ctx.state_and_viewer()?;
        viewer.require(Permission::ReadFiles)?;
        let Ok(id) = parse_id(&id) else {
            return Ok(None);
        };
        match files::get(&state.db, viewer, id).await {
            Ok(m) => Ok(Some(m.into())),
            Err(AppError::NotFound(_)) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// The organization's storage: bytes used (identical files count once), its limit and its
    /// number of files.
    async fn storage_usage(&self, ctx: &Context<'_>) -> AppResult<StorageUsage> {
        let (state, viewer) = ctx.state_and_viewer()?;
        files::quota::usage(state, viewer).await
    }

    /// A signed URL that downloads the file (HTTP Range supported) until it expires
    /// (`expiresInSeconds`: 1 s to 7 days, one hour by default). Anyone holding it may use it.
    async fn file_download_url(
        &self,
        ctx: &Context<'_>,
        id: ID,
        expires_in_seconds: Option<i64>,
    ) -> AppResult<String> {
        let (state, viewer) = ctx.state_and_viewer()?;
        let id = parse_id(&id).map_err(|_| AppError::NotFound("file"))?;
        let secs = expires_in_seconds.unwrap_or(DEFAULT_EXPIRY_SECS);
        files::download_url(state, viewer, id, secs).await
    }
}

/// Files mutations.
#[derive(Default)]
pub struct FilesMutation;

#[Object]
impl FilesMutation {
    /// Uploads a file (a GraphQL multipart request). The content is checked before anything
    /// is stored: its type, found from its bytes, must be one the kind allows and agree with
    /// the name's extension, and its size within the kind's limit. New bytes must fit in the
    /// organization's storage quota (QUOTA_EXCEEDED with `used` and `limit` otherwise).
    async fn upload_file(
        &self,
        ctx: &Context<'_>,
        input: UploadFileInput,
    ) -> AppResult<StoredFile> {
        let (state, viewer) = ctx.state_and_viewer()?;
        viewer.require(Permission::WriteFiles)?;
        let upload = input
            .file
            .value(ctx)
            .map_err(|_| AppError::invalid("input.file", "missing upload"))?;
        let m = files::store::upload(state, viewer, input.kind, upload).await?;
        note(ctx, "file", m.id);
        Ok(m.into())
    }

    /// Uploads 1 to 10 files of one kind (a GraphQL multipart request; the deployment's
    /// `MAX_UPLOAD_FILES` also caps a request), all or nothing: each is checked as `uploadFile`
    /// checks one, and one refused file (BAD_USER_INPUT on `input.files.{index}`) stores none.
    /// Returns the files in the order given.
    async fn upload_files(
        &self,
        ctx: &Context<'_>,
        input: UploadFilesInput,
    ) -> AppResult<Vec<StoredFile>> {
        let (state, viewer) = ctx.state_and_viewer()?;
        viewer.require(Permission::WriteFiles)?;
        let mut uploads = Vec::with_capacity(input.files.len());
        for (i, f) in input.files.iter().enumerate() {
            uploads
                .push(f.value(ctx).map_err(|_| {
                    AppError::invalid(format!("input.files.{i}"), "missing upload")
                })?);
        }
        let saved = files::store::upload_many(state, viewer, input.kind, uploads).await?;
        for m in &saved {
            note(ctx, "file", m.id);
        }
        Ok(saved.into_iter().map(StoredFile::from).collect())
    }

    /// Deletes a file (one's own; MANAGER and up: anyone's); returns its id. Its download
    /// links stop working. CONFLICT while an unfinished import job reads it, unless `force`
    /// (the job then fails). The bytes stay stored while another file has the same content.
    async fn delete_file(&self, ctx: &Context<'_>, id: ID, force: Option<bool>) -> AppResult<ID> {
        let (state, viewer) = ctx.state_and_viewer()?;
        let uuid = parse_id(&id).map_err(|_| AppError::NotFound("file"))?;
        files::delete(state, viewer, uuid, force.unwrap_or(false)).await?;
        note(ctx, "file", uuid);
        Ok(id)
    }
}
