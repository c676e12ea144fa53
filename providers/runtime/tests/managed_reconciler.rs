//! Scenario tests of the managed-resource reconciler over a fake cloud and a scripted API server
//! that asserts every request (method, path, exact body) and answers in order.

mod fixture;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use crosstie_runtime::Config;
use crosstie_runtime::ManagementAction::{Create, Delete, Observe, Update};
use crosstie_runtime::annotations::{
    EXTERNAL_CREATE_FAILED, EXTERNAL_CREATE_PENDING, EXTERNAL_CREATE_SUCCEEDED, EXTERNAL_NAME,
    PAUSED, POLL_INTERVAL,
};
use crosstie_runtime::reason::{MSG_CREATE_INCOMPLETE, MSG_CREATED, MSG_PAUSED};
use fixture::*;
use kube::runtime::controller::Action;
use serde_json::json;

fn finalizer_removed() -> Exchange {
    patch(
        path("db"),
        json!([
            { "op": "test", "path": "/metadata/finalizers/0", "value": FINALIZER },
            { "op": "remove", "path": "/metadata/finalizers/0" },
        ]),
    )
}

fn steps(parts: impl IntoIterator<Item = Vec<Exchange>>) -> Vec<Exchange> {
    parts.into_iter().flatten().collect()
}

/// What a first pass writes around creating new `db`, which the cloud makes available at
/// once: name and pending record, success record, event, then one status write of what the
/// observation right after the create found.
fn created_on_first_pass(db: &Database) -> Vec<Exchange> {
    vec![
        metadata_saved("1", json!({ EXTERNAL_NAME: "db", EXTERNAL_CREATE_PENDING: NOW })),
        annotated(json!({ EXTERNAL_CREATE_SUCCEEDED: NOW })),
        event("CreatedExternalResource", Some(MSG_CREATED)),
        status_patch(db, json!([ready_available(), synced()])),
    ]
}

#[tokio::test]
async fn first_reconcile_creates_the_external_resource_records_its_name_and_observes_it() {
    let db = Database::named("db");
    let cloud = Cloud::absent();
    let script = steps([usage_recorded(&db), created_on_first_pass(&db)]);

    let action = reconcile(&db, &cloud, script).await.unwrap();

    assert_eq!(cloud.calls(), [Call::Observe, Call::Create, Call::Observe]);
    assert_eq!(action, poll());
}

#[tokio::test]
async fn an_in_sync_resource_makes_no_writes_at_all() {
    let db = Database::named("db").created();
    let cloud = Cloud::in_sync();

    let action = reconcile(&db, &cloud, usage_already_recorded(&db)).await.unwrap();

    assert_eq!(cloud.calls(), [Call::Observe]);
    assert_eq!(action, poll());
}

#[tokio::test]
async fn a_usage_confirmed_within_the_poll_interval_is_not_read_again() {
    let db = Database::named("db").created();
    let config = Config { poll_interval: Duration::from_millis(200), ..config() };
    let script = steps([usage_already_recorded(&db), usage_already_recorded(&db)]);
    let engine = Engine::configured(config, &db, &Cloud::in_sync(), script);

    engine.reconcile(&db).await.unwrap();
    engine.reconcile(&db).await.unwrap();
    tokio::time::sleep(Duration::from_millis(250)).await;
    engine.reconcile(&db).await.unwrap();
    engine.verify().await;
}

#[tokio::test]
async fn a_resource_created_before_has_its_missing_usage_read_then_recorded() {
    let db = Database::named("db").created();

    let action = reconcile(&db, &Cloud::in_sync(), usage_recorded(&db)).await.unwrap();

    assert_eq!(action, poll());
}

#[tokio::test]
async fn a_new_resource_whose_usage_exists_reads_it_once_its_create_is_refused() {
    let db = Database::named("db");
    let script = steps([usage_already_recorded(&db), created_on_first_pass(&db)]);

    reconcile(&db, &Cloud::absent(), script).await.unwrap();
}

