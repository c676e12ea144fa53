//! Direct RDS calls against a moto server, to check what Crosstie did (or to set up an instance
//! Crosstie did not create).

use aws_sdk_rds::config::{BehaviorVersion, Credentials, Region};
use aws_sdk_rds::types::DbInstance;

fn client(endpoint: &str, region: &str) -> aws_sdk_rds::Client {
    let config = aws_sdk_rds::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new(region.to_owned()))
        .credentials_provider(Credentials::new("test", "test", None, None, "tests"))
        .endpoint_url(endpoint)
        .build();
    aws_sdk_rds::Client::from_conf(config)
}

fn block_on<F: std::future::Future>(future: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(future)
}

/// The instance `id` in `region`, or `None` when moto has no such instance.
pub fn describe(endpoint: &str, region: &str, id: &str) -> Option<DbInstance> {
    block_on(async {
        match client(endpoint, region)
            .describe_db_instances()
            .db_instance_identifier(id)
            .send()
            .await
        {
            Ok(out) => out.db_instances.unwrap_or_default().into_iter().next(),
            Err(err)
                if err.as_service_error().is_some_and(|e| e.is_db_instance_not_found_fault()) =>
            {
                None
            }
            Err(err) => panic!("DescribeDBInstances {id}: {err:?}"),
        }
    })
}

/// Create a small postgres instance `id` in `region` directly in moto.
pub fn create(endpoint: &str, region: &str, id: &str) {
    block_on(async {
        client(endpoint, region)
            .create_db_instance()
            .db_instance_identifier(id)
            .db_instance_class("db.t3.micro")
            .engine("postgres")
            .allocated_storage(20)
            .master_username("postgres")
            .master_user_password("created-outside-crosstie")
            .send()
            .await
            .unwrap_or_else(|err| panic!("CreateDBInstance {id}: {err:?}"));
    })
}

/// Every instance in `region`.
pub fn describe_all(endpoint: &str, region: &str) -> Vec<DbInstance> {
    block_on(async {
        let out = client(endpoint, region)
            .describe_db_instances()
            .send()
            .await
            .unwrap_or_else(|err| panic!("DescribeDBInstances: {err:?}"));
        out.db_instances.unwrap_or_default()
    })
}
