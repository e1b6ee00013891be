#!/bin/bash
# Builds the app inside the vagrant-spk VM: runs as the vagrant user at the start of every
# `vagrant-spk dev` (not before `vagrant-spk pack`: run `vagrant-spk dev` after every change).
set -euo pipefail

VENV=/opt/app-venv
APP=/opt/app

if [ ! -x "$VENV/bin/python" ]; then
    python3 -m venv "$VENV"
    "$VENV/bin/python" -m pip install --quiet --upgrade pip
fi
"$VENV/bin/python" -m pip install --quiet --require-hashes -r "$APP/.sandstorm/requirements.txt"
# The project itself, without dependencies (all pinned above); editable, so /opt/app is the code.
"$VENV/bin/python" -m pip install --quiet --no-deps --editable "$APP"

# PostgreSQL stands in when no CockroachDB was installed; its cluster is initialised here,
# because initdb cannot run inside a grain (no /etc/passwd).
if [ ! -x /opt/cockroach/cockroach ]; then
    "$VENV/bin/python" -m app.database --build-template
fi

# The package is read-only: compile bytecode now rather than on every grain start.
"$VENV/bin/python" -m compileall -q "$APP/app" "$APP/relay" "$APP/uro-shim" "$VENV/lib" || true
