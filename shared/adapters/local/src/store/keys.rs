//! [`KeyStore`] on the store file: `api_keys` and `audit` (see
//! `store_keys.sql`).

use async_trait::async_trait;
use rusqlite::{OptionalExtension, params};
use voxdial_domain::{ApiKey, ApiKeyId, AuditEntry, KeyStore, OrgId, StoreError};

use super::{LocalStore, Sql, decode, encode, int, limit};
use crate::sqlite::nanos;

fn decode_rows<T: serde::de::DeserializeOwned>(
    kind: &'static str,
    rows: Vec<(String, String)>,
) -> Result<Vec<T>, StoreError> {
    rows.iter()
        .map(|(id, record)| decode(kind, id, record))
        .collect()
}

#[async_trait]
impl KeyStore for LocalStore {
    async fn insert_api_key(&self, key: &ApiKey) -> Result<(), StoreError> {
        let record = encode("cannot encode an API key", key)?;
        let (id, org, version) = (key.id.clone(), key.org_id.clone(), int(key.version));
        self.write(move |conn| {
            let inserted = conn
                .prepare_cached(
                    "INSERT INTO api_keys (id, org_id, version, record) VALUES (?1, ?2, ?3, ?4) \
                     ON CONFLICT (id) DO NOTHING",
                )
                .and_then(|mut stmt| {
                    stmt.execute(params![id.as_str(), org.as_str(), version, record])
                })
                .sql("cannot insert an API key")?;
            if inserted == 0 {
                return Err(StoreError::AlreadyExists(format!("API key {id}")));
            }
            Ok(())
        })
        .await
    }

    async fn api_key(&self, id: &ApiKeyId) -> Result<Option<ApiKey>, StoreError> {
        let id = id.clone();
        self.read(move |conn| {
            conn.prepare_cached("SELECT record FROM api_keys WHERE id = ?1")
                .and_then(|mut stmt| {
                    stmt.query_row([id.as_str()], |row| row.get::<_, String>(0))
                        .optional()
                })
                .sql("cannot read an API key")?
                .map(|record| decode("API key", id.as_str(), &record))
                .transpose()
        })
        .await
    }

    async fn api_keys(&self, org: &OrgId) -> Result<Vec<ApiKey>, StoreError> {
        let org = org.clone();
        let rows = self
            .read(move |conn| {
                let mut stmt = conn
                    .prepare_cached("SELECT id, record FROM api_keys WHERE org_id = ?1 ORDER BY id")
                    .sql("cannot list API keys")?;
                stmt.query_map([org.as_str()], |row| Ok((row.get(0)?, row.get(1)?)))
                    .and_then(Iterator::collect::<Result<Vec<_>, _>>)
                    .sql("cannot list API keys")
            })
            .await?;
        decode_rows("API key", rows)
    }

    async fn any_api_key(&self) -> Result<bool, StoreError> {
        self.read(|conn| {
            conn.prepare_cached("SELECT EXISTS (SELECT 1 FROM api_keys)")
                .and_then(|mut stmt| stmt.query_row([], |row| row.get(0)))
                .sql("cannot count API keys")
        })
        .await
    }

    async fn update_api_key(&self, key: &ApiKey) -> Result<ApiKey, StoreError> {
        let mut next = key.clone();
        next.version += 1;
        let record = encode("cannot encode an API key", &next)?;
        let (id, read, written) = (key.id.clone(), int(key.version), int(next.version));
        self.write(move |conn| {
            let updated = conn
                .prepare_cached(
                    "UPDATE api_keys SET version = ?3, record = ?4 WHERE id = ?1 AND version = ?2",
                )
                .and_then(|mut stmt| stmt.execute(params![id.as_str(), read, written, record]))
                .sql("cannot update an API key")?;
            if updated == 1 {
                return Ok(());
            }
            let exists: bool = conn
                .prepare_cached("SELECT EXISTS (SELECT 1 FROM api_keys WHERE id = ?1)")
                .and_then(|mut stmt| stmt.query_row([id.as_str()], |row| row.get(0)))
                .sql("cannot read an API key")?;
            Err(if exists {
                StoreError::Conflict(format!("API key {id}"))
            } else {
                StoreError::NotFound(format!("API key {id}"))
            })
        })
        .await?;
        Ok(next)
    }

    async fn append_audit(&self, entry: &AuditEntry) -> Result<(), StoreError> {
        let record = encode("cannot encode an audit entry", entry)?;
        let (org, at, id) = (entry.org_id.clone(), nanos(entry.at), entry.id.clone());
        self.write(move |conn| {
            conn.prepare_cached(
                "INSERT INTO audit (org_id, at, id, record) VALUES (?1, ?2, ?3, ?4)",
            )
            .and_then(|mut stmt| stmt.execute(params![org.as_str(), at, id, record]))
            .sql("cannot append an audit entry")?;
            Ok(())
        })
        .await
    }

    async fn audit(&self, org: &OrgId, count: usize) -> Result<Vec<AuditEntry>, StoreError> {
        let org = org.clone();
        let rows = self
            .read(move |conn| {
                let mut stmt = conn
                    .prepare_cached(
                        "SELECT id, record FROM audit WHERE org_id = ?1 \
                         ORDER BY at DESC, id DESC LIMIT ?2",
                    )
                    .sql("cannot read the audit trail")?;
                stmt.query_map(params![org.as_str(), limit(count)], |row| {
                    Ok((row.get(0)?, row.get(1)?))
                })
                .and_then(Iterator::collect::<Result<Vec<_>, _>>)
                .sql("cannot read the audit trail")
            })
            .await?;
        decode_rows("audit entry", rows)
    }
}
