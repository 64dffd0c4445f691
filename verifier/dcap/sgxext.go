package dcap

import (
	"crypto/x509"
	"encoding/asn1"
	"errors"
	"fmt"

	"golang.org/x/crypto/cryptobyte"
	casn1 "golang.org/x/crypto/cryptobyte/asn1"
)

// The SGX extension of PCK certificates (Intel SGX PCK Certificate and
// Certificate Revocation List Profile Specification, section 1.3.5).
var (
	oidSGXExtension = asn1.ObjectIdentifier{1, 2, 840, 113741, 1, 13, 1}
	oidSGXPPID      = asn1.ObjectIdentifier{1, 2, 840, 113741, 1, 13, 1, 1}
	oidSGXTCB       = asn1.ObjectIdentifier{1, 2, 840, 113741, 1, 13, 1, 2}
	oidSGXPCEID     = asn1.ObjectIdentifier{1, 2, 840, 113741, 1, 13, 1, 3}
	oidSGXFMSPC     = asn1.ObjectIdentifier{1, 2, 840, 113741, 1, 13, 1, 4}
)

// sgxExtension reads the platform data of a PCK certificate's SGX
// extension. go-tdx-guest's pcs.PckCertificateExtensions reads the same
// (and go-tdx-guest re-reads it while verifying), but through reflection
// costs more than all other parsing of a quote together; this reader is
// stricter (every field exactly once) and agrees with it wherever both
// succeed (TestSGXExtensionMatchesGoTDXGuest, FuzzSGXExtension).
func sgxExtension(leaf *x509.Certificate) (PCKInfo, error) {
	var p PCKInfo
	var value []byte
	for _, e := range leaf.Extensions {
		if e.Id.Equal(oidSGXExtension) {
			if value != nil {
				return p, errors.New("two SGX extensions")
			}
			value = e.Value
		}
	}
	if value == nil {
		return p, errors.New("no SGX extension")
	}
	s := cryptobyte.String(value)
	var seq cryptobyte.String
	if !s.ReadASN1(&seq, casn1.SEQUENCE) || !s.Empty() {
		return p, errors.New("SGX extension is not one SEQUENCE")
	}
	var havePPID, haveTCB, havePCEID, haveFMSPC bool
	for !seq.Empty() {
		var item cryptobyte.String
		var oid asn1.ObjectIdentifier
		if !seq.ReadASN1(&item, casn1.SEQUENCE) || !item.ReadASN1ObjectIdentifier(&oid) {
			return p, errors.New("malformed SGX extension entry")
		}
		var err error
		switch {
		case oid.Equal(oidSGXPPID):
			err = readOctets(&item, p.PPID[:], &havePPID)
		case oid.Equal(oidSGXPCEID):
			err = readOctets(&item, p.PCEID[:], &havePCEID)
		case oid.Equal(oidSGXFMSPC):
			err = readOctets(&item, p.FMSPC[:], &haveFMSPC)
		case oid.Equal(oidSGXTCB):
			if haveTCB {
				return p, errors.New("two TCB entries")
			}
			haveTCB = true
			err = readTCB(&item, &p)
		default:
			continue // SGX type, platform instance ID, configuration: not needed
		}
		if err != nil {
			return p, fmt.Errorf("SGX extension %v: %w", oid, err)
		}
		if !item.Empty() {
			return p, fmt.Errorf("SGX extension %v: trailing data", oid)
		}
	}
	if !havePPID || !haveTCB || !havePCEID || !haveFMSPC {
		return p, errors.New("SGX extension lacks PPID, TCB, PCEID or FMSPC")
	}
	return p, nil
}

func readOctets(s *cryptobyte.String, dst []byte, seen *bool) error {
	if *seen {
		return errors.New("appears twice")
	}
	*seen = true
	var v cryptobyte.String
	if !s.ReadASN1(&v, casn1.OCTET_STRING) || len(v) != len(dst) {
		return fmt.Errorf("want an OCTET STRING of %d bytes", len(dst))
	}
	copy(dst, v)
	return nil
}

// readTCB reads SEQUENCE { SEQUENCE { OID tcb.n, value } × 18 }: the 16
// component SVNs (INTEGER 0..255), PCESVN (tcb.17, INTEGER 0..65535) and
// CPUSVN (tcb.18, OCTET STRING of 16).
func readTCB(s *cryptobyte.String, p *PCKInfo) error {
	var comps cryptobyte.String
	if !s.ReadASN1(&comps, casn1.SEQUENCE) {
		return errors.New("TCB is not a SEQUENCE")
	}
	var seen [19]bool
	for !comps.Empty() {
		var c cryptobyte.String
		var oid asn1.ObjectIdentifier
		if !comps.ReadASN1(&c, casn1.SEQUENCE) || !c.ReadASN1ObjectIdentifier(&oid) {
			return errors.New("malformed TCB component")
		}
		if len(oid) != len(oidSGXTCB)+1 || !oid[:len(oidSGXTCB)].Equal(oidSGXTCB) {
			return fmt.Errorf("unexpected TCB component %v", oid)
		}
		n := oid[len(oidSGXTCB)]
		if n < 1 || n > 18 || seen[n] {
			return fmt.Errorf("TCB component %d unknown or repeated", n)
		}
		seen[n] = true
		switch {
		case n <= 16:
			var v int64
			if !c.ReadASN1Int64WithTag(&v, casn1.INTEGER) || v < 0 || v > 255 {
				return fmt.Errorf("TCB component %d is not an INTEGER 0..255", n)
			}
			p.TCBComponents[n-1] = byte(v)
		case n == 17:
			var v int64
			if !c.ReadASN1Int64WithTag(&v, casn1.INTEGER) || v < 0 || v > 65535 {
				return errors.New("PCESVN is not an INTEGER 0..65535")
			}
			p.PCESVN = uint16(v)
		default:
			var v cryptobyte.String
			if !c.ReadASN1(&v, casn1.OCTET_STRING) || len(v) != 16 {
				return errors.New("CPUSVN is not an OCTET STRING of 16 bytes")
			}
			copy(p.CPUSVN[:], v)
		}
		if !c.Empty() {
			return fmt.Errorf("TCB component %d: trailing data", n)
		}
	}
	for n := 1; n <= 18; n++ {
		if !seen[n] {
			return fmt.Errorf("TCB component %d missing", n)
		}
	}
	return nil
}
