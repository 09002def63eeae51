# Sourced by scripts/serve-demo, scripts/test and scripts/phone-app: a project virtualenv with
# the tested versions from uv.lock installed (the project itself editable), created on first
# use. Re-running is cheap when nothing changed.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
PYTHON="${PYTHON:-python3}"
UV_VERSION="0.13.8"
if [ ! -x .venv/bin/python ]; then
  echo "• creating .venv with $($PYTHON --version)" >&2
  "$PYTHON" -m venv .venv
fi
stamp=".venv/.installed-$(cat pyproject.toml uv.lock | sha256sum | cut -c1-16)-${EXTRAS:-base}"
if [ ! -f "$stamp" ]; then
  if [ ! -x .venv/bin/uv ] || [ "$(.venv/bin/uv --version | cut -d' ' -f2)" != "$UV_VERSION" ]; then
    echo "• installing uv $UV_VERSION" >&2
    .venv/bin/python -m pip install --quiet --disable-pip-version-check "uv==$UV_VERSION"
  fi
  echo "• installing the locked dependencies (uv.lock) into .venv" >&2
  # --inexact keeps uv itself; --frozen installs exactly the lock, never re-resolves;
  # --compile-bytecode: every Python process (the tests start dozens) then reads compiled
  # modules, even where the environment sets PYTHONDONTWRITEBYTECODE.
  UV_PROJECT_ENVIRONMENT=.venv .venv/bin/uv sync --quiet --frozen --inexact --compile-bytecode \
    --python .venv/bin/python ${EXTRAS:+--extra "$EXTRAS"}
  rm -f .venv/.installed-*
  touch "$stamp"
fi
