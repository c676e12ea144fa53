//! DBSubnetGroup against a real moto server with real EC2 subnets, and an RDSInstance placed in it.

#[allow(dead_code)]
#[path = "../../../tests/support/ec2.rs"]
mod ec2;
#[allow(dead_code)]
#[path = "../../../tests/support/tools.rs"]
mod tools;

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::{MemoryCluster, POLL, ScriptedRds, aws, payments_db_prod, sdk};
use crosstie_provider_aws::api::{Rds, RdsApi};
use crosstie_provider_aws::config::AwsClient;
use crosstie_provider_aws::dbsubnetgroup::DbSubnetGroupExternal;
use crosstie_provider_aws::{AwsMetrics, DbSubnetGroup, RdsInstance, RdsInstanceExternal};
use crosstie_runtime::annotations::{EXTERNAL_CREATE_SUCCEEDED, EXTERNAL_NAME};
use crosstie_runtime::{ExternalClient, ManagementAction, Readiness};
use ec2::vpc_with_subnets;
use kube::ResourceExt;
use tools::Moto;

const REGION: &str = "ap-northeast-2";

fn subnet_group(subnets: &[String]) -> DbSubnetGroup {
    let yaml = format!(
        r#"
apiVersion: database.aws.crossplane.io/v1beta1
kind: DBSubnetGroup
metadata:
  name: payments-subnets
spec:
  forProvider:
    region: ap-northeast-2
    description: payments databases
    subnetIds: [{}]
    tags:
      - key: team
        value: payments
"#,
        subnets.join(", ")
    );
    serde_saphyr::from_str(&yaml).expect("manifest deserializes")
}

/// Record a successful create on `group`, as the engine does after `create`.
fn created_by_the_engine(group: &mut DbSubnetGroup) {
    group.annotations_mut().insert(EXTERNAL_CREATE_SUCCEEDED.into(), "2026-11-22T10:00:00Z".into());
}

/// The VPC of DB instance `id` in moto, through its subnet group.
async fn vpc_of(moto: &Moto, id: &str) -> String {
    let described =
        sdk(&moto.endpoint, REGION).describe_db_instances().db_instance_identifier(id).send();
    let described = described.await.expect("the instance exists");
    let group = described.db_instances()[0].db_subnet_group.as_ref();
    group.and_then(|g| g.vpc_id.clone()).expect("the instance is in a subnet group")
}

#[tokio::test]
async fn a_subnet_group_is_created_observed_updated_and_used_by_an_instance() {
    let moto = Moto::start();
    let (vpc, subnets) = vpc_with_subnets(&moto.endpoint, REGION);
    let metrics = AwsMetrics::default();
    let client = aws(&moto.endpoint, REGION, &metrics);
    let groups = DbSubnetGroupExternal::new(client.clone());
    let mut group = subnet_group(&subnets);

    assert!(!groups.observe(&mut group).await.expect("observe").resource_exists);
    let reads = || (metrics.calls("DescribeDBSubnetGroups"), metrics.calls("ListTagsForResource"));
    assert_eq!(reads(), (0, 0), "a group never created is not described: the create tells");
    groups.create(&mut group).await.expect("create");
    created_by_the_engine(&mut group);
    let observed = groups.observe(&mut group).await.expect("observe");
    assert_eq!(reads(), (0, 0), "the first observation after create is the create response");
    assert!(observed.resource_exists && observed.resource_up_to_date, "{}", observed.diff);
    assert_eq!(observed.readiness, Readiness::Available, "Complete is Available");
    let at = group.status.as_ref().and_then(|s| s.at_provider.clone()).expect("atProvider");
    assert_eq!(at.vpc_id.as_deref(), Some(vpc.as_str()));
    assert_eq!(at.subnets.len(), 2);
    assert!(at.arn.as_deref().is_some_and(|a| a.ends_with(":subgrp:payments-subnets")));

    let instances = RdsInstanceExternal::new(client, MemoryCluster::default());
    let mut db = payments_db_prod();
    db.spec.for_provider.db_subnet_group_name = Some("payments-subnets".into());
    instances.create(&mut db).await.expect("create in the subnet group");
    assert_eq!(vpc_of(&moto, "payments-db-prod").await, vpc, "in the group's VPC");

    group.spec.for_provider.description = "payments and ledger databases".into();
    let drifted = groups.observe(&mut group).await.expect("observe");
    assert_eq!(reads(), (1, 1), "later observations read AWS");
    assert!(drifted.diff.contains("spec.forProvider.description"), "{}", drifted.diff);
    let writes_before = metrics.write_calls();
    groups.update(&mut group).await.expect("update");
    assert_eq!(metrics.calls("ModifyDBSubnetGroup"), 1, "one modification");
    assert_eq!(metrics.write_calls(), writes_before + 1, "tags already match: no tag write");
    // Convergence is not re-observed: moto 5.2.5's ModifyDBSubnetGroup drops the group from its
    // store (`subnet_groups.pop` without re-insert), so only the request is checked.
}

