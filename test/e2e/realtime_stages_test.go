package e2e

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ivsrealtime"
	rttypes "github.com/aws/aws-sdk-go-v2/service/ivsrealtime/types"
)

var (
	reParticipantID = regexp.MustCompile(`^[A-Za-z0-9]{12}$`)
	reRTMPEndpoint  = regexp.MustCompile(`^rtmp://127\.0\.0\.1:[0-9]+/app/$`)
	reRTMPSEndpoint = regexp.MustCompile(`^rtmps://127\.0\.0\.1:[0-9]+/app/$`)
)

// checkEndpoints asserts a stage's endpoints are the server's: events and WHIP on the HTTP port, RTMP(S) on the
// ingest listeners.
func checkEndpoints(t *testing.T, what string, s *Server, e *rttypes.StageEndpoints) {
	t.Helper()
	if e == nil {
		t.Errorf("%s: no endpoints", what)
		return
	}
	if aws.ToString(e.Events) != "ws://"+s.Addr+"/stages/events" || aws.ToString(e.Whip) != s.URL+"/stages/whip" ||
		!reRTMPEndpoint.MatchString(aws.ToString(e.Rtmp)) || !reRTMPSEndpoint.MatchString(aws.ToString(e.Rtmps)) ||
		strings.TrimPrefix(aws.ToString(e.Rtmp), "rtmp://") == strings.TrimPrefix(aws.ToString(e.Rtmps), "rtmps://") {
		t.Errorf("%s: endpoints events=%q whip=%q rtmp=%q rtmps=%q", what, aws.ToString(e.Events), aws.ToString(e.Whip),
			aws.ToString(e.Rtmp), aws.ToString(e.Rtmps))
	}
}

// checkDefaultRecording asserts the individual participant recording configuration a stage shows when none is set.
func checkDefaultRecording(t *testing.T, what string, r *rttypes.AutoParticipantRecordingConfiguration, storage string) {
	t.Helper()
	if r == nil {
		t.Errorf("%s: no autoParticipantRecordingConfiguration", what)
		return
	}
	th := r.ThumbnailConfiguration
	if aws.ToString(r.StorageConfigurationArn) != storage || !slices.Equal(r.MediaTypes, []rttypes.ParticipantRecordingMediaType{rttypes.ParticipantRecordingMediaTypeAudioVideo}) ||
		th == nil || th.RecordingMode != rttypes.ThumbnailRecordingModeDisabled || aws.ToInt32(th.TargetIntervalSeconds) != 60 ||
		!slices.Equal(th.Storage, []rttypes.ThumbnailStorageType{rttypes.ThumbnailStorageTypeSequential}) ||
		r.RecordingReconnectWindowSeconds != 0 || r.HlsConfiguration == nil || aws.ToInt32(r.HlsConfiguration.TargetSegmentDurationSeconds) != 6 ||
		!r.RecordParticipantReplicas {
		t.Errorf("%s: autoParticipantRecordingConfiguration %+v (thumbnails %+v), want the defaults with storage %q", what, r, th, storage)
	}
}

// jwtPayload decodes a token's payload (tokens are opaque to clients; the test checks what IVS puts in them).
func jwtPayload(t *testing.T, tok string) map[string]any {
	t.Helper()
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		t.Fatalf("token %q is not a JWT", tok)
	}
	raw, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatalf("token payload: %v", err)
	}
	m := map[string]any{}
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatalf("token payload: %v", err)
	}
	return m
}

