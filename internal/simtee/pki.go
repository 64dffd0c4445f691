package simtee

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha1"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/pem"
	"fmt"
	"math/big"
	"time"

	"golang.org/x/crypto/cryptobyte"
	cbasn1 "golang.org/x/crypto/cryptobyte/asn1"
)

// The subject common names go-tdx-guest (and Intel's own QVL) look for. The
// organisation is ours, so a person reading any certificate of the
// hierarchy sees at once that it is not Intel's.
const (
	cnRoot       = "Intel SGX Root CA"
	cnPlatformCA = "Intel SGX PCK Platform CA"
	cnPCK        = "Intel SGX PCK Certificate"
	cnTCBSigning = "Intel SGX TCB Signing"
	simOrg       = "poc simulated TEE (NOT Intel)"
)

// URLs written into the CRL distribution points. They are Intel's, on
// purpose: a verifier walks the simulated hierarchy exactly as it walks
// Intel's, and Sim.Getter answers these URLs. A verifier that fetched them
// from the real network would get Intel's CRLs, whose signatures do not
// verify under the simulated root, and so fail closed.
const (
	pckCRLURL  = "https://api.trustedservices.intel.com/sgx/certification/v4/pckcrl?ca=platform&encoding=der"
	rootCRLURL = "https://certificates.trustedservices.intel.com/IntelSGXRootCA.der"
)

// OIDs of the SGX extension (Intel SGX PCK Certificate and CRL Profile).
var (
	oidSGX                = asn1.ObjectIdentifier{1, 2, 840, 113741, 1, 13, 1}
	oidPPID               = asn1.ObjectIdentifier{1, 2, 840, 113741, 1, 13, 1, 1}
	oidTCB                = asn1.ObjectIdentifier{1, 2, 840, 113741, 1, 13, 1, 2}
	oidPCEID              = asn1.ObjectIdentifier{1, 2, 840, 113741, 1, 13, 1, 3}
	oidFMSPC              = asn1.ObjectIdentifier{1, 2, 840, 113741, 1, 13, 1, 4}
	oidSGXType            = asn1.ObjectIdentifier{1, 2, 840, 113741, 1, 13, 1, 5}
	oidPlatformInstanceID = asn1.ObjectIdentifier{1, 2, 840, 113741, 1, 13, 1, 6}
	oidConfiguration      = asn1.ObjectIdentifier{1, 2, 840, 113741, 1, 13, 1, 7}
)

// sgxTypeScalable is the SGX Type of PCK certificates issued by the
// Platform CA on TDX-capable (Xeon Scalable) platforms.
const sgxTypeScalable = 1

// sgxExtension holds what goes into the PCK certificate's SGX extension.
type sgxExtension struct {
	ppid               [16]byte
	cpusvn             [16]byte // also the 16 TCB component SVNs
	pcesvn             uint16
	pceid              [2]byte
	fmspc              [6]byte
	platformInstanceID [16]byte
}

// der encodes the extension value as Intel's PCK certificates carry it:
// a SEQUENCE of (OID, value) pairs — PPID, TCB (16 component SVNs, PCESVN,
// CPUSVN: 18 entries), PCEID, FMSPC, SGX Type, platform instance ID and
// configuration.
func (e sgxExtension) der() ([]byte, error) {
	var b cryptobyte.Builder
	pair := func(b *cryptobyte.Builder, oid asn1.ObjectIdentifier, value func(*cryptobyte.Builder)) {
		b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
			b.AddASN1ObjectIdentifier(oid)
			value(b)
		})
	}
	sub := func(parent asn1.ObjectIdentifier, n int) asn1.ObjectIdentifier {
		oid := make(asn1.ObjectIdentifier, len(parent), len(parent)+1)
		copy(oid, parent)
		return append(oid, n)
	}
	b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
		pair(b, oidPPID, func(b *cryptobyte.Builder) { b.AddASN1OctetString(e.ppid[:]) })
		pair(b, oidTCB, func(b *cryptobyte.Builder) {
			b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
				for i, svn := range e.cpusvn {
					pair(b, sub(oidTCB, i+1), func(b *cryptobyte.Builder) { b.AddASN1Int64(int64(svn)) })
				}
				pair(b, sub(oidTCB, 17), func(b *cryptobyte.Builder) { b.AddASN1Int64(int64(e.pcesvn)) })
				pair(b, sub(oidTCB, 18), func(b *cryptobyte.Builder) { b.AddASN1OctetString(e.cpusvn[:]) })
			})
		})
		pair(b, oidPCEID, func(b *cryptobyte.Builder) { b.AddASN1OctetString(e.pceid[:]) })
		pair(b, oidFMSPC, func(b *cryptobyte.Builder) { b.AddASN1OctetString(e.fmspc[:]) })
		pair(b, oidSGXType, func(b *cryptobyte.Builder) { b.AddASN1Enum(sgxTypeScalable) })
		pair(b, oidPlatformInstanceID, func(b *cryptobyte.Builder) { b.AddASN1OctetString(e.platformInstanceID[:]) })
		pair(b, oidConfiguration, func(b *cryptobyte.Builder) {
			b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
				// dynamicPlatform, cachedKeys, SMTEnabled, as on a
				// multi-package Xeon.
				for i, v := range []bool{true, false, true} {
					pair(b, sub(oidConfiguration, i+1), func(b *cryptobyte.Builder) { b.AddASN1Boolean(v) })
				}
			})
		})
	})
	der, err := b.Bytes()
	if err != nil {
		return nil, fmt.Errorf("encoding SGX extension: %w", err)
	}
	return der, nil
}

