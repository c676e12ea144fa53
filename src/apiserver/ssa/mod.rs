//! Server-side apply and field ownership in `metadata.managedFields`.
//!
//! Every write records which manager owns which fields. An apply owns exactly what it sends:
//! fields it owned before and now omits are removed (unless another manager owns them too), and
//! setting a field another manager owns to a different value is a conflict unless forced. Writes
//! that change nothing leave the object, times included, untouched, so reconcile loops that
//! re-apply the same intent stay quiet.

mod fieldset;

use serde_json::{Map, Value, json};

use fieldset::{FieldPath, FieldSet, ListRules, ListType};

/// A field another manager owns with a different value.
#[derive(Debug, Clone, PartialEq)]
pub struct Conflict {
    /// The manager that owns the field.
    pub manager: String,
    /// Field path like `.spec.x`.
    pub field: String,
    /// How the owner wrote it: `Apply` or `Update`.
    pub operation: String,
    /// The API version the owner wrote it through.
    pub api_version: String,
    /// `Some("status")` when the owner wrote through a subresource.
    pub subresource: Option<String>,
}

impl Conflict {
    /// The owner as kube-apiserver names it: `"ctrl"`, `"kubectl-client-side-apply" using
    /// apps/v1` for updaters, `… with subresource "status"` for subresource writers.
    pub fn owner(&self) -> String {
        let mut owner = format!("{:?}", self.manager);
        if let Some(subresource) = &self.subresource {
            owner.push_str(&format!(" with subresource {subresource:?}"));
        }
        if self.operation == "Update" {
            owner.push_str(&format!(" using {}", self.api_version));
        }
        owner
    }

    /// The message of this conflict's `FieldManagerConflict` cause: `conflict with "ctrl"`.
    pub fn cause_message(&self) -> String {
        format!("conflict with {}", self.owner())
    }
}

/// Why an apply was refused.
#[derive(Debug, Clone, PartialEq)]
pub enum ApplyError {
    /// Other managers own fields the applier sets to different values (HTTP 409).
    Conflicts(Vec<Conflict>),
    /// The applied configuration is malformed (HTTP 400/422).
    Invalid(String),
}

impl std::fmt::Display for ApplyError {
    /// kube-apiserver's wording, e.g. `Apply failed with 1 conflict: conflict with "ctrl": .spec.x`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ApplyError::Invalid(message) => f.write_str(message),
            ApplyError::Conflicts(conflicts) => match conflicts.as_slice() {
                [one] => write!(
                    f,
                    "Apply failed with 1 conflict: conflict with {}: {}",
                    one.owner(),
                    one.field
                ),
                many => {
                    let mut owners: Vec<String> = many.iter().map(Conflict::owner).collect();
                    owners.sort();
                    owners.dedup();
                    let mut lines = Vec::new();
                    for owner in owners {
                        lines.push(format!("conflicts with {owner}:"));
                        let fields = many.iter().filter(|c| c.owner() == owner);
                        lines.extend(fields.map(|c| format!("- {}", c.field)));
                    }
                    write!(f, "Apply failed with {} conflicts: {}", many.len(), lines.join("\n"))
                }
            },
        }
    }
}

impl std::error::Error for ApplyError {}

/// Server-side apply: returns the new object (with metadata.managedFields updated) from the live
/// object (None = create) and the applied configuration. `now` is an RFC3339 timestamp.
pub fn apply(
    live: Option<&Value>,
    applied: &Value,
    manager: &str,
    force: bool,
    now: &str,
) -> Result<Value, ApplyError> {
    apply_with(live, applied, manager, now, Options { force, ..Options::default() })
}

/// What else a write needs beyond the objects and the manager.
#[derive(Debug, Clone, Copy, Default)]
pub struct Options<'a> {
    /// `Some("status")` for writes through `…/status`, recorded as `subresource: status`.
    pub subresource: Option<&'a str>,
    /// Apply only: take conflicting fields from their owners instead of failing.
    pub force: bool,
    /// The CRD version's `openAPIV3Schema`, whose `x-kubernetes-list-type` markers decide how
    /// lists merge; without it, custom resources' lists are atomic.
    pub schema: Option<&'a Value>,
    /// The resource has a status subresource: applies to the main resource ignore `.status`,
    /// as kube-apiserver resets it (applies through `/status` always keep only `.status`).
    pub status_subresource: bool,
}

