//! Prompt clips compiled into the binary: filler words that hide model
//! latency, the default voicemail message and an AI-disclosure line.
//!
//! Each is headerless G.711 μ-law at 8 kHz mono, ready to cut into 20 ms
//! frames and send to the phone. They are rendered by
//! `tools/gen_assets.sh` (espeak-ng voice `en-us+f3`, sox: 150–3400 Hz
//! band, silence trimmed, peak −3 dBFS); `assets/manifest.toml` lists them.

use std::time::Duration;

/// One bundled clip.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Clip {
    /// Stable id (also the file stem in `assets/`).
    pub id: &'static str,
    /// What is said.
    pub text: &'static str,
    /// The audio: raw μ-law, 8 kHz mono.
    pub ulaw: &'static [u8],
}

/// Sample rate of every clip.
pub const SAMPLE_RATE: u32 = 8000;

impl Clip {
    /// Number of samples (one byte each).
    pub fn samples(&self) -> usize {
        self.ulaw.len()
    }

    /// Play time.
    pub fn duration(&self) -> Duration {
        Duration::from_micros(self.ulaw.len() as u64 * 1_000_000 / u64::from(SAMPLE_RATE))
    }

    /// Number of 20 ms frames needed to play it (the last one padded).
    pub fn frames_20ms(&self) -> usize {
        self.ulaw.len().div_ceil(160)
    }
}

macro_rules! clip {
    ($id:literal, $text:literal) => {
        Clip {
            id: $id,
            text: $text,
            ulaw: include_bytes!(concat!("../assets/", $id, ".ulaw")),
        }
    };
}

static FILLERS: [Clip; 10] = [
    clip!("mm_hm", "Mm hmm."),
    clip!("okay", "Okay."),
    clip!("sure", "Sure."),
    clip!("got_it", "Got it."),
    clip!("i_see", "I see."),
    clip!("one_moment", "One moment."),
    clip!("just_a_second", "Just a second."),
    clip!("let_me_check", "Let me check that."),
    clip!("right_let_me_see", "Right, let me see."),
    clip!("good_question", "Good question, let me think."),
];

static VOICEMAIL_DEFAULT: Clip = clip!(
    "voicemail_default",
    "Hi, this is Ava from voxdial calling about your recent enquiry. Please call us back at your convenience. Thank you."
);

static AI_DISCLOSURE: Clip = clip!(
    "ai_disclosure",
    "Hi, this is Ava, an AI assistant calling on behalf of voxdial. This call may be recorded."
);

/// The filler clips, shortest first roughly ("mm-hm", "okay", … "let me
/// check that"). The hedge engine picks among them.
pub fn fillers() -> &'static [Clip] {
    &FILLERS
}

/// The default voicemail message left after the beep.
pub fn voicemail_default() -> Clip {
    VOICEMAIL_DEFAULT
}

/// A short AI-disclosure / recording notice for greetings that need one.
pub fn ai_disclosure() -> Clip {
    AI_DISCLOSURE
}

