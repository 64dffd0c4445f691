// Package promtext writes a few metric series in the Prometheus text
// exposition format (version 0.0.4). The services expose about ten series
// each; a counter family with labels, counters, gauges and histograms need
// no library. Label values must come from fixed sets chosen by the caller,
// never from requests, so the number of series stays bounded.
package promtext

import (
	"fmt"
	"io"
	"math"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
)

// CounterVec is a family of counters told apart by their labels' values.
type CounterVec struct {
	name, help string
	labels     []string
	mu         sync.Mutex
	vals       map[string]uint64 // by the label values joined with NUL
}

// NewCounterVec returns an empty family of counters with these labels.
func NewCounterVec(name, help string, labels ...string) *CounterVec {
	return &CounterVec{name: name, help: help, labels: labels, vals: map[string]uint64{}}
}

// With declares a series, so that it is written (as 0) before it counts.
func (c *CounterVec) With(values ...string) *CounterVec {
	c.mu.Lock()
	c.vals[strings.Join(values, "\x00")] += 0
	c.mu.Unlock()
	return c
}

// Inc adds one to the series with these label values.
func (c *CounterVec) Inc(values ...string) {
	c.mu.Lock()
	c.vals[strings.Join(values, "\x00")]++
	c.mu.Unlock()
}

// Get returns the series' count.
func (c *CounterVec) Get(values ...string) uint64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.vals[strings.Join(values, "\x00")]
}

// Write writes the family.
func (c *CounterVec) Write(w io.Writer) {
	c.mu.Lock()
	defer c.mu.Unlock()
	fmt.Fprintf(w, "# HELP %s %s\n# TYPE %s counter\n", c.name, c.help, c.name)
	keys := make([]string, 0, len(c.vals))
	for k := range c.vals {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		var pairs []string
		for i, v := range strings.Split(k, "\x00") {
			pairs = append(pairs, fmt.Sprintf("%s=\"%s\"", c.labels[i], escapeLabel(v)))
		}
		fmt.Fprintf(w, "%s{%s} %d\n", c.name, strings.Join(pairs, ","), c.vals[k])
	}
}

// Counter is a counter without labels.
type Counter struct {
	Name, Help string
	N          atomic.Uint64
}

// Write writes the counter.
func (c *Counter) Write(w io.Writer) {
	fmt.Fprintf(w, "# HELP %s %s\n# TYPE %s counter\n%s %d\n", c.Name, c.Help, c.Name, c.Name, c.N.Load())
}

// Gauge is a gauge without labels.
type Gauge struct {
	Name, Help string
	N          atomic.Int64
}

// Write writes the gauge.
func (g *Gauge) Write(w io.Writer) {
	fmt.Fprintf(w, "# HELP %s %s\n# TYPE %s gauge\n%s %d\n", g.Name, g.Help, g.Name, g.Name, g.N.Load())
}

// Histogram counts observations in cumulative buckets.
type Histogram struct {
	name, help string
	bounds     []float64
	mu         sync.Mutex
	counts     []uint64 // per bucket, not cumulative
	count      uint64
	sum        float64
}

// NewHistogram returns a histogram with these bucket upper bounds.
func NewHistogram(name, help string, bounds ...float64) *Histogram {
	return &Histogram{name: name, help: help, bounds: bounds, counts: make([]uint64, len(bounds))}
}

// Observe counts one value.
func (h *Histogram) Observe(v float64) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if i, _ := slices.BinarySearch(h.bounds, v); i < len(h.bounds) {
		h.counts[i]++
	}
	h.count++
	h.sum += v
}

// Write writes the histogram.
func (h *Histogram) Write(w io.Writer) {
	h.mu.Lock()
	defer h.mu.Unlock()
	fmt.Fprintf(w, "# HELP %s %s\n# TYPE %s histogram\n", h.name, h.help, h.name)
	var cum uint64
	for i, b := range h.bounds {
		cum += h.counts[i]
		fmt.Fprintf(w, "%s_bucket{le=\"%s\"} %d\n", h.name, formatFloat(b), cum)
	}
	fmt.Fprintf(w, "%s_bucket{le=\"+Inf\"} %d\n%s_sum %s\n%s_count %d\n", h.name, h.count, h.name, formatFloat(h.sum), h.name, h.count)
}

func formatFloat(v float64) string {
	if math.IsInf(v, 1) {
		return "+Inf"
	}
	return strconv.FormatFloat(v, 'g', -1, 64)
}

var labelEscaper = strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`)

func escapeLabel(s string) string { return labelEscaper.Replace(s) }
