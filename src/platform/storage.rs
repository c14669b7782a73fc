//! Object storage behind one handle ([`Storage`]) with two real backends, both through the
//! `object_store` crate:
//!
//! - **local** (the embedded default): files under `DATA_DIR/files` (`STORAGE_URL` unset, or
//!   `file:///some/dir`);
//! - **S3-compatible** (`STORAGE_URL=s3://bucket?endpoint=http://127.0.0.1:9000&region=us-east-1`):
//!   requests signed with SigV4, path-style URLs (`endpoint/bucket/key`, what local servers such
//!   as MinIO or moto expect; `virtual_hosted=true` for AWS's bucket-in-host style), plain HTTP
//!   allowed only when the endpoint is `http://`. Credentials come from `AWS_ACCESS_KEY_ID`,
//!   `AWS_SECRET_ACCESS_KEY` (and `AWS_SESSION_TOKEN`); the region from the URL or
//!   `AWS_REGION` (`us-east-1` when neither says).
//!
//! Writes stream: [`Storage::put_reader`] reads its source in 1 MiB chunks, hashes them
//! (SHA-256) and sends them on; objects above 8 MiB go as a multipart upload (5 MiB parts), so
//! an upload is never held whole in memory. Reads stream too ([`Storage::get`], with an optional
//! byte range). A failed request is retried twice at most, within 10 s, so a dead storage server
//! costs a request seconds, not minutes.

use std::{
    ops::Range,
    path::{Path as FsPath, PathBuf},
    sync::Arc,
    time::Duration,
};

use axum::body::Bytes;
use futures::{stream::BoxStream, StreamExt, TryStreamExt};
use object_store::{
    aws::AmazonS3Builder, local::LocalFileSystem, path::Path, ClientOptions, GetOptions, GetRange,
    ObjectStore, ObjectStoreExt, PutPayload, RetryConfig, WriteMultipart,
};
use sha2::{Digest, Sha256};
use tokio::io::{AsyncRead, AsyncReadExt};

/// Objects up to this size go in one PUT; larger ones as a multipart upload.
const SINGLE_PUT_MAX: usize = 8 * 1024 * 1024;
/// Part size of multipart uploads (S3's minimum is 5 MiB).
const PART_SIZE: usize = 5 * 1024 * 1024;
/// Read size of [`Storage::put_reader`].
const READ_CHUNK: usize = 1024 * 1024;

/// Where objects live, from `STORAGE_URL` and the AWS variables.
#[derive(Clone, PartialEq, Eq)]
pub enum StorageConfig {
    /// A directory on this host.
    Local(PathBuf),
    /// An S3-compatible bucket.
    S3(S3Config),
}

/// An S3-compatible bucket and how to reach it.
#[derive(Clone, PartialEq, Eq)]
pub struct S3Config {
    /// Bucket name.
    pub bucket: String,
    /// Endpoint (`http://127.0.0.1:9000`); `None` = AWS's endpoint for the region.
    pub endpoint: Option<String>,
    /// Region (signing scope).
    pub region: String,
    /// `AWS_ACCESS_KEY_ID`.
    pub access_key_id: Option<String>,
    /// `AWS_SECRET_ACCESS_KEY`.
    pub secret_access_key: Option<String>,
    /// `AWS_SESSION_TOKEN`.
    pub session_token: Option<String>,
    /// Bucket in the host name instead of the path.
    pub virtual_hosted: bool,
}

impl std::fmt::Debug for StorageConfig {
    /// Never prints a key.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            StorageConfig::Local(dir) => write!(f, "Local({})", dir.display()),
            StorageConfig::S3(s) => write!(
                f,
                "S3(bucket={}, endpoint={:?}, region={})",
                s.bucket, s.endpoint, s.region
            ),
        }
    }
}

