"""Ballots: eligibility, revotes and their cap; the stored record and digest are canonical."""

from mpc_tx.protocol import codes
from mpc_tx.protocol.keys import SigningKey

from apphelpers import create, payloads, result_codes


def test_eligibility_revote_and_cap(chain):
    creator = SigningKey.generate()
    alice, bob = SigningKey.generate(), SigningKey.generate()
    poll_id = create(chain, creator, voters=sorted([alice.public_hex]), max_revotes=1)
    assert result_codes(chain.block(chain.tx(bob, "cast_ballot", {"poll": poll_id, "payloads": payloads(4)}))) == [
        codes.NOT_ELIGIBLE
    ]
    first = payloads(4)
    assert result_codes(chain.block(chain.tx(alice, "cast_ballot", {"poll": poll_id, "payloads": first}))) == [0]
    second = payloads(4)
    assert result_codes(chain.block(chain.tx(alice, "cast_ballot", {"poll": poll_id, "payloads": second}))) == [0]
    assert result_codes(chain.block(chain.tx(alice, "cast_ballot", {"poll": poll_id, "payloads": payloads(4)}))) == [
        codes.REVOTE_LIMIT
    ]
    _, page = chain.query(f"/poll/{poll_id}/ballots")
    assert [b["payloads"] for b in page["ballots"]] == [second]  # the later ballot replaced the first
    assert chain.query(f"/poll/{poll_id}")[1]["ballots"] == 1


def test_ballot_digest_is_the_canonical_encoding_of_the_payloads():
    import hashlib
    from mpc_tx.protocol.digests import ballot_digest
    from mpc_tx.protocol import canonical

    voter = SigningKey.generate().public_hex
    for listed in (["00"], ["ab" * 80, "0f" * 80, "9e" * 80, "01" * 80]):
        assert ballot_digest(voter, listed) == hashlib.sha256(voter.encode() + canonical.encode(listed)).hexdigest()


def test_ballot_record_encoding_is_canonical():
    from abci_app.handlers.ballots import encode_record
    from mpc_tx.protocol import canonical

    record = {"voter": "ab" * 32, "payloads": ["0f" * 80, "9e" * 80], "height": 12, "revotes": 0, "tx": "AB" * 32}
    assert encode_record(record) == canonical.encode(record)
