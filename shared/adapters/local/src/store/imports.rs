//! [`ImportStore`] on the store file: `lead_imports` (see
//! `store_imports.sql`).

use async_trait::async_trait;
use rusqlite::{OptionalExtension, params};
use voxdial_domain::{ImportId, ImportStore, LeadImport, StoreError};

use super::{LocalStore, Sql, decode, encode, int};

#[async_trait]
impl ImportStore for LocalStore {
    async fn insert_import(&self, import: &LeadImport) -> Result<(), StoreError> {
        let record = encode("cannot encode an import", import)?;
        let (id, version) = (import.id.clone(), int(import.version));
        self.write(move |conn| {
            let inserted = conn
                .prepare_cached(
                    "INSERT INTO lead_imports (id, version, record) VALUES (?1, ?2, ?3) \
                     ON CONFLICT (id) DO NOTHING",
                )
                .and_then(|mut stmt| stmt.execute(params![id.as_str(), version, record]))
                .sql("cannot insert an import")?;
            if inserted == 0 {
                return Err(StoreError::AlreadyExists(format!("import {id}")));
            }
            Ok(())
        })
        .await
    }

    async fn lead_import(&self, id: &ImportId) -> Result<Option<LeadImport>, StoreError> {
        let id = id.clone();
        self.read(move |conn| {
            conn.prepare_cached("SELECT record FROM lead_imports WHERE id = ?1")
                .and_then(|mut stmt| {
                    stmt.query_row([id.as_str()], |row| row.get::<_, String>(0))
                        .optional()
                })
                .sql("cannot read an import")?
                .map(|record| decode("import", id.as_str(), &record))
                .transpose()
        })
        .await
    }

    async fn update_import(&self, import: &LeadImport) -> Result<LeadImport, StoreError> {
        let mut next = import.clone();
        next.version += 1;
        let record = encode("cannot encode an import", &next)?;
        let (id, read, written) = (import.id.clone(), int(import.version), int(next.version));
        self.write(move |conn| {
            let updated = conn
                .prepare_cached(
                    "UPDATE lead_imports SET version = ?3, record = ?4 \
                     WHERE id = ?1 AND version = ?2",
                )
                .and_then(|mut stmt| stmt.execute(params![id.as_str(), read, written, record]))
                .sql("cannot update an import")?;
            if updated == 1 {
                return Ok(());
            }
            let exists: bool = conn
                .prepare_cached("SELECT EXISTS (SELECT 1 FROM lead_imports WHERE id = ?1)")
                .and_then(|mut stmt| stmt.query_row([id.as_str()], |row| row.get(0)))
                .sql("cannot read an import")?;
            Err(if exists {
                StoreError::Conflict(format!("import {id}"))
            } else {
                StoreError::NotFound(format!("import {id}"))
            })
        })
        .await?;
        Ok(next)
    }
}
