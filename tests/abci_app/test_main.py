"""python -m abci_app: the production entry point."""

import pytest


def test_production_entry_points_have_no_fault_switch():
    """Faults exist only in tests/faults/: python -m abci_app and python -m mpc_tx.worker take none."""
    import inspect
    import abci_app.__main__ as app_main
    import abci_app.app as app_module
    import mpc_tx.worker as worker_module

    for module in (app_main, app_module, worker_module):
        source = inspect.getsource(module)
        assert "MPCVOTE_FAULT" not in source and "MPCVOTE_WORKER_FAULT" not in source and "--fault" not in source
    with pytest.raises(SystemExit):
        app_main.main(["--home", "/nonexistent", "--fault", "exit-before-commit"])
