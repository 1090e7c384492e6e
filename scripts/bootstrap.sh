#!/usr/bin/env bash
# Creates .venv and installs vaultgate into it (once, and again whenever
# pyproject.toml changes), then installs the Debian packages named as
# arguments when their command is missing.  Sourced by scripts/demo,
# scripts/test and scripts/bench.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
venv="$root/.venv"
stamp="$venv/.installed-$(sha256sum "$root/pyproject.toml" | cut -c1-16)"

if [ ! -x "$venv/bin/python" ]; then
    python3 -m venv "$venv"
fi
if [ ! -f "$stamp" ]; then
    "$venv/bin/pip" install -q --disable-pip-version-check --upgrade pip >/dev/null
    "$venv/bin/pip" install -q --disable-pip-version-check -e "$root[test,train]"
    rm -f "$venv"/.installed-*
    touch "$stamp"
fi

# ensure_debian WHAT:PACKAGE ... installs PACKAGE when WHAT is missing;
# WHAT is a command name, or an absolute path that the package provides.
ensure_debian() {
    local missing=() pair what
    for pair in "$@"; do
        what=${pair%%:*}
        if [ "${what#/}" != "$what" ]; then
            [ -e "$what" ] || missing+=("${pair#*:}")
        elif ! command -v "$what" >/dev/null 2>&1 && [ ! -x "/usr/sbin/$what" ]; then
            missing+=("${pair#*:}")
        fi
    done
    [ ${#missing[@]} -eq 0 ] && return 0
    local sudo=""
    [ "$(id -u)" -ne 0 ] && sudo="sudo"
    echo "installing Debian packages: ${missing[*]}" >&2
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}" >/dev/null
}

export PATH="$venv/bin:$PATH:/usr/sbin"
