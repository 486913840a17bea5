package realtime

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha512"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"io"
	"log/slog"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/openivs/openivs/internal/awsapi"
	"github.com/openivs/openivs/internal/realtime/token"
	"github.com/openivs/openivs/internal/spec/realtimeapi"
	"github.com/openivs/openivs/internal/store"
	"github.com/openivs/openivs/internal/store/sqlite"
)

const (
	testAccount = "111111111111"
	testRegion  = "us-west-2"
)

// clock is a settable time source.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// fakeMedia records what the provider asks of the media plane.
type fakeMedia struct {
	mu           sync.Mutex
	disconnected []string // stageARN + " " + participantID
	closed       []string
}

func (m *fakeMedia) Disconnect(stageARN, participantID, reason string) {
	m.mu.Lock()
	m.disconnected = append(m.disconnected, stageARN+" "+participantID)
	m.mu.Unlock()
}

func (m *fakeMedia) CloseStage(stageARN string) {
	m.mu.Lock()
	m.closed = append(m.closed, stageARN)
	m.mu.Unlock()
}

type fixture struct {
	p     *Provider
	st    store.Store
	clock *clock
	media *fakeMedia
	ctx   context.Context // a caller of account 111111111111 in us-west-2
}

func newFixture(t *testing.T) *fixture { return newFixtureWith(t, Quotas{}) }

func newFixtureWith(t *testing.T, q Quotas) *fixture {
	t.Helper()
	ctx := context.Background()
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "rt.db"), log)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	issuer, err := token.OpenIssuer(filepath.Join(t.TempDir(), "keys"))
	if err != nil {
		t.Fatal(err)
	}
	p, err := New(ctx, st, Config{PublicURL: "http://127.0.0.1:8080", RTMPAddr: "127.0.0.1:1935", RTMPSAddr: "127.0.0.1:4443", Quotas: q}, issuer, log)
	if err != nil {
		t.Fatal(err)
	}
	c := &clock{t: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)}
	p.now = c.now
	m := &fakeMedia{}
	p.SetMediaPlane(m)
	return &fixture{p: p, st: st, clock: c, media: m,
		ctx: awsapi.WithCaller(ctx, awsapi.Caller{AccountID: testAccount, Region: testRegion, AccessKeyID: "AKIDTEST"})}
}

func (f *fixture) stage(t *testing.T) string {
	t.Helper()
	out, err := f.p.CreateStage(f.ctx, &realtimeapi.CreateStageRequest{Name: ptr("s")})
	if err != nil {
		t.Fatal(err)
	}
	return *out.Stage.Arn
}

func must[T any](t *testing.T, what string) func(T, error) T {
	t.Helper()
	return func(v T, err error) T {
		t.Helper()
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		return v
	}
}

func wantCode(t *testing.T, what string, err error, code string) {
	t.Helper()
	var ae *awsapi.Error
	if !errors.As(err, &ae) || ae.Code != code {
		t.Fatalf("%s: error %v, want %s", what, err, code)
	}
}

func eventNames(t *testing.T, f *fixture, stageARN, session, pid string) []string {
	t.Helper()
	out := must[*realtimeapi.ListParticipantEventsResponse](t, "ListParticipantEvents")(f.p.ListParticipantEvents(f.ctx,
		&realtimeapi.ListParticipantEventsRequest{StageArn: &stageARN, SessionId: &session, ParticipantId: &pid}))
	var names []string
	for _, e := range out.Events {
		n := string(*e.Name)
		if e.RemoteParticipantId != nil {
			n += ":" + *e.RemoteParticipantId
		}
		if e.ErrorCode != nil {
			n += ":" + string(*e.ErrorCode)
		}
		if *e.ParticipantId != pid {
			t.Errorf("event %s of %s has participantId %s", n, pid, *e.ParticipantId)
		}
		names = append(names, n)
	}
	return names
}

func participants(t *testing.T, f *fixture, in *realtimeapi.ListParticipantsRequest) map[string]realtimeapi.ParticipantSummary {
	t.Helper()
	out := must[*realtimeapi.ListParticipantsResponse](t, "ListParticipants")(f.p.ListParticipants(f.ctx, in))
	m := map[string]realtimeapi.ParticipantSummary{}
	for _, p := range out.Participants {
		m[*p.ParticipantId] = p
	}
	return m
}

var reSessionID = regexp.MustCompile(`^st-[A-Za-z0-9]{13}$`)

