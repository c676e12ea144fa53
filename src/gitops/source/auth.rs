//! Credentials from a GitRepository's `secretRef`, with Flux's Secret keys.

use std::collections::BTreeMap;

use super::Error;

/// How to authenticate to the remote.
#[derive(Clone, Default, PartialEq, Eq)]
pub enum Auth {
    /// No credentials (public or local repositories).
    #[default]
    None,
    /// HTTP basic auth: `username` + `password` (tokens go in `password`).
    Basic {
        /// `username` key.
        username: String,
        /// `password` key.
        password: String,
    },
    /// `Authorization: Bearer` with the `bearerToken` key.
    Bearer(String),
    /// SSH private key (`identity`), `known_hosts`, optional key `password`.
    Ssh {
        /// PEM private key.
        identity: String,
        /// known_hosts lines the server key must match.
        known_hosts: String,
        /// Passphrase of an encrypted key.
        password: Option<String>,
    },
}

// Never print secrets, even in debug logs.
impl std::fmt::Debug for Auth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Auth::None => "Auth::None",
            Auth::Basic { .. } => "Auth::Basic(..)",
            Auth::Bearer(_) => "Auth::Bearer(..)",
            Auth::Ssh { .. } => "Auth::Ssh(..)",
        })
    }
}

impl Auth {
    /// Read credentials from decoded Secret data; errors name the Secret and the missing key.
    pub fn from_secret(secret: &str, data: &BTreeMap<String, Vec<u8>>) -> Result<Self, Error> {
        let text = |key: &str| -> Result<Option<String>, Error> {
            data.get(key)
                .map(|v| {
                    String::from_utf8(v.clone()).map_err(|_| {
                        Error::Auth(format!("secret {secret:?}: key {key:?} is not UTF-8"))
                    })
                })
                .transpose()
        };
        if let Some(identity) = text("identity")? {
            let known_hosts = text("known_hosts")?.ok_or_else(|| {
                Error::Auth(format!(
                    "secret {secret:?}: key \"known_hosts\" is required with \"identity\""
                ))
            })?;
            return Ok(Auth::Ssh { identity, known_hosts, password: text("password")? });
        }
        if let Some(token) = text("bearerToken")? {
            return Ok(Auth::Bearer(token));
        }
        match (text("username")?, text("password")?) {
            (Some(username), Some(password)) => Ok(Auth::Basic { username, password }),
            (Some(_), None) | (None, Some(_)) => Err(Error::Auth(format!(
                "secret {secret:?}: basic auth needs both \"username\" and \"password\""
            ))),
            (None, None) => Ok(Auth::None),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn data(pairs: &[(&str, &str)]) -> BTreeMap<String, Vec<u8>> {
        pairs.iter().map(|(k, v)| ((*k).into(), v.as_bytes().to_vec())).collect()
    }

    #[test]
    fn secret_keys_map_to_flux_auth_kinds() {
        let basic = Auth::from_secret("s", &data(&[("username", "u"), ("password", "p")])).unwrap();
        assert_eq!(basic, Auth::Basic { username: "u".into(), password: "p".into() });
        assert_eq!(
            Auth::from_secret("s", &data(&[("bearerToken", "t")])).unwrap(),
            Auth::Bearer("t".into())
        );
        let ssh =
            Auth::from_secret("s", &data(&[("identity", "k"), ("known_hosts", "h")])).unwrap();
        assert!(matches!(ssh, Auth::Ssh { .. }));
        assert_eq!(format!("{basic:?}"), "Auth::Basic(..)");
    }

    #[test]
    fn incomplete_secrets_name_the_missing_key() {
        let err = Auth::from_secret("creds", &data(&[("username", "u")])).unwrap_err();
        assert!(err.to_string().contains("creds") && err.to_string().contains("password"));
        let err = Auth::from_secret("creds", &data(&[("identity", "k")])).unwrap_err();
        assert!(err.to_string().contains("known_hosts"));
    }
}
