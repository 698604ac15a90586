"""The explorer in a real browser: a real testnet with demo-like polls, a real explorer server, headless Chromium.

Chromium and its driver come from Debian's packages (`.ci/run` installs them);
Selenium is pointed at both binaries and told to stay offline, so nothing is
downloaded at run time. Page load times are printed, never asserted.
"""

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from mpc_tx.protocol.keys import SigningKey
from netfixtures import running_testnet, client
from node_config.ports import free_ports, wait_listening

pytestmark = pytest.mark.testnet

ROOT = Path(__file__).resolve().parents[2]
# `make explorer-screenshots` sets this to docs/explorer (the README's pictures); a plain
# `make test` keeps its screenshots in its own temporary folder, leaving tracked files alone.
SHOTS_ENV = "MPCVOTE_SCREENSHOTS"
CHROMIUM, CHROMEDRIVER = Path("/usr/bin/chromium"), Path("/usr/bin/chromedriver")
XSS_QUESTION = "<script>alert(1)</script>"
XSS_OPTION = "</text><script>alert(2)</script>"
TIMES = []


def _missing_browser():
    if CHROMIUM.exists() and CHROMEDRIVER.exists():
        return None
    why = "needs Debian's chromium and chromium-driver (apt-get install chromium chromium-driver)"
    if os.environ.get("CI"):
        pytest.fail(why)  # CI installs them: their absence is a broken CI, not a skip
    pytest.skip(why)


def _vote_all(c, poll_id, choices):
    pending = [c.vote(SigningKey.generate(), poll_id, choice, wait=False)["hash"] for choice in choices]
    for h in pending:
        c.rpc.wait_tx(h, timeout=60)


@pytest.fixture(scope="module")
def chain(tmp_path_factory):
    """A 4-validator testnet with three final polls: two like the demo's, one with hostile strings."""
    with running_testnet(tmp_path_factory.mktemp("explorer"), workers=True) as net:
        c = client(net, 0)
        creator = SigningKey.generate()
        polls = {}
        for name, question, kind, options, votes in [
            ("bylaws", "Adopt the new bylaws?", "unanimity", (), ["yes"] * 3),
            ("venue", "Pick the venue", "tally", ("a", "b", "c"), ["a", "b", "b", "c", "b"]),
            ("xss", XSS_QUESTION, "tally", ("a", XSS_OPTION), ["a", XSS_OPTION, XSS_OPTION]),
        ]:
            poll_id = c.create_poll(creator, question, kind, options, close_in=200, max_ballots=100)["poll"]
            _vote_all(client(net, poll_id % 4), poll_id, votes)
            c.close_poll(creator, poll_id)
            polls[name] = poll_id
        for name, poll_id in polls.items():
            assert c.outcome(poll_id, wait=True, timeout=180)["status"] == "final"
            if name != "bylaws":
                continue  # a tally is final at its t+1-th valid aggregate post; later posts are refused
            # Final takes more than 2/3 of the power; the page shows every attester, so wait
            # (bounded) for the last honest worker's attestation too.
            deadline = time.monotonic() + 60
            while len(c.rpc.query(f"/poll/{poll_id}/attestations")[0]["attestations"]) < 4:
                assert time.monotonic() < deadline, f"poll {poll_id}: not every validator attested in 60 s"
                time.sleep(0.5)
        yield net, polls


@pytest.fixture(scope="module")
def explorer(chain):
    """The explorer as a real server process on a free loopback port, stopped by its PID."""
    net, _polls = chain
    port, dead = free_ports(2)
    cmd = [
        sys.executable,
        "-m",
        "mpc_tx.explorer",
        "--node",
        net.rpc_url(0),
        "--node",
        net.rpc_url(1),
        "--node",
        f"http://127.0.0.1:{dead}",  # a node that is down: shown as down
        "--listen",
        f"127.0.0.1:{port}",
        "--genesis",
        str(net.genesis_path()),
    ]
    log = open(net.dir / "explorer.log", "wb")
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT)
    try:
        if not wait_listening(port, timeout=30, alive=lambda: proc.poll() is None):
            raise RuntimeError(f"the explorer did not start: {(net.dir / 'explorer.log').read_text()}")
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)
        log.close()


