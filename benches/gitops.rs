//! Git loop benchmark (a binary, not a test) against a real `crosstie up` and real repositories
//! made with the `git` CLI (`cargo bench --bench gitops`; `CROSSTIE_BENCH_SERVER` picks the
//! server binary, `CROSSTIE_BENCH_MANIFESTS` the size of the large repository). Prints:
//!
//! 1. webhook → applied: commit a changed ConfigMap, POST a `generic` Receiver's webhook, time
//!    until the ConfigMap holds the new value (smart HTTP with basic auth);
//! 2. unchanged poll: remote requests (the smart-HTTP server's log) and API writes of one forced
//!    GitRepository reconcile with nothing new;
//! 3. a repository of many ConfigMaps (file://): first sync, then a forced no-change re-sync of
//!    the Kustomization: wall time, server RSS, API writes and object writes.
//!
//! API writes are counted with the embedded server's single global resourceVersion sequence: a
//! LIST returns the current one, so the delta across a forced reconcile counts every write (the
//! `requestedAt` annotation that forces it, the controllers' status writes, events).

#[path = "../tests/gitops_support/mod.rs"]
mod gitops_support;

use std::collections::BTreeMap;
use std::io::{Read as _, Write as _};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use gitops_support::{HttpServer, Repo};
use k8s_openapi::api::core::v1::ConfigMap;
use kube::api::{Api, ApiResource, DynamicObject, ListParams, Patch, PatchParams};

#[path = "support/mod.rs"]
mod support;
use support::{free_port, rss_mib};

const NS: &str = "flux-system";
const WEBHOOK_ROUNDS: usize = 20;

/// The server under test: `CROSSTIE_BENCH_SERVER` (e.g. a release build), else this build's.
fn server_binary() -> PathBuf {
    std::env::var_os("CROSSTIE_BENCH_SERVER")
        .map(Into::into)
        .unwrap_or_else(|| env!("CARGO_BIN_EXE_crosstie").into())
}

fn manifests() -> usize {
    std::env::var("CROSSTIE_BENCH_MANIFESTS").ok().and_then(|n| n.parse().ok()).unwrap_or(10_000)
}

/// A running `crosstie up`, killed on drop.
struct Up {
    child: Child,
    client: kube::Client,
    web: String,
    _dir: tempfile::TempDir,
}

impl Drop for Up {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Up {
    async fn start() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let kubeconfig = dir.path().join("kubeconfig");
        let web = format!("127.0.0.1:{}", free_port());
        let child = Command::new(server_binary())
            .args(["up", "--web-listen", &web, "--listen", "127.0.0.1:0"])
            .arg("--state-dir")
            .arg(dir.path().join("state"))
            .arg("--data-dir")
            .arg(dir.path().join("data"))
            .arg("--kubeconfig-out")
            .arg(&kubeconfig)
            .env("CROSSTIE_LOG", "warn")
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start crosstie up");
        while !kubeconfig.exists() {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let kubeconfig = kube::config::Kubeconfig::read_from(&kubeconfig).unwrap();
        let config =
            kube::Config::from_custom_kubeconfig(kubeconfig, &Default::default()).await.unwrap();
        let client = kube::Client::try_from(config).unwrap();
        Up { child, client, web, _dir: dir }
    }

    /// Server-side apply of a multi-document YAML stream.
    async fn apply(&self, yaml: &str) {
        let params = PatchParams::apply("bench").force();
        for doc in yaml.split("\n---\n") {
            let object: DynamicObject = serde_saphyr::from_str(doc).unwrap();
            let types = object.types.clone().unwrap();
            let (group, version) = types.api_version.split_once('/').unwrap_or(("", "v1"));
            let gvk = kube::core::GroupVersionKind::gvk(group, version, &types.kind);
            let (resource, caps) = self.discover(&gvk).await;
            let api: Api<DynamicObject> = match caps {
                kube::discovery::Scope::Namespaced => Api::namespaced_with(
                    self.client.clone(),
                    object.metadata.namespace.as_deref().unwrap(),
                    &resource,
                ),
                kube::discovery::Scope::Cluster => Api::all_with(self.client.clone(), &resource),
            };
            let name = object.metadata.name.clone().unwrap();
            api.patch(&name, &params, &Patch::Apply(&object)).await.unwrap();
        }
    }

