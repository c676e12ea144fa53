//! Pure conversions between a DBSubnetGroup and the RDS API.

use std::collections::BTreeSet;

use aws_sdk_rds::operation::create_db_subnet_group::builders::CreateDbSubnetGroupInputBuilder;
use aws_sdk_rds::operation::modify_db_subnet_group::builders::ModifyDbSubnetGroupInputBuilder;
use aws_sdk_rds::types::{self as aws, DbSubnetGroup};
use crosstie_runtime::Readiness;

use super::types::{DbSubnetGroupObservation, DbSubnetGroupParameters, SubnetStatus};
use crate::rdsinstance::types::Tag;

/// `Complete` (any case) is Available; anything else is Unavailable with the state.
pub fn readiness(state: Option<&str>) -> Readiness {
    match state {
        Some(s) if s.eq_ignore_ascii_case("complete") => Readiness::Available,
        Some(s) => Readiness::Unavailable(format!("DB subnet group state is {s:?}")),
        None => Readiness::Unavailable("DB subnet group reports no state".to_owned()),
    }
}

/// `status.atProvider` from what AWS reports.
pub fn observation(group: &DbSubnetGroup) -> DbSubnetGroupObservation {
    DbSubnetGroupObservation {
        state: group.subnet_group_status.clone(),
        arn: group.db_subnet_group_arn.clone(),
        subnets: group
            .subnets()
            .iter()
            .map(|s| SubnetStatus {
                subnet_id: s.subnet_identifier.clone(),
                subnet_status: s.subnet_status.clone(),
            })
            .collect(),
        vpc_id: group.vpc_id.clone(),
    }
}

/// The error when the group recorded at `recorded_arn` lives in another region than `region`,
/// the one the spec now names: a group cannot move, and looking for it in the new region would
/// create a second one and abandon the first.
pub fn region_change(recorded_arn: Option<&str>, region: &str) -> Option<String> {
    let recorded = crate::api::arn_region(recorded_arn?)?;
    (recorded != region).then(|| {
        format!(
            "cannot change in place (AWS would require replacing the DB subnet group): spec.forProvider.region: desired {region:?}, AWS has {recorded:?}; revert the spec, or delete and recreate the resource"
        )
    })
}

fn observed_subnets(group: &DbSubnetGroup) -> Vec<String> {
    group.subnets().iter().filter_map(|s| s.subnet_identifier.clone()).collect()
}

/// Fill an empty description or subnet list from AWS. Returns whether anything was filled.
pub fn late_initialize(p: &mut DbSubnetGroupParameters, group: &DbSubnetGroup) -> bool {
    let mut filled = false;
    if p.description.is_empty()
        && let Some(description) = group.db_subnet_group_description.clone()
    {
        p.description = description;
        filled = true;
    }
    if p.subnet_ids.is_empty() {
        p.subnet_ids = observed_subnets(group);
        filled |= !p.subnet_ids.is_empty();
    }
    filled
}

/// Differences between spec and AWS, one line each (empty when up to date). Tags are compared
/// as a set of desired tags present in AWS: extra AWS tags are left alone.
pub fn diff(p: &DbSubnetGroupParameters, group: &DbSubnetGroup, tags: &[aws::Tag]) -> Vec<String> {
    let mut lines = Vec::new();
    let observed_description = group.db_subnet_group_description.clone().unwrap_or_default();
    if p.description != observed_description {
        lines.push(format!(
            "spec.forProvider.description: desired {:?}, AWS has {observed_description:?}",
            p.description
        ));
    }
    let want: BTreeSet<&String> = p.subnet_ids.iter().collect();
    let have = observed_subnets(group);
    if want != have.iter().collect() {
        lines.push(format!("spec.forProvider.subnetIds: desired {want:?}, AWS has {have:?}"));
    }
    let missing = missing_tags(&p.tags, tags);
    if !missing.is_empty() {
        let keys: Vec<_> = missing.iter().filter_map(|t| t.key.as_deref()).collect();
        lines.push(format!("spec.forProvider.tags: add or change {keys:?}"));
    }
    lines
}

/// Desired tags AWS lacks (or has with another value).
pub fn missing_tags(desired: &[Tag], observed: &[aws::Tag]) -> Vec<aws::Tag> {
    desired
        .iter()
        .filter(|t| {
            !observed
                .iter()
                .any(|o| o.key.as_deref() == Some(&t.key) && o.value.as_deref() == Some(&t.value))
        })
        .map(|t| aws::Tag::builder().key(&t.key).value(&t.value).build())
        .collect()
}

