package e2e

import (
	"crypto/elliptic"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ivs"
	"github.com/aws/aws-sdk-go-v2/service/ivs/types"
)

// TestIVSPlaybackKeyPairs covers ImportPlaybackKeyPair, GetPlaybackKeyPair, ListPlaybackKeyPairs and
// DeletePlaybackKeyPair, with the conflict on a duplicate key and the quota of 3.
func TestIVSPlaybackKeyPairs(t *testing.T) {
	t.Parallel()
	s := Start(t, Options{})
	c := s.IVS(Credential{}, "")
	c2 := s.IVS(SecondCredential, "")
	ctx := Ctx(t)
	acct := DefaultCredential.AccountID

	k1 := newP384PEM(t)
	imp := sdk(c.ImportPlaybackKeyPair(ctx, &ivs.ImportPlaybackKeyPairInput{PublicKeyMaterial: aws.String(k1), Name: aws.String("key-1"),
		Tags: map[string]string{"use": "playback"}})).must(t, "ImportPlaybackKeyPair")
	kp := imp.KeyPair
	checkARN(t, "ImportPlaybackKeyPair", kp.Arn, "us-west-2", acct, "playback-key")
	fp := aws.ToString(kp.Fingerprint)
	if !reFingerprint.MatchString(fp) {
		t.Errorf("fingerprint %q, want 16 colon-separated lowercase hex bytes", fp)
	}
	if aws.ToString(kp.Name) != "key-1" || !equalTags(kp.Tags, map[string]string{"use": "playback"}) {
		t.Errorf("ImportPlaybackKeyPair: %+v", kp)
	}
	got := sdk(c.GetPlaybackKeyPair(ctx, &ivs.GetPlaybackKeyPairInput{Arn: kp.Arn})).must(t, "GetPlaybackKeyPair").KeyPair
	if aws.ToString(got.Arn) != *kp.Arn || aws.ToString(got.Name) != "key-1" || aws.ToString(got.Fingerprint) != fp || !equalTags(got.Tags, kp.Tags) {
		t.Errorf("GetPlaybackKeyPair %+v, want %+v", got, kp)
	}

	// The fingerprint is a function of the key: the same in another account, different for another key.
	other := sdk(c2.ImportPlaybackKeyPair(ctx, &ivs.ImportPlaybackKeyPairInput{PublicKeyMaterial: aws.String(k1)})).must(t, "ImportPlaybackKeyPair (account 2)").KeyPair
	checkARN(t, "ImportPlaybackKeyPair (account 2)", other.Arn, "us-west-2", SecondCredential.AccountID, "playback-key")
	if aws.ToString(other.Fingerprint) != fp {
		t.Errorf("the same key imported in account 2 has fingerprint %q, want %q", aws.ToString(other.Fingerprint), fp)
	}
	if aws.ToString(other.Name) != "" || other.Tags == nil || len(other.Tags) != 0 {
		t.Errorf("ImportPlaybackKeyPair without name or tags: %+v, want name \"\" and tags {}", other)
	}
	// PEM without the trailing newline, or with CRLF line ends, is the same key.
	sameKey := strings.ReplaceAll(strings.TrimSpace(k1), "\n", "\r\n")
	_, err := c.ImportPlaybackKeyPair(ctx, &ivs.ImportPlaybackKeyPairInput{PublicKeyMaterial: aws.String(sameKey)})
	wantConflict(t, "ImportPlaybackKeyPair of a key already imported", err)
	_, err = c.ImportPlaybackKeyPair(ctx, &ivs.ImportPlaybackKeyPairInput{PublicKeyMaterial: aws.String(k1), Name: aws.String("again")})
	wantConflict(t, "ImportPlaybackKeyPair of a key already imported", err)

	k2 := sdk(c.ImportPlaybackKeyPair(ctx, &ivs.ImportPlaybackKeyPairInput{PublicKeyMaterial: aws.String(newP384PEM(t)), Name: aws.String("key-2")})).must(t, "ImportPlaybackKeyPair 2").KeyPair
	if aws.ToString(k2.Fingerprint) == fp || !reFingerprint.MatchString(aws.ToString(k2.Fingerprint)) {
		t.Errorf("second key's fingerprint %q (first %q)", aws.ToString(k2.Fingerprint), fp)
	}
	k3 := sdk(c.ImportPlaybackKeyPair(ctx, &ivs.ImportPlaybackKeyPairInput{PublicKeyMaterial: aws.String(newP384PEM(t)), Name: aws.String("key-3")})).must(t, "ImportPlaybackKeyPair 3").KeyPair
	_, err = c.ImportPlaybackKeyPair(ctx, &ivs.ImportPlaybackKeyPairInput{PublicKeyMaterial: aws.String(newP384PEM(t)), Name: aws.String("key-4")})
	wantQuotaExceeded(t, "ImportPlaybackKeyPair beyond the quota of 3", err)
	_, err = c.ImportPlaybackKeyPair(ctx, &ivs.ImportPlaybackKeyPairInput{PublicKeyMaterial: aws.String(newP384PEM(t)), Tags: map[string]string{"aws:k": "v"}})
	wantValidation(t, "ImportPlaybackKeyPair aws: tag at the quota", err)
	_, err = c.ImportPlaybackKeyPair(ctx, &ivs.ImportPlaybackKeyPairInput{PublicKeyMaterial: aws.String("not a key")})
	wantValidation(t, "ImportPlaybackKeyPair garbage at the quota", err)

	ls := sdk(c.ListPlaybackKeyPairs(ctx, &ivs.ListPlaybackKeyPairsInput{})).must(t, "ListPlaybackKeyPairs")
	if len(ls.KeyPairs) != 3 || ls.NextToken != nil {
		t.Fatalf("ListPlaybackKeyPairs: %+v next %v, want 3 key pairs on one page", ls.KeyPairs, ls.NextToken)
	}
	for i, want := range []*types.PlaybackKeyPair{kp, k2, k3} {
		g := ls.KeyPairs[i]
		if aws.ToString(g.Arn) != aws.ToString(want.Arn) || aws.ToString(g.Name) != aws.ToString(want.Name) || !equalTags(g.Tags, want.Tags) || g.Tags == nil {
			t.Errorf("ListPlaybackKeyPairs[%d] = %+v, want %+v", i, g, want)
		}
	}
	ls2 := sdk(c2.ListPlaybackKeyPairs(ctx, &ivs.ListPlaybackKeyPairsInput{})).must(t, "ListPlaybackKeyPairs (account 2)")
	if len(ls2.KeyPairs) != 1 || aws.ToString(ls2.KeyPairs[0].Arn) != *other.Arn {
		t.Errorf("ListPlaybackKeyPairs (account 2): %+v", ls2.KeyPairs)
	}

	// Delete frees a place; the key can be imported again, with the same fingerprint and a new ARN.
	sdk(c.DeletePlaybackKeyPair(ctx, &ivs.DeletePlaybackKeyPairInput{Arn: kp.Arn})).must(t, "DeletePlaybackKeyPair")
	_, err = c.GetPlaybackKeyPair(ctx, &ivs.GetPlaybackKeyPairInput{Arn: kp.Arn})
	wantNotFound(t, "GetPlaybackKeyPair after delete", err)
	_, err = c.DeletePlaybackKeyPair(ctx, &ivs.DeletePlaybackKeyPairInput{Arn: kp.Arn})
	wantNotFound(t, "DeletePlaybackKeyPair twice", err)
	again := sdk(c.ImportPlaybackKeyPair(ctx, &ivs.ImportPlaybackKeyPairInput{PublicKeyMaterial: aws.String(k1)})).must(t, "ImportPlaybackKeyPair after delete").KeyPair
	if aws.ToString(again.Fingerprint) != fp || aws.ToString(again.Arn) == *kp.Arn {
		t.Errorf("re-imported key: %+v, want fingerprint %s and a new ARN", again, fp)
	}

	// Validation.
	sdk(c.DeletePlaybackKeyPair(ctx, &ivs.DeletePlaybackKeyPairInput{Arn: k3.Arn})).must(t, "DeletePlaybackKeyPair")
	for name, material := range map[string]string{
		"garbage":     "not a key",
		"P-256":       newECPEM(t, elliptic.P256()),
		"private key": "-----BEGIN EC PRIVATE KEY-----\nMHcCAQEEIBkg4LVWM9nuwNSk3yByxZpYRTBnVJk5oKQhVZ0FqvlaoAoGCCqGSM49\n-----END EC PRIVATE KEY-----\n",
	} {
		_, err = c.ImportPlaybackKeyPair(ctx, &ivs.ImportPlaybackKeyPairInput{PublicKeyMaterial: aws.String(material)})
		wantValidation(t, "ImportPlaybackKeyPair "+name, err)
	}
	_, err = c.ImportPlaybackKeyPair(ctx, &ivs.ImportPlaybackKeyPairInput{PublicKeyMaterial: aws.String(newP384PEM(t)), Name: aws.String("bad name")})
	wantValidation(t, "ImportPlaybackKeyPair name pattern", err)
	_, err = c.ImportPlaybackKeyPair(ctx, &ivs.ImportPlaybackKeyPairInput{PublicKeyMaterial: aws.String(newP384PEM(t)), Tags: map[string]string{"AWS:x": "y"}})
	wantValidation(t, "ImportPlaybackKeyPair aws: tag", err)
	_, err = c.ListPlaybackKeyPairs(ctx, &ivs.ListPlaybackKeyPairsInput{MaxResults: aws.Int32(0)})
	wantValidation(t, "ListPlaybackKeyPairs maxResults 0", err)
	if n := len(sdk(c.ListPlaybackKeyPairs(ctx, &ivs.ListPlaybackKeyPairsInput{})).must(t, "ListPlaybackKeyPairs").KeyPairs); n != 2 {
		t.Errorf("after the refused imports: %d key pairs, want 2", n)
	}

	// Unknown and foreign key pairs.
	_, err = c.GetPlaybackKeyPair(ctx, &ivs.GetPlaybackKeyPairInput{Arn: aws.String(unknownARN("playback-key"))})
	wantNotFound(t, "GetPlaybackKeyPair unknown", err)
	_, err = c.DeletePlaybackKeyPair(ctx, &ivs.DeletePlaybackKeyPairInput{Arn: aws.String(unknownARN("playback-key"))})
	wantNotFound(t, "DeletePlaybackKeyPair unknown", err)
	_, err = c.GetPlaybackKeyPair(ctx, &ivs.GetPlaybackKeyPairInput{Arn: other.Arn})
	wantAccessDenied(t, "GetPlaybackKeyPair of account 2", err)
	_, err = c.DeletePlaybackKeyPair(ctx, &ivs.DeletePlaybackKeyPairInput{Arn: other.Arn})
	wantAccessDenied(t, "DeletePlaybackKeyPair of account 2", err)
	sdk(c2.GetPlaybackKeyPair(ctx, &ivs.GetPlaybackKeyPairInput{Arn: other.Arn})).must(t, "GetPlaybackKeyPair (account 2)")
}

