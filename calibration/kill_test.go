package calibration

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/latencyproof/poc/calibration/dataset"
	"github.com/latencyproof/poc/internal/lab"
)

// The kill test re-executes this test binary as a campaign runner: with
// childEnv set, TestMain runs childMain instead of the tests.
const (
	childEnv     = "POC_CALIBRATION_CHILD"
	childState   = "POC_CALIBRATION_CHILD_STATE"
	childOut     = "POC_CALIBRATION_CHILD_OUT"
	childRounds  = 8
	childEchoes  = 6
	childVantage = "v2"
)

func TestMain(m *testing.M) {
	if os.Getenv(childEnv) != "" {
		os.Exit(childMain())
	}
	os.Exit(m.Run())
}

// childMain runs (or resumes) the kill test's campaign against the lab whose
// state file the parent names, until done or killed.
func childMain() int {
	st, err := lab.ReadStateFile(os.Getenv(childState))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	err = Run(context.Background(), Campaign{
		Lab: st, Vantage: dataset.Vantage{Name: childVantage},
		Rounds: childRounds, Echoes: childEchoes, Seed: 7,
		Out: os.Getenv(childOut), Resume: true, Timeout: 10 * time.Second,
	})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return 0
}

// completePrefix returns the bytes of path up to the end of its last
// complete unit, as Resume would leave them, without touching path.
func completePrefix(t *testing.T, path string) ([]byte, *dataset.State) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	cp := filepath.Join(t.TempDir(), "copy.jsonl")
	if err := os.WriteFile(cp, b, 0o644); err != nil {
		t.Fatal(err)
	}
	st, err := dataset.Resume(cp)
	if err != nil {
		t.Fatalf("the killed campaign's file does not resume: %v", err)
	}
	return b[:len(b)-int(st.Cut)], st
}

// Kill -9 a real campaign process at random moments, resume it each time,
// and sometimes tear the file's tail as a crash inside a write would: the
// final dataset holds every (round, endpoint, echo) exactly once with Seq
// gapless, and no kill ever lost or rewrote a unit already complete.
func TestKillResume(t *testing.T) {
	if testing.Short() {
		t.Skip("re-executes the test binary")
	}
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	l := startLab(t)
	dir := t.TempDir()
	state := filepath.Join(dir, "lab.json")
	if err := l.State.WriteFile(state); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "campaign.jsonl")
	seed := uint64(time.Now().UnixNano())
	t.Logf("kill moments drawn with seed %d", seed)
	rng := rand.New(rand.NewPCG(seed, 1))
	total := childRounds * len(l.State.Catalog.Endpoints)

	start := func() (*exec.Cmd, *bytes.Buffer) {
		cmd := exec.Command(exe)
		cmd.Env = append(os.Environ(), childEnv+"=1", childState+"="+state, childOut+"="+out)
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		return cmd, &stderr
	}
	size := func() int64 {
		fi, err := os.Stat(out)
		if err != nil {
			return 0
		}
		return fi.Size()
	}

	var committed []byte // complete units after the previous kill
	kills, midway, torn, cutLines := 0, 0, 0, 0
	for kills < 6 {
		before := size()
		cmd, stderr := start()
		exited := make(chan error, 1)
		go func() { exited <- cmd.Wait() }()
		// Wait for the child to commit something new, then kill it a
		// random moment later, somewhere inside a probe or a write.
		deadline := time.Now().Add(20 * time.Second)
		finished := false
	wait:
		for size() <= before+200 {
			select {
			case err := <-exited:
				if err != nil {
					t.Fatalf("campaign child failed: %v\n%s", err, stderr)
				}
				finished = true
				break wait
			case <-time.After(2 * time.Millisecond):
			}
			if time.Now().After(deadline) {
				cmd.Process.Kill()
				t.Fatalf("campaign child made no progress\n%s", stderr)
			}
		}
		if finished {
			break
		}
		time.Sleep(time.Duration(rng.IntN(25_000)) * time.Microsecond)
		_ = cmd.Process.Signal(syscall.SIGKILL)
		if err := <-exited; err == nil {
			break // it finished before the signal landed
		}
		kills++
		b, err := os.ReadFile(out)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.HasPrefix(b, committed) {
			t.Fatalf("kill %d: the units complete before it were changed", kills)
		}
		// Every other time, tear the tail as a crash inside write(2)
		// could: cut a random few hundred bytes.
		if kills%2 == 1 {
			// Never into the header (written whole before the first
			// sample) nor into units complete before this run.
			keep := max(len(committed), bytes.IndexByte(b, '\n')+1)
			cut := min(1+rng.IntN(400), len(b)-keep)
			if err := os.WriteFile(out, b[:len(b)-cut], 0o644); err != nil {
				t.Fatal(err)
			}
		}
		var st *dataset.State
		committed, st = completePrefix(t, out)
		if st.Units < total {
			midway++
		}
		if st.Torn {
			torn++
		}
		cutLines += st.CutLines
		t.Logf("kill %d: %d of %d units complete, cut %d bytes (%d whole lines of an unfinished unit, torn line: %v)",
			kills, st.Units, total, st.Cut, st.CutLines, st.Torn)
	}
	// Let the last run finish the plan.
	cmd, stderr := start()
	if err := cmd.Wait(); err != nil {
		t.Fatalf("final run: %v\n%s", err, stderr)
	}
	b, _ := os.ReadFile(out)
	if !bytes.HasPrefix(b, committed) {
		t.Fatal("the final run changed units complete before it")
	}
	h, samples := checkDataset(t, out)
	if len(samples) != h.Plan.Units()*childEchoes {
		t.Fatalf("%d samples, want %d", len(samples), h.Plan.Units()*childEchoes)
	}
	for _, s := range samples {
		if s.Error != "" {
			t.Errorf("round %d %s failed: %s", s.Round, s.Endpoint, s.Error)
		}
	}
	t.Logf("%d kills (%d mid-campaign), %d torn lines cut, %d lines of unfinished units rolled back; %d samples, each (round, endpoint, echo) once",
		kills, midway, torn, cutLines, len(samples))
	if kills < 3 {
		t.Fatalf("only %d kills landed mid-campaign", kills)
	}
}
