package verifier

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha512"
	"crypto/x509"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/latencyproof/poc/evidence"
	"github.com/latencyproof/poc/internal/maasim"
	"github.com/latencyproof/poc/internal/simtee"
	"github.com/latencyproof/poc/transcript"
	"github.com/latencyproof/poc/verifier/dcap"
	"github.com/latencyproof/poc/verifier/maa"
)

// The hardening corpus: single mutations of one honest proof, in every
// field and every nested structure, each with the stage and outcome at
// which Verify must refuse it.
//
// A mutation of the body after binding no longer matches the quote: it is
// refused at the binding stage, unless an earlier stage (challenge, TEE,
// counter) refuses it first. A mutation of what the body only commits to
// (the sessions' bytes) is refused at the transcripts stage, where their
// hashes are compared. Where an attacker could re-bind — own a TEE that
// signs whatever body its code produces, as the simulated TEE does — the
// entry has a "/re-bound" twin whose body is re-attested (with session
// hashes recomputed when the sessions changed), so that a check behind the
// binding must catch it: transcripts, scope, latency. Re-bound twins are
// only listed where such a check exists: a field no later check reads
// (created_unix_nano, counter.kind, conns[].address, an accepted
// counter.source) can be re-bound at will, and a re-bound body that lies
// consistently (stamps and claims shifted together to look faster) is
// stopped by the quote's measurements, which a real policy pins, not by
// any check a corpus can reach.
//
// Besides the proof, some entries change the verifier's inputs: its clock,
// collateral (expired, of another platform, re-signed, revoked), keys and
// policy. JSON-level entries change the document's bytes and are refused
// when it is decoded, at the proof stage, as cmd/poc does.
//
// `go test ./verifier -run TestCorpus -update` writes the corpus to
// testdata/corpus: the verifier's side (context.json and its files), the
// honest proof, every mutated proof and MANIFEST.json with the expected
// refusals. TestCorpusFiles replays the files; FuzzVerify seeds from them.

var updateCorpus = flag.Bool("update", false, "write the hardening corpus to "+corpusDir)

// mutation changes a copy of the honest proof.
type mutation func(c *corpusEnv, p *evidence.Proof) error

// corpusEntry is one row of the corpus.
type corpusEntry struct {
	name string
	// proof mutates a copy of the honest proof; nil leaves it as is.
	proof mutation
	// rebind re-attests the mutated body with the simulated TEE.
	rebind bool
	// raw mutates the proof document's bytes, after proof and rebind.
	raw func(doc []byte) ([]byte, error)

	// Verifier inputs: a shift of the pinned clock, another collateral
	// bundle, other options or policy (described by input).
	now        time.Duration
	collateral func(c *corpusEnv) ([]byte, error)
	opts       func(c *corpusEnv, pol *Policy, o *Options)
	input      string

	stage   string
	outcome Outcome
	// want is a sentinel the error must wrap, where there is one to name.
	want error
	// bug names a known verifier bug that lets the entry through: the
	// subtest is skipped, loudly, while the bug stands.
	bug string
	// kernel marks an entry that needs the kernel's time on every stamp
	// of the honest proof (the lab does not always give it).
	kernel bool
}

// set adapts a mutation that cannot fail.
func set(f func(p *evidence.Proof)) mutation {
	return func(_ *corpusEnv, p *evidence.Proof) error { f(p); return nil }
}

// also chains mutations.
func also(fs ...mutation) mutation {
	return func(c *corpusEnv, p *evidence.Proof) error {
		for _, f := range fs {
			if err := f(c, p); err != nil {
				return err
			}
		}
		return nil
	}
}

// rehashed makes a mutation of the sessions' bytes survive the hash check.
func rehashed(f mutation) mutation {
	return also(f, set(rehash))
}

// bodyPair is a mutation of the body: refused at binding as it is, and at
// the given stage once re-bound.
func bodyPair(name string, f mutation, stage string, out Outcome, want error) []corpusEntry {
	return []corpusEntry{
		{name: name, proof: f, stage: StageBinding, outcome: RefusedCrypto, want: ErrBinding},
		{name: name + "/re-bound", proof: f, rebind: true, stage: stage, outcome: out, want: want},
	}
}

// sessionPair is a mutation of a session's bytes: refused by the hash check
// as it is; re-hashed and re-bound, by the transcript check want.
func sessionPair(name string, f mutation, want error) []corpusEntry {
	return []corpusEntry{
		{name: name, proof: f, stage: StageTranscripts, outcome: RefusedCrypto, want: evidence.ErrSessions},
		{name: name + "/re-bound", proof: rehashed(f), rebind: true, stage: StageTranscripts, outcome: RefusedCrypto, want: want},
	}
}

func conn(p *evidence.Proof, i, j int) *evidence.Conn { return &p.Body.Probes[i].Conns[j] }

// flip changes one byte of b.
func flip(b []byte, off int) { b[off] ^= 0x5a }

// flipMid changes the middle byte of a record's payload.
func flipMid(b []byte, r tlsRecord) { flip(b, r.off+5+(r.n-5)/2) }

func lastRecord(b []byte) tlsRecord {
	rs := records(b)
	return rs[len(rs)-1]
}

// quoteFlip flips a byte of the quote.
func quoteFlip(off int) mutation {
	return set(func(p *evidence.Proof) { flip(p.Attestation.Quote, off) })
}

// quoteOf replaces the quote with one the given simulated TEE signs over
// the body's report data (or another), with the given TD.
func quoteOf(sim func(c *corpusEnv) *simtee.Sim, td simtee.TDOptions, otherRD bool) mutation {
	return func(c *corpusEnv, p *evidence.Proof) error {
		rd, err := evidence.ReportData(&p.Body)
		if err != nil {
			return err
		}
		if otherRD {
			rd[0] ^= 1
		}
		q, err := sim(c).Quote(rd, td)
		if err != nil {
			return err
		}
		p.Attestation.Quote = q
		return nil
	}
}

func corpusSim(c *corpusEnv) *simtee.Sim { return c.sim }
func e2eSim(c *corpusEnv) *simtee.Sim    { return c.e.Sim }

// token edits the MAA token (see corpusEnv.editToken).
func token(edit func(h, cl map[string]any), resign bool) mutation {
	return func(c *corpusEnv, p *evidence.Proof) error {
		tok, err := c.editToken(p.Attestation.MAAToken, edit, resign)
		p.Attestation.MAAToken = tok
		return err
	}
}

// tokenRaw rewrites the token's segments: header and payload decoded, the
// signature as its base64url segment.
func tokenRaw(f func(h, pl []byte, sig string) string) mutation {
	return func(c *corpusEnv, p *evidence.Proof) error {
		h, pl, sig, err := tokenParts(p.Attestation.MAAToken)
		if err != nil {
			return err
		}
		p.Attestation.MAAToken = f(h, pl, sig)
		return nil
	}
}

func runtimeClaims(cl map[string]any) map[string]any {
	rt, _ := cl["x-ms-runtime"].(map[string]any)
	return rt
}

// keyLog edits one key-log line of session (0, 0).
func keyLog(label string, edit func(f []string) string) mutation {
	return set(func(p *evidence.Proof) {
		s := session(p, 0, 0)
		s.KeyLog = editKeyLogLine(s.KeyLog, label, edit)
	})
}

// editDoc rewrites the proof document as generic JSON.
func editDoc(f func(m map[string]any)) func([]byte) ([]byte, error) {
	return func(doc []byte) ([]byte, error) {
		m, err := jsonObject(doc)
		if err != nil {
			return nil, err
		}
		f(m)
		return json.Marshal(m)
	}
}

func obj(m map[string]any, path ...any) map[string]any {
	var v any = m
	for _, k := range path {
		switch k := k.(type) {
		case string:
			v = v.(map[string]any)[k]
		case int:
			v = v.([]any)[k]
		}
	}
	return v.(map[string]any)
}

// replaceOnce rewrites the first occurrence of old in the document.
func replaceOnce(old, repl string) func([]byte) ([]byte, error) {
	return func(doc []byte) ([]byte, error) {
		if !bytes.Contains(doc, []byte(old)) {
			return nil, fmt.Errorf("corpus: document has no %q", old)
		}
		return bytes.Replace(doc, []byte(old), []byte(repl), 1), nil
	}
}

// otherEndpoint is the catalog name of an endpoint outside the claimed
// region.
func otherEndpoint(c *corpusEnv) string {
	for _, e := range c.e.Lab.State.Catalog.Endpoints {
		if e.Region != "westeurope" && e.Echo.Method == evidence.MethodH2Ping {
			return e.Name
		}
	}
	panic("corpus: the e2e world has no endpoint outside westeurope")
}

// kernelClock appraises round trips by the kernel's timestamps, which
// cross-checks them against the cycle counter.
func kernelClock(_ *corpusEnv, pol *Policy, _ *Options) { pol.Latency.Clock = "kernel" }

var (
	reFMSPC      = regexp.MustCompile(`"fmspc":"[0-9a-fA-F]{12}"`)
	reNextUpdate = regexp.MustCompile(`"nextUpdate":"[^"]*"`)
	reIssueDate  = regexp.MustCompile(`"issueDate":"[^"]*"`)
	reUpToDate   = regexp.MustCompile(`"tcbStatus":"UpToDate"`)
	reIsvProdID  = regexp.MustCompile(`"isvprodid":[0-9]+`)
)