// TestIVSRecordingConfigurations covers Create/Get/List/DeleteRecordingConfiguration.
func TestIVSRecordingConfigurations(t *testing.T) {
	t.Parallel()
	s := Start(t, Options{})
	c := s.IVS(Credential{}, "")
	ctx := Ctx(t)
	acct := DefaultCredential.AccountID
	foreign := createForeignResources(t, s)

	// Without an S3 endpoint, buckets are directories under the data directory: these two exist.
	for _, b := range []string{"my-bucket", "other.bucket-1"} {
		if err := os.MkdirAll(filepath.Join(s.DataDir, "recordings", b), 0o755); err != nil {
			t.Fatal(err)
		}
	}

	// Defaults. A new configuration is CREATING while its bucket is checked, then ACTIVE.
	def := sdk(c.CreateRecordingConfiguration(ctx, &ivs.CreateRecordingConfigurationInput{DestinationConfiguration: testS3("my-bucket")})).must(t, "CreateRecordingConfiguration").RecordingConfiguration
	checkARN(t, "CreateRecordingConfiguration", def.Arn, "us-west-2", acct, "recording-configuration")
	if def.State != types.RecordingConfigurationStateCreating {
		t.Errorf("CreateRecordingConfiguration: state %s, want CREATING", def.State)
	}
	def.State = waitRecordingState(t, c, *def.Arn)
	wantDefaultRC := func(what string, rc *types.RecordingConfiguration) {
		t.Helper()
		th, rd := rc.ThumbnailConfiguration, rc.RenditionConfiguration
		if rc.State != types.RecordingConfigurationStateActive || aws.ToString(rc.Name) != "" || rc.Tags == nil || len(rc.Tags) != 0 ||
			rc.DestinationConfiguration == nil || rc.DestinationConfiguration.S3 == nil || aws.ToString(rc.DestinationConfiguration.S3.BucketName) != "my-bucket" ||
			rc.RecordingReconnectWindowSeconds != 0 {
			t.Errorf("%s: %+v", what, rc)
		}
		if th == nil || th.RecordingMode != types.RecordingModeInterval || aws.ToInt64(th.TargetIntervalSeconds) != 60 ||
			!slices.Equal(th.Storage, []types.ThumbnailConfigurationStorage{types.ThumbnailConfigurationStorageSequential}) {
			t.Errorf("%s: thumbnailConfiguration %+v, want INTERVAL / 60 s / [SEQUENTIAL]", what, th)
		}
		if rd == nil || rd.RenditionSelection != types.RenditionConfigurationRenditionSelectionAll || len(rd.Renditions) != 0 {
			t.Errorf("%s: renditionConfiguration %+v, want ALL", what, rd)
		}
	}
	wantDefaultRC("CreateRecordingConfiguration defaults", def)
	wantDefaultRC("GetRecordingConfiguration defaults", sdk(c.GetRecordingConfiguration(ctx, &ivs.GetRecordingConfigurationInput{Arn: def.Arn})).must(t, "GetRecordingConfiguration").RecordingConfiguration)

	// Every member.
	in := &ivs.CreateRecordingConfigurationInput{
		Name: aws.String("rec-full"), DestinationConfiguration: testS3("other.bucket-1"), RecordingReconnectWindowSeconds: 120,
		ThumbnailConfiguration: &types.ThumbnailConfiguration{RecordingMode: types.RecordingModeInterval, TargetIntervalSeconds: aws.Int64(10),
			Resolution: types.ThumbnailConfigurationResolutionHd,
			Storage:    []types.ThumbnailConfigurationStorage{types.ThumbnailConfigurationStorageSequential, types.ThumbnailConfigurationStorageLatest}},
		RenditionConfiguration: &types.RenditionConfiguration{RenditionSelection: types.RenditionConfigurationRenditionSelectionCustom,
			Renditions: []types.RenditionConfigurationRendition{types.RenditionConfigurationRenditionHd, types.RenditionConfigurationRenditionLowestResolution}},
		Tags: map[string]string{"project": "x"},
	}
	wantFullRC := func(what string, rc *types.RecordingConfiguration) {
		t.Helper()
		th, rd := rc.ThumbnailConfiguration, rc.RenditionConfiguration
		if rc.State != types.RecordingConfigurationStateActive || aws.ToString(rc.Name) != "rec-full" || !equalTags(rc.Tags, in.Tags) ||
			aws.ToString(rc.DestinationConfiguration.S3.BucketName) != "other.bucket-1" || rc.RecordingReconnectWindowSeconds != 120 ||
			th == nil || th.RecordingMode != types.RecordingModeInterval || aws.ToInt64(th.TargetIntervalSeconds) != 10 || th.Resolution != types.ThumbnailConfigurationResolutionHd ||
			!slices.Equal(th.Storage, in.ThumbnailConfiguration.Storage) ||
			rd == nil || rd.RenditionSelection != types.RenditionConfigurationRenditionSelectionCustom || !slices.Equal(rd.Renditions, in.RenditionConfiguration.Renditions) {
			t.Errorf("%s: %+v (thumbnails %+v, renditions %+v)", what, rc, th, rd)
		}
	}
	full := sdk(c.CreateRecordingConfiguration(ctx, in)).must(t, "CreateRecordingConfiguration (every member)").RecordingConfiguration
	full.State = waitRecordingState(t, c, *full.Arn)
	wantFullRC("CreateRecordingConfiguration (every member)", full)
	wantFullRC("GetRecordingConfiguration (every member)", sdk(c.GetRecordingConfiguration(ctx, &ivs.GetRecordingConfigurationInput{Arn: full.Arn})).must(t, "GetRecordingConfiguration").RecordingConfiguration)
	disabled := sdk(c.CreateRecordingConfiguration(ctx, &ivs.CreateRecordingConfigurationInput{DestinationConfiguration: testS3("my-bucket"),
		ThumbnailConfiguration: &types.ThumbnailConfiguration{RecordingMode: types.RecordingModeDisabled}})).must(t, "CreateRecordingConfiguration thumbnails DISABLED").RecordingConfiguration
	if th := disabled.ThumbnailConfiguration; th == nil || th.RecordingMode != types.RecordingModeDisabled || th.TargetIntervalSeconds != nil {
		t.Errorf("thumbnails DISABLED: %+v", th)
	}
	waitRecordingState(t, c, *disabled.Arn)

	// A bucket that does not exist: CREATE_FAILED, as IVS does.
	missing := sdk(c.CreateRecordingConfiguration(ctx, &ivs.CreateRecordingConfigurationInput{DestinationConfiguration: testS3("no-such-bucket")})).must(t, "CreateRecordingConfiguration (missing bucket)").RecordingConfiguration
	if st := waitRecordingState(t, c, *missing.Arn); st != types.RecordingConfigurationStateCreateFailed {
		t.Errorf("recording configuration with a missing bucket: state %s, want CREATE_FAILED", st)
	}
	sdk(c.DeleteRecordingConfiguration(ctx, &ivs.DeleteRecordingConfigurationInput{Arn: missing.Arn})).must(t, "DeleteRecordingConfiguration (missing bucket)")

	ls := sdk(c.ListRecordingConfigurations(ctx, &ivs.ListRecordingConfigurationsInput{})).must(t, "ListRecordingConfigurations")
	if len(ls.RecordingConfigurations) != 3 || ls.NextToken != nil {
		t.Fatalf("ListRecordingConfigurations: %+v, want 3 on one page", ls)
	}
	for i, want := range []*types.RecordingConfiguration{def, full, disabled} {
		g := ls.RecordingConfigurations[i]
		if aws.ToString(g.Arn) != *want.Arn || aws.ToString(g.Name) != aws.ToString(want.Name) || g.State != types.RecordingConfigurationStateActive ||
			g.DestinationConfiguration == nil || aws.ToString(g.DestinationConfiguration.S3.BucketName) != aws.ToString(want.DestinationConfiguration.S3.BucketName) ||
			g.Tags == nil || !equalTags(g.Tags, want.Tags) {
			t.Errorf("ListRecordingConfigurations[%d] = %+v, want %+v", i, g, want)
		}
	}

	// Validation.
	bad := map[string]*ivs.CreateRecordingConfigurationInput{
		"CUSTOM renditions without renditions": {DestinationConfiguration: testS3("my-bucket"),
			RenditionConfiguration: &types.RenditionConfiguration{RenditionSelection: types.RenditionConfigurationRenditionSelectionCustom}},
		"DISABLED thumbnails with an interval": {DestinationConfiguration: testS3("my-bucket"),
			ThumbnailConfiguration: &types.ThumbnailConfiguration{RecordingMode: types.RecordingModeDisabled, TargetIntervalSeconds: aws.Int64(30)}},
		"targetIntervalSeconds 61":            {DestinationConfiguration: testS3("my-bucket"), ThumbnailConfiguration: &types.ThumbnailConfiguration{TargetIntervalSeconds: aws.Int64(61)}},
		"recordingReconnectWindowSeconds 301": {DestinationConfiguration: testS3("my-bucket"), RecordingReconnectWindowSeconds: 301},
		"bucket name pattern":                 {DestinationConfiguration: testS3("Upper_Case")},
		"bucket name length":                  {DestinationConfiguration: testS3("ab")},
		"aws: tag":                            {DestinationConfiguration: testS3("my-bucket"), Tags: map[string]string{"aws:cloudformation:stack-name": "x"}},
		"name pattern":                        {DestinationConfiguration: testS3("my-bucket"), Name: aws.String("rec full")},
	}
	for name, in := range bad {
		_, err := c.CreateRecordingConfiguration(ctx, in)
		wantValidation(t, "CreateRecordingConfiguration "+name, err)
	}

	// A configuration in use cannot be deleted.
	ch := sdk(c.CreateChannel(ctx, &ivs.CreateChannelInput{RecordingConfigurationArn: full.Arn})).must(t, "CreateChannel with recording")
	_, err := c.DeleteRecordingConfiguration(ctx, &ivs.DeleteRecordingConfigurationInput{Arn: full.Arn})
	wantConflict(t, "DeleteRecordingConfiguration in use", err)
	sdk(c.GetRecordingConfiguration(ctx, &ivs.GetRecordingConfigurationInput{Arn: full.Arn})).must(t, "GetRecordingConfiguration after refused delete")
	sdk(c.UpdateChannel(ctx, &ivs.UpdateChannelInput{Arn: ch.Channel.Arn, RecordingConfigurationArn: aws.String("")})).must(t, "UpdateChannel detach")
	sdk(c.DeleteRecordingConfiguration(ctx, &ivs.DeleteRecordingConfigurationInput{Arn: full.Arn})).must(t, "DeleteRecordingConfiguration")
	_, err = c.GetRecordingConfiguration(ctx, &ivs.GetRecordingConfigurationInput{Arn: full.Arn})
	wantNotFound(t, "GetRecordingConfiguration after delete", err)
	_, err = c.DeleteRecordingConfiguration(ctx, &ivs.DeleteRecordingConfigurationInput{Arn: full.Arn})
	wantNotFound(t, "DeleteRecordingConfiguration twice", err)
	// Deleting the channel releases its configuration too.
	ch2 := sdk(c.CreateChannel(ctx, &ivs.CreateChannelInput{RecordingConfigurationArn: def.Arn})).must(t, "CreateChannel with recording")
	_, err = c.DeleteRecordingConfiguration(ctx, &ivs.DeleteRecordingConfigurationInput{Arn: def.Arn})
	wantConflict(t, "DeleteRecordingConfiguration in use", err)
	sdk(c.DeleteChannel(ctx, &ivs.DeleteChannelInput{Arn: ch2.Channel.Arn})).must(t, "DeleteChannel")
	sdk(c.DeleteRecordingConfiguration(ctx, &ivs.DeleteRecordingConfigurationInput{Arn: def.Arn})).must(t, "DeleteRecordingConfiguration after DeleteChannel")

	_, err = c.GetRecordingConfiguration(ctx, &ivs.GetRecordingConfigurationInput{Arn: aws.String(unknownARN("recording-configuration"))})
	wantNotFound(t, "GetRecordingConfiguration unknown", err)
	_, err = c.DeleteRecordingConfiguration(ctx, &ivs.DeleteRecordingConfigurationInput{Arn: aws.String(unknownARN("recording-configuration"))})
	wantNotFound(t, "DeleteRecordingConfiguration unknown", err)
	_, err = c.GetRecordingConfiguration(ctx, &ivs.GetRecordingConfigurationInput{Arn: aws.String(foreign.RecordingConfiguration)})
	wantAccessDenied(t, "GetRecordingConfiguration of account 2", err)
	_, err = c.DeleteRecordingConfiguration(ctx, &ivs.DeleteRecordingConfigurationInput{Arn: aws.String(foreign.RecordingConfiguration)})
	wantAccessDenied(t, "DeleteRecordingConfiguration of account 2", err)
	_, err = c.GetRecordingConfiguration(ctx, &ivs.GetRecordingConfigurationInput{Arn: aws.String("arn:aws:ivs:us-west-2:111111111111:channel/AbCdEfGh1234")})
	wantValidation(t, "GetRecordingConfiguration with a channel ARN", err)
}

