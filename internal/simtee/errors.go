package simtee

import "errors"

// Errors returned by this package. Match them with errors.Is; the messages
// that wrap them name the file or field involved.
var (
	// ErrOptions reports an InitOptions or TDOptions value that cannot be
	// used (a malformed FMSPC, a negative validity period).
	ErrOptions = errors.New("simtee: invalid options")

	// ErrExists reports that Init was pointed at a directory that already
	// holds files and was not told to overwrite them.
	ErrExists = errors.New("simtee: directory is not empty")

	// ErrNotSim reports a directory without a sim.json manifest: Load has
	// nothing to read, and Init refuses to overwrite what it did not write.
	ErrNotSim = errors.New("simtee: directory holds no simulated TEE")

	// ErrVersion reports a manifest whose version this package does not know.
	ErrVersion = errors.New("simtee: unknown manifest version")

	// ErrManifest reports a manifest that is not well formed.
	ErrManifest = errors.New("simtee: malformed manifest")

	// ErrInconsistent reports files of a simulated TEE directory that do not
	// agree with each other (a key that does not match its certificate, a
	// PCK certificate whose SGX extension differs from the manifest).
	ErrInconsistent = errors.New("simtee: inconsistent simulated TEE files")

	// ErrUnknownURL reports a request to the PCS replay getter for a URL it
	// does not serve.
	ErrUnknownURL = errors.New("simtee: no simulated PCS response for URL")
)
