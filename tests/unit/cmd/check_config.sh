#!/bin/sh
# liaisond's settings table, sample and checks.  Usage: check_config.sh LIAISOND SRCDIR
set -u
D=$(cd "$(dirname "$1")" && pwd)/$(basename "$1") SRC=$2
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
pass=0 fail=0
ok() { pass=$((pass + 1)); echo "PASS $1"; }
ko() { fail=$((fail + 1)); echo "FAIL $1"; }

"$D" --help-config > "$T/sample"
if cmp -s "$T/sample" "$SRC/liaison.conf.sample"; then ok sample-matches-table
else ko "sample-matches-table (regenerate liaison.conf.sample with liaisond --help-config)"; fi
"$D" -c "$SRC/liaison.conf.sample" --check-config >/dev/null 2>&1 && ok sample-valid || ko sample-valid
echo 'max_stanza_size = 10;' > "$T/small"
out=$("$D" -c "$T/small" --check-config 2>&1); rc=$?
[ $rc -eq 1 ] && echo "$out" | grep -q "between 1024" && ok bound-checked || ko "bound-checked: $rc $out"
echo 'no_such_setting = 1;' > "$T/unknown"
out=$("$D" -c "$T/unknown" --check-config 2>&1); rc=$?
[ $rc -eq 1 ] && echo "$out" | grep -q "unknown setting" && ok unknown-refused || ko "unknown-refused: $rc $out"
printf 'domain = "x";\nlisten = ;\n' > "$T/syntax"
out=$("$D" -c "$T/syntax" --check-config 2>&1); rc=$?
[ $rc -eq 1 ] && echo "$out" | grep -q "syntax:2:" && ok syntax-error-located || ko "syntax-error-located: $rc $out"
out=$("$D" --check-config --spif "$T/missing.xml" 2>&1); rc=$?
[ $rc -eq 1 ] && echo "$out" | grep -q "missing.xml" && ok missing-spif-fails-closed || ko "missing-spif-fails-closed: $rc $out"
out=$("$D" --check-config --spif "$SRC/policies/demo-nato.xml" --spif "$SRC/policies/demo-zoria.xml" 2>&1); rc=$?
[ $rc -eq 0 ] && ok demo-policies-load || ko "demo-policies-load: $rc $out"
echo 'require_labels = true;' > "$T/nospif"
out=$("$D" -c "$T/nospif" --check-config 2>&1); rc=$?
[ $rc -eq 1 ] && echo "$out" | grep -q "no SPIF" && ok label-setting-needs-spif || ko "label-setting-needs-spif: $rc $out"
out=$(cd "$SRC" && "$D" -c policies/demo.conf --check-config 2>&1); rc=$?
[ $rc -eq 0 ] && ok demo-conf-loads || ko "demo-conf-loads: $rc $out"
echo "$pass passed, $fail failed"
[ $fail -eq 0 ]
