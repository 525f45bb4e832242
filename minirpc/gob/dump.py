"""An annotated listing of gob bytes, for reading the format (Go's ``debug.go``).

Each message gets a block: its length prefix, its type id, then either the
type definition it carries or its value walked field by field, with the raw
bytes in hex on the left.  Bad bytes end the listing with an ``error:`` line
instead of raising, so a broken stream can still be read up to the fault.
The messages are cut by the real ``Decoder``, which also learns the stream's
type definitions as they go by.
"""

from __future__ import annotations

from ..errors import GobError
from ..format import NEED_DATA
from .decoder import Decoder, get_uint


def _hex(b: bytes, limit: int = 12) -> str:
    text = b[:limit].hex(" ")
    return text + " …" if len(b) > limit else text


def dump(data: bytes, start: int = 0) -> str:
    """An annotated listing of a gob stream: one block per message, hex on the left.

    Messages that begin before byte ``start`` are read (they may define types
    the later ones use) but not listed."""
    decoder, lines, n, offset = Decoder(max_message=max(len(data), 1)), [], 0, 0
    decoder.feed(data)
    decoder.feed(b"")  # the end of the stream
    try:
        while (frame := decoder.next_frame()) is not NEED_DATA:
            type_id, raw, pos = frame
            n, shown, offset = n + 1, offset >= start, offset + len(raw)
            if type_id < 0:
                wire = decoder.define(-type_id, raw, pos)
            if not shown:
                continue
            prefix = get_uint(raw, 0)[1]  # the length's own bytes
            lines.append(f"message {n}: {len(raw) - prefix} bytes")
            lines.append(f"  {_hex(raw[:prefix]):<38} length {len(raw) - prefix}")
            if type_id < 0:
                lines.append(f"  {_hex(raw[prefix:pos]):<38} type id {type_id}: a definition of type {-type_id}")
                lines.append(f"  {_hex(raw[pos:]):<38} {wire.describe(decoder.wire_types)}")
            else:
                lines.append(f"  {_hex(raw[prefix:pos]):<38} type id {type_id}: a value")
                _walk(decoder, type_id, raw, pos, "value", "  ", lines, top=True)
    except EOFError as e:
        if e.args:  # a bare EOFError is the clean end of the stream
            lines.append(f"  (truncated: the stream ends inside message {n + 1})")
    except (GobError, IndexError) as e:
        lines.append(f"  error: {e or 'truncated data'}")
    return "\n".join(lines)


def _walk(dec: Decoder, type_id, data, pos, label, indent, lines, top=False) -> int:
    """Annotate one value at ``pos`` and return the position after it."""
    wire = dec.wire_types.get(type_id)
    if wire is None or wire.kind != "struct":
        if top:
            lines.append(f"  {_hex(data[pos:pos + 1]):<38} {indent}singleton (field delta 0)")
            pos += 1
        if wire is None or wire.kind in ("gobencoder", "binary", "text"):
            value, end = dec._op(type_id, None, 0)(data, pos, 0)
            lines.append(f"  {_hex(data[pos:end]):<38} {indent}{label} = {value!r}")
            return end
        count, end = get_uint(data, pos)
        lines.append(f"  {_hex(data[pos:end]):<38} {indent}{label}: {wire.describe(dec.wire_types)}, "
                     f"count {count}")
        pos = end
        for i in range(count):
            if wire.kind == "map":
                pos = _walk(dec, wire.key, data, pos, f"key {i}", indent + "  ", lines)
            pos = _walk(dec, wire.elem, data, pos, f"[{i}]", indent + "  ", lines)
        return pos
    lines.append(f"  {'':<38} {indent}{label}: struct {wire.name or '{}'}")
    field = -1
    while True:
        delta, end = get_uint(data, pos)
        if delta == 0:
            lines.append(f"  {_hex(data[pos:end]):<38} {indent}end of {wire.name or 'struct'}")
            return end
        field += delta
        if field >= len(wire.fields):
            raise GobError("gob: field number out of range")
        name, fid = wire.fields[field]
        lines.append(f"  {_hex(data[pos:end]):<38} {indent}  field +{delta} -> {name}")
        pos = _walk(dec, fid, data, end, name, indent + "    ", lines)
