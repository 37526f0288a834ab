//! API keys on the command line: `voxdial keys create`, the first admin
//! key `voxdial serve` writes on an empty store, and the key the client
//! commands send.
//!
//! The first admin key goes to `DATA_DIR/admin.key` (mode 0600), never to
//! a log; the client commands read it from there when no `--api-key` (or
//! `VOXDIAL_API_KEY`) is given, so a new user needs no extra step.
//!
//! On AWS there is no data directory: `voxdial keys create --backend aws
//! --table TABLE` writes the key (its digest) straight into the stack's
//! DynamoDB table with the caller's AWS credentials and region (the usual
//! environment and profile; `AWS_ENDPOINT_URL` for an emulator). That is how
//! the first admin key of a new deployment is made.

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::Context;
use voxdial_app::access::{create_api_key, first_admin_key};
use voxdial_app::clock::SystemClock;
use voxdial_domain::{KeyStore, OrgId, Role};
use voxdial_local::LocalStore;

use crate::runtime::STORE_FILE;

/// Where `voxdial serve` writes the first admin key.
pub(crate) const ADMIN_KEY_FILE: &str = "admin.key";

/// The data directory when none is given.
pub(crate) const DEFAULT_DATA_DIR: &str = "voxdial-data";

/// Where `voxdial keys create` writes.
pub(crate) enum KeyTarget {
    /// The SQLite store of a data directory (`voxdial serve`'s).
    Local(PathBuf),
    /// A deployed stack's DynamoDB table, by name.
    Aws {
        /// The table.
        table: String,
    },
}

/// `voxdial keys create`: a new key in the target's store, printed once on
/// its own line.
pub(crate) async fn create(
    target: KeyTarget,
    org: &str,
    role: Role,
    name: &str,
) -> anyhow::Result<()> {
    let org = OrgId::parse(org).context("--org")?;
    match target {
        KeyTarget::Local(data_dir) => create_in(&open_store(&data_dir)?, &org, role, name).await,
        KeyTarget::Aws { table } => {
            let sdk = voxdial_aws::config::load(None).await;
            let clients = voxdial_aws::Clients::new(&sdk, None);
            let store = voxdial_aws::DynamoStore::new(clients.dynamo, &table);
            create_in(&store, &org, role, name)
                .await
                .with_context(|| format!("cannot write the key to the DynamoDB table {table}"))
        }
    }
}

async fn create_in(
    store: &dyn KeyStore,
    org: &OrgId,
    role: Role,
    name: &str,
) -> anyhow::Result<()> {
    let (key, secret) = create_api_key(store, &SystemClock, org, role, name).await?;
    eprintln!(
        "created {} key {} for organisation {} (shown once, store it now):",
        key.role, key.id, key.org_id
    );
    println!("{}", secret.expose());
    Ok(())
}

/// A new operator key of the default organisation for the in-process
/// simulated carrier, whose callees report dispositions through the API.
pub(crate) async fn simulated_carrier_key(data_dir: &Path) -> anyhow::Result<String> {
    let store = open_store(data_dir)?;
    let org = OrgId::default();
    let (_, secret) = create_api_key(
        &store,
        &SystemClock,
        &org,
        Role::Operator,
        "simulated carrier",
    )
    .await?;
    Ok(secret.expose().to_string())
}

fn open_store(data_dir: &Path) -> anyhow::Result<LocalStore> {
    LocalStore::open(data_dir.join(STORE_FILE))
        .with_context(|| format!("cannot open the store in {}", data_dir.display()))
}

/// On a store without keys, creates the default organisation's admin key
/// and writes it to `data_dir/admin.key`; says where in the log. Runs
/// before the server listens, so the file is there once it answers.
pub(crate) async fn ensure_first_admin_key(data_dir: &Path) -> anyhow::Result<()> {
    let store = open_store(data_dir)?;
    let Some(secret) = first_admin_key(&store, &SystemClock).await? else {
        return Ok(());
    };
    let path = data_dir.join(ADMIN_KEY_FILE);
    write_private(&path, &format!("{}\n", secret.expose()))?;
    tracing::info!(
        path = %path.display(),
        "created an admin API key for the default organisation: read it from this file"
    );
    Ok(())
}

/// Writes `text` to a file only its owner can read.
fn write_private(path: &Path, text: &str) -> anyhow::Result<()> {
    use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)
        .with_context(|| format!("cannot write {}", path.display()))?;
    // `mode` applies to new files only: an old file gets it here.
    file.set_permissions(std::fs::Permissions::from_mode(0o600))?;
    file.write_all(text.as_bytes())?;
    Ok(())
}

/// The key a client command sends: `--api-key` (or `VOXDIAL_API_KEY`),
/// else the admin key in the data directory, else none.
pub(crate) fn client_key(flag: Option<String>, data_dir: &Path) -> Option<String> {
    flag.or_else(|| {
        let text = std::fs::read_to_string(data_dir.join(ADMIN_KEY_FILE)).ok()?;
        Some(text.trim().to_string()).filter(|k| !k.is_empty())
    })
}

/// The data directory: the flag's, or the default.
pub(crate) fn data_dir(flag: Option<PathBuf>) -> PathBuf {
    flag.unwrap_or_else(|| PathBuf::from(DEFAULT_DATA_DIR))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_admin_key_file_is_private_and_read_back() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(ADMIN_KEY_FILE);
        std::fs::write(&path, "old").unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        write_private(&path, "vxd_key\n").unwrap();
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        assert_eq!(client_key(None, dir.path()).as_deref(), Some("vxd_key"));
        assert_eq!(
            client_key(Some("flag".into()), dir.path()).as_deref(),
            Some("flag")
        );
        assert_eq!(client_key(None, &dir.path().join("none")), None);
    }
}
