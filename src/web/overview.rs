//! The overview: counts by status, Git sources, Kustomizations, and claims, composites and
//! managed resources with Synced/Ready, filtered by namespace, kind, status and text.

use std::fmt::Write as _;

use axum::Extension;
use axum::extract::{Query, State};
use axum::response::Html;
use kube::ResourceExt as _;
use serde::Deserialize;
use serde_json::Value;

use super::actions::{PAUSED_ANNOTATION, button};
use super::auth::Session;
use super::html::{self, badge, esc, url};
use super::{Role, WebState};

/// Where an object stands, for counts and the status filter.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Standing {
    /// Ready (and, where it applies, Synced).
    Ready,
    /// Not Ready yet, nothing failed.
    Progressing,
    /// Synced or Ready is False with an error, or a Flux object Stalled.
    Failing,
    /// Paused (`crossplane.io/paused`) or suspended (`spec.suspend`).
    Paused,
}

impl Standing {
    /// The filter value and label.
    pub fn as_str(self) -> &'static str {
        match self {
            Standing::Ready => "ready",
            Standing::Progressing => "progressing",
            Standing::Failing => "failing",
            Standing::Paused => "paused",
        }
    }
    const ALL: [Standing; 4] =
        [Standing::Ready, Standing::Progressing, Standing::Failing, Standing::Paused];
}

/// A condition's `status`, `-` when absent.
pub fn condition_status(object: &Value, type_: &str) -> String {
    condition(object, type_).and_then(|c| c["status"].as_str()).unwrap_or("-").to_owned()
}

/// The condition of `type_`.
pub fn condition<'a>(object: &'a Value, type_: &str) -> Option<&'a Value> {
    object["status"]["conditions"].as_array()?.iter().find(|c| c["type"] == type_)
}

/// Where `object` stands and why (the failing or Ready condition's reason and message).
pub fn standing(object: &Value) -> (Standing, String) {
    let paused = object["metadata"]["annotations"][PAUSED_ANNOTATION] == "true";
    standing_of(paused, object)
}

/// [`standing`] of an object whose `spec` and `status` are in `body` and whose pause
/// annotation was read already (a cached `DynamicObject` need not be converted to JSON).
pub fn standing_of(paused_annotation: bool, body: &Value) -> (Standing, String) {
    let object = body;
    let describe = |c: &Value| {
        let reason = c["reason"].as_str().unwrap_or_default();
        match c["message"].as_str().filter(|m| !m.is_empty()) {
            Some(m) => format!("{reason}: {m}"),
            None => reason.to_owned(),
        }
    };
    let paused = paused_annotation || object["spec"]["suspend"] == true;
    let synced = condition(object, "Synced");
    let ready = condition(object, "Ready");
    let stalled = condition(object, "Stalled").filter(|c| c["status"] == "True");
    let message = [synced.filter(|c| c["status"] == "False"), stalled, ready]
        .into_iter()
        .flatten()
        .next()
        .map(describe)
        .unwrap_or_default();
    let standing = if paused {
        Standing::Paused
    } else if synced.is_some_and(|c| c["status"] == "False") || stalled.is_some() {
        Standing::Failing
    } else if ready.is_some_and(|c| c["status"] == "True") {
        Standing::Ready
    } else if ready.is_some_and(|c| {
        c["status"] == "False"
            && c["reason"].as_str().is_some_and(|r| r.contains("Fail") || r.contains("Error"))
    }) {
        Standing::Failing
    } else {
        Standing::Progressing
    };
    (standing, message)
}

/// Overview filters (`?namespace=&kind=&status=&q=`); empty means any.
#[derive(Debug, Default, Deserialize)]
pub struct Filter {
    /// Exact namespace.
    #[serde(default)]
    pub namespace: String,
    /// Kind (case-insensitive) or role: `claim`, `composite`, `managed`.
    #[serde(default)]
    pub kind: String,
    /// `ready`, `progressing`, `failing` or `paused`.
    #[serde(default)]
    pub status: String,
    /// Text found in the name, namespace or status message.
    #[serde(default)]
    pub q: String,
    /// Page of the objects table, from 0.
    #[serde(default)]
    pub page: usize,
}

/// Rows of the objects table per page: counts cover everything, the table one page of it.
pub const PAGE_ROWS: usize = 500;

/// "Rows a–b of n" with links to the neighbouring pages, keeping the filters.
fn pager(filter: &Filter, matched: usize) -> String {
    if matched <= PAGE_ROWS {
        return String::new();
    }
    let link = |page: usize, label: &str| {
        format!(
            r#" <a href="/?namespace={}&amp;kind={}&amp;status={}&amp;q={}&amp;page={page}">{label}</a>"#,
            url(&filter.namespace),
            url(&filter.kind),
            url(&filter.status),
            url(&filter.q)
        )
    };
    let first = filter.first_row();
    let end = first.saturating_add(PAGE_ROWS);
    let mut out = format!(
        r#"<p class="pager">Rows {}–{} of {matched}."#,
        first.saturating_add(1).min(matched),
        end.min(matched)
    );
    if filter.page > 0 {
        out += &link(filter.page - 1, "Previous");
    }
    if end < matched {
        out += &link(filter.page + 1, "Next");
    }
    out + "</p>"
}

