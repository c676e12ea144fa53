//! Pure conversions for ProviderConfig: AWS INI credentials and endpoint URLs.

use super::types::{EndpointConfig, EndpointUrlType};

/// Static AWS credentials read from an INI profile.
#[derive(Clone, PartialEq, Eq)]
pub struct StaticCredentials {
    /// `aws_access_key_id`.
    pub access_key_id: String,
    /// `aws_secret_access_key`.
    pub secret_access_key: String,
    /// `aws_session_token`, for temporary credentials.
    pub session_token: Option<String>,
}

impl std::fmt::Debug for StaticCredentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never print secrets, even in debug logs.
        f.debug_struct("StaticCredentials")
            .field("access_key_id", &self.access_key_id)
            .finish_non_exhaustive()
    }
}

/// A ProviderConfig cannot be turned into an AWS client configuration.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    /// The INI text has no `[default]` profile.
    #[error("credentials in {origin} have no [default] profile")]
    NoDefaultProfile {
        /// Where the text came from, e.g. `Secret aws/creds key "credentials"`.
        origin: String,
    },
    /// The `[default]` profile lacks a required key.
    #[error("credentials in {origin}: [default] profile has no {key}")]
    MissingKey {
        /// Where the text came from.
        origin: String,
        /// The missing key.
        key: &'static str,
    },
    /// The INI text is not UTF-8.
    #[error("credentials in {origin} are not UTF-8 text")]
    NotText {
        /// Where the text came from.
        origin: String,
    },
    /// A required ProviderConfig field is missing.
    #[error("ProviderConfig {provider_config:?}: {field} is required when {when}")]
    MissingField {
        /// Name of the ProviderConfig.
        provider_config: String,
        /// The field path, e.g. `spec.credentials.secretRef`.
        field: &'static str,
        /// The condition that makes it required.
        when: &'static str,
    },
    /// An endpoint URL is not an absolute `http(s)://host…` URL.
    #[error(
        "ProviderConfig {provider_config:?}: {field} {url:?} is not a valid URL (expected http://host or https://host, with an optional port and path)"
    )]
    InvalidUrl {
        /// Name of the ProviderConfig.
        provider_config: String,
        /// The field path, e.g. `spec.endpoint.url.static`.
        field: &'static str,
        /// The URL as given (or, for a dynamic endpoint, as built).
        url: String,
    },
}

/// Parse an AWS shared-credentials (INI) text and return its `[default]` profile.
///
/// As provider-aws: the section name is matched case-insensitively; `aws_session_token` is
/// optional; `#` and `;` start comments.
pub fn parse_ini_credentials(text: &[u8], origin: &str) -> Result<StaticCredentials, ConfigError> {
    let text = std::str::from_utf8(text)
        .map_err(|_| ConfigError::NotText { origin: origin.to_owned() })?;
    let mut in_default = false;
    let mut seen_default = false;
    let (mut key_id, mut secret, mut token) = (None, None, None);
    for line in text.lines().map(str::trim) {
        if line.is_empty() || line.starts_with('#') || line.starts_with(';') {
            continue;
        }
        if let Some(section) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            in_default = section.trim().eq_ignore_ascii_case("default");
            seen_default |= in_default;
            continue;
        }
        if !in_default {
            continue;
        }
        let Some((key, value)) = line.split_once('=') else { continue };
        let value = value.trim().to_owned();
        match key.trim().to_ascii_lowercase().as_str() {
            "aws_access_key_id" => key_id = Some(value),
            "aws_secret_access_key" => secret = Some(value),
            "aws_session_token" => token = Some(value),
            _ => {}
        }
    }
    if !seen_default {
        return Err(ConfigError::NoDefaultProfile { origin: origin.to_owned() });
    }
    let missing = |key| ConfigError::MissingKey { origin: origin.to_owned(), key };
    Ok(StaticCredentials {
        access_key_id: key_id
            .filter(|v| !v.is_empty())
            .ok_or_else(|| missing("aws_access_key_id"))?,
        secret_access_key: secret
            .filter(|v| !v.is_empty())
            .ok_or_else(|| missing("aws_secret_access_key"))?,
        session_token: token.filter(|v| !v.is_empty()),
    })
}

