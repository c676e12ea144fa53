//! RDSInstance against a real moto server: create, observe, update, delete, import, and the
//! states moto never shows (creating, modifying) through a status-rewriting `RdsApi` wrapper.

#[allow(dead_code)]
#[path = "../../../tests/support/tools.rs"]
mod tools;

mod common;

use std::sync::Arc;

use aws_sdk_rds::types::DbInstance;
use common::{MemoryCluster, POLL, ScriptedRds, aws, payments_db_prod, sdk};
use crosstie_provider_aws::api::Rds;
use crosstie_provider_aws::config::AwsClient;
use crosstie_provider_aws::{AwsMetrics, RdsInstance, RdsInstanceExternal};
use crosstie_runtime::annotations::{
    EXTERNAL_CREATE_FAILED, EXTERNAL_CREATE_PENDING, EXTERNAL_CREATE_SUCCEEDED, EXTERNAL_NAME,
};
use crosstie_runtime::{
    ConnectionDetails, ExternalClient, ExternalError, Readiness, SecretKeySelector,
};
use futures::{StreamExt, TryStreamExt};
use kube::ResourceExt;
use tools::Moto;

const REGION: &str = "ap-northeast-2";

async fn describe(moto: &Moto, id: &str) -> Option<DbInstance> {
    match sdk(&moto.endpoint, REGION)
        .describe_db_instances()
        .db_instance_identifier(id)
        .send()
        .await
    {
        Ok(out) => out.db_instances.unwrap_or_default().into_iter().next(),
        Err(err) if err.as_service_error().is_some_and(|e| e.is_db_instance_not_found_fault()) => {
            None
        }
        Err(err) => panic!("describe {id}: {err:?}"),
    }
}

/// An instance made in moto by someone other than Crosstie.
async fn arrange_instance(moto: &Moto, id: &str, class: &str, engine: &str, storage_gib: i32) {
    sdk(&moto.endpoint, REGION)
        .create_db_instance()
        .db_instance_identifier(id)
        .db_instance_class(class)
        .engine(engine)
        .allocated_storage(storage_gib)
        .master_username("admin")
        .master_user_password("arranged-outside")
        .send()
        .await
        .expect("arrange an existing instance");
}

/// Create the issue's instance through the provider and publish its details, as the engine would.
async fn created(
    external: &RdsInstanceExternal<Rds, MemoryCluster>,
    secrets: &MemoryCluster,
) -> RdsInstance {
    let mut mr = payments_db_prod();
    let absent = external.observe(&mut mr).await.expect("observe before create");
    assert!(!absent.resource_exists, "nothing in moto yet");
    let creation = external.create(&mut mr).await.expect("create");
    assert!(creation.resource_late_initialized, "AWS defaults filled from the create's answer");
    secrets.publish_for(&mr, &creation.connection_details);
    let observation = external.observe(&mut mr).await.expect("observe after create");
    assert!(!observation.resource_late_initialized, "nothing left to fill after the create");
    secrets.publish_for(&mr, &observation.connection_details);
    mr
}

