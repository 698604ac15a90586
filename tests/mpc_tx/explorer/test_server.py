"""The explorer's pages, headers and input checks, over a fake RPC client (no node: see test_explorer_browser)."""

import json
import re

import pytest

from explorerhelpers import COMPLAINT, FakeChain, FakeRpc, get, QUESTION, OPTION, PAYLOAD
from mpc_tx.protocol import tx as txcodec
from mpc_tx.explorer.chain import Explorer
from mpc_tx.explorer.server import make_app

NODES = ["http://127.0.0.1:1", "http://127.0.0.1:2"]


@pytest.fixture
def chain():
    return FakeChain()


@pytest.fixture
def rpcs():
    return []


@pytest.fixture
def app(chain, rpcs):
    def factory(url):
        rpc = FakeRpc(chain, url)
        rpcs.append(rpc)
        return rpc

    return make_app(Explorer(NODES, rpc_factory=factory))


def pages(chain):
    ballot = txcodec.tx_hash(chain.txs[4][0][0])
    return [
        "/",
        "/polls",
        "/poll/1",
        "/block/3",
        "/block/4",
        "/block/5",
        "/block/8",
        f"/tx/{ballot}",
        f"/tx/{txcodec.tx_hash(chain.txs[5][0][0])}",
        "/validators",
        "/search?q=1",
        "/poll/999",
        "/block/999",
    ]


def fetch(app, url):
    path, _q, query = url.partition("?")
    return get(app, path, query)


def test_every_page_renders_chain_strings_as_text(app, chain):
    for url in pages(chain):
        status, headers, body = fetch(app, url)
        assert status in (200, 404), (url, status, body[:300])
        assert headers["content-type"].startswith("text/html")
        # The only <script> is the explorer's own file; the hostile strings appear escaped.
        assert re.findall(r"<script[^>]*>", body) == ['<script src="/static/explorer.js" defer>'], url
        assert "alert(" not in body.replace("&lt;script&gt;alert(", ""), url
    _s, _h, body = fetch(app, "/poll/1")
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in body
    assert "&lt;/text&gt;&lt;script&gt;alert(2)&lt;/script&gt;" in body
    svg = body[body.index("<svg") : body.index("</svg>")]
    assert "&lt;/text&gt;&lt;script&gt;alert(2)" in svg  # the chart's label, escaped too


def test_no_inline_script_style_or_handlers(app, chain):
    for url in pages(chain):
        _s, _h, body = fetch(app, url)
        assert not re.search(r"\sstyle=", body), url
        assert not re.search(r"\son[a-z]+=", body), url
        assert "<style" not in body and "javascript:" not in body, url


def test_ballots_complaints_and_certificates_never_shown(app, chain):
    for url in pages(chain):
        for fmt in ("html", "json"):
            _s, _h, body = fetch(app, url + ("&" if "?" in url else "?") + f"format={fmt}")
            assert PAYLOAD[:40] not in body and COMPLAINT[:40] not in body, (url, fmt)
            assert "BEGIN CERTIFICATE" not in body and "secret-looking" not in body, (url, fmt)


def test_security_headers_on_every_answer(app, chain):
    for url in pages(chain) + [
        "/?format=json",
        "/static/style.css",
        "/static/explorer.js",
        "/block/x",
        "/search?q=%27",
        "/nowhere",
    ]:
        _s, headers, _b = fetch(app, url)
        assert headers["content-security-policy"].startswith("default-src 'self'"), url
        assert headers["x-content-type-options"] == "nosniff", url


def test_json_view_is_json_with_the_same_facts(app, chain):
    status, headers, body = fetch(app, "/poll/1?format=json")
    assert status == 200 and headers["content-type"] == "application/json"
    doc = json.loads(body)
    assert doc["poll"]["question"] == QUESTION and doc["poll"]["ballots"] == 1
    assert doc["outcome"]["bars"] == [["a", 0], [OPTION, 1]]
    assert [v["verdict"] for v in doc["validators"]] == ["valid: attested the final outcome"] * 3 + [
        "named: a complaint of theirs was false"
    ]
    assert [e["what"] for e in doc["timeline"]][0] == "created" and doc["timeline"][-1]["what"] == "final"
    assert fetch(app, "/poll/1?format=xml")[0] == 400
    assert doc["verify"]["status"] == "unavailable"  # no genesis file: nothing to verify against
    assert fetch(app, "/polls?after=0")[0] == 200


