//! URL query strings: reading `?sessionId=…&fileId=…&token=…` on the way in, and writing them on
//! the way out. Values from the other side (its session id, our file ids, its tokens) are
//! percent-encoded when they go into a URL, so a token containing `&` or `#` cannot change what
//! the URL means.

use std::borrow::Cow;

/// The value of `key` in a query string (`+` is a space, `%XX` decoded; malformed escapes are
/// kept as they are). The first occurrence wins. Invalid UTF-8 after decoding is `None`.
pub fn get<'a>(query: Option<&'a str>, key: &str) -> Option<Cow<'a, str>> {
    query?.split('&').find_map(|pair| {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        (decode(k)? == key).then(|| decode(v)).flatten()
    })
}

fn decode(s: &str) -> Option<Cow<'_, str>> {
    if !s.bytes().any(|b| b == b'%' || b == b'+') {
        return Some(Cow::Borrowed(s));
    }
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < b.len() => match (hex(b[i + 1]), hex(b[i + 2])) {
                (Some(h), Some(l)) => {
                    out.push(h << 4 | l);
                    i += 2;
                }
                _ => out.push(b'%'),
            },
            c => out.push(c),
        }
        i += 1;
    }
    String::from_utf8(out).ok().map(Cow::Owned)
}

fn hex(c: u8) -> Option<u8> {
    (c as char).to_digit(16).map(|d| d as u8)
}

/// Percent-encodes everything but RFC 3986's unreserved characters.
pub fn encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// `path?k1=v1&k2=v2` with every value encoded.
pub fn build(path: &str, params: &[(&str, &str)]) -> String {
    let mut out = path.to_owned();
    for (i, (k, v)) in params.iter().enumerate() {
        out.push(if i == 0 { '?' } else { '&' });
        out.push_str(k);
        out.push('=');
        out.push_str(&encode(v));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_what_senders_write() {
        let q = Some("sessionId=abc&fileId=some%20file&token=a%2Bb+c&empty=&flag");
        assert_eq!(get(q, "sessionId").as_deref(), Some("abc"));
        assert_eq!(get(q, "fileId").as_deref(), Some("some file"));
        assert_eq!(get(q, "token").as_deref(), Some("a+b c"));
        assert_eq!(get(q, "empty").as_deref(), Some(""));
        assert_eq!(get(q, "flag").as_deref(), Some(""));
        assert_eq!(get(q, "missing"), None);
        assert_eq!(get(None, "sessionId"), None);
        assert_eq!(get(Some("a=%zz&b=%4&c=%"), "a").as_deref(), Some("%zz"));
        assert_eq!(get(Some("a=%zz&b=%4&c=%"), "b").as_deref(), Some("%4"));
        assert_eq!(get(Some("a=%zz&b=%4&c=%"), "c").as_deref(), Some("%"));
        assert_eq!(get(Some("a=%ff"), "a"), None, "invalid UTF-8");
        assert_eq!(get(Some("a=1&a=2"), "a").as_deref(), Some("1"));
    }

    #[test]
    fn what_is_written_reads_back_unchanged() {
        for v in ["plain", "a&b=c#d", "名字 😀", "%41", "+"] {
            let url = build("/x", &[("token", v), ("other", "1")]);
            let query = url.split_once('?').map(|(_, q)| q);
            assert_eq!(get(query, "token").as_deref(), Some(v), "{url}");
            assert!(!url[3..].contains(['#', ' ']), "{url}");
        }
    }
}
