//! A minimal SSE writer, to measure the kernel's own cost of a fan-out.
//!
//! `GET /events` answers with the headers of an event stream and keeps the socket;
//! `POST /publish` encodes its body once as an SSE frame shaped like parkstream's (an `id:`,
//! an `event:` and the body as `data:`) and writes that frame to every kept socket in turn,
//! then answers 200. Each delivery is one blocking `write` and nothing else,
//! so the server's CPU time per delivery under the load generator is what the kernel's TCP
//! path costs: the floor any real server's cost per delivery is compared with.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;

const STREAM_HEAD: &[u8] = b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\n\
cache-control: no-cache\r\nconnection: close\r\n\r\n";

/// Event ids, as large as parkstream's, so a frame is as long as its.
static NEXT_ID: AtomicU64 = AtomicU64::new(1_796_317_663_508_001);

type Streams = Arc<Mutex<Vec<TcpStream>>>;

fn main() -> std::io::Result<()> {
    let port = std::env::var("PORT").unwrap_or_else(|_| "18015".into());
    let listener = TcpListener::bind(format!("127.0.0.1:{port}"))?;
    let streams = Streams::default();
    for connection in listener.incoming() {
        let Ok(connection) = connection else { continue };
        let streams = streams.clone();
        thread::spawn(move || {
            if let Err(error) = serve(connection, &streams) {
                eprintln!("connection: {error}");
            }
        });
    }
    Ok(())
}

/// Answers requests on one connection until it closes or becomes a stream.
fn serve(connection: TcpStream, streams: &Streams) -> std::io::Result<()> {
    connection.set_nodelay(true)?;
    let mut reader = BufReader::new(connection.try_clone()?);
    let mut writer = connection;
    loop {
        let mut request_line = String::new();
        if reader.read_line(&mut request_line)? == 0 {
            return Ok(());
        }
        let mut content_length = 0;
        loop {
            let mut header = String::new();
            reader.read_line(&mut header)?;
            if header.trim_end().is_empty() {
                break;
            }
            if let Some((name, value)) = header.split_once(':') {
                if name.eq_ignore_ascii_case("content-length") {
                    content_length = value.trim().parse().unwrap_or(0);
                }
            }
        }
        if request_line.starts_with("GET /events") {
            writer.write_all(STREAM_HEAD)?;
            streams.lock().expect("no writer panics").push(writer);
            return Ok(());
        }
        let mut body = vec![0; content_length];
        reader.read_exact(&mut body)?;
        if request_line.starts_with("POST /publish") {
            let id = NEXT_ID.fetch_add(1, Ordering::Relaxed);
            let mut frame = format!("id: {id}\nevent: capacity_update\n").into_bytes();
            frame.extend_from_slice(b"data: ");
            frame.extend_from_slice(&body);
            frame.extend_from_slice(b"\n\n");
            // The whole fan-out: one write per stream; a stream whose write fails is gone.
            streams
                .lock()
                .expect("no writer panics")
                .retain_mut(|stream| stream.write_all(&frame).is_ok());
            writer.write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n")?;
        } else {
            writer.write_all(b"HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\n\r\n")?;
        }
    }
}
