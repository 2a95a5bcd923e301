#!/usr/bin/env bash
# Seeds for fuzz_journal (run_fuzz.sh calls this as its seed maker): damage
# recipes for valid journals (byte 0 even) and a few raw byte strings (odd).
set -eu
d=$1
printf '\x00\x05' > "$d/intact"
printf '\x00\x1f\x00\x00\x40\x00\x02' > "$d/flip_length"
printf '\x00\x10\x00\x00\x80\x00\x05\x90\x00\x01' > "$d/flip_two"
printf '\x02\x08\x70\x00' > "$d/cut"
printf '\x02\x1f\x00\x01\x0a\x00\x07' > "$d/cut_and_flip"
printf '\x01BNJ1\x08\x00\x00\x00\x00\x00\x00\x00abcdefgh' > "$d/raw_bad_crc"
printf '\x01\xff\xff\xff\x7f\x00\x00\x00\x00' > "$d/raw_huge_length"
