//! The columns kube-apiserver prints for built-in kinds (`kubectl get secrets`: TYPE, DATA),
//! where a CRD would declare `additionalPrinterColumns`. Kinds not listed get Name and Age.

use serde_json::Value;

use super::{PrinterColumn, age, human_duration};

/// A cell kube-apiserver computes rather than reads at one JSONPath.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Computed {
    /// The object's name: the Name column, leading unless a kind places it itself (Events:
    /// last, wide).
    Name,
    /// How many entries the maps at these top-level fields hold (a Secret's DATA).
    Entries(&'static [&'static str]),
    /// An Event's object as kubectl shows it: `kind/name`, the kind lowercased.
    InvolvedObject,
    /// An Event's source: its component and host, else its reporting controller and instance.
    EventSource,
    /// When an Event was last seen, as an age: its series' last observation, else its
    /// `lastTimestamp`, else its `eventTime`.
    LastSeen,
    /// The string at this pointer, `<none>` when unset (a Service's CLUSTER-IP).
    Text(&'static str),
    /// A count kube prints as 0 when its status field is not set yet (AVAILABLE).
    Count(&'static str),
    /// `ready/desired` of two counts, each 0 when not set (a Deployment's READY).
    Fraction(&'static str, &'static str),
    /// The label selector at this pointer, as kubectl writes one (`app=web,tier in (a,b)`).
    Selector(&'static str),
    /// The plain label map at this pointer (a Service's selector): `app=web,tier=front`.
    Labels(&'static str),
    /// A Service's ports: `80/TCP`, with the node port `80:30080/TCP`.
    ServicePorts,
    /// A Service's external address: its load balancer's, its `externalIPs`, its external
    /// name, or `<pending>` / `<none>`.
    ServiceExternalIp,
}

impl Computed {
    pub(super) fn cell(self, object: &Value, now: jiff::Timestamp) -> Value {
        let text = |path: &str| object.pointer(path).and_then(Value::as_str).unwrap_or_default();
        match self {
            Computed::Name => object.pointer("/metadata/name").cloned().unwrap_or(Value::Null),
            Computed::Entries(fields) => {
                let count: usize = fields
                    .iter()
                    .filter_map(|f| object.get(f).and_then(Value::as_object))
                    .map(|m| m.len())
                    .sum();
                Value::from(count)
            }
            Computed::InvolvedObject => Value::String(format!(
                "{}/{}",
                text("/involvedObject/kind").to_lowercase(),
                text("/involvedObject/name")
            )),
            Computed::EventSource => {
                let (first, second) = match text("/source/component") {
                    "" => (text("/reportingComponent"), text("/reportingInstance")),
                    component => (component, text("/source/host")),
                };
                match (first, second) {
                    ("", _) => Value::Null,
                    (first, "") => Value::String(first.to_owned()),
                    (first, second) => Value::String(format!("{first}, {second}")),
                }
            }
            Computed::Text(path) => Value::String(
                object.pointer(path).and_then(Value::as_str).unwrap_or("<none>").to_owned(),
            ),
            Computed::Count(path) => Value::from(count(object, path)),
            Computed::Fraction(part, whole) => {
                Value::String(format!("{}/{}", count(object, part), count(object, whole)))
            }
            Computed::Selector(path) => {
                Value::String(object.pointer(path).map_or_else(|| "<none>".into(), selector_text))
            }
            Computed::Labels(path) => {
                Value::String(labels_text(object.pointer(path)).unwrap_or_else(|| "<none>".into()))
            }
            Computed::ServicePorts => Value::String(service_ports(object)),
            Computed::ServiceExternalIp => Value::String(service_external_ip(object)),
            Computed::LastSeen => {
                let seen = ["/series/lastObservedTime", "/lastTimestamp", "/eventTime"]
                    .into_iter()
                    .map(text)
                    .find(|t| !t.is_empty());
                match seen.map(str::parse::<jiff::Timestamp>) {
                    Some(Ok(t)) => Value::String(human_duration(now.duration_since(t))),
                    Some(Err(_)) => Value::String("<invalid>".to_owned()),
                    None => Value::String("<unknown>".to_owned()),
                }
            }
        }
    }
}

fn count(object: &Value, path: &str) -> i64 {
    object.pointer(path).and_then(Value::as_i64).unwrap_or(0)
}

/// A LabelSelector as `metav1.FormatLabelSelector` writes it: `matchLabels` as `k=v`, then
/// each expression (`k in (a,b)`, `k notin (a)`, `k`, `!k`); `<none>` when empty.
fn selector_text(selector: &Value) -> String {
    let mut parts: Vec<String> = labels_text(selector.get("matchLabels")).into_iter().collect();
    for expression in selector["matchExpressions"].as_array().into_iter().flatten() {
        let key = expression["key"].as_str().unwrap_or_default();
        let values = expression["values"].as_array().into_iter().flatten();
        let values: Vec<&str> = values.filter_map(Value::as_str).collect();
        parts.push(match expression["operator"].as_str().unwrap_or_default() {
            "In" => format!("{key} in ({})", values.join(",")),
            "NotIn" => format!("{key} notin ({})", values.join(",")),
            "DoesNotExist" => format!("!{key}"),
            _ => key.to_owned(),
        });
    }
    if parts.is_empty() { "<none>".to_owned() } else { parts.join(",") }
}

/// A label map as `k=v,k2=v2`; `None` when it is empty or missing.
fn labels_text(labels: Option<&Value>) -> Option<String> {
    let labels = labels.and_then(Value::as_object).filter(|l| !l.is_empty())?;
    let pairs = labels.iter().map(|(k, v)| format!("{k}={}", v.as_str().unwrap_or_default()));
    Some(pairs.collect::<Vec<_>>().join(","))
}

fn service_ports(service: &Value) -> String {
    let ports = service["spec"]["ports"].as_array().into_iter().flatten();
    let ports: Vec<String> = ports
        .map(|p| {
            let protocol = p["protocol"].as_str().unwrap_or("TCP");
            match p["nodePort"].as_i64().filter(|n| *n > 0) {
                Some(node) => format!("{}:{node}/{protocol}", p["port"]),
                None => format!("{}/{protocol}", p["port"]),
            }
        })
        .collect();
    if ports.is_empty() { "<none>".to_owned() } else { ports.join(",") }
}

/// As kubectl's `getServiceExternalIP`: a load balancer's ingress addresses (cut to 16
/// characters, as kube-apiserver prints them) and `externalIPs`, `<pending>` until it has some.
fn service_external_ip(service: &Value) -> String {
    let strings = |v: &Value| -> Vec<String> {
        v.as_array().into_iter().flatten().filter_map(|s| s.as_str().map(str::to_owned)).collect()
    };
    let external = strings(&service["spec"]["externalIPs"]);
    let or_none =
        |ips: Vec<String>| if ips.is_empty() { "<none>".to_owned() } else { ips.join(",") };
    match service["spec"]["type"].as_str().unwrap_or("ClusterIP") {
        "ClusterIP" | "NodePort" => or_none(external),
        "ExternalName" => service["spec"]["externalName"].as_str().unwrap_or("<none>").to_owned(),
        "LoadBalancer" => {
            let ingress = service["status"]["loadBalancer"]["ingress"].as_array();
            let addresses = ingress.into_iter().flatten().filter_map(|i| {
                i["ip"].as_str().or(i["hostname"].as_str()).filter(|a| !a.is_empty())
            });
            let mut balancer = addresses.collect::<Vec<_>>().join(",");
            if balancer.chars().count() > 16 {
                balancer = format!("{}...", balancer.chars().take(13).collect::<String>());
            }
            match (balancer.is_empty(), external.is_empty()) {
                (true, true) => "<pending>".to_owned(),
                (true, false) => external.join(","),
                (false, true) => balancer,
                (false, false) => format!("{balancer},{}", external.join(",")),
            }
        }
        _ => "<unknown>".to_owned(),
    }
}

/// The columns of built-in resource `group`/`plural` after (or, with a [`Computed::Name`]
/// column, instead of) Name, as kube-apiserver prints them; `None` for Name and Age.
pub fn builtin_columns(group: &str, plural: &str) -> Option<Vec<PrinterColumn>> {
    let path = |name: &str, json_path: &str, description: &str| PrinterColumn {
        name: name.to_owned(),
        type_: "string".to_owned(),
        json_path: json_path.to_owned(),
        description: description.to_owned(),
        ..PrinterColumn::default()
    };
    let computed = |name: &str, type_: &str, computed: Computed, description: &str| PrinterColumn {
        name: name.to_owned(),
        type_: type_.to_owned(),
        description: description.to_owned(),
        computed: Some(computed),
        ..PrinterColumn::default()
    };
    let wide = |column: PrinterColumn| PrinterColumn { priority: 1, ..column };
    // Workloads' columns.
    let ready = || {
        let ready = Computed::Fraction("/status/readyReplicas", "/spec/replicas");
        computed("Ready", "string", ready, "Ready replicas of the desired ones")
    };
    let containers =
        || wide(path("Containers", ".spec.template.spec.containers[*].name", "Containers"));
    let images = || wide(path("Images", ".spec.template.spec.containers[*].image", "Images"));
    Some(match (group, plural) {
        ("", "secrets") => vec![
            path("Type", ".type", "The type of the secret"),
            computed(
                "Data",
                "integer",
                Computed::Entries(&["data"]),
                "The number of items in the secret",
            ),
            age(),
        ],
        ("", "configmaps") => vec![
            computed(
                "Data",
                "integer",
                Computed::Entries(&["data", "binaryData"]),
                "The number of items in the config map",
            ),
            age(),
        ],
        ("", "namespaces") => {
            vec![path("Status", ".status.phase", "The status of the namespace"), age()]
        }
        ("", "events") => vec![
            computed("Last Seen", "string", Computed::LastSeen, "When the event was last seen"),
            path("Type", ".type", "The type of the event (Normal, Warning)"),
            path("Reason", ".reason", "Why the event was emitted"),
            computed("Object", "string", Computed::InvolvedObject, "The object the event is about"),
            wide(path("Subobject", ".involvedObject.fieldPath", "The part of the object")),
            wide(computed("Source", "string", Computed::EventSource, "Who reported the event")),
            path("Message", ".message", "A description of what happened"),
            wide(PrinterColumn {
                type_: "date".to_owned(),
                ..path("First Seen", ".firstTimestamp", "When the event was first seen")
            }),
            wide(path("Count", ".count", "How many times the event occurred")),
            wide(computed("Name", "string", Computed::Name, "The name of the event")),
        ],
        ("", "services") => vec![
            path("Type", ".spec.type", "The type of the service"),
            computed(
                "Cluster-IP",
                "string",
                Computed::Text("/spec/clusterIP"),
                "The address inside the cluster",
            ),
            computed(
                "External-IP",
                "string",
                Computed::ServiceExternalIp,
                "The address outside the cluster",
            ),
            computed("Port(s)", "string", Computed::ServicePorts, "The ports it serves"),
            age(),
            wide(computed(
                "Selector",
                "string",
                Computed::Labels("/spec/selector"),
                "The labels of the pods it routes to",
            )),
        ],
        ("apps", "deployments") => vec![
            ready(),
            computed(
                "Up-to-date",
                "integer",
                Computed::Count("/status/updatedReplicas"),
                "Replicas running the latest pod template",
            ),
            computed(
                "Available",
                "integer",
                Computed::Count("/status/availableReplicas"),
                "Replicas available to serve",
            ),
            age(),
            containers(),
            images(),
            wide(computed(
                "Selector",
                "string",
                Computed::Selector("/spec/selector"),
                "The label selector of the pods",
            )),
        ],
        ("apps", "statefulsets") => vec![ready(), age(), containers(), images()],
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn now() -> jiff::Timestamp {
        "2026-01-01T01:00:00Z".parse().unwrap()
    }

    #[test]
    fn an_event_was_last_seen_at_its_series_else_its_last_time_else_its_event_time() {
        let seen = |event: Value| Computed::LastSeen.cell(&event, now());
        let series = json!({"series": {"lastObservedTime": "2026-01-01T00:59:00Z"},
            "lastTimestamp": "2026-01-01T00:00:00Z"});
        assert_eq!(seen(series), "60s");
        assert_eq!(seen(json!({"lastTimestamp": "2026-01-01T00:30:00Z"})), "30m");
        assert_eq!(seen(json!({"eventTime": "2026-01-01T00:58:00.000000Z"})), "2m");
        assert_eq!(seen(json!({"lastTimestamp": "yesterday"})), "<invalid>");
        assert_eq!(seen(json!({})), "<unknown>");
    }

    #[test]
    fn an_event_source_falls_back_to_its_reporting_controller() {
        let source = |event: Value| Computed::EventSource.cell(&event, now());
        assert_eq!(
            source(json!({"source": {"component": "kubelet", "host": "node-1"}})),
            "kubelet, node-1"
        );
        let reported = json!({"reportingComponent": "crosstie", "reportingInstance": "crosstie-0"});
        assert_eq!(source(reported), "crosstie, crosstie-0");
        assert_eq!(source(json!({})), Value::Null);
    }

    #[test]
    fn selectors_read_as_kubectl_writes_them() {
        let selector = |s: Value| selector_text(&s);
        assert_eq!(
            selector(json!({"matchLabels": {"app": "web", "tier": "front"}})),
            "app=web,tier=front"
        );
        let expressions = json!({"matchLabels": {"app": "web"}, "matchExpressions": [
            {"key": "env", "operator": "In", "values": ["a", "b"]},
            {"key": "zone", "operator": "NotIn", "values": ["x"]},
            {"key": "canary", "operator": "Exists"},
            {"key": "legacy", "operator": "DoesNotExist"},
        ]});
        assert_eq!(selector(expressions), "app=web,env in (a,b),zone notin (x),canary,!legacy");
        assert_eq!(selector(json!({})), "<none>");
    }

    #[test]
    fn a_service_reads_its_ports_and_external_address_as_kubectl_shows_them() {
        let ports = json!({"spec": {"ports": [{"port": 80, "protocol": "TCP"},
            {"port": 53, "protocol": "UDP", "nodePort": 30053}]}});
        assert_eq!(service_ports(&ports), "80/TCP,53:30053/UDP");
        assert_eq!(service_ports(&json!({"spec": {}})), "<none>");
        let external = |spec: Value, status: Value| {
            service_external_ip(&json!({"spec": spec, "status": status}))
        };
        assert_eq!(external(json!({"type": "ClusterIP"}), json!({})), "<none>");
        assert_eq!(
            external(json!({"type": "NodePort", "externalIPs": ["1.2.3.4"]}), json!({})),
            "1.2.3.4"
        );
        assert_eq!(
            external(json!({"type": "ExternalName", "externalName": "db.example.com"}), json!({})),
            "db.example.com"
        );
        assert_eq!(external(json!({"type": "LoadBalancer"}), json!({})), "<pending>");
        let balanced = json!({"loadBalancer": {"ingress": [{"ip": "10.0.0.1"}]}});
        assert_eq!(external(json!({"type": "LoadBalancer"}), balanced), "10.0.0.1");
        let long = json!({"loadBalancer": {"ingress": [{"hostname": "a1b2c3.elb.amazonaws.com"}]}});
        assert_eq!(external(json!({"type": "LoadBalancer"}), long), "a1b2c3.elb.am...");
    }

    #[test]
    fn unset_counts_read_as_zero() {
        let fresh = json!({"spec": {"replicas": 3}});
        let ready = Computed::Fraction("/status/readyReplicas", "/spec/replicas");
        assert_eq!(ready.cell(&fresh, now()), "0/3");
        assert_eq!(Computed::Count("/status/availableReplicas").cell(&fresh, now()), 0);
    }

    #[test]
    fn data_counts_the_entries_of_every_field_named() {
        let config = json!({"data": {"a": "1", "b": "2"}, "binaryData": {"c": "AA=="}});
        assert_eq!(Computed::Entries(&["data", "binaryData"]).cell(&config, now()), 3);
        assert_eq!(Computed::Entries(&["data"]).cell(&json!({"type": "Opaque"}), now()), 0);
    }
}