// corpusEntries is the corpus.
func corpusEntries() []corpusEntry {
	var es []corpusEntry
	add := func(e ...corpusEntry) { es = append(es, e...) }
	const (
		rc = RefusedCrypto
		rp = RefusedPolicy
		rl = RefusedLatency
		cc = CouldNotCheck
	)

	// --- the document: JSON level, refused when decoded -----------------
	add(
		corpusEntry{name: "json/unknown-field/top", raw: editDoc(func(m map[string]any) { m["extra"] = 1 }), stage: StageProof, outcome: rc, want: evidence.ErrFormat},
		corpusEntry{name: "json/unknown-field/body", raw: editDoc(func(m map[string]any) { obj(m, "body")["bonus"] = true }), stage: StageProof, outcome: rc, want: evidence.ErrFormat},
		corpusEntry{name: "json/unknown-field/conn", raw: editDoc(func(m map[string]any) { obj(m, "body", "probes", 0, "conns", 0)["rtt_ns"] = 1 }), stage: StageProof, outcome: rc, want: evidence.ErrFormat},
		corpusEntry{name: "json/unknown-field/stamp", raw: editDoc(func(m map[string]any) {
			obj(m, "body", "probes", 0, "conns", 0, "c2s_stamps", 0)["tsc_aux"] = 0
		}), stage: StageProof, outcome: rc, want: evidence.ErrFormat},
		corpusEntry{name: "json/unknown-field/attestation", raw: editDoc(func(m map[string]any) { obj(m, "attestation")["quote2"] = "" }), stage: StageProof, outcome: rc, want: evidence.ErrFormat},
		corpusEntry{name: "json/missing-field/body.counter.hz", raw: editDoc(func(m map[string]any) { delete(obj(m, "body", "counter"), "hz") }), stage: StageProof, outcome: rc, want: evidence.ErrFormat},
		corpusEntry{name: "json/missing-field/body.challenge.tag", raw: editDoc(func(m map[string]any) { delete(obj(m, "body", "challenge"), "tag") }), stage: StageProof, outcome: rc, want: evidence.ErrFormat},
		corpusEntry{name: "json/missing-field/sessions", raw: editDoc(func(m map[string]any) { delete(m, "sessions") }), stage: StageProof, outcome: rc, want: evidence.ErrFormat},
		corpusEntry{name: "json/missing-field/attestation.quote", raw: editDoc(func(m map[string]any) { delete(obj(m, "attestation"), "quote") }), stage: StageProof, outcome: rc, want: evidence.ErrFormat},
		corpusEntry{name: "json/missing-field/version", raw: editDoc(func(m map[string]any) { delete(m, "version") }), stage: StageProof, outcome: rc, want: evidence.ErrFormat},
		corpusEntry{name: "json/repeated-key/body.tee", raw: replaceOnce(`"tee":"sim"`, `"tee":"tdx","tee":"sim"`), stage: StageProof, outcome: rc, want: evidence.ErrFormat},
		corpusEntry{name: "json/repeated-key/version", raw: replaceOnce(`"version":1`, `"version":1,"version":1`), stage: StageProof, outcome: rc, want: evidence.ErrFormat},
		corpusEntry{name: "json/wrong-type/port-string", raw: editDoc(func(m map[string]any) {
			pr := obj(m, "body", "probes", 0)
			pr["port"] = fmt.Sprint(pr["port"])
		}), stage: StageProof, outcome: rc, want: evidence.ErrFormat},
		corpusEntry{name: "json/wrong-type/nonce-number", raw: editDoc(func(m map[string]any) { obj(m, "body", "challenge")["nonce"] = 7 }), stage: StageProof, outcome: rc, want: evidence.ErrFormat},
		corpusEntry{name: "json/wrong-type/hz-negative", raw: editDoc(func(m map[string]any) { obj(m, "body", "counter")["hz"] = -1 }), stage: StageProof, outcome: rc, want: evidence.ErrFormat},
		corpusEntry{name: "json/wrong-type/hz-fraction", raw: editDoc(func(m map[string]any) { obj(m, "body", "counter")["hz"] = 2.5e9 + 0.5 }), stage: StageProof, outcome: rc, want: evidence.ErrFormat},
		corpusEntry{name: "json/wrong-type/stamps-object", raw: editDoc(func(m map[string]any) {
			obj(m, "body", "probes", 0, "conns", 0)["c2s_stamps"] = map[string]any{}
		}), stage: StageProof, outcome: rc, want: evidence.ErrFormat},
		corpusEntry{name: "json/wrong-type/body-null", raw: editDoc(func(m map[string]any) { m["body"] = nil }), stage: StageProof, outcome: rc, want: evidence.ErrFormat},
		corpusEntry{name: "json/wrong-type/hash-short", raw: editDoc(func(m map[string]any) {
			c := obj(m, "body", "probes", 0, "conns", 0)
			c["c2s_sha256"] = c["c2s_sha256"].(string)[:63]
		}), stage: StageProof, outcome: rc, want: evidence.ErrFormat},
		corpusEntry{name: "json/wrong-type/base64", raw: editDoc(func(m map[string]any) { obj(m, "body", "challenge")["tag"] = "not base64!" }), stage: StageProof, outcome: rc, want: evidence.ErrFormat},
		corpusEntry{name: "json/wrong-version/2", raw: replaceOnce(`"version":1`, `"version":2`), stage: StageProof, outcome: rc, want: evidence.ErrUnsupportedVersion},
		corpusEntry{name: "json/wrong-version/string", raw: replaceOnce(`"version":1`, `"version":"1"`), stage: StageProof, outcome: rc, want: evidence.ErrFormat},
		corpusEntry{name: "json/wrong-version/float", raw: replaceOnce(`"version":1`, `"version":1.0`), stage: StageProof, outcome: rc, want: evidence.ErrUnsupportedVersion},
		corpusEntry{name: "json/trailing-data", raw: func(doc []byte) ([]byte, error) { return append(doc, []byte(` {}`)...), nil }, stage: StageProof, outcome: rc, want: evidence.ErrFormat},
		corpusEntry{name: "json/truncated", raw: func(doc []byte) ([]byte, error) { return doc[:len(doc)/2], nil }, stage: StageProof, outcome: rc, want: evidence.ErrFormat},
		corpusEntry{name: "json/empty", raw: func([]byte) ([]byte, error) { return nil, nil }, stage: StageProof, outcome: rc, want: evidence.ErrFormat},
		corpusEntry{name: "json/not-an-object", raw: func([]byte) ([]byte, error) { return []byte(`[1]`), nil }, stage: StageProof, outcome: rc, want: evidence.ErrFormat},
		corpusEntry{name: "json/oversized", raw: func(doc []byte) ([]byte, error) {
			return append(doc, bytes.Repeat([]byte(" "), evidence.MaxProofBytes+1-len(doc)+1)...), nil
		}, stage: StageProof, outcome: rc, want: evidence.ErrFormat},
	)

	// --- the proof's version and the body's limits: no encoding, no binding
	add(
		corpusEntry{name: "version", proof: set(func(p *evidence.Proof) { p.Version = 2 }), stage: StageProof, outcome: rc, want: evidence.ErrUnsupportedVersion},
		corpusEntry{name: "body.challenge.verifier/too-long", proof: set(func(p *evidence.Proof) { p.Body.Challenge.Verifier = strings.Repeat("v", evidence.MaxStringLen+1) }), stage: StageProof, outcome: rc, want: evidence.ErrBody},
		corpusEntry{name: "body.challenge.tag/too-long", proof: set(func(p *evidence.Proof) { p.Body.Challenge.Tag = make([]byte, evidence.MaxTagLen+1) }), stage: StageProof, outcome: rc, want: evidence.ErrBody},
		corpusEntry{name: "body.app_binding/too-long", proof: set(func(p *evidence.Proof) { p.Body.AppBinding = make([]byte, evidence.MaxAppBindingLen+1) }), stage: StageProof, outcome: rc, want: evidence.ErrBody},
		corpusEntry{name: "body.tee/unknown", proof: set(func(p *evidence.Proof) { p.Body.TEE = "sev-snp" }), stage: StageProof, outcome: rc, want: evidence.ErrBody},
		corpusEntry{name: "body.counter.kind/too-long", proof: set(func(p *evidence.Proof) { p.Body.Counter.Kind = strings.Repeat("k", evidence.MaxStringLen+1) }), stage: StageProof, outcome: rc, want: evidence.ErrBody},
		corpusEntry{name: "body.counter.hz/zero", proof: set(func(p *evidence.Proof) { p.Body.Counter.Hz = 0 }), stage: StageProof, outcome: rc, want: evidence.ErrBody},
		corpusEntry{name: "body.probes/none", proof: set(func(p *evidence.Proof) { p.Body.Probes = nil }), stage: StageProof, outcome: rc, want: evidence.ErrBody},
		corpusEntry{name: "body.probes[].endpoint/too-long", proof: set(func(p *evidence.Proof) { p.Body.Probes[0].Endpoint = strings.Repeat("e", evidence.MaxStringLen+1) }), stage: StageProof, outcome: rc, want: evidence.ErrBody},
		corpusEntry{name: "body.probes[].hostname/empty", proof: set(func(p *evidence.Proof) { p.Body.Probes[0].Hostname = "" }), stage: StageProof, outcome: rc, want: evidence.ErrBody},
		corpusEntry{name: "body.probes[].port/zero", proof: set(func(p *evidence.Proof) { p.Body.Probes[0].Port = 0 }), stage: StageProof, outcome: rc, want: evidence.ErrBody},
		corpusEntry{name: "body.probes[].method/unknown", proof: set(func(p *evidence.Proof) { p.Body.Probes[0].Method = "ftp" }), stage: StageProof, outcome: rc, want: evidence.ErrBody},
		corpusEntry{name: "body.probes[].conns/none", proof: set(func(p *evidence.Proof) { p.Body.Probes[1].Conns = nil }), stage: StageProof, outcome: rc, want: evidence.ErrBody},
		corpusEntry{name: "body.probes[].conns[].index", proof: set(func(p *evidence.Proof) { conn(p, 0, 1).Index = 0 }), stage: StageProof, outcome: rc, want: evidence.ErrBody},
		corpusEntry{name: "body.probes[].conns[].echo_base", proof: set(func(p *evidence.Proof) { conn(p, 0, 1).EchoBase++ }), stage: StageProof, outcome: rc, want: evidence.ErrBody},
		corpusEntry{name: "body.probes[].conns[].echo_base/first", proof: set(func(p *evidence.Proof) { conn(p, 1, 0).EchoBase = 1 }), stage: StageProof, outcome: rc, want: evidence.ErrBody},
	)

	// --- the challenge: authenticated by the verifier's key, whatever the binding
	for _, f := range []struct {
		name   string
		m      func(c *evidence.Challenge)
		rebind bool
	}{
		{"nonce", func(c *evidence.Challenge) { c.Nonce[0] ^= 1 }, true},
		{"verifier", func(c *evidence.Challenge) { c.Verifier = "another verifier (key 0000000000000000)" }, false},
		{"issued_unix", func(c *evidence.Challenge) { c.IssuedUnix-- }, false},
		{"expires_unix", func(c *evidence.Challenge) { c.ExpiresUnix += 3600 }, true},
		{"tag", func(c *evidence.Challenge) { c.Tag[0] ^= 1 }, true},
		{"tag/removed", func(c *evidence.Challenge) { c.Tag = nil }, false},
	} {
		m := set(func(p *evidence.Proof) { f.m(&p.Body.Challenge) })
		add(corpusEntry{name: "body.challenge." + f.name, proof: m, stage: StageChallenge, outcome: rc, want: ErrForeignChallenge})
		if f.rebind {
			add(corpusEntry{name: "body.challenge." + f.name + "/re-bound", proof: m, rebind: true, stage: StageChallenge, outcome: rc, want: ErrForeignChallenge})
		}
	}
	// Another genuine challenge of this verifier, with the measurements
	// made for the first: once re-bound, only the probe nonces, which
	// must derive from the challenge, tie the transcripts to it.
	freshChallenge := func(c *corpusEnv, p *evidence.Proof) error {
		ch, err := c.e.key.Issue("corpus verifier", c.now.Add(-30*time.Second), corpusChallengeTTL)
		p.Body.Challenge = ch
		return err
	}
	add(bodyPair("body.challenge/another-genuine-challenge", freshChallenge, StageTranscripts, rc, ErrTranscript)...)
	add(
		corpusEntry{name: "verifier/challenge-key-of-another-verifier", opts: func(_ *corpusEnv, _ *Policy, o *Options) {
			k, _ := NewChallengeKey()
			o.ChallengeKey = k
		}, input: "another verifier's challenge key", stage: StageChallenge, outcome: rc, want: ErrForeignChallenge},
		corpusEntry{name: "verifier/clock-after-expiry", now: corpusChallengeTTL, stage: StageChallenge, outcome: rp, want: ErrChallengeExpired},
		corpusEntry{name: "verifier/clock-before-issue", now: -time.Minute - 10*time.Minute, stage: StageChallenge, outcome: rp, want: ErrChallengeNotYetValid},
		corpusEntry{name: "verifier/replayed", opts: func(c *corpusEnv, _ *Policy, o *Options) {
			n := NewMemoryNonces()
			n.Use(c.base.Body.Challenge.Nonce, time.Unix(c.base.Body.Challenge.ExpiresUnix, 0))
			o.Nonces = n
		}, input: "the nonce store holds the challenge's nonce (the proof was presented before)", stage: StageChallenge, outcome: rp, want: ErrReplay},
	)

	// --- the TEE label, in the body and in the attestation
	add(
		corpusEntry{name: "body.tee/tdx", proof: set(func(p *evidence.Proof) { p.Body.TEE = evidence.TEETDX }), stage: StageTEE, outcome: rc, want: ErrTEE},
		corpusEntry{name: "attestation.tee/azure-tdx", proof: set(func(p *evidence.Proof) { p.Attestation.TEE = evidence.TEEAzureTDX }), stage: StageTEE, outcome: rc, want: ErrTEE},
		corpusEntry{name: "attestation.tee/unknown", proof: set(func(p *evidence.Proof) { p.Attestation.TEE = "sev-snp" }), stage: StageProof, outcome: rc, want: evidence.ErrFormat},
		corpusEntry{name: "body.tee+attestation.tee/tdx", proof: set(func(p *evidence.Proof) { p.Body.TEE, p.Attestation.TEE = evidence.TEETDX, evidence.TEETDX }), stage: StageTEE, outcome: rp, want: ErrTEE},
		corpusEntry{name: "body.tee+attestation.tee/tdx/tdx-policy", proof: set(func(p *evidence.Proof) { p.Body.TEE, p.Attestation.TEE = evidence.TEETDX, evidence.TEETDX }),
			opts:  func(_ *corpusEnv, pol *Policy, _ *Options) { pol.TEEs = []string{evidence.TEETDX} },
			input: "the policy accepts tdx (Intel's root only)", stage: StageQuote, outcome: rc, want: dcap.ErrPCKChain},
		corpusEntry{name: "attestation.azure/on-a-sim-proof", proof: set(func(p *evidence.Proof) {
			p.Attestation.Azure = &evidence.Azure{
				HCLReport: []byte("HCLA not an HCL report"), AKCert: []byte{0x30, 0x03, 0x02, 0x01, 0x01},
				TPMQuote: &evidence.TPMQuote{Attest: []byte("attest"), Signature: []byte("signature"),
					PCRs: [][]byte{make([]byte, 32)}, Indices: []uint32{0}, Nonce: p.Attestation.Quote[qReportData : qReportData+32]},
			}
		}), stage: StageTEE, outcome: rc, want: ErrTEE},
		corpusEntry{name: "verifier/no-sim-root", opts: func(_ *corpusEnv, _ *Policy, o *Options) { o.SimRoots = nil }, input: "no simulated root given", stage: StageTEE, outcome: cc, want: ErrOptions},
		corpusEntry{name: "verifier/default-policy-tees", opts: func(_ *corpusEnv, pol *Policy, _ *Options) { pol.TEEs = nil }, input: "the policy's default TEEs (tdx, azure-tdx)", stage: StageTEE, outcome: rp, want: ErrTEE},
		corpusEntry{name: "verifier/other-sim-root", opts: func(c *corpusEnv, _ *Policy, o *Options) { o.SimRoots = []*x509.Certificate{c.e.Sim.Root()} },
			input: "another simulated TEE's root", stage: StageQuote, outcome: rc, want: dcap.ErrPCKChain},
	)

	// --- the counter: checked against policy before the binding
	hzQuarter := set(func(p *evidence.Proof) { p.Body.Counter.Hz = max(p.Body.Counter.Hz/4, 500_000_001) })
	hzFour := set(func(p *evidence.Proof) { p.Body.Counter.Hz *= 4 })
	add(
		corpusEntry{name: "body.counter.source/untrusted", proof: set(func(p *evidence.Proof) { p.Body.Counter.Source = "cpuid-0x16" }), stage: StageCounter, outcome: rp, want: ErrCounter},
		corpusEntry{name: "body.counter.source/accepted", proof: set(func(p *evidence.Proof) { p.Body.Counter.Source = "cpuid-0x15" }), stage: StageBinding, outcome: rc, want: ErrBinding},
		corpusEntry{name: "body.counter.kind", proof: set(func(p *evidence.Proof) { p.Body.Counter.Kind = "rdtscp" + p.Body.Counter.Kind }), stage: StageBinding, outcome: rc, want: ErrBinding},
		corpusEntry{name: "body.counter.hz/implausible", proof: set(func(p *evidence.Proof) { p.Body.Counter.Hz = 20_000_000_000 }), stage: StageCounter, outcome: rp, want: ErrCounter},
		corpusEntry{name: "body.counter.hz/plus-one", proof: set(func(p *evidence.Proof) { p.Body.Counter.Hz++ }), stage: StageBinding, outcome: rc, want: ErrBinding},
		corpusEntry{name: "body.counter.hz/quarter/re-bound", proof: hzQuarter, rebind: true, stage: StageLatency, outcome: rl},
		corpusEntry{name: "body.counter.hz/times-four/re-bound", proof: hzFour, rebind: true, stage: StageLatency, outcome: rl},
		corpusEntry{name: "body.counter.hz/times-four/re-bound/kernel-clock", proof: hzFour, rebind: true, opts: kernelClock, kernel: true,
			input: "the policy appraises the kernel's clock", stage: StageLatency, outcome: rc},
	)

	// --- the quote's bytes: the attestation is not bound into the body
	add(
		corpusEntry{name: "attestation.quote/header.version", proof: set(func(p *evidence.Proof) { p.Attestation.Quote[qVersion] = 5 }), stage: StageQuote, outcome: rc, want: dcap.ErrUnsupportedVersion},
		corpusEntry{name: "attestation.quote/header.attestation-key-type", proof: set(func(p *evidence.Proof) { p.Attestation.Quote[qAKType] = 3 }), stage: StageQuote, outcome: rc, want: dcap.ErrMalformedQuote},
		corpusEntry{name: "attestation.quote/header.tee-type", proof: set(func(p *evidence.Proof) { p.Attestation.Quote[qTEEType] = 0 }), stage: StageQuote, outcome: rc, want: dcap.ErrNotTDX},
		corpusEntry{name: "attestation.quote/header.qe-vendor-id", proof: quoteFlip(qQEVendorID), stage: StageQuote, outcome: rc, want: dcap.ErrQuoteSignature},
		corpusEntry{name: "attestation.quote/header.user-data", proof: quoteFlip(qUserData + 4), stage: StageQuote, outcome: rc, want: dcap.ErrQuoteSignature},
		corpusEntry{name: "attestation.quote/body.mrtd", proof: quoteFlip(qMRTD), stage: StageQuote, outcome: rc, want: dcap.ErrQuoteSignature},
		corpusEntry{name: "attestation.quote/body.td-attributes-debug", proof: set(func(p *evidence.Proof) { p.Attestation.Quote[qTDAttributes] |= 1 }), stage: StageQuote, outcome: rc, want: dcap.ErrQuoteSignature},
		corpusEntry{name: "attestation.quote/body.reportdata", proof: quoteFlip(qReportData + 7), stage: StageQuote, outcome: rc, want: dcap.ErrQuoteSignature},
		corpusEntry{name: "attestation.quote/signature", proof: quoteFlip(qSignature + 10), stage: StageQuote, outcome: rc, want: dcap.ErrQuoteSignature},
		corpusEntry{name: "attestation.quote/attestation-key", proof: quoteFlip(qAttestKey + 10), stage: StageQuote, outcome: rc, want: dcap.ErrQuoteSignature},
		corpusEntry{name: "attestation.quote/qe-report", proof: quoteFlip(qQEReport + 60), stage: StageQuote, outcome: rc, want: dcap.ErrQEReport},
		corpusEntry{name: "attestation.quote/qe-report.report-data", proof: quoteFlip(qQEReportData + 3), stage: StageQuote, outcome: rc, want: dcap.ErrQEReport},
		corpusEntry{name: "attestation.quote/qe-report-signature", proof: quoteFlip(qQEReportSig + 10), stage: StageQuote, outcome: rc, want: dcap.ErrQEReport},
		corpusEntry{name: "attestation.quote/qe-auth-data", proof: quoteFlip(qQEAuthData + 5), stage: StageQuote, outcome: rc, want: dcap.ErrQEReport},
		corpusEntry{name: "attestation.quote/certification-data.type", proof: set(func(p *evidence.Proof) { p.Attestation.Quote[qPCKCertHeader] = 4 }), stage: StageQuote, outcome: rc, want: dcap.ErrMalformedQuote},
		corpusEntry{name: "attestation.quote/certification-data.pck-chain", proof: quoteFlip(qPCKChainPEM + 200), stage: StageQuote, outcome: rc, want: dcap.ErrMalformedQuote},
		corpusEntry{name: "attestation.quote/truncated", proof: set(func(p *evidence.Proof) { p.Attestation.Quote = p.Attestation.Quote[:len(p.Attestation.Quote)-100] }), stage: StageQuote, outcome: rc, want: dcap.ErrMalformedQuote},
		corpusEntry{name: "attestation.quote/trailing-byte", proof: set(func(p *evidence.Proof) { p.Attestation.Quote = append(p.Attestation.Quote, 1) }), stage: StageQuote, outcome: rc, want: dcap.ErrMalformedQuote},
		corpusEntry{name: "attestation.quote/empty", proof: set(func(p *evidence.Proof) { p.Attestation.Quote = nil }), stage: StageQuote, outcome: rc, want: dcap.ErrMalformedQuote},
		corpusEntry{name: "attestation.quote/too-large", proof: set(func(p *evidence.Proof) { p.Attestation.Quote = make([]byte, evidence.MaxQuoteBytes+1) }), stage: StageProof, outcome: rc, want: evidence.ErrFormat},
		corpusEntry{name: "attestation.quote/of-another-hierarchy", proof: quoteOf(e2eSim, simtee.TDOptions{}, false), stage: StageQuote, outcome: rc, want: dcap.ErrPCKChain},
		corpusEntry{name: "attestation.quote/debug-td", proof: quoteOf(corpusSim, simtee.TDOptions{TDAttributes: [8]byte{1}}, false), stage: StageQuote, outcome: rp, want: dcap.ErrPolicy},
		corpusEntry{name: "attestation.quote/other-report-data", proof: quoteOf(corpusSim, simtee.TDOptions{}, true), stage: StageBinding, outcome: rc, want: ErrBinding},
		corpusEntry{name: "attestation.quote/other-mrtd", proof: quoteOf(corpusSim, simtee.TDOptions{MRTD: sha512.Sum384([]byte("corpus: another TD"))}, false), stage: StageMAA, outcome: rc},
		corpusEntry{name: "attestation.quote/of-another-proof", proof: func(c *corpusEnv, p *evidence.Proof) error {
			p.Attestation.Quote = bytes.Clone(c.other.Attestation.Quote)
			return nil
		}, stage: StageBinding, outcome: rc, want: ErrBinding},
		corpusEntry{name: "attestation/of-another-proof", proof: func(c *corpusEnv, p *evidence.Proof) error {
			o, err := copyProof(c.other)
			p.Attestation = o.Attestation
			return err
		}, stage: StageBinding, outcome: rc, want: ErrBinding},
	)

	// --- collateral: the verifier's input, not the proof's
	add(
		corpusEntry{name: "collateral/expired", now: 90 * time.Minute, stage: StageQuote, outcome: rc, want: dcap.ErrCollateralExpired},
		corpusEntry{name: "collateral/next-update-passed", collateral: func(c *corpusEnv) ([]byte, error) {
			return c.editTCBInfo("tcb_info", reNextUpdate, `"nextUpdate":"2020-01-01T00:00:00Z"`, true)
		}, stage: StageQuote, outcome: rc, want: dcap.ErrCollateralExpired},
		corpusEntry{name: "collateral/not-yet-valid", collateral: func(c *corpusEnv) ([]byte, error) {
			return c.editTCBInfo("qe_identity", reIssueDate, `"issueDate":"2099-01-01T00:00:00Z"`, true)
		}, stage: StageQuote, outcome: rc, want: dcap.ErrCollateralNotYetValid},
		corpusEntry{name: "collateral/another-fmspc", collateral: func(c *corpusEnv) ([]byte, error) {
			return c.editTCBInfo("tcb_info", reFMSPC, `"fmspc":"00906ed5ffff"`, true)
		}, stage: StageQuote, outcome: rc, want: dcap.ErrFMSPCMismatch},
		corpusEntry{name: "collateral/tcb-info-tampered", collateral: func(c *corpusEnv) ([]byte, error) {
			return c.editTCBInfo("tcb_info", reFMSPC, `"fmspc":"00906ed5ffff"`, false)
		}, stage: StageQuote, outcome: rc, want: dcap.ErrCollateralSignature},
		corpusEntry{name: "collateral/qe-identity-tampered", collateral: func(c *corpusEnv) ([]byte, error) {
			return c.editTCBInfo("qe_identity", reIsvProdID, `"isvprodid":3`, false)
		}, stage: StageQuote, outcome: rc, want: dcap.ErrCollateralSignature},
		corpusEntry{name: "collateral/qe-identity-of-another-qe", collateral: func(c *corpusEnv) ([]byte, error) {
			return c.editTCBInfo("qe_identity", reIsvProdID, `"isvprodid":3`, true)
		}, stage: StageQuote, outcome: rc, want: dcap.ErrQEIdentity},
		corpusEntry{name: "collateral/out-of-date", collateral: func(c *corpusEnv) ([]byte, error) {
			return c.editTCBInfo("tcb_info", reUpToDate, `"tcbStatus":"OutOfDate"`, true)
		}, stage: StageQuote, outcome: rp, want: dcap.ErrPolicy},
		corpusEntry{name: "collateral/pck-revoked", collateral: (*corpusEnv).revokedPCKCollateral, stage: StageQuote, outcome: rc, want: dcap.ErrRevoked},
		corpusEntry{name: "collateral/of-another-hierarchy", collateral: func(c *corpusEnv) ([]byte, error) { return c.e.Sim.CollateralJSON(), nil },
			stage: StageQuote, outcome: rc, want: dcap.ErrCollateralSignature},
		corpusEntry{name: "collateral/unavailable", opts: func(_ *corpusEnv, _ *Policy, o *Options) { o.Collateral = failingCollateral{} },
			input: "the collateral source is down", stage: StageQuote, outcome: cc, want: dcap.ErrCouldNotCheck},
		corpusEntry{name: "collateral/none", opts: func(_ *corpusEnv, _ *Policy, o *Options) { o.Collateral = nil },
			input: "no collateral source", stage: StageProof, outcome: cc, want: ErrOptions},
	)

	// --- the binding
	add(bodyPair("body.app_binding", set(func(p *evidence.Proof) { p.Body.AppBinding[0] ^= 1 }), StageBinding, rp, ErrAppBinding)...)
	add(bodyPair("body.app_binding/removed", set(func(p *evidence.Proof) { p.Body.AppBinding = nil }), StageBinding, rp, ErrAppBinding)...)
	add(corpusEntry{name: "body.created_unix_nano", proof: set(func(p *evidence.Proof) { p.Body.CreatedUnixNano++ }), stage: StageBinding, outcome: rc, want: ErrBinding})

	// --- the MAA token
	otherKey := sync.OnceValue(func() *rsa.PrivateKey {
		k, err := rsa.GenerateKey(rand.Reader, 2048)
		if err != nil {
			panic(err)
		}
		return k
	})
	otherService := sync.OnceValue(func() *maa.KeySet {
		k, err := maasim.GenerateKey()
		if err != nil {
			panic(err)
		}
		ks, err := maa.ParseKeySet(k.JWKS())
		if err != nil {
			panic(err)
		}
		return ks
	})
	add(
		corpusEntry{name: "attestation.maa_token/removed", proof: set(func(p *evidence.Proof) { p.Attestation.MAAToken = "" }), stage: StageMAA, outcome: rp},
		corpusEntry{name: "attestation.maa_token/header.alg-none", proof: token(func(h, _ map[string]any) { h["alg"] = "none" }, false), stage: StageMAA, outcome: rc, want: maa.ErrAlgorithm},
		corpusEntry{name: "attestation.maa_token/header.alg-hs256", proof: token(func(h, _ map[string]any) { h["alg"] = "HS256" }, false), stage: StageMAA, outcome: rc, want: maa.ErrAlgorithm},
		corpusEntry{name: "attestation.maa_token/header.kid-unknown", proof: token(func(h, _ map[string]any) { h["kid"] = "corpus-unknown-kid" }, false), stage: StageMAA, outcome: cc, want: maa.ErrUnknownKey},
		corpusEntry{name: "attestation.maa_token/header.kid-removed", proof: token(func(h, _ map[string]any) { delete(h, "kid") }, false), stage: StageMAA, outcome: rc, want: maa.ErrMalformed},
		corpusEntry{name: "attestation.maa_token/header.crit", proof: token(func(h, _ map[string]any) { h["crit"] = []any{"exp"} }, false), stage: StageMAA, outcome: rc, want: maa.ErrMalformed},
		corpusEntry{name: "attestation.maa_token/header.typ", proof: token(func(h, _ map[string]any) { h["typ"] = "JOSE" }, false), stage: StageMAA, outcome: rc, want: maa.ErrMalformed},
		corpusEntry{name: "attestation.maa_token/payload.user-data", proof: token(func(_, cl map[string]any) {
			rt := runtimeClaims(cl)
			rt["user-data"] = flipHex(rt["user-data"].(string))
		}, false), stage: StageMAA, outcome: rc, want: maa.ErrSignature},
		corpusEntry{name: "attestation.maa_token/payload.user-data/re-signed", proof: token(func(_, cl map[string]any) {
			rt := runtimeClaims(cl)
			rt["user-data"] = flipHex(rt["user-data"].(string))
		}, true), stage: StageMAA, outcome: rc, want: maa.ErrUserData},
		corpusEntry{name: "attestation.maa_token/payload.iss/re-signed", proof: token(func(_, cl map[string]any) { cl["iss"] = "https://sharedeus2.eus2.attest.azure.net" }, true), stage: StageMAA, outcome: rp, want: maa.ErrIssuer},
		corpusEntry{name: "attestation.maa_token/payload.exp/re-signed", proof: token(func(_, cl map[string]any) { cl["exp"] = json.Number("1600000000") }, true), stage: StageMAA, outcome: rp, want: maa.ErrExpired},
		corpusEntry{name: "attestation.maa_token/payload.nbf/re-signed", proof: token(func(_, cl map[string]any) { cl["nbf"] = json.Number("4000000000") }, true), stage: StageMAA, outcome: rp, want: maa.ErrNotYetValid},
		corpusEntry{name: "attestation.maa_token/payload.iat-removed/re-signed", proof: token(func(_, cl map[string]any) { delete(cl, "iat") }, true), stage: StageMAA, outcome: rp, want: maa.ErrMissingClaim},
		corpusEntry{name: "attestation.maa_token/payload.attestation-type/re-signed", proof: token(func(_, cl map[string]any) { cl["x-ms-attestation-type"] = "sgx" }, true), stage: StageMAA, outcome: rc, want: maa.ErrAttestationType},
		corpusEntry{name: "attestation.maa_token/payload.tdx_mrtd/re-signed", proof: token(func(_, cl map[string]any) { cl["tdx_mrtd"] = flipHex(cl["tdx_mrtd"].(string)) }, true), stage: StageMAA, outcome: rc},
		corpusEntry{name: "attestation.maa_token/payload.repeated-claim/re-signed", proof: func(c *corpusEnv, p *evidence.Proof) error {
			h, pl, _, err := tokenParts(p.Attestation.MAAToken)
			if err != nil {
				return err
			}
			pl = append([]byte(`{"iss":"https://sharedeus2.eus2.attest.azure.net",`), pl[1:]...)
			p.Attestation.MAAToken, err = signToken(c.maaPriv, h, pl)
			return err
		}, stage: StageMAA, outcome: rc, want: maa.ErrMalformed},
		corpusEntry{name: "attestation.maa_token/signature", proof: tokenRaw(func(h, pl []byte, sig string) string { return rawToken(h, pl, flipB64(sig)) }), stage: StageMAA, outcome: rc, want: maa.ErrSignature},
		corpusEntry{name: "attestation.maa_token/signature-removed", proof: tokenRaw(func(h, pl []byte, _ string) string { return rawToken(h, pl, "") }), stage: StageMAA, outcome: rc},
		corpusEntry{name: "attestation.maa_token/signed-by-another-key", proof: tokenRaw(func(h, pl []byte, _ string) string {
			tok, _ := signToken(otherKey(), h, pl)
			return tok
		}), stage: StageMAA, outcome: rc, want: maa.ErrSignature},
		corpusEntry{name: "attestation.maa_token/two-segments", proof: set(func(p *evidence.Proof) {
			p.Attestation.MAAToken = p.Attestation.MAAToken[:strings.LastIndexByte(p.Attestation.MAAToken, '.')]
		}), stage: StageMAA, outcome: rc, want: maa.ErrMalformed},
		corpusEntry{name: "attestation.maa_token/of-another-proof", proof: func(c *corpusEnv, p *evidence.Proof) error {
			p.Attestation.MAAToken = c.other.Attestation.MAAToken
			return nil
		}, stage: StageMAA, outcome: rc, want: maa.ErrUserData},
		corpusEntry{name: "verifier/no-maa-keys", opts: func(_ *corpusEnv, _ *Policy, o *Options) { o.MAAKeys = nil }, input: "no MAA keys", stage: StageMAA, outcome: cc, want: ErrOptions},
		corpusEntry{name: "verifier/maa-keys-of-another-service", opts: func(_ *corpusEnv, _ *Policy, o *Options) { o.MAAKeys = otherService() }, input: "the MAA keys of another service", stage: StageMAA, outcome: cc, want: maa.ErrUnknownKey},
		corpusEntry{name: "verifier/maa-issuer-pinned-elsewhere", opts: func(_ *corpusEnv, pol *Policy, _ *Options) {
			pol.MAA.Issuer = "https://sharedeus2.eus2.attest.azure.net"
		},
			input: "the policy pins another MAA issuer", stage: StageMAA, outcome: rp, want: maa.ErrIssuer},
	)

	// --- the probes
	add(bodyPair("body.probes[].endpoint/unknown", set(func(p *evidence.Proof) { p.Body.Probes[0].Endpoint = "api.nowhere.lab.test" }), StageScope, rp, ErrScope)...)
	add(bodyPair("body.probes[].endpoint/of-another-region", func(c *corpusEnv, p *evidence.Proof) error {
		p.Body.Probes[0].Endpoint = otherEndpoint(c)
		return nil
	}, StageScope, rp, ErrScope)...)
	add(bodyPair("body.probes[].hostname", func(c *corpusEnv, p *evidence.Proof) error {
		p.Body.Probes[0].Hostname = otherEndpoint(c)
		return nil
	}, StageTranscripts, rc, transcript.ErrServerName)...)
	add(bodyPair("body.probes[].port", set(func(p *evidence.Proof) { p.Body.Probes[0].Port++ }), StageScope, rp, ErrScope)...)
	add(bodyPair("body.probes[].method", set(func(p *evidence.Proof) { p.Body.Probes[0].Method = evidence.MethodHTTP1 }), StageTranscripts, rc, ErrTranscript)...)
	add(bodyPair("body.probes[].nonce", set(func(p *evidence.Proof) { p.Body.Probes[1].Nonce[5] ^= 1 }), StageTranscripts, rc, transcript.ErrNonce)...)
	add(bodyPair("body.probes/reordered", set(func(p *evidence.Proof) {
		p.Body.Probes[0], p.Body.Probes[1] = p.Body.Probes[1], p.Body.Probes[0]
		for i := range p.Sessions {
			p.Sessions[i].Probe = 1 - p.Sessions[i].Probe
		}
	}), StageTranscripts, rc, ErrTranscript)...)
	add(bodyPair("body.probes/dropped", set(func(p *evidence.Proof) {
		p.Body.Probes = p.Body.Probes[:1]
		p.Sessions = slices.DeleteFunc(p.Sessions, func(s evidence.Session) bool { return s.Probe == 1 })
	}), StageLatency, rl, nil)...)
	add(bodyPair("body.probes/duplicated", set(func(p *evidence.Proof) {
		p.Body.Probes = append(p.Body.Probes, p.Body.Probes[0])
		for _, s := range slices.Clone(p.Sessions) {
			if s.Probe == 0 {
				s.Probe = 2
				p.Sessions = append(p.Sessions, s)
			}
		}
	}), StageTranscripts, rc, ErrTranscript)...)

	// --- the connections
	add(bodyPair("body.probes[].conns[].echo_base/shifted-with-the-echoes", set(func(p *evidence.Proof) {
		c0 := conn(p, 0, 0)
		c0.EchoCycles = c0.EchoCycles[:len(c0.EchoCycles)-1]
		conn(p, 0, 1).EchoBase--
	}), StageTranscripts, rc, ErrTranscript)...)
	add(bodyPair("body.probes[].conns[].alpn", set(func(p *evidence.Proof) { conn(p, 0, 0).ALPN = "http/1.1" }), StageTranscripts, rc, ErrTranscript)...)
	add(corpusEntry{name: "body.probes[].conns[].address", proof: set(func(p *evidence.Proof) { conn(p, 0, 0).Address = "192.0.2.1:443" }), stage: StageBinding, outcome: rc, want: ErrBinding})
	add(bodyPair("body.probes[].conns[].c2s_sha256", set(func(p *evidence.Proof) { conn(p, 0, 0).C2SHash[0] ^= 1 }), StageTranscripts, rc, evidence.ErrSessions)...)
	add(bodyPair("body.probes[].conns[].s2c_sha256", set(func(p *evidence.Proof) { conn(p, 0, 1).S2CHash[0] ^= 1 }), StageTranscripts, rc, evidence.ErrSessions)...)
	add(bodyPair("body.probes[].conns[].keylog_sha256", set(func(p *evidence.Proof) { conn(p, 1, 0).KeyLogHash[0] ^= 1 }), StageTranscripts, rc, evidence.ErrSessions)...)
	add(bodyPair("body.probes[].conns/swapped", set(func(p *evidence.Proof) {
		a, b := conn(p, 0, 0), conn(p, 0, 1)
		*a, *b = *b, *a
		a.Index, b.Index = b.Index, a.Index
		a.EchoBase, b.EchoBase = b.EchoBase, a.EchoBase
		for i := range p.Sessions {
			if p.Sessions[i].Probe == 0 {
				p.Sessions[i].Conn = 1 - p.Sessions[i].Conn
			}
		}
	}), StageTranscripts, rc, transcript.ErrNonce)...)
	add(bodyPair("body.probes[].conns[].handshake_cycles", set(func(p *evidence.Proof) { conn(p, 0, 0).HandshakeCycles++ }), StageTranscripts, rc, ErrTranscript)...)
	add(bodyPair("body.probes[].conns[].echo_cycles", set(func(p *evidence.Proof) { conn(p, 1, 0).EchoCycles[3]-- }), StageTranscripts, rc, ErrTranscript)...)
	add(bodyPair("body.probes[].conns[].echo_cycles/one-dropped", set(func(p *evidence.Proof) {
		// The last connection's last echo: dropping an earlier one would
		// break the next connection's echo base, a structural error.
		c := conn(p, 1, len(p.Body.Probes[1].Conns)-1)
		c.EchoCycles = c.EchoCycles[:len(c.EchoCycles)-1]
	}), StageTranscripts, rc, ErrTranscript)...)

	// --- the stamps: each kind in each direction
	add(bodyPair("body.probes[].conns[].c2s_stamps[].offset", set(func(p *evidence.Proof) {
		st := conn(p, 0, 0).C2S
		st[1].Offset = st[0].Offset
	}), StageTranscripts, rc, transcript.ErrTiming)...)
	add(bodyPair("body.probes[].conns[].c2s_stamps[].cycles", set(func(p *evidence.Proof) {
		st := conn(p, 0, 1).C2S
		st[len(st)-1].Cycles = st[len(st)-2].Cycles - 1
	}), StageTranscripts, rc, transcript.ErrTiming)...)
	add(bodyPair("body.probes[].conns[].c2s_stamps[].kernel_ns", set(func(p *evidence.Proof) {
		st := conn(p, 1, 0).C2S
		st[len(st)-1].KernelNs = st[len(st)-2].KernelNs - 1
	}), StageTranscripts, rc, transcript.ErrTiming)...)
	add(bodyPair("body.probes[].conns[].c2s_stamps/removed", set(func(p *evidence.Proof) { conn(p, 0, 0).C2S = nil }), StageTranscripts, rc, transcript.ErrTiming)...)
	add(bodyPair("body.probes[].conns[].s2c_stamps[].offset", set(func(p *evidence.Proof) {
		st := conn(p, 0, 0).S2C
		st[len(st)-1].Offset = uint64(len(session(p, 0, 0).S2C)) + 10
	}), StageTranscripts, rc, transcript.ErrTiming)...)
	add(bodyPair("body.probes[].conns[].s2c_stamps[].cycles", set(func(p *evidence.Proof) {
		st := conn(p, 0, 0).S2C
		for i := 1; i < len(st); i++ {
			st[i].Cycles += 1000
		}
	}), StageTranscripts, rc, ErrTranscript)...)
	add(bodyPair("body.probes[].conns[].s2c_stamps[].kernel_ns", set(func(p *evidence.Proof) {
		st := conn(p, 1, 0).S2C
		st[len(st)-1].KernelNs = -1
	}), StageTranscripts, rc, transcript.ErrTiming)...)
	add(corpusEntry{name: "body.probes[].conns[].s2c_stamps[].kernel_ns/later/re-bound/kernel-clock", proof: set(func(p *evidence.Proof) {
		st := conn(p, 0, 0).S2C
		for i := 1; i < len(st); i++ {
			st[i].KernelNs += 5_000_000
		}
	}), rebind: true, opts: kernelClock, kernel: true, input: "the policy appraises the kernel's clock", stage: StageLatency, outcome: rc})

	// --- the sessions: which connection each is
	add(
		corpusEntry{name: "sessions/missing", proof: set(func(p *evidence.Proof) { p.Sessions = slices.Delete(p.Sessions, 1, 2) }), stage: StageTranscripts, outcome: rc, want: evidence.ErrSessions},
		corpusEntry{name: "sessions/duplicated", proof: set(func(p *evidence.Proof) { p.Sessions = append(p.Sessions, p.Sessions[0]) }), stage: StageTranscripts, outcome: rc, want: evidence.ErrSessions},
		corpusEntry{name: "sessions/duplicated-instead-of-another", proof: set(func(p *evidence.Proof) {
			s := *session(p, 0, 0)
			*session(p, 0, 1) = s
		}), stage: StageTranscripts, outcome: rc, want: evidence.ErrSessions},
		corpusEntry{name: "sessions[].conn/swapped-between-connections", proof: set(func(p *evidence.Proof) {
			a, b := session(p, 0, 0), session(p, 0, 1)
			a.Conn, b.Conn = b.Conn, a.Conn
		}), stage: StageTranscripts, outcome: rc, want: evidence.ErrSessions},
		corpusEntry{name: "sessions[].probe/swapped-between-probes", proof: set(func(p *evidence.Proof) {
			a, b := session(p, 0, 0), session(p, 1, 0)
			a.Probe, b.Probe = b.Probe, a.Probe
		}), stage: StageTranscripts, outcome: rc, want: evidence.ErrSessions},
		corpusEntry{name: "sessions[].probe/absent", proof: set(func(p *evidence.Proof) { session(p, 1, 0).Probe = 7 }), stage: StageTranscripts, outcome: rc, want: evidence.ErrSessions},
		corpusEntry{name: "sessions[].conn/absent", proof: set(func(p *evidence.Proof) { session(p, 1, 0).Conn = 1 }), stage: StageTranscripts, outcome: rc, want: evidence.ErrSessions},
		corpusEntry{name: "sessions[].c2s/too-large", proof: set(func(p *evidence.Proof) { session(p, 0, 0).C2S = make([]byte, evidence.MaxStreamBytes+1) }), stage: StageTranscripts, outcome: rc, want: evidence.ErrSessions},
	)

	// --- the transcripts' bytes, each way
	add(sessionPair("sessions[].c2s/client-hello.random", set(func(p *evidence.Proof) { flip(session(p, 0, 0).C2S, 5+4+2+3) }), transcript.ErrNonce)...)
	add(sessionPair("sessions[].c2s/client-hello.extensions", set(func(p *evidence.Proof) {
		s := session(p, 0, 1)
		ch := recordsOf(s.C2S, recHandshake)[0]
		flip(s.C2S, ch.off+ch.n-1)
	}), transcript.ErrCertificateVerify)...)
	add(sessionPair("sessions[].s2c/server-hello.random", set(func(p *evidence.Proof) { flip(session(p, 1, 0).S2C, 5+4+2+3) }), transcript.ErrCertificateVerify)...)
	add(sessionPair("sessions[].s2c/encrypted-flight", set(func(p *evidence.Proof) {
		s := session(p, 0, 0)
		flipMid(s.S2C, recordsOf(s.S2C, recAppData)[0])
	}), transcript.ErrDecrypt)...)
	add(sessionPair("sessions[].c2s/client-finished", set(func(p *evidence.Proof) {
		s := session(p, 0, 0)
		flipMid(s.C2S, recordsOf(s.C2S, recAppData)[0])
	}), transcript.ErrDecrypt)...)
	add(sessionPair("sessions[].c2s/application-record", set(func(p *evidence.Proof) {
		s := session(p, 1, 0)
		flipMid(s.C2S, recordsOf(s.C2S, recAppData)[2])
	}), transcript.ErrDecrypt)...)
	add(sessionPair("sessions[].s2c/application-record", set(func(p *evidence.Proof) {
		s := session(p, 0, 1)
		flipMid(s.S2C, lastRecord(s.S2C))
	}), transcript.ErrDecrypt)...)
	add(sessionPair("sessions[].s2c/truncated", set(func(p *evidence.Proof) {
		s := session(p, 0, 0)
		r := lastRecord(s.S2C)
		s.S2C = s.S2C[:r.off+r.n/2]
	}), transcript.ErrTruncated)...)
	add(sessionPair("sessions[].c2s/truncated", set(func(p *evidence.Proof) {
		s := session(p, 1, 0)
		r := lastRecord(s.C2S)
		s.C2S = s.C2S[:r.off+r.n/2]
	}), transcript.ErrTruncated)...)
	add(sessionPair("sessions[].s2c/last-record-dropped", set(func(p *evidence.Proof) {
		s := session(p, 1, 0)
		s.S2C = s.S2C[:lastRecord(s.S2C).off]
	}), transcript.ErrTiming)...)
	// The same, with the stamps of the dropped bytes dropped too: the
	// transcript itself must show what is missing.
	add(corpusEntry{name: "sessions[].s2c/last-record-and-its-stamps-dropped/re-bound", proof: rehashed(set(func(p *evidence.Proof) {
		s := session(p, 1, 0)
		s.S2C = s.S2C[:lastRecord(s.S2C).off]
		c := conn(p, 1, 0)
		c.S2C = slices.DeleteFunc(c.S2C, func(st evidence.Stamp) bool { return st.Offset >= uint64(len(s.S2C)) })
	})), rebind: true, stage: StageTranscripts, outcome: rc, want: ErrTranscript})
	add(sessionPair("sessions[].s2c/reordered", set(func(p *evidence.Proof) {
		s := session(p, 0, 0)
		rs := records(s.S2C)
		s.S2C = swapRecords(s.S2C, rs[len(rs)-2], rs[len(rs)-1])
	}), transcript.ErrDecrypt)...)
	add(sessionPair("sessions[].c2s/reordered", set(func(p *evidence.Proof) {
		s := session(p, 1, 0)
		rs := records(s.C2S)
		s.C2S = swapRecords(s.C2S, rs[len(rs)-3], rs[len(rs)-2])
	}), transcript.ErrDecrypt)...)
	add(sessionPair("sessions[].s2c/record-appended", set(func(p *evidence.Proof) {
		s := session(p, 0, 1)
		s.S2C = append(s.S2C, recAppData, 3, 3, 0, 20, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20)
	}), transcript.ErrDecrypt)...)

	// --- the secrets: each key-log line, and another session's key log
	for _, label := range keyLogLabels {
		add(corpusEntry{name: "sessions[].keylog/" + label + "/removed/re-bound", proof: rehashed(keyLog(label, func([]string) string { return "" })),
			rebind: true, stage: StageTranscripts, outcome: rc, want: transcript.ErrKeyLogMissing})
		add(sessionPair("sessions[].keylog/"+label+"/altered", keyLog(label, func(f []string) string { return f[0] + " " + f[1] + " " + flipHex(f[2]) }), transcript.ErrDecrypt)...)
	}
	add(sessionPair("sessions[].keylog/of-another-session", func(c *corpusEnv, p *evidence.Proof) error {
		session(p, 0, 0).KeyLog = bytes.Clone(session(c.other, 0, 0).KeyLog)
		return nil
	}, transcript.ErrKeyLogMismatch)...)
	add(corpusEntry{name: "sessions[].keylog/client-random/re-bound", proof: rehashed(keyLog(keyLogLabels[0], func(f []string) string { return f[0] + " " + flipHex(f[1]) + " " + f[2] })),
		rebind: true, stage: StageTranscripts, outcome: rc, want: transcript.ErrKeyLogMissing})
	add(corpusEntry{name: "sessions[].keylog/malformed-line/re-bound", proof: rehashed(set(func(p *evidence.Proof) {
		s := session(p, 0, 1)
		s.KeyLog = append([]byte("CLIENT_RANDOM zz\n"), s.KeyLog...)
	})), rebind: true, stage: StageTranscripts, outcome: rc, want: transcript.ErrKeyLogFormat})
	add(corpusEntry{name: "sessions[].keylog/empty/re-bound", proof: rehashed(set(func(p *evidence.Proof) { session(p, 1, 0).KeyLog = nil })),
		rebind: true, stage: StageTranscripts, outcome: rc, want: transcript.ErrKeyLogMismatch})
	return es
}

