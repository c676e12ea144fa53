//! `crosstie trace`: the claim → composite → composed resources → Secret tree (pure).
//!
//! The IO layer starts from one object, fetches what [`children`] names, and hands everything
//! it found to [`tree`]; [`table`] prints it like `crossplane beta trace`.

use serde_json::Value;

/// A reference to an object to fetch.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct ObjectRef {
    /// `group/version` or `v1`.
    pub api_version: String,
    /// Kind.
    pub kind: String,
    /// Name.
    pub name: String,
    /// Namespace of namespaced objects.
    pub namespace: Option<String>,
}

impl ObjectRef {
    fn of(object: &Value) -> Self {
        Self {
            api_version: str_at(object, "/apiVersion"),
            kind: str_at(object, "/kind"),
            name: str_at(object, "/metadata/name"),
            namespace: object
                .pointer("/metadata/namespace")
                .and_then(Value::as_str)
                .map(str::to_owned),
        }
    }
}

fn str_at(object: &Value, pointer: &str) -> String {
    object.pointer(pointer).and_then(Value::as_str).unwrap_or_default().to_owned()
}

/// The objects below `object`: a claim's composite and Secret, a composite's resources and
/// Secret, a composed resource's Secret.
pub fn children(object: &Value) -> Vec<ObjectRef> {
    let spec = &object["spec"];
    let mut refs = Vec::new();
    let as_ref = |r: &Value, namespace: Option<String>| {
        let name = r["name"].as_str()?;
        Some(ObjectRef {
            api_version: r["apiVersion"].as_str()?.to_owned(),
            kind: r["kind"].as_str()?.to_owned(),
            name: name.to_owned(),
            namespace: r["namespace"].as_str().map(str::to_owned).or(namespace),
        })
    };
    refs.extend(as_ref(&spec["resourceRef"], None));
    for r in spec["resourceRefs"].as_array().into_iter().flatten() {
        refs.extend(as_ref(r, None));
    }
    let secret = &spec["writeConnectionSecretToRef"];
    if let Some(name) = secret["name"].as_str() {
        // A claim's Secret lives in the claim's namespace; others name their namespace.
        let namespace = secret["namespace"].as_str().or(object["metadata"]["namespace"].as_str());
        refs.push(ObjectRef {
            api_version: "v1".to_owned(),
            kind: "Secret".to_owned(),
            name: name.to_owned(),
            namespace: namespace.map(str::to_owned),
        });
    }
    refs
}

/// One row of the tree.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Node {
    /// `Kind/name`.
    pub name: String,
    /// Namespace of namespaced objects.
    pub namespace: Option<String>,
    /// The `Synced` condition status, `-` when the object has none.
    pub synced: String,
    /// The `Ready` condition status, `-` when the object has none.
    pub ready: String,
    /// What is wrong, or the Ready reason when all is well.
    pub status: String,
    /// Objects below this one.
    pub children: Vec<Node>,
}

/// Builds the tree below `root` from the fetched `objects`; references to objects that were
/// not found become rows saying so.
pub fn tree(root: &Value, objects: &[Value]) -> Node {
    build(root, objects, 0)
}

fn build(object: &Value, objects: &[Value], depth: usize) -> Node {
    let me = ObjectRef::of(object);
    let condition = |t: &str| {
        object["status"]["conditions"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|c| c["type"] == t)
            .cloned()
    };
    let (synced, ready) = (condition("Synced"), condition("Ready"));
    let status_of =
        |c: &Option<Value>| c.as_ref().and_then(|c| c["status"].as_str()).unwrap_or("-").to_owned();
    let describe = |c: &Value| {
        let reason = c["reason"].as_str().unwrap_or_default();
        match c["message"].as_str().filter(|m| !m.is_empty()) {
            Some(m) => format!("{reason}: {m}"),
            None => reason.to_owned(),
        }
    };
    let status = match (&synced, &ready) {
        (Some(s), _) if s["status"] != "True" => describe(s),
        (_, Some(r)) => describe(r),
        _ => String::new(),
    };
    // The depth bound guards against reference cycles in hand-edited objects.
    let children = if depth > 8 {
        Vec::new()
    } else {
        children(object)
            .into_iter()
            .map(|r| match objects.iter().find(|o| ObjectRef::of(o) == r) {
                Some(child) => build(child, objects, depth + 1),
                None => Node {
                    name: format!("{}/{}", r.kind, r.name),
                    namespace: r.namespace,
                    synced: "-".to_owned(),
                    ready: "-".to_owned(),
                    status: "NotFound".to_owned(),
                    children: Vec::new(),
                },
            })
            .collect()
    };
    Node {
        name: format!("{}/{}", me.kind, me.name),
        namespace: me.namespace,
        synced: status_of(&synced),
        ready: status_of(&ready),
        status,
        children,
    }
}

