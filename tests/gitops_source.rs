//! The Git source against real repositories made with the `git` CLI: reached by path, `file://`
//! and smart HTTP with basic auth from a local `git http-backend`.

mod gitops_support;

use std::time::Duration;

use crosstie::gitops::api::GitRepositoryRef;
use crosstie::gitops::source::tls::TrustedCa;
use crosstie::gitops::source::{Auth, Error, GitStorage, Outcome, SourceRequest};
use gitops_support::{HttpServer, Repo, SilentServer, git};

fn request(url: &str, reference: GitRepositoryRef) -> SourceRequest {
    SourceRequest {
        namespace: "flux-system".into(),
        name: "app".into(),
        url: url.into(),
        reference: Some(reference),
        auth: Auth::None,
        ca: None,
        timeout: Duration::from_secs(30),
        ignore: None,
        last_artifact: None,
        last_ignore: None,
    }
}

fn branch(name: &str) -> GitRepositoryRef {
    GitRepositoryRef { branch: Some(name.into()), ..Default::default() }
}

fn new_artifact(outcome: Outcome) -> crosstie::gitops::api::Artifact {
    match outcome {
        Outcome::NewArtifact(a) => a,
        Outcome::Unchanged => panic!("expected a new artifact"),
    }
}

/// Apply the last success to the request, as the controller does from status.
fn remember(req: &mut SourceRequest, artifact: &crosstie::gitops::api::Artifact) {
    req.last_artifact = Some(artifact.clone());
    req.last_ignore = req.ignore.clone();
}

#[test]
fn a_branch_is_fetched_into_an_artifact_with_a_flux_revision() {
    let repo = Repo::new();
    let sha =
        repo.commit(&[("apps/cm.yaml", "kind: ConfigMap\n"), (".github/ci.yml", "x")], "first");
    let data = tempfile::tempdir().unwrap();
    let storage = GitStorage::new(data.path());

    let artifact =
        new_artifact(storage.reconcile(&request(&repo.file_url(), branch("main"))).unwrap());

    assert_eq!(artifact.revision, format!("main@sha1:{sha}"));
    assert_eq!(artifact.path, format!("gitrepository/flux-system/app/{sha}"));
    assert!(artifact.digest.as_deref().unwrap().starts_with("sha256:"));
    let dir = storage.artifact_dir(&artifact);
    assert_eq!(std::fs::read_to_string(dir.join("apps/cm.yaml")).unwrap(), "kind: ConfigMap\n");
    assert!(!dir.join(".github").exists(), "default exclusions apply");
    assert_eq!(artifact.size, Some("kind: ConfigMap\n".len() as i64));
}

#[test]
fn tags_semver_ranges_and_commits_select_the_right_revision() {
    let repo = Repo::new();
    let first = repo.commit(&[("v.txt", "1.0.0")], "one");
    repo.tag("v1.0.0");
    let second = repo.commit(&[("v.txt", "1.4.0")], "two");
    repo.tag("v1.4.0");
    let third = repo.commit(&[("v.txt", "2.0.0")], "three");
    repo.tag("v2.0.0");
    let data = tempfile::tempdir().unwrap();
    let storage = GitStorage::new(data.path());
    // A plain path works as a URL too.
    let url = repo.bare.to_str().unwrap();

    let tag = GitRepositoryRef { tag: Some("v1.0.0".into()), ..Default::default() };
    let a = new_artifact(storage.reconcile(&request(url, tag)).unwrap());
    assert_eq!(
        a.revision,
        format!("v1.0.0@sha1:{first}"),
        "annotated tags are peeled to the commit"
    );
    assert_eq!(std::fs::read_to_string(storage.artifact_dir(&a).join("v.txt")).unwrap(), "1.0.0");

    let semver = GitRepositoryRef { semver: Some(">=1.0.0 <2.0.0".into()), ..Default::default() };
    let a = new_artifact(storage.reconcile(&request(url, semver)).unwrap());
    assert_eq!(a.revision, format!("v1.4.0@sha1:{second}"));

    let commit = GitRepositoryRef { commit: Some(first.clone()), ..Default::default() };
    let a = new_artifact(storage.reconcile(&request(url, commit)).unwrap());
    assert_eq!(a.revision, format!("sha1:{first}"));

    let on_branch = GitRepositoryRef {
        commit: Some(second.clone()),
        branch: Some("main".into()),
        ..Default::default()
    };
    let a = new_artifact(storage.reconcile(&request(url, on_branch)).unwrap());
    assert_eq!(a.revision, format!("main@sha1:{second}"));

    let name = GitRepositoryRef { name: Some("refs/heads/main".into()), ..Default::default() };
    let a = new_artifact(storage.reconcile(&request(url, name)).unwrap());
    assert_eq!(a.revision, format!("main@sha1:{third}"));

    let missing = storage.reconcile(&request(url, branch("nope"))).unwrap_err();
    assert!(matches!(missing, Error::RefNotFound(ref r) if r == "refs/heads/nope"), "{missing}");
}