// checkToken asserts a participant token's shape and the claims of its JWT.
func checkToken(t *testing.T, what string, s *Server, tok rttypes.ParticipantToken, stageARN string, minutes int32,
	caps []rttypes.ParticipantTokenCapability, issued time.Time) {
	t.Helper()
	if !reParticipantID.MatchString(aws.ToString(tok.ParticipantId)) || aws.ToInt32(tok.Duration) != minutes ||
		!slices.Equal(tok.Capabilities, caps) || tok.ExpirationTime == nil {
		t.Fatalf("%s: token %+v", what, tok)
	}
	if d := tok.ExpirationTime.Sub(issued.Add(time.Duration(minutes) * time.Minute)); d < -5*time.Second || d > 5*time.Second {
		t.Errorf("%s: expirationTime %v, want about %v", what, tok.ExpirationTime, issued.Add(time.Duration(minutes)*time.Minute))
	}
	c := jwtPayload(t, aws.ToString(tok.Token))
	exp, iat := int64(c["exp"].(float64)), int64(c["iat"].(float64))
	wantCaps := map[string]any{"allow_publish": slices.Contains(caps, rttypes.ParticipantTokenCapabilityPublish),
		"allow_subscribe": slices.Contains(caps, rttypes.ParticipantTokenCapabilitySubscribe)}
	if c["jti"] != aws.ToString(tok.ParticipantId) || c["resource"] != stageARN || c["topic"] != stageARN[strings.LastIndex(stageARN, "/")+1:] ||
		c["events_url"] != "ws://"+s.Addr+"/stages/events" || c["whip_url"] != s.URL+"/stages/whip" ||
		exp-iat != int64(minutes)*60 || exp != tok.ExpirationTime.Unix() || c["user_id"] != aws.ToString(tok.UserId) ||
		!jsonEqual(c["capabilities"], wantCaps) || c["version"] != "0.0" {
		t.Errorf("%s: token claims %v", what, c)
	}
	if len(tok.Attributes) > 0 && !jsonEqual(c["attributes"], tok.Attributes) {
		t.Errorf("%s: attributes claim %v, want %v", what, c["attributes"], tok.Attributes)
	}
}

func jsonEqual(a, b any) bool {
	x, _ := json.Marshal(a)
	y, _ := json.Marshal(b)
	return string(x) == string(y)
}

var bothCaps = []rttypes.ParticipantTokenCapability{rttypes.ParticipantTokenCapabilityPublish, rttypes.ParticipantTokenCapabilitySubscribe}

