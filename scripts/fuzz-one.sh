#!/usr/bin/env bash
# Fuzz one target for a while: scripts/fuzz-one.sh PKG NAME FUZZTIME
#
# Go 1.26's fuzz coordinator can fail a run with a bare "context deadline
# exceeded" exactly at the -fuzztime boundary when a loaded machine delays
# a worker's answer (golang/go#75804, fixed in Go 1.27). Such a run writes
# no failing input. That case, and only that case, is retried once; any
# other failure (a failing input written, a panic, a t.Error) fails at once.
set -uo pipefail
pkg=$1 name=$2 fuzztime=$3
go=${GO:-go}
for attempt in 1 2; do
	log=$(mktemp)
	"$go" test -run '^$' -fuzz "^${name}\$" -fuzztime "$fuzztime" -fuzzminimizetime 2s "$pkg" 2>&1 | tee "$log"
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