impl StorageConfig {
    /// Reads `STORAGE_URL` (and the AWS variables for `s3://`). Unset = `data_dir/files`.
    pub fn read(
        var: &dyn Fn(&str) -> Option<String>,
        data_dir: &FsPath,
    ) -> Result<StorageConfig, String> {
        let Some(raw) = var("STORAGE_URL") else {
            return Ok(StorageConfig::Local(data_dir.join("files")));
        };
        let url = url::Url::parse(raw.trim())
            .map_err(|e| format!("STORAGE_URL: cannot parse {raw:?}: {e}"))?;
        match url.scheme() {
            "file" => url
                .to_file_path()
                .map(StorageConfig::Local)
                .map_err(|_| format!("STORAGE_URL: {raw:?} is not an absolute file:// path")),
            "s3" => {
                let bucket = url.host_str().unwrap_or("").to_string();
                if bucket.is_empty() {
                    return Err(format!(
                        "STORAGE_URL: {raw:?} names no bucket (s3://bucket)"
                    ));
                }
                let q = |k: &str| {
                    url.query_pairs()
                        .find(|(key, _)| key == k)
                        .map(|(_, v)| v.into_owned())
                };
                let endpoint = q("endpoint").map(|e| e.trim_end_matches('/').to_string());
                if let Some(e) = &endpoint {
                    url::Url::parse(e)
                        .map_err(|err| format!("STORAGE_URL: endpoint {e:?}: {err}"))?;
                }
                Ok(StorageConfig::S3(S3Config {
                    bucket,
                    endpoint,
                    region: q("region")
                        .or_else(|| var("AWS_REGION"))
                        .unwrap_or_else(|| "us-east-1".into()),
                    access_key_id: var("AWS_ACCESS_KEY_ID"),
                    secret_access_key: var("AWS_SECRET_ACCESS_KEY"),
                    session_token: var("AWS_SESSION_TOKEN"),
                    virtual_hosted: q("virtual_hosted").as_deref() == Some("true"),
                }))
            }
            other => Err(format!(
                "STORAGE_URL: unknown scheme {other}: (file:// or s3://)"
            )),
        }
    }
}

/// A storage failure (logged by the caller; clients see INTERNAL or 503).
#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    /// The object does not exist.
    #[error("object not found")]
    NotFound,
    /// Reading the source of an upload failed.
    #[error("reading the upload: {0}")]
    Source(#[from] std::io::Error),
    /// The backend failed.
    #[error("object storage: {0}")]
    Backend(object_store::Error),
}

impl From<object_store::Error> for StorageError {
    fn from(e: object_store::Error) -> Self {
        match e {
            object_store::Error::NotFound { .. } => StorageError::NotFound,
            e => StorageError::Backend(e),
        }
    }
}

/// What [`Storage::put_reader`] stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stored {
    /// Bytes written.
    pub size: u64,
    /// Lower-case hex SHA-256 of the bytes.
    pub sha256: String,
}

/// An object being read: the byte range served and the object's total size.
pub struct ObjectRead {
    /// The bytes of `range`, as they arrive.
    pub stream: BoxStream<'static, Result<Bytes, StorageError>>,
    /// The range served (the whole object when none was asked).
    pub range: Range<u64>,
    /// The object's size.
    pub size: u64,
}

/// The object store of this deployment (cheap to clone).
#[derive(Clone, Debug)]
pub struct Storage {
    store: Arc<dyn ObjectStore>,
    backend: &'static str,
}

impl Storage {
    /// Opens the configured backend (creates the local directory).
    pub fn open(config: &StorageConfig) -> Result<Storage, String> {
        match config {
            StorageConfig::Local(dir) => {
                std::fs::create_dir_all(dir)
                    .map_err(|e| format!("storage directory {}: {e}", dir.display()))?;
                let fs = LocalFileSystem::new_with_prefix(dir).map_err(|e| e.to_string())?;
                Ok(Storage {
                    store: Arc::new(fs.with_automatic_cleanup(true)),
                    backend: "local",
                })
            }
            StorageConfig::S3(s) => Ok(Storage {
                store: Arc::new(s3_builder(s).build().map_err(|e| e.to_string())?),
                backend: "s3",
            }),
        }
    }

