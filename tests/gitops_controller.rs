//! The reconcilers end to end on the Git side: real repositories made with the `git` CLI, the
//! user's GitRepository + Kustomization pair (url pointed at a local repository), and the
//! in-memory API server of `gitops_support::fake_api` standing in for Kubernetes.

mod gitops_support;

use std::sync::Arc;

use crosstie::gitops::api::{GitRepository, Kustomization, Receiver, WebhookTarget};
use crosstie::gitops::controller::{
    Context, KubeReceivers, git_repository, kustomization, receiver,
};
use crosstie::gitops::receiver::{ReceiverBackend, webhook_path};
use crosstie::gitops::trigger;
use gitops_support::Repo;
use gitops_support::fake_api::FakeApi;
use serde_json::{Value, json};

const GIT: &str =
    "/apis/source.toolkit.fluxcd.io/v1/namespaces/flux-system/gitrepositories/myapp-source";
const KS: &str = "/apis/kustomize.toolkit.fluxcd.io/v1/namespaces/flux-system/kustomizations/myapp";
const CM_ONE: &str = "/api/v1/namespaces/apps/configmaps/one";
const CM_TWO: &str = "/api/v1/namespaces/apps/configmaps/two";

fn cm(name: &str, value: &str) -> String {
    format!(
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {name}\n  namespace: apps\ndata:\n  value: \"{value}\"\n"
    )
}

struct Env {
    repo: Repo,
    fake: Arc<FakeApi>,
    ctx: Arc<Context>,
    data: tempfile::TempDir,
}

/// The user's manifest pair from issue #6, with only the url changed.
fn setup() -> Env {
    let repo = Repo::new();
    let (client, fake) = FakeApi::start();
    let data = tempfile::tempdir().unwrap();
    let ctx = Arc::new(Context::new(client, data.path().to_owned()));
    let meta = |name: &str| json!({"name": name, "namespace": "flux-system", "generation": 1, "uid": name});
    fake.put(GIT, json!({
        "apiVersion": "source.toolkit.fluxcd.io/v1", "kind": "GitRepository", "metadata": meta("myapp-source"),
        "spec": {"interval": "1m", "url": repo.file_url(), "ref": {"branch": "main"}}
    }));
    fake.put(KS, json!({
        "apiVersion": "kustomize.toolkit.fluxcd.io/v1", "kind": "Kustomization", "metadata": meta("myapp"),
        "spec": {"interval": "10m", "sourceRef": {"kind": "GitRepository", "name": "myapp-source"},
                 "path": "./myapp/manifests", "prune": true, "wait": true, "timeout": "5m"}
    }));
    Env { repo, fake, ctx, data }
}

impl Env {
    /// Request a reconcile like `flux reconcile` (new requestedAt) and run the reconciler.
    /// The first reconcile only adds the finalizer (and the controller is woken by that
    /// change), so run again while the finalizer was just added.
    async fn reconcile_source(&self, requested_at: &str) -> Value {
        self.request(GIT, requested_at);
        loop {
            let before = self.fake.get(GIT).unwrap();
            let repo: GitRepository = serde_json::from_value(before.clone()).unwrap();
            git_repository::reconcile(Arc::new(repo), self.ctx.clone()).await.unwrap();
            let after = self.fake.get(GIT).unwrap();
            if before["metadata"]["finalizers"] == after["metadata"]["finalizers"] {
                return after;
            }
        }
    }

    async fn reconcile_kustomization(&self, requested_at: &str) -> Value {
        self.request(KS, requested_at);
        loop {
            let before = self.fake.get(KS).unwrap();
            let ks: Kustomization = serde_json::from_value(before.clone()).unwrap();
            kustomization::reconcile(Arc::new(ks), self.ctx.clone()).await.unwrap();
            let after = self.fake.get(KS).unwrap();
            if before["metadata"]["finalizers"] == after["metadata"]["finalizers"] {
                return after;
            }
        }
    }