#[tokio::test]
async fn the_issues_manifest_creates_the_instance_with_connection_details() {
    let moto = Moto::start();
    let metrics = AwsMetrics::default();
    let secrets = MemoryCluster::default();
    let external = RdsInstanceExternal::new(aws(&moto.endpoint, REGION, &metrics), secrets.clone());

    let mut mr = created(&external, &secrets).await;

    let instance = describe(&moto, "payments-db-prod").await.expect("instance exists in moto");
    assert_eq!(instance.db_instance_class.as_deref(), Some("db.r6g.xlarge"));
    assert_eq!(instance.engine.as_deref(), Some("postgres"));
    assert_eq!(instance.allocated_storage, Some(100));
    assert_eq!(instance.multi_az, Some(true));
    assert_eq!(instance.storage_encrypted, Some(true));
    assert_eq!(instance.backup_retention_period, Some(7));
    assert_eq!(instance.master_username.as_deref(), Some("postgres"), "per-engine default user");

    let secret = |key| secrets.value("payments-prod", "payments-db-credentials", key);
    let address = instance.endpoint.as_ref().and_then(|e| e.address.clone());
    assert_eq!(secret("endpoint"), address, "endpoint published");
    assert_eq!(secret("port").as_deref(), Some("5432"), "port published");
    assert_eq!(secret("username").as_deref(), Some("postgres"), "username published");
    let password = secret("password").expect("password published");
    assert!(
        password.len() >= 32 && password.chars().all(|c| c.is_ascii_alphanumeric()),
        "strong: {password}"
    );

    let steady = external.observe(&mut mr).await.expect("observe");
    assert!(steady.resource_exists);
    assert_eq!(steady.readiness, Readiness::Available);
    assert!(steady.resource_up_to_date, "no drift right after creation: {}", steady.diff);
    assert!(!steady.resource_late_initialized, "late-initialization happened once, before");
    let at = mr.status.as_ref().and_then(|s| s.at_provider.as_ref()).expect("atProvider");
    assert_eq!(at.db_instance_status.as_deref(), Some("available"));
    assert!(at.db_instance_arn.as_deref().is_some_and(|a| a.ends_with(":db:payments-db-prod")));
    assert_eq!(
        mr.spec.for_provider.engine_version.as_deref(),
        Some("15"),
        "the user's value is kept"
    );
    assert!(mr.spec.for_provider.storage_type.is_some(), "AWS defaults are late-initialized");
}

#[tokio::test]
async fn a_first_create_makes_a_new_password_and_a_re_create_keeps_the_published_one() {
    let moto = Moto::start();
    let secrets = MemoryCluster::default();
    let client = aws(&moto.endpoint, REGION, &AwsMetrics::default());
    let external = RdsInstanceExternal::new(client, secrets.clone());
    let mut first = payments_db_prod();
    let mut stale = ConnectionDetails::new();
    stale.insert("password".to_owned(), b"published-earlier".to_vec());
    secrets.publish_for(&first, &stale);

    let created = external.create(&mut first).await.expect("create");
    let password = &created.connection_details["password"];
    assert_ne!(password, b"published-earlier", "never created: nothing of its own was published");

    // The instance of a resource created before has gone (deleted outside Crosstie).
    let mut recreated = payments_db_prod();
    recreated.metadata.name = Some("payments-db-restored".into());
    recreated
        .annotations_mut()
        .insert(EXTERNAL_CREATE_SUCCEEDED.into(), "2026-11-22T10:00:00Z".into());
    let created = external.create(&mut recreated).await.expect("re-create");
    assert_eq!(created.connection_details["password"], b"published-earlier", "users keep theirs");
}

#[tokio::test]
async fn a_created_instance_is_first_observed_from_the_create_response_then_described_once() {
    let moto = Moto::start();
    let metrics = AwsMetrics::default();
    let external =
        RdsInstanceExternal::new(aws(&moto.endpoint, REGION, &metrics), MemoryCluster::default());
    let describes = || metrics.calls("DescribeDBInstances");
    let mut mr = payments_db_prod();

    external.observe(&mut mr).await.unwrap();
    assert_eq!(describes(), 1, "one snapshot page; a new resource is not described on its own");
    external.create(&mut mr).await.unwrap();
    let first = external.observe(&mut mr).await.unwrap();
    assert!(first.resource_exists);
    assert_eq!(first.readiness, Readiness::Available, "moto creates instances available");
    assert_eq!(describes(), 1, "right after create: the create response");
    external.observe(&mut mr).await.unwrap();
    assert_eq!(describes(), 2, "then one individual describe");
    external.observe(&mut mr).await.unwrap();
    assert_eq!(describes(), 2, "then served from the snapshot");
}

