//! The live tap: what a call's watchers see and hear while it goes on.
//!
//! After each step of the driver, [`LiveTap::observe`] compares the
//! conversation with what it last published and hands the difference to
//! the host's [`LiveFeed`] as [`LiveEvent`]s (transcript lines as they
//! grow, state changes, the AMD verdict, fillers, barge-ins). For
//! listen-in it mixes both channels into one 8 kHz μ-law stream: the
//! agent's frames are queued as they are sent to the provider and each
//! caller frame (the provider's 20 ms clock) takes one of them.
//!
//! It costs nothing while nobody listens: [`LiveFeed::wants_audio`] is
//! asked per frame (an atomic read) and no frame is mixed, queued or
//! encoded without a listener. Publishing never blocks the call: a feed
//! drops what a slow watcher cannot take.

use std::collections::VecDeque;

use voxdial_conversation::{Conversation, FRAME_SAMPLES, Frame, LiveEvent, State};
use voxdial_media::ulaw;

/// Where a live call's events and mixed audio go (the host's fan-out to
/// watchers and listeners). Every method must return at once.
pub trait LiveFeed: Send + Sync {
    /// Something happened in the call.
    fn event(&self, event: LiveEvent);
    /// Whether anyone listens to the call now.
    fn wants_audio(&self) -> bool;
    /// 20 ms of the call, both channels mixed, 8 kHz μ-law.
    fn audio(&self, ulaw: &[u8]);
}

/// Agent frames waiting for their caller frame: two seconds (the core
/// sends ahead of the playout by far less), beyond which the oldest go.
const MAX_QUEUED: usize = 100;

/// The console's name of a conversation state.
fn state_name(state: State) -> &'static str {
    match state {
        State::Init => "init",
        State::Welcome => "welcome",
        State::Listening => "listening",
        State::HumanSpeaking => "human_speaking",
        State::ProcessingRequest => "processing_request",
        State::Responding => "responding",
        State::Transfer => "transfer",
        State::CallEnding => "call_ending",
    }
}

/// One call's tap (see the module doc).
pub(crate) struct LiveTap {
    feed: Box<dyn LiveFeed>,
    /// Length of each transcript line as last published.
    lines: Vec<usize>,
    state: Option<State>,
    amd_sent: bool,
    fillers: u32,
    barge_ins: u32,
    /// Agent frames sent to the provider, not yet mixed.
    agent: VecDeque<Frame>,
    /// The mixed frame, encoded.
    ulaw: [u8; FRAME_SAMPLES],
}

impl LiveTap {
    /// A tap publishing to `feed`.
    pub(crate) fn new(feed: Box<dyn LiveFeed>) -> LiveTap {
        LiveTap {
            feed,
            lines: Vec::new(),
            state: None,
            amd_sent: false,
            fillers: 0,
            barge_ins: 0,
            agent: VecDeque::new(),
            ulaw: [0; FRAME_SAMPLES],
        }
    }

    /// Publishes what changed in `conv` since the last call.
    pub(crate) fn observe(&mut self, conv: &Conversation) {
        if self.state != Some(conv.state()) {
            self.state = Some(conv.state());
            self.feed.event(LiveEvent::State {
                state: state_name(conv.state()).into(),
            });
        }
        if !self.amd_sent
            && let Some(amd) = conv.amd()
        {
            self.amd_sent = true;
            self.feed.event(LiveEvent::Amd {
                verdict: amd.verdict,
                source: amd.source,
            });
        }
        let metrics = conv.metrics();
        if metrics.fillers_played > self.fillers {
            self.fillers = metrics.fillers_played;
            self.feed.event(LiveEvent::Filler {
                count: self.fillers,
            });
        }
        if metrics.barge_ins > self.barge_ins {
            self.barge_ins = metrics.barge_ins;
            self.feed.event(LiveEvent::BargeIn {
                count: self.barge_ins,
            });
        }
        for (index, turn) in conv.transcript().iter().enumerate() {
            if index == self.lines.len() {
                self.lines.push(0);
            }
            let text = turn.text.trim();
            if text.len() != self.lines[index] {
                self.lines[index] = text.len();
                self.feed.event(LiveEvent::Line {
                    index,
                    speaker: turn.speaker,
                    at_ms: turn.start_ms,
                    transcript: text.to_string(),
                });
            }
        }
    }

