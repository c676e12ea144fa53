//! Talking to the remote with libgit2: one `ls-remote` (connect + list) and incremental fetches
//! into the persistent cache, bounded by `spec.timeout`.

use std::cell::Cell;
use std::time::Instant;

use git2::{
    AutotagOption, CertificateCheckStatus, Cred, CredentialType, Direction, ErrorClass, ErrorCode,
    FetchOptions, ProxyOptions, RemoteCallbacks, Repository,
};

use super::refs::RemoteRef;
use super::tls::TrustedCa;
use super::{Auth, Error};

/// Where and how to reach the remote.
#[derive(Clone, Copy, Debug)]
pub struct Endpoint<'a> {
    /// `spec.url`.
    pub url: &'a str,
    /// Credentials.
    pub auth: &'a Auth,
    /// Extra trusted CAs (`ca.crt`).
    pub ca: Option<&'a TrustedCa>,
    /// When to give up (`spec.timeout`).
    pub deadline: Instant,
    /// The proxy to reach `url` through (the timeout relay for `https://`).
    pub proxy: Option<&'a str>,
}

impl<'a> Endpoint<'a> {
    fn proxy_options(self) -> Option<ProxyOptions<'a>> {
        let proxy = self.proxy?;
        let mut options = ProxyOptions::new();
        options.url(proxy);
        Some(options)
    }
}

/// Callbacks that supply credentials once (a second request means they were rejected), accept
/// servers certified by `ca.crt`, and abort the transfer once the deadline has passed.
fn callbacks<'a>(endpoint: Endpoint<'a>, attempts: &'a Cell<u32>) -> RemoteCallbacks<'a> {
    let Endpoint { auth, ca, deadline, .. } = endpoint;
    let mut cbs = RemoteCallbacks::new();
    if let Some(ca) = ca {
        cbs.certificate_check(move |cert, host| {
            Ok(match cert.as_x509() {
                Some(x509) if ca.verifies(x509.data(), host) => {
                    CertificateCheckStatus::CertificateOk
                }
                _ => CertificateCheckStatus::CertificatePassthrough,
            })
        });
    }
    cbs.credentials(move |_url, _username, allowed| {
        attempts.set(attempts.get() + 1);
        let rejected = || {
            git2::Error::new(
                ErrorCode::Auth,
                ErrorClass::Http,
                "credentials rejected by the remote",
            )
        };
        match auth {
            _ if attempts.get() > 1 => Err(rejected()),
            Auth::Basic { username, password }
                if allowed.contains(CredentialType::USER_PASS_PLAINTEXT) =>
            {
                Cred::userpass_plaintext(username, password)
            }
            Auth::None | Auth::Bearer(_) => Err(git2::Error::new(
                ErrorCode::Auth,
                ErrorClass::Http,
                "the remote requires credentials",
            )),
            _ => Err(rejected()),
        }
    });
    cbs.transfer_progress(move |_| Instant::now() < deadline);
    cbs.sideband_progress(move |_| Instant::now() < deadline);
    cbs
}

fn classify(e: git2::Error, deadline: Instant) -> Error {
    if e.code() == ErrorCode::Auth || e.message().contains("status code: 401") {
        Error::Auth(e.message().to_owned())
    } else if Instant::now() >= deadline {
        Error::Timeout
    } else {
        Error::Git(e.message().to_owned())
    }
}

fn check_transport(url: &str) -> Result<(), Error> {
    if url.starts_with("ssh://") {
        return Err(Error::InvalidSpec(format!(
            "spec.url: {url:?}: the ssh transport is not built into this binary; use https"
        )));
    }
    Ok(())
}

/// `git ls-remote`: one connection, one ref advertisement, no objects. Annotated tags are
/// reported with their peeled commit.
///
/// libgit2 sends custom headers only on fetches, so with a bearer token the listing is a fetch
/// of all branches and tags (incremental, like every fetch) followed by a local listing.
pub fn list(repo: &Repository, endpoint: Endpoint<'_>) -> Result<Vec<RemoteRef>, Error> {
    let Endpoint { url, auth, deadline, .. } = endpoint;
    check_transport(url)?;
    if let Auth::Bearer(_) = auth {
        let all = ["+refs/heads/*:refs/heads/*".to_owned(), "+refs/tags/*:refs/tags/*".to_owned()];
        fetch(repo, endpoint, &all)?;
        return list_local(repo).map_err(|e| classify(e, deadline));
    }
    let attempts = Cell::new(0);
    let mut remote = repo.remote_anonymous(url).map_err(|e| classify(e, deadline))?;
    let connection = remote
        .connect_auth(
            Direction::Fetch,
            Some(callbacks(endpoint, &attempts)),
            endpoint.proxy_options(),
        )
        .map_err(|e| classify(e, deadline))?;
    let heads = connection.list().map_err(|e| classify(e, deadline))?;
    let mut refs: Vec<RemoteRef> = Vec::with_capacity(heads.len());
    for head in heads {
        let commit = head.oid().to_string();
        match head.name().strip_suffix("^{}") {
            Some(tag) => match refs.iter_mut().find(|r| r.name == tag) {
                Some(r) => r.commit = commit,
                None => refs.push(RemoteRef { name: tag.to_owned(), commit }),
            },
            None => refs.push(RemoteRef { name: head.name().to_owned(), commit }),
        }
    }
    Ok(refs)
}

/// Fetch `refspecs` into the cache. libgit2 negotiates with what the cache already has, so only
/// new objects travel; `+` refspecs follow force-pushes.
pub fn fetch(repo: &Repository, endpoint: Endpoint<'_>, refspecs: &[String]) -> Result<(), Error> {
    let Endpoint { url, auth, deadline, .. } = endpoint;
    check_transport(url)?;
    let attempts = Cell::new(0);
    let bearer;
    let mut options = FetchOptions::new();
    options.remote_callbacks(callbacks(endpoint, &attempts)).download_tags(AutotagOption::None);
    if let Some(proxy) = endpoint.proxy_options() {
        options.proxy_options(proxy);
    }
    if let Auth::Bearer(token) = auth {
        bearer = format!("Authorization: Bearer {token}");
        options.custom_headers(&[bearer.as_str()]);
    }
    let mut remote = repo.remote_anonymous(url).map_err(|e| classify(e, deadline))?;
    remote.fetch(refspecs, Some(&mut options), None).map_err(|e| classify(e, deadline))
}

fn list_local(repo: &Repository) -> Result<Vec<RemoteRef>, git2::Error> {
    let mut refs = Vec::new();
    for reference in repo.references()? {
        let reference = reference?;
        if let (Ok(name), Ok(commit)) = (reference.name(), reference.peel_to_commit()) {
            refs.push(RemoteRef { name: name.to_owned(), commit: commit.id().to_string() });
        }
    }
    Ok(refs)
}
