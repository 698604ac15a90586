"""A web explorer for polls, ballots, outcomes and blocks, read through nodes' RPC.

`chain` reads and shapes what the pages show (plain data, testable with a fake
RPC client), `charts` turns counts into SVG geometry, `verify` runs the light
client in the background, `server` is the Starlette app (templates, headers).
"""

__all__ = []
