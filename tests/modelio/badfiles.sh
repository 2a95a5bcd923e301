#!/usr/bin/env bash
# Every malformed file of the acceptance list: `bnc model info` and
# `bnc quantize` must exit 2 with a message naming the file and the field,
# and never crash. usage: badfiles.sh BNC MKBAD WORKDIR
set -u
bnc=$1 mkbad=$2 dir=$3
rm -rf "$dir" && mkdir -p "$dir" || exit 1
"$mkbad" "$dir" > "$dir/cases.tsv" || exit 1
fail=0 n=0
while IFS=$'\t' read -r file field; do
    n=$((n + 1))
    # `bnc model info` on every case; `bnc quantize` (an MPI start each) on
    # every other one, as both go through the same reader.
    cmds=info
    [ $((n % 2)) -eq 1 ] && cmds="info quantize"
    for cmd in $cmds; do
        if [ $cmd = info ]; then
            "$bnc" model info "$dir/$file" > /dev/null 2> "$dir/err.txt"
        else
            "$bnc" quantize "$dir/$file" "$dir/out.gguf" --type f32 --quiet > /dev/null 2> "$dir/err.txt"
        fi
        rc=$?
        msg=$(head -c 600 "$dir/err.txt")
        if [ $rc -ne 2 ]; then
            echo "FAIL $cmd $file: exit $rc (want 2): $msg"; fail=1
        elif ! grep -qF -- "$file" "$dir/err.txt"; then
            echo "FAIL $cmd $file: message does not name the file: $msg"; fail=1
        elif ! grep -qF -- "$field" "$dir/err.txt"; then
            echo "FAIL $cmd $file: message does not name '$field': $msg"; fail=1
        else
            echo "ok   $cmd $file: $msg"
        fi
    done
done < "$dir/cases.tsv"
[ -e "$dir/out.gguf" ] && { echo "FAIL an output file was left behind"; fail=1; }
[ "$n" -ge 20 ] || { echo "FAIL only $n cases"; fail=1; }
exit $fail
