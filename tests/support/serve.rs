//! `crosstie serve` (or `crosstie up`: the server plus every controller) as a child process for
//! end-to-end tests: a temp data dir, port 0, the kubeconfig it writes, kubectl runs against it,
//! and a kill on drop.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::Duration;

use super::tools::{kubectl, wait_for};

/// A running `crosstie serve`.
pub struct Serve {
    child: Child,
    /// The data directory. Restart tests own it and use [`Serve::start_in`]: a server from
    /// [`Serve::start`] deletes its temp dir when dropped.
    pub data_dir: PathBuf,
    /// The kubeconfig the server wrote.
    pub kubeconfig: PathBuf,
    /// Home for kubectl (its discovery cache), private to this server.
    home: tempfile::TempDir,
    /// `host:port` of the HTTP endpoints (`/metrics`, `/hook/…`) when started with [`Serve::up`].
    pub web: Option<String>,
    _owned: Option<tempfile::TempDir>,
}

impl Serve {
    /// Starts a server on a fresh temp data dir.
    pub fn start() -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let mut serve = Self::start_in(dir.path());
        serve._owned = Some(dir);
        serve
    }

    /// Starts a server on `data_dir` (which may hold a previous server's data).
    pub fn start_in(data_dir: &Path) -> Self {
        Self::launch(data_dir, &["serve"])
    }

    /// Starts `crosstie up` — the server and every controller — on a fresh temp data dir, with
    /// `args` added (e.g. `--poll-interval 2s`). Its HTTP endpoints listen on [`Serve::web`].
    pub fn up(args: &[&str]) -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let state = dir.path().join("state");
        let web = format!("127.0.0.1:{}", super::tools::free_fixed_port());
        let mut launch = vec!["up", "--web-listen", &web, "--state-dir"];
        launch.push(state.to_str().expect("utf-8 temp path"));
        launch.extend_from_slice(args);
        let mut up = Self::launch(&dir.path().join("data"), &launch);
        up.web = Some(web);
        up._owned = Some(dir);
        up
    }

    fn launch(data_dir: &Path, args: &[&str]) -> Self {
        let home = tempfile::tempdir().expect("temp home");
        let kubeconfig = home.path().join("kubeconfig");
        let child = Command::new(env!("CARGO_BIN_EXE_crosstie"))
            .args(args)
            .args(["--listen", "127.0.0.1:0", "--data-dir"])
            .arg(data_dir)
            .arg("--kubeconfig-out")
            .arg(&kubeconfig)
            .env("CROSSTIE_LOG", "warn")
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start crosstie serve");
        let serve = Serve {
            child,
            data_dir: data_dir.to_owned(),
            kubeconfig,
            home,
            web: None,
            _owned: None,
        };
        wait_for("the kubeconfig", Duration::from_secs(60), || {
            serve.kubeconfig.exists().then_some(())
        });
        serve
    }

    /// The kubeconfig's text.
    pub fn kubeconfig_text(&self) -> String {
        std::fs::read_to_string(&self.kubeconfig).expect("read kubeconfig")
    }

    /// A kubectl command (the given binary) set up for this server.
    pub fn command(&self, bin: &Path) -> Command {
        let mut cmd = Command::new(bin);
        cmd.env("KUBECONFIG", &self.kubeconfig).env("HOME", self.home.path());
        cmd
    }

    /// Runs kubectl 1.37 with `args` (and `stdin`, if any).
    pub fn kubectl(&self, args: &[&str], stdin: Option<&str>) -> Output {
        self.run(&kubectl(), args, stdin)
    }

    /// Runs `bin` (a kubectl) with `args` (and `stdin`, if any).
    pub fn run(&self, bin: &Path, args: &[&str], stdin: Option<&str>) -> Output {
        use std::io::Write;
        let mut child = self
            .command(bin)
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("run kubectl");
        let input = stdin.unwrap_or("").to_owned();
        let mut pipe = child.stdin.take().expect("stdin");
        std::thread::spawn(move || pipe.write_all(input.as_bytes()));
        child.wait_with_output().expect("kubectl output")
    }

    /// kubectl 1.37 that must succeed; returns stdout.
    pub fn ok(&self, args: &[&str], stdin: Option<&str>) -> String {
        expect_ok(&self.kubectl(args, stdin), args)
    }

    /// kubectl 1.37 that must fail; returns stderr.
    pub fn fails(&self, args: &[&str], stdin: Option<&str>) -> String {
        let out = self.kubectl(args, stdin);
        assert!(
            !out.status.success(),
            "kubectl {args:?} unexpectedly succeeded:\n{}",
            String::from_utf8_lossy(&out.stdout)
        );
        String::from_utf8_lossy(&out.stderr).into_owned()
    }

    /// Kills the server with SIGKILL (no shutdown path runs) and waits for it to die; returns the
    /// data directory for a restart with [`Serve::start_in`].
    pub fn kill9(mut self) -> PathBuf {
        let _ = self.child.kill();
        let _ = self.child.wait();
        self.data_dir.clone()
    }
}

/// Asserts a kubectl run succeeded and returns its stdout.
pub fn expect_ok(out: &Output, args: &[&str]) -> String {
    assert!(
        out.status.success(),
        "kubectl {args:?} failed:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

impl Drop for Serve {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Serve {
    /// A kube client for this server, from the kubeconfig it wrote.
    pub async fn client(&self) -> kube::Client {
        let kubeconfig =
            kube::config::Kubeconfig::read_from(&self.kubeconfig).expect("parse kubeconfig");
        let options = kube::config::KubeConfigOptions::default();
        let config = kube::Config::from_custom_kubeconfig(kubeconfig, &options)
            .await
            .expect("client config");
        kube::Client::try_from(config).expect("kube client")
    }
}