// TestStageSessionLifecycle drives the recording API through a whole session and checks every read operation
// against it: the session starts on the first join and ends when the last participant leaves.
func TestStageSessionLifecycle(t *testing.T) {
	f := newFixture(t)
	stage := f.stage(t)
	ctx := context.Background() // the media server has no API caller

	// Nobody joined: empty lists and 404s.
	ls := must[*realtimeapi.ListStageSessionsResponse](t, "ListStageSessions")(f.p.ListStageSessions(f.ctx, &realtimeapi.ListStageSessionsRequest{StageArn: &stage}))
	if len(ls.StageSessions) != 0 || ls.NextToken != nil {
		t.Fatalf("ListStageSessions before any join: %+v", ls)
	}
	_, err := f.p.GetStageSession(f.ctx, &realtimeapi.GetStageSessionRequest{StageArn: &stage, SessionId: ptr("st-AAAAAAAAAAAAA")})
	wantCode(t, "GetStageSession before any join", err, "ResourceNotFoundException")

	start := f.clock.now()
	sid, err := f.p.RecordJoin(ctx, stage, Join{ParticipantID: "partA", UserID: "alice", Attributes: map[string]string{"role": "host"},
		Protocol: realtimeapi.ParticipantProtocolWhip, Client: ClientInfo{BrowserName: "Firefox<script>", OSName: "Linux"}})
	if err != nil || !reSessionID.MatchString(sid) {
		t.Fatalf("RecordJoin: %q %v", sid, err)
	}
	gs := must[*realtimeapi.GetStageResponse](t, "GetStage")(f.p.GetStage(f.ctx, &realtimeapi.GetStageRequest{Arn: &stage}))
	if *gs.Stage.ActiveSessionId != sid {
		t.Fatalf("activeSessionId %q, want %q", *gs.Stage.ActiveSessionId, sid)
	}
	f.clock.advance(time.Second)
	sid2, err := f.p.RecordJoin(ctx, stage, Join{ParticipantID: "partB", UserID: "bob"})
	if err != nil || sid2 != sid {
		t.Fatalf("second RecordJoin: %q %v, want the same session %q", sid2, err, sid)
	}
	again, err := f.p.RecordJoin(ctx, stage, Join{ParticipantID: "partB", UserID: "bob"})
	if err != nil || again != sid {
		t.Fatalf("RecordJoin of a connected participant: %q %v", again, err)
	}
	f.clock.advance(time.Second)
	for _, step := range []error{
		f.p.RecordPublish(ctx, stage, "partA"),
		f.p.RecordPublish(ctx, stage, "partA"), // no second PUBLISH_STARTED
		f.p.RecordSubscribe(ctx, stage, "partB", "partA"),
		f.p.RecordError(ctx, stage, "partB", realtimeapi.EventNameSubscribeError, realtimeapi.EventErrorCodeBitrateExceeded, "partA"),
		f.p.RecordUnsubscribe(ctx, stage, "partB", "partA"),
		f.p.RecordSubscribe(ctx, stage, "partB", "partA"),
	} {
		if step != nil {
			t.Fatal(step)
		}
	}
	if err := f.p.RecordPublish(ctx, stage, "nobody"); !errors.Is(err, ErrNotJoined) {
		t.Fatalf("RecordPublish of a participant who did not join: %v", err)
	}
	f.clock.advance(time.Second)
	if err := f.p.RecordLeave(ctx, stage, "partA"); err != nil {
		t.Fatal(err)
	}
	if err := f.p.RecordLeave(ctx, stage, "partA"); err != nil { // idempotent
		t.Fatal(err)
	}

	// The session goes on with bob.
	sess := must[*realtimeapi.GetStageSessionResponse](t, "GetStageSession")(f.p.GetStageSession(f.ctx,
		&realtimeapi.GetStageSessionRequest{StageArn: &stage, SessionId: &sid})).StageSession
	if *sess.SessionId != sid || !sess.StartTime.Equal(start) || sess.EndTime != nil {
		t.Fatalf("GetStageSession of the active session: %+v", sess)
	}
	all := participants(t, f, &realtimeapi.ListParticipantsRequest{StageArn: &stage, SessionId: &sid})
	a, b := all["partA"], all["partB"]
	if len(all) != 2 || *a.State != realtimeapi.ParticipantStateDisconnected || !*a.Published || *a.UserId != "alice" ||
		*b.State != realtimeapi.ParticipantStateConnected || *b.Published || !a.FirstJoinTime.Equal(start) ||
		*a.RecordingState != realtimeapi.ParticipantRecordingStateDisabled || *a.ReplicationType != realtimeapi.ReplicationTypeNone {
		t.Fatalf("ListParticipants: %+v", all)
	}
	for _, tc := range []struct {
		in   realtimeapi.ListParticipantsRequest
		want []string
	}{
		{realtimeapi.ListParticipantsRequest{FilterByState: ptr(realtimeapi.ParticipantStateConnected)}, []string{"partB"}},
		{realtimeapi.ListParticipantsRequest{FilterByState: ptr(realtimeapi.ParticipantStateDisconnected)}, []string{"partA"}},
		{realtimeapi.ListParticipantsRequest{FilterByPublished: ptr(true)}, []string{"partA"}},
		{realtimeapi.ListParticipantsRequest{FilterByPublished: ptr(false)}, []string{"partA", "partB"}},
		{realtimeapi.ListParticipantsRequest{FilterByUserId: ptr("bob")}, []string{"partB"}},
		{realtimeapi.ListParticipantsRequest{FilterByUserId: ptr("carol")}, nil},
		{realtimeapi.ListParticipantsRequest{FilterByRecordingState: ptr(realtimeapi.ParticipantRecordingFilterByRecordingStateActive)}, nil},
	} {
		in := tc.in
		in.StageArn, in.SessionId = &stage, &sid
		got := participants(t, f, &in)
		var ids []string
		for id := range got {
			ids = append(ids, id)
		}
		slices.Sort(ids)
		if !slices.Equal(ids, tc.want) {
			t.Errorf("ListParticipants %+v: %v, want %v", tc.in, ids, tc.want)
		}
	}
	_, err = f.p.ListParticipants(f.ctx, &realtimeapi.ListParticipantsRequest{StageArn: &stage, SessionId: &sid,
		FilterByUserId: ptr("bob"), FilterByState: ptr(realtimeapi.ParticipantStateConnected)})
	wantCode(t, "ListParticipants with two filters", err, "ValidationException")

	gp := must[*realtimeapi.GetParticipantResponse](t, "GetParticipant")(f.p.GetParticipant(f.ctx,
		&realtimeapi.GetParticipantRequest{StageArn: &stage, SessionId: &sid, ParticipantId: ptr("partA")})).Participant
	if *gp.BrowserName != "Firefoxscript" || *gp.OsName != "Linux" || *gp.Protocol != realtimeapi.ParticipantProtocolWhip ||
		gp.Attributes["role"] != "host" || *gp.RecordingS3BucketName != "" || gp.IngestConfigurationArn != nil {
		t.Errorf("GetParticipant: %+v", gp)
	}
	_, err = f.p.GetParticipant(f.ctx, &realtimeapi.GetParticipantRequest{StageArn: &stage, SessionId: &sid, ParticipantId: ptr("nobody")})
	wantCode(t, "GetParticipant of nobody", err, "ResourceNotFoundException")

	if got, want := eventNames(t, f, stage, sid, "partA"), []string{"JOINED", "PUBLISH_STARTED", "PUBLISH_STOPPED", "LEFT"}; !slices.Equal(got, want) {
		t.Errorf("events of partA: %v, want %v", got, want)
	}
	wantB := []string{"JOINED", "SUBSCRIBE_STARTED:partA", "SUBSCRIBE_ERROR:partA:BITRATE_EXCEEDED", "SUBSCRIBE_STOPPED:partA", "SUBSCRIBE_STARTED:partA"}
	if got := eventNames(t, f, stage, sid, "partB"); !slices.Equal(got, wantB) {
		t.Errorf("events of partB: %v, want %v", got, wantB)
	}
	// Events paginate.
	ev1 := must[*realtimeapi.ListParticipantEventsResponse](t, "ListParticipantEvents")(f.p.ListParticipantEvents(f.ctx,
		&realtimeapi.ListParticipantEventsRequest{StageArn: &stage, SessionId: &sid, ParticipantId: ptr("partB"), MaxResults: ptr(int64(3))}))
	ev2 := must[*realtimeapi.ListParticipantEventsResponse](t, "ListParticipantEvents page 2")(f.p.ListParticipantEvents(f.ctx,
		&realtimeapi.ListParticipantEventsRequest{StageArn: &stage, SessionId: &sid, ParticipantId: ptr("partB"), MaxResults: ptr(int64(3)), NextToken: ev1.NextToken}))
	if len(ev1.Events) != 3 || ev1.NextToken == nil || len(ev2.Events) != 2 || ev2.NextToken != nil {
		t.Errorf("ListParticipantEvents pages: %d next %v, %d next %v", len(ev1.Events), ev1.NextToken, len(ev2.Events), ev2.NextToken)
	}

	// bob leaves: the session ends, subscriptions stop.
	f.clock.advance(time.Second)
	end := f.clock.now()
	if err := f.p.RecordLeave(ctx, stage, "partB"); err != nil {
		t.Fatal(err)
	}
	if got := eventNames(t, f, stage, sid, "partB"); !slices.Equal(got, append(wantB, "SUBSCRIBE_STOPPED:partA", "LEFT")) {
		t.Errorf("events of partB after leaving: %v", got)
	}
	sess = must[*realtimeapi.GetStageSessionResponse](t, "GetStageSession")(f.p.GetStageSession(f.ctx,
		&realtimeapi.GetStageSessionRequest{StageArn: &stage, SessionId: &sid})).StageSession
	if sess.EndTime == nil || !sess.EndTime.Equal(end) {
		t.Fatalf("ended session: %+v, want endTime %v", sess, end)
	}
	gs = must[*realtimeapi.GetStageResponse](t, "GetStage")(f.p.GetStage(f.ctx, &realtimeapi.GetStageRequest{Arn: &stage}))
	if *gs.Stage.ActiveSessionId != "" {
		t.Fatalf("activeSessionId after the last participant left: %q", *gs.Stage.ActiveSessionId)
	}
	if err := f.p.RecordPublish(ctx, stage, "partB"); !errors.Is(err, ErrNotJoined) {
		t.Fatalf("RecordPublish after the session ended: %v", err)
	}

	// A new join starts a new session; sessions are listed newest first.
	f.clock.advance(time.Minute)
	sid3, err := f.p.RecordJoin(ctx, stage, Join{ParticipantID: "partA", UserID: "alice"})
	if err != nil || sid3 == sid || !reSessionID.MatchString(sid3) {
		t.Fatalf("RecordJoin after the session ended: %q %v (old session %q)", sid3, err, sid)
	}
	ls = must[*realtimeapi.ListStageSessionsResponse](t, "ListStageSessions")(f.p.ListStageSessions(f.ctx, &realtimeapi.ListStageSessionsRequest{StageArn: &stage}))
	if len(ls.StageSessions) != 2 || *ls.StageSessions[0].SessionId != sid3 || *ls.StageSessions[1].SessionId != sid ||
		ls.StageSessions[0].EndTime != nil || ls.StageSessions[1].EndTime == nil {
		t.Fatalf("ListStageSessions: %+v", ls.StageSessions)
	}
	p1 := must[*realtimeapi.ListStageSessionsResponse](t, "ListStageSessions page 1")(f.p.ListStageSessions(f.ctx, &realtimeapi.ListStageSessionsRequest{StageArn: &stage, MaxResults: ptr(int64(1))}))
	p2 := must[*realtimeapi.ListStageSessionsResponse](t, "ListStageSessions page 2")(f.p.ListStageSessions(f.ctx, &realtimeapi.ListStageSessionsRequest{StageArn: &stage, MaxResults: ptr(int64(1)), NextToken: p1.NextToken}))
	if len(p1.StageSessions) != 1 || *p1.StageSessions[0].SessionId != sid3 || p1.NextToken == nil ||
		len(p2.StageSessions) != 1 || *p2.StageSessions[0].SessionId != sid || p2.NextToken != nil {
		t.Fatalf("ListStageSessions pages: %+v %v / %+v %v", p1.StageSessions, p1.NextToken, p2.StageSessions, p2.NextToken)
	}
	// The old session's participants are still there; the new one has only alice, with a new firstJoinTime.
	if n := len(participants(t, f, &realtimeapi.ListParticipantsRequest{StageArn: &stage, SessionId: &sid})); n != 2 {
		t.Errorf("old session has %d participants", n)
	}
	now := participants(t, f, &realtimeapi.ListParticipantsRequest{StageArn: &stage, SessionId: &sid3})
	if len(now) != 1 || !now["partA"].FirstJoinTime.Equal(f.clock.now()) {
		t.Errorf("new session's participants: %+v", now)
	}

	// DeleteStage removes the sessions, participants and events with it, and closes the stage's connections.
	if _, err := f.p.DeleteStage(f.ctx, &realtimeapi.DeleteStageRequest{Arn: &stage}); err != nil {
		t.Fatal(err)
	}
	for _, typ := range []string{TypeStageSession, TypeParticipant, TypeParticipantEvent, TypeDisconnection} {
		f.st.View(f.ctx, func(tx store.Tx) error {
			n, err := tx.Count(f.ctx, testAccount, testRegion, typ)
			if err != nil || n != 0 {
				t.Errorf("%d %s records left after DeleteStage (%v)", n, typ, err)
			}
			return nil
		})
	}
	if !slices.Equal(f.media.closed, []string{stage}) {
		t.Errorf("media plane closed %v, want the deleted stage", f.media.closed)
	}
	if _, err := f.p.RecordJoin(ctx, stage, Join{ParticipantID: "partA"}); !errors.Is(err, ErrStageNotFound) {
		t.Errorf("RecordJoin on a deleted stage: %v", err)
	}
	if err := f.p.RecordLeave(ctx, stage, "partA"); err != nil {
		t.Errorf("RecordLeave on a deleted stage: %v", err)
	}
	// A deleted stage's sessions: ListStageSessions is empty, GetStageSession 404.
	ls = must[*realtimeapi.ListStageSessionsResponse](t, "ListStageSessions")(f.p.ListStageSessions(f.ctx, &realtimeapi.ListStageSessionsRequest{StageArn: &stage}))
	if len(ls.StageSessions) != 0 {
		t.Errorf("ListStageSessions of a deleted stage: %+v", ls.StageSessions)
	}
	_, err = f.p.GetStageSession(f.ctx, &realtimeapi.GetStageSessionRequest{StageArn: &stage, SessionId: &sid})
	wantCode(t, "GetStageSession of a deleted stage", err, "ResourceNotFoundException")
}

