#!/bin/bash
# The party server's single entry point, in a Sandstorm grain and on a laptop alike:
# prepare the var directory (app/prepare.py), then exec supervisord in the foreground.
# supervisord never exits on its own: in a grain, the bridge ends the grain when its child exits.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

# The virtualenv: SOIREE_VENV if set; in a grain the package's /opt/app-venv (a .venv synced in
# from a developer's machine is never the right one there); otherwise ./.venv.
if [ "${SANDSTORM:-}" = 1 ]; then
    candidates=("${SOIREE_VENV:-}" /opt/app-venv "$ROOT/.venv")
else
    candidates=("${SOIREE_VENV:-}" "$ROOT/.venv" /opt/app-venv)
fi
VENV=
for candidate in "${candidates[@]}"; do
    if [ -n "$candidate" ] && [ -x "$candidate/bin/python" ]; then
        VENV=$candidate
        break
    fi
done
if [ -z "$VENV" ]; then
    echo "launcher: no virtualenv found; run ./soiree setup" >&2
    exit 1
fi

export SOIREE_ROOT=$ROOT SOIREE_VENV=$VENV SOIREE_PYTHON=$VENV/bin/python
export PATH=$VENV/bin:${PATH:-/usr/local/bin:/usr/bin:/bin}
export PYTHONDONTWRITEBYTECODE=1
cd "$ROOT"

# Resolves ports and paths once, cleans up after a crash, prints `export` lines.
environment=$("$SOIREE_PYTHON" -m app.prepare)
eval "$environment"

exec "$VENV/bin/supervisord" --nodaemon --configuration "$ROOT/app/supervisord.conf"
