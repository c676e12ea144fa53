//! Benchmark of `crosstie serve` against raw etcd 3.4 on the same machine (`cargo bench --bench
//! apiserver`; needs `etcd` on PATH, Debian `etcd-server`). Prints a Markdown table for
//! `docs/benchmarks.md`:
//!
//! - creates/s: POSTs of ConfigMaps through kube-client over HTTPS, `CONCURRENCY` in flight;
//! - etcd puts/s: the same request bodies as values, through etcd's v3 HTTP/JSON gateway, same
//!   concurrency, same client stack (hyper via kube-client);
//! - watch latency: from issuing a create to its ADDED event arriving on an open watch;
//! - LIST of 10,000 objects (one unpaged request) and RSS of the server holding 100,000 objects.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use base64::Engine;
use futures::StreamExt;
use k8s_openapi::api::core::v1::{ConfigMap, Namespace};
use kube::api::{Api, ListParams, PostParams, WatchEvent, WatchParams};

#[path = "support/mod.rs"]
mod support;
use support::{Killed, free_port, rss_mib};

/// Objects written to each store (`CROSSTIE_BENCH_OBJECTS` shrinks it for a smoke run).
fn objects() -> usize {
    std::env::var("CROSSTIE_BENCH_OBJECTS").ok().and_then(|n| n.parse().ok()).unwrap_or(100_000)
}
const LISTED: usize = 10_000;

/// The server under test: `CROSSTIE_BENCH_SERVER` (e.g. a release build), else this build's.
fn server_binary() -> std::path::PathBuf {
    std::env::var_os("CROSSTIE_BENCH_SERVER")
        .map(Into::into)
        .unwrap_or_else(|| env!("CARGO_BIN_EXE_crosstie").into())
}
const CONCURRENCY: usize = 32;
const LATENCY_SAMPLES: usize = 1_000;
const PAYLOAD: usize = 256;

fn config_map(name: &str) -> ConfigMap {
    serde_json::from_value(serde_json::json!({
        "metadata": {"name": name, "labels": {"bench": "true"}},
        "data": {"payload": "x".repeat(PAYLOAD)},
    }))
    .unwrap()
}

