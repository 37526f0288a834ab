//! The table's definition: what the SAM template declares, and what the
//! tests create on the emulator (a test checks the two agree).

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, GlobalSecondaryIndex, KeySchemaElement, KeyType, Projection,
    ProjectionType, ScalarAttributeType, TimeToLiveSpecification,
};

use super::table::{PK, SK, TTL, index};
use crate::SetupError;

/// The shape of the voxdial table.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TableSpec {
    /// The partition key attribute (a string).
    pub partition_key: &'static str,
    /// The sort key attribute (a string).
    pub sort_key: &'static str,
    /// Global secondary indexes: name, partition key, sort key (strings,
    /// `ALL` projection).
    pub indexes: Vec<(&'static str, &'static str, &'static str)>,
    /// The TTL attribute (epoch seconds).
    pub ttl_attribute: &'static str,
}

impl TableSpec {
    /// The table [`DynamoStore`](super::DynamoStore) works on.
    pub fn voxdial() -> TableSpec {
        TableSpec {
            partition_key: PK,
            sort_key: SK,
            indexes: index::ALL.to_vec(),
            ttl_attribute: TTL,
        }
    }
}

fn key(name: &str, kind: KeyType) -> Result<KeySchemaElement, SetupError> {
    KeySchemaElement::builder()
        .attribute_name(name)
        .key_type(kind)
        .build()
        .map_err(SetupError::build)
}

fn string(name: &str) -> Result<AttributeDefinition, SetupError> {
    AttributeDefinition::builder()
        .attribute_name(name)
        .attribute_type(ScalarAttributeType::S)
        .build()
        .map_err(SetupError::build)
}

/// Creates the voxdial table (on-demand, with its indexes and TTL), as the
/// SAM template does; for tests and emulators.
pub async fn create_table(client: &Client, name: &str) -> Result<(), SetupError> {
    let spec = TableSpec::voxdial();
    let mut definitions = vec![string(spec.partition_key)?, string(spec.sort_key)?];
    let mut indexes = Vec::new();
    for (index, pk, sk) in &spec.indexes {
        definitions.push(string(pk)?);
        definitions.push(string(sk)?);
        indexes.push(
            GlobalSecondaryIndex::builder()
                .index_name(*index)
                .key_schema(key(pk, KeyType::Hash)?)
                .key_schema(key(sk, KeyType::Range)?)
                .projection(
                    Projection::builder()
                        .projection_type(ProjectionType::All)
                        .build(),
                )
                .build()
                .map_err(SetupError::build)?,
        );
    }
    client
        .create_table()
        .table_name(name)
        .billing_mode(BillingMode::PayPerRequest)
        .key_schema(key(spec.partition_key, KeyType::Hash)?)
        .key_schema(key(spec.sort_key, KeyType::Range)?)
        .set_attribute_definitions(Some(definitions))
        .set_global_secondary_indexes(Some(indexes))
        .send()
        .await
        .map_err(|e| SetupError::aws("cannot create the table", e))?;
    client
        .update_time_to_live()
        .table_name(name)
        .time_to_live_specification(
            TimeToLiveSpecification::builder()
                .attribute_name(spec.ttl_attribute)
                .enabled(true)
                .build()
                .map_err(SetupError::build)?,
        )
        .send()
        .await
        .map_err(|e| SetupError::aws("cannot enable the table's TTL", e))?;
    Ok(())
}
