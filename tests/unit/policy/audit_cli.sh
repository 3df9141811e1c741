#!/bin/sh
# liaisonctl audit verify/show on the checked-in fixture (10 records,
# checkpoints every 4, pinned key below) and on tampered copies of it.
# Usage: audit_cli.sh LIAISONCTL FIXTURE_DIR.  Exit 0 if all cases pass.
set -u
CTL=$1
FIX=$2
KEY=76588c646482c0ce64e6c65c6296a3d29da8e448267b35200217b00c2ae1557a
T=$(mktemp -d "${TMPDIR:-/tmp}/liaison-audit-cli.XXXXXX") || exit 1
trap 'rm -rf "$T"' EXIT
fails=0

# check NAME WANT_EXIT PATTERN CMD...: runs CMD, compares exit and output.
check() {
	name=$1 want=$2 pat=$3
	shift 3
	out=$("$@" 2>&1)
	got=$?
	if [ "$got" -ne "$want" ] || ! printf '%s\n' "$out" | grep -q -- "$pat"; then
		echo "FAIL $name: exit $got (want $want), output:"
		printf '%s\n' "$out"
		fails=$((fails + 1))
	else
		echo "ok   $name"
	fi
}

# fresh NAME: a copy of the fixture as DATA/audit, prints DATA.
fresh() {
	mkdir -p "$T/$1/audit" && cp "$FIX"/audit.log "$FIX"/audit.head \
	    "$FIX"/audit.pub "$T/$1/audit/" && echo "$T/$1"
}

d=$(fresh good)
check good 0 '^OK: 10 records, 4 checkpoints$' "$CTL" --data "$d" audit verify
check pinned 0 '^OK: 10 records' "$CTL" --data "$d" audit verify --fingerprint $KEY
check other-key 1 '^TAMPERED: public key' "$CTL" --data "$d" audit verify \
    --fingerprint 0000000000000000000000000000000000000000000000000000000000000000
check show-deny 0 'msg-1 ' "$CTL" --data "$d" audit show --decision DENY
n=$("$CTL" --data "$d" audit show --decision DENY | grep -c '^[0-9]')
[ "$n" -eq 8 ] || { echo "FAIL show-deny count $n, want 8"; fails=$((fails + 1)); }
n=$("$CTL" --data "$d" audit show --limit 3 | grep -c '^[0-9]')
[ "$n" -eq 3 ] || { echo "FAIL show-limit count $n, want 3"; fails=$((fails + 1)); }

d=$(fresh edited)
sed -i 's/carol@ukr.example/carol@nato.example/' "$d/audit/audit.log"
check edited 1 '^TAMPERED: record at line 3 (sequence 2) was changed' \
    "$CTL" --data "$d" audit verify

d=$(fresh deleted)
sed -i '/^R	6	/d' "$d/audit/audit.log"
check deleted 1 '^TAMPERED: record 6 removed' "$CTL" --data "$d" audit verify

d=$(fresh cut-line)
head -n 9 "$FIX/audit.log" > "$d/audit/audit.log"
check cut-line 1 '^TAMPERED: log cut short' "$CTL" --data "$d" audit verify

d=$(fresh cut-mid)
head -c 1500 "$FIX/audit.log" > "$d/audit/audit.log"
check cut-mid 1 '^TAMPERED: log cut short' "$CTL" --data "$d" audit verify

d=$(fresh no-log)
rm "$d/audit/audit.log"
check no-log 2 'cannot open' "$CTL" --data "$d" audit verify
check usage 2 'usage' "$CTL" --data "$d" audit frobnicate

[ "$fails" -eq 0 ] || { echo "$fails case(s) failed"; exit 1; }
echo "all audit CLI cases passed"
