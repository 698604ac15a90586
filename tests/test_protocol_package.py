"""The package rule of mpc_tx.protocol: pure, self-contained, no MPyC, one module on the curve library."""
import ast
import os
import sys

import mpc_tx.protocol

PACKAGE = os.path.dirname(mpc_tx.protocol.__file__)
# Third-party imports each module may make; everything else is the standard library or
# the package itself.
ALLOWED_THIRD_PARTY = {"group.py": {"rbcl"}, "envelope.py": {"cryptography"}}
NO_IO = {"os", "io", "socket", "subprocess", "pathlib", "shutil", "logging", "tempfile", "asyncio"}


def _imports(path):
    tree = ast.parse(open(path).read())
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield 0, alias.name
        elif isinstance(node, ast.ImportFrom):
            yield node.level, node.module or ""
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "open":
            yield 0, "open()"


def test_modules_import_only_the_package_the_stdlib_and_their_crypto():
    modules = sorted(f for f in os.listdir(PACKAGE) if f.endswith(".py"))
    assert {"group.py", "ballot.py", "envelope.py", "proofs.py", "complaint.py", "aggregate.py"} <= set(modules)
    for name in modules:
        for level, module in _imports(os.path.join(PACKAGE, name)):
            if level:
                continue  # relative: inside mpc_tx.protocol
            top = module.split(".")[0]
            assert top not in NO_IO and module != "open()", f"{name} does I/O through {module}"
            assert top != "mpyc" and top != "mpc_tx", f"{name} imports {module}"
            if top not in sys.stdlib_module_names:
                assert top in ALLOWED_THIRD_PARTY.get(name, set()), f"{name} imports {module}"


def test_every_module_declares_its_api():
    for name in os.listdir(PACKAGE):
        if name.endswith(".py"):
            assert "__all__" in open(os.path.join(PACKAGE, name)).read(), name
