//! The dashboard and portal in real headless Chromium, against `crosstie up` with moto as AWS
//! and a local Git repository the Git loop syncs and the portal commits to. Screenshots of each
//! step are saved under `target/screenshots/` (see `support::browser`).

mod gitops_support;
mod support;

use std::time::Duration;

use base64::Engine as _;
use gitops_support::{Repo, git};
use support::browser::Browser;
use support::serve::Serve;
use support::tools::{Moto, http_post, wait_for};

const TOKEN: &str = "browser-e2e-token";
const TEAM: &str = "analytics";
const FLUX: &str = "flux-system";
const REGION: &str = "us-east-1";
const XRD: &str = "xpostgresqlinstances.database.crosstie.io";
/// Sets `window.xssRan` if any of it ever runs as script.
const PAYLOAD: &str =
    r#"<script>window.xssRan = true</script><img src=x onerror="window.xssRan = true">"#;

/// `crosstie up` with the shipped compositions on moto, a Git repository synced by a
/// GitRepository + Kustomization (`./claims`, holding one ConfigMap), and the portal committing
/// to that repository.
struct Env {
    up: Serve,
    web: String,
    repo: Repo,
    subnets: Vec<String>,
    _moto: Moto,
}

impl Env {
    fn start() -> Self {
        let moto = Moto::start();
        let (_, subnets) = support::ec2::vpc_with_subnets(&moto.endpoint, REGION);
        let repo = Repo::new();
        let flags = format!(
            "apiVersion: v1\nkind: ConfigMap\nmetadata: {{name: flags, namespace: {FLUX}}}\ndata: {{greeting: blue}}\n"
        );
        repo.commit(&[("claims/flux-system/flags.yaml", &flags)], "flags");
        let url = repo.file_url();
        let up = Serve::up(&[
            "--poll-interval",
            "2s",
            "--web-token",
            TOKEN,
            "--portal-git-url",
            &url,
            "--portal-git-branch",
            "main",
            "--portal-git-path",
            "claims",
        ]);
        let web = format!("http://{}", up.web.clone().expect("web address"));
        up.ok(
            &["apply", "-f", "-"],
            Some(&format!(
                "apiVersion: v1
kind: Namespace
metadata: {{name: {TEAM}}}
---
apiVersion: v1
kind: Namespace
metadata: {{name: {FLUX}}}
",
            )),
        );
        up.ok(&["apply", "-f", "-"], Some(&support::aws::default_provider_config(&moto.endpoint)));
        up.ok(&["apply", "-f", concat!(env!("CARGO_MANIFEST_DIR"), "/compositions")], None);
        up.ok(
            &[
                "wait",
                "--for=condition=Established",
                "--timeout=60s",
                &format!("compositeresourcedefinition/{XRD}"),
            ],
            None,
        );
        wait_for("the claim kind to be served", Duration::from_secs(30), || {
            up.kubectl(&["get", "postgresqlinstances", "-n", TEAM], None)
                .status
                .success()
                .then_some(())
        });
        // Hour-long intervals: the test triggers every fetch and apply itself (from the
        // dashboard), so a drift record is not cleared by a timer before it is looked at.
        up.ok(
            &["apply", "-f", "-"],
            Some(&format!(
                "apiVersion: source.toolkit.fluxcd.io/v1
kind: GitRepository
metadata: {{name: platform, namespace: {FLUX}}}
spec: {{interval: 1h, url: '{url}', ref: {{branch: main}}}}
---
apiVersion: kustomize.toolkit.fluxcd.io/v1
kind: Kustomization
metadata: {{name: claims, namespace: {FLUX}}}
spec:
  interval: 1h
  sourceRef: {{kind: GitRepository, name: platform}}
  path: ./claims
  prune: true
"
            )),
        );
        Env { up, web, repo, subnets, _moto: moto }
    }

    fn head(&self) -> String {
        git(&self.repo.bare, &["rev-parse", "main"])
    }

    fn wait_ready(&self, claim: &str) {
        wait_for("the claim to exist", Duration::from_secs(120), || {
            self.up
                .kubectl(&["get", "postgresqlinstance", claim, "-n", TEAM], None)
                .status
                .success()
                .then_some(())
        });
        self.up.ok(
            &[
                "wait",
                "--for=condition=Ready",
                "--timeout=180s",
                "-n",
                TEAM,
                &format!("postgresqlinstance/{claim}"),
            ],
            None,
        );
    }

    fn tree_url(&self, claim: &str) -> String {
        format!("{}/tree/PostgreSQLInstance/{claim}?namespace={TEAM}", self.web)
    }
}

