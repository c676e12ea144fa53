//! The self-service portal: one template per claimable XRD, a form generated from its schema,
//! a YAML preview, and Submit, which commits the claim to the configured Git repository (the
//! Git loop applies it) or, without one, creates it directly.
//!
//! The portal only ever creates: a claim whose name is taken, live or in the repository, is
//! refused (409) rather than replaced, and in Git mode a dry-run create checks first that the
//! cluster would take the claim (its namespace exists, its values pass the API server), so a
//! commit never blocks the Kustomization applying the claims folder.
//!
//! Template metadata comes from XRD annotations: [`TITLE`], [`DESCRIPTION`], [`CATEGORY`];
//! [`HIDDEN`] `"true"` keeps an XRD out of the portal.

pub mod backstage;
pub mod git;
pub mod schema;

use std::fmt::Write as _;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::{Extension, Form};
use kube::ResourceExt as _;
use kube::api::{Api, DynamicObject, PostParams};
use kube::core::ApiResource;
use serde_json::Value;

use super::auth::Session;
use super::html::{self, csrf_field, esc, url};
use super::{Error, WebState};
use crate::composition::CompositeResourceDefinition;
use crate::composition::xrd::crds_for;

/// XRD annotation: the template's title (default: the claim kind).
pub const TITLE: &str = "portal.crosstie.io/title";
/// XRD annotation: the template's description.
pub const DESCRIPTION: &str = "portal.crosstie.io/description";
/// XRD annotation: the template's category (default `Infrastructure`).
pub const CATEGORY: &str = "portal.crosstie.io/category";
/// XRD annotation: `"true"` hides the XRD from the portal and the Backstage export.
pub const HIDDEN: &str = "portal.crosstie.io/hidden";

/// A claimable XRD as a portal template.
#[derive(Clone, Debug)]
pub struct Template {
    /// The XRD's name (the template's id).
    pub id: String,
    /// Title.
    pub title: String,
    /// Description.
    pub description: String,
    /// Category.
    pub category: String,
    /// The claim's `apiVersion`.
    pub api_version: String,
    /// The claim's kind.
    pub kind: String,
    /// The claim's plural.
    pub plural: String,
    /// The served version's `openAPIV3Schema`.
    pub schema: Value,
    /// Keys the connection Secret will hold.
    pub connection_secret_keys: Vec<String>,
}

impl Template {
    /// The template of `xrd`, or `None` when it offers no claim, is hidden, or is invalid.
    pub fn of(xrd: &CompositeResourceDefinition) -> Option<Self> {
        let annotation = |key: &str| xrd.annotations().get(key).cloned();
        if annotation(HIDDEN).as_deref() == Some("true") {
            return None;
        }
        let claim = crds_for(xrd).ok()?.claim_kind?;
        let version = xrd.spec.versions.iter().find(|v| v.name == claim.version)?;
        let schema = version.schema.as_ref()?.open_api_v3_schema.clone()?;
        Some(Self {
            id: xrd.name_any(),
            title: annotation(TITLE).unwrap_or_else(|| claim.kind.clone()),
            description: annotation(DESCRIPTION).unwrap_or_default(),
            category: annotation(CATEGORY).unwrap_or_else(|| "Infrastructure".to_owned()),
            api_version: claim.api_version(),
            kind: claim.kind.clone(),
            plural: claim.plural.clone(),
            schema,
            connection_secret_keys: xrd.spec.connection_secret_keys.clone(),
        })
    }

    fn resource(&self) -> ApiResource {
        let (group, version) = self.api_version.rsplit_once('/').unwrap_or(("", &self.api_version));
        ApiResource {
            group: group.to_owned(),
            version: version.to_owned(),
            api_version: self.api_version.clone(),
            kind: self.kind.clone(),
            plural: self.plural.clone(),
        }
    }
}

/// Templates of every claimable XRD in the cache, by category then title.
pub fn templates(state: &WebState) -> Vec<Template> {
    let mut all: Vec<Template> =
        state.caches().xrds.state().iter().filter_map(|x| Template::of(x)).collect();
    all.sort_by(|a, b| (&a.category, &a.title).cmp(&(&b.category, &b.title)));
    all
}

