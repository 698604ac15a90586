"""Verified poll reads (mpc_tx/client/verified.py): a lying node in front of a real testnet
(tests/helpers/lyingproxy.py) is refused with a clear error and nothing is broadcast."""

import base64
import json

import pytest

from lightchain import light_chain, poll_rewrite, refused, vote_through
from mpc_tx.protocol.keys import SigningKey


@pytest.fixture(scope="module")
def chain(tmp_path_factory):
    """A testnet with: poll `open` (tally), poll `closed` (closed early), a block of several txs."""
    yield from light_chain(tmp_path_factory)


@pytest.mark.testnet
def test_listed_voters_poll_verifies(chain):
    voter = SigningKey.generate()
    c = chain["client"]
    poll = c.create_poll(chain["creator"], "Listed?", "tally", ["x", "y"], voters=[voter.public_hex], close_in=500)[
        "poll"
    ]
    facts = c.verified_poll(poll, c.query(f"/poll/{poll}"))
    assert facts["eligible"] == 1 and facts["options"] == ["x", "y"] and not facts["open"]
    res = c.vote(voter, poll, "y")
    assert res["verified"] and res["height"] > 0


@pytest.mark.testnet
def test_rotated_options_are_refused_naming_the_node(chain):
    def rotate(poll):
        poll["options"] = poll["options"][1:] + poll["options"][:1]

    error, url = refused(chain, poll_rewrite(chain["open"]["poll"], rotate), "lies about poll .*options")
    assert url in error


@pytest.mark.testnet
def test_forged_poll_under_a_real_id_is_refused(chain):
    attacker = SigningKey.generate().public_hex

    def forge(poll):
        poll.update(kind="unanimity", options=[], question="Forged?")
        poll["validators"][0]["enc_key"] = attacker

    refused(chain, poll_rewrite(chain["open"]["poll"], forge), "lies about poll .*kind", choice="yes")

    # and a tx_search that points at another poll's real create_poll tx
    other = chain["closed"]["hash"]

    def point_elsewhere(method, params, result):
        if method == "tx_search" and "poll_created" in params.get("query", ""):
            result["txs"] = [{"hash": other}]
            result["total_count"] = "1"
        return result

    refused(chain, point_elsewhere, "no verifiable create_poll tx for poll")


@pytest.mark.testnet
def test_an_invented_poll_is_refused(chain):
    real = chain["open"]["poll"]

    def invent(method, params, result):
        if method == "abci_query" and params.get("path") == "/poll/999":
            ok = chain["net"].rpc(1).call("abci_query", path=f"/poll/{real}")["response"]
            poll = json.loads(base64.b64decode(ok["value"]))
            poll["id"] = 999
            result["response"] = dict(ok, value=base64.b64encode(json.dumps(poll).encode()).decode())
        return result

    refused(chain, invent, "no verifiable create_poll tx for poll 999", poll_id=999)


@pytest.mark.testnet
def test_a_hidden_close_is_refused(chain):
    def reopen(poll):
        poll.update(status="open", closed_height=None, deadline_height=None, seed=None)

    refused(
        chain,
        poll_rewrite(chain["closed"]["poll"], reopen),
        "hides the close",
        poll_id=chain["closed"]["poll"],
        choice="yes",
    )


@pytest.mark.testnet
def test_a_close_hidden_from_every_answer_ends_in_the_chains_rejection(chain):
    """The limit of one node's lies: withholding. Absence of a close is not proven (that would
    take a scan of every block since the poll began); the chain refuses the ballot instead."""
    reopen = poll_rewrite(chain["closed"]["poll"], lambda p: p.update(status="open", closed_height=None))

    def withhold(method, params, result):
        if method == "tx_search" and "poll_closed" in params.get("query", ""):
            result.update(txs=[], total_count="0")
        return reopen(method, params, result)

    error, methods, _ = vote_through(chain, withhold, poll_id=chain["closed"]["poll"], choice="yes")
    assert error and "POLL_CLOSED" in error and "not voting" not in error, error


@pytest.mark.testnet
def test_a_hidden_scheduled_close_is_refused(chain):
    c = chain["client"]
    short = c.create_poll(chain["creator"], "Soon?", "unanimity", close_in=8)
    chain["net"].wait_height(c.query(f"/poll/{short['poll']}")["close_height"] + 1, timeout=30)

    def reopen(poll):
        poll.update(status="open", closed_height=None)

    refused(
        chain,
        poll_rewrite(short["poll"], reopen),
        "past its close height .* hides the close",
        poll_id=short["poll"],
        choice="yes",
    )