/// Reloads until an element matches `selector`; returns its text.
fn wait_for_element(browser: &Browser, selector: &str) -> String {
    wait_for(&format!("an element matching {selector}"), Duration::from_secs(120), || {
        if let Some(found) = browser.try_find(selector) {
            return Some(browser.text_of(&found));
        }
        std::thread::sleep(Duration::from_millis(500));
        browser.goto(&browser.url());
        None
    })
}

fn assert_no_script_ran(browser: &Browser, page: &str) {
    assert_eq!(
        browser.script("return window.xssRan === undefined;"),
        serde_json::Value::Bool(true),
        "the payload ran as script on {page}"
    );
}

#[test]
fn a_user_logs_in_follows_a_ready_claim_sees_drift_and_requests_a_database_through_the_portal() {
    let env = Env::start();
    env.up
        .ok(&["annotate", "xrd", XRD, &format!("portal.crosstie.io/description={PAYLOAD}")], None);
    env.up.ok(
        &["apply", "-f", "-"],
        Some(&format!(
            "apiVersion: database.crosstie.io/v1alpha1
kind: PostgreSQLInstance
metadata:
  name: reports-db
  namespace: {TEAM}
  annotations: {{crosstie.io/note: '{PAYLOAD}'}}
spec:
  parameters:
    storageGB: 30
    region: {REGION}
    subnetIds: [{}, {}]
  writeConnectionSecretToRef: {{name: reports-db-conn}}
",
            env.subnets[0], env.subnets[1]
        )),
    );
    let browser = Browser::start();

    // A wrong token is refused; the right one opens the overview.
    browser.goto(&format!("{}/", env.web));
    assert!(browser.url().ends_with("/login"), "pages need a login: {}", browser.url());
    browser.fill("input[name=token]", "not-the-token");
    browser.fill("input[name=name]", "Dana Developer");
    browser.fill("input[name=email]", "dana@example.com");
    browser.click(&browser.find("form.login button"));
    browser.wait_for_element_text("p.error", "Wrong token.");
    browser.screenshot("01-login-wrong-token");
    browser.fill("input[name=token]", TOKEN);
    browser.fill("input[name=name]", "Dana Developer");
    browser.fill("input[name=email]", "dana@example.com");
    browser.click(&browser.find("form.login button"));
    browser.wait_for_element_text("main h1", "Overview");
    browser.screenshot("02-overview");

    // A Ready claim's tree names its connection Secret's keys and never shows a value.
    env.wait_ready("reports-db");
    browser.goto(&env.tree_url("reports-db"));
    let claim_secret = "Secret/reports-db-conn (analytics) endpoint password port username";
    let tree = browser.wait_for_text(claim_secret, Duration::from_secs(60));
    assert!(tree.contains("PostgreSQLInstance/reports-db"), "{tree}");
    assert!(tree.contains("RDSInstance/"), "the managed resources are in the tree: {tree}");
    assert!(browser.try_find("ul.tree > li.node.ready").is_some(), "the claim is shown Ready");
    let encoded = env.up.ok(
        &["get", "secret", "reports-db-conn", "-n", TEAM, "-o", "jsonpath={.data.password}"],
        None,
    );
    let password = base64::engine::general_purpose::STANDARD.decode(encoded.trim()).unwrap();
    let password = String::from_utf8(password).unwrap();
    assert!(password.len() >= 8, "a real password was generated: {password:?}");
    let source = browser.source();
    assert!(!source.contains(&password), "the password is not in the page");
    assert!(!source.contains(encoded.trim()), "nor its base64");
    // The claim's annotations are listed (collapsed) in its details: as escaped text.
    assert!(source.contains("&lt;script&gt;window.xssRan"), "escaped in the tree's HTML");
    assert_no_script_ran(&browser, "the tree of a claim annotated with the payload");
    browser.screenshot("03-ready-claim-tree");
    // The composed instance's page links its diff: rendered from the composite through the
    // Composition, it matches the live object.
    browser.click_to_navigate(&browser.find(r#"a[href^="/tree/RDSInstance/"]"#));
    browser.click_to_navigate(&browser.find(r#"a[href^="/diff/RDSInstance/"]"#));
    let diff = browser.text();
    assert!(diff.contains("In sync with its Composition."), "{diff}");
    browser.screenshot("03b-composed-instance-in-sync");

    // User-supplied text (the XRD's description annotation) renders as text, never as markup.
    browser.goto(&format!("{}/portal", env.web));
    assert!(browser.text().contains(PAYLOAD), "the payload is shown as text");
    assert!(browser.source().contains("&lt;script&gt;window.xssRan"), "escaped in the HTML");
    assert_no_script_ran(&browser, "/portal");
    browser.screenshot("04-portal-inert-payload");

    // An invalid value is caught in the page and again by the server; nothing is committed.
    let before = env.head();
    browser.click(&browser.find(&format!(r#"a[href="/portal/{XRD}"]"#)));
    browser.fill(r#"input[name="metadata.name"]"#, "orders-db");
    browser.fill(r#"input[name="metadata.namespace"]"#, TEAM);
    browser.fill(r#"input[name="spec.parameters.storageGB"]"#, "5");
    browser.fill(r#"input[name="spec.parameters.region"]"#, REGION);
    let subnets = format!("{}\n{}", env.subnets[0], env.subnets[1]);
    browser.fill(r#"textarea[name="spec.parameters.subnetIds"]"#, &subnets);
    browser.click(&browser.find(r#"button[value="submit"]"#));
    let storage_message = r#".msg[data-for="spec.parameters.storageGB"]"#;
    browser.wait_for_element_text(storage_message, "must be at least 20");
    browser.screenshot("05-portal-invalid-in-page");
    // `form.submit()` skips the page's checks: the server's validation answers.
    browser.script("document.querySelector('form.portal').submit();");
    browser.wait_for_element_text("#errors", "1 field(s) need attention.");
    browser.wait_for_element_text(storage_message, "must be at least 20");
    browser.screenshot("06-portal-invalid-from-server");
    assert_eq!(env.head(), before, "nothing is committed for an invalid claim");

    // A POST without the CSRF token is refused, even with a valid session cookie.
    let cookie = browser.cookie("crosstie_session").expect("the session cookie");
    let form = format!(
        "metadata.name=sneaky-db&metadata.namespace={TEAM}&spec.parameters.storageGB=25\
         &spec.parameters.subnetIds={}&intent=submit",
        env.subnets[0]
    );
    let (status, body) = http_post(
        env.web.trim_start_matches("http://"),
        &format!("/portal/{XRD}"),
        &[
            ("Cookie", &format!("crosstie_session={cookie}")),
            ("Content-Type", "application/x-www-form-urlencoded"),
        ],
        form.as_bytes(),
    );
    assert_eq!(status, 403, "{body}");
    assert!(body.contains("CSRF"), "{body}");
    assert_eq!(env.head(), before, "nothing is committed without the CSRF token");

    // Valid values: a commit authored by the requester, applied by the Git loop, then Ready.
    browser.fill(r#"input[name="spec.parameters.storageGB"]"#, "25");
    browser.click(&browser.find(r#"button[value="submit"]"#));
    wait_for("the redirect to the claim's tree", Duration::from_secs(30), || {
        browser.url().contains("/tree/PostgreSQLInstance/orders-db").then_some(())
    });
    let commit = env.head();
    assert_ne!(commit, before, "the portal committed the claim");
    let author = git(&env.repo.bare, &["log", "-1", "--format=%an <%ae>", "main"]);
    assert_eq!(author, "Dana Developer <dana@example.com>");
    let committed = git(&env.repo.bare, &["show", "main:claims/analytics/orders-db.yaml"]);
    assert!(committed.contains("storageGB: 25"), "{committed}");
    browser.screenshot("07-portal-submitted");
    // The dashboard's "reconcile now" fetches the repository at once.
    browser.goto(&format!("{}/", env.web));
    browser.click_to_navigate(&browser.find(r#"#git form[action="/actions/reconcile"] button"#));
    env.wait_ready("orders-db");
    browser.goto(&env.tree_url("orders-db"));
    wait_for_element(&browser, "ul.tree > li.node.ready");
    assert!(browser.text().contains("PostgreSQLInstance/orders-db"));
    browser.screenshot("08-portal-claim-ready");

    // A hand edit of an object from Git is reverted on the next apply, flagged, and diffed.
    env.up.ok(
        &[
            "patch",
            "cm",
            "flags",
            "-n",
            FLUX,
            "--type",
            "merge",
            "-p",
            r#"{"data":{"greeting":"red"}}"#,
        ],
        None,
    );
    browser.goto(&format!("{}/", env.web));
    browser.click_to_navigate(
        &browser.find(r#"#kustomizations form[action="/actions/reconcile"] button"#),
    );
    wait_for_element(&browser, "#kustomizations a.drift");
    browser.screenshot("09-overview-drift-flagged");
    browser.click_to_navigate(&browser.find("#kustomizations a.drift"));
    let drift = browser.text_of(&browser.find("#drift-fields"));
    assert!(drift.contains("ConfigMap/flux-system/flags"), "{drift}");
    assert!(drift.contains("/data/greeting"), "{drift}");
    browser.screenshot("10-kustomization-drift-diff");
    let greeting =
        env.up.ok(&["get", "cm", "flags", "-n", FLUX, "-o", "jsonpath={.data.greeting}"], None);
    assert_eq!(greeting, "blue", "the apply reverted the hand edit");
}
