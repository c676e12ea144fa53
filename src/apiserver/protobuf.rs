//! Decoding of the Kubernetes protobuf encoding for the few built-in kinds kubectl's imperative
//! commands send that way (`kubectl create namespace|configmap|secret|serviceaccount`). Responses
//! stay JSON: those clients accept it. Other kinds get 415, as from a server without protobuf.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde_json::{Map, Value, json};

/// The envelope's magic prefix.
const MAGIC: &[u8] = b"k8s\0";

/// One field of a protobuf message.
enum Field<'a> {
    Varint(u64),
    Bytes(&'a [u8]),
    Fixed,
}

fn varint(buf: &[u8], pos: &mut usize) -> Option<u64> {
    let mut value = 0u64;
    for shift in (0..64).step_by(7) {
        let byte = *buf.get(*pos)?;
        *pos += 1;
        value |= u64::from(byte & 0x7f) << shift;
        if byte & 0x80 == 0 {
            return Some(value);
        }
    }
    None
}

/// The fields of a message, in order.
fn fields(buf: &[u8]) -> Option<Vec<(u64, Field<'_>)>> {
    let mut pos = 0;
    let mut out = Vec::new();
    while pos < buf.len() {
        let tag = varint(buf, &mut pos)?;
        let field = match tag & 7 {
            0 => Field::Varint(varint(buf, &mut pos)?),
            1 => {
                pos += 8;
                Field::Fixed
            }
            2 => {
                let len = usize::try_from(varint(buf, &mut pos)?).ok()?;
                let bytes = buf.get(pos..pos.checked_add(len)?)?;
                pos += len;
                Field::Bytes(bytes)
            }
            5 => {
                pos += 4;
                Field::Fixed
            }
            _ => return None,
        };
        out.push((tag >> 3, field));
    }
    (pos == buf.len()).then_some(out)
}

fn text(bytes: &[u8]) -> Option<Value> {
    Some(Value::String(std::str::from_utf8(bytes).ok()?.to_owned()))
}

/// A `map<string, string>` (or `map<string, bytes>` as base64) entry, merged into `into`.
fn map_entry(bytes: &[u8], binary: bool, into: &mut Value) -> Option<()> {
    let (mut key, mut value) = (String::new(), Value::String(String::new()));
    for (n, f) in fields(bytes)? {
        match (n, f) {
            (1, Field::Bytes(b)) => key = std::str::from_utf8(b).ok()?.to_owned(),
            (2, Field::Bytes(b)) if binary => value = Value::String(STANDARD.encode(b)),
            (2, Field::Bytes(b)) => value = text(b)?,
            _ => {}
        }
    }
    if !into.is_object() {
        *into = Value::Object(Map::new());
    }
    into[key] = value;
    Some(())
}

fn owner_reference(bytes: &[u8]) -> Option<Value> {
    let mut owner = json!({});
    for (n, f) in fields(bytes)? {
        match (n, f) {
            (1, Field::Bytes(b)) => owner["kind"] = text(b)?,
            (3, Field::Bytes(b)) => owner["name"] = text(b)?,
            (4, Field::Bytes(b)) => owner["uid"] = text(b)?,
            (5, Field::Bytes(b)) => owner["apiVersion"] = text(b)?,
            (6, Field::Varint(v)) => owner["controller"] = json!(v != 0),
            (7, Field::Varint(v)) => owner["blockOwnerDeletion"] = json!(v != 0),
            _ => {}
        }
    }
    Some(owner)
}

/// The client-settable part of ObjectMeta.
fn object_meta(bytes: &[u8]) -> Option<Value> {
    let mut meta = json!({});
    for (n, f) in fields(bytes)? {
        match (n, f) {
            (1, Field::Bytes(b)) => meta["name"] = text(b)?,
            (2, Field::Bytes(b)) => meta["generateName"] = text(b)?,
            (3, Field::Bytes(b)) => meta["namespace"] = text(b)?,
            (6, Field::Bytes(b)) => meta["resourceVersion"] = text(b)?,
            (11, Field::Bytes(b)) => map_entry(b, false, &mut meta["labels"])?,
            (12, Field::Bytes(b)) => map_entry(b, false, &mut meta["annotations"])?,
            (13, Field::Bytes(b)) => push(&mut meta["ownerReferences"], owner_reference(b)?),
            (14, Field::Bytes(b)) => push(&mut meta["finalizers"], text(b)?),
            _ => {}
        }
    }
    Some(meta)
}

