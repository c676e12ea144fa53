//! Golden tests of the render engine. Each `tests/golden/render/<case>/` holds `xr.yaml`,
//! `composition.yaml` (one or more Compositions; absent means the shipped PostgreSQL
//! Composition), optionally `observed/` (observed composed resources and their connection
//! Secrets), and `expected.yaml`: what `crosstie render` prints, followed by `# error: …` lines
//! for what it reports on stderr. `UPDATE_GOLDEN=1 cargo test --test render_golden` rewrites
//! the expected files.

use std::path::{Path, PathBuf};

use crosstie::composition::command::render_files;

const SHIPPED: &str = "compositions/composition-postgresqlinstance-aws.yaml";

fn cases() -> Vec<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden/render");
    let mut cases: Vec<PathBuf> = std::fs::read_dir(&root)
        .expect("golden dir")
        .map(|e| e.expect("dir entry").path())
        .filter(|p| p.is_dir())
        .collect();
    cases.sort();
    cases
}

/// What the CLI would print for a case, stdout then stderr as comments.
fn output(case: &Path) -> String {
    let composition = case.join("composition.yaml");
    let composition = if composition.exists() {
        composition
    } else {
        Path::new(env!("CARGO_MANIFEST_DIR")).join(SHIPPED)
    };
    let observed = case.join("observed");
    let observed = observed.is_dir().then_some(observed.as_path());
    match render_files(&case.join("xr.yaml"), &composition, observed) {
        Ok(out) => {
            let mut text = out.yaml;
            for e in out.errors {
                text.push_str(&format!("# error: {e}\n"));
            }
            text
        }
        Err(e) => format!("# error: {e}\n"),
    }
}

#[test]
fn every_golden_case_renders_exactly_as_recorded() {
    let cases = cases();
    assert!(cases.len() >= 20, "expected the golden cases, found {}", cases.len());
    let update = std::env::var_os("UPDATE_GOLDEN").is_some();
    let mut failed = Vec::new();
    for case in &cases {
        let got = output(case);
        let expected_path = case.join("expected.yaml");
        if update {
            std::fs::write(&expected_path, &got).expect("write golden");
            continue;
        }
        let want = std::fs::read_to_string(&expected_path).unwrap_or_default();
        if got != want {
            failed.push(format!(
                "{}:\n--- want\n{want}\n+++ got\n{got}",
                case.file_name().unwrap_or_default().to_string_lossy()
            ));
        }
    }
    assert!(
        failed.is_empty(),
        "golden mismatches (UPDATE_GOLDEN=1 to accept):\n{}",
        failed.join("\n")
    );
}
