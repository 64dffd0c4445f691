package main

import (
	"crypto/rand"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/latencyproof/poc/internal/lab"
	"github.com/latencyproof/poc/tlsprobe"
	"github.com/latencyproof/poc/transcript"
)

func probeCommand() *cli.Command {
	return &cli.Command{
		Name:      "probe",
		Usage:     "time authenticated TLS 1.3 round trips to one endpoint",
		ArgsUsage: " ",
		Description: "Opens TLS 1.3 sessions to the endpoint with a ClientHello random derived from\n" +
			"the nonce, times the handshake and K echoes (HTTP/2 PINGs or HTTP/1.1\n" +
			"keep-alive requests) in CPU cycles, and re-checks its own transcripts.",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "endpoint", Usage: "`HOST[:PORT]` to probe (port 443 by default)", Required: true},
			&cli.StringFlag{Name: "lab", Usage: "lab state `FILE` (from 'poc lab serve'): route and trust as the lab says"},
			&cli.StringFlag{Name: "vantage", Usage: "lab vantage `NAME` to probe from (with --lab)"},
			&cli.StringFlag{Name: "roots", Usage: "PEM `FILE` of trusted roots (default: the system's, or the lab CA)"},
			&cli.IntFlag{Name: "echoes", Value: 16, Usage: "number of echoes `K`"},
			&cli.StringFlag{Name: "echo", Value: "auto", Usage: "echo method: auto, h2-ping or http1"},
			&cli.StringFlag{Name: "http1-method", Usage: "request method of http1 echoes (default GET)"},
			&cli.StringFlag{Name: "http1-path", Usage: "request path of http1 echoes (default /)"},
			&cli.StringSliceFlag{Name: "http1-header", Usage: "extra `NAME: VALUE` header of http1 echoes (repeatable)"},
			&cli.IntFlag{Name: "echoes-per-conn", Usage: "echo budget: echoes per connection (0: no cap)"},
			&cli.DurationFlag{Name: "spacing", Usage: "echo budget: least time between echoes"},
			&cli.StringFlag{Name: "nonce", Usage: "32-byte nonce as 64 hex digits (default: random)"},
			&cli.DurationFlag{Name: "timeout", Value: tlsprobe.DefaultTimeout, Usage: "bound on each connection"},
			&cli.StringFlag{Name: "transcript-out", Usage: "write each connection's evidence to `DIR`"},
			&cli.BoolFlag{Name: "json", Usage: "print one JSON document on stdout"},
		},
		Action: runProbe,
	}
}

func runProbe(c *cli.Context) error {
	if c.Args().Present() {
		return usage("probe takes no arguments, got %q", c.Args().Slice())
	}
	cfg := tlsprobe.Config{
		Endpoint: c.String("endpoint"),
		Echoes:   c.Int("echoes"),
		Timeout:  c.Duration("timeout"),
		Budget: tlsprobe.Budget{
			EchoesPerConn: c.Int("echoes-per-conn"),
			MinSpacing:    c.Duration("spacing"),
		},
	}
	var err error
	if cfg.Method, err = tlsprobe.ParseMethod(c.String("echo")); err != nil {
		return exit(exitUsage, err)
	}
	cfg.HTTP1.Method = c.String("http1-method")
	cfg.HTTP1.Path = c.String("http1-path")
	for _, h := range c.StringSlice("http1-header") {
		name, value, ok := strings.Cut(h, ":")
		if !ok {
			return usage("--http1-header %q: want NAME: VALUE", h)
		}
		if cfg.HTTP1.Header == nil {
			cfg.HTTP1.Header = map[string][]string{}
		}
		cfg.HTTP1.Header[strings.TrimSpace(name)] = append(cfg.HTTP1.Header[strings.TrimSpace(name)], strings.TrimSpace(value))
	}
	if cfg.Nonce, err = parseNonce(c.String("nonce")); err != nil {
		return exit(exitUsage, err)
	}
	if err := applyLab(c, &cfg); err != nil {
		return err
	}
	if p := c.String("roots"); p != "" {
		if cfg.Roots, err = readRoots(p); err != nil {
			return exit(exitCouldNot, err)
		}
	}
	ctx, stop := notifyContext(c.Context)
	defer stop()
	res, err := tlsprobe.Probe(ctx, cfg)
	if err != nil {
		err = fmt.Errorf("probing %s: %w", cfg.Endpoint, err)
		if c.String("lab") != "" && errors.Is(err, tlsprobe.ErrDial) {
			err = withHint(err, "is 'poc lab serve' still running? Its state file names the addresses it listened on")
		}
		return exit(exitCouldNot, err)
	}
	if dir := c.String("transcript-out"); dir != "" {
		if err := writeTranscripts(dir, res); err != nil {
			return exit(exitCouldNot, fmt.Errorf("writing transcripts: %w", err))
		}
	}
	if c.Bool("json") {
		return printJSON(c.App.Writer, res)
	}
	printProbe(c.App.Writer, res, c.String("vantage"))
	return nil
}

