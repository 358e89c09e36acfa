//! Registry credentials: `--username/--password`, else a docker `config.json`.
//!
//! The bearer-token flow (`WWW-Authenticate: Bearer realm=...`) and basic auth are done by
//! `oci-client` with the credentials chosen here.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use base64::Engine as _;
use oci_client::secrets::RegistryAuth;
use serde::Deserialize;
use tracing::debug;

use crate::{ImageError, RegistryOptions};

/// The credentials for one registry and where they came from (for error hints). Its `Debug`
/// shows the kind of credentials and their source, never a secret.
#[derive(Clone)]
pub(crate) struct Credentials {
    pub auth: RegistryAuth,
    /// e.g. `--username/--password`, `docker config /root/.docker/config.json`, `none`.
    pub source: String,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let kind = match &self.auth {
            RegistryAuth::Anonymous => "anonymous",
            RegistryAuth::Basic(..) => "basic",
            RegistryAuth::Bearer(_) => "bearer",
        };
        f.debug_struct("Credentials")
            .field("auth", &kind)
            .field("source", &self.source)
            .finish()
    }
}

/// One `auths` entry. Never `Debug`: it holds secrets.
#[derive(Default, Deserialize)]
struct AuthEntry {
    #[serde(default)]
    auth: Option<String>,
    #[serde(default)]
    username: Option<String>,
    #[serde(default)]
    password: Option<String>,
    #[serde(default)]
    identitytoken: Option<String>,
    #[serde(default)]
    registrytoken: Option<String>,
}

/// What is wrong with a JSON document and where, without any of its content: serde_json's
/// messages quote the offending value ("invalid type: string \"...\""), which in a docker
/// config or a pull secret is a password or a token. Use it wherever a secret's JSON fails to
/// parse and the error may reach a log, an Event or a report.
pub fn describe_json_error(e: &serde_json::Error) -> String {
    use serde_json::error::Category;
    let message = e.to_string();
    // serde_json appends " at line L column C" when it knows the position.
    let bare = match message.rfind(" at line ") {
        Some(i) if e.line() > 0 => &message[..i],
        _ => message.as_str(),
    };
    let what = match e.classify() {
        Category::Io => "cannot be read".to_string(),
        // Syntax messages are fixed texts ("expected `,` or `}`", "trailing comma").
        Category::Syntax | Category::Eof if !bare.contains('"') => bare.to_string(),
        Category::Syntax => "invalid JSON syntax".to_string(),
        Category::Eof => "unexpected end of the document".to_string(),
        Category::Data => {
            // "invalid type: string \"<value>\", expected struct X": keep what was expected.
            let expected = message[..bare.len()]
                .rsplit_once(", expected ")
                .map(|(_, x)| x)
                .filter(|x| !x.contains('"'));
            match expected {
                Some(x) => format!("a value of the wrong type or form (expected {x})"),
                None => "a value of the wrong type or form".to_string(),
            }
        }
    };
    if e.line() > 0 {
        format!("{what} at line {} column {}", e.line(), e.column())
    } else {
        what
    }
}

/// Names under which a docker config may hold the credentials of `registry`.
fn candidate_keys(registry: &str) -> Vec<String> {
    let r = registry.to_ascii_lowercase();
    if matches!(
        r.as_str(),
        "docker.io" | "index.docker.io" | "registry-1.docker.io"
    ) {
        vec![
            "index.docker.io".into(),
            "docker.io".into(),
            "registry-1.docker.io".into(),
        ]
    } else {
        vec![r]
    }
}

/// `https://host:port/v1/` -> `host:port`.
fn normalize_key(key: &str) -> String {
    let k = key
        .trim()
        .trim_start_matches("https://")
        .trim_start_matches("http://");
    k.split('/').next().unwrap_or(k).to_ascii_lowercase()
}

