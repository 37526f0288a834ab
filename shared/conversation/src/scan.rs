//! Fast paths for the two messages that make up nearly all the traffic:
//! a Twilio `media` message and a Gemini `serverContent` that carries only
//! model audio.
//!
//! Each scanner walks the JSON once without building anything, borrowing
//! the audio string from the frame. It answers only when the message is
//! exactly the simple shape it knows (a `media` event; a `serverContent`
//! holding nothing but `modelTurn.parts[].inlineData`) and its strings
//! hold no escape sequence; otherwise it answers `None` and the caller
//! uses the full serde parser of `voxdial_wire`, which stays the
//! definition of the formats. The scanners are therefore never wrong, only
//! sometimes not applicable: a message they accept parses to the same
//! payload with the full parser (checked by the tests, including a
//! property test over random field orders and extra fields).
//!
//! Values the scanners skip (other fields) are checked for structure —
//! balanced brackets, terminated strings, known literals — but not
//! validated to the letter of RFC 8259 (e.g. a malformed number in an
//! ignored field passes). For a media frame that is the right trade.

/// Most inline blobs one fast-path model message may carry.
pub const MAX_BLOBS: usize = 4;

/// One inline audio blob found by [`gemini_audio`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct AudioBlob<'a> {
    /// `mimeType` (e.g. `audio/pcm;rate=24000`).
    pub mime_type: &'a str,
    /// `data`, base64.
    pub data: &'a str,
}

struct Cursor<'a> {
    b: &'a [u8],
    i: usize,
}

impl<'a> Cursor<'a> {
    fn new(b: &'a [u8]) -> Self {
        Self { b, i: 0 }
    }

    #[inline]
    fn ws(&mut self) {
        while let Some(&c) = self.b.get(self.i) {
            if !matches!(c, b' ' | b'\t' | b'\n' | b'\r') {
                break;
            }
            self.i += 1;
        }
    }

    /// Skips whitespace and consumes `c`.
    #[inline]
    fn eat(&mut self, c: u8) -> Option<()> {
        self.ws();
        (self.b.get(self.i) == Some(&c)).then(|| self.i += 1)
    }

    #[inline]
    fn peek(&mut self) -> Option<u8> {
        self.ws();
        self.b.get(self.i).copied()
    }

    /// A string without escapes, as `&str` (None: escapes, unterminated,
    /// or not UTF-8).
    #[inline]
    fn plain_string(&mut self) -> Option<&'a str> {
        self.eat(b'"')?;
        let start = self.i;
        let end = start + find_quote_or_backslash(&self.b[start..])?;
        if self.b[end] != b'"' {
            return None;
        }
        self.i = end + 1;
        std::str::from_utf8(&self.b[start..end]).ok()
    }

    /// Skips a string that may contain escapes.
    fn skip_string(&mut self) -> Option<()> {
        self.eat(b'"')?;
        loop {
            let at = self.i + find_quote_or_backslash(&self.b[self.i..])?;
            if self.b[at] == b'"' {
                self.i = at + 1;
                return Some(());
            }
            // A backslash escapes the next byte (`\uXXXX` needs no more:
            // its hex digits are not quotes).
            self.i = at + 2;
            if self.i > self.b.len() {
                return None;
            }
        }
    }

    /// Skips any value.
    fn skip_value(&mut self) -> Option<()> {
        match self.peek()? {
            b'"' => self.skip_string(),
            b'{' => {
                self.i += 1;
                if self.eat(b'}').is_some() {
                    return Some(());
                }
                loop {
                    self.skip_string()?;
                    self.eat(b':')?;
                    self.skip_value()?;
                    if self.eat(b',').is_none() {
                        return self.eat(b'}');
                    }
                }
            }
            b'[' => {
                self.i += 1;
                if self.eat(b']').is_some() {
                    return Some(());
                }
                loop {
                    self.skip_value()?;
                    if self.eat(b',').is_none() {
                        return self.eat(b']');
                    }
                }
            }
            b't' => self.literal(b"true"),
            b'f' => self.literal(b"false"),
            b'n' => self.literal(b"null"),
            b'-' | b'0'..=b'9' => {
                let start = self.i;
                while let Some(&c) = self.b.get(self.i) {
                    if !matches!(c, b'0'..=b'9' | b'-' | b'+' | b'.' | b'e' | b'E') {
                        break;
                    }
                    self.i += 1;
                }
                (self.i > start).then_some(())
            }
            _ => None,
        }
    }

    fn literal(&mut self, word: &[u8]) -> Option<()> {
        let end = self.i + word.len();
        (self.b.get(self.i..end) == Some(word)).then(|| self.i = end)
    }

    /// Walks an object, calling `field(cursor, key)` with the cursor on
    /// each value; `field` must consume the value.
    #[inline]
    fn object(&mut self, mut field: impl FnMut(&mut Self, &'a str) -> Option<()>) -> Option<()> {
        self.eat(b'{')?;
        if self.eat(b'}').is_some() {
            return Some(());
        }
        loop {
            let key = self.plain_string()?;
            self.eat(b':')?;
            field(self, key)?;
            if self.eat(b',').is_none() {
                return self.eat(b'}');
            }
        }
    }

    /// Walks an array, calling `item(cursor)` with the cursor on each value.
    fn array(&mut self, mut item: impl FnMut(&mut Self) -> Option<()>) -> Option<()> {
        self.eat(b'[')?;
        if self.eat(b']').is_some() {
            return Some(());
        }
        loop {
            item(self)?;
            if self.eat(b',').is_none() {
                return self.eat(b']');
            }
        }
    }

    fn at_end(&mut self) -> bool {
        self.ws();
        self.i == self.b.len()
    }
}

