package transcript

import (
	"crypto/hmac"
	"crypto/x509"
	"encoding/hex"
	"fmt"
	"slices"
	"strings"
	"time"
)

// Result is the verified view of a session: every field was read from the
// streams and checked by the checks listed in Checks. Fields are filled as
// far as Verify got; trust them only if OK reports true.
type Result struct {
	// Checks lists every check run, in order; a failed check ends the list
	// unless it is the policy check server_name.
	Checks []Check `json:"checks"`

	CipherSuite  uint16   `json:"cipher_suite"`
	ALPN         string   `json:"alpn"` // selected by the server; "" if none
	ClientRandom [32]byte `json:"client_random"`
	SNI          string   `json:"sni"` // the server_name the client sent
	// Chain is the certificate chain as the server sent it, leaf first.
	Chain      []*x509.Certificate `json:"-"`
	HelloRetry bool                `json:"hello_retry"`

	// Records holds the c2s records in stream order, then the s2c records
	// in stream order. Echo.Request and Echo.Answer index it.
	Records []Record `json:"records"`
	Echoes  []Echo   `json:"echoes"`
	// Alerts are the alerts found in the application phase, in order per
	// direction (c2s first).
	Alerts []Alert `json:"alerts,omitempty"`
	// GoAway is the server's HTTP/2 GOAWAY frame, if it sent one.
	GoAway *GoAway `json:"goaway,omitempty"`
	// KeyUpdates counts KeyUpdate messages per direction
	// (index ClientToServer, ServerToClient).
	KeyUpdates [2]int `json:"key_updates"`
	// NewSessionTickets counts the server's NewSessionTicket messages.
	NewSessionTickets int `json:"new_session_tickets"`
	// CertificateRequested says that the server asked for a client
	// certificate (client authentication is not used by the prover).
	CertificateRequested bool `json:"certificate_requested,omitempty"`

	// HandshakeCycles is the counter difference between the write of the
	// first ClientHello and the read that completed the s2c record carrying
	// the server Finished; 0 without timestamps.
	HandshakeCycles uint64 `json:"handshake_cycles,omitempty"`
	// HandshakeKernelNs is the same span by the kernel's clock, when the
	// stamps carry kernel times.
	HandshakeKernelNs int64 `json:"handshake_kernel_ns,omitempty"`

	complete bool // every applicable check ran
}

// Alert is a TLS alert found in a decrypted record.
type Alert struct {
	Dir         Direction `json:"dir"`
	Record      int       `json:"record"` // index in Result.Records
	Level       uint8     `json:"level"`
	Description uint8     `json:"description"`
}

// GoAway is an HTTP/2 GOAWAY frame sent by the server.
type GoAway struct {
	Record       int    `json:"record"` // index in Result.Records of its first byte
	LastStreamID uint32 `json:"last_stream_id"`
	ErrCode      uint32 `json:"error_code"`
	Debug        string `json:"debug,omitempty"` // at most 256 bytes of debug data
}

// OK reports whether Verify ran every check and all of them passed.
func (r *Result) OK() bool {
	if r == nil || len(r.Checks) == 0 {
		return false
	}
	for _, c := range r.Checks {
		if !c.OK {
			return false
		}
	}
	return r.complete
}

// Verify re-checks a recorded TLS 1.3 session offline, in the order of the
// Check* constants, and returns what it found. Cryptographic and structural
// checks stop at the first failure; the policy check server_name is reported
// and the checks after it still run. The error is the first failed check's
// (a *CheckError), or else the server_name error, or nil. The Result is never
// nil and holds the checks done so far.
func Verify(s Session, o Options) (res *Result, err error) {
	v := &verifier{s: s, o: o, res: &Result{}}
	defer func() {
		if p := recover(); p != nil {
			ce := &CheckError{Check: v.current, Err: fmt.Errorf("%w: panic: %v", ErrInternal, p)}
			v.res.Checks = append(v.res.Checks, Check{Name: v.current, Detail: ce.Err.Error(), Err: ce})
			v.res.complete = false
			res, err = v.res, ce
		}
	}()
	err = v.run()
	return v.res, err
}

