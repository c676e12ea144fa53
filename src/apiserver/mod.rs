//! The embedded Kubernetes-API-compatible server (`crosstie serve`): a SQLite-backed store served
//! over HTTPS with the Kubernetes REST API, so kubectl and kube-rs clients work with no cluster.
//!
//! [`start`] binds the listener, writes a kubeconfig (CA + bearer token) and serves until
//! [`RunningServer::shutdown`]; `crosstie up` uses [`RunningServer::config`] for its controllers.

pub mod auth;
pub mod convert;
pub mod discovery;
pub mod gc;
pub mod handlers;
pub mod lean;
pub mod meta;
pub mod openapi;
pub mod patch;
pub mod protobuf;
pub mod registry;
pub mod scale;
pub mod schema;
pub mod selector;
pub mod ssa;
pub mod status;
pub mod store;
pub mod table;
pub mod tls;
pub mod typed;
pub mod verbs;
pub mod watch;
pub mod writes;

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use base64::Engine;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::service::TowerToHyperService;
use serde_json::json;
use tokio::net::TcpListener;
use tokio::sync::watch as signal;
use tokio::task::JoinSet;

use self::handlers::{AppState, router};
use self::registry::NAMESPACE_STORAGE;
use self::store::{ObjectKey, Store, StoreError};
use self::verbs::{Api, Scope, WriteOptions};

/// Why the server could not start.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The store cannot be opened.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The TLS identity cannot be loaded or created.
    #[error(transparent)]
    Tls(#[from] tls::TlsError),
    /// Binding the listener or writing the kubeconfig failed.
    #[error("i/o failure: {0}")]
    Io(#[from] std::io::Error),
    /// The kubeconfig could not be turned into a client configuration.
    #[error("cannot build a client configuration: {0}")]
    Kubeconfig(String),
    /// Creating the initial namespaces failed.
    #[error("cannot create initial namespaces: {0}")]
    Bootstrap(#[from] status::ApiError),
}

/// `crosstie serve` options.
#[derive(Debug, Clone)]
pub struct ServeOptions {
    /// Where the database, CA, key and token live.
    pub data_dir: PathBuf,
    /// Listen address; port 0 picks a free port.
    pub listen: SocketAddr,
    /// Where to write a kubeconfig for clients (written once the listener is bound).
    pub kubeconfig_out: Option<PathBuf>,
}

/// A server that is accepting connections.
#[derive(Debug)]
pub struct RunningServer {
    /// The bound address.
    pub addr: SocketAddr,
    /// The kubeconfig (YAML) clients use.
    pub kubeconfig: String,
    /// A client configuration for this server over its socket (TLS and the bearer token).
    pub config: kube::Config,
    /// The routes, for clients in this process.
    app: axum::Router,
    token: Arc<str>,
    shutdown: signal::Sender<bool>,
    tasks: JoinSet<()>,
}

impl RunningServer {
    /// A kube client for controllers in this process: requests go straight to the routes, with
    /// no socket, TLS or HTTP framing in between (under load those cost about as much CPU as
    /// serving the requests). Authenticated like any client, with the server's token. Objects
    /// come without managedFields, which no controller reads ([`lean`]).
    pub fn client(&self) -> Result<kube::Client, Error> {
        self.in_process_client(true)
    }

    /// [`RunningServer::client`] for a controller that reads field ownership (the Git loop
    /// tells a field removed from Git by the managedFields it owns): objects come whole.
    pub fn client_with_managed_fields(&self) -> Result<kube::Client, Error> {
        self.in_process_client(false)
    }

    fn in_process_client(&self, lean: bool) -> Result<kube::Client, Error> {
        let authorization = http::HeaderValue::try_from(format!("Bearer {}", self.token))
            .map_err(|e| Error::Kubeconfig(e.to_string()))?;
        let service = tower::ServiceBuilder::new()
            .map_request(move |mut request: http::Request<kube::client::Body>| {
                request.headers_mut().insert(http::header::AUTHORIZATION, authorization.clone());
                if lean {
                    request.extensions_mut().insert(lean::InProcess);
                }
                request.map(axum::body::Body::new)
            })
            .service(self.app.clone());
        Ok(kube::Client::new(service, "default"))
    }

    /// A kube client for this server over its socket, as an external client connects.
    pub fn socket_client(&self) -> Result<kube::Client, Error> {
        kube::Client::try_from(self.config.clone()).map_err(|e| Error::Kubeconfig(e.to_string()))
    }

    /// Serves until the process ends (or a task fails).
    pub async fn wait(mut self) {
        while self.tasks.join_next().await.is_some() {}
    }

    /// Writes the kubeconfig for this server to `path` (atomically, owner-only), for callers that
    /// announce the server only once it is ready for users (`crosstie up`).
    pub fn write_kubeconfig(&self, path: &Path) -> std::io::Result<()> {
        write_atomically(path, &self.kubeconfig)
    }

    /// Stops accepting connections, drops open ones and waits for the tasks to end.
    pub async fn shutdown(mut self) {
        let _ = self.shutdown.send(true);
        while self.tasks.join_next().await.is_some() {}
    }
}

/// Writes `bytes` to `path` readable by the owner only.
fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)?;
    file.write_all(bytes)
}

/// Writes via a temporary file and a rename, so readers never see a partial kubeconfig.
fn write_atomically(path: &Path, text: &str) -> std::io::Result<()> {
    let tmp = path.with_extension("tmp");
    write_private(&tmp, text.as_bytes())?;
    std::fs::rename(&tmp, path)
}

