//! The [`Transcriber`] and [`Analyser`] contracts: what every engine must
//! do, the local ones (the bridge's live transcript, the local analyser) and
//! those behind a service (Google Speech-to-Text, Gemini), each of those run
//! against a stub of its service on 127.0.0.1 that answers in the service's
//! own format. [`transcriber_contract!`](crate::transcriber_contract),
//! [`analyser_contract!`](crate::analyser_contract) and
//! [`service_transcriber_contract!`](crate::service_transcriber_contract),
//! [`service_analyser_contract!`](crate::service_analyser_contract) turn
//! each case into a test.
//!
//! What the ports' docs leave open, fixed here:
//!
//! - A transcript names its engine ([`Transcriber::name`]), and its
//!   segments come sorted by start, trimmed, none empty
//!   ([`Transcript::normalised`]), in the order they were said.
//! - An engine reads what [`Transcriber::input`] says, and only that: a
//!   request without it is [`TranscribeError::NoInput`], whatever else the
//!   request carries (the post-call stage picks the input by that answer).
//! - An analysis names its engine, keeps the disposition the call recorded
//!   and applies [`final_disposition`] to it,
//!   has one entry per field the campaign asks for (`null` when not found)
//!   and one score per principle in the campaign's order, and a callback
//!   time only with a `callback_requested` disposition. A call without a
//!   transcript is analysed too (from its facts).
//! - A service's rate limit and outage are transient (the rate limit's
//!   `Retry-After` kept), a refusal is permanent, and a service that never
//!   answers is transient once the engine's own timeout passes: the
//!   pipeline retries only what may succeed.

use std::time::Duration;

use voxdial_domain::{
    AnalyseError, Analyser, Analysis, AnalysisDisposition, AnalysisRequest, CallAttempt, Campaign,
    Disposition, FieldKind, FieldSpec, Segment, Speaker, TranscribeError, Transcriber,
    TranscriberInput, Transcript, TranscriptionRequest, final_disposition,
};

use crate::fixtures::{call_for, campaign, lead, t0};

/// The `Retry-After` (seconds) a rate-limited stub sends.
pub const RETRY_AFTER_SECS: u64 = 7;

/// How a subject's stub service fails, from the moment it is told to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ServiceFault {
    /// HTTP 429 in the service's error shape, with `Retry-After:`
    /// [`RETRY_AFTER_SECS`].
    RateLimited,
    /// HTTP 503 in the service's error shape.
    Unavailable,
    /// HTTP 400 in the service's error shape: a request it refuses.
    Refused,
    /// The request is read and never answered.
    Hang,
}

/// The conversation every transcriber subject's engine hears: its stub
/// answers it in the service's format, the live transcript holds it.
pub fn conversation() -> Vec<Segment> {
    let segment = |speaker, start_ms, end_ms, text: &str| Segment {
        speaker,
        start_ms,
        end_ms,
        text: text.into(),
    };
    vec![
        segment(
            Speaker::Agent,
            0,
            1500,
            "Hello, this is Ava, an AI assistant.",
        ),
        segment(Speaker::Caller, 1800, 2600, "Hi Ava."),
        segment(Speaker::Agent, 3000, 4200, "Is now a good time?"),
        segment(Speaker::Caller, 4500, 5200, "Call me tomorrow."),
    ]
}

/// A transcriber under test, and a request it can serve.
pub trait TranscriberSubject: Send + Sync {
    /// The engine.
    fn transcriber(&self) -> &dyn Transcriber;
    /// A request of a call whose conversation is [`conversation`], carrying
    /// the input the engine reads (and may carry others).
    fn request(&self) -> TranscriptionRequest;
}

/// An analyser under test.
pub trait AnalyserSubject: Send + Sync {
    /// The engine.
    fn analyser(&self) -> &dyn Analyser;
}

/// An engine behind a service: the subject's stub can be made to fail.
pub trait FaultySubject: Send + Sync {
    /// Every request from now on meets `fault`.
    fn fail(&self, fault: ServiceFault);
    /// The engine's own request timeout (a hung service is waited for that
    /// long; the suite's guard is far longer).
    fn timeout(&self) -> Duration;
}

/// The campaign every analysis request is made for: two fields, two
/// principles.
pub fn analysed_campaign() -> Campaign {
    let mut campaign = campaign("camp-an", t0());
    let field = |name: &str, kind| FieldSpec {
        name: name.into(),
        kind,
        description: String::new(),
        keywords: Vec::new(),
    };
    campaign.settings.analysis.fields = vec![
        field("budget", FieldKind::Number),
        field("appointment_time", FieldKind::Datetime),
    ];
    campaign.settings.analysis.principles = vec![
        "The agent discloses that it is an AI".into(),
        "The agent offers a callback".into(),
    ];
    campaign
}

