"""An annotated listing of gob bytes, for reading the format (``gob.dump``).

Each message gets a block: its length prefix, its type id, then either the
type definition it carries or its value walked field by field, with the raw
bytes in hex on the left.  Bad bytes end the listing with an ``error:`` line
instead of raising, so a broken stream can still be read up to the fault.
"""

from __future__ import annotations

from .gob import Decoder, GobError, get_int, get_uint


def _hex(b: bytes, limit: int = 12) -> str:
    text = b[:limit].hex(" ")
    return text + " …" if len(b) > limit else text


def dump(data: bytes) -> str:
    """An annotated listing of a gob stream: one block per message, hex on the left."""
    dec, lines, pos, n = Decoder(), [], 0, 0
    try:
        while pos < len(data):
            n += 1
            length, start = get_uint(data, pos)
            payload = bytes(data[start:start + length])
            lines.append(f"message {n}: {length} bytes")
            lines.append(f"  {_hex(data[pos:start]):<38} length {length}")
            if len(payload) < length:
                lines.append(f"  (truncated: only {len(payload)} bytes left)")
                break
            type_id, p = get_int(payload, 0)
            if type_id < 0:
                lines.append(f"  {_hex(payload[:p]):<38} type id {type_id}: a definition of type {-type_id}")
                wire = dec.read_message(payload)[1]
                lines.append(f"  {_hex(payload[p:]):<38} {wire.describe(dec.wire_types)}")
            else:
                lines.append(f"  {_hex(payload[:p]):<38} type id {type_id}: a value")
                _walk(dec, type_id, payload, p, "value", "  ", lines, top=True)
            pos = start + length
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