// TestIVSPlaybackRestrictionPolicies covers Create/Get/List/Update/DeletePlaybackRestrictionPolicy.
func TestIVSPlaybackRestrictionPolicies(t *testing.T) {
	t.Parallel()
	s := Start(t, Options{})
	c := s.IVS(Credential{}, "")
	ctx := Ctx(t)
	acct := DefaultCredential.AccountID
	foreign := createForeignResources(t, s)

	wantPolicy := func(what string, p *types.PlaybackRestrictionPolicy, name string, countries, origins []string, strict bool, tags map[string]string) {
		t.Helper()
		if p.AllowedCountries == nil || p.AllowedOrigins == nil {
			t.Errorf("%s: allowedCountries %v allowedOrigins %v, want both present (empty lists when unrestricted)", what, p.AllowedCountries, p.AllowedOrigins)
		}
		if aws.ToString(p.Name) != name || !slices.Equal(p.AllowedCountries, countries) || !slices.Equal(p.AllowedOrigins, origins) ||
			p.EnableStrictOriginEnforcement == nil || *p.EnableStrictOriginEnforcement != strict || p.Tags == nil || !equalTags(p.Tags, tags) {
			t.Errorf("%s: %+v, want name %q countries %v origins %v strict %v tags %v", what, p, name, countries, origins, strict, tags)
		}
	}
	empty := sdk(c.CreatePlaybackRestrictionPolicy(ctx, &ivs.CreatePlaybackRestrictionPolicyInput{})).must(t, "CreatePlaybackRestrictionPolicy").PlaybackRestrictionPolicy
	checkARN(t, "CreatePlaybackRestrictionPolicy", empty.Arn, "us-west-2", acct, "playback-restriction-policy")
	wantPolicy("CreatePlaybackRestrictionPolicy (empty)", empty, "", []string{}, []string{}, false, map[string]string{})
	wantPolicy("GetPlaybackRestrictionPolicy (empty)", sdk(c.GetPlaybackRestrictionPolicy(ctx, &ivs.GetPlaybackRestrictionPolicyInput{Arn: empty.Arn})).must(t, "GetPlaybackRestrictionPolicy").PlaybackRestrictionPolicy,
		"", []string{}, []string{}, false, map[string]string{})

	full := sdk(c.CreatePlaybackRestrictionPolicy(ctx, &ivs.CreatePlaybackRestrictionPolicyInput{Name: aws.String("geo"),
		AllowedCountries: []string{"US", "FR"}, AllowedOrigins: []string{"https://example.com", "https://www.example.org"},
		EnableStrictOriginEnforcement: aws.Bool(true), Tags: map[string]string{"k": "v"}})).must(t, "CreatePlaybackRestrictionPolicy (every member)").PlaybackRestrictionPolicy
	origins := []string{"https://example.com", "https://www.example.org"}
	wantPolicy("CreatePlaybackRestrictionPolicy (every member)", full, "geo", []string{"US", "FR"}, origins, true, map[string]string{"k": "v"})

	// Update changes only the members given; an empty list clears one.
	up := sdk(c.UpdatePlaybackRestrictionPolicy(ctx, &ivs.UpdatePlaybackRestrictionPolicyInput{Arn: full.Arn, Name: aws.String("geo-2")})).must(t, "UpdatePlaybackRestrictionPolicy name").PlaybackRestrictionPolicy
	wantPolicy("UpdatePlaybackRestrictionPolicy name", up, "geo-2", []string{"US", "FR"}, origins, true, map[string]string{"k": "v"})
	up = sdk(c.UpdatePlaybackRestrictionPolicy(ctx, &ivs.UpdatePlaybackRestrictionPolicyInput{Arn: full.Arn, AllowedCountries: []string{"DE"}})).must(t, "UpdatePlaybackRestrictionPolicy countries").PlaybackRestrictionPolicy
	wantPolicy("UpdatePlaybackRestrictionPolicy countries", up, "geo-2", []string{"DE"}, origins, true, map[string]string{"k": "v"})
	up = sdk(c.UpdatePlaybackRestrictionPolicy(ctx, &ivs.UpdatePlaybackRestrictionPolicyInput{Arn: full.Arn, AllowedOrigins: []string{}, EnableStrictOriginEnforcement: aws.Bool(false)})).must(t, "UpdatePlaybackRestrictionPolicy clear origins").PlaybackRestrictionPolicy
	wantPolicy("UpdatePlaybackRestrictionPolicy clear origins", up, "geo-2", []string{"DE"}, []string{}, false, map[string]string{"k": "v"})
	wantPolicy("GetPlaybackRestrictionPolicy after updates", sdk(c.GetPlaybackRestrictionPolicy(ctx, &ivs.GetPlaybackRestrictionPolicyInput{Arn: full.Arn})).must(t, "GetPlaybackRestrictionPolicy").PlaybackRestrictionPolicy,
		"geo-2", []string{"DE"}, []string{}, false, map[string]string{"k": "v"})

	ls := sdk(c.ListPlaybackRestrictionPolicies(ctx, &ivs.ListPlaybackRestrictionPoliciesInput{MaxResults: aws.Int32(100)})).must(t, "ListPlaybackRestrictionPolicies")
	if len(ls.PlaybackRestrictionPolicies) != 2 || ls.NextToken != nil {
		t.Fatalf("ListPlaybackRestrictionPolicies: %+v, want 2 on one page", ls)
	}
	for i, want := range []struct {
		arn, name          string
		countries, origins []string
		strict             bool
		tags               map[string]string
	}{{*empty.Arn, "", []string{}, []string{}, false, map[string]string{}}, {*full.Arn, "geo-2", []string{"DE"}, []string{}, false, map[string]string{"k": "v"}}} {
		g := ls.PlaybackRestrictionPolicies[i]
		p := types.PlaybackRestrictionPolicy{Arn: g.Arn, Name: g.Name, AllowedCountries: g.AllowedCountries, AllowedOrigins: g.AllowedOrigins,
			EnableStrictOriginEnforcement: g.EnableStrictOriginEnforcement, Tags: g.Tags}
		if aws.ToString(g.Arn) != want.arn {
			t.Errorf("ListPlaybackRestrictionPolicies[%d].arn %q, want %q", i, aws.ToString(g.Arn), want.arn)
		}
		wantPolicy(fmt.Sprintf("ListPlaybackRestrictionPolicies[%d]", i), &p, want.name, want.countries, want.origins, want.strict, want.tags)
	}

	// Validation.
	_, err := c.CreatePlaybackRestrictionPolicy(ctx, &ivs.CreatePlaybackRestrictionPolicyInput{AllowedCountries: []string{"USA"}})
	wantValidation(t, "CreatePlaybackRestrictionPolicy 3-letter country", err)
	_, err = c.CreatePlaybackRestrictionPolicy(ctx, &ivs.CreatePlaybackRestrictionPolicyInput{Tags: map[string]string{"aws:k": "v"}})
	wantValidation(t, "CreatePlaybackRestrictionPolicy aws: tag", err)
	_, err = c.UpdatePlaybackRestrictionPolicy(ctx, &ivs.UpdatePlaybackRestrictionPolicyInput{Arn: full.Arn, AllowedOrigins: []string{strings.Repeat("o", 129)}})
	wantValidation(t, "UpdatePlaybackRestrictionPolicy origin of 129 characters", err)
	_, err = c.UpdatePlaybackRestrictionPolicy(ctx, &ivs.UpdatePlaybackRestrictionPolicyInput{Arn: full.Arn, Name: aws.String("no spaces allowed")})
	wantValidation(t, "UpdatePlaybackRestrictionPolicy name pattern", err)

	// In use: no delete.
	ch := sdk(c.CreateChannel(ctx, &ivs.CreateChannelInput{PlaybackRestrictionPolicyArn: full.Arn})).must(t, "CreateChannel with policy")
	_, err = c.DeletePlaybackRestrictionPolicy(ctx, &ivs.DeletePlaybackRestrictionPolicyInput{Arn: full.Arn})
	wantConflict(t, "DeletePlaybackRestrictionPolicy in use", err)
	sdk(c.UpdateChannel(ctx, &ivs.UpdateChannelInput{Arn: ch.Channel.Arn, PlaybackRestrictionPolicyArn: aws.String("")})).must(t, "UpdateChannel detach")
	sdk(c.DeletePlaybackRestrictionPolicy(ctx, &ivs.DeletePlaybackRestrictionPolicyInput{Arn: full.Arn})).must(t, "DeletePlaybackRestrictionPolicy")
	_, err = c.GetPlaybackRestrictionPolicy(ctx, &ivs.GetPlaybackRestrictionPolicyInput{Arn: full.Arn})
	wantNotFound(t, "GetPlaybackRestrictionPolicy after delete", err)
	_, err = c.UpdatePlaybackRestrictionPolicy(ctx, &ivs.UpdatePlaybackRestrictionPolicyInput{Arn: full.Arn, Name: aws.String("x")})
	wantNotFound(t, "UpdatePlaybackRestrictionPolicy after delete", err)
	_, err = c.DeletePlaybackRestrictionPolicy(ctx, &ivs.DeletePlaybackRestrictionPolicyInput{Arn: full.Arn})
	wantNotFound(t, "DeletePlaybackRestrictionPolicy twice", err)

	_, err = c.GetPlaybackRestrictionPolicy(ctx, &ivs.GetPlaybackRestrictionPolicyInput{Arn: aws.String(foreign.Policy)})
	wantAccessDenied(t, "GetPlaybackRestrictionPolicy of account 2", err)
	_, err = c.UpdatePlaybackRestrictionPolicy(ctx, &ivs.UpdatePlaybackRestrictionPolicyInput{Arn: aws.String(foreign.Policy), Name: aws.String("x")})
	wantAccessDenied(t, "UpdatePlaybackRestrictionPolicy of account 2", err)
	_, err = c.DeletePlaybackRestrictionPolicy(ctx, &ivs.DeletePlaybackRestrictionPolicyInput{Arn: aws.String(foreign.Policy)})
	wantAccessDenied(t, "DeletePlaybackRestrictionPolicy of account 2", err)
	_, err = c.GetPlaybackRestrictionPolicy(ctx, &ivs.GetPlaybackRestrictionPolicyInput{Arn: aws.String(unknownARN("playback-restriction-policy"))})
	wantNotFound(t, "GetPlaybackRestrictionPolicy unknown", err)
}

