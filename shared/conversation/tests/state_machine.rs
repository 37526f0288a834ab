//! State-machine tests on a simulated clock: barge-in, filler rules,
//! silence, transfer, voicemail, DTMF menus, marks, recording.

use std::time::Duration;

use serde_json::{Map, Value, json};
use voxdial_conversation::{
    AgentConfig, CallContext, Conversation, EndReason, HostRequest, HumanAgent, Input,
    ModelRequest, Output, ProviderCaps, State, VerdictSource,
};
use voxdial_domain::{AnsweredBy, CampaignId, Disposition, E164, HumanAgentId, VoicemailPolicy};
use voxdial_media::synth::Synth;

const F: Duration = Duration::from_millis(20);
/// Model audio frames are a constant so they can be told from fillers.
const MODEL_LEVEL: i16 = 1234;

fn ctx() -> CallContext {
    CallContext::with_agent(CampaignId::parse("c1").unwrap(), AgentConfig::default())
}

/// A conversation on a simulated clock, with everything it said kept.
struct Sim {
    conv: Conversation,
    now: Duration,
    out: Vec<(Duration, Output)>,
    synth: Synth,
    /// The recording's bytes taken during the call.
    spooled: Vec<u8>,
}

impl Sim {
    fn new(ctx: CallContext) -> Self {
        let now = Duration::from_secs(100);
        let conv = Conversation::new(
            now,
            &ctx,
            ProviderCaps {
                marks_and_clear: true,
            },
            7,
        );
        let mut s = Sim {
            conv,
            now,
            out: Vec::new(),
            synth: Synth::new(3),
            spooled: Vec::new(),
        };
        s.drain();
        s
    }

    /// Human, model ready, opening played and done: Listening.
    fn listening() -> Self {
        let mut c = ctx();
        c.answered_by = Some(AnsweredBy::Human);
        let mut s = Sim::new(c);
        s.input(Input::ModelReady);
        assert!(s.take_prompts().iter().any(|p| p.contains("Greet")));
        s.model_says(200);
        s.input(Input::ModelTurnComplete);
        s.silence(300);
        assert_eq!(s.conv.state(), State::Listening);
        s.out.clear();
        s
    }

    fn drain(&mut self) {
        while let Some(o) = self.conv.poll_output() {
            self.out.push((self.now, o));
        }
    }

    fn input(&mut self, i: Input<'_>) {
        self.conv.handle_input(self.now, i);
        self.drain();
    }

    /// Advances one frame of caller audio, firing due timers first.
    fn frame(&mut self, pcm: &[i16]) {
        while let Some(t) = self.conv.poll_timeout() {
            if t > self.now {
                break;
            }
            self.conv.handle_timeout(self.now);
            self.drain();
            if self.conv.poll_timeout() == Some(t) {
                break;
            }
        }
        self.conv.handle_input(self.now, Input::CallerAudio(pcm));
        self.drain();
        self.now += F;
    }

    fn silence(&mut self, ms: u64) {
        for _ in 0..ms / 20 {
            self.frame(&[0; 160]);
        }
    }

    fn speak(&mut self, ms: u64) {
        let n = (ms / 20) as usize * 160;
        let pcm = self.synth.speech(n, -20.0);
        for f in pcm.chunks(160) {
            self.frame(f);
        }
    }

    fn audio(&mut self, pcm: &[i16]) {
        for f in pcm.chunks(160) {
            if f.len() == 160 {
                self.frame(f);
            }
        }
    }

    /// The model sends `ms` of audio at once (faster than real time).
    fn model_says(&mut self, ms: u64) {
        for _ in 0..ms / 20 {
            self.input(Input::ModelAudio(&[MODEL_LEVEL; 160]));
        }
    }

    /// Ends the call and returns its stereo WAV: the bytes taken so far
    /// (`spooled`) and the rest, behind a header.
    fn recording(&mut self) -> Vec<u8> {
        self.conv.finish(self.now);
        self.conv.take_recording(&mut self.spooled);
        let mut wav = Conversation::recording_spec().header(self.spooled.len() as u64);
        wav.append(&mut self.spooled);
        wav
    }

    /// One frame of caller audio, then the recording's final bytes taken,
    /// as the bridge's driver does; returns the frames the core holds.
    fn frame_spooled(&mut self, pcm: &[i16]) -> usize {
        self.frame(pcm);
        self.conv.take_recording(&mut self.spooled);
        self.conv.recording_pending()
    }

    fn take_prompts(&mut self) -> Vec<String> {
        self.out
            .iter()
            .filter_map(|(_, o)| match o {
                Output::Model(ModelRequest::Prompt(p)) => Some(p.clone()),
                _ => None,
            })
            .collect()
    }

    fn host(&self) -> Vec<HostRequest> {
        self.out
            .iter()
            .filter_map(|(_, o)| match o {
                Output::Host(h) => Some(h.clone()),
                _ => None,
            })
            .collect()
    }

