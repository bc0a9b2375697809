"""What the window remembers between launches — its size, the split between the result list and
the preview, the list's view and sort — in a small JSON file in the home, readable by the user
alone like the rest of the home. A missing or garbled file means the defaults."""

from __future__ import annotations

import contextlib
import json
import os
from pathlib import Path
from typing import Any

FILE_NAME = "window.json"


class WindowState:
    def __init__(self, home: str | None) -> None:
        from ..paths import resolve_home

        self.path: Path = resolve_home(home).home / FILE_NAME
        self.values: dict[str, Any] = {}
        with contextlib.suppress(OSError, ValueError):
            got = json.loads(self.path.read_text(encoding="utf-8"))
            if isinstance(got, dict):
                self.values = got

    def get(self, key: str, default: Any = None) -> Any:
        return self.values.get(key, default)

    def set(self, key: str, value: Any) -> None:
        self.values[key] = value

    def save(self) -> None:
        """Atomically, owner-only; a home that cannot be written (read-only) keeps nothing."""
        if not self.path.parent.is_dir():
            return
        tmp = self.path.with_suffix(".tmp")
        with contextlib.suppress(OSError):
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                json.dump(self.values, f)
            os.replace(tmp, self.path)
