//! Compositions end to end, as a platform team and an application team use them: the shipped
//! XRD and Composition applied with kubectl to `crosstie up`, a claim in a team namespace, moto
//! as AWS.

mod support;

use std::time::Duration;

use support::serve::Serve;
use support::tools::{Moto, wait_for};

const REGION: &str = "eu-west-1";
const TEAM: &str = "analytics";

struct Env {
    up: Serve,
    moto: Moto,
    subnets: Vec<String>,
}

impl Env {
    /// Crosstie with the shipped compositions, a `default` ProviderConfig on its own moto, and a
    /// VPC with two subnets there.
    fn start() -> Self {
        let moto = Moto::start();
        let (_, subnets) = support::ec2::vpc_with_subnets(&moto.endpoint, REGION);
        let up = Serve::up(&["--poll-interval", "2s", "--max-reconcile-rate", "50"]);
        up.ok(
            &["apply", "-f", "-"],
            Some(&format!(
                "apiVersion: v1
kind: Namespace
metadata: {{name: {TEAM}}}
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
                "compositeresourcedefinition/xpostgresqlinstances.database.crosstie.io",
            ],
            None,
        );
        // The claim kind is served once its CRD exists.
        wait_for("the claim kind to be served", Duration::from_secs(30), || {
            up.kubectl(&["get", "postgresqlinstances", "-n", TEAM], None)
                .status
                .success()
                .then_some(())
        });
        Env { up, moto, subnets }
    }

    fn claim(&self, name: &str, storage_gb: u32, size: &str, extra_spec: &str) -> String {
        format!(
            "apiVersion: database.crosstie.io/v1alpha1
kind: PostgreSQLInstance
metadata:
  name: {name}
  namespace: {TEAM}
spec:
  parameters:
    storageGB: {storage_gb}
    size: {size}
    version: \"16\"
    region: {REGION}
    subnetIds: [{}, {}]
  writeConnectionSecretToRef:
    name: {name}-conn
{extra_spec}",
            self.subnets[0], self.subnets[1]
        )
    }

    fn instance_with_storage(&self, gb: i32) -> Option<aws_sdk_rds::types::DbInstance> {
        support::rds::describe_all(&self.moto.endpoint, REGION)
            .into_iter()
            .find(|db| db.allocated_storage() == Some(gb))
    }

    fn claim_condition(&self, name: &str, type_: &str) -> (String, String) {
        let get = |field: &str| {
            self.up.ok(
                &[
                    "get",
                    "postgresqlinstance",
                    name,
                    "-n",
                    TEAM,
                    "-o",
                    &format!(r#"jsonpath={{.status.conditions[?(@.type=="{type_}")].{field}}}"#),
                ],
                None,
            )
        };
        (get("status"), get("message"))
    }
}

#[test]
fn a_claim_provisions_a_database_updates_it_and_deletes_it_with_the_claim() {
    let env = Env::start();
    env.up.ok(&["apply", "-f", "-"], Some(&env.claim("reports-db", 30, "medium", "")));
    env.up.ok(
        &[
            "wait",
            "--for=condition=Ready",
            "--timeout=120s",
            "-n",
            TEAM,
            "postgresqlinstance/reports-db",
        ],
        None,
    );

    let db = env.instance_with_storage(30).expect("an instance with 30 GiB in moto");
    assert_eq!(db.db_instance_class(), Some("db.t3.medium"), "size medium maps to db.t3.medium");
    assert_eq!(db.engine(), Some("postgres"));
    let subnet_group =
        db.db_subnet_group().and_then(|g| g.db_subnet_group_name()).unwrap_or_default();
    assert!(
        subnet_group.starts_with("reports-db-"),
        "the instance uses the composed subnet group: {subnet_group}"
    );

    let keys = env.up.ok(
        &[
            "get",
            "secret",
            "-n",
            TEAM,
            "reports-db-conn",
            "-o",
            "go-template={{range $k, $v := .data}}{{$k}} {{end}}",
        ],
        None,
    );
    assert_eq!(keys.trim(), "endpoint password port username");

    // A connection Secret edited by hand is put back at once: the change wakes the claim that
    // wrote it, rather than its requeue a minute later.
    let password = || {
        let jsonpath = "jsonpath={.data.password}";
        env.up.ok(&["get", "secret", "-n", TEAM, "reports-db-conn", "-o", jsonpath], None)
    };
    let published = password();
    let tampered = r#"{"data":{"password":"dGFtcGVyZWQ="}}"#;
    env.up.ok(
        &["patch", "secret", "reports-db-conn", "-n", TEAM, "--type", "merge", "-p", tampered],
        None,
    );
    wait_for("the claim's Secret to be restored", Duration::from_secs(30), || {
        (password() == published).then_some(())
    });

    let trace = std::process::Command::new(env!("CARGO_BIN_EXE_crosstie"))
        .args(["trace", "PostgreSQLInstance/reports-db", "-n", TEAM])
        .env("KUBECONFIG", &env.up.kubeconfig)
        .output()
        .expect("run crosstie trace");
    let trace = String::from_utf8_lossy(&trace.stdout);
    for kind in
        ["PostgreSQLInstance/reports-db", "XPostgreSQLInstance/", "RDSInstance/", "DBSubnetGroup/"]
    {
        assert!(trace.contains(kind), "trace shows {kind}:\n{trace}");
    }

    // Editing a parameter on the claim re-renders and modifies the instance.
    env.up.ok(
        &[
            "patch",
            "postgresqlinstance/reports-db",
            "-n",
            TEAM,
            "--type",
            "merge",
            "-p",
            r#"{"spec":{"parameters":{"storageGB":45}}}"#,
        ],
        None,
    );
    wait_for("moto to show 45 GiB", Duration::from_secs(90), || env.instance_with_storage(45));

    // Deleting the claim deletes the composite, its managed resources and the instance.
    env.up.ok(&["delete", "postgresqlinstance/reports-db", "-n", TEAM, "--timeout=120s"], None);
    wait_for("the instance to leave moto", Duration::from_secs(90), || {
        support::rds::describe_all(&env.moto.endpoint, REGION).is_empty().then_some(())
    });
    wait_for("the managed resources to be gone", Duration::from_secs(60), || {
        let left = env.up.ok(&["get", "managed", "-o", "name"], None);
        left.trim().is_empty().then_some(())
    });
    let composites = env.up.ok(&["get", "xpostgresqlinstances", "-o", "name"], None);
    assert!(composites.trim().is_empty(), "composite deleted: {composites}");
}

#[test]
fn a_broken_patch_is_reported_on_the_claim_naming_the_patch_and_path() {
    let env = Env::start();
    let broken = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/compositions/composition-postgresqlinstance-aws.yaml"
    ))
    .unwrap()
    .replace("name: xpostgresqlinstances.aws.database.crosstie.io", "name: broken-storage")
    .replace("fromFieldPath: spec.parameters.storageGB", "fromFieldPath: spec.parameters.diskGB");
    env.up.ok(&["apply", "-f", "-"], Some(&broken));
    env.up.ok(
        &["apply", "-f", "-"],
        Some(&env.claim("audit-db", 25, "small", "  compositionRef:\n    name: broken-storage\n")),
    );
    let message = wait_for("the claim to report the broken patch", Duration::from_secs(60), || {
        let (status, message) = env.claim_condition("audit-db", "Synced");
        (status == "False" && message.contains("spec.parameters.diskGB")).then_some(message)
    });
    assert!(message.contains("rdsinstance"), "names the composed resource: {message}");
    assert!(env.instance_with_storage(25).is_none(), "no instance is created from a broken render");
}