/// Prints the tree as a table with NAME, SYNCED, READY and STATUS columns.
pub fn table(root: &Node) -> String {
    let mut rows = Vec::new();
    flatten(root, String::new(), None, &mut rows);
    let width = rows.iter().map(|r| r.0.chars().count()).max().unwrap_or(0).max(4);
    let mut out = format!("{:<width$}  {:<6}  {:<5}  STATUS\n", "NAME", "SYNCED", "READY");
    for (name, node) in rows {
        let line =
            format!("{name:<width$}  {:<6}  {:<5}  {}", node.synced, node.ready, node.status);
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

fn flatten<'a>(
    node: &'a Node,
    indent: String,
    last: Option<bool>,
    rows: &mut Vec<(String, &'a Node)>,
) {
    let branch = match last {
        None => "",
        Some(true) => "└─ ",
        Some(false) => "├─ ",
    };
    let ns = node.namespace.as_ref().map(|n| format!(" ({n})")).unwrap_or_default();
    rows.push((format!("{indent}{branch}{}{ns}", node.name), node));
    let child_indent = match last {
        None => indent,
        Some(true) => format!("{indent}   "),
        Some(false) => format!("{indent}│  "),
    };
    for (i, child) in node.children.iter().enumerate() {
        flatten(child, child_indent.clone(), Some(i + 1 == node.children.len()), rows);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn claim() -> Value {
        json!({
            "apiVersion": "database.crosstie.io/v1alpha1",
            "kind": "PostgreSQLInstance",
            "metadata": {"name": "orders-db", "namespace": "team-a"},
            "spec": {
                "resourceRef": {"apiVersion": "database.crosstie.io/v1alpha1", "kind": "XPostgreSQLInstance", "name": "orders-db-x7k2p"},
                "writeConnectionSecretToRef": {"name": "orders-db-connection"},
            },
            "status": {"conditions": [
                {"type": "Synced", "status": "True", "reason": "ReconcileSuccess"},
                {"type": "Ready", "status": "False", "reason": "Creating", "message": "Unready resources: rdsinstance"},
            ]},
        })
    }

    fn composite() -> Value {
        json!({
            "apiVersion": "database.crosstie.io/v1alpha1",
            "kind": "XPostgreSQLInstance",
            "metadata": {"name": "orders-db-x7k2p"},
            "spec": {
                "resourceRefs": [
                    {"apiVersion": "database.aws.crossplane.io/v1beta1", "kind": "DBSubnetGroup", "name": "orders-db-x7k2p-subnets"},
                    {"apiVersion": "database.aws.crossplane.io/v1beta1", "kind": "RDSInstance", "name": "orders-db-x7k2p-7d0f1"},
                ],
                "writeConnectionSecretToRef": {"name": "3b9d7c52", "namespace": "crossplane-system"},
            },
            "status": {"conditions": [
                {"type": "Synced", "status": "True", "reason": "ReconcileSuccess"},
                {"type": "Ready", "status": "False", "reason": "Creating", "message": "Unready resources: rdsinstance"},
            ]},
        })
    }

    fn subnet_group() -> Value {
        json!({
            "apiVersion": "database.aws.crossplane.io/v1beta1",
            "kind": "DBSubnetGroup",
            "metadata": {"name": "orders-db-x7k2p-subnets"},
            "status": {"conditions": [
                {"type": "Synced", "status": "True", "reason": "ReconcileSuccess"},
                {"type": "Ready", "status": "True", "reason": "Available"},
            ]},
        })
    }

    fn secret(name: &str, namespace: &str) -> Value {
        json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": name, "namespace": namespace}})
    }

    #[test]
    fn a_claim_traces_to_its_composite_resources_and_secrets() {
        let rds = json!({
            "apiVersion": "database.aws.crossplane.io/v1beta1",
            "kind": "RDSInstance",
            "metadata": {"name": "orders-db-x7k2p-7d0f1"},
            "spec": {"writeConnectionSecretToRef": {"name": "3b9d7c52-postgresql", "namespace": "crossplane-system"}},
            "status": {"conditions": [
                {"type": "Synced", "status": "False", "reason": "ReconcileError", "message": "create failed: InvalidSubnetID.NotFound"},
                {"type": "Ready", "status": "False", "reason": "Creating"},
            ]},
        });
        let objects = [
            composite(),
            subnet_group(),
            rds,
            secret("orders-db-connection", "team-a"),
            secret("3b9d7c52", "crossplane-system"),
        ];
        let tree = tree(&claim(), &objects);
        let want = "\
NAME                                                     SYNCED  READY  STATUS
PostgreSQLInstance/orders-db (team-a)                    True    False  Creating: Unready resources: rdsinstance
├─ XPostgreSQLInstance/orders-db-x7k2p                   True    False  Creating: Unready resources: rdsinstance
│  ├─ DBSubnetGroup/orders-db-x7k2p-subnets              True    True   Available
│  ├─ RDSInstance/orders-db-x7k2p-7d0f1                  False   False  ReconcileError: create failed: InvalidSubnetID.NotFound
│  │  └─ Secret/3b9d7c52-postgresql (crossplane-system)  -       -      NotFound
│  └─ Secret/3b9d7c52 (crossplane-system)                -       -
└─ Secret/orders-db-connection (team-a)                  -       -
";
        assert_eq!(table(&tree), want);
    }

    #[test]
    fn children_of_a_claim_are_its_composite_and_its_secret_in_its_namespace() {
        assert_eq!(
            children(&claim()),
            [
                ObjectRef {
                    api_version: "database.crosstie.io/v1alpha1".into(),
                    kind: "XPostgreSQLInstance".into(),
                    name: "orders-db-x7k2p".into(),
                    namespace: None,
                },
                ObjectRef {
                    api_version: "v1".into(),
                    kind: "Secret".into(),
                    name: "orders-db-connection".into(),
                    namespace: Some("team-a".into()),
                },
            ]
        );
    }
}
