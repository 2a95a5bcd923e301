#!/usr/bin/env bash
# The HTML report in a real browser: headless Chromium renders it at a
# laptop's 1366x900, the screenshot must be a real picture (not blank), and
# the DOM Chromium built must hold the plots and the statistics table.
# Usage: report_chromium_test.sh BNC SRC_DIR WORK_DIR
set -euo pipefail
if [ -z "${BNC_TEST_DB:-}" ]; then
    echo "BNC_TEST_DB is not set: skipping"
    exit 77
fi
chrome=$(command -v chromium || command -v chromium-browser || true)
if [ -z "$chrome" ]; then
    echo "chromium is not installed: skipping"
    exit 77
fi
bnc=$1 src=$2 work=$3
db=$BNC_TEST_DB
camp=stats_it_chrome
rm -rf "$work" && mkdir -p "$work"
fail() { echo "FAIL: $*" >&2; exit 1; }

"$bnc" db migrate --db "$db" >/dev/null
psql "$db" -Xq -v camp=$camp -v nseed=5 -v ntensor=4 -f "$src/campaign.sql"
"$bnc" report $camp --db "$db" -o "$work/report.html"

profile=$(mktemp -d "$work/profile.XXXXXX")
flags=(--headless --no-sandbox --disable-gpu --disable-quic --no-first-run
       --disable-background-networking --disable-component-update --disable-sync
       --user-data-dir="$profile" --window-size=1366,900)
timeout 120 "$chrome" "${flags[@]}" --screenshot="$work/report.png" "file://$work/report.html" \
    > "$work/chrome.log" 2>&1 || { cat "$work/chrome.log"; fail "chromium screenshot"; }
timeout 120 "$chrome" "${flags[@]}" --dump-dom "file://$work/report.html" \
    > "$work/dom.html" 2> "$work/chrome-dom.log" || fail "chromium --dump-dom"

# the screenshot: a PNG of 1366x900 with real content
png="$work/report.png"
[ -s "$png" ] || fail "no screenshot"
sig=$(head -c 8 "$png" | od -An -tx1 | tr -d ' \n')
[ "$sig" = 89504e470d0a1a0a ] || fail "screenshot is not a PNG ($sig)"
w=$(od -An -tu1 -j16 -N4 "$png" | awk '{print $1*16777216 + $2*65536 + $3*256 + $4}')
h=$(od -An -tu1 -j20 -N4 "$png" | awk '{print $1*16777216 + $2*65536 + $3*256 + $4}')
[ "$w" = 1366 ] && [ "$h" = 900 ] || fail "screenshot is ${w}x${h}, want 1366x900"
size=$(stat -c %s "$png")
[ "$size" -gt 40000 ] || fail "screenshot is only $size bytes: blank page?"
if /usr/bin/python3 -c "import PIL" 2>/dev/null; then
    /usr/bin/python3 - "$png" <<'PYEOF'
import sys
from PIL import Image
im = Image.open(sys.argv[1]).convert("RGB")
px = list(im.getdata())
bg = max(set(px[::97]), key=px[::97].count)
ink = sum(1 for p in px if sum(abs(a - b) for a, b in zip(p, bg)) > 60) / len(px)
colours = len(set(px))
print(f"screenshot: {im.size[0]}x{im.size[1]}, {colours} colours, {ink:.1%} ink")
# a dark header band, text, tables: well above a blank or error page
sys.exit(0 if ink > 0.08 and colours > 200 else 1)
PYEOF
fi

# the DOM Chromium built: plots and the statistics table are there
dom="$work/dom.html"
count() { grep -o "$1" "$dom" | wc -l; }
[ "$(count '<svg class="plot"')" = 6 ] || fail "want 6 plots in the DOM"
[ "$(count 'class="box"')" -ge 18 ] || fail "box plot boxes missing"
[ "$(count 'class="pt"')" -ge 200 ] || fail "strip plot points missing"
[ "$(count 'class="bar"')" -ge 11 ] || fail "throughput bars missing"
[ "$(count 'class="ceiling"')" = 1 ] || fail "bandwidth ceiling missing"
[ "$(count 'class="fit"')" = 1 ] || fail "fitted line missing"
grep -q '<section id="statistics">' "$dom" || fail "statistics section missing"
[ "$(count '<span class="pill worse"')" -ge 10 ] || fail "verdicts missing"
grep -q "Welch ANOVA across 5 groups" "$dom" || fail "ANOVA line missing"
echo "report renders in Chromium: ok ($png)"
