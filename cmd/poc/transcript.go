package main

import (
	"crypto/tls"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"text/tabwriter"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/latencyproof/poc/internal/lab"
	"github.com/latencyproof/poc/transcript"
)

func transcriptCommand() *cli.Command {
	return &cli.Command{
		Name:  "transcript",
		Usage: "re-check recorded TLS 1.3 sessions offline",
		Subcommands: []*cli.Command{{
			Name:      "verify",
			Usage:     "re-check one session: records, chain, name, CertificateVerify, Finished, echoes",
			ArgsUsage: " ",
			Description: "Exit status: 0 when every check passes; 1 when a cryptographic check fails;\n" +
				"2 when only the server-name check fails; 4 when the inputs cannot be read.",
			Flags: []cli.Flag{
				&cli.StringFlag{Name: "c2s", Usage: "client→server bytes `FILE`", Required: true},
				&cli.StringFlag{Name: "s2c", Usage: "server→client bytes `FILE`", Required: true},
				&cli.StringFlag{Name: "keylog", Usage: "NSS key log `FILE`", Required: true},
				&cli.StringFlag{Name: "server-name", Usage: "`NAME` the certificate must be valid for", Required: true},
				&cli.StringFlag{Name: "roots", Usage: "PEM `FILE` of trusted roots"},
				&cli.StringFlag{Name: "lab", Usage: "trust the CA of this lab state `FILE` (instead of --roots)"},
				&cli.StringFlag{Name: "at", Usage: "check the chain at this `RFC3339` time (default: now)"},
				&cli.StringFlag{Name: "timing", Usage: "timing.json `FILE` from 'poc probe --transcript-out': recompute the RTTs, and check the nonce it names"},
				&cli.StringFlag{Name: "nonce", Usage: "check the ClientHello random and echo payloads against this 64-hex-digit nonce"},
				&cli.UintFlag{Name: "conn", Usage: "connection index for the nonce check (default: from --timing, else 0)"},
				&cli.UintFlag{Name: "echo-base", Usage: "index of the first echo for the nonce check (default: from --timing, else 0)"},
				&cli.BoolFlag{Name: "json", Usage: "print one JSON document on stdout"},
			},
			Action: runTranscriptVerify,
		}},
	}
}

// Input bounds of the transcript command: a probe's session is kilobytes.
const (
	maxStreamFile = transcript.DefaultMaxStreamBytes
	maxKeyLogFile = 64 << 10
	maxTimingFile = 16 << 20
)

type verifyReport struct {
	OK              bool               `json:"ok"`
	ServerName      string             `json:"server_name"`
	At              time.Time          `json:"at"`
	CipherSuite     string             `json:"cipher_suite,omitempty"`
	ALPN            string             `json:"alpn,omitempty"`
	ClientRandom    string             `json:"client_random,omitempty"`
	Checks          []transcript.Check `json:"checks"`
	Echoes          []transcript.Echo  `json:"echoes,omitempty"`
	HandshakeCycles uint64             `json:"handshake_cycles,omitempty"`
	Records         int                `json:"records"`
}

