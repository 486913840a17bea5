package realtime

import (
	"context"
	"slices"
	"time"

	"github.com/openivs/openivs/internal/arn"
	"github.com/openivs/openivs/internal/awsapi"
	"github.com/openivs/openivs/internal/realtime/token"
	"github.com/openivs/openivs/internal/resource"
	"github.com/openivs/openivs/internal/spec/realtimeapi"
	"github.com/openivs/openivs/internal/store"
)

// Participant tokens: JWTs this server signs (package token), with the claims IVS puts in its own tokens. A token
// is scoped to its stage; its jti is the participant id, 12 alphanumerics like IVS's.

// DefaultTokenMinutes is the default duration of a participant token (12 hours).
const DefaultTokenMinutes = 720

type tokenRequest struct {
	duration     *int64
	userID       *string
	attributes   map[string]string
	capabilities []realtimeapi.ParticipantTokenCapability // nil: PUBLISH and SUBSCRIBE
}

// issue makes a participant token for the stage.
func (p *Provider) issue(stage *store.Resource, tr tokenRequest) (*realtimeapi.ParticipantToken, error) {
	minutes := int64(DefaultTokenMinutes)
	if tr.duration != nil {
		minutes = *tr.duration
	}
	caps := tr.capabilities
	if caps == nil {
		caps = []realtimeapi.ParticipantTokenCapability{realtimeapi.ParticipantTokenCapabilityPublish, realtimeapi.ParticipantTokenCapabilitySubscribe}
	}
	var unique []realtimeapi.ParticipantTokenCapability
	for _, c := range caps {
		if !slices.Contains(unique, c) {
			unique = append(unique, c)
		}
	}
	if unique == nil {
		unique = []realtimeapi.ParticipantTokenCapability{}
	}
	now := time.Unix(p.now().Unix(), 0).UTC()
	c := token.Claims{
		ParticipantID: arn.NewID(), StageARN: stage.ARN, StageID: stage.ID,
		EventsURL: *p.endpoints.Events, WHIPURL: *p.endpoints.Whip, UserID: str(tr.userID), Attributes: tr.attributes,
		Capabilities: token.Capabilities{Publish: slices.Contains(unique, realtimeapi.ParticipantTokenCapabilityPublish),
			Subscribe: slices.Contains(unique, realtimeapi.ParticipantTokenCapabilitySubscribe)},
		IssuedAt: now, ExpiresAt: now.Add(time.Duration(minutes) * time.Minute), Version: token.DefaultVersion,
	}
	jwt, err := p.issuer.Issue(c)
	if err != nil {
		if token.ReasonOf(err) != "" { // claims the token package refuses: the request's fault
			return nil, realtimeapi.NewValidationException("%s", err.Error())
		}
		return nil, err
	}
	out := &realtimeapi.ParticipantToken{ParticipantId: ptr(c.ParticipantID), Token: ptr(jwt), Duration: ptr(minutes),
		Capabilities: unique, ExpirationTime: awsapi.NewTime(c.ExpiresAt)}
	if tr.userID != nil {
		out.UserId = ptr(*tr.userID)
	}
	if tr.attributes != nil {
		out.Attributes = tr.attributes
	}
	return out, nil
}

// CreateParticipantToken issues a token for a participant of a stage: duration 1 to 20160 minutes (default 720),
// attributes up to 1 KB, capabilities PUBLISH and SUBSCRIBE unless others are given.
func (p *Provider) CreateParticipantToken(ctx context.Context, in *realtimeapi.CreateParticipantTokenRequest) (*realtimeapi.CreateParticipantTokenResponse, error) {
	if _, err := resource.Resolve(ctx, *in.StageArn, TypeStage, true); err != nil {
		return nil, err
	}
	if err := checkAttributes("attributes", in.Attributes); err != nil {
		return nil, err
	}
	stage, err := p.load(ctx, *in.StageArn, TypeStage)
	if err != nil {
		return nil, err
	}
	t, err := p.issue(stage, tokenRequest{duration: in.Duration, userID: in.UserId, attributes: in.Attributes, capabilities: in.Capabilities})
	if err != nil {
		return nil, err
	}
	return &realtimeapi.CreateParticipantTokenResponse{ParticipantToken: t}, nil
}

// Verifier returns the verifier of participant tokens for the stage media server: tokens this server issued, and
// self-signed tokens of imported public keys; deleted keys, disconnected participants and deleted stages are
// refused.
func (p *Provider) Verifier() *token.Verifier {
	return &token.Verifier{Issuer: p.issuer, Lookup: p, Now: p.now}
}

var _ token.Lookup = (*Provider)(nil)

// JoinFromClaims is the Join of a participant with a verified token (protocol WHIP unless the media server knows
// better).
func JoinFromClaims(c *token.Claims) Join {
	attrs := make(map[string]string, len(c.Attributes))
	for k, v := range c.Attributes {
		attrs[k] = v
	}
	return Join{ParticipantID: c.ParticipantID, UserID: c.UserID, Attributes: attrs, Protocol: realtimeapi.ParticipantProtocolWhip}
}