    fn tool_responses(&self) -> Vec<(String, Map<String, Value>)> {
        self.out
            .iter()
            .filter_map(|(_, o)| match o {
                Output::Model(ModelRequest::ToolResponse { name, response, .. }) => {
                    Some((name.clone(), response.clone()))
                }
                _ => None,
            })
            .collect()
    }

    fn audio_out(&self) -> Vec<(Duration, i16)> {
        self.out
            .iter()
            .filter_map(|(t, o)| match o {
                Output::CallerAudio(f) => Some((*t, f[80])),
                _ => None,
            })
            .collect()
    }

    /// How many times the model's held audio was dropped.
    fn resets(&self) -> usize {
        self.out
            .iter()
            .filter(|(_, o)| matches!(o, Output::ResetModelAudio))
            .count()
    }

    fn ended(&self) -> Option<EndReason> {
        self.out.iter().find_map(|(_, o)| match o {
            Output::Ended(r) => Some(*r),
            _ => None,
        })
    }

    fn tool(&mut self, id: &str, name: &str, args: Value) {
        let Value::Object(m) = args else { panic!() };
        self.input(Input::ToolCall { id, name, args: &m });
    }
}

fn agent() -> HumanAgent {
    HumanAgent {
        id: HumanAgentId::parse("h1").unwrap(),
        number: E164::from_trusted("+14155550100").unwrap(),
        name: "Priya".into(),
    }
}

#[test]
fn opening_is_held_until_a_short_hello_then_starts() {
    // GIVEN no provider verdict and the model session already open
    let mut s = Sim::new(ctx());
    s.input(Input::ModelReady);
    assert_eq!(s.conv.state(), State::Init);
    assert!(s.take_prompts().is_empty(), "opening held");
    assert!(!s.conv.forward_caller_audio());
    // WHEN the callee says a short "hello" and waits
    let hello = Synth::new(11).human_hello(300.0, 3000.0, -20.0);
    s.audio(&hello);
    // THEN the local AMD says human and the opening goes out
    assert_eq!(s.conv.state(), State::Welcome);
    assert_eq!(s.take_prompts().len(), 1);
    assert!(s.conv.forward_caller_audio());
    let summary = s.conv.finish(s.now);
    let amd = summary.report.amd.unwrap();
    assert_eq!(amd.verdict, AnsweredBy::Human);
    assert_eq!(amd.source, VerdictSource::Local);
    assert!(
        amd.latency_ms > 300 && amd.latency_ms < 3000,
        "{}",
        amd.latency_ms
    );
}

#[test]
fn provider_verdict_starts_at_once_and_session_may_open_later() {
    let mut c = ctx();
    c.answered_by = Some(AnsweredBy::Human);
    let mut s = Sim::new(c);
    assert_eq!(s.conv.state(), State::Welcome);
    assert!(s.take_prompts().is_empty(), "model not ready yet");
    s.input(Input::ModelReady);
    assert_eq!(s.take_prompts().len(), 1);
    // the greeting's audio counts from answer
    s.silence(400);
    s.model_says(100);
    s.silence(100);
    let r = s.conv.finish(s.now).report;
    assert_eq!(r.metrics.greeting_latency_ms, Some(400));
    assert_eq!(r.amd.unwrap().source, VerdictSource::Provider);
}

#[test]
fn hold_times_out_to_a_person() {
    let mut s = Sim::new(ctx());
    s.input(Input::ModelReady);
    s.silence(3600);
    assert_eq!(s.conv.state(), State::Welcome);
    let amd = s.conv.finish(s.now).report.amd.unwrap();
    // The local classifier's initial-silence rule (3 s) or the hold (3.5 s).
    assert!(matches!(
        amd.source,
        VerdictSource::Local | VerdictSource::Timeout
    ));
    assert_eq!(amd.verdict, AnsweredBy::Unknown);
}

#[test]
fn barge_in_sends_clear_in_the_same_frame_and_drops_queued_audio() {
    let mut s = Sim::listening();
    s.speak(600);
    s.silence(300);
    assert_eq!(s.conv.state(), State::ProcessingRequest);
    // GIVEN the model answers with 3 s of audio at once
    s.model_says(3000);
    assert_eq!(s.conv.state(), State::Responding);
    s.silence(500);
    let before = s.audio_out().len();
    assert!(before < 10 + 500 / 20, "paced: {before} frames sent");
    s.out.clear();
    // WHEN the caller talks over it
    let speech = s.synth.speech(160 * 20, -20.0);
    let mut clear_frame = None;
    for (i, f) in speech.chunks(160).enumerate() {
        s.frame(f);
        if s.out.iter().any(|(_, o)| *o == Output::Clear) {
            clear_frame = Some(i);
            break;
        }
    }
    // THEN clear goes out in the frame the VAD fires (start_frames = 2)
    let i = clear_frame.expect("clear sent");
    assert!(i <= 2, "clear after {i} frames");
    assert_eq!(s.conv.state(), State::HumanSpeaking);
    assert!(s.out.iter().any(|(_, o)| *o == Output::ResetModelAudio));
    // and no queued model audio follows, even if the model keeps sending
    let n = s.audio_out().len();
    s.model_says(200);
    s.speak(200);
    assert_eq!(s.audio_out().len(), n, "old turn's audio dropped");
    s.input(Input::ModelInterrupted);
    let r = s.conv.finish(s.now);
    assert_eq!(r.report.metrics.barge_ins, 1);
    let agent_turn = r
        .transcript
        .iter()
        .find(|t| t.interrupted)
        .expect("interrupted turn");
    let heard = agent_turn.heard_ms.unwrap();
    assert!((400..=700).contains(&heard), "heard {heard} ms");
}

