"""The one canonical encoding of everything mpcvote signs or hashes.

Canonical JSON: UTF-8, object keys sorted, no insignificant white space, integers
only (no floats), byte strings as lower-case hex. A decoder accepts a document
only if re-encoding it gives back the same bytes, so every value has exactly one
encoding and a signature or hash over it cannot be malleated.
"""

import json
from json.encoder import encode_basestring as _encode_str  # what dumps(ensure_ascii=False) uses

__all__ = ["CanonicalError", "encode", "decode"]


class CanonicalError(ValueError):
    """Bytes that are not the canonical encoding of a document."""


def _check(value, depth=0):
    kind = type(value)
    if kind is str or kind is bool or value is None:
        return
    if kind is int:
        if not -(1 << 63) <= value < (1 << 63):
            raise CanonicalError("integer out of the 64-bit range")
        return
    if depth > 16:
        raise CanonicalError("nested too deeply")
    if kind is list:
        for item in value:
            if type(item) is not str:  # the common case (hex payloads) costs no call
                _check(item, depth + 1)
        return
    if kind is dict:
        for key, item in value.items():
            if type(key) is not str:
                raise CanonicalError("object keys must be strings")
            if type(item) is not str:
                _check(item, depth + 1)
        return
    if kind is float:
        raise CanonicalError("floats are not allowed")
    raise CanonicalError(f"cannot encode a {kind.__name__}")


def encode(value) -> bytes:
    """Return the canonical bytes of a JSON-compatible value."""
    kind = type(value)
    if kind is int and -(1 << 63) <= value < (1 << 63):  # the common scalars, without an encoder
        return b"%d" % value
    if kind is str:
        try:
            return _encode_str(value).encode()
        except UnicodeEncodeError:
            raise CanonicalError("strings must be valid Unicode (no lone surrogates)") from None
    _check(value)
    try:
        return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()
    except UnicodeEncodeError:
        # A lone surrogate ("\ud800" in JSON) parses to a str that has no UTF-8 encoding.
        raise CanonicalError("strings must be valid Unicode (no lone surrogates)") from None


def decode(data: bytes):
    """Parse canonical bytes, rejecting any other encoding of the same value."""
    try:
        value = json.loads(data.decode("utf-8"), parse_float=_no_float, parse_constant=_no_float)
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        if isinstance(exc, CanonicalError):
            raise
        raise CanonicalError("not valid JSON") from None
    if encode(value) != data:
        raise CanonicalError("not in canonical form (sorted keys, no spaces, no duplicates)")
    return value


def _no_float(_text):
    raise CanonicalError("floats are not allowed")