/// Index of the first `"` or `\` in `b`, eight bytes at a time (SWAR:
/// a byte equal to the target becomes zero after the XOR, and
/// `(x - 0x01..) & !x & 0x80..` flags zero bytes; the lowest flag is
/// always exact).
#[inline]
fn find_quote_or_backslash(b: &[u8]) -> Option<usize> {
    const LO: u64 = 0x0101_0101_0101_0101;
    const HI: u64 = 0x8080_8080_8080_8080;
    const QUOTE: u64 = LO * b'"' as u64;
    const BACKSLASH: u64 = LO * b'\\' as u64;
    let zero = |x: u64| x.wrapping_sub(LO) & !x & HI;
    let mut chunks = b.chunks_exact(8);
    let mut base = 0;
    for c in &mut chunks {
        let mut word = [0u8; 8];
        word.copy_from_slice(c);
        let v = u64::from_le_bytes(word);
        let hit = zero(v ^ QUOTE) | zero(v ^ BACKSLASH);
        if hit != 0 {
            return Some(base + (hit.trailing_zeros() / 8) as usize);
        }
        base += 8;
    }
    chunks
        .remainder()
        .iter()
        .position(|&c| c == b'"' || c == b'\\')
        .map(|p| base + p)
}

/// The payload of a Twilio `media` message, or `None` when `text` is any
/// other event or not of the plain shape (then use
/// `voxdial_wire::twilio::media::parse_inbound`).
pub fn twilio_media_payload(text: &[u8]) -> Option<&str> {
    let mut c = Cursor::new(text);
    let mut event_is_media = false;
    let mut seen_event = false;
    let mut payload: Option<&str> = None;
    let mut seen_media = false;
    let mut seen_sid = false;
    c.object(|c, key| match key {
        "event" if !seen_event => {
            seen_event = true;
            event_is_media = c.plain_string()? == "media";
            event_is_media.then_some(())
        }
        "media" if !seen_media => {
            seen_media = true;
            let mut seen_payload = false;
            c.object(|c, key| match key {
                "payload" if !seen_payload => {
                    seen_payload = true;
                    payload = Some(c.plain_string()?);
                    Some(())
                }
                "payload" => None,
                _ => c.skip_value(),
            })
        }
        "streamSid" if !seen_sid => {
            // The full parser requires it on `media` (a string).
            seen_sid = true;
            c.plain_string().map(|_| ())
        }
        "event" | "media" | "streamSid" => None,
        _ => c.skip_value(),
    })?;
    (c.at_end() && event_is_media && seen_sid).then_some(())?;
    payload
}

