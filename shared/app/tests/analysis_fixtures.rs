//! The local analyser on fixtures (`tests/fixtures/analysis.json`):
//! transcripts and call facts in, dispositions, callback times and fields
//! out, edge cases included (voicemail, silence, no transcript, an opt-out
//! mid-call after interest, a recorded disposition that stays, pressure
//! after a no).

use chrono::{TimeZone, Utc};
use serde_json::Value;
use voxdial_app::analysis::analyse_locally;
use voxdial_domain::{
    AnalysisRequest, AnsweredBy, CallAttempt, CallState, Campaign, CampaignId, CampaignSettings,
    ComplianceRecord, Disposition, E164, HumanAgentId, LeadId, Segment, Speaker, Transcript,
    TransferRecord, Verdict,
};

fn request(case: &Value) -> AnalysisRequest {
    // Monday 2026-06-01 14:00 UTC = 10:00 in New York.
    let end = Utc.with_ymd_and_hms(2026, 6, 1, 14, 0, 0).unwrap();
    let mut settings = CampaignSettings::default();
    settings.analysis.fields = serde_json::from_value(serde_json::json!([
        {"name": "budget", "type": "number"}
    ]))
    .unwrap();
    let campaign = Campaign::new(CampaignId::parse("cmp_f").unwrap(), settings, end).unwrap();
    let record = ComplianceRecord {
        rules: "t".into(),
        checked_at: end,
        attempt: 1,
        max_attempts: 3,
        region: Some("US".into()),
        window: "x".into(),
        local_times: Default::default(),
        zone_source: "x".into(),
        dnc_global_clear: true,
        dnc_campaign_clear: true,
        consent_required: false,
        consent: true,
        floor: "US-NY: TCPA 08:00-21:00".into(),
    };
    let mut call = CallAttempt::new(
        campaign.id.clone(),
        LeadId::parse("ld_f").unwrap(),
        1,
        E164::parse("+12125550100", None).unwrap(),
        record,
        end,
    );
    call.ended_at = Some(end);
    call.state = match case["state"].as_str().unwrap() {
        "voicemail" => CallState::Voicemail,
        _ => CallState::Completed,
    };
    if case["answered_by"].as_str() == Some("machine_end_beep") {
        call.answered_by = Some(AnsweredBy::MachineEndBeep);
    }
    call.disposition = case["recorded"]
        .as_str()
        .map(|d| Disposition::from_label(d).unwrap());
    if case["transferred"].as_bool() == Some(true) {
        call.transfer = Some(TransferRecord {
            mode: "warm".into(),
            agent_id: HumanAgentId::parse("ha_1").unwrap(),
            summary: String::new(),
            reason: String::new(),
            at: end,
        });
    }
    let transcript = case["turns"].as_array().map(|turns| Transcript {
        engine: "live".into(),
        language: None,
        segments: turns
            .iter()
            .enumerate()
            .map(|(i, t)| Segment {
                speaker: if t[0] == "caller" {
                    Speaker::Caller
                } else {
                    Speaker::Agent
                },
                start_ms: i as u64 * 2000,
                end_ms: i as u64 * 2000 + 1500,
                text: t[1].as_str().unwrap().into(),
            })
            .collect(),
    });
    AnalysisRequest {
        call,
        campaign,
        transcript,
        time_zone: Some("America/New_York".parse().unwrap()),
    }
}

#[test]
fn fixtures_give_the_expected_outcomes() {
    let cases: Vec<Value> = serde_json::from_str(include_str!("fixtures/analysis.json")).unwrap();
    assert!(cases.len() >= 10);
    for case in &cases {
        let name = case["name"].as_str().unwrap();
        let req = request(case);
        let end = req.call.ended_at.unwrap();
        let a = analyse_locally(&req, end);
        let expect = &case["expect"];
        assert_eq!(a.disposition.label(), expect["disposition"], "{name}");
        if let Some(analysed) = expect["analysed"].as_str() {
            assert_eq!(a.analysed_disposition.label(), analysed, "{name}");
        }
        if let Some(at) = expect["callback_at"].as_str() {
            assert_eq!(
                a.callback_at.map(|t| t.to_rfc3339()).as_deref(),
                Some(at),
                "{name}"
            );
        }
        if let Some(fields) = expect["fields"].as_object() {
            for (k, v) in fields {
                assert_eq!(&a.fields[k], v, "{name}: field {k}");
            }
        }
        if let Some(text) = expect["summary_has"].as_str() {
            assert!(a.summary.contains(text), "{name}: {}", a.summary);
        }
        if let Some(n) = expect["principle_fail"].as_u64() {
            let failed = a
                .principles
                .iter()
                .filter(|p| p.verdict == Verdict::Fail)
                .count();
            assert_eq!(failed as u64, n, "{name}: {:?}", a.principles);
        }
        assert_eq!(
            a.principles.len(),
            req.campaign.settings.analysis.principles.len()
        );
    }
}
