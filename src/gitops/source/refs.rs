//! Choosing what to fetch: the ref precedence, semver ranges over tags and Flux's revision
//! strings. Pure: works on an `ls-remote` listing.

use crate::gitops::api::GitRepositoryRef;

use super::Error;

/// One advertised ref from the remote: its full name and the commit it points to (annotated
/// tags are peeled).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RemoteRef {
    /// Full ref name, e.g. `refs/heads/main`.
    pub name: String,
    /// Commit SHA-1 as 40 hex digits.
    pub commit: String,
}

/// What the spec's `ref` asks for, after applying Flux's precedence
/// (`commit` > `name` > `semver` > `tag` > `branch`, default branch `master`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Wanted {
    /// A pinned commit, optionally required to be on a branch.
    Commit {
        /// Lower-case 40-hex SHA-1.
        sha: String,
        /// Branch the commit must be reachable from.
        branch: Option<String>,
    },
    /// A full ref name (`refs/heads/main`, `refs/tags/v1`, `refs/pull/1/head`).
    Name(String),
    /// The highest tag matching a semver range.
    Semver(String),
}

impl Wanted {
    /// Apply Flux's precedence to `spec.ref`; errors name the field.
    pub fn from_spec(reference: Option<&GitRepositoryRef>) -> Result<Self, Error> {
        let r = reference.cloned().unwrap_or_default();
        if let Some(sha) = r.commit {
            let sha = sha.to_ascii_lowercase();
            if sha.len() != 40 || !sha.bytes().all(|b| b.is_ascii_hexdigit()) {
                return Err(Error::InvalidSpec(format!(
                    "spec.ref.commit: {sha:?} is not a full 40-character SHA-1"
                )));
            }
            return Ok(Wanted::Commit { sha, branch: r.branch });
        }
        if let Some(name) = r.name {
            if !name.starts_with("refs/") {
                return Err(Error::InvalidSpec(format!(
                    "spec.ref.name: {name:?} must be a full reference name starting with refs/"
                )));
            }
            return Ok(Wanted::Name(name));
        }
        if let Some(range) = r.semver {
            parse_range(&range)?;
            return Ok(Wanted::Semver(range));
        }
        if let Some(tag) = r.tag {
            return Ok(Wanted::Name(format!("refs/tags/{tag}")));
        }
        Ok(Wanted::Name(format!("refs/heads/{}", r.branch.as_deref().unwrap_or("master"))))
    }

    /// The ref names to fetch into the cache: force-updated so force-pushes are followed.
    pub fn fetch_refspecs(&self, selected: &Selected) -> Vec<String> {
        match (self, &selected.ref_name) {
            (Wanted::Commit { branch: None, .. }, _) => {
                vec!["+refs/heads/*:refs/heads/*".into(), "+refs/tags/*:refs/tags/*".into()]
            }
            (_, Some(name)) => vec![format!("+{name}:{name}")],
            (_, None) => Vec::new(),
        }
    }
}

/// The ref and commit a reconcile settles on.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Selected {
    /// The full ref name, absent for a bare commit.
    pub ref_name: Option<String>,
    /// Commit SHA-1 (40 hex).
    pub commit: String,
}

impl Selected {
    /// Flux's revision string: `<ref>@sha1:<sha>` where `<ref>` is the full ref minus its first
    /// two segments (`refs/heads/main` → `main`), or `sha1:<sha>` for a bare commit.
    pub fn revision(&self) -> String {
        match &self.ref_name {
            Some(name) => {
                let short = name.splitn(3, '/').nth(2).unwrap_or(name);
                format!("{short}@sha1:{}", self.commit)
            }
            None => format!("sha1:{}", self.commit),
        }
    }
}

