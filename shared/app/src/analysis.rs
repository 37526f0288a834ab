//! The local analyser: a deterministic reading of the transcript and of
//! what the conversation recorded (disposition, transfer, callback), so the
//! demo and tests show real outcomes with no model and no account.
//!
//! - **Disposition**: an answering machine is `voicemail`; no caller words
//!   is `no_conversation`; otherwise the caller's words are matched, in
//!   this order, against opt-out, wrong-number, transfer (a transfer that
//!   happened), callback (a callback recorded, or asked for), refusal and
//!   interest phrases. Phrases match whole words (`yes` is not in
//!   `yesterday`) and refusals are tried before interest (`not
//!   interested`).
//! - **Callback time**: relative phrases in the callee's time zone
//!   (`tomorrow morning`, `in two hours`, `on Friday at 3 pm`, `next week`).
//! - **Fields**: the campaign's cue words locate the caller's line (the
//!   one with the cue, or the answer to the agent's line with it); the
//!   value is read by type (amounts with `$`, `,` and `k`; times as above;
//!   yes/no; one of an enum's values; the line itself for text).
//! - **Sentiment**: a small lexicon per speaker, from -1 to 1; overall is
//!   0.7 caller and 0.3 agent.
//! - **Principles**: AI disclosure, no pressure after a no, an opt-out
//!   recorded, a result recorded; other principles are `not_applicable`
//!   (a model scores them in production).

use async_trait::async_trait;
use chrono::{DateTime, Datelike, Duration as Span, NaiveTime, TimeZone, Utc, Weekday};
use chrono_tz::Tz;
use serde_json::{Map, Value};
use voxdial_domain::{
    AnalyseError, Analyser, Analysis, AnalysisDisposition, AnalysisRequest, AnsweredBy, CallState,
    FieldKind, FieldSpec, PrincipleScore, Segment, Sentiment, Sentiments, Speaker, Transcript,
    Verdict, final_disposition,
};

/// The engine name of the local analyser.
pub const LOCAL_ENGINE: &str = "local";

/// The deterministic analyser (see the module doc).
#[derive(Clone, Copy, Debug, Default)]
pub struct LocalAnalyser;

const OPT_OUT: &[&str] = &[
    "don't call",
    "do not call",
    "stop calling",
    "never call",
    "remove me",
    "remove my number",
    "take me off",
    "off your list",
    "unsubscribe",
    "opt out",
    "no more calls",
    "don't ever call",
];
const WRONG_NUMBER: &[&str] = &[
    "wrong number",
    "no one by that name",
    "nobody by that name",
    "doesn't live here",
    "does not live here",
    "you have the wrong",
];
const HUMAN: &[&str] = &[
    "real person",
    "a human",
    "speak to someone",
    "talk to someone",
    "representative",
    "speak to a person",
    "talk to a person",
];
const CALLBACK: &[&str] = &[
    "call me back",
    "call back",
    "call me later",
    "call me tomorrow",
    "call tomorrow",
    "try me later",
    "try again later",
    "busy right now",
    "bad time",
    "not a good time",
    "call me next",
    "call me on",
    "call me in",
];
const REFUSAL: &[&str] = &[
    "not interested",
    "no thanks",
    "no thank you",
    "don't need",
    "do not need",
    "not for me",
    "no i'm good",
    "not right now",
];
const INTEREST: &[&str] = &[
    "interested",
    "tell me more",
    "sounds good",
    "sign me up",
    "yes",
    "sure",
    "i'd like",
    "i would like",
    "let's do",
    "book",
    "schedule",
    "how much",
    "price",
    "cost",
];
const POSITIVE: &[&str] = &[
    "yes",
    "great",
    "good",
    "love",
    "thanks",
    "thank",
    "interested",
    "sure",
    "perfect",
    "happy",
    "wonderful",
    "excellent",
    "glad",
    "nice",
    "awesome",
];
const NEGATIVE: &[&str] = &[
    "no", "not", "don't", "stop", "never", "annoying", "wrong", "angry", "hate", "bad", "remove",
    "terrible", "waste", "busy", "scam",
];
const PRESSURE: &[&str] = &[
    "are you sure",
    "but",
    "just",
    "limited",
    "only today",
    "special offer",
    "don't miss",
    "last chance",
    "reconsider",
];
const DISCLOSURE: &[&str] = &[
    "ai",
    "artificial intelligence",
    "automated",
    "virtual assistant",
    "ai assistant",
    "a bot",
];