#[tokio::test]
async fn a_create_retried_after_its_answer_was_lost_does_not_fail() {
    let moto = Moto::start();
    let metrics = AwsMetrics::default();
    let api = ScriptedRds::new(Rds::new(sdk(&moto.endpoint, REGION), metrics.clone()));
    api.lose_the_next_create_answer();
    let external = RdsInstanceExternal::new(
        Arc::new(AwsClient::new(api, REGION, POLL)),
        MemoryCluster::default(),
    );
    let mut mr = payments_db_prod();

    let lost = external.create(&mut mr).await.expect_err("the answer is lost");
    assert!(matches!(lost, ExternalError::Transient { .. }), "{lost}");
    let retry = external.create(&mut mr).await.expect("retried create succeeds");
    assert!(retry.connection_details.contains_key("password"), "a usable password is published");
    assert_eq!(metrics.calls("ModifyDBInstance"), 1, "the password was reset to the published one");
}

#[tokio::test]
async fn an_instance_made_since_the_snapshot_fails_the_create_unchanged_and_is_adopted_next() {
    let moto = Moto::start();
    let metrics = AwsMetrics::default();
    let external =
        RdsInstanceExternal::new(aws(&moto.endpoint, REGION, &metrics), MemoryCluster::default());
    let mut first_look = small_instance("first-look");
    external.observe(&mut first_look).await.expect("takes the (empty) snapshot");
    arrange_instance(&moto, "payments-db-prod", "db.t3.small", "postgres", 20).await;
    let mut mr = payments_db_prod();

    let new = external.observe(&mut mr).await.expect("observe");
    assert!(!new.resource_exists, "never created and not in the snapshot: taken as absent");
    let err = external.create(&mut mr).await.expect_err("the identifier is taken");

    assert!(matches!(err, ExternalError::Transient { .. }), "{err}");
    assert!(err.to_string().contains("DBInstanceAlreadyExists"), "{err}");
    assert!(err.to_string().contains("adopts it"), "{err}");
    assert_eq!(metrics.write_calls(), 1, "the create only: no password reset");
    let instance = describe(&moto, "payments-db-prod").await.unwrap();
    assert_eq!(instance.db_instance_class.as_deref(), Some("db.t3.small"), "untouched");

    // The engine records the failed create; from then on only a describe can tell.
    mr.annotations_mut().insert(EXTERNAL_CREATE_FAILED.into(), "2026-12-07T07:00:00Z".into());
    let adopted = external.observe(&mut mr).await.expect("observe again");
    assert!(adopted.resource_exists, "described, found and adopted");
    assert!(adopted.diff.contains("dbInstanceClass"), "{}", adopted.diff);
    assert!(!adopted.diff.contains("password"), "its users keep theirs: {}", adopted.diff);
    assert_eq!(metrics.calls("DescribeDBInstances"), 2, "the snapshot page and one describe");
}

#[tokio::test]
async fn a_new_master_password_in_the_referenced_secret_is_applied_and_published() {
    let moto = Moto::start();
    let metrics = AwsMetrics::default();
    let secrets = MemoryCluster::default();
    let external = RdsInstanceExternal::new(aws(&moto.endpoint, REGION, &metrics), secrets.clone());
    let one = |pw: &str| ConnectionDetails::from([("pw".to_owned(), pw.as_bytes().to_vec())]);
    secrets.publish("payments-prod", "master", &one("first-password"));
    let mut mr = payments_db_prod();
    mr.spec.for_provider.master_password_secret_ref = Some(SecretKeySelector {
        namespace: "payments-prod".into(),
        name: "master".into(),
        key: "pw".into(),
    });
    external
        .create(&mut mr)
        .await
        .map(|c| secrets.publish_for(&mr, &c.connection_details))
        .unwrap();
    let secret = |key| secrets.value("payments-prod", "payments-db-credentials", key);
    assert_eq!(
        secret("password").as_deref(),
        Some("first-password"),
        "the referenced password is used"
    );
    assert!(external.observe(&mut mr).await.unwrap().resource_up_to_date, "published = desired");

    secrets.publish("payments-prod", "master", &one("second-password"));
    let changed = external.observe(&mut mr).await.unwrap();
    assert!(!changed.resource_up_to_date);
    assert!(
        changed.diff.contains("masterPasswordSecretRef")
            && !changed.diff.contains("second-password")
    );
    let update = external.update(&mut mr).await.expect("update");
    assert_eq!(metrics.calls("ModifyDBInstance"), 1, "the password is sent once");
    secrets.publish_for(&mr, &update.connection_details);
    assert_eq!(
        secret("password").as_deref(),
        Some("second-password"),
        "the new password is published"
    );
    assert!(external.observe(&mut mr).await.unwrap().resource_up_to_date, "settled");
}

