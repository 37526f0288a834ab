//! Validating a typical 20-odd-parameter voice status callback.
//!
//! `cargo bench -p voxdial-wire --bench signature`

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use voxdial_wire::twilio::forms::{StatusCallback, encode_form};
use voxdial_wire::twilio::signature::{
    SignatureAlgorithm, SignedRequest, SigningKeys, compute_signature, validate_request,
};

fn status_params() -> Vec<(String, String)> {
    [
        ("Called", "+919876543210"),
        ("ToState", ""),
        ("CallerCountry", "US"),
        ("Direction", "outbound-api"),
        ("Timestamp", "Tue, 24 Nov 2026 19:24:00 +0000"),
        ("CallbackSource", "call-progress-events"),
        ("SipResponseCode", "200"),
        ("CallerState", "CA"),
        ("ToZip", ""),
        ("SequenceNumber", "3"),
        ("CallSid", "CA0123456789abcdef0123456789abcdef"),
        ("To", "+919876543210"),
        ("CallerZip", ""),
        ("ToCountry", "IN"),
        ("CalledZip", ""),
        ("ApiVersion", "2010-04-01"),
        ("CalledCity", ""),
        ("CallStatus", "completed"),
        ("Duration", "1"),
        ("From", "+14155550100"),
        ("CallDuration", "42"),
        ("AccountSid", "AC0123456789abcdef0123456789abcdef"),
    ]
    .iter()
    .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
    .collect()
}

fn bench(c: &mut Criterion) {
    let params = status_params();
    let url = "https://hooks.example.com/twilio/status";
    let token = "12345678901234567890123456789012";
    let body = encode_form(&params);
    let sig = compute_signature(token.as_bytes(), SignatureAlgorithm::HmacSha1, url, &params);
    let keys = SigningKeys::auth_token(token);
    let req = SignedRequest {
        url,
        method: "POST",
        content_type: Some("application/x-www-form-urlencoded"),
        body: body.as_bytes(),
        signature: Some(&sig),
        signature_settings: None,
    };
    assert!(validate_request(&req, &keys).is_ok());

    c.bench_function("validate_status_callback_22_params", |b| {
        b.iter(|| validate_request(black_box(&req), black_box(&keys)))
    });
    c.bench_function("validate_and_parse_status_callback", |b| {
        b.iter(|| {
            validate_request(black_box(&req), &keys).ok();
            StatusCallback::from_form(black_box(body.as_bytes()))
        })
    });
    c.bench_function("compute_signature_sha1_22_params", |b| {
        b.iter(|| {
            compute_signature(
                token.as_bytes(),
                SignatureAlgorithm::HmacSha1,
                url,
                black_box(&params),
            )
        })
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