/// Pick the ref and commit from a remote listing. A pinned commit without a branch needs no
/// listing: call with `heads = None` to resolve it offline.
pub fn select(wanted: &Wanted, heads: Option<&[RemoteRef]>) -> Result<Selected, Error> {
    let find = |name: &str| heads.and_then(|h| h.iter().find(|r| r.name == name));
    match wanted {
        Wanted::Commit { sha, branch: None } => {
            Ok(Selected { ref_name: None, commit: sha.clone() })
        }
        Wanted::Commit { sha, branch: Some(branch) } => {
            let name = format!("refs/heads/{branch}");
            find(&name).ok_or_else(|| Error::RefNotFound(name.clone()))?;
            Ok(Selected { ref_name: Some(name), commit: sha.clone() })
        }
        Wanted::Name(name) => {
            let head = find(name).ok_or_else(|| Error::RefNotFound(name.clone()))?;
            Ok(Selected { ref_name: Some(name.clone()), commit: head.commit.clone() })
        }
        Wanted::Semver(range) => {
            let req = parse_range(range)?;
            let best = heads
                .unwrap_or_default()
                .iter()
                .filter_map(|r| {
                    let tag = r.name.strip_prefix("refs/tags/")?;
                    let version = parse_tag_version(tag)?;
                    req.iter().any(|q| q.matches(&version)).then_some((version, r))
                })
                .max_by(|a, b| a.0.cmp(&b.0))
                .ok_or_else(|| {
                    Error::RefNotFound(format!("no tag matches semver range {range:?}"))
                })?;
            Ok(Selected { ref_name: Some(best.1.name.clone()), commit: best.1.commit.clone() })
        }
    }
}

/// Parse a Masterminds-style range (`>=1.0.0 <2.0.0`, `~1.2`, `1.x`, `^1 || ^2`) into `semver`
/// requirements: `||` separates alternatives, spaces or commas separate comparators, and a
/// bare version means exactly that version (Masterminds) rather than `^` (Cargo).
pub fn parse_range(range: &str) -> Result<Vec<semver::VersionReq>, Error> {
    let invalid =
        |e: String| Error::InvalidSpec(format!("spec.ref.semver: invalid range {range:?}: {e}"));
    range
        .split("||")
        .map(|alternative| {
            let mut comparators: Vec<String> = Vec::new();
            let mut pending_op = String::new();
            for token in alternative.split([' ', ',']).filter(|t| !t.is_empty()) {
                if token.chars().all(|c| "<>=~^!".contains(c)) {
                    pending_op.push_str(token);
                    continue;
                }
                let token = format!("{pending_op}{token}");
                pending_op.clear();
                let starts_with_op = token.starts_with(['<', '>', '=', '~', '^']);
                let wildcard = token.contains(['x', 'X', '*']);
                let token = token.replace(['v', 'V'], "");
                comparators.push(if starts_with_op || wildcard {
                    token
                } else {
                    format!("={token}")
                });
            }
            if comparators.is_empty() {
                return Err(invalid("empty range".into()));
            }
            semver::VersionReq::parse(&comparators.join(", ")).map_err(|e| invalid(e.to_string()))
        })
        .collect()
}