type verifier struct {
	s       Session
	o       Options
	res     *Result
	current string

	streams [2][]byte
	idx     [2][]int // indices into res.Records, per direction
	pos     [2]int   // next unprocessed position in idx, per direction

	suite     *suite
	ch        *clientHello // the ClientHello that the ServerHello answers
	msgs      [][]byte     // transcript, in order
	keys      *keyLog
	clientHS  []byte
	serverHS  []byte
	certs     [][]byte
	cvScheme  uint16
	cvSig     []byte
	thCert    []byte // transcript hash CH..Certificate
	thCV      []byte // CH..CertificateVerify
	sfVerify  []byte
	sfRecord  int // record carrying the end of server Finished
	certReqCx []byte

	app [2]*appStream

	cycles []uint64 // per record; nil unless the stamps are valid
	kernel []int64  // per record; nil unless the stamps carry kernel times
	timErr error    // why the stamps are not valid
}

func (v *verifier) run() error {
	steps := []struct {
		name   string
		fn     func() (string, error)
		policy bool
		when   func() bool
	}{
		{CheckRecords, v.checkRecords, false, nil},
		{CheckClientHello, v.checkClientHello, false, nil},
		{CheckHandshakeDecrypt, v.checkHandshakeDecrypt, false, nil},
		{CheckCertificateChain, v.checkCertificateChain, false, nil},
		{CheckServerName, v.checkServerName, true, nil},
		{CheckCertificateVerify, v.checkCertificateVerify, false, nil},
		{CheckServerFinished, v.checkServerFinished, false, nil},
		{CheckApplicationData, v.checkApplicationData, false, nil},
		{CheckEchoes, v.checkEchoes, false, v.hasApplicationData},
		{CheckTiming, v.checkTiming, false, v.hasTimes},
	}
	var policyErr error
	for _, st := range steps {
		if st.when != nil && !st.when() {
			continue
		}
		v.current = st.name
		detail, err := st.fn()
		c := Check{Name: st.name, OK: err == nil, Detail: detail}
		if err != nil {
			ce := &CheckError{Check: st.name, Err: err}
			c.Err = ce
			c.Detail = err.Error()
			v.res.Checks = append(v.res.Checks, c)
			if st.policy {
				if policyErr == nil {
					policyErr = ce
				}
				continue
			}
			return ce
		}
		v.res.Checks = append(v.res.Checks, c)
	}
	v.res.complete = true
	return policyErr
}

// rec returns record i of Result.Records and its bytes, header included.
func (v *verifier) rec(i int) (*Record, []byte) {
	r := &v.res.Records[i]
	return r, v.streams[r.Dir][r.Offset : r.Offset+int64(r.Length)]
}

// where names a record for error messages: direction, index within the
// direction, and stream offset.
func (v *verifier) where(i int) string {
	if i < 0 || i >= len(v.res.Records) {
		return fmt.Sprintf("record %d", i)
	}
	r := &v.res.Records[i]
	local := i
	if r.Dir == ServerToClient {
		local -= len(v.idx[ClientToServer])
	}
	return fmt.Sprintf("%s record %d at offset %d", r.Dir, local, r.Offset)
}

func (v *verifier) maxBytes() (int, error) {
	switch {
	case v.o.MaxStreamBytes == 0:
		return DefaultMaxStreamBytes, nil
	case v.o.MaxStreamBytes < 0:
		return 0, errf(ErrOptions, "Options.MaxStreamBytes is negative (%d)", v.o.MaxStreamBytes)
	}
	return v.o.MaxStreamBytes, nil
}

// 1. records

func (v *verifier) checkRecords() (string, error) {
	limit, err := v.maxBytes()
	if err != nil {
		return "", err
	}
	for _, in := range []struct {
		name string
		n    int
	}{{"c2s stream", len(v.s.C2S)}, {"s2c stream", len(v.s.S2C)}, {"key log", len(v.s.KeyLog)}} {
		if in.n > limit {
			return "", errf(ErrTooLarge, "%s is %d bytes, limit %d", in.name, in.n, limit)
		}
	}
	if len(v.s.C2S) == 0 || len(v.s.S2C) == 0 {
		return "", errf(ErrTruncated, "empty stream (c2s %d bytes, s2c %d bytes)", len(v.s.C2S), len(v.s.S2C))
	}
	v.streams = [2][]byte{v.s.C2S, v.s.S2C}
	var detail []string
	for _, d := range []Direction{ClientToServer, ServerToClient} {
		recs, err := splitRecords(v.streams[d], d)
		if err != nil {
			return "", err
		}
		for range recs {
			v.idx[d] = append(v.idx[d], len(v.res.Records)+len(v.idx[d]))
		}
		detail = append(detail, fmt.Sprintf("%s: %d records, %d bytes", d, len(recs), len(v.streams[d])))
		v.res.Records = append(v.res.Records, recs...)
	}
	return strings.Join(detail, "; "), nil
}

