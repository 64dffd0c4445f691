package tlsprobe

import (
	"context"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/latencyproof/poc/internal/lab"
)

// benchEchoes is K for one echo-floor run: enough for a stable median and
// few enough that the kernel's min_rtt covers the same stretch.
const benchEchoes = 200

func startBenchLab(b *testing.B) *lab.Lab {
	b.Helper()
	w, err := lab.DefaultWorld()
	if err != nil {
		b.Fatal(err)
	}
	l, err := lab.Start(w, lab.Options{})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { l.Close() })
	return l
}

func directDial(addr string) DialFunc {
	return func(ctx context.Context, network, _ string) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, network, addr)
	}
}

func quantile(xs []float64, q float64) float64 {
	s := slices.Clone(xs)
	slices.Sort(s)
	return s[int(q*float64(len(s)-1))]
}

// BenchmarkEchoFloor measures what the probe adds to the kernel's own round
// trip on loopback, with no relay and no added delay: the probe's min and
// median echo RTT minus tcpi_min_rtt of the same connection (floor-*, by the
// cycle counter; kfloor-*, by the kernel's receive timestamps, which leave
// out the probe's wake-up). Each iteration is one connection with
// benchEchoes echoes; the metrics are medians over iterations.
func BenchmarkEchoFloor(b *testing.B) {
	l := startBenchLab(b)
	roots, err := l.State.Roots()
	if err != nil {
		b.Fatal(err)
	}
	for _, tc := range []struct {
		name, host string
		method     Method
	}{
		{"h2-ping", "api.westeurope.lab.test", MethodH2Ping},
		{"http1", "blob.westeurope.lab.test", MethodHTTP1},
	} {
		b.Run(tc.name, func(b *testing.B) {
			var mins, meds, kmins, kmeds, kern, hs []float64
			for i := 0; i < b.N; i++ {
				res, err := Probe(context.Background(), Config{
					Endpoint: tc.host, Echoes: benchEchoes, Method: tc.method, Roots: roots,
					Dial: directDial(l.State.Direct[tc.host]),
				})
				if err != nil {
					b.Fatal(err)
				}
				c := res.Conns[0]
				if c.KernelRTT == nil {
					b.Skip("no TCP_INFO on this platform")
				}
				mins = append(mins, res.MinEchoNs/1e3)
				meds = append(meds, res.MedianEchoNs/1e3)
				kmins = append(kmins, res.MinEchoKernelNs/1e3)
				kmeds = append(kmeds, res.MedianEchoKernelNs/1e3)
				kern = append(kern, float64(c.KernelRTT.MinRTT.Microseconds()))
				hs = append(hs, c.HandshakeNs/1e3)
			}
			k := quantile(kern, 0.5)
			b.ReportMetric(quantile(mins, 0.5), "echo-min-µs")
			b.ReportMetric(quantile(meds, 0.5), "echo-p50-µs")
			b.ReportMetric(k, "kernel-minrtt-µs")
			b.ReportMetric(quantile(mins, 0.5)-k, "floor-min-µs")
			b.ReportMetric(quantile(meds, 0.5)-k, "floor-p50-µs")
			b.ReportMetric(quantile(kmins, 0.5)-k, "kfloor-min-µs")
			b.ReportMetric(quantile(kmeds, 0.5)-k, "kfloor-p50-µs")
			b.ReportMetric(quantile(hs, 0.5), "handshake-µs")
			b.ReportMetric(0, "ns/op")
		})
	}
}

// BenchmarkCurlHandshake runs curl against the same lab endpoint, beside
// the probe's handshake figure: time_appconnect − time_connect is curl's
// TLS handshake time. Skipped where curl is not installed.
func BenchmarkCurlHandshake(b *testing.B) {
	curl, err := exec.LookPath("curl")
	if err != nil {
		b.Skip("curl not installed")
	}
	l := startBenchLab(b)
	host := "api.westeurope.lab.test"
	addr := l.State.Direct[host]
	_, port, _ := net.SplitHostPort(addr)
	ca := filepath.Join(b.TempDir(), "ca.pem")
	if err := os.WriteFile(ca, []byte(l.State.CAPEM), 0o644); err != nil {
		b.Fatal(err)
	}
	var hs []float64
	for i := 0; i < b.N; i++ {
		out, err := exec.Command(curl, "-s", "-o", "/dev/null", "--tlsv1.3", "--cacert", ca,
			"--resolve", host+":"+port+":127.0.0.1", "-w", "%{time_connect} %{time_appconnect}",
			"https://"+host+":"+port+"/").Output()
		if err != nil {
			b.Fatalf("curl: %v", err)
		}
		f := strings.Fields(string(out))
		if len(f) != 2 {
			b.Fatalf("curl printed %q", out)
		}
		tc, _ := strconv.ParseFloat(f[0], 64)
		ta, _ := strconv.ParseFloat(f[1], 64)
		hs = append(hs, (ta-tc)*1e6)
	}
	b.ReportMetric(quantile(hs, 0.5), "curl-handshake-µs")
	b.ReportMetric(0, "ns/op")
}
