//! Writing answers without hyper: the head of a stream, or a whole answer (a refusal, an
//! error) followed by a close that does not reset the connection under it.

use std::time::Duration;

use axum::body::Body;
use axum::http::{header, Response};
use bytes::{BufMut, Bytes, BytesMut};
use http_body_util::BodyExt;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// The largest non-stream answer collected to be written (errors are small JSON bodies).
const MAX_ANSWER_BYTES: usize = 64 * 1024;

const BAD_REQUEST: &[u8] =
    b"HTTP/1.1 400 Bad Request\r\ncontent-length: 0\r\nconnection: close\r\n\r\n";

/// How long a whole answer (an error) may take to be written and the connection closed; a
/// client that does not read it loses it.
const ANSWER_TIMEOUT: Duration = Duration::from_secs(10);

/// How long, after a whole answer, the connection waits for the client to close it.
const LINGER: Duration = Duration::from_secs(2);
/// The most the client may still send meanwhile.
const LINGER_BYTES: usize = 64 * 1024;

/// Answers a request whose head was refused with 400, then closes the connection.
pub(super) async fn refuse(mut stream: TcpStream) {
    let answer = async {
        stream.write_all(BAD_REQUEST).await?;
        close_gently(stream).await;
        std::io::Result::Ok(())
    };
    let _ = tokio::time::timeout(ANSWER_TIMEOUT, answer).await;
}

/// Writes `response` whole (its body collected, up to [`MAX_ANSWER_BYTES`]), then closes the
/// connection; gives up after [`ANSWER_TIMEOUT`].
pub(super) async fn write(stream: TcpStream, response: Response<Body>) {
    let _ = tokio::time::timeout(ANSWER_TIMEOUT, write_answer(stream, response)).await;
}

/// The status line and headers of `response`, with `Connection: close` (and the length of
/// a whole `body`).
pub(super) fn head(response: &Response<Body>, body: Option<&Bytes>) -> BytesMut {
    let mut head = BytesMut::with_capacity(256);
    let status = response.status();
    head.put_slice(b"HTTP/1.1 ");
    head.put_slice(status.as_str().as_bytes());
    head.put_u8(b' ');
    head.put_slice(status.canonical_reason().unwrap_or("").as_bytes());
    head.put_slice(b"\r\n");
    for (name, value) in response.headers() {
        if name == header::CONNECTION || name == header::CONTENT_LENGTH {
            continue;
        }
        head.put_slice(name.as_str().as_bytes());
        head.put_slice(b": ");
        head.put_slice(value.as_bytes());
        head.put_slice(b"\r\n");
    }
    if let Some(body) = body {
        head.put_slice(format!("content-length: {}\r\n", body.len()).as_bytes());
    }
    head.put_slice(b"connection: close\r\n\r\n");
    head
}

async fn write_answer(mut stream: TcpStream, response: Response<Body>) {
    let (parts, body) = response.into_parts();
    let body = match http_body_util::Limited::new(body, MAX_ANSWER_BYTES)
        .collect()
        .await
    {
        Ok(collected) => collected.to_bytes(),
        Err(_) => Bytes::new(),
    };
    let response = Response::from_parts(parts, Body::empty());
    let head = head(&response, Some(&body));
    if stream.write_all(&head).await.is_ok() && stream.write_all(&body).await.is_ok() {
        close_gently(stream).await;
    }
}

/// Closes a connection after a whole answer: ends the writing side, then reads and drops
/// what the client still sends until it closes too (for at most [`LINGER`] and
/// [`LINGER_BYTES`]). Closing a socket with unread bytes makes the kernel reset the
/// connection, and a reset can destroy the answer before the client has read it (a client
/// that pipelined a second request, or whose head was too large and is still arriving).
async fn close_gently(mut stream: TcpStream) {
    if stream.shutdown().await.is_err() {
        return;
    }
    let drain = async {
        let mut sink = [0u8; 1024];
        let mut left = LINGER_BYTES;
        while let Ok(n @ 1..) = stream.read(&mut sink).await {
            left = left.saturating_sub(n);
            if left == 0 {
                break;
            }
        }
    };
    let _ = tokio::time::timeout(LINGER, drain).await;
}
