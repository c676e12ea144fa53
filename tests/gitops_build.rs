//! Building Kustomizations from artifact directories: plain YAML trees, kustomization folders
//! (real kubectl kustomize), broken YAML, substitution, target namespaces and labels.

mod support;

use std::collections::BTreeMap;
use std::path::Path;

use crosstie::gitops::build::{BuildRequest, Error, build};
use serde_json::json;

fn write(root: &Path, files: &[(&str, &str)]) {
    for (path, contents) in files {
        let p = root.join(path);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, contents).unwrap();
    }
}

fn request(root: &Path, path: &str) -> BuildRequest {
    BuildRequest {
        artifact_dir: root.to_owned(),
        path: Some(path.into()),
        name: "myapp".into(),
        namespace: "flux-system".into(),
        ..Default::default()
    }
}

const CM: &str =
    "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cfg\n  namespace: apps\ndata:\n  k: v\n";

#[test]
fn every_yaml_file_is_read_recursively_and_labelled_with_its_kustomization() {
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        &[
            ("myapp/manifests/a.yaml", CM),
            (
                "myapp/manifests/nested/b.yml",
                "---\n---\napiVersion: v1\nkind: Namespace\nmetadata:\n  name: apps\n---\n",
            ),
            ("myapp/manifests/notes.txt", "not yaml: ["),
            ("other/c.yaml", "apiVersion: v1\nkind: Secret\nmetadata:\n  name: other\n"),
        ],
    );
    let objects = build(&request(dir.path(), "./myapp/manifests")).unwrap();
    let kinds: Vec<&str> = objects.iter().map(|o| o["kind"].as_str().unwrap()).collect();
    assert_eq!(kinds, ["ConfigMap", "Namespace"]);
    for o in &objects {
        assert_eq!(o["metadata"]["labels"]["kustomize.toolkit.fluxcd.io/name"], "myapp");
        assert_eq!(o["metadata"]["labels"]["kustomize.toolkit.fluxcd.io/namespace"], "flux-system");
    }
}

#[test]
fn broken_yaml_fails_the_build_naming_the_file_and_line() {
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        &[
            ("deploy/good.yaml", CM),
            (
                "deploy/bad.yaml",
                &format!("{CM}---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: [oops\n"),
            ),
        ],
    );
    let err = build(&request(dir.path(), "deploy")).unwrap_err();
    let Error::InvalidYaml { file, line, .. } = &err else { panic!("{err:?}") };
    assert_eq!(file, "deploy/bad.yaml");
    assert!((12..=13).contains(line), "line {line}: {err}");
    assert!(err.to_string().starts_with(&format!("deploy/bad.yaml:{line}: invalid YAML")), "{err}");
}

#[test]
fn documents_that_are_not_objects_are_rejected_with_their_location() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), &[("d/x.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata: {}\n")]);
    let err = build(&request(dir.path(), "d")).unwrap_err().to_string();
    assert_eq!(err, "d/x.yaml:1: missing metadata.name");
    write(dir.path(), &[("e/x.yaml", CM), ("e/y.yaml", CM)]);
    let err = build(&request(dir.path(), "e")).unwrap_err().to_string();
    assert!(err.contains("duplicate object apps_cfg__ConfigMap"), "{err}");
}

#[test]
fn a_missing_or_escaping_path_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let err = build(&request(dir.path(), "./nope")).unwrap_err().to_string();
    assert!(err.starts_with("kustomization path not found: \"./nope\""), "{err}");
    for escaping in ["../etc", "/../etc", "./a/../../etc"] {
        let err = build(&request(dir.path(), escaping)).unwrap_err().to_string();
        assert!(err.starts_with("spec.path:") && err.contains(".."), "{escaping}: {err}");
    }
}