fn analysed_call(campaign: &Campaign, recorded: Option<Disposition>) -> CallAttempt {
    let lead = lead(&campaign.id, 1, t0());
    let mut call = call_for(&lead, 1, t0());
    call.disposition = recorded;
    call
}

/// An analysis request of [`conversation`] (or of no transcript), for a
/// call that recorded `recorded`.
pub fn analysis_request(transcript: bool, recorded: Option<Disposition>) -> AnalysisRequest {
    let campaign = analysed_campaign();
    AnalysisRequest {
        call: analysed_call(&campaign, recorded),
        transcript: transcript.then(|| Transcript {
            engine: "live".into(),
            language: Some("en-US".into()),
            segments: conversation(),
        }),
        campaign,
        time_zone: None,
    }
}

fn spoken(transcript: &Transcript) -> Vec<(Speaker, String)> {
    transcript
        .segments
        .iter()
        .map(|s| (s.speaker, s.text.clone()))
        .collect()
}

/// The engine transcribes the conversation: its name on the transcript,
/// the segments in order, normalised.
pub async fn transcribes_the_conversation(subject: impl TranscriberSubject) {
    let engine = subject.transcriber();
    let transcript = engine
        .transcribe(&subject.request())
        .await
        .expect("a transcript");
    assert_eq!(transcript.engine, engine.name());
    assert!(!engine.name().is_empty());
    let expected: Vec<(Speaker, String)> = conversation()
        .into_iter()
        .map(|s| (s.speaker, s.text))
        .collect();
    assert_eq!(spoken(&transcript), expected);
    assert_eq!(transcript.clone().normalised(), transcript);
    assert!(transcript.segments.iter().all(|s| s.start_ms <= s.end_ms));
}

/// A request without the input the engine declares is
/// [`TranscribeError::NoInput`], whatever else it carries.
pub async fn without_its_input_there_is_nothing_to_transcribe(subject: impl TranscriberSubject) {
    let engine = subject.transcriber();
    let mut request = subject.request();
    match engine.input() {
        TranscriberInput::LiveTranscript => request.live_transcript = None,
        TranscriberInput::AudioBytes => request.audio = None,
        TranscriberInput::BlobKey => request.recording_key = None,
    }
    let answer = engine.transcribe(&request).await;
    assert!(
        matches!(answer, Err(TranscribeError::NoInput(_))),
        "{:?} without its input: {answer:?}",
        engine.input()
    );
    let answer = engine.transcribe(&TranscriptionRequest::default()).await;
    assert!(
        matches!(answer, Err(TranscribeError::NoInput(_))),
        "an empty request: {answer:?}"
    );
}

/// How a failed request was classified, for the service cases of both ports.
#[derive(Debug, PartialEq, Eq)]
enum Class {
    Transient(Option<Duration>),
    Permanent,
    Other(String),
}

fn transcribe_class(answer: Result<Transcript, TranscribeError>) -> Class {
    match answer {
        Err(TranscribeError::Transient { retry_after, .. }) => Class::Transient(retry_after),
        Err(TranscribeError::Permanent(_)) => Class::Permanent,
        other => Class::Other(format!("{other:?}")),
    }
}

fn analyse_class(answer: Result<Analysis, AnalyseError>) -> Class {
    match answer {
        Err(AnalyseError::Transient { retry_after, .. }) => Class::Transient(retry_after),
        Err(AnalyseError::Permanent(_)) => Class::Permanent,
        other => Class::Other(format!("{other:?}")),
    }
}

/// Far beyond any engine's own timeout: only guards a hang of the engine.
fn guard(subject: &impl FaultySubject) -> Duration {
    subject.timeout() * 4 + Duration::from_secs(60)
}

async fn classified<F: std::future::Future<Output = Class>>(
    subject: &impl FaultySubject,
    answer: F,
) -> Class {
    tokio::time::timeout(guard(subject), answer)
        .await
        .expect("the engine gave up on its own")
}

/// What each fault must be classified as.
fn expected(fault: ServiceFault) -> Class {
    match fault {
        ServiceFault::RateLimited => Class::Transient(Some(Duration::from_secs(RETRY_AFTER_SECS))),
        ServiceFault::Unavailable | ServiceFault::Hang => Class::Transient(None),
        ServiceFault::Refused => Class::Permanent,
    }
}

