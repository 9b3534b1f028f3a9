//! The dashboard's HTTP/1.1, by hand and pure: the bytes of a request head in,
//! a route or a refusal out; and the response heads and event lines to write.
//! No I/O here: `connection.rs` reads the socket and keeps the time limit.

use std::net::IpAddr;

use super::host::{self, Named};

/// Most bytes a request head may take (request line and headers). Browsers
/// send well under 2 KiB to a page like this; more is junk or an attack.
pub(crate) const MAX_HEAD_BYTES: usize = 8 * 1024;

/// What the dashboard serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Route {
    /// `GET /`: the page.
    Page,
    /// `GET /state.json`: one snapshot.
    State,
    /// `GET /events`: a snapshot every half second, as Server-Sent Events.
    Events,
}

/// The answers the dashboard gives.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Status {
    /// 200.
    Ok,
    /// 400: not a request this server understands, or too big.
    BadRequest,
    /// 404: no such page.
    NotFound,
    /// 405: anything but `GET` (the dashboard is read-only).
    MethodNotAllowed,
    /// 408: the request head did not arrive in time.
    RequestTimeout,
    /// 421: the `Host` header names some other server (see `host.rs`).
    Misdirected,
    /// 503: no thread could be started for the connection.
    Unavailable,
}

impl Status {
    /// The status line's code and reason phrase.
    pub(crate) fn line(self) -> &'static str {
        match self {
            Status::Ok => "200 OK",
            Status::BadRequest => "400 Bad Request",
            Status::NotFound => "404 Not Found",
            Status::MethodNotAllowed => "405 Method Not Allowed",
            Status::RequestTimeout => "408 Request Timeout",
            Status::Misdirected => "421 Misdirected Request",
            Status::Unavailable => "503 Service Unavailable",
        }
    }
}

/// What the bytes read so far amount to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Request {
    /// Fine so far, but the head has not ended: read more.
    Incomplete,
    /// A good request for this route.
    Route(Route),
    /// Answer with this status and close.
    Refuse(Status),
}

/// Judges the bytes of a request read so far, on a connection that arrived
/// at `arrived_at`. A request line that is wrong is refused as soon as it is
/// complete, without waiting for the headers; a head that has not ended
/// within [`MAX_HEAD_BYTES`] is refused too. Of the headers, only `Host` is
/// acted on, once the head is complete: it must name this server (`421`
/// otherwise, see [`host::judge`]), and HTTP/1.1 requires exactly one (`400`
/// otherwise; HTTP/1.0 may leave it out). The others are checked for form,
/// then ignored, and a body (which no `GET` has) is never read.
pub(crate) fn parse(bytes: &[u8], arrived_at: IpAddr) -> Request {
    let Some(first_end) = bytes.iter().position(|&b| b == b'\n') else {
        return more_or_refuse(bytes.len());
    };
    let (route, needs_host) = match request_line(trim_cr(&bytes[..first_end])) {
        Ok(line) => line,
        Err(status) => return Request::Refuse(status),
    };
    let mut hosts: Vec<&[u8]> = Vec::new();
    let mut rest = &bytes[first_end + 1..];
    loop {
        let Some(end) = rest.iter().position(|&b| b == b'\n') else {
            return more_or_refuse(bytes.len());
        };
        let line = trim_cr(&rest[..end]);
        if line.is_empty() {
            // The blank line: the head is complete.
            if bytes.len() - rest.len() + end + 1 > MAX_HEAD_BYTES {
                return Request::Refuse(Status::BadRequest);
            }
            return match (hosts.as_slice(), needs_host) {
                ([], false) => Request::Route(route),
                ([value], _) => match std::str::from_utf8(value) {
                    Ok(value) => match host::judge(value, arrived_at) {
                        Named::ThisServer => Request::Route(route),
                        Named::Elsewhere => Request::Refuse(Status::Misdirected),
                        Named::Malformed => Request::Refuse(Status::BadRequest),
                    },
                    Err(_) => Request::Refuse(Status::BadRequest),
                },
                _ => Request::Refuse(Status::BadRequest),
            };
        }
        let Some(value) = header(line) else {
            return Request::Refuse(Status::BadRequest);
        };
        if let Some(value) = value.host {
            hosts.push(value);
        }
        rest = &rest[end + 1..];
    }
}

fn more_or_refuse(read: usize) -> Request {
    if read >= MAX_HEAD_BYTES {
        Request::Refuse(Status::BadRequest)
    } else {
        Request::Incomplete
    }
}