// TestRejoinAndFilteredPagination: a participant who leaves and rejoins keeps one record; filtered lists
// paginate over many participants.
func TestRejoinAndFilteredPagination(t *testing.T) {
	f := newFixture(t)
	stage := f.stage(t)
	ctx := context.Background()
	sid, err := f.p.RecordJoin(ctx, stage, Join{ParticipantID: "host"})
	if err != nil {
		t.Fatal(err)
	}
	first := f.clock.now()
	var publishers []string
	for i := 0; i < 450; i++ {
		id := "p" + itoa(i)
		f.clock.advance(time.Millisecond)
		if _, err := f.p.RecordJoin(ctx, stage, Join{ParticipantID: id}); err != nil {
			t.Fatal(err)
		}
		if i%7 == 0 {
			publishers = append(publishers, id)
			if err := f.p.RecordPublish(ctx, stage, id); err != nil {
				t.Fatal(err)
			}
		}
	}
	// host leaves and comes back: still one record, first join time kept.
	f.clock.advance(time.Second)
	if err := f.p.RecordLeave(ctx, stage, "host"); err != nil {
		t.Fatal(err)
	}
	if again, err := f.p.RecordJoin(ctx, stage, Join{ParticipantID: "host"}); err != nil || again != sid {
		t.Fatalf("rejoin: %q %v", again, err)
	}
	hp := must[*realtimeapi.GetParticipantResponse](t, "GetParticipant")(f.p.GetParticipant(f.ctx,
		&realtimeapi.GetParticipantRequest{StageArn: &stage, SessionId: &sid, ParticipantId: ptr("host")})).Participant
	if !hp.FirstJoinTime.Equal(first) || *hp.State != realtimeapi.ParticipantStateConnected {
		t.Errorf("rejoined participant: %+v", hp)
	}
	if got := eventNames(t, f, stage, sid, "host"); !slices.Equal(got, []string{"JOINED", "LEFT", "JOINED"}) {
		t.Errorf("rejoined participant's events: %v", got)
	}
	var got []string
	var next *string
	pages := 0
	for {
		out := must[*realtimeapi.ListParticipantsResponse](t, "ListParticipants")(f.p.ListParticipants(f.ctx, &realtimeapi.ListParticipantsRequest{
			StageArn: &stage, SessionId: &sid, FilterByPublished: ptr(true), MaxResults: ptr(int64(20)), NextToken: next}))
		pages++
		for _, p := range out.Participants {
			got = append(got, *p.ParticipantId)
		}
		if next = out.NextToken; next == nil {
			break
		}
	}
	if !slices.Equal(got, publishers) || pages != (len(publishers)+19)/20 {
		t.Errorf("published participants over %d pages: %v, want %v", pages, got, publishers)
	}
	// A token of one filter is refused by another.
	out := must[*realtimeapi.ListParticipantsResponse](t, "ListParticipants")(f.p.ListParticipants(f.ctx, &realtimeapi.ListParticipantsRequest{
		StageArn: &stage, SessionId: &sid, MaxResults: ptr(int64(1))}))
	_, err = f.p.ListParticipants(f.ctx, &realtimeapi.ListParticipantsRequest{StageArn: &stage, SessionId: &sid,
		FilterByPublished: ptr(true), NextToken: out.NextToken})
	wantCode(t, "ListParticipants with another filter's token", err, "ValidationException")
}