// 2. client_hello

// plaintextHandshake reads the plaintext handshake records at the start of
// one direction, up to the first encrypted record, and returns their
// messages.
func (v *verifier) plaintextHandshake(d Direction) ([]hsMsg, error) {
	who := map[Direction]string{ClientToServer: "client", ServerToClient: "server"}[d]
	hr := hsReader{dir: d}
	var msgs []hsMsg
	idx := v.idx[d]
	i := 0
	for ; i < len(idx); i++ {
		r, b := v.rec(idx[i])
		if r.Type == typeApplicationData {
			break
		}
		switch r.Type {
		case typeHandshake:
			m, err := hr.add(b[recordHeaderLen:], idx[i])
			if err != nil {
				return nil, err
			}
			msgs = append(msgs, m...)
		case typeAlert:
			return nil, errf(ErrHandshake, "%s: the %s sent alert %s in plaintext", v.where(idx[i]), who, alertText(b[recordHeaderLen:]))
		case typeChangeCipherSpec:
			if i == 0 {
				return nil, errf(ErrHandshake, "%s: change_cipher_spec before any handshake message", v.where(idx[i]))
			}
		}
	}
	v.pos[d] = i
	if hr.pending() {
		if i == len(idx) {
			return nil, errf(ErrTruncated, "%s stream ends inside a plaintext handshake message", d)
		}
		return nil, errf(ErrHandshake, "%s: encryption starts inside a plaintext handshake message", v.where(idx[i]))
	}
	if len(msgs) == 0 {
		if len(idx) > 0 {
			return nil, errf(ErrHandshake, "%s starts with a record of type %s, expected a plaintext %s", v.where(idx[0]), contentTypeName(v.res.Records[idx[0]].Type),
				map[Direction]string{ClientToServer: "ClientHello", ServerToClient: "ServerHello"}[d])
		}
	}
	return msgs, nil
}