def test_tx_page_decodes_with_the_chain_codec(app, chain):
    ballot = chain.txs[4][0][0]
    doc = json.loads(fetch(app, f"/tx/{txcodec.tx_hash(ballot).lower()}?format=json")[2])
    assert doc["type"] == "cast_ballot" and doc["signer"] == chain.voter.public_hex and doc["code_name"] == "OK"
    assert doc["body"]["ballot"] == f"{len(PAYLOAD) // 2} bytes: commitments, 4 encrypted shares, proofs"
    assert (doc["body"]["m"], doc["body"]["t"], doc["body"]["k"]) == (4, 1, 2)
    assert doc["events"][0]["type"] == "ballot"


def test_a_poll_page_shows_complaints_verdicts_named_voters_and_validators_and_the_window(app, chain):
    doc = json.loads(fetch(app, "/poll/1?format=json")[2])
    assert [(c["validator"], c["verdict"]) for c in doc["complaints"]] == [(1, "ballot_bad"), (3, "complaint_false")]
    assert doc["named_voters"] == [chain.cheat.public_hex]
    assert doc["poll"]["named_validators"] == [3]
    assert (doc["poll"]["complaints_until"], doc["poll"]["counted_fixed_height"]) == (7, 8)
    standing = {b["voter"]: b["disqualified"] for b in doc["ballots_page"]}
    assert standing[chain.voter.public_hex] is None and standing[chain.cheat.public_hex]["by"] == 1
    whats = [e["what"] for e in doc["timeline"]]
    assert "complaint window ends" in whats and "counted set fixed (its digest recorded)" in whats
    # The chart counts counted ballots only: the disqualified one is not in it.
    assert doc["ballots_chart"] == [{"height": 4, "ballots": 1}]
    _s, _h, html = fetch(app, "/poll/1")
    assert 'id="complaints"' in html and "disqualified" in html and 'id="named-validators"' in html
    assert COMPLAINT[:40] not in html and PAYLOAD[:40] not in html


@pytest.mark.parametrize(
    "q",
    [
        "1 OR 1=1",
        "abc'",
        "ballot.voter='x'",
        "a" * 65,
        "-1",
        str(1 << 63),
        "0",
        "1.5",
        "0x" + "g" * 64,
        "x" * 500,
        "%00",
    ],
)
def test_search_refuses_anything_but_digits_and_hex_before_any_query(app, rpcs, q):
    status, _h, body = get(app, "/search", "q=" + q)
    assert status == 400
    assert "height or poll id" in body
    assert not any(m in ("tx_search", "abci_query", "tx") for r in rpcs for m, _p in r.calls)


def test_search_finds_heights_polls_txs_and_voters(app, chain):
    doc = json.loads(get(app, "/search", "q=1&format=json")[2])
    assert {h["kind"] for h in doc["hits"]} == {"block", "poll"}
    status, headers, _b = get(app, "/search", "q=" + chain.voter.public_hex)
    assert status == 303 and headers["location"].startswith("/tx/")
    doc = json.loads(get(app, "/search", "q=" + chain.creator.public_hex + "&format=json")[2])
    assert doc["hits"][0]["href"] == "/poll/1"


@pytest.mark.parametrize(
    "url",
    [
        "/block/abc",
        "/block/0",
        "/block/99999999999999999999",
        "/tx/xyz",
        "/tx/" + "A" * 63,
        "/poll/1?after=NOTAKEY",
        "/polls?after=-1",
        "/poll/0",
    ],
)
def test_bad_path_arguments_are_400(app, url):
    status, _h, body = fetch(app, url)
    assert status == 400, (url, body[:200])


def test_a_down_node_is_shown_as_down_and_another_serves(app, chain):
    chain.down.add(NODES[0])
    status, _h, body = fetch(app, "/")
    assert status == 200
    row = re.search(r'<tr class="down">.*?</tr>', body, re.S).group(0)
    assert "127.0.0.1:1" in row and ">down<" in row
    assert fetch(app, "/poll/1")[0] == 200


def test_every_node_down_is_a_page_not_an_error(app, chain):
    chain.down.update(NODES)
    for url in ("/", "/poll/1", "/validators"):
        status, headers, body = fetch(app, url)
        assert status == 503 and headers["content-type"].startswith("text/html")
        assert "No node answers" in body and "127.0.0.1:1" in body and "127.0.0.1:2" in body
    doc = json.loads(fetch(app, "/?format=json")[2])
    assert [n["up"] for n in doc["nodes"]] == [False, False]


