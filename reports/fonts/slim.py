#!/usr/bin/env python3
"""Drops the long licence text (name ID 13, ~9.5 KB) from the `name` table
of a TrueType font, in place, keeping the copyright (ID 0) and the licence
URL (ID 14). Why: krilla embeds a subset of the font in every statement,
and the subsetter keeps name ID 13, so each letter carried ~19 KB of licence
text to compress, about a fifth of a letter's bytes. The full licence ships
beside the fonts (LICENSE-DejaVu.txt). Standard library only.

    python3 reports/fonts/slim.py reports/fonts/DejaVuSansCondensed*.ttf
"""
import struct
import sys

DROP = {13}


def checksum(data: bytes) -> int:
    data += b"\0" * (-len(data) % 4)
    return sum(struct.unpack(f">{len(data) // 4}I", data)) & 0xFFFFFFFF


def slim_name(name: bytes) -> bytes:
    fmt, count, storage_at = struct.unpack(">HHH", name[:6])
    assert fmt == 0, "name table format 1 is not handled"
    records, storage = [], bytearray()
    for i in range(count):
        pid, eid, lid, nid, length, off = struct.unpack(
            ">6H", name[6 + 12 * i: 18 + 12 * i])
        if nid in DROP:
            continue
        text = name[storage_at + off: storage_at + off + length]
        records.append((pid, eid, lid, nid, length, len(storage)))
        storage += text
    head = struct.pack(">HHH", 0, len(records), 6 + 12 * len(records))
    return head + b"".join(struct.pack(">6H", *r) for r in records) + bytes(storage)


def slim(path: str) -> None:
    font = open(path, "rb").read()
    sfnt, num = struct.unpack(">IH", font[:6])
    tables = {}
    for i in range(num):
        tag, _, off, length = struct.unpack(">4sIII", font[12 + 16 * i: 28 + 16 * i])
        tables[tag] = font[off: off + length]
    before = len(tables[b"name"])
    tables[b"name"] = slim_name(tables[b"name"])
    # head.checkSumAdjustment is recomputed over the whole file below.
    head = bytearray(tables[b"head"])
    head[8:12] = b"\0\0\0\0"
    tables[b"head"] = bytes(head)
    search = 1 << (num.bit_length() - 1)
    out = bytearray(struct.pack(">IHHHH", sfnt, num, search * 16,
                                search.bit_length() - 1, num * 16 - search * 16))
    offset = 12 + 16 * num
    body = bytearray()
    for tag in sorted(tables):
        data = tables[tag]
        out += struct.pack(">4sIII", tag, checksum(data), offset + len(body), len(data))
        body += data + b"\0" * (-len(data) % 4)
    out += body
    adjust = (0xB1B0AFBA - checksum(bytes(out))) & 0xFFFFFFFF
    head_at = struct.unpack(">I", out[12 + 16 * sorted(tables).index(b"head") + 8:][:4])[0]
    out[head_at + 8: head_at + 12] = struct.pack(">I", adjust)
    open(path, "wb").write(out)
    print(f"{path}: name table {before} -> {len(tables[b'name'])} bytes")


if __name__ == "__main__":
    for p in sys.argv[1:]:
        slim(p)
