//! `--max-*` flags: the bounds on what an untrusted image may make a scan hold
//! ([`sightline_image::Limits`]), shared by `sightline image` and `sightline scan-job`.

use clap::Args;
use sightline_image::Limits;

/// Bounds on one image scan; each error that hits one names the flag to raise.
#[derive(Args, Debug, Clone)]
pub struct LimitArgs {
    /// Largest file kept for the package analyzers (e.g. var/lib/dpkg/status), e.g. 256MiB.
    #[arg(long, default_value = "256MiB", value_name = "SIZE", value_parser = parse_size)]
    pub max_file_size: u64,
    /// Most bytes kept for the analyzers over the whole image (hard links count once).
    #[arg(long, default_value = "1GiB", value_name = "SIZE", value_parser = parse_size)]
    pub max_kept_bytes: u64,
    /// Most tar entries in one layer.
    #[arg(long, default_value_t = Limits::default().max_layer_entries, value_name = "N")]
    pub max_layer_entries: u64,
    /// Most layers in one image.
    #[arg(long, default_value_t = Limits::default().max_layers, value_name = "N")]
    pub max_layers: usize,
    /// Largest image config blob.
    #[arg(long, default_value = "16MiB", value_name = "SIZE", value_parser = parse_size)]
    pub max_config_size: u64,
}

impl LimitArgs {
    /// The limits these flags set.
    pub fn limits(&self) -> Limits {
        Limits {
            max_file_size: self.max_file_size,
            max_kept_bytes: self.max_kept_bytes,
            max_layer_entries: self.max_layer_entries,
            max_layers: self.max_layers,
            max_config_size: self.max_config_size,
        }
    }
}

/// Parses a byte size: `1048576`, `512KiB`, `256MiB`, `1GiB` (also `K`/`M`/`G`/`T`, `KB`...,
/// all powers of 1024).
pub fn parse_size(s: &str) -> Result<u64, String> {
    let t = s.trim();
    let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let n: u64 = num
        .parse()
        .map_err(|_| format!("invalid size {s:?} (e.g. 256MiB, 1GiB, 1048576)"))?;
    let shift = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 0,
        "k" | "kb" | "kib" => 10,
        "m" | "mb" | "mib" => 20,
        "g" | "gb" | "gib" => 30,
        "t" | "tb" | "tib" => 40,
        other => {
            return Err(format!(
                "invalid size unit {other:?} in {s:?} (B, KiB, MiB, GiB, TiB)"
            ))
        }
    };
    n.checked_mul(1u64 << shift)
        .ok_or_else(|| format!("size {s:?} is too large (at most {} bytes)", u64::MAX))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes() {
        assert_eq!(parse_size("1048576"), Ok(1 << 20));
        assert_eq!(parse_size("256MiB"), Ok(256 << 20));
        assert_eq!(parse_size("1GiB"), Ok(1 << 30));
        assert_eq!(parse_size("2g"), Ok(2 << 30));
        assert!(parse_size("1.5GiB").is_err());
        assert!(parse_size("12XB").unwrap_err().contains("unit"));
        assert!(parse_size("99999999999TiB")
            .unwrap_err()
            .contains("too large"));
    }

    #[test]
    fn defaults_are_the_library_defaults() {
        use clap::Parser;
        #[derive(Parser)]
        struct Cli {
            #[command(flatten)]
            limits: LimitArgs,
        }
        assert_eq!(Cli::parse_from(["x"]).limits.limits(), Limits::default());
    }
}
