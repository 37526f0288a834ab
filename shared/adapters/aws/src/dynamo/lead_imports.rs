//! [`ImportStore`] on the table: one item per lead import (`F#<import>`),
//! written over the version read.

use async_trait::async_trait;
use voxdial_domain::{ImportId, ImportStore, LeadImport, StoreError};

use super::DynamoStore;
use super::table::Write;

#[async_trait]
impl ImportStore for DynamoStore {
    async fn insert_import(&self, import: &LeadImport) -> Result<(), StoreError> {
        let write = Write::PutLeadImport {
            import: Box::new(import.clone()),
            from_version: None,
        };
        if self.table.write(&write).await? {
            Ok(())
        } else {
            Err(StoreError::AlreadyExists(format!("import {}", import.id)))
        }
    }

    async fn lead_import(&self, id: &ImportId) -> Result<Option<LeadImport>, StoreError> {
        self.table.lead_import(id).await
    }

    async fn update_import(&self, import: &LeadImport) -> Result<LeadImport, StoreError> {
        let mut next = import.clone();
        next.version += 1;
        let write = Write::PutLeadImport {
            import: Box::new(next.clone()),
            from_version: Some(import.version),
        };
        if self.table.write(&write).await? {
            return Ok(next);
        }
        Err(match self.table.lead_import(&import.id).await? {
            Some(_) => StoreError::Conflict(format!("import {}", import.id)),
            None => StoreError::NotFound(format!("import {}", import.id)),
        })
    }
}
