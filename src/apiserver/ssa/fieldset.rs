//! Field sets: the paths a manager owns, as `metadata.managedFields[].fieldsV1` encodes them
//! (`f:name` fields, `k:{"name":"x"}` keyed list items, `v:"x"` set members, `.` for the node
//! itself), and the list-merge rules that decide how an object's lists are addressed.

use std::collections::BTreeSet;

use serde_json::{Map, Value};

use crate::apiserver::patch::{ListStrategy, list_strategy};

/// One path from the object root, e.g. `["f:spec", "f:containers", "k:{\"name\":\"app\"}"]`.
pub(super) type FieldPath = Vec<String>;

/// Owned paths. A path is in the set when the manager owns the value there; its ancestors are
/// not members unless listed themselves.
pub(super) type FieldSet = BTreeSet<FieldPath>;

/// Metadata the server manages: never owned by a field manager.
const SERVER_METADATA: [&str; 11] = [
    "name",
    "namespace",
    "uid",
    "resourceVersion",
    "generation",
    "creationTimestamp",
    "deletionTimestamp",
    "deletionGracePeriodSeconds",
    "managedFields",
    "selfLink",
    "generateName",
];

/// Whether `key` at `path` belongs to the object's identity or server-managed metadata.
pub(super) fn is_unowned(path: &[String], key: &str) -> bool {
    match path {
        [] => matches!(key, "apiVersion" | "kind"),
        [metadata] if metadata == "metadata" => SERVER_METADATA.contains(&key),
        _ => false,
    }
}

/// How a list is addressed in field sets and merged by apply.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum ListType {
    /// Items are identified by these key fields (`x-kubernetes-list-type: map`, patch merge keys).
    Map(Vec<String>),
    /// Items are scalars identified by value (`x-kubernetes-list-type: set`).
    Set,
    /// The list is one value.
    Atomic,
}

/// How lists merge for an object: a CRD schema's `x-kubernetes-list-type` markers first, then
/// the patch merge keys of built-in kinds and ObjectMeta; anything else is atomic, as
/// kube-apiserver treats unmarked CRD lists.
#[derive(Debug, Clone, Copy)]
pub(super) struct ListRules<'a> {
    builtin_kind: Option<&'a str>,
    schema: Option<&'a Value>,
}

impl<'a> ListRules<'a> {
    /// Rules for `object`, judged from its `apiVersion` and `kind`, and from `schema` (a CRD
    /// version's `openAPIV3Schema`) when given.
    pub(super) fn of(object: &'a Value, schema: Option<&'a Value>) -> Self {
        let group = object
            .get("apiVersion")
            .and_then(Value::as_str)
            .and_then(|v| v.rsplit_once('/').map(|(group, _)| group))
            .unwrap_or_default();
        let builtin = !group.contains('.') || group.ends_with(".k8s.io");
        let kind = object.get("kind").and_then(Value::as_str);
        ListRules { builtin_kind: kind.filter(|_| builtin), schema }
    }

    /// The type of the list at `path` (field names only) holding `items`. A keyed list whose
    /// items lack a key is treated as atomic rather than refused.
    pub(super) fn list_type(&self, path: &[String], items: &[Value]) -> ListType {
        let list_type = self.marked(path).unwrap_or_else(|| {
            match (self.builtin_kind, path.first().map(String::as_str)) {
                (_, Some("metadata")) => from_strategy(list_strategy("", path)),
                (Some(kind), _) => from_strategy(list_strategy(kind, path)),
                (None, _) => ListType::Atomic,
            }
        });
        match &list_type {
            ListType::Map(keys)
                if keys.is_empty()
                    || items.iter().any(|item| keys.iter().any(|k| item.get(k).is_none())) =>
            {
                ListType::Atomic
            }
            _ => list_type,
        }
    }

    /// The list type the schema marks at `path`, if any.
    fn marked(&self, path: &[String]) -> Option<ListType> {
        let mut node = self.schema?;
        for name in path {
            while let Some(items) = node.get("items") {
                node = items;
            }
            node = node
                .get("properties")
                .and_then(|p| p.get(name))
                .or_else(|| node.get("additionalProperties").filter(|a| a.is_object()))?;
        }
        match node.get("x-kubernetes-list-type").and_then(Value::as_str)? {
            "map" => {
                let keys = node.get("x-kubernetes-list-map-keys").and_then(Value::as_array)?;
                Some(ListType::Map(
                    keys.iter().filter_map(Value::as_str).map(str::to_owned).collect(),
                ))
            }
            "set" => Some(ListType::Set),
            _ => Some(ListType::Atomic),
        }
    }
}

