//! Strategic merge patch for built-in kinds: lists merge by the patch merge keys of the
//! Kubernetes Go types, with the `$patch`, `$setElementOrder`, `$deleteFromPrimitiveList` and
//! `$retainKeys` directives kubectl's three-way patches use.

use serde_json::{Map, Value};

use super::PatchError;

/// Applies a strategic merge patch to a built-in kind.
///
/// `builtin_kind` is `(group, kind)`, e.g. `("apps", "Deployment")`; `None` (custom resources)
/// is refused with [`PatchError::UnsupportedMediaType`], as kube-apiserver does. Lists merge by
/// the patch merge keys of the Kubernetes types (containers by `name`, conditions by `type`, …);
/// lists without a strategy are replaced. Honours `$patch: replace|delete|merge`,
/// `$setElementOrder/<list>`, `$deleteFromPrimitiveList/<list>` and `$retainKeys`.
pub fn strategic_merge_patch(
    target: &Value,
    patch: &Value,
    builtin_kind: Option<(&str, &str)>,
) -> Result<Value, PatchError> {
    let Some((_, kind)) = builtin_kind else {
        return Err(PatchError::UnsupportedMediaType(
            "the body of the request was in an unknown format - accepted media types include: \
             application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml"
                .to_owned(),
        ));
    };
    let Value::Object(patch) = patch else {
        return Err(PatchError::Invalid(
            "strategic merge patch body must be a JSON object".to_owned(),
        ));
    };
    let mut path = Vec::new();
    match merge_object(Some(target), patch, kind, &mut path)? {
        Some(merged) => Ok(merged),
        None => {
            Err(PatchError::Invalid("$patch: delete is not allowed on the whole object".to_owned()))
        }
    }
}

/// How a list field merges under strategic merge patch.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum ListStrategy {
    /// Objects matched by this key merge; others are appended.
    MergeByKey(&'static str),
    /// A set of primitives: the union of live and patch.
    MergePrimitives,
    /// The patch list replaces the live list.
    Replace,
}

/// The patch strategy of the list at `path` (field names from the object root) in a built-in
/// `kind`, from the `patchMergeKey`/`patchStrategy` tags of the Kubernetes Go types.
pub(crate) fn list_strategy(kind: &str, path: &[String]) -> ListStrategy {
    let Some(field) = path.last() else {
        return ListStrategy::Replace;
    };
    let parent = path.len().checked_sub(2).map(|i| path[i].as_str());
    match (parent, field.as_str()) {
        (Some("metadata"), "finalizers") => ListStrategy::MergePrimitives,
        (Some("metadata"), "ownerReferences") => ListStrategy::MergeByKey("uid"),
        (_, "containers" | "initContainers" | "ephemeralContainers") => {
            ListStrategy::MergeByKey("name")
        }
        (Some(parent), field) if CONTAINER_LISTS.contains(&parent) => match field {
            "env" => ListStrategy::MergeByKey("name"),
            "ports" => ListStrategy::MergeByKey("containerPort"),
            "volumeMounts" => ListStrategy::MergeByKey("mountPath"),
            "volumeDevices" => ListStrategy::MergeByKey("devicePath"),
            _ => ListStrategy::Replace,
        },
        (Some("spec"), "volumes" | "imagePullSecrets" | "resourceClaims") => {
            ListStrategy::MergeByKey("name")
        }
        (Some("spec"), "hostAliases") => ListStrategy::MergeByKey("ip"),
        (Some("spec"), "topologySpreadConstraints") => ListStrategy::MergeByKey("topologyKey"),
        (Some("spec"), "ports") if kind == "Service" => ListStrategy::MergeByKey("port"),
        (None, "secrets") if kind == "ServiceAccount" => ListStrategy::MergeByKey("name"),
        (Some("status"), "conditions") => ListStrategy::MergeByKey("type"),
        _ => ListStrategy::Replace,
    }
}

const CONTAINER_LISTS: [&str; 3] = ["containers", "initContainers", "ephemeralContainers"];

const DIRECTIVE: &str = "$patch";
const RETAIN_KEYS: &str = "$retainKeys";
const SET_ELEMENT_ORDER: &str = "$setElementOrder/";
const DELETE_FROM_PRIMITIVE_LIST: &str = "$deleteFromPrimitiveList/";

