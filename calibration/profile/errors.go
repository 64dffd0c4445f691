package profile

import (
	"errors"
	"fmt"
)

// Errors that Read and Validate wrap; test them with errors.Is.
var (
	// ErrInvalid is wrapped by every error about a file's contents.
	ErrInvalid = errors.New("invalid profile file")
	// ErrVersion: the file's version is not Version.
	ErrVersion = errors.New("unsupported profile file version")
	// ErrTooLarge: the file, or a list in it, exceeds its limit.
	ErrTooLarge = errors.New("profile file too large")
	// ErrTooFewSamples: a profile rests on fewer than MinSamples samples.
	ErrTooFewSamples = errors.New("too few samples")
)

// Error is a problem with one profile of a file; it names the profile.
type Error struct {
	// Index is the profile's position in the file (-1 when checked alone).
	Index int
	// Name is Profile.Name().
	Name string
	Err  error
}

func (e *Error) Error() string {
	if e.Index < 0 {
		return fmt.Sprintf("profile %s: %v", e.Name, e.Err)
	}
	return fmt.Sprintf("profile %d %s: %v", e.Index, e.Name, e.Err)
}

func (e *Error) Unwrap() error { return e.Err }