// flipB64 changes the first character of a base64url segment.
func flipB64(s string) string {
	if s[0] == 'A' {
		return "B" + s[1:]
	}
	return "A" + s[1:]
}

// corpusCase is one entry made concrete.
type corpusCase struct {
	doc     []byte
	proof   *evidence.Proof // nil when the entry rewrites the document's bytes
	decoded bool
	coll    []byte
	changed map[string]bool
	mk      func() (*Policy, Options)
}

// materialise applies an entry to the honest proof and the verifier.
func (c *corpusEnv) materialise(en corpusEntry, leaves map[string]bool) (*corpusCase, error) {
	q, err := copyProof(c.base)
	if err != nil {
		return nil, err
	}
	cc := &corpusCase{}
	if en.proof != nil {
		if err := en.proof(c, q); err != nil {
			return nil, fmt.Errorf("mutating: %w", err)
		}
		if cc.changed, err = changedLeaves(c.base, q, leaves); err != nil {
			return nil, err
		}
		a, _ := json.Marshal(c.base)
		b, _ := json.Marshal(q)
		if bytes.Equal(a, b) {
			return nil, errors.New("the mutation changes nothing")
		}
	}
	if en.rebind {
		if err := c.rebind(q); err != nil {
			return nil, err
		}
	}
	if cc.doc, err = json.Marshal(q); err != nil {
		return nil, err
	}
	cc.proof = q
	if en.raw != nil {
		if cc.doc, err = en.raw(cc.doc); err != nil {
			return nil, err
		}
		cc.proof = nil
	}
	var coll *dcap.Collateral
	if en.collateral != nil {
		if cc.coll, err = en.collateral(c); err != nil {
			return nil, err
		}
		if coll, err = dcap.ParseCollateral(cc.coll); err != nil {
			return nil, err
		}
	}
	cc.mk = func() (*Policy, Options) {
		pol, o := c.pol(), c.options()
		if en.now != 0 {
			at := c.now.Add(en.now)
			o.Now = func() time.Time { return at }
		}
		if coll != nil {
			o.Collateral = dcap.Bundle{Fixed: coll}
		}
		if en.opts != nil {
			en.opts(c, pol, &o)
		}
		return pol, o
	}
	return cc, nil
}

