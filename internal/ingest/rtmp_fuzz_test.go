package ingest

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"testing"
	"time"

	"github.com/openivs/openivs/internal/live"
)

type fakeResolver struct{}

func (fakeResolver) ResolveStreamKey(_ context.Context, key string) (Channel, error) {
	if key != "sk_us-east-1_abcdefghijkl_abcdefghijklmnopqrstuvwxyz1234" {
		return Channel{}, errors.New("unknown key")
	}
	return Channel{Channel: live.Channel{ARN: "arn:aws:ivs:us-east-1:123456789012:channel/abcdefghijkl", Account: "123456789012",
		Region: "us-east-1", ID: "abcdefghijkl", Type: "BASIC"}, InsecureIngest: true}, nil
}

// rtmpHandshake is a client's C0 and C1: the start of every RTMP connection.
func rtmpHandshake() []byte {
	b := make([]byte, 1+1536)
	b[0] = 3
	for i := 9; i < len(b); i++ {
		b[i] = byte(i * 7)
	}
	return b
}

// FuzzRTMPConn throws arbitrary bytes at the RTMP connection handler: it must return (closing the connection)
// without panicking, and no stream may go live from garbage.
func FuzzRTMPConn(f *testing.F) {
	hs := rtmpHandshake()
	f.Add([]byte{})
	f.Add(hs)
	f.Add(append(append([]byte{}, hs...), bytes.Repeat([]byte{0}, 1536)...))
	f.Add(append(append([]byte{}, hs...), bytes.Repeat([]byte{0xff}, 4096)...))
	f.Add([]byte("GET / HTTP/1.1\r\nHost: x\r\n\r\n"))
	f.Add([]byte{0x16, 0x03, 0x01, 0x00, 0x05}) // a TLS record header on the plain port
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	f.Fuzz(func(t *testing.T, data []byte) {
		reg := live.NewRegistry(live.DefaultLimits, nil, log)
		defer reg.Close()
		srv := &RTMP{Resolver: fakeResolver{}, Live: reg, Log: log}
		server, client := net.Pipe()
		go io.Copy(io.Discard, client) // what the server answers
		go func() {
			client.SetWriteDeadline(time.Now().Add(50 * time.Millisecond)) // the server may stop reading early
			client.Write(data)
			client.Close()
		}()
		done := make(chan error, 1)
		go func() { done <- srv.handle(context.Background(), server, false) }()
		select {
		case <-done:
		case <-time.After(15 * time.Second):
			t.Fatal("the handler did not return after the client closed")
		}
		server.Close()
		if len(reg.Streams("123456789012", "us-east-1")) != 0 {
			t.Fatal("garbage went live")
		}
	})
}