    async fn discover(
        &self,
        gvk: &kube::core::GroupVersionKind,
    ) -> (ApiResource, kube::discovery::Scope) {
        // The CRDs are installed by `crosstie up` shortly after start; retry until served.
        for _ in 0..300 {
            if let Ok((resource, caps)) = kube::discovery::pinned_kind(&self.client, gvk).await {
                return (resource, caps.scope);
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("{gvk:?} is not served");
    }

    fn flux(&self, kind: &str, plural: &str, group: &str) -> Api<DynamicObject> {
        let resource = ApiResource {
            group: group.into(),
            version: "v1".into(),
            api_version: format!("{group}/v1"),
            kind: kind.into(),
            plural: plural.into(),
        };
        Api::namespaced_with(self.client.clone(), NS, &resource)
    }

    fn git_repositories(&self) -> Api<DynamicObject> {
        self.flux("GitRepository", "gitrepositories", "source.toolkit.fluxcd.io")
    }

    fn kustomizations(&self) -> Api<DynamicObject> {
        self.flux("Kustomization", "kustomizations", "kustomize.toolkit.fluxcd.io")
    }

    /// The global resourceVersion: every write anywhere advances it by one.
    async fn global_rv(&self) -> u64 {
        let list = Api::<ConfigMap>::all(self.client.clone())
            .list_metadata(&ListParams::default().limit(1))
            .await
            .unwrap();
        list.metadata.resource_version.unwrap().parse().unwrap()
    }

    /// resourceVersion of every ConfigMap outside flux-system, by namespace/name.
    async fn config_map_versions(&self) -> BTreeMap<String, String> {
        let list = Api::<ConfigMap>::all(self.client.clone())
            .list_metadata(&ListParams::default())
            .await
            .unwrap();
        list.items
            .into_iter()
            .filter(|cm| cm.metadata.namespace.as_deref() != Some(NS))
            .map(|cm| {
                let m = cm.metadata;
                (
                    format!("{}/{}", m.namespace.unwrap(), m.name.unwrap()),
                    m.resource_version.unwrap(),
                )
            })
            .collect()
    }

    /// Annotate `name` with a fresh `requestedAt` and wait until its controller echoes it.
    async fn force_reconcile(&self, api: &Api<DynamicObject>, name: &str) -> Duration {
        let token =
            format!("bench-{}", std::time::SystemTime::UNIX_EPOCH.elapsed().unwrap().as_nanos());
        let patch = serde_json::json!({"metadata": {"annotations": {"reconcile.fluxcd.io/requestedAt": token}}});
        let start = Instant::now();
        api.patch(name, &PatchParams::default(), &Patch::Merge(&patch)).await.unwrap();
        wait_status(api, name, |status| status["lastHandledReconcileAt"] == token.as_str()).await;
        start.elapsed()
    }
}

/// Poll `name` every 10 ms until `done(status)`; panics after ten minutes.
async fn wait_status(
    api: &Api<DynamicObject>,
    name: &str,
    done: impl Fn(&serde_json::Value) -> bool,
) {
    let start = Instant::now();
    loop {
        if let Ok(object) = api.get(name).await
            && done(&object.data["status"])
        {
            return;
        }
        assert!(start.elapsed() < Duration::from_secs(600), "{name} never reached the state");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

fn ready_at(status: &serde_json::Value, sha: &str) -> bool {
    let ready = status["conditions"]
        .as_array()
        .into_iter()
        .flatten()
        .any(|c| c["type"] == "Ready" && c["status"] == "True");
    ready && status["lastAppliedRevision"].as_str().is_some_and(|r| r.ends_with(sha))
}

fn configmap(name: &str, ns: &str, value: &str) -> String {
    format!(
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {{name: {name}, namespace: {ns}}}\ndata: {{greeting: {value}}}\n"
    )
}

fn sources(url: &str, path: &str) -> String {
    format!(
        "apiVersion: source.toolkit.fluxcd.io/v1
kind: GitRepository
metadata: {{name: bench, namespace: {NS}}}
spec: {{interval: 1h, url: '{url}', ref: {{branch: main}}, secretRef: {{name: git-auth}}}}
---
apiVersion: kustomize.toolkit.fluxcd.io/v1
kind: Kustomization
metadata: {{name: bench, namespace: {NS}}}
spec: {{interval: 1h, sourceRef: {{kind: GitRepository, name: bench}}, path: {path}, prune: true}}"
    )
}

fn post(addr: &str, path: &str) -> u16 {
    let mut stream = std::net::TcpStream::connect(addr).unwrap();
    write!(stream, "POST {path} HTTP/1.0\r\nHost: {addr}\r\nContent-Length: 2\r\n\r\n{{}}")
        .unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    response.split(' ').nth(1).and_then(|code| code.parse().ok()).unwrap_or(0)
}

fn percentiles(label: &str, mut samples: Vec<Duration>) {
    samples.sort();
    let at =
        |q: f64| samples[((samples.len() - 1) as f64 * q).round() as usize].as_secs_f64() * 1e3;
    println!(
        "| {label} ({} rounds) | p50 {:.0} ms | p90 {:.0} ms | max {:.0} ms |",
        samples.len(),
        at(0.5),
        at(0.9),
        at(1.0)
    );
}

async fn webhook_and_unchanged_poll() {
    let up = Up::start().await;
    let repo = Repo::new();
    repo.commit(&[("app/config.yaml", &configmap("hooked", "default", "v0"))], "v0");
    let server = HttpServer::start(&repo.bare, "bench", "s3cret");
    up.apply(&format!("apiVersion: v1\nkind: Namespace\nmetadata: {{name: {NS}}}")).await;
    up.apply(&format!(
        "apiVersion: v1
kind: Secret
metadata: {{name: git-auth, namespace: {NS}}}
stringData: {{username: bench, password: s3cret}}
---
apiVersion: v1
kind: Secret
metadata: {{name: hook-token, namespace: {NS}}}
stringData: {{token: bench-token}}
---
{}
---
apiVersion: notification.toolkit.fluxcd.io/v1
kind: Receiver
metadata: {{name: generic, namespace: {NS}}}
spec: {{type: generic, secretRef: {{name: hook-token}}, resources: [{{kind: GitRepository, name: bench}}]}}",
        sources(&server.url, "./app")
    ))
    .await;
    let receivers = up.flux("Receiver", "receivers", "notification.toolkit.fluxcd.io");
    wait_status(&receivers, "generic", |s| s["webhookPath"].is_string()).await;
    let hook = receivers.get("generic").await.unwrap().data["status"]["webhookPath"]
        .as_str()
        .unwrap()
        .to_owned();
    let config_maps = Api::<ConfigMap>::namespaced(up.client.clone(), "default");
    let greeting = async |value: &str| {
        config_maps.get_opt("hooked").await.ok().flatten().is_some_and(|cm| {
            cm.data.and_then(|d| d.get("greeting").cloned()).as_deref() == Some(value)
        })
    };
    while !greeting("v0").await {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    let mut samples = Vec::with_capacity(WEBHOOK_ROUNDS);
    for round in 1..=WEBHOOK_ROUNDS {
        let value = format!("v{round}");
        repo.commit(&[("app/config.yaml", &configmap("hooked", "default", &value))], &value);
        let start = Instant::now();
        assert_eq!(post(&up.web, &hook), 200);
        while !greeting(&value).await {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        samples.push(start.elapsed());
    }
    percentiles("webhook POST → ConfigMap has the new value", samples);

    // Let the last round's Kustomization status writes land before counting.
    let sha = gitops_support::git(&repo.work, &["rev-parse", "HEAD"]);
    wait_status(&up.kustomizations(), "bench", |s| ready_at(s, &sha)).await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    for _ in 0..3 {
        server.take_requests();
        let before = up.global_rv().await;
        let took = up.force_reconcile(&up.git_repositories(), "bench").await;
        tokio::time::sleep(Duration::from_secs(2)).await;
        let writes = up.global_rv().await - before;
        let requests = server.take_requests();
        println!(
            "| unchanged GitRepository poll | {took:.0?} | {} HTTP requests: {requests:?} | {writes} API writes incl. the requestedAt annotation |",
            requests.len()
        );
    }
}

async fn large_repository() {
    let count = manifests();
    let namespaces = ["team-a", "team-b", "team-c", "team-d"];
    let repo = Repo::new();
    for ns in namespaces {
        let dir = repo.work.join("apps").join(ns);
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(
            dir.join("namespace.yaml"),
            format!("apiVersion: v1\nkind: Namespace\nmetadata: {{name: {ns}}}\n"),
        )
        .unwrap();
    }
    for i in 0..count {
        let ns = namespaces[i % namespaces.len()];
        let path = repo.work.join("apps").join(ns).join(format!("cm-{i}.yaml"));
        std::fs::write(path, configmap(&format!("cm-{i}"), ns, &format!("value-{i}"))).unwrap();
    }
    let sha = repo.commit(&[], "many config maps");

    let up = Up::start().await;
    let pid = up.child.id();
    let peak = Arc::new(AtomicU64::new(0));
    let sampling = Arc::new(AtomicBool::new(true));
    let sampler = {
        let (peak, sampling) = (peak.clone(), sampling.clone());
        std::thread::spawn(move || {
            while sampling.load(Ordering::Relaxed) {
                peak.fetch_max((rss_mib(pid) * 1024.0) as u64, Ordering::Relaxed);
                std::thread::sleep(Duration::from_millis(100));
            }
        })
    };
    let peak_mib = || {
        let kib = peak.swap(0, Ordering::Relaxed) as f64;
        kib / 1024.0
    };
    up.apply(&format!("apiVersion: v1\nkind: Namespace\nmetadata: {{name: {NS}}}")).await;
    up.apply(&format!(
        "apiVersion: v1\nkind: Secret\nmetadata: {{name: git-auth, namespace: {NS}}}\nstringData: {{username: x, password: x}}"
    ))
    .await;
    let idle = rss_mib(pid);
    peak_mib();
    let start = Instant::now();
    up.apply(&sources(&repo.file_url(), "./apps")).await;
    wait_status(&up.kustomizations(), "bench", |s| ready_at(s, &sha)).await;
    let first = start.elapsed();
    let first_peak = peak_mib();
    let applied = up.config_map_versions().await.len();
    println!(
        "| first sync of {count} ConfigMaps ({applied} present) | {first:.1?} | RSS idle {idle:.0} MiB, peak {first_peak:.0} MiB, after {:.0} MiB |",
        rss_mib(pid)
    );

    tokio::time::sleep(Duration::from_secs(2)).await;
    for _ in 0..3 {
        let versions = up.config_map_versions().await;
        peak_mib();
        let before = up.global_rv().await;
        let took = up.force_reconcile(&up.kustomizations(), "bench").await;
        let resync_peak = peak_mib();
        tokio::time::sleep(Duration::from_secs(2)).await;
        let writes = up.global_rv().await - before;
        let after = up.config_map_versions().await;
        let changed = after.iter().filter(|(key, rv)| versions.get(*key) != Some(rv)).count();
        println!(
            "| no-change re-sync | {took:.1?} | RSS peak {resync_peak:.0} MiB | {writes} API writes incl. the requestedAt annotation, {changed} ConfigMaps written |"
        );
    }
    sampling.store(false, Ordering::Relaxed);
    sampler.join().unwrap();
}

#[tokio::main]
async fn main() {
    rustls::crypto::aws_lc_rs::default_provider().install_default().ok();
    println!("server: {}", server_binary().display());
    webhook_and_unchanged_poll().await;
    large_repository().await;
}
