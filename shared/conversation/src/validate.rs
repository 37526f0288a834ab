//! What is wrong with an [`AgentConfig`] before it is stored:
//! [`AgentConfig::problems`] lists every problem (empty, oversize or
//! malformed fields, duplicate tools or keys, unknown clips), so an editor
//! can show them all at once.

use std::collections::HashSet;

use voxdial_media::assets;

use crate::config::{AgentConfig, IvrAction};

/// The longest system prompt, in characters.
pub const MAX_PROMPT_CHARS: usize = 20_000;
/// The longest short text (name, voice, labels), in characters.
const MAX_SHORT_CHARS: usize = 80;
/// The longest instruction, principle or message text, in characters.
const MAX_TEXT_CHARS: usize = 2_000;
/// The most principles, IVR options or fillers.
const MAX_ITEMS: usize = 50;

/// Problems are collected as `field: what is wrong`.
struct Problems(Vec<String>);

impl Problems {
    fn add(&mut self, field: &str, what: impl std::fmt::Display) {
        self.0.push(format!("{field}: {what}"));
    }

    /// A required text of at most `max` characters.
    fn text(&mut self, field: &str, value: &str, max: usize) {
        if value.trim().is_empty() {
            self.add(field, "must not be empty");
        }
        self.most(field, value, max);
    }

    /// An optional text of at most `max` characters.
    fn most(&mut self, field: &str, value: &str, max: usize) {
        let chars = value.chars().count();
        if chars > max {
            self.add(field, format!("{chars} characters, at most {max}"));
        }
    }

    fn count(&mut self, field: &str, n: usize) {
        if n > MAX_ITEMS {
            self.add(field, format!("{n} entries, at most {MAX_ITEMS}"));
        }
    }

    fn range(&mut self, field: &str, value: u64, lo: u64, hi: u64) {
        if !(lo..=hi).contains(&value) {
            self.add(field, format!("{value} is outside {lo}..={hi}"));
        }
    }
}

/// A BCP-47-shaped tag: a 2-3 letter language, then 2-8 character subtags.
fn is_language_tag(tag: &str) -> bool {
    let mut parts = tag.split('-');
    let language = parts.next().unwrap_or_default();
    (2..=3).contains(&language.len())
        && language.bytes().all(|b| b.is_ascii_alphabetic())
        && parts.all(|p| (2..=8).contains(&p.len()) && p.bytes().all(|b| b.is_ascii_alphanumeric()))
}

fn is_key(digit: char) -> bool {
    digit.is_ascii_digit() || digit == '*' || digit == '#'
}

impl AgentConfig {
    /// Every problem of this configuration, `field: reason` each; empty
    /// when it may be stored.
    pub fn problems(&self) -> Vec<String> {
        let mut p = Problems(Vec::new());
        p.text("name", &self.name, MAX_SHORT_CHARS);
        p.text("system_prompt", &self.system_prompt, MAX_PROMPT_CHARS);
        p.count("principles", self.principles.len());
        for (i, principle) in self.principles.iter().enumerate() {
            p.text(&format!("principles[{i}]"), principle, MAX_TEXT_CHARS);
        }
        p.text("voice", &self.voice, MAX_SHORT_CHARS);
        if !self
            .voice
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        {
            p.add("voice", "a voice name is letters, digits, - and _");
        }
        if !is_language_tag(&self.language) {
            p.add(
                "language",
                format!("{:?} is not a language tag like en-IN", self.language),
            );
        }
        let mut tools = HashSet::new();
        for tool in &self.tools {
            if !tools.insert(tool) {
                p.add("tools", format!("{} is listed twice", tool.function_name()));
            }
        }
        self.ivr_problems(&mut p);
        self.hedge_problems(&mut p);
        p.text(
            "opening_instruction",
            &self.opening_instruction,
            MAX_TEXT_CHARS,
        );
        p.text(
            "silence.reprompt_text",
            &self.silence.reprompt_text,
            MAX_TEXT_CHARS,
        );
        p.text(
            "silence.goodbye_text",
            &self.silence.goodbye_text,
            MAX_TEXT_CHARS,
        );
        p.range(
            "silence.reprompt_after_ms",
            self.silence.reprompt_after_ms,
            1_000,
            60_000,
        );
        p.text("voicemail.text", &self.voicemail.text, MAX_TEXT_CHARS);
        if assets::by_id(&self.voicemail.clip_id).is_none() {
            p.add(
                "voicemail.clip_id",
                format!("no bundled clip {:?}", self.voicemail.clip_id),
            );
        }
        p.count(
            "transfer.default_skills",
            self.transfer.default_skills.len(),
        );
        p.range(
            "transfer.timeout_ms",
            self.transfer.timeout_ms,
            1_000,
            60_000,
        );
        p.range("amd.max_hold_ms", self.amd.max_hold_ms, 0, 10_000);
        p.range(
            "amd.beep_timeout_ms",
            self.amd.beep_timeout_ms,
            1_000,
            60_000,
        );
        p.range("max_call_ms", self.max_call_ms, 10_000, 4 * 3_600_000);
        p.0
    }

