// Package ivs is the provider of the Amazon IVS low-latency API (ivsapi.API): channels, stream keys, playback key
// pairs, playback restriction policies, recording and ad configurations, tags, and the stream operations, which it
// answers from the store and from the media plane's view of live streams (Live).
package ivs

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"strconv"
	"sync"
	"time"

	"github.com/openivs/openivs/internal/pagetoken"
	"github.com/openivs/openivs/internal/resource"
	"github.com/openivs/openivs/internal/spec/ivsapi"
	"github.com/openivs/openivs/internal/store"
)

// Resource types, as they appear in ARNs.
const (
	TypeChannel                   = "channel"
	TypeStreamKey                 = "stream-key"
	TypePlaybackKeyPair           = "playback-key"
	TypeRecordingConfiguration    = "recording-configuration"
	TypePlaybackRestrictionPolicy = "playback-restriction-policy"
	TypeAdConfiguration           = "ad-configuration"
	TypeStreamSession             = "stream-session"
	TypeViewerRevocation          = "viewer-revocation"
)

// Quotas are the per-account, per-region resource limits. IVS's defaults where they are known.
type Quotas struct {
	Channels                    int // IVS: 5,000 per region (adjustable)
	PlaybackKeyPairs            int // IVS: 3
	RecordingConfigurations     int // IVS: 20
	PlaybackRestrictionPolicies int // IVS: 20
	AdConfigurations            int // IVS: 100
}

// DefaultQuotas are IVS's documented defaults.
var DefaultQuotas = Quotas{Channels: 5000, PlaybackKeyPairs: 3, RecordingConfigurations: 20,
	PlaybackRestrictionPolicies: 20, AdConfigurations: 100}

// Config is what the provider needs to know about the server.
type Config struct {
	PublicURL string // base of every playback URL, e.g. "http://127.0.0.1:8080"
	RTMPSAddr string // the RTMPS listener (host:port); its port goes into ingestEndpoint
	SRTAddr   string // the SRT listener (host:port)
	Quotas    Quotas
	// Buckets checks the destination of each new recording configuration (CREATING, then ACTIVE or
	// CREATE_FAILED); nil makes them ACTIVE at once.
	Buckets BucketChecker
}

// BucketChecker tells whether recordings can be written to a bucket (internal/record).
type BucketChecker interface {
	CheckBucket(ctx context.Context, bucket string) error
}

// Live is what the API needs from the media plane. Offline is the implementation with nothing live.
type Live interface {
	// Stream returns the live stream of a channel; ok is false when the channel is not live.
	Stream(channelARN string) (s *ivsapi.Stream, ok bool)
	// Streams returns the live streams of an account in a region, oldest first.
	Streams(account, region string) []*ivsapi.Stream
	// Stop disconnects the channel's encoder.
	Stop(ctx context.Context, channelARN string) error
	// PutMetadata inserts timed metadata into the channel's live stream.
	PutMetadata(ctx context.Context, channelARN, metadata string) error
	// InsertAdBreak marks an ad break in the channel's live stream and returns its id.
	InsertAdBreak(ctx context.Context, channelARN string, duration time.Duration) (string, error)
}

// ErrNotLive is returned by Live when the channel is not live.
var ErrNotLive = errors.New("ivs: channel is not live")

// Offline is a Live with no stream: every channel is offline.
type Offline struct{}

func (Offline) Stream(string) (*ivsapi.Stream, bool)              { return nil, false }
func (Offline) Streams(string, string) []*ivsapi.Stream           { return nil }
func (Offline) Stop(context.Context, string) error                { return ErrNotLive }
func (Offline) PutMetadata(context.Context, string, string) error { return ErrNotLive }
func (Offline) InsertAdBreak(context.Context, string, time.Duration) (string, error) {
	return "", ErrNotLive
}

// Provider implements ivsapi.API.
type Provider struct {
	st     store.Store
	cfg    Config
	live   Live
	tokens *pagetoken.Codec
	docs   docCache
	log    *slog.Logger
	now    func() time.Time

	publicBase     string // PublicURL without a trailing slash
	ingestEndpoint string
	srtEndpoint    string

	metadataPerChannel, metadataPerAccount *rateLimits

	// background work (bucket checks), stopped by Close
	bg     sync.WaitGroup
	bgCtx  context.Context
	bgStop context.CancelFunc
}

