# mpcvote — the two commands of the quick start are `make demo` and `make test`.
PY := .venv/bin/python

.PHONY: setup lint test test-unit demo explorer explorer-screenshots bench clean
setup:
	@scripts/setup

# The linter and the formatter's check first: either failing fails `make test` (config: [tool.ruff]
# in pyproject.toml; `.venv/bin/ruff format .` formats the tree).
lint: setup
	.venv/bin/ruff check .
	.venv/bin/ruff format --check .

test: lint
	$(PY) -m pytest -q tests

test-unit: setup
	$(PY) -m pytest -q tests -m "not testnet"

demo: setup
	$(PY) scripts/demo.py

# The web explorer over every node of the local testnet (scripts/testnet up), on loopback.
EXPLORER_LISTEN ?= 127.0.0.1:8080
explorer: setup
	$(PY) -m mpc_tx.explorer --listen $(EXPLORER_LISTEN)

# The README's pictures: the browser test, saving its screenshots into docs/explorer.
explorer-screenshots: setup
	MPCVOTE_SCREENSHOTS=docs/explorer $(PY) -m pytest -q -s tests/test_explorer_browser.py

bench: setup
	@$(PY) -c 'import matplotlib' 2>/dev/null || .venv/bin/pip install -q -e '.[bench]'
	$(PY) scripts/bench

clean:
	rm -rf .venv .bin .gen .testnet
