#!/usr/bin/env bash
# A short bounded libFuzzer run seeded with the malformed-file corpus.
# usage: run_fuzz.sh FUZZER MKBAD WORKDIR SECONDS
set -eu
fuzzer=$1 mkbad=$2 dir=$3 secs=$4
rm -rf "$dir" && mkdir -p "$dir/seeds" "$dir/corpus"
"$mkbad" "$dir/seeds" > /dev/null
rm -f "$dir/seeds/cases.tsv"
cd "$dir"
exec "$fuzzer" -max_total_time="$secs" -max_len=8192 -rss_limit_mb=2048 -print_final_stats=1 \
    corpus seeds
