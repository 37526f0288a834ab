//! Configuration parsing and validation: the example parses, and every bad
//! value is refused with an error naming the provider and the field.

mod common;

use common::*;
use voxdial_routing::{EXAMPLE_CONFIG, ProviderKind, RoutingConfig, RoutingEngine, RoutingError};

#[test]
fn the_example_config_parses_and_validates() {
    let config = RoutingConfig::from_toml(EXAMPLE_CONFIG).unwrap();
    assert_eq!(config.max_chain_len, 3);
    assert_eq!(config.priority, [pid("twilio"), pid("sanspbx")]);
    assert_eq!(config.providers.len(), 2);
    let twilio = &config.providers[0];
    assert_eq!(twilio.kind, ProviderKind::Twilio);
    assert_eq!(twilio.rates.len(), 2);
    assert!(twilio.rates_csv.as_deref().unwrap().contains("1212,0.013"));
    assert_eq!(twilio.pool.dids.len(), 3);
    assert_eq!(twilio.pool.dids[0].labels, ["new-york"]);
    assert_eq!(config.providers[1].kind, ProviderKind::Sanspbx);
    assert_eq!(config.providers[1].breaker.failure_threshold, 3);
    // Defaults fill what the file leaves out.
    assert_eq!(config.providers[1].breaker.half_open_probes, 1);
    assert!(RoutingEngine::new(config).is_ok());
}

#[test]
fn a_minimal_config_takes_the_defaults() {
    let engine =
        RoutingEngine::from_toml(&us_provider("a", "0.01", "", &["+12125550101"])).unwrap();
    let config = engine.config();
    assert_eq!(config.max_chain_len, 3);
    assert_eq!(config.hybrid.cost, 0.4);
    assert_eq!(config.estimates.prior_success_rate, 0.5);
    assert_eq!(config.providers[0].breaker.failure_threshold, 5);
    assert_eq!(config.providers[0].pool.local_digits, 2);
}

#[test]
fn bounds_are_inclusive_and_csv_comments_are_skipped() {
    let widest = provider(
        "cps = 10000\nrates_csv = \"# prefix,rate\\n44,0.02\"",
        &ROW.replace("\"1\"", "\"123456789012345\""),
        &format!("local_digits = 15\ncaller_id_cps = 10000\n{DID}"),
    );
    let config = RoutingConfig::from_toml(&widest).unwrap();
    assert_eq!(config.providers[0].pool.local_digits, 15);
    assert!(RoutingEngine::new(config).is_ok());
}

#[test]
fn provider_kinds_are_written_as_their_names() {
    assert_eq!(String::from(ProviderKind::Twilio), "twilio");
    assert_eq!(String::from(ProviderKind::Sanspbx), "sanspbx");
}

/// Validates `toml` and returns the error's text.
fn error_of(toml: &str) -> String {
    match RoutingConfig::from_toml(toml) {
        Ok(_) => panic!("accepted:\n{toml}"),
        Err(e) => e.to_string(),
    }
}

fn provider(extra: &str, rates: &str, dids: &str) -> String {
    format!(
        "[[providers]]\nid = \"acme\"\nkind = \"sanspbx\"\n{extra}\n{rates}\n[providers.pool]\n{dids}\n"
    )
}

const ROW: &str = "[[providers.rates]]\nprefix = \"1\"\nrate_per_min_usd = 0.01\n";
const DID: &str = "[[providers.pool.dids]]\nnumber = \"+12125550101\"\n";

