//! The AWS set-up most end-to-end tests share: credentials in `crossplane-system` and the
//! `default` ProviderConfig pointing at a local endpoint (moto).

/// Namespace `crossplane-system`, a credentials Secret and ProviderConfig `default` whose static
/// endpoint is `endpoint`, as multi-document YAML for `kubectl apply -f -`.
pub fn default_provider_config(endpoint: &str) -> String {
    format!(
        "apiVersion: v1
kind: Namespace
metadata: {{name: crossplane-system}}
---
apiVersion: v1
kind: Secret
metadata: {{name: aws-credentials, namespace: crossplane-system}}
stringData:
  credentials: |
    [default]
    aws_access_key_id = platform
    aws_secret_access_key = platform
---
apiVersion: aws.crossplane.io/v1beta1
kind: ProviderConfig
metadata: {{name: default}}
spec:
  credentials:
    source: Secret
    secretRef: {{namespace: crossplane-system, name: aws-credentials, key: credentials}}
  endpoint:
    url: {{type: Static, static: '{endpoint}'}}
"
    )
}
