// Package realtime is the provider of the Amazon IVS real-time API (realtimeapi.API): stages, participant tokens,
// public keys, stage sessions and participants, encoder, storage and ingest configurations, and tags. It answers
// from the store. What happens on a stage (joins, leaves, publishes, subscribes) reaches the store through the
// recording API in sessions.go, which the stage media server calls; until one runs, nobody ever joins and the
// session operations answer truthfully with empty lists and 404s. Compositions and participant replication need
// the media server and are not served yet (compositions.go).
package realtime

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/openivs/openivs/internal/arn"
	"github.com/openivs/openivs/internal/awsapi"
	"github.com/openivs/openivs/internal/pagetoken"
	"github.com/openivs/openivs/internal/realtime/token"
	"github.com/openivs/openivs/internal/resource"
	"github.com/openivs/openivs/internal/spec/realtimeapi"
	"github.com/openivs/openivs/internal/store"
)

// Resource types, as they appear in ARNs.
const (
	TypeStage                = "stage"
	TypeEncoderConfiguration = "encoder-configuration"
	TypeStorageConfiguration = "storage-configuration"
	TypeIngestConfiguration  = "ingest-configuration"
	TypePublicKey            = "public-key"
	TypeComposition          = "composition"
)

// Internal record types: they have no ARN in IVS. Their store keys are ARN-shaped (so account and region scoping
// works as for every resource) but can never be named by a request: the model's ARN patterns refuse the "/" their
// ids contain, and no operation resolves these types.
const (
	TypeStageSession     = "stage-session"           // key .../stage-session/<stageId>/<sessionId>, Parent = stage
	TypeParticipant      = "stage-participant"       // key .../stage-participant/<stageId>/<sessionId>/<participantId>, Parent = session
	TypeParticipantEvent = "stage-participant-event" // key .../stage-participant-event/<stageId>/<sessionId>/<participantId>/<n>, Parent = participant
	TypeDisconnection    = "stage-disconnection"     // key .../stage-disconnection/<stageId>/<participantId>, Parent = stage
)

// Quotas are the per-account, per-region resource limits.
type Quotas struct {
	Stages                int // IVS: not published; generous here
	EncoderConfigurations int // IVS: 20 (adjustable)
	StorageConfigurations int // IVS: not published; generous here
	IngestConfigurations  int // IVS: not published; generous here
	PublicKeys            int // IVS: not published; generous here
}

// DefaultQuotas are IVS's documented defaults where it documents them, generous values elsewhere.
var DefaultQuotas = Quotas{Stages: 10000, EncoderConfigurations: 20, StorageConfigurations: 1000,
	IngestConfigurations: 10000, PublicKeys: 100}

// Config is what the provider needs to know about the server.
type Config struct {
	PublicURL string // base of the stage endpoints, e.g. "http://127.0.0.1:8080"
	RTMPAddr  string // the RTMP listener (host:port); its port goes into endpoints.rtmp
	RTMPSAddr string // the RTMPS listener (host:port); its port goes into endpoints.rtmps
	Quotas    Quotas // zero fields take DefaultQuotas' values
}

// MediaPlane is what the API needs from the stage media server: to end connections the API has ended.
// Offline is the implementation with no media server. The provider calls it after its own changes are committed;
// the media server answers by closing the connections and then calling RecordLeave, which is idempotent.
type MediaPlane interface {
	// Disconnect closes a participant's connections to a stage (DisconnectParticipant, forced
	// DeleteIngestConfiguration).
	Disconnect(stageARN, participantID, reason string)
	// CloseStage closes every connection to a stage that was deleted.
	CloseStage(stageARN string)
}

// Offline is a MediaPlane with nobody connected.
type Offline struct{}

func (Offline) Disconnect(string, string, string) {}
func (Offline) CloseStage(string)                 {}

// Provider implements realtimeapi.API.
type Provider struct {
	st     store.Store
	cfg    Config
	issuer *token.Issuer
	media  MediaPlane
	tokens *pagetoken.Codec
	log    *slog.Logger
	now    func() time.Time

	endpoints realtimeapi.StageEndpoints
}

var _ realtimeapi.API = (*Provider)(nil)

// New returns a provider over st that issues participant tokens with issuer.
func New(ctx context.Context, st store.Store, cfg Config, issuer *token.Issuer, log *slog.Logger) (*Provider, error) {
	if issuer == nil {
		return nil, errors.New("realtime: a participant token issuer is required")
	}
	secret := make([]byte, 32)
	rand.Read(secret)
	secret, err := st.SetMetaIfAbsent(ctx, "pagetoken-secret", secret)
	if err != nil {
		return nil, fmt.Errorf("realtime: page token secret: %w", err)
	}
	eps, err := stageEndpoints(cfg)
	if err != nil {
		return nil, err
	}
	q, d := &cfg.Quotas, DefaultQuotas
	for _, f := range []struct{ v, def *int }{{&q.Stages, &d.Stages}, {&q.EncoderConfigurations, &d.EncoderConfigurations},
		{&q.StorageConfigurations, &d.StorageConfigurations}, {&q.IngestConfigurations, &d.IngestConfigurations},
		{&q.PublicKeys, &d.PublicKeys}} {
		if *f.v <= 0 {
			*f.v = *f.def
		}
	}
	return &Provider{st: st, cfg: cfg, issuer: issuer, media: Offline{}, tokens: pagetoken.New(secret), log: log,
		now: time.Now, endpoints: eps}, nil
}