func (v *verifier) checkClientHello() (string, error) {
	cm, err := v.plaintextHandshake(ClientToServer)
	if err != nil {
		return "", err
	}
	for _, m := range cm {
		if m.typ != hsClientHello {
			return "", errf(ErrHandshake, "%s: plaintext %s, only a ClientHello may be sent in plaintext", v.where(m.firstRec), handshakeName(m.typ))
		}
	}
	if len(cm) > 2 {
		return "", errf(ErrHandshake, "c2s: %d ClientHellos, at most 2 (after a HelloRetryRequest)", len(cm))
	}
	ch1, err := parseClientHello(cm[0])
	if err != nil {
		return "", fmt.Errorf("%s: %w", v.where(cm[0].firstRec), err)
	}
	v.res.ClientRandom = ch1.random
	v.res.SNI = ch1.sni
	if v.o.Nonce != nil {
		if want := ClientRandom(*v.o.Nonce, v.o.ConnIndex); want != ch1.random {
			return "", errf(ErrNonce, "ClientHello random is %x, want ClientRandom(nonce, %d) = %x", ch1.random, v.o.ConnIndex, want)
		}
	}
	if !ch1.offersTLS13() {
		return "", errf(ErrNotTLS13, "client did not offer TLS 1.3 (supported_versions %#04x)", ch1.versions)
	}
	if ch1.earlyData {
		return "", errf(ErrHandshake, "ClientHello offers 0-RTT early data, which this package does not check")
	}
	if ch1.ech {
		return "", errf(ErrHandshake, "ClientHello carries encrypted_client_hello: the transcript would use an inner ClientHello that is not in the stream; Encrypted Client Hello is not supported")
	}

	sm, err := v.plaintextHandshake(ServerToClient)
	if err != nil {
		return "", err
	}
	if len(sm) == 0 {
		return "", errf(ErrTruncated, "s2c has no ServerHello")
	}
	var shs []*serverHello
	for _, m := range sm {
		if m.typ != hsServerHello {
			return "", errf(ErrHandshake, "%s: plaintext %s, expected ServerHello only (TLS 1.3 encrypts the rest)", v.where(m.firstRec), handshakeName(m.typ))
		}
		sh, err := parseServerHello(m)
		if err != nil {
			return "", fmt.Errorf("%s: %w", v.where(m.firstRec), err)
		}
		if sh.version != versionTLS13 {
			if sh.version == 0 {
				return "", errf(ErrNotTLS13, "server did not negotiate TLS 1.3: ServerHello has no supported_versions extension (legacy_version %#04x)", sh.legacyVersion)
			}
			return "", errf(ErrNotTLS13, "server did not negotiate TLS 1.3: it selected version %#04x", sh.version)
		}
		shs = append(shs, sh)
	}
	if len(shs) > 2 {
		return "", errf(ErrHandshake, "s2c: %d ServerHellos", len(shs))
	}
	ch, sh := ch1, shs[0]
	v.msgs = [][]byte{ch1.raw, sh.raw}
	if sh.hrr {
		v.res.HelloRetry = true
		if len(shs) < 2 {
			return "", errf(ErrTruncated, "s2c: HelloRetryRequest but no second ServerHello")
		}
		if len(cm) < 2 {
			return "", errf(ErrHandshake, "c2s: HelloRetryRequest but no second ClientHello")
		}
		ch2, err := parseClientHello(cm[1])
		if err != nil {
			return "", fmt.Errorf("%s: %w", v.where(cm[1].firstRec), err)
		}
		if ch2.random != ch1.random {
			return "", errf(ErrHandshake, "second ClientHello changed the random from %x to %x", ch1.random, ch2.random)
		}
		if ch2.earlyData {
			return "", errf(ErrHandshake, "second ClientHello offers early data after a HelloRetryRequest")
		}
		if !ch2.offersTLS13() {
			return "", errf(ErrNotTLS13, "second ClientHello does not offer TLS 1.3")
		}
		hrr := sh
		sh = shs[1]
		if sh.hrr {
			return "", errf(ErrHandshake, "two HelloRetryRequests")
		}
		if sh.suite != hrr.suite {
			return "", errf(ErrHandshake, "ServerHello cipher suite %#04x differs from the HelloRetryRequest's %#04x", sh.suite, hrr.suite)
		}
		s := suiteByID(hrr.suite)
		if s == nil {
			return "", errf(ErrHandshake, "HelloRetryRequest selected cipher suite %#04x, which is not TLS_AES_128_GCM_SHA256, TLS_AES_256_GCM_SHA384 or TLS_CHACHA20_POLY1305_SHA256", hrr.suite)
		}
		v.msgs = [][]byte{messageHash(s, ch1.raw), hrr.raw, ch2.raw, sh.raw}
		ch = ch2
	} else if len(cm) > 1 || len(shs) > 1 {
		return "", errf(ErrHandshake, "%d ClientHello(s) and %d ServerHello(s) without a HelloRetryRequest", len(cm), len(shs))
	}
	v.ch = ch
	if !slices.Equal(sh.sessionID, ch.sessionID) {
		return "", errf(ErrHandshake, "ServerHello legacy_session_id_echo %q differs from the ClientHello's %q", hex.EncodeToString(sh.sessionID), hex.EncodeToString(ch.sessionID))
	}
	v.suite = suiteByID(sh.suite)
	if v.suite == nil {
		return "", errf(ErrHandshake, "server selected cipher suite %#04x, which is not TLS_AES_128_GCM_SHA256, TLS_AES_256_GCM_SHA384 or TLS_CHACHA20_POLY1305_SHA256", sh.suite)
	}
	if !ch.offersSuite(sh.suite) {
		return "", errf(ErrHandshake, "server selected cipher suite %s, which the client did not offer", v.suite.name)
	}
	if sh.psk {
		return "", errf(ErrHandshake, "server selected a pre-shared key (session resumption), which this package does not check")
	}
	v.res.CipherSuite = sh.suite
	retry := ""
	if sh.hrr || v.res.HelloRetry {
		retry = ", after a HelloRetryRequest"
	}
	return fmt.Sprintf("ClientHello random %x, SNI %q, ALPN offered %q; server selected TLS 1.3, %s%s", ch1.random, ch1.sni, ch.alpn, v.suite.name, retry), nil
}

// 3. handshake_decrypt

