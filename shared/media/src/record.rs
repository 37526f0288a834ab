//! A two-channel call recording handed out as it is captured, so a call
//! holds a bounded window of audio instead of the whole recording.
//!
//! [`StereoRecorder`] keeps the two channels of a call at 8 kHz: the
//! caller's audio is appended as it arrives (the left channel); the agent's
//! frames are written at the sample where they start playing (the right
//! channel), and a later write may land earlier than the channel's end (a
//! barge-in drops audio that was queued but never played), cutting what
//! followed. [`StereoRecorder::take`] appends the interleaved PCM16 LE bytes
//! of the frames that can no longer change: a frame is final once the
//! caller's sample of it has arrived and the agent's channel is settled past
//! it ([`StereoRecorder::settle_agent`]: no agent write will land earlier).
//! After [`StereoRecorder::close`] every frame is final, the shorter channel
//! padded with silence.
//!
//! The bytes taken, in order, are exactly the `data` chunk of the stereo
//! WAV the whole-recording algorithm built at the end of the call (both
//! channels padded to the longer one, interleaved caller left, agent
//! right), as long as neither channel runs more than [`MAX_LAG`] frames
//! ahead of what is final. Past that (a caller stream stalling for seconds
//! while the agent talks, or a peer sending audio faster than real time),
//! the oldest frames are made final anyway, the missing side as silence,
//! and audio arriving later for those positions lands at the first free
//! position instead: the recording shifts, no audio is dropped, and memory
//! stays bounded.
//!
//! Sans-IO: nothing here writes anywhere; the caller decides where the
//! bytes go (the media bridge spools them to a file).

use std::collections::VecDeque;

/// Frames (samples per channel) that may wait to be final: 2 s at 8 kHz,
/// 64 KiB of both channels at most.
pub const MAX_LAG: usize = 16_000;

/// Bytes of one interleaved PCM16 stereo frame.
pub const FRAME_BYTES: usize = 4;

/// The two channels of a call from the first frame not yet taken on (see
/// the module doc).
#[derive(Debug, Default)]
pub struct StereoRecorder {
    /// Frames already taken.
    taken: u64,
    /// Caller samples from frame `taken` on.
    caller: VecDeque<i16>,
    /// Agent samples from frame `taken` on; its end is the agent channel's
    /// end.
    agent: VecDeque<i16>,
    /// No agent write lands before this frame.
    settled: u64,
    /// Every frame is final.
    closed: bool,
}

impl StereoRecorder {
    /// An empty recording.
    pub fn new() -> Self {
        Self::default()
    }

    /// Appends caller samples.
    pub fn push_caller(&mut self, pcm: &[i16]) {
        self.caller.extend(pcm);
    }

    /// Writes agent samples starting at frame `at` (from the call's start),
    /// cutting what the channel held from there on and padding a gap with
    /// silence. A write before the frames already taken lands at the first
    /// one not taken.
    pub fn write_agent(&mut self, at: u64, pcm: &[i16]) {
        let from = usize::try_from(at.saturating_sub(self.taken)).unwrap_or(usize::MAX);
        // Never pads past the lag bound: a position that far ahead is the
        // caller's own clock being wrong, and the padding is silence anyway.
        self.agent.resize(from.min(MAX_LAG), 0);
        self.agent.extend(pcm);
    }

    /// No agent write will land before frame `at` from now on.
    pub fn settle_agent(&mut self, at: u64) {
        self.settled = self.settled.max(at);
    }

    /// Every frame is final (the call ended).
    pub fn close(&mut self) {
        self.closed = true;
    }

    /// Frames held, not yet taken.
    pub fn pending(&self) -> usize {
        self.caller.len().max(self.agent.len())
    }

    /// Frames taken so far.
    pub fn frames_taken(&self) -> u64 {
        self.taken
    }