/// Lowercases, unifies apostrophes and pads with spaces, keeping letters,
/// digits, `'`, `$`, `:` and `.` inside words.
fn words(text: &str) -> String {
    let mut out = String::from(" ");
    for c in text.chars() {
        let c = match c {
            '’' | '‘' => '\'',
            c => c.to_ascii_lowercase(),
        };
        if c.is_alphanumeric() || matches!(c, '\'' | '$' | ':') {
            out.push(c);
        } else {
            out.push(' ');
        }
    }
    out.push(' ');
    out
}

fn has(text: &str, phrase: &str) -> bool {
    words(text).contains(&format!(" {} ", phrase.trim()))
}

fn has_any(text: &str, phrases: &[&str]) -> bool {
    let w = words(text);
    phrases
        .iter()
        .any(|p| w.contains(&format!(" {} ", p.trim())))
}

fn line(s: &Segment) -> String {
    let who = match s.speaker {
        Speaker::Caller => "caller",
        Speaker::Agent => "agent",
    };
    format!("{who}: {}", s.text)
}

fn caller(t: &Transcript) -> impl Iterator<Item = &Segment> {
    t.segments.iter().filter(|s| s.speaker == Speaker::Caller)
}

fn number_word(w: &str) -> Option<i64> {
    Some(match w {
        "a" | "an" | "one" => 1,
        "two" => 2,
        "three" => 3,
        "four" => 4,
        "five" => 5,
        "six" => 6,
        "seven" => 7,
        "eight" => 8,
        "nine" => 9,
        "ten" => 10,
        "twelve" => 12,
        "fifteen" => 15,
        "twenty" => 20,
        "thirty" => 30,
        _ => w.parse().ok()?,
    })
}

fn weekday(w: &str) -> Option<Weekday> {
    Some(match w {
        "monday" => Weekday::Mon,
        "tuesday" => Weekday::Tue,
        "wednesday" => Weekday::Wed,
        "thursday" => Weekday::Thu,
        "friday" => Weekday::Fri,
        "saturday" => Weekday::Sat,
        "sunday" => Weekday::Sun,
        _ => return None,
    })
}

/// A clock time in `tokens` (`3 pm`, `3pm`, `15:30`, `noon`), if any.
fn clock_time(tokens: &[&str]) -> Option<NaiveTime> {
    for (i, t) in tokens.iter().enumerate() {
        if *t == "noon" {
            return NaiveTime::from_hms_opt(12, 0, 0);
        }
        let (digits, suffix) = match t.find(|c: char| !c.is_ascii_digit() && c != ':') {
            Some(at) => (&t[..at], &t[at..]),
            None => (*t, tokens.get(i + 1).copied().unwrap_or("")),
        };
        if digits.is_empty() || !digits.chars().next().is_some_and(|c| c.is_ascii_digit()) {
            continue;
        }
        let (h, m) = match digits.split_once(':') {
            Some((h, m)) => (h.parse::<u32>().ok()?, m.parse::<u32>().ok()?),
            None => (digits.parse::<u32>().ok()?, 0),
        };
        let after_at = i > 0 && tokens[i - 1] == "at";
        let h = match suffix {
            "pm" | "p.m." if h < 12 => h + 12,
            "am" | "a.m." if h == 12 => 0,
            "am" | "pm" | "a.m." | "p.m." => h,
            _ if digits.contains(':') || after_at => {
                // "at 3" on a business call means the afternoon.
                if (1..=7).contains(&h) { h + 12 } else { h }
            }
            _ => continue,
        };
        return NaiveTime::from_hms_opt(h, m, 0);
    }
    None
}

