//! The SAM template declares the table the adapter works on: the same keys,
//! indexes (name, keys, `ALL` projection) and TTL attribute.

use voxdial_aws::TableSpec;

fn template() -> String {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../../infra/template.yaml");
    std::fs::read_to_string(path).expect("infra/template.yaml")
}

/// The lines of the `Table` resource.
fn table_block(template: &str) -> Vec<String> {
    template
        .lines()
        .skip_while(|l| l.trim() != "Table:")
        .skip(1)
        .take_while(|l| !l.starts_with("  ") || l.starts_with("    ") || l.trim().is_empty())
        .map(str::to_string)
        .collect()
}

#[test]
fn the_template_declares_the_adapters_table() {
    let spec = TableSpec::voxdial();
    let block = table_block(&template()).join("\n");
    assert!(block.contains("BillingMode: PAY_PER_REQUEST"), "on demand");
    assert!(block.contains("PointInTimeRecoveryEnabled: true"), "PITR");
    assert!(
        block.contains(&format!(
            "AttributeName: {}\n        Enabled: true",
            spec.ttl_attribute
        )),
        "TTL on {}",
        spec.ttl_attribute
    );
    assert!(block.contains(&format!(
        "{{ AttributeName: {}, KeyType: HASH }}",
        spec.partition_key
    )));
    assert!(block.contains(&format!(
        "{{ AttributeName: {}, KeyType: RANGE }}",
        spec.sort_key
    )));
    for (index, pk, sk) in &spec.indexes {
        let at = block
            .find(&format!("IndexName: {index}\n"))
            .unwrap_or_else(|| panic!("index {index} is not in the template"));
        let declared: String = block[at..].lines().take(6).collect::<Vec<_>>().join("\n");
        assert!(
            declared.contains(&format!("{{ AttributeName: {pk}, KeyType: HASH }}")),
            "{declared}"
        );
        assert!(
            declared.contains(&format!("{{ AttributeName: {sk}, KeyType: RANGE }}")),
            "{declared}"
        );
        assert!(declared.contains("ProjectionType: ALL"), "{declared}");
        for key in [pk, sk] {
            assert!(
                block.contains(&format!("{{ AttributeName: {key}, AttributeType: S }}")),
                "{key} is not declared a string"
            );
        }
    }
    assert_eq!(block.matches("IndexName:").count(), spec.indexes.len());
}
