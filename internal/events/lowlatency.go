package events

// Low-latency events (IVS Low-Latency User Guide, "Using Amazon EventBridge with IVS"). resources is the channel
// ARN; detail field names are snake_case as IVS sends them.

// event_name values of "IVS Stream State Change" and "IVS Stream Health Change".
const (
	SessionCreatedName        = "Session Created"
	SessionEndedName          = "Session Ended"
	StreamStartName           = "Stream Start"
	StreamEndName             = "Stream End"
	StreamFailureName         = "Stream Failure"
	StreamTakeoverName        = "Stream Takeover"
	StreamTakeoverFailureName = "Stream Takeover Failure"
	StarvationStartName       = "Starvation Start"
	StarvationEndName         = "Starvation End"
)

// Stream identifies the stream an event is about.
type Stream struct {
	ChannelARN  string // resources[0]
	ChannelName string // the channel's name, "" when it has none (still sent)
	StreamID    string // "st-..."
}

// StreamDetail is the detail of "IVS Stream State Change" and "IVS Stream Health Change".
type StreamDetail struct {
	EventName   string `json:"event_name"`
	ChannelName string `json:"channel_name"`
	StreamID    string `json:"stream_id"`
	// Code: on Session Ended, why (multitrack or takeover codes such as "MultitrackInputNotAllowed"), omitted when
	// there is none; on Stream Takeover Failure, StreamTakeoverMediaMismatch, StreamTakeoverInvalidPriority or
	// StreamTakeoverLimitBreached.
	Code string `json:"code,omitempty"`
	// Reason: on Stream Failure, e.g. "Transcode capacity exceeded. Please try again."
	Reason string `json:"reason,omitempty"`
}

func streamEvent(o Origin, typ, name string, s Stream, code, reason string) Event {
	return newEvent(o, typ, []string{s.ChannelARN}, StreamDetail{
		EventName: name, ChannelName: s.ChannelName, StreamID: s.StreamID, Code: code, Reason: reason,
	})
}

// SessionCreated: a stream key was accepted and a stream session created, before any video is processed.
func SessionCreated(o Origin, s Stream) Event {
	return streamEvent(o, TypeStreamStateChange, SessionCreatedName, s, "", "")
}

// SessionEnded: the encoder disconnected (may come before Stream End). code is omitted when "".
func SessionEnded(o Origin, s Stream, code string) Event {
	return streamEvent(o, TypeStreamStateChange, SessionEndedName, s, code, "")
}

// StreamStart: segments are available to viewers.
func StreamStart(o Origin, s Stream) Event {
	return streamEvent(o, TypeStreamStateChange, StreamStartName, s, "", "")
}

// StreamEnd: the stream is over.
func StreamEnd(o Origin, s Stream) Event {
	return streamEvent(o, TypeStreamStateChange, StreamEndName, s, "", "")
}

// StreamFailure: the stream could not be processed, e.g. reason "Transcode capacity exceeded. Please try again.".
func StreamFailure(o Origin, s Stream, reason string) Event {
	return streamEvent(o, TypeStreamStateChange, StreamFailureName, s, "", reason)
}

// StreamTakeover: a higher-priority broadcast took over the channel.
func StreamTakeover(o Origin, s Stream) Event {
	return streamEvent(o, TypeStreamStateChange, StreamTakeoverName, s, "", "")
}

// Stream Takeover Failure codes.
const (
	CodeStreamTakeoverMediaMismatch   = "StreamTakeoverMediaMismatch"
	CodeStreamTakeoverInvalidPriority = "StreamTakeoverInvalidPriority"
	CodeStreamTakeoverLimitBreached   = "StreamTakeoverLimitBreached"
	CodeMultitrackInputNotAllowed     = "MultitrackInputNotAllowed"
)

// StreamTakeoverFailure: a takeover was refused, with one of the CodeStreamTakeover codes.
func StreamTakeoverFailure(o Origin, s Stream, code string) Event {
	return streamEvent(o, TypeStreamStateChange, StreamTakeoverFailureName, s, code, "")
}

// StarvationStart: the ingest stopped delivering media at the expected rate.
func StarvationStart(o Origin, s Stream) Event {
	return streamEvent(o, TypeStreamHealthChange, StarvationStartName, s, "", "")
}

// StarvationEnd: the ingest recovered.
func StarvationEnd(o Origin, s Stream) Event {
	return streamEvent(o, TypeStreamHealthChange, StarvationEndName, s, "", "")
}

// Limit names and units of "IVS Limit Breach".
const (
	LimitIngestBitrate        = "Ingest Bitrate"
	LimitIngestResolution     = "Ingest Resolution"
	LimitConcurrentBroadcasts = "Concurrent Broadcasts"
	LimitConcurrentViewers    = "Concurrent Viewers"

	UnitBitsPerSecond = "bits per second"
	UnitTotalPixels   = "total pixels"
	UnitPixelsPerEdge = "pixels per edge"
	UnitActiveStreams = "active streams"
	UnitViewers       = "viewers"
)

// Limit is a breached limit: its value and by how much it was exceeded.
type Limit struct {
	Name       string // a Limit constant
	Unit       string // a Unit constant
	Value      int64
	ExceededBy int64
}