// PutMetadata call rates (IVS: not adjustable).
const (
	metadataChannelTPS = 5
	metadataAccountTPS = 155
)

var _ ivsapi.API = (*Provider)(nil)

// New returns a provider over st.
func New(ctx context.Context, st store.Store, cfg Config, live Live, log *slog.Logger) (*Provider, error) {
	secret := make([]byte, 32)
	rand.Read(secret)
	secret, err := st.SetMetaIfAbsent(ctx, "pagetoken-secret", secret)
	if err != nil {
		return nil, fmt.Errorf("ivs: page token secret: %w", err)
	}
	u, err := url.Parse(cfg.PublicURL)
	if err != nil || u.Host == "" {
		return nil, fmt.Errorf("ivs: public URL %q is not an absolute URL", cfg.PublicURL)
	}
	if live == nil {
		live = Offline{}
	}
	p := &Provider{st: st, cfg: cfg, live: live, tokens: pagetoken.New(secret), log: log, now: time.Now,
		metadataPerChannel: newRateLimits(metadataChannelTPS, metadataChannelTPS),
		metadataPerAccount: newRateLimits(metadataAccountTPS, metadataAccountTPS),
		publicBase:         trimSlash(cfg.PublicURL)}
	p.bgCtx, p.bgStop = context.WithCancel(context.Background())
	p.ingestEndpoint = endpoint(u.Hostname(), cfg.RTMPSAddr, "443")
	p.srtEndpoint = endpoint(u.Hostname(), cfg.SRTAddr, "9000")
	return p, nil
}

// Close stops the provider's background work and waits for it.
func (p *Provider) Close() {
	p.bgStop()
	p.bg.Wait()
}

// endpoint is host plus the listener's port, without the port when it is IVS's standard one (so that clients
// which append it, as IVS's documentation shows, keep working).
func endpoint(host, listenAddr, standardPort string) string {
	_, port, err := net.SplitHostPort(listenAddr)
	if err != nil || port == "" || port == standardPort {
		return host
	}
	return net.JoinHostPort(host, port)
}

func trimSlash(s string) string {
	for len(s) > 0 && s[len(s)-1] == '/' {
		s = s[:len(s)-1]
	}
	return s
}

// load reads one resource outside a transaction (possibly from the store's cache), or answers
// ResourceNotFoundException.
func (p *Provider) load(ctx context.Context, arnStr, typ string) (*store.Resource, error) {
	return resource.Load(ctx, p.st, arnStr, typ)
}

// page runs a paginated list query. scope must name the operation and every filter, so a token from one query
// cannot be replayed against another.
type page struct {
	scope string
	q     store.ListQuery
	max   int
}

func (p *Provider) list(ctx context.Context, tx store.Tx, pg page, token *string, maxResults *int64) ([]*store.Resource, *string, error) {
	c := resource.Caller(ctx)
	pg.q.Account, pg.q.Region = c.AccountID, c.Region
	scope := c.AccountID + "/" + c.Region + "/" + pg.scope
	if token != nil && *token != "" {
		seq, err := p.tokens.Decode(scope, *token)
		if err != nil {
			return nil, nil, ivsapi.NewValidationException("The nextToken is not valid for this request")
		}
		pg.q.AfterSeq = seq
	}
	n := pg.max
	if maxResults != nil {
		n = int(*maxResults)
	}
	pg.q.Limit = n + 1
	rs, err := tx.List(ctx, pg.q)
	if err != nil {
		return nil, nil, err
	}
	if len(rs) <= n {
		return rs, nil, nil
	}
	rs = rs[:n]
	next := p.tokens.Encode(scope, rs[n-1].Seq)
	return rs, &next, nil
}

func ptr[T any](v T) *T { return &v }

func str(p *string) string {
	if p == nil {
		return ""
	}
	return *p
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }
