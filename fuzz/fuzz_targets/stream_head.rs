//! Fuzzes the request-head parser of the stream path (`parse_head`, which reads the heads of
//! connections that open with `GET /api/sse/dashboard`, without hyper): it never panics, it
//! never waits for more bytes past the size limit, and once a head is complete, bytes that
//! follow it change nothing.
//!
//! `RUSTC_BOOTSTRAP=1 cargo fuzz run stream_head -- -max_total_time=60` (see fuzz/README.md)

#![no_main]

use libfuzzer_sys::fuzz_target;
use parkstream_server::server::stream_connection::parse_head;

/// The largest head the parser waits for (`MAX_HEAD_BYTES` in the server).
const MAX_HEAD_BYTES: usize = 16 * 1024;

fuzz_target!(|input: &[u8]| {
    // The first two bytes pick where the head is cut, the rest is what the client sent.
    let Some((cut, bytes)) = input.split_first_chunk::<2>() else {
        return;
    };
    let whole = parse_head(bytes);
    if matches!(whole, Ok(None)) {
        assert!(
            bytes.len() < MAX_HEAD_BYTES,
            "waits for more past the limit"
        );
    }
    let cut = usize::from(u16::from_le_bytes(*cut)) % (bytes.len() + 1);
    if let Ok(Some(early)) = parse_head(&bytes[..cut]) {
        let Ok(Some(late)) = whole else {
            panic!("complete in a prefix, {whole:?} in the whole");
        };
        assert_eq!(early.method(), late.method());
        assert_eq!(early.uri(), late.uri());
        assert_eq!(early.version(), late.version());
        assert_eq!(early.headers(), late.headers());
    }
});
