// Package dataset is the on-disk form of calibration samples: what a
// campaign appends, what fitting reads, and what researchers export.
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
}
