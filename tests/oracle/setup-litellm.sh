#!/bin/sh
# Creates (once) the cached virtualenv with the pinned LiteLLM release that
# the pricing oracle compares tokenmeter's costs against, and prints its
# python. The venv lives outside the tree so repeated runs reuse it.
# Usage: tests/oracle/setup-litellm.sh  -> prints the venv's python path
set -eu
LITELLM_VERSION=${LITELLM_VERSION:-1.110.2}
VENV=${TOKENMETER_LITELLM_VENV:-${XDG_CACHE_HOME:-$HOME/.cache}/tokenmeter/litellm-venv-$LITELLM_VERSION}
PY=$VENV/bin/python
if [ -x "$PY" ] && LITELLM_LOCAL_MODEL_COST_MAP=True "$PY" -c "import litellm" >/dev/null 2>&1; then
    echo "$PY"
    exit 0
fi
rm -rf "$VENV"
mkdir -p "$(dirname "$VENV")"
python3 -m venv "$VENV" >&2
"$PY" -m pip install --quiet --disable-pip-version-check "litellm==$LITELLM_VERSION" >&2
LITELLM_LOCAL_MODEL_COST_MAP=True "$PY" -c "import litellm" >&2
echo "$PY"
