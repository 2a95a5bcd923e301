#!/usr/bin/env bash
# 20% sign-flip attackers (scale 4) on IID Fashion-MNIST, softmax, 10 clients
# all sampled, 10 rounds: FedAvg collapses, the robust rules recover most of
# the clean accuracy (about 0.84 with no attack). usage: defences.sh BNC
set -eu
bnc=$1
acc() { # aggregator, extra options -> final accuracy
    local agg=$1; shift
    "$bnc" fed sim --run "fed-defence-$agg-$$" --clients 10 --per-round 10 --rounds 10 \
        --threads 2 --aggregator "$agg" "$@" 2>/dev/null |
        sed -n 's/.*"summary": true.*"final_accuracy": \([0-9.]*\).*/\1/p'
}
clean=$(acc mean)
mean=$(acc mean --attack signflip --attack-frac 0.2)
echo "clean $clean, fedavg under attack $mean"
awk -v c="$clean" -v m="$mean" 'BEGIN { exit !(c > 0.80 && m < 0.5) }' ||
    { echo "FAIL: expected clean > 0.80 and attacked FedAvg < 0.5"; exit 1; }
for agg in median trimmed krum multikrum; do
    a=$(acc "$agg" --attack signflip --attack-frac 0.2)
    echo "$agg under attack $a"
    # "Most of it": at least 85% of the clean accuracy (measured: 90-99%).
    awk -v c="$clean" -v a="$a" 'BEGIN { exit !(a >= 0.85 * c) }' ||
        { echo "FAIL: $agg recovers $a of $clean"; exit 1; }
done
echo "defences: ok"
