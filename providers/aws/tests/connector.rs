//! The connector: ProviderConfig and credentials read through a (mock) Kubernetes API, clients
//! built for a real moto endpoint, reused until the configuration changes, clear errors.

#[allow(dead_code)]
#[path = "../../../tests/support/tools.rs"]
mod tools;

mod common;

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::payments_db_prod;
use crosstie_provider_aws::{AwsConnector, AwsMetrics};
use crosstie_runtime::{Connector, ExternalClient, ExternalError};
use http::{Request, Response, StatusCode};
use k8s_openapi::ByteString;
use k8s_openapi::api::core::v1::Secret;
use kube::api::ObjectMeta;
use kube::client::Body;
use serde_json::{Value, json};
use tools::Moto;

const PC_PATH: &str = "/apis/aws.crossplane.io/v1beta1/providerconfigs/aws-production";
const SECRET_PATH: &str = "/api/v1/namespaces/crossplane-system/secrets/aws-creds";

/// A fake API server answering GETs from a map of path → object (404 otherwise).
#[derive(Clone, Default)]
struct FakeApi(Arc<Mutex<HashMap<String, Value>>>);

impl FakeApi {
    fn put(&self, path: &str, object: Value) {
        self.0.lock().unwrap().insert(path.to_owned(), object);
    }

    fn client(&self) -> kube::Client {
        let (service, mut handle) = tower_test::mock::pair::<Request<Body>, Response<Body>>();
        let objects = self.0.clone();
        tokio::spawn(async move {
            while let Some((request, send)) = handle.next_request().await {
                let found = objects.lock().unwrap().get(request.uri().path()).cloned();
                let (status, body) = match found {
                    Some(object) => (StatusCode::OK, object),
                    None => (
                        StatusCode::NOT_FOUND,
                        json!({"kind": "Status", "apiVersion": "v1", "status": "Failure",
                               "reason": "NotFound", "code": 404, "message": "not found"}),
                    ),
                };
                let response = Response::builder()
                    .status(status)
                    .body(Body::from(serde_json::to_vec(&body).unwrap()))
                    .unwrap();
                send.send_response(response);
            }
        });
        kube::Client::new(service, "default")
    }
}

fn provider_config(generation: i64, endpoint: &str) -> Value {
    json!({
        "apiVersion": "aws.crossplane.io/v1beta1",
        "kind": "ProviderConfig",
        "metadata": {"name": "aws-production", "generation": generation, "resourceVersion": "7"},
        "spec": {
            "credentials": {
                "source": "Secret",
                "secretRef": {"namespace": "crossplane-system", "name": "aws-creds", "key": "credentials"},
            },
            "endpoint": {"url": {"type": "Static", "static": endpoint}, "hostnameImmutable": true},
        },
    })
}

fn secret(key: &str, access_key: &str) -> Value {
    let ini =
        format!("[default]\naws_access_key_id = {access_key}\naws_secret_access_key = s3cr3t\n");
    let secret = Secret {
        metadata: ObjectMeta { name: Some("aws-creds".into()), ..ObjectMeta::default() },
        data: Some(BTreeMap::from([(key.to_owned(), ByteString(ini.into_bytes()))])),
        ..Secret::default()
    };
    serde_json::to_value(secret).unwrap()
}

/// A connector that reads the ProviderConfig and its Secret on every connect.
fn connector(api: &FakeApi, metrics: &AwsMetrics) -> AwsConnector {
    AwsConnector::new(api.client(), metrics.clone(), Duration::from_secs(60))
        .with_credentials_ttl(Duration::ZERO)
}

#[tokio::test]
async fn a_missing_provider_config_is_named_in_the_error() {
    let api = FakeApi::default();
    let connector = connector(&api, &AwsMetrics::default());
    let Err(err) = connector.connect(&payments_db_prod()).await else { panic!("connected") };
    assert!(matches!(err, ExternalError::Transient { .. }), "retried: it may be applied soon");
    assert!(err.to_string().contains("ProviderConfig \"aws-production\" not found"), "{err}");
}

