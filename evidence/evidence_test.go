package evidence

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"sort"
	"strings"
	"testing"
)

type vectorFile struct {
	Vectors []struct {
		Name       string          `json:"name"`
		Body       json.RawMessage `json:"body"`
		Encoding   string          `json:"encoding"`
		ReportData string          `json:"report_data"`
	} `json:"vectors"`
	ProbeNonces []struct {
		Challenge Hash   `json:"challenge"`
		Index     uint32 `json:"index"`
		Nonce     Hash   `json:"nonce"`
	} `json:"probe_nonces"`
}

func readVectors(t testing.TB) vectorFile {
	t.Helper()
	b, err := os.ReadFile("testdata/vectors.json")
	if err != nil {
		t.Fatal(err)
	}
	var vf vectorFile
	if err := json.Unmarshal(b, &vf); err != nil {
		t.Fatal(err)
	}
	if len(vf.Vectors) == 0 || len(vf.ProbeNonces) == 0 {
		t.Fatal("no vectors")
	}
	return vf
}

// The vectors come from an independent implementation of
// docs/proof-format.md; this package must produce the same bytes.
func TestVectors(t *testing.T) {
	vf := readVectors(t)
	for _, v := range vf.Vectors {
		t.Run(v.Name, func(t *testing.T) {
			dec := json.NewDecoder(bytes.NewReader(v.Body))
			dec.DisallowUnknownFields()
			var b Body
			if err := dec.Decode(&b); err != nil {
				t.Fatal(err)
			}
			enc, err := Encode(&b)
			if err != nil {
				t.Fatal(err)
			}
			if got := hex.EncodeToString(enc); got != v.Encoding {
				t.Fatalf("encoding\n got %s\nwant %s", got, v.Encoding)
			}
			rd, err := ReportData(&b)
			if err != nil {
				t.Fatal(err)
			}
			if got := hex.EncodeToString(rd[:]); got != v.ReportData {
				t.Fatalf("report data %s, want %s", got, v.ReportData)
			}
		})
	}
	for _, pn := range vf.ProbeNonces {
		if got := ProbeNonce(pn.Challenge, pn.Index); got != pn.Nonce {
			t.Errorf("ProbeNonce(%s, %d) = %s, want %s", pn.Challenge, pn.Index, got, pn.Nonce)
		}
	}
}

// sampleProof is a valid proof built from the "typical" vector's body, with
// sessions whose bytes hash to the body's values.
func sampleProof(t testing.TB) *Proof {
	t.Helper()
	vf := readVectors(t)
	var b Body
	for _, v := range vf.Vectors {
		if v.Name == "typical" {
			if err := json.Unmarshal(v.Body, &b); err != nil {
				t.Fatal(err)
			}
		}
	}
	p := &Proof{Version: Version, Body: b, Attestation: Attestation{TEE: b.TEE, Quote: []byte{4, 0, 2, 0}}}
	for i := range p.Body.Probes {
		for j := range p.Body.Probes[i].Conns {
			c := &p.Body.Probes[i].Conns[j]
			s := Session{Probe: uint32(i), Conn: uint32(j),
				C2S: []byte(fmt.Sprintf("c2s %d %d", i, j)), S2C: []byte(fmt.Sprintf("s2c %d %d", i, j)), KeyLog: []byte(fmt.Sprintf("keylog %d %d", i, j))}
			c.C2SHash, c.S2CHash, c.KeyLogHash = sha256.Sum256(s.C2S), sha256.Sum256(s.S2C), sha256.Sum256(s.KeyLog)
			p.Sessions = append(p.Sessions, s)
		}
	}
	p.Attestation.Azure = &Azure{HCLReport: []byte("HCLA"), TPMQuote: &TPMQuote{Attest: []byte{1}, Signature: []byte{2}, PCRs: [][]byte{make([]byte, 32)}, Indices: []uint32{0}, Nonce: []byte{3}}}
	p.Attestation.MAAToken = "a.b.c"
	return p
}

