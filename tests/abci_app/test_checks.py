"""The checks every tx passes before its type's rules, cheapest first: size, shape, chain, nonce, signature."""

import json

import pytest

from mpc_tx.protocol import canonical, codes
from mpc_tx.protocol.codes import TxError
from mpc_tx.protocol.keys import SigningKey

from abci_app.checks import admit, stateless
from abci_app.store.keys import nonce_key
from apphelpers import CHAIN, ballot_tx, cast_body, create, poll_body
from mpc_tx.protocol.ballot import Ballot


class Cache:
    """The three methods checks use of the app's tx cache."""

    def __init__(self, entries=None):
        self.entries = dict(entries or {})

    def get(self, raw):
        return self.entries.get(raw)

    def take(self, raw):
        return self.entries.pop(raw, None)

    def put(self, raw, tx):
        self.entries.setdefault(raw, tx)


def forged(raw: bytes) -> bytes:
    """The same tx with a signature that does not verify (still well formed)."""
    doc = json.loads(raw)
    doc["sig"] = "00" * 64
    return canonical.encode(doc)


def code_of(fn, *args, **kw):
    with pytest.raises(TxError) as err:
        fn(*args, **kw)
    assert err.value.reason  # every rejection says why
    return err.value.code


@pytest.fixture
def signer():
    return SigningKey.generate()


def create_tx(chain, key, nonce=None, chain_id=CHAIN):
    return chain.tx(key, "create_poll", poll_body(chain.height + 10), nonce=nonce, chain_id=chain_id)


# --- stateless ----------------------------------------------------------------------------------


def test_stateless_returns_the_decoded_tx(chain, signer):
    raw = create_tx(chain, signer)
    state, ctx = chain.staged()
    tx = stateless(raw, CHAIN, ctx.params, ctx.validators)
    assert (tx.type, tx.chain_id, tx.signer, tx.nonce) == ("create_poll", CHAIN, signer.public_hex, 1)


def test_stateless_rejection_codes(chain, signer):
    _, ctx = chain.staged()
    params = ctx.params
    good = create_tx(chain, signer)
    assert code_of(stateless, b"x" * (params["max_tx_bytes"] + 1), CHAIN, params, ctx.validators) == codes.TOO_LARGE
    assert code_of(stateless, b"not json", CHAIN, params, ctx.validators) == codes.MALFORMED
    assert (
        code_of(stateless, create_tx(chain, signer, chain_id="other"), CHAIN, params, ctx.validators)
        == codes.WRONG_CHAIN
    )
    assert code_of(stateless, forged(good), CHAIN, params, ctx.validators) == codes.BAD_SIGNATURE


def test_stateless_size_is_checked_first(chain, signer):
    """An oversized tx costs no parsing: junk or a forgery over the limit is TOO_LARGE."""
    _, ctx = chain.staged()
    raw = create_tx(chain, signer)
    small = {**ctx.params, "max_tx_bytes": len(raw) - 1}
    assert code_of(stateless, raw, CHAIN, small, ctx.validators) == codes.TOO_LARGE
    assert code_of(stateless, forged(raw), CHAIN, small, ctx.validators) == codes.TOO_LARGE
    assert (
        stateless(raw, CHAIN, {**ctx.params, "max_tx_bytes": len(raw)}, ctx.validators).nonce == 1
    )  # the bound is inclusive


def test_stateless_checks_the_chain_before_the_signature(chain, signer):
    _, ctx = chain.staged()
    other = forged(create_tx(chain, signer, chain_id="other"))
    assert code_of(stateless, other, CHAIN, ctx.params, ctx.validators) == codes.WRONG_CHAIN


def test_stateless_knows_no_nonces(chain, signer):
    """A replay is the state's business: stateless (the proposal checks) accepts it."""
    chain.block(create_tx(chain, signer, nonce=1))
    _, ctx = chain.staged()
    assert stateless(create_tx(chain, signer, nonce=1), CHAIN, ctx.params, ctx.validators).nonce == 1


def test_stateless_trusts_its_cache_but_not_for_size(chain, signer):
    _, ctx = chain.staged()
    raw = create_tx(chain, signer)
    cached = stateless(raw, CHAIN, ctx.params, ctx.validators)
    bad = forged(raw)
    assert (
        stateless(bad, CHAIN, ctx.params, ctx.validators, Cache({bad: cached})) is cached
    )  # a hit skips the verification
    small = {**ctx.params, "max_tx_bytes": 10}
    assert code_of(stateless, raw, CHAIN, small, ctx.validators, Cache({raw: cached})) == codes.TOO_LARGE