/// A time the caller names, relative to `now` in `tz` (see the module doc).
pub fn parse_time_phrase(text: &str, now: DateTime<Utc>, tz: Tz) -> Option<DateTime<Utc>> {
    let normal = words(text);
    let tokens: Vec<&str> = normal.split_whitespace().collect();
    let local = now.with_timezone(&tz);
    // "in two hours", "in 30 minutes", "in a day"
    for w in tokens.windows(3) {
        if w[0] == "in"
            && let Some(n) = number_word(w[1])
        {
            let span = match w[2].trim_end_matches('s') {
                "minute" | "min" => Span::minutes(n),
                "hour" => Span::hours(n),
                "day" => Span::days(n),
                "week" => Span::weeks(n),
                _ => continue,
            };
            return Some(now + span);
        }
    }
    let part_of_day = if has(text, "morning") {
        Some(NaiveTime::from_hms_opt(10, 0, 0)?)
    } else if has(text, "afternoon") {
        Some(NaiveTime::from_hms_opt(15, 0, 0)?)
    } else if has(text, "evening") || has(text, "tonight") {
        Some(NaiveTime::from_hms_opt(18, 0, 0)?)
    } else {
        None
    };
    let time = clock_time(&tokens).or(part_of_day);
    let date = if has(text, "tomorrow") {
        Some(local.date_naive() + Span::days(1))
    } else if has(text, "next week") {
        Some(local.date_naive() + Span::days(7))
    } else if let Some(day) = tokens.iter().find_map(|t| weekday(t)) {
        let ahead = (7 + day.num_days_from_monday() as i64
            - local.weekday().num_days_from_monday() as i64)
            % 7;
        Some(local.date_naive() + Span::days(if ahead == 0 { 7 } else { ahead }))
    } else if has(text, "today")
        || has(text, "tonight")
        || has(text, "this evening")
        || time.is_some()
    {
        Some(local.date_naive())
    } else {
        None
    }?;
    let time = time.unwrap_or(NaiveTime::from_hms_opt(10, 0, 0)?);
    let at = tz
        .from_local_datetime(&date.and_time(time))
        .earliest()?
        .with_timezone(&Utc);
    // A bare time already past today means tomorrow.
    Some(if at <= now { at + Span::days(1) } else { at })
}

fn amount(text: &str) -> Option<Value> {
    for token in text.split_whitespace() {
        let token = token
            .to_lowercase()
            .trim_matches(|c: char| matches!(c, '.' | ',' | '!' | '?' | ';' | ':' | '(' | ')'))
            .to_string();
        let raw = token.trim_start_matches('$');
        let (digits, scale) = match raw.strip_suffix('k') {
            Some(d) => (d, 1000.0),
            None => (raw, 1.0),
        };
        let digits: String = digits.chars().filter(|c| *c != ',').collect();
        if digits.is_empty() || !digits.chars().all(|c| c.is_ascii_digit() || c == '.') {
            continue;
        }
        if let Ok(n) = digits.parse::<f64>() {
            let value = n * scale;
            return serde_json::Number::from_f64(value).map(Value::Number);
        }
    }
    None
}

/// The caller's line a field's cue points at: a caller line with the cue,
/// or the caller's answer to an agent line with it.
fn cue_line<'a>(t: &'a Transcript, spec: &FieldSpec) -> Option<&'a Segment> {
    let cues = spec.cues();
    let cued = |s: &Segment| cues.iter().any(|c| has(&s.text, c));
    for (i, s) in t.segments.iter().enumerate() {
        if s.speaker == Speaker::Caller && cued(s) {
            return Some(s);
        }
        if s.speaker == Speaker::Agent
            && cued(s)
            && let Some(answer) = t.segments[i + 1..]
                .iter()
                .find(|a| a.speaker == Speaker::Caller)
        {
            return Some(answer);
        }
    }
    None
}

