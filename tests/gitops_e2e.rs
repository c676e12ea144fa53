//! The Git loop end to end, as a Flux user runs it: real repositories (file:// and smart HTTP
//! with basic auth), `crosstie up`, real kubectl, moto for the claims the repository carries.

mod gitops_support;
mod support;

use std::time::Duration;

use gitops_support::{HttpServer, Repo};
use hmac::Mac;
use support::serve::Serve;
use support::tools::{Moto, http_post, wait_for};

const NS: &str = "flux-system";

/// The user's manifest pair from the issue, with only the URL changed.
fn users_source_and_kustomization(url: &str) -> String {
    format!(
        "apiVersion: source.toolkit.fluxcd.io/v1
kind: GitRepository
metadata: {{name: myapp-source, namespace: flux-system}}
spec:
  interval: 1m
  url: {url}
  ref: {{branch: main}}
---
apiVersion: kustomize.toolkit.fluxcd.io/v1
kind: Kustomization
metadata: {{name: myapp, namespace: flux-system}}
spec:
  interval: 10m
  sourceRef: {{kind: GitRepository, name: myapp-source}}
  path: ./myapp/manifests
  prune: true
  wait: true
  timeout: 5m
"
    )
}

fn namespace(name: &str) -> String {
    format!("apiVersion: v1\nkind: Namespace\nmetadata: {{name: {name}}}\n")
}

fn configmap(name: &str, ns: &str, value: &str) -> String {
    format!(
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {{name: {name}, namespace: {ns}}}\ndata: {{greeting: {value}}}\n"
    )
}

fn service(name: &str, ns: &str) -> String {
    format!(
        "apiVersion: v1
kind: Service
metadata: {{name: {name}, namespace: {ns}}}
spec:
  selector: {{app: {name}}}
  ports: [{{port: 80, targetPort: 8080}}]
"
    )
}