func runTranscriptVerify(c *cli.Context) error {
	if c.Args().Present() {
		return usage("transcript verify takes no arguments, got %q", c.Args().Slice())
	}
	if c.String("roots") == "" && c.String("lab") == "" {
		return usage("the trust anchors are required: --roots PEM or --lab STATE")
	}
	if c.String("roots") != "" && c.String("lab") != "" {
		return usage("give --roots or --lab, not both")
	}
	var s transcript.Session
	var err error
	for _, in := range []struct {
		flag string
		max  int64
		dst  *[]byte
	}{{"c2s", maxStreamFile + 1, &s.C2S}, {"s2c", maxStreamFile + 1, &s.S2C}, {"keylog", maxKeyLogFile, &s.KeyLog}} {
		// Streams one byte over the limit still reach the verifier, which
		// then reports the size problem as the records check.
		if *in.dst, err = readFileLimited(c.String(in.flag), in.max); err != nil {
			return exit(exitCouldNot, err)
		}
	}
	opts := transcript.Options{ServerName: c.String("server-name"), At: time.Now()}
	if at := c.String("at"); at != "" {
		if opts.At, err = time.Parse(time.RFC3339, at); err != nil {
			return usage("--at: %v", err)
		}
	}
	switch roots, labPath := c.String("roots"), c.String("lab"); {
	case roots != "":
		if opts.Roots, err = readRoots(roots); err != nil {
			return exit(exitCouldNot, err)
		}
	default:
		st, err := lab.ReadStateFile(labPath)
		if err != nil {
			return exit(exitCouldNot, fmt.Errorf("reading lab state: %w", err))
		}
		if opts.Roots, err = st.Roots(); err != nil {
			return exit(exitCouldNot, err)
		}
	}
	nonceHex := c.String("nonce")
	if p := c.String("timing"); p != "" {
		b, err := readFileLimited(p, maxTimingFile)
		if err != nil {
			return exit(exitCouldNot, err)
		}
		var tf timingFile
		if err := json.Unmarshal(b, &tf); err != nil {
			return exit(exitCouldNot, fmt.Errorf("%s: %w", p, err))
		}
		s.C2STimes, s.S2CTimes = tf.C2S, tf.S2C
		if nonceHex == "" {
			nonceHex = tf.Nonce
		}
		opts.ConnIndex, opts.EchoBase = tf.Conn, tf.EchoBase
	}
	if c.IsSet("conn") {
		opts.ConnIndex = uint32(c.Uint("conn"))
	}
	if c.IsSet("echo-base") {
		opts.EchoBase = uint32(c.Uint("echo-base"))
	}
	if nonceHex != "" {
		n, err := parseNonce(nonceHex)
		if err != nil {
			return exit(exitUsage, err)
		}
		opts.Nonce = &n
	}
	res, verr := transcript.Verify(s, opts)
	rep := verifyReport{OK: verr == nil && res.OK(), ServerName: opts.ServerName, At: opts.At.UTC()}
	if res != nil {
		rep.Checks, rep.Echoes, rep.HandshakeCycles, rep.Records = res.Checks, res.Echoes, res.HandshakeCycles, len(res.Records)
		rep.ALPN = res.ALPN
		if res.CipherSuite != 0 {
			rep.CipherSuite = tls.CipherSuiteName(res.CipherSuite)
			rep.ClientRandom = hex.EncodeToString(res.ClientRandom[:])
		}
	}
	if c.Bool("json") {
		if err := printJSON(c.App.Writer, rep); err != nil {
			return err
		}
	} else {
		printVerify(c.App.Writer, rep)
	}
	if rep.OK {
		return nil
	}
	return exit(verifyExitCode(verr), errSilent)
}

// verifyExitCode maps a transcript error to the CLI's exit codes: a failed
// server-name check alone is a policy refusal, anything else a cryptographic
// one.
func verifyExitCode(err error) int {
	var ce *transcript.CheckError
	if errors.As(err, &ce) && ce.Check == transcript.CheckServerName {
		return exitPolicy
	}
	return exitCrypto
}

func printVerify(w io.Writer, r verifyReport) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	for _, ch := range r.Checks {
		mark := "ok"
		if !ch.OK {
			mark = "FAIL"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\n", mark, ch.Name, ch.Detail)
	}
	for _, e := range r.Echoes {
		rtt := ""
		if e.RTTCycles > 0 {
			rtt = fmt.Sprintf("  %d cycles", e.RTTCycles)
		}
		if e.RTTKernelNs > 0 {
			rtt += fmt.Sprintf(", %d ns by the kernel's clock", e.RTTKernelNs)
		}
		fmt.Fprintf(tw, "  echo %d\t%s %s\trecords %d→%d%s\n", e.Index, e.Method, e.Value, e.Request, e.Answer, rtt)
	}
	verdict := "transcript verifies"
	if !r.OK {
		verdict = "transcript does NOT verify"
	}
	fmt.Fprintf(tw, "%s (server name %q, at %s)\n", verdict, r.ServerName, r.At.Format(time.RFC3339))
	tw.Flush()
}