#[tokio::test]
async fn resources_sharing_a_provider_config_read_it_once_within_the_poll_interval() {
    let first = Database::named("first").created();
    let second = Database::named("second").created();
    let script = steps([
        usage_already_recorded(&first),
        vec![get(usage_path(&second)).returns(usage(&second))],
    ]);
    let engine = Engine::start(&first, &Cloud::in_sync(), script);

    engine.reconcile(&first).await.unwrap();
    engine.reconcile(&second).await.unwrap();
    engine.verify().await;
}

#[tokio::test]
async fn the_poll_interval_annotation_sets_when_an_in_sync_resource_is_observed_again() {
    let db = Database::named("db").created().annotated(POLL_INTERVAL, "1h30m");

    let action = reconcile(&db, &Cloud::in_sync(), usage_already_recorded(&db)).await.unwrap();

    assert_eq!(action, Action::requeue(Duration::from_secs(5400)));
}

#[tokio::test]
async fn drift_is_corrected_by_one_update_with_the_diff_in_the_event_and_condition() {
    let db = Database::named("db").created();
    let cloud = Cloud::drifted("size: 10 -> 20");
    let script = steps([
        usage_already_recorded(&db),
        vec![
            event("UpdatedExternalResource", Some("size: 10 -> 20")),
            status_patch(
                &db,
                json!([
                    ready_available(),
                    condition(
                        "Synced",
                        "True",
                        "ReconcileSuccess",
                        "updated external resource: size: 10 -> 20"
                    ),
                ]),
            ),
        ],
    ]);

    let action = reconcile(&db, &cloud, script).await.unwrap();

    assert_eq!(cloud.calls(), [Call::Observe, Call::Update]);
    assert_eq!(action, poll());
}

#[tokio::test]
async fn late_initialization_patches_the_spec_once() {
    let db = Database::named("db").created();
    let cloud = Cloud::in_sync().late_initializing(20);
    let engine = Engine::start(
        &db,
        &cloud,
        steps([
            usage_already_recorded(&db),
            vec![patch(path("db"), json!({ "spec": { "forProvider": { "size": 20 } } }))],
        ]),
    );

    engine.reconcile(&db).await.unwrap();
    engine.reconcile(&db.clone().sized(20)).await.unwrap();
    engine.verify().await;

    assert_eq!(cloud.calls(), [Call::Observe, Call::Observe]);
}

#[tokio::test]
async fn what_a_create_late_initializes_is_saved_with_its_success_record() {
    let db = Database::named("db");
    let cloud = Cloud::absent().late_initializing(20);
    let mut first_pass = created_on_first_pass(&db);
    first_pass[1] = patch(
        path("db"),
        json!({
            "metadata": { "annotations": { EXTERNAL_CREATE_SUCCEEDED: NOW } },
            "spec": { "forProvider": { "size": 20 } },
        }),
    );

    let action = reconcile(&db, &cloud, steps([usage_recorded(&db), first_pass])).await.unwrap();

    assert_eq!(cloud.calls(), [Call::Observe, Call::Create, Call::Observe]);
    assert_eq!(action, poll());
}

#[tokio::test]
async fn what_a_create_late_initializes_is_not_saved_when_the_policies_exclude_it() {
    let db = Database::named("db").policies(&[Observe, Create, Update, Delete]);
    let cloud = Cloud::absent().late_initializing(20);
    let script = steps([usage_recorded(&db), created_on_first_pass(&db)]);

    let action = reconcile(&db, &cloud, script).await.unwrap();

    assert_eq!(cloud.calls(), [Call::Observe, Call::Create, Call::Observe]);
    assert_eq!(action, poll());
}

#[tokio::test]
async fn deleting_with_the_delete_policy_deletes_externally_then_drops_the_finalizer() {
    let db = Database::named("db").created().deleted();
    let cloud = Cloud::in_sync();
    let engine = Engine::start(
        &db,
        &cloud,
        steps([
            usage_already_recorded(&db),
            vec![
                event("DeletedExternalResource", None),
                status_patch(&db, json!([condition("Ready", "False", "Deleting", ""), synced()])),
            ],
            vec![usage_released(&db), finalizer_removed()],
        ]),
    );

    let deleting = engine.reconcile(&db).await.unwrap();
    let gone = engine.reconcile(&db).await.unwrap();
    engine.verify().await;

    assert_eq!(cloud.calls(), [Call::Observe, Call::Delete, Call::Observe]);
    assert_eq!(deleting, Action::requeue(Duration::from_secs(10)));
    assert_eq!(gone, Action::await_change());
}

