//! Server-Sent Events framing: encoding (server) and parsing (client).
//!
//! The parser follows the WHATWG HTML "server-sent events" interpretation rules: LF, CR and
//! CRLF line ends (also split across chunks), a leading BOM, comments, fields without a colon,
//! one optional space after the colon, multi-line `data`, `id` with a NULL ignored, non-digit
//! `retry` ignored, and an event with an empty data buffer not dispatched. An incomplete event
//! at the end of the stream is discarded.

/// Appends one SSE frame to `out`: `id:` (when given), `event:`, one `data:` line per line of
/// `data`, and the blank line that dispatches it.
pub fn write_frame(out: &mut Vec<u8>, id: Option<&str>, event: &str, data: &str) {
    if let Some(id) = id {
        out.extend_from_slice(b"id: ");
        out.extend_from_slice(id.as_bytes());
        out.push(b'\n');
    }
    out.extend_from_slice(b"event: ");
    out.extend_from_slice(event.as_bytes());
    out.push(b'\n');
    // JSON from serde_json is one line; the loop keeps the frame valid for any text.
    for line in data.split('\n') {
        out.extend_from_slice(b"data: ");
        out.extend_from_slice(line.as_bytes());
        out.push(b'\n');
    }
    out.push(b'\n');
}

/// Appends a `retry:` field (milliseconds) followed by a blank line.
pub fn write_retry(out: &mut Vec<u8>, millis: u64) {
    out.extend_from_slice(format!("retry: {millis}\n\n").as_bytes());
}

/// One dispatched event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SseEvent {
    /// The `event:` name, `message` when the frame named none.
    pub event: String,
    /// The `data:` lines joined with LF.
    pub data: String,
    /// The last event id in force when this event was dispatched (it persists across events,
    /// as the HTML standard's "last event ID buffer" does); `None` until a frame set one.
    pub id: Option<String>,
}

/// What the parser yields.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SseItem {
    Event(SseEvent),
    /// The server's suggested reconnection delay, in milliseconds.
    Retry(u64),
}

/// An incremental SSE parser: feed it bytes as they arrive, take out what completed.
#[derive(Debug, Default)]
pub struct SseParser {
    line: Vec<u8>,
    /// The previous chunk ended in CR: an LF at the start of the next one belongs to it.
    after_cr: bool,
    /// Bytes not yet known to be past a leading BOM.
    bom_checked: bool,
    data: String,
    has_data: bool,
    event: String,
    last_id: Option<String>,
}

const BOM: &[u8] = b"\xEF\xBB\xBF";

impl SseParser {
    pub fn new() -> Self {
        Self::default()
    }

    /// The last event id seen so far (what a reconnecting client sends as `Last-Event-ID`).
    pub fn last_event_id(&self) -> Option<&str> {
        self.last_id.as_deref()
    }

    /// Parses `chunk`, appending every completed item to `out`.
    pub fn feed(&mut self, mut chunk: &[u8], out: &mut Vec<SseItem>) {
        if !self.bom_checked {
            // The BOM may arrive split over chunks: hold bytes until three are seen or one differs.
            let want = BOM.len() - self.line.len();
            let take = want.min(chunk.len());
            self.line.extend_from_slice(&chunk[..take]);
            chunk = &chunk[take..];
            if self.line.as_slice() == BOM {
                self.line.clear();
                self.bom_checked = true;
            } else if BOM.starts_with(&self.line) {
                return; // still could be a BOM
            } else {
                self.bom_checked = true;
                let held = std::mem::take(&mut self.line);
                self.scan(&held, out);
            }
        }
        self.scan(chunk, out);
    }

    fn scan(&mut self, bytes: &[u8], out: &mut Vec<SseItem>) {
        let mut rest = bytes;
        if self.after_cr && !rest.is_empty() {
            self.after_cr = false;
            if rest[0] == b'\n' {
                rest = &rest[1..];
            }
        }
        while let Some(pos) = rest.iter().position(|&b| b == b'\n' || b == b'\r') {
            self.line.extend_from_slice(&rest[..pos]);
            let line = std::mem::take(&mut self.line);
            self.process_line(&line, out);
            self.line = line;
            self.line.clear();
            if rest[pos] == b'\r' {
                match rest.get(pos + 1) {
                    Some(b'\n') => rest = &rest[pos + 2..],
                    Some(_) => rest = &rest[pos + 1..],
                    None => {
                        self.after_cr = true;
                        rest = &[];
                    }
                }
            } else {
                rest = &rest[pos + 1..];
            }
        }
        self.line.extend_from_slice(rest);
    }

    fn process_line(&mut self, line: &[u8], out: &mut Vec<SseItem>) {
        if line.is_empty() {
            self.dispatch(out);
            return;
        }
        if line[0] == b':' {
            return; // comment
        }
        let line = String::from_utf8_lossy(line);
        let (field, value) = match line.split_once(':') {
            Some((field, value)) => (field, value.strip_prefix(' ').unwrap_or(value)),
            None => (line.as_ref(), ""),
        };
        match field {
            "event" => value.clone_into(&mut self.event),
            "data" => {
                self.data.push_str(value);
                self.data.push('\n');
                self.has_data = true;
            }
            "id" if !value.contains('\0') => self.last_id = Some(value.to_owned()),
            "retry" if !value.is_empty() && value.bytes().all(|b| b.is_ascii_digit()) => {
                if let Ok(millis) = value.parse() {
                    out.push(SseItem::Retry(millis));
                }
            }
            _ => {}
        }
    }