#[test]
fn a_path_with_a_leading_slash_starts_at_the_source_root_like_flux() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), &[("features/cm.yaml", CM)]);
    for path in ["/features", "/features/", "features", "/"] {
        let objects = build(&request(dir.path(), path)).unwrap();
        assert_eq!(objects.len(), 1, "{path}");
    }
}

#[test]
fn post_build_substitution_respects_types_defaults_escapes_and_opt_out() {
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        &[
            (
                "s/deploy.yaml",
                "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web-${env}\nspec:\n  replicas: ${replicas}\n  template:\n    metadata:\n      annotations:\n        region: ${region:=eu-west-1}\n        literal: $${env}\n",
            ),
            (
                "s/raw.yaml",
                "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: raw\n  annotations:\n    kustomize.toolkit.fluxcd.io/substitute: disabled\ndata:\n  script: echo ${env}\n",
            ),
        ],
    );
    let mut req = request(dir.path(), "s");
    req.vars =
        Some(BTreeMap::from([("env".into(), "prod".into()), ("replicas".into(), "3".into())]));
    let objects = build(&req).unwrap();
    let deploy = objects.iter().find(|o| o["kind"] == "Deployment").unwrap();
    assert_eq!(deploy["metadata"]["name"], "web-prod");
    assert_eq!(deploy["spec"]["replicas"], json!(3), "numbers stay numbers");
    assert_eq!(deploy["spec"]["template"]["metadata"]["annotations"]["region"], "eu-west-1");
    assert_eq!(deploy["spec"]["template"]["metadata"]["annotations"]["literal"], "${env}");
    let raw = objects.iter().find(|o| o["kind"] == "ConfigMap").unwrap();
    assert_eq!(raw["data"]["script"], "echo ${env}");

    req.vars = None;
    let untouched = build(&req).unwrap();
    assert_eq!(
        untouched.iter().find(|o| o["kind"] == "Deployment").unwrap()["metadata"]["name"],
        "web-${env}"
    );
}

#[test]
fn post_build_substitution_ignores_dollars_in_yaml_comments() {
    let dir = tempfile::tempdir().unwrap();
    let text = "# cost is $5 {approx} ${greeting\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cm # ${unterminated\n  namespace: apps\ndata:\n  greeting: ${greeting}\n";
    write(dir.path(), &[("c/cm.yaml", text)]);
    let mut req = request(dir.path(), "c");
    req.vars = Some(BTreeMap::from([("greeting".into(), "hello".into())]));

    let objects = build(&req).unwrap();

    assert_eq!(objects[0]["data"]["greeting"], "hello");
    assert_eq!(objects[0]["metadata"]["name"], "cm");
}

#[test]
fn target_namespace_overrides_namespaced_objects_only() {
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        &[(
            "t/a.yaml",
            &format!("{CM}---\napiVersion: v1\nkind: Namespace\nmetadata:\n  name: apps\n"),
        )],
    );
    let mut req = request(dir.path(), "t");
    req.target_namespace = Some("team-a".into());
    let objects = build(&req).unwrap();
    assert_eq!(objects[0]["metadata"]["namespace"], "team-a");
    assert!(objects[1]["metadata"].get("namespace").is_none());
}

#[test]
fn a_kustomization_folder_is_built_by_kubectl_kustomize() {
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        &[
            (
                "k/kustomization.yaml",
                "resources:\n- cm.yaml\nnamePrefix: dev-\ncommonLabels:\n  team: a\n",
            ),
            ("k/cm.yaml", CM),
            ("k/ignored.yaml", "apiVersion: v1\nkind: Secret\nmetadata:\n  name: not-listed\n"),
        ],
    );
    let mut req = request(dir.path(), "k");
    req.kubectl = Some(support::tools::kubectl());
    let objects = build(&req).unwrap();
    assert_eq!(objects.len(), 1, "only resources listed in kustomization.yaml");
    assert_eq!(objects[0]["metadata"]["name"], "dev-cfg");
    assert_eq!(objects[0]["metadata"]["labels"]["team"], "a");
    assert_eq!(objects[0]["metadata"]["labels"]["kustomize.toolkit.fluxcd.io/name"], "myapp");

    req.kubectl = Some(dir.path().join("no-such-kubectl"));
    let err = build(&req).unwrap_err();
    assert!(matches!(err, Error::KustomizeUnavailable), "{err:?}");
    assert!(err.to_string().contains("kubectl was not found"));
}

