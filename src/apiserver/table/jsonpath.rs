//! The JSONPath subset CRD printer columns use: fields, indexes, wildcards, quoted keys and
//! equality filters such as `.status.conditions[?(@.type=="Ready")].status`.

use serde_json::Value;

/// One step of the JSONPath subset printer columns use.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum Step {
    /// `.field` or `['field']`.
    Field(String),
    /// `[3]`.
    Index(usize),
    /// `[*]`.
    All,
    /// `[?(@.a.b=="x")]`: elements whose nested field equals the literal.
    Filter(Vec<String>, Value),
}

/// Parses `.a.b`, `.a[0].b`, `.a[*].b`, `.a['x.y']` and `.a[?(@.type=="Ready")].b`, with or
/// without the `{…}` braces kubectl's templates use. `None` when the path is outside the subset.
pub(super) fn parse_path(path: &str) -> Option<Vec<Step>> {
    let path = path.trim();
    let path = path.strip_prefix('{').and_then(|p| p.strip_suffix('}')).unwrap_or(path);
    let path = path.strip_prefix('$').unwrap_or(path);
    let mut steps = Vec::new();
    let mut rest = path;
    while !rest.is_empty() {
        if let Some(after) = rest.strip_prefix('.') {
            let end = after.find(['.', '[']).unwrap_or(after.len());
            if end == 0 {
                return None;
            }
            steps.push(Step::Field(after[..end].to_owned()));
            rest = &after[end..];
        } else if let Some(after) = rest.strip_prefix('[') {
            let end = bracket_end(after)?;
            steps.push(parse_bracket(&after[..end])?);
            rest = &after[end + 1..];
        } else {
            return None;
        }
    }
    Some(steps)
}

/// Index of the `]` closing a bracket, skipping quoted text.
fn bracket_end(s: &str) -> Option<usize> {
    let mut quote = None;
    for (i, c) in s.char_indices() {
        match (quote, c) {
            (None, '"' | '\'') => quote = Some(c),
            (Some(q), c) if c == q => quote = None,
            (None, ']') => return Some(i),
            _ => {}
        }
    }
    None
}

fn parse_bracket(inner: &str) -> Option<Step> {
    let inner = inner.trim();
    if inner == "*" {
        return Some(Step::All);
    }
    if let Ok(index) = inner.parse() {
        return Some(Step::Index(index));
    }
    if let Some(filter) = inner.strip_prefix("?(").and_then(|f| f.strip_suffix(')')) {
        let (left, right) = filter.split_once("==")?;
        let fields = left.trim().strip_prefix("@.")?;
        let literal = right.trim();
        let literal = match unquote(literal) {
            Some(s) => Value::String(s.to_owned()),
            None => serde_json::from_str(literal).ok()?,
        };
        return Some(Step::Filter(fields.split('.').map(str::to_owned).collect(), literal));
    }
    unquote(inner).map(|field| Step::Field(field.to_owned()))
}

fn unquote(s: &str) -> Option<&str> {
    s.strip_prefix('"')
        .and_then(|s| s.strip_suffix('"'))
        .or_else(|| s.strip_prefix('\'').and_then(|s| s.strip_suffix('\'')))
}

pub(super) fn evaluate<'a>(root: &'a Value, steps: &[Step]) -> Vec<&'a Value> {
    let mut current = vec![root];
    for step in steps {
        current = current
            .into_iter()
            .flat_map(|value| -> Vec<&'a Value> {
                match (step, value) {
                    (Step::Field(name), Value::Object(map)) => map.get(name).into_iter().collect(),
                    (Step::Index(i), Value::Array(items)) => items.get(*i).into_iter().collect(),
                    (Step::All, Value::Array(items)) => items.iter().collect(),
                    (Step::All, Value::Object(map)) => map.values().collect(),
                    (Step::Filter(fields, literal), Value::Array(items)) => items
                        .iter()
                        .filter(|item| {
                            fields
                                .iter()
                                .try_fold(*item, |v, f| v.get(f))
                                .is_some_and(|v| v == literal)
                        })
                        .collect(),
                    _ => Vec::new(),
                }
            })
            .collect();
    }
    current
}
