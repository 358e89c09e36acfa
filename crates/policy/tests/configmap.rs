//! ConfigMap checks: KSV0109 (secrets, through the `sightline.secrets` extension and the
//! secret rules of `sightline-secrets`) and KSV01010 (sensitive keys and content).

mod support;

use sightline_policy::parse_documents;

fn run(yaml: &str) -> Vec<(String, Vec<String>)> {
    let objs = parse_documents(yaml.as_bytes()).unwrap();
    support::engine()
        .evaluate(&objs[0].value)
        .into_iter()
        .map(|r| {
            assert!(
                !matches!(r.outcome, sightline_policy::engine::Outcome::Error(_)),
                "{}",
                r.outcome_message()
            );
            (
                r.check.id.clone(),
                r.failures().iter().map(|f| f.message.clone()).collect(),
            )
        })
        .collect()
}

#[test]
fn database_url_private_key_and_token_are_secrets() {
    let key_body =
        "MIIEowIBAAKCAQEAr0Bv5X0y5lKp8Q2vBxh1rYkqZ4uTtJ9cHwP3mN6sLdE2fGhIjKlMnOpQrStUvWxYz";
    let yaml = format!(
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: app-config\n  namespace: shop\ndata:\n  \
         DATABASE_URL: postgres://orders:Xk9fLw2pQz7vRt3m@db.shop.svc:5432/orders\n  \
         tls.key: |\n    -----BEGIN RSA PRIVATE KEY-----\n    {key_body}\n    {key_body}\n    -----END RSA PRIVATE KEY-----\n  \
         GITHUB_TOKEN: ghp_4Tq8Zr2Lm9Xw7Yv1Kp3Nb6Hs5Jd0Fc8Ga2Qe\n  \
         log_level: info\n"
    );
    let results = run(&yaml);
    let ksv0109 = &results.iter().find(|(id, _)| id == "KSV0109").unwrap().1;
    let keys: Vec<&str> = ["DATABASE_URL", "tls.key", "GITHUB_TOKEN"]
        .into_iter()
        .filter(|k| ksv0109.iter().any(|m| m.contains(&format!("key '{k}'"))))
        .collect();
    assert_eq!(
        keys,
        ["DATABASE_URL", "tls.key", "GITHUB_TOKEN"],
        "{ksv0109:?}"
    );
    assert!(!ksv0109.iter().any(|m| m.contains("log_level")));
    // The messages name the rule, never the secret.
    for m in ksv0109 {
        assert!(
            !m.contains("Xk9fLw2pQz7vRt3m") && !m.contains("ghp_4Tq8") && !m.contains(key_body),
            "{m}"
        );
    }
    let ksv01010 = &results.iter().find(|(id, _)| id == "KSV01010").unwrap().1;
    assert!(
        ksv01010.iter().any(|m| m.contains("GITHUB_TOKEN")),
        "{ksv01010:?}"
    );
}

#[test]
fn plain_configuration_passes() {
    let yaml =
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: app\ndata:\n  log_level: info\n  \
                feature_flags: \"a,b\"\n  nginx.conf: |\n    server { listen 8080; }\n  \
                password_file: ${PASSWORD_FILE}\n";
    let results = run(yaml);
    for id in ["KSV0109", "KSV01010"] {
        let f = &results.iter().find(|(i, _)| i == id).unwrap().1;
        assert!(f.is_empty(), "{id}: {f:?}");
    }
    // binaryData / no data at all: nothing to flag, no error.
    let results = run("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: empty\ndata: null\n");
    assert!(results.iter().all(|(_, f)| f.is_empty()));
}