def test_only_immutable_pages_are_cached(app, chain, rpcs):
    fetch(app, "/block/4")
    before = sum(len(r.calls) for r in rpcs)
    fetch(app, "/block/4")
    assert sum(len(r.calls) for r in rpcs) == before  # a committed block: from the cache
    fetch(app, "/")
    middle = sum(len(r.calls) for r in rpcs)
    fetch(app, "/")
    assert sum(len(r.calls) for r in rpcs) > middle  # the head: read again


def test_home_shows_agreement_rate_and_signers(app):
    doc = json.loads(fetch(app, "/?format=json")[2])
    assert doc["app_hashes_agree"] is True and doc["nodes_up"] == 2
    assert doc["validators_signing"] == 3 and doc["validators_total"] == 4
    assert doc["block_rate"] == 1.0  # the fake makes one block a second
    assert doc["time_to_final"] == [{"poll": 1, "blocks": 2}]
    assert doc["polls_last"] == 1 and [p["id"] for p in doc["polls"]] == [1]
    assert [b["height"] for b in doc["blocks"]] == list(range(FakeChain.HEIGHT, FakeChain.HEIGHT - 10, -1))


def test_pages_are_bounded(chain, rpcs):
    chain.ballots = [dict(chain.ballots[0], voter=f"{i:064x}") for i in range(120)]
    app = make_app(Explorer(NODES, rpc_factory=lambda url: FakeRpc(chain, url)))
    doc = json.loads(fetch(app, "/poll/1?format=json")[2])
    # The fake ignores `limit`; the explorer cuts the page itself, and links the next.
    assert len(doc["ballots_page"]) == 50 and doc["ballots_next"] == f"{49:064x}"


def test_a_loopback_explorer_answers_only_to_loopback_host_names(app, chain):
    for host in ("127.0.0.1:8080", "localhost:8080", "[::1]:8080", "127.0.0.1"):
        assert get(app, "/validators", host=host)[0] == 200, host
    for host in ("evil.example:8080", "evil.example", "", "[::1.evil]:80", "127.0.0.1.evil:8080"):
        status, headers, _b = get(app, "/validators", host=host)
        assert status == 421 and headers["x-content-type-options"] == "nosniff", host
    anyone = make_app(Explorer(NODES, rpc_factory=lambda url: FakeRpc(chain, url)), loopback_only=False)
    assert get(anyone, "/validators", host="explorer.example")[0] == 200


def test_the_validators_page_says_the_range_of_t_and_what_t_means(app, chain):
    doc = json.loads(fetch(app, "/validators?format=json")[2])
    # 4 equal powers: unanimity in MPyC 1..1, a tally opened on chain 1..2 (§18.1)
    assert doc["thresholds"] == {"max_faulty": 1, "low": 1, "high": 1, "tally_low": 1, "tally_high": 2}
    html = fetch(app, "/validators")[2]
    assert (
        "A tally poll&#39;s privacy threshold t lies in 1..2" in html
        or "A tally poll's privacy threshold t lies in 1..2" in html
    )
    assert "a unanimity poll&#39;s in 1..1" in html or "a unanimity poll's in 1..1" in html
    assert "Any t+1 validators together could read every ballot" in html
    assert "BEGIN CERTIFICATE" not in html


def test_a_complaint_tx_is_shown_with_its_complaint_by_size(app, chain):
    complaint = chain.txs[5][0][0]
    doc = json.loads(fetch(app, f"/tx/{txcodec.tx_hash(complaint)}?format=json")[2])
    assert doc["type"] == "complain" and doc["signer"] == chain.attesters[1].public_hex
    assert doc["body"]["complaint"] == "96 bytes: the validator's key for the ballot, proven"
    assert (doc["body"]["validator"], doc["body"]["voter"]) == (1, chain.cheat.public_hex)


def test_a_tallys_aggregate_posts_show_who_posted_and_who_was_named(app, chain):
    chain.aggregates = [
        {"validator": 0, "verdict": "valid", "reason": "matches the commitments", "height": 8, "tx": "A" * 64},
        {
            "validator": 2,
            "verdict": "named",
            "reason": "aggregate pair 0 of validator 2: does not match the commitments",
            "height": 8,
            "tx": "B" * 64,
        },
    ]
    doc = json.loads(fetch(app, "/poll/1?format=json")[2])
    verdicts = [v["verdict"] for v in doc["validators"]]
    assert verdicts[0] == "valid: posted its aggregate pair"
    assert verdicts[2] == "named: its aggregate pair does not match the commitments"
    html = fetch(app, "/poll/1")[2]
    assert f'pair posted in <a href="/tx/{"A" * 64}">block 8</a>' in html