// selfSigned makes a token signed with key, as a customer's backend does (ES384, kid = the public key's ARN).
func selfSigned(t *testing.T, key *ecdsa.PrivateKey, kid, stageARN, jti string, exp time.Time) string {
	t.Helper()
	enc := func(v any) string {
		b, _ := json.Marshal(v)
		return base64.RawURLEncoding.EncodeToString(b)
	}
	id := stageARN[strings.LastIndex(stageARN, "/")+1:]
	signing := enc(map[string]string{"alg": "ES384", "typ": "JWT", "kid": kid}) + "." + enc(map[string]any{
		"exp": exp.Unix(), "iat": exp.Add(-time.Hour).Unix(), "jti": jti, "resource": stageARN, "topic": id,
		"events_url": "ws://x/stages/events", "whip_url": "http://x/stages/whip", "user_id": "u",
		"capabilities": map[string]bool{"allow_publish": true, "allow_subscribe": true}, "version": "1.0"})
	h := sha512.Sum384([]byte(signing))
	r, s, err := ecdsa.Sign(rand.Reader, key, h[:])
	if err != nil {
		t.Fatal(err)
	}
	sig := make([]byte, 96)
	r.FillBytes(sig[:48])
	s.FillBytes(sig[48:])
	return signing + "." + base64.RawURLEncoding.EncodeToString(sig)
}

