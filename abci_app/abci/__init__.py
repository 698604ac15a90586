"""The ABCI 2.0 socket protocol: generated classes (pb), framing, server, BaseApplication.

Rule: nothing here knows mpcvote; it imports only the generated classes and the standard library.
"""
