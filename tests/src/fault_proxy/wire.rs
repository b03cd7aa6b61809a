//! HTTP/1.1 on the wire: reading a client's requests, forwarding them to moto, and writing
//! answers, whole or cut short.

use std::io::{self, BufRead, BufReader, Write};
use std::net::TcpStream;

use super::rules::Canned;
use super::{CLAIMED_WHEN_EMPTY, ProxiedRequest, UPSTREAM};

/// The answer when moto cannot be reached.
pub(super) fn bad_gateway(e: &io::Error) -> Upstream {
    Upstream {
        status: 502,
        reason: "Bad Gateway".into(),
        headers: vec![("Content-Type".into(), "text/plain".into())],
        body: format!("fault proxy: moto did not answer: {e}").into_bytes(),
    }
}

/// Reads one request; `None` at a clean end of the connection. Answers `Expect: 100-continue`.
pub(super) fn read_request(reader: &mut BufReader<TcpStream>, writer: &mut TcpStream) -> io::Result<Option<ProxiedRequest>> {
    let mut line = String::new();
    // Tolerate empty lines between requests.
    loop {
        line.clear();
        if reader.read_line(&mut line)? == 0 {
            return Ok(None);
        }
        if !line.trim().is_empty() {
            break;
        }
    }
    let mut parts = line.split_whitespace();
    let (Some(method), Some(target)) = (parts.next(), parts.next()) else {
        return Err(io::Error::other(format!("malformed request line {line:?}")));
    };
    let (method, target) = (method.to_string(), target.to_string());
    let headers = read_headers(reader)?;
    let mut request = ProxiedRequest { method, target, headers, body: Vec::new() };
    if request.header("expect").is_some_and(|e| e.eq_ignore_ascii_case("100-continue")) {
        writer.write_all(b"HTTP/1.1 100 Continue\r\n\r\n")?;
    }
    request.body = read_body(reader, &request.headers, false)?;
    Ok(Some(request))
}

pub(super) fn read_headers(reader: &mut impl BufRead) -> io::Result<Vec<(String, String)>> {
    let mut headers = Vec::new();
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line)? == 0 {
            return Err(io::Error::new(io::ErrorKind::UnexpectedEof, "connection closed inside the headers"));
        }
        let line = line.trim_end_matches(['\r', '\n']);
        if line.is_empty() {
            return Ok(headers);
        }
        if let Some((k, v)) = line.split_once(':') {
            headers.push((k.trim().to_string(), v.trim().to_string()));
        }
    }
}

pub(super) fn header<'a>(headers: &'a [(String, String)], name: &str) -> Option<&'a str> {
    headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
}

/// Reads a body framed by chunked encoding or `Content-Length`; otherwise (responses only,
/// `until_eof`) up to the end of the stream.
pub(super) fn read_body(reader: &mut impl BufRead, headers: &[(String, String)], until_eof: bool) -> io::Result<Vec<u8>> {
    if header(headers, "transfer-encoding").is_some_and(|t| t.to_ascii_lowercase().contains("chunked")) {
        let mut body = Vec::new();
        loop {
            let mut size_line = String::new();
            if reader.read_line(&mut size_line)? == 0 {
                return Err(io::Error::new(io::ErrorKind::UnexpectedEof, "connection closed inside a chunked body"));
            }
            let size = usize::from_str_radix(size_line.trim().split(';').next().unwrap_or("").trim(), 16)
                .map_err(|_| io::Error::other(format!("bad chunk size {size_line:?}")))?;
            if size == 0 {
                // Trailers, up to the empty line.
                read_headers(reader)?;
                return Ok(body);
            }
            let start = body.len();
            body.resize(start + size, 0);
            reader.read_exact(&mut body[start..])?;
            let mut crlf = [0u8; 2];
            reader.read_exact(&mut crlf)?;
        }
    }
    if let Some(len) = header(headers, "content-length") {
        let len: usize = len.parse().map_err(|_| io::Error::other(format!("bad Content-Length {len:?}")))?;
        let mut body = vec![0u8; len];
        reader.read_exact(&mut body)?;
        return Ok(body);
    }
    let mut body = Vec::new();
    if until_eof {
        reader.read_to_end(&mut body)?;
    }
    Ok(body)
}

/// A response to send back.
pub(super) struct Upstream {
    pub(super) status: u16,
    reason: String,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

pub(super) fn canned(c: &Canned) -> Upstream {
    Upstream {
        status: c.status,
        reason: reason(c.status).into(),
        headers: vec![("Content-Type".into(), c.content_type.clone()), ("x-amzn-RequestId".into(), "fault-proxy".into())],
        body: c.body.clone().into_bytes(),
    }
}

pub(super) fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        400 => "Bad Request",
        403 => "Forbidden",
        404 => "Not Found",
        409 => "Conflict",
        429 => "Too Many Requests",
        500 => "Internal Server Error",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        504 => "Gateway Timeout",
        _ => "Status",
    }
}

