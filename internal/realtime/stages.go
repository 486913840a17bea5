package realtime

import (
	"context"
	"errors"
	"slices"

	"github.com/openivs/openivs/internal/arn"
	"github.com/openivs/openivs/internal/resource"
	"github.com/openivs/openivs/internal/spec/realtimeapi"
	"github.com/openivs/openivs/internal/store"
)

// stageDoc is a stage as stored. Endpoints are added when rendered, so a change of the public URL reaches every
// stage; name and tags are kept by the store.
type stageDoc struct {
	Recording       realtimeapi.AutoParticipantRecordingConfiguration `json:"recording"`
	ActiveSessionID string                                            `json:"activeSessionId"`
}

func (d *stageDoc) refs() []string {
	if a := str(d.Recording.StorageConfigurationArn); a != "" {
		return []string{a}
	}
	return nil
}

func (p *Provider) renderStage(r *store.Resource, d *stageDoc) realtimeapi.Stage {
	eps := p.endpoints
	rec := d.Recording
	return realtimeapi.Stage{Arn: ptr(r.ARN), Name: ptr(r.Name), ActiveSessionId: ptr(d.ActiveSessionID), Tags: r.Tags,
		AutoParticipantRecordingConfiguration: &rec, Endpoints: &eps}
}

// recordingConfiguration returns the configuration with IVS's defaults filled in: what GetStage shows. An empty
// storageConfigurationArn disables recording and resets every other field to its default, as the model says.
func recordingConfiguration(in *realtimeapi.AutoParticipantRecordingConfiguration) realtimeapi.AutoParticipantRecordingConfiguration {
	out := realtimeapi.AutoParticipantRecordingConfiguration{StorageConfigurationArn: ptr("")}
	if in != nil && str(in.StorageConfigurationArn) != "" {
		out = *in
	}
	if len(out.MediaTypes) == 0 {
		out.MediaTypes = []realtimeapi.ParticipantRecordingMediaType{realtimeapi.ParticipantRecordingMediaTypeAudioVideo}
	}
	thumb := realtimeapi.ParticipantThumbnailConfiguration{}
	if out.ThumbnailConfiguration != nil {
		thumb = *out.ThumbnailConfiguration
	}
	if thumb.RecordingMode == nil {
		thumb.RecordingMode = ptr(realtimeapi.ThumbnailRecordingModeDisabled)
	}
	if thumb.TargetIntervalSeconds == nil {
		thumb.TargetIntervalSeconds = ptr(int64(60))
	}
	if len(thumb.Storage) == 0 {
		thumb.Storage = []realtimeapi.ThumbnailStorageType{realtimeapi.ThumbnailStorageTypeSequential}
	}
	out.ThumbnailConfiguration = &thumb
	if out.RecordingReconnectWindowSeconds == nil {
		out.RecordingReconnectWindowSeconds = ptr(int64(0))
	}
	hls := realtimeapi.ParticipantRecordingHlsConfiguration{}
	if out.HlsConfiguration != nil {
		hls = *out.HlsConfiguration
	}
	if hls.TargetSegmentDurationSeconds == nil {
		hls.TargetSegmentDurationSeconds = ptr(int64(6))
	}
	out.HlsConfiguration = &hls
	if out.RecordParticipantReplicas == nil {
		out.RecordParticipantReplicas = ptr(true)
	}
	return out
}

// checkStorageConfiguration checks that the recording configuration's storage configuration is the caller's and
// exists. notFound builds the error for a missing one (operations model different errors for it).
func checkStorageConfiguration(ctx context.Context, tx store.Tx, rec *realtimeapi.AutoParticipantRecordingConfiguration,
	notFound func(format string, args ...any) error) error {
	a := str(rec.StorageConfigurationArn)
	if a == "" {
		return nil
	}
	if _, err := resource.Resolve(ctx, a, TypeStorageConfiguration, true); err != nil {
		if isCode(err, "AccessDeniedException") {
			return err
		}
		return notFound("Storage configuration %s not found", a)
	}
	if _, err := resource.Get(ctx, tx, a, TypeStorageConfiguration); err != nil {
		return notFound("Storage configuration %s not found", a)
	}
	return nil
}

