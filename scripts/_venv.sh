# Shared by scripts/serve and scripts/test (sourced, not run): make sure .venv exists and holds
# the project installed from the current pyproject.toml, then work from the project root.

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="$ROOT/.venv"
STAMP="$VENV/.pyproject.sha256"
cd "$ROOT"

find_python() {
    local candidate
    for candidate in python3.13 python3.12 python3.11 python3; do
        # pyenv shims exist for versions that are not installed: check that each one runs
        if command -v "$candidate" >/dev/null 2>&1 \
            && "$candidate" -c 'import sys; sys.exit(sys.version_info < (3, 11))' >/dev/null 2>&1
        then
            echo "$candidate"
            return 0
        fi
    done
    return 1
}

pyproject_hash() {
    "$VENV/bin/python" -c \
        'import hashlib, sys; print(hashlib.sha256(open(sys.argv[1], "rb").read()).hexdigest())' \
        "$ROOT/pyproject.toml"
}

ensure_venv() {
    if [[ ! -x "$VENV/bin/python" ]]; then
        local python
        if ! python="$(find_python)"; then
            echo "error: outreach needs Python 3.11 or newer, and none was found" \
                "(tried python3.13, python3.12, python3.11, python3)." >&2
            echo "Install Python 3.11+ (e.g. 'apt install python3.11 python3.11-venv'," \
                "'brew install python@3.12' or https://www.python.org/downloads/) and retry." >&2
            exit 1
        fi
        echo "creating .venv with $python ($("$python" --version 2>&1)) ..."
        if ! "$python" -m venv "$VENV"; then
            rm -rf "$VENV"
            echo "error: '$python -m venv' failed; on Debian/Ubuntu install the python3-venv" \
                "package for that version and retry." >&2
            exit 1
        fi
    fi
    local wanted
    wanted="$(pyproject_hash)"
    if [[ ! -f "$STAMP" || "$(cat "$STAMP")" != "$wanted" ]]; then
        echo "installing dependencies (first run takes about a minute) ..."
        "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check -e '.[dev]'
        echo "$wanted" >"$STAMP"
    fi
}

ensure_venv
