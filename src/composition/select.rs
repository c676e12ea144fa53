//! Which Composition a composite uses: `enforcedCompositionRef`, then `spec.compositionRef`,
//! then `spec.compositionSelector`, then the XRD's `defaultCompositionRef`.

use std::collections::BTreeMap;

use serde_json::Value;

use super::types::Composition;

/// Why no Composition could be selected; goes into the composite's `Synced=False` condition.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SelectError {
    /// A named Composition does not exist (or composes another kind).
    #[error("cannot select composition: composition {name:?} ({field}) does not exist for {kind}")]
    NotFound {
        /// The name asked for.
        name: String,
        /// Where the name came from.
        field: &'static str,
        /// The composite's apiVersion and kind.
        kind: String,
    },
    /// No Composition carries the selector's labels.
    #[error("cannot select composition: no composition for {kind} matches labels {labels:?}")]
    NoMatch {
        /// The composite's apiVersion and kind.
        kind: String,
        /// The selector.
        labels: BTreeMap<String, String>,
    },
    /// No Composition composes the composite's kind.
    #[error("cannot select composition: no composition composes {kind}")]
    None {
        /// The composite's apiVersion and kind.
        kind: String,
    },
    /// Nothing names or selects a Composition and several could apply.
    #[error(
        "cannot select composition: set spec.compositionRef or spec.compositionSelector, or the \
         XRD's defaultCompositionRef ({count} compositions compose {kind})"
    )]
    Ambiguous {
        /// The composite's apiVersion and kind.
        kind: String,
        /// How many Compositions compose it.
        count: usize,
    },
}

/// Picks the Composition for `xr` among `compositions`. With nothing named or selected and a
/// single Composition for the kind, that one is used.
pub fn select<'a>(
    xr: &Value,
    compositions: &'a [Composition],
    default: Option<&str>,
    enforced: Option<&str>,
) -> Result<&'a Composition, SelectError> {
    let kind = format!(
        "{}/{}",
        xr["apiVersion"].as_str().unwrap_or_default(),
        xr["kind"].as_str().unwrap_or_default()
    );
    let mut candidates: Vec<&Composition> = compositions
        .iter()
        .filter(|c| {
            let t = &c.spec.composite_type_ref;
            format!("{}/{}", t.api_version, t.kind) == kind
        })
        .collect();
    candidates.sort_by(|a, b| a.metadata.name.cmp(&b.metadata.name));
    let by_name = |name: &str, field: &'static str| {
        candidates.iter().copied().find(|c| c.metadata.name.as_deref() == Some(name)).ok_or_else(
            || SelectError::NotFound { name: name.to_owned(), field, kind: kind.clone() },
        )
    };
    if let Some(name) = enforced {
        return by_name(name, "the XRD's enforcedCompositionRef");
    }
    if let Some(name) = xr["spec"]["compositionRef"]["name"].as_str() {
        return by_name(name, "spec.compositionRef.name");
    }
    if let Some(labels) = xr["spec"]["compositionSelector"]["matchLabels"].as_object() {
        let labels: BTreeMap<String, String> = labels
            .iter()
            .map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_owned()))
            .collect();
        // Sorted by name, so the choice is the same on every reconcile.
        return candidates
            .iter()
            .copied()
            .find(|c| {
                let have = c.metadata.labels.as_ref();
                labels.iter().all(|(k, v)| have.and_then(|l| l.get(k)) == Some(v))
            })
            .ok_or(SelectError::NoMatch { kind, labels });
    }
    if let Some(name) = default {
        return by_name(name, "the XRD's defaultCompositionRef");
    }
    match candidates[..] {
        [] => Err(SelectError::None { kind }),
        [only] => Ok(only),
        _ => Err(SelectError::Ambiguous { count: candidates.len(), kind }),
    }
}