// TestIVSAdConfigurations covers Create/Get/List/DeleteAdConfiguration.
func TestIVSAdConfigurations(t *testing.T) {
	t.Parallel()
	s := Start(t, Options{})
	c := s.IVS(Credential{}, "")
	ctx := Ctx(t)
	acct := DefaultCredential.AccountID
	foreign := createForeignResources(t, s)

	mt := []types.MediaTailorPlaybackConfiguration{{PlaybackConfigurationArn: aws.String(mediaTailorARN("cfg-1"))}}
	wantAd := func(what string, arn, name *string, cfgs []types.MediaTailorPlaybackConfiguration, tags map[string]string, wantName string, wantTags map[string]string) {
		t.Helper()
		checkARN(t, what, arn, "us-west-2", acct, "ad-configuration")
		if aws.ToString(name) != wantName || len(cfgs) != 1 || aws.ToString(cfgs[0].PlaybackConfigurationArn) != mediaTailorARN("cfg-1") ||
			tags == nil || !equalTags(tags, wantTags) {
			t.Errorf("%s: name %q configurations %+v tags %v", what, aws.ToString(name), cfgs, tags)
		}
	}
	ad := sdk(c.CreateAdConfiguration(ctx, &ivs.CreateAdConfigurationInput{Name: aws.String("ads"), MediaTailorPlaybackConfigurations: mt,
		Tags: map[string]string{"a": "b"}})).must(t, "CreateAdConfiguration").AdConfiguration
	wantAd("CreateAdConfiguration", ad.Arn, ad.Name, ad.MediaTailorPlaybackConfigurations, ad.Tags, "ads", map[string]string{"a": "b"})
	g := sdk(c.GetAdConfiguration(ctx, &ivs.GetAdConfigurationInput{Arn: ad.Arn})).must(t, "GetAdConfiguration").AdConfiguration
	wantAd("GetAdConfiguration", g.Arn, g.Name, g.MediaTailorPlaybackConfigurations, g.Tags, "ads", map[string]string{"a": "b"})
	plain := sdk(c.CreateAdConfiguration(ctx, &ivs.CreateAdConfigurationInput{MediaTailorPlaybackConfigurations: mt})).must(t, "CreateAdConfiguration without name").AdConfiguration
	wantAd("CreateAdConfiguration without name", plain.Arn, plain.Name, plain.MediaTailorPlaybackConfigurations, plain.Tags, "", map[string]string{})

	ls := sdk(c.ListAdConfigurations(ctx, &ivs.ListAdConfigurationsInput{})).must(t, "ListAdConfigurations")
	if len(ls.AdConfigurations) != 2 || ls.NextToken != nil {
		t.Fatalf("ListAdConfigurations: %+v", ls)
	}
	l0, l1 := ls.AdConfigurations[0], ls.AdConfigurations[1]
	if aws.ToString(l0.Arn) != *ad.Arn || aws.ToString(l1.Arn) != *plain.Arn {
		t.Errorf("ListAdConfigurations order: %s, %s", aws.ToString(l0.Arn), aws.ToString(l1.Arn))
	}
	wantAd("ListAdConfigurations[0]", l0.Arn, l0.Name, l0.MediaTailorPlaybackConfigurations, l0.Tags, "ads", map[string]string{"a": "b"})
	wantAd("ListAdConfigurations[1]", l1.Arn, l1.Name, l1.MediaTailorPlaybackConfigurations, l1.Tags, "", map[string]string{})

	_, err := c.CreateAdConfiguration(ctx, &ivs.CreateAdConfigurationInput{MediaTailorPlaybackConfigurations: []types.MediaTailorPlaybackConfiguration{
		{PlaybackConfigurationArn: aws.String("arn:aws:s3:::bucket")}}})
	wantValidation(t, "CreateAdConfiguration with a non-MediaTailor ARN", err)
	_, err = c.CreateAdConfiguration(ctx, &ivs.CreateAdConfigurationInput{MediaTailorPlaybackConfigurations: mt, Tags: map[string]string{"aws:x": "y"}})
	wantValidation(t, "CreateAdConfiguration aws: tag", err)

	ch := sdk(c.CreateChannel(ctx, &ivs.CreateChannelInput{AdConfigurationArn: ad.Arn})).must(t, "CreateChannel with ads")
	_, err = c.DeleteAdConfiguration(ctx, &ivs.DeleteAdConfigurationInput{Arn: ad.Arn})
	wantConflict(t, "DeleteAdConfiguration in use", err)
	sdk(c.UpdateChannel(ctx, &ivs.UpdateChannelInput{Arn: ch.Channel.Arn, AdConfigurationArn: aws.String("")})).must(t, "UpdateChannel detach")
	sdk(c.DeleteAdConfiguration(ctx, &ivs.DeleteAdConfigurationInput{Arn: ad.Arn})).must(t, "DeleteAdConfiguration")
	_, err = c.GetAdConfiguration(ctx, &ivs.GetAdConfigurationInput{Arn: ad.Arn})
	wantNotFound(t, "GetAdConfiguration after delete", err)
	_, err = c.DeleteAdConfiguration(ctx, &ivs.DeleteAdConfigurationInput{Arn: ad.Arn})
	wantNotFound(t, "DeleteAdConfiguration twice", err)
	_, err = c.GetAdConfiguration(ctx, &ivs.GetAdConfigurationInput{Arn: aws.String(foreign.AdConfiguration)})
	wantAccessDenied(t, "GetAdConfiguration of account 2", err)
	_, err = c.DeleteAdConfiguration(ctx, &ivs.DeleteAdConfigurationInput{Arn: aws.String(foreign.AdConfiguration)})
	wantAccessDenied(t, "DeleteAdConfiguration of account 2", err)
	_, err = c.GetAdConfiguration(ctx, &ivs.GetAdConfigurationInput{Arn: aws.String(unknownARN("ad-configuration"))})
	wantNotFound(t, "GetAdConfiguration unknown", err)
}

