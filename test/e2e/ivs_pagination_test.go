package e2e

import (
	"context"
	"fmt"
	"slices"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ivs"
	"github.com/aws/aws-sdk-go-v2/service/ivs/types"
)

// lister drives one List* operation generically: items are identified by ARN.
type lister struct {
	op          string
	defaultPage int // the model's default maxResults, with the quotas this test's server runs with
	create      func(t *testing.T, i int) string
	delete      func(t *testing.T, arn string)
	page        func(ctx context.Context, token *string, max *int32) ([]string, *string, error)
	paginate    func(ctx context.Context, limit int32) ([]string, error) // with the SDK's paginator
}

func ivsListers(c *ivs.Client) []lister {
	arnsOf := func(n int, arn func(i int) *string) []string {
		out := make([]string, 0, n)
		for i := 0; i < n; i++ {
			out = append(out, aws.ToString(arn(i)))
		}
		return out
	}
	mt := []types.MediaTailorPlaybackConfiguration{{PlaybackConfigurationArn: aws.String(mediaTailorARN("p"))}}
	return []lister{
		{
			op: "ListChannels", defaultPage: 100,
			create: func(t *testing.T, i int) string {
				name := fmt.Sprintf("ch-%d", i)
				if i%20 == 0 {
					name = "dup"
				}
				return *sdk(c.CreateChannel(context.Background(), &ivs.CreateChannelInput{Name: aws.String(name)})).must(t, "CreateChannel").Channel.Arn
			},
			delete: func(t *testing.T, a string) {
				sdk(c.DeleteChannel(context.Background(), &ivs.DeleteChannelInput{Arn: aws.String(a)})).must(t, "DeleteChannel")
			},
			page: func(ctx context.Context, token *string, max *int32) ([]string, *string, error) {
				out, err := c.ListChannels(ctx, &ivs.ListChannelsInput{NextToken: token, MaxResults: max})
				if err != nil {
					return nil, nil, err
				}
				return arnsOf(len(out.Channels), func(i int) *string { return out.Channels[i].Arn }), out.NextToken, nil
			},
			paginate: func(ctx context.Context, limit int32) ([]string, error) {
				var all []string
				for p := ivs.NewListChannelsPaginator(c, &ivs.ListChannelsInput{}, func(o *ivs.ListChannelsPaginatorOptions) { o.Limit = limit }); p.HasMorePages(); {
					out, err := p.NextPage(ctx)
					if err != nil {
						return nil, err
					}
					all = append(all, arnsOf(len(out.Channels), func(i int) *string { return out.Channels[i].Arn })...)
				}
				return all, nil
			},
		},
		{
			op: "ListRecordingConfigurations", defaultPage: 100,
			create: func(t *testing.T, i int) string {
				return *sdk(c.CreateRecordingConfiguration(context.Background(), &ivs.CreateRecordingConfigurationInput{
					DestinationConfiguration: testS3("bucket"), Name: aws.String(fmt.Sprintf("rc-%d", i))})).must(t, "CreateRecordingConfiguration").RecordingConfiguration.Arn
			},
			delete: func(t *testing.T, a string) {
				sdk(c.DeleteRecordingConfiguration(context.Background(), &ivs.DeleteRecordingConfigurationInput{Arn: aws.String(a)})).must(t, "DeleteRecordingConfiguration")
			},
			page: func(ctx context.Context, token *string, max *int32) ([]string, *string, error) {
				out, err := c.ListRecordingConfigurations(ctx, &ivs.ListRecordingConfigurationsInput{NextToken: token, MaxResults: max})
				if err != nil {
					return nil, nil, err
				}
				return arnsOf(len(out.RecordingConfigurations), func(i int) *string { return out.RecordingConfigurations[i].Arn }), out.NextToken, nil
			},
			paginate: func(ctx context.Context, limit int32) ([]string, error) {
				var all []string
				for p := ivs.NewListRecordingConfigurationsPaginator(c, &ivs.ListRecordingConfigurationsInput{}, func(o *ivs.ListRecordingConfigurationsPaginatorOptions) { o.Limit = limit }); p.HasMorePages(); {
					out, err := p.NextPage(ctx)
					if err != nil {
						return nil, err
					}
					all = append(all, arnsOf(len(out.RecordingConfigurations), func(i int) *string { return out.RecordingConfigurations[i].Arn })...)
				}
				return all, nil
			},
		},
		{
			op: "ListPlaybackRestrictionPolicies", defaultPage: 1,
			create: func(t *testing.T, i int) string {
				return *sdk(c.CreatePlaybackRestrictionPolicy(context.Background(), &ivs.CreatePlaybackRestrictionPolicyInput{
					Name: aws.String(fmt.Sprintf("p-%d", i))})).must(t, "CreatePlaybackRestrictionPolicy").PlaybackRestrictionPolicy.Arn
			},
			delete: func(t *testing.T, a string) {
				sdk(c.DeletePlaybackRestrictionPolicy(context.Background(), &ivs.DeletePlaybackRestrictionPolicyInput{Arn: aws.String(a)})).must(t, "DeletePlaybackRestrictionPolicy")
			},
			page: func(ctx context.Context, token *string, max *int32) ([]string, *string, error) {
				out, err := c.ListPlaybackRestrictionPolicies(ctx, &ivs.ListPlaybackRestrictionPoliciesInput{NextToken: token, MaxResults: max})
				if err != nil {
					return nil, nil, err
				}
				return arnsOf(len(out.PlaybackRestrictionPolicies), func(i int) *string { return out.PlaybackRestrictionPolicies[i].Arn }), out.NextToken, nil
			},
			paginate: func(ctx context.Context, limit int32) ([]string, error) {
				var all []string
				for p := ivs.NewListPlaybackRestrictionPoliciesPaginator(c, &ivs.ListPlaybackRestrictionPoliciesInput{}, func(o *ivs.ListPlaybackRestrictionPoliciesPaginatorOptions) { o.Limit = limit }); p.HasMorePages(); {
					out, err := p.NextPage(ctx)
					if err != nil {
						return nil, err
					}
					all = append(all, arnsOf(len(out.PlaybackRestrictionPolicies), func(i int) *string { return out.PlaybackRestrictionPolicies[i].Arn })...)
				}
				return all, nil
			},
		},
		{
			op: "ListAdConfigurations", defaultPage: 100,
			create: func(t *testing.T, i int) string {
				return *sdk(c.CreateAdConfiguration(context.Background(), &ivs.CreateAdConfigurationInput{
					MediaTailorPlaybackConfigurations: mt, Name: aws.String(fmt.Sprintf("ad-%d", i))})).must(t, "CreateAdConfiguration").AdConfiguration.Arn
			},
			delete: func(t *testing.T, a string) {
				sdk(c.DeleteAdConfiguration(context.Background(), &ivs.DeleteAdConfigurationInput{Arn: aws.String(a)})).must(t, "DeleteAdConfiguration")
			},
			page: func(ctx context.Context, token *string, max *int32) ([]string, *string, error) {
				out, err := c.ListAdConfigurations(ctx, &ivs.ListAdConfigurationsInput{NextToken: token, MaxResults: max})
				if err != nil {
					return nil, nil, err
				}
				return arnsOf(len(out.AdConfigurations), func(i int) *string { return out.AdConfigurations[i].Arn }), out.NextToken, nil
			},
			paginate: func(ctx context.Context, limit int32) ([]string, error) {
				var all []string
				for p := ivs.NewListAdConfigurationsPaginator(c, &ivs.ListAdConfigurationsInput{}, func(o *ivs.ListAdConfigurationsPaginatorOptions) { o.Limit = limit }); p.HasMorePages(); {
					out, err := p.NextPage(ctx)
					if err != nil {
						return nil, err
					}
					all = append(all, arnsOf(len(out.AdConfigurations), func(i int) *string { return out.AdConfigurations[i].Arn })...)
				}
				return all, nil
			},
		},
		{
			op: "ListPlaybackKeyPairs", defaultPage: 100,
			create: func(t *testing.T, i int) string {
				return *sdk(c.ImportPlaybackKeyPair(context.Background(), &ivs.ImportPlaybackKeyPairInput{
					PublicKeyMaterial: aws.String(newP384PEM(t)), Name: aws.String(fmt.Sprintf("kp-%d", i))})).must(t, "ImportPlaybackKeyPair").KeyPair.Arn
			},
			delete: func(t *testing.T, a string) {
				sdk(c.DeletePlaybackKeyPair(context.Background(), &ivs.DeletePlaybackKeyPairInput{Arn: aws.String(a)})).must(t, "DeletePlaybackKeyPair")
			},
			page: func(ctx context.Context, token *string, max *int32) ([]string, *string, error) {
				out, err := c.ListPlaybackKeyPairs(ctx, &ivs.ListPlaybackKeyPairsInput{NextToken: token, MaxResults: max})
				if err != nil {
					return nil, nil, err
				}
				return arnsOf(len(out.KeyPairs), func(i int) *string { return out.KeyPairs[i].Arn }), out.NextToken, nil
			},
			paginate: func(ctx context.Context, limit int32) ([]string, error) {
				var all []string
				for p := ivs.NewListPlaybackKeyPairsPaginator(c, &ivs.ListPlaybackKeyPairsInput{}, func(o *ivs.ListPlaybackKeyPairsPaginatorOptions) { o.Limit = limit }); p.HasMorePages(); {
					out, err := p.NextPage(ctx)
					if err != nil {
						return nil, err
					}
					all = append(all, arnsOf(len(out.KeyPairs), func(i int) *string { return out.KeyPairs[i].Arn })...)
				}
				return all, nil
			},
		},
	}
}

