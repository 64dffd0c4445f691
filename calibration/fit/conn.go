package fit

import (
	"fmt"
	"hash/fnv"
	"math"
	"math/rand/v2"
	"slices"

	"github.com/latencyproof/poc/calibration/dataset"
	"github.com/latencyproof/poc/calibration/profile"
)

// Connection levels' bounds.
const (
	// MaxConnSizes bounds the connection sizes other than powers of two
	// that one group keeps a level for.
	MaxConnSizes = 16
	// connLowest and connReservoir bound a level's exact lowest minima and
	// its subsample for the Anderson–Darling statistic (the options'
	// values when those are smaller): a level rests on K times fewer
	// values than the profile, and there may be a dozen levels.
	connLowest    = 1024
	connReservoir = 2000
)

// connLevels follows the connections of one group's samples and
// accumulates, for each level k, the minimum of each connection's first k
// echoes (its prefix minimum).
//
// A sample continues the open connection when it has the same campaign,
// round and connection index and the next echo index; anything else starts
// a new connection. Datasets number a probe's echoes 0, 1, … across its
// connections and its connections 0, 1, …, and a probe's samples are
// consecutive, so this finds every connection of a dataset exactly.
// Samples that carry no indexes (CSV imports) all have echo 0: each is a
// connection of one echo, which says nothing about connections, and such a
// group gets no levels (see Fitter.connMins).
//
// Levels are the powers of two and the sizes connections actually had (up
// to MaxConnSizes of those), so that a verifier finds levels at and around
// any connection size a proof may use. A prefix minimum is recorded as soon
// as its k-th echo arrives, so the open connection never needs closing
// before File; a connection size seen for the first time gets its level
// when the connection ends.
type connLevels struct {
	seed uint64
	// The open connection.
	open              bool
	campaign          string
	round, conn, echo int
	n                 int     // its echoes so far
	min               float64 // their minimum
	// broken: an echo of the open connection could not be used (no
	// kernel stamp), so no longer prefix of it is recorded.
	broken bool

	levels      map[int]*acc
	sizes       int    // levels registered for sizes that are not powers of two
	longest     int    // the most echoes seen on one connection
	connections uint64 // connections seen

	// The open probe: its campaign and round, the sizes of its
	// connections so far, and the minimum of its echoes.
	probe       bool
	pCampaign   string
	pRound      int
	pShape      []int
	pMin        float64
	pBroken     bool
	probeLevels map[string]*probeAcc
}

// probeAcc accumulates one probe shape's minima.
type probeAcc struct {
	shape []int
	acc   *acc
}

// MaxProbeShapes bounds the probe shapes one group keeps a level for.
const MaxProbeShapes = profile.MaxProbeLevels

// next moves to the connection of s: the open one if s continues it,
// otherwise a new one (closing the open one).
func (c *connLevels) next(s *dataset.Sample, opts *Options) {
	if c.open && s.Campaign == c.campaign && s.Round == c.round && s.Conn == c.conn && s.Echo == c.echo+1 {
		c.echo = s.Echo
		c.pShape[len(c.pShape)-1]++
		return
	}
	// A probe goes on with the next connection when its echo indexes do.
	sameProbe := c.open && s.Campaign == c.campaign && s.Round == c.round && s.Conn == c.conn+1 && s.Echo == c.echo+1
	c.close(opts)
	if sameProbe {
		c.pShape = append(c.pShape, 1)
	} else {
		c.closeProbe(opts)
		c.probe, c.pCampaign, c.pRound = true, s.Campaign, s.Round
		c.pShape, c.pMin, c.pBroken = append(c.pShape[:0], 1), math.Inf(1), false
	}
	c.open, c.campaign, c.round, c.conn, c.echo = true, s.Campaign, s.Round, s.Conn, s.Echo
	c.n, c.min, c.broken = 0, math.Inf(1), false
	c.connections++
}

// skip notes a sample that the fit cannot use (a kernel round trip
// without a stamp): its connection's prefixes from here on are unknown.
func (c *connLevels) skip(s *dataset.Sample, opts *Options) {
	c.next(s, opts)
	c.n++
	c.broken = true
	c.pBroken = true
}

// add adds a measured round trip x (every one, above the hard cap too: a
// slow echo is part of its connection) to its connection.
func (c *connLevels) add(s *dataset.Sample, x float64, opts *Options) {
	c.next(s, opts)
	c.n++
	c.min = math.Min(c.min, x)
	c.pMin = math.Min(c.pMin, x)
	c.longest = max(c.longest, c.n)
	if c.broken {
		return
	}
	if a, ok := c.levels[c.n]; ok {
		a.add(c.min, min(opts.Reservoir, connReservoir), min(opts.Lowest, connLowest))
		return
	}
	if c.n&(c.n-1) == 0 && c.n <= profile.MaxConnK {
		c.level(c.n, opts).add(c.min, min(opts.Reservoir, connReservoir), min(opts.Lowest, connLowest))
	}
}

