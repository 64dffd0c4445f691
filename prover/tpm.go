package prover

import (
	"io"

	"github.com/google/go-tpm/legacy/tpm2"
)

// openTPM opens the platform's TPM (/dev/tpmrm0 on Linux).
func openTPM() (io.ReadWriteCloser, error) { return tpm2.OpenTPM() }