fn field_value(t: &Transcript, spec: &FieldSpec, now: DateTime<Utc>, tz: Tz) -> Value {
    let Some(found) = cue_line(t, spec) else {
        return Value::Null;
    };
    let text = &found.text;
    match &spec.kind {
        FieldKind::Text => Value::String(text.clone()),
        FieldKind::Number => amount(text).unwrap_or(Value::Null),
        FieldKind::Datetime => parse_time_phrase(text, now, tz)
            .map(|at| Value::String(at.to_rfc3339()))
            .unwrap_or(Value::Null),
        FieldKind::Boolean => {
            if has_any(text, &["no", "nope", "not", "don't"]) {
                Value::Bool(false)
            } else if has_any(text, &["yes", "yeah", "sure", "yep", "correct", "i do"]) {
                Value::Bool(true)
            } else {
                Value::Null
            }
        }
        FieldKind::Enum { values } => values
            .iter()
            .find(|v| has(text, &v.to_lowercase()))
            .map(|v| Value::String(v.clone()))
            .unwrap_or(Value::Null),
    }
}

fn sentiment_of<'a>(segments: impl Iterator<Item = &'a Segment>) -> Sentiment {
    let (mut pos, mut neg) = (0i32, 0i32);
    for s in segments {
        let w = words(&s.text);
        for p in POSITIVE {
            pos += w.matches(&format!(" {p} ")).count() as i32;
        }
        for n in NEGATIVE {
            neg += w.matches(&format!(" {n} ")).count() as i32;
        }
    }
    if pos + neg == 0 {
        return Sentiment::of(0.0);
    }
    Sentiment::of(f64::from(pos - neg) / f64::from(pos + neg))
}

fn score_principle(
    principle: &str,
    t: Option<&Transcript>,
    request: &AnalysisRequest,
    opted_out: bool,
) -> PrincipleScore {
    let p = principle.to_lowercase();
    let call = &request.call;
    let score = |verdict, evidence: Option<String>| PrincipleScore {
        principle: principle.to_string(),
        verdict,
        evidence,
    };
    let Some(t) = t.filter(|t| !t.segments.is_empty()) else {
        return score(Verdict::NotApplicable, None);
    };
    let agent: Vec<&Segment> = t
        .segments
        .iter()
        .filter(|s| s.speaker == Speaker::Agent)
        .collect();
    if has_any(&p, &["ai", "automated", "artificial"]) || p.contains("disclos") {
        let Some(first) = agent.first() else {
            return score(Verdict::NotApplicable, None);
        };
        return match agent.iter().take(2).find(|s| has_any(&s.text, DISCLOSURE)) {
            Some(s) => score(Verdict::Pass, Some(line(s))),
            None => score(Verdict::Fail, Some(line(first))),
        };
    }
    if p.contains("pressure") || p.contains("accept a no") {
        let refusal = t.segments.iter().position(|s| {
            s.speaker == Speaker::Caller && (has_any(&s.text, REFUSAL) || has_any(&s.text, OPT_OUT))
        });
        let Some(at) = refusal else {
            return score(Verdict::NotApplicable, None);
        };
        let after: Vec<&Segment> = t.segments[at + 1..]
            .iter()
            .filter(|s| s.speaker == Speaker::Agent)
            .collect();
        return match after.iter().find(|s| has_any(&s.text, PRESSURE)) {
            Some(s) => score(Verdict::Fail, Some(line(s))),
            None => score(
                Verdict::Pass,
                Some(line(after.first().copied().unwrap_or(&t.segments[at]))),
            ),
        };
    }
    if p.contains("not to be called") || p.contains("opt-out") || p.contains("opt out") {
        if !opted_out {
            return score(Verdict::NotApplicable, None);
        }
        let evidence = caller(t).find(|s| has_any(&s.text, OPT_OUT)).map(line);
        let recorded = call.disposition == Some(voxdial_domain::Disposition::OptedOut);
        return score(
            if recorded {
                Verdict::Pass
            } else {
                Verdict::Fail
            },
            evidence,
        );
    }
    if p.contains("result") || p.contains("record_outcome") || p.contains("outcome") {
        let Some(last) = caller(t).last() else {
            return score(Verdict::NotApplicable, None);
        };
        let recorded =
            call.disposition.is_some() || call.transfer.is_some() || call.callback_at.is_some();
        return score(
            if recorded {
                Verdict::Pass
            } else {
                Verdict::Fail
            },
            Some(line(last)),
        );
    }
    score(Verdict::NotApplicable, None)
}

