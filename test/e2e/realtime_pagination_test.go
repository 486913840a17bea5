package e2e

import (
	"context"
	"fmt"
	"slices"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ivsrealtime"
	rttypes "github.com/aws/aws-sdk-go-v2/service/ivsrealtime/types"
)

// rtLister lists one page of a real-time List operation: ARNs and the next token.
type rtLister func(ctx context.Context, c *ivsrealtime.Client, max *int32, next *string) ([]string, *string, error)

var rtListers = map[string]rtLister{
	"ListStages": func(ctx context.Context, c *ivsrealtime.Client, max *int32, next *string) ([]string, *string, error) {
		out, err := c.ListStages(ctx, &ivsrealtime.ListStagesInput{MaxResults: max, NextToken: next})
		if err != nil {
			return nil, nil, err
		}
		var arns []string
		for _, x := range out.Stages {
			arns = append(arns, *x.Arn)
		}
		return arns, out.NextToken, nil
	},
	"ListPublicKeys": func(ctx context.Context, c *ivsrealtime.Client, max *int32, next *string) ([]string, *string, error) {
		out, err := c.ListPublicKeys(ctx, &ivsrealtime.ListPublicKeysInput{MaxResults: max, NextToken: next})
		if err != nil {
			return nil, nil, err
		}
		var arns []string
		for _, x := range out.PublicKeys {
			arns = append(arns, *x.Arn)
		}
		return arns, out.NextToken, nil
	},
	"ListStorageConfigurations": func(ctx context.Context, c *ivsrealtime.Client, max *int32, next *string) ([]string, *string, error) {
		out, err := c.ListStorageConfigurations(ctx, &ivsrealtime.ListStorageConfigurationsInput{MaxResults: max, NextToken: next})
		if err != nil {
			return nil, nil, err
		}
		var arns []string
		for _, x := range out.StorageConfigurations {
			arns = append(arns, *x.Arn)
		}
		return arns, out.NextToken, nil
	},
	"ListEncoderConfigurations": func(ctx context.Context, c *ivsrealtime.Client, max *int32, next *string) ([]string, *string, error) {
		out, err := c.ListEncoderConfigurations(ctx, &ivsrealtime.ListEncoderConfigurationsInput{MaxResults: max, NextToken: next})
		if err != nil {
			return nil, nil, err
		}
		var arns []string
		for _, x := range out.EncoderConfigurations {
			arns = append(arns, *x.Arn)
		}
		return arns, out.NextToken, nil
	},
	"ListIngestConfigurations": func(ctx context.Context, c *ivsrealtime.Client, max *int32, next *string) ([]string, *string, error) {
		out, err := c.ListIngestConfigurations(ctx, &ivsrealtime.ListIngestConfigurationsInput{MaxResults: max, NextToken: next})
		if err != nil {
			return nil, nil, err
		}
		var arns []string
		for _, x := range out.IngestConfigurations {
			arns = append(arns, *x.Arn)
		}
		return arns, out.NextToken, nil
	},
	"ListIngestConfigurations INACTIVE": func(ctx context.Context, c *ivsrealtime.Client, max *int32, next *string) ([]string, *string, error) {
		out, err := c.ListIngestConfigurations(ctx, &ivsrealtime.ListIngestConfigurationsInput{MaxResults: max, NextToken: next,
			FilterByState: rttypes.IngestConfigurationStateInactive})
		if err != nil {
			return nil, nil, err
		}
		var arns []string
		for _, x := range out.IngestConfigurations {
			arns = append(arns, *x.Arn)
		}
		return arns, out.NextToken, nil
	},
}

// rtWalk lists every page with page size max (nil: the default) and returns the ARNs and page sizes.
func rtWalk(t *testing.T, c *ivsrealtime.Client, l rtLister, max *int32) ([]string, []int) {
	t.Helper()
	ctx := Ctx(t)
	var all []string
	var sizes []int
	var next *string
	for i := 0; ; i++ {
		arns, n, err := l(ctx, c, max, next)
		if err != nil {
			t.Fatalf("page %d: %v", i, err)
		}
		all, sizes = append(all, arns...), append(sizes, len(arns))
		if n == nil {
			return all, sizes
		}
		if *n == "" {
			t.Fatal("empty nextToken: it must be omitted on the last page")
		}
		next = n
		if i > 1000 {
			t.Fatal("pagination does not end")
		}
	}
}