async fn wait_until_up(what: &str, mut probe: impl AsyncFnMut() -> bool) {
    for _ in 0..600 {
        if probe().await {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("{what} did not come up");
}

/// Runs `op(i)` for `0..n` with `CONCURRENCY` in flight; returns operations per second.
async fn throughput<F: Future<Output = ()>>(n: usize, op: impl Fn(usize) -> F) -> f64 {
    let start = Instant::now();
    futures::stream::iter(0..n).map(&op).buffer_unordered(CONCURRENCY).collect::<Vec<_>>().await;
    n as f64 / start.elapsed().as_secs_f64()
}

async fn etcd_puts_per_second(dir: &std::path::Path) -> (f64, f64) {
    let (client_port, peer_port) = (free_port(), free_port());
    let url = format!("http://127.0.0.1:{client_port}");
    let etcd = Killed(
        Command::new("etcd")
            .arg("--data-dir")
            .arg(dir.join("etcd"))
            .args(["--listen-client-urls", &url, "--advertise-client-urls", &url])
            .args(["--listen-peer-urls", &format!("http://127.0.0.1:{peer_port}")])
            .args(["--initial-advertise-peer-urls", &format!("http://127.0.0.1:{peer_port}")])
            .args(["--initial-cluster", &format!("default=http://127.0.0.1:{peer_port}")])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start etcd (apt-get install etcd-server)"),
    );
    let client = kube::Client::try_from(kube::Config::new(url.parse().unwrap())).unwrap();
    let b64 = |s: &str| base64::engine::general_purpose::STANDARD.encode(s);
    let put = |key: String| {
        let client = client.clone();
        // Same bytes as the API server's request body.
        let value = serde_json::to_string(&config_map(&key)).unwrap();
        let body = serde_json::json!({"key": b64(&key), "value": b64(&value)}).to_string();
        async move {
            let request = http::Request::post("/v3/kv/put").body(body.into_bytes()).unwrap();
            client.request_text(request).await.map(|_| ())
        }
    };
    wait_until_up("etcd", async || put("probe".into()).await.is_ok()).await;
    let rate = throughput(objects(), |i| {
        let put = put(format!("/registry/configmaps/default/cm-{i}"));
        async move { put.await.expect("etcd put") }
    })
    .await;
    (rate, rss_mib(etcd.0.id()))
}

struct ServerNumbers {
    creates_per_second: f64,
    latency_p50_ms: f64,
    latency_p99_ms: f64,
    list_10k_ms: f64,
    rss_mib: f64,
}

async fn crosstie_numbers(dir: &std::path::Path) -> ServerNumbers {
    let kubeconfig = dir.join("kubeconfig");
    let server = Killed(
        Command::new(server_binary())
            .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
            .arg(dir.join("crosstie"))
            .arg("--kubeconfig-out")
            .arg(&kubeconfig)
            .env("CROSSTIE_LOG", "warn")
            .stdout(Stdio::null())
            .spawn()
            .expect("start crosstie serve"),
    );
    wait_until_up("crosstie serve", async || kubeconfig.exists()).await;
    let config = kube::config::Kubeconfig::read_from(&kubeconfig).unwrap();
    let config = kube::Config::from_custom_kubeconfig(config, &Default::default()).await.unwrap();
    let client = kube::Client::try_from(config).unwrap();
    let namespaces: Api<Namespace> = Api::all(client.clone());
    for ns in ["bench", "list", "latency"] {
        let namespace: Namespace =
            serde_json::from_value(serde_json::json!({"metadata": {"name": ns}})).unwrap();
        namespaces.create(&PostParams::default(), &namespace).await.unwrap();
    }

    // LIST target: 10,000 objects in their own namespace (created first, not timed).
    let listed: Api<ConfigMap> = Api::namespaced(client.clone(), "list");
    throughput(LISTED, |i| {
        let api = listed.clone();
        async move {
            api.create(&PostParams::default(), &config_map(&format!("cm-{i}"))).await.unwrap();
        }
    })
    .await;

    let bench: Api<ConfigMap> = Api::namespaced(client.clone(), "bench");
    let creates_per_second = throughput(objects() - LISTED, |i| {
        let api = bench.clone();
        async move {
            api.create(&PostParams::default(), &config_map(&format!("cm-{i}"))).await.unwrap();
        }
    })
    .await;

    eprintln!("RSS after {} creates: {:.0} MiB", objects(), rss_mib(server.0.id()));
    let mut list_times = Vec::new();
    for _ in 0..5 {
        let start = Instant::now();
        let list = listed.list(&ListParams::default()).await.unwrap();
        list_times.push(start.elapsed().as_secs_f64() * 1000.0);
        assert_eq!(list.items.len(), LISTED);
    }
    list_times.sort_by(f64::total_cmp);
    eprintln!("RSS after LISTs: {:.0} MiB", rss_mib(server.0.id()));

    let latency: Api<ConfigMap> = Api::namespaced(client.clone(), "latency");
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let watch = latency.watch(&WatchParams::default().timeout(290), "0").await.unwrap();
    let watcher = tokio::spawn(async move {
        let mut watch = std::pin::pin!(watch);
        while let Some(Ok(event)) = watch.next().await {
            if let WatchEvent::Added(cm) = event {
                let _ = tx.send(cm.metadata.name.unwrap_or_default());
            }
        }
    });
    let mut samples = Vec::with_capacity(LATENCY_SAMPLES);
    for i in 0..LATENCY_SAMPLES {
        let name = format!("lat-{i}");
        let start = Instant::now();
        latency.create(&PostParams::default(), &config_map(&name)).await.unwrap();
        while rx.recv().await.expect("watch event") != name {}
        samples.push(start.elapsed().as_secs_f64() * 1000.0);
    }
    watcher.abort();
    samples.sort_by(f64::total_cmp);
    let pct = |p: f64| samples[((samples.len() as f64 * p) as usize).min(samples.len() - 1)];
    ServerNumbers {
        creates_per_second,
        latency_p50_ms: pct(0.50),
        latency_p99_ms: pct(0.99),
        list_10k_ms: list_times[list_times.len() / 2],
        rss_mib: rss_mib(server.0.id()),
    }
}

#[tokio::main]
async fn main() {
    rustls::crypto::aws_lc_rs::default_provider().install_default().ok();
    let dir = tempfile::tempdir().unwrap();
    let (etcd_rate, etcd_rss) = etcd_puts_per_second(dir.path()).await;
    let ours = crosstie_numbers(dir.path()).await;
    println!("| metric | crosstie serve | etcd 3.4 (raw puts) | target |");
    println!("|---|---|---|---|");
    println!(
        "| writes/s ({} x {PAYLOAD} B payload, {CONCURRENCY} in flight) | {:.0} creates/s | {:.0} puts/s | creates ≥ 0.5 × puts ({:.2}×) |",
        objects(),
        ours.creates_per_second,
        etcd_rate,
        ours.creates_per_second / etcd_rate
    );
    println!(
        "| watch latency p50 / p99 | {:.2} ms / {:.2} ms | – | p99 ≤ 20 ms |",
        ours.latency_p50_ms, ours.latency_p99_ms
    );
    println!(
        "| LIST of {LISTED} objects (unpaged, median of 5) | {:.0} ms | – | – |",
        ours.list_10k_ms
    );
    println!(
        "| RSS holding {} objects | {:.0} MiB | {:.0} MiB | ≤ 200 MiB |",
        objects(),
        ours.rss_mib,
        etcd_rss
    );
}
