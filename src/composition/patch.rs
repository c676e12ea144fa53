//! Patches between a composite and its composed resources, with their policies.

use serde_json::Value;

use super::fieldpath;
use super::format::go_format;
use super::pt::{FromFieldPathPolicy, Patch, PatchSet, PatchType, ToFieldPathPolicy};
use super::transform;

/// Which way a patch flows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Direction {
    /// Composite → composed resource.
    FromComposite,
    /// Composed resource → composite.
    ToComposite,
}

/// A patch after patch sets are expanded, with the label used in error messages.
#[derive(Clone, Debug)]
pub struct LabeledPatch<'a> {
    /// `patch 2 (FromCompositeFieldPath spec.parameters.size)`, nested for patch sets.
    pub label: String,
    /// The patch.
    pub patch: &'a Patch,
}

impl LabeledPatch<'_> {
    /// Which way this patch flows.
    pub fn direction(&self) -> Direction {
        match self.patch.type_.unwrap_or_default() {
            PatchType::ToCompositeFieldPath | PatchType::CombineToComposite => {
                Direction::ToComposite
            }
            _ => Direction::FromComposite,
        }
    }
}

/// Expands `PatchSet` patches in place, labelling each patch by its index.
pub fn expand<'a>(
    patches: &'a [Patch],
    patch_sets: &'a [PatchSet],
) -> Result<Vec<LabeledPatch<'a>>, String> {
    let mut out = Vec::new();
    for (i, patch) in patches.iter().enumerate() {
        let label = format!("patch {i} ({})", describe(patch));
        if patch.type_ != Some(PatchType::PatchSet) {
            out.push(LabeledPatch { label, patch });
            continue;
        }
        let name =
            patch.patch_set_name.as_deref().ok_or(format!("{label}: patchSetName is required"))?;
        let set = patch_sets
            .iter()
            .find(|s| s.name == name)
            .ok_or(format!("{label}: no patch set named {name:?}"))?;
        for (j, inner) in set.patches.iter().enumerate() {
            if inner.type_ == Some(PatchType::PatchSet) {
                return Err(format!("{label}: patch {j}: patch sets cannot nest"));
            }
            out.push(LabeledPatch {
                label: format!("{label}: patch {j} ({})", describe(inner)),
                patch: inner,
            });
        }
    }
    Ok(out)
}

