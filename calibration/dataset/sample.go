// Package dataset is the on-disk form of calibration samples: what a
// campaign appends, what fitting reads, and what researchers export.
//
// A dataset is an append-only JSON Lines file (docs/datasets.md has the
// schema). Its first line is a Header: the format and version, the campaign,
// the vantage, the digest of the endpoint catalog, the creation time, and
// the plan (rounds, echoes per probe, the seed of the endpoint order, the
// endpoints). Every further line is one Sample.
//
// The plan fixes the file's content exactly. Work comes in units, one probe
// of one endpoint in one round; the units follow each other in plan order
// (Plan.Order), and a unit is either Echoes samples with echo indexes 0, 1,
// … or one sample with Error set. Seq counts samples from 0 without gaps.
// Readers check all of this, so a file that reads holds every (round,
// endpoint, echo) at most once, in order, and nothing else.
//
// Durability. A Writer appends a unit's lines with one write and then
// fsyncs (Writer.Commit): once Commit returns, the unit survives a crash of
// the process or of the machine. A crash during a commit can leave the
// unit's lines partly written: some complete lines and a torn last line.
// Resume cuts such a tail back to the end of the last complete unit, and
// cuts nothing else: a bad line anywhere before the tail is an error that
// leaves the file untouched. The header is written to a temporary sibling,
// fsynced and linked into place, so it is never torn. One process at a time
// writes a dataset; the others get ErrLocked.
//
// Parquet. ExportParquet converts a dataset to one flat table for DuckDB,
// pandas or Spark (round trips as NULL where absent, times as
// TIMESTAMP(NANOS, UTC), the header in the file's key-value metadata), and
// ReadParquet reads such a file back with the same checks as the JSON Lines
// reader.
package dataset

import "time"

// Sample is one timed echo of a calibration campaign, or one failed attempt
// to probe an endpoint (then Error is set and the RTT fields are zero).
type Sample struct {
	// Campaign identifies the campaign; Seq numbers its samples from 0,
	// without gaps: resuming after a crash continues from the last sample
	// written, so (Campaign, Seq) is unique.
	Campaign string `json:"campaign"`
	Seq      uint64 `json:"seq"`
	Round    int    `json:"round"`

	// Vantage is where the campaign ran.
	Vantage         string  `json:"vantage"`
	VantageProvider string  `json:"vantage_provider,omitempty"`
	VantageRegion   string  `json:"vantage_region,omitempty"`
	VantageLat      float64 `json:"vantage_lat"`
	VantageLon      float64 `json:"vantage_lon"`
	// Origin is "lab" for the loopback lab, "real" for a cloud vantage.
	Origin string `json:"origin"`

	// Endpoint is the catalog name; Provider and Region its catalog entry's.
	Endpoint string `json:"endpoint"`
	Provider string `json:"provider"`
	Region   string `json:"region"`
	Hostname string `json:"hostname"`
	Port     int    `json:"port"`
	// Address is the IP address and port actually reached.
	Address string `json:"address,omitempty"`
	// Method is "h2-ping" or "http1".
	Method string `json:"method"`
	// Conn and Echo locate the echo within its probe.
	Conn int `json:"conn"`
	Echo int `json:"echo"`

	// RTTNs is the round trip by the cycle counter, converted with
	// FrequencyHz; RTTCycles the raw count; RTTKernelNs the same round
	// trip by the kernel's receive timestamps (0 when unavailable).
	RTTNs           float64 `json:"rtt_ns"`
	RTTCycles       uint64  `json:"rtt_cycles"`
	RTTKernelNs     int64   `json:"rtt_kernel_ns,omitempty"`
	HandshakeNs     float64 `json:"handshake_ns,omitempty"`
	FrequencyHz     uint64  `json:"frequency_hz"`
	FrequencySource string  `json:"frequency_source"`

	// Time is when the echo was sent (UTC).
	Time time.Time `json:"time"`
	// Error says why the attempt failed; empty for a measured echo.
	Error string `json:"error,omitempty"`
	// ErrorKind classifies Error (one of the ErrorKind constants), so that
	// failures can be counted by cause without parsing messages, and so
	// that a probe skipped while its endpoint backs off ("backoff") is
	// told apart from a failed attempt. Empty for a measured echo.
	ErrorKind string `json:"error_kind,omitempty"`
}