// corpusRow is a line of the report.
type corpusRow struct {
	name                 string
	rebind               bool
	wantStage, gotStage  string
	wantOut, gotOut      Outcome
	sentinel, directNote string
	skipped              bool
}

// checkRefusal checks one verification against the entry.
func checkRefusal(en corpusEntry, res *Result, err error) (row corpusRow, problems []string) {
	row = corpusRow{name: en.name, rebind: en.rebind, wantStage: en.stage, wantOut: en.outcome}
	if err == nil {
		row.gotStage, row.gotOut = "-", Accepted
		return row, []string{"ACCEPTED"}
	}
	var se *StageError
	if !errors.As(err, &se) {
		return row, []string{fmt.Sprintf("error %T is not a *StageError: %v", err, err)}
	}
	row.gotStage, row.gotOut = se.Stage, se.Outcome
	if res == nil || res.Accepted || res.Outcome != se.Outcome {
		problems = append(problems, fmt.Sprintf("result %+v does not say what the error says", res))
	}
	if se.Stage != en.stage || se.Outcome != en.outcome {
		problems = append(problems, fmt.Sprintf("refused at %s (%s), want %s (%s)", se.Stage, se.Outcome, en.stage, en.outcome))
	}
	if en.want != nil {
		row.sentinel = "ok"
		if !errors.Is(err, en.want) {
			row.sentinel = "MISSING"
			problems = append(problems, fmt.Sprintf("error does not wrap %q", en.want))
		}
	}
	return row, problems
}

