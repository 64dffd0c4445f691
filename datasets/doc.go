// Package datasets holds the data poc reasons about and the types that
// describe it.
//
//   - The endpoint catalog (catalog.go, scope.go, template.go): which TLS
//     endpoints stand for which cloud region, how to time echoes against
//     them, and the region scope that ties a session to its region. Where
//     one certificate serves every region, a handshake proves nothing about
//     the region, so a regional entry counts only if the session's leaf
//     certificate names that region alone or the session carries a request
//     only that region can answer; Endpoint.ScopeCheck decides, per
//     session. CloudCatalog is a catalog of real AWS, Azure and Google
//     Cloud endpoints written from public sources and never probed from
//     here; LabCatalog describes the default lab world. See CATALOG.md.
//   - The Azure inter-region latency dataset (azure.go): Microsoft's P50
//     round trips between Azure regions and the regions' coordinates, with
//     a strict loader (LoadAzureLatency) and the vacuum-light check that
//     every median respects (PROVENANCE.md has the results).
//   - Physics helpers (geo.go): great-circle distance, the vacuum round
//     trip (the only bound a proof may rely on) and the glass-fibre
//     estimate (never a bound).
//   - The built-in lab world (lab-world.json).
//
// It is a leaf: it imports nothing of the project, so the prover, the
// verifier and the calibration code can all share its types.
package datasets