fn kubeconfig(server: &str, ca_pem: &str, token: &str) -> String {
    let ca = base64::engine::general_purpose::STANDARD.encode(ca_pem);
    format!(
        "apiVersion: v1\nkind: Config\nclusters:\n- name: crosstie\n  cluster:\n    server: {server}\n    \
         certificate-authority-data: {ca}\nusers:\n- name: crosstie\n  user:\n    token: {token}\ncontexts:\n\
         - name: crosstie\n  context:\n    cluster: crosstie\n    user: crosstie\n    namespace: default\n\
         current-context: crosstie\n"
    )
}

/// Creates the namespaces every cluster has.
fn bootstrap(api: &Api) -> Result<(), status::ApiError> {
    let rt = api.registry.by_storage(NAMESPACE_STORAGE).expect("namespaces are built in");
    let scope = Scope { version: "v1".into(), namespace: Some(String::new()), rt };
    for name in ["default", "kube-system", "kube-public", "kube-node-lease"] {
        let key = ObjectKey {
            resource: NAMESPACE_STORAGE.into(),
            namespace: String::new(),
            name: name.into(),
        };
        if api.store.get(&key)?.is_none() {
            let opts = WriteOptions { manager: "crosstie".into(), ..Default::default() };
            api.create(&scope, json!({"metadata": {"name": name}}), &opts)?;
        }
    }
    Ok(())
}

/// Opens the store, binds the listener, writes the kubeconfig and starts serving.
pub async fn start(opts: ServeOptions) -> Result<RunningServer, Error> {
    let store = {
        let dir = opts.data_dir.clone();
        tokio::task::spawn_blocking(move || Store::open(&dir))
            .await
            .map_err(std::io::Error::other)??
    };
    let api = Api::new(Arc::new(store))?;
    bootstrap(&api)?;
    let identity = tls::load_or_create(&opts.data_dir, Some(opts.listen.ip()))?;
    let token: Arc<str> = auth::load_or_create_token(&opts.data_dir)?.into();
    let tls_config = tls::server_config(&identity)?;

    let listener = TcpListener::bind(opts.listen).await?;
    let addr = listener.local_addr()?;
    let client_ip =
        if addr.ip().is_unspecified() { IpAddr::V4(Ipv4Addr::LOCALHOST) } else { addr.ip() };
    let client_addr = SocketAddr::new(client_ip, addr.port());
    let kubeconfig = kubeconfig(&format!("https://{client_addr}"), &identity.ca_pem, &token);
    if let Some(path) = &opts.kubeconfig_out {
        write_atomically(path, &kubeconfig)?;
    }
    let parsed = kube::config::Kubeconfig::from_yaml(&kubeconfig)
        .map_err(|e| Error::Kubeconfig(e.to_string()))?;
    let config =
        kube::Config::from_custom_kubeconfig(parsed, &kube::config::KubeConfigOptions::default())
            .await
            .map_err(|e| Error::Kubeconfig(e.to_string()))?;

    let (shutdown, stop) = signal::channel(false);
    let app = router(AppState {
        writes: writes::Writes::start(api.store.clone()).map_err(Error::Io)?,
        api: api.clone(),
        server_address: client_addr.to_string(),
        token: token.clone(),
    });
    let mut tasks = JoinSet::new();
    tasks.spawn(gc::run(api, stop.clone()));
    let acceptor = tokio_rustls::TlsAcceptor::from(tls_config);
    tasks.spawn(accept_loop(listener, acceptor, app.clone(), stop));
    tracing::info!(%addr, "API server listening");
    Ok(RunningServer { addr, kubeconfig, config, app, token, shutdown, tasks })
}

async fn accept_loop(
    listener: TcpListener,
    acceptor: tokio_rustls::TlsAcceptor,
    app: axum::Router,
    mut stop: signal::Receiver<bool>,
) {
    let mut connections = JoinSet::new();
    loop {
        let (tcp, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(conn) => conn,
                Err(e) => {
                    tracing::warn!(error = %e, "accept failed");
                    continue;
                }
            },
            _ = stop.changed() => break,
            Some(_) = connections.join_next(), if !connections.is_empty() => continue,
        };
        let _ = tcp.set_nodelay(true);
        let (acceptor, app) = (acceptor.clone(), app.clone());
        connections.spawn(async move {
            let tls = match acceptor.accept(tcp).await {
                Ok(tls) => tls,
                Err(e) => {
                    tracing::debug!(%peer, error = %e, "TLS handshake failed");
                    return;
                }
            };
            let service = TowerToHyperService::new(app);
            let builder = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new());
            if let Err(e) = builder.serve_connection_with_upgrades(TokioIo::new(tls), service).await
            {
                tracing::debug!(%peer, error = %e, "connection ended with an error");
            }
        });
    }
    connections.abort_all();
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::core::v1::Namespace;

    #[tokio::test]
    async fn start_serves_in_process_and_socket_clients_and_shuts_down() {
        let dir = tempfile::tempdir().unwrap();
        let kubeconfig_out = dir.path().join("kubeconfig");
        let opts = ServeOptions {
            data_dir: dir.path().join("data"),
            listen: "127.0.0.1:0".parse().unwrap(),
            kubeconfig_out: Some(kubeconfig_out.clone()),
        };
        let server = start(opts).await.unwrap();
        assert_ne!(server.addr.port(), 0);
        let written = std::fs::read_to_string(&kubeconfig_out).unwrap();
        assert!(written.contains(&format!("https://127.0.0.1:{}", server.addr.port())));
        for client in [server.client().unwrap(), server.socket_client().unwrap()] {
            let namespaces: kube::Api<Namespace> = kube::Api::all(client);
            let default = namespaces.get("default").await.unwrap();
            assert_eq!(default.status.unwrap().phase.as_deref(), Some("Active"));
        }
        let addr = server.addr;
        server.shutdown().await;
        assert!(tokio::net::TcpStream::connect(addr).await.is_err(), "the listener is closed");
    }
}
