//! Per-frame cost of the hot-path DSP.
//!
//! ```text
//! CARGO_TARGET_DIR=/work/target-media cargo bench -p voxdial-media --bench dsp -- --warm-up-time 1 --measurement-time 3
//! ```

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use voxdial_media::amd::{Amd, AmdConfig};
use voxdial_media::beep::BeepDetector;
use voxdial_media::dtmf::DtmfDetector;
use voxdial_media::resample::{Decimator3x, Upsampler2x};
use voxdial_media::synth::Synth;
use voxdial_media::ulaw;
use voxdial_media::vad::{Vad, VadConfig};

fn codec(c: &mut Criterion) {
    let pcm = Synth::new(1).speech(160, -18.0);
    let coded = ulaw::encode(&pcm);
    let mut out_u = [0u8; 160];
    let mut out_s = [0i16; 160];
    c.bench_function("ulaw encode 20 ms (160 samples)", |b| {
        b.iter(|| ulaw::encode_into(black_box(&pcm), &mut out_u))
    });
    c.bench_function("ulaw decode 20 ms (160 samples)", |b| {
        b.iter(|| ulaw::decode_into(black_box(&coded), &mut out_s))
    });
}

fn resamplers(c: &mut Criterion) {
    let in8k = Synth::new(2).speech(160, -18.0);
    let in24k = Synth::with_rate(3, 24000).speech(960, -18.0);
    let mut up = Upsampler2x::new();
    let mut out = vec![0i16; 4096];
    c.bench_function("upsampler 8k->16k per 20 ms frame", |b| {
        b.iter(|| up.process_into(black_box(&in8k), &mut out))
    });
    let mut down = Decimator3x::new();
    c.bench_function("decimator 24k->8k per 40 ms chunk (960 in)", |b| {
        b.iter(|| down.process_into(black_box(&in24k), &mut out))
    });
}

fn detectors(c: &mut Criterion) {
    let mut s = Synth::new(4);
    let mut speech = s.speech(8000, -18.0);
    s.add_noise(&mut speech, -50.0);
    let frames: Vec<&[i16]> = speech.chunks(160).collect();
    let mut i = 0;
    let mut dtmf = DtmfDetector::default();
    c.bench_function("dtmf detector per 20 ms frame", |b| {
        b.iter(|| {
            i = (i + 1) % frames.len();
            dtmf.push(black_box(frames[i]));
            dtmf.poll_digit()
        })
    });
    let mut beep = BeepDetector::default();
    c.bench_function("beep detector per 20 ms frame", |b| {
        b.iter(|| {
            i = (i + 1) % frames.len();
            beep.push(black_box(frames[i]));
            beep.poll_event()
        })
    });
    let mut vad = Vad::new(VadConfig::default());
    c.bench_function("vad per 20 ms frame", |b| {
        b.iter(|| {
            i = (i + 1) % frames.len();
            vad.push_pcm(black_box(frames[i]));
            vad.poll_event()
        })
    });
    // AMD never decides on this input (a long greeting would, so reset
    // whenever it does to keep measuring the undecided path).
    let mut amd = Amd::new(AmdConfig::default());
    c.bench_function("amd per 20 ms frame (vad + beep + rules)", |b| {
        b.iter(|| {
            i = (i + 1) % frames.len();
            if amd.push(black_box(frames[i])).is_some() {
                amd.reset();
            }
        })
    });
}

criterion_group!(benches, codec, resamplers, detectors);
criterion_main!(benches);
