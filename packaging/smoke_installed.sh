#!/usr/bin/env bash
# Smoke check of an installed desktop-search, as a user meets it: from a folder that is not the
# checkout, with the commands the installation put on PATH.
#   packaging/smoke_installed.sh VENV     (a virtual environment the wheel was installed into)
# Checks: the package and its bundled model come from the installation, never the source tree;
# add + index + search --json finds the right file; status --json; a window screenshot
# (offscreen); the menu entry installs and removes. Exit 0 when all pass.
set -euo pipefail

VENV="$(cd "${1:?usage: smoke_installed.sh VENV}" && pwd)"
BIN="$VENV/bin"
PY="$BIN/python"
WORK="$(mktemp -d "${TMPDIR:-/tmp}/desktop-search-smoke.XXXXXX")"
trap 'rm -rf "$WORK"' EXIT
cd "$WORK"  # nowhere near the checkout: nothing may be found through the current folder
unset DESKTOP_SEARCH_HOME PYTHONPATH
export XDG_CACHE_HOME="$WORK/cache" XDG_DATA_HOME="$WORK/data" QT_QPA_PLATFORM=offscreen
HOME_DIR="$WORK/home"
ds() { "$BIN/desktop-search" --home "$HOME_DIR" "$@"; }
step() { echo "smoke: $*"; }
fail() { echo "smoke: FAILED: $*" >&2; exit 1; }

step "versions"
versions="$("$BIN/desktop-search" --version)"
echo "$versions" | sed 's/^/  /'
grep -q "^llama-cpp-python [0-9]" <<<"$versions" || fail "--version lacks llama-cpp-python"

step "the package and its resources come from the installation"
"$PY" - "$VENV" <<'EOF'
import sys
from pathlib import Path

import desktop_search
from desktop_search.models import bundled_model_path
from desktop_search.paths import RESOURCES

venv = Path(sys.argv[1]).resolve()
for what, p in (("package", Path(desktop_search.__file__)), ("resources", RESOURCES),
                ("bundled model", bundled_model_path())):
    if venv not in p.resolve().parents:
        sys.exit(f"smoke: FAILED: the {what} is read from {p}, outside {venv}")
print(f"  bundled model: {bundled_model_path()}")
EOF

step "add, index, search"
mkdir -p docs/notes
printf 'Humpback whales migrate thousands of kilometres to warm breeding waters, singing long songs.\n' \
  > docs/whales.txt
printf '# Pulling a shot\n\nGrind the coffee fine, tamp evenly and extract for about 25 seconds.\n' \
  > docs/notes/espresso.md
printf 'The landlord returned the deposit minus the cost of repainting the hallway.\n' \
  > docs/notes/tenancy.txt
ds add docs
ds index
ds search "marine mammals that sing" --json > search.json
"$PY" - <<'EOF'
import json
from pathlib import Path

results = json.loads(Path("search.json").read_text())
assert results, "no results"
assert Path(results[0]["path"]).name == "whales.txt", [r["path"] for r in results]
print(f"  first result: {results[0]['path']} (score {results[0]['score']:.3f})")
EOF

step "status"
ds status --json > status.json
"$PY" - <<'EOF'
import json
from pathlib import Path

st = json.loads(Path("status.json").read_text())
assert st["files"].get("indexed") == 3, st["files"]
assert st["vectors"] >= 3 and st["chunks"] >= 3, st
print(f"  files {st['files']}, chunks {st['chunks']}, vectors {st['vectors']}")
EOF

step "window screenshot (offscreen)"
ds gui --query "coffee" --screenshot shot.png
"$PY" -c "
import sys; d = open('shot.png', 'rb').read()
sys.exit(0 if d[:8] == b'\x89PNG\r\n\x1a\n' and len(d) > 10_000 else 'smoke: FAILED: no screenshot')"
echo "  shot.png: $(wc -c < shot.png) bytes"

step "menu entry"
"$BIN/desktop-search" desktop-entry install
ENTRY="$XDG_DATA_HOME/applications/desktop-search.desktop"
grep -qx "Exec=$BIN/desktop-search-gui" "$ENTRY" || fail "Exec is not $BIN/desktop-search-gui"
[ -f "$XDG_DATA_HOME/icons/hicolor/48x48/apps/desktop-search.png" ] || fail "no 48x48 icon"
if command -v desktop-file-validate >/dev/null; then desktop-file-validate "$ENTRY"; fi
"$BIN/desktop-search" desktop-entry remove >/dev/null
[ ! -e "$ENTRY" ] || fail "desktop-entry remove left $ENTRY"

step "all passed"