/// Any bundled clip by id.
pub fn by_id(id: &str) -> Option<Clip> {
    FILLERS
        .iter()
        .chain([&VOICEMAIL_DEFAULT, &AI_DISCLOSURE])
        .find(|c| c.id == id)
        .copied()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{pcm, ulaw};

    const MANIFEST: &str = include_str!("../assets/manifest.toml");

    /// `(id, text, file, duration_ms)` of every `[[clip]]` in the manifest.
    fn manifest() -> Vec<(String, String, String, u64)> {
        let mut out = Vec::new();
        let mut cur: Vec<(String, String)> = Vec::new();
        let flush = |cur: &mut Vec<(String, String)>, out: &mut Vec<_>| {
            if cur.is_empty() {
                return;
            }
            let get = |k: &str| {
                cur.iter()
                    .find(|(key, _)| key == k)
                    .map(|(_, v)| v.clone())
                    .unwrap_or_default()
            };
            out.push((
                get("id"),
                get("text"),
                get("file"),
                get("duration_ms").parse().unwrap_or(0),
            ));
            cur.clear();
        };
        for line in MANIFEST.lines() {
            let line = line.trim();
            if line == "[[clip]]" {
                flush(&mut cur, &mut out);
            } else if let Some((k, v)) = line.split_once(" = ") {
                cur.push((k.to_string(), v.trim_matches('"').to_string()));
            }
        }
        flush(&mut cur, &mut out);
        out
    }

    #[test]
    fn manifest_and_code_agree() {
        let m = manifest();
        assert_eq!(m.len(), fillers().len() + 2);
        for (id, text, file, ms) in m {
            let clip = by_id(&id).unwrap_or_else(|| panic!("{id} in manifest but not in code"));
            assert_eq!(clip.text, text, "{id}");
            assert_eq!(file, format!("{id}.ulaw"));
            assert_eq!(clip.duration().as_millis() as u64, ms, "{id}");
        }
        assert_eq!(by_id("nope"), None);
    }

    #[test]
    fn enough_fillers_and_small_total() {
        assert!(fillers().len() >= 8);
        let total: usize = fillers().iter().map(|c| c.ulaw.len()).sum::<usize>()
            + voicemail_default().ulaw.len()
            + ai_disclosure().ulaw.len();
        assert!(total < 200 * 1024, "{total}");
        // Fillers are short; the voicemail is a sentence or three.
        assert!(
            fillers()
                .iter()
                .all(|c| c.duration() < Duration::from_millis(2500))
        );
        assert!(voicemail_default().duration() > Duration::from_secs(4));
        assert_eq!(voicemail_default().id, "voicemail_default");
    }

    #[test]
    fn real_voice_clips_trigger_no_beep_and_no_dtmf() {
        // The clips are real (TTS) speech: the detectors must stay quiet.
        for c in fillers()
            .iter()
            .chain([&voicemail_default(), &ai_disclosure()])
        {
            let mut beep = crate::beep::BeepDetector::default();
            let mut dtmf = crate::dtmf::DtmfDetector::default();
            beep.push_ulaw(c.ulaw);
            dtmf.push_ulaw(c.ulaw);
            assert_eq!(beep.poll_event(), None, "{}", c.id);
            assert_eq!(dtmf.poll_digit(), None, "{}", c.id);
        }
    }

    #[test]
    fn amd_calls_the_voicemail_clip_a_machine_and_a_filler_a_human() {
        use crate::amd::{Amd, AmdConfig, Verdict};
        let classify = |clip: Clip| {
            let mut audio = vec![0xFFu8; 4000]; // 0.5 s lead silence
            audio.extend_from_slice(clip.ulaw);
            audio.extend(std::iter::repeat_n(0xFF, 24000));
            let mut amd = Amd::new(AmdConfig::default());
            amd.push_ulaw(&audio).map(|d| d.verdict)
        };
        assert_eq!(classify(voicemail_default()), Some(Verdict::Machine));
        assert_eq!(classify(by_id("okay").unwrap()), Some(Verdict::Human));
        assert_eq!(
            classify(by_id("right_let_me_see").unwrap()),
            Some(Verdict::Human)
        );
    }

    #[test]
    fn clips_are_speech_at_a_sane_level() {
        for c in fillers()
            .iter()
            .chain([&voicemail_default(), &ai_disclosure()])
        {
            let x = ulaw::decode(c.ulaw);
            let level = pcm::level_dbfs(&x);
            assert!((-30.0..-10.0).contains(&level), "{}: {level} dBFS", c.id);
            // Trimmed: starts and ends near silence.
            assert!(pcm::peak(&x[..80]) < 3000, "{} starts loud", c.id);
            assert!(pcm::peak(&x[x.len() - 80..]) < 3000, "{} ends loud", c.id);
            assert_eq!(c.frames_20ms(), c.samples().div_ceil(160));
        }
    }
}
