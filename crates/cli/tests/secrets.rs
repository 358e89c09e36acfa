//! End-to-end secret scanning through the binary: the planted secrets of the real `app`
//! image (expected values derived independently: umoci unpack, GNU tar, skopeo, Python's
//! json), files deleted by later layers, the image config, `--secret-config`, and hostile
//! input (binary, invalid UTF-8, a 1 GiB sparse file, a 1 GiB streamed entry, a 50 MB line)
//! under bounded memory and time.

mod support;

use std::collections::BTreeSet;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use serde_json::json;
use sightline_image::test_support::{
    zero_filled_tar, LayerRef, OciLayoutWriter, TarBuilder, TestLayer, LAYER_TAR,
};
use support::*;

type Row = (String, String, u64, u64, String, String);

fn run_ok(cmd: &mut Command) -> String {
    let out = cmd.output().unwrap_or_else(|e| panic!("{cmd:?}: {e}"));
    assert!(
        out.status.success(),
        "{cmd:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// Index, blob digest and diff_id of the layer of `layout:tag` whose tar holds `path`
/// (GNU tar's listing of the layout's blobs; diff_ids from skopeo).
fn layer_holding(layout: &Path, tag: &str, path: &str) -> (usize, String, String) {
    let manifest: serde_json::Value = serde_json::from_str(&run_ok(Command::new("skopeo").args([
        "inspect",
        "--raw",
        &format!("oci:{}:{tag}", layout.display()),
    ])))
    .unwrap();
    let config: serde_json::Value = serde_json::from_str(&run_ok(Command::new("skopeo").args([
        "inspect",
        "--raw",
        "--config",
        &format!("oci:{}:{tag}", layout.display()),
    ])))
    .unwrap();
    for (i, l) in manifest["layers"].as_array().unwrap().iter().enumerate() {
        let digest = l["digest"].as_str().unwrap();
        let blob = layout.join("blobs").join(digest.replace(':', "/"));
        let list = run_ok(Command::new("tar").arg("-tzf").arg(&blob));
        if list
            .lines()
            .any(|n| n.trim_start_matches("./").trim_start_matches('/') == path)
        {
            let diff_id = config["rootfs"]["diff_ids"][i]
                .as_str()
                .unwrap()
                .to_string();
            return (i, digest.to_string(), diff_id);
        }
    }
    panic!("no layer of {tag} holds {path}");
}

/// The image config as Python's json renders it with sorted keys and 2-space indent (the
/// rendering whose lines the report numbers).
fn python_pretty(config_json: &str) -> String {
    let out = Command::new("python3")
        .args([
            "-c",
            "import json,sys; print(json.dumps(json.load(sys.stdin), indent=2, sort_keys=True))",
        ])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .and_then(|mut c| {
            use std::io::Write;
            c.stdin.take().unwrap().write_all(config_json.as_bytes())?;
            c.wait_with_output()
        })
        .expect("python3");
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn app_image_reports_exactly_the_planted_secrets_masked() {
    let Some(env) = env() else { return };
    let image = format!("{}/sightline-test/app:1", env.registry);
    let unpacked = umoci_unpack(&env.oci_layout, "app");
    let rootfs = unpacked.path().join("bundle/rootfs");
    let (_, digest, diff_id) = layer_holding(&env.oci_layout, "app", "opt/app/config/.env");
    let mut raw_secrets: Vec<String> = Vec::new();
    let mut expected: BTreeSet<Row> = BTreeSet::new();

    // .env: KEY=VALUE lines, the value masked with as many stars.
    let dotenv = std::fs::read_to_string(rootfs.join("opt/app/config/.env")).unwrap();
    for (i, line) in dotenv.lines().enumerate() {
        let (k, v) = line.split_once('=').unwrap();
        let rule = match k {
            "AWS_ACCESS_KEY_ID" => "aws-access-key-id",
            "AWS_SECRET_ACCESS_KEY" => "aws-secret-access-key",
            "GITHUB_TOKEN" => "github-pat",
            other => panic!("unexpected planted key {other}"),
        };
        raw_secrets.push(v.to_string());
        let n = i as u64 + 1;
        expected.insert((
            "/opt/app/config/.env".into(),
            rule.into(),
            n,
            n,
            format!("{k}={}", "*".repeat(v.len())),
            diff_id.clone(),
        ));
    }
    // The PEM key: the whole block, Match = its BEGIN line.
    let pem = std::fs::read_to_string(rootfs.join("opt/app/config/deploy-key.pem")).unwrap();
    let pem_lines: Vec<&str> = pem.lines().collect();
    let rule = match pem_lines[0] {
        "-----BEGIN PRIVATE KEY-----" => "private-key-pkcs8",
        "-----BEGIN RSA PRIVATE KEY-----" => "private-key-rsa",
        other => panic!("unexpected PEM header {other}"),
    };
    raw_secrets.extend(
        pem_lines[1..pem_lines.len() - 1]
            .iter()
            .map(|l| l.to_string()),
    );
    expected.insert((
        "/opt/app/config/deploy-key.pem".into(),
        rule.into(),
        1,
        pem_lines.len() as u64,
        pem_lines[0].into(),
        diff_id.clone(),
    ));
    // The DB URL in the config's Env: Target = the image, no layer, line of the rendering.
    let config_json = run_ok(Command::new("skopeo").args([
        "inspect",
        "--raw",
        "--config",
        &format!("oci:{}:app", env.oci_layout.display()),
    ]));
    let pretty = python_pretty(&config_json);
    let (n, line) = pretty
        .lines()
        .enumerate()
        .find(|(_, l)| l.contains("DATABASE_URL="))
        .expect("DATABASE_URL in the config");
    let password = line
        .split("postgres://")
        .nth(1)
        .and_then(|rest| rest.split('@').next())
        .and_then(|userinfo| userinfo.split_once(':'))
        .map(|(_, pw)| pw.to_string())
        .unwrap();
    raw_secrets.push(password.clone());
    expected.insert((
        image.clone(),
        "postgres-url-password".into(),
        n as u64 + 1,
        n as u64 + 1,
        line.replace(&password, &"*".repeat(password.len())),
        String::new(),
    ));

    let run = scan_secrets(&[&image]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let report = run.json();
    let actual: BTreeSet<Row> = secrets_of(&report).into_iter().collect();
    assert_eq!(
        actual, expected,
        "exactly the planted secrets: nothing from the ~10k Debian, Python, npm, Java and Go files"
    );
    // Layer digests and history, Trivy's field names.
    for r in report["Results"].as_array().unwrap() {
        assert_eq!(r["Class"], "secret");
        for s in r["Secrets"].as_array().unwrap() {
            if r["Target"] == image.as_str() {
                assert!(
                    s.get("Layer").is_none(),
                    "config findings have no layer: {s}"
                );
            } else {
                assert_eq!(s["Layer"]["Digest"], digest.as_str());
                assert_eq!(s["Layer"]["CreatedBy"], "umoci repack");
            }
            assert!(s["Code"]["Lines"].as_array().is_some_and(|l| !l.is_empty()));
            assert!(["CRITICAL", "HIGH"].contains(&s["Severity"].as_str().unwrap()));
        }
    }
    assert!(
        report["Metadata"]["OS"].is_null(),
        "--scanners secret builds no inventory"
    );
    for raw in &raw_secrets {
        assert!(
            !run.stdout.contains(raw.as_str()) && !run.stderr.contains(raw.as_str()),
            "a raw secret leaked into the output"
        );
    }

    // Table output: masked too; --exit-code counts secrets.
    let t = sightline(&["image", "--scanners", "secret", "--exit-code", "3", &image]);
    assert_eq!(t.code, 3, "{}", t.stderr);
    assert!(
        t.stdout.contains("/opt/app/config/.env (secrets)"),
        "{}",
        t.stdout
    );
    assert!(t.stdout.contains("CRITICAL: GitHub (github-pat)"));
    assert!(t.stdout.contains(&format!("{image} (secrets)")));
    for raw in &raw_secrets {
        assert!(
            !t.stdout.contains(raw.as_str()),
            "a raw secret leaked into the table"
        );
    }
}

#[test]
fn scanners_vuln_is_the_previous_behaviour_and_the_default_adds_secrets() {
    let Some(env) = env() else { return };
    let image = format!("{}/sightline-test/app:1", env.registry);
    let vuln_only = scan_json(&["--scanners", "vuln", &image]);
    assert_eq!(vuln_only.code, 0, "{}", vuln_only.stderr);
    let both = scan_json(&[&image]);
    assert_eq!(both.code, 0, "{}", both.stderr);
    let (v, b) = (vuln_only.json(), both.json());
    assert!(secrets_of(&v).is_empty());
    assert_eq!(
        findings(&v),
        findings(&b),
        "the vulnerability findings are unchanged"
    );
    assert!(!findings(&v).is_empty());
    assert_eq!(v["Results"].as_array().unwrap().len(), 1);
    assert_eq!(
        b["Results"][0]["Class"], "os-pkgs",
        "OS result first, then secrets"
    );
    assert_eq!(secrets_of(&b).len(), 5);
    let bad = sightline(&[
        "image",
        "--scanners",
        "vuln",
        "--secret-config",
        "/dev/null",
        &image,
    ]);
    assert_eq!(bad.code, 1);
    assert!(
        bad.stderr
            .contains("--secret-config needs the secret scanner"),
        "{}",
        bad.stderr
    );
}

const TOKEN_A: &str = "ghp_AAAAbbbbCCCCdddd1111222233334444eeee";
const TOKEN_B: &str = "ghp_ZZZZyyyyXXXXwwww9999888877776666vvvv";

fn layout_arg(dir: &Path, tag: &str) -> String {
    format!("oci:{}:{tag}", dir.display())
}

#[test]
fn files_deleted_or_replaced_later_are_reported_with_their_layer() {
    let tmp = tempfile::tempdir().unwrap();
    let mut w = OciLayoutWriter::create(tmp.path()).unwrap();
    let l0 = TestLayer::gzip(
        &TarBuilder::new()
            .file("opt/app/deleted.env", format!("# old\nTOKEN={TOKEN_A}\n"))
            .file("opt/app/same.env", format!("TOKEN={TOKEN_A}\n"))
            .file("opt/app/changed.env", format!("TOKEN={TOKEN_A}\n"))
            .file("opt/app/dir/inner.env", format!("TOKEN={TOKEN_A}\n"))
            .build(),
    );
    let l1 = TestLayer::gzip(
        &TarBuilder::new()
            .whiteout("opt/app/deleted.env")
            .file("opt/app/same.env", format!("TOKEN={TOKEN_A}\n"))
            .file("opt/app/changed.env", format!("TOKEN={TOKEN_B}\n"))
            .build(),
    );
    let l2 = TestLayer::gzip(&TarBuilder::new().opaque("opt/app/dir").build());
    let img = w.add_image("t", &[l0, l1, l2]).unwrap();
    let run = scan_secrets(&["--input", &layout_arg(tmp.path(), "t")]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let report = run.json();
    let got: BTreeSet<(String, u64, String, String)> = secrets_of(&report)
        .into_iter()
        .map(|(t, _, l, _, _, d)| (t, l, d, String::new()))
        .collect();
    let (d0, d1) = (img.diff_ids[0].clone(), img.diff_ids[1].clone());
    let want: BTreeSet<(String, u64, String, String)> = [
        ("/opt/app/changed.env", 1, &d0),
        ("/opt/app/changed.env", 1, &d1),
        ("/opt/app/deleted.env", 2, &d0),
        ("/opt/app/dir/inner.env", 1, &d0),
        ("/opt/app/same.env", 1, &d0),
    ]
    .into_iter()
    .map(|(t, l, d)| (t.to_string(), l, d.clone(), String::new()))
    .collect();
    assert_eq!(
        got, want,
        "deleted files keep their layer; an unchanged copy in a later layer is reported once"
    );
    let deleted = report["Results"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["Target"] == "/opt/app/deleted.env")
        .unwrap();
    assert_eq!(
        deleted["Secrets"][0]["Layer"]["Digest"],
        img.layer_digests[0].as_str()
    );
    assert_eq!(
        deleted["Secrets"][0]["Match"],
        format!("TOKEN={}", "*".repeat(40))
    );
    assert!(!run.stdout.contains(TOKEN_A) && !run.stdout.contains(TOKEN_B));
}

#[test]
fn image_config_env_cmd_entrypoint_labels_and_history_are_scanned() {
    let tmp = tempfile::tempdir().unwrap();
    let mut w = OciLayoutWriter::create(tmp.path()).unwrap();
    let layer = w
        .store_layer(&TestLayer::gzip(
            &TarBuilder::new().file("etc/hostname", "x\n").build(),
        ))
        .unwrap();
    let aws = "AKIAZ7VWXYZ234567ABC";
    let slack = "xoxb-123456789012-1234567890123-AbCdEfGhIjKlMnOpQrStUvWx";
    let glpat = "glpat-Ab3dEf6hIj9lMn2pQr5t";
    let stripe = "sk_live_4eC39HqLyjWDarjtT1zdp7dc";
    let config = json!({
        "config": {
            "Env": ["PATH=/usr/bin", format!("GITHUB_TOKEN={TOKEN_A}")],
            "Entrypoint": ["/app", "--gitlab-token", glpat],
            "Cmd": ["--stripe", stripe],
            "Labels": {"ops.slack": slack},
        },
        "history": [{"created_by": format!("/bin/sh -c export AWS_ACCESS_KEY_ID={aws} && make")}],
    });
    w.add_image_refs("c", &[layer], config).unwrap();
    let run = scan_secrets(&["--input", &layout_arg(tmp.path(), "c")]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let report = run.json();
    let name = report["ArtifactName"].as_str().unwrap().to_string();
    let rules: BTreeSet<(String, String)> = secrets_of(&report)
        .into_iter()
        .map(|(t, r, ..)| (t, r))
        .collect();
    let want: BTreeSet<(String, String)> = [
        "aws-access-key-id",
        "github-pat",
        "gitlab-pat",
        "slack-bot-token",
        "stripe-secret-key",
    ]
    .into_iter()
    .map(|r| (name.clone(), r.to_string()))
    .collect();
    assert_eq!(rules, want, "{}", run.stdout);
    for raw in [aws, slack, glpat, stripe, TOKEN_A] {
        assert!(!run.stdout.contains(raw), "{raw} leaked");
    }
}

#[test]
fn secret_config_adds_rules_disables_and_allows() {
    let tmp = tempfile::tempdir().unwrap();
    let mut w = OciLayoutWriter::create(&tmp.path().join("l")).unwrap();
    let acme = "acme_0123456789abcdefghij0123456789ab";
    w.add_image(
        "t",
        &[TestLayer::gzip(
            &TarBuilder::new()
                .file("srv/app/.env", format!("ACME={acme}\nGH={TOKEN_A}\n"))
                .file("srv/fixtures/.env", format!("ACME={acme}\n"))
                .build(),
        )],
    )
    .unwrap();
    let cfg = tmp.path().join("secret.yaml");
    std::fs::write(
        &cfg,
        r#"rules:
  - id: acme-token
    category: ACME
    title: ACME internal token
    severity: MEDIUM
    regex: '\b(?P<secret>acme_[a-z0-9]{32})\b'
    keywords: [acme_]
disable-rules: [github-pat]
allow-rules:
  - id: fixtures
    path: '^srv/fixtures/'
"#,
    )
    .unwrap();
    let l = layout_arg(&tmp.path().join("l"), "t");
    let run = scan_secrets(&["--input", &l, "--secret-config", cfg.to_str().unwrap()]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let got: Vec<(String, String, u64)> = secrets_of(&run.json())
        .into_iter()
        .map(|(t, r, s, ..)| (t, r, s))
        .collect();
    assert_eq!(
        got,
        vec![("/srv/app/.env".to_string(), "acme-token".to_string(), 1)]
    );
    // Severity filters apply to secrets.
    let high = scan_secrets(&[
        "--input",
        &l,
        "--secret-config",
        cfg.to_str().unwrap(),
        "--severity",
        "HIGH,CRITICAL",
    ]);
    assert!(secrets_of(&high.json()).is_empty());
    // A broken config is a clear error naming the file.
    std::fs::write(&cfg, "rules:\n  - id: x\n    category: c\n    title: t\n    severity: HIGH\n    regex: 'no group'\n").unwrap();
    let bad = scan_secrets(&["--input", &l, "--secret-config", cfg.to_str().unwrap()]);
    assert_eq!(bad.code, 1);
    assert!(
        bad.stderr.contains("secret.yaml") && bad.stderr.contains("secret"),
        "{}",
        bad.stderr
    );
    assert!(bad.stdout.is_empty());
}

/// `sightline image --scanners secret --format json ARGS` run in `dir`.
fn scan_secrets_in(dir: &Path, extra: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_sightline"))
        .args(["image", "--scanners", "secret", "--format", "json"])
        .args(extra)
        .current_dir(dir)
        .env_remove("DOCKER_CONFIG")
        .env("HOME", "/nonexistent-home-for-tests")
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn trivy_secret_yaml_in_the_working_directory_is_the_default_config() {
    let tmp = tempfile::tempdir().unwrap();
    let mut w = OciLayoutWriter::create(&tmp.path().join("l")).unwrap();
    let acme = "acme_0123456789abcdefghij0123456789ab";
    w.add_image(
        "t",
        &[TestLayer::gzip(
            &TarBuilder::new()
                .file("srv/app/.env", format!("ACME={acme}\nGH={TOKEN_A}\n"))
                .build(),
        )],
    )
    .unwrap();
    let l = layout_arg(&tmp.path().join("l"), "t");
    let rules_of = |stdout: &str| -> Vec<String> {
        secrets_of(&serde_json::from_str(stdout).unwrap())
            .into_iter()
            .map(|(_, rule, ..)| rule)
            .collect()
    };
    // No trivy-secret.yaml here: the built-in rules, silently.
    let bare = tmp.path().join("bare");
    std::fs::create_dir(&bare).unwrap();
    let (code, stdout, stderr) = scan_secrets_in(&bare, &["--input", &l]);
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(rules_of(&stdout), ["github-pat"]);
    // trivy-secret.yaml in the working directory is read without --secret-config.
    let with = tmp.path().join("with");
    std::fs::create_dir(&with).unwrap();
    std::fs::write(
        with.join("trivy-secret.yaml"),
        "rules:\n  - id: acme-token\n    category: ACME\n    title: ACME token\n    severity: HIGH\n    regex: '\\b(?P<secret>acme_[a-z0-9]{32})\\b'\n    keywords: [acme_]\ndisable-rules: [github-pat]\n",
    )
    .unwrap();
    let (code, stdout, stderr) = scan_secrets_in(&with, &["--input", &l]);
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(rules_of(&stdout), ["acme-token"]);
    assert!(stderr.contains("trivy-secret.yaml"), "{stderr}");
    // --secret-config wins over it.
    let other = tmp.path().join("other.yaml");
    std::fs::write(&other, "disable-rules: [aws-access-key-id]\n").unwrap();
    let (code, stdout, stderr) = scan_secrets_in(
        &with,
        &["--input", &l, "--secret-config", other.to_str().unwrap()],
    );
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(rules_of(&stdout), ["github-pat"]);
    // A broken default file is an error naming it, as an explicit one is.
    std::fs::write(with.join("trivy-secret.yaml"), "rules: [{id: x}]\n").unwrap();
    let (code, stdout, stderr) = scan_secrets_in(&with, &["--input", &l]);
    assert_eq!(code, 1, "{stderr}");
    assert!(stderr.contains("trivy-secret.yaml"), "{stderr}");
    assert!(stdout.is_empty());
    // A missing file named explicitly is an error.
    let (code, _, stderr) = scan_secrets_in(
        &bare,
        &["--input", &l, "--secret-config", "trivy-secret.yaml"],
    );
    assert_eq!(code, 1, "{stderr}");
    assert!(stderr.contains("trivy-secret.yaml"), "{stderr}");
}

/// An uncompressed layer of one regular file of `size` zero bytes, streamed into the layout
/// (never in memory, a hole on disk).
fn zero_entry_layer(w: &OciLayoutWriter, path: &str, size: u64) -> LayerRef {
    let (digest, blob_size) = w
        .write_blob_from_reader(zero_filled_tar(path, size))
        .unwrap();
    LayerRef {
        diff_id: digest.clone(),
        digest,
        size: blob_size,
        media_type: LAYER_TAR.into(),
    }
}

#[test]
fn hostile_content_is_bounded_in_memory_and_time() {
    const GIB: u64 = 1 << 30;
    let tmp = tempfile::tempdir().unwrap();
    let mut w = OciLayoutWriter::create(&tmp.path().join("l")).unwrap();
    let mut binary = b"\x7fELF\x02\x01\x01\x00".to_vec();
    binary.extend_from_slice(format!("TOKEN={TOKEN_A}\n").as_bytes());
    let mut junk: Vec<u8> = (0..6000u32).map(|i| 0x80 | (i % 64) as u8).collect();
    junk.extend_from_slice(format!("\nTOKEN={TOKEN_A}\n").as_bytes());
    let mut latin1 = b"caf\xe9 cr\xe8me\n".repeat(100);
    latin1.extend_from_slice(format!("TOKEN={TOKEN_B}\n").as_bytes());
    // One 50 MB line with a token in the middle.
    let mut long = vec![b'x'; 25_000_000];
    long.extend_from_slice(format!(" TOKEN={TOKEN_B} ").as_bytes());
    long.extend(std::iter::repeat_n(b'y', 25_000_000));
    long.push(b'\n');
    let small = TestLayer::gzip(
        &TarBuilder::new()
            .file("opt/bin/tool", &binary)
            .file("opt/data/junk.dat", &junk)
            .file("opt/doc/latin1.txt", &latin1)
            .sparse_file(
                "opt/data/sparse.img",
                GIB,
                format!("TOKEN={TOKEN_A}\n").as_bytes(),
            )
            .build(),
    );
    let long_layer = TestLayer::gzip(&TarBuilder::new().file("opt/data/long.js", &long).build());
    let refs = vec![
        w.store_layer(&small).unwrap(),
        zero_entry_layer(&w, "opt/data/zeros.bin", GIB),
        w.store_layer(&long_layer).unwrap(),
    ];
    drop(long);
    w.add_image_refs("h", &refs, json!({})).unwrap();
    let l = layout_arg(&tmp.path().join("l"), "h");

    // Default cap (10 MiB): the 1 GiB entries and the 50 MB line are skipped unread.
    let m = sightline_measured(&[
        "image",
        "--scanners",
        "secret",
        "--format",
        "json",
        "--input",
        &l,
    ]);
    assert_eq!(m.run.code, 0, "{}", m.run.stderr);
    let got: Vec<(String, u64)> = secrets_of(&m.run.json())
        .into_iter()
        .map(|(t, _, s, ..)| (t, s))
        .collect();
    assert_eq!(
        got,
        vec![("/opt/doc/latin1.txt".to_string(), 101)],
        "binary and invalid-UTF-8-heavy files are skipped; Latin-1 text is scanned"
    );
    eprintln!("default cap: peak RSS {} KiB, {:?}", m.max_rss_kib, m.wall);
    assert!(m.max_rss_kib < 64 * 1024, "peak RSS {} KiB", m.max_rss_kib);
    assert!(m.wall < Duration::from_secs(120), "{:?}", m.wall);

    // Cap raised to 64 MiB: the 50 MB line is scanned, its Match cut around the token.
    let cfg = tmp.path().join("big.yaml");
    std::fs::write(&cfg, "max-file-size: 64MiB\n").unwrap();
    let m = sightline_measured(&[
        "image",
        "--scanners",
        "secret",
        "--format",
        "json",
        "--input",
        &l,
        "--secret-config",
        cfg.to_str().unwrap(),
    ]);
    assert_eq!(m.run.code, 0, "{}", m.run.stderr);
    let report = m.run.json();
    let long_hit = report["Results"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["Target"] == "/opt/data/long.js")
        .expect("the token in the 50 MB line");
    let matched = long_hit["Secrets"][0]["Match"].as_str().unwrap();
    assert!(matched.len() < 300, "Match is {} bytes", matched.len());
    assert!(
        matched.contains(&format!("TOKEN={}", "*".repeat(40))),
        "{matched}"
    );
    assert!(m.run.stdout.len() < 64 << 10, "the report stays small");
    assert!(!m.run.stdout.contains(TOKEN_A) && !m.run.stdout.contains(TOKEN_B));
    eprintln!("64 MiB cap: peak RSS {} KiB, {:?}", m.max_rss_kib, m.wall);
    assert!(m.max_rss_kib < 200 * 1024, "peak RSS {} KiB", m.max_rss_kib);
    assert!(m.wall < Duration::from_secs(180), "{:?}", m.wall);
}