/// An XRD `name` (`<plural>.<group>`) of composite kind `kind`, offering claims of kind
/// `Database` in its group: in `platform.acme.io`, every such XRD wants the same claim CRD.
fn xrd(name: &str, kind: &str) -> String {
    let (plural, group) = name.split_once('.').expect("plural.group");
    format!(
        "apiVersion: apiextensions.crossplane.io/v1
kind: CompositeResourceDefinition
metadata: {{name: {name}}}
spec:
  group: {group}
  names: {{kind: {kind}, plural: {plural}}}
  claimNames: {{kind: Database, plural: databases}}
  versions:
    - name: v1alpha1
      served: true
      referenceable: true
      schema:
        openAPIV3Schema:
          type: object
          properties:
            spec:
              type: object
              properties:
                parameters:
                  type: object
                  properties: {{size: {{type: string}}}}
"
    )
}

/// `crosstie up` (no provider: nothing is composed) serving the `xdatabases` XRD, with
/// namespaces `lab` and `evil`.
fn databases_offered() -> Serve {
    let up = Serve::up(&[]);
    up.ok(&["create", "namespace", "lab"], None);
    up.ok(&["create", "namespace", "evil"], None);
    up.ok(&["apply", "-f", "-"], Some(&xrd("xdatabases.platform.acme.io", "XDatabase")));
    up.ok(
        &["wait", "--for=condition=Offered", "--timeout=30s", "xrd/xdatabases.platform.acme.io"],
        None,
    );
    up
}

/// A claim `namespace/name` of size `small`, with these extra spec lines.
fn database(namespace: &str, name: &str, extra_spec: &str) -> String {
    format!(
        "apiVersion: platform.acme.io/v1alpha1
kind: Database
metadata: {{name: {name}, namespace: {namespace}}}
spec:
  parameters: {{size: small}}
{extra_spec}"
    )
}

fn field(up: &Serve, args: &[&str], jsonpath: &str) -> String {
    let mut args = args.to_vec();
    let output = format!("jsonpath={jsonpath}");
    args.extend(["-o", &output]);
    up.ok(&args, None)
}

