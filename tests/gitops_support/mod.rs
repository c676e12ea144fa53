//! Git fixtures for the gitops tests: repositories made with the `git` CLI in temp dirs, and a
//! smart-HTTP server (`git http-backend` behind a tiny CGI bridge) on 127.0.0.1 with basic auth
//! that records every request, so tests can count remote operations.
#![allow(dead_code)]

pub mod fake_api;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use base64::Engine;

/// Run `git` in `dir`, panicking with its output on failure; returns trimmed stdout.
pub fn git(dir: &Path, args: &[&str]) -> String {
    let out = Command::new("git")
        .current_dir(dir)
        .args([
            "-c",
            "user.name=Test",
            "-c",
            "user.email=test@example.com",
            "-c",
            "init.defaultBranch=main",
        ])
        .args(args)
        .output()
        .expect("run git");
    assert!(out.status.success(), "git {args:?} failed: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

/// A working repository pushed to a bare "server" repository, both in one temp dir.
pub struct Repo {
    pub tmp: tempfile::TempDir,
    pub work: PathBuf,
    pub bare: PathBuf,
}

impl Repo {
    /// An empty working repository on branch `main` with a bare remote `origin`.
    pub fn new() -> Self {
        let tmp = tempfile::tempdir().unwrap();
        let work = tmp.path().join("work");
        let bare = tmp.path().join("srv").join("repo.git");
        std::fs::create_dir_all(&work).unwrap();
        std::fs::create_dir_all(&bare).unwrap();
        git(&bare, &["init", "--bare", "-b", "main"]);
        git(&work, &["init", "-b", "main"]);
        git(&work, &["remote", "add", "origin", bare.to_str().unwrap()]);
        Repo { tmp, work, bare }
    }

    /// Write files (path, contents), commit them and push `main`; returns the commit SHA.
    pub fn commit(&self, files: &[(&str, &str)], message: &str) -> String {
        for (path, contents) in files {
            let p = self.work.join(path);
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(p, contents).unwrap();
        }
        git(&self.work, &["add", "-A"]);
        git(&self.work, &["commit", "--allow-empty", "-m", message]);
        git(&self.work, &["push", "-q", "origin", "HEAD:main"]);
        git(&self.work, &["rev-parse", "HEAD"])
    }

    /// Tag HEAD (annotated) and push the tag.
    pub fn tag(&self, tag: &str) {
        git(&self.work, &["tag", "-a", tag, "-m", tag]);
        git(&self.work, &["push", "-q", "origin", tag]);
    }

    /// `file://` URL of the bare repository.
    pub fn file_url(&self) -> String {
        format!("file://{}", self.bare.display())
    }
}

/// A smart-HTTP git server serving the parent dir of a bare repo, requiring basic auth.
pub struct HttpServer {
    /// `http://127.0.0.1:PORT/repo.git`
    pub url: String,
    /// `METHOD PATH?QUERY` of every request, in order.
    pub requests: Arc<Mutex<Vec<String>>>,
}

impl HttpServer {
    /// Serve `bare`'s parent directory; requests must carry `username:password`.
    pub fn start(bare: &Path, username: &str, password: &str) -> Self {
        Self::start_with(bare, username, password, None)
    }

    /// Like [`HttpServer::start`], over HTTPS with `tls` (`https://127.0.0.1:PORT/…`).
    pub fn start_tls(
        bare: &Path,
        username: &str,
        password: &str,
        tls: Arc<rustls::ServerConfig>,
    ) -> Self {
        Self::start_with(bare, username, password, Some(tls))
    }

    fn start_with(
        bare: &Path,
        username: &str,
        password: &str,
        tls: Option<Arc<rustls::ServerConfig>>,
    ) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let root = bare.parent().unwrap().to_owned();
        let name = bare.file_name().unwrap().to_str().unwrap().to_owned();
        let requests = Arc::new(Mutex::new(Vec::new()));
        let expected = format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(format!("{username}:{password}"))
        );
        let log = requests.clone();
        let scheme = if tls.is_some() { "https" } else { "http" };
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let (root, expected, log, tls) =
                    (root.clone(), expected.clone(), log.clone(), tls.clone());
                std::thread::spawn(move || match tls {
                    Some(config) => {
                        let connection = rustls::ServerConnection::new(config).unwrap();
                        serve(rustls::StreamOwned::new(connection, stream), &root, &expected, &log)
                    }
                    None => serve(stream, &root, &expected, &log),
                });
            }
        });
        HttpServer { url: format!("{scheme}://127.0.0.1:{port}/{name}"), requests }
    }

    /// Take and clear the request log.
    pub fn take_requests(&self) -> Vec<String> {
        std::mem::take(&mut *self.requests.lock().unwrap())
    }
}

/// A TCP server that accepts connections and never answers, counting those the client has not
/// closed yet: a Git remote that hangs.
pub struct SilentServer {
    /// `http://127.0.0.1:PORT/repo.git`
    pub url: String,
    open: Arc<AtomicUsize>,
    most_open: Arc<AtomicUsize>,
}