/// A tag as a semver version: a leading `v` and missing minor/patch are tolerated, like
/// Masterminds' non-strict parsing.
fn parse_tag_version(tag: &str) -> Option<semver::Version> {
    let bare = tag.strip_prefix(['v', 'V']).unwrap_or(tag);
    if let Ok(v) = semver::Version::parse(bare) {
        return Some(v);
    }
    let (core, rest) = bare.find(['-', '+']).map_or((bare, ""), |i| bare.split_at(i));
    let parts: Vec<&str> = core.split('.').collect();
    if parts.is_empty() || parts.len() > 3 {
        return None;
    }
    let padded = [parts.as_slice(), &["0", "0"][..3 - parts.len()]].concat().join(".");
    semver::Version::parse(&format!("{padded}{rest}")).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn heads(list: &[(&str, &str)]) -> Vec<RemoteRef> {
        list.iter().map(|(n, c)| RemoteRef { name: (*n).into(), commit: (*c).into() }).collect()
    }

    #[test]
    fn precedence_is_commit_then_name_then_semver_then_tag_then_branch() {
        let all = GitRepositoryRef {
            branch: Some("main".into()),
            tag: Some("v1".into()),
            semver: Some(">=1".into()),
            name: Some("refs/pull/1/head".into()),
            commit: Some("a".repeat(40)),
        };
        assert!(matches!(
            Wanted::from_spec(Some(&all)).unwrap(),
            Wanted::Commit { branch: Some(_), .. }
        ));
        let r = GitRepositoryRef { commit: None, ..all.clone() };
        assert_eq!(Wanted::from_spec(Some(&r)).unwrap(), Wanted::Name("refs/pull/1/head".into()));
        let r = GitRepositoryRef { name: None, ..r };
        assert_eq!(Wanted::from_spec(Some(&r)).unwrap(), Wanted::Semver(">=1".into()));
        let r = GitRepositoryRef { semver: None, ..r };
        assert_eq!(Wanted::from_spec(Some(&r)).unwrap(), Wanted::Name("refs/tags/v1".into()));
        let r = GitRepositoryRef { tag: None, ..r };
        assert_eq!(Wanted::from_spec(Some(&r)).unwrap(), Wanted::Name("refs/heads/main".into()));
        assert_eq!(Wanted::from_spec(None).unwrap(), Wanted::Name("refs/heads/master".into()));
    }

    #[test]
    fn revisions_are_spelled_like_flux() {
        let c = "1".repeat(40);
        let sel = |n: Option<&str>| Selected { ref_name: n.map(Into::into), commit: c.clone() };
        assert_eq!(sel(Some("refs/heads/main")).revision(), format!("main@sha1:{c}"));
        assert_eq!(sel(Some("refs/tags/v1.0.1")).revision(), format!("v1.0.1@sha1:{c}"));
        assert_eq!(sel(Some("refs/pull/420/head")).revision(), format!("420/head@sha1:{c}"));
        assert_eq!(sel(Some("refs/heads/feat/x")).revision(), format!("feat/x@sha1:{c}"));
        assert_eq!(sel(None).revision(), format!("sha1:{c}"));
    }

    #[test]
    fn semver_picks_the_highest_matching_tag() {
        let list = heads(&[
            ("refs/heads/main", "m"),
            ("refs/tags/v1.0.0", "a"),
            ("refs/tags/v1.2.0", "b"),
            ("refs/tags/v2.0.0", "c"),
            ("refs/tags/v1.3.0-rc.1", "d"),
            ("refs/tags/not-a-version", "e"),
        ]);
        let pick =
            |range: &str| select(&Wanted::Semver(range.into()), Some(&list)).map(|s| s.commit);
        assert_eq!(pick(">=1.0.0 <2.0.0").unwrap(), "b");
        assert_eq!(pick("~1.0").unwrap(), "a");
        assert_eq!(pick("1.x").unwrap(), "b");
        assert_eq!(pick("1.0.0").unwrap(), "a");
        assert_eq!(pick("^1 || ^2").unwrap(), "c");
        assert!(matches!(pick(">=3"), Err(Error::RefNotFound(_))));
        assert!(
            matches!(parse_range(">= foo"), Err(Error::InvalidSpec(m)) if m.contains("spec.ref.semver"))
        );
    }

    #[test]
    fn missing_refs_are_reported_by_name() {
        let err = select(&Wanted::Name("refs/heads/nope".into()), Some(&heads(&[]))).unwrap_err();
        assert!(err.to_string().contains("refs/heads/nope"));
        let bad = GitRepositoryRef { commit: Some("abc".into()), ..Default::default() };
        assert!(Wanted::from_spec(Some(&bad)).unwrap_err().to_string().contains("spec.ref.commit"));
    }
}