#[tokio::test]
async fn a_missing_credentials_secret_or_key_is_named_in_the_error() {
    let api = FakeApi::default();
    api.put(PC_PATH, provider_config(1, "http://127.0.0.1:9"));
    let connector = connector(&api, &AwsMetrics::default());

    let Err(err) = connector.connect(&payments_db_prod()).await else { panic!("connected") };
    assert!(err.to_string().contains("credentials Secret crossplane-system/aws-creds"), "{err}");
    assert!(err.to_string().contains("not found"), "{err}");

    api.put(SECRET_PATH, secret("creds", "AKIA"));
    let Err(err) = connector.connect(&payments_db_prod()).await else { panic!("connected") };
    let message = err.to_string();
    assert!(
        message.contains("crossplane-system/aws-creds")
            && message.contains("no key \"credentials\""),
        "{message}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn every_kind_and_resource_connecting_at_once_shares_one_client_per_region() {
    let api = FakeApi::default();
    api.put(PC_PATH, provider_config(1, "http://127.0.0.1:9"));
    api.put(SECRET_PATH, secret("credentials", "AKIA1"));
    let for_instances = connector(&api, &AwsMetrics::default());
    let for_subnet_groups = for_instances.clone();

    let burst = (0..40).map(|i| {
        let connector = if i % 2 == 0 { &for_instances } else { &for_subnet_groups }.clone();
        tokio::spawn(async move { connector.client("aws-production", Some("eu-central-1")).await })
    });
    let clients = futures::future::try_join_all(burst).await.expect("ran");

    let first = clients[0].as_ref().expect("connect");
    assert!(
        clients.iter().all(|c| c.as_ref().is_ok_and(|c| Arc::ptr_eq(c, first))),
        "one snapshot, one in-flight limit, one view of creates"
    );
    let other_region = for_instances.client("aws-production", Some("us-east-1")).await.unwrap();
    assert!(!Arc::ptr_eq(&other_region, first), "one per region");
}

#[tokio::test]
async fn a_static_endpoint_reaches_moto_and_clients_are_reused_until_credentials_change() {
    let moto = Moto::start();
    let api = FakeApi::default();
    api.put(PC_PATH, provider_config(1, &moto.endpoint));
    api.put(SECRET_PATH, secret("credentials", "AKIA1"));
    let metrics = AwsMetrics::default();
    let connector = connector(&api, &metrics);

    let external = connector.connect(&payments_db_prod()).await.expect("connect");
    let mut mr = payments_db_prod();
    let observed = external.observe(&mut mr).await.expect("observe through moto");
    assert!(!observed.resource_exists, "moto answered: nothing there yet");
    assert!(metrics.calls("DescribeDBInstances") >= 1, "the call went through the counted API");

    let region = Some("ap-northeast-2");
    let first = connector.client("aws-production", region).await.unwrap();
    let again = connector.client("aws-production", region).await.unwrap();
    assert!(Arc::ptr_eq(&first, &again), "unchanged configuration reuses the client");

    let mut status_only = provider_config(1, &moto.endpoint);
    status_only["status"] = json!({"users": 3});
    status_only["metadata"]["resourceVersion"] = json!("8");
    api.put(PC_PATH, status_only);
    let after_status = connector.client("aws-production", region).await.unwrap();
    assert!(
        Arc::ptr_eq(&first, &after_status),
        "a status-only change keeps the client and its snapshot"
    );

    api.put(SECRET_PATH, secret("credentials", "AKIA2"));
    let rotated = connector.client("aws-production", region).await.unwrap();
    assert!(!Arc::ptr_eq(&first, &rotated), "rotated credentials take effect without restart");

    api.put(PC_PATH, provider_config(2, &moto.endpoint));
    let edited = connector.client("aws-production", region).await.unwrap();
    assert!(
        !Arc::ptr_eq(&rotated, &edited),
        "an edited ProviderConfig takes effect without restart"
    );

    let other_region = connector.client("aws-production", Some("eu-west-1")).await.unwrap();
    assert!(!Arc::ptr_eq(&edited, &other_region), "one client per region");
}

#[tokio::test]
async fn a_subnet_group_reference_resolves_to_its_external_name() {
    use crosstie_runtime::Managed;
    use crosstie_runtime::reference::Resolver;

    let api = FakeApi::default();
    api.put(
        "/apis/database.aws.crossplane.io/v1beta1/dbsubnetgroups/payments-subnets",
        json!({
            "apiVersion": "database.aws.crossplane.io/v1beta1",
            "kind": "DBSubnetGroup",
            "metadata": {"name": "payments-subnets",
                         "annotations": {"crossplane.io/external-name": "payments-subnets-aws"}},
            "spec": {"forProvider": {"region": "ap-northeast-2", "description": "d"}},
        }),
    );
    let mut mr = payments_db_prod();
    mr.spec.for_provider.db_subnet_group_name_ref =
        Some(crosstie_runtime::Reference { name: "payments-subnets".into(), policy: None });
    mr.resolve_references(&Resolver::new(api.client(), None)).await.expect("resolves");
    assert_eq!(mr.spec.for_provider.db_subnet_group_name.as_deref(), Some("payments-subnets-aws"));

    mr.spec.for_provider.vpc_security_group_id_refs =
        Some(vec![crosstie_runtime::Reference { name: "sg".into(), policy: None }]);
    let err = mr.resolve_references(&Resolver::new(api.client(), None)).await.expect_err("no ec2");
    assert!(err.to_string().contains("spec.forProvider.vpcSecurityGroupIds"), "{err}");
}

#[tokio::test]
async fn credentials_read_moments_ago_are_trusted_until_the_ttl_passes() {
    let moto = Moto::start();
    let api = FakeApi::default();
    api.put(PC_PATH, provider_config(1, &moto.endpoint));
    api.put(SECRET_PATH, secret("credentials", "AKIA1"));
    let connector = AwsConnector::new(api.client(), AwsMetrics::default(), Duration::from_secs(60))
        .with_credentials_ttl(Duration::from_millis(300));
    let region = Some("ap-northeast-2");

    let first = connector.client("aws-production", region).await.unwrap();
    api.put(SECRET_PATH, secret("credentials", "AKIA2"));
    let within = connector.client("aws-production", region).await.unwrap();
    assert!(Arc::ptr_eq(&first, &within), "not read again within the TTL");

    tokio::time::sleep(Duration::from_millis(350)).await;
    let after = connector.client("aws-production", region).await.unwrap();
    assert!(!Arc::ptr_eq(&first, &after), "the rotated Secret is read once the TTL has passed");
}
