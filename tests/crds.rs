//! The checked-in `crds/` directory must match the CRDs generated from the Rust types.
//! Regenerate with `CROSSTIE_UPDATE_CRDS=1 cargo test --test crds`.

use std::collections::BTreeMap;
use std::path::Path;

#[test]
fn checked_in_crds_match_the_rust_types() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("crds");
    let generated: BTreeMap<String, String> = crosstie::crds::all()
        .iter()
        .map(|crd| {
            let name = crd.metadata.name.clone().expect("CRD has a name");
            (format!("{name}.yaml"), crosstie::crds::to_yaml(crd).expect("CRD serializes"))
        })
        .collect();

    if std::env::var_os("CROSSTIE_UPDATE_CRDS").is_some() {
        std::fs::create_dir_all(&dir).unwrap();
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.extension().is_some_and(|e| e == "yaml") {
                std::fs::remove_file(path).unwrap();
            }
        }
        for (file, yaml) in &generated {
            std::fs::write(dir.join(file), yaml).unwrap();
        }
    }

    let checked_in: BTreeMap<String, String> = std::fs::read_dir(&dir)
        .map(|entries| {
            entries
                .map(|e| e.unwrap().path())
                .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
                .map(|p| {
                    let name = p.file_name().unwrap().to_string_lossy().into_owned();
                    (name, std::fs::read_to_string(&p).unwrap())
                })
                .collect()
        })
        .unwrap_or_default();

    let stale: Vec<&String> = generated
        .keys()
        .chain(checked_in.keys())
        .filter(|f| generated.get(*f) != checked_in.get(*f))
        .collect();
    assert!(
        stale.is_empty(),
        "crds/ is stale for {stale:?}: run `CROSSTIE_UPDATE_CRDS=1 cargo test --test crds`"
    );
}
