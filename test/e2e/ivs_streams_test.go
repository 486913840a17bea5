package e2e

import (
	"errors"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ivs"
	"github.com/aws/aws-sdk-go-v2/service/ivs/types"
)

// TestIVSStreamsOffline covers GetStream, ListStreams, StopStream, PutMetadata, InsertAdBreak, GetStreamSession and
// ListStreamSessions while no channel is live, which is all this server has until ingest exists.
func TestIVSStreamsOffline(t *testing.T) {
	t.Parallel()
	s := Start(t, Options{})
	c := s.IVS(Credential{}, "")
	ctx := Ctx(t)
	foreign := createForeignResources(t, s)

	ad := sdk(c.CreateAdConfiguration(ctx, &ivs.CreateAdConfigurationInput{
		MediaTailorPlaybackConfigurations: []types.MediaTailorPlaybackConfiguration{{PlaybackConfigurationArn: aws.String(mediaTailorARN("ads"))}}})).must(t, "CreateAdConfiguration")
	plain := *sdk(c.CreateChannel(ctx, &ivs.CreateChannelInput{Name: aws.String("plain")})).must(t, "CreateChannel").Channel.Arn
	withAds := *sdk(c.CreateChannel(ctx, &ivs.CreateChannelInput{Name: aws.String("ads"), AdConfigurationArn: ad.AdConfiguration.Arn})).must(t, "CreateChannel with ads").Channel.Arn
	unknown := unknownARN("channel")

	// GetStream.
	_, err := c.GetStream(ctx, &ivs.GetStreamInput{ChannelArn: aws.String(plain)})
	wantNotBroadcasting(t, "GetStream offline", err)
	var rnf *types.ResourceNotFoundException
	if err != nil && errors.As(err, &rnf) {
		t.Errorf("GetStream offline answered ResourceNotFoundException; a user's code tells the two 404s apart by type")
	}
	_, err = c.GetStream(ctx, &ivs.GetStreamInput{ChannelArn: aws.String(unknown)})
	wantNotFound(t, "GetStream unknown channel", err)
	_, err = c.GetStream(ctx, &ivs.GetStreamInput{ChannelArn: aws.String(foreign.Channel)})
	wantAccessDenied(t, "GetStream of account 2", err)
	_, err = c.GetStream(ctx, &ivs.GetStreamInput{ChannelArn: aws.String("channel/x")})
	wantValidation(t, "GetStream channelArn pattern", err)

	// StopStream.
	_, err = c.StopStream(ctx, &ivs.StopStreamInput{ChannelArn: aws.String(plain)})
	wantNotBroadcasting(t, "StopStream offline", err)
	_, err = c.StopStream(ctx, &ivs.StopStreamInput{ChannelArn: aws.String(unknown)})
	wantNotFound(t, "StopStream unknown channel", err)
	_, err = c.StopStream(ctx, &ivs.StopStreamInput{ChannelArn: aws.String(foreign.Channel)})
	wantAccessDenied(t, "StopStream of account 2", err)

	// PutMetadata: the size limit is 1 KB.
	_, err = c.PutMetadata(ctx, &ivs.PutMetadataInput{ChannelArn: aws.String(plain), Metadata: aws.String(strings.Repeat("m", 1024))})
	wantNotBroadcasting(t, "PutMetadata of 1024 bytes offline", err)
	_, err = c.PutMetadata(ctx, &ivs.PutMetadataInput{ChannelArn: aws.String(plain), Metadata: aws.String(strings.Repeat("m", 1025))})
	wantValidation(t, "PutMetadata of 1025 bytes", err)
	_, err = c.PutMetadata(ctx, &ivs.PutMetadataInput{ChannelArn: aws.String(plain), Metadata: aws.String(strings.Repeat("é", 513))})
	wantValidation(t, "PutMetadata of 1026 UTF-8 bytes", err)
	_, err = c.PutMetadata(ctx, &ivs.PutMetadataInput{ChannelArn: aws.String(plain), Metadata: aws.String("")})
	wantValidation(t, "PutMetadata empty", err)
	_, err = c.PutMetadata(ctx, &ivs.PutMetadataInput{ChannelArn: aws.String(unknown), Metadata: aws.String("m")})
	wantNotFound(t, "PutMetadata unknown channel", err)
	_, err = c.PutMetadata(ctx, &ivs.PutMetadataInput{ChannelArn: aws.String(foreign.Channel), Metadata: aws.String("m")})
	wantAccessDenied(t, "PutMetadata of account 2", err)

	// InsertAdBreak: needs an ad configuration, then a live stream.
	_, err = c.InsertAdBreak(ctx, &ivs.InsertAdBreakInput{ChannelArn: aws.String(plain), DurationSeconds: aws.Int32(30)})
	wantConflict(t, "InsertAdBreak without ad configuration", err)
	_, err = c.InsertAdBreak(ctx, &ivs.InsertAdBreakInput{ChannelArn: aws.String(withAds), DurationSeconds: aws.Int32(30)})
	wantNotBroadcasting(t, "InsertAdBreak offline", err)
	for _, d := range []int32{0, 301} {
		_, err = c.InsertAdBreak(ctx, &ivs.InsertAdBreakInput{ChannelArn: aws.String(withAds), DurationSeconds: aws.Int32(d)})
		wantValidation(t, "InsertAdBreak durationSeconds out of 1-300", err)
	}
	_, err = c.InsertAdBreak(ctx, &ivs.InsertAdBreakInput{ChannelArn: aws.String(unknown), DurationSeconds: aws.Int32(30)})
	wantNotFound(t, "InsertAdBreak unknown channel", err)
	_, err = c.InsertAdBreak(ctx, &ivs.InsertAdBreakInput{ChannelArn: aws.String(foreign.Channel), DurationSeconds: aws.Int32(30)})
	wantAccessDenied(t, "InsertAdBreak of account 2", err)

	// ListStreams: no live stream, one empty page, with or without a filter, and with the SDK's paginator.
	for _, in := range []*ivs.ListStreamsInput{{}, {FilterBy: &types.StreamFilters{Health: types.StreamHealthStreamHealthy}}, {MaxResults: aws.Int32(1)}} {
		ls := sdk(c.ListStreams(ctx, in)).must(t, "ListStreams")
		if ls.Streams == nil || len(ls.Streams) != 0 || ls.NextToken != nil {
			t.Errorf("ListStreams %+v: %+v, want an empty list and no nextToken", in, ls)
		}
	}
	pages := 0
	for p := ivs.NewListStreamsPaginator(c, &ivs.ListStreamsInput{}); p.HasMorePages(); pages++ {
		if out := sdk(p.NextPage(ctx)).must(t, "ListStreams paginator"); len(out.Streams) != 0 {
			t.Errorf("ListStreams paginator: %+v", out.Streams)
		}
	}
	if pages != 1 {
		t.Errorf("ListStreams paginator fetched %d pages, want 1", pages)
	}
	_, err = c.ListStreams(ctx, &ivs.ListStreamsInput{NextToken: aws.String("garbled")})
	wantValidation(t, "ListStreams garbled nextToken", err)
	_, err = c.ListStreams(ctx, &ivs.ListStreamsInput{NextToken: aws.String("not a token!")})
	wantValidation(t, "ListStreams nextToken pattern", err)
	_, err = c.ListStreams(ctx, &ivs.ListStreamsInput{MaxResults: aws.Int32(101)})
	wantValidation(t, "ListStreams maxResults 101", err)
	_, err = c.ListStreams(ctx, &ivs.ListStreamsInput{FilterBy: &types.StreamFilters{Health: "SICK"}})
	wantValidation(t, "ListStreams health enum", err)

	// Stream sessions: none yet.
	_, err = c.GetStreamSession(ctx, &ivs.GetStreamSessionInput{ChannelArn: aws.String(plain)})
	wantNotFound(t, "GetStreamSession of a channel that never streamed", err)
	_, err = c.GetStreamSession(ctx, &ivs.GetStreamSessionInput{ChannelArn: aws.String(plain), StreamId: aws.String("st-1AbCdEfGhIjKlMnOpQrStUv")})
	wantNotFound(t, "GetStreamSession unknown streamId", err)
	_, err = c.GetStreamSession(ctx, &ivs.GetStreamSessionInput{ChannelArn: aws.String(plain), StreamId: aws.String("st-short")})
	wantValidation(t, "GetStreamSession streamId length", err)
	_, err = c.GetStreamSession(ctx, &ivs.GetStreamSessionInput{ChannelArn: aws.String(unknown)})
	wantNotFound(t, "GetStreamSession unknown channel", err)
	_, err = c.GetStreamSession(ctx, &ivs.GetStreamSessionInput{ChannelArn: aws.String(foreign.Channel)})
	wantAccessDenied(t, "GetStreamSession of account 2", err)
	ss := sdk(c.ListStreamSessions(ctx, &ivs.ListStreamSessionsInput{ChannelArn: aws.String(plain)})).must(t, "ListStreamSessions")
	if ss.StreamSessions == nil || len(ss.StreamSessions) != 0 || ss.NextToken != nil {
		t.Errorf("ListStreamSessions: %+v, want an empty list", ss)
	}
	pages = 0
	for p := ivs.NewListStreamSessionsPaginator(c, &ivs.ListStreamSessionsInput{ChannelArn: aws.String(plain)}); p.HasMorePages(); pages++ {
		sdk(p.NextPage(ctx)).must(t, "ListStreamSessions paginator")
	}
	if pages != 1 {
		t.Errorf("ListStreamSessions paginator fetched %d pages, want 1", pages)
	}
	_, err = c.ListStreamSessions(ctx, &ivs.ListStreamSessionsInput{ChannelArn: aws.String(plain), NextToken: aws.String("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA")})
	wantValidation(t, "ListStreamSessions forged nextToken", err)
	_, err = c.ListStreamSessions(ctx, &ivs.ListStreamSessionsInput{ChannelArn: aws.String(plain), MaxResults: aws.Int32(0)})
	wantValidation(t, "ListStreamSessions maxResults 0", err)
	_, err = c.ListStreamSessions(ctx, &ivs.ListStreamSessionsInput{ChannelArn: aws.String(unknown)})
	wantNotFound(t, "ListStreamSessions unknown channel", err)
	_, err = c.ListStreamSessions(ctx, &ivs.ListStreamSessionsInput{ChannelArn: aws.String(foreign.Channel)})
	wantAccessDenied(t, "ListStreamSessions of account 2", err)
}