#[tokio::test]
async fn deleting_a_subnet_group_twice_succeeds() {
    let moto = Moto::start();
    let (_, subnets) = vpc_with_subnets(&moto.endpoint, REGION);
    let metrics = AwsMetrics::default();
    let groups = DbSubnetGroupExternal::new(aws(&moto.endpoint, REGION, &metrics));
    let mut group = subnet_group(&subnets);
    groups.create(&mut group).await.expect("create");
    created_by_the_engine(&mut group);
    groups.delete(&mut group).await.expect("delete");
    assert!(!groups.observe(&mut group).await.unwrap().resource_exists, "gone");
    groups.delete(&mut group).await.expect("NotFound on delete is success");
}

/// Once `ready` holds, reconcile `group` as the engine would a new one: observe it absent, then
/// create it.
async fn reconcile_once<A: RdsApi>(
    groups: &DbSubnetGroupExternal<A>,
    group: &mut DbSubnetGroup,
    ready: impl Fn() -> bool,
) {
    while !ready() {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(!groups.observe(group).await.expect("observe").resource_exists, "absent");
    groups.create(group).await.expect("create the group");
}

/// The issue's instance in the group [`subnet_group`] makes, named in other letter case (AWS
/// names are case-insensitive).
fn instance_in_the_group() -> RdsInstance {
    let mut db = payments_db_prod();
    db.spec.for_provider.db_subnet_group_name = Some("Payments-Subnets".into());
    db
}

#[tokio::test]
async fn an_instance_created_while_its_subnet_group_is_settling_waits_instead_of_failing() {
    let moto = Moto::start();
    let (vpc, subnets) = vpc_with_subnets(&moto.endpoint, REGION);
    let metrics = AwsMetrics::default();
    let client = aws(&moto.endpoint, REGION, &metrics);
    let groups = DbSubnetGroupExternal::new(client.clone());
    let instances = RdsInstanceExternal::new(client, MemoryCluster::default());
    let (mut group, mut db) = (subnet_group(&subnets), instance_in_the_group());

    assert!(!groups.observe(&mut group).await.expect("observe").resource_exists, "absent");
    // As when a composition makes both at once: the instance's create starts first.
    let (instance, _) = tokio::join!(instances.create(&mut db), async {
        tokio::time::sleep(Duration::from_millis(300)).await;
        groups.create(&mut group).await.expect("create the group")
    });

    instance.expect("the instance's create waited for its group");
    assert_eq!(metrics.calls("CreateDBInstance"), 1, "no failed create before it");
    assert_eq!(vpc_of(&moto, "payments-db-prod").await, vpc, "in the group's VPC");
}

#[tokio::test]
async fn an_instance_whose_group_is_not_begun_yet_is_created_once_the_group_is() {
    let moto = Moto::start();
    let (vpc, subnets) = vpc_with_subnets(&moto.endpoint, REGION);
    let metrics = AwsMetrics::default();
    let api = ScriptedRds::new(Rds::new(sdk(&moto.endpoint, REGION), metrics.clone()));
    let client = Arc::new(AwsClient::new(api, REGION, POLL));
    let groups = DbSubnetGroupExternal::new(client.clone());
    let instances = RdsInstanceExternal::new(client.clone(), MemoryCluster::default());
    let (mut group, mut db) = (subnet_group(&subnets), instance_in_the_group());

    // The instance's create is answered first; the group's reconcile begins only afterwards.
    let group_made = reconcile_once(&groups, &mut group, || client.api.creates_answered() > 0);
    let (instance, ()) = tokio::join!(instances.create(&mut db), group_made);

    instance.expect("the instance's create was tried again once its group was made");
    assert_eq!(metrics.calls("CreateDBInstance"), 2, "the missing group's, then the real one");
    assert_eq!(vpc_of(&moto, "payments-db-prod").await, vpc, "in the group's VPC");
}

#[tokio::test]
async fn an_instance_waits_for_the_group_a_subnet_group_resource_is_about_to_make() {
    let moto = Moto::start();
    let (vpc, subnets) = vpc_with_subnets(&moto.endpoint, REGION);
    let metrics = AwsMetrics::default();
    let client = aws(&moto.endpoint, REGION, &metrics);
    let groups = DbSubnetGroupExternal::new(client.clone());
    let cluster = MemoryCluster::default();
    let instances = RdsInstanceExternal::new(client.clone(), cluster.clone());
    let (mut group, mut db) = (subnet_group(&subnets), instance_in_the_group());
    cluster.apply_subnet_group(&group);

    // The group's reconcile has not begun (its controller is busy) when the instance's does.
    let waiting = || client.settling_subnet_groups.knows("payments-subnets");
    let (instance, ()) =
        tokio::join!(instances.create(&mut db), reconcile_once(&groups, &mut group, waiting));

    instance.expect("the instance's create waited for its group");
    assert_eq!(metrics.calls("CreateDBInstance"), 1, "no failed create before it");
    assert_eq!(vpc_of(&moto, "payments-db-prod").await, vpc, "in the group's VPC");
}

#[tokio::test]
async fn an_instance_does_not_wait_for_a_group_its_resource_made_already_or_names_otherwise() {
    let moto = Moto::start();
    let (_, subnets) = vpc_with_subnets(&moto.endpoint, REGION);
    let metrics = AwsMetrics::default();
    // The group is made by another process, so this one has no record of it settling.
    let groups = DbSubnetGroupExternal::new(aws(&moto.endpoint, REGION, &metrics));
    let client = aws(&moto.endpoint, REGION, &metrics);
    let cluster = MemoryCluster::default();
    let instances = RdsInstanceExternal::new(client.clone(), cluster.clone());
    let mut made = subnet_group(&subnets);
    groups.create(&mut made).await.expect("create the group");
    created_by_the_engine(&mut made);
    cluster.apply_subnet_group(&made);
    // The resource a second instance's reference names: it makes a group of another name.
    let mut other = subnet_group(&subnets);
    other.metadata.name = Some("ledger-subnets".into());
    other.annotations_mut().insert(EXTERNAL_NAME.into(), "ledger-subnets-eu".into());
    cluster.apply_subnet_group(&other);

    let mut db = instance_in_the_group();
    instances.create(&mut db).await.expect("created in the group made already");
    let mut ledger = payments_db_prod();
    ledger.metadata.name = Some("ledger-db".into());
    ledger.spec.for_provider.db_subnet_group_name = Some("payments-subnets".into());
    ledger.spec.for_provider.db_subnet_group_name_ref =
        Some(serde_json::from_value(serde_json::json!({"name": "ledger-subnets"})).unwrap());
    instances.create(&mut ledger).await.expect("created in the group it names");

    assert!(!client.settling_subnet_groups.knows("payments-subnets"), "neither waited");
    assert_eq!(metrics.calls("CreateDBInstance"), 2);
}

#[tokio::test]
async fn a_group_that_already_exists_is_adopted_and_brought_to_the_spec() {
    let moto = Moto::start();
    let (_, subnets) = vpc_with_subnets(&moto.endpoint, REGION);
    let metrics = AwsMetrics::default();
    let api = ScriptedRds::new(Rds::new(sdk(&moto.endpoint, REGION), metrics.clone()));
    let groups = DbSubnetGroupExternal::new(Arc::new(AwsClient::new(api, REGION, POLL)));
    let mut earlier = subnet_group(&subnets);
    earlier.spec.for_provider.description = "made by hand".into();
    earlier.spec.for_provider.tags.clear();
    DbSubnetGroupExternal::new(aws(&moto.endpoint, REGION, &AwsMetrics::default()))
        .create(&mut earlier)
        .await
        .expect("someone made the group first");
    let mut group = subnet_group(&subnets);

    assert!(!groups.observe(&mut group).await.expect("observe").resource_exists, "not asked");
    groups.create(&mut group).await.expect("AlreadyExists: the group is adopted");
    created_by_the_engine(&mut group);
    let adopted = groups.observe(&mut group).await.expect("observe");
    assert!(adopted.resource_exists, "found by the next observe");
    assert!(adopted.diff.contains("spec.forProvider.description"), "{}", adopted.diff);
    assert!(adopted.diff.contains("spec.forProvider.tags"), "{}", adopted.diff);
    groups.update(&mut group).await.expect("update");
    assert_eq!(metrics.calls("ModifyDBSubnetGroup"), 1, "the description is brought to the spec");
    assert_eq!(metrics.calls("AddTagsToResource"), 1, "and the tag added");
}

#[tokio::test]
async fn a_group_is_described_before_a_create_whenever_something_may_be_known() {
    let moto = Moto::start();
    let (_, subnets) = vpc_with_subnets(&moto.endpoint, REGION);
    let metrics = AwsMetrics::default();
    let groups = DbSubnetGroupExternal::new(aws(&moto.endpoint, REGION, &metrics));
    let describes = || metrics.calls("DescribeDBSubnetGroups");

    let mut observe_only = subnet_group(&subnets);
    observe_only.spec.resource_spec.management_policies = Some(vec![ManagementAction::Observe]);
    assert!(!groups.observe(&mut observe_only).await.unwrap().resource_exists);
    assert_eq!(describes(), 1, "may not create: only a describe can tell");

    let mut deleting = subnet_group(&subnets);
    deleting.metadata.deletion_timestamp = serde_json::from_str("\"2026-11-22T10:00:00Z\"").ok();
    assert!(deleting.metadata.deletion_timestamp.is_some());
    assert!(!groups.observe(&mut deleting).await.unwrap().resource_exists);
    assert_eq!(describes(), 2, "deleting: only a describe can tell");

    let mut recreated = subnet_group(&subnets);
    created_by_the_engine(&mut recreated);
    assert!(!groups.observe(&mut recreated).await.unwrap().resource_exists);
    assert_eq!(describes(), 3, "created before: it may have been deleted outside");
}