#[test]
fn model_interrupted_clears_playout() {
    let mut s = Sim::listening();
    s.speak(400);
    s.silence(300);
    s.model_says(2000);
    s.silence(100);
    s.out.clear();
    s.input(Input::ModelInterrupted);
    assert!(s.out.iter().any(|(_, o)| *o == Output::Clear));
    s.silence(200);
    assert!(s.audio_out().is_empty());
    // the next turn's audio plays again
    s.model_says(100);
    s.silence(100);
    assert!(!s.audio_out().is_empty());
}

#[test]
fn filler_plays_only_when_the_model_is_late_and_stops_at_a_frame_boundary() {
    let mut s = Sim::listening();
    // Fast model: no filler.
    s.speak(500);
    s.silence(200);
    let end = s.now;
    s.silence(200);
    s.model_says(200);
    s.input(Input::ModelTurnComplete);
    s.silence(600);
    assert_eq!(s.conv.metrics().fillers_played, 0);
    let _ = end;
    // Late model: a filler after the threshold (700 ms after the VAD's turn end).
    s.out.clear();
    s.speak(500);
    s.silence(1200);
    assert_eq!(s.conv.metrics().fillers_played, 1);
    let filler_frames = s.audio_out();
    assert!(!filler_frames.is_empty());
    assert!(filler_frames.iter().all(|(_, v)| *v != MODEL_LEVEL));
    // WHEN the model's audio arrives mid-filler
    s.out.clear();
    s.model_says(400);
    s.silence(400);
    // THEN at most the already-sent lead of filler plays, then model audio
    let a = s.audio_out();
    let first_model = a.iter().position(|(_, v)| *v == MODEL_LEVEL).unwrap();
    assert_eq!(
        first_model, 0,
        "no further filler frames once model audio came"
    );
    assert!(a[first_model..].iter().all(|(_, v)| *v == MODEL_LEVEL));
    let r = s.conv.finish(s.now).report;
    let t = r.metrics.turns.last().unwrap();
    assert!(t.filler);
    assert!(t.first_audio_ms.unwrap() >= 700);
}

#[test]
fn fillers_never_repeat_back_to_back() {
    let mut s = Sim::listening();
    let mut firsts: Vec<Vec<i16>> = Vec::new();
    for _ in 0..12 {
        s.out.clear();
        s.speak(400);
        s.silence(1500);
        let frames: Vec<i16> = s
            .out
            .iter()
            .filter_map(|(_, o)| match o {
                Output::CallerAudio(f) => Some(f.to_vec()),
                _ => None,
            })
            .flatten()
            .take(800)
            .collect();
        assert!(!frames.is_empty(), "filler played");
        firsts.push(frames);
        s.model_says(100);
        s.input(Input::ModelTurnComplete);
        s.silence(300);
    }
    for w in firsts.windows(2) {
        assert_ne!(w[0], w[1], "same filler twice in a row");
    }
    assert_eq!(s.conv.metrics().fillers_played, 12);
    let distinct: std::collections::BTreeSet<_> = firsts.iter().collect();
    assert!(distinct.len() >= 4, "varied: {}", distinct.len());
}

#[test]
fn silence_reprompts_twice_then_says_goodbye_and_hangs_up() {
    let mut s = Sim::listening();
    s.silence(7100);
    assert_eq!(s.take_prompts().len(), 1, "first re-prompt after 7 s");
    s.model_says(400);
    s.input(Input::ModelTurnComplete);
    s.silence(7600);
    assert_eq!(s.take_prompts().len(), 2);
    s.model_says(400);
    s.input(Input::ModelTurnComplete);
    s.silence(7600);
    let prompts = s.take_prompts();
    assert_eq!(prompts.len(), 3);
    assert!(prompts[2].contains("goodbye"));
    assert_eq!(s.conv.state(), State::CallEnding);
    assert!(s.ended().is_none(), "waits for the goodbye");
    s.model_says(600);
    s.input(Input::ModelTurnComplete);
    s.silence(800);
    assert_eq!(s.ended(), Some(EndReason::Silence));
    assert!(s.host().contains(&HostRequest::HangUp));
    assert_eq!(s.conv.metrics().reprompts, 2);
}

