//! The real `crosstie render` binary against golden cases: offline, exit codes and messages.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn golden(case: &str) -> PathBuf {
    root().join("tests/golden/render").join(case)
}

fn render(args: &[&Path]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_crosstie"))
        .arg("render")
        .args(args)
        // No kubeconfig: render must not need a cluster.
        .env("KUBECONFIG", "/nonexistent")
        // Exact stderr: no anyhow backtrace even when the caller enables them.
        .env("RUST_BACKTRACE", "0")
        .env("RUST_LIB_BACKTRACE", "0")
        .output()
        .expect("run crosstie render")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[test]
fn render_prints_the_shipped_composition_output_recorded_in_the_golden_file() {
    let composition = root().join("compositions/composition-postgresqlinstance-aws.yaml");
    let out = render(&[&golden("shipped-postgresql/xr.yaml"), &composition]);
    assert!(out.status.success(), "stderr: {}", text(&out.stderr));
    let want = std::fs::read_to_string(golden("shipped-postgresql/expected.yaml")).unwrap();
    assert_eq!(text(&out.stdout), want);
}

#[test]
fn render_with_observed_resources_reports_readiness_and_connection_details() {
    let composition = root().join("compositions/composition-postgresqlinstance-aws.yaml");
    let case = golden("shipped-postgresql-ready");
    let out = render(&[
        &case.join("xr.yaml"),
        &composition,
        Path::new("--observed"),
        &case.join("observed"),
    ]);
    assert!(out.status.success(), "stderr: {}", text(&out.stderr));
    assert_eq!(text(&out.stdout), std::fs::read_to_string(case.join("expected.yaml")).unwrap());
}

#[test]
fn render_exits_non_zero_naming_the_resource_patch_and_path_of_a_failed_patch() {
    let case = golden("policy-from-field-path-required-fails-only-its-resource");
    let out = render(&[&case.join("xr.yaml"), &case.join("composition.yaml")]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        text(&out.stderr),
        "error: cannot compose resource \"rds\": patch 2 (FromCompositeFieldPath \
         spec.parameters.size): required field path not found\n"
    );
    // The healthy resource is still printed: one failure disturbs nothing else.
    assert!(text(&out.stdout).contains("crossplane.io/composition-resource-name: healthy"));
}

#[test]
fn render_exits_non_zero_when_the_named_composition_does_not_exist() {
    let case = golden("unknown-composition");
    let out = render(&[&case.join("xr.yaml"), &case.join("composition.yaml")]);
    assert!(!out.status.success());
    assert!(out.stdout.is_empty());
    assert_eq!(
        text(&out.stderr),
        "Error: cannot select composition: composition \"does-not-exist\" \
         (spec.compositionRef.name) does not exist for example.org/v1alpha1/XDatabase\n"
    );
}

#[test]
fn render_reports_an_unreadable_file_by_path() {
    let missing = root().join("tests/golden/render/no-such-case/xr.yaml");
    let out = render(&[&missing, &missing]);
    assert!(!out.status.success());
    let stderr = text(&out.stderr);
    assert!(stderr.starts_with(&format!("Error: cannot read {}: ", missing.display())), "{stderr}");
}
