"""Write config/default.toml from the settings models, with each field's description.

Run after changing a setting: python scripts/write_default_config.py
A test checks that the shipped file equals the defaults.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from jarvis.config import Settings

TARGET = Path(__file__).resolve().parents[1] / "config" / "default.toml"
HEADER = """\
# JARVIS default settings. Copy the sections you want to change into your own
# file (`jarvis config path` prints where it is read from) or set them with
# JARVIS_<SECTION>__<FIELD> environment variables, e.g. JARVIS_STT__LANGUAGE=de.
# Settings shown commented out have no default value.
# API keys never go in this file: use `jarvis keys set PROVIDER` or the
# provider's environment variable.
"""


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_toml_value(item) for item in value) + "]"
    return json.dumps(str(value))


def _render(model: BaseModel, prefix: str, lines: list[str]) -> None:
    nested: list[tuple[str, BaseModel]] = []
    dumped = json.loads(model.model_dump_json())
    for name, field in type(model).model_fields.items():
        value = getattr(model, name)
        if isinstance(value, BaseModel):
            nested.append((name, value))
            continue
        if field.description:
            lines.append(f"# {field.description}")
        if dumped[name] is None:
            lines.append(f"# {name} = ")
        else:
            lines.append(f"{name} = {_toml_value(dumped[name])}")
    for name, child in nested:
        section = f"{prefix}.{name}" if prefix else name
        lines.extend(["", f"[{section}]"])
        _render(child, section, lines)


def render_default_config() -> str:
    lines: list[str] = [HEADER.rstrip()]
    _render(Settings(), "", lines)
    return "\n".join(lines).replace("\n\n\n", "\n\n") + "\n"


if __name__ == "__main__":
    TARGET.write_text(render_default_config())
    print(f"wrote {TARGET}")
