//! Organisations and API keys: creating, checking, listing, revoking and
//! rotating keys, the audit trail, and the scope checks that keep one
//! organisation's records out of another's reach.
//!
//! Scope: campaigns and human agents carry their organisation; leads,
//! calls, recordings and analyses belong to their campaign's. A record of
//! another organisation answers [`AppError::NotFound`], exactly like a
//! record that does not exist, so ids leak nothing.

use rand::RngExt;
use voxdial_domain::{
    ApiKey, ApiKeyId, AuditEntry, CallAttempt, CallId, Campaign, CampaignId, Clock, KeySecret,
    KeyStore, Lead, LeadId, OrgId, Role, Tombstone,
};

use crate::{AppError, Engine};

/// Who is asking: the key a request presented, once checked.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Caller {
    /// The key.
    pub key_id: ApiKeyId,
    /// Its organisation.
    pub org_id: OrgId,
    /// Its role.
    pub role: Role,
}

/// The most audit entries one read returns.
pub const MAX_AUDIT_PAGE: usize = 1000;

fn check_name(name: &str) -> Result<(), AppError> {
    if name.chars().count() > voxdial_domain::access::MAX_KEY_NAME
        || name.chars().any(char::is_control)
    {
        return Err(AppError::Invalid(format!(
            "a key name has at most {} characters and no control characters",
            voxdial_domain::access::MAX_KEY_NAME
        )));
    }
    Ok(())
}

/// Creates a key for `org` with `role`: the stored record and the key
/// itself, which its holder gets once and nobody can read back.
pub async fn create_api_key(
    keys: &dyn KeyStore,
    clock: &dyn Clock,
    org: &OrgId,
    role: Role,
    name: &str,
) -> Result<(ApiKey, KeySecret), AppError> {
    check_name(name)?;
    let secret = {
        let mut rng = rand::rng();
        KeySecret::from_random(rng.random(), rng.random())
    };
    let key = ApiKey::new(&secret, org.clone(), role, name.to_string(), clock.now());
    keys.insert_api_key(&key).await?;
    Ok((key, secret))
}

/// On a store with no key at all, creates an admin key for the default
/// organisation and returns it; `None` once any key exists.
pub async fn first_admin_key(
    keys: &dyn KeyStore,
    clock: &dyn Clock,
) -> Result<Option<KeySecret>, AppError> {
    if keys.any_api_key().await? {
        return Ok(None);
    }
    let (_, secret) =
        create_api_key(keys, clock, &OrgId::default(), Role::Admin, "first admin").await?;
    Ok(Some(secret))
}

impl Engine {
    /// Creates a key (see [`create_api_key`]).
    pub async fn create_api_key(
        &self,
        org: &OrgId,
        role: Role,
        name: &str,
    ) -> Result<(ApiKey, KeySecret), AppError> {
        create_api_key(self.store.as_ref(), self.clock.as_ref(), org, role, name).await
    }

    /// Checks a presented key: the caller, or `Unauthorized` for a key
    /// that is malformed, unknown, wrong or revoked (one answer for all).
    pub async fn authenticate(&self, presented: &str) -> Result<Caller, AppError> {
        let refused = || AppError::Unauthorized("invalid or revoked API key".into());
        let secret = KeySecret::parse(presented).ok_or_else(refused)?;
        let key = self.store.api_key(secret.id()).await?.ok_or_else(refused)?;
        if !key.accepts(&secret) {
            return Err(refused());
        }
        Ok(Caller {
            key_id: key.id,
            org_id: key.org_id,
            role: key.role,
        })
    }

    /// The keys of an organisation, revoked ones included.
    pub async fn api_keys(&self, org: &OrgId) -> Result<Vec<ApiKey>, AppError> {
        Ok(self.store.api_keys(org).await?)
    }

    async fn api_key_in(&self, org: &OrgId, id: &ApiKeyId) -> Result<ApiKey, AppError> {
        match self.store.api_key(id).await? {
            Some(key) if &key.org_id == org => Ok(key),
            _ => Err(AppError::NotFound(format!("API key {id}"))),
        }
    }

