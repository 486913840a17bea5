package e2e

import (
	"errors"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/service/ivsrealtime"
	rttypes "github.com/aws/aws-sdk-go-v2/service/ivsrealtime/types"
	"github.com/aws/smithy-go"
)

// TestRealtimeSessionsOfAnUnjoinedStage: without a media server nobody joins a stage, and the session operations
// say so truthfully: no sessions, no participants, no events, 404s for what cannot exist. DisconnectParticipant
// works on a stage nobody joined (it refuses the participant's token from then on).
func TestRealtimeSessionsOfAnUnjoinedStage(t *testing.T) {
	t.Parallel()
	s := Start(t, Options{})
	c := realtimeClient(s, Credential{}, "")
	ctx := Ctx(t)
	st := sdk(c.CreateStage(ctx, &ivsrealtime.CreateStageInput{ParticipantTokenConfigurations: []rttypes.ParticipantTokenConfiguration{{}}})).must(t, "CreateStage")
	stage := st.Stage.Arn
	pid := st.ParticipantTokens[0].ParticipantId
	const session = "st-a1b2c3d4e5f6g"

	ls := sdk(c.ListStageSessions(ctx, &ivsrealtime.ListStageSessionsInput{StageArn: stage})).must(t, "ListStageSessions")
	if ls.StageSessions == nil || len(ls.StageSessions) != 0 || ls.NextToken != nil {
		t.Errorf("ListStageSessions: %+v", ls)
	}
	_, err := c.GetStageSession(ctx, &ivsrealtime.GetStageSessionInput{StageArn: stage, SessionId: aws.String(session)})
	rtNotFound(t, "GetStageSession", err)
	lp := sdk(c.ListParticipants(ctx, &ivsrealtime.ListParticipantsInput{StageArn: stage, SessionId: aws.String(session)})).must(t, "ListParticipants")
	if lp.Participants == nil || len(lp.Participants) != 0 || lp.NextToken != nil {
		t.Errorf("ListParticipants: %+v", lp)
	}
	lp = sdk(c.ListParticipants(ctx, &ivsrealtime.ListParticipantsInput{StageArn: stage, SessionId: aws.String(session),
		FilterByState: rttypes.ParticipantStateConnected})).must(t, "ListParticipants (one filter)")
	if len(lp.Participants) != 0 {
		t.Errorf("ListParticipants (one filter): %+v", lp.Participants)
	}
	for _, in := range []ivsrealtime.ListParticipantsInput{
		{FilterByUserId: aws.String("u"), FilterByPublished: true},
		{FilterByState: rttypes.ParticipantStateConnected, FilterByRecordingState: rttypes.ParticipantRecordingFilterByRecordingStateActive},
		{FilterByPublished: true, FilterByState: rttypes.ParticipantStateDisconnected},
	} {
		in.StageArn, in.SessionId = stage, aws.String(session)
		_, err := c.ListParticipants(ctx, &in)
		rtValidation(t, "ListParticipants with two filters", err)
	}
	_, err = c.GetParticipant(ctx, &ivsrealtime.GetParticipantInput{StageArn: stage, SessionId: aws.String(session), ParticipantId: pid})
	rtNotFound(t, "GetParticipant", err)
	le := sdk(c.ListParticipantEvents(ctx, &ivsrealtime.ListParticipantEventsInput{StageArn: stage, SessionId: aws.String(session),
		ParticipantId: pid})).must(t, "ListParticipantEvents")
	if le.Events == nil || len(le.Events) != 0 || le.NextToken != nil {
		t.Errorf("ListParticipantEvents: %+v", le)
	}
	sdk(c.DisconnectParticipant(ctx, &ivsrealtime.DisconnectParticipantInput{StageArn: stage, ParticipantId: pid, Reason: aws.String("bye")})).must(t, "DisconnectParticipant")
	sdk(c.DisconnectParticipant(ctx, &ivsrealtime.DisconnectParticipantInput{StageArn: stage, ParticipantId: pid})).must(t, "DisconnectParticipant twice")

	// A stage that does not exist: the Get and Disconnect operations are 404s; the List operations, which model
	// no ResourceNotFoundException, have nothing to list.
	missing := aws.String(unknownARN("stage"))
	_, err = c.GetStageSession(ctx, &ivsrealtime.GetStageSessionInput{StageArn: missing, SessionId: aws.String(session)})
	rtNotFound(t, "GetStageSession of a stage that does not exist", err)
	_, err = c.GetParticipant(ctx, &ivsrealtime.GetParticipantInput{StageArn: missing, SessionId: aws.String(session), ParticipantId: pid})
	rtNotFound(t, "GetParticipant of a stage that does not exist", err)
	_, err = c.DisconnectParticipant(ctx, &ivsrealtime.DisconnectParticipantInput{StageArn: missing, ParticipantId: pid})
	rtNotFound(t, "DisconnectParticipant on a stage that does not exist", err)
	if out := sdk(c.ListStageSessions(ctx, &ivsrealtime.ListStageSessionsInput{StageArn: missing})).must(t, "ListStageSessions of a stage that does not exist"); len(out.StageSessions) != 0 {
		t.Errorf("ListStageSessions of a stage that does not exist: %+v", out.StageSessions)
	}
	if out := sdk(c.ListParticipants(ctx, &ivsrealtime.ListParticipantsInput{StageArn: missing, SessionId: aws.String(session)})).must(t, "ListParticipants of a stage that does not exist"); len(out.Participants) != 0 {
		t.Errorf("ListParticipants of a stage that does not exist: %+v", out.Participants)
	}

	// Another account's stage is refused everywhere.
	f := createRTForeign(t, s)
	_, err = c.ListStageSessions(ctx, &ivsrealtime.ListStageSessionsInput{StageArn: &f.Stage})
	rtAccessDenied(t, "ListStageSessions of another account's stage", err)
	_, err = c.GetStageSession(ctx, &ivsrealtime.GetStageSessionInput{StageArn: &f.Stage, SessionId: aws.String(session)})
	rtAccessDenied(t, "GetStageSession of another account's stage", err)
	_, err = c.ListParticipants(ctx, &ivsrealtime.ListParticipantsInput{StageArn: &f.Stage, SessionId: aws.String(session)})
	rtAccessDenied(t, "ListParticipants of another account's stage", err)
	_, err = c.GetParticipant(ctx, &ivsrealtime.GetParticipantInput{StageArn: &f.Stage, SessionId: aws.String(session), ParticipantId: pid})
	rtAccessDenied(t, "GetParticipant of another account's stage", err)
	_, err = c.ListParticipantEvents(ctx, &ivsrealtime.ListParticipantEventsInput{StageArn: &f.Stage, SessionId: aws.String(session), ParticipantId: pid})
	rtAccessDenied(t, "ListParticipantEvents of another account's stage", err)
	_, err = c.DisconnectParticipant(ctx, &ivsrealtime.DisconnectParticipantInput{StageArn: &f.Stage, ParticipantId: pid})
	rtAccessDenied(t, "DisconnectParticipant on another account's stage", err)

	// Model constraints.
	_, err = c.GetStageSession(ctx, &ivsrealtime.GetStageSessionInput{StageArn: stage, SessionId: aws.String("st-short")})
	rtValidation(t, "GetStageSession with a session id of 8 characters", err)
	_, err = c.ListStageSessions(ctx, &ivsrealtime.ListStageSessionsInput{StageArn: stage, MaxResults: aws.Int32(101)})
	rtValidation(t, "ListStageSessions with maxResults 101", err)
	_, err = c.ListStageSessions(ctx, &ivsrealtime.ListStageSessionsInput{StageArn: stage, NextToken: aws.String("bm90IGEgdG9rZW4")})
	rtValidation(t, "ListStageSessions with a forged nextToken", err)
	_, err = c.DisconnectParticipant(ctx, &ivsrealtime.DisconnectParticipantInput{StageArn: stage, ParticipantId: pid, Reason: aws.String(strings.Repeat("r", 129))})
	rtValidation(t, "DisconnectParticipant with a reason of 129 characters", err)
}