// verifySafely runs a verification, turning a panic into an error the
// test reports.
func verifySafely(f func() (*Result, error)) (res *Result, err error, panicked any) {
	defer func() {
		if r := recover(); r != nil {
			panicked = r
		}
	}()
	res, err = f()
	return res, err, nil
}

func TestCorpus(t *testing.T) {
	if testing.Short() {
		t.Skip("the corpus starts a lab and makes proofs")
	}
	start := time.Now()
	c := corpusSetup(t)
	setupTime := time.Since(start)
	if err := checkQuoteLayout(c.base.Attestation.Quote, mustReportData(t, &c.base.Body)); err != nil {
		t.Fatal(err)
	}
	entries := corpusEntries()
	seen := map[string]bool{}
	for _, en := range entries {
		if seen[en.name] {
			t.Fatalf("two entries named %q", en.name)
		}
		seen[en.name] = true
	}
	leaves := proofLeaves()
	covered := map[string]bool{}
	var rows []corpusRow
	cases := map[string]*corpusCase{}
	for _, en := range entries {
		t.Run(en.name, func(t *testing.T) {
			cases[en.name] = nil // ran (a -run filter may skip entries)
			if en.kernel && !c.kernel {
				t.Skip("the lab gave the honest proof no kernel time on some stamps")
			}
			cc, err := c.materialise(en, leaves)
			if err != nil {
				t.Fatalf("building the entry: %v", err)
			}
			cases[en.name] = cc
			for k := range cc.changed {
				covered[k] = true
			}
			pol, o := cc.mk()
			res, err, p := verifySafely(func() (*Result, error) { return decodeAndVerify(cc.doc, pol, o) })
			if p != nil {
				t.Fatalf("PANIC: %v", p)
			}
			row, problems := checkRefusal(en, res, err)
			t.Logf("error: %v", err)
			var dec *evidence.Proof
			dec, derr := evidence.Decode(bytes.NewReader(cc.doc))
			cc.decoded = derr == nil && dec != nil
			// The same proof handed to Verify as a value, as a library
			// caller would: refused too, at the same stage whenever
			// the document decodes.
			if cc.proof != nil {
				pol, o := cc.mk()
				dres, derr, p := verifySafely(func() (*Result, error) { return Verify(context.Background(), cc.proof, pol, o) })
				var se *StageError
				switch {
				case p != nil:
					problems = append(problems, fmt.Sprintf("Verify of the value: PANIC: %v", p))
				case derr == nil:
					problems = append(problems, "Verify of the value: ACCEPTED")
				case !errors.As(derr, &se) || dres == nil || dres.Accepted:
					problems = append(problems, fmt.Sprintf("Verify of the value: %v", derr))
				case cc.decoded && (se.Stage != row.gotStage || se.Outcome != row.gotOut):
					problems = append(problems, fmt.Sprintf("Verify of the value refused at %s (%s), the document at %s (%s)", se.Stage, se.Outcome, row.gotStage, row.gotOut))
				case !cc.decoded && (se.Stage != row.gotStage || se.Outcome != row.gotOut):
					row.directNote = fmt.Sprintf("value: %s/%s", se.Stage, se.Outcome)
				}
			}
			if len(problems) > 0 && en.bug != "" {
				row.skipped = true
				rows = append(rows, row)
				t.Skipf("KNOWN BUG, not fixed here: %s: %s (error: %v)", en.bug, strings.Join(problems, "; "), err)
			}
			if len(problems) == 0 && en.bug != "" {
				t.Logf("the known bug %q no longer lets this entry through: remove its mark", en.bug)
			}
			rows = append(rows, row)
			for _, pr := range problems {
				t.Error(pr)
			}
		})
	}
	t.Logf("%d entries (%d re-bound) in %v, of which setup %v", len(entries), countRebound(entries), time.Since(start).Round(time.Millisecond), setupTime.Round(time.Millisecond))
	logRows(t, rows)

	t.Run("coverage", func(t *testing.T) {
		if len(cases) < len(entries) {
			t.Skip("not every entry ran")
		}
		for _, leaf := range sortedKeys(leaves) {
			if !covered[leaf] {
				t.Errorf("no corpus entry mutates %s", leaf)
			}
		}
		t.Logf("%d leaf fields of the proof, each mutated by at least one entry: %s", len(leaves), strings.Join(sortedKeys(leaves), " "))
	})
	if *updateCorpus && (len(cases) < len(entries) || !c.kernel) {
		t.Fatal("-update writes the whole corpus: every entry must run (and the honest proof carry kernel times; run again)")
	}
	if *updateCorpus && !t.Failed() {
		if err := writeCorpus(c, entries, cases); err != nil {
			t.Fatal(err)
		}
	}
}

