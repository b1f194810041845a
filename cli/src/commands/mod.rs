//! One module per `cameo` subcommand: its flags and what it does with them.

pub mod bench;
pub mod operator;
pub mod run;

use cameo_host::PolicyKind;
use clap::builder::{PossibleValuesParser, TypedValueParser as _};

/// Parses a policy name, offering the names in help and completions.
pub fn policy_parser() -> impl clap::builder::TypedValueParser<Value = PolicyKind> {
    PossibleValuesParser::new(PolicyKind::NAMES).try_map(|name| name.parse::<PolicyKind>())
}
