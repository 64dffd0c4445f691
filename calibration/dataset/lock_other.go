//go:build !(linux || darwin || freebsd || netbsd || openbsd || dragonfly)

package dataset

import "os"

// lockFile is a no-op where flock(2) is missing: one campaign per dataset
// is then the user's to ensure.
func lockFile(*os.File) error { return nil }