// walk lists every page with maxResults max, calling between(page) after each page but the last. It checks the
// page sizes and that only the last page lacks a nextToken.
func walk(t *testing.T, ctx context.Context, l lister, max int32, between func(page int, seen []string)) []string {
	t.Helper()
	var all []string
	var token *string
	for page := 0; ; page++ {
		if page > 1000 {
			t.Fatalf("%s: more than 1000 pages", l.op)
		}
		items, next, err := l.page(ctx, token, aws.Int32(max))
		if err != nil {
			t.Fatalf("%s page %d: %v", l.op, page, err)
		}
		if len(items) > int(max) {
			t.Errorf("%s page %d: %d items, more than maxResults %d", l.op, page, len(items), max)
		}
		if next != nil && len(items) != int(max) {
			t.Errorf("%s page %d: %d items and a nextToken, want full pages before the last", l.op, page, len(items))
		}
		if next != nil && *next == "" {
			t.Errorf("%s page %d: nextToken \"\" where it should be omitted", l.op, page)
		}
		all = append(all, items...)
		if next == nil {
			return all
		}
		if between != nil {
			between(page, all)
		}
		token = next
	}
}

func duplicates(items []string) []string {
	seen := map[string]int{}
	var dups []string
	for _, it := range items {
		if seen[it]++; seen[it] == 2 {
			dups = append(dups, it)
		}
	}
	return dups
}

