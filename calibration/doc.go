// Package calibration will run calibration campaigns (probing a catalog of
// endpoints from a vantage point, crash-safe and resumable), fit datacenter
// profiles from the samples, and compute the latency verdict: accept or
// reject for a stated false-reject rate, the false-accept rate for a relay at
// a given distance, and the vacuum-light distance bound.
//
// Not yet implemented.
package calibration