/// The analysed disposition and the callback time (see the module doc).
fn disposition_of(
    request: &AnalysisRequest,
    t: Option<&Transcript>,
    now: DateTime<Utc>,
    tz: Tz,
) -> (AnalysisDisposition, Option<DateTime<Utc>>) {
    let call = &request.call;
    let machine =
        call.state == CallState::Voicemail || call.answered_by.is_some_and(AnsweredBy::is_machine);
    if machine {
        return (AnalysisDisposition::Voicemail, None);
    }
    let spoke = t.is_some_and(Transcript::caller_spoke);
    let said = |phrases: &[&str]| -> Option<&Segment> {
        t.and_then(|t| caller(t).find(|s| has_any(&s.text, phrases)))
    };
    if said(OPT_OUT).is_some() {
        return (AnalysisDisposition::OptedOut, None);
    }
    if said(WRONG_NUMBER).is_some() {
        return (AnalysisDisposition::WrongNumber, None);
    }
    if call.transfer.is_some() {
        return (AnalysisDisposition::Transferred, None);
    }
    let asked_back = said(CALLBACK);
    if call.callback_at.is_some() || asked_back.is_some() {
        let at = call.callback_at.or_else(|| {
            t.and_then(|t| {
                caller(t)
                    .skip_while(|s| !has_any(&s.text, CALLBACK))
                    .find_map(|s| parse_time_phrase(&s.text, now, tz))
            })
        });
        return (AnalysisDisposition::CallbackRequested, at);
    }
    if said(REFUSAL).is_some() {
        return (AnalysisDisposition::NotInterested, None);
    }
    if said(INTEREST).is_some() {
        return (AnalysisDisposition::Interested, None);
    }
    if said(HUMAN).is_some() {
        // Asked for a person who could not come: a follow-up is wanted.
        return (AnalysisDisposition::CallbackRequested, None);
    }
    if !spoke {
        return (AnalysisDisposition::NoConversation, None);
    }
    match call.disposition {
        Some(d) => (d.into(), None),
        None => (AnalysisDisposition::NotInterested, None),
    }
}

fn summary(disposition: AnalysisDisposition, t: Option<&Transcript>) -> String {
    let lead = match disposition {
        AnalysisDisposition::Interested => "The caller is interested",
        AnalysisDisposition::NotInterested => "The caller declined",
        AnalysisDisposition::CallbackRequested => "The caller asked to be called back",
        AnalysisDisposition::Transferred => "The call was transferred to a person",
        AnalysisDisposition::WrongNumber => "Wrong number",
        AnalysisDisposition::OptedOut => "The caller asked not to be called again",
        AnalysisDisposition::Voicemail => return "An answering machine took the call.".into(),
        AnalysisDisposition::NoConversation => return "The caller said nothing.".into(),
    };
    let quote = t.and_then(|t| {
        caller(t)
            .filter(|s| s.text.split_whitespace().count() > 1)
            .last()
            .or_else(|| caller(t).last())
    });
    let mut text = match quote {
        Some(s) => format!("{lead}; last said: \"{}\"", s.text),
        None => format!("{lead}."),
    };
    if text.chars().count() > 240 {
        text = text.chars().take(239).collect::<String>() + "…";
    }
    text
}

