"""Tests of node_config.tomlpatch: config.toml edits (tomlkit) that keep the rest."""

import tomllib

import pytest

from node_config.tomlpatch import patch, patch_file


def set_value(text, section, key, value):
    return patch(text, {section: {key: value}})


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


@pytest.mark.parametrize("value", [True, False, 0, -3, "a", 'q"b\\s\n', "é", [1, "x"], []])
def test_values_read_back_as_written(value):
    out = set_value(SAMPLE, "rpc", "laddr", value)
    assert tomllib.loads(out)["rpc"]["laddr"] == value


def test_set_existing_keys_in_their_sections():
    out = patch(
        SAMPLE,
        {
            "": {"moniker": "node3"},
            "rpc": {"laddr": "tcp://127.0.0.1:26601", "pprof_laddr": ""},
            "p2p": {"laddr": "tcp://127.0.0.1:26600", "allow_duplicate_ip": True},
        },
    )
    doc = tomllib.loads(out)
    assert doc["moniker"] == "node3"
    assert doc["proxy_app"] == "tcp://127.0.0.1:26658"
    assert doc["rpc"] == {
        "laddr": "tcp://127.0.0.1:26601",
        "pprof_laddr": "",
        "cors_allowed_methods": ["HEAD", "GET", "POST"],
    }
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


def test_multi_line_values_are_replaced_whole():
    text = 'arr = [\n  1,\n  2,\n]\nafter = 1\n'
    assert tomllib.loads(set_value(text, "", "arr", [3])) == {"arr": [3], "after": 1}


def test_trailing_comment_of_a_set_key_is_kept():
    out = set_value(SAMPLE, "p2p", "laddr", "tcp://127.0.0.1:1")
    assert 'laddr = "tcp://127.0.0.1:1"   # trailing comment' in out.splitlines()


def test_patch_file(tmp_path):
    path = tmp_path / "config.toml"
    path.write_text(SAMPLE)
    patch_file(path, {"rpc": {"laddr": "tcp://127.0.0.1:9"}})
    assert tomllib.loads(path.read_text())["rpc"]["laddr"] == "tcp://127.0.0.1:9"