// issued is a certificate with its key.
type issued struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
}

func newKey() (*ecdsa.PrivateKey, error) {
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("generating P-256 key: %w", err)
	}
	return k, nil
}

// serialNumber is positive and 159 bits at most, like Intel's 20-byte serials.
func serialNumber() (*big.Int, error) {
	n, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 159))
	if err != nil {
		return nil, fmt.Errorf("drawing serial number: %w", err)
	}
	return n.Add(n, big.NewInt(1)), nil
}

// keyID is the RFC 5280 §4.2.1.2 method 1 key identifier: SHA-1 of the
// subject public key bit string, as Intel's certificates use.
func keyID(pub *ecdsa.PublicKey) ([]byte, error) {
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return nil, fmt.Errorf("encoding public key: %w", err)
	}
	var spki struct {
		Algorithm pkix.AlgorithmIdentifier
		PublicKey asn1.BitString
	}
	if _, err := asn1.Unmarshal(der, &spki); err != nil {
		return nil, fmt.Errorf("decoding public key: %w", err)
	}
	sum := sha1.Sum(spki.PublicKey.Bytes)
	return sum[:], nil
}

// rawName encodes CN, then O: the order Intel's certificates use (Go's
// pkix.Name would put O first).
func rawName(cn string) ([]byte, error) {
	rdn := pkix.RDNSequence{
		{{Type: asn1.ObjectIdentifier{2, 5, 4, 3}, Value: cn}},
		{{Type: asn1.ObjectIdentifier{2, 5, 4, 10}, Value: simOrg}},
	}
	der, err := asn1.Marshal(rdn)
	if err != nil {
		return nil, fmt.Errorf("encoding name %q: %w", cn, err)
	}
	return der, nil
}

// certSpec is the part of a certificate that differs between the four.
type certSpec struct {
	cn        string
	ca        bool
	maxPath   int // for CAs
	usage     x509.KeyUsage
	crlURL    string
	extra     []pkix.Extension
	notBefore time.Time
	notAfter  time.Time
}

// issue creates a certificate for spec signed by parent (nil: self-signed).
// Every certificate gets an explicit subject key identifier, so each has
// the same extensions as Intel's: AKI, CRL distribution point, SKI, key
// usage, basic constraints (and the SGX extension on the PCK certificate,
// six in all there, as go-tdx-guest requires).
func issue(spec certSpec, parent *issued) (*issued, error) {
	key, err := newKey()
	if err != nil {
		return nil, err
	}
	sn, err := serialNumber()
	if err != nil {
		return nil, err
	}
	ski, err := keyID(&key.PublicKey)
	if err != nil {
		return nil, err
	}
	subject, err := rawName(spec.cn)
	if err != nil {
		return nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber:          sn,
		RawSubject:            subject,
		NotBefore:             spec.notBefore,
		NotAfter:              spec.notAfter,
		KeyUsage:              spec.usage,
		BasicConstraintsValid: true,
		IsCA:                  spec.ca,
		SubjectKeyId:          ski,
		CRLDistributionPoints: []string{spec.crlURL},
		ExtraExtensions:       spec.extra,
		SignatureAlgorithm:    x509.ECDSAWithSHA256,
	}
	if spec.ca {
		tmpl.MaxPathLen = spec.maxPath
		tmpl.MaxPathLenZero = spec.maxPath == 0
	}
	signer, signerCert := key, tmpl
	if parent != nil {
		signer, signerCert = parent.key, parent.cert
		tmpl.AuthorityKeyId = parent.cert.SubjectKeyId
	} else {
		tmpl.AuthorityKeyId = ski
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, signerCert, &key.PublicKey, signer)
	if err != nil {
		return nil, fmt.Errorf("creating %q certificate: %w", spec.cn, err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, fmt.Errorf("parsing new %q certificate: %w", spec.cn, err)
	}
	return &issued{cert: cert, key: key}, nil
}

// hierarchy is the whole simulated Intel PKI.
type hierarchy struct {
	root, platformCA, pck, tcbSigning *issued
}

func newHierarchy(notBefore, notAfter time.Time, ext sgxExtension) (*hierarchy, error) {
	var h hierarchy
	var err error
	caUsage := x509.KeyUsageCertSign | x509.KeyUsageCRLSign
	leafUsage := x509.KeyUsageDigitalSignature | x509.KeyUsageContentCommitment
	if h.root, err = issue(certSpec{cn: cnRoot, ca: true, maxPath: 1, usage: caUsage, crlURL: rootCRLURL,
		notBefore: notBefore, notAfter: notAfter}, nil); err != nil {
		return nil, err
	}
	if h.platformCA, err = issue(certSpec{cn: cnPlatformCA, ca: true, maxPath: 0, usage: caUsage, crlURL: rootCRLURL,
		notBefore: notBefore, notAfter: notAfter}, h.root); err != nil {
		return nil, err
	}
	sgx, err := ext.der()
	if err != nil {
		return nil, err
	}
	if h.pck, err = issue(certSpec{cn: cnPCK, usage: leafUsage, crlURL: pckCRLURL,
		extra:     []pkix.Extension{{Id: oidSGX, Value: sgx}},
		notBefore: notBefore, notAfter: notAfter}, h.platformCA); err != nil {
		return nil, err
	}
	if h.tcbSigning, err = issue(certSpec{cn: cnTCBSigning, usage: leafUsage, crlURL: rootCRLURL,
		notBefore: notBefore, notAfter: notAfter}, h.root); err != nil {
		return nil, err
	}
	return &h, nil
}

func certPEM(certs ...*x509.Certificate) []byte {
	var out []byte
	for _, c := range certs {
		out = append(out, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Raw})...)
	}
	return out
}

