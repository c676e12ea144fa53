//! The RDS provider end to end, as a user runs it: `crosstie up`, real kubectl, a moto server as
//! AWS. What Crosstie did is checked in moto itself and in the AWS call metrics it serves.

mod support;

use std::time::Duration;

use support::serve::Serve;
use support::tools::{Moto, http_get, wait_for};

const REGION: &str = "ap-northeast-2";

/// A running Crosstie with the quickstart's namespaces, credentials and ProviderConfig
/// (`aws-production`) pointing at its own moto.
struct Env {
    up: Serve,
    moto: Moto,
}

impl Env {
    /// With a 2 s poll interval, so drift and deletions are seen quickly.
    fn start() -> Self {
        Self::start_with(&["--poll-interval", "2s"])
    }

    fn start_with(args: &[&str]) -> Self {
        let moto = Moto::start();
        let up = Serve::up(args);
        let examples = concat!(env!("CARGO_MANIFEST_DIR"), "/examples/quickstart");
        for file in ["00-namespaces.yaml", "10-credentials.yaml", "20-providerconfig.yaml"] {
            let yaml = std::fs::read_to_string(format!("{examples}/{file}")).unwrap();
            let yaml = yaml.replace("http://127.0.0.1:5055", &moto.endpoint);
            up.ok(&["apply", "-f", "-"], Some(&yaml));
        }
        Env { up, moto }
    }

    fn apply(&self, yaml: &str) {
        self.up.ok(&["apply", "-f", "-"], Some(yaml));
    }

    fn jsonpath(&self, resource: &str, path: &str) -> String {
        self.up.ok(&["get", resource, "-o", &format!("jsonpath={path}")], None)
    }