@pytest.fixture(scope="module")
def browser():
    _missing_browser()
    # Given the driver's path, Selenium skips Selenium Manager; offline mode guards the rest.
    os.environ["SE_OFFLINE"] = "true"
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    opts = webdriver.ChromeOptions()
    opts.binary_location = str(CHROMIUM)
    for arg in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--window-size=1280,1500",
        "--no-first-run",
        "--disable-extensions",
    ):
        opts.add_argument(arg)
    opts.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(executable_path=str(CHROMEDRIVER)), options=opts)
    driver.set_page_load_timeout(30)
    try:
        yield driver
    finally:
        driver.quit()
        if TIMES:
            print("\nexplorer page load times (headless Chromium, loopback):")
            for name, wall, nav in TIMES:
                shown = f"{wall * 1000:7.0f} ms wall" if wall is not None else "   (followed a link)"
                print(f"  {name:24} {shown}, {nav:5.0f} ms from navigation start to the load event")


@pytest.fixture(scope="module")
def shots(tmp_path_factory):
    folder = Path(os.environ[SHOTS_ENV]) if os.environ.get(SHOTS_ENV) else tmp_path_factory.mktemp("screenshots")
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def visit(driver, url, name, record=True):
    """Load a page (or, url=None, the one a click led to), record its load time, save a screenshot."""
    t0 = time.monotonic()
    if url is not None:
        driver.get(url)
    wall = time.monotonic() - t0 if url is not None else None  # a click's own time is not measured here
    nav = driver.execute_script(
        "const n = performance.getEntriesByType('navigation')[0]; return n ? n.loadEventEnd - n.startTime : 0;"
    )
    if record:
        TIMES.append((name, wall, nav or 0))
    driver.save_screenshot(str(driver.shots / f"{name}.png"))


