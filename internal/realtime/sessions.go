package realtime

// Stage sessions, participants and their events.
//
// Data model. Each is a store resource of the stage's account and region, linked by Parent, so that DeleteStage
// removes the whole tree and each List operation is one indexed query:
//
//	stage                       (TypeStage; stageDoc.ActiveSessionID names the open session, "" when none)
//	├── stage session           (TypeStageSession, Name = session id "st-" + 13 alphanumerics; sessionDoc)
//	│   └── participant         (TypeParticipant, ID = participant id, Name = userId; participantDoc)
//	│       └── event           (TypeParticipantEvent; eventDoc), in the order they happened
//	└── disconnection           (TypeDisconnection, ID = participant id): DisconnectParticipant was called, the
//	                            participant's token is refused from then on
//
// The media server records what happens on a stage through the Record* methods below; the API operations only
// read. A session starts on the first join and ends when the last connected participant leaves; a participant
// who leaves and joins again in the same session keeps one record (and its firstJoinTime).

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/openivs/openivs/internal/arn"
	"github.com/openivs/openivs/internal/awsapi"
	"github.com/openivs/openivs/internal/resource"
	"github.com/openivs/openivs/internal/spec/realtimeapi"
	"github.com/openivs/openivs/internal/store"
)

// sessionDoc is a stage session as stored.
type sessionDoc struct {
	SessionID string     `json:"sessionId"`
	StartTime time.Time  `json:"startTime"`
	EndTime   *time.Time `json:"endTime,omitempty"`
	Connected int        `json:"connected"` // participants connected now
}

// participantDoc is a participant of a stage session as stored.
type participantDoc struct {
	ParticipantID          string                                `json:"participantId"`
	UserID                 string                                `json:"userId"`
	Attributes             map[string]string                     `json:"attributes"`
	State                  realtimeapi.ParticipantState          `json:"state"`
	FirstJoinTime          time.Time                             `json:"firstJoinTime"`
	Published              bool                                  `json:"published"`  // ever published in the session
	Publishing             bool                                  `json:"publishing"` // publishing now
	Subscriptions          []string                              `json:"subscriptions,omitempty"`
	Protocol               realtimeapi.ParticipantProtocol       `json:"protocol"`
	Client                 ClientInfo                            `json:"client"`
	RecordingState         realtimeapi.ParticipantRecordingState `json:"recordingState"`
	RecordingBucket        string                                `json:"recordingBucket"`
	RecordingPrefix        string                                `json:"recordingPrefix"`
	IngestConfigurationARN string                                `json:"ingestConfigurationArn,omitempty"`
	RedundantIngest        bool                                  `json:"redundantIngest"`
	Events                 int                                   `json:"events"` // events recorded so far: numbers the next
}

// eventDoc is a participant event as stored.
type eventDoc struct {
	Name                realtimeapi.EventName      `json:"name"`
	Time                time.Time                  `json:"time"`
	RemoteParticipantID string                     `json:"remoteParticipantId,omitempty"`
	ErrorCode           realtimeapi.EventErrorCode `json:"errorCode,omitempty"`
}

// stageRef names a stage by its ARN's parts.
type stageRef struct{ arn, region, account, id string }

func refOf(r *store.Resource) stageRef { return stageRef{r.ARN, r.Region, r.Account, r.ID} }

func parseStage(stageARN string) (stageRef, error) {
	a, err := arn.Parse(stageARN)
	if err != nil || a.Service != "ivs" || a.Type != TypeStage || strings.Contains(a.ID, "/") {
		return stageRef{}, fmt.Errorf("%w: %q is not a stage ARN", ErrStageNotFound, stageARN)
	}
	return stageRef{stageARN, a.Region, a.Account, a.ID}, nil
}

func (s stageRef) key(typ string, parts ...string) string {
	return arn.New(s.region, s.account, typ, s.id+"/"+strings.Join(parts, "/"))
}

func sessionKey(stage *store.Resource, sessionID string) string {
	return refOf(stage).key(TypeStageSession, sessionID)
}

func (s stageRef) participantKey(sessionID, participantID string) string {
	return s.key(TypeParticipant, sessionID, participantID)
}

func (s stageRef) disconnectionKey(participantID string) string {
	return s.key(TypeDisconnection, participantID)
}

// --- the recording API, for the stage media server

// Errors of the recording API.
var (
	ErrStageNotFound = errors.New("realtime: stage not found")
	ErrNotJoined     = errors.New("realtime: participant is not connected to the stage")
)