/// Merges a patch map into `live`; `None` means the map is deleted (`$patch: delete`).
fn merge_object(
    live: Option<&Value>,
    patch: &Map<String, Value>,
    kind: &str,
    path: &mut Vec<String>,
) -> Result<Option<Value>, PatchError> {
    let mut base = match live {
        Some(Value::Object(map)) => map.clone(),
        _ => Map::new(),
    };
    match patch.get(DIRECTIVE).and_then(Value::as_str) {
        Some("delete") => return Ok(None),
        Some("replace") => {
            let mut replaced = patch.clone();
            replaced.remove(DIRECTIVE);
            return Ok(Some(Value::Object(strip_directives(replaced))));
        }
        Some("merge") | None => {}
        Some(other) => {
            return Err(PatchError::Invalid(format!(
                "unknown patch type: {other} in map at {}",
                display_path(path)
            )));
        }
    }
    let mut orders = Vec::new();
    for (key, value) in patch {
        if key == DIRECTIVE {
            continue;
        }
        if let Some(list) = key.strip_prefix(SET_ELEMENT_ORDER) {
            orders.push((list.to_owned(), value));
            continue;
        }
        if let Some(list) = key.strip_prefix(DELETE_FROM_PRIMITIVE_LIST) {
            let Value::Array(doomed) = value else {
                return Err(PatchError::Invalid(format!("{key} must be a list")));
            };
            if let Some(Value::Array(items)) = base.get_mut(list) {
                items.retain(|item| !doomed.contains(item));
            }
            continue;
        }
        if key == RETAIN_KEYS {
            continue;
        }
        if value.is_null() {
            base.remove(key);
            continue;
        }
        path.push(key.clone());
        let merged = merge_value(base.get(key), value, kind, path)?;
        path.pop();
        match merged {
            Some(merged) => base.insert(key.clone(), merged),
            None => base.remove(key),
        };
    }
    for (list, order) in orders {
        if let (Some(Value::Array(items)), Value::Array(order)) = (base.get_mut(&list), order) {
            path.push(list.clone());
            let strategy = list_strategy(kind, path);
            path.pop();
            reorder(items, order, strategy);
        }
    }
    if let Some(retain) = patch.get(RETAIN_KEYS) {
        let Value::Array(retain) = retain else {
            return Err(PatchError::Invalid(format!("{RETAIN_KEYS} must be a list")));
        };
        base.retain(|key, _| retain.iter().any(|kept| kept.as_str() == Some(key)));
    }
    Ok(Some(Value::Object(base)))
}

fn merge_value(
    live: Option<&Value>,
    patch: &Value,
    kind: &str,
    path: &mut Vec<String>,
) -> Result<Option<Value>, PatchError> {
    match patch {
        Value::Object(map) => match live {
            Some(Value::Object(_)) | None => merge_object(live, map, kind, path),
            // A map replacing a scalar or list: nothing to merge into.
            Some(_) => merge_object(None, map, kind, path),
        },
        Value::Array(items) => merge_list(live, items, kind, path).map(Some),
        scalar => Ok(Some(scalar.clone())),
    }
}

fn merge_list(
    live: Option<&Value>,
    patch: &[Value],
    kind: &str,
    path: &mut Vec<String>,
) -> Result<Value, PatchError> {
    let is_replace = |item: &Value| item.get(DIRECTIVE).and_then(Value::as_str) == Some("replace");
    if patch.iter().any(is_replace) {
        let kept = patch.iter().filter(|item| !is_replace(item)).cloned();
        return Ok(Value::Array(kept.map(strip_value).collect()));
    }
    let live = match live {
        Some(Value::Array(items)) => items.clone(),
        _ => Vec::new(),
    };
    match list_strategy(kind, path) {
        ListStrategy::Replace => Ok(Value::Array(patch.iter().cloned().map(strip_value).collect())),
        ListStrategy::MergePrimitives => {
            let mut merged = live;
            for item in patch {
                if !merged.contains(item) {
                    merged.push(item.clone());
                }
            }
            Ok(Value::Array(merged))
        }
        ListStrategy::MergeByKey(key) => {
            let mut merged = live;
            for item in patch {
                let Some((patch_item, id)) =
                    item.as_object().and_then(|map| map.get(key).map(|id| (map, id)))
                else {
                    return Err(PatchError::Invalid(format!(
                        "map: {item} does not contain declared merge key: {key} (in {})",
                        display_path(path)
                    )));
                };
                let position = merged.iter().position(|existing| existing.get(key) == Some(id));
                let deleting = patch_item.get(DIRECTIVE).and_then(Value::as_str) == Some("delete");
                match (position, deleting) {
                    (Some(index), true) => {
                        merged.remove(index);
                    }
                    (None, true) => {}
                    (Some(index), false) => {
                        if let Some(value) =
                            merge_object(Some(&merged[index]), patch_item, kind, path)?
                        {
                            merged[index] = value;
                        }
                    }
                    (None, false) => {
                        if let Some(value) = merge_object(None, patch_item, kind, path)? {
                            merged.push(value);
                        }
                    }
                }
            }
            Ok(Value::Array(merged))
        }
    }
}

/// Orders `items` as `$setElementOrder` says; items it does not name keep their relative order
/// after the named ones.
fn reorder(items: &mut Vec<Value>, order: &[Value], strategy: ListStrategy) {
    let rank = |item: &Value| {
        order.iter().position(|wanted| match strategy {
            ListStrategy::MergeByKey(key) => {
                wanted.get(key).is_some() && wanted.get(key) == item.get(key)
            }
            _ => wanted == item,
        })
    };
    let mut ranked: Vec<(usize, usize, Value)> = items
        .drain(..)
        .enumerate()
        .map(|(index, item)| (rank(&item).unwrap_or(usize::MAX), index, item))
        .collect();
    ranked.sort_by_key(|(rank, index, _)| (*rank, *index));
    items.extend(ranked.into_iter().map(|(_, _, item)| item));
}

/// Removes patch directives from values that are inserted rather than merged.
fn strip_value(value: Value) -> Value {
    match value {
        Value::Object(map) => Value::Object(strip_directives(map)),
        Value::Array(items) => Value::Array(items.into_iter().map(strip_value).collect()),
        other => other,
    }
}

fn strip_directives(map: Map<String, Value>) -> Map<String, Value> {
    map.into_iter()
        .filter(|(key, _)| {
            key != DIRECTIVE
                && key != RETAIN_KEYS
                && !key.starts_with(SET_ELEMENT_ORDER)
                && !key.starts_with(DELETE_FROM_PRIMITIVE_LIST)
        })
        .map(|(key, value)| (key, strip_value(value)))
        .collect()
}

fn display_path(path: &[String]) -> String {
    path.join(".")
}
