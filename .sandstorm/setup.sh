#!/bin/bash
# System setup for the vagrant-spk VM; runs as root when the VM is provisioned.
# After editing this file, run `vagrant-spk vm provision`.
#
# Installs Python and a pinned, checksum-verified CockroachDB release into /opt/cockroach.
set -euo pipefail

# CockroachDB v23.1.4 (2023): the 23.1 line is under the Business Source License 1.1 with
# Apache-2.0 as its Change License and 2026-05-16 as its Change Date, which has passed; releases
# from 24.3.0 on (and 23.1/24.2 patches from November 2024 on) use the CockroachDB Software
# License instead, which does not allow redistribution in a public .spk. The tarball also holds
# code under the CockroachDB Community License, which allows redistribution with its text
# (kept in /opt/cockroach). How this release was chosen: README.md, "Packaging with vagrant-spk".
COCKROACH_VERSION=23.1.4
COCKROACH_SHA256=3125f85389c81bd4d443cb6e826ccbdd8eb4a49ef2d397f95bdb2e3bd6e79acb
COCKROACH_TARBALL=cockroach-v${COCKROACH_VERSION}.linux-amd64.tgz
COCKROACH_URL=https://binaries.cockroachdb.com/${COCKROACH_TARBALL}
CACHE=/host-dot-sandstorm/caches  # the host's ~/.sandstorm: survives `vagrant-spk vm destroy`

export DEBIAN_FRONTEND=noninteractive
apt-get update -q
apt-get install -y -q --no-install-recommends \
    python3 python3-venv python3-dev build-essential ca-certificates curl tzdata util-linux

# The virtualenv build.sh fills (as the vagrant user); outside /opt/app so the package's
# search path picks it up from /, like /opt/cockroach.
install -d -o vagrant -g vagrant /opt/app-venv

if [ "${SOIREE_WITHOUT_COCKROACH:-}" = 1 ]; then
    echo "setup.sh: SOIREE_WITHOUT_COCKROACH=1: the package will use PostgreSQL"
    rm -rf /opt/cockroach
    exit 0
fi

mkdir -p "$CACHE"
verified() { echo "${COCKROACH_SHA256}  $CACHE/${COCKROACH_TARBALL}" | sha256sum --check --status; }
if [ ! -f "$CACHE/${COCKROACH_TARBALL}" ] || ! verified; then
    echo "setup.sh: downloading ${COCKROACH_URL}"
    curl --fail --location --silent --show-error -o "$CACHE/${COCKROACH_TARBALL}.part" "${COCKROACH_URL}"
    mv "$CACHE/${COCKROACH_TARBALL}.part" "$CACHE/${COCKROACH_TARBALL}"
fi
if ! verified; then
    echo "setup.sh: ${COCKROACH_TARBALL} does not match the pinned SHA-256; refusing to use it" >&2
    exit 1
fi

rm -rf /opt/cockroach.new
mkdir -p /opt/cockroach.new
tar -xzf "$CACHE/${COCKROACH_TARBALL}" -C /opt/cockroach.new --strip-components=1
if [ -f /opt/cockroach.new/LICENSE.txt ] && grep -q "CockroachDB Software License" /opt/cockroach.new/LICENSE.txt; then
    echo "setup.sh: this release is under the CockroachDB Software License; refusing to package it" >&2
    exit 1
fi
rm -rf /opt/cockroach
mv /opt/cockroach.new /opt/cockroach
/opt/cockroach/cockroach version --build-tag
