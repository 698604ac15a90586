"""Poll context: parameters and keys are validated; the header binds every one of them."""

import pytest

from mpc_tx.protocol.context import ballot_size, make_poll
from mpc_tx.protocol.group import Invalid, base

from protocolhelpers import bad_point_encodings

KEYS = [base(n + 2).encode() for n in range(4)]


def _poll(**changes):
    args = dict(chain_id=b"c", poll_id=b"p", t=1, k=2, one_hot=True, keys=KEYS)
    args.update(changes)
    return make_poll(**args)


def test_the_header_binds_every_parameter():
    headers = {_poll().header}
    for change in [
        dict(chain_id=b"d"),
        dict(poll_id=b"q"),
        dict(t=2),
        dict(k=3),
        dict(one_hot=False),
        dict(keys=KEYS[:3]),
        dict(keys=list(reversed(KEYS))),
    ]:
        headers.add(_poll(**change).header)
    assert len(headers) == 8
    assert _poll().m == 4 and _poll().ballot_size() == ballot_size(4, 1, 2, True)


@pytest.mark.parametrize(
    "change",
    [
        dict(t=4),
        dict(t=-1),
        dict(t="1"),
        dict(k=0),
        dict(k=257),
        dict(keys=[]),
        dict(keys=KEYS[:1] * 2),
        dict(chain_id="c"),
    ],
)
def test_bad_parameters_are_refused(change):
    with pytest.raises(Invalid):
        _poll(**change)


def test_bad_keys_are_refused_in_every_position():
    for position in range(4):
        for label, data in list(bad_point_encodings().items()) + [("identity", bytes(32))]:
            keys = list(KEYS)
            keys[position] = data
            with pytest.raises(Invalid) as err:
                _poll(keys=keys)
            assert err.value.reason.startswith(f"X_{position}: "), label
