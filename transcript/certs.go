package transcript

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/binary"
	"errors"
	"fmt"
	"sync"
	"time"
)

// Signature schemes (RFC 8446 §4.2.3).
const (
	schemeRSAPKCS1SHA256 uint16 = 0x0401
	schemeRSAPKCS1SHA384 uint16 = 0x0501
	schemeRSAPKCS1SHA512 uint16 = 0x0601
	schemeECDSAP256      uint16 = 0x0403
	schemeECDSAP384      uint16 = 0x0503
	schemeECDSAP521      uint16 = 0x0603
	schemePSSRSAE256     uint16 = 0x0804
	schemePSSRSAE384     uint16 = 0x0805
	schemePSSRSAE512     uint16 = 0x0806
	schemeEd25519        uint16 = 0x0807
	schemeEd448          uint16 = 0x0808
	schemePSSPSS256      uint16 = 0x0809
	schemePSSPSS384      uint16 = 0x080a
	schemePSSPSS512      uint16 = 0x080b
	schemeRSAPKCS1SHA1   uint16 = 0x0201
	schemeECDSASHA1      uint16 = 0x0203
)

func schemeName(s uint16) string {
	switch s {
	case schemeRSAPKCS1SHA256:
		return "rsa_pkcs1_sha256"
	case schemeRSAPKCS1SHA384:
		return "rsa_pkcs1_sha384"
	case schemeRSAPKCS1SHA512:
		return "rsa_pkcs1_sha512"
	case schemeECDSAP256:
		return "ecdsa_secp256r1_sha256"
	case schemeECDSAP384:
		return "ecdsa_secp384r1_sha384"
	case schemeECDSAP521:
		return "ecdsa_secp521r1_sha512"
	case schemePSSRSAE256:
		return "rsa_pss_rsae_sha256"
	case schemePSSRSAE384:
		return "rsa_pss_rsae_sha384"
	case schemePSSRSAE512:
		return "rsa_pss_rsae_sha512"
	case schemeEd25519:
		return "ed25519"
	case schemeEd448:
		return "ed448"
	case schemePSSPSS256:
		return "rsa_pss_pss_sha256"
	case schemePSSPSS384:
		return "rsa_pss_pss_sha384"
	case schemePSSPSS512:
		return "rsa_pss_pss_sha512"
	case schemeRSAPKCS1SHA1:
		return "rsa_pkcs1_sha1"
	case schemeECDSASHA1:
		return "ecdsa_sha1"
	}
	return fmt.Sprintf("signature scheme %#04x", s)
}

// serverSignedContent is what a server's CertificateVerify signs
// (RFC 8446 §4.4.3).
func serverSignedContent(th []byte) []byte {
	const ctx = "TLS 1.3, server CertificateVerify"
	b := make([]byte, 0, 64+len(ctx)+1+len(th))
	for range 64 {
		b = append(b, 0x20)
	}
	b = append(b, ctx...)
	b = append(b, 0)
	return append(b, th...)
}

var oidRSASSAPSS = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 1, 10}

// pssPublicKey extracts the key of a certificate whose SubjectPublicKeyInfo
// is id-RSASSA-PSS (RFC 4055). crypto/x509 does not parse such keys, but the
// key itself is an ordinary RSAPublicKey.
func pssPublicKey(c *x509.Certificate) (*rsa.PublicKey, bool) {
	var spki struct {
		Algorithm pkix.AlgorithmIdentifier
		PublicKey asn1.BitString
	}
	rest, err := asn1.Unmarshal(c.RawSubjectPublicKeyInfo, &spki)
	if err != nil || len(rest) != 0 || !spki.Algorithm.Algorithm.Equal(oidRSASSAPSS) {
		return nil, false
	}
	k, err := x509.ParsePKCS1PublicKey(spki.PublicKey.RightAlign())
	if err != nil {
		return nil, false
	}
	return k, true
}

