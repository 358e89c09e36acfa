//! `sightline scan-job`: the one line a scan Job prints, decoded as the operator will.

mod support;

use sightline_scan::job_result::{decode, FailureReason, ResultError};
use support::*;

#[test]
fn prints_one_decodable_result_line() {
    let Some(env) = env() else { return };
    let image = format!("{}/private/app:1", env.auth_registry);
    let cfg = env.docker_config.to_str().unwrap();
    let run = sightline(&["scan-job", "--docker-config", cfg, &image]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(run.stdout.lines().count(), 1, "exactly one line on stdout");
    // The operator reads stdout and stderr interleaved from the Pod log.
    let log = format!("{}\n{}", run.stderr, run.stdout);
    let scan = decode(&log).unwrap();
    assert_eq!(scan.artifact_name, image);
    assert_eq!(scan.inventory.os.as_ref().unwrap().name, "12.15");
    assert_eq!(
        scan.inventory.os_packages.len(),
        88,
        "app = bookworm-minbase + language packages"
    );
    let secrets = scan.secrets.expect("secret scanning is on by default");
    let targets: Vec<&str> = secrets.iter().map(|r| r.target.as_str()).collect();
    assert!(
        targets.iter().any(|t| t.ends_with("opt/app/config/.env")),
        "{targets:?}"
    );
    assert!(
        !run.stdout.contains("Pr0d-S3cret-pw"),
        "the raw DB password never leaves the scanner"
    );

    let run = sightline(&["scan-job", "--no-secrets", "--docker-config", cfg, &image]);
    assert!(decode(&run.stdout).unwrap().secrets.is_none());
}

#[test]
fn failures_are_one_classified_line_and_exit_1() {
    let Some(env) = env() else { return };
    let run = sightline(&["scan-job", &format!("{}/private/app:1", env.auth_registry)]);
    assert_eq!(run.code, 1);
    match decode(&run.stdout) {
        Err(ResultError::ScanFailed { reason, message }) => {
            assert_eq!(reason, FailureReason::Auth);
            assert!(message.contains(&env.auth_registry), "{message}");
        }
        other => panic!("expected a failure line, got {other:?}"),
    }
    let run = sightline(&[
        "scan-job",
        &format!("{}/library/debian:no-such-tag", env.registry),
    ]);
    assert!(matches!(
        decode(&run.stdout),
        Err(ResultError::ScanFailed {
            reason: FailureReason::NotFound,
            ..
        })
    ));
    let run = sightline(&["scan-job", "--timeout", "3s", "127.0.0.1:9/x/y:1"]);
    assert!(matches!(
        decode(&run.stdout),
        Err(ResultError::ScanFailed {
            reason: FailureReason::Registry,
            ..
        })
    ));
}