#[tokio::test]
async fn a_master_password_secret_that_does_not_exist_is_reported_as_not_found() {
    let metrics = AwsMetrics::default();
    // Never reached: the password is read before any AWS call.
    let client = aws("http://127.0.0.1:9", REGION, &metrics);
    let external = RdsInstanceExternal::new(client, MemoryCluster::default());
    let mut mr = payments_db_prod();
    mr.spec.for_provider.master_password_secret_ref = Some(SecretKeySelector {
        namespace: "payments-prod".into(),
        name: "master".into(),
        key: "pw".into(),
    });

    let err = external.create(&mut mr).await.expect_err("no password to create with");

    let ExternalError::Terminal(message) = err else { panic!("terminal expected: {err:?}") };
    assert_eq!(
        message,
        "spec.forProvider.masterPasswordSecretRef: Secret payments-prod/master not found"
    );
    assert_eq!(metrics.write_calls(), 0);
}

#[tokio::test]
async fn an_allocated_storage_change_makes_exactly_one_modify_call() {
    let moto = Moto::start();
    let metrics = AwsMetrics::default();
    let secrets = MemoryCluster::default();
    let external = RdsInstanceExternal::new(aws(&moto.endpoint, REGION, &metrics), secrets.clone());
    let mut mr = created(&external, &secrets).await;

    mr.spec.for_provider.allocated_storage = Some(200);
    let writes_before = metrics.write_calls();
    let drifted = external.observe(&mut mr).await.expect("observe");
    assert!(!drifted.resource_up_to_date);
    assert_eq!(drifted.diff, "spec.forProvider.allocatedStorage: desired 200, AWS has 100");
    external.update(&mut mr).await.expect("update");

    assert_eq!(metrics.calls("ModifyDBInstance"), 1, "one ModifyDBInstance");
    assert_eq!(metrics.write_calls(), writes_before + 1, "no other write");
    let instance = describe(&moto, "payments-db-prod").await.unwrap();
    assert_eq!(instance.allocated_storage, Some(200), "moto shows the new size");
    let settled = external.observe(&mut mr).await.expect("observe");
    assert!(settled.resource_up_to_date, "converged: {}", settled.diff);
}

#[tokio::test]
async fn a_change_aws_cannot_make_in_place_is_a_terminal_error_naming_the_field() {
    let moto = Moto::start();
    let metrics = AwsMetrics::default();
    let secrets = MemoryCluster::default();
    let external = RdsInstanceExternal::new(aws(&moto.endpoint, REGION, &metrics), secrets.clone());
    let mut mr = created(&external, &secrets).await;

    mr.spec.for_provider.storage_encrypted = Some(false);
    let observed = external.observe(&mut mr).await.expect("observe");
    assert!(!observed.resource_up_to_date, "never reported as synced");
    assert!(observed.diff.contains("spec.forProvider.storageEncrypted"), "{}", observed.diff);
    let err = external.update(&mut mr).await.expect_err("update refuses");
    let ExternalError::Terminal(message) = err else { panic!("terminal expected: {err:?}") };
    assert!(message.contains("spec.forProvider.storageEncrypted"), "{message}");
    assert!(message.contains("desired false") && message.contains("AWS has true"), "{message}");
    assert_eq!(metrics.calls("ModifyDBInstance"), 0, "nothing was half-applied");
}

