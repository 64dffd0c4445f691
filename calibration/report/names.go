package report

import (
	"fmt"
	"strings"

	"github.com/latencyproof/poc/calibration/profile"
)

// maxNameBytes bounds a sanitised name, leaving room for a prefix, a
// suffix and an extension within every file system's 255-byte limit.
const maxNameBytes = 96

// Sanitize turns a name into one that is safe as a file name everywhere:
// lower-case ASCII letters, digits, '.', '_' and '-', every other run of
// characters replaced by one '-', no leading or trailing '.' or '-' (so
// never "..", a hidden file or an option), at most 96 bytes; "profile" if
// nothing is left. Lower case because some file systems ignore case.
func Sanitize(name string) string {
	var b strings.Builder
	dash := false
	for _, r := range strings.ToLower(name) {
		switch {
		case r >= 'a' && r <= 'z', r >= '0' && r <= '9', r == '.', r == '_':
			b.WriteRune(r)
			dash = false
		case !dash:
			b.WriteByte('-')
			dash = true
		}
	}
	s := b.String()
	if len(s) > maxNameBytes {
		s = s[:maxNameBytes]
	}
	s = strings.Trim(s, ".-")
	if s == "" {
		return "profile"
	}
	return s
}

// fileNames gives every profile a distinct base name: its endpoint, and
// when profiles share that, the method, then origin and clock, then the
// vantage; a number as the last resort (names that differ only in
// characters Sanitize drops).
func fileNames(ps []profile.Profile) []string {
	levels := []func(p *profile.Profile) string{
		func(p *profile.Profile) string { return p.Endpoint },
		func(p *profile.Profile) string { return p.Endpoint + "_" + p.Method },
		func(p *profile.Profile) string {
			return p.Endpoint + "_" + p.Method + "_" + string(p.Origin) + "_" + string(p.Clock)
		},
		func(p *profile.Profile) string {
			return p.Endpoint + "_" + p.Method + "_" + string(p.Origin) + "_" + string(p.Clock) + "_" + p.Vantage.Name
		},
	}
	names := make([]string, len(ps))
	level := make([]int, len(ps))
	for i := range ps {
		names[i] = Sanitize(levels[0](&ps[i]))
	}
	// Raise the level of every profile whose name collides until none
	// does or the levels run out.
	for {
		count := map[string]int{}
		for _, n := range names {
			count[n]++
		}
		changed := false
		for i := range ps {
			if count[names[i]] > 1 && level[i] < len(levels)-1 {
				level[i]++
				names[i] = Sanitize(levels[level[i]](&ps[i]))
				changed = true
			}
		}
		if !changed {
			break
		}
	}
	used := map[string]bool{}
	for _, n := range names {
		used[n] = true
	}
	taken := map[string]bool{}
	for i, n := range names {
		if !taken[n] {
			taken[n] = true
			continue
		}
		for j := 2; ; j++ {
			if c := fmt.Sprintf("%s-%d", n, j); !used[c] {
				names[i], used[c], taken[c] = c, true, true
				break
			}
		}
	}
	return names
}
