package transcript

import "fmt"

// alertProtocolVersion is the protocol_version alert (RFC 8446 §6.2).
const alertProtocolVersion = 70

// ServerVersion reads the start of a server→client stream (which may end
// anywhere, as after a failed handshake) and returns the TLS version the
// server selected: supported_versions where present, else the ServerHello's
// legacy version. A protocol_version alert instead of a ServerHello is
// reported as ErrNotTLS13. A prober uses it to tell "no TLS 1.3 here" from
// other handshake failures.
func ServerVersion(s2c []byte) (uint16, error) {
	recs, _ := splitRecords(s2c, ServerToClient) // whole records before any damage
	hs := &hsReader{dir: ServerToClient}
	for i, r := range recs {
		frag := s2c[r.Offset+recordHeaderLen : r.Offset+int64(r.Length)]
		switch r.Type {
		case typeAlert:
			if len(frag) == 2 && frag[1] == alertProtocolVersion {
				return 0, errf(ErrNotTLS13, "server answered with a protocol_version alert")
			}
			return 0, errf(ErrHandshake, "server answered with alert %s", alertText(frag))
		case typeHandshake:
			msgs, err := hs.add(frag, i)
			if err != nil {
				return 0, err
			}
			for _, m := range msgs {
				if m.typ != hsServerHello {
					return 0, errf(ErrHandshake, "server's first message is %s, not ServerHello", handshakeName(m.typ))
				}
				sh, err := parseServerHello(m)
				if err != nil {
					return 0, err
				}
				if sh.version != 0 {
					return sh.version, nil
				}
				return sh.legacyVersion, nil
			}
		default:
			return 0, errf(ErrHandshake, "server's first record is %s", contentTypeName(r.Type))
		}
	}
	return 0, fmt.Errorf("%w: no complete ServerHello in %d bytes", ErrTruncated, len(s2c))
}
