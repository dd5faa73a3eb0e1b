//! The real binary's connection limits, over raw sockets with short settings: a client that
//! stalls mid-headers or mid-body, or sits idle, is cut off; connections past the cap wait;
//! a body over 16 KiB is 413 on the wire, declared or chunked.

use std::io::{ErrorKind, Read, Write};
use std::net::TcpStream;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use crate::smoke::Server;

/// A server in a fresh directory, removed when dropped.
struct Site {
    server: Option<Server>,
    dir: PathBuf,
}

impl Site {
    fn start(env: &[(&str, &str)]) -> Self {
        let dir = std::env::temp_dir().join(integration_tests::unique_name("jwtd_conn"));
        std::fs::create_dir_all(&dir).unwrap();
        let server = Server::start(&dir, env);
        Self {
            server: Some(server),
            dir,
        }
    }

    fn connect(&self) -> TcpStream {
        let base = &self.server.as_ref().unwrap().base;
        let address = base.strip_prefix("http://").unwrap();
        let stream = TcpStream::connect(address).unwrap();
        stream.set_nodelay(true).unwrap();
        stream
    }
}

impl Drop for Site {
    fn drop(&mut self) {
        drop(self.server.take());
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// What a read until the server closes the connection (or `limit` passes) saw.
struct Seen {
    text: String,
    closed: bool,
    took: Duration,
}

fn read_until_closed(stream: &mut TcpStream, limit: Duration) -> Seen {
    let started = Instant::now();
    let mut bytes = Vec::new();
    let mut buffer = [0; 4096];
    let closed = loop {
        let left = limit.saturating_sub(started.elapsed());
        if left.is_zero() {
            break false;
        }
        stream.set_read_timeout(Some(left)).unwrap();
        match stream.read(&mut buffer) {
            Ok(0) => break true,
            Ok(read) => bytes.extend_from_slice(&buffer[..read]),
            Err(error) if matches!(error.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                break false;
            }
            // A reset is a close too.
            Err(_) => break true,
        }
    };
    Seen {
        text: String::from_utf8_lossy(&bytes).into_owned(),
        closed,
        took: started.elapsed(),
    }
}

/// Reads one whole response to `GET /healthz` (its body is the last thing in it).
fn read_healthz(stream: &mut TcpStream) -> String {
    let started = Instant::now();
    let mut bytes = Vec::new();
    let mut buffer = [0; 4096];
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    while !bytes.ends_with(br#"{"status":"ok"}"#) {
        assert!(started.elapsed() < Duration::from_secs(10), "no answer");
        let read = stream.read(&mut buffer).unwrap();
        assert_ne!(read, 0, "closed early: {}", String::from_utf8_lossy(&bytes));
        bytes.extend_from_slice(&buffer[..read]);
    }
    String::from_utf8_lossy(&bytes).into_owned()
}

const HEALTHZ: &[u8] = b"GET /healthz HTTP/1.1\r\nHost: jwtd\r\n\r\n";

#[test]
fn a_client_that_stalls_or_trickles_its_headers_is_cut_off() {
    let site = Site::start(&[
        ("JWTD_HEADER_READ_TIMEOUT", "1"),
        ("JWTD_KEEP_ALIVE_TIMEOUT", "30"),
    ]);
    let mut stalled = site.connect();
    stalled
        .write_all(b"POST /token HTTP/1.1\r\nHost: jwtd\r\nContent-")
        .unwrap();
    let read = read_until_closed(&mut stalled, Duration::from_secs(15));
    assert!(read.closed, "still open after {:?}", read.took);
    assert_eq!(read.text, "", "no answer to half a request");
    assert!(read.took >= Duration::from_millis(800), "{:?}", read.took);

    // A byte every 200 ms never completes a head, and is cut off all the same.
    let mut trickled = site.connect();
    let mut writer = trickled.try_clone().unwrap();
    let trickle = std::thread::spawn(move || {
        for byte in b"GET /healthz HTTP/1.1\r\nX-Slow: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa" {
            if writer.write_all(&[*byte]).is_err() {
                return;
            }
            std::thread::sleep(Duration::from_millis(200));
        }
    });
    let read = read_until_closed(&mut trickled, Duration::from_secs(15));
    assert!(read.closed, "still open after {:?}", read.took);
    assert!(read.took < Duration::from_secs(5), "{:?}", read.took);
    trickle.join().unwrap();
}

#[test]
fn a_client_that_stalls_mid_body_is_answered_408_and_closed() {
    let site = Site::start(&[("JWTD_REQUEST_TIMEOUT", "1")]);
    for head in [
        "Content-Length: 100\r\n\r\n{\"token\": \"abc",
        "Transfer-Encoding: chunked\r\n\r\n5\r\n{\"tok\r\n",
    ] {
        let mut stream = site.connect();
        write!(
            stream,
            "POST /token/verify HTTP/1.1\r\nHost: jwtd\r\nContent-Type: application/json\r\n{head}"
        )
        .unwrap();
        let read = read_until_closed(&mut stream, Duration::from_secs(15));
        assert!(
            read.text.starts_with("HTTP/1.1 408 Request Timeout\r\n"),
            "{head}: {}",
            read.text
        );
        assert!(
            read.text.ends_with(r#"{"detail":"Request timed out."}"#),
            "{}",
            read.text
        );
        assert!(read.closed, "{head}: still open after {:?}", read.took);
        assert!(
            (Duration::from_millis(800)..Duration::from_secs(10)).contains(&read.took),
            "{:?}",
            read.took
        );
    }
}

#[test]
fn an_idle_connection_is_closed_after_the_keep_alive_timeout() {
    let site = Site::start(&[("JWTD_KEEP_ALIVE_TIMEOUT", "1")]);
    // After a request...
    let mut stream = site.connect();
    stream.write_all(HEALTHZ).unwrap();
    assert!(read_healthz(&mut stream).starts_with("HTTP/1.1 200 OK\r\n"));
    let read = read_until_closed(&mut stream, Duration::from_secs(15));
    assert!(read.closed, "still open after {:?}", read.took);
    assert!(read.took >= Duration::from_millis(800), "{:?}", read.took);
    // ...and before any.
    let mut silent = site.connect();
    let read = read_until_closed(&mut silent, Duration::from_secs(15));
    assert!(read.closed && read.text.is_empty(), "{:?}", read.took);
    // Requests keep a connection alive.
    let mut busy = site.connect();
    for _ in 0..3 {
        std::thread::sleep(Duration::from_millis(500));
        busy.write_all(HEALTHZ).unwrap();
        read_healthz(&mut busy);
    }
}

#[test]
fn connections_past_the_cap_wait_until_one_closes() {
    let site = Site::start(&[("JWTD_MAX_CONNECTIONS", "1")]);
    let mut first = site.connect();
    first.write_all(HEALTHZ).unwrap();
    read_healthz(&mut first);
    // The second is queued, not refused: it is answered once the first one is gone.
    let mut second = site.connect();
    second.write_all(HEALTHZ).unwrap();
    let waiting = read_until_closed(&mut second, Duration::from_millis(700));
    assert!(
        !waiting.closed && waiting.text.is_empty(),
        "{}",
        waiting.text
    );
    drop(first);
    assert!(read_healthz(&mut second).starts_with("HTTP/1.1 200 OK\r\n"));
}

#[test]
fn bodies_over_16_kib_are_413_on_the_wire() {
    let site = Site::start(&[]);
    // Declared: answered before the body is sent.
    let mut declared = site.connect();
    declared
        .write_all(b"POST /token HTTP/1.1\r\nHost: jwtd\r\nContent-Type: application/json\r\nContent-Length: 16385\r\n\r\n")
        .unwrap();
    let read = read_until_closed(&mut declared, Duration::from_secs(10));
    assert!(
        read.text.starts_with("HTTP/1.1 413 Payload Too Large\r\n"),
        "{}",
        read.text
    );
    assert!(
        read.text
            .ends_with(r#"{"detail":"Request body too large: the limit is 16384 bytes."}"#),
        "{}",
        read.text
    );
    // Chunked: answered once the limit is passed.
    let mut chunked = site.connect();
    chunked
        .write_all(b"POST /token HTTP/1.1\r\nHost: jwtd\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n")
        .unwrap();
    let chunk = format!("400\r\n{}\r\n", " ".repeat(1024));
    for _ in 0..17 {
        if chunked.write_all(chunk.as_bytes()).is_err() {
            break;
        }
    }
    let read = read_until_closed(&mut chunked, Duration::from_secs(10));
    assert!(
        read.text.starts_with("HTTP/1.1 413 Payload Too Large\r\n"),
        "{}",
        read.text
    );
}
