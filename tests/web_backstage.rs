//! `crosstie portal export-backstage` over the shipped XRDs against the checked-in golden
//! files in `tests/golden/backstage/`. `UPDATE_GOLDEN=1 cargo test --test web_backstage`
//! rewrites them.

use std::path::{Path, PathBuf};
use std::process::Command;

fn files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            out.extend(files(&path));
        } else {
            out.push(path);
        }
    }
    out.sort();
    out
}

#[test]
fn the_shipped_xrds_export_as_the_golden_backstage_templates() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let golden = root.join("tests/golden/backstage");
    let out = tempfile::tempdir().unwrap();
    let status = Command::new(env!("CARGO_BIN_EXE_crosstie"))
        .current_dir(root)
        .args(["portal", "export-backstage"])
        .arg(out.path())
        .args(["--claims-path", "clusters/dev/claims", "--owner", "group:platform-team"])
        .status()
        .unwrap();
    assert!(status.success());

    let written = files(out.path());
    let relative: Vec<PathBuf> =
        written.iter().map(|p| p.strip_prefix(out.path()).unwrap().to_owned()).collect();
    assert_eq!(
        relative,
        [
            PathBuf::from(
                "xpostgresqlinstances.database.crosstie.io/skeleton/${{ values.name }}.yaml"
            ),
            PathBuf::from("xpostgresqlinstances.database.crosstie.io/template.yaml"),
        ]
    );
    if std::env::var_os("UPDATE_GOLDEN").is_some() {
        for (path, rel) in written.iter().zip(&relative) {
            let target = golden.join(rel);
            std::fs::create_dir_all(target.parent().unwrap()).unwrap();
            std::fs::copy(path, target).unwrap();
        }
    }
    for (path, rel) in written.iter().zip(&relative) {
        let want = std::fs::read_to_string(golden.join(rel))
            .unwrap_or_else(|e| panic!("{}: {e} (UPDATE_GOLDEN=1 to create)", rel.display()));
        assert_eq!(std::fs::read_to_string(path).unwrap(), want, "{} differs", rel.display());
    }
    let template: serde_json::Value =
        serde_saphyr::from_str(&std::fs::read_to_string(golden.join(&relative[1])).unwrap())
            .unwrap();
    assert_eq!(template["apiVersion"], "scaffolder.backstage.io/v1beta3");
    assert_eq!(
        template["spec"]["parameters"][1]["properties"]["spec"]["properties"]["parameters"]["properties"]
            ["storageGB"]["minimum"],
        20
    );
}