#[test]
fn an_unchanged_remote_costs_one_ref_listing_and_no_fetch() {
    let repo = Repo::new();
    repo.commit(&[("a.yaml", "a: 1\n")], "first");
    let server = HttpServer::start(&repo.bare, "flux", "s3cret");
    let data = tempfile::tempdir().unwrap();
    let storage = GitStorage::new(data.path());
    let mut req = request(&server.url, branch("main"));
    req.auth = Auth::Basic { username: "flux".into(), password: "s3cret".into() };

    let first = new_artifact(storage.reconcile(&req).unwrap());
    let first_requests = server.take_requests();
    assert!(
        first_requests.iter().any(|r| r.starts_with("POST") && r.contains("git-upload-pack")),
        "{first_requests:?}"
    );
    remember(&mut req, &first);

    assert_eq!(storage.reconcile(&req).unwrap(), Outcome::Unchanged);
    let polled = server.take_requests();
    // One ls-remote: libgit2 asks without credentials first and repeats after the 401.
    let listing = "GET /repo.git/info/refs?service=git-upload-pack".to_owned();
    assert_eq!(polled, vec![listing.clone(), listing], "one ref listing, no fetch");
}

#[test]
fn a_new_commit_is_fetched_incrementally_into_a_new_revision() {
    let repo = Repo::new();
    repo.commit(&[("a.yaml", "a: 1\n")], "first");
    let data = tempfile::tempdir().unwrap();
    let storage = GitStorage::new(data.path());
    let mut req = request(&repo.file_url(), branch("main"));
    let first = new_artifact(storage.reconcile(&req).unwrap());
    remember(&mut req, &first);

    let sha = repo.commit(&[("b.yaml", "b: 2\n")], "second");
    let second = new_artifact(storage.reconcile(&req).unwrap());

    assert_eq!(second.revision, format!("main@sha1:{sha}"));
    assert!(storage.artifact_dir(&second).join("b.yaml").exists());
    assert_ne!(first.digest, second.digest);
    // The cache is the same repository, updated in place: both commits are in it.
    let cache = data.path().join("git/flux-system/app.git");
    let first_sha = first.revision.rsplit(':').next().unwrap();
    git(&cache, &["cat-file", "-e", first_sha]);
    git(&cache, &["cat-file", "-e", &sha]);
}

#[test]
fn a_force_pushed_branch_is_followed() {
    let repo = Repo::new();
    repo.commit(&[("a.yaml", "a: 1\n")], "first");
    let data = tempfile::tempdir().unwrap();
    let storage = GitStorage::new(data.path());
    let mut req = request(&repo.file_url(), branch("main"));
    let before = repo.commit(&[("bad.yaml", "oops\n")], "to be rewritten");
    let first = new_artifact(storage.reconcile(&req).unwrap());
    assert_eq!(first.revision, format!("main@sha1:{before}"));
    remember(&mut req, &first);

    git(&repo.work, &["reset", "-q", "--hard", "HEAD~1"]);
    std::fs::write(repo.work.join("good.yaml"), "good: true\n").unwrap();
    git(&repo.work, &["add", "-A"]);
    git(&repo.work, &["commit", "-q", "-m", "rewritten"]);
    git(&repo.work, &["push", "-q", "--force", "origin", "HEAD:main"]);
    let after = git(&repo.work, &["rev-parse", "HEAD"]);

    let second = new_artifact(storage.reconcile(&req).unwrap());
    assert_eq!(second.revision, format!("main@sha1:{after}"));
    let dir = storage.artifact_dir(&second);
    assert!(dir.join("good.yaml").exists() && !dir.join("bad.yaml").exists());
}

