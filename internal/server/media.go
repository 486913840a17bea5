package server

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"log/slog"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"time"

	"github.com/openivs/openivs/internal/events"
	"github.com/openivs/openivs/internal/live"
)

// observers fans live stream notifications out to several observers, in order.
type observers []live.Observer

func (o observers) StreamStarted(ctx context.Context, s live.Snapshot) {
	for _, x := range o {
		x.StreamStarted(ctx, s)
	}
}

func (o observers) StreamEvent(ctx context.Context, s live.Snapshot, name, code string) {
	for _, x := range o {
		x.StreamEvent(ctx, s, name, code)
	}
}

func (o observers) StreamUpdated(ctx context.Context, s live.Snapshot) {
	for _, x := range o {
		x.StreamUpdated(ctx, s)
	}
}

func (o observers) StreamEnded(ctx context.Context, s live.Snapshot, reason string) {
	for _, x := range o {
		x.StreamEnded(ctx, s, reason)
	}
}

// eventPublisher turns live stream notifications into IVS Stream State Change and Stream Health Change events.
type eventPublisher struct {
	pub events.Publisher
	log *slog.Logger
}

func eventStream(s live.Snapshot) (events.Origin, events.Stream) {
	return events.Origin{Account: s.Channel.Account, Region: s.Channel.Region, Time: time.Now()},
		events.Stream{ChannelARN: s.Channel.ARN, ChannelName: s.Channel.Name, StreamID: s.StreamID}
}

func (e eventPublisher) publish(ctx context.Context, ev events.Event) {
	if err := e.pub.Publish(ctx, ev); err != nil {
		e.log.Error("publishing an event failed", "event", ev.EventName(), "err", err)
	}
}

func (e eventPublisher) StreamStarted(ctx context.Context, s live.Snapshot) {
	o, st := eventStream(s)
	o.Time = s.StartTime
	e.publish(ctx, events.SessionCreated(o, st))
}

func (e eventPublisher) StreamEvent(ctx context.Context, s live.Snapshot, name, code string) {
	o, st := eventStream(s)
	switch name {
	case live.EventStreamStart:
		e.publish(ctx, events.StreamStart(o, st))
	case live.EventStreamEnd:
		e.publish(ctx, events.StreamEnd(o, st))
	case live.EventStarvationStart:
		e.publish(ctx, events.StarvationStart(o, st))
	case live.EventStarvationEnd:
		e.publish(ctx, events.StarvationEnd(o, st))
	case live.EventStreamFailure:
		e.publish(ctx, events.StreamFailure(o, st, code))
	}
}

func (e eventPublisher) StreamUpdated(context.Context, live.Snapshot) {}

func (e eventPublisher) StreamEnded(ctx context.Context, s live.Snapshot, reason string) {
	o, st := eventStream(s)
	e.publish(ctx, events.SessionEnded(o, st, s.Code))
}

func (e eventPublisher) limitBreach(ctx context.Context, s live.Snapshot, limit string, value, max int64) {
	o, st := eventStream(s)
	unit := events.UnitBitsPerSecond
	if limit == events.LimitIngestResolution {
		unit = events.UnitTotalPixels
	}
	e.publish(ctx, events.IngestLimitBreach(o, st, events.Limit{Name: limit, Unit: unit, Value: max, ExceededBy: value - max}))
}

func (e eventPublisher) quotaBreach(quota int) func(ctx context.Context, account, region string) {
	return func(ctx context.Context, account, region string) {
		o := events.Origin{Account: account, Region: region, Time: time.Now()}
		e.publish(ctx, events.AccountLimitBreach(o, events.Limit{Name: events.LimitConcurrentBroadcasts,
			Unit: events.UnitActiveStreams, Value: int64(quota), ExceededBy: 1}))
	}
}

// rtmpsConfig returns the RTMPS TLS configuration: the configured certificate, or a self-signed one generated at
// first start and kept in the data directory.
func rtmpsConfig(certFile, keyFile, dataDir string, log *slog.Logger) (*tls.Config, error) {
	if certFile == "" {
		certFile = filepath.Join(dataDir, "tls", "rtmps-cert.pem")
		keyFile = filepath.Join(dataDir, "tls", "rtmps-key.pem")
		if _, err := os.Stat(certFile); errors.Is(err, os.ErrNotExist) {
			if err := selfSigned(certFile, keyFile); err != nil {
				return nil, fmt.Errorf("rtmps: self-signed certificate: %w", err)
			}
			log.Info("rtmps: generated a self-signed certificate (set --rtmps-cert and --rtmps-key for a real one)", "cert", certFile)
		}
	}
	cert, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		return nil, fmt.Errorf("rtmps: %w", err)
	}
	return &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}, nil
}

func selfSigned(certFile, keyFile string) error {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return err
	}
	serial, _ := rand.Int(rand.Reader, big.NewInt(1<<62))
	tmpl := &x509.Certificate{
		SerialNumber: serial, Subject: pkix.Name{CommonName: "openivs"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().AddDate(10, 0, 0),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		DNSNames: []string{"localhost"}, IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return err
	}
	kder, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(certFile), 0o700); err != nil {
		return err
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kder}), 0o600); err != nil {
		return err
	}
	return os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644)
}
