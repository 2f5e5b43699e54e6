# Sourced by scripts/shop and scripts/test: make .venv and install requirements.txt once
# (again only when requirements.txt changes).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
PYTHON="${PYTHON:-python3}"
"$PYTHON" -c 'import sys; sys.exit(sys.version_info < (3, 11))' || {
    echo "EscaShop needs Python 3.11 or newer (found $("$PYTHON" --version 2>&1))." >&2
    exit 1
}
if [ ! -x .venv/bin/python ] || ! .venv/bin/python -m pip --version >/dev/null 2>&1; then
    # Missing, or left half-made by an earlier failed attempt (a venv without pip): anew.
    echo "==> Creating .venv"
    rm -rf .venv
    "$PYTHON" -m venv .venv || {
        echo "Could not create .venv: on Debian or Ubuntu, install python3-venv first." >&2
        rm -rf .venv
        exit 1
    }
fi
STAMP=.venv/.requirements.sha256
WANT="$(sha256sum requirements.txt | cut -d' ' -f1)"
if [ "$(cat "$STAMP" 2>/dev/null || true)" != "$WANT" ]; then
    echo "==> Installing requirements.txt into .venv"
    .venv/bin/python -m pip install --quiet --upgrade pip
    .venv/bin/python -m pip install --quiet -r requirements.txt
    echo "$WANT" > "$STAMP"
fi
export PATH="$ROOT/.venv/bin:$PATH"
