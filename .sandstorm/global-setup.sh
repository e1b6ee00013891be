#!/bin/bash
# Sets up the vagrant-spk VM itself (runs as root at `vagrant-spk vm up`, before setup.sh):
# a Sandstorm development server on port 6090 under the strict Content-Security-Policy.
# `vagrant-spk upgradevm` replaces this file (and the Vagrantfile) with vagrant-spk's own
# current versions; app-specific setup belongs in setup.sh.
set -euo pipefail

CACHE=/host-dot-sandstorm/caches  # the host's ~/.sandstorm/caches: downloads survive the VM
export DEBIAN_FRONTEND=noninteractive

hostname localhost
echo localhost >/etc/hostname
apt-mark hold grub-pc >/dev/null 2>&1 || true  # its upgrade prompts, even when non-interactive
apt-get update -q
apt-get upgrade -y -q
apt-get install -y -q curl gnupg

mkdir -p "$CACHE"
curl --fail --silent --show-error -o "$CACHE/install.sh" https://install.sandstorm.io/
version=$(curl --fail --silent --show-error "https://install.sandstorm.io/dev?from=0&type=install")
bundle="$CACHE/sandstorm-$version.tar.xz"
if [ ! -f "$bundle" ]; then
    curl --fail --silent --show-error -o "$bundle.part" "https://dl.sandstorm.io/sandstorm-$version.tar.xz"
    mv "$bundle.part" "$bundle"
fi
if [ ! -e /opt/sandstorm/latest/sandstorm ]; then
    # -d: defaults for a development server, -e: no e-mail setup, -p: its port.
    bash "$CACHE/install.sh" -d -e -p 6090 "$bundle" >/dev/null
fi

modprobe ip_tables
usermod -a -G sandstorm vagrant  # lets `spk dev` talk to the server
conf=/opt/sandstorm/sandstorm.conf
sed -i 's/^BIND_IP=.*/BIND_IP=0.0.0.0/' "$conf"  # reachable through the VM's port forward
grep -q '^ALLOW_LEGACY_RELAXED_CSP=' "$conf" || echo 'ALLOW_LEGACY_RELAXED_CSP=false' >>"$conf"
service sandstorm restart