#[test]
fn speech_resets_the_silence_timer() {
    let mut s = Sim::listening();
    s.silence(5000);
    s.speak(400);
    s.silence(300);
    s.model_says(200);
    s.input(Input::ModelTurnComplete);
    s.silence(5000);
    assert!(s.take_prompts().is_empty());
}

#[test]
fn warm_transfer_with_an_available_agent() {
    let mut s = Sim::listening();
    s.input(Input::CallerTranscript("I'd like to talk to a person"));
    s.speak(400);
    s.silence(300);
    s.tool(
        "t1",
        "transfer_call",
        json!({"reason": "asked for a human", "skills": ["sales"]}),
    );
    assert_eq!(s.conv.state(), State::Transfer);
    assert_eq!(
        s.host(),
        vec![HostRequest::PickHumanAgent {
            skills: vec!["sales".into()]
        }]
    );
    s.input(Input::HumanAgent(Some(agent())));
    let (name, resp) = s.tool_responses().pop().unwrap();
    assert_eq!(name, "transfer_call");
    assert_eq!(resp["result"], "transferring");
    // the model says "connecting you now", then the transfer is carried out
    s.model_says(600);
    s.input(Input::ModelTurnComplete);
    s.silence(1000);
    let plan = s
        .host()
        .into_iter()
        .find_map(|h| match h {
            HostRequest::Transfer(p) => Some(p),
            _ => None,
        })
        .expect("transfer requested after the notice played");
    assert_eq!(plan.to.name, "Priya");
    assert_eq!(plan.mode, voxdial_conversation::TransferMode::Warm);
    assert!(
        plan.summary.contains("talk to a person"),
        "{}",
        plan.summary
    );
    s.input(Input::TransferDone(Ok(())));
    assert_eq!(s.conv.disposition(), Some(Disposition::Transferred));
    assert!(!s.host().contains(&HostRequest::HangUp));
    s.input(Input::StreamStopped);
    assert!(s.ended().is_some());
}

#[test]
fn no_agent_available_offers_and_schedules_a_callback() {
    let mut s = Sim::listening();
    s.tool("t1", "transfer_call", json!({"reason": "x"}));
    s.input(Input::HumanAgent(None));
    assert_eq!(s.tool_responses()[0].1["result"], "no_agent_available");
    assert_eq!(s.conv.state(), State::ProcessingRequest);
    s.tool(
        "t2",
        "schedule_callback",
        json!({"at": "2026-12-01T10:00:00Z"}),
    );
    assert!(
        s.host()
            .iter()
            .any(|h| matches!(h, HostRequest::ScheduleCallback { at: Some(_) }))
    );
    s.input(Input::CallbackScheduled(Ok(())));
    assert_eq!(s.tool_responses()[1].1["result"], "scheduled");
    assert_eq!(s.conv.disposition(), Some(Disposition::CallbackRequested));
}

#[test]
fn failed_transfer_releases_the_agent() {
    let mut s = Sim::listening();
    s.tool("t1", "transfer_call", json!({}));
    s.input(Input::HumanAgent(Some(agent())));
    s.model_says(100);
    s.input(Input::ModelTurnComplete);
    s.silence(400);
    s.input(Input::TransferDone(Err("busy".into())));
    assert!(
        s.host()
            .contains(&HostRequest::ReleaseHumanAgent(agent().id))
    );
    assert!(
        s.take_prompts()
            .iter()
            .any(|p| p.contains("transfer failed"))
    );
    assert!(s.ended().is_none());
}

#[test]
fn voicemail_waits_for_the_beep_then_leaves_the_message_and_hangs_up() {
    // GIVEN the provider says machine_start and the policy leaves a message
    let mut c = ctx();
    c.answered_by = Some(AnsweredBy::MachineStart);
    let mut s = Sim::new(c);
    s.input(Input::ModelReady);
    assert_eq!(s.conv.state(), State::CallEnding);
    assert!(s.take_prompts().is_empty(), "the model never starts");
    // WHEN the greeting plays and a beep ends it
    let greeting = Synth::new(5).voicemail_greeting(
        200.0,
        4000.0,
        400.0,
        Some((1000.0, 400.0)),
        5200.0,
        -20.0,
    );
    let beep_end = s.now + Duration::from_millis(5200);
    s.audio(&greeting[..greeting.len() - 160 * 25]);
    assert!(s.audio_out().is_empty(), "silent during the greeting");
    s.silence(600);
    // THEN the voicemail clip starts right after the beep
    let a = s.audio_out();
    assert!(!a.is_empty(), "message started");
    assert!(a[0].0 <= beep_end + Duration::from_millis(200));
    let clip_ms = voxdial_media::assets::voicemail_default()
        .duration()
        .as_millis() as u64;
    s.silence(clip_ms + 500);
    assert_eq!(s.ended(), Some(EndReason::VoicemailLeft));
    assert!(
        s.host().contains(&HostRequest::VoicemailLeft),
        "the host records the message before it hangs up"
    );
    assert!(!s.host().contains(&HostRequest::HangUp));
    let frames = s.audio_out().len() as u64;
    assert!(frames * 20 >= clip_ms, "whole message sent");
}

