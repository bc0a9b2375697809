"""Privacy: the index is the user's alone, nothing goes on the network, symlinks never lead out
of a folder, secret stores are not indexed by default, and removed text is gone from the files
on disk, not just from query results."""

from __future__ import annotations

import os
import signal
import stat
import subprocess
import sys
import time
from pathlib import Path

from conftest import REPO, cli

from desktop_search.config import DEFAULT_EXCLUDES, Settings
from desktop_search.engine import Engine
from desktop_search.search import SearchOptions


def mode(p: Path) -> int:
    return stat.S_IMODE(os.stat(p).st_mode)


def test_index_config_and_logs_are_readable_by_the_user_alone(tmp_path: Path, docs: Path) -> None:
    home = tmp_path / "home"
    home.mkdir(mode=0o755)
    home.chmod(0o755)  # as a careless installer would leave it
    (docs / "a.txt").write_text("The heron stands still in the shallows.", encoding="utf-8")
    old = os.umask(0o022)  # the usual umask: new files world-readable unless we take care
    try:
        eng = Engine(home)
        eng.add_root(docs)
        eng.save_settings()
        eng.index()
        eng.search("heron")
        (eng.paths.logs_dir / "app.log").touch()  # stand-in for a log written by the GUI
        open_files = sorted(p for p in home.rglob("*") if p.is_file())
        names = {p.name for p in open_files}
        assert {
            "catalog.sqlite3",
            "catalog.sqlite3-wal",
            "catalog.sqlite3-shm",
            "config.toml",
            "writer.lock",
        } <= names, names
        assert any(p.suffix == ".usearch" for p in open_files)
        eng.close()
    finally:
        os.umask(old)
    loose = [
        (str(p.relative_to(home)), oct(mode(p)))
        for p in [home, *home.rglob("*")]
        if p.name != "app.log" and mode(p) & 0o077
    ]
    assert loose == []
    for d in (home, home / "index", home / "models", home / "logs"):
        assert mode(d) == 0o700, d
    # an existing catalog left readable by others is closed up on the next start
    (home / "catalog.sqlite3").chmod(0o644)
    Engine(home).close()
    assert mode(home / "catalog.sqlite3") == 0o600


_AUDIT = """
import os, sys
_LOG = os.environ["NET_AUDIT_LOG"]
_EVENTS = {"socket.__new__", "socket.connect", "socket.bind", "socket.getaddrinfo",
           "socket.gethostbyname", "socket.gethostbyaddr", "socket.sendto", "socket.sendmsg",
           "http.client.connect", "urllib.Request", "ftplib.connect", "smtplib.connect"}
def _hook(event, args):
    if event in _EVENTS:
        with open(_LOG, "a") as f:
            f.write(f"{os.getpid()} {sys.argv[:3]} {event} {args!r}\\n")
        raise RuntimeError(f"network use at run time: {event}")
sys.addaudithook(_hook)
"""


def test_indexing_searching_and_watching_open_no_socket(tmp_path: Path, docs: Path) -> None:
    """Every Python process (the CLI and its extraction worker) runs with an audit hook that
    records and refuses any socket, name lookup or URL request."""
    hook_dir = tmp_path / "hook"
    hook_dir.mkdir()
    (hook_dir / "sitecustomize.py").write_text(_AUDIT, encoding="utf-8")
    log = tmp_path / "net.log"
    env = {
        "PYTHONPATH": os.pathsep.join([str(hook_dir), os.environ.get("PYTHONPATH", "")]),
        "NET_AUDIT_LOG": str(log),
    }
    # the hook works: a connection attempt is caught
    probe = subprocess.run(
        [sys.executable, "-c", "import socket; socket.create_connection(('127.0.0.1', 9), 1)"],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
    )
    assert probe.returncode != 0 and "network use at run time" in probe.stderr
    assert "socket" in log.read_text()
    log.unlink()

    (docs / "a.md").write_text("# Tides\n\nThe moon pulls the sea twice a day.", encoding="utf-8")
    (docs / "b.pdf").write_bytes(b"%PDF-1.4 broken")
    home = tmp_path / "home"
    for args in (("add", str(docs)), ("index",), ("search", "why does the sea rise"), ("status",)):
        proc = cli(home, *args, env=env, check=False)
        assert proc.returncode == 0, (args, proc.stderr[-2000:])
    watch = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "desktop_search.cli",
            "--home",
            str(home),
            "watch",
            "--debounce",
            "0.2",
        ],
        cwd=REPO,
        env={**os.environ, **env},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        time.sleep(3)
        (docs / "c.txt").write_text("Spring tides follow the full moon.", encoding="utf-8")
        time.sleep(2.5)
    finally:
        watch.send_signal(signal.SIGINT)
        _out, err = watch.communicate(timeout=30)
    assert watch.returncode in (0, 130), err[-2000:]
    assert "network use" not in err
    res = cli(home, "search", "spring tides", "--mode", "keyword", "--json", env=env)
    assert "c.txt" in res.stdout
    assert not log.exists(), log.read_text()