#[test]
fn basic_auth_over_smart_http_clones_and_a_wrong_password_is_an_authentication_failure() {
    let repo = Repo::new();
    let sha = repo.commit(&[("a.yaml", "a: 1\n")], "first");
    let server = HttpServer::start(&repo.bare, "flux", "s3cret");
    let data = tempfile::tempdir().unwrap();
    let storage = GitStorage::new(data.path());

    let mut req = request(&server.url, branch("main"));
    req.auth = Auth::Basic { username: "flux".into(), password: "s3cret".into() };
    assert_eq!(new_artifact(storage.reconcile(&req).unwrap()).revision, format!("main@sha1:{sha}"));

    req.auth = Auth::Basic { username: "flux".into(), password: "wrong".into() };
    let err = storage.reconcile(&req).unwrap_err();
    assert!(matches!(err, Error::Auth(_)), "{err:?}");
    assert_eq!(err.reason(), "AuthenticationFailed");

    req.auth = Auth::None;
    let err = storage.reconcile(&req).unwrap_err();
    assert_eq!(err.reason(), "AuthenticationFailed", "{err:?}");
}

#[test]
fn ignore_rules_shape_the_artifact_and_a_changed_rule_rebuilds_it() {
    let repo = Repo::new();
    repo.commit(
        &[
            ("deploy/app.yaml", "app: 1\n"),
            ("deploy/secret-dev.yaml", "s: 1\n"),
            ("deploy/.sourceignore", "secret-*.yaml\n"),
            ("docs/readme.yaml", "doc: 1\n"),
            ("logo.png", "png"),
        ],
        "first",
    );
    let data = tempfile::tempdir().unwrap();
    let storage = GitStorage::new(data.path());
    let mut req = request(&repo.file_url(), branch("main"));

    let a = new_artifact(storage.reconcile(&req).unwrap());
    let dir = storage.artifact_dir(&a);
    assert!(dir.join("deploy/app.yaml").exists());
    assert!(!dir.join("deploy/secret-dev.yaml").exists(), ".sourceignore applies in its directory");
    assert!(!dir.join("logo.png").exists(), "default exclusions");
    assert!(dir.join("docs/readme.yaml").exists());
    remember(&mut req, &a);

    req.ignore = Some("/docs/\n".into());
    let b = new_artifact(storage.reconcile(&req).unwrap());
    assert_eq!(a.revision, b.revision, "same commit, new content settings");
    assert!(!storage.artifact_dir(&b).join("docs").exists());
    assert_ne!(a.digest, b.digest);
}

#[test]
fn an_ssh_url_is_refused_with_a_clear_message() {
    let data = tempfile::tempdir().unwrap();
    let err = GitStorage::new(data.path())
        .reconcile(&request("ssh://git@127.0.0.1/repo.git", branch("main")))
        .unwrap_err();
    assert!(err.is_stalling() && err.to_string().contains("spec.url"), "{err}");
}

#[tokio::test]
async fn a_remote_that_never_answers_fails_by_the_timeout_and_keeps_no_connection_open() {
    let server = SilentServer::start();
    let data = tempfile::tempdir().unwrap();
    let storage = GitStorage::new(data.path());

    for attempt in 1..=3 {
        let mut req = request(&server.url, branch("main"));
        req.timeout = Duration::from_millis(300);
        let err = storage.reconcile_async(req).await.unwrap_err();
        assert!(matches!(err, Error::Timeout), "{err:?}");
        assert_eq!(err.reason(), "GitOperationFailed");
        assert!(
            server.all_closed_within(Duration::from_secs(5)).await,
            "attempt {attempt} left {} connections to the silent remote open",
            server.open()
        );
    }
}