fn from_strategy(strategy: ListStrategy) -> ListType {
    match strategy {
        ListStrategy::MergeByKey(key) => ListType::Map(vec![key.to_owned()]),
        ListStrategy::MergePrimitives => ListType::Set,
        ListStrategy::Replace => ListType::Atomic,
    }
}

/// Whether two items of a map list have the same keys.
pub(super) fn same_item(keys: &[String], a: &Value, b: &Value) -> bool {
    keys.iter().all(|k| a.get(k) == b.get(k))
}

/// The element naming a keyed list item, e.g. `k:{"name":"app"}`.
pub(super) fn key_element(keys: &[String], item: &Value) -> String {
    let map: Map<String, Value> =
        keys.iter().map(|k| (k.clone(), item.get(k).cloned().unwrap_or(Value::Null))).collect();
    format!("k:{}", Value::Object(map))
}

/// The element naming a set member, e.g. `v:"finalizer.example.com"`.
pub(super) fn value_element(value: &Value) -> String {
    format!("v:{value}")
}

/// Every path of `object` a writer of it would own, walking lists by `rules`.
pub(super) fn fields_of(object: &Value, rules: ListRules) -> FieldSet {
    fields_under(object, rules, |_| true)
}

/// [`fields_of`], for the top-level fields `include` accepts only.
pub(super) fn fields_under(
    object: &Value,
    rules: ListRules,
    include: impl Fn(&str) -> bool,
) -> FieldSet {
    let mut set = FieldSet::new();
    let mut path = Vec::new();
    let mut names = Vec::new();
    if let Value::Object(map) = object {
        walk_map(map, &include, rules, &mut path, &mut names, &mut set);
    }
    set
}

fn walk_map(
    map: &Map<String, Value>,
    include: &dyn Fn(&str) -> bool,
    rules: ListRules,
    path: &mut FieldPath,
    names: &mut Vec<String>,
    set: &mut FieldSet,
) {
    for (key, value) in map {
        if !include(key) || is_unowned(names, key) {
            continue;
        }
        path.push(format!("f:{key}"));
        names.push(key.clone());
        walk_value(value, rules, path, names, set);
        names.pop();
        path.pop();
    }
}

fn walk_value(
    value: &Value,
    rules: ListRules,
    path: &mut FieldPath,
    names: &mut Vec<String>,
    set: &mut FieldSet,
) {
    match value {
        Value::Object(map) if !map.is_empty() => walk_map(map, &|_| true, rules, path, names, set),
        Value::Array(items) if !items.is_empty() => match rules.list_type(names, items) {
            ListType::Map(keys) => {
                for item in items {
                    path.push(key_element(&keys, item));
                    set.insert(path.clone());
                    if let Value::Object(fields) = item {
                        walk_map(fields, &|_| true, rules, path, names, set);
                    }
                    path.pop();
                }
            }
            ListType::Set => {
                for item in items {
                    path.push(value_element(item));
                    set.insert(path.clone());
                    path.pop();
                }
            }
            ListType::Atomic => {
                set.insert(path.clone());
            }
        },
        _ => {
            set.insert(path.clone());
        }
    }
}

/// Whether `set` holds a path strictly below `path`.
pub(super) fn has_descendants(set: &FieldSet, path: &FieldPath) -> bool {
    set.range(path.clone()..).find(|p| *p != path).is_some_and(|p| p.starts_with(path))
}

/// Whether `set` holds `path` or a path below it.
pub(super) fn covers(set: &FieldSet, path: &FieldPath) -> bool {
    set.contains(path) || has_descendants(set, path)
}

/// Reads a `fieldsV1` document.
pub(super) fn from_fields_v1(fields: &Value) -> FieldSet {
    let mut set = FieldSet::new();
    let mut path = Vec::new();
    read_node(fields, &mut path, &mut set);
    set
}

fn read_node(node: &Value, path: &mut FieldPath, set: &mut FieldSet) {
    let Value::Object(children) = node else {
        return;
    };
    for (element, child) in children {
        if element == "." {
            set.insert(path.clone());
            continue;
        }
        path.push(element.clone());
        match child {
            Value::Object(grandchildren) if !grandchildren.is_empty() => {
                read_node(child, path, set);
            }
            _ => {
                set.insert(path.clone());
            }
        }
        path.pop();
    }
}

/// Whether the `fieldsV1` document `fields` holds `path`, read without parsing the rest of it
/// (as [`from_fields_v1`] would read it).
pub(super) fn contains_v1(fields: &Value, path: &FieldPath) -> bool {
    let Some(node) = path.iter().try_fold(fields, |node, element| node.get(element)) else {
        return false;
    };
    match node {
        Value::Object(children) if path.is_empty() || !children.is_empty() => {
            children.contains_key(".")
        }
        _ => true,
    }
}

