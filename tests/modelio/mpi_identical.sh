#!/usr/bin/env bash
# The output of `bnc quantize` is byte-identical whatever the number of
# ranks: -np 1, 2 and 3 under mpirun (and a plain serial run) are compared
# with cmp, with a split threshold that splits the bigger matrices by rows
# across ranks (checked in the plan table: owner "all").
# usage: mpi_identical.sh BNC WORKDIR
set -u
bnc=$1 dir=$2
rm -rf "$dir" && mkdir -p "$dir" || exit 1
cd "$dir" || exit 1
mpi=(mpirun --oversubscribe -np)
"$bnc" model synth in.gguf --dim 256 --layers 2 --ff 768 --vocab 512 --seed 7 > /dev/null || exit 1
"$bnc" model synth in16.safetensors --dtype f16 --dim 256 --layers 1 --ff 768 --vocab 512 --seed 9 > /dev/null || exit 1
fail=0 tested=0
# (f16, bf16, q8_0 and tq2_0 are checked byte for byte against the kernels
# in modelio_roundtrip; here the cases cover each code path of the writer:
# conversion, block quantizers, and bitnet's allreduced absmean.)
for case in "in16.safetensors f32" "in.gguf q4_0" "in.gguf tq1_0" "in.gguf bitnet" \
            "in16.safetensors bitnet --pack tq1_0"; do
    set -- $case
    src=$1 type=$2; shift 2
    tag=$(echo "$src-$type-$*" | tr -c 'a-zA-Z0-9_.-' '_')
    "$bnc" quantize "$src" "serial-$tag.gguf" --type "$type" "$@" --split-mb 0.2 --no-metrics > "serial-$tag.txt" 2>&1
    rc=$?
    if [ $rc -ne 0 ] && grep -q "no kernel scheme writes" "serial-$tag.txt"; then
        echo "SKIP $tag: $(grep -o 'no kernel scheme writes [a-z0-9_]*' "serial-$tag.txt" | head -1)"
        continue
    fi
    [ $rc -eq 0 ] || { echo "FAIL $tag serial: $(tail -3 "serial-$tag.txt")"; fail=1; continue; }
    for np in 1 2 3; do
        "${mpi[@]}" $np "$bnc" quantize "$src" "np$np-$tag.gguf" --type "$type" "$@" --split-mb 0.2 > "np$np-$tag.txt" 2>&1
        rc=$?
        if [ $rc -ne 0 ]; then echo "FAIL $tag -np $np: exit $rc: $(tail -5 "np$np-$tag.txt")"; fail=1; continue; fi
        if ! cmp "serial-$tag.gguf" "np$np-$tag.gguf"; then echo "FAIL $tag: -np $np differs from serial"; fail=1; fi
    done
    # With 2 or 3 ranks some tensors must have been split ("all") and some
    # assigned to ranks other than 0.
    if [ -f "np3-$tag.txt" ]; then
        grep -Eq ' all +[0-9]+ ' "np3-$tag.txt" || { echo "FAIL $tag: no tensor was split"; fail=1; }
        grep -Eq ' [12] +[0-9]+ ' "np3-$tag.txt" || { echo "FAIL $tag: no tensor went to rank 1 or 2"; fail=1; }
    fi
    echo "ok   $tag: np 1/2/3 identical ($(stat -c %s "serial-$tag.gguf") bytes)"
    tested=$((tested + 1))
done
[ $tested -ge 2 ] || { echo "FAIL only $tested cases ran"; fail=1; }
exit $fail
