package maasim

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"os"
	"time"
)

// keyBits is the size of generated signing keys (MAA's are RSA 2048).
const keyBits = 2048

// Key is the service's token signing key: RSA, used with RS256 as MAA
// does. Its kid is the standard base64 of SHA-256 over the public key's
// SubjectPublicKeyInfo, a 44-character string shaped like MAA's kids
// (whose own derivation is not a thumbprint; verifiers match kids as
// strings and never recompute them).
type Key struct {
	priv *rsa.PrivateKey
	id   string
	cert []byte // self-signed certificate for the JWKS's x5c
}

// GenerateKey makes a fresh RSA-2048 signing key.
func GenerateKey() (*Key, error) {
	priv, err := rsa.GenerateKey(rand.Reader, keyBits)
	if err != nil {
		return nil, fmt.Errorf("generating MAA simulator key: %w", err)
	}
	return newKey(priv)
}

func newKey(priv *rsa.PrivateKey) (*Key, error) {
	if priv.N.BitLen() < keyBits {
		return nil, fmt.Errorf("MAA simulator key is %d bits, need at least %d", priv.N.BitLen(), keyBits)
	}
	spki, err := x509.MarshalPKIXPublicKey(&priv.PublicKey)
	if err != nil {
		return nil, fmt.Errorf("encoding public key: %w", err)
	}
	sum := sha256.Sum256(spki)
	k := &Key{priv: priv, id: base64.StdEncoding.EncodeToString(sum[:])}
	// A self-signed certificate with fixed fields (serial from the key
	// hash, MAA's validity window), so that the JWKS is the same bytes
	// every time the key is loaded: RSA PKCS#1 v1.5 signatures are
	// deterministic.
	tmpl := &x509.Certificate{
		SerialNumber:          new(big.Int).SetBytes(sum[:16]),
		Subject:               pkix.Name{CommonName: "poc MAA simulator token signing key"},
		NotBefore:             time.Date(2019, 5, 1, 0, 0, 0, 0, time.UTC),
		NotAfter:              time.Date(2050, 12, 31, 23, 59, 59, 0, time.UTC),
		KeyUsage:              x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
	}
	k.cert, err = x509.CreateCertificate(rand.Reader, tmpl, tmpl, &priv.PublicKey, priv)
	if err != nil {
		return nil, fmt.Errorf("self-signing the key's certificate: %w", err)
	}
	return k, nil
}

// ID is the key's kid.
func (k *Key) ID() string { return k.id }

// Public is the public key.
func (k *Key) Public() *rsa.PublicKey { return &k.priv.PublicKey }

// Certificate is the DER of the key's self-signed certificate (the x5c
// published in the JWKS).
func (k *Key) Certificate() []byte { return append([]byte(nil), k.cert...) }

// JWKS is the key set served at /certs, in the form real MAA serves:
// {"keys": [{"kid", "kty": "RSA", "x5c": [cert]}]}, with no n/e members.
func (k *Key) JWKS() []byte {
	set := map[string]any{"keys": []any{map[string]any{
		"kid": k.id,
		"kty": "RSA",
		"x5c": []string{base64.StdEncoding.EncodeToString(k.cert)},
	}}}
	b, _ := json.Marshal(set) // cannot fail: strings only
	return b
}

// pemType is the PEM block type of saved keys (PKCS #8).
const pemType = "PRIVATE KEY"

// MarshalPEM encodes the private key as PKCS #8 PEM.
func (k *Key) MarshalPEM() ([]byte, error) {
	der, err := x509.MarshalPKCS8PrivateKey(k.priv)
	if err != nil {
		return nil, fmt.Errorf("encoding MAA simulator key: %w", err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: pemType, Bytes: der}), nil
}

// ParseKeyPEM reads a key written by MarshalPEM (or any PKCS #8 or
// PKCS #1 RSA private key of at least 2048 bits).
func ParseKeyPEM(data []byte) (*Key, error) {
	block, _ := pem.Decode(data)
	if block == nil {
		return nil, errors.New("MAA simulator key: no PEM block")
	}
	var priv any
	var err error
	switch block.Type {
	case pemType:
		priv, err = x509.ParsePKCS8PrivateKey(block.Bytes)
	case "RSA PRIVATE KEY":
		priv, err = x509.ParsePKCS1PrivateKey(block.Bytes)
	default:
		return nil, fmt.Errorf("MAA simulator key: PEM block %q is not a private key", block.Type)
	}
	if err != nil {
		return nil, fmt.Errorf("MAA simulator key: %w", err)
	}
	rk, ok := priv.(*rsa.PrivateKey)
	if !ok {
		return nil, fmt.Errorf("MAA simulator key: %T is not RSA", priv)
	}
	return newKey(rk)
}

// SaveKey writes k to path as PKCS #8 PEM, creating the file with mode
// 0600. It refuses to replace an existing file (a signing key is not
// overwritten by accident): remove it first to rotate.
func SaveKey(path string, k *Key) error {
	data, err := k.MarshalPEM()
	if err != nil {
		return err
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return fmt.Errorf("saving MAA simulator key: %w", err)
	}
	_, werr := f.Write(data)
	if werr == nil {
		werr = f.Sync()
	}
	if cerr := f.Close(); werr == nil {
		werr = cerr
	}
	if werr != nil {
		os.Remove(path) // never leave a partial key behind
		return fmt.Errorf("saving MAA simulator key: %w", werr)
	}
	return nil
}

// LoadKey reads a key saved by SaveKey.
func LoadKey(path string) (*Key, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("loading MAA simulator key: %w", err)
	}
	k, err := ParseKeyPEM(data)
	if err != nil {
		return nil, fmt.Errorf("loading %s: %w", path, err)
	}
	return k, nil
}
