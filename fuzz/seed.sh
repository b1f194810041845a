#!/bin/sh
# Fills the fuzz corpora with seeds: the job specs in fuzz/seeds/job_spec for `job_spec`, and
# the guest components the integration tests build for `load_module`. Run from anywhere; the
# components are built first if they are missing. Corpus directories are not committed.
set -eu

fuzz_dir=$(cd "$(dirname "$0")" && pwd)
repo=$(dirname "$fuzz_dir")
guests="$repo/target/guests/wasm32-wasip2/release"

mkdir -p "$fuzz_dir/corpus/job_spec" "$fuzz_dir/corpus/load_module" "$fuzz_dir/corpus/operator_calls" \
    "$fuzz_dir/corpus/window_calls"

cp "$fuzz_dir"/seeds/job_spec/*.toml "$fuzz_dir/corpus/job_spec/"

if ! ls "$guests"/*.wasm >/dev/null 2>&1; then
    echo "building the guest components (cargo test -p cameo-tests --no-run)"
    (cd "$repo" && cargo test -p cameo-tests --no-run)
fi
cp "$guests"/*.wasm "$fuzz_dir/corpus/load_module/"

echo "corpus/job_spec holds $(ls "$fuzz_dir/corpus/job_spec" | wc -l) inputs, corpus/load_module $(ls "$fuzz_dir/corpus/load_module" | wc -l)"
