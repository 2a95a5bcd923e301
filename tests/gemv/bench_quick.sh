#!/usr/bin/env bash
# gemv_bench_quick: `bnc bench kernels --quick` runs, and every JSON line
# parses; the quantize and gemv lines carry the fields the issue asks for,
# with positive numbers and ratio = gbps / bw_gbps; every bandwidth line
# gives both read patterns, and bw_gbps is the better one (bnc_stream.h).
set -euo pipefail
command -v python3 >/dev/null || { echo "python3 missing"; exit 77; }
out=$(mktemp)
trap 'rm -f "$out"' EXIT
"$BNC" bench kernels --quick > "$out"
python3 - "$out" <<'PY'
import json, sys
need = ["op", "scheme", "isa", "threads", "rows", "cols", "gbps", "bw_gbps", "ratio"]
ops = {}
table = 0
for line in open(sys.argv[1]):
    line = line.rstrip("\n")
    if line.startswith("#"):
        table += 1
        continue
    o = json.loads(line)
    ops[o["op"]] = ops.get(o["op"], 0) + 1
    if o["op"] in ("quantize", "gemv"):
        missing = [k for k in need if k not in o]
        assert not missing, f"missing {missing} in {line}"
        assert o["gbps"] > 0 and o["bw_gbps"] > 0, line
        assert abs(o["ratio"] - o["gbps"] / o["bw_gbps"]) < 2e-3 + 1e-3 * o["ratio"], line
        assert o["isa"] in ("scalar", "avx2", "avx512"), line
    if o["op"] == "bandwidth":
        one, multi = o["bw_one_stream_gbps"], o["bw_multi_stream_gbps"]
        assert one > 0 and multi > 0, line
        assert abs(o["bw_gbps"] - max(one, multi)) < 2e-3, line
assert ops.get("gemv", 0) >= 7 * 4, ops       # 7 schemes x 4 shapes at least
assert ops.get("quantize", 0) >= 3 * 4, ops
assert ops.get("bandwidth", 0) >= 1, ops
assert table > 5, "no table"
print("ok", ops)
PY