/// The audio blobs of a Gemini server message that is a `serverContent`
/// carrying only `modelTurn.parts[].inlineData` (the steady-state model
/// audio message), or `None` for anything else (then use
/// `voxdial_wire::gemini::parse_server_message`). Fills `blobs` and
/// returns how many it holds (at most [`MAX_BLOBS`]).
pub fn gemini_audio<'a>(frame: &'a [u8], blobs: &mut [AudioBlob<'a>; MAX_BLOBS]) -> Option<usize> {
    let mut c = Cursor::new(frame);
    let mut n = 0usize;
    let mut seen_content = false;
    c.object(|c, key| {
        if key != "serverContent" || seen_content {
            return None;
        }
        seen_content = true;
        let mut seen_turn = false;
        c.object(|c, key| {
            if key != "modelTurn" || seen_turn {
                return None;
            }
            seen_turn = true;
            let mut seen_parts = false;
            c.object(|c, key| match key {
                "parts" if !seen_parts => {
                    seen_parts = true;
                    c.array(|c| {
                        let mut blob: Option<AudioBlob<'a>> = None;
                        c.object(|c, key| {
                            if key != "inlineData" || blob.is_some() {
                                return None;
                            }
                            let (mut mime, mut data) = (None, None);
                            c.object(|c, key| match key {
                                "mimeType" if mime.is_none() => {
                                    mime = Some(c.plain_string()?);
                                    Some(())
                                }
                                "data" if data.is_none() => {
                                    data = Some(c.plain_string()?);
                                    Some(())
                                }
                                _ => None,
                            })?;
                            blob = Some(AudioBlob {
                                mime_type: mime?,
                                data: data?,
                            });
                            Some(())
                        })?;
                        let blob = blob?;
                        if !blob.mime_type.starts_with("audio/pcm") || n == MAX_BLOBS {
                            return None;
                        }
                        blobs[n] = blob;
                        n += 1;
                        Some(())
                    })
                }
                "role" => c.skip_value(),
                _ => None,
            })
        })
    })?;
    (c.at_end() && seen_content).then_some(n)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use voxdial_wire::gemini::parse_server_message;
    use voxdial_wire::twilio::media::{InboundMessage, parse_inbound};

    const MEDIA: &str = r#"{"event":"media","sequenceNumber":"4","media":{"track":"inbound","chunk":"2","timestamp":"5","payload":"no+JhoaJjpzS"},"streamSid":"MZ1"}"#;

    #[test]
    fn twilio_media_is_found_like_the_full_parser() {
        assert_eq!(twilio_media_payload(MEDIA.as_bytes()), Some("no+JhoaJjpzS"));
        let Ok(InboundMessage::Media(m)) = parse_inbound(MEDIA) else {
            panic!()
        };
        assert_eq!(m.media.payload, "no+JhoaJjpzS");
        let spaced = " { \"streamSid\" : \"MZ1\" , \"media\" : { \"payload\" : \"AAAA\" } , \"event\" : \"media\" } ";
        assert_eq!(twilio_media_payload(spaced.as_bytes()), Some("AAAA"));
    }

    #[test]
    fn quote_search_is_exact_at_every_offset() {
        for len in 0..40 {
            for at in 0..len {
                for c in [b'"', b'\\'] {
                    let mut b = vec![b'A'; len];
                    b[at] = c;
                    if at + 1 < len {
                        b[at + 1] = b'"';
                    }
                    assert_eq!(find_quote_or_backslash(&b), Some(at));
                    // bytes next to the targets must not be mistaken for them
                    b[at] = c + 1;
                    let want = (at + 1 < len).then_some(at + 1);
                    assert_eq!(find_quote_or_backslash(&b), want);
                }
            }
            assert_eq!(find_quote_or_backslash(&vec![0x21u8; len]), None);
        }
    }

    #[test]
    fn twilio_other_shapes_fall_back() {
        for text in [
            r#"{"event":"mark","streamSid":"MZ1","mark":{"name":"1"}}"#,
            r#"{"event":"stop","sequenceNumber":"5","stop":{"accountSid":"AC","callSid":"CA"},"streamSid":"MZ1"}"#,
            r#"{"event":"media","media":{"payload":"AA\/A"},"streamSid":"MZ1"}"#,
            r#"{"event":"media","media":{"payload":"AAAA"}}"#,
            r#"{"event":"media","media":{"payload":"AAAA"},"streamSid":"MZ1"} x"#,
            r#"{"event":"media","media":{"payload":"AAAA","payload":"BBBB"},"streamSid":"MZ1"}"#,
            r#"{"event":"media","media":{"payload":"AAAA"},"streamSid":"MZ1","event":"mark"}"#,
            r#"{"event":"media","media":{"payload":"AAAA"},"streamSid":"MZ1""#,
            r#"{"event":"media","x":tru,"media":{"payload":"AAAA"},"streamSid":"MZ1"}"#,
            r#"{"event":"me\u0064ia","media":{"payload":"AAAA"},"streamSid":"MZ1"}"#,
            "",
            "[]",
        ] {
            assert_eq!(twilio_media_payload(text.as_bytes()), None, "{text}");
        }
    }

    fn audio_msg(parts: &[&str]) -> String {
        let parts: Vec<String> = parts
            .iter()
            .map(|d| {
                format!(r#"{{"inlineData":{{"mimeType":"audio/pcm;rate=24000","data":"{d}"}}}}"#)
            })
            .collect();
        format!(
            r#"{{"serverContent":{{"modelTurn":{{"parts":[{}]}}}}}}"#,
            parts.join(",")
        )
    }

    #[test]
    fn gemini_audio_is_found_like_the_full_parser() {
        let msg = audio_msg(&["AAAA", "BBBB"]);
        let mut blobs = [AudioBlob::default(); MAX_BLOBS];
        assert_eq!(gemini_audio(msg.as_bytes(), &mut blobs), Some(2));
        let full = parse_server_message(msg.as_bytes()).unwrap();
        let want: Vec<&str> = full.audio_chunks().map(|b| &*b.data).collect();
        assert_eq!(want, vec![blobs[0].data, blobs[1].data]);
        assert_eq!(blobs[0].mime_type, "audio/pcm;rate=24000");
        let role = r#"{"serverContent":{"modelTurn":{"role":"model","parts":[{"inlineData":{"data":"AAAA","mimeType":"audio/pcm"}}]}}}"#;
        assert_eq!(gemini_audio(role.as_bytes(), &mut blobs), Some(1));
    }

    #[test]
    fn gemini_anything_else_falls_back() {
        for text in [
            r#"{"serverContent":{"turnComplete":true}}"#.to_owned(),
            r#"{"serverContent":{"interrupted":true}}"#.to_owned(),
            r#"{"serverContent":{"modelTurn":{"parts":[{"inlineData":{"mimeType":"audio/pcm;rate=24000","data":"AAAA"}}]},"turnComplete":true}}"#.to_owned(),
            r#"{"serverContent":{"modelTurn":{"parts":[{"text":"hi"}]}}}"#.to_owned(),
            r#"{"serverContent":{"modelTurn":{"parts":[{"inlineData":{"mimeType":"image/png","data":"AAAA"}}]}}}"#.to_owned(),
            r#"{"serverContent":{"modelTurn":{"parts":[{"inlineData":{"mimeType":"audio/pcm","data":"AAAA"}}]}},"usageMetadata":{}}"#.to_owned(),
            r#"{"serverContent":{"outputTranscription":{"text":"hi"}}}"#.to_owned(),
            r#"{"toolCall":{"functionCalls":[]}}"#.to_owned(),
            r#"{"setupComplete":{}}"#.to_owned(),
            audio_msg(&["AAAA"; 5]),
        ] {
            let mut blobs = [AudioBlob::default(); MAX_BLOBS];
            assert_eq!(gemini_audio(text.as_bytes(), &mut blobs), None, "{text}");
        }
    }

    proptest! {
        /// Whatever the field order, extra fields and whitespace, an
        /// accepted media message has the payload the full parser finds.
        #[test]
        fn twilio_agrees_with_serde(
            order in Just(vec![0usize, 1, 2, 3]).prop_shuffle(),
            payload in "[A-Za-z0-9+/]{0,40}={0,2}",
            extra in "[a-z]{1,6}",
            space in prop::sample::select(vec!["", " ", "\n  "]),
        ) {
            let fields = [
                r#""event":"media""#.to_owned(),
                r#""streamSid":"MZ1""#.to_owned(),
                format!(r#""media":{{"track":"inbound","{extra}":[1,{{"a":null}},"x\"y"],"payload":"{payload}"}}"#),
                r#""sequenceNumber":"7""#.to_owned(),
            ];
            let body: Vec<&str> = order.iter().map(|&i| fields[i].as_str()).collect();
            let text = format!("{{{space}{}{space}}}", body.join(&format!(",{space}")));
            let fast = twilio_media_payload(text.as_bytes());
            prop_assert_eq!(fast, Some(payload.as_str()));
            let Ok(InboundMessage::Media(m)) = parse_inbound(&text) else {
                return Err(TestCaseError::fail("full parser disagrees"));
            };
            prop_assert_eq!(&*m.media.payload, payload.as_str());
        }
    }
}