#[test]
fn validation_errors_name_the_provider_and_the_field() {
    let cases: Vec<(String, &str)> = vec![
        (
            provider("rates_csv = \"1,0.01\\n1,0.02\"", "", DID),
            "provider `acme`: rates_csv line 2.prefix: duplicate prefix 1 (also at rates_csv line 1)",
        ),
        (
            provider("rates_csv = \"1,0.02\"", ROW, DID),
            "provider `acme`: rates_csv line 1.prefix: duplicate prefix 1 (also at rates[0])",
        ),
        (
            provider("", &ROW.replace("0.01", "0"), DID),
            "provider `acme`: rates[0].rate_per_min_usd: 0 is not a price above 0",
        ),
        (
            provider("", &ROW.replace("0.01", "-0.5"), DID),
            "provider `acme`: rates[0].rate_per_min_usd: -0.5 is not a price above 0",
        ),
        (
            provider("", &ROW.replace("\"1\"", "\"1a\""), DID),
            "provider `acme`: rates[0].prefix: \"1a\" is not 1 to 15 digits",
        ),
        (
            provider("", &format!("{ROW}increment = \"60/0\"\n"), DID),
            "provider `acme`: rates[0].increment: \"60/0\" is not `first/next` seconds",
        ),
        (
            provider("rates_csv = \"44,abc\"", ROW, DID),
            "provider `acme`: rates_csv line 1: rate \"abc\" is not a number",
        ),
        (
            provider("", ROW, ""),
            "provider `acme`: pool.dids: empty pool",
        ),
        (
            provider("", "", DID),
            "provider `acme`: rates: no rate rows",
        ),
        (
            provider("", ROW, &DID.replace("+12125550101", "+1212555")),
            "provider `acme`: pool.dids[0].number: \"+121****\":",
        ),
        (
            provider("", &ROW.replace("0.01", "1000000"), DID),
            "provider `acme`: rates[0].rate_per_min_usd: 1000000 is not a price above 0",
        ),
        (
            provider("", &ROW.replace("\"1\"", "\" \""), DID),
            "provider `acme`: rates[0].prefix: \"\" is not 1 to 15 digits",
        ),
        (
            provider("", &ROW.replace("\"1\"", "\"1234567890123456\""), DID),
            "provider `acme`: rates[0].prefix: \"1234567890123456\" is not 1 to 15 digits",
        ),
        (
            provider("rates_csv = \"44,0.02\\n44\"", ROW, DID),
            "provider `acme`: rates_csv line 2: 1 fields; expected",
        ),
        (
            provider("cps = 20000", ROW, DID),
            "provider `acme`: cps: 20000 is not in 0 < cps <= 10000",
        ),
        (
            provider("", ROW, &format!("caller_id_cps = 20000\n{DID}")),
            "provider `acme`: pool.caller_id_cps: 20000 is not in 0 < cps <= 10000",
        ),
        (
            provider("", ROW, &format!("local_digits = 16\n{DID}")),
            "provider `acme`: pool.local_digits: must be at most 15",
        ),
        (
            provider("", ROW, &format!("require_local_in = [\"IND\"]\n{DID}")),
            "provider `acme`: pool.require_local_in[0]: \"IND\" is not an ISO 3166 alpha-2 code",
        ),
        (
            provider("", ROW, &format!("daily_cap = 0\n{DID}")),
            "provider `acme`: pool.daily_cap: must be at least 1",
        ),
        (
            provider("cps = 0", ROW, DID),
            "provider `acme`: cps: 0 is not in 0 < cps <= 10000",
        ),
        (
            provider("[providers.breaker]\nfailure_threshold = 0", ROW, DID),
            "provider `acme`: breaker.failure_threshold: must be at least 1",
        ),
        (
            provider("[providers.breaker]\ncooldown_secs = -1", ROW, DID),
            "provider `acme`: breaker.cooldown_secs: must be 0 or more",
        ),
        (
            provider("", ROW, &format!("require_local_in = [\"india\"]\n{DID}")),
            "provider `acme`: pool.require_local_in[0]: \"india\" is not an ISO 3166 alpha-2 code",
        ),
        (
            format!(
                "priority = [\"acme\", \"ghost\"]\n{}",
                provider("", ROW, DID)
            ),
            "priority[1]: unknown provider `ghost`",
        ),
        (
            format!(
                "priority = [\"acme\", \"acme\"]\n{}",
                provider("", ROW, DID)
            ),
            "priority[1]: provider `acme` listed twice",
        ),
        (
            format!("{}{}", provider("", ROW, DID), provider("", ROW, DID)),
            "provider `acme`: id: declared twice",
        ),
        (
            format!(
                "{}{}",
                provider("", ROW, DID),
                provider("", ROW, DID).replace("\"acme\"", "\"other\"")
            ),
            "provider `other`: pool.dids[0].number: +12*******01 is already in the pool of `acme`",
        ),
        (
            format!("max_chain_len = 0\n{}", provider("", ROW, DID)),
            "max_chain_len: must be at least 1",
        ),
        (
            format!(
                "[estimates]\nprior_success_rate = 1.0\n{}",
                provider("", ROW, DID)
            ),
            "estimates.prior_success_rate: must be strictly between 0 and 1",
        ),
        (
            format!(
                "[hybrid]\ncost = 0\nquality = 0\n{}",
                provider("", ROW, DID)
            ),
            "hybrid: cost and quality weights must be non-negative and not both zero",
        ),
        (
            "providers = []".into(),
            "providers: at least one provider is needed",
        ),
    ];
    for (toml, expected) in cases {
        let error = error_of(&toml);
        assert!(
            error.starts_with(expected),
            "expected {expected:?}\n     got {error:?}\nfor\n{toml}"
        );
    }
}

#[test]
fn toml_mistakes_are_reported_as_such() {
    assert!(matches!(
        RoutingConfig::from_toml("providers = 3"),
        Err(RoutingError::Toml(_))
    ));
    // Unknown keys are typos, not silently ignored.
    let typo = provider("cpss = 3", ROW, DID);
    assert!(matches!(
        RoutingConfig::from_toml(&typo),
        Err(RoutingError::Toml(_))
    ));
    // A provider id with a space is not an id.
    let bad_id = provider("", ROW, DID).replace("\"acme\"", "\"a b\"");
    assert!(matches!(
        RoutingConfig::from_toml(&bad_id),
        Err(RoutingError::Toml(_))
    ));
}