/// The RDS endpoint URL for `region`, when the ProviderConfig overrides it.
pub fn endpoint_url(
    provider_config: &str,
    endpoint: Option<&EndpointConfig>,
    region: &str,
) -> Result<Option<String>, ConfigError> {
    let Some(endpoint) = endpoint else { return Ok(None) };
    let missing = |field, when| ConfigError::MissingField {
        provider_config: provider_config.to_owned(),
        field,
        when,
    };
    let (field, url) = match endpoint.url.type_ {
        EndpointUrlType::Static => {
            let url = endpoint.url.static_.clone().filter(|u| !u.is_empty()).ok_or_else(|| {
                missing("spec.endpoint.url.static", "spec.endpoint.url.type is Static")
            })?;
            ("spec.endpoint.url.static", url)
        }
        EndpointUrlType::Dynamic => {
            let dynamic = endpoint.url.dynamic.as_ref().ok_or_else(|| {
                missing("spec.endpoint.url.dynamic", "spec.endpoint.url.type is Dynamic")
            })?;
            let url = format!("{}://rds.{region}.{}", dynamic.protocol, dynamic.host);
            ("spec.endpoint.url.dynamic", url)
        }
    };
    // The SDK takes any string and fails each call with a dump of its parse error instead.
    if !is_http_url(&url) {
        let provider_config = provider_config.to_owned();
        return Err(ConfigError::InvalidUrl { provider_config, field, url });
    }
    Ok(Some(url))
}

/// `http://` or `https://`, a host, then optionally a port and path; no whitespace.
fn is_http_url(url: &str) -> bool {
    let Some((scheme, rest)) = url.split_once("://") else { return false };
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    // A port follows the last colon, unless that colon is inside an IPv6 host (`[::1]`).
    let (host, port) = match authority.rsplit_once(':') {
        Some((host, port)) if !port.contains(']') => (host, Some(port)),
        _ => (authority, None),
    };
    matches!(scheme.to_ascii_lowercase().as_str(), "http" | "https")
        && !host.is_empty()
        && port.is_none_or(|p| p.parse::<u16>().is_ok())
        && !url.contains(char::is_whitespace)
}

/// The region requests are signed for: `signingRegion` when an endpoint sets it, else `region`.
pub fn signing_region<'a>(endpoint: Option<&'a EndpointConfig>, region: &'a str) -> &'a str {
    endpoint.and_then(|e| e.signing_region.as_deref()).filter(|r| !r.is_empty()).unwrap_or(region)
}

#[cfg(test)]
mod tests {
    use super::super::types::{DynamicUrl, EndpointUrl};
    use super::*;

    const ORIGIN: &str = "Secret crossplane-system/aws-creds key \"credentials\"";

