//! A loopback relay between libgit2 and an HTTP(S) remote, so that a timed-out Git operation
//! really stops.
//!
//! libgit2 blocks in `recv` on a server that accepts and never answers; its callbacks are not
//! called while it waits, and its socket timeouts are process-wide globals set through `unsafe`
//! (forbidden here). So the relay owns the real connections on tokio instead: dropping it at
//! `spec.timeout` closes both ends, libgit2 reads EOF and its blocking thread returns.
//!
//! - `https://`: the relay is libgit2's proxy and tunnels `CONNECT`, so TLS and the certificate
//!   checks stay end to end with the real host;
//! - `http://`: libgit2 sends plain-http proxy requests straight to the server, so the URL itself
//!   points at the relay, which forwards each request with the remote's own `Host`.

use std::io;
use std::sync::{Arc, Mutex};

use tokio::io::{
    AsyncBufRead, AsyncBufReadExt, AsyncReadExt, AsyncWrite, AsyncWriteExt, BufReader,
};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::{JoinHandle, JoinSet};

/// Request heads are small; a longer one is not libgit2 talking.
const MAX_HEAD: usize = 64 * 1024;

/// How libgit2 reaches the remote through the relay.
#[derive(Clone, Debug, PartialEq)]
pub struct Via {
    /// The URL to give libgit2.
    pub url: String,
    /// The proxy to give libgit2, if any.
    pub proxy: Option<String>,
}

/// The remote of an `http://` URL, which the relay dials itself.
#[derive(Clone, Debug)]
struct Upstream {
    /// `host:port` to connect to.
    address: String,
    /// The `Host` header libgit2 would have sent.
    host: String,
}

/// A running relay; dropping it closes every connection it carries.
#[derive(Debug)]
pub struct Relay {
    via: Via,
    failure: Arc<Mutex<Option<String>>>,
    task: JoinHandle<()>,
}

impl Relay {
    /// Start a relay for `url`; `None` for URLs libgit2 reaches without sockets (`file://`,
    /// paths) or that cannot be parsed (libgit2 reports those).
    pub async fn start(url: &str) -> Option<Relay> {
        let uri: http::Uri = url.parse().ok()?;
        let authority = uri.authority()?.as_str();
        let (userinfo, host) = match authority.rsplit_once('@') {
            Some((userinfo, host)) => (format!("{userinfo}@"), host),
            None => (String::new(), authority),
        };
        let listener = TcpListener::bind("127.0.0.1:0").await.ok()?;
        let local = listener.local_addr().ok()?;
        let (via, upstream) = match uri.scheme_str()? {
            "https" => (Via { url: url.to_owned(), proxy: Some(format!("http://{local}")) }, None),
            "http" => {
                let path = uri.path_and_query().map_or("/", |p| p.as_str());
                let port = uri.port_u16().unwrap_or(80);
                let address = format!("{}:{port}", uri.host()?);
                let via = Via { url: format!("http://{userinfo}{local}{path}"), proxy: None };
                (via, Some(Upstream { address, host: host.to_owned() }))
            }
            _ => return None,
        };
        let failure = Arc::new(Mutex::new(None));
        let task = tokio::spawn(serve(listener, upstream, failure.clone()));
        Some(Relay { via, failure, task })
    }

    /// How libgit2 should reach the remote.
    pub fn via(&self) -> &Via {
        &self.via
    }

    /// Why the relay could not reach the remote, if it could not: libgit2 only sees the
    /// connection to the relay close.
    pub fn failure(&self) -> Option<String> {
        self.failure.lock().expect("relay failure lock").clone()
    }
}

impl Drop for Relay {
    fn drop(&mut self) {
        // The connection tasks live in the serving task's JoinSet: they are aborted with it.
        self.task.abort();
    }
}

async fn serve(
    listener: TcpListener,
    upstream: Option<Upstream>,
    failure: Arc<Mutex<Option<String>>>,
) {
    let mut connections = JoinSet::new();
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                let Ok((client, _)) = accepted else { return };
                let (upstream, failure) = (upstream.clone(), failure.clone());
                connections.spawn(async move {
                    if let Err(e) = relay(client, upstream, &failure).await {
                        tracing::debug!(error = %e, "git relay connection ended");
                    }
                });
            }
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
        }
    }
}

async fn relay(
    client: TcpStream,
    upstream: Option<Upstream>,
    failure: &Mutex<Option<String>>,
) -> io::Result<()> {
    let (client_read, mut client_write) = client.into_split();
    let mut client_read = BufReader::new(client_read);
    let Some(head) = read_head(&mut client_read).await? else { return Ok(()) };
    let tunnel = head.strip_prefix(b"CONNECT ").and_then(|rest| {
        let end = rest.iter().position(|b| *b == b' ')?;
        String::from_utf8(rest[..end].to_vec()).ok()
    });
    let address = match (&tunnel, &upstream) {
        (Some(target), _) => target.clone(),
        (None, Some(upstream)) => upstream.address.clone(),
        (None, None) => return Ok(()),
    };
    let server = match TcpStream::connect(&address).await {
        Ok(server) => server,
        Err(e) => {
            *failure.lock().expect("relay failure lock") =
                Some(format!("cannot connect to {address}: {e}"));
            return client_write.write_all(b"HTTP/1.1 502 Bad Gateway\r\n\r\n").await;
        }
    };
    let (mut server_read, mut server_write) = server.into_split();
    if tunnel.is_some() {
        client_write.write_all(b"HTTP/1.1 200 Connection established\r\n\r\n").await?;
    }
    // Responses pass through untouched; plain-http requests are re-framed to rewrite `Host`.
    let responses = async {
        tokio::io::copy(&mut server_read, &mut client_write).await?;
        client_write.shutdown().await
    };
    let requests = async {
        match (&tunnel, &upstream) {
            (None, Some(upstream)) => {
                forward_requests(&mut client_read, &mut server_write, &upstream.host, head).await?
            }
            _ => {
                tokio::io::copy(&mut client_read, &mut server_write).await?;
            }
        }
        server_write.shutdown().await
    };
    tokio::try_join!(responses, requests).map(|_| ())
}