#[test]
fn common_metadata_is_added_to_every_object() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), &[("m/a.yaml", CM)]);
    let mut req = request(dir.path(), "m");
    req.common_metadata.labels.insert("team".into(), "a".into());
    req.common_metadata.annotations.insert("owner".into(), "ops".into());
    let objects = build(&req).unwrap();
    assert_eq!(objects[0]["metadata"]["labels"]["team"], "a");
    assert_eq!(objects[0]["metadata"]["annotations"]["owner"], "ops");
    assert_eq!(objects[0]["metadata"]["labels"]["kustomize.toolkit.fluxcd.io/name"], "myapp");
}

#[test]
fn spec_patches_images_and_components_are_applied_over_plain_and_kustomize_folders() {
    use crosstie::gitops::api::kustomization::KustomizePatch;
    use crosstie::gitops::build::kustomize::Overlay;
    let dir = tempfile::tempdir().unwrap();
    let deploy = "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\n  namespace: apps\nspec:\n  template:\n    spec:\n      containers:\n      - name: c\n        image: nginx:1.0\n";
    write(
        dir.path(),
        &[
            ("plain/cm.yaml", CM),
            ("plain/deploy.yaml", deploy),
            ("kz/kustomization.yaml", "resources:\n- cm.yaml\n"),
            ("kz/cm.yaml", CM),
            (
                "components/extra/kustomization.yaml",
                "apiVersion: kustomize.config.k8s.io/v1alpha1\nkind: Component\ncommonLabels:\n  extra: \"yes\"\n",
            ),
        ],
    );
    let overlay = Overlay {
        patches: vec![KustomizePatch {
            patch: "- op: add\n  path: /data/patched\n  value: \"yes\"\n".into(),
            target: [("kind".to_owned(), "ConfigMap".to_owned())].into(),
        }],
        images: vec![
            [("name".to_owned(), "nginx".to_owned()), ("newTag".to_owned(), "2.0".to_owned())]
                .into(),
        ],
        components: vec!["../components/extra".into()],
    };
    let mut req = request(dir.path(), "plain");
    req.kubectl = Some(support::tools::kubectl());
    req.overlay = overlay.clone();
    let objects = build(&req).unwrap();
    let cm = objects.iter().find(|o| o["kind"] == "ConfigMap").unwrap();
    assert_eq!(cm["data"]["patched"], "yes");
    assert_eq!(cm["metadata"]["labels"]["extra"], "yes", "component applied");
    let deploy = objects.iter().find(|o| o["kind"] == "Deployment").unwrap();
    assert_eq!(deploy["spec"]["template"]["spec"]["containers"][0]["image"], "nginx:2.0");

    let mut req = request(dir.path(), "kz");
    req.kubectl = Some(support::tools::kubectl());
    req.overlay = Overlay { components: Vec::new(), ..overlay };
    let objects = build(&req).unwrap();
    assert_eq!(objects.len(), 1);
    assert_eq!(objects[0]["data"]["patched"], "yes");

    let mut req = request(dir.path(), "plain");
    req.overlay.components = vec!["../../../etc".into()];
    let err = build(&req).unwrap_err().to_string();
    assert!(
        err.contains("spec.components") && err.contains("outside the source artifact"),
        "{err}"
    );
}