#[test]
fn a_voicemail_cut_short_is_not_reported_as_left() {
    // GIVEN a machine verdict with its message done, so the clip starts at once
    let mut c = ctx();
    c.answered_by = Some(AnsweredBy::MachineEndBeep);
    let mut s = Sim::new(c);
    s.input(Input::ModelReady);
    s.silence(100);
    assert!(!s.audio_out().is_empty(), "message started");
    // WHEN the machine hangs up 3 s into the message
    s.silence(3000);
    s.input(Input::StreamStopped);
    let clip_ms = voxdial_media::assets::voicemail_default()
        .duration()
        .as_millis() as u64;
    assert!(clip_ms > 3100, "the default clip is longer than the cut");
    s.silence(clip_ms);
    // THEN the call ended on the stream's stop, and the host never hears
    // that a message was left
    assert_eq!(s.ended(), Some(EndReason::StreamStopped));
    assert!(!s.host().contains(&HostRequest::VoicemailLeft));
}

#[test]
fn local_amd_detects_a_machine_and_hang_up_policy_hangs_up_at_once() {
    let mut c = ctx();
    c.voicemail = VoicemailPolicy::HangUp;
    let mut s = Sim::new(c);
    s.input(Input::ModelReady);
    // A greeting without a pause a person would leave (one would start
    // the opening: see the early-opening test below).
    let mut synth = Synth::new(9);
    let mut greeting = synth.silence(2400);
    greeting.extend(synth.speech(8000 * 6, -20.0));
    s.audio(&greeting);
    assert_eq!(s.ended(), Some(EndReason::MachineHangUp));
    assert!(s.host().contains(&HostRequest::HangUp));
    assert!(s.take_prompts().is_empty());
    let r = s.conv.finish(s.now).report;
    let amd = r.amd.unwrap();
    assert!(amd.verdict.is_machine());
    assert_eq!(amd.source, VerdictSource::Local);
}

#[test]
fn machine_end_beep_from_the_provider_plays_the_message_at_once() {
    let mut c = ctx();
    c.answered_by = Some(AnsweredBy::MachineEndBeep);
    let mut s = Sim::new(c);
    s.silence(100);
    assert!(!s.audio_out().is_empty());
}

#[test]
fn dtmf_menu_opt_out_goes_on_the_dnc_list_at_once() {
    let mut s = Sim::listening();
    s.input(Input::Dtmf('9'));
    let h = s.host();
    assert!(h.contains(&HostRequest::OptOut));
    assert!(h.contains(&HostRequest::RecordDisposition(Disposition::OptedOut)));
    assert_eq!(s.conv.state(), State::CallEnding);
    s.model_says(300);
    s.input(Input::ModelTurnComplete);
    s.silence(600);
    assert_eq!(s.ended(), Some(EndReason::OptedOut));
    // a later outcome cannot undo the opt-out
    assert_eq!(s.conv.disposition(), Some(Disposition::OptedOut));
}

#[test]
fn dtmf_menu_human_and_callback_keys() {
    let mut s = Sim::listening();
    s.input(Input::Dtmf('1'));
    assert!(matches!(s.host()[0], HostRequest::PickHumanAgent { .. }));
    let mut s = Sim::listening();
    s.input(Input::Dtmf('2'));
    assert!(s.take_prompts()[0].contains("called back"));
}

#[test]
fn collect_digits_with_terminator_and_timeout() {
    let mut s = Sim::listening();
    s.tool(
        "d1",
        "collect_digits",
        json!({"max_digits": 6, "terminator": "#"}),
    );
    for d in ['4', '2', '7', '#'] {
        s.input(Input::Dtmf(d));
        s.silence(200);
    }
    let (name, r) = s.tool_responses().pop().unwrap();
    assert_eq!(name, "collect_digits");
    assert_eq!(r["digits"], "427");
    assert_eq!(r["reason"], "terminator");
    // a digit outside a collection does not feed the old one
    s.out.clear();
    s.tool("d2", "collect_digits", json!({"timeout_s": 3}));
    s.input(Input::Dtmf('5'));
    s.silence(3200);
    let (_, r) = s.tool_responses().pop().unwrap();
    assert_eq!(r["digits"], "5");
    assert_eq!(r["reason"], "timeout");
}

#[test]
fn inband_dtmf_is_detected_without_provider_events() {
    let mut c = ctx();
    c.answered_by = Some(AnsweredBy::Human);
    c.agent.inband_dtmf = true;
    let mut s = Sim::new(c);
    s.input(Input::ModelReady);
    s.silence(200);
    s.out.clear();
    let tones = Synth::new(1)
        .dtmf_sequence("9", -10.0, 100.0, 100.0)
        .unwrap();
    s.audio(&tones);
    s.silence(100);
    assert!(s.host().contains(&HostRequest::OptOut));
}