// LimitBreachDetail is the detail of "IVS Limit Breach". ChannelName and StreamID are present for the ingest
// limits (bitrate, resolution) only.
type LimitBreachDetail struct {
	LimitName   string  `json:"limit_name"`
	LimitValue  int64   `json:"limit_value"`
	ExceededBy  int64   `json:"exceeded_by"`
	LimitUnit   string  `json:"limit_unit"`
	ChannelName *string `json:"channel_name,omitempty"`
	StreamID    *string `json:"stream_id,omitempty"`
}

// IngestLimitBreach: a stream exceeded an ingest limit (LimitIngestBitrate in UnitBitsPerSecond,
// LimitIngestResolution in UnitTotalPixels or UnitPixelsPerEdge). resources is the channel.
func IngestLimitBreach(o Origin, s Stream, l Limit) Event {
	return newEvent(o, TypeLimitBreach, []string{s.ChannelARN}, LimitBreachDetail{
		LimitName: l.Name, LimitValue: l.Value, ExceededBy: l.ExceededBy, LimitUnit: l.Unit,
		ChannelName: &s.ChannelName, StreamID: &s.StreamID,
	})
}

// AccountLimitBreach: an account-wide limit was exceeded (LimitConcurrentBroadcasts in UnitActiveStreams,
// LimitConcurrentViewers in UnitViewers). resources is empty.
func AccountLimitBreach(o Origin, l Limit) Event {
	return newEvent(o, TypeLimitBreach, nil, LimitBreachDetail{
		LimitName: l.Name, LimitValue: l.Value, ExceededBy: l.ExceededBy, LimitUnit: l.Unit,
	})
}

// recording_status values of "IVS Recording State Change" (and event_name values of "IVS Participant Recording
// State Change").
const (
	RecordingStartName        = "Recording Start"
	RecordingEndName          = "Recording End"
	RecordingStartFailureName = "Recording Start Failure"
	RecordingEndFailureName   = "Recording End Failure"
)

// Recording describes a channel recording to S3 (auto-record).
type Recording struct {
	Stream
	BucketName string // recording_s3_bucket_name
	KeyPrefix  string // recording_s3_key_prefix, "ivs/v1/<account>/<channel id>/<y>/<m>/<d>/<h>/<min>/<recording id>"
	SessionID  string // recording_session_id (the recording id, last part of the prefix)
	DurationMs int64  // recording_duration_ms: 0 at start
	// SessionStreamIDs are the streams merged into the recording (recordingReconnectWindowSeconds), in order;
	// sent on Recording End only, where it defaults to [StreamID].
	SessionStreamIDs []string
}

// RecordingDetail is the detail of "IVS Recording State Change".
type RecordingDetail struct {
	ChannelName               string   `json:"channel_name"`
	StreamID                  string   `json:"stream_id"`
	RecordingStatus           string   `json:"recording_status"`
	RecordingStatusReason     string   `json:"recording_status_reason"`
	RecordingS3BucketName     string   `json:"recording_s3_bucket_name"`
	RecordingS3KeyPrefix      string   `json:"recording_s3_key_prefix"`
	RecordingDurationMs       int64    `json:"recording_duration_ms"`
	RecordingSessionID        string   `json:"recording_session_id"`
	RecordingSessionStreamIDs []string `json:"recording_session_stream_ids,omitempty"`
}

func recordingEvent(o Origin, status string, r Recording, reason string, streamIDs []string) Event {
	d := RecordingDetail{
		ChannelName: r.ChannelName, StreamID: r.StreamID, RecordingStatus: status, RecordingStatusReason: reason,
		RecordingS3BucketName: r.BucketName, RecordingS3KeyPrefix: r.KeyPrefix, RecordingDurationMs: r.DurationMs,
		RecordingSessionID: r.SessionID, RecordingSessionStreamIDs: streamIDs,
	}
	return newEvent(o, TypeRecordingStateChange, []string{r.ChannelARN}, d)
}

// Recording failure reasons seen in IVS events.
const (
	ReasonValidationException     = "ValidationException"
	ReasonInternalServerException = "InternalServerException"
)

// RecordingStart: recording to S3 started. recording_duration_ms is 0.
func RecordingStart(o Origin, r Recording) Event {
	r.DurationMs = 0
	return recordingEvent(o, RecordingStartName, r, "", nil)
}

// RecordingEnd: the recording is complete (after the reconnect window, if any).
func RecordingEnd(o Origin, r Recording) Event {
	ids := r.SessionStreamIDs
	if len(ids) == 0 {
		ids = []string{r.StreamID}
	}
	return recordingEvent(o, RecordingEndName, r, "", ids)
}

// RecordingStartFailure: recording could not start (reason e.g. ReasonValidationException when the bucket is not
// usable). recording_s3_key_prefix is "".
func RecordingStartFailure(o Origin, r Recording, reason string) Event {
	r.KeyPrefix = ""
	r.DurationMs = 0
	return recordingEvent(o, RecordingStartFailureName, r, reason, nil)
}

// RecordingEndFailure: the recording ended with a failure (reason e.g. ReasonInternalServerException).
func RecordingEndFailure(o Origin, r Recording, reason string) Event {
	return recordingEvent(o, RecordingEndFailureName, r, reason, nil)
}
