#!/usr/bin/env bash
# Outputs never destroy inputs or devices (issue 17, items 1, 2, 3, 7, 11):
# every refusal is checked against the file system afterwards (input bytes,
# file types, no temporary files left). The report/export part needs
# BNC_TEST_DB and is skipped without it.
# usage: outputs.sh BNC MKBAD WORKDIR
set -u
bnc=$1 mkbad=$2 dir=$3
rm -rf "$dir" && mkdir -p "$dir" && cd "$dir" || exit 1
fail=0
bad() { echo "FAIL $*"; fail=1; }
# run WANT_EXIT MUST_NAME CMD...: runs CMD, checks its exit status and that
# its message names MUST_NAME.
run() {
    local want=$1 name=$2
    shift 2
    "$@" > out.txt 2> err.txt < /dev/null
    local rc=$?
    if [ $rc -ne "$want" ]; then
        bad "$*: exit $rc (want $want): $(head -c 400 err.txt)"
    elif [ -n "$name" ] && ! grep -qF -- "$name" err.txt; then
        bad "$*: message does not name '$name': $(head -c 400 err.txt)"
    else
        echo "ok   $* -> $want: $(head -c 200 err.txt)"
    fi
}
no_temps() { # no temporary output file left in the folder
    local left
    left=$(find . -maxdepth 1 -name '.*.bnc-*' | head -3)
    [ -z "$left" ] || bad "temporary files left: $left"
}
same() { cmp -s "$1" "$2" || bad "$1 changed (differs from $2)"; }

"$bnc" model synth a.gguf --dim 256 --layers 1 --ff 768 --vocab 300 > /dev/null || exit 1
cp a.gguf a.orig

# 1. the input as output: same path, ./ against absolute, symlink, hard link
run 2 "a.gguf" "$bnc" quantize a.gguf a.gguf --type q8_0 --quiet
same a.gguf a.orig
run 2 "is the input" "$bnc" quantize ./a.gguf "$dir/a.gguf" --type q8_0 --quiet
same a.gguf a.orig
ln -s a.gguf link.gguf
run 2 "link.gguf" "$bnc" quantize a.gguf link.gguf --type q8_0 --quiet
run 2 "a.gguf" "$bnc" quantize link.gguf a.gguf --type q8_0 --quiet
same a.gguf a.orig
[ -L link.gguf ] || bad "link.gguf is no longer a symlink"
ln a.gguf hard.gguf
run 2 "hard.gguf" "$bnc" quantize a.gguf hard.gguf --type q8_0 --quiet
same a.gguf a.orig
run 2 "a.gguf" "$bnc" quantize a.gguf a.gguf --type q8_0 --quiet --override 'x=keep'
same a.gguf a.orig
no_temps

# 2. devices, FIFOs and directories are not replaced ('-o -' is the way)
if mknod full c 1 7 2> /dev/null; then
    run 2 "full" "$bnc" quantize a.gguf full --type q8_0 --quiet
    [ -c full ] || bad "full is no longer a character device"
    run 2 "full" "$bnc" model synth full --dim 256 --layers 1 --ff 768 --vocab 300
    [ -c full ] || bad "full is no longer a character device after model synth"
    [ "$(stat -c %t,%T full)" = "1,7" ] || bad "full's device numbers changed"
    run 2 "full: is a character device" timeout 20 "$bnc" fed server --bind tcp://127.0.0.1:0 \
        --rounds 1 --endpoint-file full
    [ -c full ] || bad "full is no longer a character device after fed server --endpoint-file"
    # any command whose standard output cannot be written fails (exit 1)
    "$bnc" model info a.gguf > full 2> err.txt
    rc=$?
    [ $rc = 1 ] && grep -q "standard output: write error" err.txt ||
        bad "model info to a full stdout: exit $rc: $(cat err.txt)"
else
    echo "skip mknod (not root): device-node cases"
fi
# '-' is standard output only where a command offers it: quantize and synth
# write files, so '-' is refused and no file named '-' appears
run 2 "cannot go to standard output" "$bnc" quantize a.gguf - --type q8_0 --quiet
run 2 "cannot go to standard output" "$bnc" model synth - --dim 256 --layers 1 --ff 768 --vocab 300
[ -e ./- ] && bad "a file named '-' was written"
mkfifo fifo
run 2 "fifo" "$bnc" quantize a.gguf fifo --type q8_0 --quiet
[ -p fifo ] || bad "fifo is no longer a FIFO"
mkdir outdir
run 2 "outdir" "$bnc" quantize a.gguf outdir --type q8_0 --quiet
[ -d outdir ] && [ -z "$(ls -A outdir)" ] || bad "outdir changed"
no_temps