// TestRealtimeCompositionsAndReplicationNotServed: the operations that need the stage media server do not pretend:
// lists are empty, Get and Stop find nothing, Start answers 501 NotImplemented naming the operation.
func TestRealtimeCompositionsAndReplicationNotServed(t *testing.T) {
	t.Parallel()
	s := Start(t, Options{})
	c := realtimeClient(s, Credential{}, "")
	ctx := Ctx(t)
	st := sdk(c.CreateStage(ctx, &ivsrealtime.CreateStageInput{})).must(t, "CreateStage").Stage
	st2 := sdk(c.CreateStage(ctx, &ivsrealtime.CreateStageInput{})).must(t, "CreateStage").Stage
	ch := sdk(s.IVS(Credential{}, "").CreateChannel(ctx, nil)).must(t, "CreateChannel").Channel

	lc := sdk(c.ListCompositions(ctx, &ivsrealtime.ListCompositionsInput{})).must(t, "ListCompositions")
	if lc.Compositions == nil || len(lc.Compositions) != 0 || lc.NextToken != nil {
		t.Errorf("ListCompositions: %+v", lc)
	}
	lc = sdk(c.ListCompositions(ctx, &ivsrealtime.ListCompositionsInput{FilterByStageArn: st.Arn})).must(t, "ListCompositions by stage")
	if len(lc.Compositions) != 0 {
		t.Errorf("ListCompositions by stage: %+v", lc.Compositions)
	}
	lr := sdk(c.ListParticipantReplicas(ctx, &ivsrealtime.ListParticipantReplicasInput{SourceStageArn: st.Arn, ParticipantId: aws.String("abcdABCD1234")})).must(t, "ListParticipantReplicas")
	if lr.Replicas == nil || len(lr.Replicas) != 0 || lr.NextToken != nil {
		t.Errorf("ListParticipantReplicas: %+v", lr)
	}
	comp := aws.String(unknownARN("composition"))
	_, err := c.GetComposition(ctx, &ivsrealtime.GetCompositionInput{Arn: comp})
	rtNotFound(t, "GetComposition", err)
	_, err = c.StopComposition(ctx, &ivsrealtime.StopCompositionInput{Arn: comp})
	rtNotFound(t, "StopComposition", err)
	_, err = c.StopParticipantReplication(ctx, &ivsrealtime.StopParticipantReplicationInput{SourceStageArn: st.Arn,
		DestinationStageArn: st2.Arn, ParticipantId: aws.String("abcdABCD1234")})
	rtNotFound(t, "StopParticipantReplication", err)

	notImplemented := func(op string, err error) {
		t.Helper()
		var ae smithy.APIError
		var re *awshttp.ResponseError
		if !errors.As(err, &ae) || ae.ErrorCode() != "NotImplemented" || !strings.Contains(ae.ErrorMessage(), op) ||
			!errors.As(err, &re) || re.HTTPStatusCode() != 501 {
			t.Errorf("%s: %v, want HTTP 501 NotImplemented naming the operation", op, err)
		}
	}
	_, err = c.StartComposition(ctx, &ivsrealtime.StartCompositionInput{StageArn: st.Arn,
		Destinations: []rttypes.DestinationConfiguration{{Channel: &rttypes.ChannelDestinationConfiguration{ChannelArn: ch.Arn}}}})
	notImplemented("StartComposition", err)
	_, err = c.StartParticipantReplication(ctx, &ivsrealtime.StartParticipantReplicationInput{SourceStageArn: st.Arn,
		DestinationStageArn: st2.Arn, ParticipantId: aws.String("abcdABCD1234")})
	notImplemented("StartParticipantReplication", err)
	// Validation still comes first.
	_, err = c.StartComposition(ctx, &ivsrealtime.StartCompositionInput{StageArn: st.Arn, Destinations: []rttypes.DestinationConfiguration{}})
	rtValidation(t, "StartComposition without destinations", err)

	f := createRTForeign(t, s)
	_, err = c.GetComposition(ctx, &ivsrealtime.GetCompositionInput{Arn: aws.String(strings.Replace(*comp, "111111111111", "222222222222", 1))})
	rtAccessDenied(t, "GetComposition of another account's", err)
	_, err = c.ListParticipantReplicas(ctx, &ivsrealtime.ListParticipantReplicasInput{SourceStageArn: &f.Stage, ParticipantId: aws.String("abcdABCD1234")})
	rtAccessDenied(t, "ListParticipantReplicas of another account's stage", err)
}

