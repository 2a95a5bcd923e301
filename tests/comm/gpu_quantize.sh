#!/usr/bin/env bash
# bnc quantize --device gpu. With a GPU: the file equals the CPU path's
# byte for byte (q8_0, q4_0, tq1_0, tq2_0, bitnet, f16; 1 and 2 ranks).
# Without one (or without CUDA in the build): exit 1 with a message that
# names the rank, and no output file under the final name or as .part.
. "$SRC/tests/lib.sh"
"$BNC" model synth m.gguf --params 2000000 >/dev/null
if command -v nvidia-smi >/dev/null && nvidia-smi -L >/dev/null 2>&1; then
    for t in q8_0 q4_0 tq1_0 tq2_0 bitnet f16; do
        "$BNC" quantize m.gguf cpu.gguf --type "$t" --quiet >/dev/null
        for np in 1 2; do
            out=$(mpi "$np" quantize m.gguf gpu.gguf --type "$t" --device gpu --quiet)
            echo "$out" | grep '"event":"quantize_gpu"' | head -2
            cmp cpu.gguf gpu.gguf || fail "$t, $np ranks: GPU file differs from the CPU file"
        done
        echo "$t: GPU file equals the CPU file (1 and 2 ranks)"
    done
    exit 0
fi
set +e
msg=$("$BNC" quantize m.gguf out.gguf --type q8_0 --device gpu 2>&1); rc=$?
set -e
expect_eq "$rc" 1 "exit status without a GPU"
echo "$msg" | grep -q "rank 0: --device gpu" || fail "the message does not name the rank: $msg"
[ ! -e out.gguf ] && [ ! -e out.gguf.part ] || fail "an output file was left behind"
set +e
"$BNC" quantize m.gguf out.gguf --type q8_0 --device tpu >/dev/null 2>&1; rc=$?
set -e
expect_eq "$rc" 2 "unknown device exit status"
echo "no GPU here: --device gpu refused with '$msg', nothing written"