def follow(driver, link, timeout=30):
    """Click a link and wait (bounded) until the page it leads to has replaced this one and loaded."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions
    from selenium.webdriver.support.ui import WebDriverWait

    old = driver.find_element(By.TAG_NAME, "html")
    link.click()
    wait = WebDriverWait(driver, timeout)
    wait.until(expected_conditions.staleness_of(old))
    wait.until(lambda d: d.execute_script("return document.readyState") == "complete")


def no_alert(driver):
    from selenium.common.exceptions import NoAlertPresentException

    with pytest.raises(NoAlertPresentException):
        driver.switch_to.alert.text


def csp_violations(driver) -> list:
    return [
        e["message"]
        for e in driver.get_log("browser")
        if "Content Security Policy" in e["message"] or "Refused to" in e["message"]
    ]


def test_explorer_in_a_browser(chain, explorer, browser, shots):
    from selenium.webdriver.common.by import By

    net, polls = chain
    rpc = net.rpc(0)
    d = browser
    d.shots = shots

    # Home: the head, the nodes (one down), the polls.
    visit(d, explorer + "/", "home")
    assert int(d.find_element(By.ID, "height").text) >= 2
    assert d.find_element(By.ID, "agree").text == "agree"
    down = d.find_elements(By.CSS_SELECTOR, "#nodes tr.down")
    assert len(down) == 1 and "down" in down[0].text
    assert len(d.find_elements(By.CSS_SELECTOR, "#nodes tr.up")) == 2
    final_polls = d.find_elements(By.CSS_SELECTOR, "#polls-final td.question a")
    assert XSS_QUESTION in [a.text for a in final_polls]
    no_alert(d)
    # The page's script (served from 'self') refreshes the head from the JSON view, without a reload.
    first, deadline = int(d.find_element(By.ID, "height").text), time.monotonic() + 30
    d.execute_script("document.body.dataset.marker = 'same page'")
    while int(d.find_element(By.ID, "height").text) <= first:
        assert time.monotonic() < deadline, "the home page's height did not refresh in 30 s"
        time.sleep(0.5)
    assert d.execute_script("return document.body.dataset.marker") == "same page"
    final_polls = d.find_elements(By.CSS_SELECTOR, "#polls-final td.question a")

    # The hostile poll, reached by its link: both strings are text, in the page and in the chart.
    follow(d, next(a for a in final_polls if a.text == XSS_QUESTION))
    visit(d, None, "poll-hostile-strings")
    assert d.current_url == f"{explorer}/poll/{polls['xss']}"
    no_alert(d)
    assert d.find_element(By.ID, "question").text == XSS_QUESTION
    assert XSS_OPTION in [li.text for li in d.find_elements(By.CSS_SELECTOR, "#options li")]
    labels = d.execute_script("return [...document.querySelectorAll('svg.chart text')].map(t => t.textContent)")
    assert XSS_OPTION in labels
    assert d.execute_script("return [...document.scripts].map(s => s.src)") == [explorer + "/static/explorer.js"]
    poll = rpc.query(f"/poll/{polls['xss']}")[0]
    assert int(d.find_element(By.ID, "ballot-count").text) == poll["ballots"] == 3
    shown = {
        r.find_element(By.CLASS_NAME, "option").text: int(r.find_element(By.CLASS_NAME, "count").text)
        for r in d.find_elements(By.CSS_SELECTOR, "#tally tr")
    }
    assert shown == poll["result"]["outcome"]["tally"] == {"a": 1, XSS_OPTION: 2}

    # Its verify panel: the light client's checks, run in the background, followed by the page's script.
    deadline = time.monotonic() + 60
    while d.find_element(By.ID, "verify").get_attribute("data-status") in ("running", "busy"):
        assert time.monotonic() < deadline, "the verify panel did not finish in 60 s"
        time.sleep(0.5)
    checks = [li.text for li in d.find_elements(By.CSS_SELECTOR, "#verify-checks li")]
    assert d.find_element(By.ID, "verify").get_attribute("data-status") == "verified", checks
    opened = "opened the tally; the node's result equals the recomputed one"  # t+1 = 3 valid aggregate posts
    assert any(c.startswith("final outcome: validators [") and opened in c for c in checks), checks
    visit(d, None, "poll-hostile-strings", record=False)  # again, with the panel filled in

    # The demo's tally poll and unanimity poll: the outcome shown is the chain's.
    visit(d, f"{explorer}/poll/{polls['venue']}", "poll")
    venue = rpc.query(f"/poll/{polls['venue']}")[0]
    shown = {
        r.find_element(By.CLASS_NAME, "option").text: int(r.find_element(By.CLASS_NAME, "count").text)
        for r in d.find_elements(By.CSS_SELECTOR, "#tally tr")
    }
    assert shown == venue["result"]["outcome"]["tally"] == {"a": 1, "b": 3, "c": 1}
    assert int(d.find_element(By.ID, "ballot-count").text) == venue["ballots"] == 5
    visit(d, f"{explorer}/poll/{polls['bylaws']}", "poll-unanimity")
    assert d.find_element(By.ID, "unanimous").text.startswith("unanimous")

    # A ballot's tx, then its block, by following links.
    follow(d, d.find_element(By.CSS_SELECTOR, "#ballots a.mono"))
    visit(d, None, "tx")
    assert d.find_element(By.ID, "tx-type").text == "cast_ballot"
    assert d.find_element(By.ID, "tx-result").text.startswith("0 OK")
    tx_hash = d.current_url.rsplit("/", 1)[1]
    assert rpc.tx(tx_hash)["tx_result"].get("code", 0) == 0
    follow(d, d.find_element(By.ID, "tx-block"))
    visit(d, None, "block")
    assert tx_hash in [a.get_attribute("title") for a in d.find_elements(By.CSS_SELECTOR, "#txs a.mono")]

    # Validators, and a search for the tx hash typed into the search box.
    visit(d, explorer + "/validators", "validators")
    assert len(d.find_elements(By.CSS_SELECTOR, "#registry tr")) == 1 + 4
    box = d.find_element(By.CSS_SELECTOR, "nav input[name=q]")
    box.send_keys(tx_hash.lower())
    box.submit()
    assert d.current_url == f"{explorer}/tx/{tx_hash}"
    visit(d, explorer + "/search?q=" + "%27%20OR%201%3D1", "search-refused")
    assert "height or poll id" in d.find_element(By.ID, "error").text

    # The JSON view as a browser gets it, and no CSP violation anywhere (nothing inline was needed).
    d.get(f"{explorer}/poll/{polls['xss']}?format=json")
    doc = json.loads(d.find_element(By.TAG_NAME, "pre").text)
    assert doc["poll"]["question"] == XSS_QUESTION
    assert csp_violations(d) == []