impl Filter {
    /// Index of the page's first row; saturates, as `page` is whatever the query said.
    fn first_row(&self) -> usize {
        self.page.saturating_mul(PAGE_ROWS)
    }

    fn admits(&self, kind: &str, role: &str, ns: &str, name: &str, s: Standing, msg: &str) -> bool {
        let q = self.q.to_lowercase();
        (self.namespace.is_empty() || self.namespace == ns)
            && (self.kind.is_empty()
                || self.kind.eq_ignore_ascii_case(kind)
                || self.kind.eq_ignore_ascii_case(role))
            && (self.status.is_empty() || self.status == s.as_str())
            && (q.is_empty()
                || [name, ns, msg].iter().any(|t| t.to_lowercase().contains(q.as_str())))
    }
}

#[derive(Default)]
struct Counts([usize; 4]);

impl Counts {
    fn add(&mut self, s: Standing) {
        self.0[s as usize] += 1;
    }
}

/// The overview page's HTML (the handler's body, public for the benchmark).
pub fn render(state: &WebState, session: &Session, filter: &Filter) -> String {
    let caches = state.caches();
    let csrf = (!state.config().read_only).then_some(session.csrf.as_str());
    let mut counts = Counts::default();

    let mut git = String::new();
    for repo in caches.git_repositories.state() {
        let value = serde_json::to_value(repo.as_ref()).unwrap_or_default();
        let (ns, name) = (repo.namespace().unwrap_or_default(), repo.name_any());
        let (s, message) = standing(&value);
        if !filter.admits("GitRepository", "source", &ns, &name, s, &message) {
            continue;
        }
        counts.add(s);
        let artifact = repo.status.as_ref().and_then(|st| st.artifact.as_ref());
        let error = if s == Standing::Failing { message.as_str() } else { "" };
        let _ = write!(
            git,
            "<tr class=\"{}\"><td>{}</td><td>{}</td><td>{}</td><td><code>{}</code></td><td>{}</td><td class=\"error\">{}</td><td>{}</td></tr>",
            s.as_str(),
            esc(&ns),
            esc(&name),
            esc(&html::without_credentials(&repo.spec.url)),
            esc(artifact.map(|a| a.revision.as_str()).unwrap_or("-")),
            esc(&artifact.map(|a| a.last_update_time.0.to_string()).unwrap_or_default()),
            esc(error),
            csrf.map(|t| button(t, "reconcile", "GitRepository", Some(&ns), &name, "Reconcile"))
                .unwrap_or_default(),
        );
    }

    let mut kustomizations = String::new();
    for ks in caches.kustomizations.state() {
        let value = serde_json::to_value(ks.as_ref()).unwrap_or_default();
        let (ns, name) = (ks.namespace().unwrap_or_default(), ks.name_any());
        let (s, message) = standing(&value);
        if !filter.admits("Kustomization", "kustomization", &ns, &name, s, &message) {
            continue;
        }
        counts.add(s);
        let drifted = condition(&value, "Drifted").is_some();
        let revision = ks.status.as_ref().and_then(|st| st.last_applied_revision.as_deref());
        let suspended = ks.spec.suspend == Some(true);
        let actions = csrf
            .map(|t| {
                let toggle = if suspended { "resume" } else { "suspend" };
                let label = if suspended { "Resume" } else { "Suspend" };
                button(t, "reconcile", "Kustomization", Some(&ns), &name, "Reconcile")
                    + &button(t, toggle, "Kustomization", Some(&ns), &name, label)
            })
            .unwrap_or_default();
        let _ = write!(
            kustomizations,
            "<tr class=\"{}\"><td>{}</td><td><a href=\"/kustomizations/{}/{}\">{}</a></td><td>{}</td><td>{}</td><td><code>{}</code></td><td>{}</td><td>{}</td><td>{}</td></tr>",
            s.as_str(),
            esc(&ns),
            url(&ns),
            url(&name),
            esc(&name),
            badge("Ready", &condition_status(&value, "Ready")),
            badge("Healthy", &condition_status(&value, "Healthy")),
            esc(revision.unwrap_or("-")),
            if drifted {
                format!(
                    r#"<a class="drift" href="/kustomizations/{}/{}#drift">drifted</a>"#,
                    url(&ns),
                    url(&name)
                )
            } else {
                "no".to_owned()
            },
            esc(&message),
            actions,
        );
    }

    let mut objects = String::new();
    let (mut matched, first_row) = (0, filter.first_row());
    let mut kinds = caches.kinds();
    kinds.sort_by(|a, b| (a.role, &a.resource.kind).cmp(&(b.role, &b.resource.kind)));
    for kind in &kinds {
        let mut items = kind.store.state();
        items.sort_by(|a, b| {
            (&a.metadata.namespace, &a.metadata.name)
                .cmp(&(&b.metadata.namespace, &b.metadata.name))
        });
        for object in items {
            let ns = object.metadata.namespace.clone().unwrap_or_default();
            let name = object.name_any();
            let paused = object
                .metadata
                .annotations
                .as_ref()
                .and_then(|a| a.get(PAUSED_ANNOTATION))
                .is_some_and(|v| v == "true");
            let value = &object.data;
            let (s, message) = standing_of(paused, value);
            if !filter.admits(&kind.resource.kind, kind.role.as_str(), &ns, &name, s, &message) {
                continue;
            }
            counts.add(s);
            matched += 1;
            if !(first_row..first_row.saturating_add(PAGE_ROWS)).contains(&(matched - 1)) {
                continue;
            }
            let ns_query =
                if ns.is_empty() { String::new() } else { format!("?namespace={}", url(&ns)) };
            let actions = csrf
                .map(|t| {
                    let mut out =
                        button(t, "reconcile", &kind.resource.kind, Some(&ns), &name, "Reconcile");
                    if kind.role == Role::Managed {
                        let (action, label) = if s == Standing::Paused {
                            ("unpause", "Unpause")
                        } else {
                            ("pause", "Pause")
                        };
                        out += &button(t, action, &kind.resource.kind, Some(&ns), &name, label);
                    }
                    out
                })
                .unwrap_or_default();
            let _ = write!(
                objects,
                "<tr class=\"{}\"><td>{}</td><td>{}</td><td>{}</td><td><a href=\"/tree/{}/{}{}\">{}</a></td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                s.as_str(),
                kind.role.as_str(),
                esc(&kind.resource.kind),
                esc(&ns),
                url(&kind.resource.kind),
                url(&name),
                ns_query,
                esc(&name),
                badge("Synced", &condition_status(value, "Synced")),
                badge("Ready", &condition_status(value, "Ready")),
                esc(&message),
                actions,
            );
        }
    }
    let pager = pager(filter, matched);

    let mut body = String::from("<h1>Overview</h1><ul class=\"counts\">");
    for s in Standing::ALL {
        let _ = write!(
            body,
            r#"<li class="{0}"><a href="/?status={0}">{0}</a> <strong data-count="{0}">{1}</strong></li>"#,
            s.as_str(),
            counts.0[s as usize]
        );
    }
    let _ = write!(
        body,
        r#"</ul><form class="filter" method="get" action="/">
<input name="namespace" placeholder="namespace" value="{}"><input name="kind" placeholder="kind or claim/composite/managed" value="{}">
<select name="status"><option value="">any status</option>{}</select><input name="q" placeholder="text" value="{}"><button>Filter</button></form>"#,
        esc(&filter.namespace),
        esc(&filter.kind),
        Standing::ALL
            .iter()
            .map(|s| {
                let selected = if filter.status == s.as_str() { " selected" } else { "" };
                format!(r#"<option{selected}>{}</option>"#, s.as_str())
            })
            .collect::<String>(),
        esc(&filter.q),
    );
    let _ = write!(
        body,
        "<h2>Git repositories</h2><table id=\"git\"><tr><th>Namespace</th><th>Name</th><th>URL</th><th>Revision</th><th>Last fetch</th><th>Error</th><th></th></tr>{git}</table>\
<h2>Kustomizations</h2><table id=\"kustomizations\"><tr><th>Namespace</th><th>Name</th><th>Ready</th><th>Healthy</th><th>Last applied</th><th>Drift</th><th>Status</th><th></th></tr>{kustomizations}</table>\
<h2>Claims, composites and managed resources</h2><table id=\"objects\"><tr><th>Role</th><th>Kind</th><th>Namespace</th><th>Name</th><th>Synced</th><th>Ready</th><th>Status</th><th></th></tr>{objects}</table>{pager}"
    );
    html::page("Overview", Some(&session.csrf), state.config().read_only, &body)
}

/// A dynamic object as JSON (`metadata` + `data`), as the pure helpers expect.
pub fn object_value(object: &kube::api::DynamicObject) -> Value {
    serde_json::to_value(object).unwrap_or_default()
}

/// `GET /?namespace=&kind=&status=&q=`.
pub async fn index(
    State(state): State<WebState>,
    Extension(session): Extension<Session>,
    Query(filter): Query<Filter>,
) -> Html<String> {
    Html(render(&state, &session, &filter))
}
