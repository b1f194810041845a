//! Inputs that crashed the host while fuzzing it (see `fuzz/README.md`), each now refused
//! with a clear error.

use std::fmt::Write as _;
use std::path::PathBuf;

use cameo_host::{JobPlan, JobSpec};

/// A job whose operators form one chain `operators` long, listed from the sink's end: `op0`
/// reads `op1`, which reads `op2`, ..., and the last reads the source.
fn chain_of_operators(operators: usize) -> String {
    let mut spec = String::from(
        "name = \"chain\"\n[[source]]\nname = \"s\"\nkind = \"stdin\"\n\
         [[sink]]\nname = \"out\"\nkind = \"stdout\"\ninputs = [\"op0\"]\n",
    );
    for i in 0..operators {
        let input = if i + 1 < operators {
            format!("op{}", i + 1)
        } else {
            "s".to_string()
        };
        let _ = write!(
            spec,
            "[[operator]]\nname = \"op{i}\"\nmodule = \"m.wasm\"\ninputs = [\"{input}\"]\n"
        );
    }
    spec
}

/// `job_spec`: the cycle check walked a chain of operators recursively, one stack frame per
/// operator, so a spec of 100 000 chained operators (5.7 MB) overflowed the stack and aborted
/// the process. A job may now have at most 1024 operators, and the refusal says so at the
/// line of the first operator past the limit.
#[test]
fn job_spec_a_chain_of_100_000_operators_is_refused_without_overflowing_the_stack() {
    let spec = chain_of_operators(100_000);
    let err = JobSpec::parse(&spec, "job.toml", PathBuf::new())
        .unwrap_err()
        .to_string();
    // The 1025th operator, `op1024`, has its `name` on line 10 + 4 * 1024.
    assert_eq!(
        err,
        "job.toml:4106: the job has 100000 operators; a job may have at most 1024"
    );
}

/// The longest chain a spec may have validates and plans, on a thread with the default stack
/// of test threads.
#[test]
fn job_spec_a_chain_of_1024_operators_validates_and_plans() {
    let spec = JobSpec::parse(&chain_of_operators(1024), "job.toml", PathBuf::new()).unwrap();
    let plan = JobPlan::from_spec(&spec).unwrap();
    assert_eq!(plan.name(), "chain");
    assert_eq!(spec.operators_in_order().len(), 1024);
}