func keyPEM(k *ecdsa.PrivateKey) ([]byte, error) {
	der, err := x509.MarshalPKCS8PrivateKey(k)
	if err != nil {
		return nil, fmt.Errorf("encoding private key: %w", err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), nil
}

// parseCertPEM reads exactly one certificate.
func parseCertPEM(data []byte) (*x509.Certificate, error) {
	block, rest := pem.Decode(data)
	if block == nil || block.Type != "CERTIFICATE" {
		return nil, fmt.Errorf("no PEM CERTIFICATE block")
	}
	if len(trimSpace(rest)) != 0 {
		return nil, fmt.Errorf("trailing data after the certificate")
	}
	cert, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		return nil, fmt.Errorf("parsing certificate: %w", err)
	}
	return cert, nil
}

// parseKeyPEM reads exactly one PKCS #8 P-256 ECDSA key.
func parseKeyPEM(data []byte) (*ecdsa.PrivateKey, error) {
	block, rest := pem.Decode(data)
	if block == nil || block.Type != "PRIVATE KEY" {
		return nil, fmt.Errorf("no PEM PRIVATE KEY block")
	}
	if len(trimSpace(rest)) != 0 {
		return nil, fmt.Errorf("trailing data after the key")
	}
	k, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		return nil, fmt.Errorf("parsing key: %w", err)
	}
	ek, ok := k.(*ecdsa.PrivateKey)
	if !ok || ek.Curve != elliptic.P256() {
		return nil, fmt.Errorf("key is not ECDSA P-256")
	}
	return ek, nil
}

func trimSpace(b []byte) []byte {
	for len(b) > 0 && (b[0] == ' ' || b[0] == '\n' || b[0] == '\r' || b[0] == '\t') {
		b = b[1:]
	}
	return b
}

// rawPublicKey is X ‖ Y, 32 bytes each, as the quote carries the
// attestation key.
func rawPublicKey(pub *ecdsa.PublicKey) ([]byte, error) {
	// The uncompressed point is 0x04 ‖ X ‖ Y.
	pt, err := pub.Bytes()
	if err != nil {
		return nil, fmt.Errorf("encoding public key: %w", err)
	}
	if len(pt) != 65 || pt[0] != 4 {
		return nil, fmt.Errorf("unexpected public key encoding of %d bytes", len(pt))
	}
	return pt[1:], nil
}

// signRaw signs SHA-256(msg) and returns r ‖ s, 32 bytes each: the form of
// every signature in a quote and in Intel's collateral.
func signRaw(key *ecdsa.PrivateKey, digest []byte) ([]byte, error) {
	r, s, err := ecdsa.Sign(rand.Reader, key, digest)
	if err != nil {
		return nil, fmt.Errorf("signing: %w", err)
	}
	out := make([]byte, 64)
	r.FillBytes(out[:32])
	s.FillBytes(out[32:])
	return out, nil
}

// parseChain reads concatenated PEM certificates and nothing else.
func parseChain(data []byte) ([]*x509.Certificate, error) {
	var certs []*x509.Certificate
	rest := data
	for len(trimSpace(rest)) > 0 {
		var block *pem.Block
		block, rest = pem.Decode(rest)
		if block == nil || block.Type != "CERTIFICATE" {
			return nil, fmt.Errorf("no PEM CERTIFICATE block at certificate %d", len(certs)+1)
		}
		cert, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			return nil, fmt.Errorf("parsing certificate %d: %w", len(certs)+1, err)
		}
		certs = append(certs, cert)
	}
	return certs, nil
}