// SetMediaPlane attaches the stage media server (before the API serves requests).
func (p *Provider) SetMediaPlane(m MediaPlane) {
	if m == nil {
		m = Offline{}
	}
	p.media = m
}

// stageEndpoints are the endpoints of every stage, from the server's public URL and ingest listeners:
// events = the public URL as ws(s) + /stages/events, whip = public URL + /stages/whip,
// rtmp(s) = rtmp(s)://<public host>:<listener port>/app/.
func stageEndpoints(cfg Config) (realtimeapi.StageEndpoints, error) {
	u, err := url.Parse(cfg.PublicURL)
	if err != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https") {
		return realtimeapi.StageEndpoints{}, fmt.Errorf("realtime: public URL %q is not an absolute http(s) URL", cfg.PublicURL)
	}
	base := strings.TrimRight(cfg.PublicURL, "/")
	events := "ws" + strings.TrimPrefix(base, "http") + "/stages/events"
	rtmpPort, rtmpsPort := port(cfg.RTMPAddr, "1935"), port(cfg.RTMPSAddr, "443")
	host := u.Hostname()
	return realtimeapi.StageEndpoints{
		Events: ptr(events),
		Whip:   ptr(base + "/stages/whip"),
		Rtmp:   ptr("rtmp://" + net.JoinHostPort(host, rtmpPort) + "/app/"),
		Rtmps:  ptr("rtmps://" + net.JoinHostPort(host, rtmpsPort) + "/app/"),
	}, nil
}

func port(listenAddr, def string) string {
	_, p, err := net.SplitHostPort(listenAddr)
	if err != nil || p == "" {
		return def
	}
	return p
}

// Endpoints returns the stage endpoints (the same for every stage).
func (p *Provider) Endpoints() realtimeapi.StageEndpoints { return p.endpoints }

// load reads one resource outside a transaction (possibly from the store's cache), or answers
// ResourceNotFoundException.
func (p *Provider) load(ctx context.Context, arnStr, typ string) (*store.Resource, error) {
	return resource.Load(ctx, p.st, arnStr, typ)
}

// MaxAttributesBytes is the limit of participant attributes: "The maximum length of this field is 1 KB total",
// counted as the UTF-8 bytes of every key and value.
const MaxAttributesBytes = 1024

func checkAttributes(path string, attrs map[string]string) error {
	n := 0
	for k, v := range attrs {
		n += len(k) + len(v)
	}
	if n > MaxAttributesBytes {
		return realtimeapi.NewValidationException("%s total %d bytes: the maximum length of this field is 1 KB total", path, n)
	}
	return nil
}

// deleteUnreferenced deletes a resource nothing refers to, or answers ConflictException naming a referrer.
func deleteUnreferenced(ctx context.Context, tx store.Tx, arnStr, typ, what string) error {
	if _, err := resource.Get(ctx, tx, arnStr, typ); err != nil {
		return err
	}
	refs, err := tx.Referrers(ctx, arnStr, 1)
	if err != nil {
		return err
	}
	if len(refs) > 0 {
		kind := "resource"
		if a, err := arn.Parse(refs[0]); err == nil {
			kind = a.Type
		}
		return realtimeapi.NewConflictException("The %s %s is in use by %s %s", what, arnStr, kind, refs[0])
	}
	return tx.Delete(ctx, arnStr)
}

// page runs a paginated list query. scope must name the operation and every filter, so a token from one query
// cannot be replayed against another.
type page struct {
	scope string
	q     store.ListQuery
	max   int
	// keep, when set, filters what the store returns (for filters the store cannot index).
	keep func(*store.Resource) (bool, error)
}

// filterBatch is how many resources a filtered list reads from the store at a time.
const filterBatch = 200

func (p *Provider) list(ctx context.Context, tx store.Tx, pg page, token *string, maxResults *int64) ([]*store.Resource, *string, error) {
	c := resource.Caller(ctx)
	pg.q.Account, pg.q.Region = c.AccountID, c.Region
	scope := c.AccountID + "/" + c.Region + "/" + pg.scope
	if token != nil && *token != "" {
		seq, err := p.tokens.Decode(scope, *token)
		if err != nil {
			return nil, nil, realtimeapi.NewValidationException("The nextToken is not valid for this request")
		}
		pg.q.AfterSeq = seq
	}
	n := pg.max
	if maxResults != nil {
		n = int(*maxResults)
	}
	var rs []*store.Resource
	if pg.keep == nil {
		pg.q.Limit = n + 1
		var err error
		if rs, err = tx.List(ctx, pg.q); err != nil {
			return nil, nil, err
		}
	} else {
		pg.q.Limit = filterBatch
		for len(rs) <= n {
			batch, err := tx.List(ctx, pg.q)
			if err != nil {
				return nil, nil, err
			}
			for _, r := range batch {
				ok, err := pg.keep(r)
				if err != nil {
					return nil, nil, err
				}
				if ok {
					rs = append(rs, r)
					if len(rs) > n {
						break
					}
				}
			}
			if len(batch) < filterBatch {
				break
			}
			pg.q.AfterSeq = batch[len(batch)-1].Seq
		}
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

func boolv(p *bool) bool { return p != nil && *p }

func itoa(n int) string { return strconv.Itoa(n) }

// isCode tells whether err is the modelled error code.
func isCode(err error, code string) bool {
	var ae *awsapi.Error
	return errors.As(err, &ae) && ae.Code == code
}
