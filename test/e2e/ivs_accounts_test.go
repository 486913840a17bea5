package e2e

import (
	"slices"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ivs"
	"github.com/aws/aws-sdk-go-v2/service/ivs/types"
)

// scopeResources creates one resource of each type with client c and returns their ARNs by List operation.
func scopeResources(t *testing.T, c *ivs.Client, region, account string) map[string][]string {
	t.Helper()
	ctx := Ctx(t)
	ch := sdk(c.CreateChannel(ctx, &ivs.CreateChannelInput{Name: aws.String("scoped")})).must(t, "CreateChannel")
	checkARN(t, "CreateChannel in "+region+"/"+account, ch.Channel.Arn, region, account, "channel")
	checkARN(t, "CreateChannel stream key in "+region+"/"+account, ch.StreamKey.Arn, region, account, "stream-key")
	kp := sdk(c.ImportPlaybackKeyPair(ctx, &ivs.ImportPlaybackKeyPairInput{PublicKeyMaterial: aws.String(newP384PEM(t))})).must(t, "ImportPlaybackKeyPair")
	checkARN(t, "ImportPlaybackKeyPair in "+region+"/"+account, kp.KeyPair.Arn, region, account, "playback-key")
	rc := sdk(c.CreateRecordingConfiguration(ctx, &ivs.CreateRecordingConfigurationInput{DestinationConfiguration: testS3("bucket")})).must(t, "CreateRecordingConfiguration")
	checkARN(t, "CreateRecordingConfiguration in "+region+"/"+account, rc.RecordingConfiguration.Arn, region, account, "recording-configuration")
	pol := sdk(c.CreatePlaybackRestrictionPolicy(ctx, &ivs.CreatePlaybackRestrictionPolicyInput{})).must(t, "CreatePlaybackRestrictionPolicy")
	checkARN(t, "CreatePlaybackRestrictionPolicy in "+region+"/"+account, pol.PlaybackRestrictionPolicy.Arn, region, account, "playback-restriction-policy")
	ad := sdk(c.CreateAdConfiguration(ctx, &ivs.CreateAdConfigurationInput{
		MediaTailorPlaybackConfigurations: []types.MediaTailorPlaybackConfiguration{{PlaybackConfigurationArn: aws.String(mediaTailorARN("x"))}}})).must(t, "CreateAdConfiguration")
	checkARN(t, "CreateAdConfiguration in "+region+"/"+account, ad.AdConfiguration.Arn, region, account, "ad-configuration")
	return map[string][]string{
		"ListChannels": {*ch.Channel.Arn}, "ListStreamKeys": {*ch.StreamKey.Arn}, "ListPlaybackKeyPairs": {*kp.KeyPair.Arn},
		"ListRecordingConfigurations": {*rc.RecordingConfiguration.Arn}, "ListPlaybackRestrictionPolicies": {*pol.PlaybackRestrictionPolicy.Arn},
		"ListAdConfigurations": {*ad.AdConfiguration.Arn},
	}
}

// listAll returns what every List* operation shows to c (ListStreamKeys for the given channel).
func listAll(t *testing.T, c *ivs.Client, channel string) map[string][]string {
	t.Helper()
	ctx := Ctx(t)
	out := map[string][]string{}
	for _, x := range sdk(c.ListChannels(ctx, &ivs.ListChannelsInput{})).must(t, "ListChannels").Channels {
		out["ListChannels"] = append(out["ListChannels"], *x.Arn)
	}
	for _, x := range sdk(c.ListStreamKeys(ctx, &ivs.ListStreamKeysInput{ChannelArn: aws.String(channel)})).must(t, "ListStreamKeys").StreamKeys {
		out["ListStreamKeys"] = append(out["ListStreamKeys"], *x.Arn)
	}
	for _, x := range sdk(c.ListPlaybackKeyPairs(ctx, &ivs.ListPlaybackKeyPairsInput{})).must(t, "ListPlaybackKeyPairs").KeyPairs {
		out["ListPlaybackKeyPairs"] = append(out["ListPlaybackKeyPairs"], *x.Arn)
	}
	for _, x := range sdk(c.ListRecordingConfigurations(ctx, &ivs.ListRecordingConfigurationsInput{})).must(t, "ListRecordingConfigurations").RecordingConfigurations {
		out["ListRecordingConfigurations"] = append(out["ListRecordingConfigurations"], *x.Arn)
	}
	for _, x := range sdk(c.ListPlaybackRestrictionPolicies(ctx, &ivs.ListPlaybackRestrictionPoliciesInput{MaxResults: aws.Int32(100)})).must(t, "ListPlaybackRestrictionPolicies").PlaybackRestrictionPolicies {
		out["ListPlaybackRestrictionPolicies"] = append(out["ListPlaybackRestrictionPolicies"], *x.Arn)
	}
	for _, x := range sdk(c.ListAdConfigurations(ctx, &ivs.ListAdConfigurationsInput{})).must(t, "ListAdConfigurations").AdConfigurations {
		out["ListAdConfigurations"] = append(out["ListAdConfigurations"], *x.Arn)
	}
	return out
}

