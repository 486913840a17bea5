package e2e

import (
	"fmt"
	"regexp"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ivs"
	"github.com/aws/aws-sdk-go-v2/service/ivs/types"
)

// checkChannel asserts the parts of a full Channel that do not depend on its settings, and returns its id.
func checkChannel(t *testing.T, s *Server, what string, c *types.Channel, region, account string) string {
	t.Helper()
	if c == nil {
		t.Fatalf("%s: no channel in the response", what)
	}
	id := checkARN(t, what+" channel.arn", c.Arn, region, account, "channel")
	wantURL := s.URL + "/api/video/v1/" + region + "." + account + ".channel." + id + ".m3u8"
	if got := aws.ToString(c.PlaybackUrl); got != wantURL {
		t.Errorf("%s: playbackUrl %q, want %q", what, got, wantURL)
	}
	if aws.ToString(c.IngestEndpoint) == "" {
		t.Errorf("%s: empty ingestEndpoint", what)
	}
	if c.Srt == nil || aws.ToString(c.Srt.Endpoint) == "" || !reAlnum.MatchString(aws.ToString(c.Srt.Passphrase)) {
		t.Errorf("%s: srt %+v, want an endpoint and an alphanumeric passphrase", what, c.Srt)
	}
	if c.MultitrackInputConfiguration == nil {
		t.Errorf("%s: no multitrackInputConfiguration", what)
	}
	if c.Tags == nil {
		t.Errorf("%s: tags absent, want an object (empty when untagged)", what)
	}
	for name, p := range map[string]*string{"recordingConfigurationArn": c.RecordingConfigurationArn,
		"playbackRestrictionPolicyArn": c.PlaybackRestrictionPolicyArn, "adConfigurationArn": c.AdConfigurationArn, "name": c.Name} {
		if p == nil {
			t.Errorf("%s: %s absent, want a string (\"\" when unset)", what, name)
		}
	}
	return id
}

// checkStreamKey asserts a stream key with its value and returns its id.
func checkStreamKey(t *testing.T, what string, k *types.StreamKey, region, account, channelARN string) string {
	t.Helper()
	if k == nil {
		t.Fatalf("%s: no stream key in the response", what)
	}
	id := checkARN(t, what+" streamKey.arn", k.Arn, region, account, "stream-key")
	if got := aws.ToString(k.ChannelArn); got != channelARN {
		t.Errorf("%s: streamKey.channelArn %q, want %q", what, got, channelARN)
	}
	re := regexp.MustCompile(`^sk_` + regexp.QuoteMeta(region) + `_` + regexp.QuoteMeta(id) + `_[A-Za-z0-9]{30}$`)
	if v := aws.ToString(k.Value); !re.MatchString(v) {
		t.Errorf("%s: stream key value %q, want sk_%s_%s_<30 alphanumerics>", what, v, region, id)
	}
	if k.Tags == nil {
		t.Errorf("%s: stream key tags absent", what)
	}
	return id
}

func wantDefaults(t *testing.T, what string, c *types.Channel) {
	t.Helper()
	got := fmt.Sprintf("latencyMode=%s type=%s authorized=%v insecureIngest=%v containerFormat=%s preset=%q rc=%q prp=%q ad=%q",
		c.LatencyMode, c.Type, c.Authorized, c.InsecureIngest, c.ContainerFormat, c.Preset,
		aws.ToString(c.RecordingConfigurationArn), aws.ToString(c.PlaybackRestrictionPolicyArn), aws.ToString(c.AdConfigurationArn))
	want := `latencyMode=LOW type=STANDARD authorized=false insecureIngest=false containerFormat=TS preset="" rc="" prp="" ad=""`
	if got != want {
		t.Errorf("%s:\n got %s\nwant %s", what, got, want)
	}
	if m := c.MultitrackInputConfiguration; m == nil || m.Enabled || m.Policy != types.MultitrackPolicyAllow || m.MaximumResolution != types.MultitrackMaximumResolutionFullHd {
		t.Errorf("%s: multitrackInputConfiguration %+v, want {enabled false, policy ALLOW, maximumResolution FULL_HD}", what, m)
	}
}