func keyDescription(c *x509.Certificate) string {
	switch k := c.PublicKey.(type) {
	case *rsa.PublicKey:
		return fmt.Sprintf("RSA-%d", k.N.BitLen())
	case *ecdsa.PublicKey:
		return "ECDSA " + k.Curve.Params().Name
	case ed25519.PublicKey:
		return "Ed25519"
	}
	if k, ok := pssPublicKey(c); ok {
		return fmt.Sprintf("RSASSA-PSS-%d", k.N.BitLen())
	}
	return c.PublicKeyAlgorithm.String()
}

// verifyCertificateVerify checks a server CertificateVerify signature over
// transcript hash th with the leaf's key. The scheme must be one TLS 1.3
// allows and must fit the key: rsa_pss_rsae_* needs an rsaEncryption key,
// rsa_pss_pss_* an RSASSA-PSS key, each ecdsa_* scheme its own curve.
func verifyCertificateVerify(leaf *x509.Certificate, scheme uint16, sig, th []byte) error {
	signed := serverSignedContent(th)
	mismatch := func() error {
		return errf(ErrCertificateVerify, "scheme %s does not fit the leaf's %s key", schemeName(scheme), keyDescription(leaf))
	}
	bad := func() error {
		return errf(ErrCertificateVerify, "%s signature by the leaf's %s key does not verify over this transcript", schemeName(scheme), keyDescription(leaf))
	}
	var h crypto.Hash
	switch scheme {
	case schemePSSRSAE256, schemePSSPSS256, schemeECDSAP256:
		h = crypto.SHA256
	case schemePSSRSAE384, schemePSSPSS384, schemeECDSAP384:
		h = crypto.SHA384
	case schemePSSRSAE512, schemePSSPSS512, schemeECDSAP521:
		h = crypto.SHA512
	case schemeEd25519:
	case schemeEd448:
		return errf(ErrCertificateVerify, "scheme ed448 is not supported")
	default:
		return errf(ErrCertificateVerify, "scheme %s is not allowed in a TLS 1.3 CertificateVerify", schemeName(scheme))
	}
	var digest []byte
	if h != 0 {
		d := h.New()
		d.Write(signed)
		digest = d.Sum(nil)
	}
	switch scheme {
	case schemePSSRSAE256, schemePSSRSAE384, schemePSSRSAE512:
		pub, ok := leaf.PublicKey.(*rsa.PublicKey)
		if !ok {
			return mismatch()
		}
		if rsa.VerifyPSS(pub, h, digest, sig, &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthEqualsHash, Hash: h}) != nil {
			return bad()
		}
	case schemePSSPSS256, schemePSSPSS384, schemePSSPSS512:
		pub, ok := pssPublicKey(leaf)
		if !ok {
			return mismatch()
		}
		if rsa.VerifyPSS(pub, h, digest, sig, &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthEqualsHash, Hash: h}) != nil {
			return bad()
		}
	case schemeECDSAP256, schemeECDSAP384, schemeECDSAP521:
		pub, ok := leaf.PublicKey.(*ecdsa.PublicKey)
		want := map[uint16]elliptic.Curve{schemeECDSAP256: elliptic.P256(), schemeECDSAP384: elliptic.P384(), schemeECDSAP521: elliptic.P521()}[scheme]
		if !ok || pub.Curve != want {
			return mismatch()
		}
		if !ecdsa.VerifyASN1(pub, digest, sig) {
			return bad()
		}
	case schemeEd25519:
		pub, ok := leaf.PublicKey.(ed25519.PublicKey)
		if !ok {
			return mismatch()
		}
		if !ed25519.Verify(pub, signed, sig) {
			return bad()
		}
	}
	return nil
}

// ChainCache remembers certificate chains that verified against a root
// pool at a time: the same certificates, the same *x509.CertPool and the
// same instant give the same answer, so the answer is reused. Only
// successes are kept, at most MaxCachedChains of them. Safe for concurrent
// use. The zero value is ready.
type ChainCache struct {
	mu   sync.Mutex
	good map[chainKey]*x509.Certificate // → the root the chain reached
}

