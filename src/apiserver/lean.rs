//! Objects as the controllers in this process read them: without `metadata.managedFields`.
//!
//! `crosstie up`'s controllers reach the API server through its routes in process
//! ([`super::RunningServer::client`]). None of them reads managedFields, yet those are about
//! half of each object's JSON and the costliest half to parse (a tree of small maps per
//! manager), parsed on every response and watch event only to be dropped. Requests marked
//! [`InProcess`] therefore get every object without them: responses, lists and watch events.
//! Requests over the socket (kubectl, any other client) get objects whole.

use serde_json::Value;
use serde_json::value::RawValue;
use std::collections::BTreeMap;

/// Marks a request made by a client in this process. It is a request extension, which no
/// request arriving over the socket can carry.
#[derive(Debug, Clone, Copy)]
pub struct InProcess;

/// `text` (an object's JSON) without `metadata.managedFields`, or `None` when it has none (or
/// is not an object) and is sent as it is. Fields are split at the top level and in `metadata`
/// only; everything else is copied as it is, never parsed into values.
pub fn without_managed_fields(text: &str) -> Option<String> {
    if !text.contains("\"managedFields\"") {
        return None;
    }
    let mut object: Fields = serde_json::from_str(text).ok()?;
    let mut metadata: Fields = serde_json::from_str(object.get("metadata")?.get()).ok()?;
    metadata.remove("managedFields")?;
    let metadata = serde_json::value::to_raw_value(&metadata).ok()?;
    object.insert("metadata", &metadata);
    serde_json::to_string(&object).ok()
}

/// Removes `metadata.managedFields` from a parsed object.
pub fn remove_managed_fields(object: &mut Value) {
    if let Some(metadata) = object.get_mut("metadata").and_then(Value::as_object_mut) {
        metadata.remove("managedFields");
    }
}

/// Fields of one JSON object, in the key order serde_json writes them (sorted), values raw.
/// Keys are borrowed: a key needing escapes fails the parse, and the text is then sent whole.
type Fields<'a> = BTreeMap<&'a str, &'a RawValue>;

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_text_is_the_object_serialized_without_managed_fields() {
        let object = json!({
            "apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": "a", "resourceVersion": "7", "labels": {"managedFields": "kept"},
                "managedFields": [{"manager": "m", "fieldsV1": {"f:data": {"f:x": {}}}}]},
            "data": {"managedFields": "kept", "x": "say \"hi\""},
        });
        let mut expected = object.clone();
        remove_managed_fields(&mut expected);
        let text = without_managed_fields(&object.to_string());
        assert_eq!(text, Some(expected.to_string()));
        assert_eq!(expected["data"]["managedFields"], "kept");
        assert_eq!(expected["metadata"]["labels"]["managedFields"], "kept");
    }

    #[test]
    fn text_without_managed_fields_is_sent_as_it_is() {
        let plain = json!({"metadata": {"name": "a"}, "data": {"x": "1"}}).to_string();
        assert_eq!(without_managed_fields(&plain), None);
        // Named only below metadata: nothing to remove.
        let nested = json!({"metadata": {"name": "a"}, "spec": {"managedFields": []}}).to_string();
        assert_eq!(without_managed_fields(&nested), None);
        assert_eq!(without_managed_fields("not json \"managedFields\""), None);
    }
}
