package realtime

import (
	"context"
	"crypto/subtle"
	"errors"
	"strings"

	"github.com/openivs/openivs/internal/arn"
	"github.com/openivs/openivs/internal/resource"
	"github.com/openivs/openivs/internal/spec/realtimeapi"
	"github.com/openivs/openivs/internal/store"
)

// Ingest configurations: RTMP(S) publishers into a stage. The configuration's stream key is the publisher's
// credential; its participantId is the participant the publisher becomes in the stage.

// ingestDoc is an ingest configuration as stored (name and tags are kept by the store).
type ingestDoc struct {
	Protocol       realtimeapi.IngestProtocol           `json:"ingestProtocol"`
	InsecureIngest bool                                 `json:"insecureIngest"`
	StreamKey      string                               `json:"streamKey"`
	StageARN       string                               `json:"stageArn"`
	ParticipantID  string                               `json:"participantId"`
	State          realtimeapi.IngestConfigurationState `json:"state"`
	UserID         string                               `json:"userId"`
	Attributes     map[string]string                    `json:"attributes"`
	Redundant      []redundantCredential                `json:"redundant,omitempty"` // present when redundantIngest
}

type redundantCredential struct {
	ParticipantID string `json:"participantId"`
	StreamKey     string `json:"streamKey"`
}

func (d *ingestDoc) refs() []string {
	if d.StageARN == "" {
		return nil
	}
	return []string{d.StageARN}
}

// ingestStreamKey returns a stream key "rt_<account>_<region>_<ingestConfigurationId>_<30 random alphanumerics>".
func ingestStreamKey(account, region, id string) string {
	return "rt_" + account + "_" + region + "_" + id + "_" + arn.Random(30)
}

func setRedundant(r *store.Resource, d *ingestDoc, on bool) {
	switch {
	case on && len(d.Redundant) == 0:
		d.Redundant = []redundantCredential{{ParticipantID: arn.NewID(), StreamKey: ingestStreamKey(r.Account, r.Region, r.ID)}}
	case !on:
		d.Redundant = nil
	}
}

func renderIngest(r *store.Resource, d *ingestDoc) realtimeapi.IngestConfiguration {
	out := realtimeapi.IngestConfiguration{Arn: ptr(r.ARN), Name: ptr(r.Name), IngestProtocol: ptr(d.Protocol),
		StreamKey: ptr(d.StreamKey), StageArn: ptr(d.StageARN), ParticipantId: ptr(d.ParticipantID), State: ptr(d.State),
		UserId: ptr(d.UserID), RedundantIngest: ptr(len(d.Redundant) > 0), Attributes: d.Attributes, Tags: r.Tags}
	if out.Attributes == nil {
		out.Attributes = map[string]string{}
	}
	for _, c := range d.Redundant {
		out.RedundantIngestCredentials = append(out.RedundantIngestCredentials,
			realtimeapi.RedundantIngestCredential{ParticipantId: ptr(c.ParticipantID), StreamKey: ptr(c.StreamKey)})
	}
	return out
}

func renderIngestSummary(r *store.Resource, d *ingestDoc) realtimeapi.IngestConfigurationSummary {
	return realtimeapi.IngestConfigurationSummary{Arn: ptr(r.ARN), Name: ptr(r.Name), IngestProtocol: ptr(d.Protocol),
		StageArn: ptr(d.StageARN), ParticipantId: ptr(d.ParticipantID), State: ptr(d.State), UserId: ptr(d.UserID),
		RedundantIngest: ptr(len(d.Redundant) > 0)}
}

// checkIngestStage checks that a stage an ingest configuration is to be attached to is the caller's and exists.
func checkIngestStage(ctx context.Context, tx store.Tx, stageARN string, notFound func(format string, args ...any) error) error {
	if stageARN == "" {
		return nil
	}
	if _, err := resource.Resolve(ctx, stageARN, TypeStage, true); err != nil {
		if isCode(err, "AccessDeniedException") {
			return err
		}
		return notFound("Stage %s not found", stageARN)
	}
	if _, err := resource.Get(ctx, tx, stageARN, TypeStage); err != nil {
		return notFound("Stage %s not found", stageARN)
	}
	return nil
}