    fn condition(&self, resource: &str, type_: &str) -> (String, String) {
        let status = self
            .jsonpath(resource, &format!(r#"{{.status.conditions[?(@.type=="{type_}")].status}}"#));
        let message = self.jsonpath(
            resource,
            &format!(r#"{{.status.conditions[?(@.type=="{type_}")].message}}"#),
        );
        (status, message)
    }

    fn wait_ready(&self, resource: &str) {
        self.up.ok(&["wait", "--for=condition=Ready", "--timeout=45s", resource], None);
    }

    /// Waits until `type_` has `status` with a message containing `needle`; returns the message.
    fn wait_condition(&self, resource: &str, type_: &str, status: &str, needle: &str) -> String {
        wait_for(
            &format!("{resource} {type_}={status} ~ {needle:?}"),
            Duration::from_secs(60),
            || {
                let (s, message) = self.condition(resource, type_);
                (s == status && message.contains(needle)).then_some(message)
            },
        )
    }

    /// AWS calls made so far for `operation`, from Crosstie's `/metrics`.
    fn aws_calls(&self, operation: &str) -> u64 {
        let metrics = http_get(self.up.web.as_deref().unwrap(), "/metrics");
        let prefix = format!("crosstie_aws_api_calls_total{{operation=\"{operation}\"}} ");
        metrics
            .lines()
            .find_map(|line| line.strip_prefix(&prefix))
            .map_or(0, |n| n.trim().parse().unwrap())
    }
}

fn instance(name: &str, for_provider: &str, spec_extra: &str) -> String {
    format!(
        "apiVersion: database.aws.crossplane.io/v1beta1
kind: RDSInstance
metadata:
  name: {name}
spec:
  forProvider:
    region: {REGION}
{for_provider}
  providerConfigRef:
    name: aws-production
{spec_extra}"
    )
}

const SMALL_POSTGRES: &str = "    dbInstanceClass: db.t3.micro
    engine: postgres
    allocatedStorage: 20
    skipFinalSnapshotBeforeDeletion: true";

#[test]
fn the_quickstart_instance_becomes_ready_with_its_connection_secret() {
    // The default poll interval (1m): `kubectl wait` must see Ready without waiting for a poll.
    let env = Env::start_with(&[]);
    let yaml = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/examples/quickstart/30-rdsinstance.yaml"
    ))
    .unwrap();
    env.apply(&yaml);
    env.wait_ready("rdsinstance/payments-db-prod");
    assert_eq!(env.condition("rdsinstance/payments-db-prod", "Synced").0, "True");
    let generation = env.jsonpath("rdsinstance/payments-db-prod", "{.metadata.generation}");
    for type_ in ["Ready", "Synced"] {
        let observed = env.jsonpath(
            "rdsinstance/payments-db-prod",
            &format!(r#"{{.status.conditions[?(@.type=="{type_}")].observedGeneration}}"#),
        );
        assert_eq!(
            observed, generation,
            "{type_} describes the current spec (late-init bumped it)"
        );
    }

    let db = support::rds::describe(&env.moto.endpoint, REGION, "payments-db-prod")
        .expect("the instance exists in moto");
    assert_eq!(db.db_instance_class(), Some("db.r6g.xlarge"));
    assert_eq!(db.engine(), Some("postgres"));
    assert_eq!(db.allocated_storage(), Some(100));
    assert_eq!(db.multi_az(), Some(true));
    assert_eq!(db.storage_encrypted(), Some(true));
    assert_eq!(db.backup_retention_period(), Some(7));

    let keys = env.up.ok(
        &[
            "get",
            "secret",
            "-n",
            "payments-prod",
            "payments-db-credentials",
            "-o",
            "go-template={{range $k, $v := .data}}{{$k}} {{end}}",
        ],
        None,
    );
    assert_eq!(keys.trim(), "endpoint password port username");
    let endpoint = env.up.ok(
        &[
            "get",
            "secret",
            "-n",
            "payments-prod",
            "payments-db-credentials",
            "-o",
            "jsonpath={.data.endpoint}",
        ],
        None,
    );
    assert!(!endpoint.is_empty(), "endpoint is published");
}

#[test]
fn patching_allocated_storage_modifies_the_instance_with_one_call_and_nothing_else() {
    let env = Env::start();
    env.apply(&instance("orders-db", SMALL_POSTGRES, ""));
    env.wait_ready("rdsinstance/orders-db");
    let creates = env.aws_calls("CreateDBInstance");
    assert_eq!(creates, 1);

    env.up.ok(
        &[
            "patch",
            "rdsinstance/orders-db",
            "--type",
            "merge",
            "-p",
            r#"{"spec":{"forProvider":{"allocatedStorage":50}}}"#,
        ],
        None,
    );
    wait_for("moto to show 50 GiB", Duration::from_secs(60), || {
        let db = support::rds::describe(&env.moto.endpoint, REGION, "orders-db")?;
        (db.allocated_storage() == Some(50)).then_some(())
    });
    // Let a few more poll cycles pass: the instance is in sync, so nothing else may be written.
    std::thread::sleep(Duration::from_secs(5));
    assert_eq!(env.aws_calls("ModifyDBInstance"), 1);
    assert_eq!(env.aws_calls("CreateDBInstance"), 1);
    assert_eq!(env.aws_calls("DeleteDBInstance"), 0);
}

#[test]
fn a_change_aws_cannot_make_in_place_is_reported_naming_the_field() {
    let env = Env::start();
    env.apply(&instance("ledger-db", SMALL_POSTGRES, ""));
    env.wait_ready("rdsinstance/ledger-db");
    env.up.ok(
        &[
            "patch",
            "rdsinstance/ledger-db",
            "--type",
            "merge",
            "-p",
            r#"{"spec":{"forProvider":{"engine":"mysql"}}}"#,
        ],
        None,
    );
    let message =
        env.wait_condition("rdsinstance/ledger-db", "Synced", "False", "spec.forProvider.engine");
    assert!(message.contains("mysql"), "the message names the wanted value: {message}");
    let db = support::rds::describe(&env.moto.endpoint, REGION, "ledger-db").unwrap();
    assert_eq!(db.engine(), Some("postgres"), "nothing was changed in AWS");
}

#[test]
fn deleting_an_instance_removes_it_from_aws_and_then_the_object() {
    let env = Env::start();
    env.apply(&instance("scratch-db", SMALL_POSTGRES, ""));
    env.wait_ready("rdsinstance/scratch-db");
    assert!(support::rds::describe(&env.moto.endpoint, REGION, "scratch-db").is_some());

    // kubectl delete waits until the object is gone, i.e. the finalizer was removed.
    env.up.ok(&["delete", "rdsinstance/scratch-db", "--timeout=60s"], None);
    assert!(support::rds::describe(&env.moto.endpoint, REGION, "scratch-db").is_none());
    assert_eq!(env.aws_calls("DeleteDBInstance"), 1);
}

#[test]
fn the_orphan_policy_leaves_the_instance_in_aws() {
    let env = Env::start();
    env.apply(&instance("kept-db", SMALL_POSTGRES, "  deletionPolicy: Orphan"));
    env.wait_ready("rdsinstance/kept-db");
    env.up.ok(&["delete", "rdsinstance/kept-db", "--timeout=60s"], None);
    assert!(support::rds::describe(&env.moto.endpoint, REGION, "kept-db").is_some());
    assert_eq!(env.aws_calls("DeleteDBInstance"), 0);
}

#[test]
fn an_observe_only_resource_imports_an_existing_instance_without_writing() {
    let env = Env::start();
    support::rds::create(&env.moto.endpoint, REGION, "legacy-billing");
    let yaml = format!(
        "apiVersion: database.aws.crossplane.io/v1beta1
kind: RDSInstance
metadata:
  name: billing
  annotations:
    crossplane.io/external-name: legacy-billing
spec:
  managementPolicies: [Observe]
  forProvider:
    region: {REGION}
    dbInstanceClass: db.r5.large
    engine: postgres
  providerConfigRef:
    name: aws-production
"
    );
    env.apply(&yaml);
    env.wait_ready("rdsinstance/billing");
    assert_eq!(
        env.jsonpath("rdsinstance/billing", "{.status.atProvider.dbInstanceStatus}"),
        "available"
    );
    assert!(
        env.jsonpath("rdsinstance/billing", "{.status.atProvider.dbInstanceArn}")
            .contains("legacy-billing")
    );
    std::thread::sleep(Duration::from_secs(4));
    for op in ["CreateDBInstance", "ModifyDBInstance", "DeleteDBInstance"] {
        assert_eq!(env.aws_calls(op), 0, "{op} on an Observe-only resource");
    }
    let db = support::rds::describe(&env.moto.endpoint, REGION, "legacy-billing").unwrap();
    assert_eq!(db.db_instance_class(), Some("db.t3.micro"), "the differing class was not applied");
}

#[test]
fn an_instance_already_in_aws_is_adopted_and_brought_in_line_not_created() {
    let env = Env::start();
    support::rds::create(&env.moto.endpoint, REGION, "legacy-reports");
    let yaml = instance(
        "reports",
        "    dbInstanceClass: db.t3.micro
    engine: postgres
    allocatedStorage: 40",
        "",
    )
    .replace(
        "  name: reports\n",
        "  name: reports\n  annotations:\n    crossplane.io/external-name: legacy-reports\n",
    );
    env.apply(&yaml);

    wait_for("moto to show 40 GiB", Duration::from_secs(60), || {
        let db = support::rds::describe(&env.moto.endpoint, REGION, "legacy-reports")?;
        (db.allocated_storage() == Some(40)).then_some(())
    });
    env.wait_ready("rdsinstance/reports");
    assert_eq!(env.condition("rdsinstance/reports", "Synced").0, "True");
    assert_eq!(env.aws_calls("CreateDBInstance"), 0, "observed first, so never created");
    assert_eq!(env.aws_calls("ModifyDBInstance"), 1, "the storage only");
    assert_eq!(
        support::rds::describe_all(&env.moto.endpoint, REGION).len(),
        1,
        "nothing else made"
    );
}

#[test]
fn a_missing_provider_config_or_credentials_key_is_a_clear_condition() {
    let env = Env::start();
    let missing_pc =
        instance("no-config-db", SMALL_POSTGRES, "").replace("aws-production", "aws-staging");
    env.apply(&missing_pc);
    env.wait_condition("rdsinstance/no-config-db", "Synced", "False", "aws-staging");

    env.apply(
        "apiVersion: aws.crossplane.io/v1beta1
kind: ProviderConfig
metadata:
  name: wrong-key
spec:
  credentials:
    source: Secret
    secretRef: {namespace: crossplane-system, name: aws-credentials, key: creds}
",
    );
    let wrong_key =
        instance("wrong-key-db", SMALL_POSTGRES, "").replace("aws-production", "wrong-key");
    env.apply(&wrong_key);
    let message = env.wait_condition("rdsinstance/wrong-key-db", "Synced", "False", "creds");
    assert!(message.contains("crossplane-system/aws-credentials"), "{message}");
    assert_eq!(env.aws_calls("CreateDBInstance"), 0);
}