    fn dispatch(&mut self, out: &mut Vec<SseItem>) {
        let event = std::mem::take(&mut self.event);
        if !self.has_data {
            return;
        }
        self.has_data = false;
        let mut data = std::mem::take(&mut self.data);
        data.pop(); // the LF after the last data line
        out.push(SseItem::Event(SseEvent {
            event: if event.is_empty() {
                "message".to_owned()
            } else {
                event
            },
            data,
            id: self.last_id.clone(),
        }));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_chunks(chunks: &[&[u8]]) -> Vec<SseItem> {
        let mut parser = SseParser::new();
        let mut out = Vec::new();
        for chunk in chunks {
            parser.feed(chunk, &mut out);
        }
        out
    }

    fn parse(input: &str) -> Vec<SseItem> {
        parse_chunks(&[input.as_bytes()])
    }

    fn ev(event: &str, data: &str, id: Option<&str>) -> SseItem {
        SseItem::Event(SseEvent {
            event: event.into(),
            data: data.into(),
            id: id.map(Into::into),
        })
    }

    #[test]
    fn encodes_a_frame_that_parses_back() {
        let mut buf = Vec::new();
        write_retry(&mut buf, 2000);
        write_frame(&mut buf, Some("42"), "alert", "{\"a\":1}");
        write_frame(&mut buf, None, "ping", "two\nlines");
        assert_eq!(
            std::str::from_utf8(&buf).unwrap(),
            "retry: 2000\n\nid: 42\nevent: alert\ndata: {\"a\":1}\n\nevent: ping\ndata: two\ndata: lines\n\n"
        );
        assert_eq!(
            parse_chunks(&[&buf]),
            vec![
                SseItem::Retry(2000),
                ev("alert", "{\"a\":1}", Some("42")),
                ev("ping", "two\nlines", Some("42")),
            ]
        );
    }

    #[test]
    fn accepts_lf_cr_and_crlf_line_ends() {
        let expected = vec![ev("message", "a", None), ev("message", "b", None)];
        assert_eq!(parse("data: a\n\ndata: b\n\n"), expected);
        assert_eq!(parse("data: a\r\rdata: b\r\r"), expected);
        assert_eq!(parse("data: a\r\n\r\ndata: b\r\n\r\n"), expected);
    }

    #[test]
    fn crlf_split_across_chunks_is_one_line_end() {
        let out = parse_chunks(&[b"data: a\r", b"\n\r", b"\n"]);
        assert_eq!(out, vec![ev("message", "a", None)]);
    }

    #[test]
    fn joins_multi_line_data() {
        assert_eq!(
            parse("data: a\ndata:b\ndata\n\n"),
            vec![ev("message", "a\nb\n", None)]
        );
    }

    #[test]
    fn ignores_comments_and_unknown_fields() {
        assert_eq!(
            parse(": hello\nfoo: bar\ndata: x\n\n"),
            vec![ev("message", "x", None)]
        );
    }

    #[test]
    fn strips_a_leading_bom_even_split_across_chunks() {
        assert_eq!(
            parse_chunks(&[b"\xEF", b"\xBB", b"\xBFdata: x\n\n"]),
            vec![ev("message", "x", None)]
        );
        // Only at the start of the stream.
        let out = parse("data: x\n\n\u{FEFF}data: y\n\n");
        assert_eq!(out, vec![ev("message", "x", None)]);
    }

    #[test]
    fn a_field_without_colon_has_an_empty_value() {
        assert_eq!(parse("data\n\n"), vec![ev("message", "", None)]);
        assert_eq!(parse("event\ndata: x\n\n"), vec![ev("message", "x", None)]);
    }

    #[test]
    fn only_one_space_after_the_colon_is_stripped() {
        assert_eq!(parse("data:  x\n\n"), vec![ev("message", " x", None)]);
    }

    #[test]
    fn id_with_null_is_ignored_and_id_persists() {
        assert_eq!(
            parse("id: 1\ndata: a\n\nid: 2\0x\ndata: b\n\ndata: c\n\n"),
            vec![
                ev("message", "a", Some("1")),
                ev("message", "b", Some("1")),
                ev("message", "c", Some("1")),
            ]
        );
        // An empty id resets it.
        assert_eq!(
            parse("id: 1\ndata: a\n\nid\ndata: b\n\n"),
            vec![ev("message", "a", Some("1")), ev("message", "b", Some(""))]
        );
    }

    #[test]
    fn retry_only_with_digits() {
        assert_eq!(
            parse("retry: 1500\nretry: 1s\nretry: -1\nretry:\n\n"),
            vec![SseItem::Retry(1500)]
        );
    }

    #[test]
    fn an_event_with_no_data_is_not_dispatched_and_its_type_is_dropped() {
        assert_eq!(
            parse("event: alert\n\ndata: x\n\n"),
            vec![ev("message", "x", None)]
        );
    }

    #[test]
    fn an_incomplete_event_at_the_end_is_not_dispatched() {
        assert_eq!(
            parse("data: x\n\ndata: y\n"),
            vec![ev("message", "x", None)]
        );
    }

    #[test]
    fn every_chunking_gives_the_same_events() {
        let input = b"\xEF\xBB\xBFretry: 10\r\nid: 7\r\nevent: alert\r\ndata: {\"x\":\"\xC3\xA9\"}\r\n\r\n: c\rdata: z\r\r";
        let whole = parse_chunks(&[input]);
        for split in 0..input.len() {
            let (a, b) = input.split_at(split);
            assert_eq!(parse_chunks(&[a, b]), whole, "split at {split}");
        }
        assert_eq!(
            whole,
            vec![
                SseItem::Retry(10),
                ev("alert", "{\"x\":\"é\"}", Some("7")),
                ev("message", "z", Some("7")),
            ]
        );
    }
}
