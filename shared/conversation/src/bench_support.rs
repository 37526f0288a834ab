//! Fixtures for the per-frame path benchmarks (criterion and the
//! side-by-side run against pipecat). Not part of the stable API.

use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use voxdial_domain::{AnsweredBy, CampaignId};
use voxdial_media::synth::Synth;
use voxdial_media::{pcm, ulaw};
use voxdial_wire::twilio::media::write_inbound_media;

use crate::codec::{
    InboundCodec, OutboundCodec, ProviderAudio, ProviderStream, ProviderWriter, TwilioInbound,
    for_each_audio, parse_model, parse_twilio,
};
use crate::{AgentConfig, CallContext, Conversation, Input, Output, ProviderCaps};

/// Which way the audio goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    /// One Twilio `media` message → one `realtimeInput`.
    Inbound,
    /// One Gemini `serverContent` (chunk of 24 kHz audio) → Twilio `media`
    /// messages.
    Outbound,
}

const SID: &str = "MZ18ad3ab5a668481ce02b83e7395059f0";

struct Stream {
    inbound: InboundCodec,
    outbound: OutboundCodec,
    writer: ProviderWriter,
    core: Option<Conversation>,
    now: Duration,
}

/// `streams` interleaved calls fed pre-built messages round-robin.
pub struct Fixture {
    dir: Direction,
    streams: Vec<Stream>,
    /// Text frames, as the socket hands them over (already UTF-8).
    msgs: Vec<String>,
    chunk: Duration,
    i: usize,
    out: String,
    /// Messages written (Twilio frames or realtimeInput messages).
    pub written: u64,
}

impl Fixture {
    /// Codec path only (what pipecat's serializer path does).
    pub fn new(dir: Direction, streams: usize, chunk_ms: u64) -> Self {
        Self::build(dir, streams, chunk_ms, false)
    }

    /// The codec path plus the conversation core (VAD/DTMF/AMD, pacing,
    /// marks) per frame.
    pub fn with_core(dir: Direction, streams: usize, chunk_ms: u64) -> Self {
        Self::build(dir, streams, chunk_ms, true)
    }

    fn build(dir: Direction, n: usize, chunk_ms: u64, core: bool) -> Self {
        let mut ctx = CallContext::with_agent(
            CampaignId::parse("bench").unwrap_or_else(|_| unreachable!()),
            AgentConfig::default(),
        );
        ctx.answered_by = Some(AnsweredBy::Human);
        let streams = (0..n)
            .map(|i| {
                let mut c = core.then(|| {
                    Conversation::new(
                        Duration::ZERO,
                        &ctx,
                        ProviderCaps {
                            marks_and_clear: true,
                        },
                        i as u64,
                    )
                });
                if let Some(c) = &mut c {
                    c.handle_input(Duration::ZERO, Input::ModelReady);
                    while c.poll_output().is_some() {}
                }
                Stream {
                    inbound: InboundCodec::new(ProviderAudio::Mulaw8k),
                    outbound: OutboundCodec::new(),
                    writer: ProviderWriter::new(ProviderStream::Twilio {
                        stream_sid: SID.into(),
                    }),
                    core: c,
                    now: Duration::ZERO,
                }
            })
            .collect();
        let msgs = match dir {
            Direction::Inbound => {
                let pcm8 = Synth::new(1).speech(8000 * 10, -18.0);
                let mu = ulaw::encode(&pcm8);
                mu.chunks(160)
                    .enumerate()
                    .map(|(i, f)| {
                        let mut s = String::new();
                        let b64 = STANDARD.encode(f);
                        write_inbound_media(
                            SID,
                            i as u64 + 3,
                            "inbound",
                            i as u64 + 1,
                            20 * i as u64 + 5,
                            &b64,
                            &mut s,
                        );
                        s
                    })
                    .collect()
            }
            Direction::Outbound => {
                let samples = 24 * chunk_ms as usize;
                let pcm24 = Synth::with_rate(2, 24_000).speech(24_000 * 10, -18.0);
                pcm24
                    .chunks(samples)
                    .filter(|c| c.len() == samples)
                    .map(|c| {
                        let data = STANDARD.encode(pcm::samples_to_bytes(c));
                        format!(
                            r#"{{"serverContent":{{"modelTurn":{{"parts":[{{"inlineData":{{"mimeType":"audio/pcm;rate=24000","data":"{data}"}}}}]}}}}}}"#
                        )
                    })
                    .collect()
            }
        };
        Self {
            dir,
            streams,
            msgs,
            chunk: Duration::from_millis(chunk_ms),
            i: 0,
            out: String::with_capacity(4096),
            written: 0,
        }
    }

    /// Processes the next unit (one message on the next stream).
    pub fn step(&mut self) {
        let n = self.streams.len();
        let s = &mut self.streams[self.i % n];
        let msg = &self.msgs[(self.i / n) % self.msgs.len()];
        self.i += 1;
        match self.dir {
            Direction::Inbound => {
                if let Ok(TwilioInbound::Media(payload)) = parse_twilio(msg)
                    && s.inbound.decode(payload).is_ok()
                {
                    let forward = match &mut s.core {
                        Some(c) => {
                            s.now += Duration::from_millis(20);
                            c.handle_input(s.now, Input::CallerAudio(s.inbound.pcm()));
                            while c.poll_output().is_some() {}
                            c.forward_caller_audio()
                        }
                        None => true,
                    };
                    if forward {
                        self.out.clear();
                        s.inbound.write_model_audio(&mut self.out);
                        self.written += 1;
                    }
                }
            }
            Direction::Outbound => {
                let Ok(m) = parse_model(msg.as_bytes()) else {
                    return;
                };
                let out = &mut self.out;
                let written = &mut self.written;
                let chunk = self.chunk;
                let Stream {
                    outbound,
                    writer,
                    core,
                    now,
                    ..
                } = s;
                for_each_audio(&m, |data, rate| {
                    let _ = outbound.push(data, rate, |f| match core {
                        Some(c) => c.handle_input(*now, Input::ModelAudio(f)),
                        None => {
                            out.clear();
                            writer.write_frame(f, out);
                            *written += 1;
                        }
                    });
                    if let Some(c) = core {
                        *now += chunk;
                        c.handle_timeout(*now);
                        while let Some(o) = c.poll_output() {
                            if let Output::CallerAudio(f) = o {
                                out.clear();
                                writer.write_frame(&f, out);
                                *written += 1;
                            }
                        }
                    }
                });
            }
        }
    }
}