fn find(state: &WebState, id: &str) -> Result<Template, Error> {
    templates(state)
        .into_iter()
        .find(|t| t.id == id)
        .ok_or_else(|| Error::NotFound(format!("portal template {id}")))
}

/// `GET /portal`: the templates, grouped by category.
pub async fn index(
    State(state): State<WebState>,
    Extension(session): Extension<Session>,
) -> Html<String> {
    let mut body = String::from("<h1>Self-service portal</h1>");
    let mut category = None;
    for t in templates(&state) {
        if category.as_ref() != Some(&t.category) {
            if category.is_some() {
                body.push_str("</ul>");
            }
            let _ = write!(body, "<h2>{}</h2><ul class=\"templates\">", esc(&t.category));
            category = Some(t.category.clone());
        }
        let _ = write!(
            body,
            r#"<li><a href="/portal/{}">{}</a> <code>{}</code><p>{}</p></li>"#,
            url(&t.id),
            esc(&t.title),
            esc(&t.kind),
            esc(&t.description)
        );
    }
    if category.is_some() {
        body.push_str("</ul>");
    } else {
        body.push_str("<p>No claimable XRDs yet.</p>");
    }
    Html(html::page("Portal", Some(&session.csrf), state.config().read_only, &body))
}

/// `GET /portal/{xrd}`: the empty form.
pub async fn form(
    State(state): State<WebState>,
    Extension(session): Extension<Session>,
    Path(id): Path<String>,
) -> Result<Html<String>, Error> {
    let template = find(&state, &id)?;
    Ok(Html(form_page(&state, &session, &template, &[], &[], None, None)))
}

