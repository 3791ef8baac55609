//! Envoy's admin interface: stats and readiness over plain HTTP/1.1 (one request per connection).

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

/// GETs `path` from the admin port on 127.0.0.1; the body, or `None` when Envoy does not answer.
pub fn get(port: u16, path: &str) -> Option<String> {
    get_from("127.0.0.1", port, path)
}

/// GETs `path` from an admin interface at `address:port`.
pub fn get_from(address: &str, port: u16, path: &str) -> Option<String> {
    let mut stream = TcpStream::connect((address, port)).ok()?;
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .ok()?;
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"
    )
    .ok()?;
    let mut response = String::new();
    stream.read_to_string(&mut response).ok()?;
    let (head, body) = response.split_once("\r\n\r\n")?;
    if !head.starts_with("HTTP/1.1 200") {
        return None;
    }
    if head
        .to_ascii_lowercase()
        .contains("transfer-encoding: chunked")
    {
        return dechunk(body);
    }
    Some(body.to_string())
}

/// Decodes a chunked HTTP/1.1 body.
fn dechunk(mut body: &str) -> Option<String> {
    let mut out = String::new();
    loop {
        let (size, rest) = body.split_once("\r\n")?;
        let size = usize::from_str_radix(size.trim(), 16).ok()?;
        if size == 0 {
            return Some(out);
        }
        out.push_str(rest.get(..size)?);
        body = rest.get(size + 2..)?;
    }
}

/// The value of counter or gauge `name` in `/stats`, if present.
pub fn stat(port: u16, name: &str) -> Option<u64> {
    let stats = get(
        port,
        &format!("/stats?filter=^{}$", name.replace('.', "\\.")),
    )?;
    stats.lines().find_map(|line| {
        let (n, v) = line.split_once(": ")?;
        (n == name).then(|| v.trim().parse().ok()).flatten()
    })
}
