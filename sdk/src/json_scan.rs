//! Finds one top-level field of a JSON object in a single pass over its bytes, checking the
//! whole document on the way, for [`Event::json_field`](crate::Event::json_field).
//!
//! The scan is conservative: it answers only for documents that are certainly valid JSON and
//! whose answer is certain, and says "unsure" for anything else (a syntax error, a `\u` escape,
//! an escaped or repeated key, deep nesting, bytes that are not UTF-8). The caller then parses
//! with `serde_json`, which gives the same value and the exact error message. So an accepted
//! document is one `serde_json` accepts too, and the field is the one it would return.

/// Nesting deeper than this is left to `serde_json` (whose own limit is 128).
const MAX_DEPTH: u32 = 64;

/// The bytes a string's plain run stops at: quote, backslash, control characters, non-ASCII.
static STRING_STOPS: [bool; 256] = {
    let mut stops = [false; 256];
    let mut byte = 0;
    while byte < 256 {
        stops[byte] =
            byte < 0x20 || byte >= 0x80 || byte == b'"' as usize || byte == b'\\' as usize;
        byte += 1;
    }
    stops
};

/// The raw bytes of top-level field `name` of `doc` (`Some(None)` when the object has no such
/// field), or `None` when the scan is unsure and the caller must parse the slow way.
pub(crate) fn top_level_field<'a>(doc: &'a [u8], name: &str) -> Option<Option<&'a [u8]>> {
    let mut scan = Scan {
        doc,
        at: 0,
        non_ascii: false,
    };
    scan.space();
    scan.expect(b'{')?;
    scan.space();
    let mut found = None;
    if scan.peek() == Some(b'}') {
        scan.at += 1;
    } else {
        loop {
            scan.expect(b'"')?;
            let key = scan.plain_key()?;
            scan.space();
            scan.expect(b':')?;
            scan.space();
            let start = scan.at;
            scan.value()?;
            if key == name.as_bytes() {
                if found.is_some() {
                    // serde_json parses every repeat into the field's type: let it.
                    return None;
                }
                found = Some(&doc[start..scan.at]);
            }
            scan.space();
            match scan.next()? {
                b',' => scan.space(),
                b'}' => break,
                _ => return None,
            }
        }
    }
    scan.space();
    if scan.at != doc.len() {
        return None;
    }
    if scan.non_ascii && core::str::from_utf8(doc).is_err() {
        return None;
    }
    Some(found)
}

struct Scan<'a> {
    doc: &'a [u8],
    at: usize,
    /// A string held bytes past ASCII: the document's UTF-8 is checked at the end.
    non_ascii: bool,
}

impl<'a> Scan<'a> {
    fn peek(&self) -> Option<u8> {
        self.doc.get(self.at).copied()
    }

    fn next(&mut self) -> Option<u8> {
        let byte = self.peek()?;
        self.at += 1;
        Some(byte)
    }

    fn expect(&mut self, byte: u8) -> Option<()> {
        (self.next()? == byte).then_some(())
    }

    /// Skips JSON whitespace.
    fn space(&mut self) {
        while let Some(b' ' | b'\t' | b'\n' | b'\r') = self.peek() {
            self.at += 1;
        }
    }

