package events

import "time"

// Real-time events (IVS Real-Time User Guide, "Using Amazon EventBridge with IVS Real-Time Streaming"). The guide
// lists the events but not all their fields: the shapes here are those of the captured examples in
// ivs-reference.md §5.2, and the fields marked UNCONFIRMED there are noted below.

// event_name values of "IVS Stage Update".
const (
	ParticipantPublishedName          = "Participant Published"
	ParticipantUnpublishedName        = "Participant Unpublished"
	ParticipantPublishErrorName       = "Participant Publish Error"
	ParticipantReplicationStartedName = "Participant Replication Started"
	ParticipantReplicationStoppedName = "Participant Replication Stopped"
)

// Participant identifies a participant of a stage session.
type Participant struct {
	StageARN      string // resources[0]
	SessionID     string // the stage session, "st-..."
	ParticipantID string
	UserID        string // from the participant token, "" when none (still sent)
}

// StageUpdateDetail is the detail of "IVS Stage Update".
type StageUpdateDetail struct {
	SessionID     string `json:"session_id"`
	EventName     string `json:"event_name"`
	EventTime     string `json:"event_time"` // RFC 3339 UTC, the event's time
	UserID        string `json:"user_id"`
	ParticipantID string `json:"participant_id"`
	// Reason is the error code of a Participant Publish Error (the ListParticipantEvents errorCode values, e.g.
	// "INSUFFICIENT_CAPABILITIES", "BITRATE_EXCEEDED"). The field name is UNCONFIRMED; omitted when "".
	Reason string `json:"reason,omitempty"`
}

func stageUpdate(o Origin, name string, p Participant, reason string) Event {
	e := newEvent(o, TypeStageUpdate, []string{p.StageARN}, nil)
	e.Detail = mustMarshal(StageUpdateDetail{
		SessionID: p.SessionID, EventName: name, EventTime: e.Time.Format(time.RFC3339), UserID: p.UserID,
		ParticipantID: p.ParticipantID, Reason: reason,
	})
	return e
}

// ParticipantPublished: a participant started publishing to the stage.
func ParticipantPublished(o Origin, p Participant) Event {
	return stageUpdate(o, ParticipantPublishedName, p, "")
}

// ParticipantUnpublished: a participant stopped publishing.
func ParticipantUnpublished(o Origin, p Participant) Event {
	return stageUpdate(o, ParticipantUnpublishedName, p, "")
}

// ParticipantPublishError: a participant failed to publish; reason is the error code.
func ParticipantPublishError(o Origin, p Participant, reason string) Event {
	return stageUpdate(o, ParticipantPublishErrorName, p, reason)
}

// ParticipantReplicationStarted: a participant started being replicated to another stage.
func ParticipantReplicationStarted(o Origin, p Participant) Event {
	return stageUpdate(o, ParticipantReplicationStartedName, p, "")
}

// ParticipantReplicationStopped: a participant's replication stopped.
func ParticipantReplicationStopped(o Origin, p Participant) Event {
	return stageUpdate(o, ParticipantReplicationStoppedName, p, "")
}

// ParticipantRecording describes an individual participant recording.
type ParticipantRecording struct {
	StageARN      string // resources[0]
	SessionID     string
	ParticipantID string
	BucketName    string // recording_s3_bucket_name
	KeyPrefix     string // recording_s3_key_prefix, "<stage id>/<session id>/<participant id>/<timestamp>"
	DurationMs    int64  // recording_duration_ms, sent on Recording End and Recording End Failure only
}

// ParticipantRecordingDetail is the detail of "IVS Participant Recording State Change".
type ParticipantRecordingDetail struct {
	SessionID             string `json:"session_id"`
	EventName             string `json:"event_name"`
	ParticipantID         string `json:"participant_id"`
	RecordingS3BucketName string `json:"recording_s3_bucket_name"`
	RecordingS3KeyPrefix  string `json:"recording_s3_key_prefix"`
	RecordingDurationMs   *int64 `json:"recording_duration_ms,omitempty"`
}

func participantRecording(o Origin, name string, r ParticipantRecording, end bool) Event {
	d := ParticipantRecordingDetail{
		SessionID: r.SessionID, EventName: name, ParticipantID: r.ParticipantID,
		RecordingS3BucketName: r.BucketName, RecordingS3KeyPrefix: r.KeyPrefix,
	}
	if end {
		d.RecordingDurationMs = &r.DurationMs
	}
	return newEvent(o, TypeParticipantRecordingStateChange, []string{r.StageARN}, d)
}

// ParticipantRecordingStart: a participant's recording started.
func ParticipantRecordingStart(o Origin, r ParticipantRecording) Event {
	return participantRecording(o, RecordingStartName, r, false)
}

// ParticipantRecordingEnd: a participant's recording ended.
func ParticipantRecordingEnd(o Origin, r ParticipantRecording) Event {
	return participantRecording(o, RecordingEndName, r, true)
}

// ParticipantRecordingStartFailure: a participant's recording could not start.
func ParticipantRecordingStartFailure(o Origin, r ParticipantRecording) Event {
	return participantRecording(o, RecordingStartFailureName, r, false)
}

// ParticipantRecordingEndFailure: a participant's recording ended with a failure.
func ParticipantRecordingEndFailure(o Origin, r ParticipantRecording) Event {
	return participantRecording(o, RecordingEndFailureName, r, true)
}

// event_name values of "IVS Composition State Change".
const (
	CompositionSessionStartName            = "Session Start"
	CompositionSessionEndName              = "Session End"
	CompositionSessionFailureName          = "Session Failure"
	CompositionDestinationStartName        = "Destination Start"
	CompositionDestinationEndName          = "Destination End"
	CompositionDestinationFailureName      = "Destination Failure"
	CompositionDestinationReconnectingName = "Destination Reconnecting"
)

// Composition identifies a composition.
type Composition struct {
	CompositionARN string // resources[0]
	StageARN       string // detail.stage_arn
}

// CompositionDetail is the detail of "IVS Composition State Change": event_name and stage_arn, the fields the
// reference has (its other fields are UNCONFIRMED and not sent).
type CompositionDetail struct {
	EventName string `json:"event_name"`
	StageARN  string `json:"stage_arn"`
}

// CompositionStateChange: the composition changed state; eventName is one of the Composition...Name constants.
func CompositionStateChange(o Origin, c Composition, eventName string) Event {
	return newEvent(o, TypeCompositionStateChange, []string{c.CompositionARN},
		CompositionDetail{EventName: eventName, StageARN: c.StageARN})
}