    fn ivr_problems(&self, p: &mut Problems) {
        p.count("ivr.options", self.ivr.options.len());
        let mut keys = HashSet::new();
        for (i, option) in self.ivr.options.iter().enumerate() {
            let field = format!("ivr.options[{i}]");
            if !is_key(option.digit) {
                p.add(
                    &field,
                    format!("{:?} is not a key (0-9, * or #)", option.digit),
                );
            } else if !keys.insert(option.digit) {
                p.add(&field, format!("key {} is used twice", option.digit));
            }
            p.most(&format!("{field}.label"), &option.label, MAX_TEXT_CHARS);
            if let IvrAction::Model { text } = &option.action {
                p.text(&format!("{field}.text"), text, MAX_TEXT_CHARS);
            }
        }
        let collection = &self.ivr.collection;
        if collection.terminator.is_some_and(|t| !is_key(t)) {
            p.add("ivr.collection.terminator", "must be a key (0-9, * or #)");
        }
        p.range(
            "ivr.collection.max_digits",
            u64::from(collection.max_digits),
            1,
            64,
        );
        p.range(
            "ivr.collection.inter_digit_timeout_ms",
            collection.inter_digit_timeout_ms,
            500,
            30_000,
        );
    }

    fn hedge_problems(&self, p: &mut Problems) {
        p.count("hedge.fillers", self.hedge.fillers.len());
        let known: HashSet<&str> = assets::fillers().iter().map(|c| c.id).collect();
        for (i, filler) in self.hedge.fillers.iter().enumerate() {
            if !known.contains(filler.as_str()) {
                p.add(
                    &format!("hedge.fillers[{i}]"),
                    format!("no bundled filler {filler:?}"),
                );
            }
        }
        p.range("hedge.threshold_ms", self.hedge.threshold_ms, 100, 10_000);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{IvrOption, ToolKind};

    #[test]
    fn the_default_agent_has_no_problem() {
        assert_eq!(AgentConfig::default().problems(), Vec::<String>::new());
    }

    #[test]
    fn every_problem_is_named_by_its_field() {
        let mut agent = AgentConfig {
            system_prompt: " ".into(),
            language: "english".into(),
            tools: vec![ToolKind::EndCall, ToolKind::EndCall],
            max_call_ms: 1,
            ..AgentConfig::default()
        };
        agent.name = "x".repeat(81);
        agent.hedge.fillers = vec!["okay".into(), "nope".into()];
        agent.ivr.options.push(IvrOption {
            digit: '1',
            action: IvrAction::Callback,
            label: String::new(),
        });
        let problems = agent.problems();
        for field in [
            "name: 81 characters",
            "system_prompt: must not be empty",
            "language:",
            "tools: end_call is listed twice",
            "ivr.options[3]: key 1 is used twice",
            "hedge.fillers[1]: no bundled filler \"nope\"",
            "max_call_ms:",
        ] {
            assert!(
                problems.iter().any(|p| p.starts_with(field)),
                "{field} missing from {problems:?}"
            );
        }
        assert_eq!(problems.len(), 7, "{problems:?}");
    }

    #[test]
    fn language_tags() {
        for good in ["en", "en-IN", "hi-IN", "zh-Hant-TW"] {
            assert!(is_language_tag(good), "{good}");
        }
        for bad in ["", "e", "english", "en_IN", "en-", "en-x"] {
            assert!(!is_language_tag(bad), "{bad}");
        }
    }
}
