#!/usr/bin/env bash
# Debian packages the hotline needs on the host: debootstrap (builds the managed PBX root), SIPp and
# baresip (test callers and agents), espeak-ng + sox (prompts), PostgreSQL (journal tests).
# Idempotent: installs only what is missing, and says so.
set -euo pipefail
wanted=(debootstrap sip-tester baresip espeak-ng sox postgresql)
missing=()
for pkg in "${wanted[@]}"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
if [ ${#missing[@]} -eq 0 ]; then
    echo "system packages: all present"
    exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
    echo "error: missing Debian packages (${missing[*]}); run as root or: sudo apt-get install ${missing[*]}" >&2
    exit 3
fi
echo "system packages: installing ${missing[*]}"
apt-get update -qq
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
# The Debian postgresql package starts a cluster on 5432; the hotline does not use it.
if printf '%s\n' "${missing[@]}" | grep -qx postgresql && command -v pg_lsclusters >/dev/null; then
    pg_lsclusters -h | awk '{print $1, $2}' | while read -r ver name; do pg_ctlcluster "$ver" "$name" stop || true; done
fi
