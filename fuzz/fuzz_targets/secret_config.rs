//! The secret-rule config YAML (`--secret-config`, Trivy's `trivy-secret.yaml` format) loaded
//! by `Scanner::from_yaml`; a scanner it yields then scans a sample and the bytes themselves.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sightline_secrets::Scanner;

const SAMPLE: &[u8] = b"export AWS_ACCESS_KEY_ID=AKIAIOSFODNN7EXAMPLE\n\
aws_secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY\n\
GITHUB_TOKEN=ghp_0123456789abcdefghijABCDEFGHIJ012345\n\
password: hunter2hunter2\n";

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let Ok(scanner) = Scanner::from_yaml(&text, "fuzz") else {
        return;
    };
    let _ = scanner.rules().count();
    for (path, content) in [("app/.env", SAMPLE), ("etc/fuzz.conf", data)] {
        if scanner.wants(path, content.len() as u64) {
            let _ = scanner.scan(path, content);
            let _ = scanner.mask(path, content);
        }
    }
});
