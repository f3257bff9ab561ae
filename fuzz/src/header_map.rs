//! Header maps read from fuzz input.

use http::{HeaderMap, HeaderName, HeaderValue};

/// The headers of `input`, one per line, `name:value` (one space after the colon is
/// dropped, as a request line would have it). Lines without a colon, names that are not
/// header names and values that `HeaderValue::from_bytes` refuses are skipped; a name
/// given on several lines gives several values, in order. Values may hold any byte a
/// header value can, including non-UTF-8 `obs-text`.
pub fn from_lines(input: &[u8]) -> HeaderMap {
    let mut headers = HeaderMap::new();
    for line in input.split(|&b| b == b'\n') {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        let Some(colon) = line.iter().position(|&b| b == b':') else {
            continue;
        };
        let (name, value) = (&line[..colon], &line[colon + 1..]);
        let value = value.strip_prefix(b" ").unwrap_or(value);
        if let (Ok(name), Ok(value)) =
            (HeaderName::from_bytes(name), HeaderValue::from_bytes(value))
        {
            headers.append(name, value);
        }
    }
    headers
}
