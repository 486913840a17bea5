package ivs

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"sort"
	"time"

	"github.com/openivs/openivs/internal/arn"
	"github.com/openivs/openivs/internal/resource"
	"github.com/openivs/openivs/internal/spec/ivsapi"
	"github.com/openivs/openivs/internal/store"
)

// MaxMetadataBytes is IVS's limit on a PutMetadata payload.
const MaxMetadataBytes = 1024

// channelExists answers ResourceNotFoundException unless the caller has the channel.
func (p *Provider) channelExists(ctx context.Context, channelARN string) error {
	if _, err := resource.Resolve(ctx, channelARN, TypeChannel, true); err != nil {
		return err
	}
	_, err := p.load(ctx, channelARN, TypeChannel)
	return err
}

func notBroadcasting(channelARN string) error {
	return ivsapi.NewChannelNotBroadcasting("Channel: %s is not currently online", channelARN)
}

// liveErr maps the media plane's answer to the API's.
func liveErr(channelARN string, err error) error {
	var nl interface{ NotLive() bool }
	if errors.Is(err, ErrNotLive) || errors.As(err, &nl) && nl.NotLive() {
		return notBroadcasting(channelARN)
	}
	return err
}

// GetStream returns the channel's live stream.
func (p *Provider) GetStream(ctx context.Context, in *ivsapi.GetStreamRequest) (*ivsapi.GetStreamResponse, error) {
	if err := p.channelExists(ctx, *in.ChannelArn); err != nil {
		return nil, err
	}
	s, ok := p.live.Stream(*in.ChannelArn)
	if !ok {
		return nil, notBroadcasting(*in.ChannelArn)
	}
	return &ivsapi.GetStreamResponse{Stream: s}, nil
}

// ListStreams lists the caller's live streams, oldest first.
func (p *Provider) ListStreams(ctx context.Context, in *ivsapi.ListStreamsRequest) (*ivsapi.ListStreamsResponse, error) {
	c := resource.Caller(ctx)
	streams := p.live.Streams(c.AccountID, c.Region)
	scope := c.AccountID + "/" + c.Region + "/ListStreams"
	if in.FilterBy != nil && in.FilterBy.Health != nil {
		scope += "/health=" + string(*in.FilterBy.Health)
		kept := streams[:0:0]
		for _, s := range streams {
			if s.Health != nil && *s.Health == *in.FilterBy.Health {
				kept = append(kept, s)
			}
		}
		streams = kept
	}
	// Streams are ordered by start time; a token resumes after the start time (in nanoseconds) of the last one.
	sort.SliceStable(streams, func(i, j int) bool { return streams[i].StartTime.Before(streams[j].StartTime.Time) })
	if in.NextToken != nil && *in.NextToken != "" {
		after, err := p.tokens.Decode(scope, *in.NextToken)
		if err != nil {
			return nil, ivsapi.NewValidationException("The nextToken is not valid for this request")
		}
		i := sort.Search(len(streams), func(i int) bool { return streams[i].StartTime.UnixNano() > after })
		streams = streams[i:]
	}
	n := 100
	if in.MaxResults != nil {
		n = int(*in.MaxResults)
	}
	out := &ivsapi.ListStreamsResponse{Streams: []ivsapi.StreamSummary{}}
	for i, s := range streams {
		if i == n {
			out.NextToken = ptr(p.tokens.Encode(scope, streams[i-1].StartTime.UnixNano()))
			break
		}
		out.Streams = append(out.Streams, ivsapi.StreamSummary{ChannelArn: s.ChannelArn, StreamId: s.StreamId,
			State: s.State, Health: s.Health, ViewerCount: s.ViewerCount, StartTime: s.StartTime})
	}
	return out, nil
}

// StopStream disconnects the channel's encoder.
func (p *Provider) StopStream(ctx context.Context, in *ivsapi.StopStreamRequest) (*ivsapi.StopStreamResponse, error) {
	if err := p.channelExists(ctx, *in.ChannelArn); err != nil {
		return nil, err
	}
	if err := p.live.Stop(ctx, *in.ChannelArn); err != nil {
		return nil, liveErr(*in.ChannelArn, err)
	}
	return &ivsapi.StopStreamResponse{}, nil
}

