//! Table tests for the RDSInstance converters; every case says why.

use aws_sdk_rds::types::{
    DbInstance, DbParameterGroupStatus, DbSubnetGroup, Endpoint as AwsEndpoint,
    PendingModifiedValues, Tag as AwsTag, VpcSecurityGroupMembership as AwsSg,
};
use crosstie_runtime::Readiness;

use super::*;

/// What moto/AWS reports for the payments-db-prod instance after creation.
fn observed() -> DbInstance {
    DbInstance::builder()
        .db_instance_identifier("payments-db-prod")
        .db_instance_class("db.r6g.xlarge")
        .engine("postgres")
        .engine_version("15.4")
        .db_instance_status("available")
        .master_username("postgres")
        .allocated_storage(100)
        .storage_type("gp2")
        .multi_az(true)
        .storage_encrypted(true)
        .kms_key_id("arn:aws:kms:ap-northeast-2:123456789012:key/k-1")
        .backup_retention_period(7)
        .preferred_backup_window("03:00-03:30")
        .preferred_maintenance_window("sun:05:00-sun:05:30")
        .availability_zone("ap-northeast-2a")
        .endpoint(
            AwsEndpoint::builder().address("payments.example.rds.amazonaws.com").port(5432).build(),
        )
        .db_instance_port(5432)
        .publicly_accessible(false)
        .deletion_protection(false)
        .auto_minor_version_upgrade(true)
        .db_parameter_groups(
            DbParameterGroupStatus::builder().db_parameter_group_name("default.postgres15").build(),
        )
        .db_subnet_group(DbSubnetGroup::builder().db_subnet_group_name("default").build())
        .vpc_security_groups(
            AwsSg::builder().vpc_security_group_id("sg-1").status("active").build(),
        )
        .db_instance_arn("arn:aws:rds:ap-northeast-2:123456789012:db:payments-db-prod")
        .build()
}

/// The manifest, as typed by the user.
fn desired() -> RdsInstanceParameters {
    RdsInstanceParameters {
        region: Some("ap-northeast-2".into()),
        db_instance_class: "db.r6g.xlarge".into(),
        engine: "postgres".into(),
        engine_version: Some("15".into()),
        multi_az: Some(true),
        storage_encrypted: Some(true),
        allocated_storage: Some(100),
        backup_retention_period: Some(7),
        ..RdsInstanceParameters::default()
    }
}

fn late_initialized() -> RdsInstanceParameters {
    let mut p = desired();
    late_initialize(&mut p, &observed());
    p
}

#[test]
fn readiness_follows_the_aws_status() {
    let cases = [
        (Some("available"), Readiness::Available, "serving"),
        (Some("modifying"), Readiness::Available, "still serving while modifying"),
        (Some("backing-up"), Readiness::Available, "still serving while backing up"),
        (Some("configuring-enhanced-monitoring"), Readiness::Available, "still serving"),
        (Some("storage-optimization"), Readiness::Available, "still serving after a resize"),
        (Some("creating"), Readiness::Creating, "not there yet"),
        (Some("deleting"), Readiness::Deleting, "going away"),
        (
            Some("failed"),
            Readiness::Unavailable("DB instance status is \"failed\"".into()),
            "broken, with AWS's word",
        ),
        (
            Some("stopped"),
            Readiness::Unavailable("DB instance status is \"stopped\"".into()),
            "stopped is not usable",
        ),
    ];
    for (status, want, reason) in cases {
        assert_eq!(readiness(status), want, "{status:?}: {reason}");
    }
}

#[test]
fn updates_wait_while_aws_is_busy() {
    let cases = [
        (Some("creating"), true, "AWS refuses modifications while creating"),
        (Some("modifying"), true, "AWS refuses modifications while modifying"),
        (Some("available"), false, "ready for changes"),
        (Some("backing-up"), false, "modifications are accepted while backing up"),
    ];
    for (status, want, reason) in cases {
        assert_eq!(is_busy(status), want, "{status:?}: {reason}");
    }
}

#[test]
fn master_username_defaults_per_engine() {
    let cases = [
        ("postgres", "postgres", "RDS console default for PostgreSQL"),
        ("aurora-postgresql", "postgres", "PostgreSQL-compatible"),
        ("mysql", "admin", "RDS console default for MySQL"),
        ("mariadb", "admin", "MySQL family"),
        ("sqlserver-ex", "admin", "SQL Server accepts admin"),
        ("oracle-se2", "admin", "Oracle accepts admin"),
    ];
    for (engine, want, reason) in cases {
        assert_eq!(default_master_username(engine), want, "{engine}: {reason}");
    }
}