fn trim_cr(line: &[u8]) -> &[u8] {
    line.strip_suffix(b"\r").unwrap_or(line)
}

/// `METHOD TARGET HTTP/1.x`: the route and whether the version requires a
/// `Host` header (1.1 does), or why not. A wrong method is only 405 if the
/// rest of the line is a real request; junk is 400.
fn request_line(line: &[u8]) -> Result<(Route, bool), Status> {
    let line = std::str::from_utf8(line).map_err(|_| Status::BadRequest)?;
    let mut parts = line.split(' ');
    let (Some(method), Some(target), Some(version), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(Status::BadRequest);
    };
    let is_method = !method.is_empty() && method.bytes().all(|b| b.is_ascii_uppercase());
    let is_target = target.starts_with('/') && target.bytes().all(|b| b.is_ascii_graphic());
    if !is_method || !is_target || !matches!(version, "HTTP/1.0" | "HTTP/1.1") {
        return Err(Status::BadRequest);
    }
    if method != "GET" {
        return Err(Status::MethodNotAllowed);
    }
    // The query string and fragment do not choose the page.
    let path = target.split(['?', '#']).next().unwrap_or(target);
    let route = match path {
        "/" | "/index.html" => Route::Page,
        "/state.json" => Route::State,
        "/events" => Route::Events,
        _ => return Err(Status::NotFound),
    };
    Ok((route, version == "HTTP/1.1"))
}

/// A well-formed header line, as far as [`parse`] cares about it.
#[derive(Debug)]
struct Header<'a> {
    /// The value, if this is the `Host` header.
    host: Option<&'a [u8]>,
}

/// `Name: value`, with a name made of token characters and a value without
/// control characters (a tab is allowed); `None` if the line is not one.
fn header(line: &[u8]) -> Option<Header<'_>> {
    let colon = line.iter().position(|&b| b == b':')?;
    let (name, value) = (&line[..colon], &line[colon + 1..]);
    let token = |b: &u8| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(b);
    let good = !name.is_empty()
        && name.iter().all(token)
        && value
            .iter()
            .all(|&b| b == b'\t' || (b >= 0x20 && b != 0x7f));
    good.then(|| Header {
        host: name.eq_ignore_ascii_case(b"host").then_some(value),
    })
}

/// The headers every answer carries: one request per connection (no
/// keep-alive to manage), and nothing cached, since every answer is live.
const COMMON: &str = "Connection: close\r\nCache-Control: no-store\r\n\
                      X-Content-Type-Options: nosniff\r\n";

/// The page may run its own inline script and style and talk to this server,
/// and nothing else: a promise that it loads nothing from the internet.
const PAGE_POLICY: &str = "Content-Security-Policy: default-src 'none'; \
                           script-src 'unsafe-inline'; style-src 'unsafe-inline'; \
                           connect-src 'self'\r\n";

/// A whole response: status, headers and `body`.
pub(crate) fn response(status: Status, content_type: &str, body: &[u8]) -> Vec<u8> {
    let policy = if content_type.starts_with("text/html") {
        PAGE_POLICY
    } else {
        ""
    };
    let mut out = format!(
        "HTTP/1.1 {}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\n{COMMON}{policy}\r\n",
        status.line(),
        body.len()
    )
    .into_bytes();
    out.extend_from_slice(body);
    out
}

/// A refusal: the status, with itself as a one-line text body (and, for 405,
/// the one method there is; for 421, how to reach the page instead).
pub(crate) fn refusal(status: Status) -> Vec<u8> {
    let body = match status {
        Status::Misdirected => format!(
            "{}\nThis dashboard answers to localhost or to this machine's IP address, \
             not to a name.\n",
            status.line()
        ),
        _ => format!("{}\n", status.line()),
    };
    let mut out = response(status, "text/plain; charset=utf-8", body.as_bytes());
    if status == Status::MethodNotAllowed {
        // `Allow` goes with the other headers, before the blank line.
        let head_end = out.len() - body.len() - 2;
        out.splice(head_end..head_end, b"Allow: GET\r\n".iter().copied());
    }
    out
}

/// The head of an event stream: no length, the body runs until the
/// connection closes.
pub(crate) fn event_stream_head() -> Vec<u8> {
    format!("HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n{COMMON}\r\n").into_bytes()
}

