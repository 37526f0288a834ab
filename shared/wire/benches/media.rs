//! The audio hot paths: one Twilio `media` frame in, one out; one Gemini
//! audio chunk in, one out.
//!
//! `cargo bench -p voxdial-wire --bench media`

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use voxdial_wire::gemini;
use voxdial_wire::twilio::media::{parse_inbound, write_inbound_media, write_media};

fn bench(c: &mut Criterion) {
    // 20 ms of mu-law silence: 160 bytes, 216 base64 characters.
    let payload = "/".repeat(214) + "==";
    let sid = "MZ0123456789abcdef0123456789abcdef";
    let mut frame = String::new();
    write_inbound_media(sid, 1234, "inbound", 1233, 24_660, &payload, &mut frame);

    c.bench_function("twilio_parse_inbound_media", |b| {
        b.iter(|| {
            parse_inbound(black_box(&frame))
                .map(|m| matches!(m, voxdial_wire::twilio::media::InboundMessage::Media(_)))
        })
    });
    let mut out = String::with_capacity(512);
    c.bench_function("twilio_write_media", |b| {
        b.iter(|| {
            out.clear();
            write_media(black_box(sid), black_box(&payload), &mut out);
            out.len()
        })
    });

    // 40 ms of 24 kHz PCM16 from Gemini: 1920 bytes, 2560 base64 characters.
    let pcm_b64 = "AAAA".repeat(640);
    let server = format!(
        r#"{{"serverContent":{{"modelTurn":{{"parts":[{{"inlineData":{{"mimeType":"audio/pcm;rate=24000","data":"{pcm_b64}"}}}}]}}}}}}"#
    );
    c.bench_function("gemini_parse_server_audio", |b| {
        b.iter(|| {
            gemini::parse_server_message(black_box(server.as_bytes()))
                .map(|m| m.audio_chunks().count())
        })
    });
    // 20 ms of 16 kHz PCM16 to Gemini: 640 bytes, 856 base64 characters.
    let up = "AAAA".repeat(214);
    c.bench_function("gemini_write_realtime_audio", |b| {
        b.iter(|| {
            out.clear();
            gemini::write_realtime_audio(
                black_box("audio/pcm;rate=16000"),
                black_box(&up),
                &mut out,
            );
            out.len()
        })
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