    /// `local` or `s3`.
    pub fn backend(&self) -> &'static str {
        self.backend
    }

    /// Streams `source` to `key` and returns its size and SHA-256. On any failure nothing is
    /// left under `key` (a multipart upload is aborted).
    pub async fn put_reader(
        &self,
        key: &str,
        source: &mut (impl AsyncRead + Unpin),
    ) -> Result<Stored, StorageError> {
        let path = Path::from(key);
        let mut hasher = Sha256::new();
        let mut size = 0u64;
        let mut head = Vec::new();
        // The first SINGLE_PUT_MAX bytes decide: one PUT, or a multipart upload.
        while head.len() <= SINGLE_PUT_MAX {
            let n = read_chunk(source, &mut head).await?;
            if n == 0 {
                hasher.update(&head);
                size += head.len() as u64;
                self.store.put(&path, PutPayload::from(head)).await?;
                return Ok(stored(size, hasher));
            }
        }
        let upload = self.store.put_multipart(&path).await?;
        let mut writer = WriteMultipart::new_with_chunk_size(upload, PART_SIZE);
        let mut pending = head;
        let result: Result<(), StorageError> = async {
            loop {
                hasher.update(&pending);
                size += pending.len() as u64;
                writer.write(&pending);
                writer.wait_for_capacity(4).await?;
                pending.clear();
                if read_chunk(source, &mut pending).await? == 0 {
                    return Ok(());
                }
            }
        }
        .await;
        match result {
            Ok(()) => {
                writer.finish().await?;
                Ok(stored(size, hasher))
            }
            Err(e) => {
                if let Err(abort) = writer.abort().await {
                    tracing::warn!(error = %abort, key, "aborting a multipart upload failed");
                }
                Err(e)
            }
        }
    }

    /// Reads `key`, whole or the bytes of `range` (end exclusive, within the object).
    pub async fn get(
        &self,
        key: &str,
        range: Option<Range<u64>>,
    ) -> Result<ObjectRead, StorageError> {
        let options = GetOptions {
            range: range.map(GetRange::Bounded),
            ..GetOptions::default()
        };
        let got = self.store.get_opts(&Path::from(key), options).await?;
        let size = got.meta.size;
        let range = got.range.clone();
        let stream = got.into_stream().map_err(StorageError::from).boxed();
        Ok(ObjectRead {
            stream,
            range,
            size,
        })
    }

    /// Whether an object is stored under `key` (a PUT is atomic on both backends: an object
    /// that exists is whole).
    pub async fn exists(&self, key: &str) -> Result<bool, StorageError> {
        match self.store.head(&Path::from(key)).await {
            Ok(_) => Ok(true),
            Err(object_store::Error::NotFound { .. }) => Ok(false),
            Err(e) => Err(e.into()),
        }
    }

    /// Deletes `key`; a missing object is not an error.
    pub async fn delete(&self, key: &str) -> Result<(), StorageError> {
        match self.store.delete(&Path::from(key)).await {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(e) => Err(e.into()),
        }
    }

    /// The keys under `prefix` (all of them when empty), sorted.
    pub async fn keys(&self, prefix: &str) -> Result<Vec<String>, StorageError> {
        let prefix = (!prefix.is_empty()).then(|| Path::from(prefix));
        let mut keys: Vec<String> = self
            .store
            .list(prefix.as_ref())
            .map_ok(|m| m.location.to_string())
            .try_collect()
            .await?;
        keys.sort();
        Ok(keys)
    }
}

fn s3_builder(s: &S3Config) -> AmazonS3Builder {
    let mut b = AmazonS3Builder::new()
        .with_bucket_name(&s.bucket)
        .with_region(&s.region)
        .with_virtual_hosted_style_request(s.virtual_hosted)
        .with_retry(RetryConfig {
            max_retries: 2,
            retry_timeout: Duration::from_secs(10),
            ..RetryConfig::default()
        })
        .with_client_options(
            ClientOptions::new()
                .with_connect_timeout(Duration::from_secs(5))
                .with_timeout(Duration::from_secs(120)),
        );
    if let Some(e) = &s.endpoint {
        b = b.with_endpoint(e).with_allow_http(e.starts_with("http://"));
    }
    if let Some(k) = &s.access_key_id {
        b = b.with_access_key_id(k);
    }
    if let Some(k) = &s.secret_access_key {
        b = b.with_secret_access_key(k);
    }
    if let Some(t) = &s.session_token {
        b = b.with_token(t);
    }
    b
}

