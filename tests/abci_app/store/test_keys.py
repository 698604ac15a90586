"""The key layout: the docstring's table lists every key the app writes, with the values it holds."""

import re

from abci_app.store import keys
from mpc_tx.protocol import canonical

from statehelpers import life_cycle


# What each <part> of a documented key stands for (the docstring's last paragraph).
_PARTS = {
    "<poll>": "[0-9]{16}",
    "<height>": "[0-9]{16}",
    "<validator>": "[0-9]{4}",
    "<slot>": "[0-9]{4}",
    "<voter>": "[0-9a-f]{64}",
    "<signer>": "[0-9a-f]{64}",
    "<i>": "[0-9]{4}",
    "<tx>": "[0-9A-F]{64}",
    "<cdigest>": "[0-9a-f]{64}",
}


def _documented() -> list:
    """Return (pattern, key template) for each key row of the module docstring."""
    rows = []
    for line in keys.__doc__.splitlines():
        m = re.match(r"    ([a-z_]+/\S+)\s", line)
        if m:
            template = m.group(1)
            parts = [_PARTS.get(p, re.escape(p)) for p in re.split(r"(<[a-z]+>)", template)]
            rows.append((re.compile("".join(parts)), template))
    return rows


def test_every_key_the_app_writes_is_documented(tmp_path):
    c = life_cycle(tmp_path)
    rows = _documented()
    assert len(rows) == 21
    used = set()
    for _ in range(2):
        for key, raw in c.app.store.db.iterator():
            matching = [t for pattern, t in rows if pattern.fullmatch(key.decode())]
            assert len(matching) == 1, key
            used.add(matching[0])
            if not key.startswith(b"meta/"):
                canonical.decode(raw)  # canonical JSON, as the docstring says
        c.block()
    assert used == {t for _p, t in rows}


def test_the_values_are_as_documented(tmp_path):
    c = life_cycle(tmp_path)
    state = dict(c.app.store.db.iterator())
    values = {}
    for key, raw in state.items():
        if not key.startswith(b"meta/"):
            values.setdefault(key.split(b"/")[0], []).append(canonical.decode(raw))
    assert state[keys.HEIGHT] == str(c.height).encode() and len(state[keys.APP_HASH]) == 32
    assert set(values[b"due"]) == {"close", "fix", "deadline"}
    assert set(values[b"eligible"]) == set(values[b"mpcwait"]) == {1}
    assert all(set(v) == {"poll", "free_at"} for v in values[b"mpcslot"])
    assert any(v["free_at"] is None for v in values[b"mpcslot"]) and any(v["free_at"] for v in values[b"mpcslot"])
    assert all(set(v) == {"validator", "absent", "height"} for v in values[b"report"])
    assert all(isinstance(v, int) for v in values[b"nonce"] + values[b"closings"])
    assert all(re.fullmatch("[0-9a-f]{64}", v) for v in values[b"bdig"])
    assert all(re.fullmatch("[0-9A-F]{64}", v) for v in values[b"badc"])
    assert {v["verdict"] for v in values[b"complaint"]} == {"ballot_bad", "complaint_false", "moot"}
    assert sorted(v["verdict"] for v in values[b"aggregate"]) == ["named", "valid", "valid"]
    # A per poll: k·(t+1) points of 32 bytes (a unanimity poll's k = 1 too).
    assert len(values[b"agg"]) == c.query("/polls")[1]["polls"][-1]["id"]
    assert all(re.fullmatch("(?:[0-9a-f]{64})+", v) for v in values[b"agg"])
    # A disqualified ballot has no bdig: one ballot record more than digests.
    assert len(values[b"ballot"]) == len(values[b"bdig"]) + len(values[b"badc"])