async fn transcriber_meets<S: TranscriberSubject + FaultySubject>(subject: S, fault: ServiceFault) {
    subject.fail(fault);
    let class = classified(&subject, async {
        transcribe_class(subject.transcriber().transcribe(&subject.request()).await)
    })
    .await;
    assert_eq!(class, expected(fault), "{fault:?}");
}

async fn analyser_meets<S: AnalyserSubject + FaultySubject>(subject: S, fault: ServiceFault) {
    subject.fail(fault);
    let request = analysis_request(true, None);
    let class = classified(&subject, async {
        analyse_class(subject.analyser().analyse(&request).await)
    })
    .await;
    assert_eq!(class, expected(fault), "{fault:?}");
}

/// A rate limit is transient and keeps the service's `Retry-After`.
pub async fn transcriber_rate_limit_is_transient<S: TranscriberSubject + FaultySubject>(s: S) {
    transcriber_meets(s, ServiceFault::RateLimited).await;
}

/// An outage (503) is transient.
pub async fn transcriber_outage_is_transient<S: TranscriberSubject + FaultySubject>(s: S) {
    transcriber_meets(s, ServiceFault::Unavailable).await;
}

/// A refusal (400) is permanent.
pub async fn transcriber_refusal_is_permanent<S: TranscriberSubject + FaultySubject>(s: S) {
    transcriber_meets(s, ServiceFault::Refused).await;
}

/// A service that never answers is transient, after the engine's timeout.
pub async fn transcriber_hang_is_transient<S: TranscriberSubject + FaultySubject>(s: S) {
    transcriber_meets(s, ServiceFault::Hang).await;
}

/// A rate limit is transient and keeps the service's `Retry-After`.
pub async fn analyser_rate_limit_is_transient<S: AnalyserSubject + FaultySubject>(s: S) {
    analyser_meets(s, ServiceFault::RateLimited).await;
}

/// An outage (503) is transient.
pub async fn analyser_outage_is_transient<S: AnalyserSubject + FaultySubject>(s: S) {
    analyser_meets(s, ServiceFault::Unavailable).await;
}

/// A refusal (400) is permanent.
pub async fn analyser_refusal_is_permanent<S: AnalyserSubject + FaultySubject>(s: S) {
    analyser_meets(s, ServiceFault::Refused).await;
}

/// A service that never answers is transient, after the engine's timeout.
pub async fn analyser_hang_is_transient<S: AnalyserSubject + FaultySubject>(s: S) {
    analyser_meets(s, ServiceFault::Hang).await;
}

fn check_analysis(engine: &dyn Analyser, request: &AnalysisRequest, analysis: &Analysis) {
    assert_eq!(analysis.engine, engine.name());
    assert_eq!(analysis.recorded_disposition, request.call.disposition);
    let analysed = analysis.analysed_disposition;
    assert_eq!(
        analysis.disposition,
        final_disposition(
            analysed == AnalysisDisposition::Voicemail,
            request.call.disposition,
            analysed
        ),
        "the disposition after the rule"
    );
    let mut fields: Vec<&String> = analysis.fields.keys().collect();
    let mut wanted: Vec<&String> = request
        .campaign
        .settings
        .analysis
        .fields
        .iter()
        .map(|f| &f.name)
        .collect();
    wanted.sort();
    fields.sort();
    assert_eq!(fields, wanted, "one entry per field the campaign asks for");
    let principles: Vec<&String> = analysis.principles.iter().map(|p| &p.principle).collect();
    let asked: Vec<&String> = request
        .campaign
        .settings
        .analysis
        .principles
        .iter()
        .collect();
    assert_eq!(principles, asked, "one score per principle, in order");
    if analysis.callback_at.is_some() {
        assert_eq!(
            analysis.disposition,
            AnalysisDisposition::CallbackRequested,
            "a callback time only with a callback: {analysis:?}"
        );
    }
}

/// A transcribed call: the analysis names its engine, keeps the recorded
/// disposition, answers every field and principle of the campaign.
pub async fn analyses_a_transcribed_call(subject: impl AnalyserSubject) {
    for recorded in [None, Some(Disposition::Interested)] {
        let request = analysis_request(true, recorded);
        let analysis = subject
            .analyser()
            .analyse(&request)
            .await
            .expect("an analysis");
        check_analysis(subject.analyser(), &request, &analysis);
    }
}

/// A call without a transcript (no recording, no live transcript) is
/// analysed from its facts, not refused.
pub async fn analyses_a_call_without_a_transcript(subject: impl AnalyserSubject) {
    let request = analysis_request(false, Some(Disposition::NotInterested));
    let analysis = subject
        .analyser()
        .analyse(&request)
        .await
        .expect("an analysis without a transcript");
    check_analysis(subject.analyser(), &request, &analysis);
}