/// Appends up to [`READ_CHUNK`] bytes of `source` to `buf`; 0 at the end.
async fn read_chunk(
    source: &mut (impl AsyncRead + Unpin),
    buf: &mut Vec<u8>,
) -> Result<usize, std::io::Error> {
    let start = buf.len();
    buf.resize(start + READ_CHUNK, 0);
    let mut filled = start;
    while filled < buf.len() {
        match source.read(&mut buf[filled..]).await {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(e) => {
                buf.truncate(start);
                return Err(e);
            }
        }
    }
    buf.truncate(filled);
    Ok(filled - start)
}

fn stored(size: u64, hasher: Sha256) -> Stored {
    Stored {
        size,
        sha256: hex::encode(hasher.finalize()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg(pairs: &[(&str, &str)]) -> Result<StorageConfig, String> {
        let map: std::collections::HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        StorageConfig::read(&|k| map.get(k).cloned(), FsPath::new("/data"))
    }

    #[test]
    fn storage_url_selects_the_backend() {
        assert_eq!(cfg(&[]), Ok(StorageConfig::Local("/data/files".into())));
        assert_eq!(
            cfg(&[("STORAGE_URL", "file:///srv/objects")]),
            Ok(StorageConfig::Local("/srv/objects".into()))
        );
        let s3 = cfg(&[
            (
                "STORAGE_URL",
                "s3://assets?endpoint=http://127.0.0.1:9000/&region=eu-west-1",
            ),
            ("AWS_ACCESS_KEY_ID", "k"),
            ("AWS_SECRET_ACCESS_KEY", "very-secret"),
        ]);
        let Ok(StorageConfig::S3(s)) = s3 else {
            panic!("{s3:?}")
        };
        assert_eq!(s.bucket, "assets");
        assert_eq!(s.endpoint.as_deref(), Some("http://127.0.0.1:9000"));
        assert_eq!(s.region, "eu-west-1");
        assert_eq!(s.access_key_id.as_deref(), Some("k"));
        assert!(!s.virtual_hosted);
        assert!(!format!("{:?}", StorageConfig::S3(s)).contains("very-secret"));
        assert!(cfg(&[("STORAGE_URL", "s3://?region=x")]).is_err());
        assert!(cfg(&[("STORAGE_URL", "ftp://x/y")]).is_err());
    }

    #[tokio::test]
    async fn local_objects_stream_in_and_out_with_ranges() {
        let dir = std::env::temp_dir().join(format!("lg-storage-{}", uuid::Uuid::now_v7()));
        let storage = Storage::open(&StorageConfig::Local(dir.clone())).unwrap();
        // Larger than one PUT: goes as a multipart upload.
        let data: Vec<u8> = (0..(SINGLE_PUT_MAX + 3 * READ_CHUNK + 7))
            .map(|i| (i % 251) as u8)
            .collect();
        let stored = storage
            .put_reader("a/b", &mut data.as_slice())
            .await
            .unwrap();
        assert_eq!(stored.size, data.len() as u64);
        assert_eq!(stored.sha256, hex::encode(Sha256::digest(&data)));
        let read = storage.get("a/b", Some(10..20)).await.unwrap();
        assert_eq!((read.range.clone(), read.size), (10..20, data.len() as u64));
        let got: Vec<Bytes> = read.stream.try_collect().await.unwrap();
        assert_eq!(got.concat(), data[10..20]);
        storage.put_reader("a/c", &mut &b"xy"[..]).await.unwrap();
        assert!(storage.exists("a/c").await.unwrap());
        assert!(!storage.exists("a/d").await.unwrap());
        assert_eq!(storage.keys("a").await.unwrap(), ["a/b", "a/c"]);
        storage.delete("a/b").await.unwrap();
        storage.delete("a/b").await.unwrap();
        assert!(matches!(
            storage.get("a/b", None).await.err(),
            Some(StorageError::NotFound)
        ));
        std::fs::remove_dir_all(dir).ok();
    }
}