// ClientInfo describes a participant's client, as GetParticipant shows it. Values are cleaned to what the model
// allows (letters, digits, space and -_.,:; up to 128 characters).
type ClientInfo struct {
	ISPName        string `json:"ispName,omitempty"`
	OSName         string `json:"osName,omitempty"`
	OSVersion      string `json:"osVersion,omitempty"`
	BrowserName    string `json:"browserName,omitempty"`
	BrowserVersion string `json:"browserVersion,omitempty"`
	SDKVersion     string `json:"sdkVersion,omitempty"`
}

// Join is a participant joining a stage: from a verified participant token (JoinFromClaims) or from an ingest
// configuration (JoinFromIngest).
type Join struct {
	ParticipantID string
	UserID        string
	Attributes    map[string]string
	// Protocol is WHIP for WebRTC publishers and subscribers, RTMP or RTMPS for ingest configurations, UNKNOWN
	// when not known.
	Protocol               realtimeapi.ParticipantProtocol
	Client                 ClientInfo
	IngestConfigurationARN string // the ingest configuration the participant publishes with, "" for tokens
	RedundantIngest        bool
}

// sessionTx is what a recording runs against: the stage, its active session and one participant, loaded in one
// store transaction and written back by save.
type sessionTx struct {
	p     *Provider
	tx    store.Tx
	ref   stageRef
	stage *store.Resource
	sd    stageDoc
	sess  *store.Resource // nil when the stage has no active session
	ssd   sessionDoc
	part  *store.Resource // nil when the participant has no record in the active session
	pd    participantDoc
	now   time.Time
}

// open loads the stage, its active session and the participant's record in it.
func (p *Provider) open(ctx context.Context, tx store.Tx, stageARN, participantID string) (*sessionTx, error) {
	ref, err := parseStage(stageARN)
	if err != nil {
		return nil, err
	}
	st := &sessionTx{p: p, tx: tx, ref: ref, now: p.now().UTC()}
	st.stage, err = tx.Get(ctx, stageARN)
	if errors.Is(err, store.ErrNotFound) || (err == nil && st.stage.Type != TypeStage) {
		return nil, fmt.Errorf("%w: %s", ErrStageNotFound, stageARN)
	}
	if err != nil {
		return nil, err
	}
	if err := resource.Decode(st.stage, &st.sd); err != nil {
		return nil, err
	}
	if st.sd.ActiveSessionID == "" {
		return st, nil
	}
	if st.sess, err = tx.Get(ctx, ref.key(TypeStageSession, st.sd.ActiveSessionID)); err != nil {
		return nil, fmt.Errorf("realtime: active session %s of %s: %w", st.sd.ActiveSessionID, stageARN, err)
	}
	if err := resource.Decode(st.sess, &st.ssd); err != nil {
		return nil, err
	}
	st.part, err = tx.Get(ctx, ref.participantKey(st.ssd.SessionID, participantID))
	if errors.Is(err, store.ErrNotFound) {
		st.part = nil
		return st, nil
	}
	if err != nil {
		return nil, err
	}
	return st, resource.Decode(st.part, &st.pd)
}

// connected tells whether the participant is connected in the active session.
func (st *sessionTx) connected() bool {
	return st.part != nil && st.pd.State == realtimeapi.ParticipantStateConnected
}

// event records an event of the participant.
func (st *sessionTx) event(ctx context.Context, name realtimeapi.EventName, remote string, code realtimeapi.EventErrorCode) error {
	st.pd.Events++
	key := st.ref.key(TypeParticipantEvent, st.ssd.SessionID, st.pd.ParticipantID, fmt.Sprintf("%08d", st.pd.Events))
	r := &store.Resource{ARN: key, Account: st.ref.account, Region: st.ref.region, Type: TypeParticipantEvent,
		ID:   st.ref.id + "/" + st.ssd.SessionID + "/" + st.pd.ParticipantID + "/" + fmt.Sprintf("%08d", st.pd.Events),
		Name: string(name), Parent: st.part.ARN, Tags: map[string]string{}, Created: st.now}
	if err := resource.Encode(r, &eventDoc{Name: name, Time: st.now, RemoteParticipantID: remote, ErrorCode: code}); err != nil {
		return err
	}
	return st.tx.Insert(ctx, r)
}