// TestRealtimePagination walks every paginated real-time List operation with several page sizes and the model's
// default, and checks that tokens are bound to their operation and caller.
func TestRealtimePagination(t *testing.T) {
	t.Parallel()
	s := Start(t, Options{})
	c := realtimeClient(s, Credential{}, "")
	ctx := Ctx(t)
	want := map[string][]string{}
	for i := 0; i < 111; i++ {
		st := sdk(c.CreateStage(ctx, &ivsrealtime.CreateStageInput{Name: aws.String(fmt.Sprintf("s%d", i))})).must(t, "CreateStage").Stage
		want["ListStages"] = append(want["ListStages"], *st.Arn)
		ic := sdk(c.CreateIngestConfiguration(ctx, &ivsrealtime.CreateIngestConfigurationInput{IngestProtocol: rttypes.IngestProtocolRtmps})).must(t, "CreateIngestConfiguration").IngestConfiguration
		want["ListIngestConfigurations"] = append(want["ListIngestConfigurations"], *ic.Arn)
		sc := sdk(c.CreateStorageConfiguration(ctx, &ivsrealtime.CreateStorageConfigurationInput{
			S3: &rttypes.S3StorageConfiguration{BucketName: aws.String("bucket")}})).must(t, "CreateStorageConfiguration").StorageConfiguration
		want["ListStorageConfigurations"] = append(want["ListStorageConfigurations"], *sc.Arn)
	}
	want["ListIngestConfigurations INACTIVE"] = want["ListIngestConfigurations"]
	for i := 0; i < 57; i++ {
		pk := sdk(c.ImportPublicKey(ctx, &ivsrealtime.ImportPublicKeyInput{PublicKeyMaterial: aws.String(newP384PEM(t))})).must(t, "ImportPublicKey").PublicKey
		want["ListPublicKeys"] = append(want["ListPublicKeys"], *pk.Arn)
	}
	for i := 0; i < 20; i++ {
		ec := sdk(c.CreateEncoderConfiguration(ctx, &ivsrealtime.CreateEncoderConfigurationInput{})).must(t, "CreateEncoderConfiguration").EncoderConfiguration
		want["ListEncoderConfigurations"] = append(want["ListEncoderConfigurations"], *ec.Arn)
	}
	// Defaults (model documentation): 50 for stages, public keys and ingest configurations; 100 for encoder
	// configurations; the quota or 100 for storage configurations.
	defaults := map[string]int{"ListStages": 50, "ListPublicKeys": 50, "ListIngestConfigurations": 50, "ListIngestConfigurations INACTIVE": 50,
		"ListEncoderConfigurations": 100, "ListStorageConfigurations": 100}
	for name, l := range rtListers {
		t.Run(name, func(t *testing.T) {
			all, sizes := rtWalk(t, c, l, nil)
			if !slices.Equal(all, want[name]) {
				t.Fatalf("default pages: %d ARNs, want %d in creation order", len(all), len(want[name]))
			}
			if sizes[0] != min(defaults[name], len(want[name])) {
				t.Errorf("default first page has %d, want %d", sizes[0], min(defaults[name], len(want[name])))
			}
			for _, max := range []int32{1, 7, 100} {
				all, sizes := rtWalk(t, c, l, aws.Int32(max))
				if !slices.Equal(all, want[name]) {
					t.Errorf("maxResults %d: %d ARNs, want %d in creation order", max, len(all), len(want[name]))
				}
				for i, n := range sizes[:len(sizes)-1] {
					if n != int(max) {
						t.Errorf("maxResults %d: page %d has %d", max, i, n)
					}
				}
			}
			_, _, err := l(ctx, c, aws.Int32(101), nil)
			rtValidation(t, name+" maxResults 101", err)
			_, _, err = l(ctx, c, aws.Int32(0), nil)
			rtValidation(t, name+" maxResults 0", err)
			_, _, err = l(ctx, c, nil, aws.String("garbage"))
			rtValidation(t, name+" with a forged token", err)
		})
	}
	// A token works only for the operation, filters and caller that made it.
	_, next, err := rtListers["ListStages"](ctx, c, aws.Int32(2), nil)
	if err != nil || next == nil {
		t.Fatalf("ListStages: %v %v", next, err)
	}
	_, _, err = rtListers["ListStorageConfigurations"](ctx, c, nil, next)
	rtValidation(t, "ListStorageConfigurations with a ListStages token", err)
	_, _, err = rtListers["ListStages"](ctx, realtimeClient(s, SecondCredential, ""), nil, next)
	rtValidation(t, "ListStages with another account's token", err)
	_, icNext, _ := rtListers["ListIngestConfigurations"](ctx, c, aws.Int32(2), nil)
	_, _, err = rtListers["ListIngestConfigurations INACTIVE"](ctx, c, nil, icNext)
	rtValidation(t, "ListIngestConfigurations by state with an unfiltered token", err)
}

