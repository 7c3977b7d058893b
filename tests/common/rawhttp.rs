//! Raw HTTP/1.1 over a loopback socket, for the hand-written hostile
//! targets (a fault, a drip, a reset) that a real server cannot play.

use std::io::Read;
use std::net::TcpStream;

/// Reads one request head and its Content-Length body; the head, or
/// `None` at the end of the connection (or past 64 KiB of head).
pub fn read_request(s: &mut TcpStream) -> Option<String> {
    let head = read_head(s)?;
    read_body(&head, s)?;
    Some(head)
}

/// Reads one request head only (its body, if any, is left unread); the
/// head, or `None` at the end of the connection (or past 64 KiB of head).
pub fn read_head(s: &mut TcpStream) -> Option<String> {
    let mut buf = Vec::new();
    let mut byte = [0u8; 1];
    while !buf.ends_with(b"\r\n\r\n") {
        match s.read(&mut byte) {
            Ok(1) => buf.push(byte[0]),
            _ => return None,
        }
        if buf.len() > 64 * 1024 {
            return None;
        }
    }
    Some(String::from_utf8_lossy(&buf).into_owned())
}

/// Reads (and drops) the Content-Length body that follows `head`.
pub fn read_body(head: &str, s: &mut TcpStream) -> Option<()> {
    let len = head
        .lines()
        .find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.eq_ignore_ascii_case("content-length")
                .then(|| v.trim().parse::<u64>().ok())?
        })
        .unwrap_or(0);
    let copied = std::io::copy(&mut s.take(len), &mut std::io::sink()).ok()?;
    (copied == len).then_some(())
}