#[test]
fn a_kustomization_cannot_read_files_outside_the_source_artifact_whatever_the_spec_sets() {
    use crosstie::gitops::build::kustomize::Overlay;
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("artifact");
    let generator = |file: &str| format!("configMapGenerator:\n- name: leak\n  files: [{file}]\n");
    write(
        tmp.path(),
        &[
            ("data/token", "admin-token"),
            ("artifact/absolute/kustomization.yaml", &generator("hostname=/etc/hostname")),
            ("artifact/parent/kustomization.yaml", &generator("token=../../data/token")),
            ("artifact/symlink/kustomization.yaml", "resources: [cm.yaml]\n"),
        ],
    );
    std::os::unix::fs::symlink(tmp.path().join("data/token"), root.join("symlink/cm.yaml"))
        .unwrap();
    let images = Overlay {
        images: vec![[("name".to_owned(), "nginx".to_owned())].into()],
        ..Default::default()
    };
    for overlay in [Overlay::default(), images] {
        for (path, reference) in [
            ("absolute", "hostname=/etc/hostname"),
            ("parent", "token=../../data/token"),
            ("symlink", "cm.yaml"),
        ] {
            let mut req = request(&root, path);
            req.kubectl = Some(support::tools::kubectl());
            req.overlay = overlay.clone();
            let err = build(&req).unwrap_err().to_string();
            assert_eq!(
                err,
                format!("{path}/kustomization.yaml: {reference:?} is outside the source artifact")
            );
        }
    }
}

#[test]
fn a_kustomization_may_reference_files_anywhere_inside_the_source_artifact() {
    use crosstie::gitops::build::kustomize::Overlay;
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        &[
            ("apps/extra/cm.yaml", CM),
            ("clusters/prod/kustomization.yaml", "resources: [../../apps/extra/cm.yaml]\n"),
        ],
    );
    let images = Overlay {
        images: vec![[("name".to_owned(), "nginx".to_owned())].into()],
        ..Default::default()
    };
    for overlay in [Overlay::default(), images] {
        let mut req = request(dir.path(), "clusters/prod");
        req.kubectl = Some(support::tools::kubectl());
        req.overlay = overlay;
        let objects = build(&req).unwrap();
        assert_eq!(objects.len(), 1);
        assert_eq!(objects[0]["metadata"]["name"], "cfg");
    }
}

#[test]
fn the_flux_bootstrap_layout_builds_nested_kustomizations_and_expands_lists() {
    let dir = tempfile::tempdir().unwrap();
    let sync = "apiVersion: kustomize.toolkit.fluxcd.io/v1\nkind: Kustomization\nmetadata:\n  name: flux-system\n  namespace: flux-system\nspec:\n  interval: 10m\n  path: ./clusters/prod\n  prune: true\n  sourceRef: {kind: GitRepository, name: flux-system}\n";
    write(
        dir.path(),
        &[
            (
                "clusters/prod/flux-system/kustomization.yaml",
                "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources: [gotk-sync.yaml]\n",
            ),
            ("clusters/prod/flux-system/gotk-sync.yaml", sync),
            (
                "clusters/prod/apps.yaml",
                "apiVersion: v1\nkind: List\nitems:\n- apiVersion: v1\n  kind: Namespace\n  metadata: {name: apps}\n- apiVersion: v1\n  kind: ConfigMap\n  metadata: {name: cfg, namespace: apps}\n",
            ),
            (
                "clusters/prod/config/kustomize.yaml",
                "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources: [x.yaml]\n",
            ),
        ],
    );
    let mut req = request(dir.path(), "clusters/prod");
    req.kubectl = Some(support::tools::kubectl());
    let objects = build(&req).unwrap();
    let ids: Vec<String> = objects
        .iter()
        .map(|o| {
            format!("{}/{}", o["kind"].as_str().unwrap(), o["metadata"]["name"].as_str().unwrap())
        })
        .collect();
    assert_eq!(ids, ["Namespace/apps", "ConfigMap/cfg", "Kustomization/flux-system"]);
    assert_eq!(objects[2]["apiVersion"], "kustomize.toolkit.fluxcd.io/v1");
}