// save writes the participant, session and stage back.
func (st *sessionTx) save(ctx context.Context) error {
	if st.part != nil {
		if err := resource.Encode(st.part, &st.pd); err != nil {
			return err
		}
		if err := st.tx.Update(ctx, st.part); err != nil {
			return err
		}
	}
	if st.sess != nil {
		if err := resource.Encode(st.sess, &st.ssd); err != nil {
			return err
		}
		if err := st.tx.Update(ctx, st.sess); err != nil {
			return err
		}
	}
	if err := resource.Encode(st.stage, &st.sd); err != nil {
		return err
	}
	return st.tx.Update(ctx, st.stage)
}

// setIngestState marks the participant's ingest configuration ACTIVE or INACTIVE.
func (st *sessionTx) setIngestState(ctx context.Context, state realtimeapi.IngestConfigurationState) error {
	if st.pd.IngestConfigurationARN == "" {
		return nil
	}
	r, err := st.tx.Get(ctx, st.pd.IngestConfigurationARN)
	if errors.Is(err, store.ErrNotFound) {
		return nil // deleted meanwhile
	}
	if err != nil {
		return err
	}
	var d ingestDoc
	if err := resource.Decode(r, &d); err != nil {
		return err
	}
	if d.State == state {
		return nil
	}
	d.State = state
	if err := resource.Encode(r, &d); err != nil {
		return err
	}
	return st.tx.Update(ctx, r)
}

// leave disconnects the participant: it stops what it publishes and subscribes to, records LEFT, and ends the
// session when it was the last one connected.
func (st *sessionTx) leave(ctx context.Context) error {
	if st.pd.Publishing {
		if err := st.stopPublishing(ctx); err != nil {
			return err
		}
	}
	for _, pub := range st.pd.Subscriptions {
		if err := st.event(ctx, realtimeapi.EventNameSubscribeStopped, pub, ""); err != nil {
			return err
		}
	}
	st.pd.Subscriptions = nil
	if err := st.event(ctx, realtimeapi.EventNameLeft, "", ""); err != nil {
		return err
	}
	st.pd.State = realtimeapi.ParticipantStateDisconnected
	st.ssd.Connected--
	if st.ssd.Connected <= 0 {
		st.ssd.Connected = 0
		end := st.now
		st.ssd.EndTime = &end
		st.sd.ActiveSessionID = ""
	}
	return nil
}

func (st *sessionTx) stopPublishing(ctx context.Context) error {
	st.pd.Publishing = false
	if err := st.event(ctx, realtimeapi.EventNamePublishStopped, "", ""); err != nil {
		return err
	}
	return st.setIngestState(ctx, realtimeapi.IngestConfigurationStateInactive)
}

// record runs fn on the participant's records in one transaction and saves them.
func (p *Provider) record(ctx context.Context, stageARN, participantID string, fn func(*sessionTx) error) error {
	return p.st.Update(ctx, func(tx store.Tx) error {
		st, err := p.open(ctx, tx, stageARN, participantID)
		if err != nil {
			return err
		}
		if err := fn(st); err != nil {
			return err
		}
		return st.save(ctx)
	})
}

var errNoChange = errors.New("no change")

// recordConnected runs fn for a connected participant; ErrNotJoined otherwise.
func (p *Provider) recordConnected(ctx context.Context, stageARN, participantID string, fn func(*sessionTx) error) error {
	err := p.record(ctx, stageARN, participantID, func(st *sessionTx) error {
		if !st.connected() {
			return ErrNotJoined
		}
		return fn(st)
	})
	if errors.Is(err, errNoChange) {
		return nil
	}
	return err
}