# an unwritable output names the path (not MPI_ERR_NO_SUCH_FILE), exit 1
run 1 "$dir/nodir/q.gguf" "$bnc" quantize a.gguf "$dir/nodir/q.gguf" --type q8_0 --quiet
grep -q MPI_ERR err.txt && bad "the message is MPI's: $(cat err.txt)"
[ -e nodir ] && bad "nodir was created"

# a real output: written whole, the input untouched, nothing else left
run 0 "" "$bnc" quantize a.gguf q.gguf --type q8_0 --quiet
same a.gguf a.orig
"$bnc" model info q.gguf > info.txt 2>&1 || bad "q.gguf does not load: $(cat info.txt)"
grep -q q8_0 info.txt || bad "q.gguf holds no q8_0 tensor"
# replacing an existing regular output is allowed (it is not an input)
cp q.gguf q.first
run 0 "" "$bnc" quantize a.gguf q.gguf --type q8_0 --quiet
same q.gguf q.first
no_temps

# 3. empty dimensions: refused with exit 2 naming the tensor, no crash
mkdir bad && "$mkbad" bad > /dev/null || exit 1
run 2 "tensor 'w'" "$bnc" quantize bad/st_zerodim.safetensors z.gguf --type q8_0 --quiet
run 2 "tensor 't0'" "$bnc" quantize bad/gguf_zerodim.gguf z.gguf --type f32 --quiet
run 2 "tensor 'w'" "$bnc" model info bad/st_zerodim.safetensors
[ -e z.gguf ] && bad "z.gguf was written"

# 11. missing input, directory as input, unknown override type: exit 2
run 2 "nosuch.gguf" "$bnc" quantize nosuch.gguf q2.gguf --type q8_0 --quiet
run 2 "nosuch.gguf" "$bnc" model info nosuch.gguf
run 2 "is a directory" "$bnc" model info outdir
run 2 "is a directory" "$bnc" quantize outdir q2.gguf --type q8_0 --quiet
run 2 "nosuch" "$bnc" quantize a.gguf q2.gguf --type q8_0 --quiet --override 'x=nosuch'
[ -e q2.gguf ] && bad "q2.gguf was written"
run 2 "nosuch.yaml" "$bnc" campaign run nosuch.yaml --no-db
run 2 "is a directory" "$bnc" campaign run outdir --no-db

# export refuses a FIFO before it asks any database (none is reachable here)
run 2 "fifo" "$bnc" campaign export none --db "postgresql:///none?host=/nonexistent" -o fifo
[ -p fifo ] || bad "fifo is no longer a FIFO after export"

# 2 and 7 for report -o and campaign export -o (needs the database)
if [ -n "${BNC_TEST_DB:-}" ]; then
    camp="outputs-test-$$"
    printf 'name: %s\nseeds: [1, 2, 3]\ngroups:\n  - kind: noop\n    grid: {i: [1, 2]}\n' "$camp" > s.yaml
    "$bnc" campaign run s.yaml --db "$BNC_TEST_DB" --journal j > /dev/null 2>&1 || bad "campaign run"
    run 0 "" "$bnc" campaign export "$camp" --db "$BNC_TEST_DB" -o e.csv
    [ "$(wc -l < e.csv)" = 7 ] || bad "e.csv has $(wc -l < e.csv) lines (want 7)"
    run 2 "fifo" "$bnc" campaign export "$camp" --db "$BNC_TEST_DB" -o fifo
    [ -p fifo ] || bad "fifo is no longer a FIFO after export"
    run 0 "" "$bnc" report "$camp" --db "$BNC_TEST_DB" --format md --by i --baseline 1 -o r.md
    [ -s r.md ] || bad "r.md is empty"
    if [ -c full ]; then
        run 2 "full" "$bnc" campaign export "$camp" --db "$BNC_TEST_DB" -o full
        run 2 "full" "$bnc" report "$camp" --db "$BNC_TEST_DB" --format md --by i --baseline 1 -o full
        [ -c full ] || bad "full is no longer a character device after export/report"
        # a full standard output is a write error (exit 1), not success
        "$bnc" campaign export "$camp" --db "$BNC_TEST_DB" -o - > full 2> err.txt
        rc=$?
        [ $rc = 1 ] && grep -q "standard output" err.txt ||
            bad "export to a full stdout: exit $rc: $(cat err.txt)"
        "$bnc" report "$camp" --db "$BNC_TEST_DB" --format md --by i --baseline 1 > full 2> err.txt
        rc=$?
        [ $rc = 1 ] && grep -q "standard output" err.txt ||
            bad "report to a full stdout: exit $rc: $(cat err.txt)"
    fi
    no_temps
    psql "$BNC_TEST_DB" -qAtc "DELETE FROM campaigns WHERE name = '$camp'" > /dev/null
else
    echo "skip report/export cases (BNC_TEST_DB unset)"
fi
[ $fail = 0 ] && echo "all output cases passed"
exit $fail
