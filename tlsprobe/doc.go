// Package tlsprobe measures how fast this machine completes authenticated
// round trips to a TLS endpoint, and keeps the evidence a third party needs to
// re-check the measurement offline.
//
// One Probe of one endpoint, given a 32-byte nonce:
//
//  1. opens TCP (through an injectable dialer, so a lab or a test can route a
//     name to a loopback address), then TLS 1.3 only, offering ALPN h2 and
//     http/1.1, with the ClientHello random derived from the nonce
//     (transcript.ClientRandom): the server's CertificateVerify signs a
//     transcript containing it, so the signature proves the session began
//     after the nonce existed;
//  2. times the handshake in counter cycles, from the ClientHello written to
//     the server Finished received;
//  3. times K authenticated echoes on the open session, one outstanding at a
//     time, each from the write of its record to the arrival of the first
//     record of its answer: HTTP/2 PING frames whose payload derives from the
//     nonce and the echo's index, or small HTTP/1.1 keep-alive requests with
//     the nonce-derived token in a header, for endpoints without HTTP/2. An
//     echo budget (echoes per connection, minimum spacing) spreads the K
//     echoes over several connections when needed, and a connection stops
//     cleanly on GOAWAY or "Connection: close";
//  4. keeps the raw bytes each way, the counter reading of every system call
//     that moved them, the session's secrets in NSS key log form, the
//     certificate chain, and (on Linux) the kernel's TCP_INFO RTT of the same
//     connection as a diagnostic.
//
// The round-trip times a Probe reports are not taken from its own stopwatch:
// after each connection it re-checks its own evidence with the transcript
// package and reports the figures that package derives from the record
// timestamps, so that a verifier recomputing them gets exactly the same
// numbers.
package tlsprobe
