"""Set values in CometBFT's config.toml, keeping its comments and layout (with tomlkit).

The standard library reads TOML (tomllib) but does not write it, and rewriting the
whole file would drop the comments that document every option.
"""

import tomlkit
from tomlkit.items import AoT, Table

__all__ = ["patch", "patch_file"]


def patch(text: str, changes: dict) -> str:
    """Return text with every {section: {key: value}} in changes set ("" is the top level).

    A key already there keeps its place (and its trailing comment); a new key goes at
    the end of its table, a new table at the end of the file.
    """
    doc = tomlkit.parse(text)
    for section, values in changes.items():
        table = doc if section == "" else _table(doc, section)
        for key, value in values.items():
            _set(table, key, value)
    return tomlkit.dumps(doc)


def patch_file(path, changes: dict) -> None:
    """Apply changes to the TOML file at path in place."""
    with open(path, encoding="utf-8") as f:
        text = f.read()
    with open(path, "w", encoding="utf-8") as f:
        f.write(patch(text, changes))


def _set(table, key: str, value) -> None:
    """Set key in table; a new key goes after the table's last value, not after the comments
    that close it (in config.toml they are the banner of the next section)."""
    container = table.value if isinstance(table, Table) else table
    values = [i for i, (k, item) in enumerate(container.body) if k is not None and not isinstance(item, (Table, AoT))]
    if key in table or not values:
        table[key] = value
    else:
        # tomlkit has no public insert at a position; _insert_at is its own (version pinned).
        container._insert_at(values[-1] + 1, key, value)


def _table(doc, section: str):
    """Return the table named section (dotted: a.b), made at the end of the file if missing."""
    table = doc
    for name in section.split("."):
        if name not in table:
            table[name] = tomlkit.table()
        table = table[name]
    return table