/// Hop-by-hop headers and framing the proxy sets itself.
pub(super) fn is_hop(name: &str) -> bool {
    ["connection", "keep-alive", "proxy-connection", "transfer-encoding", "content-length", "expect", "te", "upgrade"]
        .iter()
        .any(|h| name.eq_ignore_ascii_case(h))
}

/// Sends the request to moto on a new connection and reads the whole answer.
pub(super) fn forward(upstream: &str, r: &ProxiedRequest) -> io::Result<Upstream> {
    let mut conn = TcpStream::connect(upstream)?;
    conn.set_read_timeout(Some(UPSTREAM))?;
    let _ = conn.set_nodelay(true);
    let mut head = format!("{} {} HTTP/1.1\r\n", r.method, r.target);
    for (k, v) in r.headers.iter().filter(|(k, _)| !is_hop(k)) {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    head.push_str(&format!("Content-Length: {}\r\nConnection: close\r\n\r\n", r.body.len()));
    conn.write_all(head.as_bytes())?;
    conn.write_all(&r.body)?;
    conn.flush()?;
    let mut reader = BufReader::new(conn);
    loop {
        let mut status_line = String::new();
        if reader.read_line(&mut status_line)? == 0 {
            return Err(io::Error::new(io::ErrorKind::UnexpectedEof, "moto closed the connection without answering"));
        }
        let mut parts = status_line.trim_end().splitn(3, ' ');
        let _version = parts.next();
        let status: u16 = parts.next().and_then(|s| s.parse().ok()).ok_or_else(|| io::Error::other(format!("bad status line {status_line:?}")))?;
        let reason = parts.next().unwrap_or("").to_string();
        let headers = read_headers(&mut reader)?;
        if (100..200).contains(&status) {
            continue; // an interim answer (100 Continue)
        }
        let no_body = r.method == "HEAD" || status == 204 || status == 304;
        let body = if no_body { Vec::new() } else { read_body(&mut reader, &headers, true)? };
        return Ok(Upstream { status, reason, headers, body });
    }
}

/// The status line and the headers that are not the proxy's own (no final empty line).
pub(super) fn status_and_headers(resp: &Upstream) -> String {
    let mut head = format!("HTTP/1.1 {} {}\r\n", resp.status, if resp.reason.is_empty() { reason(resp.status) } else { &resp.reason });
    for (k, v) in resp.headers.iter().filter(|(k, _)| !is_hop(k)) {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    head
}

/// Whether the answer to `method` with this status has no body.
pub(super) fn has_no_body(method: &str, status: u16) -> bool {
    method == "HEAD" || status == 204 || status == 304
}

pub(super) fn write_response(w: &mut TcpStream, method: &str, resp: &Upstream, close: bool) -> io::Result<()> {
    let mut head = status_and_headers(resp);
    let no_body = has_no_body(method, resp.status);
    if method == "HEAD" {
        // A HEAD answer states the length the GET would have; keep moto's.
        let len = header(&resp.headers, "content-length").unwrap_or("0");
        head.push_str(&format!("Content-Length: {len}\r\n"));
    } else if resp.status != 204 && resp.status != 304 {
        head.push_str(&format!("Content-Length: {}\r\n", resp.body.len()));
    }
    head.push_str(if close { "Connection: close\r\n\r\n" } else { "Connection: keep-alive\r\n\r\n" });
    w.write_all(head.as_bytes())?;
    if !no_body {
        w.write_all(&resp.body)?;
    }
    w.flush()
}

/// Writes `resp` cut short (see [`Fault::TruncateAfterForwarding`]); the caller closes.
pub(super) fn write_truncated(w: &mut TcpStream, method: &str, resp: &Upstream) -> io::Result<()> {
    let mut head = status_and_headers(resp);
    if has_no_body(method, resp.status) {
        // No body to cut: the head ends without its empty line.
        w.write_all(head.as_bytes())?;
        return w.flush();
    }
    let (claimed, sent) = if resp.body.is_empty() { (CLAIMED_WHEN_EMPTY, 0) } else { (resp.body.len(), resp.body.len() / 2) };
    head.push_str(&format!("Content-Length: {claimed}\r\nConnection: close\r\n\r\n"));
    w.write_all(head.as_bytes())?;
    w.write_all(&resp.body[..sent])?;
    w.flush()
}

pub(super) fn xml_escape(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

pub(super) fn url_decode(s: &str) -> String {
    strake_aws::policy::url_decode(s)
}