// TestRealtimeStages covers CreateStage (with participant tokens and a recording configuration), GetStage,
// ListStages, UpdateStage and DeleteStage, with their errors.
func TestRealtimeStages(t *testing.T) {
	t.Parallel()
	s := Start(t, Options{})
	c := realtimeClient(s, Credential{}, "")
	ctx := Ctx(t)
	acct := DefaultCredential.AccountID

	issued := time.Now()
	cs := sdk(c.CreateStage(ctx, &ivsrealtime.CreateStageInput{Name: aws.String("stage-1"), Tags: map[string]string{"env": "test"},
		ParticipantTokenConfigurations: []rttypes.ParticipantTokenConfiguration{
			{UserId: aws.String("alice"), Duration: aws.Int32(60), Attributes: map[string]string{"role": "host"},
				Capabilities: []rttypes.ParticipantTokenCapability{rttypes.ParticipantTokenCapabilityPublish}},
			{},
		}})).must(t, "CreateStage")
	st := cs.Stage
	checkARN(t, "CreateStage", st.Arn, "us-west-2", acct, "stage")
	if aws.ToString(st.Name) != "stage-1" || !equalTags(st.Tags, map[string]string{"env": "test"}) || st.ActiveSessionId == nil || *st.ActiveSessionId != "" {
		t.Errorf("CreateStage: %+v", st)
	}
	checkEndpoints(t, "CreateStage", s, st.Endpoints)
	checkDefaultRecording(t, "CreateStage", st.AutoParticipantRecordingConfiguration, "")
	if len(cs.ParticipantTokens) != 2 {
		t.Fatalf("CreateStage returned %d participant tokens, want 2", len(cs.ParticipantTokens))
	}
	t0, t1 := cs.ParticipantTokens[0], cs.ParticipantTokens[1]
	checkToken(t, "CreateStage token 1", s, t0, *st.Arn, 60, []rttypes.ParticipantTokenCapability{rttypes.ParticipantTokenCapabilityPublish}, issued)
	checkToken(t, "CreateStage token 2", s, t1, *st.Arn, 720, bothCaps, issued)
	if aws.ToString(t0.UserId) != "alice" || t0.Attributes["role"] != "host" || aws.ToString(t0.ParticipantId) == aws.ToString(t1.ParticipantId) {
		t.Errorf("CreateStage tokens: %+v / %+v", t0, t1)
	}

	bare := sdk(c.CreateStage(ctx, &ivsrealtime.CreateStageInput{})).must(t, "CreateStage without members")
	if aws.ToString(bare.Stage.Name) != "" || bare.Stage.Tags == nil || len(bare.Stage.Tags) != 0 || len(bare.ParticipantTokens) != 0 {
		t.Errorf("CreateStage without members: %+v tokens %v", bare.Stage, bare.ParticipantTokens)
	}

	got := sdk(c.GetStage(ctx, &ivsrealtime.GetStageInput{Arn: st.Arn})).must(t, "GetStage").Stage
	if aws.ToString(got.Arn) != *st.Arn || aws.ToString(got.Name) != "stage-1" || !equalTags(got.Tags, st.Tags) || aws.ToString(got.ActiveSessionId) != "" {
		t.Errorf("GetStage: %+v", got)
	}
	checkEndpoints(t, "GetStage", s, got.Endpoints)
	checkDefaultRecording(t, "GetStage", got.AutoParticipantRecordingConfiguration, "")

	ls := sdk(c.ListStages(ctx, &ivsrealtime.ListStagesInput{})).must(t, "ListStages")
	if len(ls.Stages) != 2 || ls.NextToken != nil || aws.ToString(ls.Stages[0].Arn) != *st.Arn || aws.ToString(ls.Stages[1].Arn) != *bare.Stage.Arn ||
		aws.ToString(ls.Stages[0].Name) != "stage-1" || !equalTags(ls.Stages[0].Tags, st.Tags) || ls.Stages[1].Tags == nil ||
		ls.Stages[0].ActiveSessionId == nil || *ls.Stages[0].ActiveSessionId != "" {
		t.Errorf("ListStages: %+v next %v", ls.Stages, ls.NextToken)
	}

	// Individual participant recording: a storage configuration of the caller's, defaults filled in; "" resets.
	sc := sdk(c.CreateStorageConfiguration(ctx, &ivsrealtime.CreateStorageConfigurationInput{
		S3: &rttypes.S3StorageConfiguration{BucketName: aws.String("recordings")}})).must(t, "CreateStorageConfiguration").StorageConfiguration
	up := sdk(c.UpdateStage(ctx, &ivsrealtime.UpdateStageInput{Arn: st.Arn, Name: aws.String("renamed"),
		AutoParticipantRecordingConfiguration: &rttypes.AutoParticipantRecordingConfiguration{StorageConfigurationArn: sc.Arn}})).must(t, "UpdateStage").Stage
	if aws.ToString(up.Name) != "renamed" || !equalTags(up.Tags, st.Tags) {
		t.Errorf("UpdateStage: %+v", up)
	}
	checkDefaultRecording(t, "UpdateStage with a storage configuration", up.AutoParticipantRecordingConfiguration, *sc.Arn)
	checkEndpoints(t, "UpdateStage", s, up.Endpoints)
	custom := sdk(c.UpdateStage(ctx, &ivsrealtime.UpdateStageInput{Arn: st.Arn,
		AutoParticipantRecordingConfiguration: &rttypes.AutoParticipantRecordingConfiguration{StorageConfigurationArn: sc.Arn,
			MediaTypes: []rttypes.ParticipantRecordingMediaType{rttypes.ParticipantRecordingMediaTypeAudioOnly}, RecordingReconnectWindowSeconds: 30,
			ThumbnailConfiguration: &rttypes.ParticipantThumbnailConfiguration{RecordingMode: rttypes.ThumbnailRecordingModeInterval, TargetIntervalSeconds: aws.Int32(10)},
			HlsConfiguration:       &rttypes.ParticipantRecordingHlsConfiguration{TargetSegmentDurationSeconds: aws.Int32(2)}}})).must(t, "UpdateStage (custom recording)").Stage
	r := custom.AutoParticipantRecordingConfiguration
	if aws.ToString(custom.Name) != "renamed" || r.MediaTypes[0] != rttypes.ParticipantRecordingMediaTypeAudioOnly || r.RecordingReconnectWindowSeconds != 30 ||
		r.ThumbnailConfiguration.RecordingMode != rttypes.ThumbnailRecordingModeInterval || aws.ToInt32(r.ThumbnailConfiguration.TargetIntervalSeconds) != 10 ||
		!slices.Equal(r.ThumbnailConfiguration.Storage, []rttypes.ThumbnailStorageType{rttypes.ThumbnailStorageTypeSequential}) ||
		aws.ToInt32(r.HlsConfiguration.TargetSegmentDurationSeconds) != 2 || !r.RecordParticipantReplicas {
		t.Errorf("UpdateStage with a custom recording configuration: %+v", r)
	}
	_, err := c.DeleteStorageConfiguration(ctx, &ivsrealtime.DeleteStorageConfigurationInput{Arn: sc.Arn})
	rtConflict(t, "DeleteStorageConfiguration used by a stage", err)
	reset := sdk(c.UpdateStage(ctx, &ivsrealtime.UpdateStageInput{Arn: st.Arn,
		AutoParticipantRecordingConfiguration: &rttypes.AutoParticipantRecordingConfiguration{StorageConfigurationArn: aws.String(""),
			MediaTypes: []rttypes.ParticipantRecordingMediaType{rttypes.ParticipantRecordingMediaTypeAudioOnly}}})).must(t, "UpdateStage (recording off)").Stage
	checkDefaultRecording(t, "UpdateStage with storageConfigurationArn \"\"", reset.AutoParticipantRecordingConfiguration, "")
	withRec := sdk(c.CreateStage(ctx, &ivsrealtime.CreateStageInput{AutoParticipantRecordingConfiguration: &rttypes.AutoParticipantRecordingConfiguration{
		StorageConfigurationArn: sc.Arn}})).must(t, "CreateStage with recording").Stage
	checkDefaultRecording(t, "CreateStage with recording", withRec.AutoParticipantRecordingConfiguration, *sc.Arn)
	sdk(c.DeleteStage(ctx, &ivsrealtime.DeleteStageInput{Arn: withRec.Arn})).must(t, "DeleteStage")
	sdk(c.DeleteStorageConfiguration(ctx, &ivsrealtime.DeleteStorageConfigurationInput{Arn: sc.Arn})).must(t, "DeleteStorageConfiguration once unused")

	// Errors.
	missingSC := unknownARN("storage-configuration")
	_, err = c.CreateStage(ctx, &ivsrealtime.CreateStageInput{AutoParticipantRecordingConfiguration: &rttypes.AutoParticipantRecordingConfiguration{
		StorageConfigurationArn: aws.String(missingSC)}})
	rtValidation(t, "CreateStage with a storage configuration that does not exist", err)
	_, err = c.UpdateStage(ctx, &ivsrealtime.UpdateStageInput{Arn: st.Arn, AutoParticipantRecordingConfiguration: &rttypes.AutoParticipantRecordingConfiguration{
		StorageConfigurationArn: aws.String(missingSC)}})
	rtNotFound(t, "UpdateStage with a storage configuration that does not exist", err)
	_, err = c.UpdateStage(ctx, &ivsrealtime.UpdateStageInput{Arn: aws.String(unknownARN("stage")), Name: aws.String("x")})
	rtNotFound(t, "UpdateStage of a stage that does not exist", err)
	_, err = c.UpdateStage(ctx, &ivsrealtime.UpdateStageInput{Arn: st.Arn, Name: aws.String("bad name")})
	rtValidation(t, "UpdateStage with a bad name", err)
	thirteen := make([]rttypes.ParticipantTokenConfiguration, 13)
	_, err = c.CreateStage(ctx, &ivsrealtime.CreateStageInput{ParticipantTokenConfigurations: thirteen})
	rtValidation(t, "CreateStage with 13 participant token configurations", err)
	sdk(c.CreateStage(ctx, &ivsrealtime.CreateStageInput{ParticipantTokenConfigurations: thirteen[:12]})).must(t, "CreateStage with 12 token configurations")
	_, err = c.CreateStage(ctx, &ivsrealtime.CreateStageInput{ParticipantTokenConfigurations: []rttypes.ParticipantTokenConfiguration{
		{Attributes: map[string]string{"k": strings.Repeat("v", 1024)}}}})
	rtValidation(t, "CreateStage with token attributes over 1 KB", err)
	_, err = c.CreateStage(ctx, &ivsrealtime.CreateStageInput{ParticipantTokenConfigurations: []rttypes.ParticipantTokenConfiguration{{Duration: aws.Int32(20161)}}})
	rtValidation(t, "CreateStage with a token duration over 20160", err)
	_, err = c.CreateStage(ctx, &ivsrealtime.CreateStageInput{Tags: map[string]string{"aws:x": "y"}})
	rtValidation(t, "CreateStage with an aws: tag", err)
	_, err = c.CreateStage(ctx, &ivsrealtime.CreateStageInput{Tags: numberedTags(0, 51)})
	rtValidation(t, "CreateStage with 51 tags", err)
	_, err = c.GetStage(ctx, &ivsrealtime.GetStageInput{Arn: aws.String("arn:aws:ivs:us-west-2:111111111111:channel/abcdABCD1234")})
	rtValidation(t, "GetStage of a channel ARN", err)

	// DeleteStage detaches the ingest configurations that point at it.
	ic := sdk(c.CreateIngestConfiguration(ctx, &ivsrealtime.CreateIngestConfigurationInput{IngestProtocol: rttypes.IngestProtocolRtmps,
		StageArn: st.Arn})).must(t, "CreateIngestConfiguration").IngestConfiguration
	sdk(c.DeleteStage(ctx, &ivsrealtime.DeleteStageInput{Arn: st.Arn})).must(t, "DeleteStage")
	_, err = c.GetStage(ctx, &ivsrealtime.GetStageInput{Arn: st.Arn})
	rtNotFound(t, "GetStage after DeleteStage", err)
	_, err = c.DeleteStage(ctx, &ivsrealtime.DeleteStageInput{Arn: st.Arn})
	rtNotFound(t, "DeleteStage twice", err)
	_, err = c.UpdateStage(ctx, &ivsrealtime.UpdateStageInput{Arn: st.Arn, Name: aws.String("x")})
	rtNotFound(t, "UpdateStage after DeleteStage", err)
	if g := sdk(c.GetIngestConfiguration(ctx, &ivsrealtime.GetIngestConfigurationInput{Arn: ic.Arn})).must(t, "GetIngestConfiguration").IngestConfiguration; aws.ToString(g.StageArn) != "" {
		t.Errorf("ingest configuration of a deleted stage has stageArn %q, want \"\"", aws.ToString(g.StageArn))
	}

	// Another account's stage is refused, another region's is not found.
	f := createRTForeign(t, s)
	_, err = c.GetStage(ctx, &ivsrealtime.GetStageInput{Arn: &f.Stage})
	rtAccessDenied(t, "GetStage of another account's stage", err)
	_, err = c.UpdateStage(ctx, &ivsrealtime.UpdateStageInput{Arn: &f.Stage, Name: aws.String("x")})
	rtAccessDenied(t, "UpdateStage of another account's stage", err)
	_, err = c.DeleteStage(ctx, &ivsrealtime.DeleteStageInput{Arn: &f.Stage})
	rtAccessDenied(t, "DeleteStage of another account's stage", err)
	_, err = c.CreateParticipantToken(ctx, &ivsrealtime.CreateParticipantTokenInput{StageArn: &f.Stage})
	rtAccessDenied(t, "CreateParticipantToken for another account's stage", err)
	_, err = c.UpdateStage(ctx, &ivsrealtime.UpdateStageInput{Arn: bare.Stage.Arn, AutoParticipantRecordingConfiguration: &rttypes.AutoParticipantRecordingConfiguration{
		StorageConfigurationArn: &f.StorageConfiguration}})
	rtAccessDenied(t, "UpdateStage with another account's storage configuration", err)
	eu := realtimeClient(s, Credential{}, "eu-west-1")
	_, err = eu.GetStage(ctx, &ivsrealtime.GetStageInput{Arn: bare.Stage.Arn})
	rtNotFound(t, "GetStage of a us-west-2 stage from eu-west-1", err)
	if g := sdk(realtimeClient(s, SecondCredential, "").GetStage(ctx, &ivsrealtime.GetStageInput{Arn: &f.Stage})).must(t, "GetStage (account 2)"); aws.ToString(g.Stage.Name) != "foreign" {
		t.Errorf("GetStage (account 2): %+v", g.Stage)
	}
}

