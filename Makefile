# mpcvote — the two commands of the quick start are `make demo` and `make test`.
PY := .venv/bin/python

.PHONY: setup test test-unit demo bench clean
setup:
	@scripts/setup

test: setup
	$(PY) -m pytest -q tests

test-unit: setup
	$(PY) -m pytest -q tests -m "not testnet"

demo: setup
	$(PY) scripts/demo.py

clean:
	rm -rf .venv .bin .gen .testnet