#[test]
fn record_outcome_and_end_call_tools() {
    let mut s = Sim::listening();
    s.tool("r1", "record_outcome", json!({"disposition": "interested"}));
    assert_eq!(s.conv.disposition(), Some(Disposition::Interested));
    s.tool("r2", "record_outcome", json!({"disposition": "bogus"}));
    assert!(s.tool_responses()[1].1.contains_key("error"));
    s.tool("e1", "end_call", json!({}));
    s.model_says(200);
    s.input(Input::ModelTurnComplete);
    s.silence(500);
    assert_eq!(s.ended(), Some(EndReason::AgentHungUp));
}

#[test]
fn end_call_after_the_goodbye_never_says_it_twice() {
    // GIVEN the caller said goodbye and the agent answered with its goodbye
    let mut s = Sim::listening();
    s.speak(400);
    s.silence(300);
    s.model_says(600);
    s.input(Input::ModelTurnComplete);
    // WHEN the model then calls end_call, and answers the tool response
    // with another goodbye
    s.tool("e1", "end_call", json!({}));
    s.model_says(600);
    s.input(Input::ModelTurnComplete);
    s.silence(3000);
    // THEN only the first goodbye reaches the caller, and the call ends
    let spoken = s
        .audio_out()
        .iter()
        .filter(|(_, v)| *v == MODEL_LEVEL)
        .count();
    assert_eq!(spoken, 600 / 20, "one goodbye");
    let (name, response) = s.tool_responses().pop().unwrap();
    assert_eq!(name, "end_call");
    assert!(
        response["instruction"]
            .as_str()
            .unwrap()
            .contains("nothing more")
    );
    assert_eq!(s.ended(), Some(EndReason::AgentHungUp));
    assert!(s.host().contains(&HostRequest::HangUp));
}

#[test]
fn end_call_before_the_goodbye_waits_for_it() {
    // GIVEN the caller spoke last
    let mut s = Sim::listening();
    s.speak(400);
    s.silence(300);
    // WHEN the model calls end_call first, then says goodbye
    s.tool("e1", "end_call", json!({}));
    s.model_says(600);
    s.input(Input::ModelTurnComplete);
    s.silence(3000);
    // THEN the goodbye plays once, in full, before the call ends
    let spoken = s
        .audio_out()
        .iter()
        .filter(|(_, v)| *v == MODEL_LEVEL)
        .count();
    assert_eq!(spoken, 600 / 20);
    assert_eq!(s.ended(), Some(EndReason::AgentHungUp));
}

#[test]
fn a_call_ending_before_its_transfer_gives_the_agent_back() {
    // GIVEN an agent picked for a transfer whose notice is still playing
    let mut s = Sim::listening();
    s.tool("t1", "transfer_call", json!({}));
    s.input(Input::HumanAgent(Some(agent())));
    s.model_says(600);
    // WHEN the caller hangs up before the transfer is carried out
    s.input(Input::StreamStopped);
    // THEN the agent is released and no transfer is asked for
    let host = s.host();
    assert!(host.contains(&HostRequest::ReleaseHumanAgent(agent().id)));
    assert!(!host.iter().any(|h| matches!(h, HostRequest::Transfer(_))));
}

#[test]
fn a_stream_stopping_after_the_transfer_was_asked_for_keeps_the_agent() {
    // GIVEN a transfer handed to the host (the provider's update ends the
    // stream, possibly before the host answers)
    let mut s = Sim::listening();
    s.tool("t1", "transfer_call", json!({}));
    s.input(Input::HumanAgent(Some(agent())));
    s.model_says(100);
    s.input(Input::ModelTurnComplete);
    s.silence(400);
    assert!(
        s.host()
            .iter()
            .any(|h| matches!(h, HostRequest::Transfer(_)))
    );
    // WHEN the stream stops
    s.input(Input::StreamStopped);
    // THEN the agent stays with the transferred call
    assert!(
        !s.host()
            .contains(&HostRequest::ReleaseHumanAgent(agent().id))
    );
}

#[test]
fn marks_track_what_was_heard_and_cleared_marks_do_not_count() {
    let mut s = Sim::listening();
    s.speak(400);
    s.silence(300);
    s.model_says(1000);
    s.silence(300);
    let marks: Vec<u64> = s
        .out
        .iter()
        .filter_map(|(_, o)| match o {
            Output::Mark(n) => Some(*n),
            _ => None,
        })
        .collect();
    assert!(!marks.is_empty());
    s.input(Input::MarkPlayed(&marks[0].to_string()));
    assert_eq!(s.conv.heard_frames(), marks[0]);
    // barge-in clears; Twilio then echoes the pending marks at once
    s.speak(200);
    for m in &marks[1..] {
        s.input(Input::MarkPlayed(&m.to_string()));
    }
    assert_eq!(s.conv.heard_frames(), marks[0], "cleared marks ignored");
}