    /// Appends the interleaved PCM16 LE bytes (caller left, agent right) of
    /// every frame that is final to `out`; returns how many frames.
    pub fn take(&mut self, out: &mut Vec<u8>) -> usize {
        let pending = self.pending();
        let ready = if self.closed {
            pending
        } else {
            let settled =
                usize::try_from(self.settled.saturating_sub(self.taken)).unwrap_or(usize::MAX);
            self.caller
                .len()
                .min(settled)
                .max(pending.saturating_sub(MAX_LAG))
        };
        // Silence first, then each channel written over its side of the
        // frames (a channel shorter than `ready` leaves silence).
        let start = out.len();
        out.resize(start + ready * FRAME_BYTES, 0);
        let frames = &mut out[start..];
        let caller = ready.min(self.caller.len());
        for (f, s) in frames
            .chunks_exact_mut(FRAME_BYTES)
            .zip(self.caller.drain(..caller))
        {
            f[..2].copy_from_slice(&s.to_le_bytes());
        }
        let agent = ready.min(self.agent.len());
        for (f, s) in frames
            .chunks_exact_mut(FRAME_BYTES)
            .zip(self.agent.drain(..agent))
        {
            f[2..].copy_from_slice(&s.to_le_bytes());
        }
        self.taken += ready as u64;
        ready
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wav;
    use proptest::prelude::*;

    /// What the whole-recording algorithm did: two growing channels, the
    /// agent's written at its position (resize, truncate, extend), both
    /// padded to the longer at the end and interleaved into a WAV.
    #[derive(Default)]
    struct Whole {
        caller: Vec<i16>,
        agent: Vec<i16>,
    }

    impl Whole {
        fn write_agent(&mut self, at: usize, pcm: &[i16]) {
            if self.agent.len() < at {
                self.agent.resize(at, 0);
            }
            self.agent.truncate(at);
            self.agent.extend_from_slice(pcm);
        }

        fn finish(mut self) -> Vec<u8> {
            let n = self.caller.len().max(self.agent.len());
            self.caller.resize(n, 0);
            self.agent.resize(n, 0);
            wav::encode_pcm16(8000, 2, &wav::interleave_stereo(&self.caller, &self.agent))
        }
    }

    #[derive(Clone, Debug)]
    enum Op {
        /// The caller's next samples.
        Caller(usize),
        /// An agent frame this many samples past the settled point.
        Agent(usize, usize),
        /// Time passes: the agent channel settles this much further.
        Settle(usize),
        /// The bytes final so far are taken.
        Take,
    }

    fn op() -> impl Strategy<Value = Op> {
        prop_oneof![
            (1usize..400).prop_map(Op::Caller),
            (0usize..800, 1usize..400).prop_map(|(d, n)| Op::Agent(d, n)),
            (0usize..400).prop_map(Op::Settle),
            Just(Op::Take),
        ]
    }

    /// Distinct sample values, so a lost, repeated or moved sample shows.
    fn samples(next: &mut i16, n: usize) -> Vec<i16> {
        (0..n)
            .map(|_| {
                *next = next.wrapping_add(1);
                *next
            })
            .collect()
    }

    /// Runs `ops` on both, returns (streamed WAV, whole WAV, most pending).
    fn run(ops: &[Op]) -> (Vec<u8>, Vec<u8>, usize) {
        let (mut rec, mut whole) = (StereoRecorder::new(), Whole::default());
        let (mut data, mut next, mut settled, mut most) = (Vec::new(), 0i16, 0usize, 0);
        for op in ops {
            match *op {
                Op::Caller(n) => {
                    let pcm = samples(&mut next, n);
                    rec.push_caller(&pcm);
                    whole.caller.extend_from_slice(&pcm);
                }
                Op::Agent(d, n) => {
                    let pcm = samples(&mut next, n);
                    rec.write_agent((settled + d) as u64, &pcm);
                    whole.write_agent(settled + d, &pcm);
                }
                Op::Settle(d) => {
                    settled += d;
                    rec.settle_agent(settled as u64);
                }
                Op::Take => {
                    rec.take(&mut data);
                }
            }
            most = most.max(rec.pending());
        }
        rec.close();
        rec.take(&mut data);
        let mut streamed = wav::WavSpec::pcm16_stereo(8000).header(data.len() as u64);
        streamed.extend_from_slice(&data);
        (streamed, whole.finish(), most)
    }

    #[test]
    fn a_barge_in_rewind_cuts_the_agent_audio_never_played() {
        // GIVEN agent audio queued 60 ms ahead, then cut by a barge-in
        let mut rec = StereoRecorder::new();
        let mut out = Vec::new();
        rec.push_caller(&[1; 160]);
        rec.write_agent(0, &[7; 640]);
        rec.settle_agent(160);
        assert_eq!(rec.take(&mut out), 160, "the first caller frame is final");
        // WHEN the playout is rewound to frame 320 and the caller goes on
        rec.write_agent(320, &[9; 160]);
        rec.push_caller(&[2; 320]);
        rec.close();
        rec.take(&mut out);
        // THEN the queued agent audio past 320 is gone, the rest is there
        let right: Vec<i16> = out
            .chunks(4)
            .map(|f| i16::from_le_bytes([f[2], f[3]]))
            .collect();
        assert_eq!(right.len(), 480);
        assert!(right[..320].iter().all(|&s| s == 7));
        assert!(right[320..].iter().all(|&s| s == 9));
    }

    #[test]
    fn nothing_is_final_before_both_channels_reach_it() {
        let mut rec = StereoRecorder::new();
        let mut out = Vec::new();
        rec.push_caller(&[1; 400]);
        assert_eq!(rec.take(&mut out), 0, "the agent channel is not settled");
        rec.settle_agent(300);
        assert_eq!(rec.take(&mut out), 300);
        rec.settle_agent(1000);
        assert_eq!(rec.take(&mut out), 100, "the caller's audio ends at 400");
        assert_eq!(out.len(), 400 * FRAME_BYTES);
    }

    #[test]
    fn a_stalled_channel_bounds_what_is_held_and_loses_nothing() {
        // GIVEN a caller stream that stops for 10 s while the agent talks
        let mut rec = StereoRecorder::new();
        let mut out = Vec::new();
        rec.push_caller(&[1; 160]);
        for i in 0..500u64 {
            rec.write_agent(i * 160, &[5; 160]);
            rec.settle_agent(i * 160);
            rec.take(&mut out);
            // THEN at most MAX_LAG frames (and one write) are held
            assert!(rec.pending() <= MAX_LAG + 160, "{}", rec.pending());
        }
        // AND the caller's audio after the stall lands after what was
        // taken, none of it dropped
        rec.push_caller(&[3; 160]);
        rec.close();
        rec.take(&mut out);
        let left: Vec<i16> = out
            .chunks(4)
            .map(|f| i16::from_le_bytes([f[0], f[1]]))
            .collect();
        assert_eq!(left.iter().filter(|&&s| s == 1).count(), 160);
        assert_eq!(left.iter().filter(|&&s| s == 3).count(), 160);
        let right = out.chunks(4).filter(|f| f[2] == 5).count();
        assert_eq!(right, 500 * 160, "every agent frame is there");
    }

    proptest! {
        #[test]
        fn streamed_bytes_equal_the_whole_recording(ops in proptest::collection::vec(op(), 0..120)) {
            let (streamed, whole, most) = run(&ops);
            prop_assume!(most <= MAX_LAG);
            prop_assert_eq!(streamed, whole);
        }
    }
}
