package dcap

import (
	"bytes"
	"crypto/sha256"
	"crypto/x509"
	_ "embed"
	"encoding/pem"
	"fmt"
	"sync"
)

// intelRootPEM is the Intel SGX Root CA certificate (CN "Intel SGX Root
// CA", valid 2018-05-21 to 2049-12-31, SHA-256 fingerprint
// 44:a0:19:6b:2b:99:f8:89:b8:e1:49:e9:5b:80:7a:35:0e:74:24:96:43:99:e8:85:a7:cb:b8:cc:fa:b6:74:d3),
// as shipped in go-tdx-guest's verify/trusted_root.pem. It is the trust
// anchor of every DCAP quote and collateral signature.
//
//go:embed intel_sgx_root_ca.pem
var intelRootPEM []byte

// IntelRootCA returns the embedded Intel SGX Root CA certificate: the
// default trust anchor when Options.Roots is empty.
func IntelRootCA() *x509.Certificate {
	a, err := defaultAnchors()
	if err != nil {
		return nil
	}
	return a.certs[0]
}

// anchors is a set of trust anchors in the forms the checks need.
type anchors struct {
	certs []*x509.Certificate
	pool  *x509.CertPool
	key   string // identifies the set in verification caches
}

var defaultAnchors = sync.OnceValues(func() (*anchors, error) {
	blk, _ := pem.Decode(intelRootPEM)
	if blk == nil {
		return nil, fmt.Errorf("embedded Intel root is not PEM")
	}
	c, err := x509.ParseCertificate(blk.Bytes)
	if err != nil {
		return nil, fmt.Errorf("parsing embedded Intel root: %w", err)
	}
	return newAnchors([]*x509.Certificate{c})
})

func newAnchors(certs []*x509.Certificate) (*anchors, error) {
	h := sha256.New()
	pool := x509.NewCertPool()
	for i, c := range certs {
		if c == nil {
			return nil, fmt.Errorf("trust anchor %d is nil", i)
		}
		pool.AddCert(c)
		sum := sha256.Sum256(c.Raw)
		h.Write(sum[:])
	}
	return &anchors{certs: certs, pool: pool, key: string(h.Sum(nil))}, nil
}

// find returns the trust anchor that is byte-identical to c, if any.
func (a *anchors) find(c *x509.Certificate) *x509.Certificate {
	for _, r := range a.certs {
		if bytes.Equal(r.Raw, c.Raw) {
			return r
		}
	}
	return nil
}