    /// Revokes a key of `org` (again: no change).
    pub async fn revoke_api_key(&self, org: &OrgId, id: &ApiKeyId) -> Result<ApiKey, AppError> {
        let mut key = self.api_key_in(org, id).await?;
        if !key.is_active() {
            return Ok(key);
        }
        key.revoke(self.clock.now());
        Ok(self.store.update_api_key(&key).await?)
    }

    /// Gives an active key of `org` a new secret; the old one stops working.
    pub async fn rotate_api_key(
        &self,
        org: &OrgId,
        id: &ApiKeyId,
    ) -> Result<(ApiKey, KeySecret), AppError> {
        let mut key = self.api_key_in(org, id).await?;
        if !key.is_active() {
            return Err(AppError::Conflict(format!(
                "API key {id} is revoked: create a new one"
            )));
        }
        let secret = KeySecret::rotated(id, rand::rng().random());
        key.rotate(&secret, self.clock.now());
        Ok((self.store.update_api_key(&key).await?, secret))
    }

    /// Notes a state-changing request in the audit trail.
    pub async fn record_audit(
        &self,
        caller: &Caller,
        method: &str,
        route: &str,
        target: Option<String>,
        status: u16,
    ) -> Result<(), AppError> {
        let entry = AuditEntry {
            id: uuid::Uuid::new_v4().simple().to_string(),
            at: self.clock.now(),
            org_id: caller.org_id.clone(),
            key_id: caller.key_id.clone(),
            method: method.to_string(),
            route: route.to_string(),
            target,
            status,
        };
        Ok(self.store.append_audit(&entry).await?)
    }

    /// The newest audit entries of an organisation (at most
    /// [`MAX_AUDIT_PAGE`]).
    pub async fn audit(&self, org: &OrgId, limit: usize) -> Result<Vec<AuditEntry>, AppError> {
        Ok(self
            .store
            .audit(org, limit.clamp(1, MAX_AUDIT_PAGE))
            .await?)
    }

    /// A campaign of `org`.
    pub async fn campaign_in(&self, org: &OrgId, id: &CampaignId) -> Result<Campaign, AppError> {
        match self.store.campaign(id).await? {
            Some(campaign) if &campaign.org_id == org => Ok(campaign),
            _ => Err(AppError::NotFound(format!("campaign {id}"))),
        }
    }

    /// A call of one of `org`'s campaigns.
    pub async fn call_in(&self, org: &OrgId, id: &CallId) -> Result<CallAttempt, AppError> {
        let not_found = || AppError::NotFound(format!("call {id}"));
        let call = self.store.call(id).await?.ok_or_else(not_found)?;
        self.campaign_in(org, &call.campaign_id)
            .await
            .map_err(|_| not_found())?;
        Ok(call)
    }

    /// A lead of one of `org`'s campaigns, or the tombstone it left when
    /// it was erased.
    pub async fn lead_in(
        &self,
        org: &OrgId,
        id: &LeadId,
    ) -> Result<Result<Lead, Tombstone>, AppError> {
        let not_found = || AppError::NotFound(format!("lead {id}"));
        let (campaign, found) = match self.store.lead(id).await? {
            Some(lead) => (lead.campaign_id.clone(), Ok(lead)),
            None => {
                let stone = self.store.tombstone(id).await?.ok_or_else(not_found)?;
                (stone.campaign_id.clone(), Err(stone))
            }
        };
        self.campaign_in(org, &campaign)
            .await
            .map_err(|_| not_found())?;
        Ok(found)
    }

    /// The campaigns of `org`, newest first.
    pub async fn campaigns(&self, org: &OrgId) -> Result<Vec<Campaign>, AppError> {
        let mut campaigns = self.store.campaigns().await?;
        campaigns.retain(|c| &c.org_id == org);
        Ok(campaigns)
    }

    /// The organisation a call belongs to (its campaign's).
    pub async fn call_org(&self, id: &CallId) -> Result<OrgId, AppError> {
        let call = self
            .store
            .call(id)
            .await?
            .ok_or_else(|| AppError::NotFound(format!("call {id}")))?;
        Ok(self.campaign(&call.campaign_id).await?.org_id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_names_are_bounded_and_printable() {
        assert!(check_name("ci runner").is_ok());
        assert!(check_name(&"x".repeat(101)).is_err());
        assert!(check_name("forged\nline").is_err());
    }
}
