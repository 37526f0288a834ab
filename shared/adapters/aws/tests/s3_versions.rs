//! Erasure on a versioned bucket (as the template deploys it): deleting a
//! blob deletes every version of its key, so no audio survives as a
//! noncurrent version, and leaves the keys beside it alone.

use voxdial_aws::S3BlobStore;
use voxdial_aws::testing::{Emulator, unique};
use voxdial_domain::BlobStore;

/// A fresh bucket with versioning on.
async fn versioned_bucket(s3: &aws_sdk_s3::Client) -> String {
    let bucket = unique("versioned");
    s3.create_bucket()
        .bucket(&bucket)
        .send()
        .await
        .expect("a bucket");
    let enabled = aws_sdk_s3::types::VersioningConfiguration::builder()
        .status(aws_sdk_s3::types::BucketVersioningStatus::Enabled)
        .build();
    s3.put_bucket_versioning()
        .bucket(&bucket)
        .versioning_configuration(enabled)
        .send()
        .await
        .expect("versioning");
    bucket
}

/// Every version and delete marker of `key` (exact key) in `bucket`.
async fn versions_of(s3: &aws_sdk_s3::Client, bucket: &str, key: &str) -> usize {
    let output = s3
        .list_object_versions()
        .bucket(bucket)
        .prefix(key)
        .send()
        .await
        .expect("the versions");
    let versions = output.versions().iter().filter(|v| v.key() == Some(key));
    let markers = output
        .delete_markers()
        .iter()
        .filter(|m| m.key() == Some(key));
    versions.count() + markers.count()
}

#[tokio::test]
async fn deleting_a_blob_deletes_every_version_of_it() {
    // GIVEN a versioned bucket with a recording written twice (two
    // versions) and a recording whose key extends it
    let moto = Emulator::get();
    let clients = moto.clients(None);
    let bucket = versioned_bucket(&clients.s3).await;
    let blobs = S3BlobStore::new(clients.s3.clone(), &bucket);
    let key = "recordings/cmp_1/call_1/caller.wav";
    let sibling = "recordings/cmp_1/call_1/caller.wav.bak";
    blobs
        .put(key, b"first take".to_vec(), "audio/wav")
        .await
        .unwrap();
    blobs
        .put(key, b"second take".to_vec(), "audio/wav")
        .await
        .unwrap();
    blobs
        .put(sibling, b"other".to_vec(), "audio/wav")
        .await
        .unwrap();
    assert_eq!(versions_of(&clients.s3, &bucket, key).await, 2);

    // WHEN the blob is deleted (erasure, retention)
    assert!(blobs.delete(key).await.unwrap(), "it existed");

    // THEN no version, current or noncurrent, and no delete marker is left
    assert_eq!(versions_of(&clients.s3, &bucket, key).await, 0);
    assert_eq!(blobs.get(key).await.unwrap(), None);
    // AND deleting it again finds nothing
    assert!(!blobs.delete(key).await.unwrap());
    // AND the key beside it is untouched
    assert_eq!(blobs.get(sibling).await.unwrap(), Some(b"other".to_vec()));
    assert_eq!(versions_of(&clients.s3, &bucket, sibling).await, 1);
}

#[tokio::test]
async fn a_key_deleted_before_keeps_no_noncurrent_version() {
    // GIVEN a key that an older deploy "deleted": only a delete marker on
    // top of its audio
    let moto = Emulator::get();
    let clients = moto.clients(None);
    let bucket = versioned_bucket(&clients.s3).await;
    let blobs = S3BlobStore::new(clients.s3.clone(), &bucket);
    let key = "recordings/cmp_1/call_2/caller.wav";
    blobs
        .put(key, b"audio".to_vec(), "audio/wav")
        .await
        .unwrap();
    clients
        .s3
        .delete_object()
        .bucket(&bucket)
        .key(key)
        .send()
        .await
        .expect("a plain delete");
    assert_eq!(versions_of(&clients.s3, &bucket, key).await, 2);

    // WHEN erasure deletes it again
    let existed = blobs.delete(key).await.unwrap();

    // THEN it was not a current blob, and its old audio is gone too
    assert!(!existed);
    assert_eq!(versions_of(&clients.s3, &bucket, key).await, 0);
}
