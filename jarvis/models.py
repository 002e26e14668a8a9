"""Locate and verify the model files each stage loads.

Bundled models come from PyPI packages listed in ``models/manifest.toml``,
which records each file's sha256, source package and licence. A file is
hashed before its first use and again whenever its size or modification time
changes; the results are remembered in the cache directory so that a normal
start does not re-read hundreds of megabytes. A user may point any stage at a
model file of their own in the config, which is then used as is.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import threading
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import platformdirs
import structlog

from jarvis.errors import ModelError

log = structlog.get_logger(__name__)

MANIFEST_PATH = Path(__file__).resolve().parents[1] / "models" / "manifest.toml"
_HASH_BLOCK_BYTES = 1 << 20


@dataclass(frozen=True, slots=True)
class ModelSpec:
    """One manifest entry: where a model lives and what its files must hash to."""

    key: str
    description: str
    package: str
    version: str | None
    licence: str
    files: dict[str, str] = field(default_factory=dict)
    """Path relative to the package folder (or the assembled file name) -> sha256 hex."""
    folder: str | None = None
    """For a model made of several files: the folder handed to the loader."""
    assembled: str | None = None
    """For a model joined from chunk packages: the joined file's name."""

    @property
    def import_name(self) -> str:
        return self.package.replace("-", "_")

    @property
    def install_hint(self) -> str:
        pin = f"=={self.version}" if self.version else ""
        return f"pip install '{self.package}{pin}'"


def load_manifest(path: Path = MANIFEST_PATH) -> dict[str, ModelSpec]:
    """Read the model manifest.

    Raises:
        ModelError: the manifest is missing or malformed.
    """
    try:
        with path.open("rb") as handle:
            raw = tomllib.load(handle)
    except (OSError, tomllib.TOMLDecodeError) as err:
        raise ModelError(f"model manifest {path} is unreadable: {err}; reinstall JARVIS from its repository") from err
    specs: dict[str, ModelSpec] = {}
    for key, entry in raw.get("models", {}).items():
        try:
            specs[key] = ModelSpec(
                key=key,
                description=entry["description"],
                package=entry["package"],
                version=entry.get("version"),
                licence=entry["licence"],
                files=dict(entry["files"]),
                folder=entry.get("folder"),
                assembled=entry.get("assembled"),
            )
        except KeyError as err:
            raise ModelError(f"model manifest {path}: entry '{key}' lacks field {err}") from err
    return specs


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while block := handle.read(_HASH_BLOCK_BYTES):
            digest.update(block)
    return digest.hexdigest()


class ModelStore:
    """Resolve a manifest key to a verified path on disk.

    Thread-safe: stages load their models from worker threads at the same time.
    """

    def __init__(self, manifest: dict[str, ModelSpec] | None = None, cache_dir: Path | None = None) -> None:
        self._manifest = manifest if manifest is not None else load_manifest()
        self._cache_dir = cache_dir or Path(platformdirs.user_cache_dir("jarvis"))
        self._stamp_path = self._cache_dir / "verified-models.json"
        self._lock = threading.Lock()

    @property
    def manifest(self) -> dict[str, ModelSpec]:
        return self._manifest

    def resolve(self, key: str, override: Path | None = None) -> Path:
        """Return the path a stage should load for ``key``.

        ``override`` is a user-configured path; it must exist but is not hashed.

        Raises:
            ModelError: the file is missing or its sha256 does not match; the
                message names the model, the expected path and its package.
        """
        if override is not None:
            return self._check_override(key, override.expanduser())
        spec = self._spec(key)
        with self._lock:
            if spec.assembled is not None:
                return self._assembled_path(spec)
            root = self._package_root(spec)
            for relative, expected in spec.files.items():
                self._verify(spec, root / relative, expected)
            return root / spec.folder if spec.folder else root / next(iter(spec.files))

    def _spec(self, key: str) -> ModelSpec:
        try:
            return self._manifest[key]
        except KeyError:
            known = ", ".join(sorted(self._manifest))
            raise ModelError(f"no model '{key}' in the manifest; known models: {known}") from None

    def _check_override(self, key: str, path: Path) -> Path:
        if not path.exists():
            raise ModelError(
                f"model file for '{key}' not found at {path}; fix the path in the config, "
                "or remove the setting to use the bundled model"
            )
        return path

    def _package_root(self, spec: ModelSpec) -> Path:
        found = importlib.util.find_spec(spec.import_name)
        locations = list(found.submodule_search_locations or []) if found else []
        if not locations:
            raise ModelError(
                f"model '{spec.key}' ({spec.description}) is missing: package {spec.package} is not installed; "
                f"run {spec.install_hint}"
            )
        return Path(locations[0])

    def _verify(self, spec: ModelSpec, path: Path, expected: str) -> None:
        try:
            stat = path.stat()
        except OSError:
            raise ModelError(
                f"model '{spec.key}' ({spec.description}) not found at {path}; "
                f"reinstall its package with {spec.install_hint} --force-reinstall"
            ) from None
        stamp = [stat.st_size, stat.st_mtime_ns]
        stamps = self._read_stamps()
        if stamps.get(str(path)) == [*stamp, expected]:
            return
        if expected and _sha256(path) != expected:
            raise ModelError(
                f"model '{spec.key}' at {path} is corrupt (sha256 mismatch); "
                f"reinstall its package with {spec.install_hint} --force-reinstall"
            )
        stamps[str(path)] = [*stamp, expected]
        self._write_stamps(stamps)

    def _assembled_path(self, spec: ModelSpec) -> Path:
        if spec.assembled is None:
            raise ModelError(f"model '{spec.key}' is not assembled from chunks")
        target = self._cache_dir / "models" / spec.assembled
        expected = spec.files[spec.assembled]
        if target.exists():
            try:
                self._verify(spec, target, expected)
                return target
            except ModelError:
                log.warning("model_reassembling", model=spec.key, path=str(target))
                target.unlink()
        self._assemble(spec, target)
        self._verify(spec, target, expected)
        return target

    def _assemble(self, spec: ModelSpec, target: Path) -> None:
        try:
            module = importlib.import_module(spec.import_name)
        except ImportError:
            raise ModelError(
                f"model '{spec.key}' ({spec.description}) is missing: package {spec.package} is not installed; "
                f"run {spec.install_hint}"
            ) from None
        log.info("model_assembling", model=spec.key, path=str(target))
        try:
            module.assemble(target, overwrite=True)
        except (OSError, ValueError) as err:
            target.unlink(missing_ok=True)
            raise ModelError(
                f"model '{spec.key}' could not be assembled at {target}: {err}; "
                f"reinstall its chunk packages with {spec.install_hint} --force-reinstall"
            ) from err

    def _read_stamps(self) -> dict[str, Any]:
        try:
            data = json.loads(self._stamp_path.read_text())
        except (OSError, ValueError):
            return {}
        return data if isinstance(data, dict) else {}

    def _write_stamps(self, stamps: dict[str, Any]) -> None:
        try:
            self._stamp_path.parent.mkdir(parents=True, exist_ok=True)
            temporary = self._stamp_path.with_suffix(".tmp")
            temporary.write_text(json.dumps(stamps, indent=1))
            temporary.replace(self._stamp_path)
        except OSError as err:
            # Verification still happened; only the shortcut for next time is lost.
            log.warning("model_stamp_write_failed", path=str(self._stamp_path), error=str(err))