def _tree(root: Path, files: dict[str, str]) -> None:
    for rel, text in files.items():
        p = root / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(text, encoding="utf-8")


def test_symlinks_never_lead_out_of_a_root_unless_asked(tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    _tree(
        outside,
        {
            "private.txt": "The zorilla password is hunter2.",
            "sub/deep.txt": "The zorilla lives in Africa.",
        },
    )
    root = tmp_path / "root"
    _tree(
        root,
        {"inside.txt": "The aardwolf eats termites.", "real/linked.txt": "The caracal jumps high."},
    )
    os.symlink(outside, root / "to-outside")  # a folder link out of the root
    os.symlink(outside / "private.txt", root / "private-link.txt")  # a file link out
    os.symlink(root / "real", root / "alias")  # a folder link inside the root
    os.symlink(root / "inside.txt", root / "inside-link.txt")  # a file link inside
    os.symlink(root, root / "real" / "loop")  # a loop
    os.symlink("self.txt", root / "self.txt")  # a link to itself
    for follow in (False, True):
        home = tmp_path / f"home-{follow}"
        eng = Engine(home, settings=Settings(follow_symlinks=follow))
        try:
            eng.add_root(root)
            eng.index()
            # the watcher's path: events for the links themselves
            eng.index(
                paths=[
                    str(root / "private-link.txt"),
                    str(root / "to-outside"),
                    str(root / "to-outside" / "sub" / "deep.txt"),
                ]
            )
            paths = {
                os.path.relpath(r[0], root)
                for r in eng.catalog.db.execute("SELECT path FROM files")
            }
            found = [
                Path(r.path).name for r in eng.search("zorilla", SearchOptions(mode="keyword"))
            ]
            if follow:  # asked: links out are followed; every file still indexed once
                assert sorted(found) == ["deep.txt", "private-link.txt", "private.txt"]
                assert paths == {
                    "inside.txt",
                    "real/linked.txt",
                    "private-link.txt",
                    "to-outside/private.txt",
                    "to-outside/sub/deep.txt",
                }
            else:
                assert found == []
                assert paths == {"inside.txt", "real/linked.txt"}
            assert eng.verify() == []
        finally:
            eng.close()


# Where secrets live on Linux, macOS and Windows, as a root that is a whole user folder sees them.
_SECRET_STORES = {
    ".ssh/id_rsa": "ssh private key",
    ".ssh/config": "ssh config",
    ".gnupg/private-keys-v1.d/notes.txt": "gpg",
    ".aws/credentials": "aws",
    ".netrc": "netrc",
    ".env": "dotenv",
    ".password-store/site/login.txt": "pass",
    "password-store/bank.txt": "pass without the dot",
    ".mozilla/firefox/abc.default/prefs.js": "firefox profile (Linux)",
    ".config/google-chrome/Default/Bookmarks": "chrome profile (Linux)",
    ".thunderbird/abc.default/prefs.js": "thunderbird",
    "Library/Keychains/notes.txt": "macOS keychain folder",
    ".local/share/keyrings/login.txt": "GNOME keyring",
    "Passwords.kdbx": "keepass database",
    "id_ed25519": "ssh key outside .ssh",
    "server.pem": "certificate key",
}
_SECRET_STORES_NOT_YET = {
    "Library/Application Support/Google/Chrome/Default/Bookmarks": "chrome profile (macOS)",
    "Library/Application Support/Firefox/Profiles/abc.default/prefs.js": "firefox (macOS)",
    "AppData/Roaming/Mozilla/Firefox/Profiles/abc.default/prefs.js": "firefox (Windows)",
    "AppData/Local/Google/Chrome/User Data/Default/Bookmarks": "chrome (Windows)",
}


def _secret_hits(tmp_path: Path, stores: dict[str, str]) -> list[str]:
    root = tmp_path / "user"
    _tree(
        root,
        {
            rel: f"token zorse{i:03d}secret for {what}"
            for i, (rel, what) in enumerate(stores.items())
        },
    )
    _tree(root, {"Documents/notes.txt": "An ordinary note about the zorse."})
    eng = Engine(tmp_path / "home")
    try:
        eng.add_root(root)
        eng.index()
        paths = [r[0] for r in eng.catalog.db.execute("SELECT path FROM files")]
    finally:
        eng.close()
    assert str(root / "Documents/notes.txt") in paths
    return [os.path.relpath(p, root) for p in paths if "Documents" not in p]


def test_default_excludes_keep_secret_stores_out(tmp_path: Path) -> None:
    assert "Keychains" in DEFAULT_EXCLUDES
    assert _secret_hits(tmp_path, _SECRET_STORES) == []


def test_default_excludes_keep_macos_and_windows_browser_profiles_out(tmp_path: Path) -> None:
    assert _secret_hits(tmp_path, _SECRET_STORES_NOT_YET) == []


SECRET = "zqxjvbwkplmfrog"  # one token, no stem to strip, shares no prefix with other words


def raw_leftovers(home: Path, word: str = SECRET) -> list[str]:
    """Files of the home whose raw bytes still contain the word (or its tail, in case FTS5
    stored it prefix-compressed after a neighbouring term)."""
    out = []
    for p in sorted(home.rglob("*")):
        if p.is_file():
            data = p.read_bytes()
            if word.encode() in data or word[4:].encode() in data:
                out.append(p.name)
    return out


def fts_terms(eng: Engine) -> set[str]:
    eng.catalog.db.execute(
        "CREATE VIRTUAL TABLE IF NOT EXISTS temp.vocab USING fts5vocab(main, chunks_fts, row)"
    )
    return {r[0] for r in eng.catalog.db.execute("SELECT term FROM temp.vocab")}


def _write_many(folder: Path, n: int, extra: str = "") -> None:
    for i in range(n):
        (folder / f"n{i}.txt").write_text(
            f"Ordinary note {i} about rivers and hills. {extra}", encoding="utf-8"
        )


def test_a_deleted_file_leaves_no_trace_in_the_files_on_disk(engine: Engine, docs: Path) -> None:
    _write_many(docs, 20)
    secret = docs / "diary.txt"
    secret.write_text(f"My secret word is {SECRET}. " * 40, encoding="utf-8")
    engine.add_root(docs)
    engine.index()
    assert engine.search(SECRET, SearchOptions(mode="keyword"))
    engine.catalog.checkpoint()
    assert raw_leftovers(engine.paths.home), "the check must see the word while it is indexed"
    secret.unlink()
    engine.index()
    assert not engine.search(SECRET, SearchOptions(mode="keyword"))
    assert SECRET not in fts_terms(engine)
    assert raw_leftovers(engine.paths.home) == []
    wal = Path(str(engine.paths.catalog) + "-wal")
    assert not wal.exists() or wal.stat().st_size == 0, "the WAL was truncated"


def test_a_removed_folder_leaves_no_trace_in_the_files_on_disk(tmp_path: Path) -> None:
    keep, drop = tmp_path / "keep", tmp_path / "drop"
    keep.mkdir()
    drop.mkdir()
    _write_many(keep, 10)
    _write_many(drop, 10, extra=f"Also {SECRET}.")
    eng = Engine(tmp_path / "home")
    try:
        eng.add_root(keep)
        eng.add_root(drop)
        eng.index()
        eng.catalog.checkpoint()
        assert raw_leftovers(eng.paths.home)
        assert eng.remove_root(drop) == 10
        assert SECRET not in fts_terms(eng)
        assert raw_leftovers(eng.paths.home) == []
        assert eng.verify() == []
        assert len(eng.search("rivers hills", SearchOptions(mode="keyword", k=50))) == 10
    finally:
        eng.close()
    assert raw_leftovers(tmp_path / "home") == []
