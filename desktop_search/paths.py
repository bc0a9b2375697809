"""Every per-user path. Precedence: --home flag > DESKTOP_SEARCH_HOME > the platform default."""

from __future__ import annotations

import importlib.resources
import os
from dataclasses import dataclass
from pathlib import Path

import platformdirs

from .errors import DesktopSearchError

APP_NAME = "desktop-search"
HOME_ENV = "DESKTOP_SEARCH_HOME"


def resources_dir() -> Path:
    """The bundled model, its licence and the icons. A wheel carries the repository's
    resources/ inside the package as _resources (pyproject maps it at build time); a checkout
    or an editable install reads resources/ beside the package."""
    packaged = importlib.resources.files("desktop_search") / "_resources"
    if isinstance(packaged, Path) and packaged.is_dir():
        return packaged
    return Path(__file__).resolve().parent.parent / "resources"


RESOURCES = resources_dir()


@dataclass(frozen=True)
class AppPaths:
    """Where one home keeps its state. Created private (0700) because it holds copies of text."""

    home: Path

    @property
    def config(self) -> Path:
        return self.home / "config.toml"

    @property
    def catalog(self) -> Path:
        return self.home / "catalog.sqlite3"

    @property
    def index_dir(self) -> Path:
        return self.home / "index"

    @property
    def models_dir(self) -> Path:
        return self.home / "models"

    @property
    def weights_dir(self) -> Path:
        return weights_dir()

    @property
    def logs_dir(self) -> Path:
        return self.home / "logs"

    def vector_index(self, model_key: str) -> Path:
        return self.index_dir / f"vectors-{model_key}.usearch"

    def ensure(self) -> AppPaths:
        """Creates the home and its folders, private. A home that exists but cannot be
        written is left as it is (it can still be searched); one that cannot be created is
        an error."""
        try:
            make_private_dir(self.home)
        except OSError as e:
            raise DesktopSearchError(
                f"cannot create the index folder {self.home}: {e.strerror or e}"
            ) from e
        for d in (self.index_dir, self.models_dir, self.logs_dir):
            try:
                make_private_dir(d)
            except OSError:
                if os.access(self.home, os.W_OK):
                    raise
        return self


def make_private_dir(path: Path) -> None:
    path.mkdir(parents=True, exist_ok=True, mode=0o700)
    # mkdir's mode is masked by umask and ignored for existing dirs; enforce it.
    if path.stat().st_mode & 0o077:
        try:
            path.chmod(0o700)
        except PermissionError:
            if os.access(path, os.W_OK):
                raise  # ours to fix and we cannot: say so rather than leave it open


def weights_dir() -> Path:
    """Working copies of models in a faster layout (embed.f32_copy): derived from the model
    files alone, so one copy serves every home; a cache, safe to delete."""
    return Path(platformdirs.user_cache_dir(APP_NAME, appauthor=False)) / "weights"


def resolve_home(flag: str | os.PathLike[str] | None = None) -> AppPaths:
    if flag:
        home = Path(flag)
    elif os.environ.get(HOME_ENV):
        home = Path(os.environ[HOME_ENV])
    else:
        home = Path(platformdirs.user_data_dir(APP_NAME, appauthor=False))
    return AppPaths(home.expanduser().resolve())
