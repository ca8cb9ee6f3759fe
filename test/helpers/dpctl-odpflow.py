"""Parse dump-flows lines with Open vSwitch's own Python parser, for differential tests.

Reads {"lines": [...], "lenient": bool} as JSON on stdin and writes one JSON result per
line: the fields both parsers report (in_port, counters, used, ordered action names,
match field names) or the error ODPFlow raised. Counters are decimal strings so values
above 2^53 survive JSON. "lenient" turns off KVDecoders.strict, so keys ODPFlow has no
decoder for are kept as strings instead of raising.
"""
import json
import sys

from ovs.flow.kv import KVDecoders
from ovs.flow.odp import ODPFlow


def summary(flow):
    match = [kv.key for kv in flow.match_kv]
    in_port = next((kv.value for kv in flow.match_kv if kv.key == "in_port"), None)
    used = flow.info.get("used")
    return {
        "ok": True,
        "in_port": None if in_port is None else str(in_port),
        "packets": str(flow.info.get("packets")),
        "bytes": str(flow.info.get("bytes")),
        "used": None if used == "never" else used,
        "actions": [kv.key for kv in flow.actions_kv],
        "match": match,
    }


def main():
    request = json.load(sys.stdin)
    KVDecoders.strict = not request.get("lenient", False)
    out = []
    for line in request["lines"]:
        try:
            out.append(summary(ODPFlow(line)))
        except Exception as err:  # ODPFlow raises ValueError, ParseError, KeyError...
            out.append({"ok": False, "error": f"{type(err).__name__}: {err}"[:400]})
    json.dump(out, sys.stdout)


main()