// RecordJoin records a participant joining a stage and returns the stage session it joined, which starts when
// nobody else is connected. A participant already connected stays so (no second JOINED). ErrStageNotFound when the
// stage does not exist (any more).
func (p *Provider) RecordJoin(ctx context.Context, stageARN string, j Join) (sessionID string, err error) {
	if j.ParticipantID == "" {
		return "", errors.New("realtime: RecordJoin without a participant id")
	}
	err = p.record(ctx, stageARN, j.ParticipantID, func(st *sessionTx) error {
		if st.sess == nil {
			id := "st-" + arn.Random(13)
			st.ssd = sessionDoc{SessionID: id, StartTime: st.now}
			st.sess = &store.Resource{ARN: st.ref.key(TypeStageSession, id), Account: st.ref.account, Region: st.ref.region,
				Type: TypeStageSession, ID: st.ref.id + "/" + id, Name: id, Parent: stageARN, Tags: map[string]string{}, Created: st.now}
			if err := resource.Encode(st.sess, &st.ssd); err != nil {
				return err
			}
			if err := st.tx.Insert(ctx, st.sess); err != nil {
				return err
			}
			st.sd.ActiveSessionID = id
		}
		sessionID = st.ssd.SessionID
		if st.connected() {
			return nil
		}
		if st.part == nil {
			attrs := j.Attributes
			if attrs == nil {
				attrs = map[string]string{}
			}
			protocol := j.Protocol
			if protocol == "" {
				protocol = realtimeapi.ParticipantProtocolUnknown
			}
			st.pd = participantDoc{ParticipantID: j.ParticipantID, UserID: j.UserID, Attributes: attrs, FirstJoinTime: st.now,
				Protocol: protocol, Client: j.Client.clean(), RecordingState: realtimeapi.ParticipantRecordingStateDisabled,
				IngestConfigurationARN: j.IngestConfigurationARN, RedundantIngest: j.RedundantIngest}
			st.part = &store.Resource{ARN: st.ref.participantKey(sessionID, j.ParticipantID), Account: st.ref.account,
				Region: st.ref.region, Type: TypeParticipant, ID: st.ref.id + "/" + sessionID + "/" + j.ParticipantID,
				Name: j.UserID, Parent: st.sess.ARN, Tags: map[string]string{}, Created: st.now}
			if err := resource.Encode(st.part, &st.pd); err != nil {
				return err
			}
			if err := st.tx.Insert(ctx, st.part); err != nil {
				return err
			}
		}
		st.pd.State = realtimeapi.ParticipantStateConnected
		st.ssd.Connected++
		return st.event(ctx, realtimeapi.EventNameJoined, "", "")
	})
	if err != nil {
		return "", err
	}
	return sessionID, nil
}

// RecordLeave records a participant leaving the stage (closing its connection, for whatever reason): it stops
// publishing and subscribing, and the session ends when nobody is left. It is idempotent: leaving a stage one is
// not connected to, or that was deleted, records nothing.
func (p *Provider) RecordLeave(ctx context.Context, stageARN, participantID string) error {
	err := p.recordConnected(ctx, stageARN, participantID, func(st *sessionTx) error { return st.leave(ctx) })
	if errors.Is(err, ErrNotJoined) || errors.Is(err, ErrStageNotFound) {
		return nil
	}
	return err
}

// RecordPublish records that a connected participant started publishing (PUBLISH_STARTED); its ingest
// configuration, if it has one, becomes ACTIVE.
func (p *Provider) RecordPublish(ctx context.Context, stageARN, participantID string) error {
	return p.recordConnected(ctx, stageARN, participantID, func(st *sessionTx) error {
		if st.pd.Publishing {
			return errNoChange
		}
		st.pd.Publishing, st.pd.Published = true, true
		if err := st.event(ctx, realtimeapi.EventNamePublishStarted, "", ""); err != nil {
			return err
		}
		return st.setIngestState(ctx, realtimeapi.IngestConfigurationStateActive)
	})
}

// RecordUnpublish records that a participant stopped publishing (PUBLISH_STOPPED).
func (p *Provider) RecordUnpublish(ctx context.Context, stageARN, participantID string) error {
	return p.recordConnected(ctx, stageARN, participantID, func(st *sessionTx) error {
		if !st.pd.Publishing {
			return errNoChange
		}
		return st.stopPublishing(ctx)
	})
}

// RecordSubscribe records that a connected participant started receiving a publisher's media
// (SUBSCRIBE_STARTED, remoteParticipantId = the publisher).
func (p *Provider) RecordSubscribe(ctx context.Context, stageARN, participantID, publisherID string) error {
	return p.recordConnected(ctx, stageARN, participantID, func(st *sessionTx) error {
		if slices.Contains(st.pd.Subscriptions, publisherID) {
			return errNoChange
		}
		st.pd.Subscriptions = append(st.pd.Subscriptions, publisherID)
		return st.event(ctx, realtimeapi.EventNameSubscribeStarted, publisherID, "")
	})
}

// RecordUnsubscribe records that a participant stopped receiving a publisher's media (SUBSCRIBE_STOPPED).
func (p *Provider) RecordUnsubscribe(ctx context.Context, stageARN, participantID, publisherID string) error {
	return p.recordConnected(ctx, stageARN, participantID, func(st *sessionTx) error {
		i := slices.Index(st.pd.Subscriptions, publisherID)
		if i < 0 {
			return errNoChange
		}
		st.pd.Subscriptions = slices.Delete(st.pd.Subscriptions, i, i+1)
		return st.event(ctx, realtimeapi.EventNameSubscribeStopped, publisherID, "")
	})
}