fn push(list: &mut Value, item: Value) {
    match list {
        Value::Array(items) => items.push(item),
        _ => *list = Value::Array(vec![item]),
    }
}

/// Decodes a protobuf request body of a supported kind into its JSON form; `None` when the kind
/// is not supported or the bytes are malformed.
pub fn decode(body: &[u8]) -> Option<Value> {
    let envelope = fields(body.strip_prefix(MAGIC)?)?;
    let (mut api_version, mut kind, mut raw) = (String::new(), String::new(), &[][..]);
    for (n, f) in envelope {
        match (n, f) {
            (1, Field::Bytes(type_meta)) => {
                for (n, f) in fields(type_meta)? {
                    match (n, f) {
                        (1, Field::Bytes(b)) => {
                            api_version = std::str::from_utf8(b).ok()?.to_owned()
                        }
                        (2, Field::Bytes(b)) => kind = std::str::from_utf8(b).ok()?.to_owned(),
                        _ => {}
                    }
                }
            }
            (2, Field::Bytes(b)) => raw = b,
            _ => {}
        }
    }
    if api_version != "v1" {
        return None;
    }
    let mut object = json!({"apiVersion": "v1", "kind": kind});
    for (n, f) in fields(raw)? {
        let Field::Bytes(b) = f else {
            match (kind.as_str(), n, f) {
                ("ConfigMap", 4, Field::Varint(v)) | ("Secret", 5, Field::Varint(v)) => {
                    object["immutable"] = json!(v != 0)
                }
                ("ServiceAccount", 4, Field::Varint(v)) => {
                    object["automountServiceAccountToken"] = json!(v != 0)
                }
                _ => {}
            }
            continue;
        };
        match (kind.as_str(), n) {
            (_, 1) => object["metadata"] = object_meta(b)?,
            ("Namespace", _) | ("ServiceAccount", _) => {}
            ("ConfigMap", 2) => map_entry(b, false, &mut object["data"])?,
            ("ConfigMap", 3) => map_entry(b, true, &mut object["binaryData"])?,
            ("Secret", 2) => map_entry(b, true, &mut object["data"])?,
            ("Secret", 3) => object["type"] = text(b)?,
            ("Secret", 4) => map_entry(b, false, &mut object["stringData"])?,
            ("ConfigMap" | "Secret", _) => {}
            _ => return None,
        }
    }
    matches!(kind.as_str(), "Namespace" | "ConfigMap" | "Secret" | "ServiceAccount")
        .then_some(object)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn field(n: u64, bytes: &[u8]) -> Vec<u8> {
        let mut out = vec![(n << 3 | 2) as u8, bytes.len() as u8];
        out.extend_from_slice(bytes);
        out
    }

    #[test]
    fn decodes_a_secret_as_kubectl_create_secret_sends_it() {
        let meta = [
            field(1, b"creds"),
            field(3, b"default"),
            field(11, &[field(1, b"app"), field(2, b"db")].concat()),
        ]
        .concat();
        let secret = [
            field(1, &meta),
            field(2, &[field(1, b"password"), field(2, b"s3cret")].concat()),
            field(3, b"Opaque"),
        ]
        .concat();
        let type_meta = [field(1, b"v1"), field(2, b"Secret")].concat();
        let body = [MAGIC.to_vec(), field(1, &type_meta), field(2, &secret)].concat();
        let object = decode(&body).unwrap();
        assert_eq!(object["metadata"]["name"], "creds");
        assert_eq!(object["metadata"]["labels"]["app"], "db");
        assert_eq!(object["data"]["password"], STANDARD.encode("s3cret"));
        assert_eq!(object["type"], "Opaque");
    }

    #[test]
    fn other_kinds_and_garbage_are_refused() {
        let type_meta = [field(1, b"v1"), field(2, b"Pod")].concat();
        assert!(decode(&[MAGIC.to_vec(), field(1, &type_meta)].concat()).is_none());
        assert!(decode(b"k8s\0\xff\xff").is_none());
        assert!(decode(b"{}").is_none());
    }
}
