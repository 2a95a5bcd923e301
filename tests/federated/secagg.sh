#!/usr/bin/env bash
# Secure aggregation end to end (bnc fed sim, 10 clients all sampled, 3
# rounds, threshold 7): for ternary and int8 uplinks the model after masked
# rounds, with 0, 1 and n - t = 3 clients gone after sending their masked
# update, is byte for byte the model of the same integer updates summed
# unmasked (--secagg-plain). usage: secagg.sh BNC WORKDIR
set -eu
bnc=$1 dir=$2
rm -rf "$dir" && mkdir -p "$dir"
np=7850 # softmax 784 x 10 + 10
for codec in ternary int8; do
    run() { # name, options...
        local name=$1; shift
        "$bnc" fed sim --run "fed-secagg-$codec-$name-$$" --clients 10 --per-round 10 --rounds 3 \
            --threads 2 --compressor "$codec" --checkpoint "$dir/$codec-$name.ckpt" "$@" \
            > "$dir/$codec-$name.out" 2> "$dir/$codec-$name.log"
        grep -q '"summary": true, "rounds_done": 3' "$dir/$codec-$name.out" ||
            { echo "FAIL: $codec $name did not finish"; tail "$dir/$codec-$name.log"; exit 1; }
    }
    run plain --secagg-plain
    for drop in 0 1 3; do
        run "drop$drop" --secagg --secagg-t 7 --secagg-drop "$drop"
        # Weights follow the header (magic 8, words 16, run name 128, count 8).
        cmp -i 160 -n $((np * 4)) "$dir/$codec-plain.ckpt" "$dir/$codec-drop$drop.ckpt" ||
            { echo "FAIL: $codec masked ($drop gone) differs from unmasked"; exit 1; }
        gone=$(grep -c "ignoring Unmask (test hook" "$dir/$codec-drop$drop.log" || true)
        [ "$gone" -eq $((3 * drop)) ] || { echo "FAIL: $gone dropouts, expected $((3 * drop))"; exit 1; }
        [ "$(grep -c 'seeds rebuilt from 7 shares' "$dir/$codec-drop$drop.log")" -eq 3 ] ||
            { echo "FAIL: $codec drop $drop: not every round unmasked"; exit 1; }
    done
    acc=$(sed -n 's/.*"summary": true.*"final_accuracy": \([0-9.]*\).*/\1/p' "$dir/$codec-plain.out")
    echo "$codec: masked = unmasked with 0, 1, 3 dropouts (final accuracy $acc)"
done
echo "secagg: ok"