/// One Server-Sent Event carrying `text`: a `data:` line per line of text
/// (the browser joins them with newlines again), then a blank line.
pub(crate) fn event(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 8);
    for line in text.split('\n') {
        out.push_str("data: ");
        out.push_str(line);
        out.push('\n');
    }
    out.push('\n');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const HERE: IpAddr = IpAddr::V4(std::net::Ipv4Addr::LOCALHOST);

    fn parse(bytes: &[u8]) -> Request {
        super::parse(bytes, HERE)
    }

    fn get(target: &str) -> Request {
        parse(
            format!("GET {target} HTTP/1.1\r\nHost: localhost:8080\r\nAccept: */*\r\n\r\n")
                .as_bytes(),
        )
    }

    #[test]
    fn routes() {
        assert_eq!(get("/"), Request::Route(Route::Page));
        assert_eq!(get("/index.html"), Request::Route(Route::Page));
        assert_eq!(get("/state.json"), Request::Route(Route::State));
        assert_eq!(get("/state.json?t=1"), Request::Route(Route::State));
        assert_eq!(get("/events"), Request::Route(Route::Events));
        assert_eq!(get("/favicon.ico"), Request::Refuse(Status::NotFound));
        assert_eq!(get("/events/"), Request::Refuse(Status::NotFound));
        // Bare newlines are accepted as line ends, and HTTP/1.0 too, which
        // may leave out the `Host` header.
        assert_eq!(
            parse(b"GET /events HTTP/1.0\n\n"),
            Request::Route(Route::Events)
        );
    }

    #[test]
    fn the_host_must_name_this_server() {
        let with_host = |host: &str| {
            parse(
                format!("GET /state.json HTTP/1.1\r\nAccept: */*\r\nhost: {host}\r\n\r\n")
                    .as_bytes(),
            )
        };
        assert_eq!(with_host("127.0.0.1:8080"), Request::Route(Route::State));
        assert_eq!(with_host("[::1]:8080"), Request::Route(Route::State));
        assert_eq!(
            with_host("evil.example:8080"),
            Request::Refuse(Status::Misdirected)
        );
        assert_eq!(with_host(""), Request::Refuse(Status::BadRequest));
        // HTTP/1.1 requires exactly one.
        assert_eq!(
            parse(b"GET / HTTP/1.1\r\nAccept: */*\r\n\r\n"),
            Request::Refuse(Status::BadRequest)
        );
        assert_eq!(
            parse(b"GET / HTTP/1.1\r\nHost: localhost\r\nHost: evil.example\r\n\r\n"),
            Request::Refuse(Status::BadRequest)
        );
        // HTTP/1.0 may leave it out, but one it sends is judged.
        assert_eq!(
            parse(b"GET / HTTP/1.0\r\nHost: evil.example\r\n\r\n"),
            Request::Refuse(Status::Misdirected)
        );
        // The address the connection arrived at counts as this server.
        let lan: IpAddr = "192.168.1.20".parse().unwrap();
        let request = b"GET / HTTP/1.1\r\nHost: 192.168.1.20:8080\r\n\r\n";
        assert_eq!(super::parse(request, lan), Request::Route(Route::Page));
        assert_eq!(
            parse(request),
            Request::Refuse(Status::Misdirected),
            "not the address it arrived at"
        );
        // Judged only once the head is complete.
        assert_eq!(
            parse(b"GET / HTTP/1.1\r\nHost: evil.example\r\n"),
            Request::Incomplete
        );
    }

    #[test]
    fn waits_for_the_whole_head() {
        assert_eq!(parse(b""), Request::Incomplete);
        assert_eq!(parse(b"GET / HT"), Request::Incomplete);
        assert_eq!(parse(b"GET / HTTP/1.1\r\n"), Request::Incomplete);
        assert_eq!(parse(b"GET / HTTP/1.1\r\nHost: x\r\n"), Request::Incomplete);
        assert_eq!(
            parse(b"GET / HTTP/1.1\r\nHost: x\r\n\r"),
            Request::Incomplete
        );
    }

    #[test]
    fn refuses_junk_at_once() {
        for junk in [
            &b"hello\n"[..],
            b"GET /\r\n",
            b"GET / HTTP/2.0\r\n",
            b"get / HTTP/1.1\r\n",
            b"GET http://example.com/ HTTP/1.1\r\n",
            b"GET / HTTP/1.1 extra\r\n",
            b"GET  / HTTP/1.1\r\n",
            b"\xff\xfe / HTTP/1.1\r\n",
            b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03\n",
            b"GET / HTTP/1.1\r\nno colon here\r\n",
            b"GET / HTTP/1.1\r\n: empty name\r\n",
            b"GET / HTTP/1.1\r\nBad Name: x\r\n",
            b"GET / HTTP/1.1\r\nX: a\x01b\r\n",
        ] {
            assert_eq!(
                parse(junk),
                Request::Refuse(Status::BadRequest),
                "{:?}",
                String::from_utf8_lossy(junk)
            );
        }
    }

    #[test]
    fn only_get() {
        for method in ["POST", "PUT", "DELETE", "HEAD", "OPTIONS"] {
            assert_eq!(
                parse(format!("{method} / HTTP/1.1\r\n").as_bytes()),
                Request::Refuse(Status::MethodNotAllowed),
                "{method}"
            );
        }
    }

    #[test]
    fn size_limit() {
        let line = "GET / HTTP/1.1\r\nHost: localhost\r\n";
        let header = "X-Filler: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n";
        let mut head = line.to_string();
        while head.len() + header.len() + 2 <= MAX_HEAD_BYTES {
            head.push_str(header);
        }
        let fits = format!("{head}\r\n");
        assert!(fits.len() <= MAX_HEAD_BYTES);
        assert_eq!(parse(fits.as_bytes()), Request::Route(Route::Page));
        let too_big = format!("{head}{header}\r\n");
        assert!(too_big.len() > MAX_HEAD_BYTES);
        assert_eq!(
            parse(too_big.as_bytes()),
            Request::Refuse(Status::BadRequest)
        );
        // A head that never ends is refused once the limit is reached.
        let endless = format!("{line}X: {}", "a".repeat(MAX_HEAD_BYTES));
        assert_eq!(
            parse(&endless.as_bytes()[..MAX_HEAD_BYTES - 1]),
            Request::Incomplete
        );
        assert_eq!(
            parse(&endless.as_bytes()[..MAX_HEAD_BYTES]),
            Request::Refuse(Status::BadRequest)
        );
        let endless_line = "A".repeat(MAX_HEAD_BYTES);
        assert_eq!(
            parse(endless_line.as_bytes()),
            Request::Refuse(Status::BadRequest)
        );
    }

    #[test]
    fn responses_are_well_formed() {
        let ok = String::from_utf8(response(Status::Ok, "application/json", b"{}")).unwrap();
        assert!(ok.starts_with("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"));
        assert!(ok.contains("\r\nContent-Length: 2\r\n"));
        assert!(ok.contains("\r\nConnection: close\r\n"));
        assert!(ok.ends_with("\r\n\r\n{}"));
        assert!(!ok.contains("Content-Security-Policy"));
        let page =
            String::from_utf8(response(Status::Ok, "text/html; charset=utf-8", b"x")).unwrap();
        assert!(page.contains("Content-Security-Policy: default-src 'none';"));

        let refused = String::from_utf8(refusal(Status::MethodNotAllowed)).unwrap();
        let (head, body) = refused.split_once("\r\n\r\n").expect("a blank line");
        assert!(head.starts_with("HTTP/1.1 405 Method Not Allowed\r\n"));
        assert!(head.ends_with("\r\nAllow: GET"));
        assert_eq!(body, "405 Method Not Allowed\n");
        assert!(head.contains(&format!("Content-Length: {}", body.len())));

        let misdirected = String::from_utf8(refusal(Status::Misdirected)).unwrap();
        let (head, body) = misdirected.split_once("\r\n\r\n").expect("a blank line");
        assert!(head.starts_with("HTTP/1.1 421 Misdirected Request\r\n"));
        assert!(body.starts_with("421 Misdirected Request\nThis dashboard answers to localhost"));
        assert!(head.contains(&format!("Content-Length: {}", body.len())));

        let stream = String::from_utf8(event_stream_head()).unwrap();
        assert!(stream.contains("Content-Type: text/event-stream\r\n"));
        assert!(!stream.contains("Content-Length"));
        assert!(stream.ends_with("\r\n\r\n"));
    }

    #[test]
    fn events_keep_each_line_in_a_data_field() {
        assert_eq!(event("{\"a\":1}"), "data: {\"a\":1}\n\n");
        assert_eq!(event("a\nb"), "data: a\ndata: b\n\n");
    }
}
