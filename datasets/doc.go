// Package datasets holds the data poc reasons about and the types that
// describe it: the endpoint catalog (which TLS endpoints stand for which cloud
// region, and how to time echoes against them) and the built-in lab world.
//
// It is a leaf: it imports nothing of the project, so the prover, the
// verifier and the calibration code can all share its types.
package datasets
