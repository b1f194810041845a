//! One module per `cameo` subcommand: its flags and what it does with them.

pub mod bench;
pub mod client;
pub mod compiled_cache;
pub mod line_diff;
pub mod operator;
pub mod operator_test;
pub mod run;
pub mod serve;
pub mod watch;
pub mod window_flag;

use cameo_host::PolicyKind;
use clap::builder::{PossibleValuesParser, TypedValueParser as _};

/// A byte size: a number with an optional unit (B, KiB, MiB, GiB, TiB; KB, MB, GB, TB in
/// powers of ten), e.g. `512MiB`, `2GiB`, `1000000`.
pub fn parse_bytes(text: &str) -> Result<u64, String> {
    let text = text.trim();
    let split = text
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let scale: u64 = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "kib" | "k" => 1 << 10,
        "mib" | "m" => 1 << 20,
        "gib" | "g" => 1 << 30,
        "tib" | "t" => 1 << 40,
        "kb" => 1_000,
        "mb" => 1_000_000,
        "gb" => 1_000_000_000,
        "tb" => 1_000_000_000_000,
        other => {
            return Err(format!(
                "`{other}` is not a unit of bytes; use B, KiB, MiB, GiB or TiB (e.g. 512MiB)"
            ));
        }
    };
    match number.parse::<f64>() {
        Ok(value)
            if value.is_finite() && value > 0.0 && value * scale as f64 <= u64::MAX as f64 =>
        {
            Ok((value * scale as f64) as u64)
        }
        _ => Err(format!(
            "`{text}` is not a size above 0; give a number of bytes with a unit, e.g. 2GiB"
        )),
    }
}

/// The fixed limits of the host, for `--help`.
pub fn limits_help() -> String {
    let mut text =
        String::from("Limits that bound what an operator or an input can make the host hold:\n");
    for (name, value, what) in cameo_host::FIXED_LIMITS {
        text.push_str(&format!("  {name:<20} {value:>10}  {what}\n"));
    }
    text.push_str(
        "Per instance (flags above): fuel per call and per slice, linear memory, batch size; \
         and over everything, the memory budget.",
    );
    text
}

/// Parses a policy name, offering the names in help and completions.
pub fn policy_parser() -> impl clap::builder::TypedValueParser<Value = PolicyKind> {
    PossibleValuesParser::new(PolicyKind::NAMES).try_map(|name| name.parse::<PolicyKind>())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_take_binary_and_decimal_units() {
        assert_eq!(parse_bytes("512MiB"), Ok(512 << 20));
        assert_eq!(parse_bytes("2GiB"), Ok(2 << 30));
        assert_eq!(parse_bytes("1.5 KiB"), Ok(1536));
        assert_eq!(parse_bytes("3GB"), Ok(3_000_000_000));
        assert_eq!(parse_bytes("4096"), Ok(4096));
        assert!(parse_bytes("0").is_err());
        assert_eq!(
            parse_bytes("2 parsecs"),
            Err(
                "`parsecs` is not a unit of bytes; use B, KiB, MiB, GiB or TiB (e.g. 512MiB)"
                    .into()
            )
        );
    }
}