/// Analyses one call (the analyser's logic, callable without the trait).
pub fn analyse_locally(request: &AnalysisRequest, now: DateTime<Utc>) -> Analysis {
    let tz = request.time_zone.unwrap_or(chrono_tz::UTC);
    let t = request.transcript.as_ref();
    let (analysed, callback_at) = disposition_of(request, t, now, tz);
    let machine = analysed == AnalysisDisposition::Voicemail;
    let disposition = final_disposition(machine, request.call.disposition, analysed);
    let settings = &request.campaign.settings.analysis;
    let mut fields = Map::new();
    for spec in &settings.fields {
        let value = t.map_or(Value::Null, |t| field_value(t, spec, now, tz));
        fields.insert(spec.name.clone(), value);
    }
    let segments = t.map(|t| t.segments.as_slice()).unwrap_or_default();
    let caller_s = sentiment_of(segments.iter().filter(|s| s.speaker == Speaker::Caller));
    let agent_s = sentiment_of(segments.iter().filter(|s| s.speaker == Speaker::Agent));
    let overall = Sentiment::of(0.7 * caller_s.score + 0.3 * agent_s.score);
    let opted_out = analysed == AnalysisDisposition::OptedOut;
    let principles = settings
        .principles
        .iter()
        .map(|p| score_principle(p, t, request, opted_out))
        .collect();
    Analysis {
        engine: LOCAL_ENGINE.into(),
        disposition,
        analysed_disposition: analysed,
        recorded_disposition: request.call.disposition,
        callback_at: if disposition == AnalysisDisposition::CallbackRequested {
            request.call.callback_at.or(callback_at)
        } else {
            None
        },
        fields,
        sentiment: Sentiments {
            caller: caller_s,
            agent: agent_s,
            overall,
        },
        summary: summary(disposition, t),
        principles,
    }
}

#[async_trait]
impl Analyser for LocalAnalyser {
    fn name(&self) -> &str {
        LOCAL_ENGINE
    }

    async fn analyse(&self, request: &AnalysisRequest) -> Result<Analysis, AnalyseError> {
        let now = request.call.ended_at.unwrap_or(request.call.created_at);
        Ok(analyse_locally(request, now))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(h: u32, m: u32) -> DateTime<Utc> {
        // Monday 2026-06-01.
        Utc.with_ymd_and_hms(2026, 6, 1, h, m, 0).unwrap()
    }

    #[test]
    fn time_phrases_read_in_the_callees_zone() {
        let ny: Tz = "America/New_York".parse().unwrap();
        // 14:00 UTC is 10:00 in New York (EDT).
        let now = t(14, 0);
        let at = |s: &str| parse_time_phrase(s, now, ny).map(|d| d.with_timezone(&ny).to_rfc3339());
        assert_eq!(
            at("call me tomorrow morning").unwrap(),
            "2026-06-02T10:00:00-04:00"
        );
        assert_eq!(at("in two hours").unwrap(), "2026-06-01T12:00:00-04:00");
        assert_eq!(
            at("on Friday at 3 pm").unwrap(),
            "2026-06-05T15:00:00-04:00"
        );
        assert_eq!(
            at("try at 9am").unwrap(),
            "2026-06-02T09:00:00-04:00",
            "past today: tomorrow"
        );
        assert_eq!(at("next week").unwrap(), "2026-06-08T10:00:00-04:00");
        assert_eq!(at("this evening").unwrap(), "2026-06-01T18:00:00-04:00");
        assert_eq!(at("no time at all"), None);
    }

    #[test]
    fn phrases_match_whole_words_and_amounts_read() {
        assert!(has("Yes, please.", "yes"));
        assert!(!has("Yesterday was fine", "yes"));
        assert!(has("I'm NOT interested", "not interested"));
        assert_eq!(
            amount("about $5,000 a month"),
            Some(serde_json::json!(5000.0))
        );
        assert_eq!(amount("maybe 20k"), Some(serde_json::json!(20000.0)));
        assert_eq!(amount("no idea"), None);
    }
}