    #[test]
    fn ini_credentials_are_parsed_from_the_default_profile() {
        struct Case {
            reason: &'static str,
            text: &'static str,
            want: Result<(&'static str, &'static str, Option<&'static str>), ConfigError>,
        }
        let missing = |key| ConfigError::MissingKey { origin: ORIGIN.into(), key };
        let cases = [
            Case {
                reason: "plain default profile",
                text: "[default]\naws_access_key_id = AKIA\naws_secret_access_key = s3cr3t\n",
                want: Ok(("AKIA", "s3cr3t", None)),
            },
            Case {
                reason: "section name is case-insensitive and the token optional",
                text: "[Default]\naws_access_key_id=AKIA\naws_secret_access_key=s\naws_session_token=tok",
                want: Ok(("AKIA", "s", Some("tok"))),
            },
            Case {
                reason: "other profiles and comments are ignored",
                text: "# creds\n[prod]\naws_access_key_id=P\n[default]\n; c\naws_access_key_id=D\naws_secret_access_key=S",
                want: Ok(("D", "S", None)),
            },
            Case {
                reason: "no default profile",
                text: "[prod]\naws_access_key_id=P\naws_secret_access_key=S",
                want: Err(ConfigError::NoDefaultProfile { origin: ORIGIN.into() }),
            },
            Case {
                reason: "missing secret key names it",
                text: "[default]\naws_access_key_id=AKIA\n",
                want: Err(missing("aws_secret_access_key")),
            },
            Case {
                reason: "empty key id counts as missing",
                text: "[default]\naws_access_key_id=\naws_secret_access_key=s\n",
                want: Err(missing("aws_access_key_id")),
            },
        ];
        for case in cases {
            let got = parse_ini_credentials(case.text.as_bytes(), ORIGIN)
                .map(|c| (c.access_key_id, c.secret_access_key, c.session_token));
            let want =
                case.want.map(|(a, b, c)| (a.to_owned(), b.to_owned(), c.map(str::to_owned)));
            assert_eq!(got, want, "{}", case.reason);
        }
    }

    #[test]
    fn non_utf8_credentials_are_rejected() {
        assert_eq!(
            parse_ini_credentials(&[0xff, 0xfe], ORIGIN),
            Err(ConfigError::NotText { origin: ORIGIN.into() })
        );
    }

    #[test]
    fn endpoint_urls_follow_the_classic_provider() {
        let static_url = |u: Option<&str>| EndpointConfig {
            url: EndpointUrl {
                type_: EndpointUrlType::Static,
                static_: u.map(str::to_owned),
                dynamic: None,
            },
            ..EndpointConfig::default()
        };
        let dynamic = EndpointConfig {
            url: EndpointUrl {
                type_: EndpointUrlType::Dynamic,
                static_: None,
                dynamic: Some(DynamicUrl { protocol: "https".into(), host: "example.com".into() }),
            },
            ..EndpointConfig::default()
        };
        type Case =
            (&'static str, Option<EndpointConfig>, Result<Option<&'static str>, &'static str>);
        let cases: [Case; 8] = [
            ("no override uses AWS's own endpoints", None, Ok(None)),
            (
                "static is used as is",
                Some(static_url(Some("http://127.0.0.1:5000"))),
                Ok(Some("http://127.0.0.1:5000")),
            ),
            (
                "dynamic is protocol://rds.region.host",
                Some(dynamic),
                Ok(Some("https://rds.eu-west-1.example.com")),
            ),
            (
                "static without a URL names the field",
                Some(static_url(None)),
                Err("spec.endpoint.url.static"),
            ),
            (
                "static that is not a URL says so",
                Some(static_url(Some("not a url"))),
                Err("spec.endpoint.url.static \"not a url\" is not a valid URL"),
            ),
            (
                "static without a scheme says so",
                Some(static_url(Some("127.0.0.1:5000"))),
                Err("is not a valid URL"),
            ),
            (
                "static with an IPv6 host is used as is",
                Some(static_url(Some("http://[::1]"))),
                Ok(Some("http://[::1]")),
            ),
            (
                "static with a bad port says so",
                Some(static_url(Some("http://moto:port"))),
                Err("is not a valid URL"),
            ),
        ];
        for (reason, endpoint, want) in cases {
            let got = endpoint_url("local", endpoint.as_ref(), "eu-west-1");
            match want {
                Ok(url) => assert_eq!(got, Ok(url.map(str::to_owned)), "{reason}"),
                Err(field) => {
                    let message = got.expect_err(reason).to_string();
                    assert!(
                        message.contains(field) && message.contains("\"local\""),
                        "{reason}: {message}"
                    );
                }
            }
        }
    }

    #[test]
    fn signing_region_defaults_to_the_resource_region() {
        let mut endpoint = EndpointConfig::default();
        assert_eq!(signing_region(None, "us-east-1"), "us-east-1", "no endpoint");
        assert_eq!(signing_region(Some(&endpoint), "us-east-1"), "us-east-1", "unset");
        endpoint.signing_region = Some("eu-central-1".into());
        assert_eq!(signing_region(Some(&endpoint), "us-east-1"), "eu-central-1", "override");
    }
}