// TestIVSTags covers ListTagsForResource, TagResource and UntagResource on every taggable resource type, and the
// tags each type's Get and List return.
func TestIVSTags(t *testing.T) {
	t.Parallel()
	s := Start(t, Options{})
	c := s.IVS(Credential{}, "")
	ctx := Ctx(t)
	foreign := createForeignResources(t, s)
	initial := map[string]string{"k1": "v1", "env": "test"}

	ch := sdk(c.CreateChannel(ctx, &ivs.CreateChannelInput{Tags: initial})).must(t, "CreateChannel")
	key := sdk(c.CreateChannel(ctx, &ivs.CreateChannelInput{})).must(t, "CreateChannel")
	sdk(c.DeleteStreamKey(ctx, &ivs.DeleteStreamKeyInput{Arn: key.StreamKey.Arn})).must(t, "DeleteStreamKey")
	sk := sdk(c.CreateStreamKey(ctx, &ivs.CreateStreamKeyInput{ChannelArn: key.Channel.Arn, Tags: initial})).must(t, "CreateStreamKey")
	kp := sdk(c.ImportPlaybackKeyPair(ctx, &ivs.ImportPlaybackKeyPairInput{PublicKeyMaterial: aws.String(newP384PEM(t)), Tags: initial})).must(t, "ImportPlaybackKeyPair")
	rc := sdk(c.CreateRecordingConfiguration(ctx, &ivs.CreateRecordingConfigurationInput{DestinationConfiguration: testS3("bucket"), Tags: initial})).must(t, "CreateRecordingConfiguration")
	pol := sdk(c.CreatePlaybackRestrictionPolicy(ctx, &ivs.CreatePlaybackRestrictionPolicyInput{Tags: initial})).must(t, "CreatePlaybackRestrictionPolicy")
	ad := sdk(c.CreateAdConfiguration(ctx, &ivs.CreateAdConfigurationInput{Tags: initial,
		MediaTailorPlaybackConfigurations: []types.MediaTailorPlaybackConfiguration{{PlaybackConfigurationArn: aws.String(mediaTailorARN("x"))}}})).must(t, "CreateAdConfiguration")

	// For each type: how Get and List show the resource's tags.
	resources := []struct {
		typ, arn string
		created  map[string]string
		get      func() map[string]string
		list     func() map[string]string
	}{
		{"channel", *ch.Channel.Arn, ch.Channel.Tags,
			func() map[string]string {
				return sdk(c.GetChannel(ctx, &ivs.GetChannelInput{Arn: ch.Channel.Arn})).must(t, "GetChannel").Channel.Tags
			},
			func() map[string]string {
				for _, x := range sdk(c.ListChannels(ctx, &ivs.ListChannelsInput{})).must(t, "ListChannels").Channels {
					if *x.Arn == *ch.Channel.Arn {
						return x.Tags
					}
				}
				return nil
			}},
		{"stream-key", *sk.StreamKey.Arn, sk.StreamKey.Tags,
			func() map[string]string {
				return sdk(c.GetStreamKey(ctx, &ivs.GetStreamKeyInput{Arn: sk.StreamKey.Arn})).must(t, "GetStreamKey").StreamKey.Tags
			},
			func() map[string]string {
				l := sdk(c.ListStreamKeys(ctx, &ivs.ListStreamKeysInput{ChannelArn: key.Channel.Arn})).must(t, "ListStreamKeys").StreamKeys
				if len(l) != 1 {
					return nil
				}
				return l[0].Tags
			}},
		{"playback-key", *kp.KeyPair.Arn, kp.KeyPair.Tags,
			func() map[string]string {
				return sdk(c.GetPlaybackKeyPair(ctx, &ivs.GetPlaybackKeyPairInput{Arn: kp.KeyPair.Arn})).must(t, "GetPlaybackKeyPair").KeyPair.Tags
			},
			func() map[string]string {
				l := sdk(c.ListPlaybackKeyPairs(ctx, &ivs.ListPlaybackKeyPairsInput{})).must(t, "ListPlaybackKeyPairs").KeyPairs
				if len(l) != 1 {
					return nil
				}
				return l[0].Tags
			}},
		{"recording-configuration", *rc.RecordingConfiguration.Arn, rc.RecordingConfiguration.Tags,
			func() map[string]string {
				return sdk(c.GetRecordingConfiguration(ctx, &ivs.GetRecordingConfigurationInput{Arn: rc.RecordingConfiguration.Arn})).must(t, "GetRecordingConfiguration").RecordingConfiguration.Tags
			},
			func() map[string]string {
				l := sdk(c.ListRecordingConfigurations(ctx, &ivs.ListRecordingConfigurationsInput{})).must(t, "ListRecordingConfigurations").RecordingConfigurations
				if len(l) != 1 {
					return nil
				}
				return l[0].Tags
			}},
		{"playback-restriction-policy", *pol.PlaybackRestrictionPolicy.Arn, pol.PlaybackRestrictionPolicy.Tags,
			func() map[string]string {
				return sdk(c.GetPlaybackRestrictionPolicy(ctx, &ivs.GetPlaybackRestrictionPolicyInput{Arn: pol.PlaybackRestrictionPolicy.Arn})).must(t, "GetPlaybackRestrictionPolicy").PlaybackRestrictionPolicy.Tags
			},
			func() map[string]string {
				l := sdk(c.ListPlaybackRestrictionPolicies(ctx, &ivs.ListPlaybackRestrictionPoliciesInput{})).must(t, "ListPlaybackRestrictionPolicies").PlaybackRestrictionPolicies
				if len(l) != 1 {
					return nil
				}
				return l[0].Tags
			}},
		{"ad-configuration", *ad.AdConfiguration.Arn, ad.AdConfiguration.Tags,
			func() map[string]string {
				return sdk(c.GetAdConfiguration(ctx, &ivs.GetAdConfigurationInput{Arn: ad.AdConfiguration.Arn})).must(t, "GetAdConfiguration").AdConfiguration.Tags
			},
			func() map[string]string {
				l := sdk(c.ListAdConfigurations(ctx, &ivs.ListAdConfigurationsInput{})).must(t, "ListAdConfigurations").AdConfigurations
				if len(l) != 1 {
					return nil
				}
				return l[0].Tags
			}},
	}
	for _, r := range resources {
		wantTags := func(what string, want map[string]string) {
			t.Helper()
			lt := sdk(c.ListTagsForResource(ctx, &ivs.ListTagsForResourceInput{ResourceArn: aws.String(r.arn)})).must(t, "ListTagsForResource "+r.typ).Tags
			if !equalTags(lt, want) || lt == nil {
				t.Errorf("%s %s: ListTagsForResource %v, want %v", r.typ, what, lt, want)
			}
			if g := r.get(); !equalTags(g, want) {
				t.Errorf("%s %s: Get shows tags %v, want %v", r.typ, what, g, want)
			}
			if l := r.list(); !equalTags(l, want) {
				t.Errorf("%s %s: List shows tags %v, want %v", r.typ, what, l, want)
			}
		}
		if !equalTags(r.created, initial) {
			t.Errorf("%s: created with tags %v, want %v", r.typ, r.created, initial)
		}
		wantTags("after create", initial)
		sdk(c.TagResource(ctx, &ivs.TagResourceInput{ResourceArn: aws.String(r.arn), Tags: map[string]string{"k1": "v1b", "k2": ""}})).must(t, "TagResource "+r.typ)
		wantTags("after TagResource", map[string]string{"k1": "v1b", "k2": "", "env": "test"})
		sdk(c.UntagResource(ctx, &ivs.UntagResourceInput{ResourceArn: aws.String(r.arn), TagKeys: []string{"k1", "absent"}})).must(t, "UntagResource "+r.typ)
		wantTags("after UntagResource", map[string]string{"k2": "", "env": "test"})
		sdk(c.UntagResource(ctx, &ivs.UntagResourceInput{ResourceArn: aws.String(r.arn), TagKeys: []string{"k2", "env"}})).must(t, "UntagResource all "+r.typ)
		wantTags("after removing every tag", map[string]string{})

		// The 50-tag limit counts the tags after the merge; a refused TagResource changes nothing.
		sdk(c.TagResource(ctx, &ivs.TagResourceInput{ResourceArn: aws.String(r.arn), Tags: numberedTags(0, 45)})).must(t, "TagResource 45 "+r.typ)
		_, err := c.TagResource(ctx, &ivs.TagResourceInput{ResourceArn: aws.String(r.arn), Tags: numberedTags(40, 11)})
		wantValidation(t, "TagResource to 51 tags "+r.typ, err)
		wantTags("after a refused TagResource", numberedTags(0, 45))
		sdk(c.TagResource(ctx, &ivs.TagResourceInput{ResourceArn: aws.String(r.arn), Tags: numberedTags(40, 10)})).must(t, "TagResource to exactly 50 "+r.typ)
		wantTags("with 50 tags", numberedTags(0, 50))
		_, err = c.TagResource(ctx, &ivs.TagResourceInput{ResourceArn: aws.String(r.arn), Tags: map[string]string{"aws:reserved": "x"}})
		wantValidation(t, "TagResource aws: key "+r.typ, err)
	}

	// Keys with every character the model allows survive the JSON body of TagResource and the query string of
	// UntagResource.
	odd := map[string]string{"a b": "1", "x+y": "2", "p/q=r": "3", "m:n@o": "4", "ünï-cødé_.": "5", "日本": "6 7+8"}
	sdk(c.TagResource(ctx, &ivs.TagResourceInput{ResourceArn: key.Channel.Arn, Tags: odd})).must(t, "TagResource odd keys")
	lt := sdk(c.ListTagsForResource(ctx, &ivs.ListTagsForResourceInput{ResourceArn: key.Channel.Arn})).must(t, "ListTagsForResource").Tags
	for k, v := range odd {
		if lt[k] != v {
			t.Errorf("tag %q = %q after TagResource, want %q (all: %v)", k, lt[k], v, lt)
		}
	}
	sdk(c.UntagResource(ctx, &ivs.UntagResourceInput{ResourceArn: key.Channel.Arn, TagKeys: []string{"a b", "x+y", "p/q=r", "m:n@o", "ünï-cødé_.", "日本"}})).must(t, "UntagResource odd keys")
	lt = sdk(c.ListTagsForResource(ctx, &ivs.ListTagsForResourceInput{ResourceArn: key.Channel.Arn})).must(t, "ListTagsForResource").Tags
	for k := range odd {
		if _, ok := lt[k]; ok {
			t.Errorf("tag %q still there after UntagResource (all: %v)", k, lt)
		}
	}
	if len(lt) != 0 {
		t.Errorf("UntagResource of every key left %v", lt)
	}

	_, err := c.TagResource(ctx, &ivs.TagResourceInput{ResourceArn: aws.String(*ch.Channel.Arn), Tags: numberedTags(100, 51)})
	wantValidation(t, "TagResource with 51 tags in one request", err)
	_, err = c.TagResource(ctx, &ivs.TagResourceInput{ResourceArn: aws.String(*ch.Channel.Arn), Tags: map[string]string{"bad<key>": "v"}})
	wantValidation(t, "TagResource key pattern", err)
	_, err = c.TagResource(ctx, &ivs.TagResourceInput{ResourceArn: aws.String(*ch.Channel.Arn), Tags: map[string]string{"k": strings.Repeat("v", 257)}})
	wantValidation(t, "TagResource value of 257 characters", err)
	_, err = c.ListTagsForResource(ctx, &ivs.ListTagsForResourceInput{ResourceArn: aws.String("arn:aws:s3:::bucket")})
	wantValidation(t, "ListTagsForResource of a non-IVS ARN", err)

	// Unknown resources, and resources of another account (the tag operations do not model AccessDenied).
	for _, a := range []string{unknownARN("channel"), unknownARN("stream-key"), unknownARN("playback-key"), unknownARN("recording-configuration"),
		unknownARN("playback-restriction-policy"), unknownARN("ad-configuration"),
		foreign.Channel, foreign.StreamKey, foreign.KeyPair, foreign.RecordingConfiguration, foreign.Policy, foreign.AdConfiguration} {
		_, err = c.ListTagsForResource(ctx, &ivs.ListTagsForResourceInput{ResourceArn: aws.String(a)})
		wantNotFound(t, "ListTagsForResource "+a, err)
		_, err = c.TagResource(ctx, &ivs.TagResourceInput{ResourceArn: aws.String(a), Tags: map[string]string{"x": "y"}})
		wantNotFound(t, "TagResource "+a, err)
		_, err = c.UntagResource(ctx, &ivs.UntagResourceInput{ResourceArn: aws.String(a), TagKeys: []string{"x"}})
		wantNotFound(t, "UntagResource "+a, err)
	}
	c2 := s.IVS(SecondCredential, "")
	if lt := sdk(c2.ListTagsForResource(ctx, &ivs.ListTagsForResourceInput{ResourceArn: aws.String(foreign.Channel)})).must(t, "ListTagsForResource (account 2)").Tags; len(lt) != 0 {
		t.Errorf("account 2's channel got tags %v", lt)
	}
}