func (v *verifier) checkHandshakeDecrypt() (string, error) {
	kl, err := parseKeyLog(v.s.KeyLog, v.res.ClientRandom)
	if err != nil {
		return "", err
	}
	v.keys = kl
	if v.serverHS, err = kl.secret(labelServerHS, v.suite); err != nil {
		return "", err
	}
	if v.clientHS, err = kl.secret(labelClientHS, v.suite); err != nil {
		return "", err
	}
	key, err := newRecordKey(v.suite, v.serverHS)
	if err != nil {
		return "", errf(ErrDecrypt, "deriving the server handshake key: %v", err)
	}
	hr := hsReader{dir: ServerToClient}
	idx := v.idx[ServerToClient]
	want := []uint8{hsEncryptedExtensions}
	var seen []string
	finished := false
	nrec := 0
	i := v.pos[ServerToClient]
	for ; i < len(idx) && !finished; i++ {
		r, b := v.rec(idx[i])
		switch r.Type {
		case typeChangeCipherSpec:
			continue
		case typeApplicationData:
		default:
			return "", errf(ErrHandshake, "%s: plaintext %s record after the ServerHello", v.where(idx[i]), contentTypeName(r.Type))
		}
		content, typ, ok := key.open(b)
		if !ok {
			return "", errf(ErrDecrypt, "%s: AEAD open failed (wrong key or altered bytes) under SERVER_HANDSHAKE_TRAFFIC_SECRET, sequence %d", v.where(idx[i]), key.seq-1)
		}
		nrec++
		r.Inner = typ
		switch typ {
		case typeHandshake:
		case typeAlert:
			return "", errf(ErrHandshake, "%s: server sent alert %s during its handshake flight", v.where(idx[i]), alertText(content))
		default:
			return "", errf(ErrProtocol, "%s: inner %s before the server Finished", v.where(idx[i]), innerTypeName(typ))
		}
		if len(content) > maxPlaintext {
			return "", errf(ErrProtocol, "%s: %d bytes of plaintext, limit 2^14", v.where(idx[i]), len(content))
		}
		msgs, err := hr.add(content, idx[i])
		if err != nil {
			return "", err
		}
		for _, m := range msgs {
			if finished {
				return "", errf(ErrHandshake, "%s: %s after the server Finished under handshake keys", v.where(idx[i]), handshakeName(m.typ))
			}
			if !slices.Contains(want, m.typ) {
				names := make([]string, len(want))
				for j, w := range want {
					names[j] = handshakeName(w)
				}
				return "", errf(ErrHandshake, "%s: unexpected %s in the server's flight, want %s", v.where(m.firstRec), handshakeName(m.typ), strings.Join(names, " or "))
			}
			if err := v.serverMessage(m, &want); err != nil {
				return "", err
			}
			seen = append(seen, handshakeName(m.typ))
			if m.typ == hsFinished {
				finished = true
				v.sfRecord = m.lastRec
			}
		}
		if finished && hr.pending() {
			return "", errf(ErrHandshake, "%s: a handshake message follows the server Finished under handshake keys", v.where(idx[i]))
		}
	}
	v.pos[ServerToClient] = i
	if !finished {
		got := "no handshake message"
		if len(seen) > 0 {
			got = strings.Join(seen, ", ")
		}
		return "", errf(ErrTruncated, "s2c ends before the server Finished (decrypted %d records: %s)", nrec, got)
	}
	cr := ""
	if v.res.CertificateRequested {
		cr = "; server sent a CertificateRequest (client authentication is not used)"
	}
	return fmt.Sprintf("decrypted %d s2c records under SERVER_HANDSHAKE_TRAFFIC_SECRET: %s; ALPN %q, %d certificates, %s%s",
		nrec, strings.Join(seen, ", "), v.res.ALPN, len(v.certs), schemeName(v.cvScheme), cr), nil
}

