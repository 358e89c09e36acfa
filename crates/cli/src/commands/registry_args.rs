//! Registry access options shared by every command that talks to a registry (image pulls
//! and DB downloads use the same auth, TLS and timeout settings).

use std::path::PathBuf;
use std::time::Duration;

use clap::Args;
use sightline_image::{Platform, RegistryOptions};

/// `--insecure`, `--username/--password`, `--docker-config`, `--timeout`.
#[derive(Args, Debug, Clone)]
pub struct RegistryArgs {
    /// Use plain http (or https without certificate checks) for non-loopback registries
    /// (loopback registries always use http).
    #[arg(long)]
    pub insecure: bool,
    /// A registry (`host[:port]`) to reach over plain http; repeatable.
    #[arg(long = "insecure-registry", value_name = "HOST[:PORT]")]
    pub insecure_registries: Vec<String>,
    /// Registry user name (basic auth / token flow).
    #[arg(long, env = "SIGHTLINE_USERNAME", requires = "password")]
    pub username: Option<String>,
    /// Registry password.
    #[arg(
        long,
        env = "SIGHTLINE_PASSWORD",
        hide_env_values = true,
        requires = "username"
    )]
    pub password: Option<String>,
    /// Docker config.json with registry credentials (default: $DOCKER_CONFIG/config.json,
    /// then ~/.docker/config.json). The format of a kubernetes.io/dockerconfigjson Secret.
    #[arg(long, value_name = "FILE")]
    pub docker_config: Option<PathBuf>,
    /// Timeout of each registry request, e.g. 30s, 2m.
    #[arg(long, default_value = "60s", value_parser = parse_duration)]
    pub timeout: Duration,
}

impl RegistryArgs {
    /// The registry options for `platform`.
    pub fn options(&self, platform: Platform) -> RegistryOptions {
        RegistryOptions {
            insecure: self.insecure,
            insecure_registries: self.insecure_registries.clone(),
            username: self.username.clone(),
            password: self.password.clone(),
            docker_config: self.docker_config.clone(),
            platform,
            timeout: Some(self.timeout),
            limits: Default::default(),
        }
    }
}

/// `$XDG_CACHE_HOME/sightline`, else `~/.cache/sightline`.
pub fn default_cache_dir() -> PathBuf {
    if let Some(x) = std::env::var_os("XDG_CACHE_HOME").filter(|v| !v.is_empty()) {
        return PathBuf::from(x).join("sightline");
    }
    let home = std::env::var_os("HOME")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("."));
    home.join(".cache").join("sightline")
}

/// Parses `90`, `90s`, `5m`, `1h`, `500ms`.
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let s = s.trim();
    let split = s
        .find(|c: char| !c.is_ascii_digit() && c != '.')
        .unwrap_or(s.len());
    let (num, unit) = s.split_at(split);
    let n: f64 = num
        .parse()
        .map_err(|_| format!("invalid duration {s:?} (e.g. 30s, 2m)"))?;
    let secs = match unit {
        "" | "s" => n,
        "ms" => n / 1000.0,
        "m" => n * 60.0,
        "h" => n * 3600.0,
        _ => {
            return Err(format!(
                "invalid duration unit in {s:?} (use ms, s, m or h)"
            ))
        }
    };
    if secs <= 0.0 {
        return Err(format!("duration must be positive: {s:?}"));
    }
    if !secs.is_finite() || secs > MAX_DURATION_SECS {
        return Err(format!(
            "duration out of range: {s:?} (accepted: more than 0 and at most {MAX_DURATION_SECS}s, about 2562047h)"
        ));
    }
    Duration::try_from_secs_f64(secs).map_err(|e| format!("invalid duration {s:?}: {e}"))
}

/// The largest duration accepted (as Go's `time.Duration`: `i64::MAX` nanoseconds, in whole
/// seconds): far beyond any real timeout, and small enough that adding it to an `Instant`
/// cannot overflow.
pub const MAX_DURATION_SECS: f64 = 9_223_372_036.0;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("30s").unwrap(), Duration::from_secs(30));
        assert_eq!(parse_duration("2m").unwrap(), Duration::from_secs(120));
        assert_eq!(parse_duration("250ms").unwrap(), Duration::from_millis(250));
        assert_eq!(parse_duration("5").unwrap(), Duration::from_secs(5));
        assert!(parse_duration("5 parsecs").is_err());
        assert!(parse_duration("0s").is_err());
        assert_eq!(
            parse_duration("2562047h").unwrap(),
            Duration::from_secs(2_562_047 * 3600)
        );
        for overflowing in ["99999999999999999999999h", "9223372037", &"9".repeat(400)] {
            let e = parse_duration(overflowing).unwrap_err();
            assert!(e.contains("out of range"), "{overflowing}: {e}");
        }
    }
}