/// Whether the `fieldsV1` document `fields` holds no path at all.
pub(super) fn is_empty_v1(fields: &Value) -> bool {
    fields.as_object().is_none_or(Map::is_empty)
}

/// Writes a `fieldsV1` document.
pub(super) fn to_fields_v1(set: &FieldSet) -> Value {
    let mut root = Map::new();
    for path in set {
        let mut node = &mut root;
        for element in path {
            node = node
                .entry(element.clone())
                .or_insert_with(|| Value::Object(Map::new()))
                .as_object_mut()
                .expect("fieldsV1 nodes are objects");
        }
        if has_descendants(set, path) {
            node.insert(".".to_owned(), Value::Object(Map::new()));
        }
    }
    Value::Object(root)
}

/// The value at `path` in `object`, if any.
pub(super) fn lookup<'a>(object: &'a Value, path: &[String]) -> Option<&'a Value> {
    path.iter().try_fold(object, |value, element| step(value, element))
}

fn step<'a>(value: &'a Value, element: &str) -> Option<&'a Value> {
    if let Some(field) = element.strip_prefix("f:") {
        return value.get(field);
    }
    let items = value.as_array()?;
    let index = position(items, element)?;
    items.get(index)
}

/// Index of the list item an element names.
fn position(items: &[Value], element: &str) -> Option<usize> {
    if let Some(key) = element.strip_prefix("k:") {
        let Ok(Value::Object(key)) = serde_json::from_str::<Value>(key) else {
            return None;
        };
        return items
            .iter()
            .position(|item| key.iter().all(|(field, id)| item.get(field) == Some(id)));
    }
    if let Some(member) = element.strip_prefix("v:") {
        let member: Value = serde_json::from_str(member).ok()?;
        return items.iter().position(|item| *item == member);
    }
    element.strip_prefix("i:")?.parse().ok()
}

/// Removes the value at `path` from `object`; a path that is already gone is fine.
pub(super) fn remove(object: &mut Value, path: &[String]) {
    let Some((last, parents)) = path.split_last() else {
        return;
    };
    let mut value = object;
    for element in parents {
        let next = if let Some(field) = element.strip_prefix("f:") {
            value.get_mut(field)
        } else {
            match value {
                Value::Array(items) => position(items, element).and_then(|i| items.get_mut(i)),
                _ => None,
            }
        };
        let Some(next) = next else {
            return;
        };
        value = next;
    }
    match value {
        Value::Object(map) => {
            if let Some(field) = last.strip_prefix("f:") {
                map.remove(field);
            }
        }
        Value::Array(items) => {
            if let Some(index) = position(items, last) {
                items.remove(index);
            }
        }
        _ => {}
    }
}