// serverMessage takes one message of the server's encrypted flight, adds it
// to the transcript and sets which messages may follow.
func (v *verifier) serverMessage(m hsMsg, want *[]uint8) error {
	switch m.typ {
	case hsEncryptedExtensions:
		alpn, err := parseEncryptedExtensions(m)
		if err != nil {
			return err
		}
		if alpn != "" && !slices.Contains(v.ch.alpn, alpn) {
			return errf(ErrHandshake, "server selected ALPN %q, which the client did not offer (%q)", alpn, v.ch.alpn)
		}
		v.res.ALPN = alpn
		*want = []uint8{hsCertificateRequest, hsCertificate}
	case hsCertificateRequest:
		v.res.CertificateRequested = true
		ctx, ok := certificateRequestContext(m.body)
		if !ok {
			return errf(ErrHandshake, "malformed CertificateRequest")
		}
		v.certReqCx = ctx
		*want = []uint8{hsCertificate}
	case hsCertificate:
		ctx, certs, err := parseCertificate(m)
		if err != nil {
			return err
		}
		if len(ctx) != 0 {
			return errf(ErrHandshake, "server Certificate has a non-empty certificate_request_context")
		}
		if len(certs) == 0 {
			return errf(ErrHandshake, "server sent an empty certificate list")
		}
		v.certs = certs
		*want = []uint8{hsCertificateVerify}
	case hsCertificateVerify:
		v.thCert = transcriptHash(v.suite.hash, v.msgs...)
		scheme, sig, err := parseCertificateVerify(m)
		if err != nil {
			return err
		}
		v.cvScheme, v.cvSig = scheme, sig
		*want = []uint8{hsFinished}
	case hsFinished:
		v.thCV = transcriptHash(v.suite.hash, v.msgs...)
		v.sfVerify = m.body
		*want = nil
	}
	v.msgs = append(v.msgs, m.raw)
	return nil
}

// 4. certificate_chain

func (v *verifier) checkCertificateChain() (string, error) {
	for i, der := range v.certs {
		c, err := x509.ParseCertificate(der)
		if err != nil {
			return "", fmt.Errorf("%w: parsing certificate %d of %d: %w", ErrCertificateChain, i, len(v.certs), err)
		}
		v.res.Chain = append(v.res.Chain, c)
	}
	if v.o.Roots == nil {
		return "", errf(ErrOptions, "Options.Roots is required to verify the certificate chain")
	}
	if v.o.At.IsZero() {
		return "", errf(ErrOptions, "Options.At is required: the time at which the chain must be valid")
	}
	root, err := v.o.Chains.verify(v.res.Chain, v.o.Roots, v.o.At)
	if err != nil {
		return "", err
	}
	leaf := v.res.Chain[0]
	return fmt.Sprintf("leaf %q (%s key, valid %s to %s) chains to root %q at %s", leaf.Subject.String(), keyDescription(leaf),
		leaf.NotBefore.UTC().Format(time.RFC3339), leaf.NotAfter.UTC().Format(time.RFC3339), root.Subject.String(),
		v.o.At.UTC().Format(time.RFC3339)), nil
}

// 5. server_name

func (v *verifier) checkServerName() (string, error) {
	if v.o.ServerName == "" {
		return "", fmt.Errorf("%w: %w: Options.ServerName is empty", ErrServerName, ErrOptions)
	}
	if err := verifyName(v.res.Chain[0], v.o.ServerName); err != nil {
		return "", err
	}
	d := fmt.Sprintf("leaf is valid for %q", v.o.ServerName)
	if v.res.SNI != v.o.ServerName {
		d += fmt.Sprintf(" (the client sent SNI %q)", v.res.SNI)
	}
	return d, nil
}

// 6. certificate_verify

func (v *verifier) checkCertificateVerify() (string, error) {
	if err := verifyCertificateVerify(v.res.Chain[0], v.cvScheme, v.cvSig, v.thCert); err != nil {
		return "", err
	}
	return fmt.Sprintf("%s signature by the leaf's %s key verifies over the transcript hash %x (ClientHello..Certificate)",
		schemeName(v.cvScheme), keyDescription(v.res.Chain[0]), v.thCert), nil
}

// 7. server_finished

func (v *verifier) checkServerFinished() (string, error) {
	h := v.suite.hash
	if len(v.sfVerify) != h.Size() {
		return "", errf(ErrServerFinished, "verify_data is %d bytes, %s needs %d", len(v.sfVerify), v.suite.name, h.Size())
	}
	if !hmac.Equal(v.sfVerify, finishedMAC(h, v.serverHS, v.thCV)) {
		return "", errf(ErrServerFinished, "MAC under SERVER_HANDSHAKE_TRAFFIC_SECRET does not match the transcript (ClientHello..CertificateVerify)")
	}
	return "verify_data matches HMAC(finished_key, transcript ClientHello..CertificateVerify)", nil
}

func certificateRequestContext(body []byte) ([]byte, bool) {
	if len(body) < 1 || len(body) < 1+int(body[0]) {
		return nil, false
	}
	return body[1 : 1+int(body[0])], true
}