#[tokio::test]
async fn deleting_with_the_orphan_policy_never_deletes_externally() {
    let db = Database::named("db").created().orphaned().deleted();
    let cloud = Cloud::in_sync();

    let action =
        reconcile(&db, &cloud, vec![usage_released(&db), finalizer_removed()]).await.unwrap();

    assert_eq!(cloud.calls(), []);
    assert_eq!(action, Action::await_change());
}

#[tokio::test]
async fn a_paused_resource_does_nothing_but_report_the_pause() {
    let paused_synced = condition("Synced", "False", "ReconcilePaused", MSG_PAUSED);
    for db in [
        Database::named("db").created().annotated(PAUSED, "true"),
        Database::named("db").created().policies(&[]),
        Database::named("db").created().annotated(PAUSED, "true").deleted(),
    ] {
        let cloud = Cloud::in_sync();
        let script = vec![
            event("ReconciliationPaused", Some(MSG_PAUSED)),
            status_patch(&db, json!([ready_available(), paused_synced.clone()])),
        ];

        let action = reconcile(&db, &cloud, script).await.unwrap();

        assert_eq!(cloud.calls(), []);
        assert_eq!(action, Action::await_change());
    }

    let already_paused = Database::named("db")
        .created()
        .annotated(PAUSED, "true")
        .with_conditions(json!([ready_available(), paused_synced]));
    let action = reconcile(&already_paused, &Cloud::in_sync(), vec![]).await.unwrap();
    assert_eq!(action, Action::await_change());
}

#[tokio::test]
async fn an_observe_only_resource_is_never_created_updated_or_deleted() {
    let db = Database::named("db").created().policies(&[Observe]);

    let absent = Cloud::absent();
    let missing = "observe failed: external resource does not exist";
    let script = steps([
        usage_already_recorded(&db),
        vec![
            warning("CannotObserveExternalResource", missing),
            status_patch(&db, json!([ready_available(), sync_failed(missing)])),
        ],
    ]);
    assert_eq!(reconcile(&db, &absent, script).await.unwrap(), poll());

    let drifted = Cloud::drifted("size: 10 -> 20");
    let unapplied = "external resource differs from the desired state, but managementPolicies do not allow Update: size: 10 -> 20";
    let script = steps([
        usage_already_recorded(&db),
        vec![status_patch(
            &db,
            json!([ready_available(), condition("Synced", "True", "ReconcileSuccess", unapplied)]),
        )],
    ]);
    assert_eq!(reconcile(&db, &drifted, script).await.unwrap(), poll());

    let deleted = Cloud::in_sync();
    let script = vec![usage_released(&db), finalizer_removed()];
    reconcile(&db.clone().deleted(), &deleted, script).await.unwrap();

    assert_eq!(absent.calls(), [Call::Observe]);
    assert_eq!(drifted.calls(), [Call::Observe]);
    assert_eq!(deleted.calls(), []);
}

#[tokio::test]
async fn a_pending_create_without_a_recorded_result_stops_and_never_creates_again() {
    let cloud = Cloud::absent();
    for db in [
        Database::named("db")
            .annotated(EXTERNAL_NAME, "db")
            .annotated(EXTERNAL_CREATE_PENDING, NOW),
        Database::named("db")
            .annotated(EXTERNAL_NAME, "db")
            .annotated(EXTERNAL_CREATE_SUCCEEDED, EARLIER)
            .annotated(EXTERNAL_CREATE_FAILED, EARLIER)
            .annotated(EXTERNAL_CREATE_PENDING, NOW),
    ] {
        let script = vec![
            warning("CannotInitializeManagedResource", MSG_CREATE_INCOMPLETE),
            status_patch(
                &db,
                json!([
                    condition("Ready", "False", "Creating", ""),
                    sync_failed(MSG_CREATE_INCOMPLETE)
                ]),
            ),
        ];

        let action = reconcile(&db, &cloud, script).await.unwrap();

        assert_eq!(action, Action::await_change());
    }
    assert_eq!(cloud.calls(), []);
}

