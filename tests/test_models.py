"""Model files are found through the manifest and checked against their sha256."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from jarvis.errors import ModelError
from jarvis.models import ModelSpec, ModelStore, load_manifest


def _store_with_file(tmp_path: Path, content: bytes, expected: str) -> tuple[ModelStore, Path]:
    """A store whose single model lives in a fake package folder on sys.path."""
    package = tmp_path / "site" / "fake_model_pkg"
    package.mkdir(parents=True)
    (package / "__init__.py").write_text("")
    model_file = package / "weights.bin"
    model_file.write_bytes(content)
    spec = ModelSpec(
        key="fake", description="fake test model", package="fake-model-pkg", version="1.0", licence="MIT",
        files={"weights.bin": expected},
    )  # fmt: skip
    return ModelStore({"fake": spec}, cache_dir=tmp_path / "cache"), model_file


@pytest.fixture
def fake_site(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.syspath_prepend(str(tmp_path / "site"))
    return tmp_path


def test_manifest_lists_every_stage() -> None:
    manifest = load_manifest()
    assert {"wake_word", "wake_melspectrogram", "wake_embedding", "stt", "tts_voice", "vad", "llm"} <= set(manifest)
    for spec in manifest.values():
        assert spec.licence
        assert all(len(digest) == 64 for digest in spec.files.values()), spec.key


def test_bundled_models_resolve_and_verify(model_store: ModelStore) -> None:
    for key in ("wake_word", "stt", "tts_voice", "vad"):
        path = model_store.resolve(key)
        assert path.exists(), key


def test_matching_file_resolves(fake_site: Path) -> None:
    content = b"model weights"
    store, model_file = _store_with_file(fake_site, content, hashlib.sha256(content).hexdigest())
    assert store.resolve("fake") == model_file


def test_corrupt_file_names_model_and_package(fake_site: Path) -> None:
    store, model_file = _store_with_file(fake_site, b"tampered", hashlib.sha256(b"original").hexdigest())
    with pytest.raises(ModelError) as caught:
        store.resolve("fake")
    message = str(caught.value)
    assert "'fake'" in message
    assert str(model_file) in message
    assert "fake-model-pkg==1.0" in message
    assert "corrupt" in message


def test_file_changed_after_verification_is_rechecked(fake_site: Path) -> None:
    content = b"model weights"
    store, model_file = _store_with_file(fake_site, content, hashlib.sha256(content).hexdigest())
    store.resolve("fake")
    model_file.write_bytes(b"model weighs")  # same size, new modification time
    with pytest.raises(ModelError, match="corrupt"):
        store.resolve("fake")


def test_missing_file_names_expected_path(fake_site: Path) -> None:
    store, model_file = _store_with_file(fake_site, b"x", hashlib.sha256(b"x").hexdigest())
    model_file.unlink()
    with pytest.raises(ModelError) as caught:
        store.resolve("fake")
    assert "not found" in str(caught.value)
    assert str(model_file) in str(caught.value)


def test_missing_package_names_install_command(tmp_path: Path) -> None:
    spec = ModelSpec(key="gone", description="absent model", package="no-such-model-package", version="2.0",
                     licence="MIT", files={"a.bin": "0" * 64})  # fmt: skip
    store = ModelStore({"gone": spec}, cache_dir=tmp_path)
    with pytest.raises(ModelError, match=r"pip install 'no-such-model-package==2\.0'"):
        store.resolve("gone")


def test_unknown_key_lists_known_models(model_store: ModelStore) -> None:
    with pytest.raises(ModelError, match=r"known models: .*stt"):
        model_store.resolve("nope")


def test_user_override_used_without_hashing(tmp_path: Path, model_store: ModelStore) -> None:
    own = tmp_path / "my-voice.onnx"
    own.write_bytes(b"anything")
    assert model_store.resolve("tts_voice", own) == own


def test_missing_user_override_says_how_to_fix(tmp_path: Path, model_store: ModelStore) -> None:
    with pytest.raises(ModelError, match="fix the path in the config"):
        model_store.resolve("stt", tmp_path / "missing-model")


def test_manifest_unreadable(tmp_path: Path) -> None:
    broken = tmp_path / "manifest.toml"
    broken.write_text("models = [")
    with pytest.raises(ModelError, match="unreadable"):
        load_manifest(broken)