/// The docker config file to use: `opts.docker_config`, else `$DOCKER_CONFIG/config.json`,
/// else `~/.docker/config.json`; `Ok(None)` when none of the defaults exists.
fn config_path(opts: &RegistryOptions) -> Option<PathBuf> {
    if let Some(p) = &opts.docker_config {
        return Some(p.clone());
    }
    if let Some(dir) = std::env::var_os("DOCKER_CONFIG").filter(|d| !d.is_empty()) {
        let p = Path::new(&dir).join("config.json");
        if p.exists() {
            return Some(p);
        }
    }
    let home = std::env::var_os("HOME").filter(|h| !h.is_empty())?;
    let p = Path::new(&home).join(".docker").join("config.json");
    p.exists().then_some(p)
}

/// Reads the credentials for `registry` (host[:port] as written in the reference).
pub(crate) fn resolve(registry: &str, opts: &RegistryOptions) -> Result<Credentials, ImageError> {
    if let Some(user) = &opts.username {
        return Ok(Credentials {
            auth: RegistryAuth::Basic(user.clone(), opts.password.clone().unwrap_or_default()),
            source: "--username/--password".into(),
        });
    }
    if opts.password.is_some() {
        debug!("a password without a username is ignored");
    }
    let Some(path) = config_path(opts) else {
        return Ok(Credentials {
            auth: RegistryAuth::Anonymous,
            source: "none (anonymous)".into(),
        });
    };
    from_docker_config(&path, registry)
}

