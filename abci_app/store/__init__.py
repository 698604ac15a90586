"""The state on disk: LevelDB and its overlays (overlay), the key layout (keys), the app hash.

Rule: imports only the standard library, plyvel and mpc_tx.protocol.canonical.
"""
