//! The [`ImportStore`](voxdial_domain::ImportStore) contract (part of every
//! [`Store`](voxdial_domain::Store)), one function per case;
//! [`import_contract!`](crate::import_contract) turns each into a test.
//!
//! Decisions the port's doc leaves open, fixed here: a record comes back
//! exactly as written (cursor, counts and rejections included), and an
//! update returns the record as stored, its version bumped by one.

use voxdial_domain::{
    CampaignId, ImportCursor, ImportId, ImportProgress, ImportStatus, LeadImport, OrgId, RowError,
    StoreError,
};

use crate::StoreSubject;
use crate::fixtures::{at, t0};

/// A new import of `campaign` with id `id`.
pub fn lead_import(id: &str, campaign: &str) -> LeadImport {
    LeadImport {
        id: ImportId::parse(id).expect("a valid import id"),
        org_id: OrgId::parse("acme").expect("a valid organisation id"),
        campaign_id: CampaignId::parse(campaign).expect("a valid campaign id"),
        blob_key: format!("imports/{campaign}/{id}.csv"),
        region: Some("US".into()),
        status: ImportStatus::AwaitingUpload,
        failure: None,
        cursor: None,
        progress: ImportProgress::default(),
        rejections: Vec::new(),
        created_at: t0(),
        updated_at: t0(),
        version: 0,
    }
}

/// An import is stored once and read back as written; a missing one is `None`.
pub async fn imports_are_stored_once_and_read_back(subject: StoreSubject) {
    let store = subject.store();
    let import = lead_import("im_1", "camp-a");
    store.insert_import(&import).await.expect("insert");
    assert!(matches!(
        store.insert_import(&import).await,
        Err(StoreError::AlreadyExists(_))
    ));
    assert_eq!(store.lead_import(&import.id).await.unwrap(), Some(import));
    let missing = ImportId::parse("im_2").unwrap();
    assert_eq!(store.lead_import(&missing).await.unwrap(), None);
}

/// `update_import` writes over the version read only: a stale writer gets
/// `Conflict` and changes nothing; a missing record is `NotFound`.
pub async fn update_import_is_versioned(subject: StoreSubject) {
    let store = subject.store();
    let import = lead_import("im_1", "camp-a");
    store.insert_import(&import).await.unwrap();
    let mut running = import.clone();
    running.status = ImportStatus::Running;
    running.cursor = Some(ImportCursor {
        byte: 1_234,
        line: 1_001,
        record: 1_000,
    });
    running.progress = ImportProgress {
        rows: 1_000,
        accepted: 990,
        inserted: 980,
        merged: 10,
        rejected: 10,
        batches: 1,
    };
    running.keep_rejections([RowError {
        line: 7,
        reason: "invalid phone number \"x\"".into(),
    }]);
    running.updated_at = at(5);
    let stored = store.update_import(&running).await.expect("update");
    assert_eq!(stored.version, import.version + 1);
    assert_eq!(
        store.lead_import(&import.id).await.unwrap(),
        Some(stored.clone())
    );

    // A writer still holding the first version loses.
    let mut stale = import.clone();
    stale.status = ImportStatus::Failed;
    assert!(matches!(
        store.update_import(&stale).await,
        Err(StoreError::Conflict(_))
    ));
    assert_eq!(store.lead_import(&import.id).await.unwrap(), Some(stored));
    let ghost = lead_import("im_9", "camp-a");
    assert!(matches!(
        store.update_import(&ghost).await,
        Err(StoreError::NotFound(_))
    ));
}