/// The `CreateDBSubnetGroup` input for group `name`.
pub fn create_input(name: &str, p: &DbSubnetGroupParameters) -> CreateDbSubnetGroupInputBuilder {
    CreateDbSubnetGroupInputBuilder::default()
        .db_subnet_group_name(name)
        .db_subnet_group_description(&p.description)
        .set_subnet_ids(Some(p.subnet_ids.clone()))
        .set_tags((!p.tags.is_empty()).then(|| missing_tags(&p.tags, &[])))
}

/// The `ModifyDBSubnetGroup` input for group `name`.
pub fn modify_input(name: &str, p: &DbSubnetGroupParameters) -> ModifyDbSubnetGroupInputBuilder {
    ModifyDbSubnetGroupInputBuilder::default()
        .db_subnet_group_name(name)
        .db_subnet_group_description(&p.description)
        .set_subnet_ids(Some(p.subnet_ids.clone()))
}

#[cfg(test)]
mod tests {
    use aws_sdk_rds::types::Subnet;

    use super::*;

    fn group(description: &str, subnets: &[&str]) -> DbSubnetGroup {
        DbSubnetGroup::builder()
            .db_subnet_group_description(description)
            .set_subnets(Some(
                subnets.iter().map(|s| Subnet::builder().subnet_identifier(*s).build()).collect(),
            ))
            .subnet_group_status("Complete")
            .build()
    }

    fn params(
        description: &str,
        subnets: &[&str],
        tags: &[(&str, &str)],
    ) -> DbSubnetGroupParameters {
        DbSubnetGroupParameters {
            description: description.into(),
            subnet_ids: subnets.iter().map(|s| (*s).to_owned()).collect(),
            tags: tags.iter().map(|(k, v)| Tag { key: (*k).into(), value: (*v).into() }).collect(),
            ..DbSubnetGroupParameters::default()
        }
    }

    #[test]
    fn subnet_groups_are_up_to_date_when_description_subnets_and_tags_match() {
        let aws_tags = [aws::Tag::builder().key("team").value("payments").build()];
        let cases: [(&str, DbSubnetGroupParameters, usize); 5] = [
            ("identical", params("db", &["a", "b"], &[("team", "payments")]), 0),
            ("subnet order does not matter", params("db", &["b", "a"], &[]), 0),
            ("description differs", params("other", &["a", "b"], &[]), 1),
            ("a subnet is added", params("db", &["a", "b", "c"], &[]), 1),
            ("a tag value changes", params("db", &["a", "b"], &[("team", "core")]), 1),
        ];
        for (reason, p, lines) in cases {
            let got = diff(&p, &group("db", &["a", "b"]), &aws_tags);
            assert_eq!(got.len(), lines, "{reason}: {got:?}");
        }
    }

    #[test]
    fn a_region_other_than_the_recorded_group_s_is_an_immutable_change() {
        let arn = Some("arn:aws:rds:us-east-1:123456789012:subgrp:orders");
        let message = region_change(arn, "eu-west-1").expect("moving regions is refused");
        assert!(message.starts_with("cannot change in place"), "{message}");
        assert!(message.contains("desired \"eu-west-1\", AWS has \"us-east-1\""), "{message}");
        assert_eq!(region_change(arn, "us-east-1"), None, "same region");
        assert_eq!(region_change(None, "eu-west-1"), None, "nothing recorded yet");
    }

    #[test]
    fn complete_is_available_in_any_case() {
        assert_eq!(readiness(Some("Complete")), Readiness::Available, "AWS spelling");
        assert_eq!(readiness(Some("complete")), Readiness::Available, "lower case");
        assert!(
            matches!(readiness(Some("Incomplete")), Readiness::Unavailable(m) if m.contains("Incomplete"))
        );
    }

    #[test]
    fn late_initialization_fills_only_empty_fields() {
        let mut empty = params("", &[], &[]);
        assert!(late_initialize(&mut empty, &group("db", &["a"])), "empty spec is filled");
        assert_eq!(
            (empty.description.as_str(), empty.subnet_ids.as_slice()),
            ("db", &["a".to_owned()][..])
        );
        let mut set = params("mine", &["x"], &[]);
        assert!(!late_initialize(&mut set, &group("db", &["a"])), "set fields are kept");
        assert_eq!(set.description, "mine");
    }
}
