//! [`S3BlobStore`]: recordings and transcripts in a private S3 bucket.
//!
//! - The bucket is private (the template blocks public access and refuses
//!   plain HTTP); every object is written with server-side encryption
//!   ([`Encryption`]), whatever the bucket's default says.
//! - Keys are the `/`-separated keys the use cases choose, by campaign and
//!   call: `recordings/<campaign>/<call>/<channel>.wav`,
//!   `transcripts/<campaign>/<call>.json`. The template's lifecycle rules
//!   expire each prefix after the retention the compliance policy sets.
//! - Playback goes through presigned GET URLs that expire after the
//!   requested time, capped at [`S3BlobStore::max_presign`] (15 minutes
//!   unless configured).
//! - Lead files are uploaded by clients to presigned PUT URLs (same cap)
//!   under `imports/`. The URL signs no encryption header, so that a plain
//!   `curl -T` works: those objects get the bucket's default encryption
//!   (the template sets it); the import job reads them by ranges.

use std::path::Path;
use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_s3::Client;
use aws_sdk_s3::presigning::PresigningConfig;
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::ServerSideEncryption;
use voxdial_domain::{BlobError, BlobStore};

/// How objects are encrypted at rest.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Encryption {
    /// SSE-S3 (AES-256, keys managed by S3).
    S3Managed,
    /// SSE-KMS with this key (id, ARN or alias).
    Kms(String),
}

/// Recordings and transcripts in S3.
#[derive(Clone, Debug)]
pub struct S3BlobStore {
    client: Client,
    bucket: String,
    encryption: Encryption,
    max_presign: Duration,
}

fn unavailable(message: &str, source: impl std::error::Error + Send + Sync + 'static) -> BlobError {
    BlobError::Unavailable {
        message: message.to_string(),
        source: Box::new(source),
    }
}

/// Checks a key: not empty, not absolute, no empty, `.` or `..` segment.
pub fn validate_key(key: &str) -> Result<(), BlobError> {
    let ok = !key.is_empty()
        && key
            .split('/')
            .all(|segment| !segment.is_empty() && segment != "." && segment != "..");
    if ok {
        Ok(())
    } else {
        Err(BlobError::InvalidKey(key.to_string()))
    }
}

impl S3BlobStore {
    /// The bucket `bucket`, SSE-S3, presigned URLs of at most 15 minutes.
    pub fn new(client: Client, bucket: impl Into<String>) -> S3BlobStore {
        S3BlobStore {
            client,
            bucket: bucket.into(),
            encryption: Encryption::S3Managed,
            max_presign: Duration::from_secs(15 * 60),
        }
    }

    /// Encrypts with `encryption` instead.
    pub fn with_encryption(mut self, encryption: Encryption) -> S3BlobStore {
        self.encryption = encryption;
        self
    }

    /// Caps presigned URLs at `max` instead.
    pub fn with_max_presign(mut self, max: Duration) -> S3BlobStore {
        self.max_presign = max;
        self
    }

    /// The longest a presigned URL lives.
    pub fn max_presign(&self) -> Duration {
        self.max_presign
    }
}

impl S3BlobStore {
    /// Writes `body` at `key` with the store's encryption.
    async fn put_body(
        &self,
        key: &str,
        body: ByteStream,
        content_type: &str,
    ) -> Result<(), BlobError> {
        let request = self
            .client
            .put_object()
            .bucket(&self.bucket)
            .key(key)
            .content_type(content_type)
            .body(body);
        let request = match &self.encryption {
            Encryption::S3Managed => request.server_side_encryption(ServerSideEncryption::Aes256),
            Encryption::Kms(key_id) => request
                .server_side_encryption(ServerSideEncryption::AwsKms)
                .ssekms_key_id(key_id),
        };
        request
            .send()
            .await
            .map_err(|e| unavailable("cannot write a blob", e))?;
        Ok(())
    }

    /// Whether `key` has a current version, and the ids of all its
    /// versions and delete markers (`null` in an unversioned bucket).
    async fn versions(&self, key: &str) -> Result<(bool, Vec<String>), BlobError> {
        let (mut current, mut ids) = (false, Vec::new());
        let (mut key_marker, mut version_marker) = (None, None);
        loop {
            let output = self
                .client
                .list_object_versions()
                .bucket(&self.bucket)
                .prefix(key)
                .set_key_marker(key_marker.take())
                .set_version_id_marker(version_marker.take())
                .send()
                .await
                .map_err(|e| unavailable("cannot list a blob's versions", e))?;
            for version in output.versions().iter().filter(|v| v.key() == Some(key)) {
                current |= version.is_latest() == Some(true);
                ids.extend(version.version_id().map(str::to_string));
            }
            let markers = output.delete_markers().iter();
            ids.extend(
                markers
                    .filter(|m| m.key() == Some(key))
                    .filter_map(|m| m.version_id().map(str::to_string)),
            );
            if output.is_truncated() != Some(true) {
                return Ok((current, ids));
            }
            key_marker = output.next_key_marker().map(str::to_string);
            version_marker = output.next_version_id_marker().map(str::to_string);
        }
    }
}