// TestRealtimeSigV4: with --auth sigv4 the ivs-realtime client's signatures (signing name "ivs", as IVS's model
// says) are verified like the low-latency API's; each key acts in its own account, a bad secret is refused.
func TestRealtimeSigV4(t *testing.T) {
	t.Parallel()
	s := Start(t, Options{Auth: "sigv4"})
	ctx := Ctx(t)
	st := sdk(realtimeClient(s, Credential{}, "").CreateStage(ctx, &ivsrealtime.CreateStageInput{})).must(t, "CreateStage (signed)").Stage
	checkARN(t, "CreateStage (signed)", st.Arn, "us-west-2", DefaultCredential.AccountID, "stage")
	_, err := realtimeClient(s, SecondCredential, "").GetStage(ctx, &ivsrealtime.GetStageInput{Arn: st.Arn})
	rtAccessDenied(t, "GetStage of account 1's stage signed by account 2", err)
	bad := Credential{AccessKeyID: DefaultCredential.AccessKeyID, SecretAccessKey: "wrong", AccountID: DefaultCredential.AccountID}
	_, err = realtimeClient(s, bad, "").ListStages(ctx, &ivsrealtime.ListStagesInput{})
	if code, status := apiErr(t, err); code != "InvalidSignatureException" || status != 403 {
		t.Errorf("ListStages with a wrong secret: %s %d, want InvalidSignatureException 403", code, status)
	}
}