/// [`apply`] with a subresource and a schema.
pub fn apply_with(
    live: Option<&Value>,
    applied: &Value,
    manager: &str,
    now: &str,
    options: Options,
) -> Result<Value, ApplyError> {
    let Options { subresource, force, schema, status_subresource } = options;
    check_applied(applied)?;
    let mut config = applied.clone();
    strip_server_metadata(&mut config);
    reset_fields(&mut config, subresource, status_subresource);
    let rules = ListRules::of(applied, schema);
    let applied_set = fieldset::fields_of(&config, rules);
    let api_version = applied["apiVersion"].as_str().unwrap_or_default();

    let Some(live) = live else {
        let mut created = config;
        let entry = Entry::new(manager, "Apply", subresource, api_version, now, applied_set);
        set_managed_fields(&mut created, &[entry]);
        return Ok(created);
    };

    let mut entries = Entry::read_all(live);
    let own = entries.iter().position(|e| e.is(manager, "Apply", subresource));
    let previous = own.map(|i| entries[i].fields.clone()).unwrap_or_default();

    let mut conflicts = Vec::new();
    for (index, entry) in entries.iter().enumerate() {
        if Some(index) == own {
            continue;
        }
        for path in applied_set.intersection(&entry.fields) {
            let differs = fieldset::lookup(live, path) != fieldset::lookup(&config, path);
            // A keyed item the applier reaches into conflicts through its fields, not as a whole.
            if differs && !fieldset::has_descendants(&applied_set, path) {
                conflicts.push((index, path.clone()));
            }
        }
    }
    if !conflicts.is_empty() && !force {
        let mut found: Vec<Conflict> = conflicts
            .iter()
            .map(|(index, path)| {
                let owner = &entries[*index];
                Conflict {
                    manager: owner.manager.clone(),
                    field: fieldset::display(path),
                    operation: owner.operation.clone(),
                    api_version: owner.api_version.clone(),
                    subresource: owner.subresource.clone(),
                }
            })
            .collect();
        found.sort_by(|a, b| (&a.manager, &a.field).cmp(&(&b.manager, &b.field)));
        return Err(ApplyError::Conflicts(found));
    }
    for (index, path) in &conflicts {
        entries[*index].fields.remove(path);
    }

    let mut object = live.clone();
    for path in previous.difference(&applied_set) {
        let owned_elsewhere = entries
            .iter()
            .enumerate()
            .any(|(i, e)| Some(i) != own && fieldset::covers(&e.fields, path));
        if !owned_elsewhere && !fieldset::has_descendants(&applied_set, path) {
            fieldset::remove(&mut object, path);
        }
    }
    let mut names = Vec::new();
    merge(&mut object, &config, rules, &mut names);

    let unchanged = super::meta::same_except_managed_fields(&object, live)
        && previous == applied_set
        && conflicts.is_empty();
    if unchanged && own.is_some() {
        return Ok(live.clone());
    }
    let entry = Entry::new(manager, "Apply", subresource, api_version, now, applied_set);
    match own {
        Some(index) => entries[index] = entry,
        None => entries.push(entry),
    }
    entries.retain(|e| !e.fields.is_empty());
    set_managed_fields(&mut object, &entries);
    Ok(object)
}

/// Records an `Update` entry for a non-apply write (create/update/patch), on `new` in place.
/// `subresource` is Some("status") for status writes.
pub fn record_update(
    old: Option<&Value>,
    new: &mut Value,
    manager: &str,
    subresource: Option<&str>,
    now: &str,
) {
    record_update_with(old, new, manager, now, Options { subresource, ..Options::default() });
}