func encodeJSON(t testing.TB, p *Proof) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := p.Encode(&buf); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func TestRoundTrip(t *testing.T) {
	p := sampleProof(t)
	doc := encodeJSON(t, p)
	q, err := Decode(bytes.NewReader(doc))
	if err != nil {
		t.Fatal(err)
	}
	a, _ := ReportData(&p.Body)
	b, _ := ReportData(&q.Body)
	if a != b {
		t.Fatal("report data changed through JSON")
	}
	if err := q.CheckSessions(); err != nil {
		t.Fatal(err)
	}
	if s := q.Session(1, 1); s == nil || string(s.C2S) != "c2s 1 1" {
		t.Fatalf("Session(1, 1) = %+v", s)
	}
	if q.Session(5, 0) != nil {
		t.Fatal("Session of a missing probe")
	}
}

// leafPaths lists the paths to every scalar in a JSON value, and every
// object (for insertions and deletions).
type jpath []any // string keys and int indexes

func walkJSON(v any, path jpath, leaf func(jpath), object func(jpath, map[string]any)) {
	switch x := v.(type) {
	case map[string]any:
		if object != nil {
			object(path, x)
		}
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			walkJSON(x[k], append(append(jpath{}, path...), k), leaf, object)
		}
	case []any:
		for i, e := range x {
			walkJSON(e, append(append(jpath{}, path...), i), leaf, object)
		}
	default:
		leaf(path)
	}
}

func get(v any, p jpath) any {
	for _, k := range p {
		switch k := k.(type) {
		case string:
			v = v.(map[string]any)[k]
		case int:
			v = v.([]any)[k]
		}
	}
	return v
}

func set(v any, p jpath, x any) {
	parent := get(v, p[:len(p)-1])
	switch k := p[len(p)-1].(type) {
	case string:
		parent.(map[string]any)[k] = x
	case int:
		parent.([]any)[k] = x
	}
}

func parse(t testing.TB, doc []byte) any {
	t.Helper()
	var v any
	d := json.NewDecoder(bytes.NewReader(doc))
	d.UseNumber()
	if err := d.Decode(&v); err != nil {
		t.Fatal(err)
	}
	return v
}

func marshal(v any) []byte {
	b, _ := json.Marshal(v)
	return b
}

// Altering any field of the body after binding changes the report data (or
// makes the body invalid): nothing in the body is outside the binding.
func TestEveryBodyFieldIsBound(t *testing.T) {
	p := sampleProof(t)
	want, _ := ReportData(&p.Body)
	doc := parse(t, encodeJSON(t, p))
	n := 0
	walkJSON(get(doc, jpath{"body"}), jpath{"body"}, func(path jpath) {
		n++
		alt := parse(t, marshal(doc))
		switch x := get(alt, path).(type) {
		case json.Number:
			v, _ := x.Int64()
			if strings.HasPrefix(string(x), "18446744073709551615") {
				set(alt, path, json.Number("18446744073709551614"))
			} else {
				set(alt, path, json.Number(fmt.Sprint(v+1)))
			}
		case string:
			if h, err := hex.DecodeString(x); err == nil && len(h) == 32 {
				h[0] ^= 1
				set(alt, path, hex.EncodeToString(h))
			} else if x == "" {
				set(alt, path, "AA==")
			} else {
				set(alt, path, "Zm9v") // a different string, also valid base64
			}
		case nil:
			set(alt, path, "AQ==")
		default:
			t.Fatalf("%v: unexpected %T", path, x)
		}
		q, err := Decode(bytes.NewReader(marshal(alt)))
		if err != nil {
			return // refused outright: fine
		}
		got, err := ReportData(&q.Body)
		if err == nil && got == want {
			t.Errorf("altering %v leaves the report data unchanged", path)
		}
	}, nil)
	if n < 40 {
		t.Fatalf("only %d body fields visited", n)
	}
}