// TestTokensVerify: a token from CreateParticipantToken verifies with the claims IVS puts in it; a self-signed
// token verifies until its public key is deleted; a participant's token is refused once it is disconnected, and
// every token of a stage once the stage is deleted.
func TestTokensVerify(t *testing.T) {
	f := newFixture(t)
	f.clock.t = time.Now().UTC().Truncate(time.Second) // the verifier and the issuer share the provider's clock
	stage := f.stage(t)
	v := f.p.Verifier()

	ct := must[*realtimeapi.CreateParticipantTokenResponse](t, "CreateParticipantToken")(f.p.CreateParticipantToken(f.ctx,
		&realtimeapi.CreateParticipantTokenRequest{StageArn: &stage, UserId: ptr("alice"), Duration: ptr(int64(90)),
			Attributes: map[string]string{"k": "v"}, Capabilities: []realtimeapi.ParticipantTokenCapability{realtimeapi.ParticipantTokenCapabilitySubscribe}})).ParticipantToken
	c, err := v.Verify(f.ctx, *ct.Token, stage)
	if err != nil {
		t.Fatalf("Verify of a CreateParticipantToken token: %v", err)
	}
	if c.ParticipantID != *ct.ParticipantId || !regexp.MustCompile(`^[A-Za-z0-9]{12}$`).MatchString(c.ParticipantID) ||
		c.StageARN != stage || c.StageID != stage[strings.LastIndex(stage, "/")+1:] || c.UserID != "alice" || c.Attributes["k"] != "v" ||
		c.Capabilities != (token.Capabilities{Subscribe: true}) || c.EventsURL != "ws://127.0.0.1:8080/stages/events" ||
		c.WHIPURL != "http://127.0.0.1:8080/stages/whip" || !c.ExpiresAt.Equal(ct.ExpirationTime.Time) ||
		c.ExpiresAt.Sub(c.IssuedAt) != 90*time.Minute || c.Version != "0.0" || c.SelfSigned {
		t.Errorf("claims %+v of token %+v", c, ct)
	}
	if _, err := v.Verify(f.ctx, *ct.Token, strings.Replace(stage, "/", "/x", 1)); token.ReasonOf(err) != token.ReasonWrongStage {
		t.Errorf("Verify for another stage: %v", err)
	}

	// Self-signed tokens.
	key, _ := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	der, _ := x509.MarshalPKIXPublicKey(&key.PublicKey)
	pk := must[*realtimeapi.ImportPublicKeyResponse](t, "ImportPublicKey")(f.p.ImportPublicKey(f.ctx, &realtimeapi.ImportPublicKeyRequest{
		PublicKeyMaterial: ptr(string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})))})).PublicKey
	self := selfSigned(t, key, *pk.Arn, stage, "self-1", f.clock.now().Add(time.Hour))
	if c, err := v.Verify(f.ctx, self, stage); err != nil || !c.SelfSigned || c.ParticipantID != "self-1" || c.KeyID != *pk.Arn {
		t.Fatalf("Verify of a self-signed token: %+v %v", c, err)
	}
	if _, err := f.p.DeletePublicKey(f.ctx, &realtimeapi.DeletePublicKeyRequest{Arn: pk.Arn}); err != nil {
		t.Fatal(err)
	}
	if _, err := v.Verify(f.ctx, self, stage); token.ReasonOf(err) != token.ReasonUnknownKey {
		t.Errorf("Verify of a self-signed token after DeletePublicKey: %v, want %s", err, token.ReasonUnknownKey)
	}

	// DisconnectParticipant refuses that participant's token, not the others'.
	other := must[*realtimeapi.CreateParticipantTokenResponse](t, "CreateParticipantToken")(f.p.CreateParticipantToken(f.ctx,
		&realtimeapi.CreateParticipantTokenRequest{StageArn: &stage})).ParticipantToken
	if _, err := f.p.DisconnectParticipant(f.ctx, &realtimeapi.DisconnectParticipantRequest{StageArn: &stage, ParticipantId: ct.ParticipantId,
		Reason: ptr("kicked")}); err != nil {
		t.Fatal(err)
	}
	if _, err := v.Verify(f.ctx, *ct.Token, stage); token.ReasonOf(err) != token.ReasonDisconnected {
		t.Errorf("Verify after DisconnectParticipant: %v, want %s", err, token.ReasonDisconnected)
	}
	if _, err := v.Verify(f.ctx, *other.Token, stage); err != nil {
		t.Errorf("Verify of another participant's token after DisconnectParticipant: %v", err)
	}
	if !slices.Equal(f.media.disconnected, []string{stage + " " + *ct.ParticipantId}) {
		t.Errorf("media plane asked to disconnect %v", f.media.disconnected)
	}
	// Deleting the stage refuses every token of it.
	if _, err := f.p.DeleteStage(f.ctx, &realtimeapi.DeleteStageRequest{Arn: &stage}); err != nil {
		t.Fatal(err)
	}
	if _, err := v.Verify(f.ctx, *other.Token, stage); token.ReasonOf(err) != token.ReasonDisconnected {
		t.Errorf("Verify after DeleteStage: %v, want %s", err, token.ReasonDisconnected)
	}
}

