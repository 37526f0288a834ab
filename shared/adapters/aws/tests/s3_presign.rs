//! Presigned GETs work as links: a browser (here reqwest, with no AWS
//! credentials) fetches the recording's bytes from S3 (moto) by the URL
//! alone, and the URL of a missing key finds nothing.

use std::time::Duration;

use voxdial_aws::testing::Emulator;
use voxdial_domain::BlobStore;

#[tokio::test]
async fn a_presigned_get_fetches_the_blob_without_credentials() {
    // GIVEN a recording in a bucket
    let moto = Emulator::get();
    let clients = moto.clients(None);
    let blobs = moto.blobs(&clients).await.expect("a bucket");
    let key = "recordings/cmp_1/call_1/both.wav";
    let audio: Vec<u8> = (0..=255u8).cycle().take(10_000).collect();
    blobs.put(key, audio.clone(), "audio/wav").await.unwrap();
    let http = reqwest::Client::new();

    // WHEN its presigned URL is fetched with no credentials
    let url = blobs
        .presign_get(key, Duration::from_secs(300))
        .await
        .unwrap();
    let fetched = http.get(&url).send().await.expect("moto answers");

    // THEN the bytes are the recording's
    assert_eq!(fetched.status(), reqwest::StatusCode::OK, "{url}");
    assert_eq!(fetched.bytes().await.unwrap().as_ref(), audio.as_slice());

    // AND the URL of a key that holds nothing finds nothing
    let missing = blobs
        .presign_get("recordings/cmp_1/call_2/both.wav", Duration::from_secs(300))
        .await
        .unwrap();
    let fetched = http.get(&missing).send().await.expect("moto answers");
    assert_eq!(
        fetched.status(),
        reqwest::StatusCode::NOT_FOUND,
        "{missing}"
    );
}
