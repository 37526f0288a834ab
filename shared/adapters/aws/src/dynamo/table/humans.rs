//! Human agent items: one partition (`HUMANS`) sorted by agent id, so a
//! strongly consistent query lists every agent in one request, and each
//! item carries the record and its version (`ver`) for conditional writes.

use voxdial_domain::{HumanAgent, HumanAgentId, StoreError};

use super::{
    Expr, Failure, Item, PK, Query, REC, Table, VER, WriteFailure, classify, decode, encode, key,
    n, number, s,
};

/// The partition of every human agent.
const HUMANS: &str = "HUMANS";

/// A human agent as stored, with the version a conditional write expects.
#[derive(Clone, Debug)]
pub(crate) struct HumanRow {
    /// The agent.
    pub(crate) agent: HumanAgent,
    /// Its item's version.
    pub(crate) version: u64,
}

fn human_key(id: &HumanAgentId) -> Item {
    key(HUMANS.to_string(), id.as_str())
}

fn human_row(item: &Item) -> Result<HumanRow, StoreError> {
    Ok(HumanRow {
        agent: decode("human agent", item)?,
        version: number(item, VER).unwrap_or(0),
    })
}

impl Table {
    /// Every human agent, by id (strongly consistent).
    pub(crate) async fn humans(&self) -> Result<Vec<HumanRow>, StoreError> {
        let items = self.query(Query::table(PK, s(HUMANS)), usize::MAX).await?;
        items.iter().map(human_row).collect()
    }

    /// One human agent (strongly consistent).
    pub(crate) async fn human(&self, id: &HumanAgentId) -> Result<Option<HumanRow>, StoreError> {
        self.get(human_key(id), "cannot read a human agent")
            .await?
            .map(|item| human_row(&item))
            .transpose()
    }

    /// Writes an agent whole. With `from_version`, only over that version
    /// (false when another write came first); without, unconditionally.
    /// Either way the version goes up by one.
    pub(crate) async fn put_human(
        &self,
        agent: &HumanAgent,
        from_version: Option<u64>,
    ) -> Result<bool, StoreError> {
        let mut e = Expr::default();
        let rec = e.value(encode("human agent", agent)?);
        let one = e.value(n(1));
        let update = format!("SET {} = {rec} ADD {} {one}", e.name(REC), e.name(VER));
        let condition =
            from_version.map(|version| format!("{} = {}", e.name(VER), e.value(n(version))));
        let result = self
            .client
            .update_item()
            .table_name(&self.name)
            .set_key(Some(human_key(&agent.id)))
            .update_expression(update)
            .set_condition_expression(condition)
            .set_expression_attribute_names(e.names())
            .set_expression_attribute_values(e.values())
            .send()
            .await;
        match result {
            Ok(_) => Ok(true),
            Err(error) => {
                let failure: WriteFailure = error.into_service_error().into();
                match classify(&failure) {
                    Failure::Condition => Ok(false),
                    _ => Err(StoreError::unavailable(
                        "cannot write a human agent",
                        failure,
                    )),
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::SK;
    use super::*;

    #[test]
    fn agents_share_one_partition_sorted_by_id() {
        let id = HumanAgentId::parse("ha_7").unwrap();
        let item = human_key(&id);
        assert_eq!(item[PK].as_s().unwrap(), HUMANS);
        assert_eq!(item[SK].as_s().unwrap(), "ha_7");
    }
}
