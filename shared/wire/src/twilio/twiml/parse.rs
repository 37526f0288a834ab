//! The parser: XML (quick-xml) into a small element tree, then into the typed
//! TwiML tree with strict checks.

use quick_xml::Reader;
use quick_xml::events::{BytesStart, Event};

use super::write::is_xml_char;
use super::*;

/// Deepest element nesting accepted (TwiML needs 4).
const MAX_DEPTH: usize = 16;

/// Why a TwiML document was refused.
#[derive(Debug, thiserror::Error)]
pub enum TwimlError {
    /// The document is not well-formed XML.
    #[error("malformed XML")]
    Xml(#[source] quick_xml::Error),
    /// An attribute is malformed (duplicate, unquoted, …).
    #[error("malformed attribute")]
    Attribute(#[source] quick_xml::events::attributes::AttrError),
    /// Text or a name is not valid UTF-8.
    #[error("invalid encoding")]
    Encoding(#[source] quick_xml::encoding::EncodingError),
    /// A character XML 1.0 does not allow (a control character, `U+FFFE`, …),
    /// written as is or as a character reference.
    #[error("character {0:?} is not allowed in XML")]
    InvalidChar(char),
    /// An entity other than the five predefined ones or a character reference.
    #[error("unknown entity &{0};")]
    UnknownEntity(String),
    /// `<!DOCTYPE>` is not accepted.
    #[error("DOCTYPE is not allowed in TwiML")]
    Doctype,
    /// The root element is missing or is not `<Response>`.
    #[error("the root element must be <Response>, found {0:?}")]
    Root(Option<String>),
    /// Nesting deeper than TwiML allows.
    #[error("elements nested too deeply")]
    TooDeep,
    /// An element that is not allowed where it is.
    #[error("<{element}> is not allowed in <{parent}>")]
    UnexpectedElement {
        /// The element found.
        element: String,
        /// Its parent.
        parent: &'static str,
    },
    /// Text where only elements are allowed.
    #[error("text is not allowed in <{0}>")]
    UnexpectedText(&'static str),
    /// An attribute this parser does not know.
    #[error("attribute {attribute:?} is not supported on <{element}>")]
    UnexpectedAttribute {
        /// The element.
        element: &'static str,
        /// The attribute.
        attribute: String,
    },
    /// An attribute value that does not parse.
    #[error("attribute {attribute} of <{element}> has invalid value {value:?}")]
    InvalidAttribute {
        /// The element.
        element: &'static str,
        /// The attribute.
        attribute: &'static str,
        /// The value found.
        value: String,
    },
    /// A required attribute or text is missing.
    #[error("<{element}> needs {what}")]
    Missing {
        /// The element.
        element: &'static str,
        /// What is missing.
        what: &'static str,
    },
}

/// A parsed element before typing.
#[derive(Debug)]
struct Node {
    name: String,
    attrs: Vec<(String, String)>,
    children: Vec<Child>,
}

#[derive(Debug)]
enum Child {
    El(Node),
    Text(String),
}

impl Node {
    /// All text content, concatenated; `None` if empty.
    fn text(&self) -> Option<String> {
        let mut s = String::new();
        for c in &self.children {
            if let Child::Text(t) = c {
                s.push_str(t);
            }
        }
        (!s.is_empty()).then_some(s)
    }
}

fn start_node(e: &BytesStart<'_>, reader: &Reader<&[u8]>) -> Result<Node, TwimlError> {
    let name = reader
        .decoder()
        .decode(e.name().as_ref())
        .map_err(TwimlError::Encoding)?
        .into_owned();
    let mut attrs = Vec::new();
    for a in e.attributes() {
        let a = a.map_err(TwimlError::Attribute)?;
        let key = reader
            .decoder()
            .decode(a.key.as_ref())
            .map_err(TwimlError::Encoding)?
            .into_owned();
        let value = a
            .decode_and_unescape_value(reader.decoder())
            .map_err(TwimlError::Xml)?
            .into_owned();
        check_chars(&value)?;
        attrs.push((key, value));
    }
    Ok(Node {
        name,
        attrs,
        children: Vec::new(),
    })
}

/// Refuses what XML 1.0 does not allow: quick-xml passes control
/// characters through, and the writer could not give them back.
fn check_chars(text: &str) -> Result<(), TwimlError> {
    match text.chars().find(|&c| !is_xml_char(c)) {
        Some(c) => Err(TwimlError::InvalidChar(c)),
        None => Ok(()),
    }
}

fn push_text(stack: &mut [Node], text: &str) -> Result<(), TwimlError> {
    check_chars(text)?;
    if let Some(top) = stack.last_mut() {
        if let Some(Child::Text(t)) = top.children.last_mut() {
            t.push_str(text);
        } else {
            top.children.push(Child::Text(text.to_owned()));
        }
    }
    Ok(())
}

/// XML into the untyped tree; returns the single root element.
fn parse_tree(xml: &str) -> Result<Node, TwimlError> {
    let mut reader = Reader::from_str(xml);
    let config = reader.config_mut();
    config.trim_text(false);
    config.expand_empty_elements = false;
    config.check_end_names = true;

    let mut stack: Vec<Node> = Vec::new();
    let mut root: Option<Node> = None;
    loop {
        let ev = reader.read_event().map_err(TwimlError::Xml)?;
        match ev {
            Event::Start(e) | Event::Empty(e) if root.is_some() && stack.is_empty() => {
                let n = start_node(&e, &reader)?;
                return Err(TwimlError::UnexpectedElement {
                    element: n.name,
                    parent: "document",
                });
            }
            Event::Start(e) => {
                if stack.len() >= MAX_DEPTH {
                    return Err(TwimlError::TooDeep);
                }
                stack.push(start_node(&e, &reader)?);
            }
            Event::Empty(e) => {
                let n = start_node(&e, &reader)?;
                match stack.last_mut() {
                    Some(parent) => parent.children.push(Child::El(n)),
                    None => root = Some(n),
                }
            }
            Event::End(_) => {
                let Some(n) = stack.pop() else {
                    return Err(TwimlError::Root(None));
                };
                match stack.last_mut() {
                    Some(parent) => parent.children.push(Child::El(n)),
                    None => root = Some(n),
                }
            }
            Event::Text(t) => {
                let s = t.xml10_content().map_err(TwimlError::Encoding)?;
                if stack.is_empty() {
                    if !s.trim().is_empty() {
                        return Err(TwimlError::UnexpectedText("document"));
                    }
                } else {
                    push_text(&mut stack, &s)?;
                }
            }
            Event::CData(t) => {
                let s = t.decode().map_err(TwimlError::Encoding)?;
                if stack.is_empty() {
                    return Err(TwimlError::UnexpectedText("document"));
                }
                push_text(&mut stack, &s)?;
            }
            Event::GeneralRef(r) => {
                let c = match r.resolve_char_ref().map_err(TwimlError::Xml)? {
                    Some(c) => c,
                    None => {
                        let name = r.decode().map_err(TwimlError::Encoding)?;
                        match &*name {
                            "lt" => '<',
                            "gt" => '>',
                            "amp" => '&',
                            "apos" => '\'',
                            "quot" => '"',
                            other => return Err(TwimlError::UnknownEntity(other.to_owned())),
                        }
                    }
                };
                if stack.is_empty() {
                    return Err(TwimlError::UnexpectedText("document"));
                }
                push_text(&mut stack, c.encode_utf8(&mut [0; 4]))?;
            }
            Event::DocType(_) => return Err(TwimlError::Doctype),
            Event::Decl(_) | Event::PI(_) | Event::Comment(_) => {}
            Event::Eof => break,
        }
    }
    if !stack.is_empty() {
        return Err(TwimlError::Root(Some(stack.swap_remove(0).name)));
    }
    root.ok_or(TwimlError::Root(None))
}

/// Reads the attributes of one element, refusing leftovers.
struct Attrs {
    element: &'static str,
    list: Vec<(String, String)>,
}

impl Attrs {
    fn new(element: &'static str, node: &mut Node) -> Self {
        Self {
            element,
            list: std::mem::take(&mut node.attrs),
        }
    }

    fn str(&mut self, name: &'static str) -> Option<String> {
        let i = self.list.iter().position(|(k, _)| k == name)?;
        Some(self.list.swap_remove(i).1)
    }

    fn invalid(&self, attribute: &'static str, value: String) -> TwimlError {
        TwimlError::InvalidAttribute {
            element: self.element,
            attribute,
            value,
        }
    }

    fn num(&mut self, name: &'static str) -> Result<Option<u32>, TwimlError> {
        match self.str(name) {
            None => Ok(None),
            Some(v) => v
                .trim()
                .parse()
                .map(Some)
                .map_err(|_| self.invalid(name, v)),
        }
    }

    fn flag(&mut self, name: &'static str) -> Result<Option<bool>, TwimlError> {
        match self.str(name) {
            None => Ok(None),
            Some(v) if v.eq_ignore_ascii_case("true") => Ok(Some(true)),
            Some(v) if v.eq_ignore_ascii_case("false") => Ok(Some(false)),
            Some(v) => Err(self.invalid(name, v)),
        }
    }

    fn method(&mut self, name: &'static str) -> Option<HttpMethod> {
        self.str(name).map(|v| HttpMethod::from_wire(&v))
    }

    fn finish(self) -> Result<(), TwimlError> {
        match self.list.into_iter().next() {
            None => Ok(()),
            Some((attribute, _)) => Err(TwimlError::UnexpectedAttribute {
                element: self.element,
                attribute,
            }),
        }
    }
}

/// Child elements of a container; non-whitespace text is an error.
fn elements(parent: &'static str, node: Node) -> Result<Vec<Node>, TwimlError> {
    let mut out = Vec::new();
    for c in node.children {
        match c {
            Child::El(n) => out.push(n),
            Child::Text(t) if t.trim().is_empty() => {}
            Child::Text(_) => return Err(TwimlError::UnexpectedText(parent)),
        }
    }
    Ok(out)
}

/// A leaf: text only, no child elements.
fn leaf_text(element: &'static str, node: &Node) -> Result<Option<String>, TwimlError> {
    if let Some(Child::El(n)) = node.children.iter().find(|c| matches!(c, Child::El(_))) {
        return Err(TwimlError::UnexpectedElement {
            element: n.name.clone(),
            parent: element,
        });
    }
    Ok(node.text())
}

fn unexpected(node: Node, parent: &'static str) -> TwimlError {
    TwimlError::UnexpectedElement {
        element: node.name,
        parent,
    }
}

pub(super) fn response(xml: &str) -> Result<Response, TwimlError> {
    let mut root = parse_tree(xml)?;
    if root.name != "Response" {
        return Err(TwimlError::Root(Some(root.name)));
    }
    Attrs::new("Response", &mut root).finish()?;
    let verbs = elements("Response", root)?
        .into_iter()
        .map(verb)
        .collect::<Result<_, _>>()?;
    Ok(Response { verbs })
}

fn verb(mut n: Node) -> Result<Verb, TwimlError> {
    Ok(match n.name.as_str() {
        "Say" => Verb::Say(say(n)?),
        "Play" => Verb::Play(play(n)?),
        "Pause" => Verb::Pause(pause(n)?),
        "Gather" => Verb::Gather(gather(n)?),
        "Dial" => Verb::Dial(dial(n)?),
        "Connect" => Verb::Connect(connect(n)?),
        "Hangup" => {
            Attrs::new("Hangup", &mut n).finish()?;
            if let Some(c) = elements("Hangup", n)?.into_iter().next() {
                return Err(unexpected(c, "Hangup"));
            }
            Verb::Hangup
        }
        "Redirect" => {
            let mut a = Attrs::new("Redirect", &mut n);
            let method = a.method("method");
            a.finish()?;
            let url = leaf_text("Redirect", &n)?.ok_or(TwimlError::Missing {
                element: "Redirect",
                what: "a URL",
            })?;
            Verb::Redirect(Redirect { url, method })
        }
        "Reject" => {
            let mut a = Attrs::new("Reject", &mut n);
            let reason = a.str("reason");
            a.finish()?;
            if let Some(c) = elements("Reject", n)?.into_iter().next() {
                return Err(unexpected(c, "Reject"));
            }
            Verb::Reject(Reject { reason })
        }
        _ => return Err(unexpected(n, "Response")),
    })
}

fn say(mut n: Node) -> Result<Say, TwimlError> {
    let mut a = Attrs::new("Say", &mut n);
    let s = Say {
        voice: a.str("voice"),
        language: a.str("language"),
        loop_count: a.num("loop")?,
        text: leaf_text("Say", &n)?.unwrap_or_default(),
    };
    a.finish()?;
    Ok(s)
}

fn play(mut n: Node) -> Result<Play, TwimlError> {
    let mut a = Attrs::new("Play", &mut n);
    let p = Play {
        loop_count: a.num("loop")?,
        digits: a.str("digits"),
        url: leaf_text("Play", &n)?,
    };
    a.finish()?;
    Ok(p)
}

fn pause(mut n: Node) -> Result<Pause, TwimlError> {
    let mut a = Attrs::new("Pause", &mut n);
    let p = Pause {
        length: a.num("length")?,
    };
    a.finish()?;
    if let Some(c) = elements("Pause", n)?.into_iter().next() {
        return Err(unexpected(c, "Pause"));
    }
    Ok(p)
}

fn gather(mut n: Node) -> Result<Gather, TwimlError> {
    let mut a = Attrs::new("Gather", &mut n);
    let mut g = Gather {
        input: a.str("input").map(|v| GatherInput::from_wire(&v)),
        num_digits: a.num("numDigits")?,
        finish_on_key: a.str("finishOnKey"),
        timeout: a.num("timeout")?,
        speech_timeout: a.str("speechTimeout"),
        language: a.str("language"),
        hints: a.str("hints"),
        action: a.str("action"),
        method: a.method("method"),
        action_on_empty_result: a.flag("actionOnEmptyResult")?,
        prompts: Vec::new(),
    };
    a.finish()?;
    for c in elements("Gather", n)? {
        g.prompts.push(match c.name.as_str() {
            "Say" => Prompt::Say(say(c)?),
            "Play" => Prompt::Play(play(c)?),
            "Pause" => Prompt::Pause(pause(c)?),
            _ => return Err(unexpected(c, "Gather")),
        });
    }
    Ok(g)
}

fn dial(mut n: Node) -> Result<Dial, TwimlError> {
    let mut a = Attrs::new("Dial", &mut n);
    let mut d = Dial {
        caller_id: a.str("callerId"),
        timeout: a.num("timeout")?,
        time_limit: a.num("timeLimit")?,
        action: a.str("action"),
        method: a.method("method"),
        record: a.str("record"),
        recording_status_callback: a.str("recordingStatusCallback"),
        answer_on_bridge: a.flag("answerOnBridge")?,
        hangup_on_star: a.flag("hangupOnStar")?,
        ring_tone: a.str("ringTone"),
        number: None,
        nouns: Vec::new(),
    };
    a.finish()?;
    let text = n.text();
    d.number = text.filter(|t| !t.trim().is_empty());
    for c in n.children {
        let Child::El(c) = c else { continue };
        d.nouns.push(match c.name.as_str() {
            "Number" => DialNoun::Number(number(c)?),
            "Conference" => DialNoun::Conference(conference(c)?),
            "Sip" => DialNoun::Sip(sip(c)?),
            _ => return Err(unexpected(c, "Dial")),
        });
    }
    Ok(d)
}

fn number(mut n: Node) -> Result<Number, TwimlError> {
    let mut a = Attrs::new("Number", &mut n);
    let r = Number {
        send_digits: a.str("sendDigits"),
        url: a.str("url"),
        method: a.method("method"),
        status_callback: a.str("statusCallback"),
        status_callback_event: a.str("statusCallbackEvent"),
        status_callback_method: a.method("statusCallbackMethod"),
        number: leaf_text("Number", &n)?.ok_or(TwimlError::Missing {
            element: "Number",
            what: "a phone number",
        })?,
    };
    a.finish()?;
    Ok(r)
}

fn conference(mut n: Node) -> Result<Conference, TwimlError> {
    let mut a = Attrs::new("Conference", &mut n);
    let r = Conference {
        start_conference_on_enter: a.flag("startConferenceOnEnter")?,
        end_conference_on_exit: a.flag("endConferenceOnExit")?,
        beep: a.str("beep"),
        muted: a.flag("muted")?,
        wait_url: a.str("waitUrl"),
        wait_method: a.method("waitMethod"),
        max_participants: a.num("maxParticipants")?,
        record: a.str("record"),
        coach: a.str("coach"),
        status_callback: a.str("statusCallback"),
        status_callback_event: a.str("statusCallbackEvent"),
        status_callback_method: a.method("statusCallbackMethod"),
        participant_label: a.str("participantLabel"),
        name: leaf_text("Conference", &n)?.ok_or(TwimlError::Missing {
            element: "Conference",
            what: "a name",
        })?,
    };
    a.finish()?;
    Ok(r)
}

fn sip(mut n: Node) -> Result<Sip, TwimlError> {
    let mut a = Attrs::new("Sip", &mut n);
    let r = Sip {
        username: a.str("username"),
        password: a.str("password"),
        url: a.str("url"),
        method: a.method("method"),
        uri: leaf_text("Sip", &n)?.ok_or(TwimlError::Missing {
            element: "Sip",
            what: "a SIP URI",
        })?,
    };
    a.finish()?;
    Ok(r)
}

fn connect(mut n: Node) -> Result<Connect, TwimlError> {
    let mut a = Attrs::new("Connect", &mut n);
    let mut c = Connect {
        action: a.str("action"),
        method: a.method("method"),
        nouns: Vec::new(),
    };
    a.finish()?;
    for child in elements("Connect", n)? {
        c.nouns.push(match child.name.as_str() {
            "Stream" => ConnectNoun::Stream(stream(child)?),
            _ => return Err(unexpected(child, "Connect")),
        });
    }
    Ok(c)
}

fn stream(mut n: Node) -> Result<Stream, TwimlError> {
    let mut a = Attrs::new("Stream", &mut n);
    let mut s = Stream {
        url: a.str("url"),
        name: a.str("name"),
        track: a.str("track").map(|v| StreamTrack::from_wire(&v)),
        status_callback: a.str("statusCallback"),
        status_callback_method: a.method("statusCallbackMethod"),
        parameters: Vec::new(),
    };
    a.finish()?;
    for mut p in elements("Stream", n)? {
        if p.name != "Parameter" {
            return Err(unexpected(p, "Stream"));
        }
        let mut a = Attrs::new("Parameter", &mut p);
        let missing = |what| TwimlError::Missing {
            element: "Parameter",
            what,
        };
        let name = a.str("name").ok_or_else(|| missing("a name"))?;
        let value = a.str("value").ok_or_else(|| missing("a value"))?;
        a.finish()?;
        if let Some(c) = elements("Parameter", p)?.into_iter().next() {
            return Err(unexpected(c, "Parameter"));
        }
        s.parameters.push(Parameter { name, value });
    }
    Ok(s)
}
