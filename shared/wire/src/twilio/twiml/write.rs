//! The XML writer: the output of twilio-python's `to_xml()`, see the module doc.

use super::*;

/// One element being written: name, attributes, then text and children.
struct El {
    name: &'static str,
    attrs: Vec<(&'static str, String)>,
}

impl El {
    fn new(name: &'static str) -> Self {
        Self {
            name,
            attrs: Vec::new(),
        }
    }

    fn attr(mut self, name: &'static str, value: Option<&str>) -> Self {
        if let Some(v) = value {
            self.attrs.push((name, v.to_owned()));
        }
        self
    }

    fn num(mut self, name: &'static str, value: Option<u32>) -> Self {
        if let Some(v) = value {
            self.attrs.push((name, v.to_string()));
        }
        self
    }

    fn flag(mut self, name: &'static str, value: Option<bool>) -> Self {
        if let Some(v) = value {
            self.attrs
                .push((name, if v { "true" } else { "false" }.to_owned()));
        }
        self
    }

    fn method(self, name: &'static str, value: Option<&HttpMethod>) -> Self {
        self.attr(name, value.map(HttpMethod::as_str))
    }

    /// Writes the start tag; `empty` closes it (` />`).
    fn open(mut self, out: &mut String, empty: bool) {
        // twilio-python sorts attribute names.
        self.attrs.sort_by(|a, b| a.0.cmp(b.0));
        out.push('<');
        out.push_str(self.name);
        for (k, v) in &self.attrs {
            out.push(' ');
            out.push_str(k);
            out.push_str("=\"");
            escape(out, v, true);
            out.push('"');
        }
        out.push_str(if empty { " />" } else { ">" });
    }

    /// An element with optional text and no children.
    fn text(self, out: &mut String, text: Option<&str>) {
        let name = self.name;
        match text.filter(|t| !t.is_empty()) {
            Some(t) => {
                self.open(out, false);
                escape(out, t, false);
                close(out, name);
            }
            None => self.open(out, true),
        }
    }

    /// An element with optional text, then children written by `body`.
    fn with_children(
        self,
        out: &mut String,
        text: Option<&str>,
        has_children: bool,
        body: impl FnOnce(&mut String),
    ) {
        let name = self.name;
        let text = text.filter(|t| !t.is_empty());
        if text.is_none() && !has_children {
            self.open(out, true);
            return;
        }
        self.open(out, false);
        if let Some(t) = text {
            escape(out, t, false);
        }
        body(out);
        close(out, name);
    }
}

fn close(out: &mut String, name: &str) {
    out.push_str("</");
    out.push_str(name);
    out.push('>');
}

/// Whether XML 1.0 can carry `c` at all.
/// Whether XML 1.0 allows `c` in a document (its `Char` production).
pub(super) fn is_xml_char(c: char) -> bool {
    matches!(c, '\t' | '\n' | '\r' | '\u{20}'..='\u{D7FF}' | '\u{E000}'..='\u{FFFD}' | '\u{10000}'..)
}

fn escape(out: &mut String, s: &str, attr: bool) {
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            '\r' => out.push_str("&#13;"),
            '\n' if attr => out.push_str("&#10;"),
            '\t' if attr => out.push_str("&#09;"),
            c if !is_xml_char(c) => out.push('\u{FFFD}'),
            c => out.push(c),
        }
    }
}

