#!/usr/bin/env bash
# Sets up PyFlink for the peer benchmark (`cameo bench flink`, `job.py`).
#
# Needs:
#   - Python 3.9 to 3.12 with the venv module (python3 -m venv),
#   - Java 17 (a JRE is enough): when `java -version` is missing or not 17, this script
#     installs openjdk-17-jre-headless with apt-get (as root, or through sudo),
#   - network access to the Python package index and about 1 GB of disk: apache-flink and
#     its dependencies are about 850 MB installed.
#
# Usage:
#   bench/peers/flink/setup.sh            # venv in target/flink-venv
#   CAMEO_FLINK_VENV=DIR bench/peers/flink/setup.sh
#
# Afterwards:
#   DIR/bin/python bench/peers/flink/job.py --events 2000000 --parallelism 1
#   cargo run --release -p cameo-cli -- bench flink --flink-venv DIR
#
# Not part of CI.
set -euo pipefail

FLINK_VERSION="${FLINK_VERSION:-2.3.0}"
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../../.." && pwd)"
venv="${CAMEO_FLINK_VENV:-$repo/target/flink-venv}"
python="${PYTHON:-python3}"

say() { printf 'setup: %s\n' "$*" >&2; }
die() { printf 'setup: error: %s\n' "$*" >&2; exit 1; }

# The major version of `java` on the PATH (or under JAVA_HOME), empty when there is none.
java_major() {
    local java=java
    if [[ -n "${JAVA_HOME:-}" && -x "$JAVA_HOME/bin/java" ]]; then
        java="$JAVA_HOME/bin/java"
    fi
    command -v "$java" >/dev/null 2>&1 || return 0
    "$java" -version 2>&1 | sed -n 's/.*version "\([0-9]*\).*/\1/p' | head -n 1
}

major="$(java_major)"
if [[ "$major" != "17" ]]; then
    say "Java 17 is needed (found: ${major:-none}); installing openjdk-17-jre-headless"
    command -v apt-get >/dev/null 2>&1 ||
        die "no apt-get here: install a Java 17 runtime and put it on the PATH (or set JAVA_HOME)"
    if [[ "$(id -u)" == "0" ]]; then
        apt-get update
        DEBIAN_FRONTEND=noninteractive apt-get install -y openjdk-17-jre-headless
    elif command -v sudo >/dev/null 2>&1; then
        sudo apt-get update
        sudo DEBIAN_FRONTEND=noninteractive apt-get install -y openjdk-17-jre-headless
    else
        die "not root and no sudo: install openjdk-17-jre-headless (or any Java 17) first"
    fi
    major="$(java_major)"
    if [[ "$major" != "17" ]]; then
        # Another Java may come first on the PATH: point at the one just installed.
        for dir in /usr/lib/jvm/java-17-openjdk-*; do
            if [[ -x "$dir/bin/java" ]]; then
                export JAVA_HOME="$dir"
                break
            fi
        done
        major="$(java_major)"
        [[ "$major" == "17" ]] ||
            die "Java 17 was installed but is not found; set JAVA_HOME to it"
        say "use JAVA_HOME=$JAVA_HOME when running job.py"
    fi
fi
say "Java $major: ok"

command -v "$python" >/dev/null 2>&1 || die "$python not found (set PYTHON to a Python 3.9-3.12)"
"$python" - <<'PY' || die "PyFlink $FLINK_VERSION needs Python 3.9 to 3.12"
import sys
sys.exit(0 if (3, 9) <= sys.version_info[:2] <= (3, 12) else 1)
PY

if [[ ! -x "$venv/bin/python" ]]; then
    say "creating the venv $venv"
    "$python" -m venv "$venv" || die "python3 -m venv failed (on Debian: apt-get install python3-venv)"
fi
say "installing apache-flink==$FLINK_VERSION into $venv (about 850 MB)"
"$venv/bin/python" -m pip install --upgrade pip
"$venv/bin/python" -m pip install "apache-flink==$FLINK_VERSION"
"$venv/bin/python" -c "import pyflink, pyflink.table; print('pyflink', pyflink.__file__)" >/dev/null ||
    die "pyflink does not import from $venv"
say "done: $venv"
say "run: $venv/bin/python $here/job.py --events 2000000 --parallelism 1"
