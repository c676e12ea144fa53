//! The self-service portal over the shipped PostgreSQLInstance XRD: the generated form, server
//! validation, the YAML preview, and Submit committing the claim into a real local Git
//! repository (or, without one, creating it), checked against the real embedded API server.

mod web_support;

use std::path::{Path, PathBuf};

use git2::{Index, IndexEntry, IndexTime, Repository, Signature};
use http::{StatusCode, header};
use kube::api::{Api, DynamicObject, PostParams};
use kube::core::ApiResource;
use serde_json::{Value, json};

use crosstie::web::{Config, GitTarget};
use web_support::{App, Cluster, app, app_with, cluster, config, put};

const TEMPLATE: &str = "/portal/xpostgresqlinstances.database.crosstie.io";
const XSS: &str = "<script>alert(1)</script>";

fn shipped_xrd() -> Value {
    let path =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("compositions/xrd-postgresqlinstance.yaml");
    serde_saphyr::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

/// A bare repository with one commit on `main` holding a README.
fn remote(dir: &Path) -> Repository {
    let repo = Repository::init_bare(dir).unwrap();
    let mut index = Index::new().unwrap();
    let entry = IndexEntry {
        ctime: IndexTime::new(0, 0),
        mtime: IndexTime::new(0, 0),
        dev: 0,
        ino: 0,
        mode: 0o100644,
        uid: 0,
        gid: 0,
        file_size: 11,
        id: repo.blob(b"# platform\n").unwrap(),
        flags: 0,
        flags_extended: 0,
        path: b"README.md".to_vec(),
    };
    index.add(&entry).unwrap();
    let tree = repo.find_tree(index.write_tree_to(&repo).unwrap()).unwrap();
    let me = Signature::now("Platform", "platform@example.org").unwrap();
    repo.commit(Some("refs/heads/main"), &me, &me, "Start", &tree, &[]).unwrap();
    drop(tree);
    repo
}

fn head(repo: &Repository) -> git2::Commit<'_> {
    repo.find_reference("refs/heads/main").unwrap().peel_to_commit().unwrap()
}

/// The blob at `path` on `main`.
fn file(repo: &Repository, path: &str) -> String {
    let entry = head(repo).tree().unwrap().get_path(Path::new(path)).unwrap();
    String::from_utf8(repo.find_blob(entry.id()).unwrap().content().to_vec()).unwrap()
}

/// The PostgreSQLInstance claims of `namespace`.
fn claims(cluster: &Cluster, namespace: &str) -> Api<DynamicObject> {
    let resource = ApiResource {
        group: "database.crosstie.io".into(),
        version: "v1alpha1".into(),
        api_version: "database.crosstie.io/v1alpha1".into(),
        kind: "PostgreSQLInstance".into(),
        plural: "postgresqlinstances".into(),
    };
    Api::namespaced_with(cluster.client.clone(), namespace, &resource)
}

/// Claim `name` in `team-a`, as a platform engineer created it with kubectl.
async fn created_by_kubectl(cluster: &Cluster, name: &str) {
    let claim = serde_json::from_value(json!({
        "apiVersion": "database.crosstie.io/v1alpha1", "kind": "PostgreSQLInstance",
        "metadata": {"name": name, "namespace": "team-a"},
        "spec": {"parameters": {"storageGB": 100, "region": "us-east-1", "subnetIds": ["subnet-x"]},
            "writeConnectionSecretToRef": {"name": "orders-db-prod"}},
    }))
    .unwrap();
    let params = PostParams { field_manager: Some("kubectl-create".into()), ..Default::default() };
    claims(cluster, "team-a").create(&params, &claim).await.unwrap();
}

/// The live claim's `spec`.
async fn live_spec(cluster: &Cluster, name: &str) -> Value {
    claims(cluster, "team-a").get(name).await.unwrap().data["spec"].clone()
}

struct Portal {
    app: App,
    repo: Repository,
    cluster: Cluster,
    _dir: tempfile::TempDir,
}

