//! The self-service portal over the shipped PostgreSQLInstance XRD: the generated form, server
//! validation, the YAML preview, and Submit committing the claim into a real local Git
//! repository (or, without one, applying it).

mod web_support;

use std::path::{Path, PathBuf};

use git2::{Index, IndexEntry, IndexTime, Repository, Signature};
use http::{StatusCode, header};
use serde_json::{Value, json};

use crosstie::web::{Config, GitTarget};
use web_support::{App, app, config, put};

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

struct Portal {
    app: App,
    repo: Repository,
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
    let app = app(config, |_, writers| put(&mut writers.xrds, shipped_xrd())).await;
    Portal { app, repo, _dir: dir }
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
    assert!(p.app.seen().is_empty(), "with Git configured nothing is applied directly");

    // The requester follows the claim's tree, which waits for the Git loop to apply it.
    let (status, tree) = p.app.get("/tree/PostgreSQLInstance/orders-db?namespace=team-a").await;
    assert_eq!(status, StatusCode::OK);
    assert!(tree.contains("Not in the cluster yet"));
}

#[tokio::test]
async fn without_a_git_repository_the_claim_is_applied_server_side() {
    let app = app(config(), |_, writers| put(&mut writers.xrds, shipped_xrd())).await;
    let mut form = valid();
    form.push(("intent", "submit"));
    let (status, _, body) = app.post(TEMPLATE, &form, true).await;
    assert_eq!(status, StatusCode::SEE_OTHER, "{body}");
    let seen = app.seen();
    assert_eq!(seen.len(), 1);
    assert_eq!(seen[0].method, "PATCH");
    assert_eq!(seen[0].content_type, "application/apply-patch+yaml");
    assert!(seen[0].uri.starts_with(
        "/apis/database.crosstie.io/v1alpha1/namespaces/team-a/postgresqlinstances/orders-db?"
    ));
    assert!(
        seen[0].uri.contains("force=true")
            && seen[0].uri.contains("fieldManager=crosstie-dashboard")
    );
    assert_eq!(seen[0].body["spec"]["parameters"]["storageGB"], 20);
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