def test_stateless_verifies_a_ballot_and_keeps_the_result(chain, signer):
    poll_id = create(chain, SigningKey.generate())
    _, ctx = chain.staged()
    raw = ballot_tx(chain, signer, poll_id)
    cache = Cache()
    tx = stateless(raw, CHAIN, ctx.params, ctx.validators, cache)
    assert isinstance(tx.checked, Ballot) and cache.entries == {raw: tx}
    assert stateless(raw, CHAIN, ctx.params, ctx.validators, cache) is tx
    other = SigningKey.generate()
    body = cast_body(chain, poll_id, other)
    wrong_voter = chain.tx(signer, "cast_ballot", body)  # signed by another key than the ballot's voter
    assert code_of(stateless, wrong_voter, CHAIN, ctx.params, ctx.validators) == codes.BAD_BALLOT
    assert code_of(stateless, forged(wrong_voter), CHAIN, ctx.params, ctx.validators) == codes.BAD_SIGNATURE


def test_admit_verifies_a_ballot_after_the_nonce_and_the_signature(chain, signer):
    poll_id = create(chain, SigningKey.generate())
    state, ctx = chain.staged()
    other = SigningKey.generate()
    wrong_voter = chain.tx(signer, "cast_ballot", cast_body(chain, poll_id, other))
    assert code_of(admit, state, ctx, wrong_voter) == codes.BAD_BALLOT
    state.put(nonce_key(signer.public_hex), 10**6)
    assert code_of(admit, state, ctx, wrong_voter) == codes.REPLAY
    assert code_of(admit, state, ctx, forged(ballot_tx(chain, signer, poll_id, nonce=10**6 + 1))) == codes.BAD_SIGNATURE
    assert isinstance(admit(state, ctx, ballot_tx(chain, signer, poll_id, nonce=10**6 + 2)).checked, Ballot)


# --- admit --------------------------------------------------------------------------------------


def test_admit_rejection_codes(chain, signer):
    chain.block(create_tx(chain, signer))  # the signer's last nonce is now 1
    state, ctx = chain.staged()
    assert code_of(admit, state, ctx, b"{" + b" " * ctx.params["max_tx_bytes"] + b"}") == codes.TOO_LARGE
    assert code_of(admit, state, ctx, b"[]") == codes.MALFORMED
    assert code_of(admit, state, ctx, create_tx(chain, signer, chain_id="other")) == codes.WRONG_CHAIN
    assert code_of(admit, state, ctx, create_tx(chain, signer, nonce=1)) == codes.REPLAY
    assert code_of(admit, state, ctx, forged(create_tx(chain, signer, nonce=2))) == codes.BAD_SIGNATURE


def test_admit_checks_the_nonce_before_the_signature(chain, signer):
    chain.block(create_tx(chain, signer))
    state, ctx = chain.staged()
    assert code_of(admit, state, ctx, forged(create_tx(chain, signer, nonce=1))) == codes.REPLAY
    assert code_of(admit, state, ctx, forged(create_tx(chain, signer, nonce=1, chain_id="x"))) == codes.WRONG_CHAIN


def test_admit_wants_a_nonce_above_the_last_and_allows_gaps(chain, signer):
    state, ctx = chain.staged()
    state.put(nonce_key(signer.public_hex), 5)
    assert code_of(admit, state, ctx, create_tx(chain, signer, nonce=4)) == codes.REPLAY
    assert code_of(admit, state, ctx, create_tx(chain, signer, nonce=5)) == codes.REPLAY
    assert admit(state, ctx, create_tx(chain, signer, nonce=6)).nonce == 6
    assert admit(state, ctx, create_tx(chain, signer, nonce=50)).nonce == 50


def test_admit_reads_the_nonce_from_the_state_it_is_given(chain, signer):
    """CheckTx's state sees its pending nonces; a fresh state at the same height does not."""
    state, ctx = chain.staged()
    raw = create_tx(chain, signer, nonce=1)
    state.put(nonce_key(signer.public_hex), 1)
    assert code_of(admit, state, ctx, raw) == codes.REPLAY
    fresh, ctx = chain.staged()
    assert admit(fresh, ctx, raw).nonce == 1


def test_admit_does_not_write(chain, signer):
    state, ctx = chain.staged()
    admit(state, ctx, create_tx(chain, signer))
    assert state.writes == {}


def test_admit_uses_the_cache_and_a_block_takes_the_entry_out(chain, signer):
    state, ctx = chain.staged()
    raw = create_tx(chain, signer)
    tx = admit(state, ctx, raw)
    bad = forged(raw)
    cache = Cache({bad: tx})
    assert admit(state, ctx, bad, cache) is tx and bad in cache.entries  # CheckTx and recheck keep it
    assert admit(state, ctx, bad, cache, final=True) is tx and bad not in cache.entries  # a block takes it
    assert code_of(admit, state, ctx, bad, cache) == codes.BAD_SIGNATURE  # once out, verified again


def test_admit_still_checks_the_nonce_of_a_cached_tx(chain, signer):
    state, ctx = chain.staged()
    raw = create_tx(chain, signer)
    tx = admit(state, ctx, raw)
    state.put(nonce_key(signer.public_hex), tx.nonce)
    assert code_of(admit, state, ctx, raw, Cache({raw: tx})) == codes.REPLAY