func mustReportData(t *testing.T, b *evidence.Body) [evidence.ReportDataSize]byte {
	t.Helper()
	rd, err := evidence.ReportData(b)
	if err != nil {
		t.Fatal(err)
	}
	return rd
}

func countRebound(es []corpusEntry) int {
	n := 0
	for _, e := range es {
		if e.rebind {
			n++
		}
	}
	return n
}

// logRows logs the corpus as a table: expected and actual stage and outcome.
func logRows(t *testing.T, rows []corpusRow) {
	var b strings.Builder
	fmt.Fprintf(&b, "\n%-78s %-7s %-30s %-30s %-8s %s\n", "entry", "rebind", "expected", "actual", "sentinel", "note")
	for _, r := range rows {
		note := r.directNote
		if r.skipped {
			note = "KNOWN BUG " + note
		}
		fmt.Fprintf(&b, "%-78s %-7v %-30s %-30s %-8s %s\n", r.name, r.rebind, r.wantStage+"/"+string(r.wantOut), r.gotStage+"/"+string(r.gotOut), r.sentinel, note)
	}
	t.Log(b.String())
}

// corpusManifest is corpusDir/MANIFEST.json.
type corpusManifest struct {
	Comment string          `json:"comment"`
	Context string          `json:"context"`
	Entries []manifestEntry `json:"entries"`
}

