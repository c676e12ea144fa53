//! Benchmark of compositions at scale (`cargo bench --bench claims`; issue #5): `N` claims of the
//! shipped `PostgreSQLInstance` XRD applied at once to `crosstie up`, timed until every claim is
//! `Ready=True`, against
//!
//! - (a) a zero-latency fake RDS served by this binary from memory (the subset of the RDS Query
//!   API the provider calls), which isolates Crosstie's own cost;
//! - (b) moto, reported as a ratio to moto's own serial create time (one CreateDBSubnetGroup and
//!   one CreateDBInstance per claim, through aws-sdk-rds) for the same instances.
//!
//! `CROSSTIE_BENCH_CLAIMS` sets `N` (default 2,000), `CROSSTIE_BENCH_TARGETS` the targets
//! (default `fake,moto`), `CROSSTIE_BENCH_SERVER` the `crosstie` binary (default this build's),
//! `CROSSTIE_BENCH_UP_ARGS` extra flags for `crosstie up` (e.g. `--max-reconcile-rate 100`),
//! `CROSSTIE_BENCH_FAKE_CREATE_MS` a time each fake create takes, one at a time (default 0),
//! `CROSSTIE_BENCH_MOTO_SHARING` how moto shares the cores with `crosstie up` (`cloud-first`,
//! `equal` or, by default, `both`; see [`Sharing`]) and `CROSSTIE_BENCH_MOTO_ROUNDS` how many
//! runs of each (default 3; the median ratio is reported).
//! Needs the tools venv (`CROSSTIE_TOOLS_DIR`) for kubectl and moto. Prints a Markdown table.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::response::IntoResponse;
use futures::StreamExt;
use kube::api::{Api, ApiResource, DynamicObject, ListParams, PostParams};
use kube::runtime::watcher;

#[path = "../tests/support/aws.rs"]
mod aws;
#[path = "support/mod.rs"]
mod support;
use support::{Killed, cpu_seconds, free_port, rss_mib};

const REGION: &str = "eu-west-1";
const TEAM: &str = "bench";
/// Claim creates in flight at once.
const CONCURRENCY: usize = 64;

fn claims() -> usize {
    std::env::var("CROSSTIE_BENCH_CLAIMS").ok().and_then(|n| n.parse().ok()).unwrap_or(2_000)
}

fn targets() -> String {
    std::env::var("CROSSTIE_BENCH_TARGETS").unwrap_or_else(|_| "fake,moto".into())
}

/// How long each fake RDS create takes, creates served one at a time
/// (`CROSSTIE_BENCH_FAKE_CREATE_MS`, default 0): a cloud's pace without its CPU on the cores.
fn fake_create_time() -> Duration {
    let ms = std::env::var("CROSSTIE_BENCH_FAKE_CREATE_MS").ok().and_then(|n| n.parse().ok());
    Duration::from_millis(ms.unwrap_or(0))
}

/// How `crosstie up` shares this machine's cores with moto, which stands in for a cloud that in
/// production runs on its own machines.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Sharing {
    /// `crosstie up` runs at a lower priority (`nice -n 10`): moto's CPU comes first, as a cloud's
    /// would, and Crosstie gets every cycle moto leaves. Whether the cloud is the limit.
    CloudFirst,
    /// Equal priority: Crosstie's work slows moto whenever both want the same core.
    Equal,
}

impl Sharing {
    fn label(self) -> &'static str {
        match self {
            Sharing::CloudFirst => "moto first (crosstie up at nice 10)",
            Sharing::Equal => "equal priority",
        }
    }
}

fn moto_sharing() -> Vec<Sharing> {
    match std::env::var("CROSSTIE_BENCH_MOTO_SHARING").as_deref() {
        Ok("cloud-first") => vec![Sharing::CloudFirst],
        Ok("equal") => vec![Sharing::Equal],
        Ok("both") | Err(_) => vec![Sharing::CloudFirst, Sharing::Equal],
        Ok(other) => {
            panic!("CROSSTIE_BENCH_MOTO_SHARING: {other:?} is not cloud-first, equal or both")
        }
    }
}

/// Rounds of moto runs (`CROSSTIE_BENCH_MOTO_ROUNDS`, default 3): one run's ratio moves by
/// ±15 % with this machine's drift, so the median of a few is reported.
fn moto_rounds() -> usize {
    let rounds = std::env::var("CROSSTIE_BENCH_MOTO_ROUNDS").ok().and_then(|n| n.parse().ok());
    rounds.unwrap_or(3)
}

fn server_binary() -> PathBuf {
    std::env::var_os("CROSSTIE_BENCH_SERVER")
        .map(Into::into)
        .unwrap_or_else(|| env!("CARGO_BIN_EXE_crosstie").into())
}