/// Forward requests (head, then the body as framed by `Content-Length` or chunks), each with
/// `Host: host`, starting with the already read `first` head.
async fn forward_requests(
    client: &mut (impl AsyncBufRead + Unpin),
    server: &mut (impl AsyncWrite + Unpin),
    host: &str,
    first: Vec<u8>,
) -> io::Result<()> {
    let mut next = Some(first);
    while let Some(head) = next.take() {
        let (mut length, mut chunked) = (0u64, false);
        let mut out = Vec::with_capacity(head.len());
        for line in head.split_inclusive(|b| *b == b'\n') {
            let text = String::from_utf8_lossy(line);
            let Some((name, value)) = text.split_once(':') else {
                out.extend_from_slice(line);
                continue;
            };
            let (name, value) = (name.trim(), value.trim());
            if name.eq_ignore_ascii_case("host") {
                out.extend_from_slice(format!("Host: {host}\r\n").as_bytes());
                continue;
            }
            if name.eq_ignore_ascii_case("content-length") {
                length = value.parse().map_err(|_| invalid("bad Content-Length"))?;
            }
            if name.eq_ignore_ascii_case("transfer-encoding") {
                chunked = value.to_ascii_lowercase().contains("chunked");
            }
            out.extend_from_slice(line);
        }
        server.write_all(&out).await?;
        if chunked {
            forward_chunks(client, server).await?;
        } else {
            let copied = tokio::io::copy(&mut (&mut *client).take(length), server).await?;
            if copied < length {
                return Err(io::ErrorKind::UnexpectedEof.into());
            }
        }
        next = read_head(client).await?;
    }
    Ok(())
}

async fn forward_chunks(
    client: &mut (impl AsyncBufRead + Unpin),
    server: &mut (impl AsyncWrite + Unpin),
) -> io::Result<()> {
    loop {
        let line = read_line(client).await?;
        server.write_all(&line).await?;
        let size = String::from_utf8_lossy(&line);
        let size = size.split(';').next().unwrap_or_default().trim();
        let size = u64::from_str_radix(size, 16).map_err(|_| invalid("bad chunk size"))?;
        if size == 0 {
            // Trailers, up to the empty line.
            loop {
                let line = read_line(client).await?;
                server.write_all(&line).await?;
                if line == b"\r\n" || line == b"\n" {
                    return Ok(());
                }
            }
        }
        let data = size + 2;
        if tokio::io::copy(&mut (&mut *client).take(data), server).await? < data {
            return Err(io::ErrorKind::UnexpectedEof.into());
        }
    }
}

/// A request head up to and including its empty line; `None` at a clean end of stream.
async fn read_head(client: &mut (impl AsyncBufRead + Unpin)) -> io::Result<Option<Vec<u8>>> {
    let mut head = Vec::new();
    loop {
        let start = head.len();
        if client.read_until(b'\n', &mut head).await? == 0 {
            return if head.is_empty() {
                Ok(None)
            } else {
                Err(io::ErrorKind::UnexpectedEof.into())
            };
        }
        if head.len() > MAX_HEAD {
            return Err(invalid("request head too long"));
        }
        if matches!(&head[start..], b"\r\n" | b"\n") {
            return Ok(Some(head));
        }
    }
}

async fn read_line(client: &mut (impl AsyncBufRead + Unpin)) -> io::Result<Vec<u8>> {
    let mut line = Vec::new();
    if client.read_until(b'\n', &mut line).await? == 0 {
        return Err(io::ErrorKind::UnexpectedEof.into());
    }
    Ok(line)
}

fn invalid(message: &str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, message.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn requests_are_reframed_with_the_remotes_host_and_bodies_kept_whole() {
        let sent = b"POST /repo.git/git-upload-pack HTTP/1.1\r\nHost: 127.0.0.1:1\r\n\
            Transfer-Encoding: chunked\r\n\r\n4\r\nwant\r\n0\r\n\r\n\
            GET /repo.git/info/refs HTTP/1.1\r\nHost: 127.0.0.1:1\r\nContent-Length: 2\r\n\r\nok";
        let mut client = BufReader::new(&sent[..]);
        let first = read_head(&mut client).await.unwrap().unwrap();
        let mut server = Vec::new();
        forward_requests(&mut client, &mut server, "git.example.com:8080", first).await.unwrap();
        let forwarded = String::from_utf8(server).unwrap();
        let expected = String::from_utf8(sent.to_vec())
            .unwrap()
            .replace("Host: 127.0.0.1:1", "Host: git.example.com:8080");
        assert_eq!(forwarded, expected);
    }

    #[tokio::test]
    async fn file_urls_need_no_relay_and_http_urls_point_at_it_with_their_credentials() {
        assert!(Relay::start("file:///srv/repo.git").await.is_none());
        let relay = Relay::start("http://flux:pw@git.example.com/org/repo.git").await.unwrap();
        let url = &relay.via().url;
        assert!(url.starts_with("http://flux:pw@127.0.0.1:") && url.ends_with("/org/repo.git"));
        let tls = Relay::start("https://git.example.com/org/repo.git").await.unwrap();
        assert_eq!(tls.via().url, "https://git.example.com/org/repo.git");
        assert!(tls.via().proxy.as_deref().unwrap().starts_with("http://127.0.0.1:"));
    }
}
