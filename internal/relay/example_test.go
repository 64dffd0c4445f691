package relay_test

import (
	"fmt"
	"io"
	"net"
	"time"

	"github.com/latencyproof/poc/internal/relay"
)

// A relay in front of an echo server makes it look 1000 km of fibre away.
func Example() {
	// Something to relay to: a loopback echo server.
	target, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer target.Close()
	go func() {
		for {
			c, err := target.Accept()
			if err != nil {
				return
			}
			go func() { defer c.Close(); io.Copy(c, c) }()
		}
	}()

	s, err := relay.NewScheduler(relay.SchedulerConfig{}) // one per process
	if err != nil {
		fmt.Println(err)
		return
	}
	defer s.Close()
	oneWay := relay.FibreDelay(1000, 1.0) // 4.89 ms
	r, err := relay.New(relay.Config{
		Target: target.Addr().String(),
		Up:     relay.Fixed(oneWay),
		Down:   relay.Uniform(oneWay, 200*time.Microsecond, 1), // with jitter
	}, s)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer r.Close()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fmt.Println(err)
		return
	}
	go r.Serve(ln)

	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		fmt.Println(err)
		return
	}
	defer c.Close()
	start := time.Now()
	c.Write([]byte("ping"))
	buf := make([]byte, 4)
	io.ReadFull(c, buf)
	fmt.Println(string(buf), time.Since(start) >= 2*oneWay)
	// Output: ping true
}