// TestIVSChannels covers CreateChannel, GetChannel, BatchGetChannel, ListChannels, UpdateChannel and DeleteChannel.
func TestIVSChannels(t *testing.T) {
	t.Parallel()
	s := Start(t, Options{})
	c := s.IVS(Credential{}, "")
	ctx := Ctx(t)
	acct := DefaultCredential.AccountID
	foreign := createForeignResources(t, s)

	// Defaults.
	created := sdk(c.CreateChannel(ctx, &ivs.CreateChannelInput{})).must(t, "CreateChannel")
	chARN := aws.ToString(created.Channel.Arn)
	checkChannel(t, s, "CreateChannel", created.Channel, "us-west-2", acct)
	wantDefaults(t, "CreateChannel defaults", created.Channel)
	if aws.ToString(created.Channel.Name) != "" || len(created.Channel.Tags) != 0 {
		t.Errorf("CreateChannel: name %q tags %v, want \"\" and {}", aws.ToString(created.Channel.Name), created.Channel.Tags)
	}
	checkStreamKey(t, "CreateChannel", created.StreamKey, "us-west-2", acct, chARN)

	got := sdk(c.GetChannel(ctx, &ivs.GetChannelInput{Arn: aws.String(chARN)})).must(t, "GetChannel")
	checkChannel(t, s, "GetChannel", got.Channel, "us-west-2", acct)
	wantDefaults(t, "GetChannel defaults", got.Channel)
	if aws.ToString(got.Channel.Srt.Passphrase) != aws.ToString(created.Channel.Srt.Passphrase) {
		t.Errorf("GetChannel: SRT passphrase changed since CreateChannel")
	}

	// ADVANCED types default to HIGHER_BANDWIDTH_DELIVERY; CONSTRAINED can be chosen.
	for _, typ := range []types.ChannelType{types.ChannelTypeAdvancedSDChannelType, types.ChannelTypeAdvancedHDChannelType} {
		out := sdk(c.CreateChannel(ctx, &ivs.CreateChannelInput{Type: typ})).must(t, "CreateChannel "+string(typ))
		if out.Channel.Type != typ || out.Channel.Preset != types.TranscodePresetHigherBandwidthTranscodePreset {
			t.Errorf("CreateChannel %s: type %s preset %q, want preset HIGHER_BANDWIDTH_DELIVERY", typ, out.Channel.Type, out.Channel.Preset)
		}
	}
	cons := sdk(c.CreateChannel(ctx, &ivs.CreateChannelInput{
		Type: types.ChannelTypeAdvancedHDChannelType, Preset: types.TranscodePresetConstrainedBandwidthTranscodePreset})).must(t, "CreateChannel ADVANCED_HD CONSTRAINED")
	if cons.Channel.Preset != types.TranscodePresetConstrainedBandwidthTranscodePreset {
		t.Errorf("CreateChannel ADVANCED_HD with CONSTRAINED preset: preset %q", cons.Channel.Preset)
	}

	// Every setting given, configurations attached.
	rc := sdk(c.CreateRecordingConfiguration(ctx, &ivs.CreateRecordingConfigurationInput{DestinationConfiguration: testS3("rec-bucket")})).must(t, "CreateRecordingConfiguration")
	pol := sdk(c.CreatePlaybackRestrictionPolicy(ctx, &ivs.CreatePlaybackRestrictionPolicyInput{})).must(t, "CreatePlaybackRestrictionPolicy")
	ad := sdk(c.CreateAdConfiguration(ctx, &ivs.CreateAdConfigurationInput{
		MediaTailorPlaybackConfigurations: []types.MediaTailorPlaybackConfiguration{{PlaybackConfigurationArn: aws.String(mediaTailorARN("ads"))}}})).must(t, "CreateAdConfiguration")
	rcARN, polARN, adARN := *rc.RecordingConfiguration.Arn, *pol.PlaybackRestrictionPolicy.Arn, *ad.AdConfiguration.Arn
	full := sdk(c.CreateChannel(ctx, &ivs.CreateChannelInput{
		Name: aws.String("full-1"), LatencyMode: types.ChannelLatencyModeNormalLatency, Type: types.ChannelTypeStandardChannelType,
		Authorized: true, InsecureIngest: true, ContainerFormat: types.ContainerFormatFragmentedMP4,
		MultitrackInputConfiguration: &types.MultitrackInputConfiguration{Enabled: true, Policy: types.MultitrackPolicyRequire, MaximumResolution: types.MultitrackMaximumResolutionHd},
		RecordingConfigurationArn:    aws.String(rcARN), PlaybackRestrictionPolicyArn: aws.String(polARN), AdConfigurationArn: aws.String(adARN),
		Tags: map[string]string{"team": "video", "env": "test"},
	})).must(t, "CreateChannel (every member)")
	fullARN := *full.Channel.Arn
	checkChannel(t, s, "CreateChannel (every member)", full.Channel, "us-west-2", acct)
	wantFull := func(what string, ch *types.Channel, name string) {
		t.Helper()
		m := ch.MultitrackInputConfiguration
		if aws.ToString(ch.Name) != name || ch.LatencyMode != types.ChannelLatencyModeNormalLatency || ch.Type != types.ChannelTypeStandardChannelType ||
			!ch.Authorized || !ch.InsecureIngest || ch.ContainerFormat != types.ContainerFormatFragmentedMP4 || ch.Preset != "" ||
			m == nil || !m.Enabled || m.Policy != types.MultitrackPolicyRequire || m.MaximumResolution != types.MultitrackMaximumResolutionHd ||
			aws.ToString(ch.RecordingConfigurationArn) != rcARN || aws.ToString(ch.PlaybackRestrictionPolicyArn) != polARN ||
			aws.ToString(ch.AdConfigurationArn) != adARN || !equalTags(ch.Tags, map[string]string{"team": "video", "env": "test"}) {
			t.Errorf("%s: channel %+v (multitrack %+v) does not have the settings it was created with", what, ch, m)
		}
	}
	wantFull("CreateChannel (every member)", full.Channel, "full-1")
	wantFull("GetChannel (every member)", sdk(c.GetChannel(ctx, &ivs.GetChannelInput{Arn: aws.String(fullARN)})).must(t, "GetChannel").Channel, "full-1")

	// UpdateChannel changes only the members given.
	up := sdk(c.UpdateChannel(ctx, &ivs.UpdateChannelInput{Arn: aws.String(fullARN), Name: aws.String("full-2")})).must(t, "UpdateChannel name")
	wantFull("UpdateChannel name", up.Channel, "full-2")
	checkChannel(t, s, "UpdateChannel", up.Channel, "us-west-2", acct)
	if aws.ToString(up.Channel.Srt.Passphrase) != aws.ToString(full.Channel.Srt.Passphrase) {
		t.Errorf("UpdateChannel changed the SRT passphrase")
	}
	// "" detaches one configuration and leaves the others.
	up = sdk(c.UpdateChannel(ctx, &ivs.UpdateChannelInput{Arn: aws.String(fullARN), RecordingConfigurationArn: aws.String("")})).must(t, "UpdateChannel detach")
	if aws.ToString(up.Channel.RecordingConfigurationArn) != "" || aws.ToString(up.Channel.PlaybackRestrictionPolicyArn) != polARN ||
		aws.ToString(up.Channel.AdConfigurationArn) != adARN || aws.ToString(up.Channel.Name) != "full-2" {
		t.Errorf("UpdateChannel recordingConfigurationArn \"\": got rc=%q prp=%q ad=%q name=%q", aws.ToString(up.Channel.RecordingConfigurationArn),
			aws.ToString(up.Channel.PlaybackRestrictionPolicyArn), aws.ToString(up.Channel.AdConfigurationArn), aws.ToString(up.Channel.Name))
	}
	up = sdk(c.UpdateChannel(ctx, &ivs.UpdateChannelInput{Arn: aws.String(fullARN),
		PlaybackRestrictionPolicyArn: aws.String(""), AdConfigurationArn: aws.String("")})).must(t, "UpdateChannel detach all")
	if aws.ToString(up.Channel.PlaybackRestrictionPolicyArn) != "" || aws.ToString(up.Channel.AdConfigurationArn) != "" {
		t.Errorf("UpdateChannel detach: prp=%q ad=%q", aws.ToString(up.Channel.PlaybackRestrictionPolicyArn), aws.ToString(up.Channel.AdConfigurationArn))
	}
	up = sdk(c.UpdateChannel(ctx, &ivs.UpdateChannelInput{Arn: aws.String(fullARN), RecordingConfigurationArn: aws.String(rcARN)})).must(t, "UpdateChannel attach")
	if aws.ToString(up.Channel.RecordingConfigurationArn) != rcARN {
		t.Errorf("UpdateChannel attach: rc=%q", aws.ToString(up.Channel.RecordingConfigurationArn))
	}
	if g := sdk(c.GetChannel(ctx, &ivs.GetChannelInput{Arn: aws.String(fullARN)})).must(t, "GetChannel after updates").Channel; aws.ToString(g.Name) != "full-2" ||
		aws.ToString(g.RecordingConfigurationArn) != rcARN || aws.ToString(g.PlaybackRestrictionPolicyArn) != "" || !g.Authorized {
		t.Errorf("GetChannel after updates: %+v", g)
	}
	// Type changes carry the preset rule: ADVANCED gets the default preset, STANDARD drops it.
	adv := sdk(c.CreateChannel(ctx, &ivs.CreateChannelInput{Name: aws.String("typed")})).must(t, "CreateChannel for type changes")
	advARN := *adv.Channel.Arn
	up = sdk(c.UpdateChannel(ctx, &ivs.UpdateChannelInput{Arn: aws.String(advARN), Type: types.ChannelTypeAdvancedSDChannelType})).must(t, "UpdateChannel type ADVANCED_SD")
	if up.Channel.Preset != types.TranscodePresetHigherBandwidthTranscodePreset || aws.ToString(up.Channel.Name) != "typed" {
		t.Errorf("UpdateChannel to ADVANCED_SD: preset %q name %q", up.Channel.Preset, aws.ToString(up.Channel.Name))
	}
	up = sdk(c.UpdateChannel(ctx, &ivs.UpdateChannelInput{Arn: aws.String(advARN), Preset: types.TranscodePresetConstrainedBandwidthTranscodePreset})).must(t, "UpdateChannel preset")
	if up.Channel.Preset != types.TranscodePresetConstrainedBandwidthTranscodePreset || up.Channel.Type != types.ChannelTypeAdvancedSDChannelType {
		t.Errorf("UpdateChannel preset: type %s preset %q", up.Channel.Type, up.Channel.Preset)
	}
	up = sdk(c.UpdateChannel(ctx, &ivs.UpdateChannelInput{Arn: aws.String(advARN), Type: types.ChannelTypeBasicChannelType})).must(t, "UpdateChannel type BASIC")
	if up.Channel.Preset != "" {
		t.Errorf("UpdateChannel to BASIC: preset %q, want \"\"", up.Channel.Preset)
	}

	// Validation: constraints and the rules across members, on create and update.
	_, err := c.CreateChannel(ctx, &ivs.CreateChannelInput{Name: aws.String("not a valid name!")})
	wantValidation(t, "CreateChannel name pattern", err)
	_, err = c.CreateChannel(ctx, &ivs.CreateChannelInput{LatencyMode: "FAST"})
	wantValidation(t, "CreateChannel latencyMode enum", err)
	_, err = c.CreateChannel(ctx, &ivs.CreateChannelInput{Type: types.ChannelTypeBasicChannelType, ContainerFormat: types.ContainerFormatFragmentedMP4,
		MultitrackInputConfiguration: &types.MultitrackInputConfiguration{Enabled: true, Policy: types.MultitrackPolicyAllow, MaximumResolution: types.MultitrackMaximumResolutionHd}})
	wantValidation(t, "CreateChannel multitrack on BASIC", err)
	_, err = c.CreateChannel(ctx, &ivs.CreateChannelInput{
		MultitrackInputConfiguration: &types.MultitrackInputConfiguration{Enabled: true, Policy: types.MultitrackPolicyAllow, MaximumResolution: types.MultitrackMaximumResolutionHd}})
	wantValidation(t, "CreateChannel multitrack without FRAGMENTED_MP4", err)
	_, err = c.CreateChannel(ctx, &ivs.CreateChannelInput{ContainerFormat: types.ContainerFormatFragmentedMP4,
		MultitrackInputConfiguration: &types.MultitrackInputConfiguration{Enabled: true}})
	wantValidation(t, "CreateChannel multitrack without policy and maximumResolution", err)
	_, err = c.CreateChannel(ctx, &ivs.CreateChannelInput{Preset: types.TranscodePresetHigherBandwidthTranscodePreset})
	wantValidation(t, "CreateChannel preset on STANDARD", err)
	_, err = c.CreateChannel(ctx, &ivs.CreateChannelInput{Type: types.ChannelTypeBasicChannelType, Preset: types.TranscodePresetConstrainedBandwidthTranscodePreset})
	wantValidation(t, "CreateChannel preset on BASIC", err)
	_, err = c.CreateChannel(ctx, &ivs.CreateChannelInput{RecordingConfigurationArn: aws.String("arn:aws:ivs:us-west-2:111111111111:channel/AbCdEfGh1234")})
	wantValidation(t, "CreateChannel recordingConfigurationArn pattern", err)
	_, err = c.CreateChannel(ctx, &ivs.CreateChannelInput{Tags: map[string]string{"aws:owner": "me"}})
	wantValidation(t, "CreateChannel aws: tag", err)
	_, err = c.CreateChannel(ctx, &ivs.CreateChannelInput{Tags: numberedTags(0, 51)})
	wantValidation(t, "CreateChannel 51 tags", err)
	_, err = c.UpdateChannel(ctx, &ivs.UpdateChannelInput{Arn: aws.String(chARN), Preset: types.TranscodePresetHigherBandwidthTranscodePreset})
	wantValidation(t, "UpdateChannel preset on STANDARD", err)
	_, err = c.UpdateChannel(ctx, &ivs.UpdateChannelInput{Arn: aws.String(fullARN), Type: types.ChannelTypeBasicChannelType})
	wantValidation(t, "UpdateChannel BASIC with multitrack enabled", err)
	_, err = c.UpdateChannel(ctx, &ivs.UpdateChannelInput{Arn: aws.String(fullARN), ContainerFormat: types.ContainerFormatTs})
	wantValidation(t, "UpdateChannel TS with multitrack enabled", err)
	_, err = c.UpdateChannel(ctx, &ivs.UpdateChannelInput{Arn: aws.String(chARN), Name: aws.String("bad name")})
	wantValidation(t, "UpdateChannel name pattern", err)
	// A refused update changes nothing.
	if g := sdk(c.GetChannel(ctx, &ivs.GetChannelInput{Arn: aws.String(fullARN)})).must(t, "GetChannel after refused updates").Channel; g.Type != types.ChannelTypeStandardChannelType ||
		g.ContainerFormat != types.ContainerFormatFragmentedMP4 || g.MultitrackInputConfiguration == nil || !g.MultitrackInputConfiguration.Enabled ||
		aws.ToString(g.Name) != "full-2" || aws.ToString(g.RecordingConfigurationArn) != rcARN {
		t.Errorf("GetChannel after refused updates: %+v", g)
	}
	_, err = c.BatchGetChannel(ctx, &ivs.BatchGetChannelInput{Arns: []string{"not-an-arn"}})
	wantValidation(t, "BatchGetChannel arn pattern", err)
	_, err = c.GetChannel(ctx, &ivs.GetChannelInput{Arn: aws.String("arn:aws:ivs:us-west-2:111111111111:stream-key/AbCdEfGh1234")})
	wantValidation(t, "GetChannel with a stream key ARN", err)

	// Referenced configurations must exist.
	_, err = c.CreateChannel(ctx, &ivs.CreateChannelInput{RecordingConfigurationArn: aws.String(unknownARN("recording-configuration"))})
	wantNotFound(t, "CreateChannel unknown recording configuration", err)
	_, err = c.CreateChannel(ctx, &ivs.CreateChannelInput{PlaybackRestrictionPolicyArn: aws.String(unknownARN("playback-restriction-policy"))})
	wantNotFound(t, "CreateChannel unknown playback restriction policy", err)
	_, err = c.CreateChannel(ctx, &ivs.CreateChannelInput{AdConfigurationArn: aws.String(unknownARN("ad-configuration"))})
	wantNotFound(t, "CreateChannel unknown ad configuration", err)
	_, err = c.UpdateChannel(ctx, &ivs.UpdateChannelInput{Arn: aws.String(chARN), RecordingConfigurationArn: aws.String(unknownARN("recording-configuration"))})
	wantNotFound(t, "UpdateChannel unknown recording configuration", err)
	_, err = c.UpdateChannel(ctx, &ivs.UpdateChannelInput{Arn: aws.String(chARN), PlaybackRestrictionPolicyArn: aws.String(unknownARN("playback-restriction-policy"))})
	wantNotFound(t, "UpdateChannel unknown playback restriction policy", err)
	_, err = c.UpdateChannel(ctx, &ivs.UpdateChannelInput{Arn: aws.String(chARN), AdConfigurationArn: aws.String(unknownARN("ad-configuration"))})
	wantNotFound(t, "UpdateChannel unknown ad configuration", err)

	// Unknown channels, and channels of another account.
	_, err = c.GetChannel(ctx, &ivs.GetChannelInput{Arn: aws.String(unknownARN("channel"))})
	wantNotFound(t, "GetChannel unknown", err)
	_, err = c.UpdateChannel(ctx, &ivs.UpdateChannelInput{Arn: aws.String(unknownARN("channel")), Name: aws.String("x")})
	wantNotFound(t, "UpdateChannel unknown", err)
	_, err = c.DeleteChannel(ctx, &ivs.DeleteChannelInput{Arn: aws.String(unknownARN("channel"))})
	wantNotFound(t, "DeleteChannel unknown", err)
	_, err = c.GetChannel(ctx, &ivs.GetChannelInput{Arn: aws.String(foreign.Channel)})
	wantAccessDenied(t, "GetChannel of account 2", err)
	_, err = c.UpdateChannel(ctx, &ivs.UpdateChannelInput{Arn: aws.String(foreign.Channel), Name: aws.String("x")})
	wantAccessDenied(t, "UpdateChannel of account 2", err)
	_, err = c.DeleteChannel(ctx, &ivs.DeleteChannelInput{Arn: aws.String(foreign.Channel)})
	wantAccessDenied(t, "DeleteChannel of account 2", err)
	if g := sdk(s.IVS(SecondCredential, "").GetChannel(ctx, &ivs.GetChannelInput{Arn: aws.String(foreign.Channel)})).must(t, "GetChannel (account 2)"); aws.ToString(g.Channel.Name) != "foreign" {
		t.Errorf("account 2's channel changed: %+v", g.Channel)
	}

	// BatchGetChannel: found channels in full, an error entry for each other ARN.
	bg := sdk(c.BatchGetChannel(ctx, &ivs.BatchGetChannelInput{Arns: []string{chARN, unknownARN("channel"), fullARN, foreign.Channel}})).must(t, "BatchGetChannel")
	if len(bg.Channels) != 2 || aws.ToString(bg.Channels[0].Arn) != chARN || aws.ToString(bg.Channels[1].Arn) != fullARN {
		t.Errorf("BatchGetChannel channels: %+v, want %s and %s", bg.Channels, chARN, fullARN)
	} else {
		checkChannel(t, s, "BatchGetChannel", &bg.Channels[0], "us-west-2", acct)
		wantDefaults(t, "BatchGetChannel", &bg.Channels[0])
		checkChannel(t, s, "BatchGetChannel", &bg.Channels[1], "us-west-2", acct)
	}
	wantBatchErrors(t, "BatchGetChannel", bg.Errors, map[string]string{unknownARN("channel"): "ResourceNotFoundException", foreign.Channel: "AccessDeniedException"})

	// ListChannels: summaries, and each filter alone.
	named := sdk(c.CreateChannel(ctx, &ivs.CreateChannelInput{Name: aws.String("full-2")})).must(t, "CreateChannel named")
	ls := sdk(c.ListChannels(ctx, &ivs.ListChannelsInput{})).must(t, "ListChannels")
	if ls.NextToken != nil {
		t.Errorf("ListChannels: nextToken %q on the only page", *ls.NextToken)
	}
	var summary *types.ChannelSummary
	for i := range ls.Channels {
		checkARN(t, "ListChannels", ls.Channels[i].Arn, "us-west-2", acct, "channel")
		if aws.ToString(ls.Channels[i].Arn) == fullARN {
			summary = &ls.Channels[i]
		}
	}
	if len(ls.Channels) != 7 {
		t.Errorf("ListChannels: %d channels, want 7", len(ls.Channels))
	}
	if summary == nil {
		t.Errorf("ListChannels does not list %s", fullARN)
	} else if aws.ToString(summary.Name) != "full-2" || summary.LatencyMode != types.ChannelLatencyModeNormalLatency || summary.Type != types.ChannelTypeStandardChannelType ||
		!summary.Authorized || !summary.InsecureIngest || summary.Preset != "" || aws.ToString(summary.RecordingConfigurationArn) != rcARN ||
		aws.ToString(summary.PlaybackRestrictionPolicyArn) != "" || aws.ToString(summary.AdConfigurationArn) != "" ||
		!equalTags(summary.Tags, map[string]string{"team": "video", "env": "test"}) {
		t.Errorf("ListChannels summary %+v", summary)
	}
	byName := sdk(c.ListChannels(ctx, &ivs.ListChannelsInput{FilterByName: aws.String("full-2")})).must(t, "ListChannels filterByName")
	wantARNs(t, "ListChannels filterByName", summaryARNs(byName.Channels), fullARN, *named.Channel.Arn)
	byRC := sdk(c.ListChannels(ctx, &ivs.ListChannelsInput{FilterByRecordingConfigurationArn: aws.String(rcARN)})).must(t, "ListChannels filterByRecordingConfigurationArn")
	wantARNs(t, "ListChannels filterByRecordingConfigurationArn", summaryARNs(byRC.Channels), fullARN)
	sdk(c.UpdateChannel(ctx, &ivs.UpdateChannelInput{Arn: aws.String(chARN), PlaybackRestrictionPolicyArn: aws.String(polARN), AdConfigurationArn: aws.String(adARN)})).must(t, "UpdateChannel attach policy and ad")
	byPol := sdk(c.ListChannels(ctx, &ivs.ListChannelsInput{FilterByPlaybackRestrictionPolicyArn: aws.String(polARN)})).must(t, "ListChannels filterByPlaybackRestrictionPolicyArn")
	wantARNs(t, "ListChannels filterByPlaybackRestrictionPolicyArn", summaryARNs(byPol.Channels), chARN)
	byAd := sdk(c.ListChannels(ctx, &ivs.ListChannelsInput{FilterByAdConfigurationArn: aws.String(adARN)})).must(t, "ListChannels filterByAdConfigurationArn")
	wantARNs(t, "ListChannels filterByAdConfigurationArn", summaryARNs(byAd.Channels), chARN)
	none := sdk(c.ListChannels(ctx, &ivs.ListChannelsInput{FilterByName: aws.String("nothing")})).must(t, "ListChannels filterByName (no match)")
	if none.Channels == nil || len(none.Channels) != 0 || none.NextToken != nil {
		t.Errorf("ListChannels with no match: %+v, want an empty list", none)
	}
	_, err = c.ListChannels(ctx, &ivs.ListChannelsInput{FilterByName: aws.String("full-2"), FilterByRecordingConfigurationArn: aws.String(rcARN)})
	wantConflict(t, "ListChannels with two filters", err)
	_, err = c.ListChannels(ctx, &ivs.ListChannelsInput{FilterByPlaybackRestrictionPolicyArn: aws.String(polARN), FilterByAdConfigurationArn: aws.String(adARN)})
	wantConflict(t, "ListChannels with two filters", err)
	_, err = c.ListChannels(ctx, &ivs.ListChannelsInput{MaxResults: aws.Int32(101)})
	wantValidation(t, "ListChannels maxResults 101", err)

	// DeleteChannel takes the stream key with it.
	sdk(c.DeleteChannel(ctx, &ivs.DeleteChannelInput{Arn: aws.String(chARN)})).must(t, "DeleteChannel")
	_, err = c.GetChannel(ctx, &ivs.GetChannelInput{Arn: aws.String(chARN)})
	wantNotFound(t, "GetChannel after DeleteChannel", err)
	_, err = c.GetStreamKey(ctx, &ivs.GetStreamKeyInput{Arn: created.StreamKey.Arn})
	wantNotFound(t, "GetStreamKey after DeleteChannel", err)
	_, err = c.DeleteChannel(ctx, &ivs.DeleteChannelInput{Arn: aws.String(chARN)})
	wantNotFound(t, "DeleteChannel twice", err)
	_, err = c.ListStreamKeys(ctx, &ivs.ListStreamKeysInput{ChannelArn: aws.String(chARN)})
	wantNotFound(t, "ListStreamKeys after DeleteChannel", err)
	bk := sdk(c.BatchGetStreamKey(ctx, &ivs.BatchGetStreamKeyInput{Arns: []string{*created.StreamKey.Arn}})).must(t, "BatchGetStreamKey after DeleteChannel")
	if len(bk.StreamKeys) != 0 {
		t.Errorf("BatchGetStreamKey after DeleteChannel returned %+v", bk.StreamKeys)
	}
	wantBatchErrors(t, "BatchGetStreamKey after DeleteChannel", bk.Errors, map[string]string{*created.StreamKey.Arn: "ResourceNotFoundException"})
	// The configurations it used are free again.
	sdk(c.DeletePlaybackRestrictionPolicy(ctx, &ivs.DeletePlaybackRestrictionPolicyInput{Arn: aws.String(polARN)})).must(t, "DeletePlaybackRestrictionPolicy (was used by the deleted channel only)")
}