#[tokio::test]
async fn a_conflicting_pending_write_prevents_a_second_create() {
    let db = Database::named("db").annotated(EXTERNAL_NAME, "db").finalized();
    let cloud = Cloud::absent();
    let script = steps([
        usage_already_recorded(&db),
        vec![metadata_saved("1", json!({ EXTERNAL_CREATE_PENDING: NOW })).conflict()],
    ]);

    let result = reconcile(&db, &cloud, script).await;

    assert!(result.unwrap_err().to_string().contains("Conflict"));
    assert_eq!(cloud.calls(), [Call::Observe]);
}

#[tokio::test]
async fn a_failed_write_of_the_resource_is_reported_in_a_warning_event() {
    let db = Database::named("db").created().with_conditions(json!([]));
    let message = "cannot patch status of Database \"db\": Forbidden";
    let script = steps([
        usage_already_recorded(&db),
        vec![
            status_patch(&db, json!([ready_available(), synced()])).fails(403, "Forbidden"),
            warning("CannotUpdateManagedResource", message),
        ],
    ]);

    let result = reconcile(&db, &Cloud::in_sync(), script).await;

    assert_eq!(result.unwrap_err().to_string(), message);
}

#[tokio::test]
async fn an_absent_resource_created_moments_ago_is_not_created_again() {
    let db = Database::named("db")
        .created()
        .annotated(EXTERNAL_CREATE_PENDING, NOW)
        .annotated(EXTERNAL_CREATE_SUCCEEDED, NOW);
    let cloud = Cloud::absent();

    let action = reconcile(&db, &cloud, usage_already_recorded(&db)).await.unwrap();

    assert_eq!(cloud.calls(), [Call::Observe]);
    assert_eq!(action, Action::requeue(Duration::from_secs(30)));
}

#[tokio::test]
async fn a_creation_not_visible_at_once_is_waited_for_not_repeated() {
    let db = Database::named("db");
    let cloud = Cloud::absent().slow_to_show_creations();
    let creating = condition("Ready", "False", "Creating", "");
    let script = steps([
        usage_recorded(&db),
        vec![
            metadata_saved("1", json!({ EXTERNAL_NAME: "db", EXTERNAL_CREATE_PENDING: NOW })),
            annotated(json!({ EXTERNAL_CREATE_SUCCEEDED: NOW })),
            event("CreatedExternalResource", None),
            status_patch(&db, json!([creating, synced()])),
        ],
    ]);

    let action = reconcile(&db, &cloud, script).await.unwrap();

    assert_eq!(cloud.calls(), [Call::Observe, Call::Create, Call::Observe]);
    assert_eq!(action, Action::requeue(Duration::from_secs(30)));
}

#[tokio::test]
async fn an_external_error_sets_synced_false_and_backs_off_until_it_succeeds() {
    let db = Database::named("db").created();
    let failed = db
        .clone()
        .with_conditions(json!([ready_available(), sync_failed("observe failed: throttled")]));
    let cloud = Cloud::in_sync().failing("throttled");
    let throttled = || warning("CannotObserveExternalResource", "observe failed: throttled");
    let engine = Engine::start(
        &db,
        &cloud,
        steps([
            usage_already_recorded(&db),
            vec![
                throttled(),
                status_patch(
                    &db,
                    json!([ready_available(), sync_failed("observe failed: throttled")]),
                ),
            ],
            vec![throttled()],
            vec![status_patch(&db, json!([ready_available(), synced()]))],
            vec![throttled()],
        ]),
    );

    let first = engine.reconcile(&db).await.unwrap();
    let second = engine.reconcile(&failed).await.unwrap();
    cloud.heal();
    let recovered = engine.reconcile(&failed).await.unwrap();
    cloud.fail("throttled");
    let after_recovery = engine.reconcile(&failed).await.unwrap();
    assert_eq!(engine.metrics().external_calls("Database", "observe"), 4);
    engine.verify().await;

    assert_eq!(first, Action::requeue(Duration::from_secs(1)));
    assert_eq!(second, Action::requeue(Duration::from_secs(2)));
    assert_eq!(recovered, poll());
    assert_eq!(after_recovery, Action::requeue(Duration::from_secs(1)));
}

