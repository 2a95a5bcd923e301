#!/usr/bin/env bash
# Integration: a synthetic campaign written into the core tables, then
# `bnc analyze` (table, stored analyses rows, p-values against R) and
# `bnc report` (HTML, Markdown, CSV), and the time of `bnc analyze` on 10,000
# stored results. Usage: analyze_db_test.sh BNC SRC_DIR WORK_DIR
set -euo pipefail
if [ -z "${BNC_TEST_DB:-}" ]; then
    echo "BNC_TEST_DB is not set: skipping"
    exit 77
fi
bnc=$1 src=$2 work=$3
db=$BNC_TEST_DB
camp=stats_it_quant
rm -rf "$work" && mkdir -p "$work"
fail() { echo "FAIL: $*" >&2; exit 1; }
q() { psql "$db" -XAtq -c "$1"; }

"$bnc" db migrate --db "$db" >/dev/null
psql "$db" -Xq -v camp=$camp -v nseed=5 -v ntensor=4 -f "$src/campaign.sql"

# --- bnc analyze ------------------------------------------------------------
"$bnc" analyze $camp --db "$db" > "$work/analyze.txt"
cat "$work/analyze.txt"
grep -q "^$camp: rel_rmse (lower is better), by scheme, baseline f32$" "$work/analyze.txt" \
    || fail "rel_rmse header"
grep -q "paired by seed (20 pairs); paired t test, Holm-adjusted p, alpha 0.05" "$work/analyze.txt" \
    || fail "pairing line"
grep -Eq "^tq2_0 .* worse$" "$work/analyze.txt" || fail "tq2_0 verdict on the error"
grep -Eq "^q4_0 .* better$" "$work/analyze.txt" || fail "q4_0 verdict on throughput"
grep -q "no evidence of a difference" "$work/analyze.txt" || fail "a null verdict"
grep -q "q4_0: 1 NaN value left out" "$work/analyze.txt" || fail "NaN note"