    fn request(&self, path: &str, requested_at: &str) -> Value {
        let mut object = self.fake.get(path).unwrap();
        object["metadata"]["annotations"] =
            json!({"reconcile.fluxcd.io/requestedAt": requested_at});
        self.fake.put(path, object.clone());
        object
    }
}

fn ready(object: &Value) -> (String, String, String) {
    let c = object["status"]["conditions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["type"] == "Ready")
        .unwrap();
    (
        c["status"].as_str().unwrap().into(),
        c["reason"].as_str().unwrap().into(),
        c["message"].as_str().unwrap().into(),
    )
}

fn inventory(ks: &Value) -> Vec<String> {
    ks["status"]["inventory"]["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["id"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn a_commit_is_fetched_applied_pruned_and_a_broken_commit_keeps_the_last_good_state() {
    let env = setup();
    let first = env.repo.commit(
        &[
            ("myapp/manifests/one.yaml", &cm("one", "1")),
            ("myapp/manifests/two.yaml", &cm("two", "2")),
        ],
        "app",
    );

    let source = env.reconcile_source("t1").await;
    let revision = format!("main@sha1:{first}");
    assert_eq!(source["status"]["artifact"]["revision"], revision);
    assert_eq!(
        ready(&source),
        ("True".into(), "Succeeded".into(), format!("stored artifact for revision '{revision}'"))
    );
    assert_eq!(source["status"]["lastHandledReconcileAt"], "t1");

    let ks = env.reconcile_kustomization("t1").await;
    assert_eq!(
        ready(&ks),
        ("True".into(), "ReconciliationSucceeded".into(), format!("Applied revision: {revision}"))
    );
    assert_eq!(ks["status"]["lastAppliedRevision"], revision);
    assert_eq!(ks["status"]["lastHandledReconcileAt"], "t1");
    assert_eq!(inventory(&ks), ["apps_one__ConfigMap", "apps_two__ConfigMap"]);
    let one = env.fake.get(CM_ONE).unwrap();
    assert_eq!(one["metadata"]["labels"]["kustomize.toolkit.fluxcd.io/name"], "myapp");

    // A commit that removes a file prunes its object.
    std::fs::remove_file(env.repo.work.join("myapp/manifests/two.yaml")).unwrap();
    let second = env.repo.commit(&[], "drop two");
    env.reconcile_source("t2").await;
    let ks = env.reconcile_kustomization("t2").await;
    assert_eq!(ks["status"]["lastAppliedRevision"], format!("main@sha1:{second}"));
    assert!(env.fake.get(CM_TWO).is_none(), "pruned");
    assert_eq!(inventory(&ks), ["apps_one__ConfigMap"]);

    // A commit with broken YAML: Ready=False naming file and line, nothing pruned or changed.
    let broken = env.repo.commit(
        &[(
            "myapp/manifests/one.yaml",
            "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: [one\n",
        )],
        "oops",
    );
    env.reconcile_source("t3").await;
    let ks = env.reconcile_kustomization("t3").await;
    let (status, reason, message) = ready(&ks);
    assert_eq!((status.as_str(), reason.as_str()), ("False", "BuildFailed"));
    assert!(
        message.contains(&format!("main@sha1:{broken}"))
            && message.contains("myapp/manifests/one.yaml:"),
        "{message}"
    );
    assert_eq!(ks["status"]["lastAppliedRevision"], format!("main@sha1:{second}"));
    assert_eq!(ks["status"]["lastAttemptedRevision"], format!("main@sha1:{broken}"));
    assert_eq!(inventory(&ks), ["apps_one__ConfigMap"]);
    assert_eq!(env.fake.get(CM_ONE).unwrap()["data"]["value"], "1", "previous objects intact");
}

#[tokio::test]
async fn an_unchanged_source_and_cluster_cost_no_object_writes_and_drift_is_reverted() {
    let env = setup();
    env.repo.commit(&[("myapp/manifests/one.yaml", &cm("one", "1"))], "app");
    env.reconcile_source("t1").await;
    env.reconcile_kustomization("t1").await;
    env.fake.log.lock().unwrap().clear();

    assert_eq!(env.reconcile_source("t2").await["status"]["lastHandledReconcileAt"], "t2");
    env.reconcile_kustomization("t2").await;
    let writes = env.fake.writes();
    assert!(
        writes.iter().all(|w| w.contains("/status")),
        "only status echoes requestedAt: {writes:?}"
    );

    // `kubectl edit` on an applied field is reverted and recorded.
    let mut edited = env.fake.get(CM_ONE).unwrap();
    edited["data"]["value"] = json!("edited");
    env.fake.put(CM_ONE, edited);
    let ks = env.reconcile_kustomization("t3").await;
    assert_eq!(env.fake.get(CM_ONE).unwrap()["data"]["value"], "1");
    let drift = ks["status"]["conditions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["type"] == "Drifted")
        .unwrap();
    assert_eq!(drift["reason"], "DriftCorrected");
    assert!(
        drift["message"].as_str().unwrap().contains("ConfigMap/apps/one: /data/value"),
        "{drift}"
    );
}

#[tokio::test]
async fn a_reconcile_started_from_a_cache_without_its_last_status_still_reports_drift() {
    let env = setup();
    env.repo.commit(&[("myapp/manifests/one.yaml", &cm("one", "1"))], "app");
    env.reconcile_source("t1").await;
    // The object as the watch cache may still hold it while the first apply runs: requested,
    // but without the status that apply is about to write.
    let stale = env.request(KS, "t2");
    env.reconcile_kustomization("t2").await;

    let mut edited = env.fake.get(CM_ONE).unwrap();
    edited["data"]["value"] = json!("edited");
    env.fake.put(CM_ONE, edited);
    let mut requested = stale;
    requested["metadata"]["finalizers"] =
        env.fake.get(KS).unwrap()["metadata"]["finalizers"].clone();
    requested["metadata"]["annotations"]["reconcile.fluxcd.io/requestedAt"] = json!("t3");
    let ks: Kustomization = serde_json::from_value(requested).unwrap();
    kustomization::reconcile(Arc::new(ks), env.ctx.clone()).await.unwrap();

    assert_eq!(env.fake.get(CM_ONE).unwrap()["data"]["value"], "1");
    let status = &env.fake.get(KS).unwrap()["status"];
    let conditions = status["conditions"].as_array().unwrap();
    let drift = conditions.iter().find(|c| c["type"] == "Drifted").expect("drift is reported");
    assert!(
        drift["message"].as_str().unwrap().contains("ConfigMap/apps/one: /data/value"),
        "{drift}"
    );
}

#[tokio::test]
async fn deleting_a_pruning_kustomization_deletes_what_it_applied() {
    let env = setup();
    env.repo.commit(&[("myapp/manifests/one.yaml", &cm("one", "1"))], "app");
    env.reconcile_source("t1").await;
    let ks = env.reconcile_kustomization("t1").await;
    assert_eq!(ks["metadata"]["finalizers"], json!(["finalizers.fluxcd.io"]));
    assert!(env.fake.get(CM_ONE).is_some());

    let mut deleting = ks.clone();
    deleting["metadata"]["deletionTimestamp"] = json!("2026-01-01T00:00:00Z");
    let deleting: Kustomization = serde_json::from_value(deleting).unwrap();
    env.fake.put(KS, serde_json::to_value(&deleting).unwrap());
    kustomization::reconcile(Arc::new(deleting), env.ctx.clone()).await.unwrap();

    assert!(env.fake.get(CM_ONE).is_none(), "applied objects are deleted with the Kustomization");
    assert!(env.fake.get(KS).is_none(), "finalizer removed");

    let source = env.fake.get(GIT).unwrap();
    let cache = env.data.path().join("git/flux-system/myapp-source.git");
    assert!(cache.exists());
    let mut deleting = source.clone();
    deleting["metadata"]["deletionTimestamp"] = json!("2026-01-01T00:00:00Z");
    env.fake.put(GIT, deleting.clone());
    let deleting: GitRepository = serde_json::from_value(deleting).unwrap();
    git_repository::reconcile(Arc::new(deleting), env.ctx.clone()).await.unwrap();
    assert!(!cache.exists(), "the Git cache is removed with its GitRepository");
    assert!(!env.data.path().join("gitrepository/flux-system/myapp-source").exists());
}

#[tokio::test]
async fn a_kustomization_waits_for_its_source_and_dependencies_then_applies() {
    let env = setup();
    let ks = env.reconcile_kustomization("t1").await;
    assert_eq!(ready(&ks).1, "ArtifactFailed", "the source has no artifact yet");

    env.repo.commit(&[("myapp/manifests/one.yaml", &cm("one", "1"))], "app");
    env.reconcile_source("t1").await;
    let mut ks = env.fake.get(KS).unwrap();
    ks["spec"]["dependsOn"] = json!([{"name": "infra"}]);
    ks["metadata"]["generation"] = json!(2);
    env.fake.put(KS, ks);
    let ks = env.reconcile_kustomization("t2").await;
    assert_eq!(ready(&ks).1, "DependencyNotReady");
    assert!(ready(&ks).2.contains("'flux-system/infra' is not ready"), "{}", ready(&ks).2);
    assert!(env.fake.get(CM_ONE).is_none(), "nothing applied before the dependency is ready");

    let infra = "/apis/kustomize.toolkit.fluxcd.io/v1/namespaces/flux-system/kustomizations/infra";
    let mut dependency = json!({
        "apiVersion": "kustomize.toolkit.fluxcd.io/v1", "kind": "Kustomization",
        "metadata": {"name": "infra", "namespace": "flux-system", "generation": 3},
        "spec": {"interval": "10m", "sourceRef": {"kind": "GitRepository", "name": "myapp-source"}, "prune": true},
        "status": {"observedGeneration": 2, "conditions": [{"type": "Ready", "status": "True", "reason": "ReconciliationSucceeded", "message": "", "lastTransitionTime": "2026-01-01T00:00:00Z"}]}
    });
    env.fake.put(infra, dependency.clone());
    let ks = env.reconcile_kustomization("t3").await;
    assert_eq!(ready(&ks).1, "DependencyNotReady", "Ready for an older generation does not count");

    // Same source: Ready for an older revision does not count either (a CRD it adds in this
    // commit may not exist yet).
    dependency["status"]["observedGeneration"] = json!(3);
    dependency["status"]["lastAppliedRevision"] = json!("main@sha1:0000");
    env.fake.put(infra, dependency.clone());
    let ks = env.reconcile_kustomization("t4").await;
    assert_eq!(ready(&ks).1, "DependencyNotReady");
    let message = "dependency 'flux-system/infra' revision is not up to date";
    assert!(ready(&ks).2.contains(message), "{}", ready(&ks).2);
    assert!(env.fake.get(CM_ONE).is_none());

    let source = env.fake.get(GIT).unwrap();
    dependency["status"]["lastAppliedRevision"] = source["status"]["artifact"]["revision"].clone();
    env.fake.put(infra, dependency);
    let ks = env.reconcile_kustomization("t5").await;
    assert_eq!(ready(&ks).1, "ReconciliationSucceeded");
    assert!(env.fake.get(CM_ONE).is_some());
}

#[tokio::test]
async fn a_wrong_password_marks_the_source_authentication_failed() {
    let env = setup();
    env.repo.commit(&[("a.yaml", "a: 1\n")], "first");
    let server = gitops_support::HttpServer::start(&env.repo.bare, "flux", "right");
    let mut git = env.fake.get(GIT).unwrap();
    git["spec"]["url"] = json!(server.url);
    git["spec"]["secretRef"] = json!({"name": "git-auth"});
    env.fake.put(GIT, git);
    use base64::Engine;
    let b64 = |s: &str| base64::engine::general_purpose::STANDARD.encode(s);
    env.fake.put("/api/v1/namespaces/flux-system/secrets/git-auth", json!({
        "apiVersion": "v1", "kind": "Secret", "metadata": {"name": "git-auth", "namespace": "flux-system"},
        "data": {"username": b64("flux"), "password": b64("wrong")}
    }));

    let source = env.reconcile_source("t1").await;
    assert_eq!(ready(&source).1, "AuthenticationFailed");
    let fetch_failed = source["status"]["conditions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["type"] == "FetchFailed")
        .unwrap();
    assert_eq!(
        (fetch_failed["status"].as_str(), fetch_failed["reason"].as_str()),
        (Some("True"), Some("AuthenticationFailed"))
    );
}

#[tokio::test]
async fn a_receiver_publishes_its_webhook_path_and_annotates_its_targets() {
    let env = setup();
    use base64::Engine;
    env.fake.put("/api/v1/namespaces/flux-system/secrets/webhook-token", json!({
        "apiVersion": "v1", "kind": "Secret", "metadata": {"name": "webhook-token", "namespace": "flux-system"},
        "data": {"token": base64::engine::general_purpose::STANDARD.encode("s3cret")}
    }));
    let receiver_object = json!({
        "apiVersion": "notification.toolkit.fluxcd.io/v1", "kind": "Receiver",
        "metadata": {"name": "github", "namespace": "flux-system", "generation": 1},
        "spec": {"type": "github", "secretRef": {"name": "webhook-token"},
                 "resources": [{"kind": "GitRepository", "name": "myapp-source"}]}
    });
    let path = "/apis/notification.toolkit.fluxcd.io/v1/namespaces/flux-system/receivers/github";
    env.fake.put(path, receiver_object.clone());
    let r: Receiver = serde_json::from_value(receiver_object).unwrap();
    receiver::reconcile(Arc::new(r), env.ctx.clone()).await.unwrap();
    let stored = env.fake.get(path).unwrap();
    assert_eq!(stored["status"]["webhookPath"], webhook_path("s3cret", "github", "flux-system"));
    assert_eq!(ready(&stored).0, "True");

    let backend = KubeReceivers::new(env.ctx.client.clone());
    let target = WebhookTarget {
        kind: "GitRepository".into(),
        name: "myapp-source".into(),
        ..Default::default()
    };
    assert_eq!(
        backend.request_reconcile("flux-system", &target, "2026-01-01T00:00:00Z").await,
        Ok(1)
    );
    let git = env.fake.get(GIT).unwrap();
    assert_eq!(
        git["metadata"]["annotations"]["reconcile.fluxcd.io/requestedAt"],
        "2026-01-01T00:00:00Z"
    );
}

#[tokio::test]
async fn crosstie_reconcile_waits_until_the_controller_handled_the_request() {
    let env = setup();
    env.repo.commit(&[("myapp/manifests/one.yaml", &cm("one", "1"))], "app");
    let client = env.ctx.client.clone();
    let cli = tokio::spawn(async move {
        trigger::reconcile::<GitRepository>(
            client,
            "flux-system",
            "myapp-source",
            std::time::Duration::from_secs(30),
        )
        .await
    });
    // Play the controller: wait for the annotation, then reconcile (twice: finalizer first).
    let requested = loop {
        let object = env.fake.get(GIT).unwrap();
        if let Some(at) =
            object["metadata"]["annotations"]["reconcile.fluxcd.io/requestedAt"].as_str()
        {
            break at.to_owned();
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    };
    for _ in 0..2 {
        let repo: GitRepository = serde_json::from_value(env.fake.get(GIT).unwrap()).unwrap();
        git_repository::reconcile(Arc::new(repo), env.ctx.clone()).await.unwrap();
    }

    let message = cli.await.unwrap().unwrap();
    assert!(message.starts_with("stored artifact for revision 'main@sha1:"), "{message}");
    assert_eq!(env.fake.get(GIT).unwrap()["status"]["lastHandledReconcileAt"], requested.as_str());
}

#[tokio::test]
async fn crosstie_reconcile_refuses_a_suspended_object_like_flux_reconcile() {
    let env = setup();
    for path in [GIT, KS] {
        let mut object = env.fake.get(path).unwrap();
        object["spec"]["suspend"] = json!(true);
        env.fake.put(path, object);
    }
    let timeout = std::time::Duration::from_secs(5);
    let client = env.ctx.client.clone();

    let source =
        trigger::reconcile::<GitRepository>(client.clone(), "flux-system", "myapp-source", timeout)
            .await;
    let ks = trigger::reconcile::<Kustomization>(client, "flux-system", "myapp", timeout).await;

    for result in [source, ks] {
        assert!(matches!(result, Err(trigger::Error::Suspended)), "{result:?}");
    }
    assert_eq!(trigger::Error::Suspended.to_string(), "resource is suspended");
    for path in [GIT, KS] {
        assert!(env.fake.get(path).unwrap()["metadata"].get("annotations").is_none(), "untouched");
    }
}

#[tokio::test]
async fn a_silent_git_server_fails_each_reconcile_by_spec_timeout_without_piling_up_connections() {
    let env = setup();
    let server = gitops_support::SilentServer::start();
    let mut git = env.fake.get(GIT).unwrap();
    git["spec"]["url"] = json!(server.url);
    git["spec"]["timeout"] = json!("1s");
    env.fake.put(GIT, git);

    for requested_at in ["t1", "t2", "t3"] {
        let source = env.reconcile_source(requested_at).await;
        let message = "git operation timed out (spec.timeout)";
        assert_eq!(ready(&source), ("False".into(), "GitOperationFailed".into(), message.into()));
        assert!(
            server.all_closed_within(std::time::Duration::from_secs(5)).await,
            "{} connections left open after {requested_at}",
            server.open()
        );
    }
}

fn condition(object: &Value, type_: &str) -> Option<(String, String)> {
    let conditions = object["status"]["conditions"].as_array()?;
    let c = conditions.iter().find(|c| c["type"] == type_)?;
    Some((c["status"].as_str()?.into(), c["reason"].as_str()?.into()))
}

#[tokio::test]
async fn spec_path_starts_at_the_source_root_and_a_missing_path_is_retried_not_stalled() {
    let env = setup();
    env.repo.commit(&[("myapp/manifests/one.yaml", &cm("one", "1"))], "app");
    env.reconcile_source("t1").await;
    let set_path = |generation: i64, path: &str| {
        let mut ks = env.fake.get(KS).unwrap();
        ks["spec"]["path"] = json!(path);
        ks["metadata"]["generation"] = json!(generation);
        env.fake.put(KS, ks);
    };

    set_path(2, "/myapp/manifests");
    let ks = env.reconcile_kustomization("t1").await;
    assert_eq!(ready(&ks).1, "ReconciliationSucceeded", "{:?}", ready(&ks));
    assert!(env.fake.get(CM_ONE).is_some());

    set_path(3, "./not-yet");
    let ks = env.reconcile_kustomization("t2").await;
    assert_eq!(ready(&ks).1, "ArtifactFailed", "{:?}", ready(&ks));
    assert!(ready(&ks).2.contains("kustomization path not found"), "{:?}", ready(&ks));
    assert_eq!(condition(&ks, "Reconciling"), Some(("True".into(), "ProgressingWithRetry".into())));
    assert_eq!(condition(&ks, "Stalled"), None);

    set_path(4, "../outside");
    let ks = env.reconcile_kustomization("t3").await;
    assert_eq!(ready(&ks).1, "InvalidSpec", "{:?}", ready(&ks));
    assert_eq!(condition(&ks, "Stalled"), Some(("True".into(), "InvalidSpec".into())));
}

#[tokio::test]
async fn a_new_generation_is_shown_in_progress_and_removed_health_checks_leave_no_verdict() {
    let env = setup();
    env.repo.commit(&[("myapp/manifests/one.yaml", &cm("one", "1"))], "app");
    env.reconcile_source("t1").await;
    assert_eq!(ready(&env.reconcile_kustomization("t1").await).0, "True");

    // Generation 2 waits for an object that never appears.
    let mut ks = env.fake.get(KS).unwrap();
    ks["spec"]["wait"] = json!(false);
    ks["spec"]["timeout"] = json!("1s");
    ks["spec"]["healthChecks"] =
        json!([{"apiVersion": "v1", "kind": "ConfigMap", "name": "missing", "namespace": "apps"}]);
    ks["metadata"]["generation"] = json!(2);
    env.fake.put(KS, ks);
    let watch = async {
        for _ in 0..100 {
            let shown = ready(&env.fake.get(KS).unwrap());
            if shown.0 != "True" {
                return shown;
            }
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
        ready(&env.fake.get(KS).unwrap())
    };
    let (ks, while_applying) = tokio::join!(env.reconcile_kustomization("t2"), watch);
    let progressing = "Reconciliation in progress";
    assert_eq!(while_applying, ("Unknown".into(), "Progressing".into(), progressing.into()));
    assert_eq!(ready(&ks).1, "HealthCheckFailed");
    assert_eq!(condition(&ks, "Healthy"), Some(("False".into(), "HealthCheckFailed".into())));

    let mut ks = env.fake.get(KS).unwrap();
    ks["spec"].as_object_mut().unwrap().remove("healthChecks");
    ks["metadata"]["generation"] = json!(3);
    env.fake.put(KS, ks);
    let ks = env.reconcile_kustomization("t3").await;
    assert_eq!(ready(&ks).0, "True");
    assert_eq!(condition(&ks, "Healthy"), None, "no stale verdict next to Ready=True");
}

#[tokio::test]
async fn fields_not_supported_yet_stall_with_a_message_naming_them() {
    let env = setup();
    let mut git = env.fake.get(GIT).unwrap();
    git["spec"]["verify"] = json!({"mode": "HEAD", "secretRef": {"name": "keys"}});
    env.fake.put(GIT, git);
    let source = env.reconcile_source("t1").await;
    assert_eq!(ready(&source).0, "False");
    assert!(ready(&source).2.starts_with("spec.verify"), "{:?}", ready(&source));
    let stalled = source["status"]["conditions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["type"] == "Stalled")
        .unwrap();
    assert_eq!(stalled["status"], "True");

    let mut ks = env.fake.get(KS).unwrap();
    ks["spec"]["decryption"] = json!({"provider": "sops"});
    env.fake.put(KS, ks);
    let ks = env.reconcile_kustomization("t1").await;
    assert_eq!(ready(&ks).1, "InvalidSpec");
    assert!(ready(&ks).2.starts_with("spec.decryption is not supported yet"), "{:?}", ready(&ks));
}

#[tokio::test]
async fn removing_spec_ignore_clears_observed_ignore_and_the_next_poll_is_a_no_op() {
    let env = setup();
    env.repo
        .commit(&[("myapp/manifests/one.yaml", &cm("one", "1")), ("docs/x.yaml", "x: 1\n")], "app");
    let mut git = env.fake.get(GIT).unwrap();
    git["spec"]["ignore"] = json!("/docs/\n");
    env.fake.put(GIT, git);
    let source = env.reconcile_source("t1").await;
    assert_eq!(source["status"]["observedIgnore"], "/docs/\n");

    let mut git = env.fake.get(GIT).unwrap();
    git["spec"].as_object_mut().unwrap().remove("ignore");
    git["metadata"]["generation"] = json!(2);
    env.fake.put(GIT, git);
    let rebuilt = env.reconcile_source("t2").await;
    assert!(rebuilt["status"].get("observedIgnore").is_none(), "{}", rebuilt["status"]);

    let polled = env.reconcile_source("t3").await;
    assert_eq!(polled["status"]["artifact"], rebuilt["status"]["artifact"], "no new artifact");
}
