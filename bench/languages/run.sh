#!/usr/bin/env bash
# Per-language figures for docs/languages.md: component size, build time, time of a small
# job (compile + instantiate + run), filter throughput and fuel at batch 64, and instantiation
# time and memory per instance. A benchmark, not a test: run it by hand on an idle machine,
#   cargo build --release -p cameo-cli && bench/languages/run.sh
# after scripts/setup-languages. It prints a Markdown table.
set -euo pipefail
cd "$(dirname "$0")/../.."
cameo="$PWD/target/release/cameo"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
events="${EVENTS:-200000}"

# The fuel one call may burn, per language (interpreted guests burn far more per event).
fuel() { case "$1" in python) echo 5000000000 ;; js) echo 10000000000 ;; *) echo 500000000 ;; esac; }

component() { # language operator -> component path, built cold (timed into $work/build_s)
    local lang="$1" op="$2" dir="example-operators/$1/$2"
    if [[ $lang == rust ]]; then
        local start=$(date +%s.%N)
        local path
        path=$("$cameo" operator build "$dir" 2>/dev/null)
        echo "$(echo "$(date +%s.%N) - $start" | bc)" > "$work/build_s"
        echo "$path"
        return
    fi
    rm -rf "$dir/target"
    local start=$(date +%s.%N)
    "$cameo" operator build "$dir"
    echo "$(echo "$(date +%s.%N) - $start" | bc)" > "$work/build_s"
}

job() { # module config parallelism source -> job spec path
    cat > "$work/job.toml" <<TOML
name = "bench"
[[source]]
$4
[[operator]]
name = "op"
module = "$1"
inputs = ["in"]
parallelism = $3
config = $2
[[sink]]
name = "out"
kind = "discard"
inputs = ["op"]
TOML
    echo "$work/job.toml"
}

printf '| language | filter size | wordcount size | build (both) | small job, first run | filter events/s | filter fuel/event | instantiate + memory per instance |\n'
printf '| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |\n'
for lang in rust c js python; do
    filter=$(component "$lang" filter); b1=$(cat "$work/build_s")
    wordcount=$(component "$lang" wordcount); b2=$(cat "$work/build_s")
    build=$(echo "$b1 + $b2" | bc)
    size() { numfmt --to=iec --suffix=B "$(stat -c %s "$1")"; }
    # A small job: four lines through wordcount (includes compiling the component).
    printf 'the quick brown fox\njumps over\nthe lazy dog\nthe end\n' > "$work/lines.txt"
    spec=$(job "$wordcount" "{}" 1 "name = \"in\"
kind = \"file\"
path = \"$work/lines.txt\"")
    start=$(date +%s.%N)
    "$cameo" run "$spec" --fuel-per-call "$(fuel "$lang")" > /dev/null 2>&1
    small=$(echo "$(date +%s.%N) - $start" | bc)
    # Filter throughput: generated events at batch 64.
    spec=$(job "$filter" '{ field = "value", min = 90 }' 1 "name = \"in\"
kind = \"generator\"
count = $events
keys = 50
payload_bytes = 32")
    summary=$("$cameo" run "$spec" --json --fuel-per-call "$(fuel "$lang")" 2>/dev/null | tail -1)
    eps=$(echo "$summary" | python3 -c 'import json,sys; s=json.load(sys.stdin); print(round(s["events_in"]/s["elapsed_s"]))')
    fpe=$(echo "$summary" | python3 -c 'import json,sys; s=json.load(sys.stdin); print(round(s["fuel"]/s["events_in"]))')
    # Instances: 1 and 33 of filter on a tiny input; the difference over 32 per instance.
    printf '{"value": 100}\n' > "$work/one.txt"
    measure() {
        spec=$(job "$filter" '{ field = "value", min = 90 }' "$1" "name = \"in\"
kind = \"file\"
path = \"$work/one.txt\"")
        /usr/bin/time -f '%e %M' "$cameo" run "$spec" --fuel-per-call "$(fuel "$lang")" 2>&1 >/dev/null | tail -1
    }
    read -r t1 m1 <<<"$(measure 1)"
    read -r t33 m33 <<<"$(measure 33)"
    per_ms=$(echo "scale=2; ($t33 - $t1) * 1000 / 32" | bc)
    per_mb=$(echo "scale=2; ($m33 - $m1) / 1024 / 32" | bc)
    printf '| %s | %s | %s | %.1f s | %.2f s | %s | %s | %s ms, %s MB |\n' "$lang" "$(size "$filter")" \
        "$(size "$wordcount")" "$build" "$small" "$eps" "$fpe" "$per_ms" "$per_mb"
done
