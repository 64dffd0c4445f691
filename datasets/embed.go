package datasets

import (
	"bytes"
	_ "embed"
)

// LabWorld is the built-in lab world (lab-world.json): three regions at real
// Azure region coordinates, an HTTP/2 and an HTTP/1.1-only endpoint in each,
// and a vantage in each region.
//
//go:embed lab-world.json
var LabWorld []byte

// DemoWorld is the lab's attack demonstration world (demo-world.json):
// westeurope, northeurope and francecentral at their Azure coordinates,
// an HTTP/2 endpoint and a shared-certificate HTTP/1.1 endpoint in each
// (one certificate for every region, scoped by a region binding), an edge
// front end, an attacker's unlisted server presenting another name's
// certificate, a vantage per region and attacker vantages 1, 10, 50, 100
// and 500 km from westeurope. See docs/lab.md.
//
//go:embed demo-world.json
var DemoWorld []byte

// CloudCatalogJSON is catalog-cloud.json: real AWS, Azure and Google Cloud
// endpoints of the main regions, written from public sources and never
// probed from the machine that wrote it. Some entries are templates that a
// deployer fills in (Catalog.Fill); edge entries are there to be refused.
//
//go:embed catalog-cloud.json
var CloudCatalogJSON []byte

// LabCatalogJSON is catalog-lab.json: the default lab world's endpoints as a
// static catalog. The ports in it are nominal: a running lab assigns ports
// at start, and its State file (whose catalog field has the same entries
// with the live ports) is the catalog to probe with.
//
//go:embed catalog-lab.json
var LabCatalogJSON []byte

// CloudCatalog parses CloudCatalogJSON. Each call returns a fresh copy.
func CloudCatalog() (*Catalog, error) {
	return ReadCatalog(bytes.NewReader(CloudCatalogJSON))
}

// LabCatalog parses LabCatalogJSON. Each call returns a fresh copy.
func LabCatalog() (*Catalog, error) {
	return ReadCatalog(bytes.NewReader(LabCatalogJSON))
}
