"""Tests of node_config.tomlpatch: line-based TOML edits that keep the rest."""
import tomllib

import pytest

from node_config.tomlpatch import TomlPatchError, format_value, patch, patch_file, set_value

SAMPLE = """\
# top comment
proxy_app = "tcp://127.0.0.1:26658"
moniker = "old"

#######################################################
###           RPC Server Configuration Options      ###
#######################################################
[rpc]

# Address to listen on
laddr = "tcp://127.0.0.1:26657"
cors_allowed_methods = ["HEAD", "GET", "POST", ]

# pprof listen address
pprof_laddr = "localhost:6060"

#######################################################
[p2p]
laddr = "tcp://0.0.0.0:26656"   # trailing comment
allow_duplicate_ip = false

[p2p.extra]
laddr = "not this one"
"""


@pytest.mark.parametrize("value, text", [
    (True, "true"), (False, "false"), (0, "0"), (-3, "-3"), ("a", '"a"'),
    ('q"b\\s\n', '"q\\"b\\\\s\\n"'), ("é", '"\\u00e9"'), ([1, "x"], '[1, "x"]'), ([], "[]"),
])
def test_format_value(value, text):
    assert format_value(value) == text
    assert tomllib.loads(f"k = {text}")["k"] == value


@pytest.mark.parametrize("value", [1.5, None, {"a": 1}, b"x"])
def test_format_value_rejects_other_types(value):
    with pytest.raises(TomlPatchError):
        format_value(value)


def test_set_existing_keys_in_their_sections():
    out = patch(SAMPLE, {
        "": {"moniker": "node3"},
        "rpc": {"laddr": "tcp://127.0.0.1:26601", "pprof_laddr": ""},
        "p2p": {"laddr": "tcp://127.0.0.1:26600", "allow_duplicate_ip": True},
    })
    doc = tomllib.loads(out)
    assert doc["moniker"] == "node3"
    assert doc["proxy_app"] == "tcp://127.0.0.1:26658"
    assert doc["rpc"] == {"laddr": "tcp://127.0.0.1:26601", "pprof_laddr": "",
                          "cors_allowed_methods": ["HEAD", "GET", "POST"]}
    assert doc["p2p"]["laddr"] == "tcp://127.0.0.1:26600"
    assert doc["p2p"]["allow_duplicate_ip"] is True
    assert doc["p2p"]["extra"]["laddr"] == "not this one"
    # Comments and the other lines are kept verbatim.
    assert "# Address to listen on" in out and "# top comment" in out
    assert len(out.splitlines()) == len(SAMPLE.splitlines())


def test_missing_key_goes_to_the_end_of_its_section():
    out = set_value(SAMPLE, "rpc", "max_body_bytes", 2000000)
    doc = tomllib.loads(out)
    assert doc["rpc"]["max_body_bytes"] == 2000000
    lines = out.splitlines()
    # Inserted after the section's last value, not after the next section's banner.
    assert lines.index("max_body_bytes = 2000000") == lines.index('pprof_laddr = "localhost:6060"') + 1


def test_missing_top_level_key_stays_before_the_first_table():
    doc = tomllib.loads(set_value(SAMPLE, "", "log_level", "info"))
    assert doc["log_level"] == "info" and "log_level" not in doc["rpc"]


def test_missing_section_is_appended():
    doc = tomllib.loads(set_value(SAMPLE, "instrumentation", "prometheus", True))
    assert doc["instrumentation"] == {"prometheus": True}
    assert doc["p2p"]["extra"]["laddr"] == "not this one"


def test_empty_text():
    assert tomllib.loads(set_value("", "", "a", 1)) == {"a": 1}
    assert tomllib.loads(set_value("", "s", "a", 1)) == {"s": {"a": 1}}


def test_patch_is_idempotent():
    changes = {"p2p": {"laddr": "tcp://127.0.0.1:1"}, "new": {"k": "v"}}
    once = patch(SAMPLE, changes)
    assert patch(once, changes) == once


def test_multi_line_values_are_refused():
    text = 'arr = [\n  1,\n  2,\n]\n'
    with pytest.raises(TomlPatchError):
        set_value(text, "", "arr", [3])


def test_only_bare_keys():
    with pytest.raises(TomlPatchError):
        set_value(SAMPLE, "rpc", "a.b", 1)


def test_patch_file(tmp_path):
    path = tmp_path / "config.toml"
    path.write_text(SAMPLE)
    patch_file(path, {"rpc": {"laddr": "tcp://127.0.0.1:9"}})
    assert tomllib.loads(path.read_text())["rpc"]["laddr"] == "tcp://127.0.0.1:9"