/// A path as kube-apiserver prints it in conflicts: `.spec.containers[name="app"].image`.
pub(super) fn display(path: &[String]) -> String {
    let mut out = String::new();
    for element in path {
        if let Some(field) = element.strip_prefix("f:") {
            out.push('.');
            out.push_str(field);
        } else if let Some(key) = element.strip_prefix("k:") {
            let pairs: Vec<String> = match serde_json::from_str::<Value>(key) {
                Ok(Value::Object(map)) => map.iter().map(|(k, v)| format!("{k}={v}")).collect(),
                _ => vec![key.to_owned()],
            };
            out.push_str(&format!("[{}]", pairs.join(",")));
        } else if let Some(member) = element.strip_prefix("v:") {
            out.push_str(&format!("[={member}]"));
        } else if let Some(index) = element.strip_prefix("i:") {
            out.push_str(&format!("[{index}]"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn fields_of_a_deployment_use_merge_keys_and_skip_server_metadata() {
        let deployment = json!({
            "apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": "web", "uid": "u", "labels": {"app": "web"}, "finalizers": ["f"]},
            "spec": {"replicas": 2, "template": {"spec": {
                "containers": [{"name": "app", "image": "app:1"}],
                "tolerations": [{"key": "x"}]}}}
        });
        let got = to_fields_v1(&fields_of(&deployment, ListRules::of(&deployment, None)));
        let expected = json!({
            "f:metadata": {"f:labels": {"f:app": {}}, "f:finalizers": {"v:\"f\"": {}}},
            "f:spec": {"f:replicas": {}, "f:template": {"f:spec": {
                "f:containers": {"k:{\"name\":\"app\"}": {".": {}, "f:name": {}, "f:image": {}}},
                "f:tolerations": {}}}}
        });
        assert_eq!(got, expected);
    }

    #[test]
    fn custom_resource_lists_are_atomic() {
        let object = json!({"apiVersion": "example.com/v1", "kind": "Widget",
            "spec": {"containers": [{"name": "a"}]}});
        let got = to_fields_v1(&fields_of(&object, ListRules::of(&object, None)));
        assert_eq!(got, json!({"f:spec": {"f:containers": {}}}));
    }

    #[test]
    fn crd_lists_follow_their_schema_markers() {
        let schema = json!({"type": "object", "properties": {"spec": {"type": "object", "properties": {
            "ports": {"type": "array", "x-kubernetes-list-type": "map",
                      "x-kubernetes-list-map-keys": ["port", "protocol"],
                      "items": {"type": "object", "properties": {"port": {"type": "integer"}, "protocol": {"type": "string"}}}},
            "zones": {"type": "array", "x-kubernetes-list-type": "set", "items": {"type": "string"}},
            "plain": {"type": "array", "items": {"type": "string"}}}}}});
        let object = json!({"apiVersion": "example.com/v1", "kind": "Widget", "spec": {
            "ports": [{"port": 80, "protocol": "TCP"}], "zones": ["a"], "plain": ["x"]}});
        let got = to_fields_v1(&fields_of(&object, ListRules::of(&object, Some(&schema))));
        assert_eq!(
            got,
            json!({"f:spec": {
            "f:ports": {"k:{\"port\":80,\"protocol\":\"TCP\"}": {".": {}, "f:port": {}, "f:protocol": {}}},
            "f:zones": {"v:\"a\"": {}},
            "f:plain": {}}})
        );
    }

    #[test]
    fn fields_v1_round_trips() {
        let fields = json!({"f:spec": {"f:containers": {"k:{\"name\":\"app\"}": {".": {}, "f:image": {}}},
            "f:empty": {}}, "f:metadata": {"f:finalizers": {"v:\"a\"": {}}}});
        assert_eq!(to_fields_v1(&from_fields_v1(&fields)), fields);
    }

    #[test]
    fn a_path_is_in_the_raw_document_exactly_when_it_is_in_the_parsed_set() {
        let fields = json!({".": {}, "f:spec": {".": {}, "f:containers": {
                r#"k:{"name":"a"}"#: {".": {}, "f:image": {}}, r#"k:{"name":"b"}"#: {"f:port": {}}},
            "f:size": {}}, "f:metadata": {"f:finalizers": {"v:\"x\"": {}}}});
        let set = from_fields_v1(&fields);
        let path =
            |elements: &[&str]| elements.iter().map(|e| e.to_string()).collect::<FieldPath>();
        let candidates = [
            path(&[]),
            path(&["f:spec"]),
            path(&["f:spec", "f:size"]),
            path(&["f:spec", "f:containers"]),
            path(&["f:spec", "f:containers", r#"k:{"name":"a"}"#]),
            path(&["f:spec", "f:containers", r#"k:{"name":"a"}"#, "f:image"]),
            path(&["f:spec", "f:containers", r#"k:{"name":"b"}"#]),
            path(&["f:spec", "f:containers", r#"k:{"name":"b"}"#, "f:port"]),
            path(&["f:spec", "f:size", "f:below"]),
            path(&["f:metadata"]),
            path(&["f:metadata", "f:finalizers", "v:\"x\""]),
            path(&["f:status"]),
        ];
        for candidate in candidates.iter().chain(&set) {
            assert_eq!(contains_v1(&fields, candidate), set.contains(candidate), "{candidate:?}");
        }
        assert!(!is_empty_v1(&fields));
        assert!(is_empty_v1(&json!({})) && is_empty_v1(&Value::Null));
        assert!(!contains_v1(&json!({}), &path(&[])), "an empty document holds nothing");
    }

    #[test]
    fn lookup_remove_and_display_follow_the_elements() {
        let mut object = json!({"spec": {"containers": [{"name": "a", "image": "1"}, {"name": "b"}]},
            "metadata": {"finalizers": ["x", "y"]}});
        let image = vec![
            "f:spec".into(),
            "f:containers".into(),
            r#"k:{"name":"a"}"#.into(),
            "f:image".into(),
        ];
        assert_eq!(lookup(&object, &image), Some(&json!("1")));
        assert_eq!(display(&image), r#".spec.containers[name="a"].image"#);
        let finalizer = vec!["f:metadata".into(), "f:finalizers".into(), r#"v:"x""#.into()];
        assert_eq!(display(&finalizer), r#".metadata.finalizers[="x"]"#);
        remove(&mut object, &finalizer);
        remove(&mut object, &image[..3]);
        remove(&mut object, &["f:nothing".into(), "f:here".into()]);
        assert_eq!(
            object,
            json!({"spec": {"containers": [{"name": "b"}]}, "metadata": {"finalizers": ["y"]}})
        );
    }
}