#[async_trait]
impl BlobStore for S3BlobStore {
    async fn put(&self, key: &str, data: Vec<u8>, content_type: &str) -> Result<(), BlobError> {
        validate_key(key)?;
        self.put_body(key, ByteStream::from(data), content_type)
            .await
    }

    async fn put_file(&self, key: &str, path: &Path, content_type: &str) -> Result<(), BlobError> {
        validate_key(key)?;
        // Read in chunks as the request is sent, its length known up front
        // (one PUT: objects up to 5 GB, hours of recording).
        let body = ByteStream::from_path(path)
            .await
            .map_err(|e| unavailable("cannot read a file to store", e))?;
        self.put_body(key, body, content_type).await
    }

    async fn get(&self, key: &str) -> Result<Option<Vec<u8>>, BlobError> {
        validate_key(key)?;
        let output = match self
            .client
            .get_object()
            .bucket(&self.bucket)
            .key(key)
            .send()
            .await
        {
            Ok(output) => output,
            Err(e) => {
                let e = e.into_service_error();
                return if e.is_no_such_key() {
                    Ok(None)
                } else {
                    Err(unavailable("cannot read a blob", e))
                };
            }
        };
        let data = output
            .body
            .collect()
            .await
            .map_err(|e| unavailable("cannot read a blob's body", e))?;
        Ok(Some(data.into_bytes().to_vec()))
    }

    async fn delete(&self, key: &str) -> Result<bool, BlobError> {
        validate_key(key)?;
        // The bucket is versioned: deleting the key would only add a delete
        // marker and keep every byte as noncurrent versions. Erasure
        // deletes each version (and marker) of the key, by version id.
        let (existed, versions) = self.versions(key).await?;
        for version in versions {
            self.client
                .delete_object()
                .bucket(&self.bucket)
                .key(key)
                .version_id(version)
                .send()
                .await
                .map_err(|e| unavailable("cannot delete a blob version", e))?;
        }
        Ok(existed)
    }

    async fn list(&self, prefix: &str) -> Result<Vec<String>, BlobError> {
        let mut keys = Vec::new();
        let mut token: Option<String> = None;
        loop {
            let output = self
                .client
                .list_objects_v2()
                .bucket(&self.bucket)
                .prefix(prefix)
                .set_continuation_token(token.take())
                .send()
                .await
                .map_err(|e| unavailable("cannot list blobs", e))?;
            keys.extend(
                output
                    .contents()
                    .iter()
                    .filter_map(|object| object.key().map(str::to_string)),
            );
            match output.next_continuation_token() {
                Some(next) if output.is_truncated() == Some(true) => token = Some(next.to_string()),
                _ => break,
            }
        }
        keys.sort();
        Ok(keys)
    }

    async fn presign_get(&self, key: &str, ttl: Duration) -> Result<String, BlobError> {
        validate_key(key)?;
        let config = PresigningConfig::expires_in(ttl.min(self.max_presign))
            .map_err(|e| unavailable("invalid presigning expiry", e))?;
        let request = self
            .client
            .get_object()
            .bucket(&self.bucket)
            .key(key)
            .presigned(config)
            .await
            .map_err(|e| unavailable("cannot presign a blob URL", e))?;
        Ok(request.uri().to_string())
    }

    async fn presign_put(&self, key: &str, ttl: Duration) -> Result<String, BlobError> {
        validate_key(key)?;
        let config = PresigningConfig::expires_in(ttl.min(self.max_presign))
            .map_err(|e| unavailable("invalid presigning expiry", e))?;
        let request = self
            .client
            .put_object()
            .bucket(&self.bucket)
            .key(key)
            .presigned(config)
            .await
            .map_err(|e| unavailable("cannot presign an upload URL", e))?;
        Ok(request.uri().to_string())
    }

    async fn get_range(
        &self,
        key: &str,
        start: u64,
        len: u64,
    ) -> Result<Option<Vec<u8>>, BlobError> {
        use aws_sdk_s3::error::ProvideErrorMetadata;
        validate_key(key)?;
        if len == 0 {
            return Ok(self.get_range(key, start, 1).await?.map(|_| Vec::new()));
        }
        let range = format!("bytes={start}-{}", start.saturating_add(len - 1));
        let request = self.client.get_object().bucket(&self.bucket).key(key);
        let output = match request.range(range).send().await {
            Ok(output) => output,
            Err(e) => {
                let e = e.into_service_error();
                return if e.is_no_such_key() {
                    Ok(None)
                } else if e.code() == Some("InvalidRange") {
                    // At or past the end (or an empty object).
                    Ok(Some(Vec::new()))
                } else {
                    Err(unavailable("cannot read a blob", e))
                };
            }
        };
        let data = output
            .body
            .collect()
            .await
            .map_err(|e| unavailable("cannot read a blob's body", e))?;
        Ok(Some(data.into_bytes().to_vec()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_checked() {
        for bad in ["", "/a", "a//b", "a/./b", "a/../b", "a/", ".."] {
            assert!(validate_key(bad).is_err(), "{bad:?}");
        }
        assert!(validate_key("recordings/c1/k1/caller.wav").is_ok());
    }
}
