//! The request head: read from the socket and parsed, within the size limits.

use axum::http::{Request, Version};
use bytes::BytesMut;
use tokio::io::AsyncReadExt;
use tokio::net::TcpStream;

/// The largest request head read (hyper's default limit is larger, but a stream request
/// carries a token, a cookie and a few parameters).
const MAX_HEAD_BYTES: usize = 16 * 1024;
const MAX_HEADERS: usize = 64;

/// Reads the request head; an error when the client leaves before it is complete.
pub(super) async fn read_request(
    stream: &mut TcpStream,
) -> std::io::Result<Result<Request<()>, BadHead>> {
    let mut buf = BytesMut::with_capacity(1024);
    loop {
        if stream.read_buf(&mut buf).await? == 0 {
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
        match parse_head(&buf) {
            Ok(Some(request)) => return Ok(Ok(request)),
            Ok(None) => {}
            Err(bad) => return Ok(Err(bad)),
        }
    }
}

/// Why a request head is refused (with 400, either way).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BadHead {
    /// Not HTTP/1.x syntax, or a method, target or header the router cannot take.
    Malformed,
    /// Longer than 16 KiB, or more than 64 headers.
    TooLarge,
}

/// The request whose head starts `buf`, the bytes a connection sent so far: `Ok(None)` while
/// the head is incomplete (and under the size limit). Bytes after the head are not looked at:
/// a connection on this path serves one request.
///
/// # Errors
/// When the head is malformed or too large.
pub fn parse_head(buf: &[u8]) -> Result<Option<Request<()>>, BadHead> {
    let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut parsed = httparse::Request::new(&mut headers);
    match parsed.parse(buf) {
        Ok(httparse::Status::Complete(len)) if len <= MAX_HEAD_BYTES => {
            to_request(&parsed).map(Some).ok_or(BadHead::Malformed)
        }
        Ok(httparse::Status::Partial) if buf.len() < MAX_HEAD_BYTES => Ok(None),
        Ok(httparse::Status::Complete(_) | httparse::Status::Partial)
        | Err(httparse::Error::TooManyHeaders) => Err(BadHead::TooLarge),
        Err(_) => Err(BadHead::Malformed),
    }
}

fn to_request(parsed: &httparse::Request<'_, '_>) -> Option<Request<()>> {
    let mut builder = Request::builder()
        .method(parsed.method?)
        .uri(parsed.path?)
        .version(match parsed.version? {
            0 => Version::HTTP_10,
            _ => Version::HTTP_11,
        });
    for h in parsed.headers.iter() {
        builder = builder.header(h.name, h.value);
    }
    builder.body(()).ok()
}
#[cfg(test)]
mod tests {
    use super::*;

    fn complete(head: &[u8]) -> Request<()> {
        match parse_head(head) {
            Ok(Some(request)) => request,
            other => panic!("{:?}: {other:?}", String::from_utf8_lossy(head)),
        }
    }

    #[test]
    fn a_complete_head_becomes_the_request_and_what_follows_is_ignored() {
        let request = complete(
            b"GET /api/sse/dashboard?lots=a HTTP/1.1\r\nHost: x\r\nLast-Event-ID: 7\r\n\r\nGET /healthz HTTP/1.1\r\n\r\n",
        );
        assert_eq!(request.method(), "GET");
        assert_eq!(request.uri(), "/api/sse/dashboard?lots=a");
        assert_eq!(request.version(), Version::HTTP_11);
        assert_eq!(request.headers()["last-event-id"], "7");
        assert_eq!(request.headers().len(), 2);
        let old = complete(b"GET /api/sse/dashboard HTTP/1.0\r\n\r\n");
        assert_eq!(old.version(), Version::HTTP_10);
        // Other methods parse too (the router answers them).
        assert_eq!(complete(b"HEAD / HTTP/1.1\r\n\r\n").method(), "HEAD");
    }

    #[test]
    fn every_prefix_of_a_head_is_incomplete() {
        let head = b"GET /api/sse/dashboard HTTP/1.1\r\nHost: x\r\n\r\n";
        for end in 0..head.len() {
            assert_eq!(
                parse_head(&head[..end]).map(|r| r.is_some()),
                Ok(false),
                "{end}"
            );
        }
    }