/// [`record_update`] with a schema for list types (`force` does not apply to updates).
///
/// The writer takes ownership of every field it changed, from whoever owned it; removed fields
/// leave every manager's set. A write that changes nothing leaves managedFields as they were.
/// A body carrying `managedFields: [{}]` clears them, as in kube-apiserver.
pub fn record_update_with(
    old: Option<&Value>,
    new: &mut Value,
    manager: &str,
    now: &str,
    options: Options,
) {
    let Options { subresource, schema, .. } = options;
    // The rules borrow only the type, so `new` stays free to take the result.
    let type_meta = json!({"apiVersion": new["apiVersion"], "kind": new["kind"]});
    let rules = ListRules::of(&type_meta, schema);
    let empty = json!({});
    let before = old.unwrap_or(&empty);
    // A top-level field equal in both (for a status write: all but status) can neither change
    // nor lose a path: only the differing ones are walked.
    let differs = |field: &str| before.get(field) != new.get(field);
    let old_set = fieldset::fields_under(before, rules, differs);
    let new_set = fieldset::fields_under(new, rules, differs);
    let removed: FieldSet = old_set.into_iter().filter(|path| !new_set.contains(path)).collect();
    // A keyed item or map changes when it appears; its fields speak for its contents.
    let containers: Vec<bool> =
        new_set.iter().map(|path| fieldset::has_descendants(&new_set, path)).collect();
    let changed: FieldSet = new_set
        .into_iter()
        .zip(containers)
        .filter(|(path, container)| {
            if *container {
                fieldset::lookup(before, path).is_none()
            } else {
                fieldset::lookup(before, path) != fieldset::lookup(new, path)
            }
        })
        .map(|(path, _)| path)
        .collect();

    // Entries as stored (a patch carries them over unchanged) are kept as they are unless this
    // write changes them: most writes touch one or two, and parsing every entry and writing it
    // out again cost more than the rest of the bookkeeping.
    let stored = old.map(stored_entries).unwrap_or_default();
    let mut entries: Vec<Recorded> =
        match new.pointer_mut("/metadata/managedFields").map(Value::take) {
            Some(Value::Array(list)) if list.len() == 1 && list[0] == json!({}) => Vec::new(),
            Some(Value::Array(list)) if list.as_slice() == stored => {
                list.into_iter().map(Recorded::Stored).collect()
            }
            Some(Value::Array(list)) if !list.is_empty() => {
                list.iter().map(Entry::read).map(Recorded::Parsed).collect()
            }
            _ => stored.iter().cloned().map(Recorded::Stored).collect(),
        };
    let own = entries.iter().position(|e| e.is(manager, "Update", subresource));
    // Managers losing fields keep their time: losing ownership is not a write of theirs.
    for (index, recorded) in entries.iter_mut().enumerate() {
        let is_own = Some(index) == own;
        let taken =
            |path: &FieldPath| removed.contains(path) || (!is_own && changed.contains(path));
        let gains = is_own && !changed.is_empty();
        let changes = |fields: &Value| {
            gains
                || fieldset::is_empty_v1(fields)
                || removed
                    .iter()
                    .chain(&changed)
                    .any(|p| taken(p) && fieldset::contains_v1(fields, p))
        };
        if let Some(entry) = recorded.parsed_if(changes) {
            entry.fields.retain(|path| !taken(path));
        }
    }
    if !changed.is_empty() {
        let api_version = new["apiVersion"].as_str().unwrap_or_default().to_owned();
        match own {
            Some(index) => {
                let Recorded::Parsed(entry) = &mut entries[index] else {
                    unreachable!("an entry that gains fields is parsed above")
                };
                entry.fields.extend(changed);
                entry.time = now.to_owned();
                entry.api_version = api_version;
            }
            None => entries.push(Recorded::Parsed(Entry::new(
                manager,
                "Update",
                subresource,
                &api_version,
                now,
                changed,
            ))),
        }
    }
    // A stored entry kept as it was still owns something (an empty one was parsed above).
    entries.retain(|e| !matches!(e, Recorded::Parsed(entry) if entry.fields.is_empty()));
    let list: Vec<Value> = entries.into_iter().map(Recorded::into_json).collect();
    set_managed_fields_json(new, list);
}