fn describe(patch: &Patch) -> String {
    let kind = patch.type_.unwrap_or_default();
    let source = match kind {
        PatchType::PatchSet => patch.patch_set_name.clone().unwrap_or_default(),
        PatchType::CombineFromComposite | PatchType::CombineToComposite => patch
            .combine
            .as_ref()
            .map(|c| {
                c.variables
                    .iter()
                    .map(|v| v.from_field_path.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            })
            .unwrap_or_default(),
        _ => patch.from_field_path.clone().unwrap_or_default(),
    };
    format!("{} {source}", kind.as_str())
}

/// Applies one patch reading `from` and writing `to`. A missing optional source is a no-op.
pub fn apply(patch: &Patch, from: &Value, to: &mut Value) -> Result<(), String> {
    let policy = patch.policy.as_ref();
    let required = policy.and_then(|p| p.from_field_path) == Some(FromFieldPathPolicy::Required);
    let lookup = |path: &str| {
        // P&T reads sources without expanding wildcards, so one can only fail there (or
        // silently match nothing): say so instead.
        if path.contains("[*]") {
            return Err(format!(
                "fromFieldPath {path}: wildcards are only expanded in toFieldPath"
            ));
        }
        fieldpath::get(from, path).map_err(|e| e.to_string())
    };
    let kind = patch.type_.unwrap_or_default();
    let (value, default_to) = match kind {
        PatchType::FromCompositeFieldPath | PatchType::ToCompositeFieldPath => {
            let path = patch.from_field_path.as_deref().ok_or("fromFieldPath is required")?;
            match lookup(path)? {
                Some(v) => (v.clone(), Some(path)),
                None if required => return Err("required field path not found".to_owned()),
                None => return Ok(()),
            }
        }
        PatchType::CombineFromComposite | PatchType::CombineToComposite => {
            let combine = patch.combine.as_ref().ok_or("combine is required")?;
            if combine.strategy != "string" {
                return Err(format!(
                    "unsupported combine strategy {:?}: want string",
                    combine.strategy
                ));
            }
            let fmt = &combine.string.as_ref().ok_or("combine.string.fmt is required")?.fmt;
            if combine.variables.is_empty() {
                return Err("combine needs at least one variable".to_owned());
            }
            let mut values = Vec::with_capacity(combine.variables.len());
            for var in &combine.variables {
                match lookup(&var.from_field_path)? {
                    Some(v) => values.push(v.clone()),
                    None if required => {
                        return Err(format!(
                            "required field path {} not found",
                            var.from_field_path
                        ));
                    }
                    // Like Crossplane: a combine with any missing input is skipped.
                    None => return Ok(()),
                }
            }
            (Value::String(go_format(fmt, &values)), None)
        }
        PatchType::PatchSet => return Err("patch sets must be expanded before applying".to_owned()),
        PatchType::FromEnvironmentFieldPath
        | PatchType::ToEnvironmentFieldPath
        | PatchType::CombineFromEnvironment
        | PatchType::CombineToEnvironment => {
            return Err(
                "environment patches are not supported: Crosstie has no EnvironmentConfigs yet"
                    .to_owned(),
            );
        }
    };
    let mut value = value;
    for (j, t) in patch.transforms.iter().enumerate() {
        value = transform::apply(t, &value)
            .map_err(|e| format!("transform {j} ({}): {e}", t.type_.as_str()))?;
    }
    let to_path = patch.to_field_path.as_deref().or(default_to).ok_or("toFieldPath is required")?;
    let to_policy = policy.and_then(|p| p.to_field_path).unwrap_or_default();
    // Like P&T, field path patches (not combines) write to every element a `[*]` matches.
    let combine = matches!(kind, PatchType::CombineFromComposite | PatchType::CombineToComposite);
    if !combine && to_path.contains("[*]") {
        let paths = fieldpath::expand_wildcards(to, to_path).map_err(|e| e.to_string())?;
        if paths.is_empty() {
            return Err(format!(
                "cannot expand toFieldPath {to_path}: it matches no existing field"
            ));
        }
        for path in paths {
            write(to, &path, value.clone(), to_policy)?;
        }
        return Ok(());
    }
    write(to, to_path, value, to_policy)
}

fn write(
    to: &mut Value,
    path: &str,
    value: Value,
    policy: ToFieldPathPolicy,
) -> Result<(), String> {
    let (force, append) = match policy {
        ToFieldPathPolicy::Replace => {
            return fieldpath::set(to, path, value).map_err(|e| e.to_string());
        }
        ToFieldPathPolicy::MergeObjects => (false, false),
        ToFieldPathPolicy::MergeObjectsAppendArrays => (false, true),
        ToFieldPathPolicy::ForceMergeObjects => (true, false),
        ToFieldPathPolicy::ForceMergeObjectsAppendArrays => (true, true),
    };
    let mut merged =
        fieldpath::get(to, path).map_err(|e| e.to_string())?.cloned().unwrap_or(Value::Null);
    match (&mut merged, value) {
        (Value::Object(_), v @ Value::Object(_)) => merge(&mut merged, v, force, append),
        (Value::Array(dst), Value::Array(src)) if append => append_unique(dst, src),
        (_, v) => merged = v,
    }
    fieldpath::set(to, path, merged).map_err(|e| e.to_string())
}

/// Merges `src` into `dst`: objects recursively, arrays appended (without duplicates) when
/// `append`, and other values kept unless `force`.
fn merge(dst: &mut Value, src: Value, force: bool, append: bool) {
    let (Value::Object(d), Value::Object(s)) = (&mut *dst, src) else { return };
    for (key, value) in s {
        let Some(existing) = d.get_mut(&key).filter(|e| !e.is_null()) else {
            d.insert(key, value);
            continue;
        };
        match (existing, value) {
            (existing @ Value::Object(_), value @ Value::Object(_)) => {
                merge(existing, value, force, append)
            }
            (Value::Array(existing), Value::Array(items)) if append => {
                append_unique(existing, items)
            }
            (existing, value) if force => *existing = value,
            _ => {}
        }
    }
}

fn append_unique(dst: &mut Vec<Value>, src: Vec<Value>) {
    for item in src {
        if !dst.contains(&item) {
            dst.push(item);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn patch(v: Value) -> Patch {
        serde_json::from_value(v).unwrap()
    }

    #[test]
    fn merge_policies_keep_or_force_existing_values_and_append_arrays() {
        let from = json!({"spec": {"m": {"a": 2, "new": 1, "list": [2, 3]}}});
        let base = json!({"spec": {"m": {"a": 1, "list": [1, 2]}}});
        let cases = [
            ("MergeObjects", json!({"a": 1, "new": 1, "list": [1, 2]})),
            ("MergeObjectsAppendArrays", json!({"a": 1, "new": 1, "list": [1, 2, 3]})),
            ("ForceMergeObjects", json!({"a": 2, "new": 1, "list": [2, 3]})),
            ("ForceMergeObjectsAppendArrays", json!({"a": 2, "new": 1, "list": [1, 2, 3]})),
            ("Replace", json!({"a": 2, "new": 1, "list": [2, 3]})),
        ];
        for (policy, want) in cases {
            let p = patch(json!({"fromFieldPath": "spec.m", "policy": {"toFieldPath": policy}}));
            let mut to = base.clone();
            apply(&p, &from, &mut to).unwrap();
            assert_eq!(to["spec"]["m"], want, "{policy}");
        }
    }

    #[test]
    fn nested_patch_sets_are_rejected() {
        let sets: Vec<PatchSet> = serde_json::from_value(json!([
            {"name": "a", "patches": [{"type": "PatchSet", "patchSetName": "a"}]}
        ]))
        .unwrap();
        let patches = [patch(json!({"type": "PatchSet", "patchSetName": "a"}))];
        assert_eq!(
            expand(&patches, &sets).unwrap_err(),
            "patch 0 (PatchSet a): patch 0: patch sets cannot nest"
        );
    }

    #[test]
    fn a_wildcard_to_field_path_writes_every_existing_element() {
        let from = json!({"spec": {"env": "prod"}});
        let p = patch(json!({"fromFieldPath": "spec.env", "toFieldPath": "spec.tags[*].value"}));
        let mut to =
            json!({"spec": {"tags": [{"key": "a", "value": ""}, {"key": "b", "value": ""}]}});
        apply(&p, &from, &mut to).unwrap();
        assert_eq!(
            to["spec"]["tags"],
            json!([{"key": "a", "value": "prod"}, {"key": "b", "value": "prod"}])
        );

        let mut empty = json!({"spec": {"tags": []}});
        assert_eq!(
            apply(&p, &from, &mut empty).unwrap_err(),
            "cannot expand toFieldPath spec.tags[*].value: it matches no existing field"
        );
        let wildcard_source =
            patch(json!({"fromFieldPath": "spec.tags[*].value", "toFieldPath": "x"}));
        assert_eq!(
            apply(&wildcard_source, &to.clone(), &mut to).unwrap_err(),
            "fromFieldPath spec.tags[*].value: wildcards are only expanded in toFieldPath"
        );
    }
}