/// The form with the user's `form` values, per-field `errors`, the YAML `preview`, and why the
/// last submission was `refused`.
fn form_page(
    state: &WebState,
    session: &Session,
    t: &Template,
    form: &[(String, String)],
    errors: &[schema::Invalid],
    preview: Option<&str>,
    refused: Option<&str>,
) -> String {
    let fields = schema::fields(&t.schema);
    let destination = match &state.config().git {
        Some(git) => format!(
            "Submit commits the claim to <code>{}</code> on branch <code>{}</code> under <code>{}</code>; the Git loop applies it.",
            esc(&html::without_credentials(&git.url)),
            esc(&git.branch),
            esc(&git.path)
        ),
        None => "Submit creates the claim in the cluster.".to_owned(),
    };
    let summary = match refused {
        Some(why) => format!(r#"<p class="error" id="refused">Not submitted: {}</p>"#, esc(why)),
        None if errors.is_empty() => String::new(),
        None => {
            format!(r#"<p class="error" id="errors">{} field(s) need attention.</p>"#, errors.len())
        }
    };
    let keys = t.connection_secret_keys.iter().map(|k| esc(k)).collect::<Vec<_>>().join(", ");
    let submit = if state.config().read_only {
        "<p class=\"mode\">Read-only: submitting is disabled.</p>"
    } else {
        r#"<button name="intent" value="submit">Submit</button>"#
    };
    let body = format!(
        r#"<h1>{title}</h1><p>{description}</p><p>Creates a <code>{kind}</code> ({api_version}); its connection Secret holds {keys}.</p><p>{destination}</p>{summary}
<form method="post" class="portal" data-preview="/portal/{id}">{csrf}{inputs}
<button name="intent" value="preview">Preview YAML</button>{submit}</form>
<h2>YAML</h2><pre id="preview">{preview}</pre>"#,
        title = esc(&t.title),
        description = esc(&t.description),
        kind = esc(&t.kind),
        api_version = esc(&t.api_version),
        id = url(&t.id),
        csrf = csrf_field(&session.csrf),
        inputs = schema::inputs(&fields, form, errors),
        preview = esc(preview.unwrap_or_default()),
    );
    html::page(&t.title, Some(&session.csrf), state.config().read_only, &body)
}

/// `POST /portal/{xrd}`: `intent=preview` re-renders the form with the YAML; `intent=submit`
/// validates, then commits or creates the claim and redirects to its tree. What the user can
/// fix (a taken name, an unknown namespace, values the API server refuses) comes back as a 4xx
/// with the form as filled in.
pub async fn submit(
    State(state): State<WebState>,
    Extension(session): Extension<Session>,
    Path(id): Path<String>,
    Form(form): Form<Vec<(String, String)>>,
) -> Result<Response, Error> {
    let template = find(&state, &id)?;
    let fields = schema::fields(&template.schema);
    let intent = form.iter().find(|(k, _)| k == "intent").map(|(_, v)| v.as_str());
    let claim = match schema::claim(&template.api_version, &template.kind, &fields, &form) {
        Ok(claim) => claim,
        Err(errors) => {
            let page = form_page(&state, &session, &template, &form, &errors, None, None);
            return Ok((StatusCode::UNPROCESSABLE_ENTITY, Html(page)).into_response());
        }
    };
    let yaml = serde_saphyr::to_string(&claim).map_err(|e| Error::BadRequest(e.to_string()))?;
    if intent != Some("submit") {
        let page = form_page(&state, &session, &template, &form, &[], Some(&yaml), None);
        return Ok(Html(page).into_response());
    }
    if state.config().read_only {
        return Err(Error::Forbidden("the dashboard is read-only"));
    }
    let object: DynamicObject =
        serde_json::from_value(claim).map_err(|e| Error::BadRequest(e.to_string()))?;
    let (namespace, name) = (object.namespace().unwrap_or_default(), object.name_any());
    if let Err(error) = create(&state, &session, &template, &object, &yaml).await {
        let status = error.status();
        if !status.is_client_error() {
            return Err(error);
        }
        let why = error.to_string();
        let page = form_page(&state, &session, &template, &form, &[], Some(&yaml), Some(&why));
        return Ok((status, Html(page)).into_response());
    }
    let to = format!("/tree/{}/{}?namespace={}", url(&template.kind), url(&name), url(&namespace));
    Ok(Redirect::to(&to).into_response())
}

/// Creates the claim: without Git, in the cluster; with Git, as a new file in the repository
/// once a dry-run create shows the cluster would take it.
async fn create(
    state: &WebState,
    session: &Session,
    template: &Template,
    object: &DynamicObject,
    yaml: &str,
) -> Result<(), Error> {
    let (namespace, name) = (object.namespace().unwrap_or_default(), object.name_any());
    let taken = || Error::Conflict(format!("{} {namespace}/{name} already exists", template.kind));
    let api: Api<DynamicObject> =
        Api::namespaced_with(state.client(), &namespace, &template.resource());
    let git = state.config().git.clone();
    let params = PostParams {
        dry_run: git.is_some(),
        field_manager: Some(super::actions::FIELD_MANAGER.to_owned()),
    };
    // A create, never an apply: an existing claim is reported, not overwritten or taken over.
    if let Err(error) = api.create(&params, object).await {
        return Err(match error {
            kube::Error::Api(status) if status.code == 409 => taken(),
            other => other.into(),
        });
    }
    let Some(target) = git else {
        return Ok(());
    };
    let (ns, n, yaml) = (namespace.clone(), name.clone(), yaml.to_owned());
    let (author_name, author_email) = (session.name.clone(), session.email.clone());
    let committed = tokio::task::spawn_blocking(move || {
        let author = git::Author { name: &author_name, email: &author_email };
        git::commit_claim(&target, &author, &ns, &n, &yaml)
    })
    .await
    .map_err(|e| Error::Io(std::io::Error::other(format!("commit task failed: {e}"))))?;
    let commit = match committed {
        Ok(commit) => commit,
        Err(git::Error::Exists(path)) => {
            return Err(Error::Conflict(format!("{} ({path} is in the repository)", taken())));
        }
        Err(git::Error::Git(error)) => return Err(error.into()),
    };
    tracing::info!(%commit, %namespace, %name, requester = %session.email, "portal claim committed");
    Ok(())
}
