//! `.gitignore` rules for artifacts: Flux's default exclusions, `.sourceignore` files (scoped to
//! their directory) and `spec.ignore`, in that order; the last matching rule wins.

use regex::Regex;

/// Flux's default exclusions (fluxcd/pkg `sourceignore`): VCS files, images and archives, CI
/// configuration and Flux/SOPS tooling files.
pub const DEFAULT_EXCLUSIONS: &str = "\
.git/
.gitignore
.gitmodules
.gitattributes
*.jpg
*.jpeg
*.gif
*.png
*.wmv
*.flv
*.tar.gz
*.zip
.github/
.circleci/
.travis.yml
.gitlab-ci.yml
appveyor.yml
.drone.yml
cloudbuild.yaml
codeship-services.yml
codeship-steps.yml
**/.goreleaser.yml
**/.sops.yaml
**/.flux.yaml
";

/// The file name whose rules apply to its directory, like `.gitignore`.
pub const SOURCEIGNORE: &str = ".sourceignore";

#[derive(Debug)]
struct Rule {
    /// Directory the rule is scoped to (`""` for the root), with a trailing `/` otherwise.
    base: String,
    regex: Regex,
    negated: bool,
    dir_only: bool,
}

/// An ordered set of gitignore rules.
#[derive(Debug, Default)]
pub struct IgnoreRules {
    rules: Vec<Rule>,
}

impl IgnoreRules {
    /// Flux's default exclusions; add `.sourceignore` files, then `spec.ignore`, with
    /// [`IgnoreRules::add`].
    pub fn defaults() -> Self {
        let mut rules = IgnoreRules::default();
        rules.add("", DEFAULT_EXCLUSIONS);
        rules
    }

    /// Add the rules in `text` (gitignore syntax), scoped to directory `base` (relative, `""`
    /// for the root). Malformed patterns are skipped, as git does.
    pub fn add(&mut self, base: &str, text: &str) {
        let base = if base.is_empty() {
            String::new()
        } else {
            format!("{}/", base.trim_end_matches('/'))
        };
        for line in text.lines() {
            let line = line.trim_end();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let (negated, pattern) = match line.strip_prefix('!') {
                Some(p) => (true, p),
                None => (false, line.strip_prefix('\\').unwrap_or(line)),
            };
            let (dir_only, pattern) = match pattern.strip_suffix('/') {
                Some(p) => (true, p),
                None => (false, pattern),
            };
            if let Ok(regex) = Regex::new(&glob_to_regex(pattern)) {
                self.rules.push(Rule { base: base.clone(), regex, negated, dir_only });
            }
        }
    }

    /// Whether the slash-separated relative `path` is excluded.
    pub fn is_ignored(&self, path: &str, is_dir: bool) -> bool {
        let mut ignored = false;
        for rule in &self.rules {
            if rule.dir_only && !is_dir {
                continue;
            }
            let Some(relative) = path.strip_prefix(rule.base.as_str()) else { continue };
            if rule.regex.is_match(relative) {
                ignored = !rule.negated;
            }
        }
        ignored
    }
}

/// Translate one gitignore pattern to an anchored regex over a relative path. A pattern with a
/// slash (other than a trailing one) is anchored to its base; otherwise it matches a name at
/// any depth.
fn glob_to_regex(pattern: &str) -> String {
    let anchored = pattern.contains('/');
    let pattern = pattern.strip_prefix('/').unwrap_or(pattern);
    let mut out = String::from(if anchored { "^" } else { "^(?:.*/)?" });
    let chars: Vec<char> = pattern.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        match chars[i] {
            '*' if chars.get(i + 1) == Some(&'*') => {
                let at_start = i == 0 || chars[i - 1] == '/';
                i += 2;
                if at_start && chars.get(i) == Some(&'/') {
                    out.push_str("(?:.*/)?");
                    i += 1;
                } else {
                    out.push_str(".*");
                }
                continue;
            }
            '*' => out.push_str("[^/]*"),
            '?' => out.push_str("[^/]"),
            '[' => {
                let close = chars[i + 1..].iter().position(|&c| c == ']').map(|p| p + i + 1);
                match close {
                    Some(end) => {
                        let mut class: String = chars[i + 1..end].iter().collect();
                        if let Some(rest) = class.strip_prefix('!') {
                            class = format!("^{rest}");
                        }
                        out.push('[');
                        out.push_str(&class.replace('\\', "\\\\"));
                        out.push(']');
                        i = end;
                    }
                    None => out.push_str("\\["),
                }
            }
            c => out.push_str(&regex::escape(&c.to_string())),
        }
        i += 1;
    }
    out.push('$');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_exclusions_drop_vcs_ci_and_binary_files() {
        let rules = IgnoreRules::defaults();
        assert!(rules.is_ignored(".github", true));
        assert!(rules.is_ignored(".gitignore", false));
        assert!(rules.is_ignored("docs/logo.png", false));
        assert!(rules.is_ignored("deep/dir/.sops.yaml", false));
        assert!(!rules.is_ignored("apps/deploy.yaml", false));
        assert!(!rules.is_ignored(".github", false), "directory-only rule");
    }

    #[test]
    fn later_rules_and_negations_win() {
        let mut rules = IgnoreRules::defaults();
        rules.add("", "/*\n!/deploy\n*.md\n!keep.png\n");
        assert!(rules.is_ignored("README.yaml", false));
        assert!(!rules.is_ignored("deploy", true));
        assert!(rules.is_ignored("deploy/notes.md", false));
        assert!(!rules.is_ignored("deploy/keep.png", false));
        assert!(rules.is_ignored("deploy/other.png", false));
    }

    #[test]
    fn sourceignore_rules_are_scoped_to_their_directory() {
        let mut rules = IgnoreRules::default();
        rules.add("apps", "secret-*.yaml\n/local/\n");
        assert!(rules.is_ignored("apps/secret-db.yaml", false));
        assert!(rules.is_ignored("apps/x/secret-db.yaml", false));
        assert!(!rules.is_ignored("secret-db.yaml", false));
        assert!(rules.is_ignored("apps/local", true));
        assert!(!rules.is_ignored("apps/x/local", true));
    }

    #[test]
    fn double_star_globs_match_any_depth() {
        let mut rules = IgnoreRules::default();
        rules.add("", "a/**/z.yaml\n**/tmp\nlogs/**\n[ab]?.txt\n");
        assert!(rules.is_ignored("a/z.yaml", false));
        assert!(rules.is_ignored("a/b/c/z.yaml", false));
        assert!(rules.is_ignored("x/y/tmp", true));
        assert!(rules.is_ignored("logs/1/2", false));
        assert!(rules.is_ignored("sub/b1.txt", false));
        assert!(!rules.is_ignored("sub/c1.txt", false));
    }
}