// TestIVSChannelQuota: --quota-channels bounds channels per account and region with ServiceQuotaExceededException.
func TestIVSChannelQuota(t *testing.T) {
	t.Parallel()
	s := Start(t, Options{Args: []string{"--quota-channels", "2"}})
	c := s.IVS(Credential{}, "")
	ctx := Ctx(t)
	first := sdk(c.CreateChannel(ctx, &ivs.CreateChannelInput{Name: aws.String("one")})).must(t, "CreateChannel 1")
	sdk(c.CreateChannel(ctx, &ivs.CreateChannelInput{Name: aws.String("two")})).must(t, "CreateChannel 2")
	_, err := c.CreateChannel(ctx, &ivs.CreateChannelInput{Name: aws.String("three")})
	wantQuotaExceeded(t, "CreateChannel beyond the quota", err)
	// An invalid request is invalid whatever the quota.
	_, err = c.CreateChannel(ctx, &ivs.CreateChannelInput{Tags: map[string]string{"aws:k": "v"}})
	wantValidation(t, "CreateChannel aws: tag at the quota", err)
	_, err = c.CreateChannel(ctx, &ivs.CreateChannelInput{Preset: types.TranscodePresetHigherBandwidthTranscodePreset})
	wantValidation(t, "CreateChannel preset on STANDARD at the quota", err)
	ls := sdk(c.ListChannels(ctx, &ivs.ListChannelsInput{})).must(t, "ListChannels")
	if len(ls.Channels) != 2 {
		t.Errorf("ListChannels after the refused create: %d channels, want 2", len(ls.Channels))
	}
	// The quota is per account and per region.
	c2 := s.IVS(SecondCredential, "")
	sdk(c2.CreateChannel(ctx, &ivs.CreateChannelInput{})).must(t, "CreateChannel account 2")
	sdk(c2.CreateChannel(ctx, &ivs.CreateChannelInput{})).must(t, "CreateChannel account 2")
	_, err = c2.CreateChannel(ctx, &ivs.CreateChannelInput{})
	wantQuotaExceeded(t, "CreateChannel account 2 beyond the quota", err)
	sdk(s.IVS(Credential{}, "eu-west-1").CreateChannel(ctx, &ivs.CreateChannelInput{})).must(t, "CreateChannel eu-west-1")
	// Deleting a channel frees its place.
	sdk(c.DeleteChannel(ctx, &ivs.DeleteChannelInput{Arn: first.Channel.Arn})).must(t, "DeleteChannel")
	sdk(c.CreateChannel(ctx, &ivs.CreateChannelInput{Name: aws.String("three")})).must(t, "CreateChannel after DeleteChannel")
}

