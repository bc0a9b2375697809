"""Walks a root and decides which files are worth indexing: exclusion rules live here."""

from __future__ import annotations

import os
import re
import stat as stat_mod
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from fnmatch import fnmatchcase
from pathlib import Path

from .extract import is_supported


@dataclass(frozen=True)
class Seen:
    path: str
    size: int
    mtime_ns: int
    # The real name is not valid UTF-8 (an old Latin-1 disk, a foreign archive): `path` holds
    # it in the stored form (see storable_path); `fs_path` is the name the disk knows.
    bad_name: bool = False

    @property
    def fs_path(self) -> str:
        return real_path(self.path)


# SQLite text must be valid UTF-8, and a name that is not must still be stored losslessly and
# shown legibly. Each byte that does not decode (0x80-0xFF) is stored as U+FFFD, which people
# see, followed by an invisible variation selector, U+E0100 + (byte - 0x80), which keeps the
# byte. So the stored form sorts, prefixes and matches folders like the real name, and turns
# back into the exact bytes (os.fsdecode's surrogateescape form) without a lookup.
_MARK = "\ufffd"
_SELECTOR0 = 0xE0100
_ESCAPED = re.compile("\ufffd([\U000e0100-\U000e017f])")
_SURROGATE = re.compile("[\udc80-\udcff]")


def storable_path(path: str) -> tuple[str, bool]:
    """The form a path is stored and shown in, and whether it had to be escaped."""
    if not _SURROGATE.search(path):
        try:
            path.encode("utf-8")
            return path, False
        except UnicodeEncodeError:  # other lone surrogates: keep them as their UTF-8 bytes
            path = path.encode("utf-8", "surrogatepass").decode("utf-8", "surrogateescape")
    return _SURROGATE.sub(lambda m: _MARK + chr(_SELECTOR0 + ord(m[0]) - 0xDC00 - 0x80), path), True


def real_path(stored: str) -> str:
    """The name to open: the stored form turned back into os.fsdecode's form of the bytes."""
    if _MARK not in stored:
        return stored
    return _ESCAPED.sub(lambda m: chr(0xDC80 + ord(m[1]) - _SELECTOR0), stored)


def display_path(stored: str) -> str:
    """What people read: each byte that is not UTF-8 shown as U+FFFD."""
    return _ESCAPED.sub(_MARK, stored) if _MARK in stored else stored


def path_bytes(stored: str) -> bytes | None:
    """The exact bytes of a name that is not valid UTF-8 (None for every other name)."""
    real = real_path(stored)
    return os.fsencode(real) if real != stored else None


def seen(path: str, size: int, mtime_ns: int) -> Seen:
    p, bad = storable_path(path)
    return Seen(p, size, mtime_ns, bad)


class Rules:
    """Exclude patterns match any path component (a folder anywhere, or a file name);
    include patterns, when given, must match the file name."""

    def __init__(
        self,
        root: str,
        excludes: Sequence[str],
        includes: Sequence[str] = (),
        follow_symlinks: bool = False,
    ) -> None:
        self.root = os.path.abspath(root)
        self.excludes = tuple(excludes)
        self.includes = tuple(includes)
        self.follow_symlinks = follow_symlinks

    def excluded_name(self, name: str) -> bool:
        return any(fnmatchcase(name, p) for p in self.excludes)

    def wanted_dir(self, path: str) -> bool:
        if self.excluded_name(os.path.basename(path)):
            return False
        # virtualenvs and conda envs: thousands of library files nobody searches for
        return not os.path.exists(os.path.join(path, "pyvenv.cfg")) and not os.path.isdir(
            os.path.join(path, "conda-meta")
        )

    def contains(self, path: str) -> bool:
        return path == self.root or path.startswith(self.root.rstrip(os.sep) + os.sep)

    def wanted_file(self, path: str) -> bool:
        """For single paths from the watcher: same answer the walk would give."""
        return self.wanted_name(path) and is_supported(Path(path))

    def wanted_name(self, path: str) -> bool:
        """Whether the walk would see the file at all (to read it, or to find it by name)."""
        if not self.contains(path):
            return False
        rel = os.path.relpath(path, self.root)
        parts = rel.split(os.sep)
        if any(self.excluded_name(p) for p in parts):
            return False
        if self.includes and not any(fnmatchcase(parts[-1], p) for p in self.includes):
            return False
        if not self._link_ok(path):
            return False
        d = os.path.dirname(path)
        while self.contains(d) and d != self.root:
            if not self.wanted_dir(d):
                return False
            if os.path.islink(d) and not self.follow_symlinks:
                return False  # reached through a folder link: the walk would not go there
            d = os.path.dirname(d)
        return True

    def _link_ok(self, path: str) -> bool:
        """A file link is indexed only when links are followed, and only when it leads out of
        the root (a link to a file inside it would index that file twice)."""
        if not os.path.islink(path):
            return True
        return self.follow_symlinks and not self.contains(os.path.realpath(path))

    def walk(self, top: str | None = None, others: list[Seen] | None = None) -> Iterator[Seen]:
        """Files under top (default: the root). Symlinks are not followed unless asked; when
        they are, every folder is walked once (loops end), real folders before linked ones, so
        a file is indexed under its own path rather than through a link to it. Unreadable
        folders are passed over silently (they hold nothing we could index). Files of a type
        with no text to read (photos, archives...) go to `others`, when given: they are
        findable by their names only."""
        stack = [top or self.root]
        linked: list[str] = []  # folders reached through a link: walked after the real ones
        visited: set[tuple[int, int]] = set()
        while stack or linked:
            d = stack.pop() if stack else linked.pop()
            try:
                st = os.stat(d)
                if (st.st_dev, st.st_ino) in visited:  # seen already, or a symlink loop
                    continue
                visited.add((st.st_dev, st.st_ino))
                entries = list(os.scandir(d))
            except OSError:
                continue
            for e in entries:
                try:
                    if e.is_symlink():
                        if not self.follow_symlinks:
                            continue
                        if e.is_dir(follow_symlinks=True):
                            if self.wanted_dir(e.path):
                                linked.append(e.path)
                            continue
                        if self.contains(os.path.realpath(e.path)):
                            continue  # the file itself is indexed under its own name
                    elif e.is_dir(follow_symlinks=False):
                        if self.wanted_dir(e.path):
                            stack.append(e.path)
                        continue
                    if self.excluded_name(e.name):
                        continue
                    if self.includes and not any(fnmatchcase(e.name, p) for p in self.includes):
                        continue
                    st = e.stat(follow_symlinks=self.follow_symlinks)
                    if not stat_mod.S_ISREG(st.st_mode):
                        continue  # fifos, sockets, devices: reading them could block forever
                    if not is_supported(Path(e.path)):
                        if others is not None:
                            others.append(seen(e.path, st.st_size, st.st_mtime_ns))
                        continue
                    yield seen(e.path, st.st_size, st.st_mtime_ns)
                except OSError:
                    continue
