package realtime

import (
	"context"
	"github.com/openivs/openivs/internal/resource"
	"net/http"

	"github.com/openivs/openivs/internal/awsapi"
	"github.com/openivs/openivs/internal/spec/realtimeapi"
)

// Compositions and participant replication need the stage media server, which does not exist yet. Nothing is
// fabricated: the List operations answer the truth (there are none), Get and Stop answer
// ResourceNotFoundException (the resource cannot exist), and the Start operations answer 501 NotImplemented,
// naming the operation.

// notImplemented is the error of an operation this server does not support yet.
func notImplemented(op string) error {
	return awsapi.NewError("NotImplemented", http.StatusNotImplemented,
		"%s is not supported by this OpenIVS server yet: it needs the stage media server", op)
}

// GetComposition answers ResourceNotFoundException: no composition can exist.
func (p *Provider) GetComposition(ctx context.Context, in *realtimeapi.GetCompositionRequest) (*realtimeapi.GetCompositionResponse, error) {
	if _, err := resource.Resolve(ctx, *in.Arn, TypeComposition, true); err != nil {
		return nil, err
	}
	return nil, realtimeapi.NewResourceNotFoundException("Resource: %s not found", *in.Arn)
}

// ListCompositions lists no compositions.
func (p *Provider) ListCompositions(ctx context.Context, in *realtimeapi.ListCompositionsRequest) (*realtimeapi.ListCompositionsResponse, error) {
	return &realtimeapi.ListCompositionsResponse{Compositions: []realtimeapi.CompositionSummary{}}, nil
}

// StartComposition is not supported yet.
func (p *Provider) StartComposition(ctx context.Context, in *realtimeapi.StartCompositionRequest) (*realtimeapi.StartCompositionResponse, error) {
	return nil, notImplemented("StartComposition")
}

// StopComposition answers ResourceNotFoundException: no composition can exist.
func (p *Provider) StopComposition(ctx context.Context, in *realtimeapi.StopCompositionRequest) (*realtimeapi.StopCompositionResponse, error) {
	if _, err := resource.Resolve(ctx, *in.Arn, TypeComposition, true); err != nil {
		return nil, err
	}
	return nil, realtimeapi.NewResourceNotFoundException("Resource: %s not found", *in.Arn)
}

// StartParticipantReplication is not supported yet.
func (p *Provider) StartParticipantReplication(ctx context.Context, in *realtimeapi.StartParticipantReplicationRequest) (*realtimeapi.StartParticipantReplicationResponse, error) {
	return nil, notImplemented("StartParticipantReplication")
}

// StopParticipantReplication answers ResourceNotFoundException: no participant is replicated.
func (p *Provider) StopParticipantReplication(ctx context.Context, in *realtimeapi.StopParticipantReplicationRequest) (*realtimeapi.StopParticipantReplicationResponse, error) {
	for _, a := range []string{*in.SourceStageArn, *in.DestinationStageArn} {
		if _, err := resource.Resolve(ctx, a, TypeStage, true); err != nil {
			return nil, err
		}
	}
	return nil, realtimeapi.NewResourceNotFoundException("Participant %s of stage %s is not replicated to stage %s",
		*in.ParticipantId, *in.SourceStageArn, *in.DestinationStageArn)
}

// ListParticipantReplicas lists no replicas.
func (p *Provider) ListParticipantReplicas(ctx context.Context, in *realtimeapi.ListParticipantReplicasRequest) (*realtimeapi.ListParticipantReplicasResponse, error) {
	if _, err := resource.Resolve(ctx, *in.SourceStageArn, TypeStage, true); err != nil && isCode(err, "AccessDeniedException") {
		return nil, err
	}
	return &realtimeapi.ListParticipantReplicasResponse{Replicas: []realtimeapi.ParticipantReplica{}}, nil
}