#[tokio::test]
async fn delete_takes_the_final_snapshot_removes_the_instance_and_can_repeat() {
    let moto = Moto::start();
    let metrics = AwsMetrics::default();
    let secrets = MemoryCluster::default();
    let external = RdsInstanceExternal::new(aws(&moto.endpoint, REGION, &metrics), secrets.clone());
    let mut mr = created(&external, &secrets).await;
    mr.spec.for_provider.final_db_snapshot_identifier = Some("payments-db-prod-final".into());

    external.delete(&mut mr).await.expect("delete");
    assert!(describe(&moto, "payments-db-prod").await.is_none(), "gone from moto");
    let snapshots = sdk(&moto.endpoint, REGION)
        .describe_db_snapshots()
        .db_snapshot_identifier("payments-db-prod-final")
        .send()
        .await
        .expect("the final snapshot was taken");
    assert_eq!(snapshots.db_snapshots().len(), 1);
    external.delete(&mut mr).await.expect("deleting a gone instance succeeds");
    let after = external.observe(&mut mr).await.expect("observe");
    assert!(!after.resource_exists, "observe sees it gone");
}

#[tokio::test]
async fn deletion_protection_blocks_delete_with_advice() {
    let moto = Moto::start();
    let metrics = AwsMetrics::default();
    let secrets = MemoryCluster::default();
    let external = RdsInstanceExternal::new(aws(&moto.endpoint, REGION, &metrics), secrets.clone());
    let mut mr = payments_db_prod();
    mr.spec.for_provider.deletion_protection = Some(true);
    external.create(&mut mr).await.expect("create");
    external.observe(&mut mr).await.expect("observe");

    let err = external.delete(&mut mr).await.expect_err("protected");
    assert!(
        err.to_string().contains("set spec.forProvider.deletionProtection: false first"),
        "{err}"
    );
    assert!(describe(&moto, "payments-db-prod").await.is_some(), "still there");
    assert_eq!(metrics.calls("DeleteDBInstance"), 0);

    mr.spec.for_provider.deletion_protection = Some(false);
    mr.spec.for_provider.skip_final_snapshot_before_deletion = Some(true);
    external.delete(&mut mr).await.expect("unprotected by the spec, then deleted");
    assert!(describe(&moto, "payments-db-prod").await.is_none(), "gone");
}

#[tokio::test]
async fn observing_an_existing_instance_by_external_name_fills_status_without_writes() {
    let moto = Moto::start();
    arrange_instance(&moto, "legacy-orders", "db.t3.medium", "mysql", 50).await;
    let metrics = AwsMetrics::default();
    let external =
        RdsInstanceExternal::new(aws(&moto.endpoint, REGION, &metrics), MemoryCluster::default());
    let mut mr: RdsInstance = serde_saphyr::from_str(
        r#"
apiVersion: database.aws.crossplane.io/v1beta1
kind: RDSInstance
metadata:
  name: orders
  annotations:
    crossplane.io/external-name: legacy-orders
spec:
  managementPolicies: ["Observe"]
  forProvider:
    region: ap-northeast-2
    dbInstanceClass: db.t3.medium
    engine: mysql
"#,
    )
    .unwrap();
    assert_eq!(mr.metadata.annotations.as_ref().unwrap()[EXTERNAL_NAME], "legacy-orders");

    let observed = external.observe(&mut mr).await.expect("observe");
    assert!(observed.resource_exists && observed.resource_late_initialized);
    assert_eq!(observed.readiness, Readiness::Available);
    let at = mr.status.as_ref().and_then(|s| s.at_provider.clone()).expect("atProvider");
    assert_eq!((at.allocated_storage, at.db_instance_port), (Some(50), Some(3306)));
    assert!(at.endpoint.and_then(|e| e.address).is_some_and(|a| a.starts_with("legacy-orders.")));
    assert_eq!(mr.spec.for_provider.allocated_storage, Some(50), "spec late-initialized");
    assert_eq!(metrics.write_calls(), 0, "zero write calls");
}

/// The issue's instance, created through `external` as the engine does: records around the
/// create, whose connection details are then lost (the Secret's namespace does not exist yet,
/// the process stops before writing it, ...).
async fn created_without_publishing(
    external: &RdsInstanceExternal<ScriptedRds, MemoryCluster>,
) -> RdsInstance {
    let mut mr = payments_db_prod();
    assert!(!external.observe(&mut mr).await.expect("observe").resource_exists);
    mr.annotations_mut().insert(EXTERNAL_CREATE_PENDING.into(), "2026-12-07T07:00:00Z".into());
    external.create(&mut mr).await.expect("create");
    mr.annotations_mut().insert(EXTERNAL_CREATE_SUCCEEDED.into(), "2026-12-07T07:00:01Z".into());
    mr
}

