// Command poc proves, by measured latency, that a confidential VM runs inside
// a given cloud region, and checks such proofs. See the README for the
// commands; `poc help COMMAND` for their flags.
package main

import (
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/urfave/cli/v2"
)

// Exit codes. They are part of the command-line interface: scripts act on
// them, so they never change meaning.
const (
	exitOK          = 0  // every check passed / the command did its job
	exitCrypto      = 1  // refused: a cryptographic check failed
	exitPolicy      = 2  // refused: evidence is sound but policy says no
	exitLatency     = 3  // refused: the latencies do not support the claim
	exitCouldNot    = 4  // could not check or measure: I/O, network, bad input files
	exitUsage       = 64 // bad command line
	exitInterrupted = 130
)

// exitError carries an exit code out of a command.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string { return e.err.Error() }
func (e *exitError) Unwrap() error { return e.err }

func exit(code int, err error) error { return &exitError{code: code, err: err} }

// hintError attaches a hint for the person at the terminal to an error.
type hintError struct {
	err  error
	hint string
}

func (e *hintError) Error() string { return e.err.Error() }
func (e *hintError) Unwrap() error { return e.err }

func withHint(err error, hint string) error { return &hintError{err: err, hint: hint} }

func usage(format string, a ...any) error {
	return exit(exitUsage, fmt.Errorf(format, a...))
}

func newApp(stdout, stderr io.Writer) *cli.App {
	app := &cli.App{
		Name:  "poc",
		Usage: "proof of cloud: prove by measured latency where a confidential VM runs",
		Description: "poc times authenticated TLS round trips with the CPU cycle counter and keeps\n" +
			"transcripts anyone can re-check offline. Try it on the built-in loopback lab:\n" +
			"  poc lab serve --state-out lab.json &\n" +
			"  poc probe --lab lab.json --vantage westeurope-vm --endpoint api.westeurope.lab.test --echoes 16",
		Writer:          stdout,
		ErrWriter:       stderr,
		HideHelpCommand: true,
		Commands: []*cli.Command{
			challengeCommand(),
			proveCommand(),
			verifyCommand(),
			probeCommand(),
			transcriptCommand(),
			labCommand(),
			calibrateCommand(),
			quoteCommand(),
			maaCommand(),
			azureCommand(),
			simCommand(),
			demoCommand(),
			evalCommand(),
			proverCommand(),
			verifierCommand(),
		},
		OnUsageError: func(_ *cli.Context, err error, _ bool) error {
			return exit(exitUsage, err)
		},
		CommandNotFound: func(c *cli.Context, name string) {
			unknownCommand = name
		},
	}
	usageErrors(app.Commands)
	return app
}

// usageErrors makes a flag error in any command exit with exitUsage.
func usageErrors(cmds []*cli.Command) {
	for _, c := range cmds {
		c.OnUsageError = func(_ *cli.Context, err error, _ bool) error { return exit(exitUsage, err) }
		usageErrors(c.Subcommands)
	}
}

// unknownCommand is set when the command line names no command poc has:
// urfave/cli reports that through a callback without an error.
var unknownCommand string

func main() {
	os.Exit(run(os.Args, os.Stdout, os.Stderr))
}

// run executes the command line and maps its outcome to an exit code,
// printing errors as "error: …" on stderr.
func run(args []string, stdout, stderr io.Writer) int {
	app := newApp(stdout, stderr)
	unknownCommand = ""
	err := app.Run(args)
	if err == nil && unknownCommand != "" {
		err = usage("no command %q; see 'poc help'", unknownCommand)
	}
	if err == nil {
		return exitOK
	}
	// Every action returns an *exitError; anything else comes from the
	// command-line parser itself (a required flag missing, say): a usage
	// error.
	code := exitUsage
	var ee *exitError
	if errors.As(err, &ee) {
		code = ee.code
	}
	if ee == nil || ee.err != errSilent {
		fmt.Fprintf(stderr, "error: %v\n", err)
		h := hintFor(err)
		var he *hintError
		if errors.As(err, &he) {
			h = he.hint
		}
		if h != "" {
			fmt.Fprintf(stderr, "hint: %s\n", h)
		}
	}
	return code
}

// errSilent marks a failure whose explanation the command already printed
// (a failed check listed in its report).
var errSilent = errors.New("checks failed")
