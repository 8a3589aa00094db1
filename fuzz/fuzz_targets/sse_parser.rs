//! Fuzzes the SSE parser: it never panics, and how the bytes are split into chunks never
//! changes what it yields.
//!
//! `RUSTC_BOOTSTRAP=1 cargo fuzz run sse_parser -- -max_total_time=60` (see fuzz/README.md)

#![no_main]

use libfuzzer_sys::fuzz_target;
use parkstream_protocol::sse::SseParser;

fuzz_target!(|input: &[u8]| {
    // The first byte picks the split points, the rest is the stream.
    let Some((&step, stream)) = input.split_first() else {
        return;
    };
    let mut whole = Vec::new();
    SseParser::new().feed(stream, &mut whole);

    let mut parser = SseParser::new();
    let mut chunked = Vec::new();
    let step = usize::from(step % 7) + 1;
    for chunk in stream.chunks(step) {
        parser.feed(chunk, &mut chunked);
    }
    assert_eq!(whole, chunked, "chunking changed the result");
});