fn condition(up: &Serve, resource: &str, type_: &str) -> (String, String) {
    let get = |field: &str| {
        up.ok(
            &[
                "get",
                "-n",
                NS,
                resource,
                "-o",
                &format!(r#"jsonpath={{.status.conditions[?(@.type=="{type_}")].{field}}}"#),
            ],
            None,
        )
    };
    (get("status"), get("message"))
}

/// The greeting of ConfigMap `name`, if it exists yet.
fn greeting(up: &Serve, name: &str) -> Option<String> {
    let out = up.kubectl(&["get", "cm", name, "-n", NS, "-o", "jsonpath={.data.greeting}"], None);
    out.status.success().then(|| String::from_utf8_lossy(&out.stdout).into_owned())
}

fn exists(up: &Serve, args: &[&str]) -> bool {
    up.kubectl(&[&["get"], args].concat(), None).status.success()
}

/// Fetch the newest commit now, as `flux reconcile source git` would.
fn reconcile_source(up: &Serve) {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_crosstie"))
        .args(["reconcile", "source", "git", "myapp-source", "-n", NS, "--timeout", "60s"])
        .env("KUBECONFIG", &up.kubeconfig)
        .output()
        .unwrap();
    assert!(out.status.success(), "crosstie reconcile: {}", String::from_utf8_lossy(&out.stderr));
}

fn wait_applied(up: &Serve, sha: &str) {
    let start = std::time::Instant::now();
    loop {
        let applied = up.ok(
            &[
                "get",
                "-n",
                NS,
                "kustomization/myapp",
                "-o",
                "jsonpath={.status.lastAppliedRevision}",
            ],
            None,
        );
        let (ready, message) = condition(up, "kustomization/myapp", "Ready");
        if applied.ends_with(sha) && ready == "True" {
            return;
        }
        if start.elapsed() > Duration::from_secs(120) {
            let source = up.ok(
                &["get", "managed,xpostgresqlinstances,postgresqlinstances", "-A", "-o", "yaml"],
                None,
            );
            panic!(
                "myapp did not apply {sha}: applied {applied:?}, Ready={ready}: {message}\n{source}"
            );
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

#[test]
fn a_repository_of_claims_and_app_manifests_is_applied_pruned_and_protected_from_broken_commits() {
    let moto = Moto::start();
    let region = "us-west-2";
    let (_, subnets) = support::ec2::vpc_with_subnets(&moto.endpoint, region);
    let up = Serve::up(&["--poll-interval", "2s"]);
    up.ok(&["apply", "-f", "-"], Some(&namespace(NS)));
    up.ok(&["apply", "-f", "-"], Some(&namespace("crossplane-system")));
    up.ok(
        &["apply", "-f", "-"],
        Some(&format!(
            "apiVersion: v1
kind: Secret
metadata: {{name: aws, namespace: crossplane-system}}
stringData: {{credentials: \"[default]\\naws_access_key_id = a\\naws_secret_access_key = b\\n\"}}
---
apiVersion: aws.crossplane.io/v1beta1
kind: ProviderConfig
metadata: {{name: default}}
spec:
  credentials: {{source: Secret, secretRef: {{namespace: crossplane-system, name: aws, key: credentials}}}}
  endpoint: {{url: {{type: Static, static: '{}'}}}}
",
            moto.endpoint
        )),
    );

    // The platform's XRD and Composition, the claim that uses them and the app, in one commit.
    let root = env!("CARGO_MANIFEST_DIR");
    let xrd = std::fs::read_to_string(format!("{root}/compositions/xrd-postgresqlinstance.yaml"))
        .unwrap();
    let composition = std::fs::read_to_string(format!(
        "{root}/compositions/composition-postgresqlinstance-aws.yaml"
    ))
    .unwrap();
    let claim = format!(
        "apiVersion: database.crosstie.io/v1alpha1
kind: PostgreSQLInstance
metadata: {{name: shop-db, namespace: shop}}
spec:
  parameters: {{storageGB: 22, size: small, region: {region}, subnetIds: [{}, {}]}}
  writeConnectionSecretToRef: {{name: shop-db}}
",
        subnets[0], subnets[1]
    );
    let repo = Repo::new();
    let first = repo.commit(
        &[
            ("myapp/manifests/platform/xrd.yaml", &xrd),
            ("myapp/manifests/platform/composition.yaml", &composition),
            ("myapp/manifests/namespace.yaml", &namespace("shop")),
            ("myapp/manifests/db/claim.yaml", &claim),
            ("myapp/manifests/app/config.yaml", &configmap("shop-config", "shop", "hello")),
            ("myapp/manifests/app/service.yaml", &service("shop", "shop")),
            ("README.md", "not a manifest: outside the path"),
        ],
        "shop with its database",
    );
    up.ok(&["apply", "-f", "-"], Some(&users_source_and_kustomization(&repo.file_url())));
    wait_applied(&up, &first);
    assert_eq!(
        up.ok(
            &[
                "get",
                "-n",
                "shop",
                "postgresqlinstance/shop-db",
                "-o",
                r#"jsonpath={.status.conditions[?(@.type=="Ready")].status}"#
            ],
            None
        ),
        "True",
        "wait: true held the Kustomization until the claim was Ready"
    );
    assert!(
        support::rds::describe_all(&moto.endpoint, region)
            .iter()
            .any(|db| db.allocated_storage() == Some(22))
    );
    let revision = up.ok(
        &[
            "get",
            "-n",
            NS,
            "gitrepository/myapp-source",
            "-o",
            "jsonpath={.status.artifact.revision}",
        ],
        None,
    );
    assert_eq!(revision, format!("main@sha1:{first}"));

    // A commit that removes a file prunes what it declared, and only that.
    std::fs::remove_file(repo.work.join("myapp/manifests/app/config.yaml")).unwrap();
    let second = repo.commit(&[], "drop the config map");
    reconcile_source(&up);
    wait_applied(&up, &second);
    assert!(!exists(&up, &["configmap", "shop-config", "-n", "shop"]), "pruned");
    assert!(exists(&up, &["service", "shop", "-n", "shop"]));
    assert!(exists(&up, &["postgresqlinstance", "shop-db", "-n", "shop"]));

    // A broken commit: Ready=False naming the file, nothing pruned, the last good state kept.
    let third = repo.commit(
        &[(
            "myapp/manifests/app/service.yaml",
            "apiVersion: v1\nkind: Service\nmetadata: {name: shop\n  namespace: shop\n",
        )],
        "broken yaml",
    );
    reconcile_source(&up);
    let message = wait_for("myapp to report the broken file", Duration::from_secs(60), || {
        let (ready, message) = condition(&up, "kustomization/myapp", "Ready");
        (ready == "False" && message.contains("service.yaml")).then_some(message)
    });
    assert!(message.contains("line"), "the message gives the line: {message}");
    let attempted = up.ok(
        &["get", "-n", NS, "kustomization/myapp", "-o", "jsonpath={.status.lastAttemptedRevision}"],
        None,
    );
    assert!(attempted.ends_with(&third));
    assert!(exists(&up, &["service", "shop", "-n", "shop"]), "nothing pruned on a broken commit");
    assert!(exists(&up, &["postgresqlinstance", "shop-db", "-n", "shop"]));
}

#[test]
fn manual_changes_are_reverted_and_reported_on_the_next_interval() {
    let up = Serve::up(&[]);
    up.ok(&["apply", "-f", "-"], Some(&namespace(NS)));
    let repo = Repo::new();
    repo.commit(&[("deploy/config.yaml", &configmap("flags", NS, "blue"))], "flags");
    up.ok(
        &["apply", "-f", "-"],
        Some(&format!(
            "apiVersion: source.toolkit.fluxcd.io/v1
kind: GitRepository
metadata: {{name: flags, namespace: {NS}}}
spec: {{interval: 1m, url: '{}', ref: {{branch: main}}}}
---
apiVersion: kustomize.toolkit.fluxcd.io/v1
kind: Kustomization
metadata: {{name: flags, namespace: {NS}}}
spec:
  interval: 2s
  sourceRef: {{kind: GitRepository, name: flags}}
  path: ./deploy
  prune: true
",
            repo.file_url()
        )),
    );
    wait_for("flags applied", Duration::from_secs(60), || {
        (greeting(&up, "flags").as_deref() == Some("blue")).then_some(())
    });
    up.ok(
        &[
            "patch",
            "cm",
            "flags",
            "-n",
            NS,
            "--type",
            "merge",
            "-p",
            r#"{"data":{"greeting":"red"}}"#,
        ],
        None,
    );
    wait_for("the manual change to be reverted", Duration::from_secs(60), || {
        (greeting(&up, "flags").as_deref() == Some("blue")).then_some(())
    });
    let events = up.ok(&["get", "events", "-n", NS, "-o", "jsonpath={.items[*].message}"], None);
    assert!(
        events.contains("flags"),
        "the drift is recorded in an event naming the object: {events}"
    );
}

#[test]
fn an_app_waits_for_the_infrastructure_it_depends_on() {
    let up = Serve::up(&[]);
    up.ok(&["apply", "-f", "-"], Some(&namespace(NS)));
    let repo = Repo::new();
    let crd = "apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {name: queues.infra.example.com}
spec:
  group: infra.example.com
  scope: Namespaced
  names: {plural: queues, singular: queue, kind: Queue}
  versions:
  - name: v1
    served: true
    storage: true
    schema:
      openAPIV3Schema:
        type: object
        properties:
          spec: {type: object, properties: {size: {type: integer}}}
";
    let queue = format!(
        "apiVersion: infra.example.com/v1\nkind: Queue\nmetadata: {{name: orders, namespace: {NS}}}\nspec: {{size: 3}}\n"
    );
    repo.commit(&[("infra/queue-crd.yaml", crd), ("apps/queue.yaml", &queue)], "infra and app");
    let kustomization = |name: &str, path: &str, depends: &str| {
        format!(
            "apiVersion: kustomize.toolkit.fluxcd.io/v1
kind: Kustomization
metadata: {{name: {name}, namespace: {NS}}}
spec:
  interval: 1m
  retryInterval: 2s
  sourceRef: {{kind: GitRepository, name: platform}}
  path: {path}
  prune: true
{depends}"
        )
    };
    // The app is created first and names a kind only the infra Kustomization brings.
    up.ok(
        &["apply", "-f", "-"],
        Some(&kustomization("apps", "./apps", "  dependsOn: [{name: infra}]\n")),
    );
    up.ok(
        &["apply", "-f", "-"],
        Some(&format!(
            "apiVersion: source.toolkit.fluxcd.io/v1
kind: GitRepository
metadata: {{name: platform, namespace: {NS}}}
spec: {{interval: 1m, url: '{}', ref: {{branch: main}}}}
",
            repo.file_url()
        )),
    );
    wait_for("apps to wait for infra", Duration::from_secs(60), || {
        let (ready, message) = condition(&up, "kustomization/apps", "Ready");
        (ready == "False" && message.contains("infra")).then_some(())
    });
    up.ok(&["apply", "-f", "-"], Some(&kustomization("infra", "./infra", "")));
    wait_for("apps to apply after infra", Duration::from_secs(60), || {
        let (ready, _) = condition(&up, "kustomization/apps", "Ready");
        (ready == "True").then_some(())
    });
    assert!(exists(&up, &["queue", "orders", "-n", NS]));
}

#[test]
fn a_signed_github_webhook_fetches_at_once_and_a_badly_signed_one_is_refused() {
    let up = Serve::up(&[]);
    up.ok(&["apply", "-f", "-"], Some(&namespace(NS)));
    let repo = Repo::new();
    repo.commit(&[("app/config.yaml", &configmap("hooked", NS, "v1"))], "v1");
    // Basic-auth smart HTTP, as from a Git host.
    let server = HttpServer::start(&repo.bare, "deploy-bot", "s3cret");
    let token = "webhook-token-for-tests";
    up.ok(
        &["apply", "-f", "-"],
        Some(&format!(
            "apiVersion: v1
kind: Secret
metadata: {{name: git-auth, namespace: {NS}}}
stringData: {{username: deploy-bot, password: s3cret}}
---
apiVersion: v1
kind: Secret
metadata: {{name: hook-token, namespace: {NS}}}
stringData: {{token: {token}}}
---
apiVersion: source.toolkit.fluxcd.io/v1
kind: GitRepository
metadata: {{name: myapp-source, namespace: {NS}}}
spec: {{interval: 1h, url: '{}', ref: {{branch: main}}, secretRef: {{name: git-auth}}}}
---
apiVersion: kustomize.toolkit.fluxcd.io/v1
kind: Kustomization
metadata: {{name: myapp, namespace: {NS}}}
spec: {{interval: 1h, sourceRef: {{kind: GitRepository, name: myapp-source}}, path: ./app, prune: true}}
---
apiVersion: notification.toolkit.fluxcd.io/v1
kind: Receiver
metadata: {{name: github, namespace: {NS}}}
spec:
  type: github
  events: [push]
  secretRef: {{name: hook-token}}
  resources: [{{kind: GitRepository, name: myapp-source}}]
",
            server.url
        )),
    );
    wait_for("v1 applied over basic-auth HTTP", Duration::from_secs(60), || {
        (greeting(&up, "hooked").as_deref() == Some("v1")).then_some(())
    });
    let path = wait_for("the receiver's webhook path", Duration::from_secs(30), || {
        let path = up.ok(
            &["get", "receiver", "github", "-n", NS, "-o", "jsonpath={.status.webhookPath}"],
            None,
        );
        (!path.is_empty()).then_some(path)
    });

    let second = repo.commit(&[("app/config.yaml", &configmap("hooked", NS, "v2"))], "v2");
    let body = br#"{"ref":"refs/heads/main"}"#;
    let web = up.web.as_deref().unwrap();
    let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(b"wrong-token").unwrap();
    mac.update(body);
    let forged = format!("sha256={}", hex::encode(mac.finalize().into_bytes()));
    let (status, _) = http_post(
        web,
        &path,
        &[("X-GitHub-Event", "push"), ("X-Hub-Signature-256", &forged)],
        body,
    );
    assert_eq!(status, 401, "a badly signed call is refused");
    let (status, _) = http_post(web, &path, &[("X-GitHub-Event", "push")], body);
    assert_eq!(status, 401, "an unsigned call is refused");

    let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(token.as_bytes()).unwrap();
    mac.update(body);
    let signature = format!("sha256={}", hex::encode(mac.finalize().into_bytes()));
    let (status, response) = http_post(
        web,
        &path,
        &[("X-GitHub-Event", "push"), ("X-Hub-Signature-256", &signature)],
        body,
    );
    assert_eq!(status, 200, "{response}");
    // The source interval is an hour: only the webhook can bring v2 in.
    wait_for("v2 applied after the webhook", Duration::from_secs(60), || {
        (greeting(&up, "hooked").as_deref() == Some("v2")).then_some(())
    });
    let revision = up.ok(
        &[
            "get",
            "gitrepository",
            "myapp-source",
            "-n",
            NS,
            "-o",
            "jsonpath={.status.artifact.revision}",
        ],
        None,
    );
    assert_eq!(revision, format!("main@sha1:{second}"));
}