#[test]
fn create_input_carries_the_spec() {
    let mut p = desired();
    p.availability_zone = Some("ap-northeast-2a".into());
    p.tags = Some(vec![Tag { key: "team".into(), value: "payments".into() }]);
    let input =
        create_input("payments-db-prod", &p, "postgres", "pw").build().expect("valid input");
    assert_eq!(
        input.db_instance_identifier(),
        Some("payments-db-prod"),
        "identifier is the external name"
    );
    assert_eq!(input.db_instance_class(), Some("db.r6g.xlarge"));
    assert_eq!((input.engine(), input.engine_version()), (Some("postgres"), Some("15")));
    assert_eq!((input.allocated_storage(), input.multi_az()), (Some(100), Some(true)));
    assert_eq!((input.storage_encrypted(), input.backup_retention_period()), (Some(true), Some(7)));
    assert_eq!(
        (input.master_username(), input.master_user_password()),
        (Some("postgres"), Some("pw"))
    );
    assert_eq!(input.availability_zone(), None, "AWS rejects an AZ with Multi-AZ");
    assert_eq!(input.tags().len(), 1, "tags are set at creation");
    assert_eq!(input.iops(), None, "unset fields are left to AWS");
}

#[test]
fn delete_input_honours_the_final_snapshot_settings() {
    struct Case {
        reason: &'static str,
        skip: Option<bool>,
        snapshot: Option<&'static str>,
        want: (Option<bool>, Option<&'static str>),
    }
    let cases = [
        Case {
            reason: "default takes the named final snapshot",
            skip: None,
            snapshot: Some("final"),
            want: (Some(false), Some("final")),
        },
        Case {
            reason: "skip wins and drops the name AWS would reject",
            skip: Some(true),
            snapshot: Some("final"),
            want: (Some(true), None),
        },
        Case {
            reason: "skip without a name",
            skip: Some(true),
            snapshot: None,
            want: (Some(true), None),
        },
    ];
    for case in cases {
        let p = RdsInstanceParameters {
            skip_final_snapshot_before_deletion: case.skip,
            final_db_snapshot_identifier: case.snapshot.map(str::to_owned),
            ..desired()
        };
        let input = delete_input("db", &p).build().expect("valid input");
        assert_eq!(
            (input.skip_final_snapshot(), input.final_db_snapshot_identifier()),
            case.want,
            "{}",
            case.reason
        );
    }
}

#[test]
fn late_initialization_fills_only_unset_fields() {
    let p = late_initialized();
    let cases: [(&str, Option<String>, Option<&str>); 7] = [
        ("engineVersion keeps the user's prefix", p.engine_version.clone(), Some("15")),
        ("storageType takes AWS's default", p.storage_type.clone(), Some("gp2")),
        ("backup window is filled", p.preferred_backup_window.clone(), Some("03:00-03:30")),
        (
            "maintenance window is filled",
            p.preferred_maintenance_window.clone(),
            Some("sun:05:00-sun:05:30"),
        ),
        ("masterUsername is filled", p.master_username.clone(), Some("postgres")),
        (
            "parameter group is filled",
            p.db_parameter_group_name.clone(),
            Some("default.postgres15"),
        ),
        ("AZ is not pinned with Multi-AZ", p.availability_zone.clone(), None),
    ];
    for (reason, got, want) in cases {
        assert_eq!(got.as_deref(), want, "{reason}");
    }
    assert_eq!(p.port, Some(5432), "port is filled from the endpoint");
    assert_eq!(
        p.vpc_security_group_ids,
        Some(vec!["sg-1".to_owned()]),
        "security groups are filled"
    );

    let mut again = p.clone();
    assert!(!late_initialize(&mut again, &observed()), "a second pass changes nothing");
    let mut fresh = desired();
    assert!(late_initialize(&mut fresh, &observed()), "the first pass reports the change");

    let mut single_az = RdsInstanceParameters { multi_az: Some(false), ..desired() };
    late_initialize(&mut single_az, &observed());
    assert_eq!(
        single_az.availability_zone.as_deref(),
        Some("ap-northeast-2a"),
        "single-AZ pins the AZ"
    );
}

#[test]
fn drift_detects_changes_and_builds_a_minimal_modification() {
    struct Case {
        reason: &'static str,
        edit: fn(&mut RdsInstanceParameters),
        /// The changed fields, in order.
        changes: &'static [&'static str],
        immutable: &'static [&'static str],
    }
    let cases = [
        Case {
            reason: "the applied manifest is up to date",
            edit: |_| {},
            changes: &[],
            immutable: &[],
        },
        Case {
            reason: "engineVersion 15 matches 15.4",
            edit: |p| p.engine_version = Some("15".into()),
            changes: &[],
            immutable: &[],
        },
        Case {
            reason: "engineVersion downgrade is not an upgrade",
            edit: |p| p.engine_version = Some("14.9".into()),
            changes: &[],
            immutable: &[],
        },
        Case {
            reason: "engineVersion upgrade counts",
            edit: |p| p.engine_version = Some("16".into()),
            changes: &["engineVersion"],
            immutable: &[],
        },
        Case {
            reason: "storage growth is modifiable",
            edit: |p| p.allocated_storage = Some(200),
            changes: &["allocatedStorage"],
            immutable: &[],
        },
        Case {
            reason: "class and backups change together",
            edit: |p| {
                p.db_instance_class = "db.r6g.2xlarge".into();
                p.backup_retention_period = Some(14);
            },
            changes: &["dbInstanceClass", "backupRetentionPeriod"],
            immutable: &[],
        },
        Case {
            reason: "iops 0 equals unset",
            edit: |p| p.iops = Some(0),
            changes: &[],
            immutable: &[],
        },
        Case {
            reason: "security groups compare as sets",
            edit: |p| p.vpc_security_group_ids = Some(vec!["sg-2".into(), "sg-1".into()]),
            changes: &["vpcSecurityGroupIds"],
            immutable: &[],
        },
        Case {
            reason: "engine cannot change in place",
            edit: |p| p.engine = "mysql".into(),
            changes: &[],
            immutable: &["engine"],
        },
        Case {
            reason: "encryption cannot change in place",
            edit: |p| p.storage_encrypted = Some(false),
            changes: &[],
            immutable: &["storageEncrypted"],
        },
        Case {
            reason: "master user cannot change in place",
            edit: |p| p.master_username = Some("root".into()),
            changes: &[],
            immutable: &["masterUsername"],
        },
        Case {
            reason: "a KMS key id matches its ARN",
            edit: |p| p.kms_key_id = Some("k-1".into()),
            changes: &[],
            immutable: &[],
        },
        Case {
            reason: "another KMS key cannot be swapped in",
            edit: |p| p.kms_key_id = Some("k-2".into()),
            changes: &[],
            immutable: &["kmsKeyId"],
        },
        Case {
            reason: "AZ is ignored with Multi-AZ",
            edit: |p| p.availability_zone = Some("ap-northeast-2c".into()),
            changes: &[],
            immutable: &[],
        },
        Case {
            reason: "AZ cannot move in place for single-AZ",
            edit: |p| {
                p.multi_az = Some(false);
                p.availability_zone = Some("ap-northeast-2c".into());
            },
            changes: &["multiAZ"],
            immutable: &["availabilityZone"],
        },
    ];
    for case in cases {
        let mut p = late_initialized();
        (case.edit)(&mut p);
        let drift = drift("payments-db-prod", &p, &observed(), None);
        let changes: Vec<_> = drift.changes.iter().map(|c| c.field).collect();
        let immutable: Vec<_> = drift.immutable.iter().map(|c| c.field).collect();
        assert_eq!(changes, case.changes, "{}: changes", case.reason);
        assert_eq!(immutable, case.immutable, "{}: immutable", case.reason);
        assert_eq!(
            drift.is_up_to_date(),
            case.changes.is_empty() && case.immutable.is_empty(),
            "{}",
            case.reason
        );
    }
}

