//! Measures the resamplers: passband gain, alias/image rejection and delay.
//!
//! ```text
//! cargo run -p voxdial-media --example resample_report --release
//! ```

use voxdial_media::resample::Resampler;

fn sine(freq: f64, rate: f64, amp: f64, n: usize) -> Vec<i16> {
    (0..n)
        .map(|i| (amp * (2.0 * std::f64::consts::PI * freq * i as f64 / rate).sin()).round() as i16)
        .collect()
}

/// Amplitude of the `freq` component (Hann-windowed DFT).
fn amplitude_at(x: &[i16], freq: f64, rate: f64) -> f64 {
    let n = x.len() as f64;
    let (mut re, mut im, mut wsum) = (0.0, 0.0, 0.0);
    for (i, &s) in x.iter().enumerate() {
        let w = 0.5 - 0.5 * (2.0 * std::f64::consts::PI * i as f64 / n).cos();
        let ph = 2.0 * std::f64::consts::PI * freq * i as f64 / rate;
        re += w * f64::from(s) * ph.cos();
        im += w * f64::from(s) * ph.sin();
        wsum += w;
    }
    2.0 * (re * re + im * im).sqrt() / wsum
}

/// Output level in dB at `probe` Hz for a 10000-amplitude tone at `f` Hz
/// (an output below half an LSB, i.e. all zeros, reads as -140 dB).
fn response_db(in_rate: u32, out_rate: u32, f: f64, probe: f64) -> f64 {
    let mut r = Resampler::new(in_rate, out_rate).expect("supported");
    let x = sine(f, f64::from(in_rate), 10000.0, in_rate as usize);
    let mut y = Vec::new();
    for chunk in x.chunks(in_rate as usize / 50) {
        r.process(chunk, &mut y);
    }
    let a = amplitude_at(&y[200..], probe, f64::from(out_rate));
    20.0 * (a.max(1e-3) / 10000.0).log10()
}

/// (input rate, output rate, [(tone, where its alias or image lands)]).
type Case = (u32, u32, &'static [(f64, f64)]);

fn main() {
    let cases: [Case; 3] = [
        (
            8000,
            16000,
            &[
                (300.0, 7700.0),
                (1000.0, 7000.0),
                (3000.0, 5000.0),
                (3400.0, 4600.0),
            ],
        ),
        (
            24000,
            8000,
            &[
                (4600.0, 3400.0),
                (5000.0, 3000.0),
                (7000.0, 1000.0),
                (9000.0, 1000.0),
                (11500.0, 3500.0),
            ],
        ),
        (
            16000,
            8000,
            &[(4600.0, 3400.0), (5000.0, 3000.0), (7000.0, 1000.0)],
        ),
    ];
    for (i, o, rejects) in cases {
        let r = Resampler::new(i, o).expect("supported");
        println!(
            "{i} -> {o} Hz: delay {:.3} ms ({} output samples)",
            r.delay().as_secs_f64() * 1000.0,
            r.delay_samples()
        );
        let gains: Vec<String> = [300.0, 1000.0, 2000.0, 3000.0, 3400.0]
            .iter()
            .map(|&f| format!("{f} Hz {:+.3} dB", response_db(i, o, f, f)))
            .collect();
        println!("  passband: {}", gains.join(", "));
        for &(f, probe) in rejects {
            let what = if o > i { "image" } else { "alias" };
            println!(
                "  {f} Hz tone -> {what} at {probe} Hz: {:.1} dB",
                response_db(i, o, f, probe)
            );
        }
    }
}
