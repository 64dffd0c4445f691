// Package transcript re-checks a recorded TLS 1.3 session offline.
//
// The prover (inside a confidential VM) opens a TLS 1.3 connection to an
// endpoint with Go's crypto/tls client, keeps the raw TCP bytes of both
// directions, the NSS key log that tls.Config.KeyLogWriter wrote, and the
// cycle counter at every read and write system call, and times "echoes" on
// the open session: HTTP/2 PING frames, or HTTP/1.1 keep-alive requests.
// Verify takes that Session and the Options a verifier chose (trust roots,
// the time, the server name, the challenge nonce) and re-derives everything
// from the bytes: no socket, no clock, no randomness.
//
// # The checks
//
// Verify runs these checks in order and reports each in Result.Checks:
//
//  1. records: each stream splits into TLS records (known content type,
//     legacy version 0x0301 or 0x0303, at most 2^14+256 bytes, nothing left
//     over), each stream and the key log within Options.MaxStreamBytes.
//     Middlebox-compatibility ChangeCipherSpec records must be the single
//     byte 0x01; they are otherwise ignored.
//  2. client_hello: the plaintext ClientHello and ServerHello, reassembled
//     from however many records carry them. The server must select TLS 1.3
//     through supported_versions and one of TLS_AES_128_GCM_SHA256,
//     TLS_AES_256_GCM_SHA384 and TLS_CHACHA20_POLY1305_SHA256 that the
//     client offered. A HelloRetryRequest is followed through (the second
//     ClientHello keeps the random; the first enters the transcript as a
//     message_hash). With Options.Nonce the ClientHello random must be
//     ClientRandom(nonce, ConnIndex).
//  3. handshake_decrypt: the key log's secrets for this ClientHello random
//     (lines of other sessions are ignored, malformed lines are not); the
//     server's encrypted flight decrypted with SERVER_HANDSHAKE_TRAFFIC_SECRET
//     (HKDF-Expand-Label keys, nonce = iv XOR sequence number, padding
//     stripped) into EncryptedExtensions (the ALPN choice), an optional
//     CertificateRequest, Certificate, CertificateVerify and Finished.
//  4. certificate_chain: the server's chain verifies to Options.Roots at
//     Options.At for server authentication.
//  5. server_name: the leaf is valid for Options.ServerName. This is the
//     one policy check: its failure is reported and the checks after it
//     still run. Like Go and RFC 6125, it ignores a Common Name.
//  6. certificate_verify: the server's signature over the transcript hash
//     from ClientHello to Certificate verifies with the leaf's key, under a
//     scheme TLS 1.3 allows and that fits the key.
//  7. server_finished: the server Finished is the HMAC of the transcript
//     through CertificateVerify under the server handshake secret.
//  8. application_data: the client Finished (under the client handshake
//     secret) matches the transcript through the server Finished; every
//     later record of both directions decrypts under CLIENT_TRAFFIC_SECRET_0
//     and SERVER_TRAFFIC_SECRET_0, following KeyUpdates to the next secret.
//     NewSessionTickets are counted; a close_notify or a fatal alert ends a
//     direction and any record after it is an error.
//  9. echoes (when there is application data): for ALPN "h2", the client's
//     PING frames and the server's PING ACKs with the same payloads, in
//     order; for "http/1.1" or no ALPN, requests carrying the EchoHeader and
//     their responses. With Options.Nonce every echo must carry the value
//     derived from the nonce and its index. A GOAWAY or a Connection: close
//     ends the echoes; an echo left unanswered although the server sent
//     records after it is an error.
//  10. timing (when the session has timestamps): the stamps describe the
//     streams (first at offset 0, strictly increasing offsets, counter never
//     decreasing); each record gets a counter value (a c2s record the write
//     that carried its first byte, an s2c record the read that delivered its
//     last byte), each echo a round trip, the handshake its duration, and
//     every answer must come after its request.
//
// Cryptographic and structural checks stop at the first failure: a later
// check is not run on input that an earlier one rejected. Verify returns
// the first failure as a *CheckError wrapping one of the sentinel errors
// (ErrDecrypt, ErrCertificateVerify, ...), or else the server_name error.
// Use errors.Is and errors.As; the messages are for people and say what was
// found where ("s2c record 3 at offset 517: AEAD open failed ...").
// Result.Records lists the c2s records in stream order, then the s2c
// records; Echo.Request and Echo.Answer index it.
//
// # What a passing session proves
//
// The ClientHello random is derived from the verifier's nonce, and the
// server's CertificateVerify signs a transcript that contains it, together
// with the server's own key share. So a key holder for the certificate,
// which chains to a trusted root and names the endpoint, took part in this
// handshake after the nonce existed. That is the one statement in the
// session that the prover could not have made alone.
//
// Everything after CertificateVerify is authenticated by symmetric keys that
// the client knows as well as the server: the Finished messages, and every
// application record, including the PING ACKs and HTTP responses that the
// echoes are timed by. A client could compute them itself. Decrypting them
// proves that the records are the ones the network carried under the
// session's keys, not that the server wrote them, and nothing here can check
// that the disclosed secrets derive from the key exchange (that needs a
// private key the verifier does not have). The prover's honesty about the
// echoes, the secrets and the cycle counts rests on the TEE measurement of
// the prover's code and on the quote that binds the transcripts' hashes and
// timings; this package checks that what the prover disclosed is
// consistent, complete and bound to the nonce.
//
// # Not supported
//
// TLS 1.2 and earlier, PSK and session resumption, 0-RTT early data,
// Encrypted Client Hello, and post-handshake client authentication are
// rejected with a clear error. A CertificateRequest in the handshake is
// accepted (Result.CertificateRequested) and a client certificate, if any,
// enters the transcript unverified. HTTP/2 is parsed to frame headers only
// (no HPACK); since the two directions share no clock, the frame size limit
// of a direction is the largest SETTINGS_MAX_FRAME_SIZE its peer announced
// at any point.
package transcript
