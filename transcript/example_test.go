package transcript_test

import (
	"crypto/x509"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/latencyproof/poc/transcript"
)

// Verify the RFC 8448 §3 session. Its certificate names no host (CN=rsa and
// no SAN), so the policy check server_name fails while every cryptographic
// check passes; its application data is not an echo protocol.
func ExampleVerify() {
	read := func(name string) []byte {
		b, err := os.ReadFile("testdata/rfc8448/" + name)
		if err != nil {
			panic(err)
		}
		return b
	}
	roots := x509.NewCertPool()
	roots.AppendCertsFromPEM(read("root.pem"))
	res, err := transcript.Verify(
		transcript.Session{C2S: read("c2s.bin"), S2C: read("s2c.bin"), KeyLog: read("keylog.txt")},
		transcript.Options{ServerName: "rsa", Roots: roots, At: time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)},
	)
	for _, c := range res.Checks {
		fmt.Println(c.Name, c.OK)
	}
	var ce *transcript.CheckError
	if errors.As(err, &ce) {
		fmt.Println("first failure:", ce.Check, errors.Is(err, transcript.ErrEcho))
	}
	// Output:
	// records true
	// client_hello true
	// handshake_decrypt true
	// certificate_chain true
	// server_name false
	// certificate_verify true
	// server_finished true
	// application_data true
	// echoes false
	// first failure: echoes true
}
