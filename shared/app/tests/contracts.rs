//! The transcriber and analyser contracts (`voxdial_testkit::speech`) on
//! the local engines: the bridge's live transcript and the local analyser.
//! They have no service, so the service cases do not apply to them.

use voxdial_app::analysis::LocalAnalyser;
use voxdial_app::transcription::LiveTranscriber;
use voxdial_domain::{Analyser, Transcriber, TranscriptionRequest};
use voxdial_testkit::speech::{AnalyserSubject, TranscriberSubject, conversation};

struct Live;

impl TranscriberSubject for Live {
    fn transcriber(&self) -> &dyn Transcriber {
        &LiveTranscriber
    }

    /// The bridge's live transcript of the conversation (turns, out of
    /// order and with an empty one, as a bridge may store them), and audio
    /// the engine does not read.
    fn request(&self) -> TranscriptionRequest {
        let mut turns = serde_json::to_value(conversation()).unwrap();
        let turns = turns.as_array_mut().unwrap();
        turns.reverse();
        turns.push(serde_json::json!({"speaker": "caller", "text": "  ", "start_ms": 100}));
        TranscriptionRequest {
            live_transcript: Some(serde_json::to_vec(&turns).unwrap()),
            audio: Some(b"RIFF....WAVE".to_vec()),
            recording_key: Some("recordings/c/ld_x.1.wav".into()),
            ..TranscriptionRequest::default()
        }
    }
}

struct Local;

impl AnalyserSubject for Local {
    fn analyser(&self) -> &dyn Analyser {
        &LocalAnalyser
    }
}

mod live_transcriber {
    use super::*;
    voxdial_testkit::transcriber_contract!(async { Live });
}

mod local_analyser {
    use super::*;
    voxdial_testkit::analyser_contract!(async { Local });
}