// applyLab routes and trusts as the lab state says, when --lab is given.
func applyLab(c *cli.Context, cfg *tlsprobe.Config) error {
	statePath, vantage := c.String("lab"), c.String("vantage")
	if statePath == "" {
		if vantage != "" {
			return usage("--vantage needs --lab")
		}
		return nil
	}
	if vantage == "" {
		return usage("--lab needs --vantage NAME")
	}
	st, err := lab.ReadStateFile(statePath)
	if err != nil {
		return exit(exitCouldNot, fmt.Errorf("reading lab state: %w", err))
	}
	v, err := st.Vantage(vantage)
	if err != nil {
		return exit(exitUsage, err)
	}
	host, _, err := tlsprobe.SplitEndpoint(cfg.Endpoint)
	if err != nil {
		return exit(exitUsage, err)
	}
	e, ok := st.Catalog.Lookup(host)
	if !ok {
		return exit(exitUsage, fmt.Errorf("%w: %s", lab.ErrUnknownHost, host))
	}
	if cfg.Roots, err = st.Roots(); err != nil {
		return exit(exitCouldNot, err)
	}
	cfg.Dial = v.Dialer()
	// The catalog's echo method, request and budget apply unless the
	// command line set them: a region-binding endpoint's echo is its
	// binding request.
	if !c.IsSet("echo") {
		if cfg.Method, err = tlsprobe.ParseMethod(e.Echo.Method); err != nil {
			return exit(exitCouldNot, err)
		}
	}
	if h := e.Echo.HTTP1; h != nil && !c.IsSet("http1-method") && !c.IsSet("http1-path") && !c.IsSet("http1-header") {
		cfg.HTTP1 = tlsprobe.HTTP1Request{Method: h.Method, Path: h.Path, Header: h.Header}
	}
	if !c.IsSet("echoes-per-conn") {
		cfg.Budget.EchoesPerConn = e.Echo.EchoesPerConn
	}
	if !c.IsSet("spacing") {
		cfg.Budget.MinSpacing = time.Duration(e.Echo.MinSpacing)
	}
	return nil
}

func parseNonce(s string) ([32]byte, error) {
	var n [32]byte
	if s == "" {
		_, err := rand.Read(n[:])
		return n, err
	}
	b, err := hex.DecodeString(s)
	if err != nil || len(b) != 32 {
		return n, fmt.Errorf("--nonce must be 64 hex digits (32 bytes)")
	}
	copy(n[:], b)
	return n, nil
}

// maxPEMBytes bounds a roots file.
const maxPEMBytes = 4 << 20

func readRoots(path string) (*x509.CertPool, error) {
	b, err := readFileLimited(path, maxPEMBytes)
	if err != nil {
		return nil, err
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(b) {
		return nil, fmt.Errorf("%s: no PEM certificate found", path)
	}
	return pool, nil
}

// readFileLimited reads a file, refusing one larger than max bytes.
func readFileLimited(path string, max int64) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, max+1))
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", path, err)
	}
	if int64(len(b)) > max {
		return nil, fmt.Errorf("%s: larger than %d bytes", path, max)
	}
	return b, nil
}

// timingFile is the on-disk form of a connection's timestamps and the facts
// needed to re-check it: which nonce, connection and echoes it belongs to.
type timingFile struct {
	Nonce     string              `json:"nonce"`
	Conn      uint32              `json:"conn"`
	EchoBase  uint32              `json:"echo_base"`
	Endpoint  string              `json:"endpoint"`
	Frequency any                 `json:"frequency"`
	C2S       []transcript.Stamp  `json:"c2s"`
	S2C       []transcript.Stamp  `json:"s2c"`
	Kernel    *tlsprobe.KernelRTT `json:"kernel_rtt,omitempty"`
}