/// Observe, publish and update `mr` as one engine pass does; returns the observation's diff.
async fn reconciled(
    external: &RdsInstanceExternal<ScriptedRds, MemoryCluster>,
    secrets: &MemoryCluster,
    mr: &mut RdsInstance,
) -> String {
    let observation = external.observe(mr).await.expect("observe");
    secrets.publish_for(mr, &observation.connection_details);
    if !observation.resource_up_to_date {
        let update = external.update(mr).await.expect("update");
        secrets.publish_for(mr, &update.connection_details);
    }
    observation.diff
}

fn scripted(moto: &Moto) -> Arc<AwsClient<ScriptedRds>> {
    let api = ScriptedRds::new(Rds::new(sdk(&moto.endpoint, REGION), AwsMetrics::default()));
    Arc::new(AwsClient::new(api, REGION, POLL))
}

#[tokio::test]
async fn a_generated_password_lost_before_its_secret_s_namespace_existed_is_replaced() {
    let moto = Moto::start();
    let (client, secrets) = (scripted(&moto), MemoryCluster::default());
    let external = RdsInstanceExternal::new(client.clone(), secrets.clone());
    let mut mr = created_without_publishing(&external).await;

    let diff = reconciled(&external, &secrets, &mut mr).await;

    assert_eq!(
        diff,
        "spec.forProvider.masterPasswordSecretRef: desired a newly generated password, AWS has one never published to Secret payments-prod/payments-db-credentials"
    );
    let sent = client.api.passwords_sent();
    assert_eq!(sent.len(), 2, "the create's, then the replacement's: {sent:?}");
    let published = secrets.value("payments-prod", "payments-db-credentials", "password");
    assert_eq!(published.as_ref(), sent.last(), "the Secret holds the password AWS has");
    assert_ne!(sent[0], sent[1], "a new password, not the lost one");
    assert!(external.observe(&mut mr).await.unwrap().resource_up_to_date, "settled");
}

#[tokio::test]
async fn a_generated_password_lost_in_a_crash_mid_create_is_replaced_after_the_restart() {
    let moto = Moto::start();
    let secrets = MemoryCluster::default();
    let before = RdsInstanceExternal::new(scripted(&moto), secrets.clone());
    let mut mr = created_without_publishing(&before).await;
    // Only `-pending` was saved before the process stopped; the new process has no memory
    // of the create.
    mr.annotations_mut().remove(EXTERNAL_CREATE_SUCCEEDED);
    let client = scripted(&moto);
    let after = RdsInstanceExternal::new(client.clone(), secrets.clone());

    reconciled(&after, &secrets, &mut mr).await;

    let sent = client.api.passwords_sent();
    assert_eq!(sent.len(), 1, "one replacement: {sent:?}");
    let published = secrets.value("payments-prod", "payments-db-credentials", "password");
    assert_eq!(published.as_ref(), sent.last(), "the Secret holds the password AWS has");
}

#[tokio::test]
async fn a_moved_connection_secret_gets_a_new_password_that_works() {
    let moto = Moto::start();
    let (client, secrets) = (scripted(&moto), MemoryCluster::default());
    let external = RdsInstanceExternal::new(client.clone(), secrets.clone());
    let mut mr = created_without_publishing(&external).await;
    reconciled(&external, &secrets, &mut mr).await;
    assert!(external.observe(&mut mr).await.unwrap().resource_up_to_date, "published");

    let target = mr.spec.resource_spec.write_connection_secret_to_ref.as_mut().unwrap();
    (target.namespace, target.name) = ("payments-app".into(), "db".into());
    let diff = reconciled(&external, &secrets, &mut mr).await;

    assert!(diff.contains("never published to Secret payments-app/db"), "{diff}");
    let sent = client.api.passwords_sent();
    assert_eq!(sent.len(), 3, "create, first publication, move: {sent:?}");
    let moved = secrets.value("payments-app", "db", "password");
    assert_eq!(moved.as_ref(), sent.last(), "the new Secret holds the password AWS has");
    assert!(secrets.value("payments-app", "db", "endpoint").is_some(), "and the rest");
}