@pytest.mark.testnet
def test_a_node_that_lies_about_the_threshold_is_refused(chain):
    """t = 0 would hand every ballot to each single validator: the proven create_poll tx says otherwise."""
    refused(chain, poll_rewrite(chain["open"]["poll"], lambda p: p.update(threshold=0)), "lies about poll .*threshold")


# --- pure: the t a committed create_poll body gives its poll ------------------------------------


def _registry(powers):
    return [{"power": p} for p in powers]


def test_a_null_threshold_is_the_top_of_mpycs_range_and_a_given_one_is_kept():
    from mpc_tx.client.verified import created_threshold

    assert created_threshold({"threshold": None}, _registry([10] * 4)) == 1
    assert created_threshold({"threshold": None}, _registry([10] * 7)) == 3
    assert created_threshold({"threshold": 2}, _registry([10] * 7)) == 2
    assert created_threshold({}, _registry([10] * 10)) == 4


def test_a_threshold_outside_the_range_or_an_empty_range_does_not_verify():
    from mpc_tx.client.light import VerifyError
    from mpc_tx.client.verified import created_threshold

    for body, powers, match in [
        ({"threshold": 0}, [10] * 4, "need 1 <= t <= 1"),
        ({"threshold": 4}, [10] * 7, "need 2 <= t <= 3"),
        ({"threshold": 1}, [1, 1, 10, 10], "need 2 <= t <= 1"),  # f = 2 (two small ones), top (4-1)//2 = 1
        ({"threshold": None}, [10, 10], "range 1..0 is empty"),
        ({"threshold": None}, [{"no": "power"}], "malformed"),
    ]:
        registry = powers if isinstance(powers[0], dict) else _registry(powers)
        with pytest.raises(VerifyError, match=match):
            created_threshold(body, registry)


# --- units: no node ------------------------------------------------------------------------------
def _equal_registry(m):
    return [{"power": 1} for _ in range(m)]


@pytest.mark.parametrize(
    "kind, m, threshold, want",
    [
        ("tally", 4, None, 2),  # opened on chain: t <= m-f-1
        ("unanimity", 4, None, 1),  # MPyC: t <= (m-1)//2
        ("tally", 4, 2, 2),
        ("tally", 2, None, 1),  # both must post
        ("tally", 7, None, 4),
        ("unanimity", 7, None, 3),
    ],
)
def test_created_threshold_takes_the_kinds_range(kind, m, threshold, want):
    from mpc_tx.client.verified import created_threshold

    assert created_threshold({"kind": kind, "threshold": threshold}, _equal_registry(m)) == want


@pytest.mark.parametrize(
    "kind, m, threshold",
    [("unanimity", 4, 2), ("unanimity", 2, None), ("tally", 4, 3), ("tally", 4, 0), ("tally", 1, None)],
)
def test_created_threshold_refuses_a_t_outside_the_kinds_range(kind, m, threshold):
    from mpc_tx.client.light import VerifyError
    from mpc_tx.client.verified import created_threshold

    with pytest.raises(VerifyError, match="threshold does not fit"):
        created_threshold({"kind": kind, "threshold": threshold}, _equal_registry(m))


def test_verified_close_reads_the_running_data():
    from lightchain import SignedChain, SignedRpc, TallyPoll
    from mpc_tx.client.light import LightClient
    from mpc_tx.client.verified import verified_close
    from mpc_tx.protocol import canonical

    chain = SignedChain()
    TallyPoll(chain, stop_after="fix")
    light = LightClient(SignedRpc(chain), chain.genesis, wait_next=0)
    assert verified_close(light, 1) == 6  # {"closed_height", "events", "poll_id", "running"}
    # The form before §18 (no running digest), or a close data naming another height: not a proven close.
    for data in (
        canonical.encode({"closed_height": 6, "poll_id": 1}),
        canonical.encode({"closed_height": 5, "events": 9, "poll_id": 1, "running": "00" * 32}),
        canonical.encode({"closed_height": 6, "events": 9, "poll_id": 2, "running": "00" * 32}),
    ):
        other = SignedChain()
        TallyPoll(other, stop_after="fix")
        txs = other.blocks[5][0]
        other.blocks[5] = ([(txs[0][0], 0, data, txs[0][3])], other.blocks[5][1], other.blocks[5][2])
        rebuilt = SignedChain()
        for block_txs, _h, _c in other.blocks:
            rebuilt.add_block(block_txs)
        rebuilt.genesis, rebuilt.vals = other.genesis, other.vals
        assert verified_close(LightClient(SignedRpc(rebuilt), rebuilt.genesis, wait_next=0), 1) is None
