#!/usr/bin/env bash
# Create or refresh the project's virtualenv (.venv) and install requirements.txt.
# Safe to run repeatedly: when nothing changed it only checks and exits.
# Set PYTHON=/path/to/python3.x to try a specific interpreter first.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
VENV=.venv
REQS=requirements.txt
STAMP="$VENV/.requirements.sha256"
LOG="$VENV/pip-install.log"
CHECK='import sys, venv, ensurepip; assert sys.version_info >= (3, 12)'

say() { echo "bootstrap: $*"; }
die() { echo "bootstrap: ERROR: $*" >&2; exit 1; }

# Sets PY_PATH/PY_VERSION to the first interpreter that really runs, is >= 3.12
# and has a working venv/ensurepip; TRIED lists what was tried. Shims that
# exist on PATH but fail when run (e.g. pyenv's) are skipped.
find_python() {
    local candidates=() c root
    [[ -n "${PYTHON:-}" ]] && candidates+=("$PYTHON")
    for c in python3.14 python3.13 python3.12 python3; do
        command -v "$c" >/dev/null 2>&1 && candidates+=("$(command -v "$c")")
    done
    if command -v pyenv >/dev/null 2>&1; then
        root="$(pyenv root 2>/dev/null || true)"
    else
        root="${PYENV_ROOT:-$HOME/.pyenv}"
    fi
    if [[ -n "$root" && -d "$root/versions" ]]; then
        # newest first
        while IFS= read -r c; do candidates+=("$c"); done < <(
            ls -d "$root"/versions/3.1[2-9]*/bin/python3 2>/dev/null | sort -rV)
    fi
    TRIED=()
    for c in "${candidates[@]}"; do
        TRIED+=("$c")
        if "$c" -c "$CHECK" >/dev/null 2>&1; then
            PY_PATH="$("$c" -c 'import sys; print(sys.executable)')"
            PY_VERSION="$("$c" -c 'import platform; print(platform.python_version())')"
            return 0
        fi
    done
    return 1
}

venv_ok() {
    [[ -x "$VENV/bin/python" ]] &&
        "$VENV/bin/python" -c 'import sys; assert sys.version_info >= (3, 12)' >/dev/null 2>&1
}

if venv_ok; then
    say "using $VENV (Python $("$VENV/bin/python" -c 'import platform; print(platform.python_version())'))"
else
    if ! find_python; then
        echo "bootstrap: ERROR: no usable Python >= 3.12 (with venv) found. Tried:" >&2
        if ((${#TRIED[@]})); then printf '  %s\n' "${TRIED[@]}" >&2; else echo "  (no candidates on PATH or under pyenv)" >&2; fi
        echo "Install Python 3.12+ (e.g. 'pyenv install 3.12') or set PYTHON=/path/to/python3.12." >&2
        exit 1
    fi
    say "chose Python $PY_VERSION at $PY_PATH"
    if [[ -e "$VENV" ]]; then
        say "$VENV is missing a working Python >= 3.12; recreating it"
        rm -rf "$VENV"
    fi
    "$PY_PATH" -m venv "$VENV" || die "could not create $VENV with $PY_PATH"
    say "created $VENV"
fi

want="$(sha256sum "$REQS" | cut -d' ' -f1)"
if [[ -f "$STAMP" && "$(cat "$STAMP")" == "$want" ]]; then
    say "requirements up to date"
    exit 0
fi

# uv installs the same pinned requirements as pip, but fetches and unpacks in parallel:
# a first install takes seconds instead of two minutes (which mattered for CI, that
# installs from scratch). uv itself comes from pip; pip remains the fallback.
UV_VERSION=0.13.9
say "installing $REQS quietly (new or changed)"
rm -f "$STAMP"
if ! { "$VENV/bin/python" -m pip install -q "uv==$UV_VERSION" &&
       "$VENV/bin/python" -m uv pip install -q --python "$VENV/bin/python" -r "$REQS"; } >"$LOG" 2>&1; then
    say "uv could not install $REQS (see $LOG); trying pip, which takes a minute or two"
    if ! { "$VENV/bin/python" -m pip install -q --upgrade pip &&
           "$VENV/bin/python" -m pip install -q -r "$REQS"; } >>"$LOG" 2>&1; then
        cat "$LOG" >&2
        die "pip install failed (output above, also in $LOG)"
    fi
fi
echo "$want" >"$STAMP"
say "requirements installed"