// TestIVSViewerSessionRevocation covers StartViewerSessionRevocation and BatchStartViewerSessionRevocation.
func TestIVSViewerSessionRevocation(t *testing.T) {
	t.Parallel()
	s := Start(t, Options{})
	c := s.IVS(Credential{}, "")
	ctx := Ctx(t)
	foreign := createForeignResources(t, s)
	ch := *sdk(c.CreateChannel(ctx, &ivs.CreateChannelInput{Authorized: true})).must(t, "CreateChannel").Channel.Arn

	sdk(c.StartViewerSessionRevocation(ctx, &ivs.StartViewerSessionRevocationInput{ChannelArn: aws.String(ch), ViewerId: aws.String("viewer-1")})).must(t, "StartViewerSessionRevocation")
	sdk(c.StartViewerSessionRevocation(ctx, &ivs.StartViewerSessionRevocationInput{ChannelArn: aws.String(ch), ViewerId: aws.String("viewer-1"),
		ViewerSessionVersionsLessThanOrEqualTo: 5})).must(t, "StartViewerSessionRevocation version 5")
	// A lower version after a higher one is accepted (it revokes nothing more).
	sdk(c.StartViewerSessionRevocation(ctx, &ivs.StartViewerSessionRevocationInput{ChannelArn: aws.String(ch), ViewerId: aws.String("viewer-1"),
		ViewerSessionVersionsLessThanOrEqualTo: 2})).must(t, "StartViewerSessionRevocation version 2")
	sdk(c.StartViewerSessionRevocation(ctx, &ivs.StartViewerSessionRevocationInput{ChannelArn: aws.String(ch), ViewerId: aws.String(strings.Repeat("v", 40))})).must(t, "StartViewerSessionRevocation 40-char viewer")

	_, err := c.StartViewerSessionRevocation(ctx, &ivs.StartViewerSessionRevocationInput{ChannelArn: aws.String(unknownARN("channel")), ViewerId: aws.String("v")})
	wantNotFound(t, "StartViewerSessionRevocation unknown channel", err)
	_, err = c.StartViewerSessionRevocation(ctx, &ivs.StartViewerSessionRevocationInput{ChannelArn: aws.String(foreign.Channel), ViewerId: aws.String("v")})
	wantAccessDenied(t, "StartViewerSessionRevocation of account 2", err)
	_, err = c.StartViewerSessionRevocation(ctx, &ivs.StartViewerSessionRevocationInput{ChannelArn: aws.String(ch), ViewerId: aws.String(strings.Repeat("v", 41))})
	wantValidation(t, "StartViewerSessionRevocation viewerId of 41 characters", err)
	_, err = c.StartViewerSessionRevocation(ctx, &ivs.StartViewerSessionRevocationInput{ChannelArn: aws.String(ch), ViewerId: aws.String("")})
	wantValidation(t, "StartViewerSessionRevocation empty viewerId", err)
	_, err = c.StartViewerSessionRevocation(ctx, &ivs.StartViewerSessionRevocationInput{ChannelArn: aws.String(ch), ViewerId: aws.String("v"),
		ViewerSessionVersionsLessThanOrEqualTo: -1})
	wantValidation(t, "StartViewerSessionRevocation negative version", err)

	// Batch: the ones that fail are reported, the others done.
	out := sdk(c.BatchStartViewerSessionRevocation(ctx, &ivs.BatchStartViewerSessionRevocationInput{ViewerSessions: []types.BatchStartViewerSessionRevocationViewerSession{
		{ChannelArn: aws.String(ch), ViewerId: aws.String("viewer-2")},
		{ChannelArn: aws.String(unknownARN("channel")), ViewerId: aws.String("viewer-3")},
		{ChannelArn: aws.String(ch), ViewerId: aws.String("viewer-4"), ViewerSessionVersionsLessThanOrEqualTo: 9},
		{ChannelArn: aws.String(foreign.Channel), ViewerId: aws.String("viewer-5")},
	}})).must(t, "BatchStartViewerSessionRevocation")
	if len(out.Errors) != 2 {
		t.Errorf("BatchStartViewerSessionRevocation: errors %+v, want 2", out.Errors)
	}
	want := map[string]string{"viewer-3": "ResourceNotFoundException", "viewer-5": "AccessDeniedException"}
	wantChannel := map[string]string{"viewer-3": unknownARN("channel"), "viewer-5": foreign.Channel}
	for _, e := range out.Errors {
		v := aws.ToString(e.ViewerId)
		if aws.ToString(e.Code) != want[v] || aws.ToString(e.ChannelArn) != wantChannel[v] || aws.ToString(e.Message) == "" {
			t.Errorf("BatchStartViewerSessionRevocation error entry {channelArn %q viewerId %q code %q message %q}",
				aws.ToString(e.ChannelArn), v, aws.ToString(e.Code), aws.ToString(e.Message))
		}
	}
	ok := sdk(c.BatchStartViewerSessionRevocation(ctx, &ivs.BatchStartViewerSessionRevocationInput{ViewerSessions: []types.BatchStartViewerSessionRevocationViewerSession{
		{ChannelArn: aws.String(ch), ViewerId: aws.String("viewer-6")}}})).must(t, "BatchStartViewerSessionRevocation")
	if len(ok.Errors) != 0 {
		t.Errorf("BatchStartViewerSessionRevocation of a valid session: errors %+v", ok.Errors)
	}
	many := make([]types.BatchStartViewerSessionRevocationViewerSession, 21)
	for i := range many {
		many[i] = types.BatchStartViewerSessionRevocationViewerSession{ChannelArn: aws.String(ch), ViewerId: aws.String("v")}
	}
	_, err = c.BatchStartViewerSessionRevocation(ctx, &ivs.BatchStartViewerSessionRevocationInput{ViewerSessions: many})
	wantValidation(t, "BatchStartViewerSessionRevocation of 21 sessions", err)
	_, err = c.BatchStartViewerSessionRevocation(ctx, &ivs.BatchStartViewerSessionRevocationInput{ViewerSessions: []types.BatchStartViewerSessionRevocationViewerSession{
		{ChannelArn: aws.String(ch), ViewerId: aws.String(strings.Repeat("v", 41))}}})
	wantValidation(t, "BatchStartViewerSessionRevocation viewerId of 41 characters", err)
}
