#!/usr/bin/env bash
# GPTQ against its NumPy reference: gptq_ref.py (the fixture, kept here)
# writes W, H, held-out inputs and NumPy's GPTQ codes; train_gptq_test checks
# bnc's GPTQ gives the same integers and beats round-to-nearest.
set -euo pipefail
: "${GPTQ_TEST:?}" "${SRC:?}"
if ! /usr/bin/python3 -c 'import numpy' 2>/dev/null; then
    echo "NumPy missing (Debian python3-numpy): skipping"
    exit 77
fi
T=$(mktemp -d "${TMPDIR:-/tmp}/bnc-gptq.XXXXXX")
trap 'rm -rf "$T"' EXIT
/usr/bin/python3 "$SRC/tests/train/gptq_ref.py" "$T"
"$GPTQ_TEST" "$T"
