//! Headless Chromium for end-to-end tests, driven through chromedriver's W3C WebDriver API:
//! JSON over plain HTTP on 127.0.0.1, so no WebDriver crate is needed.
//!
//! Debian's `chromium` and `chromium-driver` are installed on first use when missing (guarded
//! by a file lock, as the tools venv is). Screenshots are PNG artifacts under
//! `target/screenshots/` (next to `target/tmp`, `CARGO_TARGET_TMPDIR`).

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::Duration;

use base64::Engine as _;
use serde_json::{Value, json};

use super::tools::{free_port, tools_dir, wait_for};

const CHROMIUM: &str = "/usr/bin/chromium";
const CHROMEDRIVER: &str = "/usr/bin/chromedriver";
/// The W3C key of an element reference in WebDriver JSON.
const ELEMENT_KEY: &str = "element-6066-11e4-a52e-4f735466cecf";

/// Installs Debian's chromium and chromium-driver unless both are present.
fn install() {
    static INSTALLED: OnceLock<()> = OnceLock::new();
    INSTALLED.get_or_init(|| {
        let present = || [CHROMIUM, CHROMEDRIVER].iter().all(|p| std::path::Path::new(p).exists());
        if present() {
            return;
        }
        let dir = tools_dir();
        std::fs::create_dir_all(&dir).expect("create tools dir");
        let lock = std::fs::File::create(dir.join(".apt-lock")).expect("create apt lock");
        lock.lock().expect("lock apt");
        if !present() {
            let out = Command::new("sh")
                .args([
                    "-c",
                    "apt-get update -qq && apt-get install -y -qq chromium chromium-driver",
                ])
                .output()
                .expect("run apt-get");
            assert!(
                out.status.success(),
                "installing chromium failed:\n{}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
    });
}

/// Where screenshots go: `target/screenshots/`.
pub fn screenshots_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("../screenshots")
}

/// One headless Chromium session; the browser and chromedriver end on drop.
pub struct Browser {
    driver: Child,
    addr: String,
    session: String,
    _profile: tempfile::TempDir,
}

/// An element on the current page.
#[derive(Clone, Debug)]
pub struct Element(String);

impl Browser {
    /// Starts chromedriver on a free port and a headless Chromium session with a fresh profile.
    pub fn start() -> Self {
        install();
        let port = free_port();
        let driver = Command::new(CHROMEDRIVER)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start chromedriver");
        let addr = format!("127.0.0.1:{port}");
        wait_for("chromedriver to answer", Duration::from_secs(30), || {
            TcpStream::connect(&addr).ok()
        });
        let profile = tempfile::tempdir().expect("temp profile dir");
        let args = [
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--disable-dev-shm-usage",
            "--window-size=1280,1024",
        ]
        .iter()
        .map(|a| a.to_string())
        .chain([format!("--user-data-dir={}", profile.path().display())])
        .collect::<Vec<_>>();
        let capabilities = json!({"capabilities": {"alwaysMatch": {
            "browserName": "chrome",
            "goog:chromeOptions": {"binary": CHROMIUM, "args": args},
        }}});
        let (status, answer) = request(&addr, "POST", "/session", Some(&capabilities));
        assert_eq!(status, 200, "new WebDriver session: {answer}");
        let session = answer["value"]["sessionId"].as_str().expect("session id").to_owned();
        Browser { driver, addr, session, _profile: profile }
    }

    /// A WebDriver command on this session; panics on an error answer.
    fn command(&self, method: &str, path: &str, body: Option<&Value>) -> Value {
        let path = format!("/session/{}{path}", self.session);
        let (status, answer) = request(&self.addr, method, &path, body);
        assert_eq!(status, 200, "WebDriver {method} {path}: {answer}");
        answer["value"].clone()
    }

    /// Loads `url` and waits for the page to load.
    pub fn goto(&self, url: &str) {
        self.command("POST", "/url", Some(&json!({"url": url})));
    }

    /// The current URL.
    pub fn url(&self) -> String {
        self.command("GET", "/url", None).as_str().unwrap_or_default().to_owned()
    }

    /// The first element matching the CSS `selector`, if any.
    pub fn try_find(&self, selector: &str) -> Option<Element> {
        let path = format!("/session/{}/element", self.session);
        let body = json!({"using": "css selector", "value": selector});
        let (status, answer) = request(&self.addr, "POST", &path, Some(&body));
        (status == 200).then(|| {
            let id = answer["value"][ELEMENT_KEY].as_str();
            Element(id.unwrap_or_else(|| panic!("no element id in {answer}")).to_owned())
        })
    }

    /// The first element matching `selector`, waiting up to 30 s for it to appear.
    pub fn find(&self, selector: &str) -> Element {
        wait_for(&format!("an element matching {selector}"), Duration::from_secs(30), || {
            self.try_find(selector)
        })
    }

    /// Waits until the first element matching `selector` shows exactly `expected`. Tolerates a
    /// page still being replaced: a click that navigates returns before the new page is there,
    /// so an element found just after it may belong to the old page (and go stale).
    pub fn wait_for_element_text(&self, selector: &str, expected: &str) {
        wait_for(&format!("{selector} to show {expected:?}"), Duration::from_secs(30), || {
            let element = self.try_find(selector)?;
            let path = format!("/session/{}/element/{}/text", self.session, element.0);
            let (status, answer) = request(&self.addr, "GET", &path, None);
            (status == 200 && answer["value"] == expected).then_some(())
        })
    }

    /// Clicks `element`.
    pub fn click(&self, element: &Element) {
        self.command("POST", &format!("/element/{}/click", element.0), Some(&json!({})));
    }

    /// Clicks `element` and waits until the page it navigates to has loaded. A plain click
    /// returns before the navigation starts, and a `goto` right after it cancels the request
    /// (a form's POST may then never reach the server).
    pub fn click_to_navigate(&self, element: &Element) {
        self.script("window.crosstieLeaving = true;");
        self.click(element);
        let path = format!("/session/{}/execute/sync", self.session);
        let arrived = json!({"script": "return window.crosstieLeaving === undefined \
                                        && document.readyState === 'complete';", "args": []});
        wait_for("the click's navigation", Duration::from_secs(30), || {
            // An error answer (the page going away under the script) means not yet.
            let (status, answer) = request(&self.addr, "POST", &path, Some(&arrived));
            (status == 200 && answer["value"] == Value::Bool(true)).then_some(())
        });
    }

    /// Clears `element` and types `text` into it.
    pub fn type_into(&self, element: &Element, text: &str) {
        self.command("POST", &format!("/element/{}/clear", element.0), Some(&json!({})));
        self.command(
            "POST",
            &format!("/element/{}/value", element.0),
            Some(&json!({"text": text})),
        );
    }

    /// Fills the input matching `selector` with `text`.
    pub fn fill(&self, selector: &str, text: &str) {
        self.type_into(&self.find(selector), text);
    }

    /// The rendered text of `element`.
    pub fn text_of(&self, element: &Element) -> String {
        self.command("GET", &format!("/element/{}/text", element.0), None)
            .as_str()
            .unwrap_or_default()
            .to_owned()
    }

    /// The rendered text of the whole page.
    pub fn text(&self) -> String {
        self.text_of(&self.find("body"))
    }

    /// The page's current DOM as HTML.
    pub fn source(&self) -> String {
        self.command("GET", "/source", None).as_str().unwrap_or_default().to_owned()
    }

    /// Runs `script` (a function body; `return` gives the result) in the page.
    pub fn script(&self, script: &str) -> Value {
        self.command("POST", "/execute/sync", Some(&json!({"script": script, "args": []})))
    }

    /// The value of cookie `name` (HttpOnly cookies included: WebDriver sees them all).
    pub fn cookie(&self, name: &str) -> Option<String> {
        let cookies = self.command("GET", "/cookie", None);
        cookies.as_array()?.iter().find(|c| c["name"] == name)?["value"].as_str().map(Into::into)
    }

    /// Reloads the page until its text contains `needle`; returns that text.
    pub fn wait_for_text(&self, needle: &str, limit: Duration) -> String {
        wait_for(&format!("the page to show {needle:?}"), limit, || {
            let text = self.text();
            if text.contains(needle) {
                return Some(text);
            }
            std::thread::sleep(Duration::from_millis(500));
            self.command("POST", "/refresh", Some(&json!({})));
            None
        })
    }

    /// Saves a screenshot of the page as `target/screenshots/<name>.png`.
    pub fn screenshot(&self, name: &str) -> PathBuf {
        let png = self.command("GET", "/screenshot", None);
        let png = base64::engine::general_purpose::STANDARD
            .decode(png.as_str().expect("base64 screenshot"))
            .expect("decode screenshot");
        let dir = screenshots_dir();
        std::fs::create_dir_all(&dir).expect("create screenshots dir");
        let path = dir.join(format!("{name}.png"));
        std::fs::write(&path, png).expect("write screenshot");
        path
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        let path = format!("/session/{}", self.session);
        let _ = std::panic::catch_unwind(|| request(&self.addr, "DELETE", &path, None));
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}

/// One HTTP/1.1 request to chromedriver; returns the status and the JSON answer.
fn request(addr: &str, method: &str, path: &str, body: Option<&Value>) -> (u16, Value) {
    let body = body.map(Value::to_string).unwrap_or_default();
    let mut stream = TcpStream::connect(addr).expect("connect to chromedriver");
    write!(
        stream,
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .expect("send WebDriver request");
    // chromedriver keeps the connection open: read the head, then Content-Length bytes.
    let mut response = Vec::new();
    let mut chunk = [0u8; 64 * 1024];
    let head_end = loop {
        if let Some(i) = response.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
        let n = stream.read(&mut chunk).expect("read WebDriver answer");
        assert!(n > 0, "chromedriver closed the connection mid-answer");
        response.extend_from_slice(&chunk[..n]);
    };
    let head = String::from_utf8_lossy(&response[..head_end]).into_owned();
    let status = head.split(' ').nth(1).and_then(|c| c.parse().ok()).unwrap_or(0);
    let length: usize = head
        .lines()
        .find_map(|l| {
            let (name, value) = l.split_once(':')?;
            name.eq_ignore_ascii_case("content-length").then(|| value.trim().parse().ok())?
        })
        .unwrap_or(0);
    while response.len() < head_end + length {
        let n = stream.read(&mut chunk).expect("read WebDriver answer");
        assert!(n > 0, "chromedriver closed the connection mid-answer");
        response.extend_from_slice(&chunk[..n]);
    }
    let json = &response[head_end..head_end + length];
    (status, serde_json::from_slice(json).unwrap_or(Value::Null))
}
