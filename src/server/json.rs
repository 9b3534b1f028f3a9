//! JSON, written by hand (no crate for a few flat objects): the string
//! literal both the transcript and the dashboard write, and a reader for the
//! flat objects the transcript holds (strings and whole numbers, one level),
//! which a restarted server reads back. Pure; unit- and property-tested
//! against a real parser in the test suite.

/// A JSON string literal: quotes, backslashes and every control character
/// escaped, everything else (UTF-8 included) passed through as JSON allows.
pub(crate) fn string(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('"');
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if u32::from(c) < 0x20 => out.push_str(&format!("\\u{:04x}", u32::from(c))),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// One value of a flat object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Value {
    /// A string.
    Text(String),
    /// A whole number that fits a `u64`.
    Number(u64),
    /// `true`, `false` or `null`: read, but of no use to a restart.
    Other,
}

/// The fields of one flat JSON object (`{"key":value,...}` with strings,
/// whole numbers, `true`, `false` and `null` as values), in order; `None`
/// for anything else (a torn last line of a transcript, say).
pub(crate) fn fields(text: &str) -> Option<Vec<(String, Value)>> {
    let mut chars = text.trim().chars().peekable();
    let mut out = Vec::new();
    expect(&mut chars, '{')?;
    skip_space(&mut chars);
    if chars.peek() == Some(&'}') {
        chars.next();
        return chars.next().is_none().then_some(out);
    }
    loop {
        skip_space(&mut chars);
        let key = read_string(&mut chars)?;
        skip_space(&mut chars);
        expect(&mut chars, ':')?;
        skip_space(&mut chars);
        let value = match chars.peek()? {
            '"' => Value::Text(read_string(&mut chars)?),
            '0'..='9' => {
                let mut number: u64 = 0;
                while let Some(digit) = chars.peek().and_then(|c| c.to_digit(10)) {
                    number = number.checked_mul(10)?.checked_add(u64::from(digit))?;
                    chars.next();
                }
                Value::Number(number)
            }
            _ => {
                let word: String =
                    std::iter::from_fn(|| chars.next_if(char::is_ascii_alphabetic)).collect();
                matches!(word.as_str(), "true" | "false" | "null").then_some(Value::Other)?
            }
        };
        out.push((key, value));
        skip_space(&mut chars);
        match chars.next()? {
            ',' => continue,
            '}' => break,
            _ => return None,
        }
    }
    skip_space(&mut chars);
    chars.next().is_none().then_some(out)
}

fn skip_space(chars: &mut std::iter::Peekable<std::str::Chars<'_>>) {
    while chars.next_if(|c| c.is_ascii_whitespace()).is_some() {}
}

fn expect(chars: &mut std::iter::Peekable<std::str::Chars<'_>>, want: char) -> Option<()> {
    (chars.next()? == want).then_some(())
}

fn read_string(chars: &mut std::iter::Peekable<std::str::Chars<'_>>) -> Option<String> {
    expect(chars, '"')?;
    let mut out = String::new();
    loop {
        match chars.next()? {
            '"' => return Some(out),
            '\\' => match chars.next()? {
                '"' => out.push('"'),
                '\\' => out.push('\\'),
                '/' => out.push('/'),
                'b' => out.push('\u{8}'),
                'f' => out.push('\u{c}'),
                'n' => out.push('\n'),
                'r' => out.push('\r'),
                't' => out.push('\t'),
                'u' => {
                    let high = read_hex(chars)?;
                    let code = if (0xD800..0xDC00).contains(&high) {
                        // A pair: the low half follows as its own escape.
                        expect(chars, '\\')?;
                        expect(chars, 'u')?;
                        let low = read_hex(chars)?;
                        0x10000 + ((high - 0xD800) << 10) + (low.checked_sub(0xDC00)?)
                    } else {
                        high
                    };
                    out.push(char::from_u32(code)?);
                }
                _ => return None,
            },
            c => out.push(c),
        }
    }
}

fn read_hex(chars: &mut std::iter::Peekable<std::str::Chars<'_>>) -> Option<u32> {
    let mut value = 0;
    for _ in 0..4 {
        value = value * 16 + chars.next()?.to_digit(16)?;
    }
    Some(value)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_what_json_requires() {
        assert_eq!(string("a\"b\\c\nd\u{1}é"), r#""a\"b\\c\nd\u0001é""#);
    }

    #[test]
    fn flat_objects_read_back() {
        let got = fields(r#"{"seq":7,"time":"T","text":"a \"q\" \\ \n é \ud83d\ude00","ok":true}"#);
        assert_eq!(
            got,
            Some(vec![
                ("seq".into(), Value::Number(7)),
                ("time".into(), Value::Text("T".into())),
                ("text".into(), Value::Text("a \"q\" \\ \n é 😀".into())),
                ("ok".into(), Value::Other),
            ])
        );
        assert_eq!(fields("{}"), Some(vec![]));
        for torn in [r#"{"seq":7,"ti"#, r#"{"a":[1]}"#, "", r#"{"a":1} x"#] {
            assert_eq!(fields(torn), None, "{torn}");
        }
    }

    #[test]
    fn what_is_written_is_read_back() {
        for text in [
            "",
            "plain",
            "quote \" and \\ and \t",
            "\u{1}\u{1f}",
            "日本語 😀",
        ] {
            let object = format!("{{\"text\":{}}}", string(text));
            assert_eq!(
                fields(&object),
                Some(vec![("text".into(), Value::Text(text.into()))]),
                "{object}"
            );
        }
    }
}