    /// A frame of agent audio just sent to the provider.
    pub(crate) fn agent_frame(&mut self, frame: &Frame) {
        if !self.feed.wants_audio() {
            return;
        }
        if self.agent.len() == MAX_QUEUED {
            self.agent.pop_front();
        }
        self.agent.push_back(*frame);
    }

    /// The provider was told to drop the agent audio it holds (barge-in):
    /// so is the mix.
    pub(crate) fn agent_cleared(&mut self) {
        self.agent.clear();
    }

    /// A frame of caller audio just received: mixed with the agent's frame
    /// of the same slot and published, when someone listens.
    pub(crate) fn caller_frame(&mut self, pcm: &[i16]) {
        if !self.feed.wants_audio() {
            self.agent.clear();
            return;
        }
        let agent = self.agent.pop_front();
        let n = pcm.len().min(FRAME_SAMPLES);
        let mut mixed = [0i16; FRAME_SAMPLES];
        for (i, out) in mixed[..n].iter_mut().enumerate() {
            let a = agent.as_ref().map_or(0, |f| f[i]);
            *out = pcm[i].saturating_add(a);
        }
        let written = ulaw::encode_into(&mixed[..n], &mut self.ulaw);
        self.feed.audio(&self.ulaw[..written]);
    }
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use super::*;

    #[derive(Default)]
    struct Seen {
        listening: bool,
        audio: Vec<Vec<u8>>,
    }

    struct Probe(Arc<Mutex<Seen>>);

    impl LiveFeed for Probe {
        fn event(&self, _: LiveEvent) {}
        fn wants_audio(&self) -> bool {
            self.0.lock().unwrap().listening
        }
        fn audio(&self, ulaw: &[u8]) {
            self.0.lock().unwrap().audio.push(ulaw.to_vec());
        }
    }

    fn tap() -> (LiveTap, Arc<Mutex<Seen>>) {
        let seen = Arc::new(Mutex::new(Seen::default()));
        (LiveTap::new(Box::new(Probe(seen.clone()))), seen)
    }

    #[test]
    fn nothing_is_mixed_or_queued_while_nobody_listens() {
        let (mut tap, seen) = tap();
        tap.agent_frame(&[1000; 160]);
        tap.caller_frame(&[0; 160]);
        assert!(seen.lock().unwrap().audio.is_empty());
        assert!(tap.agent.is_empty());
    }

    #[test]
    fn a_listener_hears_both_channels_mixed_frame_by_frame() {
        let (mut tap, seen) = tap();
        seen.lock().unwrap().listening = true;
        // GIVEN an agent frame sent, then two caller frames
        tap.agent_frame(&[4000; 160]);
        tap.caller_frame(&[2000; 160]);
        tap.caller_frame(&[2000; 160]);
        // THEN the first is the sum of both, the second the caller alone
        let audio = &seen.lock().unwrap().audio;
        assert_eq!(audio.len(), 2);
        assert_eq!(
            ulaw::decode_sample(audio[0][0]),
            ulaw::decode_sample(ulaw::encode_sample(6000))
        );
        assert_eq!(
            ulaw::decode_sample(audio[1][0]),
            ulaw::decode_sample(ulaw::encode_sample(2000))
        );
        assert_eq!(audio[0].len(), 160);
    }

    #[test]
    fn a_barge_in_drops_the_queued_agent_audio_and_the_queue_is_bounded() {
        let (mut tap, seen) = tap();
        seen.lock().unwrap().listening = true;
        for _ in 0..MAX_QUEUED + 10 {
            tap.agent_frame(&[4000; 160]);
        }
        assert_eq!(tap.agent.len(), MAX_QUEUED);
        tap.agent_cleared();
        tap.caller_frame(&[0; 160]);
        let audio = &seen.lock().unwrap().audio;
        assert_eq!(
            ulaw::decode_sample(audio[0][0]),
            ulaw::decode_sample(ulaw::encode_sample(0))
        );
    }
}