// close records the open connection's minimum at its size when that size
// has no level yet (it had none while the echoes came).
func (c *connLevels) close(opts *Options) {
	if !c.open || c.broken || c.n == 0 {
		return
	}
	c.open = false
	if _, ok := c.levels[c.n]; ok || c.n > profile.MaxConnK || c.sizes >= MaxConnSizes {
		return
	}
	c.sizes++
	c.level(c.n, opts).add(c.min, min(opts.Reservoir, connReservoir), min(opts.Lowest, connLowest))
}

// closeProbe records the open probe's minimum under its shape, for probes
// of two or more connections (a probe of one is a connection level) while
// there is room for its shape.
func (c *connLevels) closeProbe(opts *Options) {
	if !c.probe {
		return
	}
	c.probe = false
	if c.pBroken || len(c.pShape) < 2 || len(c.pShape) > profile.MaxProbeConns {
		return
	}
	key := fmt.Sprint(c.pShape)
	pa, ok := c.probeLevels[key]
	if !ok {
		if len(c.probeLevels) >= MaxProbeShapes {
			return
		}
		if c.probeLevels == nil {
			c.probeLevels = map[string]*probeAcc{}
		}
		h := fnv.New64a()
		h.Write([]byte(key))
		a, _ := newAcc(opts.RelErr, rand.New(rand.NewPCG(c.seed, h.Sum64())))
		pa = &probeAcc{shape: slices.Clone(c.pShape), acc: &a}
		c.probeLevels[key] = pa
	}
	pa.acc.add(c.pMin, min(opts.Reservoir, connReservoir), min(opts.Lowest, connLowest))
}

// level returns level k's accumulator, creating it.
func (c *connLevels) level(k int, opts *Options) *acc {
	if a, ok := c.levels[k]; ok {
		return a
	}
	if c.levels == nil {
		c.levels = map[int]*acc{}
	}
	// The options were checked, so the sketch's relative error is valid.
	a, _ := newAcc(opts.RelErr, rand.New(rand.NewPCG(c.seed, uint64(k))))
	c.levels[k] = &a
	return &a
}

// connMins describes the group's connection levels that rest on at least
// profile.MinConnections connections, in increasing k: quantiles, models
// and their fit, as the profile's own. No trimming: a connection that runs
// slow is exactly what a false-reject rate must count. A group whose
// samples show no connection of two or more echoes gets none: its samples
// do not say how they were grouped, and a verdict must then say that it
// assumes independent echoes rather than pretend to know.
func (f *Fitter) connMins(g *group) []profile.ConnMin {
	c := &g.conns
	if c.longest < 2 {
		return nil
	}
	ks := make([]int, 0, len(c.levels))
	for k, a := range c.levels {
		if a.n >= profile.MinConnections {
			ks = append(ks, k)
		}
	}
	slices.Sort(ks)
	if len(ks) > profile.MaxConnLevels {
		ks = ks[:profile.MaxConnLevels]
	}
	var out []profile.ConnMin
	for _, k := range ks {
		out = append(out, f.level(c.levels[k], k, nil))
	}
	return out
}

// level describes one level's accumulated minima.
func (f *Fitter) level(a *acc, k int, shape []int) profile.ConnMin {
	d := f.describe(a.sketch, a.lowest, a.reservoir, a.min, a.max)
	return profile.ConnMin{
		K: k, Conns: shape, Connections: a.n,
		MinNs: a.min, MaxNs: a.max, MeanNs: a.mean, StddevNs: math.Sqrt(a.m2 / float64(a.n-1)),
		Quantiles: d.quantiles, Models: d.models,
	}
}

// probeMins describes the group's probe levels that rest on at least
// profile.MinConnections probes, in order of their shapes. The open probe
// must have been closed (closeAll).
func (f *Fitter) probeMins(g *group) []profile.ConnMin {
	var keys []string
	for key, pa := range g.conns.probeLevels {
		if pa.acc.n >= profile.MinConnections {
			keys = append(keys, key)
		}
	}
	slices.Sort(keys)
	var out []profile.ConnMin
	for _, key := range keys {
		pa := g.conns.probeLevels[key]
		k := 0
		for _, n := range pa.shape {
			k += n
		}
		out = append(out, f.level(pa.acc, k, pa.shape))
	}
	return out
}