pub(super) fn response(r: &Response) -> String {
    let mut out = String::with_capacity(256);
    out.push_str(r#"<?xml version="1.0" encoding="UTF-8"?>"#);
    El::new("Response").with_children(&mut out, None, !r.verbs.is_empty(), |out| {
        for v in &r.verbs {
            verb(out, v);
        }
    });
    out
}

fn verb(out: &mut String, v: &Verb) {
    match v {
        Verb::Say(s) => say(out, s),
        Verb::Play(p) => play(out, p),
        Verb::Pause(p) => pause(out, p),
        Verb::Gather(g) => gather(out, g),
        Verb::Dial(d) => dial(out, d),
        Verb::Connect(c) => connect(out, c),
        Verb::Hangup => El::new("Hangup").open(out, true),
        Verb::Redirect(r) => El::new("Redirect")
            .method("method", r.method.as_ref())
            .text(out, Some(&r.url)),
        Verb::Reject(r) => El::new("Reject")
            .attr("reason", r.reason.as_deref())
            .open(out, true),
    }
}

fn say(out: &mut String, s: &Say) {
    El::new("Say")
        .attr("voice", s.voice.as_deref())
        .attr("language", s.language.as_deref())
        .num("loop", s.loop_count)
        .text(out, Some(&s.text));
}

fn play(out: &mut String, p: &Play) {
    El::new("Play")
        .num("loop", p.loop_count)
        .attr("digits", p.digits.as_deref())
        .text(out, p.url.as_deref());
}

fn pause(out: &mut String, p: &Pause) {
    El::new("Pause").num("length", p.length).open(out, true);
}

fn gather(out: &mut String, g: &Gather) {
    El::new("Gather")
        .attr("input", g.input.as_ref().map(GatherInput::as_str))
        .num("numDigits", g.num_digits)
        .attr("finishOnKey", g.finish_on_key.as_deref())
        .num("timeout", g.timeout)
        .attr("speechTimeout", g.speech_timeout.as_deref())
        .attr("language", g.language.as_deref())
        .attr("hints", g.hints.as_deref())
        .attr("action", g.action.as_deref())
        .method("method", g.method.as_ref())
        .flag("actionOnEmptyResult", g.action_on_empty_result)
        .with_children(out, None, !g.prompts.is_empty(), |out| {
            for p in &g.prompts {
                match p {
                    Prompt::Say(s) => say(out, s),
                    Prompt::Play(p) => play(out, p),
                    Prompt::Pause(p) => pause(out, p),
                }
            }
        });
}

fn dial(out: &mut String, d: &Dial) {
    El::new("Dial")
        .attr("callerId", d.caller_id.as_deref())
        .num("timeout", d.timeout)
        .num("timeLimit", d.time_limit)
        .attr("action", d.action.as_deref())
        .method("method", d.method.as_ref())
        .attr("record", d.record.as_deref())
        .attr(
            "recordingStatusCallback",
            d.recording_status_callback.as_deref(),
        )
        .flag("answerOnBridge", d.answer_on_bridge)
        .flag("hangupOnStar", d.hangup_on_star)
        .attr("ringTone", d.ring_tone.as_deref())
        .with_children(out, d.number.as_deref(), !d.nouns.is_empty(), |out| {
            for n in &d.nouns {
                match n {
                    DialNoun::Number(n) => El::new("Number")
                        .attr("sendDigits", n.send_digits.as_deref())
                        .attr("url", n.url.as_deref())
                        .method("method", n.method.as_ref())
                        .attr("statusCallback", n.status_callback.as_deref())
                        .attr("statusCallbackEvent", n.status_callback_event.as_deref())
                        .method("statusCallbackMethod", n.status_callback_method.as_ref())
                        .text(out, Some(&n.number)),
                    DialNoun::Conference(c) => El::new("Conference")
                        .flag("startConferenceOnEnter", c.start_conference_on_enter)
                        .flag("endConferenceOnExit", c.end_conference_on_exit)
                        .attr("beep", c.beep.as_deref())
                        .flag("muted", c.muted)
                        .attr("waitUrl", c.wait_url.as_deref())
                        .method("waitMethod", c.wait_method.as_ref())
                        .num("maxParticipants", c.max_participants)
                        .attr("record", c.record.as_deref())
                        .attr("coach", c.coach.as_deref())
                        .attr("statusCallback", c.status_callback.as_deref())
                        .attr("statusCallbackEvent", c.status_callback_event.as_deref())
                        .method("statusCallbackMethod", c.status_callback_method.as_ref())
                        .attr("participantLabel", c.participant_label.as_deref())
                        .text(out, Some(&c.name)),
                    DialNoun::Sip(s) => El::new("Sip")
                        .attr("username", s.username.as_deref())
                        .attr("password", s.password.as_deref())
                        .attr("url", s.url.as_deref())
                        .method("method", s.method.as_ref())
                        .text(out, Some(&s.uri)),
                }
            }
        });
}

fn connect(out: &mut String, c: &Connect) {
    El::new("Connect")
        .attr("action", c.action.as_deref())
        .method("method", c.method.as_ref())
        .with_children(out, None, !c.nouns.is_empty(), |out| {
            for n in &c.nouns {
                match n {
                    ConnectNoun::Stream(s) => stream(out, s),
                }
            }
        });
}

fn stream(out: &mut String, s: &Stream) {
    El::new("Stream")
        .attr("url", s.url.as_deref())
        .attr("name", s.name.as_deref())
        .attr("track", s.track.as_ref().map(StreamTrack::as_str))
        .attr("statusCallback", s.status_callback.as_deref())
        .method("statusCallbackMethod", s.status_callback_method.as_ref())
        .with_children(out, None, !s.parameters.is_empty(), |out| {
            for p in &s.parameters {
                El::new("Parameter")
                    .attr("name", Some(&p.name))
                    .attr("value", Some(&p.value))
                    .open(out, true);
            }
        });
}