// CreateStage creates a stage and the participant tokens asked for.
func (p *Provider) CreateStage(ctx context.Context, in *realtimeapi.CreateStageRequest) (*realtimeapi.CreateStageResponse, error) {
	for i, tc := range in.ParticipantTokenConfigurations {
		if err := checkAttributes("participantTokenConfigurations."+itoa(i+1)+".attributes", tc.Attributes); err != nil {
			return nil, err
		}
	}
	d := stageDoc{Recording: recordingConfiguration(in.AutoParticipantRecordingConfiguration)}
	r, err := resource.New(ctx, TypeStage, str(in.Name), in.Tags, &d, p.now())
	if err != nil {
		return nil, err
	}
	r.Refs = d.refs()
	// The tokens are made before the stage is stored, so that a stage is created with all its tokens or not at all.
	out := &realtimeapi.CreateStageResponse{ParticipantTokens: []realtimeapi.ParticipantToken{}}
	for _, tc := range in.ParticipantTokenConfigurations {
		t, err := p.issue(r, tokenRequest{duration: tc.Duration, userID: tc.UserId, attributes: tc.Attributes,
			capabilities: tc.Capabilities})
		if err != nil {
			return nil, err
		}
		out.ParticipantTokens = append(out.ParticipantTokens, *t)
	}
	err = p.st.Update(ctx, func(tx store.Tx) error {
		err := checkStorageConfiguration(ctx, tx, &d.Recording, func(f string, a ...any) error {
			return realtimeapi.NewValidationException(f, a...)
		})
		if err != nil {
			return err
		}
		if err := resource.CheckQuota(ctx, tx, TypeStage, p.cfg.Quotas.Stages); err != nil {
			return err
		}
		return tx.Insert(ctx, r)
	})
	if err != nil {
		return nil, err
	}
	s := p.renderStage(r, &d)
	out.Stage = &s
	return out, nil
}

// GetStage returns a stage.
func (p *Provider) GetStage(ctx context.Context, in *realtimeapi.GetStageRequest) (*realtimeapi.GetStageResponse, error) {
	if _, err := resource.Resolve(ctx, *in.Arn, TypeStage, true); err != nil {
		return nil, err
	}
	r, err := p.load(ctx, *in.Arn, TypeStage)
	if err != nil {
		return nil, err
	}
	var d stageDoc
	if err := resource.Decode(r, &d); err != nil {
		return nil, err
	}
	s := p.renderStage(r, &d)
	return &realtimeapi.GetStageResponse{Stage: &s}, nil
}