#[tokio::test]
async fn a_lost_generated_password_is_not_replaced_while_the_instance_is_creating() {
    let moto = Moto::start();
    let (client, secrets) = (scripted(&moto), MemoryCluster::default());
    let external = RdsInstanceExternal::new(client.clone(), secrets.clone());
    let mut mr = created_without_publishing(&external).await;
    client.api.set(Some("creating"));

    let observation = external.observe(&mut mr).await.expect("observe");
    let err = external.update(&mut mr).await.expect_err("not synced without a password");

    assert!(!observation.resource_up_to_date);
    assert!(matches!(err, ExternalError::Transient { .. }), "{err}");
    assert!(err.to_string().contains("is creating"), "{err}");
    assert_eq!(client.api.passwords_sent().len(), 1, "the create's only");
}

#[tokio::test]
async fn creating_and_modifying_states_give_readiness_and_hold_updates_back() {
    let moto = Moto::start();
    let metrics = AwsMetrics::default();
    let secrets = MemoryCluster::default();
    let api = ScriptedRds::new(Rds::new(sdk(&moto.endpoint, REGION), metrics.clone()));
    api.set(Some("creating"));
    let client = Arc::new(AwsClient::new(api, REGION, POLL));
    let external = RdsInstanceExternal::new(client.clone(), secrets.clone());
    let mut mr = payments_db_prod();

    let creation = external.create(&mut mr).await.expect("create");
    secrets.publish_for(&mr, &creation.connection_details);
    let creating = external.observe(&mut mr).await.expect("observe while creating");
    assert!(creating.resource_exists);
    assert_eq!(creating.readiness, Readiness::Creating);

    mr.spec.for_provider.allocated_storage = Some(300);
    external.update(&mut mr).await.expect("update while creating is a no-op");
    assert_eq!(metrics.calls("ModifyDBInstance"), 0, "no modification while creating");

    client.api.set(Some("modifying"));
    client.instances.written("payments-db-prod", None).await;
    let modifying = external.observe(&mut mr).await.expect("observe while modifying");
    assert_eq!(modifying.readiness, Readiness::Available, "modifying still serves");
    assert!(!modifying.resource_up_to_date, "the change is still wanted");
    external.update(&mut mr).await.expect("update while modifying is a no-op");
    assert_eq!(metrics.calls("ModifyDBInstance"), 0, "no modification while modifying");

    client.api.set(None);
    client.instances.written("payments-db-prod", None).await;
    let available = external.observe(&mut mr).await.expect("observe when available");
    assert_eq!(available.readiness, Readiness::Available);
    external.update(&mut mr).await.expect("update when available");
    assert_eq!(
        metrics.calls("ModifyDBInstance"),
        1,
        "the held-back change is applied once available"
    );
    assert_eq!(describe(&moto, "payments-db-prod").await.unwrap().allocated_storage, Some(300));
}

/// A db.t3.micro postgres RDSInstance `name` with AWS's defaults for the rest.
fn small_instance(name: &str) -> RdsInstance {
    let mut mr = payments_db_prod();
    mr.metadata.name = Some(name.to_owned());
    mr.spec.for_provider.db_instance_class = "db.t3.micro".into();
    mr.spec.for_provider.allocated_storage = Some(20);
    mr.spec.for_provider.multi_az = None;
    mr.spec.for_provider.storage_encrypted = None;
    mr.spec.for_provider.backup_retention_period = None;
    mr.spec.for_provider.engine_version = None;
    mr
}