/// A managedFields entry a write may leave as it was stored: parsed only once the write
/// changes its fields (or it gains the writer's).
enum Recorded {
    Stored(Value),
    Parsed(Entry),
}

impl Recorded {
    /// The entry parsed, a stored one only when `changes` (given its `fieldsV1`) says this write
    /// changes it; `None` for a stored entry kept as it is.
    fn parsed_if(&mut self, changes: impl FnOnce(&Value) -> bool) -> Option<&mut Entry> {
        if let Recorded::Stored(stored) = self {
            if !changes(&stored["fieldsV1"]) {
                return None;
            }
            let entry = Entry::read(stored);
            *self = Recorded::Parsed(entry);
        }
        match self {
            Recorded::Parsed(entry) => Some(entry),
            Recorded::Stored(_) => None,
        }
    }

    fn is(&self, manager: &str, operation: &str, subresource: Option<&str>) -> bool {
        match self {
            Recorded::Parsed(entry) => entry.is(manager, operation, subresource),
            Recorded::Stored(stored) => {
                text(stored, "manager") == manager
                    && text(stored, "operation") == operation
                    && subresource_of(stored) == subresource
            }
        }
    }

    fn into_json(self) -> Value {
        match self {
            Recorded::Stored(stored) => stored,
            Recorded::Parsed(entry) => entry.to_json(),
        }
    }
}

/// A text field of a stored entry (empty when absent).
fn text<'a>(entry: &'a Value, key: &str) -> &'a str {
    entry.get(key).and_then(Value::as_str).unwrap_or_default()
}

/// A stored entry's subresource (an empty one is none).
fn subresource_of(entry: &Value) -> Option<&str> {
    Some(text(entry, "subresource")).filter(|s| !s.is_empty())
}

/// The `metadata.managedFields` entries of `object` as stored.
fn stored_entries(object: &Value) -> &[Value] {
    object.pointer("/metadata/managedFields").and_then(Value::as_array).map_or(&[], Vec::as_slice)
}

/// One `metadata.managedFields` entry with its fields parsed.
#[derive(Debug, Clone, PartialEq)]
struct Entry {
    manager: String,
    operation: String,
    subresource: Option<String>,
    api_version: String,
    time: String,
    fields: FieldSet,
}

impl Entry {
    fn new(
        manager: &str,
        operation: &str,
        subresource: Option<&str>,
        api_version: &str,
        time: &str,
        fields: FieldSet,
    ) -> Self {
        Entry {
            manager: manager.to_owned(),
            operation: operation.to_owned(),
            subresource: subresource.map(str::to_owned),
            api_version: api_version.to_owned(),
            time: time.to_owned(),
            fields,
        }
    }

    fn is(&self, manager: &str, operation: &str, subresource: Option<&str>) -> bool {
        self.manager == manager
            && self.operation == operation
            && self.subresource.as_deref() == subresource
    }

    fn read_all(object: &Value) -> Vec<Entry> {
        stored_entries(object).iter().map(Entry::read).collect()
    }

    fn read(entry: &Value) -> Entry {
        Entry {
            manager: text(entry, "manager").to_owned(),
            operation: text(entry, "operation").to_owned(),
            subresource: subresource_of(entry).map(str::to_owned),
            api_version: text(entry, "apiVersion").to_owned(),
            time: text(entry, "time").to_owned(),
            fields: entry.get("fieldsV1").map(fieldset::from_fields_v1).unwrap_or_default(),
        }
    }

    fn to_json(&self) -> Value {
        let mut entry = Map::new();
        entry.insert("manager".into(), json!(self.manager));
        entry.insert("operation".into(), json!(self.operation));
        entry.insert("apiVersion".into(), json!(self.api_version));
        if !self.time.is_empty() {
            entry.insert("time".into(), json!(self.time));
        }
        entry.insert("fieldsType".into(), json!("FieldsV1"));
        entry.insert("fieldsV1".into(), fieldset::to_fields_v1(&self.fields));
        if let Some(subresource) = &self.subresource {
            entry.insert("subresource".into(), json!(subresource));
        }
        Value::Object(entry)
    }
}