// ListStages lists the caller's stages, oldest first.
func (p *Provider) ListStages(ctx context.Context, in *realtimeapi.ListStagesRequest) (*realtimeapi.ListStagesResponse, error) {
	out := &realtimeapi.ListStagesResponse{Stages: []realtimeapi.StageSummary{}}
	err := p.st.View(ctx, func(tx store.Tx) error {
		rs, next, err := p.list(ctx, tx, page{scope: "ListStages", max: 50, q: store.ListQuery{Type: TypeStage}}, in.NextToken, in.MaxResults)
		if err != nil {
			return err
		}
		for _, r := range rs {
			var d stageDoc
			if err := resource.Decode(r, &d); err != nil {
				return err
			}
			out.Stages = append(out.Stages, realtimeapi.StageSummary{Arn: ptr(r.ARN), Name: ptr(r.Name),
				ActiveSessionId: ptr(d.ActiveSessionID), Tags: r.Tags})
		}
		out.NextToken = next
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// UpdateStage changes a stage's name and individual participant recording configuration. The recording
// configuration cannot change while a participant of the active session is being recorded.
func (p *Provider) UpdateStage(ctx context.Context, in *realtimeapi.UpdateStageRequest) (*realtimeapi.UpdateStageResponse, error) {
	if _, err := resource.Resolve(ctx, *in.Arn, TypeStage, true); err != nil {
		return nil, err
	}
	out := &realtimeapi.UpdateStageResponse{}
	err := p.st.Update(ctx, func(tx store.Tx) error {
		r, err := resource.Get(ctx, tx, *in.Arn, TypeStage)
		if err != nil {
			return err
		}
		var d stageDoc
		if err := resource.Decode(r, &d); err != nil {
			return err
		}
		if in.Name != nil {
			r.Name = *in.Name
		}
		if in.AutoParticipantRecordingConfiguration != nil {
			rec := recordingConfiguration(in.AutoParticipantRecordingConfiguration)
			err := checkStorageConfiguration(ctx, tx, &rec, func(f string, a ...any) error {
				return realtimeapi.NewResourceNotFoundException(f, a...)
			})
			if err != nil {
				return err
			}
			recording, err := p.recordingActive(ctx, tx, r, &d)
			if err != nil {
				return err
			}
			if recording {
				return realtimeapi.NewConflictException("The stage %s is recording participants: its autoParticipantRecordingConfiguration cannot be updated while recording is active", r.ARN)
			}
			d.Recording = rec
		}
		r.Refs = d.refs()
		if err := resource.Encode(r, &d); err != nil {
			return err
		}
		if err := tx.Update(ctx, r); err != nil {
			return err
		}
		s := p.renderStage(r, &d)
		out.Stage = &s
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// recordingActive tells whether a participant of the stage's active session is being recorded.
func (p *Provider) recordingActive(ctx context.Context, tx store.Tx, stage *store.Resource, d *stageDoc) (bool, error) {
	if d.ActiveSessionID == "" {
		return false, nil
	}
	parts, err := tx.List(ctx, store.ListQuery{Account: stage.Account, Region: stage.Region, Type: TypeParticipant,
		Parent: sessionKey(stage, d.ActiveSessionID)})
	if err != nil {
		return false, err
	}
	for _, pr := range parts {
		var pd participantDoc
		if err := resource.Decode(pr, &pd); err != nil {
			return false, err
		}
		if slices.Contains([]realtimeapi.ParticipantRecordingState{realtimeapi.ParticipantRecordingStateStarting,
			realtimeapi.ParticipantRecordingStateActive, realtimeapi.ParticipantRecordingStateStopping}, pd.RecordingState) {
			return true, nil
		}
	}
	return false, nil
}

// DeleteStage shuts a stage down: it disconnects every participant, detaches the ingest configurations that
// point at it and deletes it with its sessions, participants and events. A stage that a composition uses cannot be
// deleted (ConflictException).
func (p *Provider) DeleteStage(ctx context.Context, in *realtimeapi.DeleteStageRequest) (*realtimeapi.DeleteStageResponse, error) {
	if _, err := resource.Resolve(ctx, *in.Arn, TypeStage, true); err != nil {
		return nil, err
	}
	err := p.st.Update(ctx, func(tx store.Tx) error {
		r, err := resource.Get(ctx, tx, *in.Arn, TypeStage)
		if err != nil {
			return err
		}
		referrers, err := tx.Referrers(ctx, r.ARN, 0)
		if err != nil {
			return err
		}
		for _, ref := range referrers {
			a, err := arn.Parse(ref)
			if err != nil {
				continue
			}
			switch a.Type {
			case TypeComposition:
				return realtimeapi.NewConflictException("The stage %s is used by composition %s: stop it first", r.ARN, ref)
			case TypeIngestConfiguration:
				if err := detachIngest(ctx, tx, ref); err != nil {
					return err
				}
			}
		}
		if err := deleteTree(ctx, tx, r); err != nil {
			return err
		}
		return tx.Delete(ctx, r.ARN)
	})
	if err != nil {
		return nil, err
	}
	p.media.CloseStage(*in.Arn)
	return &realtimeapi.DeleteStageResponse{}, nil
}

// deleteTree deletes every descendant of r (sessions, participants, events, disconnections).
func deleteTree(ctx context.Context, tx store.Tx, r *store.Resource) error {
	children, err := tx.Children(ctx, r.ARN)
	if err != nil {
		return err
	}
	for _, c := range children {
		if err := deleteTree(ctx, tx, c); err != nil {
			return err
		}
		if err := tx.Delete(ctx, c.ARN); err != nil && !errors.Is(err, store.ErrNotFound) {
			return err
		}
	}
	return nil
}