    #[test]
    fn malformed_heads_are_refused() {
        for head in [
            &b"GET /api/sse/dashboard HTTP/1.1\r\nno colon here\r\n\r\n"[..],
            b"GET /api/sse/dashboard HTTP/9.1\r\n\r\n",
            b"GET /api/sse/dashboard?lots=\xff HTTP/1.1\r\n\r\n",
            b"GET /api/sse/dashboard HTTP/1.1\r\nbad\x01name: x\r\n\r\n",
            b"GET /api/sse/dashboard HTTP/1.1\r\nx: a\x00b\r\n\r\n",
            b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03",
        ] {
            assert_eq!(
                parse_head(head).map(|r| r.is_some()),
                Err(BadHead::Malformed),
                "{:?}",
                String::from_utf8_lossy(head)
            );
        }
    }

    #[test]
    fn header_values_outside_ascii_are_kept_as_bytes() {
        let request = complete(b"GET /api/sse/dashboard HTTP/1.1\r\nx-junk: \xff\xfe\r\n\r\n");
        assert_eq!(request.headers()["x-junk"].as_bytes(), b"\xff\xfe");
    }

    #[test]
    fn heads_over_the_limits_are_refused() {
        let mut long = b"GET /api/sse/dashboard HTTP/1.1\r\nx-pad: ".to_vec();
        long.resize(MAX_HEAD_BYTES, b'a');
        assert_eq!(
            parse_head(&long).map(|r| r.is_some()),
            Err(BadHead::TooLarge)
        );
        // Complete, but longer than the limit.
        long.extend_from_slice(b"\r\n\r\n");
        assert_eq!(
            parse_head(&long).map(|r| r.is_some()),
            Err(BadHead::TooLarge)
        );
        // Just under it, complete: accepted.
        let mut under = b"GET /api/sse/dashboard HTTP/1.1\r\nx-pad: ".to_vec();
        under.resize(MAX_HEAD_BYTES - 4, b'a');
        under.extend_from_slice(b"\r\n\r\n");
        complete(&under);
        let mut many = b"GET /api/sse/dashboard HTTP/1.1\r\n".to_vec();
        for i in 0..=MAX_HEADERS {
            many.extend_from_slice(format!("x-{i}: y\r\n").as_bytes());
        }
        many.extend_from_slice(b"\r\n");
        assert_eq!(
            parse_head(&many).map(|r| r.is_some()),
            Err(BadHead::TooLarge)
        );
    }

    /// Heads built from the pieces HTTP heads are made of (and some they must not contain).
    fn head_like() -> impl proptest::strategy::Strategy<Value = Vec<u8>> {
        use proptest::prelude::*;
        let piece = prop::sample::select(vec![
            &b"\r\n"[..],
            b"\n",
            b": ",
            b" ",
            b"\t",
            b"x-k",
            b"Host",
            b"HTTP/1.1",
            b"HTTP/1.0",
            b"/api/sse/dashboard",
            b"?lots=a",
            b"a",
            b"\xff",
            b"\x00",
            b"%",
        ]);
        let line = prop::sample::select(vec![
            &b" HTTP/1.1\r\n"[..],
            b" HTTP/1.0\r\n",
            b"?lots=a HTTP/1.1\r\n",
            b"",
        ]);
        let pieces = || prop::collection::vec(piece.clone(), 0..24);
        (line, pieces(), any::<bool>(), pieces()).prop_map(|(line, headers, end, after)| {
            let mut head = b"GET /api/sse/dashboard".to_vec();
            head.extend_from_slice(line);
            head.extend(headers.concat());
            if end {
                head.extend_from_slice(b"\r\n\r\n");
            }
            head.extend(after.concat());
            head
        })
    }

    proptest::proptest! {
        /// The fuzz target's properties (fuzz/fuzz_targets/stream_head.rs), on every run.
        #[test]
        fn bytes_after_a_complete_head_change_nothing(
            bytes in head_like(),
            cut in proptest::prelude::any::<proptest::sample::Index>(),
        ) {
            let whole = parse_head(&bytes);
            if matches!(whole, Ok(None)) {
                proptest::prop_assert!(bytes.len() < MAX_HEAD_BYTES);
            }
            let cut = cut.index(bytes.len() + 1);
            if let Ok(Some(early)) = parse_head(&bytes[..cut]) {
                let late = whole.expect("complete in a prefix").expect("complete in the whole");
                proptest::prop_assert_eq!(early.method(), late.method());
                proptest::prop_assert_eq!(early.uri(), late.uri());
                proptest::prop_assert_eq!(early.version(), late.version());
                proptest::prop_assert_eq!(early.headers(), late.headers());
            }
        }
    }
}