fn set_managed_fields(object: &mut Value, entries: &[Entry]) {
    set_managed_fields_json(object, entries.iter().map(Entry::to_json).collect());
}

fn set_managed_fields_json(object: &mut Value, entries: Vec<Value>) {
    let Some(object) = object.as_object_mut() else {
        return;
    };
    let metadata = object.entry("metadata").or_insert_with(|| json!({}));
    if let Some(metadata) = metadata.as_object_mut() {
        if entries.is_empty() {
            metadata.remove("managedFields");
        } else {
            metadata.insert("managedFields".into(), Value::Array(entries));
        }
    }
}

fn check_applied(applied: &Value) -> Result<(), ApplyError> {
    if !applied.is_object() {
        return Err(ApplyError::Invalid("the applied configuration must be an object".into()));
    }
    for (pointer, field) in
        [("/apiVersion", "apiVersion"), ("/kind", "kind"), ("/metadata/name", "metadata.name")]
    {
        if applied.pointer(pointer).and_then(Value::as_str).is_none_or(str::is_empty) {
            return Err(ApplyError::Invalid(format!(
                "{field}: Required value: must be set for server-side apply"
            )));
        }
    }
    match applied.pointer("/metadata/managedFields") {
        None | Some(Value::Null) => Ok(()),
        Some(Value::Array(list)) if list.is_empty() => Ok(()),
        Some(_) => Err(ApplyError::Invalid("metadata.managedFields must be nil".into())),
    }
}

/// Drops metadata the server owns from an applied configuration: the live values stay.
fn strip_server_metadata(config: &mut Value) {
    if let Some(metadata) = config.get_mut("metadata").and_then(Value::as_object_mut) {
        metadata.retain(|key, _| {
            !fieldset::is_unowned(&["metadata".to_owned()], key)
                || matches!(key.as_str(), "name" | "namespace")
        });
    }
}

/// Drops what the endpoint does not write: everything but `.status` through `/status`, and
/// `.status` through the main resource when it has a status subresource.
fn reset_fields(config: &mut Value, subresource: Option<&str>, status_subresource: bool) {
    let Some(map) = config.as_object_mut() else {
        return;
    };
    match subresource {
        Some("status") => {
            map.retain(|key, _| {
                matches!(key.as_str(), "apiVersion" | "kind" | "metadata" | "status")
            });
            if let Some(Value::Object(metadata)) = map.get_mut("metadata") {
                metadata.retain(|key, _| matches!(key.as_str(), "name" | "namespace"));
            }
        }
        None if status_subresource => {
            map.remove("status");
        }
        _ => {}
    }
}

/// Merges the applied configuration into `live`: maps recursively, keyed lists item by item,
/// sets as unions, everything else replaced.
fn merge(live: &mut Value, applied: &Value, rules: ListRules, names: &mut Vec<String>) {
    match (live, applied) {
        (Value::Object(live), Value::Object(applied)) => {
            for (key, value) in applied {
                names.push(key.clone());
                match live.get_mut(key) {
                    Some(existing) => merge(existing, value, rules, names),
                    None => {
                        live.insert(key.clone(), value.clone());
                    }
                }
                names.pop();
            }
        }
        (Value::Array(existing), Value::Array(items)) => {
            let mut all = existing.clone();
            all.extend(items.iter().cloned());
            match rules.list_type(names, &all) {
                // Items keep their place and new ones are appended, so re-applies never reorder.
                ListType::Map(keys) => {
                    for item in items {
                        match existing.iter_mut().find(|e| fieldset::same_item(&keys, e, item)) {
                            Some(current) => merge(current, item, rules, names),
                            None => existing.push(item.clone()),
                        }
                    }
                }
                ListType::Set => {
                    for item in items {
                        if !existing.contains(item) {
                            existing.push(item.clone());
                        }
                    }
                }
                ListType::Atomic => existing.clone_from(items),
            }
        }
        (live, applied) => *live = applied.clone(),
    }
}

#[cfg(test)]
mod tests;
