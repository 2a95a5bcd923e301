#!/usr/bin/env bash
# gemv_skip_missing_isa: a test that forces an ISA the CPU lacks skips (exit
# 77, the CMake tests' SKIP_RETURN_CODE) with a line saying why. The CPU is
# made to look AVX2-only with BNC_ISA_MAX=avx2, so this holds on any x86-64.
set -uo pipefail
out=$(BNC_ISA=avx512 BNC_ISA_MAX=avx2 "$1" 2>&1)
rc=$?
echo "$out" | head -3
[ "$rc" = 77 ] || { echo "FAIL: exit $rc, want 77"; exit 1; }
grep -q '^SKIP: BNC_ISA=avx512: this CPU lacks it' <<<"$out" || { echo "FAIL: no skip line"; exit 1; }
# BNC_ISA_MAX=avx2 on its own: avx512 is reported missing, the rest runs
out=$(BNC_ISA_MAX=avx2 "$1" 2>&1) || { echo "$out" | tail -20; echo "FAIL: AVX2-only run"; exit 1; }
grep -q '^isa avx512: not on this CPU' <<<"$out" || { echo "FAIL: avx512 still listed"; exit 1; }
echo ok
