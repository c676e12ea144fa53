//! Reading manifests: every `*.yaml`/`*.yml` under a plain folder (nested kustomizations
//! aside), split into documents that remember their file and first line, parsed with
//! serde-saphyr.

use std::path::{Path, PathBuf};

use serde_json::Value;

use super::Error;

/// One YAML document and where it came from.
#[derive(Clone, Debug, PartialEq)]
pub struct Document {
    /// File path relative to the artifact root (or `kustomize build <dir>`).
    pub file: String,
    /// 1-based line of the document's first line in `file`.
    pub line: usize,
    /// The document text.
    pub text: String,
}

impl Document {
    /// `file:line`, for messages.
    pub fn origin(&self) -> String {
        format!("{}:{}", self.file, self.line)
    }

    /// Parse the document; `None` for an empty one. Errors name the file and absolute line.
    pub fn parse(&self) -> Result<Option<Value>, Error> {
        let values: Vec<Value> = serde_saphyr::from_multiple(&self.text).map_err(|e| {
            let line = e.location().map_or(self.line, |l| self.line + l.line() as usize - 1);
            let message = e.to_string();
            let message = message.lines().next().unwrap_or_default().to_owned();
            Error::InvalidYaml { file: self.file.clone(), line, message }
        })?;
        Ok(values.into_iter().find(|v| !v.is_null()))
    }
}

/// Split YAML text into documents at `---` lines, skipping blank ones.
pub fn split_documents(file: &str, text: &str) -> Vec<Document> {
    let mut docs = Vec::new();
    let mut current = String::new();
    let mut start = 1;
    for (i, line) in text.lines().enumerate() {
        let marker = line == "---" || line.starts_with("--- ") || line.starts_with("---\t");
        if marker {
            push_document(&mut docs, file, start, std::mem::take(&mut current));
            start = i + 2;
            // `--- key: value` starts a document on the marker line.
            if let Some(inline) = line.get(4..).filter(|s| !s.trim().is_empty()) {
                current.push_str(inline);
                current.push('\n');
                start = i + 1;
            }
            continue;
        }
        current.push_str(line);
        current.push('\n');
    }
    push_document(&mut docs, file, start, current);
    docs
}

fn push_document(docs: &mut Vec<Document>, file: &str, line: usize, text: String) {
    let meaningful = text.lines().any(|l| {
        let t = l.trim();
        !t.is_empty() && !t.starts_with('#') && t != "..."
    });
    if meaningful {
        docs.push(Document { file: file.to_owned(), line, text });
    }
}

/// `files` as documents with paths relative to `root`.
pub fn read_files(root: &Path, files: &[PathBuf]) -> Result<Vec<Document>, Error> {
    let mut docs = Vec::new();
    for path in files {
        let relative = path.strip_prefix(root).unwrap_or(path).display().to_string();
        let text = std::fs::read_to_string(path)
            .map_err(|e| Error::Read { file: relative.clone(), source: e })?;
        docs.extend(split_documents(&relative, &text));
    }
    Ok(docs)
}

/// What a plain folder holds, as Flux's kustomization generator sees it.
#[derive(Debug, Default)]
pub struct PlainFolder {
    /// Every `*.yaml`/`*.yml` file, recursively, in path order, outside nested kustomizations.
    pub files: Vec<PathBuf>,
    /// Subfolders holding a kustomization file: built with kustomize, not descended into.
    pub kustomizations: Vec<PathBuf>,
}

/// Scan the plain folder `dir` (itself without a kustomization file).
pub fn scan(dir: &Path) -> Result<PlainFolder, Error> {
    let mut folder = PlainFolder::default();
    collect_files(dir, &mut folder)?;
    folder.files.sort();
    folder.kustomizations.sort();
    Ok(folder)
}

/// Whether `object` is kustomize's own configuration (`kustomize.config.k8s.io`), not a
/// manifest.
pub fn is_kustomize_config(object: &Value) -> bool {
    object["apiVersion"].as_str().is_some_and(|v| v.starts_with("kustomize.config.k8s.io/"))
}

fn collect_files(dir: &Path, out: &mut PlainFolder) -> Result<(), Error> {
    let entries = std::fs::read_dir(dir)
        .map_err(|e| Error::Read { file: dir.display().to_string(), source: e })?;
    for entry in entries {
        let entry =
            entry.map_err(|e| Error::Read { file: dir.display().to_string(), source: e })?;
        let path = entry.path();
        let file_type = entry
            .file_type()
            .map_err(|e| Error::Read { file: path.display().to_string(), source: e })?;
        if file_type.is_dir() && super::kustomize::is_kustomization(&path) {
            out.kustomizations.push(path);
        } else if file_type.is_dir() {
            collect_files(&path, out)?;
        } else if file_type.is_file() && path.extension().is_some_and(|e| e == "yaml" || e == "yml")
        {
            out.files.push(path);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn documents_keep_their_starting_line_and_empty_ones_are_dropped() {
        let docs =
            split_documents("f.yaml", "a: 1\n---\n# only a comment\n---\n\nb: 2\n--- c: 3\n");
        assert_eq!(docs.len(), 3);
        assert_eq!((docs[0].line, docs[1].line, docs[2].line), (1, 5, 7));
        assert_eq!(docs[2].parse().unwrap(), Some(serde_json::json!({"c": 3})));
    }

    #[test]
    fn invalid_yaml_names_the_file_and_line() {
        let docs = split_documents(
            "apps/bad.yaml",
            "a: 1\n---\nkind: ConfigMap\nmetadata:\n  name: [unclosed\n",
        );
        let err = docs[1].parse().unwrap_err();
        let Error::InvalidYaml { file, line, .. } = &err else { panic!("{err:?}") };
        assert_eq!(file, "apps/bad.yaml");
        assert!((5..=6).contains(line), "line {line}: {err}");
        assert!(err.to_string().starts_with("apps/bad.yaml:"), "{err}");
    }
}