#[tokio::test]
async fn unlisted_instances_observed_at_once_share_a_few_describes_and_new_ones_cost_none() {
    const NEW: usize = 150;
    let moto = Moto::start();
    let metrics = AwsMetrics::default();
    let client = aws(&moto.endpoint, REGION, &metrics);
    let observe = |mut mr: RdsInstance| {
        let external = RdsInstanceExternal::new(client.clone(), MemoryCluster::default());
        async move { external.observe(&mut mr).await.expect("observe").resource_exists }
    };
    // A create was started for these before, with the result unknown: only AWS can tell.
    let started = |name: &str| {
        let mut mr = small_instance(name);
        mr.annotations_mut().insert(EXTERNAL_CREATE_PENDING.into(), "2026-12-07T07:00:00Z".into());
        mr
    };
    assert!(!observe(small_instance("first-look")).await, "takes the (empty) snapshot");
    // Made after the snapshot: only a describe can find them.
    arrange_instance(&moto, "made-meanwhile-1", "db.t3.micro", "postgres", 20).await;
    arrange_instance(&moto, "Made-Meanwhile-2", "db.t3.micro", "postgres", 20).await;
    let names = (0..NEW).map(|i| format!("team-{i:03}-db")).chain(["made-meanwhile-1".into()]);
    let names: Vec<String> = names.chain(["made-meanwhile-2".into()]).collect();
    let before = metrics.calls("DescribeDBInstances");

    let new = futures::future::join_all(names.iter().map(|n| observe(small_instance(n)))).await;
    assert!(new.iter().all(|e| !e), "never created: absent until a create says otherwise");
    assert_eq!(metrics.calls("DescribeDBInstances"), before, "no describe for new resources");

    let exists = futures::future::join_all(names.iter().map(|n| observe(started(n)))).await;
    assert!(exists[..NEW].iter().all(|e| !e), "the new names are absent");
    assert_eq!(exists[NEW..], [true, true], "made meanwhile: found, whatever the case");
    let describes = metrics.calls("DescribeDBInstances") - before;
    let budget = 2 + names.len() as u64 / 100;
    assert!(describes <= budget, "{describes} describes for {} observes", names.len());
}

#[tokio::test]
async fn a_steady_state_cycle_over_500_instances_stays_within_the_describe_budget() {
    const INSTANCES: usize = 500;
    let moto = Moto::start();
    let arrange = sdk(&moto.endpoint, REGION);
    let names: Vec<String> = (0..INSTANCES).map(|i| format!("fleet-{i:03}")).collect();
    // A few at a time: moto answers each request on a new connection, and hundreds of connects
    // at once overflow its listen queue on a small machine (SDK connect timeout, not a finding).
    futures::stream::iter(names.iter().map(|name| {
        arrange
            .create_db_instance()
            .db_instance_identifier(name)
            .db_instance_class("db.t3.micro")
            .engine("postgres")
            .allocated_storage(20)
            .master_username("postgres")
            .master_user_password("arranged-outside")
            .send()
    }))
    .buffer_unordered(16)
    .try_collect::<Vec<_>>()
    .await
    .expect("arrange 500 instances");

    let metrics = AwsMetrics::default();
    let client = aws(&moto.endpoint, REGION, &metrics);
    let mut resources: Vec<RdsInstance> = names.iter().map(|name| small_instance(name)).collect();
    // Every resource observes at once, as after a controller restart: concurrent observers must
    // share one refresh.
    let observations = futures::future::try_join_all(resources.iter_mut().map(|mr| {
        let external = RdsInstanceExternal::new(client.clone(), MemoryCluster::default());
        async move { external.observe(mr).await }
    }))
    .await
    .expect("observe all");

    assert!(observations.iter().all(|o| o.resource_exists && o.readiness == Readiness::Available));
    let budget = 5 + INSTANCES / 100;
    let describes = metrics.calls("DescribeDBInstances");
    assert!(
        describes as usize <= budget,
        "{describes} DescribeDBInstances calls for {INSTANCES} instances (budget {budget})"
    );
    assert_eq!(metrics.write_calls(), 0, "observing never writes");

    for mr in &mut resources {
        let external = RdsInstanceExternal::new(client.clone(), MemoryCluster::default());
        external.observe(mr).await.expect("observe again");
    }
    assert_eq!(
        metrics.calls("DescribeDBInstances"),
        describes,
        "within the poll interval: no calls"
    );
}
