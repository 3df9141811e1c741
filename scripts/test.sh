#!/bin/sh
# One command that installs what is missing, builds, and runs every test:
#   1. unit, label-conformance and fuzz-corpus tests (meson test)
#   2. integration tests with real clients, against Prosody and Liaison
#   3. the same unit and Liaison integration tests under ASan + UBSan
#   4. a few seconds' smoke of the benchmark tool
# It ends with one line "N passed, N failed" over all of them and exits
# non-zero if anything failed.
set -u
cd "$(dirname "$0")/.."
top=$(pwd)
results="$top/build-test-results"
rm -rf "$results"
mkdir -p "$results"
fail_setup() { echo "test.sh: $1" >&2; echo "0 passed, 1 failed"; exit 1; }

sh scripts/install-deps.sh || fail_setup "installing packages failed"

# Warnings are errors here, as in CI.
sh scripts/build.sh build -Dwerror=true || fail_setup "build failed"
sh scripts/build.sh build-asan -Dwerror=true -Db_sanitize=address,undefined \
	-Db_lundef=false -Dbuildtype=debug || fail_setup "sanitizer build failed"

export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1

step() { echo; echo "==== $1"; }

step "unit, label and fuzz-replay tests"
meson test -C build --print-errorlogs --no-rebuild
cp build/meson-logs/testlog.json "$results/meson.json" 2>/dev/null

step "unit, label and fuzz-replay tests under ASan + UBSan"
meson test -C build-asan --print-errorlogs --no-rebuild
cp build-asan/meson-logs/testlog.json "$results/meson-asan.json" 2>/dev/null

if [ -x tests/integration/run.sh ] || [ -f tests/integration/run.sh ]; then
	step "integration tests (Prosody and Liaison)"
	LIAISON_BUILD="$top/build" LIAISON_TARGETS=prosody,liaison \
	    sh tests/integration/run.sh --junitxml="$results/integration.xml"
	step "integration tests on the ASan + UBSan build (Liaison)"
	LIAISON_BUILD="$top/build-asan" LIAISON_TARGETS=liaison \
	    sh tests/integration/run.sh --junitxml="$results/integration-asan.xml"
fi

if [ -f bench/smoke.sh ]; then
	step "benchmark smoke"
	if LIAISON_BUILD="$top/build" sh bench/smoke.sh; then
		echo "bench-smoke: ok" > "$results/bench.txt"
	else
		echo "bench-smoke: FAIL" > "$results/bench.txt"
	fi
fi

step "summary"
/usr/bin/python3 - "$results" <<'PY'
import glob, json, os, sys
import xml.etree.ElementTree as ET
d = sys.argv[1]
passed = failed = skipped = 0
for f in sorted(glob.glob(os.path.join(d, "meson*.json"))):
    p = q = 0
    for line in open(f):
        if not line.strip():
            continue
        r = json.loads(line)["result"]
        if r in ("OK", "EXPECTEDFAIL"): p += 1
        elif r == "SKIP": skipped += 1
        else:
            q += 1
    print(f"{os.path.basename(f)}: {p} passed, {q} failed")
    passed += p; failed += q
for f in sorted(glob.glob(os.path.join(d, "integration*.xml"))):
    try:
        root = ET.parse(f).getroot()
    except ET.ParseError:
        print(f"{os.path.basename(f)}: unreadable"); failed += 1; continue
    suites = [root] if root.tag == "testsuite" else root.findall("testsuite")
    p = q = s = 0
    for su in suites:
        t = int(su.get("tests", 0)); e = int(su.get("errors", 0))
        fl = int(su.get("failures", 0)); sk = int(su.get("skipped", 0))
        p += t - e - fl - sk; q += e + fl; s += sk
    print(f"{os.path.basename(f)}: {p} passed, {q} failed, {s} skipped")
    passed += p; failed += q; skipped += s
expected = ["meson.json", "meson-asan.json"]
if os.path.exists("tests/integration/run.sh"):
    expected += ["integration.xml", "integration-asan.xml"]
for e in expected:
    if not os.path.exists(os.path.join(d, e)):
        print(f"{e}: missing (that step did not run)"); failed += 1
b = os.path.join(d, "bench.txt")
if os.path.exists(b):
    ok = "ok" in open(b).read()
    print("bench smoke:", "ok" if ok else "FAILED")
    passed += ok; failed += (not ok)
print(f"{passed} passed, {failed} failed" + (f", {skipped} skipped" if skipped else ""))
sys.exit(1 if failed else 0)
PY
