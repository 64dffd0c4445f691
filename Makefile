# poc — proof of cloud. `make demo` and `make test` do all set-up on a fresh
# machine with Go 1.26 (and gcc, for the TPM simulator in later stages).

GO        ?= go
BIN       := bin/poc
PKGS      := ./...
FUZZTIME  ?= 50000x

.PHONY: all build test vet fmt-check bench demo demo-study eval fuzz-smoke fuzz clean

all: build

build: $(BIN)

# Always rebuilt: go's own cache makes that cheap, and make cannot see every
# Go source file the binary depends on.
$(BIN): FORCE
	$(GO) build -trimpath -o $(BIN) ./cmd/poc
FORCE:

fmt-check:
	@out=$$(gofmt -l .); \
	if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi

vet:
	$(GO) vet $(PKGS)

# Tests that judge lab round trips against a calibration made minutes
# before: under the load of other test packages on two cores the round
# trips move after calibration, which no profile covers (docs/EVALUATION.md).
# They run after the rest, one package at a time.
LAB_TIMING_TESTS := ^(TestDemo|TestCalibrateLabNearFar|TestVerifyHonestProofAccepted|TestHTTPHonestProofAccepted|TestEvalQuick)$$
LAB_TIMING_PKGS  := ./cmd/poc/ ./verifier/ ./verifier/service/ ./internal/eval/

test: fmt-check vet
	$(GO) test -count=1 -skip '$(LAB_TIMING_TESTS)' $(PKGS)
	$(GO) test -count=1 -p 1 -run '$(LAB_TIMING_TESTS)' $(LAB_TIMING_PKGS)
	$(GO) test -count=1 -race -short ./tlsprobe/ ./internal/... ./transcript/ ./prover/service/ ./verifier/service/

# Benchmarks: the figures in docs/BENCHMARKS.md come from here (about 8 min).
bench:
	$(GO) test -run '^$$' -bench . -benchtime 2s ./timing/
	$(GO) test -run '^$$' -bench . -benchtime 20x ./tlsprobe/
	$(GO) test -run '^$$' -bench . -benchtime 2000x ./internal/relay/
	$(GO) test -run '^$$' -bench 'VerifyRatio|VerifyColdCollateral' -benchtime 20x ./verifier/dcap/
	$(GO) test -run '^$$' -bench 'Fit10M' -benchtime 2x ./calibration/fit/
	$(GO) test -run '^$$' -bench 'Add|FitGroup' ./calibration/fit/
	$(GO) test -run '^$$' -bench ReadParquet -benchtime 20x ./calibration/dataset/
	$(GO) test -run '^$$' -bench . ./calibration/verdict/
	$(GO) test -run '^$$' -bench . -benchtime 40x ./calibration/report/
	$(GO) test -run '^$$' -bench . -benchtime 200x ./verifier/service/

# The whole story on the loopback lab; the report (Markdown, PNG) goes to out/demo.
demo: build
	./$(BIN) demo --out out/demo

# What the demo's short calibration gives its honest prover and its 10 km
# relay on this machine (docs/EVALUATION.md, "The demo's calibration"): one
# long campaign, then calibration windows of 120 and 240 probes; about 3 min.
demo-study:
	POC_DEMO_STUDY=1 $(GO) test -count=1 -timeout 30m -run '^TestDemoCalibrationStudy$$' -v ./internal/demo/

# The adversarial evaluation on the lab (docs/EVALUATION.md): FAR and FRR
# against relay distance for K = 8, 16, 32, echoes against handshakes; about
# 5 min. Results in out/eval. POC_EVAL=1 also runs the lab FRR experiment
# among the verdict's tests.
eval: build
	./$(BIN) eval --out out/eval
	POC_EVAL=1 $(GO) test -count=1 -run '^TestLabHonestFRR$$' -v ./calibration/verdict/

# Every fuzz target, briefly (CI): 50,000 executions each, a few seconds to
# half a minute. A count, not a duration: Go 1.26's fuzz coordinator can
# fail a duration-bounded run at its deadline with nothing found
# (golang/go#75804, fixed in Go 1.27), which scripts/fuzz-one.sh retries once.
# `make fuzz` runs each for 5 minutes; `make fuzz FUZZTIME=1h` for longer.
FUZZ_TARGETS := \
	./transcript/:FuzzRecords \
	./transcript/:FuzzVerify \
	./transcript/:FuzzServerVersion \
	./evidence/:FuzzDecode \
	./internal/quoteabi/:FuzzParse \
	./calibration/profile/:FuzzRead \
	./calibration/verdict/:FuzzDecide \
	./calibration/fit/:FuzzCSV \
	./calibration/dataset/:FuzzReader \
	./calibration/dataset/:FuzzReadParquet \
	./internal/pqguard/:FuzzCheck \
	./verifier/dcap/:FuzzParseQuote \
	./verifier/dcap/:FuzzDecodeQuoteFile \
	./verifier/dcap/:FuzzParseCollateral \
	./verifier/dcap/:FuzzVerify \
	./verifier/dcap/:FuzzSGXExtension \
	./internal/azure/hcl/:FuzzParseHCL \
	./internal/azure/hcl/:FuzzParseRuntimeClaims \
	./internal/azure/tpmquote/:FuzzParseAttest \
	./verifier/azure/:FuzzVerifyTPMQuote \
	./verifier/azure/:FuzzVerify \
	./datasets/:FuzzReadCatalog \
	./internal/lab/:FuzzReadWorld \
	./internal/lab/:FuzzReadState \
	./internal/sockstamp/:FuzzParse

fuzz-smoke:
	@set -e; for t in $(FUZZ_TARGETS); do \
		pkg=$${t%%:*}; name=$${t##*:}; \
		echo "fuzz $$pkg $$name for $(FUZZTIME)"; \
		GO=$(GO) scripts/fuzz-one.sh $$pkg $$name $(FUZZTIME); \
	done

fuzz:
	$(MAKE) fuzz-smoke FUZZTIME=$(if $(filter 50000x,$(FUZZTIME)),5m,$(FUZZTIME))

clean:
	rm -rf bin