// TestRealtimeParticipantTokens covers CreateParticipantToken: defaults, bounds of duration and attributes,
// capabilities, and its errors.
func TestRealtimeParticipantTokens(t *testing.T) {
	t.Parallel()
	s := Start(t, Options{})
	c := realtimeClient(s, Credential{}, "")
	ctx := Ctx(t)
	st := sdk(c.CreateStage(ctx, &ivsrealtime.CreateStageInput{})).must(t, "CreateStage").Stage

	issued := time.Now()
	def := sdk(c.CreateParticipantToken(ctx, &ivsrealtime.CreateParticipantTokenInput{StageArn: st.Arn})).must(t, "CreateParticipantToken").ParticipantToken
	checkToken(t, "CreateParticipantToken with defaults", s, *def, *st.Arn, 720, bothCaps, issued)
	if def.UserId != nil || len(def.Attributes) != 0 {
		t.Errorf("CreateParticipantToken with defaults: userId %v attributes %v", def.UserId, def.Attributes)
	}
	full := sdk(c.CreateParticipantToken(ctx, &ivsrealtime.CreateParticipantTokenInput{StageArn: st.Arn, Duration: aws.Int32(20160),
		UserId: aws.String("ü-bob"), Attributes: map[string]string{"a": strings.Repeat("x", 1023)},
		Capabilities: []rttypes.ParticipantTokenCapability{rttypes.ParticipantTokenCapabilitySubscribe, rttypes.ParticipantTokenCapabilitySubscribe}})).must(t, "CreateParticipantToken (maximums)").ParticipantToken
	checkToken(t, "CreateParticipantToken (maximums)", s, *full, *st.Arn, 20160, []rttypes.ParticipantTokenCapability{rttypes.ParticipantTokenCapabilitySubscribe}, issued)
	if aws.ToString(full.UserId) != "ü-bob" || len(full.Attributes["a"]) != 1023 {
		t.Errorf("CreateParticipantToken (maximums): %+v", full)
	}
	one := sdk(c.CreateParticipantToken(ctx, &ivsrealtime.CreateParticipantTokenInput{StageArn: st.Arn, Duration: aws.Int32(1),
		Capabilities: []rttypes.ParticipantTokenCapability{}})).must(t, "CreateParticipantToken (1 minute, no capabilities)").ParticipantToken
	checkToken(t, "CreateParticipantToken (1 minute, no capabilities)", s, *one, *st.Arn, 1, []rttypes.ParticipantTokenCapability{}, issued)
	if aws.ToString(def.ParticipantId) == aws.ToString(full.ParticipantId) {
		t.Error("two tokens with one participant id")
	}

	for _, tc := range []struct {
		what string
		in   ivsrealtime.CreateParticipantTokenInput
	}{
		{"duration 0", ivsrealtime.CreateParticipantTokenInput{Duration: aws.Int32(0)}},
		{"duration 20161", ivsrealtime.CreateParticipantTokenInput{Duration: aws.Int32(20161)}},
		{"attributes of 1025 bytes", ivsrealtime.CreateParticipantTokenInput{Attributes: map[string]string{"ab": strings.Repeat("x", 1023)}}},
		{"attributes of 1025 bytes in many entries", ivsrealtime.CreateParticipantTokenInput{Attributes: attributesOf1025Bytes()}},
		{"userId of 129 characters", ivsrealtime.CreateParticipantTokenInput{UserId: aws.String(strings.Repeat("u", 129))}},
		{"an unknown capability", ivsrealtime.CreateParticipantTokenInput{Capabilities: []rttypes.ParticipantTokenCapability{"ADMIN"}}},
		{"three capabilities", ivsrealtime.CreateParticipantTokenInput{Capabilities: append(bothCaps, rttypes.ParticipantTokenCapabilityPublish)}},
	} {
		in := tc.in
		in.StageArn = st.Arn
		_, err := c.CreateParticipantToken(ctx, &in)
		rtValidation(t, "CreateParticipantToken with "+tc.what, err)
	}
	_, err := c.CreateParticipantToken(ctx, &ivsrealtime.CreateParticipantTokenInput{StageArn: aws.String(unknownARN("stage"))})
	rtNotFound(t, "CreateParticipantToken for a stage that does not exist", err)
	_, err = c.CreateParticipantToken(ctx, &ivsrealtime.CreateParticipantTokenInput{StageArn: aws.String("arn:aws:ivs:us-west-2:111111111111:stage/")})
	rtValidation(t, "CreateParticipantToken with a malformed stage ARN", err)
	_, err = realtimeClient(s, Credential{}, "eu-west-1").CreateParticipantToken(ctx, &ivsrealtime.CreateParticipantTokenInput{StageArn: st.Arn})
	rtNotFound(t, "CreateParticipantToken from another region", err)
}

// attributesOf1025Bytes returns 41 attributes of 25 bytes each (a 3-byte key and a 22-byte value).
func attributesOf1025Bytes() map[string]string {
	m := map[string]string{}
	for i := 0; i < 41; i++ {
		m[fmt.Sprintf("k%02d", i)] = strings.Repeat("v", 22)
	}
	return m
}