#[test]
fn recording_has_both_channels() {
    let mut c = ctx();
    c.answered_by = Some(AnsweredBy::Human);
    c.record = true;
    let mut s = Sim::new(c);
    s.input(Input::ModelReady);
    s.model_says(500);
    s.input(Input::ModelTurnComplete);
    s.silence(1000);
    let wav = s.recording();
    let parsed = voxdial_media::wav::parse(&wav).unwrap();
    assert_eq!(parsed.spec.channels, 2);
    let samples = parsed.samples();
    let right: Vec<i16> = samples.iter().skip(1).step_by(2).copied().collect();
    assert!(right.contains(&MODEL_LEVEL));
    assert_eq!(parsed.frames(), 160 * 50);
}

/// The recording taken frame by frame during a call (barge-in included)
/// is byte for byte the one the whole-call recorder built at its end
/// (SHA-256 of that file, from the code before recordings were streamed),
/// while the core holds only a few frames at any time.
#[test]
fn a_recording_taken_as_the_call_goes_is_the_whole_call_recording() {
    use sha2::{Digest, Sha256};
    let mut c = ctx();
    c.answered_by = Some(AnsweredBy::Human);
    c.record = true;
    let mut s = Sim::new(c);
    s.input(Input::ModelReady);
    let mut most = 0;
    let mut step = |s: &mut Sim, pcm: &[i16]| most = most.max(s.frame_spooled(pcm));
    // GIVEN a greeting sent faster than real time, heard for a while
    s.model_says(1000);
    s.input(Input::ModelTurnComplete);
    for _ in 0..10 {
        step(&mut s, &[3; 160]);
    }
    // WHEN the caller barges in (queued agent audio is cut) and speaks
    let speech = s.synth.speech(160 * 30, -20.0);
    for f in speech.chunks(160) {
        step(&mut s, f);
    }
    for _ in 0..25 {
        step(&mut s, &[-5; 160]);
    }
    // AND the agent answers, then both are quiet
    s.model_says(400);
    s.input(Input::ModelTurnComplete);
    for i in 0..60i16 {
        step(&mut s, &[i; 160]);
    }
    let wav = s.recording();
    // THEN the file is the one the whole-call recorder made
    assert_eq!(
        hex(&Sha256::digest(&wav)),
        "789c3d8dbf5c9b9021b88088af83bfa762011d1e0076be1e37c322b162ed5de8",
        "{} bytes",
        wav.len()
    );
    // AND the core never held more than a few frames of it
    assert!(most <= 160 * 8, "{most} frames held");
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[test]
fn shutdown_says_goodbye_and_ends() {
    let mut s = Sim::listening();
    s.input(Input::Shutdown);
    s.model_says(200);
    s.input(Input::ModelTurnComplete);
    s.silence(400);
    assert_eq!(s.ended(), Some(EndReason::Shutdown));
}

#[test]
fn consent_notice_plays_before_the_greeting() {
    let mut c = ctx();
    c.answered_by = Some(AnsweredBy::Human);
    c.consent_notice = true;
    let mut s = Sim::new(c);
    s.input(Input::ModelReady);
    s.model_says(200);
    s.silence(200);
    let a = s.audio_out();
    assert!(a[0].1 != MODEL_LEVEL, "notice first");
}

/// A bridge that falls behind: each 20 ms frame of caller audio reaches the
/// core `lag` after the previous one.
fn slow_audio(s: &mut Sim, pcm: &[i16], lag: Duration) {
    for f in pcm.chunks(160).filter(|f| f.len() == 160) {
        s.now += lag - F;
        s.frame(f);
    }
}

#[test]
fn a_bridge_that_falls_behind_still_hears_the_machine_before_the_hold_ends() {
    // GIVEN a voicemail greeting whose audio reaches the core five times
    // slower than real time (a starved machine)
    let mut c = ctx();
    c.voicemail = VoicemailPolicy::HangUp;
    let mut s = Sim::new(c);
    s.input(Input::ModelReady);
    let greeting = Synth::new(9).voicemail_greeting(300.0, 6000.0, 300.0, None, 6500.0, -20.0);

    // WHEN it plays
    slow_audio(&mut s, &greeting, Duration::from_millis(100));

    // THEN the verdict is the same as in real time (a machine, from the
    // audio), and its latency is counted on the callee's timeline
    assert_eq!(s.ended(), Some(EndReason::MachineHangUp));
    let amd = s.conv.finish(s.now).report.amd.unwrap();
    assert!(amd.verdict.is_machine(), "{amd:?}");
    assert_eq!(amd.source, VerdictSource::Local);
    assert!(amd.latency_ms <= 6500, "{amd:?}");
}

#[test]
fn the_hold_is_counted_in_caller_audio_and_a_dead_stream_still_times_out() {
    // GIVEN caller silence arriving five times slower than real time
    let mut s = Sim::new(ctx());
    s.input(Input::ModelReady);
    let start = s.now;
    slow_audio(&mut s, &[0; 160 * 50], Duration::from_millis(100));

    // THEN one second of audio in five of wall time holds the greeting
    assert_eq!(s.conv.state(), State::Init, "only 1 s of audio heard");
    assert!(s.now - start >= Duration::from_secs(5));

    // WHEN the stream then sends nothing at all
    for _ in 0..10 {
        if s.conv.state() != State::Init {
            break;
        }
        let due = s.conv.poll_timeout().expect("a stall deadline");
        s.now = s.now.max(due);
        s.conv.handle_timeout(s.now);
        s.drain();
    }

    // THEN the verdict times out to a person
    assert_eq!(s.conv.state(), State::Welcome);
    let amd = s.conv.finish(s.now).report.amd.unwrap();
    assert_eq!(amd.source, VerdictSource::Timeout);
    assert_eq!(amd.latency_ms, 1000, "latency on the callee's timeline");
}

#[test]
fn opening_starts_when_a_person_is_likely_before_the_verdict() {
    // GIVEN no provider verdict and the model session open
    let mut s = Sim::new(ctx());
    s.input(Input::ModelReady);
    // WHEN the callee says a short "hello" and pauses
    let hello = Synth::new(11).human_hello(300.0, 3000.0, -20.0);
    let mut started_at = None;
    for f in hello.chunks(160) {
        s.frame(f);
        if started_at.is_none() && !s.take_prompts().is_empty() {
            started_at = Some(s.now);
        }
    }
    // THEN the opening went out once, 160 ms into the pause, before the
    // human verdict (which comes at 700 ms of silence)
    let started_at = started_at
        .expect("opening started")
        .saturating_sub(Duration::from_secs(100));
    assert_eq!(s.take_prompts().len(), 1, "opened once");
    let amd = s.conv.finish(s.now).report.amd.unwrap();
    assert_eq!(
        (amd.verdict, amd.source),
        (AnsweredBy::Human, VerdictSource::Local)
    );
    assert!(
        started_at + Duration::from_millis(300) < Duration::from_millis(amd.latency_ms),
        "opened at {started_at:?}, verdict at {} ms",
        amd.latency_ms
    );
}

#[test]
fn a_machine_verdict_after_an_early_opening_stops_the_agent_within_a_frame() {
    // GIVEN hang-up on machines and a greeting that pauses after its first
    // phrase, long enough for a likely person, then goes on
    let mut c = ctx();
    c.voicemail = VoicemailPolicy::HangUp;
    let mut s = Sim::new(c);
    s.input(Input::ModelReady);
    let mut synth = Synth::new(12);
    let mut greeting = synth.silence(2400);
    greeting.extend(synth.word(2, 150.0, -18.0));
    greeting.extend(synth.silence(3200));
    greeting.extend(synth.speech(8000 * 4, -18.0));
    // WHEN the agent starts (the model streams its opening in real time,
    // and answers again when the greeting interrupts it)
    let mut opened_at = None;
    let mut resets = 0;
    for f in greeting.chunks(160) {
        if s.host().contains(&HostRequest::HangUp) {
            break;
        }
        s.frame(f);
        if opened_at.is_none() && !s.take_prompts().is_empty() {
            opened_at = Some(s.now);
        }
        if s.resets() > resets && !s.host().contains(&HostRequest::HangUp) {
            s.input(Input::ModelInterrupted);
            resets = s.resets();
        }
        if opened_at.is_some() && !s.host().contains(&HostRequest::HangUp) {
            s.model_says(20);
        }
    }
    // THEN the opening had started, and in the frame of the machine verdict
    // the agent's audio is cleared; none is sent after that
    let opened_at = opened_at.expect("opening started early");
    let amd = s.conv.finish(s.now).report.amd.unwrap();
    assert!(amd.verdict.is_machine());
    // The verdict came on the frame handed in at `verdict_at`.
    let verdict_at = Duration::from_secs(100) + Duration::from_millis(amd.latency_ms) - F;
    let agent_audio_at = |(t, o): &(Duration, Output)| match o {
        Output::CallerAudio(f) if f[80] == MODEL_LEVEL => Some(*t),
        _ => None,
    };
    assert!(
        s.out
            .iter()
            .filter_map(agent_audio_at)
            .any(|t| t >= opened_at && t < verdict_at),
        "the agent was talking"
    );
    let clear = s
        .out
        .iter()
        .position(|(t, o)| *t == verdict_at && matches!(o, Output::Clear))
        .expect("clear in the verdict's frame");
    assert_eq!(s.out[clear..].iter().filter_map(agent_audio_at).count(), 0);
    assert_eq!(s.ended(), Some(EndReason::MachineHangUp));
}