func TestDecodeRejects(t *testing.T) {
	p := sampleProof(t)
	good := encodeJSON(t, p)
	if _, err := Decode(bytes.NewReader(good)); err != nil {
		t.Fatal(err)
	}
	mut := func(f func(v any)) []byte {
		v := parse(t, good)
		f(v)
		return marshal(v)
	}
	tests := map[string]struct {
		doc  []byte
		want error
	}{
		"version 2":          {mut(func(v any) { set(v, jpath{"version"}, 2) }), ErrUnsupportedVersion},
		"version 0":          {mut(func(v any) { set(v, jpath{"version"}, 0) }), ErrUnsupportedVersion},
		"version string":     {mut(func(v any) { set(v, jpath{"version"}, "1") }), ErrFormat},
		"no version":         {mut(func(v any) { delete(v.(map[string]any), "version") }), ErrFormat},
		"trailing data":      {append(bytes.Clone(good), []byte(`{}`)...), ErrFormat},
		"not json":           {[]byte(`{"version":1,`), ErrFormat},
		"oversized":          {append([]byte(`{"version":1,"x":"`), bytes.Repeat([]byte("a"), MaxProofBytes)...), ErrFormat},
		"duplicate key":      {bytes.Replace(good, []byte(`"tee": "azure-tdx",`), []byte(`"tee": "azure-tdx", "tee": "sim",`), 1), ErrFormat},
		"tee unknown":        {mut(func(v any) { set(v, jpath{"body", "tee"}, "sgx") }), ErrFormat},
		"app binding 65":     {mut(func(v any) { set(v, jpath{"body", "app_binding"}, base64.StdEncoding.EncodeToString(make([]byte, 65))) }), ErrFormat},
		"no probes":          {mut(func(v any) { set(v, jpath{"body", "probes"}, []any{}) }), ErrFormat},
		"conn index":         {mut(func(v any) { set(v, jpath{"body", "probes", 1, "conns", 1, "index"}, 7) }), ErrFormat},
		"echo base":          {mut(func(v any) { set(v, jpath{"body", "probes", 1, "conns", 1, "echo_base"}, 0) }), ErrFormat},
		"method":             {mut(func(v any) { set(v, jpath{"body", "probes", 0, "method"}, "icmp") }), ErrFormat},
		"port 0":             {mut(func(v any) { set(v, jpath{"body", "probes", 0, "port"}, 0) }), ErrFormat},
		"port 70000":         {mut(func(v any) { set(v, jpath{"body", "probes", 0, "port"}, 70000) }), ErrFormat},
		"zero hz":            {mut(func(v any) { set(v, jpath{"body", "counter", "hz"}, 0) }), ErrFormat},
		"negative hz":        {mut(func(v any) { set(v, jpath{"body", "counter", "hz"}, -1) }), ErrFormat},
		"short nonce":        {mut(func(v any) { set(v, jpath{"body", "challenge", "nonce"}, "abcd") }), ErrFormat},
		"nonce not hex":      {mut(func(v any) { set(v, jpath{"body", "challenge", "nonce"}, strings.Repeat("zz", 32)) }), ErrFormat},
		"bad base64":         {mut(func(v any) { set(v, jpath{"sessions", 0, "c2s"}, "!!!") }), ErrFormat},
		"long string":        {mut(func(v any) { set(v, jpath{"body", "probes", 0, "endpoint"}, strings.Repeat("e", 256)) }), ErrFormat},
		"attestation tee":    {mut(func(v any) { set(v, jpath{"attestation", "tee"}, "") }), ErrFormat},
		"pcr size":           {mut(func(v any) { set(v, jpath{"attestation", "azure", "tpm_quote", "pcrs", 0}, "AA==") }), ErrFormat},
		"pcr indices":        {mut(func(v any) { set(v, jpath{"attestation", "azure", "tpm_quote", "pcr_indices"}, []any{}) }), ErrFormat},
		"object for string":  {mut(func(v any) { set(v, jpath{"body", "tee"}, map[string]any{"a": 1}) }), ErrFormat},
		"list for object":    {mut(func(v any) { set(v, jpath{"body", "counter"}, []any{1}) }), ErrFormat},
		"string for list":    {mut(func(v any) { set(v, jpath{"sessions"}, "x") }), ErrFormat},
		"bool for number":    {mut(func(v any) { set(v, jpath{"body", "created_unix_nano"}, true) }), ErrFormat},
		"null required body": {mut(func(v any) { set(v, jpath{"body"}, nil) }), ErrFormat},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			if _, err := Decode(bytes.NewReader(tt.doc)); !errors.Is(err, tt.want) {
				t.Fatalf("err = %v, want %v", err, tt.want)
			}
		})
	}
}

