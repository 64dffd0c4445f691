#!/usr/bin/env bash
# Fuzz one target for a while: scripts/fuzz-one.sh PKG NAME FUZZTIME
#
# Go 1.26's fuzz coordinator can fail a run with a bare "context deadline
# exceeded" exactly at the -fuzztime boundary when a loaded machine delays
# a worker's answer (golang/go#75804, fixed in Go 1.27). Such a run writes
# no failing input. That case, and only that case, is retried once; any
# other failure (a failing input written, a panic, a t.Error) fails at once.
#
# Minimization is bounded by a count of executions, not by time: a
# time-bounded minimization of a large seed (an HCL report, a quote) kept
# the fuzzer minimizing for the whole run, with a few hundred executions
# where a count bound lets it make hundreds of thousands.
set -uo pipefail
pkg=$1 name=$2 fuzztime=$3
minimize=${FUZZMINIMIZE:-500x}
go=${GO:-go}
for attempt in 1 2; do
	log=$(mktemp)
	"$go" test -run '^$' -fuzz "^${name}\$" -fuzztime "$fuzztime" -fuzzminimizetime "$minimize" "$pkg" 2>&1 | tee "$log"
	rc=${PIPESTATUS[0]}
	if [ "$rc" -eq 0 ]; then
		rm -f "$log"
		exit 0
	fi
	if [ "$attempt" -eq 1 ] && grep -q 'context deadline exceeded' "$log" &&
		! grep -qE 'Failing input written|panic:|_test\.go:[0-9]+:' "$log"; then
		echo "fuzz $pkg $name: the Go 1.26 fuzz-deadline race (golang/go#75804), no failing input: retrying once"
		rm -f "$log"
		continue
	fi
	rm -f "$log"
	exit "$rc"
done