// TestIVSAccountsAndRegions: every resource lives in one account and one region; List* shows the caller's own only,
// and an ARN of another region is not found from this one.
func TestIVSAccountsAndRegions(t *testing.T) {
	t.Parallel()
	s := Start(t, Options{})
	ctx := Ctx(t)
	acct1, acct2 := DefaultCredential.AccountID, SecondCredential.AccountID
	scopes := []struct {
		name, region, account string
		c                     *ivs.Client
	}{
		{"account 1 us-west-2", "us-west-2", acct1, s.IVS(Credential{}, "")},
		{"account 2 us-west-2", "us-west-2", acct2, s.IVS(SecondCredential, "")},
		{"account 1 eu-west-1", "eu-west-1", acct1, s.IVS(Credential{}, "eu-west-1")},
		{"account 2 eu-west-1", "eu-west-1", acct2, s.IVS(SecondCredential, "eu-west-1")},
	}
	// Two rounds, so each scope's resources are interleaved with the others'.
	owned := make([]map[string][]string, len(scopes))
	for round := 0; round < 2; round++ {
		for i, sc := range scopes {
			r := scopeResources(t, sc.c, sc.region, sc.account)
			if owned[i] == nil {
				owned[i] = r
				continue
			}
			for op, arns := range r {
				if op != "ListStreamKeys" {
					owned[i][op] = append(owned[i][op], arns...)
				}
			}
		}
	}
	for i, sc := range scopes {
		got := listAll(t, sc.c, owned[i]["ListChannels"][0])
		for op, want := range owned[i] {
			if !slices.Equal(got[op], want) {
				t.Errorf("%s %s:\n got %v\nwant %v", sc.name, op, got[op], want)
			}
		}
	}

	// The channel's playback URL names its region and account.
	eu := scopes[2].c
	euCh := owned[2]["ListChannels"][0]
	g := sdk(eu.GetChannel(ctx, &ivs.GetChannelInput{Arn: aws.String(euCh)})).must(t, "GetChannel eu-west-1")
	checkChannel(t, s, "GetChannel eu-west-1", g.Channel, "eu-west-1", acct1)

	// Another region's ARN is not found (as another regional endpoint would answer), whatever the operation.
	us := scopes[0].c
	_, err := us.GetChannel(ctx, &ivs.GetChannelInput{Arn: aws.String(euCh)})
	wantNotFound(t, "GetChannel of eu-west-1 from us-west-2", err)
	_, err = us.GetStreamKey(ctx, &ivs.GetStreamKeyInput{Arn: aws.String(owned[2]["ListStreamKeys"][0])})
	wantNotFound(t, "GetStreamKey of eu-west-1 from us-west-2", err)
	_, err = us.GetPlaybackKeyPair(ctx, &ivs.GetPlaybackKeyPairInput{Arn: aws.String(owned[2]["ListPlaybackKeyPairs"][0])})
	wantNotFound(t, "GetPlaybackKeyPair of eu-west-1 from us-west-2", err)
	_, err = us.GetRecordingConfiguration(ctx, &ivs.GetRecordingConfigurationInput{Arn: aws.String(owned[2]["ListRecordingConfigurations"][0])})
	wantNotFound(t, "GetRecordingConfiguration of eu-west-1 from us-west-2", err)
	_, err = us.GetPlaybackRestrictionPolicy(ctx, &ivs.GetPlaybackRestrictionPolicyInput{Arn: aws.String(owned[2]["ListPlaybackRestrictionPolicies"][0])})
	wantNotFound(t, "GetPlaybackRestrictionPolicy of eu-west-1 from us-west-2", err)
	_, err = us.GetAdConfiguration(ctx, &ivs.GetAdConfigurationInput{Arn: aws.String(owned[2]["ListAdConfigurations"][0])})
	wantNotFound(t, "GetAdConfiguration of eu-west-1 from us-west-2", err)
	_, err = us.ListTagsForResource(ctx, &ivs.ListTagsForResourceInput{ResourceArn: aws.String(euCh)})
	wantNotFound(t, "ListTagsForResource of eu-west-1 from us-west-2", err)
	_, err = us.DeleteChannel(ctx, &ivs.DeleteChannelInput{Arn: aws.String(euCh)})
	wantNotFound(t, "DeleteChannel of eu-west-1 from us-west-2", err)
	_, err = us.CreateChannel(ctx, &ivs.CreateChannelInput{RecordingConfigurationArn: aws.String(owned[2]["ListRecordingConfigurations"][0])})
	wantNotFound(t, "CreateChannel with a recording configuration of eu-west-1", err)
	bg := sdk(us.BatchGetChannel(ctx, &ivs.BatchGetChannelInput{Arns: []string{euCh, owned[0]["ListChannels"][0]}})).must(t, "BatchGetChannel")
	if len(bg.Channels) != 1 || *bg.Channels[0].Arn != owned[0]["ListChannels"][0] {
		t.Errorf("BatchGetChannel across regions: %+v", bg.Channels)
	}
	wantBatchErrors(t, "BatchGetChannel across regions", bg.Errors, map[string]string{euCh: "ResourceNotFoundException"})
	sdk(eu.GetChannel(ctx, &ivs.GetChannelInput{Arn: aws.String(euCh)})).must(t, "GetChannel eu-west-1 after the refused delete")

	// The same key pair may be imported once per region.
	pem := newP384PEM(t)
	a := sdk(us.ImportPlaybackKeyPair(ctx, &ivs.ImportPlaybackKeyPairInput{PublicKeyMaterial: aws.String(pem)})).must(t, "ImportPlaybackKeyPair us-west-2")
	b := sdk(eu.ImportPlaybackKeyPair(ctx, &ivs.ImportPlaybackKeyPairInput{PublicKeyMaterial: aws.String(pem)})).must(t, "ImportPlaybackKeyPair eu-west-1")
	if *a.KeyPair.Fingerprint != *b.KeyPair.Fingerprint {
		t.Errorf("the same key has fingerprints %s and %s in two regions", *a.KeyPair.Fingerprint, *b.KeyPair.Fingerprint)
	}
}