// Every object of the document refuses a missing required field and an
// unknown one.
func TestDecodeEveryObjectIsStrict(t *testing.T) {
	good := encodeJSON(t, sampleProof(t))
	doc := parse(t, good)
	objects := 0
	walkJSON(doc, jpath{}, func(jpath) {}, func(path jpath, obj map[string]any) {
		objects++
		for key := range obj {
			alt := parse(t, good)
			o := get(alt, path).(map[string]any)
			delete(o, key)
			_, err := Decode(bytes.NewReader(marshal(alt)))
			optional := key == "azure" || key == "maa_token" || key == "tpm_quote" || key == "ak_cert"
			if optional && err != nil {
				t.Errorf("%v: removing optional %q refused: %v", path, key, err)
			}
			if !optional && !errors.Is(err, ErrFormat) {
				t.Errorf("%v: removing %q: err = %v, want ErrFormat", path, key, err)
			}
		}
		alt := parse(t, good)
		get(alt, path).(map[string]any)["surplus"] = 1
		if _, err := Decode(bytes.NewReader(marshal(alt))); !errors.Is(err, ErrFormat) && !errors.Is(err, ErrUnsupportedVersion) {
			t.Errorf("%v: an unknown field: err = %v", path, err)
		}
	})
	if objects < 10 {
		t.Fatalf("only %d objects visited", objects)
	}
}

func TestCheckSessions(t *testing.T) {
	tests := map[string]func(p *Proof){
		"missing":      func(p *Proof) { p.Sessions = p.Sessions[1:] },
		"extra":        func(p *Proof) { p.Sessions = append(p.Sessions, Session{Probe: 0, Conn: 5}) },
		"repeated":     func(p *Proof) { p.Sessions[1] = p.Sessions[0] },
		"unknown":      func(p *Proof) { p.Sessions[0].Probe = 9 },
		"c2s altered":  func(p *Proof) { p.Sessions[0].C2S[0] ^= 1 },
		"s2c altered":  func(p *Proof) { p.Sessions[1].S2C = append(p.Sessions[1].S2C, 0) },
		"keylog other": func(p *Proof) { p.Sessions[2].KeyLog = p.Sessions[0].KeyLog },
		"oversized":    func(p *Proof) { p.Sessions[0].C2S = make([]byte, MaxStreamBytes+1) },
	}
	for name, f := range tests {
		t.Run(name, func(t *testing.T) {
			p := sampleProof(t)
			f(p)
			if err := p.CheckSessions(); !errors.Is(err, ErrSessions) {
				t.Fatalf("err = %v, want ErrSessions", err)
			}
		})
	}
}

func TestEncodeRefusesInvalid(t *testing.T) {
	p := sampleProof(t)
	p.Body.TEE = "nope"
	if _, err := ReportData(&p.Body); !errors.Is(err, ErrBody) {
		t.Fatalf("ReportData of an invalid body: %v", err)
	}
	if err := p.Encode(&bytes.Buffer{}); !errors.Is(err, ErrBody) {
		t.Fatalf("Encode of an invalid body: %v", err)
	}
	p = sampleProof(t)
	p.Version = 2
	if err := p.Encode(&bytes.Buffer{}); !errors.Is(err, ErrUnsupportedVersion) {
		t.Fatalf("Encode of version 2: %v", err)
	}
}

func FuzzDecode(f *testing.F) {
	f.Add(encodeJSON(f, sampleProof(f)))
	f.Add([]byte(`{"version":1}`))
	f.Add([]byte(`{"version":2}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		p, err := Decode(bytes.NewReader(b))
		if err != nil {
			if !errors.Is(err, ErrFormat) && !errors.Is(err, ErrUnsupportedVersion) {
				t.Fatalf("error %v wraps neither ErrFormat nor ErrUnsupportedVersion", err)
			}
			return
		}
		// What decodes re-encodes, decodes again, and binds the same.
		var buf bytes.Buffer
		if err := p.Encode(&buf); err != nil {
			t.Fatalf("a decoded proof does not encode: %v", err)
		}
		q, err := Decode(&buf)
		if err != nil {
			t.Fatalf("a re-encoded proof does not decode: %v", err)
		}
		a, err1 := ReportData(&p.Body)
		c, err2 := ReportData(&q.Body)
		if err1 != nil || err2 != nil || a != c {
			t.Fatalf("report data changed through a round trip: %v %v", err1, err2)
		}
	})
}
