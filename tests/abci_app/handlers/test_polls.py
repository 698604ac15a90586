"""Polls: creation bounds, closing at the close height or early, the closing quota."""

import pytest

from mpc_tx.protocol import codes
from mpc_tx.protocol.keys import SigningKey

from apphelpers import Chain, ballot_tx, create, poll_body, result_codes


def test_poll_closes_at_height_and_rejects_late_ballots(chain):
    creator, voter = SigningKey.generate(), SigningKey.generate()
    poll_id = create(chain, creator, close_in=6)  # created at height 2, closes at 7 (min_close_blocks 5)
    for _ in range(4):
        open_block = chain.block()
        assert not any(e.type == "poll_closed" for e in open_block.events)
    closed = chain.block()
    assert any(e.type == "poll_closed" for e in closed.events)
    assert chain.query(f"/poll/{poll_id}")[1]["status"] == "closed"
    late = ballot_tx(chain, voter, poll_id)
    assert chain.check(late).code == codes.POLL_CLOSED
    assert result_codes(chain.block(late)) == [codes.POLL_CLOSED]


def test_close_height_too_near_is_refused_with_the_nearest_allowed(chain):
    creator = SigningKey.generate()
    near = chain.tx(creator, "create_poll", poll_body(chain.height + 3))  # CheckTx runs at height + 1
    res = chain.check(near)
    assert res.code == codes.BAD_POLL and "too near" in res.log and "at least 5 blocks" in res.log
    assert result_codes(chain.block(near)) == [codes.BAD_POLL]
    create(chain, creator, close_in=6)  # runs at height + 1: exactly min_close_blocks ahead, fine


def test_min_ballots_below_the_chain_floor_is_refused(chain):
    creator = SigningKey.generate()
    res = chain.check(chain.tx(creator, "create_poll", poll_body(chain.height + 20, min_ballots=2)))
    assert res.code == codes.BAD_POLL and "floor of 3" in res.log and "how the others voted" in res.log


def test_closings_over_the_quota_are_refused_by_create_and_by_early_close(tmp_path):
    c = Chain(tmp_path / "app", params={"max_closings_per_height": 2})
    c.init()
    c.block()
    creator = SigningKey.generate()
    at = c.height + 12
    first = [create(c, creator, close_in=at - c.height) for _ in range(2)]
    res = c.block(c.tx(creator, "create_poll", poll_body(at)))
    assert result_codes(res) == [codes.CLOSING_QUOTA] and "max_closings_per_height" in res.tx_results[0].log
    # An early close gives its scheduled closing back...
    assert result_codes(c.block(c.tx(creator, "close_poll", {"poll": first[0]}))) == [0]
    assert result_codes(c.block(c.tx(creator, "create_poll", poll_body(at)))) == [0]
    # ...and counts against the height it closes at: here two polls close already.
    later = [create(c, creator, close_in=20) for _ in range(3)]
    while c.height + 1 < at:
        c.block()
    res = c.block(*[c.tx(creator, "close_poll", {"poll": p}) for p in later])
    assert result_codes(res) == [codes.CLOSING_QUOTA] * 3  # at height `at`, the two scheduled ones close
    res = c.block(*[c.tx(creator, "close_poll", {"poll": p}) for p in later])
    assert result_codes(res) == [0, 0, codes.CLOSING_QUOTA]
    assert [c.query(f"/poll/{p}")[1]["status"] for p in later] == ["closed", "closed", "open"]
    c.app.close()


@pytest.mark.parametrize(
    "m, powers, reason",
    [
        (1, [10], "the range 1..0 is empty"),
        (2, [10, 10], "the range 1..0 is empty"),
        (4, [1, 1, 1, 10], "the range 3..1 is empty"),  # f = 3: the three small ones hold less than a third
    ],
)
def test_polls_that_cannot_keep_a_secret_are_refused(tmp_path, m, powers, reason):
    chain = Chain(tmp_path / "app", m=m, powers=powers)
    chain.init()
    chain.block()
    res = chain.block(chain.tx(SigningKey.generate(), "create_poll", poll_body(chain.height + 10)))
    assert res.tx_results[0].code == codes.BAD_POLL and reason in res.tx_results[0].log
    chain.app.close()


@pytest.mark.parametrize(
    "threshold, code, stored",
    [(None, 0, 3), (2, 0, 2), (3, 0, 3), (1, codes.BAD_POLL, None), (4, codes.BAD_POLL, None)],
)
def test_the_threshold_is_the_asked_one_or_the_top_of_the_range(tmp_path, threshold, code, stored):
    chain = Chain(tmp_path / "app", m=7)  # equal power: f = 2, MPyC range 2..3
    chain.init()
    chain.block()
    raw = chain.tx(SigningKey.generate(), "create_poll", poll_body(chain.height + 10, threshold=threshold))
    checked = chain.check(raw)
    res = chain.block(raw)
    assert checked.code == res.tx_results[0].code == code
    if code:
        assert "threshold: need 2 <= t <= 3" in res.tx_results[0].log
    else:
        assert chain.query("/poll/1")[1]["threshold"] == stored
    chain.app.close()


def test_a_poll_whose_ballot_tx_would_not_fit_is_refused(tmp_path):
    # (m, t, k) = (4, 2, 16) (a tally's default t, m-f-1): a ballot of 7,905 bytes, twice that in hex, over
    # 10,000; k = 3 fits.
    chain = Chain(tmp_path / "app", params={"max_tx_bytes": 10000})
    chain.init()
    chain.block()
    options = [f"o{i}" for i in range(16)]
    res = chain.block(
        chain.tx(SigningKey.generate(), "create_poll", poll_body(chain.height + 10, kind="tally", options=options)),
        chain.tx(SigningKey.generate(), "create_poll", poll_body(chain.height + 10, kind="tally", options=options[:3])),
    )
    assert result_codes(res) == [codes.BAD_POLL, 0]
    assert (
        "(4, 2, 16), makes a tx of up to 16164 bytes, over the chain's max_tx_bytes of 10000" in res.tx_results[0].log
    )
    chain.app.close()


def test_a_tallys_threshold_range_is_the_on_chain_one(tmp_path):
    # m = 7, equal power, f = 2: a tally takes 2 <= t <= m-f-1 = 4 (default 4); a unanimity poll MPyC's 2..3.
    chain = Chain(tmp_path / "app", m=7)
    chain.init()
    chain.block()
    tally = dict(kind="tally", options=["a", "b"])
    res = chain.block(
        *[
            chain.tx(SigningKey.generate(), "create_poll", poll_body(chain.height + 10 + n, **kw))
            for n, kw in enumerate(
                [tally, dict(tally, threshold=4), dict(tally, threshold=5), {}, dict(threshold=4)],
            )
        ]
    )
    assert result_codes(res) == [0, 0, codes.BAD_POLL, 0, codes.BAD_POLL]
    assert "threshold: need 2 <= t <= 4" in res.tx_results[2].log and "t <= m-f-1" in res.tx_results[2].log
    assert "threshold: need 2 <= t <= 3" in res.tx_results[4].log and "2t+1 <= m" in res.tx_results[4].log
    assert [chain.query(f"/poll/{i}")[1]["threshold"] for i in (1, 2, 3)] == [4, 4, 3]
    chain.app.close()