// TestDisconnectConnectedParticipant: DisconnectParticipant of a connected participant records its leaving and
// ends the session when it was the last.
func TestDisconnectConnectedParticipant(t *testing.T) {
	f := newFixture(t)
	stage := f.stage(t)
	ctx := context.Background()
	sid, err := f.p.RecordJoin(ctx, stage, Join{ParticipantID: "pub"})
	if err != nil {
		t.Fatal(err)
	}
	if err := f.p.RecordPublish(ctx, stage, "pub"); err != nil {
		t.Fatal(err)
	}
	if _, err := f.p.DisconnectParticipant(f.ctx, &realtimeapi.DisconnectParticipantRequest{StageArn: &stage, ParticipantId: ptr("pub")}); err != nil {
		t.Fatal(err)
	}
	if got := eventNames(t, f, stage, sid, "pub"); !slices.Equal(got, []string{"JOINED", "PUBLISH_STARTED", "PUBLISH_STOPPED", "LEFT"}) {
		t.Errorf("events: %v", got)
	}
	if id, err := f.p.ActiveSession(ctx, stage); err != nil || id != "" {
		t.Errorf("active session after the only participant was disconnected: %q %v", id, err)
	}
	// The media server's own RecordLeave afterwards changes nothing.
	if err := f.p.RecordLeave(ctx, stage, "pub"); err != nil {
		t.Fatal(err)
	}
	if got := eventNames(t, f, stage, sid, "pub"); len(got) != 4 {
		t.Errorf("events after a late RecordLeave: %v", got)
	}
	_, err = f.p.DisconnectParticipant(f.ctx, &realtimeapi.DisconnectParticipantRequest{StageArn: ptr(strings.Replace(stage, "/", "/zz", 1)), ParticipantId: ptr("pub")})
	wantCode(t, "DisconnectParticipant on a stage that does not exist", err, "ResourceNotFoundException")
}