/// Looks `registry` up in the docker config at `path`.
pub(crate) fn from_docker_config(path: &Path, registry: &str) -> Result<Credentials, ImageError> {
    let err = |reason: String| ImageError::DockerConfig {
        path: path.to_path_buf(),
        reason,
    };
    let text = std::fs::read(path).map_err(|e| err(format!("cannot read it: {e}")))?;
    // serde_json's messages may quote the input (a password): report what and where only.
    let value: serde_json::Value = serde_json::from_slice(&text)
        .map_err(|e| err(format!("not valid JSON: {}", describe_json_error(&e))))?;
    let obj = value
        .as_object()
        .ok_or_else(|| err("not a JSON object".into()))?;
    if obj.contains_key("credsStore") || obj.contains_key("credHelpers") {
        debug!(
            file = %path.display(),
            "credsStore/credHelpers in the docker config are ignored (no credential helpers are run)"
        );
    }
    // `{"auths": {...}}`, or the legacy `.dockercfg` shape with the hosts at the top level.
    let auths_value = match obj.get("auths") {
        Some(a) => a.clone(),
        None => serde_json::Value::Object(
            obj.iter()
                .filter(|(k, v)| {
                    !matches!(
                        k.as_str(),
                        "credsStore" | "credHelpers" | "HttpHeaders" | "psFormat"
                    ) && v.is_object()
                })
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect(),
        ),
    };
    let serde_json::Value::Object(auths_map) = auths_value else {
        return Err(err("unexpected \"auths\" shape: not a JSON object".into()));
    };
    let mut auths = BTreeMap::new();
    for (key, entry) in auths_map {
        let entry: AuthEntry = serde_json::from_value(entry).map_err(|e| {
            err(format!(
                "unexpected \"auths\" shape: auths.{key:?}: {}",
                describe_json_error(&e)
            ))
        })?;
        auths.insert(key, entry);
    }
    let source = format!("docker config {}", path.display());
    let candidates = candidate_keys(registry);
    let found = candidates.iter().find_map(|c| {
        auths
            .iter()
            .find(|(k, _)| normalize_key(k) == *c)
            .map(|(k, v)| (k.clone(), v))
    });
    let Some((key, entry)) = found else {
        debug!(registry, file = %path.display(), "no credentials for the registry in the docker config");
        return Ok(Credentials {
            auth: RegistryAuth::Anonymous,
            source: format!("none for {registry} in {source} (anonymous)"),
        });
    };
    if let Some(token) = entry.registrytoken.as_ref().filter(|t| !t.is_empty()) {
        return Ok(Credentials {
            auth: RegistryAuth::Bearer(token.clone()),
            source,
        });
    }
    if let Some(auth) = entry.auth.as_ref().filter(|a| !a.trim().is_empty()) {
        // base64's errors name the offending byte: a character of the secret.
        let decoded = base64::engine::general_purpose::STANDARD
            .decode(auth.trim())
            .map_err(|_| err(format!("auths.{key:?}.auth is not base64")))?;
        let decoded = String::from_utf8(decoded)
            .map_err(|_| err(format!("auths.{key:?}.auth is not UTF-8 once decoded")))?;
        let (user, pass) = decoded.split_once(':').ok_or_else(|| {
            err(format!(
                "auths.{key:?}.auth is not base64(\"user:password\")"
            ))
        })?;
        return Ok(Credentials {
            auth: RegistryAuth::Basic(user.to_string(), pass.to_string()),
            source,
        });
    }
    if let (Some(user), Some(pass)) = (&entry.username, &entry.password) {
        return Ok(Credentials {
            auth: RegistryAuth::Basic(user.clone(), pass.clone()),
            source,
        });
    }
    if entry.identitytoken.is_some() {
        debug!(registry, "identitytoken (OAuth2 refresh token) credentials are not supported; trying anonymously");
    }
    Ok(Credentials {
        auth: RegistryAuth::Anonymous,
        source: format!("none usable for {registry} in {source} (anonymous)"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
        let p = dir.join(name);
        std::fs::write(&p, text).unwrap();
        p
    }

    fn basic(c: &Credentials) -> (String, String) {
        match &c.auth {
            RegistryAuth::Basic(u, p) => (u.clone(), p.clone()),
            other => panic!("expected basic auth, got {other:?}"),
        }
    }

    #[test]
    fn docker_config_shapes() {
        let tmp = tempfile::tempdir().unwrap();
        let b64 = base64::engine::general_purpose::STANDARD.encode("u1:p:w");
        let p = write(
            tmp.path(),
            "c1.json",
            &format!(
                r#"{{"auths":{{"127.0.0.1:5001":{{"auth":"{b64}"}},
                "https://index.docker.io/v1/":{{"username":"hub","password":"hp"}},
                "https://quay.io":{{"registrytoken":"tok"}}}},
                "credsStore":"desktop","credHelpers":{{"gcr.io":"gcloud"}}}}"#
            ),
        );
        assert_eq!(
            basic(&from_docker_config(&p, "127.0.0.1:5001").unwrap()),
            ("u1".into(), "p:w".into())
        );
        assert_eq!(
            basic(&from_docker_config(&p, "docker.io").unwrap()),
            ("hub".into(), "hp".into())
        );
        assert!(matches!(
            from_docker_config(&p, "quay.io").unwrap().auth,
            RegistryAuth::Bearer(_)
        ));
        let none = from_docker_config(&p, "gcr.io").unwrap();
        assert!(matches!(none.auth, RegistryAuth::Anonymous));
        assert!(none.source.contains("gcr.io"));

        // Legacy .dockercfg shape.
        let p = write(
            tmp.path(),
            "c2.json",
            &format!(r#"{{"reg.example:443":{{"auth":"{b64}"}}}}"#),
        );
        assert_eq!(
            basic(&from_docker_config(&p, "reg.example:443").unwrap()).0,
            "u1"
        );
    }

    #[test]
    fn bad_docker_configs_name_the_file() {
        let tmp = tempfile::tempdir().unwrap();
        let cases = [
            ("bad1.json", "{not json"),
            ("bad2.json", r#"{"auths":{"r":{"auth":"%%%"}}}"#),
            ("bad3.json", r#"{"auths":{"r":{"auth":"bm9jb2xvbg=="}}}"#),
            ("bad4.json", r#"{"auths":[1]}"#),
        ];
        for (name, text) in cases {
            let p = write(tmp.path(), name, text);
            let e = from_docker_config(&p, "r").unwrap_err();
            assert!(matches!(e, ImageError::DockerConfig { .. }), "{name}: {e}");
            assert!(e.to_string().contains(name), "{e}");
        }
        let missing = tmp.path().join("missing.json");
        let opts = RegistryOptions {
            docker_config: Some(missing),
            ..Default::default()
        };
        let e = resolve("r", &opts).unwrap_err();
        assert!(e.to_string().contains("missing.json"), "{e}");
    }

    #[test]
    fn malformed_configs_do_not_echo_secrets() {
        let tmp = tempfile::tempdir().unwrap();
        let b64 = base64::engine::general_purpose::STANDARD.encode("u:hunter2-secret");
        let cases = [
            // A string where an entry object belongs (serde: "invalid type: string ...").
            r#"{"auths":{"r":"hunter2-secret"}}"#.to_string(),
            r#"{"auths":{"r":{"auth":["hunter2-secret"]}}}"#.to_string(),
            r#"{"auths":{"r":{"username":"u","password":7}},"x":"hunter2-secret"}"#.to_string(),
            r#"{"r":{"password":{"v":"hunter2-secret"}}}"#.to_string(),
            // Broken syntax right after the secret, and a truncated document.
            r#"{"auths":{"r":{"auth":"hunter2-secret" "x"}}}"#.to_string(),
            r#"{"auths":{"r":{"password":"hunter2-secret"#.to_string(),
            r#"{"auths":{"r":{"password":"hunter2-secret\q"}}}"#.to_string(),
            // base64 with an invalid character inside the secret.
            r#"{"auths":{"r":{"auth":"aHVudGVyMi1zZWNyZXQ%"}}}"#.to_string(),
            format!(r#"{{"auths":{{"r":{{"auth":"{b64}","password":false}}}}}}"#),
        ];
        for (i, text) in cases.iter().enumerate() {
            let p = write(tmp.path(), &format!("c{i}.json"), text);
            let e = from_docker_config(&p, "r").unwrap_err();
            let shown = format!("{e} {e:?}");
            assert!(!shown.contains("hunter2"), "case {i}: {shown}");
            assert!(!shown.contains("%"), "case {i}: {shown}");
            assert!(shown.contains(&format!("c{i}.json")), "case {i}: {shown}");
        }
        // What is wrong and where is still said.
        let p = write(
            tmp.path(),
            "where.json",
            r#"{"auths":{"r":"hunter2-secret"}}"#,
        );
        let e = from_docker_config(&p, "r").unwrap_err().to_string();
        assert!(e.contains("auths.\"r\"") && e.contains("expected"), "{e}");
        let p = write(
            tmp.path(),
            "syntax.json",
            "{\n\"auths\": {\"r\": hunter2-secret}}",
        );
        let e = from_docker_config(&p, "r").unwrap_err().to_string();
        assert!(e.contains("line 2 column"), "{e}");
    }

    #[test]
    fn credentials_debug_hides_secrets() {
        let c = Credentials {
            auth: RegistryAuth::Basic("u".into(), "hunter2-secret".into()),
            source: "test".into(),
        };
        assert!(!format!("{c:?}").contains("hunter2"));
        let c = Credentials {
            auth: RegistryAuth::Bearer("hunter2-secret".into()),
            source: "test".into(),
        };
        assert!(!format!("{c:?}").contains("hunter2"));
    }

    #[test]
    fn command_line_credentials_win() {
        let opts = RegistryOptions {
            username: Some("u".into()),
            password: Some("p".into()),
            docker_config: Some("/nonexistent/config.json".into()),
            ..Default::default()
        };
        let c = resolve("r", &opts).unwrap();
        assert_eq!(basic(&c), ("u".into(), "p".into()));
    }
}