type manifestEntry struct {
	Name string `json:"name"`
	// Proof is the document to verify, relative to the corpus directory;
	// empty when it was too large to write (regenerate it with -update).
	Proof  string `json:"proof"`
	Rebind bool   `json:"rebind"`
	// Verifier inputs that differ from the context: a clock shift, a
	// collateral file, anything else in words (not replayable from the
	// files).
	NowOffsetSeconds int64  `json:"now_offset_seconds,omitempty"`
	Collateral       string `json:"collateral,omitempty"`
	VerifierInput    string `json:"verifier_input,omitempty"`
	Replayable       bool   `json:"replayable"`
	Stage            string `json:"expect_stage"`
	Outcome          string `json:"expect_outcome"`
	Error            string `json:"expect_error,omitempty"`
	KnownBug         string `json:"known_bug,omitempty"`
	Note             string `json:"note,omitempty"`
}

// maxCorpusFile and maxCorpusBytes keep the written corpus small.
const (
	maxCorpusFile  = 1 << 20
	maxCorpusBytes = 10 << 20
)

var unsafeName = regexp.MustCompile(`[^A-Za-z0-9._-]+`)

// writeCorpus writes the corpus to corpusDir, replacing what was there.
func writeCorpus(c *corpusEnv, entries []corpusEntry, cases map[string]*corpusCase) error {
	if err := os.RemoveAll(corpusDir); err != nil {
		return err
	}
	for _, d := range []string{"proofs", "collateral"} {
		if err := os.MkdirAll(filepath.Join(corpusDir, d), 0o755); err != nil {
			return err
		}
	}
	if err := c.writeCorpusContext(corpusDir); err != nil {
		return err
	}
	baseDoc, err := json.Marshal(c.base)
	if err != nil {
		return err
	}
	m := corpusManifest{
		Comment: "The poc hardening corpus: single mutations of base.json, each with the stage and outcome at which the verifier must refuse it " +
			"(verifier/corpus_test.go; regenerate with: go test ./verifier -run TestCorpus -update). Verify each proof with context.json, " +
			"changed as the entry says; a document that does not decode is refused at the proof stage as refused-crypto.",
		Context: "context.json",
	}
	total := 0
	for i, en := range entries {
		cc := cases[en.name]
		me := manifestEntry{
			Name: en.name, Rebind: en.rebind, NowOffsetSeconds: int64(en.now / time.Second), VerifierInput: en.input,
			Replayable: en.opts == nil, Stage: en.stage, Outcome: string(en.outcome), KnownBug: en.bug,
		}
		if en.want != nil {
			me.Error = en.want.Error()
		}
		file := fmt.Sprintf("%03d-%s", i, strings.Trim(unsafeName.ReplaceAllString(en.name, "_"), "_"))
		switch {
		case bytes.Equal(cc.doc, baseDoc):
			me.Proof = "base.json"
		case len(cc.doc) > maxCorpusFile:
			me.Note = fmt.Sprintf("the %d-byte document is not written: regenerate it with -update", len(cc.doc))
			me.Replayable = false
		default:
			me.Proof = "proofs/" + file + ".json"
			if err := os.WriteFile(filepath.Join(corpusDir, me.Proof), cc.doc, 0o644); err != nil {
				return err
			}
			total += len(cc.doc)
		}
		if cc.coll != nil {
			me.Collateral = "collateral/" + file + ".json"
			if err := os.WriteFile(filepath.Join(corpusDir, me.Collateral), cc.coll, 0o644); err != nil {
				return err
			}
			total += len(cc.coll)
		}
		m.Entries = append(m.Entries, me)
	}
	if total > maxCorpusBytes {
		return fmt.Errorf("the corpus is %d bytes, over %d", total, maxCorpusBytes)
	}
	b, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(corpusDir, "MANIFEST.json"), append(b, '\n'), 0o644)
}

