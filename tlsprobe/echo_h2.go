package tlsprobe

import (
	"bytes"
	"crypto/tls"
	"fmt"

	"golang.org/x/net/http2"

	"github.com/latencyproof/poc/transcript"
)

// maxFramesPerEcho bounds how many unrelated frames the probe reads while it
// waits for one PING's ACK, so a chatty or hostile server cannot hold it.
const maxFramesPerEcho = 1024

// h2Echoes opens an HTTP/2 connection on the TLS session (preface and
// SETTINGS, no stream) and times up to want PINGs, one outstanding at a time.
// It stops early, cleanly, when the server sends GOAWAY.
func (p *prober) h2Echoes(tc *tls.Conn, base uint32, want int) (done int, stop string, err error) {
	fr := http2.NewFramer(tc, tc)
	fr.SetMaxReadFrameSize(1 << 20)
	if _, err := tc.Write([]byte(http2.ClientPreface)); err != nil {
		return 0, "", fmt.Errorf("writing preface: %w", err)
	}
	if err := fr.WriteSettings(http2.Setting{ID: http2.SettingEnablePush, Val: 0}); err != nil {
		return 0, "", fmt.Errorf("writing SETTINGS: %w", err)
	}
	// Wait for the server's SETTINGS so that its opening flight is not
	// mistaken for (or delays) the first echo's answer.
	for settled := false; !settled; {
		f, err := fr.ReadFrame()
		if err != nil {
			return 0, "", fmt.Errorf("reading server SETTINGS: %w", err)
		}
		switch f := f.(type) {
		case *http2.SettingsFrame:
			if !f.IsAck() {
				if err := fr.WriteSettingsAck(); err != nil {
					return 0, "", fmt.Errorf("acknowledging SETTINGS: %w", err)
				}
				settled = true
			}
		case *http2.GoAwayFrame:
			return 0, "goaway", nil
		}
	}
	for done < want {
		p.pace()
		payload := transcript.PingPayload(p.cfg.Nonce, base+uint32(done))
		if err := fr.WritePing(false, payload); err != nil {
			return done, "", fmt.Errorf("writing PING %d: %w", base+uint32(done), err)
		}
		answered := false
		for n := 0; !answered; n++ {
			if n == maxFramesPerEcho {
				return done, "", fmt.Errorf("no PING ACK for echo %d within %d frames", base+uint32(done), n)
			}
			f, err := fr.ReadFrame()
			if err != nil {
				return done, "", fmt.Errorf("waiting for PING ACK %d: %w", base+uint32(done), err)
			}
			switch f := f.(type) {
			case *http2.PingFrame:
				if !f.IsAck() {
					// The server's own PING: answer it, as the protocol
					// requires; it is not one of our echoes.
					if err := fr.WritePing(true, f.Data); err != nil {
						return done, "", fmt.Errorf("answering server PING: %w", err)
					}
					continue
				}
				if !bytes.Equal(f.Data[:], payload[:]) {
					return done, "", fmt.Errorf("PING ACK carries %x, want %x", f.Data, payload)
				}
				answered = true
			case *http2.SettingsFrame:
				if !f.IsAck() {
					if err := fr.WriteSettingsAck(); err != nil {
						return done, "", fmt.Errorf("acknowledging SETTINGS: %w", err)
					}
				}
			case *http2.GoAwayFrame:
				// A GOAWAY before the ACK: the PING may still be
				// answered, but nothing obliges the server to; stop here
				// and let the next connection carry on.
				return done, "goaway", nil
			}
		}
		done++
	}
	return done, "done", nil
}