// TestRealtimeAccountsAndRegions: every real-time resource lives in one account and one region, and List shows the
// caller's own only.
func TestRealtimeAccountsAndRegions(t *testing.T) {
	t.Parallel()
	s := Start(t, Options{})
	ctx := Ctx(t)
	scopes := []struct {
		region, account string
		c               *ivsrealtime.Client
	}{
		{"us-west-2", DefaultCredential.AccountID, realtimeClient(s, Credential{}, "")},
		{"us-west-2", SecondCredential.AccountID, realtimeClient(s, SecondCredential, "")},
		{"eu-west-1", DefaultCredential.AccountID, realtimeClient(s, Credential{}, "eu-west-1")},
	}
	own := make([]map[string][]string, len(scopes))
	for round := 0; round < 2; round++ {
		for i, sc := range scopes {
			if own[i] == nil {
				own[i] = map[string][]string{}
			}
			st := sdk(sc.c.CreateStage(ctx, &ivsrealtime.CreateStageInput{})).must(t, "CreateStage").Stage
			checkARN(t, "CreateStage in "+sc.region+"/"+sc.account, st.Arn, sc.region, sc.account, "stage")
			own[i]["ListStages"] = append(own[i]["ListStages"], *st.Arn)
			pk := sdk(sc.c.ImportPublicKey(ctx, &ivsrealtime.ImportPublicKeyInput{PublicKeyMaterial: aws.String(newP384PEM(t))})).must(t, "ImportPublicKey").PublicKey
			checkARN(t, "ImportPublicKey in "+sc.region+"/"+sc.account, pk.Arn, sc.region, sc.account, "public-key")
			own[i]["ListPublicKeys"] = append(own[i]["ListPublicKeys"], *pk.Arn)
			ec := sdk(sc.c.CreateEncoderConfiguration(ctx, &ivsrealtime.CreateEncoderConfigurationInput{})).must(t, "CreateEncoderConfiguration").EncoderConfiguration
			checkARN(t, "CreateEncoderConfiguration in "+sc.region+"/"+sc.account, ec.Arn, sc.region, sc.account, "encoder-configuration")
			own[i]["ListEncoderConfigurations"] = append(own[i]["ListEncoderConfigurations"], *ec.Arn)
			stc := sdk(sc.c.CreateStorageConfiguration(ctx, &ivsrealtime.CreateStorageConfigurationInput{S3: &rttypes.S3StorageConfiguration{BucketName: aws.String("b-1")}})).must(t, "CreateStorageConfiguration").StorageConfiguration
			checkARN(t, "CreateStorageConfiguration in "+sc.region+"/"+sc.account, stc.Arn, sc.region, sc.account, "storage-configuration")
			own[i]["ListStorageConfigurations"] = append(own[i]["ListStorageConfigurations"], *stc.Arn)
			ic := sdk(sc.c.CreateIngestConfiguration(ctx, &ivsrealtime.CreateIngestConfigurationInput{IngestProtocol: rttypes.IngestProtocolRtmps, StageArn: st.Arn})).must(t, "CreateIngestConfiguration").IngestConfiguration
			checkARN(t, "CreateIngestConfiguration in "+sc.region+"/"+sc.account, ic.Arn, sc.region, sc.account, "ingest-configuration")
			if m := reRTStreamKey.FindStringSubmatch(*ic.StreamKey); sc.account == DefaultCredential.AccountID && sc.region == "us-west-2" && m == nil {
				t.Errorf("stream key %q", *ic.StreamKey)
			}
			own[i]["ListIngestConfigurations"] = append(own[i]["ListIngestConfigurations"], *ic.Arn)
		}
	}
	for i, sc := range scopes {
		for name, l := range rtListers {
			if name == "ListIngestConfigurations INACTIVE" {
				continue
			}
			got, _ := rtWalk(t, sc.c, l, nil)
			if !slices.Equal(got, own[i][name]) {
				t.Errorf("%s in %s/%s: %v, want %v", name, sc.region, sc.account, got, own[i][name])
			}
		}
	}
	// A stage of us-west-2 is not found from eu-west-1, for each operation naming a stage.
	usStage := own[0]["ListStages"][0]
	eu := scopes[2].c
	_, err := eu.GetStage(ctx, &ivsrealtime.GetStageInput{Arn: &usStage})
	rtNotFound(t, "GetStage from another region", err)
	_, err = eu.DeleteStage(ctx, &ivsrealtime.DeleteStageInput{Arn: &usStage})
	rtNotFound(t, "DeleteStage from another region", err)
	_, err = eu.DisconnectParticipant(ctx, &ivsrealtime.DisconnectParticipantInput{StageArn: &usStage, ParticipantId: aws.String("p")})
	rtNotFound(t, "DisconnectParticipant from another region", err)
	_, err = eu.GetPublicKey(ctx, &ivsrealtime.GetPublicKeyInput{Arn: &own[0]["ListPublicKeys"][0]})
	rtNotFound(t, "GetPublicKey from another region", err)
	_, err = eu.GetEncoderConfiguration(ctx, &ivsrealtime.GetEncoderConfigurationInput{Arn: &own[0]["ListEncoderConfigurations"][0]})
	rtNotFound(t, "GetEncoderConfiguration from another region", err)
	_, err = eu.GetStorageConfiguration(ctx, &ivsrealtime.GetStorageConfigurationInput{Arn: &own[0]["ListStorageConfigurations"][0]})
	rtNotFound(t, "GetStorageConfiguration from another region", err)
	_, err = eu.GetIngestConfiguration(ctx, &ivsrealtime.GetIngestConfigurationInput{Arn: &own[0]["ListIngestConfigurations"][0]})
	rtNotFound(t, "GetIngestConfiguration from another region", err)
	// The low-latency API and the real-time API keep their resources apart on the shared port.
	if chs := sdk(s.IVS(Credential{}, "").ListChannels(ctx, nil)).must(t, "ListChannels"); len(chs.Channels) != 0 {
		t.Errorf("ListChannels shows real-time resources: %+v", chs.Channels)
	}
}