// TestCorpusFiles replays the written corpus with the verifier configured
// from its context alone: the files say what they say without the lab.
func TestCorpusFiles(t *testing.T) {
	fv := loadCorpusContext(t, corpusDir)
	raw, err := os.ReadFile(filepath.Join(corpusDir, "MANIFEST.json"))
	if err != nil {
		t.Fatal(err)
	}
	var m corpusManifest
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatal(err)
	}
	if _, err := decodeAndVerify(fv.base, fv.policy, fv.options()); err != nil {
		t.Fatalf("the corpus's honest proof is refused by its own context: %v (regenerate the corpus with -update)", err)
	}
	n := 0
	for _, me := range m.Entries {
		if !me.Replayable {
			continue
		}
		n++
		t.Run(me.Name, func(t *testing.T) {
			doc, err := os.ReadFile(filepath.Join(corpusDir, me.Proof))
			if err != nil {
				t.Fatal(err)
			}
			o := fv.options()
			if me.NowOffsetSeconds != 0 {
				at := o.Now().Add(time.Duration(me.NowOffsetSeconds) * time.Second)
				o.Now = func() time.Time { return at }
			}
			if me.Collateral != "" {
				b, err := os.ReadFile(filepath.Join(corpusDir, me.Collateral))
				if err != nil {
					t.Fatal(err)
				}
				coll, err := dcap.ParseCollateral(b)
				if err != nil {
					t.Fatal(err)
				}
				o.Collateral = dcap.Bundle{Fixed: coll}
			}
			pol := *fv.policy
			res, err, p := verifySafely(func() (*Result, error) { return decodeAndVerify(doc, &pol, o) })
			if p != nil {
				t.Fatalf("PANIC: %v", p)
			}
			var se *StageError
			switch {
			case err == nil && me.KnownBug != "":
				t.Skipf("KNOWN BUG: %s: accepted", me.KnownBug)
			case err == nil:
				t.Fatalf("ACCEPTED, want %s (%s)", me.Stage, me.Outcome)
			case !errors.As(err, &se):
				t.Fatalf("error %T: %v", err, err)
			case se.Stage != me.Stage || string(se.Outcome) != me.Outcome || res.Outcome != se.Outcome:
				t.Fatalf("refused at %s (%s), want %s (%s): %v", se.Stage, se.Outcome, me.Stage, me.Outcome, err)
			}
		})
	}
	if n == 0 {
		t.Fatal("no replayable entry in the manifest")
	}
}

// The coverage check counts a leaf only where a value changed, never for
// list elements that one side lacks.
func TestCorpusChangedLeaves(t *testing.T) {
	a := &evidence.Proof{Version: 1, Body: evidence.Body{Probes: []evidence.Probe{{Conns: []evidence.Conn{{C2S: []evidence.Stamp{{Offset: 1}}}}}}}}
	b, err := copyProof(a)
	if err != nil {
		t.Fatal(err)
	}
	b.Body.Probes[0].Conns[0].C2S[0].KernelNs = 7
	b.Body.Probes = append(b.Body.Probes, evidence.Probe{Hostname: "extra"})
	b.Attestation.Azure = &evidence.Azure{AKCert: []byte{1}}
	got, err := changedLeaves(a, b, proofLeaves())
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"attestation.azure.ak_cert", "attestation.azure.hcl_report", "body.probes[].conns[].c2s_stamps[].kernel_ns"}
	if !slices.Equal(sortedKeys(got), want) {
		t.Fatalf("changed %v, want %v", sortedKeys(got), want)
	}
}
