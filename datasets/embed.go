package datasets

import _ "embed"

// LabWorld is the built-in lab world (lab-world.json): three regions at real
// Azure region coordinates, an HTTP/2 and an HTTP/1.1-only endpoint in each,
// and a vantage in each region.
//
//go:embed lab-world.json
var LabWorld []byte