// CreateIngestConfiguration creates an ingest configuration, INACTIVE, with a new stream key and participant id.
// RTMP (unencrypted) requires insecureIngest. A stage it names must exist (ValidationException otherwise: the
// operation models no ResourceNotFoundException).
func (p *Provider) CreateIngestConfiguration(ctx context.Context, in *realtimeapi.CreateIngestConfigurationRequest) (*realtimeapi.CreateIngestConfigurationResponse, error) {
	if *in.IngestProtocol == realtimeapi.IngestProtocolRtmp && !boolv(in.InsecureIngest) {
		return nil, realtimeapi.NewValidationException("insecureIngest must be set to true when ingestProtocol is RTMP")
	}
	if err := checkAttributes("attributes", in.Attributes); err != nil {
		return nil, err
	}
	attrs := in.Attributes
	if attrs == nil {
		attrs = map[string]string{}
	}
	d := ingestDoc{Protocol: *in.IngestProtocol, InsecureIngest: boolv(in.InsecureIngest), StageARN: str(in.StageArn),
		ParticipantID: arn.NewID(), State: realtimeapi.IngestConfigurationStateInactive, UserID: str(in.UserId), Attributes: attrs}
	out := &realtimeapi.CreateIngestConfigurationResponse{}
	err := p.st.Update(ctx, func(tx store.Tx) error {
		err := checkIngestStage(ctx, tx, d.StageARN, func(f string, a ...any) error { return realtimeapi.NewValidationException(f, a...) })
		if err != nil {
			return err
		}
		r, err := resource.New(ctx, TypeIngestConfiguration, str(in.Name), in.Tags, &d, p.now())
		if err != nil {
			return err
		}
		if err := resource.CheckQuota(ctx, tx, TypeIngestConfiguration, p.cfg.Quotas.IngestConfigurations); err != nil {
			return err
		}
		d.StreamKey = ingestStreamKey(r.Account, r.Region, r.ID)
		setRedundant(r, &d, boolv(in.RedundantIngest))
		if err := resource.Encode(r, &d); err != nil {
			return err
		}
		r.Refs = d.refs()
		if err := tx.Insert(ctx, r); err != nil {
			return err
		}
		ic := renderIngest(r, &d)
		out.IngestConfiguration = &ic
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// GetIngestConfiguration returns an ingest configuration with its stream key.
func (p *Provider) GetIngestConfiguration(ctx context.Context, in *realtimeapi.GetIngestConfigurationRequest) (*realtimeapi.GetIngestConfigurationResponse, error) {
	if _, err := resource.Resolve(ctx, *in.Arn, TypeIngestConfiguration, true); err != nil {
		return nil, err
	}
	r, err := p.load(ctx, *in.Arn, TypeIngestConfiguration)
	if err != nil {
		return nil, err
	}
	var d ingestDoc
	if err := resource.Decode(r, &d); err != nil {
		return nil, err
	}
	ic := renderIngest(r, &d)
	return &realtimeapi.GetIngestConfigurationResponse{IngestConfiguration: &ic}, nil
}

// ListIngestConfigurations lists the caller's ingest configurations, filtered by stage or by state (not both:
// ValidationException).
func (p *Provider) ListIngestConfigurations(ctx context.Context, in *realtimeapi.ListIngestConfigurationsRequest) (*realtimeapi.ListIngestConfigurationsResponse, error) {
	pg := page{scope: "ListIngestConfigurations", max: 50, q: store.ListQuery{Type: TypeIngestConfiguration}}
	byStage, byState := str(in.FilterByStageArn), in.FilterByState
	if byStage != "" && byState != nil {
		return nil, realtimeapi.NewValidationException("Only one filter (by stage ARN or by state) can be used at a time")
	}
	if byStage != "" {
		pg.q.Ref = byStage
		pg.scope += "/stage=" + byStage
	}
	if byState != nil {
		pg.scope += "/state=" + string(*byState)
		pg.keep = func(r *store.Resource) (bool, error) {
			var d ingestDoc
			if err := resource.Decode(r, &d); err != nil {
				return false, err
			}
			return d.State == *byState, nil
		}
	}
	out := &realtimeapi.ListIngestConfigurationsResponse{IngestConfigurations: []realtimeapi.IngestConfigurationSummary{}}
	err := p.st.View(ctx, func(tx store.Tx) error {
		rs, next, err := p.list(ctx, tx, pg, in.NextToken, in.MaxResults)
		if err != nil {
			return err
		}
		for _, r := range rs {
			var d ingestDoc
			if err := resource.Decode(r, &d); err != nil {
				return err
			}
			out.IngestConfigurations = append(out.IngestConfigurations, renderIngestSummary(r, &d))
		}
		out.NextToken = next
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// UpdateIngestConfiguration attaches an ingest configuration to another stage (or detaches it with "") and turns
// redundant ingest on or off; members left out keep their value. An ACTIVE configuration cannot be updated
// (ConflictException).
func (p *Provider) UpdateIngestConfiguration(ctx context.Context, in *realtimeapi.UpdateIngestConfigurationRequest) (*realtimeapi.UpdateIngestConfigurationResponse, error) {
	if _, err := resource.Resolve(ctx, *in.Arn, TypeIngestConfiguration, true); err != nil {
		return nil, err
	}
	out := &realtimeapi.UpdateIngestConfigurationResponse{}
	err := p.st.Update(ctx, func(tx store.Tx) error {
		r, err := resource.Get(ctx, tx, *in.Arn, TypeIngestConfiguration)
		if err != nil {
			return err
		}
		var d ingestDoc
		if err := resource.Decode(r, &d); err != nil {
			return err
		}
		if d.State == realtimeapi.IngestConfigurationStateActive {
			return realtimeapi.NewConflictException("The ingest configuration %s is active (publishing): it cannot be updated", r.ARN)
		}
		if in.StageArn != nil {
			err := checkIngestStage(ctx, tx, *in.StageArn, func(f string, a ...any) error { return realtimeapi.NewResourceNotFoundException(f, a...) })
			if err != nil {
				return err
			}
			d.StageARN = *in.StageArn
		}
		if in.RedundantIngest != nil {
			setRedundant(r, &d, *in.RedundantIngest)
		}
		r.Refs = d.refs()
		if err := resource.Encode(r, &d); err != nil {
			return err
		}
		if err := tx.Update(ctx, r); err != nil {
			return err
		}
		ic := renderIngest(r, &d)
		out.IngestConfiguration = &ic
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// DeleteIngestConfiguration deletes an ingest configuration. While its publisher is publishing (ACTIVE) it is
// refused (ConflictException) unless force is set, which disconnects the publisher first.
func (p *Provider) DeleteIngestConfiguration(ctx context.Context, in *realtimeapi.DeleteIngestConfigurationRequest) (*realtimeapi.DeleteIngestConfigurationResponse, error) {
	if _, err := resource.Resolve(ctx, *in.Arn, TypeIngestConfiguration, true); err != nil {
		return nil, err
	}
	var disconnect []string // participant ids to disconnect from stage
	var stage string
	err := p.st.Update(ctx, func(tx store.Tx) error {
		r, err := resource.Get(ctx, tx, *in.Arn, TypeIngestConfiguration)
		if err != nil {
			return err
		}
		var d ingestDoc
		if err := resource.Decode(r, &d); err != nil {
			return err
		}
		if d.State == realtimeapi.IngestConfigurationStateActive {
			if !boolv(in.Force) {
				return realtimeapi.NewConflictException("The ingest configuration %s is active (publishing): stop publishing, or delete with force to disconnect the publisher", r.ARN)
			}
			stage = d.StageARN
			disconnect = append(disconnect, d.ParticipantID)
			for _, c := range d.Redundant {
				disconnect = append(disconnect, c.ParticipantID)
			}
			for _, pid := range disconnect {
				st, err := p.open(ctx, tx, d.StageARN, pid)
				if errors.Is(err, ErrStageNotFound) {
					break
				}
				if err != nil {
					return err
				}
				if st.connected() {
					if err := st.leave(ctx); err != nil {
						return err
					}
					if err := st.save(ctx); err != nil {
						return err
					}
				}
			}
		}
		return tx.Delete(ctx, r.ARN)
	})
	if err != nil {
		return nil, err
	}
	for _, pid := range disconnect {
		p.media.Disconnect(stage, pid, "ingest configuration deleted")
	}
	return &realtimeapi.DeleteIngestConfigurationResponse{}, nil
}

// detachIngest sets an ingest configuration's stageArn to "" (DeleteStage, DisconnectParticipant).
func detachIngest(ctx context.Context, tx store.Tx, ingestARN string) error {
	r, err := tx.Get(ctx, ingestARN)
	if err != nil {
		return err
	}
	var d ingestDoc
	if err := resource.Decode(r, &d); err != nil {
		return err
	}
	d.StageARN, d.State = "", realtimeapi.IngestConfigurationStateInactive
	r.Refs = nil
	if err := resource.Encode(r, &d); err != nil {
		return err
	}
	return tx.Update(ctx, r)
}

// IngestTarget is what a stream key gives the media server: where the publisher goes and as whom.
type IngestTarget struct {
	IngestConfigurationARN string
	StageARN               string // "" when the configuration is attached to no stage: the key is unusable
	Protocol               realtimeapi.IngestProtocol
	InsecureIngest         bool
	Join                   Join // the participant the publisher becomes (RecordJoin)
}

// ErrUnknownStreamKey is returned by IngestByStreamKey for a key no ingest configuration has.
var ErrUnknownStreamKey = errors.New("realtime: unknown stream key")

// IngestByStreamKey finds the ingest configuration of an RTMP(S) stream key (the primary key or a redundant one).
func (p *Provider) IngestByStreamKey(ctx context.Context, streamKey string) (*IngestTarget, error) {
	rest, ok := strings.CutPrefix(streamKey, "rt_")
	parts := strings.SplitN(rest, "_", 4)
	if !ok || len(parts) != 4 {
		return nil, ErrUnknownStreamKey
	}
	key := arn.New(parts[1], parts[0], TypeIngestConfiguration, parts[2])
	r, err := p.st.Get(ctx, key)
	if errors.Is(err, store.ErrNotFound) || (err == nil && r.Type != TypeIngestConfiguration) {
		return nil, ErrUnknownStreamKey
	}
	if err != nil {
		return nil, err
	}
	var d ingestDoc
	if err := resource.Decode(r, &d); err != nil {
		return nil, err
	}
	pid := ""
	if subtle.ConstantTimeCompare([]byte(d.StreamKey), []byte(streamKey)) == 1 {
		pid = d.ParticipantID
	}
	for _, c := range d.Redundant {
		if subtle.ConstantTimeCompare([]byte(c.StreamKey), []byte(streamKey)) == 1 {
			pid = c.ParticipantID
		}
	}
	if pid == "" {
		return nil, ErrUnknownStreamKey
	}
	protocol := realtimeapi.ParticipantProtocolRtmps
	if d.Protocol == realtimeapi.IngestProtocolRtmp {
		protocol = realtimeapi.ParticipantProtocolRtmp
	}
	return &IngestTarget{IngestConfigurationARN: r.ARN, StageARN: d.StageARN, Protocol: d.Protocol, InsecureIngest: d.InsecureIngest,
		Join: Join{ParticipantID: pid, UserID: d.UserID, Attributes: d.Attributes, Protocol: protocol,
			IngestConfigurationARN: r.ARN, RedundantIngest: len(d.Redundant) > 0}}, nil
}