/// Extra flags for `crosstie up`, e.g. `--max-reconcile-rate 100`.
fn up_args() -> Vec<String> {
    std::env::var("CROSSTIE_BENCH_UP_ARGS")
        .map(|args| args.split_whitespace().map(str::to_owned).collect())
        .unwrap_or_default()
}

fn tools_venv() -> PathBuf {
    PathBuf::from(std::env::var_os("CROSSTIE_TOOLS_DIR").expect("CROSSTIE_TOOLS_DIR")).join("venv")
}

async fn wait_until(what: &str, limit: Duration, mut probe: impl AsyncFnMut() -> bool) {
    let start = Instant::now();
    while !probe().await {
        assert!(start.elapsed() < limit, "{what}: not within {limit:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

// ---------------------------------------------------------------------------------------------
// The zero-latency fake RDS: every call answered at once from memory, in the XML shape of AWS
// (and moto), echoing back what was created so the provider sees no drift.

/// A created resource: its scalar parameters as sent, and its tags.
#[derive(Default, Clone)]
struct Stored {
    params: BTreeMap<String, String>,
    list: Vec<String>,
    tags: BTreeMap<String, String>,
}

#[derive(Default)]
struct FakeRds {
    instances: BTreeMap<String, Stored>,
    subnet_groups: BTreeMap<String, Stored>,
}

type Form = Vec<(String, String)>;

fn param<'a>(form: &'a Form, name: &str) -> Option<&'a str> {
    form.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
}

/// `Prefix.<member>.N` values in order (the Query protocol's list encoding).
fn list(form: &Form, prefix: &str) -> Vec<String> {
    let mut items: Vec<(usize, String)> = form
        .iter()
        .filter_map(|(k, v)| {
            let rest = k.strip_prefix(prefix)?.strip_prefix('.')?;
            let index = rest.rsplit('.').next()?.parse().ok()?;
            (rest.matches('.').count() == 1).then(|| (index, v.clone()))
        })
        .collect();
    items.sort();
    items.into_iter().map(|(_, v)| v).collect()
}

/// `Tags.Tag.N.Key` / `.Value` pairs.
fn tags(form: &Form, prefix: &str) -> BTreeMap<String, String> {
    let mut keys = BTreeMap::new();
    let mut values = BTreeMap::new();
    for (k, v) in form {
        let Some(rest) = k.strip_prefix(prefix) else { continue };
        let parts: Vec<&str> = rest.trim_start_matches('.').split('.').collect();
        if let [_, index, field] = parts[..] {
            let map = if field == "Key" { &mut keys } else { &mut values };
            map.insert(index.parse::<usize>().unwrap_or(0), v.clone());
        }
    }
    keys.into_iter().map(|(i, k)| (k, values.remove(&i).unwrap_or_default())).collect()
}

/// Scalar parameters only: lists, tags, secrets and request flags are not attributes.
fn scalars(form: &Form) -> BTreeMap<String, String> {
    form.iter()
        .filter(|(k, _)| {
            !k.contains('.')
                && !matches!(
                    k.as_str(),
                    "Action" | "Version" | "MasterUserPassword" | "ApplyImmediately"
                )
        })
        .cloned()
        .collect()
}

fn tag_xml(tags: &BTreeMap<String, String>) -> String {
    tags.iter().map(|(k, v)| format!("<Tag><Key>{k}</Key><Value>{v}</Value></Tag>")).collect()
}

fn instance_xml(id: &str, db: &Stored) -> String {
    let arn = format!("arn:aws:rds:{REGION}:123456789012:db:{id}");
    let mut xml = format!(
        "<DBInstance><DBInstanceArn>{arn}</DBInstanceArn><DBInstanceStatus>available</DBInstanceStatus>\
         <Endpoint><Address>{id}.fake.rds.local</Address><Port>5432</Port></Endpoint>"
    );
    for (k, v) in &db.params {
        match k.as_str() {
            "DBSubnetGroupName" => xml.push_str(&format!(
                "<DBSubnetGroup><DBSubnetGroupName>{v}</DBSubnetGroupName>\
                 <SubnetGroupStatus>Complete</SubnetGroupStatus></DBSubnetGroup>"
            )),
            "Port" => {}
            _ => xml.push_str(&format!("<{k}>{v}</{k}>")),
        }
    }
    xml.push_str(&format!("<TagList>{}</TagList></DBInstance>", tag_xml(&db.tags)));
    xml
}

fn subnet_group_xml(name: &str, group: &Stored) -> String {
    let subnets: String = group
        .list
        .iter()
        .map(|s| {
            format!(
                "<Subnet><SubnetIdentifier>{s}</SubnetIdentifier><SubnetStatus>Active</SubnetStatus>\
                 <SubnetAvailabilityZone><Name>{REGION}a</Name></SubnetAvailabilityZone></Subnet>"
            )
        })
        .collect();
    let description = group.params.get("DBSubnetGroupDescription").cloned().unwrap_or_default();
    format!(
        "<DBSubnetGroup><DBSubnetGroupName>{name}</DBSubnetGroupName>\
         <DBSubnetGroupDescription>{description}</DBSubnetGroupDescription><VpcId>vpc-fake</VpcId>\
         <SubnetGroupStatus>Complete</SubnetGroupStatus><Subnets>{subnets}</Subnets>\
         <DBSubnetGroupArn>arn:aws:rds:{REGION}:123456789012:subgrp:{name}</DBSubnetGroupArn></DBSubnetGroup>"
    )
}

fn ok(action: &str, result: &str) -> axum::response::Response {
    let body = format!(
        "<{action}Response xmlns=\"http://rds.amazonaws.com/doc/2014-10-31/\"><{action}Result>{result}\
         </{action}Result><ResponseMetadata><RequestId>fake</RequestId></ResponseMetadata></{action}Response>"
    );
    ([(http::header::CONTENT_TYPE, "text/xml")], body).into_response()
}

fn fault(status: u16, code: &str, message: &str) -> axum::response::Response {
    let body = format!(
        "<ErrorResponse xmlns=\"http://rds.amazonaws.com/doc/2014-10-31/\"><Error><Type>Sender</Type>\
         <Code>{code}</Code><Message>{message}</Message></Error><RequestId>fake</RequestId></ErrorResponse>"
    );
    let status = http::StatusCode::from_u16(status).unwrap();
    (status, [(http::header::CONTENT_TYPE, "text/xml")], body).into_response()
}

/// Resource name from an ARN (`arn:aws:rds:…:db:NAME` / `…:subgrp:NAME`).
fn arn_name(arn: &str) -> (&str, &str) {
    let mut parts = arn.rsplitn(3, ':');
    let name = parts.next().unwrap_or_default();
    (parts.next().unwrap_or_default(), name)
}

fn answer(rds: &mut FakeRds, form: &Form) -> axum::response::Response {
    let action = param(form, "Action").unwrap_or_default().to_owned();
    let id = param(form, "DBInstanceIdentifier").unwrap_or_default().to_owned();
    let group = param(form, "DBSubnetGroupName").unwrap_or_default().to_owned();
    match action.as_str() {
        "CreateDBInstance" => {
            if rds.instances.contains_key(&id) {
                return fault(400, "DBInstanceAlreadyExists", "exists");
            }
            let db = Stored { params: scalars(form), list: vec![], tags: tags(form, "Tags") };
            let xml = instance_xml(&id, &db);
            rds.instances.insert(id, db);
            ok(&action, &xml)
        }
        "DescribeDBInstances" if param(form, "Filters.Filter.1.Name") == Some("db-instance-id") => {
            let wanted = list(form, "Filters.Filter.1.Values");
            let found =
                wanted.iter().filter_map(|id| Some(instance_xml(id, rds.instances.get(id)?)));
            ok(&action, &format!("<DBInstances>{}</DBInstances>", found.collect::<String>()))
        }
        "DescribeDBInstances" => {
            let page: usize = param(form, "MaxRecords").and_then(|m| m.parse().ok()).unwrap_or(100);
            let after = param(form, "Marker").unwrap_or_default();
            let mut rest = rds
                .instances
                .range::<str, _>((std::ops::Bound::Excluded(after), std::ops::Bound::Unbounded));
            let items: Vec<_> = rest.by_ref().take(page).collect();
            let marker = match (rest.next(), items.last()) {
                (Some(_), Some((last, _))) => format!("<Marker>{last}</Marker>"),
                _ => String::new(),
            };
            let xml: String = items.iter().map(|(id, db)| instance_xml(id, db)).collect();
            ok(&action, &format!("<DBInstances>{xml}</DBInstances>{marker}"))
        }
        "ModifyDBInstance" => match rds.instances.get_mut(&id) {
            Some(db) => {
                db.params.extend(scalars(form));
                ok(&action, &instance_xml(&id, db))
            }
            None => fault(404, "DBInstanceNotFound", &format!("DBInstance {id} not found.")),
        },
        "DeleteDBInstance" => match rds.instances.remove(&id) {
            Some(db) => ok(&action, &instance_xml(&id, &db)),
            None => fault(404, "DBInstanceNotFound", &format!("DBInstance {id} not found.")),
        },
        "CreateDBSubnetGroup" => {
            let stored = Stored {
                params: scalars(form),
                list: list(form, "SubnetIds"),
                tags: tags(form, "Tags"),
            };
            let xml = subnet_group_xml(&group, &stored);
            rds.subnet_groups.insert(group, stored);
            ok(&action, &xml)
        }
        "DescribeDBSubnetGroups" => match rds.subnet_groups.get(&group) {
            Some(g) => ok(
                &action,
                &format!("<DBSubnetGroups>{}</DBSubnetGroups>", subnet_group_xml(&group, g)),
            ),
            None => fault(404, "DBSubnetGroupNotFoundFault", &format!("{group} not found")),
        },
        "ModifyDBSubnetGroup" => match rds.subnet_groups.get_mut(&group) {
            Some(g) => {
                g.params.extend(scalars(form));
                g.list = list(form, "SubnetIds");
                ok(&action, &subnet_group_xml(&group, g))
            }
            None => fault(404, "DBSubnetGroupNotFoundFault", &format!("{group} not found")),
        },
        "DeleteDBSubnetGroup" => {
            rds.subnet_groups.remove(&group);
            ok(&action, "")
        }
        "ListTagsForResource" | "AddTagsToResource" | "RemoveTagsFromResource" => {
            let (kind, name) = arn_name(param(form, "ResourceName").unwrap_or_default());
            let stored = match kind {
                "db" => rds.instances.get_mut(name),
                _ => rds.subnet_groups.get_mut(name),
            };
            let Some(stored) = stored else {
                return fault(404, "DBInstanceNotFound", "no such resource");
            };
            match action.as_str() {
                "AddTagsToResource" => stored.tags.extend(tags(form, "Tags")),
                "RemoveTagsFromResource" => {
                    for key in list(form, "TagKeys") {
                        stored.tags.remove(&key);
                    }
                }
                _ => {}
            }
            ok(&action, &format!("<TagList>{}</TagList>", tag_xml(&stored.tags)))
        }
        other => fault(400, "InvalidAction", &format!("the fake RDS does not serve {other}")),
    }
}

/// Serves the fake RDS on a free port, each create taking `create_time` (one at a time when
/// not zero); returns its endpoint URL.
async fn start_fake_rds(create_time: Duration) -> String {
    let state = Arc::new(Mutex::new(FakeRds::default()));
    let creating = Arc::new(tokio::sync::Mutex::new(()));
    let app = axum::Router::new().route(
        "/",
        axum::routing::post(async move |body: String| {
            let form: Form = serde_urlencoded::from_str(&body).unwrap_or_default();
            let create = param(&form, "Action").is_some_and(|a| a.starts_with("Create"));
            if create && !create_time.is_zero() {
                let _one_at_a_time = creating.lock().await;
                tokio::time::sleep(create_time).await;
            }
            answer(&mut state.lock().unwrap(), &form)
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let endpoint = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    endpoint
}

// ---------------------------------------------------------------------------------------------
// moto: its own serial create time, and a VPC for subnet groups.

fn rds_client(endpoint: &str) -> aws_sdk_rds::Client {
    use aws_sdk_rds::config::{BehaviorVersion, Credentials, Region};
    let config = aws_sdk_rds::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new(REGION))
        .credentials_provider(Credentials::new("bench", "bench", None, None, "bench"))
        .endpoint_url(endpoint)
        .build();
    aws_sdk_rds::Client::from_conf(config)
}

/// One EC2 Query API call to moto (plain HTTP, as tests/support/ec2.rs); returns the body.
async fn ec2(endpoint: &str, params: &[(&str, &str)]) -> String {
    let mut form: Vec<(&str, &str)> = vec![("Version", "2016-11-15")];
    form.extend_from_slice(params);
    let request = http::Request::post(format!("{endpoint}/"))
        .header("content-type", "application/x-www-form-urlencoded")
        .header(
            "authorization",
            format!(
                "AWS4-HMAC-SHA256 Credential=AKIDMOTO/20260101/{REGION}/ec2/aws4_request, SignedHeaders=host, Signature=0"
            ),
        )
        .body(serde_urlencoded::to_string(&form).unwrap())
        .unwrap();
    http_text(request).await
}

async fn http_text(request: http::Request<String>) -> String {
    let uri = request.uri().clone();
    let addr = uri.authority().unwrap().as_str().to_owned();
    let stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    let (mut sender, conn) =
        hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(stream)).await.unwrap();
    tokio::spawn(conn);
    let (mut parts, body) = request.into_parts();
    parts.uri = uri.path_and_query().unwrap().as_str().parse().unwrap();
    parts.headers.insert(http::header::HOST, uri.authority().unwrap().as_str().parse().unwrap());
    let response = sender
        .send_request(http::Request::from_parts(
            parts,
            http_body_util::Full::new(bytes::Bytes::from(body)),
        ))
        .await
        .unwrap();
    let status = response.status();
    use http_body_util::BodyExt;
    let body = response.into_body().collect().await.unwrap().to_bytes();
    let text = String::from_utf8_lossy(&body).into_owned();
    assert!(status.is_success(), "{uri}: {status} {text}");
    text
}

fn xml_value(xml: &str, tag: &str) -> String {
    let open = format!("<{tag}>");
    let start = xml.find(&open).unwrap_or_else(|| panic!("no <{tag}> in {xml}")) + open.len();
    let end = xml[start..].find(&format!("</{tag}>")).unwrap() + start;
    xml[start..end].to_owned()
}

async fn moto_subnets(endpoint: &str) -> Vec<String> {
    let vpc = xml_value(
        &ec2(endpoint, &[("Action", "CreateVpc"), ("CidrBlock", "10.0.0.0/16")]).await,
        "vpcId",
    );
    let mut subnets = Vec::new();
    for (cidr, az) in [("10.0.1.0/24", "a"), ("10.0.2.0/24", "b")] {
        let zone = format!("{REGION}{az}");
        let xml = ec2(
            endpoint,
            &[
                ("Action", "CreateSubnet"),
                ("VpcId", &vpc),
                ("CidrBlock", cidr),
                ("AvailabilityZone", &zone),
            ],
        )
        .await;
        subnets.push(xml_value(&xml, "subnetId"));
    }
    subnets
}

/// moto's own time to create `n` subnet groups and instances, one call after another, after one
/// untimed pair (moto loads its RDS code on first use); moto starts empty and is left empty.
async fn moto_serial_create(endpoint: &str, n: usize, moto: u32) -> Duration {
    reset_moto(endpoint).await;
    let subnets = moto_subnets(endpoint).await;
    let rds = rds_client(endpoint);
    create_pair(&rds, &subnets, "serial-warmup").await;
    let cpu = cpu_seconds(moto);
    let start = Instant::now();
    for i in 0..n {
        create_pair(&rds, &subnets, &format!("serial-{i}")).await;
    }
    let serial = start.elapsed();
    eprintln!(
        "  moto serial create: {:.1} s (moto CPU {:.1} s)",
        serial.as_secs_f64(),
        cpu_seconds(moto) - cpu
    );
    reset_moto(endpoint).await;
    serial
}

async fn reset_moto(endpoint: &str) {
    let reset = http::Request::post(format!("{endpoint}/moto-api/reset")).body(String::new());
    http_text(reset.unwrap()).await;
}

/// One subnet group `NAME-subnets` and one instance `NAME` in it.
async fn create_pair(rds: &aws_sdk_rds::Client, subnets: &[String], name: &str) {
    let group = format!("{name}-subnets");
    rds.create_db_subnet_group()
        .db_subnet_group_name(&group)
        .db_subnet_group_description("serial baseline")
        .set_subnet_ids(Some(subnets.to_vec()))
        .send()
        .await
        .expect("CreateDBSubnetGroup");
    rds.create_db_instance()
        .db_instance_identifier(name)
        .db_instance_class("db.t3.micro")
        .engine("postgres")
        .engine_version("16")
        .allocated_storage(20)
        .master_username("crosstie")
        .master_user_password("serial-baseline-pw")
        .db_subnet_group_name(&group)
        .publicly_accessible(false)
        .send()
        .await
        .expect("CreateDBInstance");
}

// ---------------------------------------------------------------------------------------------
// Crosstie: `crosstie up`, the shipped compositions, N claims at once.

struct Up {
    server: Killed,
    _dir: tempfile::TempDir,
    client: kube::Client,
    web: String,
}

fn kubectl(kubeconfig: &Path, home: &Path, args: &[&str], stdin: Option<&str>) {
    use std::io::Write;
    let mut child = Command::new(tools_venv().join("bin/kubectl"))
        .args(args)
        .env("KUBECONFIG", kubeconfig)
        .env("HOME", home)
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .expect("run kubectl");
    if let Some(input) = stdin {
        child.stdin.take().unwrap().write_all(input.as_bytes()).unwrap();
    }
    drop(child.stdin.take());
    assert!(child.wait().unwrap().success(), "kubectl {args:?} failed");
}

async fn crosstie_up(rds_endpoint: &str, sharing: Sharing) -> Up {
    let dir = tempfile::tempdir().unwrap();
    let kubeconfig = dir.path().join("kubeconfig");
    let web = format!("127.0.0.1:{}", free_port());
    // `nice` execs the server: the child's pid stays the server's, for its CPU and memory.
    let mut command = match sharing {
        Sharing::CloudFirst => {
            let mut nice = Command::new("nice");
            nice.args(["-n", "10"]).arg(server_binary());
            nice
        }
        Sharing::Equal => Command::new(server_binary()),
    };
    let server = Killed(
        command
            .args(["up", "--listen", "127.0.0.1:0", "--web-listen", &web])
            .arg("--state-dir")
            .arg(dir.path().join("state"))
            .arg("--data-dir")
            .arg(dir.path().join("data"))
            .arg("--kubeconfig-out")
            .arg(&kubeconfig)
            .args(up_args())
            .env("CROSSTIE_LOG", "warn")
            .stdout(Stdio::null())
            .spawn()
            .expect("start crosstie up"),
    );
    wait_until("crosstie up", Duration::from_secs(60), async || kubeconfig.exists()).await;
    let home = dir.path();
    let setup = format!(
        "{}---
apiVersion: v1
kind: Namespace
metadata: {{name: {TEAM}}}
",
        aws::default_provider_config(rds_endpoint)
    );
    kubectl(&kubeconfig, home, &["apply", "-f", "-"], Some(&setup));
    kubectl(
        &kubeconfig,
        home,
        &["apply", "-f", concat!(env!("CARGO_MANIFEST_DIR"), "/compositions")],
        None,
    );
    kubectl(
        &kubeconfig,
        home,
        &[
            "wait",
            "--for=condition=Established",
            "--timeout=60s",
            "compositeresourcedefinition/xpostgresqlinstances.database.crosstie.io",
        ],
        None,
    );
    let config = kube::config::Kubeconfig::read_from(&kubeconfig).unwrap();
    let config = kube::Config::from_custom_kubeconfig(config, &Default::default()).await.unwrap();
    let client = kube::Client::try_from(config).unwrap();
    let up = Up { server, _dir: dir, client, web };
    let api = up.claims();
    wait_until("the claim kind to be served", Duration::from_secs(30), async || {
        api.list(&ListParams::default().limit(1)).await.is_ok()
    })
    .await;
    up
}

impl Up {
    /// Prints what the run cost per claim: `crosstie up`'s CPU time, its AWS calls by operation
    /// and its managed-resource reconciles by kind and result (from its `/metrics`). Returns the
    /// CPU time in seconds.
    async fn print_cost(&self, n: usize) -> f64 {
        let cpu = cpu_seconds(self.server.0.id());
        eprintln!("  crosstie CPU: {cpu:.1} s ({:.1} ms per claim)", cpu * 1000.0 / n as f64);
        let metrics = self.metrics().await;
        let counters = [
            "crosstie_aws_api_calls_total{",
            "crosstie_managed_reconciles_total{",
            "crosstie_managed_errors_total{",
            "crosstie_composition_reconciles_total{",
        ];
        for line in metrics.lines().filter(|l| counters.iter().any(|c| l.starts_with(c))) {
            if let Some((labels, count)) = line.rsplit_once(' ')
                && let Ok(count) = count.parse::<f64>()
            {
                eprintln!("  {labels}: {:.2} per claim", count / n as f64);
            }
        }
        cpu
    }

    fn claims(&self) -> Api<DynamicObject> {
        let resource = ApiResource {
            group: "database.crosstie.io".into(),
            version: "v1alpha1".into(),
            api_version: "database.crosstie.io/v1alpha1".into(),
            kind: "PostgreSQLInstance".into(),
            plural: "postgresqlinstances".into(),
        };
        Api::namespaced_with(self.client.clone(), TEAM, &resource)
    }

    /// `crosstie up`'s `/metrics` text.
    async fn metrics(&self) -> String {
        let request = http::Request::get(format!("http://{}/metrics", self.web));
        http_text(request.body(String::new()).unwrap()).await
    }

    /// `crosstie_aws_api_calls_total` of each of `operations`, from one read of `/metrics`.
    async fn aws_calls<const N: usize>(&self, operations: [&str; N]) -> [u64; N] {
        let metrics = self.metrics().await;
        operations.map(|operation| {
            let series = format!("crosstie_aws_api_calls_total{{operation=\"{operation}\"}} ");
            metrics.lines().find_map(|l| l.strip_prefix(&series)?.parse().ok()).unwrap_or(0)
        })
    }

    /// Samples the creates every 100 ms until the `n`th instance create; returns when the first
    /// create (of either kind) and the `n`th instance create were seen, from `start`. This is
    /// where the time to all Ready goes: before the first create and after the last, Crosstie's
    /// latency; in between, mostly the cloud's pace.
    async fn creates_timeline(&self, n: usize, start: Instant) -> (Duration, Duration) {
        let mut first = None;
        loop {
            let [creates, groups] =
                self.aws_calls(["CreateDBInstance", "CreateDBSubnetGroup"]).await;
            if creates + groups > 0 && first.is_none() {
                first = Some(start.elapsed());
            }
            if creates >= n as u64 {
                return (first.unwrap_or_default(), start.elapsed());
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Runs [`Up::apply_and_watch`] while sampling the creates, prints where the time went, and
    /// returns (apply time, time to all Ready), both from the first claim create.
    async fn claims_ready(&self, n: usize, subnets: &[String]) -> (Duration, Duration) {
        let start = Instant::now();
        let timeline = self.creates_timeline(n, start);
        let (creates, (applied, first_ready, all_ready)) =
            tokio::join!(timeline, self.apply_and_watch(n, subnets, start));
        eprintln!(
            "  first AWS create {:.1} s, first claim Ready {:.1} s, last create {:.1} s, all Ready {:.1} s",
            creates.0.as_secs_f64(),
            first_ready.as_secs_f64(),
            creates.1.as_secs_f64(),
            all_ready.as_secs_f64(),
        );
        (applied, all_ready)
    }

    /// Creates `n` claims at once, then watches until all are Ready; returns the apply time and
    /// when the first and the last claim were Ready, from `start`.
    async fn apply_and_watch(
        &self,
        n: usize,
        subnets: &[String],
        start: Instant,
    ) -> (Duration, Duration, Duration) {
        let api = self.claims();
        futures::stream::iter(0..n)
            .map(|i| {
                let api = api.clone();
                let claim: DynamicObject = serde_json::from_value(serde_json::json!({
                    "apiVersion": "database.crosstie.io/v1alpha1",
                    "kind": "PostgreSQLInstance",
                    "metadata": {"name": format!("db-{i}"), "namespace": TEAM},
                    "spec": {
                        "parameters": {
                            "storageGB": 20, "size": "small", "version": "16",
                            "region": REGION, "subnetIds": subnets,
                        },
                        "writeConnectionSecretToRef": {"name": format!("db-{i}-conn")},
                    },
                }))
                .unwrap();
                async move { api.create(&PostParams::default(), &claim).await.expect("create claim") }
            })
            .buffer_unordered(CONCURRENCY)
            .collect::<Vec<_>>()
            .await;
        let applied = start.elapsed();
        let mut first_ready = None;
        // Watched, not polled: a list of every claim twice a second would load the server being
        // measured (as `kubectl wait` does, a watch costs it nothing between changes).
        let mut ready = std::collections::HashSet::new();
        let mut progress = Instant::now();
        let mut events = std::pin::pin!(watcher(api, watcher::Config::default()));
        while ready.len() < n {
            let event = tokio::time::timeout(Duration::from_secs(3600), events.next())
                .await
                .expect("claims not Ready within an hour")
                .expect("the claim watch ended")
                .expect("watch claims");
            let (watcher::Event::Apply(claim) | watcher::Event::InitApply(claim)) = event else {
                continue;
            };
            let name = claim.metadata.name.clone().unwrap_or_default();
            if is_ready(&claim) {
                first_ready.get_or_insert_with(|| start.elapsed());
                ready.insert(name);
            } else {
                ready.remove(&name);
            }
            if progress.elapsed() > Duration::from_millis(500) || ready.len() == n {
                eprintln!("  {:>6.1} s: {}/{n} Ready", start.elapsed().as_secs_f64(), ready.len());
                progress = Instant::now();
            }
        }
        (applied, first_ready.unwrap_or_default(), start.elapsed())
    }
}

fn is_ready(claim: &DynamicObject) -> bool {
    claim.data["status"]["conditions"]
        .as_array()
        .is_some_and(|c| c.iter().any(|c| c["type"] == "Ready" && c["status"] == "True"))
}

/// N claims through a fresh `crosstie up` against moto (reset before), sharing the cores as
/// `sharing` says; prints the run's costs and returns (apply time, time to all Ready) and
/// Crosstie's memory at the end.
async fn moto_run(
    endpoint: &str,
    n: usize,
    moto: u32,
    sharing: Sharing,
) -> ((Duration, Duration), f64) {
    let subnets = moto_subnets(endpoint).await;
    let up = crosstie_up(endpoint, sharing).await;
    let (moto_cpu, bench_cpu) = (cpu_seconds(moto), cpu_seconds(std::process::id()));
    let run = up.claims_ready(n, &subnets).await;
    let crosstie_cpu = up.print_cost(n).await;
    let moto_cpu = cpu_seconds(moto) - moto_cpu;
    // The bench shares the cores too: creating the claims and watching them is a client's
    // cost, neither Crosstie's nor moto's, but it delays both.
    let bench_cpu = cpu_seconds(std::process::id()) - bench_cpu;
    eprintln!("  bench CPU during the run (claim creates and watch): {bench_cpu:.1} s");
    // Unlike either time, this ratio barely moves with the machine's speed: a steadier
    // figure of Crosstie's own cost when comparing two builds.
    eprintln!(
        "  moto CPU during the run: {moto_cpu:.1} s (crosstie CPU per moto CPU second: {:.2})",
        crosstie_cpu / moto_cpu
    );
    (run, rss_mib(up.server.0.id()))
}

#[tokio::main]
async fn main() {
    let n = claims();
    let targets = targets();
    let mut rows = Vec::new();
    if targets.contains("fake") {
        eprintln!("(a) {n} claims against the zero-latency fake RDS");
        let create_time = fake_create_time();
        let endpoint = start_fake_rds(create_time).await;
        let up = crosstie_up(&endpoint, Sharing::Equal).await;
        let (applied, ready) = up.claims_ready(n, &["subnet-a".into(), "subnet-b".into()]).await;
        up.print_cost(n).await;
        let rss = rss_mib(up.server.0.id());
        let pace = match create_time.as_millis() {
            0 => "zero latency".to_owned(),
            ms => format!("creates {ms} ms each, one at a time"),
        };
        rows.push(format!(
            "| fake RDS ({pace}) | {n} | {:.1} s | {:.1} s | {:.0} claims/s | {rss:.0} MiB | — |",
            applied.as_secs_f64(),
            ready.as_secs_f64(),
            n as f64 / ready.as_secs_f64(),
        ));
    }
    if targets.contains("moto") {
        eprintln!("(b) {n} claims against moto");
        let port = free_port();
        let moto = Killed(
            Command::new(tools_venv().join("bin/moto_server"))
                .args(["-H", "127.0.0.1", "-p", &port.to_string()])
                // moto counts each instance's automated snapshot against a 1,000 quota.
                .env("MOTO_RDS_SNAPSHOT_LIMIT", "1000000")
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .expect("start moto_server"),
        );
        let endpoint = format!("http://127.0.0.1:{port}");
        wait_until("moto", Duration::from_secs(30), async || {
            tokio::net::TcpStream::connect(("127.0.0.1", port)).await.is_ok()
        })
        .await;
        // This machine's speed drifts by tens of percent within minutes, so moto's serial time
        // is measured before and after each run and the run is compared with their mean.
        let mut serial_before = moto_serial_create(&endpoint, n, moto.0.id()).await;
        let mut ratios: BTreeMap<&str, Vec<f64>> = BTreeMap::new();
        for round in 0..moto_rounds() {
            let mut order = moto_sharing();
            // Every other round the other way round: neither mode always runs on a warmer moto.
            if round % 2 == 1 {
                order.reverse();
            }
            for sharing in order {
                eprintln!("  round {}, {}:", round + 1, sharing.label());
                let ((applied, ready), rss) = moto_run(&endpoint, n, moto.0.id(), sharing).await;
                let serial_after = moto_serial_create(&endpoint, n, moto.0.id()).await;
                let serial = (serial_before + serial_after) / 2;
                let ratio = ready.as_secs_f64() / serial.as_secs_f64();
                ratios.entry(sharing.label()).or_default().push(ratio);
                rows.push(format!(
                    "| moto 5.2.5, {} | {n} | {:.1} s | {:.1} s | {:.0} claims/s | {rss:.0} MiB | {ratio:.2} (serial create {:.1} s: {:.1} s before, {:.1} s after) |",
                    sharing.label(),
                    applied.as_secs_f64(),
                    ready.as_secs_f64(),
                    n as f64 / ready.as_secs_f64(),
                    serial.as_secs_f64(),
                    serial_before.as_secs_f64(),
                    serial_after.as_secs_f64(),
                ));
                serial_before = serial_after;
            }
        }
        for (label, mut ratios) in ratios {
            ratios.sort_by(f64::total_cmp);
            let all: Vec<String> = ratios.iter().map(|r| format!("{r:.2}")).collect();
            rows.push(format!(
                "| moto 5.2.5, {label}: median of {} runs | {n} | | | | | **{:.2}** ({}) |",
                ratios.len(),
                ratios[ratios.len() / 2],
                all.join(", "),
            ));
        }
        drop(moto);
    }
    println!(
        "| target | claims | all applied | all Ready | throughput | crosstie RSS | ratio to moto serial |"
    );
    println!("|---|---:|---:|---:|---:|---:|---|");
    for row in rows {
        println!("{row}");
    }
}