async fn portal(read_only: bool) -> Portal {
    let dir = tempfile::tempdir().unwrap();
    let remote_dir: PathBuf = dir.path().join("platform.git");
    let repo = remote(&remote_dir);
    let git = GitTarget {
        url: remote_dir.to_str().unwrap().to_owned(),
        branch: "main".into(),
        path: "clusters/dev/claims".into(),
        cache_dir: dir.path().join("cache"),
    };
    let config = Config { git: Some(git), read_only, ..config() };
    let cluster = cluster(&shipped_xrd()).await;
    let app = app_with(cluster.client.clone(), config, |_, writers| {
        put(&mut writers.xrds, shipped_xrd())
    })
    .await;
    Portal { app, repo, cluster, _dir: dir }
}

fn valid() -> Vec<(&'static str, &'static str)> {
    vec![
        ("metadata.name", "orders-db"),
        ("metadata.namespace", "team-a"),
        ("spec.parameters.storageGB", "20"),
        ("spec.parameters.size", "medium"),
        ("spec.parameters.version", "16"),
        ("spec.parameters.region", "eu-west-1"),
        ("spec.parameters.subnetIds", "subnet-a\r\nsubnet-b"),
        ("spec.writeConnectionSecretToRef.name", "orders-db-conn"),
    ]
}

#[tokio::test]
async fn the_form_is_generated_from_the_shipped_xrd_schema() {
    let p = portal(false).await;
    let (_, index) = p.app.get("/portal").await;
    assert!(index.contains(
        r#"<a href="/portal/xpostgresqlinstances.database.crosstie.io">PostgreSQLInstance</a>"#
    ));

    let (status, form) = p.app.get(TEMPLATE).await;
    assert_eq!(status, StatusCode::OK);
    for part in [
        r#"<input type="number" step="1" name="spec.parameters.storageGB" value="" required min="20" max="1000">"#,
        r#"<select name="spec.parameters.size"><option value="">—</option><option selected>small</option><option>medium</option><option>large</option></select>"#,
        r#"<input name="spec.parameters.version" value="16">"#,
        r#"<textarea name="spec.parameters.subnetIds" rows="3" required data-min-items="1"></textarea>"#,
        "Allocated storage in GiB.",
        "its connection Secret holds endpoint, port, username, password",
    ] {
        assert!(form.contains(part), "missing {part:?} in {form}");
    }
}

