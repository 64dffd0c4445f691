package datasets

import (
	"fmt"
	"strings"
)

// DNS names as the catalog uses them: lower case, no trailing dot, labels of
// letters, digits and hyphens. A wildcard is "*." followed by a name of at
// least two labels, and stands for exactly one more label (RFC 6125 §6.4.3,
// the rule browsers and crypto/x509 apply): "*.s3.eu-west-1.amazonaws.com"
// matches "bucket.s3.eu-west-1.amazonaws.com" but neither
// "s3.eu-west-1.amazonaws.com" nor "a.b.s3.eu-west-1.amazonaws.com".

// maxNameLen bounds a DNS name (RFC 1035 §2.3.4).
const maxNameLen = 253

// normName lower-cases a name and drops one trailing dot.
func normName(s string) string {
	return strings.TrimSuffix(strings.ToLower(s), ".")
}

// isWildcard says whether a name starts with the wildcard label.
func isWildcard(s string) bool { return strings.HasPrefix(s, "*.") }

// checkName checks a catalog DNS name (already lower case). A wildcard is
// accepted only when wildcard is true.
func checkName(s string, wildcard bool) error {
	if s == "" {
		return fmt.Errorf("empty name")
	}
	if len(s) > maxNameLen {
		return fmt.Errorf("name of %d bytes (at most %d)", len(s), maxNameLen)
	}
	if s != normName(s) {
		return fmt.Errorf("name %q is not in lower case without a trailing dot", s)
	}
	base := s
	if isWildcard(s) {
		if !wildcard {
			return fmt.Errorf("wildcard %q where a host name is needed", s)
		}
		base = s[2:]
		if strings.Count(base, ".") < 1 {
			return fmt.Errorf("wildcard %q covers a whole domain: it needs at least two labels after \"*.\"", s)
		}
	}
	for _, l := range strings.Split(base, ".") {
		if err := checkLabel(l); err != nil {
			return fmt.Errorf("name %q: %w", s, err)
		}
	}
	return nil
}

// checkLabel checks one DNS label: 1-63 letters, digits and hyphens, not
// starting or ending with a hyphen. A "*" anywhere but as the whole first
// label of a wildcard (which checkName strips) lands here and is refused.
func checkLabel(l string) error {
	if l == "" || len(l) > 63 {
		return fmt.Errorf("label %q: want 1-63 characters", l)
	}
	for i := 0; i < len(l); i++ {
		c := l[i]
		switch {
		case c >= 'a' && c <= 'z', c >= '0' && c <= '9':
		case c == '-' && i > 0 && i < len(l)-1:
		default:
			return fmt.Errorf("label %q: character %q (want a-z, 0-9, inner '-')", l, c)
		}
	}
	return nil
}

// certNameMatches says whether a certificate name (exact or wildcard) is
// valid for a host name, both normalised.
func certNameMatches(cert, host string) bool {
	if cert == host {
		return !isWildcard(host)
	}
	if !isWildcard(cert) || isWildcard(host) {
		return false
	}
	first, rest, ok := strings.Cut(host, ".")
	return ok && first != "" && rest == cert[2:]
}

// covers says whether a scope pattern covers a certificate name: the same
// name, or a single-label match of a scope wildcard. A certificate wildcard
// is covered only by the same wildcard: "*.x.example" in a certificate
// stands for every name under x.example, which a scope lists only by
// listing that very wildcard.
func covers(pattern, name string) bool {
	if pattern == name {
		return true
	}
	return isWildcard(pattern) && certNameMatches(pattern, name)
}

// hasRegionToken says whether the region identifier occurs in a name as a
// whole token: bounded on each side by the name's start or end, a dot or a
// hyphen ("eu-west-1" in "s3.eu-west-1.amazonaws.com" and in
// "s3-eu-west-1.amazonaws.com"; "eastus" not in "eastus2.example").
func hasRegionToken(name, region string) bool {
	if region == "" {
		return false
	}
	for from := 0; ; {
		i := strings.Index(name[from:], region)
		if i < 0 {
			return false
		}
		i += from
		j := i + len(region)
		before := i == 0 || name[i-1] == '.' || name[i-1] == '-'
		after := j == len(name) || name[j] == '.' || name[j] == '-'
		if before && after {
			return true
		}
		from = i + 1
	}
}
