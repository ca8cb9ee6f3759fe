"""Times Open vSwitch's own dump-flows parser (ovs.flow.odp.ODPFlow) on a file of lines.

Prints one JSON object: how many lines ODPFlow accepts as shipped (strict decoders: it
rejects `offloaded:` and `dp-extra-info:`, which OVS 3.1 prints with -m), and the time it
takes with strict off, so that it does the full work on every line: that is the rate the
benchmark compares with.
"""
import json
import sys
import time

from ovs.flow.kv import KVDecoders
from ovs.flow.odp import ODPFlow


def run(lines, strict):
    KVDecoders.strict = strict
    ok = 0
    start = time.perf_counter()
    for line in lines:
        try:
            ODPFlow(line)
            ok += 1
        except Exception:
            pass
    return ok, time.perf_counter() - start


def main():
    with open(sys.argv[1], encoding="utf-8") as f:
        lines = [line.rstrip("\n") for line in f if line.strip()]
    strict_ok, _ = run(lines, True)
    ok, seconds = run(lines, False)
    json.dump(
        {"lines": len(lines), "strict_ok": strict_ok, "ok": ok, "seconds": seconds},
        sys.stdout,
    )


main()