// RecordError records a PUBLISH_ERROR, SUBSCRIBE_ERROR or JOIN_ERROR of a participant with its error code
// (remote: the publisher, for a subscribe error). The participant must have a record in the active session
// (ErrNotJoined otherwise: a join that failed before any session has nowhere to be recorded).
func (p *Provider) RecordError(ctx context.Context, stageARN, participantID string, name realtimeapi.EventName,
	code realtimeapi.EventErrorCode, remote string) error {
	switch name {
	case realtimeapi.EventNamePublishError, realtimeapi.EventNameSubscribeError, realtimeapi.EventNameJoinError:
	default:
		return fmt.Errorf("realtime: %s is not an error event", name)
	}
	if !slices.Contains(realtimeapi.EventErrorCodeValues, string(code)) {
		return fmt.Errorf("realtime: %q is not an event error code", code)
	}
	return p.record(ctx, stageARN, participantID, func(st *sessionTx) error {
		if st.part == nil {
			return ErrNotJoined
		}
		return st.event(ctx, name, remote, code)
	})
}

// RecordRecordingState records the individual recording of a participant of the active session: its state and,
// once known, the S3 bucket and prefix it records to.
func (p *Provider) RecordRecordingState(ctx context.Context, stageARN, participantID string,
	state realtimeapi.ParticipantRecordingState, bucket, prefix string) error {
	if !slices.Contains(realtimeapi.ParticipantRecordingStateValues, string(state)) {
		return fmt.Errorf("realtime: %q is not a participant recording state", state)
	}
	return p.record(ctx, stageARN, participantID, func(st *sessionTx) error {
		if st.part == nil {
			return ErrNotJoined
		}
		st.pd.RecordingState, st.pd.RecordingBucket, st.pd.RecordingPrefix = state, bucket, prefix
		return nil
	})
}

// ActiveSession returns the id of the stage's active session ("" when nobody is connected).
func (p *Provider) ActiveSession(ctx context.Context, stageARN string) (string, error) {
	r, err := p.st.Get(ctx, stageARN)
	if errors.Is(err, store.ErrNotFound) || (err == nil && r.Type != TypeStage) {
		return "", fmt.Errorf("%w: %s", ErrStageNotFound, stageARN)
	}
	if err != nil {
		return "", err
	}
	var d stageDoc
	if err := resource.Decode(r, &d); err != nil {
		return "", err
	}
	return d.ActiveSessionID, nil
}

func (c ClientInfo) clean() ClientInfo {
	f := func(s string) string {
		b := make([]rune, 0, len(s))
		for _, r := range s {
			if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("-_.,:; ", r) {
				b = append(b, r)
			}
			if len(b) == 128 {
				break
			}
		}
		return string(b)
	}
	return ClientInfo{ISPName: f(c.ISPName), OSName: f(c.OSName), OSVersion: f(c.OSVersion), BrowserName: f(c.BrowserName),
		BrowserVersion: f(c.BrowserVersion), SDKVersion: f(c.SDKVersion)}
}

// --- the read operations

// sessionStage resolves the stage of a session operation. missingOK: the operation models no
// ResourceNotFoundException, so a stage that does not exist gives found = false instead of an error.
func (p *Provider) sessionStage(ctx context.Context, stageARN string, missingOK bool) (r *store.Resource, found bool, err error) {
	if _, err := resource.Resolve(ctx, stageARN, TypeStage, true); err != nil {
		if missingOK && !isCode(err, "AccessDeniedException") {
			return nil, false, nil
		}
		return nil, false, err
	}
	r, err = p.load(ctx, stageARN, TypeStage)
	if err != nil {
		if missingOK && isCode(err, "ResourceNotFoundException") {
			return nil, false, nil
		}
		return nil, false, err
	}
	return r, true, nil
}

func renderSession(d *sessionDoc) realtimeapi.StageSession {
	s := realtimeapi.StageSession{SessionId: ptr(d.SessionID), StartTime: awsapi.NewTime(d.StartTime)}
	if d.EndTime != nil {
		s.EndTime = awsapi.NewTime(*d.EndTime)
	}
	return s
}