impl SilentServer {
    pub fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}/repo.git", listener.local_addr().unwrap());
        let (open, most_open) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
        let (counter, most) = (open.clone(), most_open.clone());
        std::thread::spawn(move || {
            for mut stream in listener.incoming().flatten() {
                let now = counter.fetch_add(1, Ordering::SeqCst) + 1;
                most.fetch_max(now, Ordering::SeqCst);
                let counter = counter.clone();
                std::thread::spawn(move || {
                    // Read and ignore until the client hangs up; give up after a while, so a
                    // client that never does fails its test instead of hanging it.
                    let _ = stream.set_read_timeout(Some(Duration::from_secs(15)));
                    let _ = std::io::copy(&mut stream, &mut std::io::sink());
                    counter.fetch_sub(1, Ordering::SeqCst);
                });
            }
        });
        SilentServer { url, open, most_open }
    }

    /// Connections accepted and not closed by the client.
    pub fn open(&self) -> usize {
        self.open.load(Ordering::SeqCst)
    }

    /// The most connections open at once so far.
    pub fn most_open(&self) -> usize {
        self.most_open.load(Ordering::SeqCst)
    }

    /// Wait (without blocking the runtime) up to `within` for every connection to be closed.
    pub async fn all_closed_within(&self, within: Duration) -> bool {
        let deadline = std::time::Instant::now() + within;
        while self.open() > 0 && std::time::Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        self.open() == 0
    }
}

fn serve(stream: impl Read + Write, root: &Path, expected_auth: &str, log: &Mutex<Vec<String>>) {
    let mut reader = BufReader::new(stream);
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).unwrap_or(0) == 0 {
            return;
        }
        let mut parts = line.split_whitespace();
        let (method, target) =
            (parts.next().unwrap_or("").to_owned(), parts.next().unwrap_or("").to_owned());
        let mut headers = Vec::new();
        loop {
            let mut h = String::new();
            reader.read_line(&mut h).unwrap();
            let h = h.trim_end().to_owned();
            if h.is_empty() {
                break;
            }
            if let Some((k, v)) = h.split_once(':') {
                headers.push((k.trim().to_ascii_lowercase(), v.trim().to_owned()));
            }
        }
        let header = |k: &str| headers.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());
        let body = read_body(&mut reader, header("content-length"), header("transfer-encoding"));
        log.lock().unwrap().push(format!("{method} {target}"));

        if header("authorization").as_deref() != Some(expected_auth) {
            let _ = reader.get_mut().write_all(
                b"HTTP/1.1 401 Unauthorized\r\nWWW-Authenticate: Basic realm=\"git\"\r\nContent-Length: 0\r\n\r\n",
            );
            continue;
        }
        let (path, query) = target.split_once('?').unwrap_or((&target, ""));
        let mut child = Command::new("git")
            .arg("http-backend")
            .env("GIT_PROJECT_ROOT", root)
            .env("GIT_HTTP_EXPORT_ALL", "1")
            .env("PATH_INFO", path)
            .env("QUERY_STRING", query)
            .env("REQUEST_METHOD", &method)
            .env("CONTENT_TYPE", header("content-type").unwrap_or_default())
            .env("CONTENT_LENGTH", body.len().to_string())
            .env("REMOTE_USER", "test")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        child.stdin.take().unwrap().write_all(&body).unwrap();
        let out = child.wait_with_output().unwrap().stdout;
        let split = out
            .windows(4)
            .position(|w| w == b"\r\n\r\n")
            .map(|i| (i, 4))
            .or_else(|| out.windows(2).position(|w| w == b"\n\n").map(|i| (i, 2)))
            .unwrap();
        let cgi_headers = String::from_utf8_lossy(&out[..split.0]).to_string();
        let cgi_body = &out[split.0 + split.1..];
        let mut status = "200 OK".to_owned();
        let mut response = String::new();
        for h in cgi_headers.lines() {
            match h.split_once(':') {
                Some((k, v)) if k.eq_ignore_ascii_case("status") => status = v.trim().to_owned(),
                Some(_) => response.push_str(&format!("{h}\r\n")),
                None => {}
            }
        }
        let head =
            format!("HTTP/1.1 {status}\r\n{response}Content-Length: {}\r\n\r\n", cgi_body.len());
        let writer = reader.get_mut();
        if writer
            .write_all(head.as_bytes())
            .and_then(|_| writer.write_all(cgi_body))
            .and_then(|_| writer.flush())
            .is_err()
        {
            return;
        }
    }
}

fn read_body(
    reader: &mut impl BufRead,
    length: Option<String>,
    encoding: Option<String>,
) -> Vec<u8> {
    let mut body = Vec::new();
    if encoding.is_some_and(|e| e.eq_ignore_ascii_case("chunked")) {
        loop {
            let mut size = String::new();
            reader.read_line(&mut size).unwrap();
            let n = usize::from_str_radix(size.trim(), 16).unwrap_or(0);
            let mut chunk = vec![0; n + 2];
            reader.read_exact(&mut chunk).unwrap();
            if n == 0 {
                return body;
            }
            body.extend_from_slice(&chunk[..n]);
        }
    }
    if let Some(n) = length.and_then(|l| l.parse::<usize>().ok()) {
        body.resize(n, 0);
        reader.read_exact(&mut body).unwrap();
    }
    body
}

/// A CA and a server configuration for `127.0.0.1` signed by it: `(ca_pem, config)`.
pub fn test_tls() -> (String, Arc<rustls::ServerConfig>) {
    use rcgen::{BasicConstraints, CertificateParams, IsCa, Issuer, KeyPair};
    let ca_key = KeyPair::generate().unwrap();
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let ca_cert = ca_params.self_signed(&ca_key).unwrap();
    let issuer = Issuer::new(ca_params, ca_key);
    let server_key = KeyPair::generate().unwrap();
    let server_cert = CertificateParams::new(vec!["127.0.0.1".to_owned()])
        .unwrap()
        .signed_by(&server_key, &issuer)
        .unwrap();
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let key = rustls::pki_types::PrivateKeyDer::try_from(server_key.serialize_der()).unwrap();
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(vec![server_cert.der().clone()], key)
        .unwrap();
    (ca_cert.pem(), Arc::new(config))
}
