//! `postBuild` variable substitution, as Flux does it: `${var}`, `${var:=default}`,
//! `${var:offset:length}`, `${var/from/to}` (and the other envsubst defaults), `$${var}` for a
//! literal `${var}`; undefined variables become empty strings.

use std::collections::BTreeMap;

use super::Error;

/// The per-object opt-out annotation (or label) with value `disabled`.
pub const SUBSTITUTE_ANNOTATION: &str = "kustomize.toolkit.fluxcd.io/substitute";

/// Whether `name` is a valid variable name: `^[_[:alpha:]][_[:alpha:][:digit:]]*$`.
pub fn is_valid_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars.next().is_some_and(|c| c == '_' || c.is_ascii_alphabetic())
        && chars.all(|c| c == '_' || c.is_ascii_alphanumeric())
}

/// Merge variables: `from` in order (later sources win), then `inline`, which wins over all.
/// Errors name the source of an invalid variable name.
pub fn merge_vars(
    from: Vec<(String, BTreeMap<String, String>)>,
    inline: &BTreeMap<String, String>,
) -> Result<BTreeMap<String, String>, Error> {
    let mut vars = BTreeMap::new();
    let sources =
        from.into_iter().chain([("spec.postBuild.substitute".to_owned(), inline.clone())]);
    for (source, data) in sources {
        for (name, value) in data {
            if !is_valid_name(&name) {
                return Err(Error::Substitution(format!(
                    "{source}: variable name {name:?} must match ^[_[:alpha:]][_[:alpha:][:digit:]]*$"
                )));
            }
            vars.insert(name, value);
        }
    }
    Ok(vars)
}

/// Replace variables in `text`. An unterminated `${` is an error naming `origin`.
pub fn substitute(
    text: &str,
    vars: &BTreeMap<String, String>,
    origin: &str,
) -> Result<String, Error> {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(i) = rest.find('$') {
        out.push_str(&rest[..i]);
        let tail = &rest[i..];
        if let Some(escaped) = tail.strip_prefix("$${") {
            out.push_str("${");
            rest = escaped;
            continue;
        }
        let Some(body_start) = tail.strip_prefix("${") else {
            out.push('$');
            rest = &tail[1..];
            continue;
        };
        let end = body_start.find('}').ok_or_else(|| {
            Error::Substitution(format!(
                "{origin}: unterminated variable reference {:?}",
                first_line(tail)
            ))
        })?;
        let body = &body_start[..end];
        let value = expand(body, vars).ok_or_else(|| {
            Error::Substitution(format!("{origin}: invalid variable reference \"${{{body}}}\""))
        })?;
        out.push_str(&value);
        rest = &body_start[end + 1..];
    }
    out.push_str(rest);
    Ok(out)
}

/// Expand one `${…}` body: `var`, `var:=default` / `var:-default` (unset or empty),
/// `var=default` / `var-default` (unset), `var:offset[:length]`, `var/from/to`, `var//from/to`.
/// `None` for a malformed body.
fn expand(body: &str, vars: &BTreeMap<String, String>) -> Option<String> {
    let name_len =
        body.find(|c: char| !(c == '_' || c.is_ascii_alphanumeric())).unwrap_or(body.len());
    let (name, op) = body.split_at(name_len);
    if !is_valid_name(name) {
        return None;
    }
    let value = vars.get(name).map(String::as_str);
    let or_default = |default: &str, empty_counts: bool| match value {
        Some(v) if !(empty_counts && v.is_empty()) => v.to_owned(),
        _ => default.to_owned(),
    };
    if op.is_empty() {
        return Some(value.unwrap_or_default().to_owned());
    }
    if let Some(default) = op.strip_prefix(":=").or_else(|| op.strip_prefix(":-")) {
        return Some(or_default(default, true));
    }
    if let Some(default) = op.strip_prefix('=').or_else(|| op.strip_prefix('-')) {
        return Some(or_default(default, false));
    }
    let value = value.unwrap_or_default();
    if let Some(range) = op.strip_prefix(':') {
        let (offset, length) = range.split_once(':').map_or((range, None), |(o, l)| (o, Some(l)));
        let offset: usize = offset.trim().parse().ok()?;
        let chars = value.chars().skip(offset);
        return Some(match length {
            Some(l) => chars.take(l.trim().parse().ok()?).collect(),
            None => chars.collect(),
        });
    }
    if let Some(all) = op.strip_prefix("//") {
        let (from, to) = all.split_once('/').unwrap_or((all, ""));
        return Some(if from.is_empty() { value.to_owned() } else { value.replace(from, to) });
    }
    if let Some(first) = op.strip_prefix('/') {
        let (from, to) = first.split_once('/').unwrap_or((first, ""));
        return Some(if from.is_empty() { value.to_owned() } else { value.replacen(from, to, 1) });
    }
    None
}

fn first_line(s: &str) -> &str {
    s.lines().next().unwrap_or(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs.iter().map(|(k, v)| ((*k).into(), (*v).into())).collect()
    }

    #[test]
    fn variables_defaults_escapes_and_undefined() {
        let v = vars(&[("env", "prod"), ("replicas", "3")]);
        let out = substitute(
            "a: ${env}\nb: ${missing:=dev}\nc: $${env}\nd: ${missing}\ne: $HOME ${replicas}",
            &v,
            "f",
        )
        .unwrap();
        assert_eq!(out, "a: prod\nb: dev\nc: ${env}\nd: \ne: $HOME 3");
        assert_eq!(substitute("x: ${env:=dev}", &v, "f").unwrap(), "x: prod", "set beats default");
    }

    #[test]
    fn substrings_replacements_and_shell_defaults() {
        let v = vars(&[("region", "eu-west-1"), ("empty", "")]);
        let sub = |t: &str| substitute(t, &v, "f").unwrap();
        assert_eq!(sub("${region:3}"), "west-1");
        assert_eq!(sub("${region:0:2}"), "eu");
        assert_eq!(sub("${region/-/_}"), "eu_west-1");
        assert_eq!(sub("${region//-/_}"), "eu_west_1");
        assert_eq!(sub("${empty:-x} ${empty-x} ${unset-x} ${unset=y}"), "x  x y");
        assert!(substitute("${region!}", &v, "f").is_err());
    }

    #[test]
    fn malformed_references_name_the_origin() {
        let err = substitute("x: ${env", &vars(&[]), "apps/cm.yaml:3").unwrap_err();
        assert!(err.to_string().contains("apps/cm.yaml:3"), "{err}");
        assert!(substitute("x: ${1bad}", &vars(&[]), "f").is_err());
    }

    #[test]
    fn inline_variables_win_over_later_sources_which_win_over_earlier() {
        let merged = merge_vars(
            vec![
                ("ConfigMap/a".into(), vars(&[("x", "a"), ("y", "a"), ("z", "a")])),
                ("Secret/b".into(), vars(&[("y", "b"), ("z", "b")])),
            ],
            &vars(&[("z", "inline")]),
        )
        .unwrap();
        assert_eq!(merged, vars(&[("x", "a"), ("y", "b"), ("z", "inline")]));
        let err = merge_vars(vec![("ConfigMap/a".into(), vars(&[("bad-name", "1")]))], &vars(&[]))
            .unwrap_err();
        assert!(err.to_string().contains("ConfigMap/a") && err.to_string().contains("bad-name"));
    }
}
