//! Crossplane field paths over JSON objects: `spec.tags[0].value`,
//! `metadata.labels[crossplane.io/claim-name]`, `metadata.annotations["x.y/z"]`.

use serde_json::{Map, Value};

/// One step of a field path.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Segment {
    /// An object key.
    Field(String),
    /// An array index.
    Index(usize),
}

/// Why a field path could not be parsed or written.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FieldPathError {
    /// The path's syntax is wrong.
    #[error("invalid field path {path:?}: {reason}")]
    Invalid {
        /// The path.
        path: String,
        /// What is wrong.
        reason: &'static str,
    },
    /// A value on the way is of the wrong type to descend into.
    #[error("cannot set {path}: {at} is not an {expected}")]
    WrongType {
        /// The path.
        path: String,
        /// The prefix that has the wrong type.
        at: String,
        /// `object` or `array`.
        expected: &'static str,
    },
}

/// Parses a field path into segments.
pub fn parse(path: &str) -> Result<Vec<Segment>, FieldPathError> {
    let invalid = |reason| FieldPathError::Invalid { path: path.to_owned(), reason };
    let mut segments = Vec::new();
    let mut chars = path.chars().peekable();
    let mut field = String::new();
    // Whether the previous token was a `]`, after which a `.` or `[` must follow.
    let mut after_bracket = false;
    while let Some(c) = chars.next() {
        match c {
            '.' => {
                if field.is_empty() && !after_bracket {
                    return Err(invalid("empty field name"));
                }
                if !field.is_empty() {
                    segments.push(Segment::Field(std::mem::take(&mut field)));
                }
                after_bracket = false;
            }
            '[' => {
                if !field.is_empty() {
                    segments.push(Segment::Field(std::mem::take(&mut field)));
                }
                let mut key = String::new();
                let quoted = matches!(chars.peek(), Some('"' | '\''));
                let quote = if quoted { chars.next() } else { None };
                loop {
                    match chars.next() {
                        None => return Err(invalid("unterminated '['")),
                        Some(q) if Some(q) == quote => {
                            if chars.next() != Some(']') {
                                return Err(invalid("expected ']' after closing quote"));
                            }
                            break;
                        }
                        Some(']') if quote.is_none() => break,
                        Some(ch) => key.push(ch),
                    }
                }
                if key.is_empty() {
                    return Err(invalid("empty brackets"));
                }
                segments.push(match (quoted, key.parse::<usize>()) {
                    (false, Ok(i)) => Segment::Index(i),
                    _ => Segment::Field(key),
                });
                after_bracket = true;
            }
            _ => {
                // `after_bracket` is reset by `.`, so here no dot came between `]` and this.
                if after_bracket && field.is_empty() {
                    return Err(invalid("expected '.' or '[' after ']'"));
                }
                field.push(c);
            }
        }
    }
    if !field.is_empty() {
        segments.push(Segment::Field(field));
    } else if !after_bracket {
        return Err(invalid(if path.is_empty() { "empty path" } else { "trailing '.'" }));
    }
    Ok(segments)
}

/// The value at `path`, if every step exists.
pub fn get<'a>(object: &'a Value, path: &str) -> Result<Option<&'a Value>, FieldPathError> {
    let mut current = object;
    for segment in parse(path)? {
        let next = match (&segment, current) {
            (Segment::Field(key), Value::Object(map)) => map.get(key),
            (Segment::Index(i), Value::Array(items)) => items.get(*i),
            _ => None,
        };
        match next {
            Some(v) => current = v,
            None => return Ok(None),
        }
    }
    Ok(Some(current))
}

/// Writes `value` at `path`, creating objects and arrays on the way (arrays grow with nulls).
pub fn set(object: &mut Value, path: &str, value: Value) -> Result<(), FieldPathError> {
    let segments = parse(path)?;
    let mut current = object;
    for (i, segment) in segments.iter().enumerate() {
        let wrong = |expected| FieldPathError::WrongType {
            path: path.to_owned(),
            at: display(&segments[..i]),
            expected,
        };
        if current.is_null() {
            *current = match segment {
                Segment::Field(_) => Value::Object(Map::new()),
                Segment::Index(_) => Value::Array(Vec::new()),
            };
        }
        current = match segment {
            Segment::Field(key) => {
                let map = current.as_object_mut().ok_or_else(|| wrong("object"))?;
                map.entry(key.clone()).or_insert(Value::Null)
            }
            Segment::Index(index) => {
                let items = current.as_array_mut().ok_or_else(|| wrong("array"))?;
                if items.len() <= *index {
                    items.resize(index + 1, Value::Null);
                }
                &mut items[*index]
            }
        };
    }
    *current = value;
    Ok(())
}

/// The concrete paths that `path`'s wildcards (`[*]`, or a `*` field) expand to in `object`,
/// as Crossplane's `Paved.ExpandWildcards`: every element of a wildcarded array, every key of a
/// wildcarded object, and only the expansions whose whole path already exists.
pub fn expand_wildcards(object: &Value, path: &str) -> Result<Vec<String>, FieldPathError> {
    let mut expanded = Vec::new();
    expand(object, path, parse(path)?, &mut expanded)?;
    Ok(expanded.iter().map(|segments| display(segments)).collect())
}