#[test]
fn deleting_a_claim_refused_binding_leaves_the_composite_it_named_alone() {
    let up = databases_offered();
    up.ok(&["apply", "-f", "-"], Some(&database("lab", "victim", "")));
    let victim = ["get", "database", "victim", "-n", "lab"];
    let composite = wait_for("the victim's composite", Duration::from_secs(30), || {
        let name = field(&up, &victim, "{.spec.resourceRef.name}");
        (!name.is_empty()).then_some(name)
    });
    let composite_uid = field(&up, &["get", "xdatabase", &composite], "{.metadata.uid}");

    let take = format!(
        "  resourceRef: {{apiVersion: platform.acme.io/v1alpha1, kind: XDatabase, name: {composite}}}\n"
    );
    up.ok(&["apply", "-f", "-"], Some(&database("evil", "thief", &take)));
    let thief = ["get", "database", "thief", "-n", "evil"];
    wait_for("the thief to be refused", Duration::from_secs(30), || {
        let message = field(&up, &thief, r#"{.status.conditions[?(@.type=="Synced")].message}"#);
        message.contains("it is claimed by another claim").then_some(())
    });

    // The refused claim's deletion finishes without touching the composite it named.
    up.ok(&["delete", "database", "thief", "-n", "evil", "--timeout=30s"], None);
    let composite = ["get", "xdatabase", &composite];
    assert_eq!(field(&up, &composite, "{.metadata.uid}"), composite_uid, "the same composite");
    assert_eq!(field(&up, &composite, "{.metadata.deletionTimestamp}"), "", "not being deleted");
    assert_eq!(field(&up, &composite, "{.spec.claimRef.namespace}"), "lab");
}

#[test]
fn an_xrd_cannot_take_over_a_crd_it_does_not_control_nor_delete_it() {
    let up = databases_offered();
    up.ok(&["apply", "-f", "-"], Some(&database("lab", "orders", "")));
    let crd = ["get", "crd", "databases.platform.acme.io"];
    let owner = field(&up, &crd, "{.metadata.ownerReferences[0].uid}");

    // Another XRD offering the same claim kind, and one defining a kind Crosstie ships.
    up.ok(&["apply", "-f", "-"], Some(&xrd("xclashes.platform.acme.io", "XClash")));
    let builtin = xrd("dbsubnetgroups.database.aws.crossplane.io", "DBSubnetGroup");
    up.ok(&["apply", "-f", "-"], Some(&builtin));
    for (xrd, condition) in [
        ("xclashes.platform.acme.io", "Offered"),
        ("dbsubnetgroups.database.aws.crossplane.io", "Established"),
    ] {
        let get = ["get", "xrd", xrd];
        let path = format!(r#"{{.status.conditions[?(@.type=="{condition}")]}}"#);
        let refused = wait_for(&format!("{xrd} to be refused"), Duration::from_secs(30), || {
            let status = field(&up, &get, &(path.replace('}', ".status}")));
            (status == "False").then(|| field(&up, &get, &path.replace('}', ".message}")))
        });
        assert!(refused.contains("existing object is not controlled by UID"), "{refused}");
    }
    assert_eq!(field(&up, &crd, "{.metadata.ownerReferences[*].uid}"), owner, "untouched");
    let claim = ["get", "database", "orders", "-n", "lab"];
    assert_eq!(field(&up, &claim, "{.spec.parameters.size}"), "small", "nothing pruned");

    // A ConfigMap owned by both refused XRDs goes when they go: the garbage collector has then
    // seen their deletion, and left the CRDs alone.
    let uid = |name| field(&up, &["get", "xrd", name], "{.metadata.uid}");
    let owned = format!(
        "apiVersion: v1
kind: ConfigMap
metadata:
  name: sentinel
  namespace: lab
  ownerReferences:
    - {{apiVersion: apiextensions.crossplane.io/v1, kind: CompositeResourceDefinition, name: xclashes.platform.acme.io, uid: {}}}
    - {{apiVersion: apiextensions.crossplane.io/v1, kind: CompositeResourceDefinition, name: dbsubnetgroups.database.aws.crossplane.io, uid: {}}}
",
        uid("xclashes.platform.acme.io"),
        uid("dbsubnetgroups.database.aws.crossplane.io")
    );
    up.ok(&["apply", "-f", "-"], Some(&owned));
    up.ok(
        &[
            "delete",
            "xrd",
            "xclashes.platform.acme.io",
            "dbsubnetgroups.database.aws.crossplane.io",
        ],
        None,
    );
    wait_for("the garbage collector to see the XRDs gone", Duration::from_secs(30), || {
        let left = up.kubectl(&["get", "configmap", "sentinel", "-n", "lab"], None);
        (!left.status.success()).then_some(())
    });
    for name in ["databases.platform.acme.io", "dbsubnetgroups.database.aws.crossplane.io"] {
        let get = ["get", "crd", name];
        assert_eq!(field(&up, &get, "{.metadata.deletionTimestamp}"), "", "{name} kept");
    }
    assert_eq!(field(&up, &claim, "{.spec.parameters.size}"), "small", "the claim is kept");
}
