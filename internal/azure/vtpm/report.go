package vtpm

import (
	"bytes"
	"fmt"
	"io"

	"github.com/latencyproof/poc/internal/azure/hcl"
)

// ReportWithUserData writes data to the user-data index and reads back the
// HCL report that carries it: the prover's whole vTPM half of the Azure
// binding. The report is returned raw (padding included), as the verifier
// wants it; its TDREPORT (hcl.Parse, Report.TD.Raw) is what goes to the
// IMDS for a quote.
//
// The paravisor refreshes the report when the index is written. If the
// report read back does not carry data (an older paravisor, or one that
// refreshes asynchronously), the result is ErrStaleReport and the caller
// may read again with ReadHCLReport.
func ReportWithUserData(rw io.ReadWriter, data [UserDataSize]byte) ([]byte, error) {
	if err := WriteUserData(rw, data); err != nil {
		return nil, err
	}
	report, err := ReadHCLReport(rw)
	if err != nil {
		return nil, err
	}
	if err := CheckReportUserData(report, data); err != nil {
		return nil, err
	}
	return report, nil
}

// CheckReportUserData parses an HCL report and checks that its user-data
// is data. Errors wrap ErrStaleReport, or the hcl package's parse errors.
func CheckReportUserData(report []byte, data [UserDataSize]byte) error {
	r, err := hcl.Parse(report)
	if err != nil {
		return fmt.Errorf("parsing HCL report: %w", err)
	}
	if !bytes.Equal(r.Runtime.UserData, data[:]) {
		if r.Runtime.UserData == nil {
			return fmt.Errorf("%w: it has no user-data", ErrStaleReport)
		}
		return fmt.Errorf("%w: it has other user-data", ErrStaleReport)
	}
	return nil
}