#[tokio::test]
async fn a_repeated_event_with_a_new_message_says_the_new_message() {
    let db = Database::named("db").created();
    let failing = |why: &str| {
        db.clone().with_conditions(json!([
            ready_available(),
            sync_failed(&format!("observe failed: {why}"))
        ]))
    };
    let cloud = Cloud::in_sync().failing("throttled");
    let engine = Engine::start(
        &db,
        &cloud,
        steps([
            usage_already_recorded(&db),
            vec![warning("CannotObserveExternalResource", "observe failed: throttled")],
            vec![
                warning("CannotObserveExternalResource", "observe failed: access denied"),
                status_patch(
                    &db,
                    json!([ready_available(), sync_failed("observe failed: access denied")]),
                ),
            ],
        ]),
    );

    engine.reconcile(&failing("throttled")).await.unwrap();
    cloud.fail("access denied");
    engine.reconcile(&failing("throttled")).await.unwrap();
    engine.verify().await;
}

#[tokio::test]
async fn a_missing_provider_config_sets_synced_false_naming_it() {
    let db = Database::named("db").created();
    let cloud = Cloud::in_sync();
    let message = "connect failed: cannot get ProviderConfig \"default\": not found";
    let script = vec![
        get(provider_config_path("default")).not_found(),
        warning("CannotConnectToProvider", message),
        status_patch(&db, json!([ready_available(), sync_failed(message)])),
    ];

    let action = reconcile(&db, &cloud, script).await.unwrap();

    assert_eq!(cloud.calls(), []);
    assert_eq!(action, Action::requeue(Duration::from_secs(1)));
}

#[tokio::test]
async fn unsupported_management_policies_are_reported_without_touching_the_cloud() {
    let db =
        Database::named("db").created().policies(&[crosstie_runtime::ManagementAction::Create]);
    let cloud = Cloud::in_sync();
    let message = "spec.managementPolicies [Create] is not a supported combination; use [\"*\"], [\"Observe\"], or \"Observe\" plus \"Create\" with any of \"Update\", \"Delete\", \"LateInitialize\"";
    let script = vec![
        warning("CannotUseInvalidManagementPolicy", message),
        status_patch(&db, json!([ready_available(), sync_failed(message)])),
    ];

    assert_eq!(reconcile(&db, &cloud, script).await.unwrap(), poll());
    assert_eq!(cloud.calls(), []);
}

#[tokio::test]
async fn references_are_resolved_before_connecting_and_saved_after_observing() {
    let db = Database::named("db").created().replicating("primary");
    let primary = Database::named("primary").annotated(EXTERNAL_NAME, "primary-ext");
    let cloud = Cloud::in_sync();
    let script = steps([
        vec![get("/apis/test.crosstie.dev/v1/databases/primary").returns(primary.json())],
        usage_already_recorded(&db),
        vec![patch(
            path("db"),
            json!({ "spec": { "forProvider": { "replicaOf": "primary-ext" } } }),
        )],
    ]);

    assert_eq!(reconcile(&db, &cloud, script).await.unwrap(), poll());
    assert_eq!(cloud.calls(), [Call::Observe]);
}

#[tokio::test]
async fn a_new_resource_saves_its_references_with_the_pending_record_before_creating() {
    let db = Database::named("db").replicating("primary");
    let primary = Database::named("primary").annotated(EXTERNAL_NAME, "primary-ext");
    let cloud = Cloud::absent();
    let mut first_pass = created_on_first_pass(&db);
    first_pass[0] = patch(
        path("db"),
        json!({
            "metadata": {
                "resourceVersion": "1",
                "finalizers": [FINALIZER],
                "annotations": { EXTERNAL_NAME: "db", EXTERNAL_CREATE_PENDING: NOW },
            },
            "spec": { "forProvider": { "replicaOf": "primary-ext" } },
        }),
    );
    let script = steps([
        vec![get("/apis/test.crosstie.dev/v1/databases/primary").returns(primary.json())],
        usage_recorded(&db),
        first_pass,
    ]);

    assert_eq!(reconcile(&db, &cloud, script).await.unwrap(), poll());
    assert_eq!(cloud.calls(), [Call::Observe, Call::Create, Call::Observe]);
}

