"""The layout's rules, read from the imports of every module (README, Layout).

- mpc_tx.protocol imports nothing outside itself (the standard library and its pinned
  crypto packages aside), does no I/O, never imports MPyC; only ``group`` touches the
  curve library.
- abci_app imports only mpc_tx.protocol of our packages (never the client, worker or MPC).
- Nothing imports scripts (or its toolkit) or tests.
"""

import ast
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PROTOCOL = ROOT / "mpc_tx" / "protocol"
# Third-party imports each protocol module may make; everything else is the standard
# library or the package itself.
ALLOWED_THIRD_PARTY = {
    "group.py": {"rbcl"},
    "envelope.py": {"cryptography"},
    "keys.py": {"nacl", "cryptography"},
}
NO_IO = {"os", "io", "socket", "subprocess", "pathlib", "shutil", "logging", "tempfile", "asyncio"}
OURS = {"abci_app", "mpc_tx", "node_config", "toolkit", "tests", "scripts"}


def _imports(path):
    """Yield (level, module) for each import of the file, and (0, "open()") for each open call."""
    tree = ast.parse(Path(path).read_text())
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield 0, alias.name
        elif isinstance(node, ast.ImportFrom):
            yield node.level, node.module or ""
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "open":
            yield 0, "open()"


def _tracked(*tops):
    out = subprocess.run(["git", "ls-files", *tops], cwd=ROOT, capture_output=True, text=True, check=True)
    return [ROOT / f for f in out.stdout.split() if f.endswith(".py")]


def test_protocol_imports_only_itself_the_stdlib_and_its_crypto():
    modules = sorted(p.name for p in PROTOCOL.glob("*.py"))
    assert {
        "group.py",
        "ballot.py",
        "envelope.py",
        "proofs.py",
        "complaint.py",
        "aggregate.py",
        "canonical.py",
        "codes.py",
        "tx.py",
        "keys.py",
        "sharing.py",
    } <= set(modules)
    for name in modules:
        for level, module in _imports(PROTOCOL / name):
            if level:
                continue  # relative: inside mpc_tx.protocol
            top = module.split(".")[0]
            assert top not in NO_IO and module != "open()", f"{name} does I/O through {module}"
            assert top != "mpyc" and top not in OURS, f"{name} imports {module}"
            if top not in sys.stdlib_module_names:
                assert top in ALLOWED_THIRD_PARTY.get(name, set()), f"{name} imports {module}"


def test_every_protocol_module_declares_its_api():
    for path in PROTOCOL.glob("*.py"):
        assert "__all__" in path.read_text(), path.name


def test_the_state_machine_imports_only_the_protocol():
    for path in _tracked("abci_app"):
        for level, module in _imports(path):
            assert level == 0, f"{path.relative_to(ROOT)}: relative import (write the full name)"
            top = module.split(".")[0]
            if top in OURS:
                assert top == "abci_app" or module.startswith("mpc_tx.protocol"), (
                    f"{path.relative_to(ROOT)} imports {module}"
                )


def test_nothing_imports_scripts_or_tests():
    for path in _tracked("abci_app", "mpc_tx", "node_config"):
        for level, module in _imports(path):
            top = module.split(".")[0]
            assert top not in {"toolkit", "tests", "scripts"}, f"{path.relative_to(ROOT)} imports {module}"
    # The launchers and their toolkit may import the product, never the tests.
    for path in _tracked("scripts"):
        for level, module in _imports(path):
            assert module.split(".")[0] != "tests", f"{path.relative_to(ROOT)} imports {module}"


def test_the_rule_is_stated_at_the_top_of_each_package():
    for package in (
        "abci_app",
        "mpc_tx",
        "mpc_tx/protocol",
        "mpc_tx/client",
        "mpc_tx/worker",
        "mpc_tx/mpc",
        "node_config",
    ):
        doc = ast.get_docstring(ast.parse((ROOT / package / "__init__.py").read_text()))
        assert doc and "import" in doc, f"{package}/__init__.py does not state its import rule"


def test_the_readme_layout_names_every_module():
    readme = (ROOT / "README.md").read_text()
    layout = readme[readme.index("## Layout") :]
    block = layout[layout.index("```") + 3 :]
    block = block[: block.index("```")]
    for path in _tracked("abci_app", "mpc_tx", "node_config", "scripts/toolkit"):
        if path.name in ("__init__.py", "__main__.py") or "reliability" in path.parts:
            continue
        assert path.name in block, f"README's Layout does not list {path.relative_to(ROOT)}"
