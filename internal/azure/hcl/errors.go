package hcl

import "errors"

// Errors returned by Parse, matchable with errors.Is. Every error Parse
// returns wraps exactly one of them.
var (
	// ErrTruncated: the input ends before a structure it declares.
	ErrTruncated = errors.New("hcl report truncated")
	// ErrTooLarge: the input exceeds MaxReportSize.
	ErrTooLarge = errors.New("hcl report too large")
	// ErrBadMagic: the header does not start with "HCLA".
	ErrBadMagic = errors.New("hcl report has bad magic")
	// ErrUnsupportedVersion: a header or request data version this
	// package does not know.
	ErrUnsupportedVersion = errors.New("hcl report version not supported")
	// ErrBadSize: the declared sizes contradict each other.
	ErrBadSize = errors.New("hcl report sizes inconsistent")
	// ErrUnknownReportType: report_type is neither TDX nor SNP.
	ErrUnknownReportType = errors.New("hcl report type unknown")
	// ErrUnknownHashType: report_data_hash_type is not SHA-256/384/512.
	ErrUnknownHashType = errors.New("hcl report hash type unknown")
	// ErrHardwareReport: the hardware report is not of the declared type.
	ErrHardwareReport = errors.New("hcl hardware report malformed")
	// ErrRuntimeData: the runtime data is not the expected JSON.
	ErrRuntimeData = errors.New("hcl runtime data malformed")
)