#[tokio::test]
async fn an_unresolvable_reference_is_reported_and_retried_with_backoff() {
    let db = Database::named("db").created().replicating("primary");
    let cloud = Cloud::in_sync();
    let message =
        "cannot resolve spec.forProvider.replicaOf: referenced Database \"primary\" not found";
    let script = vec![
        get("/apis/test.crosstie.dev/v1/databases/primary").not_found(),
        warning("CannotResolveResourceReferences", message),
        status_patch(&db, json!([ready_available(), sync_failed(message)])),
    ];

    let action = reconcile(&db, &cloud, script).await.unwrap();

    assert_eq!(action, Action::requeue(Duration::from_secs(1)));
    assert_eq!(cloud.calls(), []);
}

#[tokio::test]
async fn a_selector_matching_nothing_says_so() {
    let db = Database::named("db").created().replicating_one_labelled("role", "primary");
    let cloud = Cloud::in_sync();
    let message = "cannot resolve spec.forProvider.replicaOf: no resources matched selector";
    let script = vec![
        get("/apis/test.crosstie.dev/v1/databases?&labelSelector=role%3Dprimary")
            .returns(json!({ "apiVersion": "v1", "kind": "List", "items": [] })),
        warning("CannotResolveResourceReferences", message),
        status_patch(&db, json!([ready_available(), sync_failed(message)])),
    ];

    let action = reconcile(&db, &cloud, script).await.unwrap();

    assert_eq!(action, Action::requeue(Duration::from_secs(1)));
    assert_eq!(cloud.calls(), []);
}

#[tokio::test]
async fn a_create_that_never_answers_keeps_pending_so_it_is_never_repeated() {
    let db = Database::named("db").annotated(EXTERNAL_NAME, "db").finalized();
    let cloud = Cloud::absent().hanging_on_create();
    let unanswered = "create failed: no answer within 10ms";
    let config = Config { external_timeout: Duration::from_millis(10), ..config() };
    let engine = Engine::configured(
        config,
        &db,
        &cloud,
        steps([
            usage_already_recorded(&db),
            vec![
                metadata_saved("1", json!({ EXTERNAL_CREATE_PENDING: NOW })),
                warning("CannotCreateExternalResource", unanswered),
                status_patch(
                    &db,
                    json!([condition("Ready", "False", "Creating", ""), sync_failed(unanswered)]),
                ),
                warning("CannotInitializeManagedResource", MSG_CREATE_INCOMPLETE),
                status_patch(
                    &db,
                    json!([
                        condition("Ready", "False", "Creating", ""),
                        sync_failed(MSG_CREATE_INCOMPLETE)
                    ]),
                ),
            ],
        ]),
    );

    engine.reconcile(&db).await.unwrap();
    let pending = db.clone().annotated(EXTERNAL_CREATE_PENDING, NOW).with_conditions(json!([
        condition("Ready", "False", "Creating", ""),
        sync_failed(unanswered)
    ]));
    let next = engine.reconcile(&pending).await.unwrap();
    engine.verify().await;

    assert_eq!(cloud.calls(), [Call::Observe, Call::Create]);
    assert_eq!(next, Action::await_change());
}

#[tokio::test]
async fn a_pending_create_of_a_deterministically_named_resource_is_found_by_observing() {
    let db = Database::named("db")
        .deterministic()
        .annotated(EXTERNAL_NAME, "db")
        .annotated(EXTERNAL_CREATE_PENDING, NOW)
        .finalized();
    let cloud = Cloud::in_sync();
    let script = steps([
        usage_already_recorded(&db),
        vec![status_patch(&db, json!([ready_available(), synced()]))],
    ]);

    assert_eq!(reconcile(&db, &cloud, script).await.unwrap(), poll());
    assert_eq!(cloud.calls(), [Call::Observe]);
}