// TestIVSStreamKeys covers CreateStreamKey, GetStreamKey, BatchGetStreamKey, ListStreamKeys and DeleteStreamKey.
func TestIVSStreamKeys(t *testing.T) {
	t.Parallel()
	s := Start(t, Options{})
	c := s.IVS(Credential{}, "")
	ctx := Ctx(t)
	acct := DefaultCredential.AccountID
	foreign := createForeignResources(t, s)

	ch := sdk(c.CreateChannel(ctx, &ivs.CreateChannelInput{Name: aws.String("keys")})).must(t, "CreateChannel")
	chARN, key := *ch.Channel.Arn, ch.StreamKey
	keyID := checkStreamKey(t, "CreateChannel", key, "us-west-2", acct, chARN)

	got := sdk(c.GetStreamKey(ctx, &ivs.GetStreamKeyInput{Arn: key.Arn})).must(t, "GetStreamKey")
	checkStreamKey(t, "GetStreamKey", got.StreamKey, "us-west-2", acct, chARN)
	if aws.ToString(got.StreamKey.Arn) != aws.ToString(key.Arn) || aws.ToString(got.StreamKey.Value) != aws.ToString(key.Value) {
		t.Errorf("GetStreamKey %+v, want the key CreateChannel returned %+v", got.StreamKey, key)
	}

	ls := sdk(c.ListStreamKeys(ctx, &ivs.ListStreamKeysInput{ChannelArn: aws.String(chARN)})).must(t, "ListStreamKeys")
	if len(ls.StreamKeys) != 1 || aws.ToString(ls.StreamKeys[0].Arn) != aws.ToString(key.Arn) ||
		aws.ToString(ls.StreamKeys[0].ChannelArn) != chARN || ls.StreamKeys[0].Tags == nil || ls.NextToken != nil {
		t.Errorf("ListStreamKeys: %+v next %v, want the one key and no nextToken", ls.StreamKeys, ls.NextToken)
	}

	// One key per channel.
	_, err := c.CreateStreamKey(ctx, &ivs.CreateStreamKeyInput{ChannelArn: aws.String(chARN)})
	wantQuotaExceeded(t, "CreateStreamKey on a channel that has a key", err)

	// BatchGetStreamKey.
	other := sdk(c.CreateChannel(ctx, &ivs.CreateChannelInput{})).must(t, "CreateChannel")
	bg := sdk(c.BatchGetStreamKey(ctx, &ivs.BatchGetStreamKeyInput{
		Arns: []string{*key.Arn, unknownARN("stream-key"), *other.StreamKey.Arn, foreign.StreamKey}})).must(t, "BatchGetStreamKey")
	if len(bg.StreamKeys) != 2 || aws.ToString(bg.StreamKeys[0].Arn) != *key.Arn || aws.ToString(bg.StreamKeys[0].Value) != *key.Value ||
		aws.ToString(bg.StreamKeys[1].Arn) != *other.StreamKey.Arn || aws.ToString(bg.StreamKeys[1].Value) != *other.StreamKey.Value {
		t.Errorf("BatchGetStreamKey stream keys: %+v", bg.StreamKeys)
	} else {
		checkStreamKey(t, "BatchGetStreamKey", &bg.StreamKeys[0], "us-west-2", acct, chARN)
	}
	wantBatchErrors(t, "BatchGetStreamKey", bg.Errors, map[string]string{unknownARN("stream-key"): "ResourceNotFoundException", foreign.StreamKey: "AccessDeniedException"})
	_, err = c.BatchGetStreamKey(ctx, &ivs.BatchGetStreamKeyInput{Arns: []string{chARN}})
	wantValidation(t, "BatchGetStreamKey with a channel ARN", err)
	many := make([]string, 51)
	for i := range many {
		many[i] = *key.Arn
	}
	_, err = c.BatchGetStreamKey(ctx, &ivs.BatchGetStreamKeyInput{Arns: many})
	wantValidation(t, "BatchGetStreamKey with 51 ARNs", err)

	// Rotation: delete, then create a new key with another id and value.
	sdk(c.DeleteStreamKey(ctx, &ivs.DeleteStreamKeyInput{Arn: key.Arn})).must(t, "DeleteStreamKey")
	_, err = c.GetStreamKey(ctx, &ivs.GetStreamKeyInput{Arn: key.Arn})
	wantNotFound(t, "GetStreamKey after DeleteStreamKey", err)
	_, err = c.DeleteStreamKey(ctx, &ivs.DeleteStreamKeyInput{Arn: key.Arn})
	wantNotFound(t, "DeleteStreamKey twice", err)
	empty := sdk(c.ListStreamKeys(ctx, &ivs.ListStreamKeysInput{ChannelArn: aws.String(chARN)})).must(t, "ListStreamKeys without key")
	if empty.StreamKeys == nil || len(empty.StreamKeys) != 0 || empty.NextToken != nil {
		t.Errorf("ListStreamKeys after DeleteStreamKey: %+v", empty)
	}
	sdk(c.GetChannel(ctx, &ivs.GetChannelInput{Arn: aws.String(chARN)})).must(t, "GetChannel without stream key")
	rot := sdk(c.CreateStreamKey(ctx, &ivs.CreateStreamKeyInput{ChannelArn: aws.String(chARN), Tags: map[string]string{"rotated": "yes"}})).must(t, "CreateStreamKey")
	newID := checkStreamKey(t, "CreateStreamKey", rot.StreamKey, "us-west-2", acct, chARN)
	if newID == keyID || aws.ToString(rot.StreamKey.Value) == aws.ToString(key.Value) {
		t.Errorf("CreateStreamKey after DeleteStreamKey reused the old key: %+v", rot.StreamKey)
	}
	if !equalTags(rot.StreamKey.Tags, map[string]string{"rotated": "yes"}) {
		t.Errorf("CreateStreamKey tags: %v", rot.StreamKey.Tags)
	}
	ls = sdk(c.ListStreamKeys(ctx, &ivs.ListStreamKeysInput{ChannelArn: aws.String(chARN)})).must(t, "ListStreamKeys after rotation")
	if len(ls.StreamKeys) != 1 || aws.ToString(ls.StreamKeys[0].Arn) != *rot.StreamKey.Arn || !equalTags(ls.StreamKeys[0].Tags, map[string]string{"rotated": "yes"}) {
		t.Errorf("ListStreamKeys after rotation: %+v", ls.StreamKeys)
	}
	_, err = c.CreateStreamKey(ctx, &ivs.CreateStreamKeyInput{ChannelArn: aws.String(chARN)})
	wantQuotaExceeded(t, "CreateStreamKey twice after rotation", err)

	// Errors.
	_, err = c.CreateStreamKey(ctx, &ivs.CreateStreamKeyInput{ChannelArn: aws.String(chARN), Tags: map[string]string{"aws:x": "y"}})
	wantValidation(t, "CreateStreamKey aws: tag", err)
	_, err = c.ListStreamKeys(ctx, &ivs.ListStreamKeysInput{ChannelArn: aws.String(chARN), MaxResults: aws.Int32(51)})
	wantValidation(t, "ListStreamKeys maxResults 51", err)
	_, err = c.GetStreamKey(ctx, &ivs.GetStreamKeyInput{Arn: aws.String(chARN)})
	wantValidation(t, "GetStreamKey with a channel ARN", err)
	_, err = c.CreateStreamKey(ctx, &ivs.CreateStreamKeyInput{ChannelArn: aws.String(unknownARN("channel"))})
	wantNotFound(t, "CreateStreamKey unknown channel", err)
	_, err = c.GetStreamKey(ctx, &ivs.GetStreamKeyInput{Arn: aws.String(unknownARN("stream-key"))})
	wantNotFound(t, "GetStreamKey unknown", err)
	_, err = c.DeleteStreamKey(ctx, &ivs.DeleteStreamKeyInput{Arn: aws.String(unknownARN("stream-key"))})
	wantNotFound(t, "DeleteStreamKey unknown", err)
	_, err = c.ListStreamKeys(ctx, &ivs.ListStreamKeysInput{ChannelArn: aws.String(unknownARN("channel"))})
	wantNotFound(t, "ListStreamKeys unknown channel", err)
	_, err = c.CreateStreamKey(ctx, &ivs.CreateStreamKeyInput{ChannelArn: aws.String(foreign.Channel)})
	wantAccessDenied(t, "CreateStreamKey account 2's channel", err)
	_, err = c.GetStreamKey(ctx, &ivs.GetStreamKeyInput{Arn: aws.String(foreign.StreamKey)})
	wantAccessDenied(t, "GetStreamKey of account 2", err)
	_, err = c.DeleteStreamKey(ctx, &ivs.DeleteStreamKeyInput{Arn: aws.String(foreign.StreamKey)})
	wantAccessDenied(t, "DeleteStreamKey of account 2", err)
	_, err = c.ListStreamKeys(ctx, &ivs.ListStreamKeysInput{ChannelArn: aws.String(foreign.Channel)})
	wantAccessDenied(t, "ListStreamKeys of account 2's channel", err)
	sdk(s.IVS(SecondCredential, "").GetStreamKey(ctx, &ivs.GetStreamKeyInput{Arn: aws.String(foreign.StreamKey)})).must(t, "GetStreamKey (account 2)")
}

// wantBatchErrors asserts the errors of a BatchGet* response: exactly one per ARN of want, with its code and a
// message.
func wantBatchErrors(t *testing.T, what string, errs []types.BatchError, want map[string]string) {
	t.Helper()
	if len(errs) != len(want) {
		t.Errorf("%s: %d errors %+v, want %d", what, len(errs), errs, len(want))
	}
	for _, e := range errs {
		code, ok := want[aws.ToString(e.Arn)]
		if !ok || aws.ToString(e.Code) != code || aws.ToString(e.Message) == "" {
			t.Errorf("%s: error entry {arn %q code %q message %q}, want code %q and a message", what,
				aws.ToString(e.Arn), aws.ToString(e.Code), aws.ToString(e.Message), code)
		}
	}
}

func summaryARNs(cs []types.ChannelSummary) []string {
	var out []string
	for _, c := range cs {
		out = append(out, aws.ToString(c.Arn))
	}
	return out
}

// wantARNs asserts got lists exactly want, in order.
func wantARNs(t *testing.T, what string, got []string, want ...string) {
	t.Helper()
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("%s:\n got %v\nwant %v", what, got, want)
	}
}