fn expand(
    object: &Value,
    path: &str,
    segments: Vec<Segment>,
    out: &mut Vec<Vec<Segment>>,
) -> Result<(), FieldPathError> {
    let wrong = |at: &[Segment], expected| FieldPathError::WrongType {
        path: path.to_owned(),
        at: display(at),
        expected,
    };
    let mut current = object;
    for (i, segment) in segments.iter().enumerate() {
        if *segment == Segment::Field("*".to_owned()) {
            let replacements: Vec<Segment> = match current {
                Value::Array(items) => (0..items.len()).map(Segment::Index).collect(),
                Value::Object(map) => map.keys().cloned().map(Segment::Field).collect(),
                _ => return Err(wrong(&segments[..i], "array or object")),
            };
            for replacement in replacements {
                let mut concrete = segments.clone();
                concrete[i] = replacement;
                expand(object, path, concrete, out)?;
            }
            return Ok(());
        }
        let next = match (segment, current) {
            (Segment::Field(key), Value::Object(map)) => map.get(key),
            (Segment::Index(i), Value::Array(items)) => items.get(*i),
            (Segment::Field(_), _) => return Err(wrong(&segments[..i], "object")),
            (Segment::Index(_), _) => return Err(wrong(&segments[..i], "array")),
        };
        match next {
            Some(v) => current = v,
            None => return Ok(()),
        }
    }
    out.push(segments);
    Ok(())
}

/// Renders segments back into a path, for error messages.
fn display(segments: &[Segment]) -> String {
    let mut out = String::new();
    for segment in segments {
        match segment {
            Segment::Field(key) if key.contains(['.', '/', '[', ']']) => {
                out.push_str(&format!("[{key}]"))
            }
            Segment::Field(key) => {
                if !out.is_empty() {
                    out.push('.');
                }
                out.push_str(key);
            }
            Segment::Index(i) => out.push_str(&format!("[{i}]")),
        }
    }
    if out.is_empty() { "the root".to_owned() } else { out }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn parses_dots_indexes_and_bracketed_keys() {
        use Segment::*;
        let f = |s: &str| Field(s.to_owned());
        assert_eq!(
            parse("spec.tags[0].value").unwrap(),
            [f("spec"), f("tags"), Index(0), f("value")]
        );
        assert_eq!(
            parse("metadata.labels[crossplane.io/claim-name]").unwrap(),
            [f("metadata"), f("labels"), f("crossplane.io/claim-name")]
        );
        assert_eq!(
            parse(r#"metadata.annotations["x.y/z"]"#).unwrap(),
            [f("metadata"), f("annotations"), f("x.y/z")]
        );
        assert_eq!(parse("a[\"0\"]").unwrap(), [f("a"), f("0")]);
        assert_eq!(parse("a[1][2]").unwrap(), [f("a"), Index(1), Index(2)]);
    }

    #[test]
    fn rejects_malformed_paths_with_the_reason() {
        for (path, reason) in [
            ("", "empty path"),
            ("a..b", "empty field name"),
            ("a.", "trailing '.'"),
            ("a[0", "unterminated '['"),
            ("a[]", "empty brackets"),
            ("a[0]b", "expected '.' or '[' after ']'"),
        ] {
            assert_eq!(
                parse(path).unwrap_err(),
                FieldPathError::Invalid { path: path.into(), reason },
                "{path}"
            );
        }
    }

    #[test]
    fn gets_nested_values_and_reports_missing_ones_as_none() {
        let v = json!({"spec": {"tags": [{"value": "a"}], "n": 1}});
        assert_eq!(get(&v, "spec.tags[0].value").unwrap(), Some(&json!("a")));
        assert_eq!(get(&v, "spec.tags[1].value").unwrap(), None);
        assert_eq!(get(&v, "spec.n.deeper").unwrap(), None);
    }

    #[test]
    fn sets_values_creating_objects_and_arrays() {
        let mut v = json!({});
        set(&mut v, "spec.tags[1].key", json!("k")).unwrap();
        set(&mut v, "metadata.labels[crossplane.io/x]", json!("y")).unwrap();
        assert_eq!(
            v,
            json!({"spec": {"tags": [null, {"key": "k"}]}, "metadata": {"labels": {"crossplane.io/x": "y"}}})
        );
    }

    #[test]
    fn setting_through_a_scalar_names_the_offending_prefix() {
        let mut v = json!({"spec": {"size": 3}});
        assert_eq!(
            set(&mut v, "spec.size.value", json!(1)).unwrap_err().to_string(),
            "cannot set spec.size.value: spec.size is not an object"
        );
    }

    #[test]
    fn wildcards_expand_to_every_existing_element_that_has_the_rest_of_the_path() {
        let v = json!({"spec": {"tags": [{"value": "a"}, {"key": "k"}, {"value": "c"}]}});
        assert_eq!(
            expand_wildcards(&v, "spec.tags[*].value").unwrap(),
            ["spec.tags[0].value", "spec.tags[2].value"]
        );
        let labels = json!({"metadata": {"labels": {"a/b": "x", "c": "y"}}});
        assert_eq!(
            expand_wildcards(&labels, "metadata.labels[*]").unwrap(),
            ["metadata.labels[a/b]", "metadata.labels.c"]
        );
        assert!(expand_wildcards(&v, "spec.missing[*].value").unwrap().is_empty());
        assert_eq!(
            expand_wildcards(&v, "spec.tags[0].value[*]").unwrap_err().to_string(),
            "cannot set spec.tags[0].value[*]: spec.tags[0].value is not an array or object"
        );
    }
}