// PutMetadata inserts timed metadata into the channel's live stream.
func (p *Provider) PutMetadata(ctx context.Context, in *ivsapi.PutMetadataRequest) error {
	if len(*in.Metadata) > MaxMetadataBytes {
		return ivsapi.NewValidationException("Metadata size exceeds payload limit")
	}
	if err := p.channelExists(ctx, *in.ChannelArn); err != nil {
		return err
	}
	// IVS's call rates: 5 per second per channel, 155 per second per account.
	now := p.now()
	if !p.metadataPerChannel.allow(*in.ChannelArn, now) {
		return ivsapi.NewThrottlingException("Operation: ivs:PutMetadata exceeded call rate: %d for resource: %s", metadataChannelTPS, *in.ChannelArn)
	}
	if c := resource.Caller(ctx); !p.metadataPerAccount.allow(c.AccountID+"/"+c.Region, now) {
		return ivsapi.NewThrottlingException("Operation: ivs:PutMetadata exceeded call rate: %d for account: %s", metadataAccountTPS, c.AccountID)
	}
	return liveErr(*in.ChannelArn, p.live.PutMetadata(ctx, *in.ChannelArn, *in.Metadata))
}

// InsertAdBreak marks an ad break in the live stream of a channel that has an ad configuration.
func (p *Provider) InsertAdBreak(ctx context.Context, in *ivsapi.InsertAdBreakRequest) (*ivsapi.InsertAdBreakResponse, error) {
	if _, err := resource.Resolve(ctx, *in.ChannelArn, TypeChannel, true); err != nil {
		return nil, err
	}
	r, err := p.load(ctx, *in.ChannelArn, TypeChannel)
	if err != nil {
		return nil, err
	}
	var d channelDoc
	if err := resource.Decode(r, &d); err != nil {
		return nil, err
	}
	if d.AdConfigurationArn == "" {
		return nil, ivsapi.NewConflictException("Channel %s has no ad configuration", *in.ChannelArn)
	}
	id, err := p.live.InsertAdBreak(ctx, *in.ChannelArn, time.Duration(*in.DurationSeconds)*time.Second)
	if err != nil {
		return nil, liveErr(*in.ChannelArn, err)
	}
	return &ivsapi.InsertAdBreakResponse{AdBreakId: &id}, nil
}

// --- stream sessions: written by the media plane when a stream starts, read here.

// SessionDoc is a stream session as stored.
type SessionDoc struct {
	Session  ivsapi.StreamSession `json:"session"`
	HasError bool                 `json:"hasError"`
}

func (p *Provider) loadSessions(ctx context.Context, tx store.Tx, channelARN string) ([]*store.Resource, error) {
	if _, err := resource.Get(ctx, tx, channelARN, TypeChannel); err != nil {
		return nil, err
	}
	return tx.Children(ctx, channelARN)
}