// TestIngestRecording: an RTMP publisher found by its stream key joins as the ingest configuration's participant;
// publishing makes the configuration ACTIVE, which blocks updates and unforced deletes; DisconnectParticipant
// detaches it from the stage; a forced delete disconnects the publisher.
func TestIngestRecording(t *testing.T) {
	f := newFixture(t)
	stage := f.stage(t)
	ctx := context.Background()
	ic := must[*realtimeapi.CreateIngestConfigurationResponse](t, "CreateIngestConfiguration")(f.p.CreateIngestConfiguration(f.ctx,
		&realtimeapi.CreateIngestConfigurationRequest{IngestProtocol: ptr(realtimeapi.IngestProtocolRtmps), StageArn: &stage,
			UserId: ptr("obs"), Attributes: map[string]string{"a": "b"}, RedundantIngest: ptr(true)})).IngestConfiguration
	if _, err := f.p.IngestByStreamKey(ctx, *ic.StreamKey+"x"); !errors.Is(err, ErrUnknownStreamKey) {
		t.Fatalf("IngestByStreamKey of a wrong key: %v", err)
	}
	if _, err := f.p.IngestByStreamKey(ctx, "sk_us-west-2_abc_def"); !errors.Is(err, ErrUnknownStreamKey) {
		t.Fatalf("IngestByStreamKey of a low-latency key: %v", err)
	}
	tgt, err := f.p.IngestByStreamKey(ctx, *ic.StreamKey)
	if err != nil || tgt.StageARN != stage || tgt.Join.ParticipantID != *ic.ParticipantId || tgt.Join.UserID != "obs" ||
		tgt.Join.Protocol != realtimeapi.ParticipantProtocolRtmps || tgt.Join.IngestConfigurationARN != *ic.Arn || !tgt.Join.RedundantIngest {
		t.Fatalf("IngestByStreamKey: %+v %v", tgt, err)
	}
	backup, err := f.p.IngestByStreamKey(ctx, *ic.RedundantIngestCredentials[0].StreamKey)
	if err != nil || backup.Join.ParticipantID != *ic.RedundantIngestCredentials[0].ParticipantId {
		t.Fatalf("IngestByStreamKey of the redundant key: %+v %v", backup, err)
	}
	sid, err := f.p.RecordJoin(ctx, tgt.StageARN, tgt.Join)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.p.RecordPublish(ctx, stage, tgt.Join.ParticipantID); err != nil {
		t.Fatal(err)
	}
	state := func() realtimeapi.IngestConfigurationState {
		g := must[*realtimeapi.GetIngestConfigurationResponse](t, "GetIngestConfiguration")(f.p.GetIngestConfiguration(f.ctx,
			&realtimeapi.GetIngestConfigurationRequest{Arn: ic.Arn}))
		return *g.IngestConfiguration.State
	}
	if s := state(); s != realtimeapi.IngestConfigurationStateActive {
		t.Fatalf("state while publishing: %s", s)
	}
	gp := must[*realtimeapi.GetParticipantResponse](t, "GetParticipant")(f.p.GetParticipant(f.ctx,
		&realtimeapi.GetParticipantRequest{StageArn: &stage, SessionId: &sid, ParticipantId: ic.ParticipantId})).Participant
	if *gp.IngestConfigurationArn != *ic.Arn || *gp.Protocol != realtimeapi.ParticipantProtocolRtmps || !*gp.RedundantIngest || *gp.UserId != "obs" {
		t.Errorf("ingest participant: %+v", gp)
	}
	_, err = f.p.UpdateIngestConfiguration(f.ctx, &realtimeapi.UpdateIngestConfigurationRequest{Arn: ic.Arn, StageArn: ptr("")})
	wantCode(t, "UpdateIngestConfiguration while ACTIVE", err, "ConflictException")
	_, err = f.p.DeleteIngestConfiguration(f.ctx, &realtimeapi.DeleteIngestConfigurationRequest{Arn: ic.Arn})
	wantCode(t, "DeleteIngestConfiguration while ACTIVE", err, "ConflictException")
	active := must[*realtimeapi.ListIngestConfigurationsResponse](t, "ListIngestConfigurations")(f.p.ListIngestConfigurations(f.ctx,
		&realtimeapi.ListIngestConfigurationsRequest{FilterByState: ptr(realtimeapi.IngestConfigurationStateActive)}))
	if len(active.IngestConfigurations) != 1 {
		t.Errorf("ACTIVE ingest configurations: %+v", active.IngestConfigurations)
	}
	if err := f.p.RecordUnpublish(ctx, stage, tgt.Join.ParticipantID); err != nil {
		t.Fatal(err)
	}
	if s := state(); s != realtimeapi.IngestConfigurationStateInactive {
		t.Fatalf("state after unpublishing: %s", s)
	}
	if err := f.p.RecordPublish(ctx, stage, tgt.Join.ParticipantID); err != nil {
		t.Fatal(err)
	}

	// DisconnectParticipant of the publishing ingest participant detaches the configuration from the stage.
	if _, err := f.p.DisconnectParticipant(f.ctx, &realtimeapi.DisconnectParticipantRequest{StageArn: &stage, ParticipantId: ic.ParticipantId}); err != nil {
		t.Fatal(err)
	}
	g := must[*realtimeapi.GetIngestConfigurationResponse](t, "GetIngestConfiguration")(f.p.GetIngestConfiguration(f.ctx,
		&realtimeapi.GetIngestConfigurationRequest{Arn: ic.Arn})).IngestConfiguration
	if *g.StageArn != "" || *g.State != realtimeapi.IngestConfigurationStateInactive {
		t.Errorf("ingest configuration after DisconnectParticipant: stageArn %q state %s", *g.StageArn, *g.State)
	}

	// Attach again, publish, force-delete: the publisher is disconnected and leaves.
	if _, err := f.p.UpdateIngestConfiguration(f.ctx, &realtimeapi.UpdateIngestConfigurationRequest{Arn: ic.Arn, StageArn: &stage}); err != nil {
		t.Fatal(err)
	}
	sid2, err := f.p.RecordJoin(ctx, stage, backup.Join) // a new session: the disconnect ended the first
	if err != nil || sid2 == sid {
		t.Fatalf("RecordJoin of the redundant publisher: %q %v", sid2, err)
	}
	if err := f.p.RecordPublish(ctx, stage, backup.Join.ParticipantID); err != nil {
		t.Fatal(err)
	}
	if _, err := f.p.DeleteIngestConfiguration(f.ctx, &realtimeapi.DeleteIngestConfigurationRequest{Arn: ic.Arn, Force: ptr(true)}); err != nil {
		t.Fatal(err)
	}
	if got := eventNames(t, f, stage, sid2, backup.Join.ParticipantID); !slices.Equal(got, []string{"JOINED", "PUBLISH_STARTED", "PUBLISH_STOPPED", "LEFT"}) {
		t.Errorf("events of the force-deleted publisher: %v", got)
	}
	if !slices.Contains(f.media.disconnected, stage+" "+backup.Join.ParticipantID) {
		t.Errorf("media plane not asked to disconnect the force-deleted publisher: %v", f.media.disconnected)
	}
	if _, err := f.p.IngestByStreamKey(ctx, *ic.StreamKey); !errors.Is(err, ErrUnknownStreamKey) {
		t.Errorf("IngestByStreamKey after delete: %v", err)
	}
}

// TestStageEndpoints: endpoints follow the public URL and the ingest listeners.
func TestStageEndpoints(t *testing.T) {
	for _, tc := range []struct {
		cfg                       Config
		events, whip, rtmp, rtmps string
	}{
		{Config{PublicURL: "http://127.0.0.1:8080", RTMPAddr: "127.0.0.1:1935", RTMPSAddr: "0.0.0.0:4443"},
			"ws://127.0.0.1:8080/stages/events", "http://127.0.0.1:8080/stages/whip", "rtmp://127.0.0.1:1935/app/", "rtmps://127.0.0.1:4443/app/"},
		{Config{PublicURL: "https://ivs.example.com/base/", RTMPAddr: ":1935", RTMPSAddr: ":443"},
			"wss://ivs.example.com/base/stages/events", "https://ivs.example.com/base/stages/whip", "rtmp://ivs.example.com:1935/app/", "rtmps://ivs.example.com:443/app/"},
		{Config{PublicURL: "http://[::1]:8080", RTMPAddr: "[::1]:1935", RTMPSAddr: "[::1]:4443"},
			"ws://[::1]:8080/stages/events", "http://[::1]:8080/stages/whip", "rtmp://[::1]:1935/app/", "rtmps://[::1]:4443/app/"},
	} {
		e, err := stageEndpoints(tc.cfg)
		if err != nil || *e.Events != tc.events || *e.Whip != tc.whip || *e.Rtmp != tc.rtmp || *e.Rtmps != tc.rtmps {
			t.Errorf("%+v: %v %v %v %v %v", tc.cfg, str(e.Events), str(e.Whip), str(e.Rtmp), str(e.Rtmps), err)
		}
	}
	if _, err := stageEndpoints(Config{PublicURL: "ftp://x"}); err == nil {
		t.Error("an ftp public URL was accepted")
	}
}