#[tokio::test]
async fn the_echo_of_its_own_status_write_does_not_call_the_cloud_again() {
    let db = Database::named("db").created().with_conditions(json!([]));
    let cloud = Cloud::in_sync();
    let engine = Engine::start(
        &db,
        &cloud,
        steps([
            usage_already_recorded(&db),
            vec![status_patch(&db, json!([ready_available(), synced()]))],
        ]),
    );

    engine.reconcile(&db).await.unwrap();
    let echo = db.clone().at_version("2").with_conditions(json!([ready_available(), synced()]));
    engine.reconcile(&echo).await.unwrap();
    let edited = echo.clone().at_version("3").sized(30);
    engine.reconcile(&edited).await.unwrap();
    engine.verify().await;

    assert_eq!(cloud.calls(), [Call::Observe, Call::Observe]);
}

/// Reconcile the in-sync `db` while a watch event carrying `arriving` comes in during the
/// pass; whether the event queued a reconcile, and the pass's action.
async fn reconcile_while_an_event_arrives(db: &Database, arriving: Database) -> (bool, Action) {
    let cloud = Cloud::in_sync();
    let engine = Engine::start(
        db,
        &cloud,
        steps([
            usage_already_recorded(db),
            vec![status_patch(db, json!([ready_available(), synced()]))],
        ]),
    );
    let queued = Arc::new(AtomicBool::new(true));
    let (ctx, seen) = (engine.context(), queued.clone());
    cloud.during_observe(move || seen.store(ctx.admit(&arriving), Ordering::SeqCst));
    let action = engine.reconcile(db).await.unwrap();
    engine.verify().await;
    (queued.load(Ordering::SeqCst), action)
}

#[tokio::test]
async fn a_change_that_arrives_during_a_pass_runs_it_again_at_once() {
    let db = Database::named("db").created().with_conditions(json!([]));
    let edited = db.clone().at_version("7").sized(30);

    let (queued, action) = reconcile_while_an_event_arrives(&db, edited).await;

    assert!(!queued, "held by the running pass, not queued behind it");
    assert_eq!(action, Action::requeue(Duration::ZERO));
}

#[tokio::test]
async fn the_echo_of_a_write_that_arrives_before_its_answer_changes_nothing() {
    let db = Database::named("db").created().with_conditions(json!([]));
    // The API server answers the pass's status write with version 2.
    let echo = db.clone().at_version("2").with_conditions(json!([ready_available(), synced()]));

    let (queued, action) = reconcile_while_an_event_arrives(&db, echo).await;

    assert!(!queued);
    assert_eq!(action, poll());
}

#[tokio::test]
async fn a_usage_naming_another_provider_config_is_relabelled() {
    let db = Database::named("db").created();
    let mut stale = usage(&db);
    stale["metadata"]["labels"]["crossplane.io/provider-config"] = json!("old");
    stale["providerConfigRef"]["name"] = json!("old");
    let usage_path = "/apis/aws.crossplane.io/v1beta1/providerconfigusages/uid-db";
    let relabel = json!({
        "metadata": { "labels": { "crossplane.io/provider-config": "default" } },
        "providerConfigRef": { "name": "default" },
        "resourceRef": usage(&db)["resourceRef"],
    });
    let script = vec![
        get(provider_config_path("default")).returns(provider_config("default")),
        get(usage_path).returns(stale),
        patch(format!("{usage_path}?"), relabel).returns(usage(&db)),
    ];

    assert_eq!(reconcile(&db, &Cloud::in_sync(), script).await.unwrap(), poll());
}

#[tokio::test(start_paused = true)]
async fn creates_that_finish_within_one_write_tick_are_written_back_together() {
    let tick = Duration::from_secs(10);
    let config = Config { write_tick: tick, ..config() };
    let db = Database::named("db");
    let script = || steps([usage_recorded(&db), created_on_first_pass(&db)]);
    let first = Engine::configured(config.clone(), &db, &Cloud::absent(), script());
    let second = Engine::configured(config, &db, &Cloud::absent(), script());

    crosstie_runtime::tick::next(tick).await;
    let started = tokio::time::Instant::now();
    let (first_written, second_written) = tokio::join!(
        async {
            first.reconcile(&db).await.unwrap();
            tokio::time::Instant::now()
        },
        async {
            tokio::time::sleep(Duration::from_secs(3)).await;
            second.reconcile(&db).await.unwrap();
            tokio::time::Instant::now()
        },
    );

    assert_eq!(first_written, second_written, "both wait for the same tick");
    assert_eq!(first_written - started, tick);
    first.verify().await;
    second.verify().await;
}