#[test]
fn modification_sends_only_changed_fields_and_honours_apply_immediately() {
    for (apply, reason) in
        [(Some(true), "apply now"), (None, "default waits for the maintenance window")]
    {
        let mut p = late_initialized();
        p.allocated_storage = Some(200);
        p.apply_modifications_immediately = apply;
        let drift = drift("payments-db-prod", &p, &observed(), None);
        let input = drift.modify.clone().build().expect("valid input");
        assert_eq!(input.db_instance_identifier(), Some("payments-db-prod"), "{reason}");
        assert_eq!(input.allocated_storage(), Some(200), "{reason}: the change");
        assert_eq!(input.apply_immediately(), Some(apply.unwrap_or(false)), "{reason}");
        assert_eq!(
            (
                input.db_instance_class(),
                input.multi_az(),
                input.engine_version(),
                input.master_user_password()
            ),
            (None, None, None, None),
            "{reason}: nothing else"
        );
        assert_eq!(
            drift.diff(),
            "spec.forProvider.allocatedStorage: desired 200, AWS has 100",
            "{reason}: readable diff"
        );
    }
}

#[test]
fn pending_modifications_are_not_requested_again() {
    let mut p = late_initialized();
    p.allocated_storage = Some(200);
    let mut pending = observed();
    pending.pending_modified_values =
        Some(PendingModifiedValues::builder().allocated_storage(200).build());
    assert!(drift("db", &p, &pending, None).is_up_to_date(), "AWS already accepted the change");
}