// TestIVSConfigurationQuotas: the quotas of recording configurations, playback restriction policies and ad
// configurations answer ServiceQuotaExceededException (402), after input validation.
func TestIVSConfigurationQuotas(t *testing.T) {
	t.Parallel()
	s := Start(t, Options{Args: []string{"--quota-recording-configurations", "1", "--quota-playback-restriction-policies", "1", "--quota-ad-configurations", "1"}})
	c := s.IVS(Credential{}, "")
	ctx := Ctx(t)
	mt := []types.MediaTailorPlaybackConfiguration{{PlaybackConfigurationArn: aws.String(mediaTailorARN("q"))}}
	rc := sdk(c.CreateRecordingConfiguration(ctx, &ivs.CreateRecordingConfigurationInput{DestinationConfiguration: testS3("bucket")})).must(t, "CreateRecordingConfiguration")
	pol := sdk(c.CreatePlaybackRestrictionPolicy(ctx, &ivs.CreatePlaybackRestrictionPolicyInput{})).must(t, "CreatePlaybackRestrictionPolicy")
	ad := sdk(c.CreateAdConfiguration(ctx, &ivs.CreateAdConfigurationInput{MediaTailorPlaybackConfigurations: mt})).must(t, "CreateAdConfiguration")

	_, err := c.CreateRecordingConfiguration(ctx, &ivs.CreateRecordingConfigurationInput{DestinationConfiguration: testS3("bucket")})
	wantQuotaExceeded(t, "CreateRecordingConfiguration beyond the quota", err)
	_, err = c.CreatePlaybackRestrictionPolicy(ctx, &ivs.CreatePlaybackRestrictionPolicyInput{})
	wantQuotaExceeded(t, "CreatePlaybackRestrictionPolicy beyond the quota", err)
	_, err = c.CreateAdConfiguration(ctx, &ivs.CreateAdConfigurationInput{MediaTailorPlaybackConfigurations: mt})
	wantQuotaExceeded(t, "CreateAdConfiguration beyond the quota", err)

	bad := map[string]string{"aws:k": "v"}
	_, err = c.CreateRecordingConfiguration(ctx, &ivs.CreateRecordingConfigurationInput{DestinationConfiguration: testS3("bucket"), Tags: bad})
	wantValidation(t, "CreateRecordingConfiguration aws: tag at the quota", err)
	_, err = c.CreateRecordingConfiguration(ctx, &ivs.CreateRecordingConfigurationInput{DestinationConfiguration: testS3("bucket"),
		RenditionConfiguration: &types.RenditionConfiguration{RenditionSelection: types.RenditionConfigurationRenditionSelectionCustom}})
	wantValidation(t, "CreateRecordingConfiguration CUSTOM without renditions at the quota", err)
	_, err = c.CreatePlaybackRestrictionPolicy(ctx, &ivs.CreatePlaybackRestrictionPolicyInput{Tags: bad})
	wantValidation(t, "CreatePlaybackRestrictionPolicy aws: tag at the quota", err)
	_, err = c.CreateAdConfiguration(ctx, &ivs.CreateAdConfigurationInput{MediaTailorPlaybackConfigurations: mt, Tags: bad})
	wantValidation(t, "CreateAdConfiguration aws: tag at the quota", err)

	// The quota is per account; deleting frees a place.
	c2 := s.IVS(SecondCredential, "")
	sdk(c2.CreateRecordingConfiguration(ctx, &ivs.CreateRecordingConfigurationInput{DestinationConfiguration: testS3("bucket")})).must(t, "CreateRecordingConfiguration (account 2)")
	sdk(c.DeleteRecordingConfiguration(ctx, &ivs.DeleteRecordingConfigurationInput{Arn: rc.RecordingConfiguration.Arn})).must(t, "DeleteRecordingConfiguration")
	sdk(c.DeletePlaybackRestrictionPolicy(ctx, &ivs.DeletePlaybackRestrictionPolicyInput{Arn: pol.PlaybackRestrictionPolicy.Arn})).must(t, "DeletePlaybackRestrictionPolicy")
	sdk(c.DeleteAdConfiguration(ctx, &ivs.DeleteAdConfigurationInput{Arn: ad.AdConfiguration.Arn})).must(t, "DeleteAdConfiguration")
	sdk(c.CreateRecordingConfiguration(ctx, &ivs.CreateRecordingConfigurationInput{DestinationConfiguration: testS3("bucket")})).must(t, "CreateRecordingConfiguration after delete")
	sdk(c.CreatePlaybackRestrictionPolicy(ctx, &ivs.CreatePlaybackRestrictionPolicyInput{})).must(t, "CreatePlaybackRestrictionPolicy after delete")
	sdk(c.CreateAdConfiguration(ctx, &ivs.CreateAdConfigurationInput{MediaTailorPlaybackConfigurations: mt})).must(t, "CreateAdConfiguration after delete")
}

// waitRecordingState waits for a recording configuration to leave CREATING and returns its state.
func waitRecordingState(t *testing.T, c *ivs.Client, arn string) types.RecordingConfigurationState {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		rc := sdk(c.GetRecordingConfiguration(Ctx(t), &ivs.GetRecordingConfigurationInput{Arn: &arn})).must(t, "GetRecordingConfiguration").RecordingConfiguration
		if rc.State != types.RecordingConfigurationStateCreating {
			return rc.State
		}
		if time.Now().After(deadline) {
			t.Fatalf("recording configuration %s still CREATING after 10 s", arn)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