// TestIVSPagination walks every List* operation that can hold more items than a page: page sizes, the model's
// default page size, creation order, nextToken omitted on the last page, items created and deleted during a walk,
// the SDK's paginators, and tokens that must be refused.
func TestIVSPagination(t *testing.T) {
	t.Parallel()
	s := Start(t, Options{Args: []string{"--quota-recording-configurations", "150", "--quota-playback-restriction-policies", "150",
		"--quota-ad-configurations", "150", "--quota-playback-key-pairs", "150"}})
	c := s.IVS(Credential{}, "")
	ctx := Ctx(t)
	const n = 101
	listers := ivsListers(c)
	tokens := map[string]string{} // a valid token of each operation, to replay against the others

	for _, l := range listers {
		created := make([]string, n)
		for i := range created {
			created[i] = l.create(t, i)
		}

		// The default page size.
		items, next, err := l.page(ctx, nil, nil)
		if err != nil {
			t.Fatalf("%s: %v", l.op, err)
		}
		if len(items) != l.defaultPage || next == nil {
			t.Errorf("%s without maxResults: %d items, nextToken %v; want the default page of %d and a nextToken", l.op, len(items), next != nil, l.defaultPage)
		} else {
			tokens[l.op] = *next
		}
		if !slices.Equal(items, created[:min(len(items), n)]) {
			t.Errorf("%s: the first page is not the first items in creation order", l.op)
		}
		items, next, err = l.page(ctx, nil, aws.Int32(100))
		if err != nil || len(items) != 100 || next == nil {
			t.Errorf("%s maxResults 100: %d items, nextToken %v, err %v", l.op, len(items), next != nil, err)
		}

		// Full walks: every item once, in creation order, for several page sizes.
		for _, max := range []int32{1, 7, 50, 100} {
			if got := walk(t, ctx, l, max, nil); !slices.Equal(got, created) {
				t.Errorf("%s walk with maxResults %d: %d items (duplicates %v), want the %d created in creation order", l.op, max, len(got), duplicates(got), n)
			}
		}

		// Items created during the walk: every item that existed at the start comes back exactly once, in order.
		var added []string
		got := walk(t, ctx, l, 10, func(page int, seen []string) {
			if page < 4 {
				added = append(added, l.create(t, 1001+page))
			}
		})
		if d := duplicates(got); len(d) > 0 {
			t.Errorf("%s walk during creates: duplicates %v", l.op, d)
		}
		var originals []string
		for _, a := range got {
			if slices.Contains(created, a) {
				originals = append(originals, a)
			} else if !slices.Contains(added, a) {
				t.Errorf("%s walk during creates: unknown item %s", l.op, a)
			}
		}
		if !slices.Equal(originals, created) {
			t.Errorf("%s walk during creates: %d of the %d original items, out of order or missing", l.op, len(originals), n)
		}
		all := append(slices.Clone(created), added...)

		// Items deleted during the walk: the one the token resumes after, and one not reached yet.
		var resumed, gone string
		got = walk(t, ctx, l, 10, func(page int, seen []string) {
			if page == 0 {
				resumed, gone = seen[len(seen)-1], all[61]
				l.delete(t, resumed)
				l.delete(t, gone)
			}
		})
		want := slices.DeleteFunc(slices.Clone(all), func(a string) bool { return a == gone })
		if !slices.Equal(got, want) {
			t.Errorf("%s walk during deletes: %d items (duplicates %v), want %d", l.op, len(got), duplicates(got), len(want))
		}
		all = slices.DeleteFunc(all, func(a string) bool { return a == gone || a == resumed })

		// The SDK's paginator.
		for _, limit := range []int32{3, 100} {
			got, err := l.paginate(ctx, limit)
			if err != nil {
				t.Errorf("%s paginator (limit %d): %v", l.op, limit, err)
			} else if !slices.Equal(got, all) {
				t.Errorf("%s paginator (limit %d): %d items (duplicates %v), want %d", l.op, limit, len(got), duplicates(got), len(all))
			}
		}

		// Refused requests.
		_, _, err = l.page(ctx, aws.String("garbled"), nil)
		wantValidation(t, l.op+" garbled nextToken", err)
		_, _, err = l.page(ctx, aws.String("no spaces!"), nil)
		wantValidation(t, l.op+" nextToken pattern", err)
		if tok := tokens[l.op]; tok != "" {
			// The second to last character: it carries six whole bits of the decoded token (the last may carry
			// padding bits a decoder ignores).
			_, _, err = l.page(ctx, aws.String(otherLast(tok[:len(tok)-1])+tok[len(tok)-1:]), nil)
			wantValidation(t, l.op+" altered nextToken", err)
		}
		_, _, err = l.page(ctx, nil, aws.Int32(0))
		wantValidation(t, l.op+" maxResults 0", err)
		_, _, err = l.page(ctx, nil, aws.Int32(101))
		wantValidation(t, l.op+" maxResults 101", err)
	}

	// A token is only good for the operation that made it.
	for _, l := range listers {
		for op, tok := range tokens {
			if op == l.op {
				continue
			}
			_, _, err := l.page(ctx, aws.String(tok), nil)
			wantValidation(t, l.op+" with a nextToken of "+op, err)
		}
	}

	// ListChannels with a filter pages through the matches only; its tokens are bound to the filter.
	var dups []string
	for p := ivs.NewListChannelsPaginator(c, &ivs.ListChannelsInput{FilterByName: aws.String("dup"), MaxResults: aws.Int32(2)}); p.HasMorePages(); {
		out := sdk(p.NextPage(ctx)).must(t, "ListChannels filterByName paginator")
		if len(out.Channels) > 2 {
			t.Errorf("ListChannels filterByName maxResults 2: %d channels", len(out.Channels))
		}
		for _, ch := range out.Channels {
			if aws.ToString(ch.Name) != "dup" {
				t.Errorf("ListChannels filterByName dup returned %q", aws.ToString(ch.Name))
			}
			dups = append(dups, *ch.Arn)
		}
	}
	if len(dups) != 6 || len(duplicates(dups)) != 0 { // i = 0, 20, 40, 60, 80, 100
		t.Errorf("ListChannels filterByName dup: %d channels %v, want 6", len(dups), dups)
	}
	first := sdk(c.ListChannels(ctx, &ivs.ListChannelsInput{FilterByName: aws.String("dup"), MaxResults: aws.Int32(2)})).must(t, "ListChannels filterByName")
	if first.NextToken == nil {
		t.Fatal("ListChannels filterByName dup maxResults 2: no nextToken")
	}
	sdk(c.ListChannels(ctx, &ivs.ListChannelsInput{FilterByName: aws.String("dup"), NextToken: first.NextToken})).must(t, "ListChannels with its own token")
	_, err := c.ListChannels(ctx, &ivs.ListChannelsInput{FilterByName: aws.String("ch-1"), NextToken: first.NextToken})
	wantValidation(t, "ListChannels filterByName token reused with another name", err)
	_, err = c.ListChannels(ctx, &ivs.ListChannelsInput{NextToken: first.NextToken})
	wantValidation(t, "ListChannels filterByName token reused without filter", err)
	rc := sdk(c.ListRecordingConfigurations(ctx, &ivs.ListRecordingConfigurationsInput{MaxResults: aws.Int32(1)})).must(t, "ListRecordingConfigurations").RecordingConfigurations[0].Arn
	_, err = c.ListChannels(ctx, &ivs.ListChannelsInput{FilterByRecordingConfigurationArn: rc, NextToken: first.NextToken})
	wantValidation(t, "ListChannels filterByName token reused with filterByRecordingConfigurationArn", err)
	_, err = c.ListChannels(ctx, &ivs.ListChannelsInput{FilterByName: aws.String("dup"), NextToken: aws.String(tokens["ListChannels"])})
	wantValidation(t, "ListChannels unfiltered token reused with filterByName", err)

	// Tokens are bound to the account and the region.
	if tok := tokens["ListChannels"]; tok != "" {
		_, err = s.IVS(SecondCredential, "").ListChannels(ctx, &ivs.ListChannelsInput{NextToken: aws.String(tok)})
		wantValidation(t, "ListChannels token of account 1 used by account 2", err)
		_, err = s.IVS(Credential{}, "eu-west-1").ListChannels(ctx, &ivs.ListChannelsInput{NextToken: aws.String(tok)})
		wantValidation(t, "ListChannels token of us-west-2 used in eu-west-1", err)
	}

	// ListStreamKeys: a channel has one key; the default page is 1.
	ch := sdk(c.CreateChannel(ctx, &ivs.CreateChannelInput{})).must(t, "CreateChannel")
	ks := sdk(c.ListStreamKeys(ctx, &ivs.ListStreamKeysInput{ChannelArn: ch.Channel.Arn})).must(t, "ListStreamKeys")
	if len(ks.StreamKeys) != 1 || aws.ToString(ks.StreamKeys[0].Arn) != *ch.StreamKey.Arn || ks.NextToken != nil {
		t.Errorf("ListStreamKeys: %+v, want the channel's key and no nextToken", ks)
	}
	var keys []string
	for p := ivs.NewListStreamKeysPaginator(c, &ivs.ListStreamKeysInput{ChannelArn: ch.Channel.Arn}); p.HasMorePages(); {
		for _, k := range sdk(p.NextPage(ctx)).must(t, "ListStreamKeys paginator").StreamKeys {
			keys = append(keys, *k.Arn)
		}
	}
	wantARNs(t, "ListStreamKeys paginator", keys, *ch.StreamKey.Arn)
	_, err = c.ListStreamKeys(ctx, &ivs.ListStreamKeysInput{ChannelArn: ch.Channel.Arn, NextToken: aws.String("garbled")})
	wantValidation(t, "ListStreamKeys garbled nextToken", err)
	_, err = c.ListStreamKeys(ctx, &ivs.ListStreamKeysInput{ChannelArn: ch.Channel.Arn, NextToken: aws.String(tokens["ListChannels"])})
	wantValidation(t, "ListStreamKeys with a nextToken of ListChannels", err)
}