// GetStreamSession returns a stream session of the channel: the one named, or the most recent.
func (p *Provider) GetStreamSession(ctx context.Context, in *ivsapi.GetStreamSessionRequest) (*ivsapi.GetStreamSessionResponse, error) {
	if _, err := resource.Resolve(ctx, *in.ChannelArn, TypeChannel, true); err != nil {
		return nil, err
	}
	out := &ivsapi.GetStreamSessionResponse{}
	err := p.st.View(ctx, func(tx store.Tx) error {
		children, err := p.loadSessions(ctx, tx, *in.ChannelArn)
		if err != nil {
			return err
		}
		var found *store.Resource
		for _, c := range children {
			if c.Type == TypeStreamSession && (in.StreamId == nil || c.Name == *in.StreamId) {
				found = c // children are oldest first: the last match is the most recent
			}
		}
		if found == nil {
			if in.StreamId != nil {
				return ivsapi.NewResourceNotFoundException("Stream session %s of channel %s not found", *in.StreamId, *in.ChannelArn)
			}
			return ivsapi.NewResourceNotFoundException("Channel %s has no stream sessions", *in.ChannelArn)
		}
		var d SessionDoc
		if err := resource.Decode(found, &d); err != nil {
			return err
		}
		out.StreamSession = &d.Session
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// ListStreamSessions lists the channel's stream sessions, newest first.
func (p *Provider) ListStreamSessions(ctx context.Context, in *ivsapi.ListStreamSessionsRequest) (*ivsapi.ListStreamSessionsResponse, error) {
	if _, err := resource.Resolve(ctx, *in.ChannelArn, TypeChannel, true); err != nil {
		return nil, err
	}
	c := resource.Caller(ctx)
	scope := c.AccountID + "/" + c.Region + "/ListStreamSessions/" + *in.ChannelArn
	out := &ivsapi.ListStreamSessionsResponse{StreamSessions: []ivsapi.StreamSessionSummary{}}
	err := p.st.View(ctx, func(tx store.Tx) error {
		children, err := p.loadSessions(ctx, tx, *in.ChannelArn)
		if err != nil {
			return err
		}
		var sessions []*store.Resource
		for i := len(children) - 1; i >= 0; i-- { // newest first
			if children[i].Type == TypeStreamSession {
				sessions = append(sessions, children[i])
			}
		}
		if in.NextToken != nil && *in.NextToken != "" {
			before, err := p.tokens.Decode(scope, *in.NextToken)
			if err != nil {
				return ivsapi.NewValidationException("The nextToken is not valid for this request")
			}
			i := sort.Search(len(sessions), func(i int) bool { return sessions[i].Seq < before })
			sessions = sessions[i:]
		}
		n := 100
		if in.MaxResults != nil {
			n = int(*in.MaxResults)
		}
		for i, r := range sessions {
			if i == n {
				out.NextToken = ptr(p.tokens.Encode(scope, sessions[i-1].Seq))
				break
			}
			var d SessionDoc
			if err := resource.Decode(r, &d); err != nil {
				return err
			}
			out.StreamSessions = append(out.StreamSessions, ivsapi.StreamSessionSummary{StreamId: d.Session.StreamId,
				StartTime: d.Session.StartTime, EndTime: d.Session.EndTime, HasErrorEvent: ptr(d.HasError)})
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// --- viewer session revocation: kept in the store, enforced by playback.

// RevocationDoc revokes a viewer's sessions with a version up to Version.
type RevocationDoc struct {
	ViewerID string `json:"viewerId"`
	Version  int64  `json:"version"`
}

// RevocationARN is the store key of a viewer's revocation on a channel, and its id.
func RevocationARN(channel arn.ARN, viewerID string) (key, id string) {
	h := sha256.Sum256([]byte(viewerID))
	id = channel.ID + "-" + hex.EncodeToString(h[:12])
	return arn.New(channel.Region, channel.Account, TypeViewerRevocation, id), id
}

func (p *Provider) revoke(ctx context.Context, tx store.Tx, channelARN, viewerID string, version int64) error {
	ch, err := resource.Resolve(ctx, channelARN, TypeChannel, true)
	if err != nil {
		return err
	}
	if _, err := resource.Get(ctx, tx, channelARN, TypeChannel); err != nil {
		return err
	}
	key, id := RevocationARN(ch, viewerID)
	r, err := tx.Get(ctx, key)
	switch {
	case errors.Is(err, store.ErrNotFound):
		c := resource.Caller(ctx)
		r = &store.Resource{ARN: key, Account: c.AccountID, Region: c.Region, Type: TypeViewerRevocation,
			ID: id, Parent: channelARN, Tags: map[string]string{}, Created: p.now().UTC()}
		if err := resource.Encode(r, &RevocationDoc{ViewerID: viewerID, Version: version}); err != nil {
			return err
		}
		return tx.Insert(ctx, r)
	case err != nil:
		return err
	}
	var d RevocationDoc
	if err := resource.Decode(r, &d); err != nil {
		return err
	}
	if version <= d.Version {
		return nil
	}
	d.Version = version
	if err := resource.Encode(r, &d); err != nil {
		return err
	}
	return tx.Update(ctx, r)
}

// StartViewerSessionRevocation revokes a viewer's sessions on a channel up to a session version.
func (p *Provider) StartViewerSessionRevocation(ctx context.Context, in *ivsapi.StartViewerSessionRevocationRequest) (*ivsapi.StartViewerSessionRevocationResponse, error) {
	version := int64(0)
	if in.ViewerSessionVersionsLessThanOrEqualTo != nil {
		version = *in.ViewerSessionVersionsLessThanOrEqualTo
	}
	err := p.st.Update(ctx, func(tx store.Tx) error {
		return p.revoke(ctx, tx, *in.ChannelArn, *in.ViewerId, version)
	})
	if err != nil {
		return nil, err
	}
	return &ivsapi.StartViewerSessionRevocationResponse{}, nil
}

// BatchStartViewerSessionRevocation revokes several viewers' sessions, reporting each one that failed.
func (p *Provider) BatchStartViewerSessionRevocation(ctx context.Context, in *ivsapi.BatchStartViewerSessionRevocationRequest) (*ivsapi.BatchStartViewerSessionRevocationResponse, error) {
	out := &ivsapi.BatchStartViewerSessionRevocationResponse{Errors: []ivsapi.BatchStartViewerSessionRevocationError{}}
	for _, vs := range in.ViewerSessions {
		version := int64(0)
		if vs.ViewerSessionVersionsLessThanOrEqualTo != nil {
			version = *vs.ViewerSessionVersionsLessThanOrEqualTo
		}
		err := p.st.Update(ctx, func(tx store.Tx) error {
			return p.revoke(ctx, tx, *vs.ChannelArn, *vs.ViewerId, version)
		})
		if err != nil {
			be := batchError(*vs.ChannelArn, err)
			out.Errors = append(out.Errors, ivsapi.BatchStartViewerSessionRevocationError{ChannelArn: vs.ChannelArn,
				ViewerId: vs.ViewerId, Code: be.Code, Message: be.Message})
		}
	}
	return out, nil
}