    /// The text of a key whose opening quote was read; unsure for a key with escapes.
    fn plain_key(&mut self) -> Option<&'a [u8]> {
        let start = self.at;
        loop {
            match self.skip_plain_text()? {
                b'"' => {
                    self.at += 1;
                    return Some(&self.doc[start..self.at - 1]);
                }
                0x80.. => {
                    self.non_ascii = true;
                    self.at += 1;
                }
                _ => return None,
            }
        }
    }

    /// Skips a string whose opening quote was read.
    fn string(&mut self) -> Option<()> {
        loop {
            let stop = self.skip_plain_text()?;
            self.at += 1;
            match stop {
                b'"' => return Some(()),
                b'\\' => match self.next()? {
                    b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't' => {}
                    _ => return None,
                },
                0x80.. => self.non_ascii = true,
                _ => return None,
            }
        }
    }

    /// Moves to the next byte inside a string that is not plain ASCII text (a quote, a
    /// backslash, a control character or a byte past ASCII) and returns it.
    fn skip_plain_text(&mut self) -> Option<u8> {
        let rest = self.doc.get(self.at..)?;
        let plain = rest
            .iter()
            .position(|&byte| STRING_STOPS[usize::from(byte)])?;
        self.at += plain;
        Some(rest[plain])
    }

    /// Skips a number whose first byte (`-` or a digit) was read.
    fn number(&mut self, first: u8) -> Option<()> {
        let first = if first == b'-' { self.next()? } else { first };
        match first {
            b'0' => {}
            b'1'..=b'9' => self.digits(),
            _ => return None,
        }
        if self.peek() == Some(b'.') {
            self.at += 1;
            self.some_digits()?;
        }
        if let Some(b'e' | b'E') = self.peek() {
            self.at += 1;
            if let Some(b'+' | b'-') = self.peek() {
                self.at += 1;
            }
            self.some_digits()?;
        }
        Some(())
    }

    fn digits(&mut self) {
        while let Some(b'0'..=b'9') = self.peek() {
            self.at += 1;
        }
    }

    fn some_digits(&mut self) -> Option<()> {
        let start = self.at;
        self.digits();
        (self.at > start).then_some(())
    }

    fn literal(&mut self, rest: &[u8]) -> Option<()> {
        let end = self.at.checked_add(rest.len())?;
        (self.doc.get(self.at..end)? == rest).then(|| self.at = end)
    }

    /// Skips one member's key and colon inside an object, up to its value.
    fn member_key(&mut self) -> Option<()> {
        self.expect(b'"')?;
        self.string()?;
        self.space();
        self.expect(b':')?;
        self.space();
        Some(())
    }

    /// Skips one whole value, nested ones included, without recursion: `objects` keeps, per
    /// open container, whether it is an object (a bit per level).
    fn value(&mut self) -> Option<()> {
        let mut depth = 0u32;
        let mut objects = 0u64;
        loop {
            match self.next()? {
                b'"' => self.string()?,
                b't' => self.literal(b"rue")?,
                b'f' => self.literal(b"alse")?,
                b'n' => self.literal(b"ull")?,
                byte @ (b'-' | b'0'..=b'9') => self.number(byte)?,
                open @ (b'{' | b'[') => {
                    self.space();
                    let close = if open == b'{' { b'}' } else { b']' };
                    if self.peek() == Some(close) {
                        self.at += 1;
                    } else {
                        depth += 1;
                        if depth > MAX_DEPTH {
                            return None;
                        }
                        objects = objects << 1 | u64::from(open == b'{');
                        if open == b'{' {
                            self.member_key()?;
                        }
                        continue;
                    }
                }
                _ => return None,
            }
            // A value ended: close what it ends, or go on to the next element.
            loop {
                if depth == 0 {
                    return Some(());
                }
                self.space();
                let in_object = objects & 1 == 1;
                match (self.next()?, in_object) {
                    (b',', true) => {
                        self.space();
                        self.member_key()?;
                        break;
                    }
                    (b',', false) => {
                        self.space();
                        break;
                    }
                    (b'}', true) | (b']', false) => {
                        depth -= 1;
                        objects >>= 1;
                    }
                    _ => return None,
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::top_level_field;
    use serde::de::IgnoredAny;

    fn field<'a>(doc: &'a str, name: &str) -> Option<Option<&'a str>> {
        top_level_field(doc.as_bytes(), name)
            .map(|found| found.map(|raw| core::str::from_utf8(raw).unwrap()))
    }

    #[test]
    fn finds_the_raw_value_of_a_top_level_field() {
        let doc = r#" {"key":"k1", "nested": {"value": [1, {"value": 2}], "s": "a\"}"}, "value" : -1.5e3 } "#;
        assert_eq!(field(doc, "value"), Some(Some("-1.5e3")));
        assert_eq!(
            field(doc, "nested"),
            Some(Some(r#"{"value": [1, {"value": 2}], "s": "a\"}"}"#))
        );
        assert_eq!(field(doc, "key"), Some(Some(r#""k1""#)));
        assert_eq!(field(doc, "missing"), Some(None));
        assert_eq!(field("{}", "a"), Some(None));
        assert_eq!(field(r#"{"a":[]}"#, "a"), Some(Some("[]")));
        assert_eq!(field(r#"{"a":"é"}"#, "a"), Some(Some(r#""é""#)));
    }

    #[test]
    fn is_unsure_of_what_serde_json_must_judge() {
        for doc in [
            "",
            "[1]",
            "7",
            r#"{"n": 1"#,
            r#"{"n": 1} x"#,
            r#"{"n": 1,}"#,
            r#"{"n": 01}"#,
            r#"{"n": 1.}"#,
            r#"{"n": tru}"#,
            r#"{"n": [1,]}"#,
            r#"{"n": {"a" 1}}"#,
            r#"{"\u006e": 1}"#,
            r#"{"s": "\u0041"}"#,
            r#"{"n": 1, "n": 2}"#,
            "{\"s\": \"a\u{1}\"}",
        ] {
            assert_eq!(field(doc, "n"), None, "{doc}");
        }
        assert_eq!(top_level_field(b"{\"s\": \"\xff\"}", "n"), None);
        let deep = format!("{{\"n\": {}1{}}}", "[".repeat(70), "]".repeat(70));
        assert_eq!(field(&deep, "n"), None);
        let fine = format!("{{\"n\": {}1{}}}", "[".repeat(60), "]".repeat(60));
        assert!(field(&fine, "n").is_some());
    }

    /// A small deterministic generator of bytes (xorshift).
    struct Bytes(u64);

    impl Bytes {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            self.0
        }
    }

    /// Whenever the scan answers, serde_json accepts the document and finds the same field.
    #[test]
    fn agrees_with_serde_json_on_mutated_documents() {
        let seeds = [
            r#"{"key":"k12","payload":"xx","seq":12345,"value":57}"#,
            r#"{"a": [1, -2.5e-3, true, false, null, {"b": "c\n"}], "n": {"x": []}, "s": "é"}"#,
            r#"{"n":0,"m":[[],{}],"o":{"p":{"q":[1,2,{"n":3}]}}}"#,
        ];
        let alphabet = b"{}[]\",:0123456789-+.eE \\nrtu\x01\xc3\xa9abnulltruefalse";
        let mut random = Bytes(0x9e37_79b9_7f4a_7c15);
        let mut answered = 0;
        for round in 0..60_000 {
            let mut doc = seeds[round % seeds.len()].as_bytes().to_vec();
            for _ in 0..(random.next() % 4) {
                let at = (random.next() as usize) % (doc.len() + 1);
                let byte = alphabet[(random.next() as usize) % alphabet.len()];
                match random.next() % 3 {
                    0 if at < doc.len() => doc[at] = byte,
                    1 if at < doc.len() => {
                        doc.remove(at);
                    }
                    _ => doc.insert(at, byte),
                }
            }
            for name in ["n", "value", "a", "s"] {
                let Some(found) = top_level_field(&doc, name) else {
                    continue;
                };
                answered += 1;
                let fast = match found {
                    None => Ok(None),
                    Some(raw) => serde_json::from_slice::<serde_json::Value>(raw).map(Some),
                };
                let slow = crate::event::parse_field::<serde_json::Value>(&doc, name);
                match (fast, slow) {
                    (Ok(fast), Ok(slow)) => {
                        assert_eq!(fast, slow, "{}", String::from_utf8_lossy(&doc));
                    }
                    // `json_field` parses such a field again: the slow answer is the one given.
                    (Err(_), Err(_)) => {}
                    (fast, slow) => panic!(
                        "{}: scan {fast:?}, serde_json {slow:?}",
                        String::from_utf8_lossy(&doc)
                    ),
                }
                // What serde_json checks while skipping every field must hold too.
                let _: IgnoredAny = serde_json::from_slice(&doc).unwrap();
            }
        }
        assert!(
            answered > 10_000,
            "only {answered} answers: the mutations are too harsh"
        );
    }
}