#[tokio::test]
async fn concurrent_reconciles_of_one_source_run_one_git_operation_at_a_time() {
    let server = SilentServer::start();
    let data = tempfile::tempdir().unwrap();
    let storage = GitStorage::new(data.path());
    let attempt = || {
        let mut req = request(&server.url, branch("main"));
        req.timeout = Duration::from_millis(500);
        storage.reconcile_async(req)
    };

    let (a, b, c) = tokio::join!(attempt(), attempt(), attempt());

    for result in [a, b, c] {
        assert!(matches!(result, Err(Error::Timeout)), "{result:?}");
    }
    assert_eq!(server.most_open(), 1, "one connection at a time to the remote");
    assert!(server.all_closed_within(Duration::from_secs(5)).await);
}

#[tokio::test]
async fn http_and_https_remotes_are_fetched_through_the_timeout_relay() {
    let repo = Repo::new();
    let sha = repo.commit(&[("a.yaml", "a: 1\n")], "first");
    let (ca_pem, tls) = gitops_support::test_tls();
    let http = HttpServer::start(&repo.bare, "flux", "s3cret");
    let https = HttpServer::start_tls(&repo.bare, "flux", "s3cret", tls);
    let ca = TrustedCa::from_pem("git-auth", ca_pem.as_bytes()).unwrap();

    for (server, ca) in [(&http, None), (&https, Some(ca))] {
        let data = tempfile::tempdir().unwrap();
        let mut req = request(&server.url, branch("main"));
        req.auth = Auth::Basic { username: "flux".into(), password: "s3cret".into() };
        req.ca = ca;
        let outcome = GitStorage::new(data.path()).reconcile_async(req).await;
        let artifact = new_artifact(outcome.unwrap());
        assert_eq!(artifact.revision, format!("main@sha1:{sha}"), "{}", server.url);
        assert!(
            server.take_requests().iter().any(|r| r.starts_with("POST /repo.git/git-upload-pack"))
        );
    }
}

#[tokio::test]
async fn an_unreachable_remote_is_reported_as_such_not_as_a_relay_hang_up() {
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let data = tempfile::tempdir().unwrap();
    let req = request(&format!("http://127.0.0.1:{port}/repo.git"), branch("main"));

    let err = GitStorage::new(data.path()).reconcile_async(req).await.unwrap_err();

    assert!(matches!(&err, Error::Git(m) if m.contains(&format!("127.0.0.1:{port}"))), "{err}");
}

#[test]
fn an_https_remote_signed_by_a_private_ca_is_trusted_only_with_its_ca_crt() {
    let repo = Repo::new();
    let sha = repo.commit(&[("a.yaml", "a: 1\n")], "first");
    let (ca_pem, tls) = gitops_support::test_tls();
    let server = HttpServer::start_tls(&repo.bare, "flux", "s3cret", tls);
    let data = tempfile::tempdir().unwrap();
    let storage = GitStorage::new(data.path());
    let mut req = request(&server.url, branch("main"));
    req.auth = Auth::Basic { username: "flux".into(), password: "s3cret".into() };

    let err = storage.reconcile(&req).unwrap_err();
    assert_eq!(err.reason(), "GitOperationFailed", "untrusted certificate: {err}");

    req.ca = Some(TrustedCa::from_pem("git-auth", ca_pem.as_bytes()).unwrap());
    let artifact = new_artifact(storage.reconcile(&req).unwrap());
    assert_eq!(artifact.revision, format!("main@sha1:{sha}"));

    let (other_ca, _) = gitops_support::test_tls();
    req.ca = Some(TrustedCa::from_pem("git-auth", other_ca.as_bytes()).unwrap());
    req.last_artifact = None;
    assert!(storage.reconcile(&req).is_err(), "another CA does not vouch for this server");
    let err = TrustedCa::from_pem("git-auth", b"not a certificate").unwrap_err();
    assert!(err.to_string().contains("ca.crt"), "{err}");
}
