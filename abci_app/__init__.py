"""ABCI 2.0 server and the mpcvote application behind it."""
