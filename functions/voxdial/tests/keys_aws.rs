//! The first key of a deployment: `voxdial keys create --backend aws`
//! writes it to the stack's DynamoDB table (moto here), with the AWS
//! credentials, region and endpoint of the environment.

mod common;

use common::voxdial;
use voxdial_aws::testing::Emulator;
use voxdial_domain::{KeySecret, KeyStore, OrgId, Role};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_first_admin_key_is_written_to_dynamodb() {
    // GIVEN a deployed stack's table, empty
    let moto = Emulator::get();
    let clients = moto.clients(None);
    let (store, table) = moto.store(&clients).await.expect("a table");
    assert!(!store.any_api_key().await.unwrap());

    // WHEN an operator creates the first admin key against it
    let output = tokio::task::spawn_blocking(move || {
        voxdial()
            .args(["keys", "create", "--backend", "aws", "--table", &table])
            .args(["--org", "acme", "--role", "admin", "--name", "first"])
            .env("AWS_ENDPOINT_URL", moto.endpoint())
            .env("AWS_REGION", "us-east-1")
            .env("AWS_ACCESS_KEY_ID", "testing")
            .env("AWS_SECRET_ACCESS_KEY", "testing")
            .env_remove("AWS_PROFILE")
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    assert!(output.status.success(), "{output:?}");

    // THEN the key printed once is stored (as a digest), for that
    // organisation and role
    let stdout = String::from_utf8(output.stdout).unwrap();
    let secret = KeySecret::parse(stdout.trim()).expect("one key on its own line");
    let stored = store.api_key(secret.id()).await.unwrap().expect("stored");
    assert!(stored.accepts(&secret));
    assert_eq!(
        (&stored.org_id, stored.role),
        (&OrgId::parse("acme").unwrap(), Role::Admin)
    );
    assert!(!format!("{stored:?}").contains(secret.expose()));
}

#[test]
fn the_aws_backend_needs_a_table() {
    let output = voxdial()
        .args(["keys", "create", "--backend", "aws", "--role", "admin"])
        .env_remove("VOXDIAL_TABLE")
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("--table"), "{stderr}");
}
