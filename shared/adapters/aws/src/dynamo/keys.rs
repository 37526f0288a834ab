//! [`KeyStore`] on the table: API key items (`A#<key>`, listed through
//! `by_parent` under `KEYS`) and audit entries (`U#<org>`, sorted by time).

use async_trait::async_trait;
use voxdial_domain::{ApiKey, ApiKeyId, AuditEntry, KeyStore, OrgId, StoreError};

use super::DynamoStore;
use super::table::Write;

#[async_trait]
impl KeyStore for DynamoStore {
    async fn insert_api_key(&self, key: &ApiKey) -> Result<(), StoreError> {
        let write = Write::PutApiKey {
            key: key.clone(),
            from_version: None,
        };
        if self.table.write(&write).await? {
            Ok(())
        } else {
            Err(StoreError::AlreadyExists(format!("API key {}", key.id)))
        }
    }

    async fn api_key(&self, id: &ApiKeyId) -> Result<Option<ApiKey>, StoreError> {
        self.table.api_key(id).await
    }

    async fn api_keys(&self, org: &OrgId) -> Result<Vec<ApiKey>, StoreError> {
        self.table.api_keys(Some(org), usize::MAX).await
    }

    async fn any_api_key(&self) -> Result<bool, StoreError> {
        Ok(!self.table.api_keys(None, 1).await?.is_empty())
    }

    async fn update_api_key(&self, key: &ApiKey) -> Result<ApiKey, StoreError> {
        let mut next = key.clone();
        next.version += 1;
        let write = Write::PutApiKey {
            key: next.clone(),
            from_version: Some(key.version),
        };
        if self.table.write(&write).await? {
            return Ok(next);
        }
        Err(match self.table.api_key(&key.id).await? {
            Some(_) => StoreError::Conflict(format!("API key {}", key.id)),
            None => StoreError::NotFound(format!("API key {}", key.id)),
        })
    }

    async fn append_audit(&self, entry: &AuditEntry) -> Result<(), StoreError> {
        self.table.write(&Write::PutAudit(entry.clone())).await?;
        Ok(())
    }

    async fn audit(&self, org: &OrgId, limit: usize) -> Result<Vec<AuditEntry>, StoreError> {
        self.table.audit(org, limit).await
    }
}
