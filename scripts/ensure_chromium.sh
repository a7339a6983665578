#!/usr/bin/env bash
# Make sure a headless browser is there for tests/test_report.py, which clicks the report's
# sortable table in it.  Installs Debian's chromium when it is missing; silent when present.
# Another browser binary can be named with CHROMIUM=/path/to/chrome.
set -euo pipefail

if [[ -n "${CHROMIUM:-}" ]]; then
    command -v "$CHROMIUM" >/dev/null 2>&1 && exit 0
    echo "ensure_chromium.sh: CHROMIUM=$CHROMIUM is not an executable" >&2
    exit 1
fi
if command -v chromium >/dev/null 2>&1 || [[ -x /usr/bin/chromium ]]; then
    exit 0
fi

fail() {
    echo "ensure_chromium.sh: could not install chromium ($1)." >&2
    echo "  The report test needs it: install it (Debian/Ubuntu: apt-get install chromium)" >&2
    echo "  or point CHROMIUM=/path/to/chrome at a Chromium-based browser." >&2
    exit 1
}

command -v apt-get >/dev/null 2>&1 || fail "no apt-get on this machine"
sudo=()
if [[ $(id -u) -ne 0 ]]; then
    command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null || fail "not root and no sudo"
    sudo=(sudo -n)
fi

echo "ensure_chromium.sh: installing Debian's chromium for the browser test (a minute or two)" >&2
log=$(mktemp)
trap 'rm -f "$log"' EXIT
apt=("${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get -q -o DPkg::Lock::Timeout=300)
if ! "${apt[@]}" update >"$log" 2>&1; then
    tail -n 20 "$log" >&2
    fail "apt-get update failed"
fi
if ! "${apt[@]}" install -y chromium >"$log" 2>&1; then
    tail -n 20 "$log" >&2
    fail "apt-get install chromium failed"
fi
command -v chromium >/dev/null 2>&1 || [[ -x /usr/bin/chromium ]] || fail "installed, not found"
echo "ensure_chromium.sh: $(chromium --version 2>/dev/null || echo chromium) installed" >&2
