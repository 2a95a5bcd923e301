# Sourced by the train tests after tests/lib.sh: sets C to a folder holding
# the prepared corpora (scripts/corpus into the source tree's var/corpus,
# once), or skips the test (77) when they cannot be prepared here.
C=$SRC/var/corpus
if ! (cd "$C" 2>/dev/null && sha256sum --quiet -c SHA256SUMS >/dev/null 2>&1); then
    if ! "$SRC/scripts/corpus" "$C" >"$T/corpus.log" 2>&1; then
        cat "$T/corpus.log" >&2
        echo "corpora unavailable (scripts/corpus failed): skipping"
        exit 77
    fi
fi
# train_small ARGS...: a small, fast model on KJV (every test's base config).
train_small() {
    "$BNC" train --train "$C/kjv-train.txt" --valid "$C/kjv-valid.txt" --dim 64 --heads 2 \
        --ff 128 --ctx 64 --eval-seqs 16 --quiet "$@"
}
# json_field FILE KEY: a number from the last JSON line of FILE.
json_field() { tail -n 1 "$1" | python3 -c "import json,sys; print(json.load(sys.stdin)['$2'])"; }