#[tokio::test]
async fn an_invalid_value_is_reported_by_field_and_nothing_is_committed() {
    let p = portal(false).await;
    let before = head(&p.repo).id();
    let mut form = valid();
    form[2] = ("spec.parameters.storageGB", "10");
    form[3] = ("spec.parameters.size", "gigantic");
    form.push(("intent", "submit"));
    let (status, _, page) = p.app.post(TEMPLATE, &form, true).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        page.contains(
            r#"<span class="msg" data-for="spec.parameters.storageGB">must be at least 20</span>"#
        ),
        "{page}"
    );
    assert!(page.contains(r#"<span class="msg" data-for="spec.parameters.size">must be one of small, medium, large</span>"#));
    assert!(page.contains(r#"value="10""#), "the user's input is kept");
    assert_eq!(head(&p.repo).id(), before);
}

#[tokio::test]
async fn preview_shows_the_claim_yaml_without_committing() {
    let p = portal(false).await;
    let before = head(&p.repo).id();
    let mut form = valid();
    form.push(("intent", "preview"));
    let (status, _, page) = p.app.post(TEMPLATE, &form, true).await;
    assert_eq!(status, StatusCode::OK);
    assert!(page.contains("kind: PostgreSQLInstance"), "{page}");
    assert!(page.contains("storageGB: 20"));
    assert_eq!(head(&p.repo).id(), before);
}

#[tokio::test]
async fn a_valid_claim_is_committed_with_the_requester_as_author_and_pushed() {
    let p = portal(false).await;
    let seed = head(&p.repo).id();
    let mut form = valid();
    form.push(("intent", "submit"));
    let (status, headers, body) = p.app.post(TEMPLATE, &form, true).await;
    assert_eq!(status, StatusCode::SEE_OTHER, "{body}");
    assert_eq!(headers[header::LOCATION], "/tree/PostgreSQLInstance/orders-db?namespace=team-a");

    let commit = head(&p.repo);
    assert_eq!(commit.parent_id(0).unwrap(), seed);
    assert_eq!(commit.author().name().unwrap(), "Ada Lovelace");
    assert_eq!(commit.author().email().unwrap(), "ada@example.org");
    assert_eq!(commit.summary().unwrap(), Some("Add claim team-a/orders-db"));
    let tree = commit.tree().unwrap();
    assert!(tree.get_path(Path::new("README.md")).is_ok(), "earlier files are kept");
    let entry = tree.get_path(Path::new("clusters/dev/claims/team-a/orders-db.yaml")).unwrap();
    let blob = p.repo.find_blob(entry.id()).unwrap();
    let claim: Value =
        serde_saphyr::from_str(std::str::from_utf8(blob.content()).unwrap()).unwrap();
    assert_eq!(
        claim,
        json!({
            "apiVersion": "database.crosstie.io/v1alpha1",
            "kind": "PostgreSQLInstance",
            "metadata": {"name": "orders-db", "namespace": "team-a"},
            "spec": {
                "parameters": {"storageGB": 20, "size": "medium", "version": "16", "region": "eu-west-1", "subnetIds": ["subnet-a", "subnet-b"]},
                "writeConnectionSecretToRef": {"name": "orders-db-conn"},
            },
        })
    );
    let live = claims(&p.cluster, "team-a").get_opt("orders-db").await.unwrap();
    assert!(live.is_none(), "with Git configured the cluster was only asked (a dry run)");

    // The requester follows the claim's tree, which waits for the Git loop to apply it.
    let (status, tree) = p.app.get("/tree/PostgreSQLInstance/orders-db?namespace=team-a").await;
    assert_eq!(status, StatusCode::OK);
    assert!(tree.contains("Not in the cluster yet"));
}

#[tokio::test]
async fn a_claim_already_in_the_cluster_is_refused_and_nothing_is_committed() {
    let p = portal(false).await;
    created_by_kubectl(&p.cluster, "orders-db").await;
    let before = head(&p.repo).id();
    let mut form = valid();
    form.push(("intent", "submit"));
    let (status, _, page) = p.app.post(TEMPLATE, &form, true).await;
    assert_eq!(status, StatusCode::CONFLICT, "{page}");
    assert!(page.contains("PostgreSQLInstance team-a/orders-db already exists"), "{page}");
    assert!(page.contains(r#"value="orders-db-conn""#), "the form is kept");
    assert_eq!(head(&p.repo).id(), before);
    assert_eq!(live_spec(&p.cluster, "orders-db").await["parameters"]["storageGB"], 100);
}

#[tokio::test]
async fn a_claim_already_in_the_repository_is_refused_not_replaced() {
    let p = portal(false).await;
    let mut form = valid();
    form.push(("intent", "submit"));
    let (status, _, _) = p.app.post(TEMPLATE, &form, true).await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    let first = head(&p.repo).id();
    let committed = file(&p.repo, "clusters/dev/claims/team-a/orders-db.yaml");

    // Not applied yet: only the repository knows the name is taken.
    form[2] = ("spec.parameters.storageGB", "500");
    let (status, _, page) = p.app.post(TEMPLATE, &form, true).await;
    assert_eq!(status, StatusCode::CONFLICT, "{page}");
    assert!(page.contains("PostgreSQLInstance team-a/orders-db already exists (clusters/dev/claims/team-a/orders-db.yaml is in the repository)"), "{page}");
    assert_eq!(head(&p.repo).id(), first);
    assert_eq!(file(&p.repo, "clusters/dev/claims/team-a/orders-db.yaml"), committed);
}

#[tokio::test]
async fn a_claim_into_a_namespace_that_does_not_exist_is_refused_in_the_form() {
    let p = portal(false).await;
    let before = head(&p.repo).id();
    let mut form = valid();
    form[1] = ("metadata.namespace", "team-z");
    form.push(("intent", "submit"));
    let (status, _, page) = p.app.post(TEMPLATE, &form, true).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{page}");
    assert!(
        page.contains("Not submitted: Kubernetes API: namespaces &quot;team-z&quot; not found"),
        "{page}"
    );
    assert!(page.contains(r#"value="team-z""#), "the form is kept");
    assert_eq!(head(&p.repo).id(), before, "a commit would block the Kustomization");
}

#[tokio::test]
async fn without_a_git_repository_the_claim_is_created_and_an_existing_one_left_alone() {
    let cluster = cluster(&shipped_xrd()).await;
    let app = app_with(cluster.client.clone(), config(), |_, writers| {
        put(&mut writers.xrds, shipped_xrd())
    })
    .await;
    let mut form = valid();
    form.push(("intent", "submit"));
    let (status, _, body) = app.post(TEMPLATE, &form, true).await;
    assert_eq!(status, StatusCode::SEE_OTHER, "{body}");
    let created = claims(&cluster, "team-a").get("orders-db").await.unwrap();
    assert_eq!(created.data["spec"]["parameters"]["storageGB"], 20);
    let managers = created.metadata.managed_fields.unwrap_or_default();
    assert_eq!(managers.len(), 1, "{managers:?}");
    assert_eq!(managers[0].manager.as_deref(), Some("crosstie-dashboard"));

    // Submitted again, and over a claim made with kubectl: refused, never force-applied.
    created_by_kubectl(&cluster, "billing-db").await;
    for name in ["orders-db", "billing-db"] {
        let mut again = valid();
        again[0] = ("metadata.name", name);
        again[2] = ("spec.parameters.storageGB", "900");
        again.push(("intent", "submit"));
        let (status, _, page) = app.post(TEMPLATE, &again, true).await;
        assert_eq!(status, StatusCode::CONFLICT, "{page}");
        assert!(page.contains(&format!("PostgreSQLInstance team-a/{name} already exists")));
    }
    assert_eq!(live_spec(&cluster, "orders-db").await["parameters"]["storageGB"], 20);
    let kubectls = live_spec(&cluster, "billing-db").await;
    assert_eq!(kubectls["parameters"]["storageGB"], 100);
    assert_eq!(kubectls["writeConnectionSecretToRef"]["name"], "orders-db-prod");
}

#[tokio::test]
async fn credentials_in_the_portal_git_url_are_never_shown() {
    let git = GitTarget {
        url: "http://deploy:ghp_TOKEN@127.0.0.1:9/platform.git".into(),
        branch: "main".into(),
        path: "claims".into(),
        cache_dir: tempfile::tempdir().unwrap().path().join("cache"),
    };
    let secret_free = format!("{git:?}");
    let config = Config { git: Some(git), ..config() };
    let app = app(config, |_, writers| put(&mut writers.xrds, shipped_xrd())).await;
    let (_, page) = app.get(TEMPLATE).await;
    assert!(page.contains("<code>http://127.0.0.1:9/platform.git</code>"), "{page}");
    for shown in [page, secret_free] {
        assert!(!shown.contains("ghp_TOKEN") && !shown.contains("deploy"), "{shown}");
    }
}

#[tokio::test]
async fn read_only_mode_refuses_submissions() {
    let p = portal(true).await;
    let before = head(&p.repo).id();
    let mut form = valid();
    form.push(("intent", "submit"));
    let (status, _, _) = p.app.post(TEMPLATE, &form, true).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, _, _) = p.app.post(TEMPLATE, &form[..form.len() - 1], false).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(head(&p.repo).id(), before);
}

#[tokio::test]
async fn template_annotations_are_used_and_render_inert() {
    let mut xrd = shipped_xrd();
    xrd["metadata"]["annotations"] = json!({
        "portal.crosstie.io/title": format!("Postgres {XSS}"),
        "portal.crosstie.io/description": XSS,
        "portal.crosstie.io/category": "Databases",
    });
    let app = app(config(), |_, writers| put(&mut writers.xrds, xrd)).await;
    for uri in ["/portal", TEMPLATE] {
        let (_, page) = app.get(uri).await;
        assert!(!page.contains(XSS), "{uri}");
        assert!(page.contains("Postgres &lt;script&gt;alert(1)&lt;/script&gt;"), "{uri}");
    }
    let (_, index) = app.get("/portal").await;
    assert!(index.contains("<h2>Databases</h2>"));
}
