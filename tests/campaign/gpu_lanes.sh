#!/usr/bin/env bash
# Tasks that need a GPU go only to ranks that have one (here rank 2, told by
# BNC_GPUS in an MPMD launch); CPU tasks go anywhere; with no GPU rank the
# spec is refused before anything runs.
. "$SRC/tests/lib.sh"
need_db
cat > "$T/spec.yaml" <<SPEC
name: t_gpu_lanes
seeds: [1, 2, 3, 4]
repetitions: 10
groups:
  - kind: noop
    grid: {i: 1, sleep_ms: 2}
  - kind: noop
    grid: {i: 2, sleep_ms: 2}
    resources: {gpu: 1}
SPEC
mpirun --oversubscribe -np 2 -x BNC_GPUS=0 "$BNC" campaign run "$T/spec.yaml" --db "$BNC_TEST_DB" --journal "$T/j" \
    : -np 1 -x BNC_GPUS=1 "$BNC" campaign run "$T/spec.yaml" --db "$BNC_TEST_DB" --journal "$T/j"
expect_eq "$(psql_val "SELECT count(*) FROM tasks WHERE campaign='t_gpu_lanes' AND params->>'i'='2' AND rank=2")" 40 "GPU tasks on the GPU rank"
expect_eq "$(psql_val "SELECT count(*) FROM tasks WHERE campaign='t_gpu_lanes' AND status='done'")" 80 "tasks done"

sed 's/t_gpu_lanes/t_gpu_none/' "$T/spec.yaml" > "$T/none.yaml"
set +e
msg=$(mpirun --oversubscribe -np 2 -x BNC_GPUS=0 "$BNC" campaign run "$T/none.yaml" --db "$BNC_TEST_DB" --journal "$T/j2" 2>&1 >/dev/null); code=$?
set -e
expect_eq "$code" 2 "exit code without GPU ranks"
echo "$msg" | grep -q "40 tasks need a GPU" || fail "message: $msg"
expect_eq "$(psql_val "SELECT count(*) FROM campaigns WHERE name='t_gpu_none'")" 0 "campaign rows"
echo "1 passed, 0 failed"