// GetStageSession returns a session of a stage.
func (p *Provider) GetStageSession(ctx context.Context, in *realtimeapi.GetStageSessionRequest) (*realtimeapi.GetStageSessionResponse, error) {
	stage, _, err := p.sessionStage(ctx, *in.StageArn, false)
	if err != nil {
		return nil, err
	}
	r, err := p.st.Get(ctx, sessionKey(stage, *in.SessionId))
	if errors.Is(err, store.ErrNotFound) {
		return nil, realtimeapi.NewResourceNotFoundException("Stage session %s of stage %s not found", *in.SessionId, *in.StageArn)
	}
	if err != nil {
		return nil, err
	}
	var d sessionDoc
	if err := resource.Decode(r, &d); err != nil {
		return nil, err
	}
	s := renderSession(&d)
	return &realtimeapi.GetStageSessionResponse{StageSession: &s}, nil
}

// ListStageSessions lists a stage's sessions, newest first. A stage that does not exist has none.
func (p *Provider) ListStageSessions(ctx context.Context, in *realtimeapi.ListStageSessionsRequest) (*realtimeapi.ListStageSessionsResponse, error) {
	stage, found, err := p.sessionStage(ctx, *in.StageArn, true)
	if err != nil {
		return nil, err
	}
	out := &realtimeapi.ListStageSessionsResponse{StageSessions: []realtimeapi.StageSessionSummary{}}
	c := resource.Caller(ctx)
	scope := c.AccountID + "/" + c.Region + "/ListStageSessions/" + *in.StageArn
	var before int64 = -1
	if in.NextToken != nil && *in.NextToken != "" {
		if before, err = p.tokens.Decode(scope, *in.NextToken); err != nil {
			return nil, realtimeapi.NewValidationException("The nextToken is not valid for this request")
		}
	}
	if !found {
		return out, nil
	}
	err = p.st.View(ctx, func(tx store.Tx) error {
		rs, err := tx.List(ctx, store.ListQuery{Account: stage.Account, Region: stage.Region, Type: TypeStageSession, Parent: stage.ARN})
		if err != nil {
			return err
		}
		slices.Reverse(rs) // newest first
		if before >= 0 {
			rs = rs[sort.Search(len(rs), func(i int) bool { return rs[i].Seq < before }):]
		}
		n := 50
		if in.MaxResults != nil {
			n = int(*in.MaxResults)
		}
		for i, r := range rs {
			if i == n {
				out.NextToken = ptr(p.tokens.Encode(scope, rs[i-1].Seq))
				break
			}
			var d sessionDoc
			if err := resource.Decode(r, &d); err != nil {
				return err
			}
			s := renderSession(&d)
			out.StageSessions = append(out.StageSessions, realtimeapi.StageSessionSummary{SessionId: s.SessionId,
				StartTime: s.StartTime, EndTime: s.EndTime})
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

func renderParticipant(d *participantDoc) realtimeapi.Participant {
	out := realtimeapi.Participant{
		ParticipantId: ptr(d.ParticipantID), UserId: ptr(d.UserID), State: ptr(d.State),
		FirstJoinTime: awsapi.NewTime(d.FirstJoinTime), Attributes: d.Attributes, Published: ptr(d.Published),
		IspName: ptr(d.Client.ISPName), OsName: ptr(d.Client.OSName), OsVersion: ptr(d.Client.OSVersion),
		BrowserName: ptr(d.Client.BrowserName), BrowserVersion: ptr(d.Client.BrowserVersion), SdkVersion: ptr(d.Client.SDKVersion),
		RecordingS3BucketName: ptr(d.RecordingBucket), RecordingS3Prefix: ptr(d.RecordingPrefix), RecordingState: ptr(d.RecordingState),
		Protocol: ptr(d.Protocol), ReplicationType: ptr(realtimeapi.ReplicationTypeNone), RedundantIngest: ptr(d.RedundantIngest),
	}
	if out.Attributes == nil {
		out.Attributes = map[string]string{}
	}
	if d.IngestConfigurationARN != "" {
		out.IngestConfigurationArn = ptr(d.IngestConfigurationARN)
	}
	return out
}

// GetParticipant returns a participant of a stage session.
func (p *Provider) GetParticipant(ctx context.Context, in *realtimeapi.GetParticipantRequest) (*realtimeapi.GetParticipantResponse, error) {
	stage, _, err := p.sessionStage(ctx, *in.StageArn, false)
	if err != nil {
		return nil, err
	}
	r, err := p.st.Get(ctx, refOf(stage).participantKey(*in.SessionId, *in.ParticipantId))
	if errors.Is(err, store.ErrNotFound) {
		return nil, realtimeapi.NewResourceNotFoundException("Participant %s of session %s of stage %s not found",
			*in.ParticipantId, *in.SessionId, *in.StageArn)
	}
	if err != nil {
		return nil, err
	}
	var d participantDoc
	if err := resource.Decode(r, &d); err != nil {
		return nil, err
	}
	part := renderParticipant(&d)
	return &realtimeapi.GetParticipantResponse{Participant: &part}, nil
}

// ListParticipants lists the participants of a stage session in the order they first joined, filtered by at most
// one of user id, published, state and recording state (more than one is a ValidationException). A session that
// does not exist has none.
func (p *Provider) ListParticipants(ctx context.Context, in *realtimeapi.ListParticipantsRequest) (*realtimeapi.ListParticipantsResponse, error) {
	stage, found, err := p.sessionStage(ctx, *in.StageArn, true)
	if err != nil {
		return nil, err
	}
	filters := []string{}
	var keep []func(*participantDoc) bool
	pg := page{scope: "ListParticipants/" + *in.StageArn + "/" + *in.SessionId, max: 50}
	if v := str(in.FilterByUserId); v != "" {
		filters = append(filters, "filterByUserId")
		pg.q.Name = v
		pg.scope += "/user=" + v
	}
	if boolv(in.FilterByPublished) { // false is the default of the member, not a filter (the SDKs do not send it)
		filters = append(filters, "filterByPublished")
		keep = append(keep, func(d *participantDoc) bool { return d.Published })
		pg.scope += "/published"
	}
	if in.FilterByState != nil {
		filters = append(filters, "filterByState")
		st := *in.FilterByState
		keep = append(keep, func(d *participantDoc) bool { return d.State == st })
		pg.scope += "/state=" + string(st)
	}
	if in.FilterByRecordingState != nil {
		filters = append(filters, "filterByRecordingState")
		rs := realtimeapi.ParticipantRecordingState(*in.FilterByRecordingState)
		keep = append(keep, func(d *participantDoc) bool { return d.RecordingState == rs })
		pg.scope += "/recording=" + string(rs)
	}
	if len(filters) > 1 {
		return nil, realtimeapi.NewValidationException("Only one of filterByUserId, filterByPublished, filterByState, or filterByRecordingState can be provided per request (got %s)",
			strings.Join(filters, ", "))
	}
	out := &realtimeapi.ListParticipantsResponse{Participants: []realtimeapi.ParticipantSummary{}}
	pg.q.Type, pg.q.Parent = TypeParticipant, "-" // "-" is no resource: a missing stage has no participants
	if found {
		pg.q.Parent = sessionKey(stage, *in.SessionId)
	}
	err = p.st.View(ctx, func(tx store.Tx) error {
		if len(keep) == 1 {
			pg.keep = func(r *store.Resource) (bool, error) {
				var d participantDoc
				if err := resource.Decode(r, &d); err != nil {
					return false, err
				}
				return keep[0](&d), nil
			}
		}
		rs, next, err := p.list(ctx, tx, pg, in.NextToken, in.MaxResults)
		if err != nil {
			return err
		}
		for _, r := range rs {
			var d participantDoc
			if err := resource.Decode(r, &d); err != nil {
				return err
			}
			full := renderParticipant(&d)
			out.Participants = append(out.Participants, realtimeapi.ParticipantSummary{ParticipantId: full.ParticipantId,
				UserId: full.UserId, State: full.State, FirstJoinTime: full.FirstJoinTime, Published: full.Published,
				RecordingState: full.RecordingState, ReplicationType: full.ReplicationType, RedundantIngest: full.RedundantIngest,
				IngestConfigurationArn: full.IngestConfigurationArn})
		}
		out.NextToken = next
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// ListParticipantEvents lists a participant's events in a stage session, in the order they happened. A
// participant or session that does not exist has none.
func (p *Provider) ListParticipantEvents(ctx context.Context, in *realtimeapi.ListParticipantEventsRequest) (*realtimeapi.ListParticipantEventsResponse, error) {
	stage, found, err := p.sessionStage(ctx, *in.StageArn, true)
	if err != nil {
		return nil, err
	}
	parent := "-"
	if found {
		parent = refOf(stage).participantKey(*in.SessionId, *in.ParticipantId)
	}
	out := &realtimeapi.ListParticipantEventsResponse{Events: []realtimeapi.Event{}}
	err = p.st.View(ctx, func(tx store.Tx) error {
		rs, next, err := p.list(ctx, tx, page{scope: "ListParticipantEvents/" + *in.StageArn + "/" + *in.SessionId + "/" + *in.ParticipantId,
			max: 50, q: store.ListQuery{Type: TypeParticipantEvent, Parent: parent}}, in.NextToken, in.MaxResults)
		if err != nil {
			return err
		}
		for _, r := range rs {
			var d eventDoc
			if err := resource.Decode(r, &d); err != nil {
				return err
			}
			e := realtimeapi.Event{Name: ptr(d.Name), ParticipantId: ptr(*in.ParticipantId), EventTime: awsapi.NewTime(d.Time),
				Replica: ptr(false)}
			if d.RemoteParticipantID != "" {
				e.RemoteParticipantId = ptr(d.RemoteParticipantID)
			}
			if d.ErrorCode != "" {
				e.ErrorCode = ptr(d.ErrorCode)
			}
			out.Events = append(out.Events, e)
		}
		out.NextToken = next
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// DisconnectParticipant disconnects a participant from a stage: its token is refused from then on (whether or not
// it had joined), a connected participant leaves the active session, and an ingest configuration it publishes
// with is detached from the stage.
func (p *Provider) DisconnectParticipant(ctx context.Context, in *realtimeapi.DisconnectParticipantRequest) (*realtimeapi.DisconnectParticipantResponse, error) {
	if _, err := resource.Resolve(ctx, *in.StageArn, TypeStage, true); err != nil {
		return nil, err
	}
	pid := *in.ParticipantId
	err := p.st.Update(ctx, func(tx store.Tx) error {
		st, err := p.open(ctx, tx, *in.StageArn, pid)
		if errors.Is(err, ErrStageNotFound) {
			return realtimeapi.NewResourceNotFoundException("Resource: %s not found", *in.StageArn)
		}
		if err != nil {
			return err
		}
		key := st.ref.disconnectionKey(pid)
		if _, err := tx.Get(ctx, key); errors.Is(err, store.ErrNotFound) {
			r := &store.Resource{ARN: key, Account: st.ref.account, Region: st.ref.region, Type: TypeDisconnection,
				ID: st.ref.id + "/" + pid, Name: pid, Parent: st.stage.ARN, Tags: map[string]string{}, Created: st.now}
			if err := resource.Encode(r, &struct {
				Reason string `json:"reason"`
			}{str(in.Reason)}); err != nil {
				return err
			}
			if err := tx.Insert(ctx, r); err != nil {
				return err
			}
		} else if err != nil {
			return err
		}
		// An ingest configuration publishing as this participant is detached from the stage.
		referrers, err := tx.Referrers(ctx, st.stage.ARN, 0)
		if err != nil {
			return err
		}
		for _, ref := range referrers {
			ic, err := tx.Get(ctx, ref)
			if err != nil || ic.Type != TypeIngestConfiguration {
				continue
			}
			var d ingestDoc
			if err := resource.Decode(ic, &d); err != nil {
				return err
			}
			if d.ParticipantID == pid || slices.ContainsFunc(d.Redundant, func(c redundantCredential) bool { return c.ParticipantID == pid }) {
				if d.State == realtimeapi.IngestConfigurationStateActive {
					if err := detachIngest(ctx, tx, ref); err != nil {
						return err
					}
				}
			}
		}
		if st.connected() {
			if err := st.leave(ctx); err != nil {
				return err
			}
		}
		return st.save(ctx)
	})
	if err != nil {
		return nil, err
	}
	p.media.Disconnect(*in.StageArn, pid, str(in.Reason))
	return &realtimeapi.DisconnectParticipantResponse{}, nil
}

// Disconnected tells whether DisconnectParticipant was called for the participant on the stage, or the stage no
// longer exists (its participants are all disconnected): the participant's token must be refused (token.Lookup).
func (p *Provider) Disconnected(ctx context.Context, stageARN, participantID string) (bool, error) {
	ref, err := parseStage(stageARN)
	if err != nil {
		return true, nil
	}
	if r, err := p.st.Get(ctx, stageARN); errors.Is(err, store.ErrNotFound) || (err == nil && r.Type != TypeStage) {
		return true, nil
	} else if err != nil {
		return false, err
	}
	_, err = p.st.Get(ctx, ref.disconnectionKey(participantID))
	if errors.Is(err, store.ErrNotFound) {
		return false, nil
	}
	return err == nil, err
}