// MaxCachedChains bounds a ChainCache: beyond it, chains are verified
// without being remembered.
const MaxCachedChains = 1024

type chainKey struct {
	certs [32]byte // SHA-256 over each certificate's length and DER
	roots *x509.CertPool
	at    int64
}

func newChainKey(chain []*x509.Certificate, roots *x509.CertPool, at time.Time) chainKey {
	h := sha256.New()
	var n [8]byte
	for _, c := range chain {
		binary.BigEndian.PutUint64(n[:], uint64(len(c.Raw)))
		h.Write(n[:])
		h.Write(c.Raw)
	}
	k := chainKey{roots: roots, at: at.UnixNano()}
	h.Sum(k.certs[:0])
	return k
}

// verify is verifyChain, answered from the cache when it can be.
func (cc *ChainCache) verify(chain []*x509.Certificate, roots *x509.CertPool, at time.Time) (*x509.Certificate, error) {
	if cc == nil {
		return verifyChain(chain, roots, at)
	}
	k := newChainKey(chain, roots, at)
	cc.mu.Lock()
	root, ok := cc.good[k]
	cc.mu.Unlock()
	if ok {
		return root, nil
	}
	root, err := verifyChain(chain, roots, at)
	if err != nil {
		return nil, err
	}
	cc.mu.Lock()
	if cc.good == nil {
		cc.good = map[chainKey]*x509.Certificate{}
	}
	if len(cc.good) < MaxCachedChains {
		cc.good[k] = root
	}
	cc.mu.Unlock()
	return root, nil
}

// verifyChain checks the server's chain against roots at time at, and says
// in words why it fails: expired or not yet valid, unknown authority, or
// another reason. The x509 error stays wrapped for errors.As.
func verifyChain(chain []*x509.Certificate, roots *x509.CertPool, at time.Time) (*x509.Certificate, error) {
	leaf := chain[0]
	inter := x509.NewCertPool()
	for _, c := range chain[1:] {
		inter.AddCert(c)
	}
	chains, err := leaf.Verify(x509.VerifyOptions{
		Roots:         roots,
		Intermediates: inter,
		CurrentTime:   at,
		KeyUsages:     []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	})
	if err == nil {
		c := chains[0]
		return c[len(c)-1], nil
	}
	var inv x509.CertificateInvalidError
	var ua x509.UnknownAuthorityError
	switch {
	case errors.As(err, &inv) && inv.Reason == x509.Expired:
		return nil, fmt.Errorf("%w: certificate %q is expired or not yet valid at %s (valid %s to %s): %w", ErrCertificateChain,
			inv.Cert.Subject.String(), at.UTC().Format(time.RFC3339),
			inv.Cert.NotBefore.UTC().Format(time.RFC3339), inv.Cert.NotAfter.UTC().Format(time.RFC3339), err)
	case errors.As(err, &ua):
		return nil, fmt.Errorf("%w: chain of %q does not lead to a trusted root (unknown authority): %w", ErrCertificateChain, leaf.Subject.String(), err)
	}
	return nil, fmt.Errorf("%w: chain of %q: %w", ErrCertificateChain, leaf.Subject.String(), err)
}

// verifyName checks the leaf against the expected server name. Go, like
// RFC 6125, ignores the Common Name: a certificate without SANs names nothing,
// and the detail says so rather than leave the reader puzzled by a CN that
// looks right.
func verifyName(leaf *x509.Certificate, name string) error {
	err := leaf.VerifyHostname(name)
	if err == nil {
		return nil
	}
	if len(leaf.DNSNames) == 0 && len(leaf.IPAddresses) == 0 && leaf.Subject.CommonName != "" {
		return fmt.Errorf("%w: %q: certificate has no DNS SAN; CN %q is not accepted as a name (RFC 6125): %w", ErrServerName, name, leaf.Subject.CommonName, err)
	}
	return fmt.Errorf("%w: %q: certificate names DNS %q, IP %v: %w", ErrServerName, name, leaf.DNSNames, leaf.IPAddresses, err)
}