// writeTranscripts writes each connection's evidence: c2s.bin, s2c.bin,
// keylog.txt, timing.json and chain.pem, in DIR for a single connection or in
// DIR/conn-N for several, plus DIR/probe.json with the whole result.
func writeTranscripts(dir string, res *tlsprobe.Result) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	for _, cn := range res.Conns {
		d := dir
		if len(res.Conns) > 1 {
			d = filepath.Join(dir, fmt.Sprintf("conn-%d", cn.Index))
			if err := os.MkdirAll(d, 0o755); err != nil {
				return err
			}
		}
		tf := timingFile{
			Nonce: res.Nonce, Conn: cn.Index, EchoBase: cn.EchoBase, Endpoint: res.Endpoint,
			Frequency: res.Frequency, C2S: cn.Session.C2STimes, S2C: cn.Session.S2CTimes, Kernel: cn.KernelRTT,
		}
		tj, err := json.MarshalIndent(tf, "", "  ")
		if err != nil {
			return err
		}
		var chain []byte
		for _, cert := range cn.Chain {
			chain = append(chain, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: cert.Raw})...)
		}
		files := map[string][]byte{
			"c2s.bin":     cn.Session.C2S,
			"s2c.bin":     cn.Session.S2C,
			"keylog.txt":  cn.Session.KeyLog,
			"timing.json": append(tj, '\n'),
			"chain.pem":   chain,
		}
		for name, b := range files {
			// The key log holds the session's secrets: readable by the
			// owner only.
			mode := os.FileMode(0o644)
			if name == "keylog.txt" {
				mode = 0o600
			}
			if err := os.WriteFile(filepath.Join(d, name), b, mode); err != nil {
				return err
			}
		}
	}
	b, err := json.MarshalIndent(res, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dir, "probe.json"), append(b, '\n'), 0o644)
}

func printJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	if err := enc.Encode(v); err != nil {
		return exit(exitCouldNot, err)
	}
	return nil
}

func ms(ns float64) string { return fmt.Sprintf("%.3f ms", ns/1e6) }

func printProbe(w io.Writer, r *tlsprobe.Result, vantage string) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	via := ""
	if vantage != "" {
		via = " from lab vantage " + vantage
	}
	fmt.Fprintf(tw, "endpoint\t%s%s\n", r.Endpoint, via)
	trust := "untrusted outside a TD"
	if r.Frequency.Source.Trusted() {
		trust = "trusted inside a TD"
	}
	fmt.Fprintf(tw, "counter\t%s at %s, %s\n", r.Counter, r.Frequency, trust)
	fmt.Fprintf(tw, "nonce\t%s\n", r.Nonce)
	for _, cn := range r.Conns {
		k := ""
		if cn.KernelRTT != nil {
			k = fmt.Sprintf("  kernel rtt min %v srtt %v", cn.KernelRTT.MinRTT, cn.KernelRTT.SmoothedRTT)
		}
		fmt.Fprintf(tw, "conn %d\t%s  %s  alpn %q  handshake %s (%d cycles)  %d echoes, %s%s\n",
			cn.Index, cn.Address, cn.CipherSuite, cn.ALPN, ms(cn.HandshakeNs), cn.HandshakeCycles, cn.Echoes, cn.Stop, k)
	}
	if len(r.Echoes) > 0 {
		fmt.Fprintf(tw, "echoes\tK=%d %s: min %s  median %s (cycle counter)\n", len(r.Echoes), r.Conns[0].Method, ms(r.MinEchoNs), ms(r.MedianEchoNs))
		if r.MinEchoKernelNs > 0 {
			fmt.Fprintf(tw, "\tmin %s  median %s (kernel receive timestamps, without the probe's wake-up)\n", ms(r.MinEchoKernelNs), ms(r.MedianEchoKernelNs))
		}
		for _, e := range r.Echoes {
			k := ""
			if e.KernelNs > 0 {
				k = fmt.Sprintf("  kernel %s", ms(float64(e.KernelNs)))
			}
			fmt.Fprintf(tw, "  #%d\tconn %d  %s  %d cycles%s\n", e.Index, e.Conn, ms(e.Ns), e.Cycles, k)
		}
	}
	tw.Flush()
}

func hintFor(err error) string {
	switch {
	case errors.Is(err, tlsprobe.ErrNoTLS13):
		return "poc only times TLS 1.3 sessions: choose an endpoint that offers TLS 1.3"
	case errors.Is(err, lab.ErrUnknownVantage):
		return "the vantages are listed in the lab state file ('vantages')"
	case errors.Is(err, lab.ErrUnknownHost):
		return "lab hostnames look like api.westeurope.lab.test; see 'catalog' in the lab state file"
	case errors.Is(err, tlsprobe.ErrBudget):
		return "raise --echoes-per-conn, or lower --echoes"
	}
	return ""
}