# rows: 5 quant_error metrics x (6 groups + omnibus) + 2 gemv metrics x (5 + 1)
rows=$(q "SELECT count(*) FROM analyses WHERE campaign = '$camp'")
[ "$rows" = 47 ] || fail "analyses rows: $rows, want 47"
v=$(q "SELECT verdict FROM analyses WHERE campaign = '$camp' AND metric = 'rel_rmse' AND grp = 'q4_0'")
[ "$v" = worse ] || fail "stored verdict $v"
v=$(q "SELECT coalesce(p::text, 'null') || ' ' || verdict FROM analyses
       WHERE campaign = '$camp' AND metric = 'bits_per_weight' AND grp = 'tq1_0'")
[ "$v" = "null better" ] || fail "constant metric row: $v"
v=$(q "SELECT test FROM analyses WHERE campaign = '$camp' AND metric = 'mse' AND grp = 'q8_0'")
[ "$v" = "Welch t" ] || fail "mse (one NaN) must be unpaired: $v"
v=$(q "SELECT test FROM analyses WHERE campaign = '$camp' AND metric = 'gbps' AND grp = '*'")
[ "$v" = "Welch ANOVA" ] || fail "omnibus test on gbps: $v"

# --where: only tasks whose parameters contain the given values (5 seeds of t2)
"$bnc" analyze $camp --db "$db" --metric rel_rmse --where tensor=t2 > "$work/where.txt"
grep -q "^$camp: rel_rmse (lower is better), by scheme where {\"tensor\":\"t2\"}, baseline f32$" \
    "$work/where.txt" || fail "where header"
grep -q "paired by seed (5 pairs)" "$work/where.txt" || fail "where pairs"
n=$(q "SELECT count(*) FROM analyses WHERE campaign = '$camp' AND by_param = 'scheme where {\"tensor\":\"t2\"}'")
[ "$n" = 7 ] || fail "where rows: $n, want 7"
rows=$(q "SELECT count(*) FROM analyses WHERE campaign = '$camp' AND by_param = 'scheme'")
[ "$rows" = 47 ] || fail "the filtered analysis replaced the unfiltered one ($rows rows left)"
if "$bnc" analyze $camp --db "$db" --where tensor=t9 --no-store 2> "$work/err0.txt"; then
    fail "an empty --where selection succeeded"
fi
grep -q 'parameters contain {"tensor":"t9"}' "$work/err0.txt" || fail "empty where message"

# p-values and CIs against R on the same numbers
if command -v Rscript >/dev/null; then
    q "SELECT t.params->>'scheme', t.params->>'tensor', t.seed, m.name, m.value
       FROM tasks t JOIN metrics m ON m.task_id = t.id
       WHERE t.campaign = '$camp' AND m.name IN ('rel_rmse', 'mse', 'quantize_gbps')
         AND m.value <> 'NaN'" > "$work/values.txt"
    q "SELECT metric, grp, p, p_adj, diff_lo, effect FROM analyses
       WHERE campaign = '$camp' AND metric IN ('rel_rmse', 'mse', 'quantize_gbps')
         AND grp NOT IN ('f32', '*') AND by_param = 'scheme'" > "$work/stored.txt"
    Rscript - "$work/values.txt" "$work/stored.txt" <<'REOF'
a <- commandArgs(TRUE)
d <- read.table(a[1], sep = "|", col.names = c("scheme", "tensor", "seed", "metric", "value"))
s <- read.table(a[2], sep = "|", col.names = c("metric", "grp", "p", "p_adj", "diff_lo", "effect"))
bad <- 0
for (m in unique(s$metric)) {
  dm <- d[d$metric == m, ]
  dm <- dm[order(dm$tensor, dm$seed), ]
  base <- dm[dm$scheme == "f32", ]
  ps <- c()
  for (g in s$grp[s$metric == m]) {
    x <- dm[dm$scheme == g, ]
    paired <- nrow(x) == nrow(base) && all(x$tensor == base$tensor & x$seed == base$seed) &&
              m != "mse"
    r <- t.test(x$value, base$value, paired = paired, var.equal = FALSE)
    row <- s[s$metric == m & s$grp == g, ]
    ref <- c(r$p.value, r$conf.int[1])
    got <- c(row$p, row$diff_lo)
    err <- max(abs(got - ref) / abs(ref))
    cat(sprintf("%s %s: p %.6g (R %.6g) rel err %.2g\n", m, g, row$p, r$p.value, err))
    if (!(err < 1e-9)) bad <- bad + 1
    ps[g] <- r$p.value
  }
  adj <- p.adjust(ps, "holm")
  for (g in names(adj)) {
    got <- s$p_adj[s$metric == m & s$grp == g]
    if (!(abs(got - adj[g]) <= 1e-9 * adj[g])) { cat("Holm mismatch", m, g, "\n"); bad <- bad + 1 }
  }
}
quit(status = if (bad) 1 else 0)
REOF
fi

# errors: unknown campaign, unknown baseline (usage/input: exit 2)
set +e
"$bnc" analyze no_such_campaign_stats --db "$db" 2> "$work/err1.txt"; rc1=$?
"$bnc" analyze $camp --db "$db" --baseline nope --no-store 2> "$work/err2.txt"; rc2=$?
set -e
[ $rc1 = 2 ] && grep -q "campaign 'no_such_campaign_stats' not found" "$work/err1.txt" \
    || fail "unknown campaign: rc $rc1"
[ $rc2 = 2 ] && grep -q "baseline 'nope' is not a value of 'scheme'.*values: f16, f32, q4_0" "$work/err2.txt" \
    || fail "unknown baseline: rc $rc2 $(cat "$work/err2.txt")"

# --- bnc report --------------------------------------------------------------
"$bnc" report $camp --db "$db" -o "$work/report.html"
"$bnc" report $camp --db "$db" -o "$work/report.md"
"$bnc" report $camp --db "$db" --format csv -o "$work/report.csv"
h="$work/report.html"
size=$(stat -c %s "$h")
[ "$size" -gt 30000 ] || fail "report.html is only $size bytes"
[ "$(grep -o '<svg class="plot"' "$h" | wc -l)" = 6 ] || fail "expected 6 SVG plots"
grep -q 'class="ceiling"' "$h" || fail "bandwidth ceiling line"
grep -q "memory bandwidth 41" "$h" || fail "ceiling label"
grep -q 'class="fit"' "$h" || fail "fitted line"
grep -q "Each extra bit per weight multiplies the error by" "$h" || fail "fit summary"
grep -q "AMD EPYC 9654" "$h" || fail "provenance"
! grep -qi "<script" "$h" || fail "the report must not need scripts"
! grep -Eq '(src|href)="https?:' "$h" || fail "the report must not load anything"
grep -q "^| tq2_0 | 20 |" "$work/report.md" || fail "markdown table"
lines=$(wc -l < "$work/report.csv")
[ "$lines" = 41 ] || fail "report.csv has $lines lines, want 41"
head -1 "$work/report.csv" | grep -q "^campaign,metric,by,group,baseline,n,mean,sd" || fail "csv header"

# --- speed: bnc analyze on 10,000 stored results -------------------------------
psql "$db" -Xq -v camp=stats_it_big -v nseed=25 -v ntensor=13 -f "$src/campaign.sql"
n=$(q "SELECT count(*) FROM metrics m JOIN tasks t ON t.id = m.task_id WHERE t.campaign = 'stats_it_big'")
t0=$(date +%s.%N)
"$bnc" analyze stats_it_big --db "$db" > "$work/big.txt"
t1=$(date +%s.%N)
echo "{\"bench\": \"bnc analyze\", \"results\": $n, \"seconds\": $(awk "BEGIN { printf \"%.3f\", $t1 - $t0 }")}"
[ "$n" = 10000 ] || fail "big campaign has $n results"
grep -q "stored in table analyses (7 metrics, 10000 results read)" "$work/big.txt" || fail "big analyze"
echo "analyze/report integration: ok"
