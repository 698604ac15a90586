"""Set values in a TOML file line by line, keeping its comments and layout.

Enough for CometBFT's config.toml: one key per line, values on one line. The
standard library reads TOML (tomllib) but does not write it, and rewriting the
whole file would drop the comments that document every option.
"""
import json
import re

__all__ = ["TomlPatchError", "format_value", "set_value", "patch", "patch_file"]

_HEADER = re.compile(r"^\s*\[\[?\s*([^\]]+?)\s*\]\]?\s*(#.*)?$")


class TomlPatchError(ValueError):
    """A value or a file this line-based patcher cannot handle safely."""


def format_value(value) -> str:
    """Render a str, bool, int or list of them as a TOML value."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str):
        # A JSON string (\" \\ \n \uXXXX escapes, ASCII only) is a valid TOML basic string.
        return json.dumps(value)
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(format_value(v) for v in value) + "]"
    raise TomlPatchError(f"cannot write a {type(value).__name__} as a TOML value")


def set_value(text: str, section: str, key: str, value) -> str:
    """Return text with key in [section] set to value ("" is the top level)."""
    return patch(text, {section: {key: value}})


def patch(text: str, changes: dict) -> str:
    """Return text with every {section: {key: value}} in changes set."""
    lines = text.splitlines()
    for section, values in changes.items():
        for key, value in values.items():
            _set_line(lines, section, key, format_value(value))
    return "\n".join(lines) + "\n"


def patch_file(path, changes: dict) -> None:
    """Apply changes to the TOML file at path in place."""
    with open(path, encoding="utf-8") as f:
        text = f.read()
    with open(path, "w", encoding="utf-8") as f:
        f.write(patch(text, changes))


def _set_line(lines: list, section: str, key: str, rendered: str) -> None:
    if not re.fullmatch(r"[A-Za-z0-9_-]+", key):
        raise TomlPatchError(f"only bare keys are supported, not {key!r}")
    start, end = _section_span(lines, section)
    if start is None:
        if lines and lines[-1].strip():
            lines.append("")
        lines.extend([f"[{section}]", f"{key} = {rendered}"])
        return
    key_line = re.compile(rf"^(\s*){re.escape(key)}\s*=\s*(.*)$")
    for i in range(start, end):
        match = key_line.match(lines[i])
        if match:
            old = match.group(2)
            if old.startswith(('"""', "'''")) or (old.startswith("[") and "]" not in old):
                raise TomlPatchError(f"{section}.{key} spans several lines; cannot patch it")
            lines[i] = f"{match.group(1)}{key} = {rendered}"
            return
    # Append after the section's last value: trailing comments introduce the next header.
    insert = end
    while insert > start and _is_blank_or_comment(lines[insert - 1]):
        insert -= 1
    lines.insert(insert, f"{key} = {rendered}")


def _is_blank_or_comment(line: str) -> bool:
    stripped = line.strip()
    return not stripped or stripped.startswith("#")


def _section_span(lines: list, section: str):
    """Return (first, end) line indices of the body of section, or (None, None)."""
    start = 0 if section == "" else None
    for i, line in enumerate(lines):
        header = _HEADER.match(line)
        if not header:
            continue
        if start is not None:
            return start, i
        if header.group(1) == section:
            start = i + 1
    return (start, len(lines)) if start is not None else (None, None)
