"""Run the mpcvote ABCI application: python -m abci_app --home DIR --listen tcp://127.0.0.1:PORT"""

import argparse
import asyncio
import logging
import os
import signal
import sys

__all__ = ["main"]


def main(argv=None, application=None):
    """Run the app; `application` (a subclass of Application) is for test entry points only."""
    parser = argparse.ArgumentParser(prog="python -m abci_app", description=__doc__)
    parser.add_argument("--home", required=True, help="folder for the app's LevelDB state")
    parser.add_argument("--listen", default="tcp://127.0.0.1:26658", help="tcp://HOST:PORT on loopback, or unix://PATH")
    parser.add_argument("--log-level", default="info")
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=args.log_level.upper(), stream=sys.stderr, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    from abci_app.app import Application

    application = application or Application
    from abci_app.abci.server import AbciServer, parse_listen

    try:
        parse_listen(args.listen)
    except ValueError as exc:
        parser.error(str(exc))
    os.makedirs(args.home, exist_ok=True)
    app = application(args.home)

    async def run():
        server = AbciServer(app)
        await server.start(args.listen)
        logging.getLogger("abci_app").info("listening on %s (height %d)", args.listen, app.store.height)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        serve = asyncio.create_task(server.serve_forever())
        await stop.wait()
        serve.cancel()
        await server.close()

    try:
        asyncio.run(run())
    finally:
        app.close()


if __name__ == "__main__":
    main()