// TestCompositionReferencesBlockDeletes: a composition (stored by the future media server with Refs to its stage,
// encoder and storage configurations) keeps each from being deleted: ConflictException.
func TestCompositionReferencesBlockDeletes(t *testing.T) {
	f := newFixture(t)
	stage := f.stage(t)
	ec := must[*realtimeapi.CreateEncoderConfigurationResponse](t, "CreateEncoderConfiguration")(f.p.CreateEncoderConfiguration(f.ctx,
		&realtimeapi.CreateEncoderConfigurationRequest{})).EncoderConfiguration
	sc := must[*realtimeapi.CreateStorageConfigurationResponse](t, "CreateStorageConfiguration")(f.p.CreateStorageConfiguration(f.ctx,
		&realtimeapi.CreateStorageConfigurationRequest{S3: &realtimeapi.S3StorageConfiguration{BucketName: ptr("b-1")}})).StorageConfiguration
	comp := &store.Resource{ARN: "arn:aws:ivs:" + testRegion + ":" + testAccount + ":composition/abcdABCD1234", Account: testAccount,
		Region: testRegion, Type: TypeComposition, ID: "abcdABCD1234", Refs: []string{stage, *ec.Arn, *sc.Arn},
		Tags: map[string]string{}, Data: []byte("{}"), Created: f.clock.now()}
	if err := f.st.Update(f.ctx, func(tx store.Tx) error { return tx.Insert(f.ctx, comp) }); err != nil {
		t.Fatal(err)
	}
	_, err := f.p.DeleteEncoderConfiguration(f.ctx, &realtimeapi.DeleteEncoderConfigurationRequest{Arn: ec.Arn})
	wantCode(t, "DeleteEncoderConfiguration used by a composition", err, "ConflictException")
	_, err = f.p.DeleteStorageConfiguration(f.ctx, &realtimeapi.DeleteStorageConfigurationRequest{Arn: sc.Arn})
	wantCode(t, "DeleteStorageConfiguration used by a composition", err, "ConflictException")
	_, err = f.p.DeleteStage(f.ctx, &realtimeapi.DeleteStageRequest{Arn: &stage})
	wantCode(t, "DeleteStage used by a composition", err, "ConflictException")
	if err := f.st.Update(f.ctx, func(tx store.Tx) error { return tx.Delete(f.ctx, comp.ARN) }); err != nil {
		t.Fatal(err)
	}
	for _, err := range []error{
		func() error {
			_, err := f.p.DeleteEncoderConfiguration(f.ctx, &realtimeapi.DeleteEncoderConfigurationRequest{Arn: ec.Arn})
			return err
		}(),
		func() error {
			_, err := f.p.DeleteStorageConfiguration(f.ctx, &realtimeapi.DeleteStorageConfigurationRequest{Arn: sc.Arn})
			return err
		}(),
		func() error {
			_, err := f.p.DeleteStage(f.ctx, &realtimeapi.DeleteStageRequest{Arn: &stage})
			return err
		}(),
	} {
		if err != nil {
			t.Errorf("delete once the composition is gone: %v", err)
		}
	}
}

// TestQuotas: every resource type has its per-account, per-region quota (configurable; IVS's or generous defaults).
func TestQuotas(t *testing.T) {
	if DefaultQuotas.EncoderConfigurations != 20 {
		t.Errorf("default encoder configuration quota %d, IVS's is 20", DefaultQuotas.EncoderConfigurations)
	}
	f := newFixtureWith(t, Quotas{Stages: 2, EncoderConfigurations: 2, StorageConfigurations: 2, IngestConfigurations: 2, PublicKeys: 2})
	other := awsapi.WithCaller(context.Background(), awsapi.Caller{AccountID: "222222222222", Region: testRegion})
	for _, tc := range []struct {
		what   string
		create func(ctx context.Context) error
	}{
		{"stages", func(ctx context.Context) error {
			_, err := f.p.CreateStage(ctx, &realtimeapi.CreateStageRequest{ParticipantTokenConfigurations: []realtimeapi.ParticipantTokenConfiguration{{}}})
			return err
		}},
		{"encoder configurations", func(ctx context.Context) error {
			_, err := f.p.CreateEncoderConfiguration(ctx, &realtimeapi.CreateEncoderConfigurationRequest{})
			return err
		}},
		{"storage configurations", func(ctx context.Context) error {
			_, err := f.p.CreateStorageConfiguration(ctx, &realtimeapi.CreateStorageConfigurationRequest{S3: &realtimeapi.S3StorageConfiguration{BucketName: ptr("b-1")}})
			return err
		}},
		{"ingest configurations", func(ctx context.Context) error {
			_, err := f.p.CreateIngestConfiguration(ctx, &realtimeapi.CreateIngestConfigurationRequest{IngestProtocol: ptr(realtimeapi.IngestProtocolRtmps)})
			return err
		}},
		{"public keys", func(ctx context.Context) error {
			key, _ := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
			der, _ := x509.MarshalPKIXPublicKey(&key.PublicKey)
			_, err := f.p.ImportPublicKey(ctx, &realtimeapi.ImportPublicKeyRequest{PublicKeyMaterial: ptr(string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})))})
			return err
		}},
	} {
		for i := 0; i < 2; i++ {
			if err := tc.create(f.ctx); err != nil {
				t.Fatalf("%s %d: %v", tc.what, i, err)
			}
		}
		wantCode(t, tc.what+" beyond the quota", tc.create(f.ctx), "ServiceQuotaExceededException")
		if err := tc.create(other); err != nil {
			t.Errorf("%s in another account: %v", tc.what, err)
		}
	}
}