#[test]
fn immutable_changes_are_a_clear_error_naming_the_field() {
    let mut p = late_initialized();
    p.engine = "mysql".into();
    let drift = drift("db", &p, &observed(), None);
    let message = drift.immutable_error().expect("immutable change");
    assert!(message.contains("spec.forProvider.engine"), "{message}");
    assert!(
        message.contains("\"mysql\"") && message.contains("\"postgres\""),
        "both values: {message}"
    );
    assert!(drift.diff().contains("(immutable)"), "the diff flags it too");
}

#[test]
fn password_changes_are_modifications() {
    let p = late_initialized();
    let drift = drift("db", &p, &observed(), Some(&NewPassword::Referenced("n3w".into())));
    assert_eq!(drift.changes.len(), 1, "only the password");
    assert_eq!(drift.modify.clone().build().expect("valid").master_user_password(), Some("n3w"));
    assert!(!drift.diff().contains("n3w"), "the diff never shows the password");
}

#[test]
fn an_unpublished_generated_password_is_replaced_and_the_diff_names_the_secret() {
    let p = late_initialized();
    let regenerated =
        NewPassword::Regenerated { password: "g3n".into(), secret: "app-a/db-conn".into() };
    let drift = drift("db", &p, &observed(), Some(&regenerated));
    let modify = drift.modify.clone().build().expect("valid");
    assert_eq!(modify.master_user_password(), Some("g3n"));
    assert_eq!(
        drift.diff(),
        "spec.forProvider.masterPasswordSecretRef: desired a newly generated password, AWS has one never published to Secret app-a/db-conn"
    );
}

#[test]
fn a_region_other_than_the_recorded_instance_s_is_an_immutable_change() {
    let arn = Some("arn:aws:rds:us-east-1:123456789012:db:orders");
    let message = region_change(arn, "us-west-2").expect("moving regions is refused");
    assert!(message.starts_with("cannot change in place"), "{message}");
    assert!(
        message.contains("spec.forProvider.region: desired \"us-west-2\", AWS has \"us-east-1\""),
        "{message}"
    );
    assert_eq!(region_change(arn, "us-east-1"), None, "same region");
    assert_eq!(region_change(None, "us-west-2"), None, "nothing recorded yet");
}

#[test]
fn engine_versions_compare_numerically_and_by_prefix() {
    let cases = [
        ("15", "15.4", false, "prefix matches"),
        ("15.4", "15.4", false, "equal"),
        ("15.5", "15.4", true, "minor upgrade"),
        ("16", "15.4", true, "major upgrade"),
        ("15.10", "15.9", true, "numeric, not lexical"),
        ("14", "15.4", false, "downgrade is not an upgrade"),
        ("8.0.35", "8.0.34", true, "patch upgrade"),
    ];
    for (desired, observed, want, reason) in cases {
        assert_eq!(is_engine_upgrade(desired, observed), want, "{desired} vs {observed}: {reason}");
    }
}

#[test]
fn tags_are_added_changed_and_removed() {
    let aws = |k: &str, v: &str| AwsTag::builder().key(k).value(v).build();
    let tag = |k: &str, v: &str| Tag { key: k.into(), value: v.into() };
    let observed = [aws("team", "payments"), aws("old", "x")];
    let (add, remove) = tag_changes(Some(&[tag("team", "core"), tag("env", "prod")]), &observed);
    let added: Vec<_> =
        add.iter().map(|t| (t.key.clone().unwrap(), t.value.clone().unwrap())).collect();
    assert_eq!(
        added,
        [("env".into(), "prod".into()), ("team".into(), "core".into())],
        "new and changed"
    );
    assert_eq!(remove, ["old"], "dropped keys are removed; changed keys are not");
    assert_eq!(tag_changes(None, &observed), (vec![], vec![]), "unset tags manage nothing");
}

#[test]
fn observation_and_connection_details_come_from_aws() {
    let at = observation(&observed());
    assert_eq!(at.db_instance_status.as_deref(), Some("available"));
    assert_eq!(
        at.endpoint.as_ref().and_then(|e| e.address.as_deref()),
        Some("payments.example.rds.amazonaws.com")
    );
    assert_eq!((at.db_instance_port, at.allocated_storage), (Some(5432), Some(100)));
    let details = connection_details(&observed());
    assert_eq!(
        details.get("endpoint").map(Vec::as_slice),
        Some(&b"payments.example.rds.amazonaws.com"[..])
    );
    assert_eq!(details.get("port").map(Vec::as_slice), Some(&b"5432"[..]));
    assert_eq!(details.get("username").map(Vec::as_slice), Some(&b"postgres"[..]));
    let creating = DbInstance::builder().db_instance_status("creating").build();
    assert!(connection_details(&creating).is_empty(), "no endpoint until AWS assigns one");
}
