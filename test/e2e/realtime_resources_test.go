package e2e

import (
	"crypto/elliptic"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ivsrealtime"
	rttypes "github.com/aws/aws-sdk-go-v2/service/ivsrealtime/types"
)

// TestRealtimePublicKeys covers ImportPublicKey, GetPublicKey, ListPublicKeys and DeletePublicKey.
func TestRealtimePublicKeys(t *testing.T) {
	t.Parallel()
	s := Start(t, Options{})
	c := realtimeClient(s, Credential{}, "")
	c2 := realtimeClient(s, SecondCredential, "")
	ctx := Ctx(t)
	acct := DefaultCredential.AccountID

	k1 := newP384PEM(t)
	pk := sdk(c.ImportPublicKey(ctx, &ivsrealtime.ImportPublicKeyInput{PublicKeyMaterial: aws.String(k1), Name: aws.String("key-1"),
		Tags: map[string]string{"use": "tokens"}})).must(t, "ImportPublicKey").PublicKey
	checkARN(t, "ImportPublicKey", pk.Arn, "us-west-2", acct, "public-key")
	fp := aws.ToString(pk.Fingerprint)
	if !reFingerprint.MatchString(fp) || aws.ToString(pk.PublicKeyMaterial) != k1 || aws.ToString(pk.Name) != "key-1" ||
		!equalTags(pk.Tags, map[string]string{"use": "tokens"}) {
		t.Errorf("ImportPublicKey: %+v", pk)
	}
	got := sdk(c.GetPublicKey(ctx, &ivsrealtime.GetPublicKeyInput{Arn: pk.Arn})).must(t, "GetPublicKey").PublicKey
	if aws.ToString(got.Arn) != *pk.Arn || aws.ToString(got.Fingerprint) != fp || aws.ToString(got.PublicKeyMaterial) != k1 ||
		aws.ToString(got.Name) != "key-1" || !equalTags(got.Tags, pk.Tags) {
		t.Errorf("GetPublicKey: %+v", got)
	}
	// The material is echoed as imported; the same key in another form is still the same key.
	crlf := strings.ReplaceAll(strings.TrimSpace(k1), "\n", "\r\n")
	_, err := c.ImportPublicKey(ctx, &ivsrealtime.ImportPublicKeyInput{PublicKeyMaterial: aws.String(crlf)})
	rtConflict(t, "ImportPublicKey of a key already imported (CRLF)", err)
	_, err = c.ImportPublicKey(ctx, &ivsrealtime.ImportPublicKeyInput{PublicKeyMaterial: aws.String(k1), Name: aws.String("again")})
	rtConflict(t, "ImportPublicKey of a key already imported", err)
	other := sdk(c2.ImportPublicKey(ctx, &ivsrealtime.ImportPublicKeyInput{PublicKeyMaterial: aws.String(crlf)})).must(t, "ImportPublicKey (account 2)").PublicKey
	if aws.ToString(other.Fingerprint) != fp || aws.ToString(other.PublicKeyMaterial) != crlf || aws.ToString(other.Name) != "" || other.Tags == nil {
		t.Errorf("the same key in account 2: %+v", other)
	}
	k2 := sdk(c.ImportPublicKey(ctx, &ivsrealtime.ImportPublicKeyInput{PublicKeyMaterial: aws.String(newP384PEM(t))})).must(t, "ImportPublicKey 2").PublicKey
	if aws.ToString(k2.Fingerprint) == fp {
		t.Error("two keys with one fingerprint")
	}

	for _, tc := range []struct{ what, material string }{
		{"a P-256 key", newECPEM(t, elliptic.P256())},
		{"a P-521 key", newECPEM(t, elliptic.P521())},
		{"garbage", "not a key"},
		{"a corrupt key", "-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----"},
	} {
		_, err := c.ImportPublicKey(ctx, &ivsrealtime.ImportPublicKeyInput{PublicKeyMaterial: aws.String(tc.material)})
		rtValidation(t, "ImportPublicKey of "+tc.what, err)
	}
	_, err = c.ImportPublicKey(ctx, &ivsrealtime.ImportPublicKeyInput{PublicKeyMaterial: aws.String(newP384PEM(t)), Tags: map[string]string{"aws:k": "v"}})
	rtValidation(t, "ImportPublicKey with an aws: tag", err)

	ls := sdk(c.ListPublicKeys(ctx, &ivsrealtime.ListPublicKeysInput{})).must(t, "ListPublicKeys")
	if len(ls.PublicKeys) != 2 || ls.NextToken != nil || aws.ToString(ls.PublicKeys[0].Arn) != *pk.Arn || aws.ToString(ls.PublicKeys[0].Name) != "key-1" ||
		!equalTags(ls.PublicKeys[0].Tags, pk.Tags) || aws.ToString(ls.PublicKeys[1].Arn) != *k2.Arn || ls.PublicKeys[1].Tags == nil {
		t.Errorf("ListPublicKeys: %+v", ls.PublicKeys)
	}
	if ls2 := sdk(c2.ListPublicKeys(ctx, &ivsrealtime.ListPublicKeysInput{})).must(t, "ListPublicKeys (account 2)"); len(ls2.PublicKeys) != 1 {
		t.Errorf("ListPublicKeys (account 2): %+v", ls2.PublicKeys)
	}

	_, err = c.GetPublicKey(ctx, &ivsrealtime.GetPublicKeyInput{Arn: other.Arn})
	rtAccessDenied(t, "GetPublicKey of another account's key", err)
	_, err = c.DeletePublicKey(ctx, &ivsrealtime.DeletePublicKeyInput{Arn: other.Arn})
	rtAccessDenied(t, "DeletePublicKey of another account's key", err)
	sdk(c.DeletePublicKey(ctx, &ivsrealtime.DeletePublicKeyInput{Arn: pk.Arn})).must(t, "DeletePublicKey")
	_, err = c.GetPublicKey(ctx, &ivsrealtime.GetPublicKeyInput{Arn: pk.Arn})
	rtNotFound(t, "GetPublicKey after DeletePublicKey", err)
	_, err = c.DeletePublicKey(ctx, &ivsrealtime.DeletePublicKeyInput{Arn: pk.Arn})
	rtNotFound(t, "DeletePublicKey twice", err)
	_, err = c.GetPublicKey(ctx, &ivsrealtime.GetPublicKeyInput{Arn: aws.String("arn:aws:ivs:us-west-2:111111111111:stage/abcdABCD1234")})
	rtValidation(t, "GetPublicKey of a stage ARN", err)
	// Deleted, the key can be imported again.
	sdk(c.ImportPublicKey(ctx, &ivsrealtime.ImportPublicKeyInput{PublicKeyMaterial: aws.String(k1)})).must(t, "ImportPublicKey after DeletePublicKey")
}

// TestRealtimeEncoderConfigurations covers the encoder configuration operations, IVS's defaults and bounds, and
// the quota of 20.
func TestRealtimeEncoderConfigurations(t *testing.T) {
	t.Parallel()
	s := Start(t, Options{})
	c := realtimeClient(s, Credential{}, "")
	ctx := Ctx(t)
	acct := DefaultCredential.AccountID

	def := sdk(c.CreateEncoderConfiguration(ctx, &ivsrealtime.CreateEncoderConfigurationInput{})).must(t, "CreateEncoderConfiguration").EncoderConfiguration
	checkARN(t, "CreateEncoderConfiguration", def.Arn, "us-west-2", acct, "encoder-configuration")
	v := def.Video
	if v == nil || aws.ToInt32(v.Width) != 1280 || aws.ToInt32(v.Height) != 720 || aws.ToFloat32(v.Framerate) != 30 ||
		aws.ToInt32(v.Bitrate) != 2500000 || aws.ToString(def.Name) != "" || def.Tags == nil || len(def.Tags) != 0 {
		t.Errorf("CreateEncoderConfiguration with defaults: %+v video %+v", def, v)
	}
	custom := sdk(c.CreateEncoderConfiguration(ctx, &ivsrealtime.CreateEncoderConfigurationInput{Name: aws.String("portrait"),
		Tags: map[string]string{"k": "v"}, Video: &rttypes.Video{Width: aws.Int32(1080), Height: aws.Int32(1920), Framerate: aws.Float32(59.94),
			Bitrate: aws.Int32(8500000)}})).must(t, "CreateEncoderConfiguration (custom)").EncoderConfiguration
	partial := sdk(c.CreateEncoderConfiguration(ctx, &ivsrealtime.CreateEncoderConfigurationInput{Video: &rttypes.Video{Bitrate: aws.Int32(1)}})).must(t, "CreateEncoderConfiguration (partial)").EncoderConfiguration
	if pv := partial.Video; aws.ToInt32(pv.Width) != 1280 || aws.ToInt32(pv.Height) != 720 || aws.ToFloat32(pv.Framerate) != 30 || aws.ToInt32(pv.Bitrate) != 1 {
		t.Errorf("CreateEncoderConfiguration (partial): %+v", pv)
	}
	got := sdk(c.GetEncoderConfiguration(ctx, &ivsrealtime.GetEncoderConfigurationInput{Arn: custom.Arn})).must(t, "GetEncoderConfiguration").EncoderConfiguration
	if gv := got.Video; aws.ToString(got.Name) != "portrait" || !equalTags(got.Tags, map[string]string{"k": "v"}) || aws.ToInt32(gv.Width) != 1080 ||
		aws.ToInt32(gv.Height) != 1920 || aws.ToFloat32(gv.Framerate) != 59.94 || aws.ToInt32(gv.Bitrate) != 8500000 {
		t.Errorf("GetEncoderConfiguration: %+v video %+v", got, gv)
	}

	for _, tc := range []struct {
		what  string
		video rttypes.Video
	}{
		{"an odd width", rttypes.Video{Width: aws.Int32(1279)}},
		{"an odd height", rttypes.Video{Height: aws.Int32(719)}},
		{"more than 2,073,600 pixels", rttypes.Video{Width: aws.Int32(1920), Height: aws.Int32(1082)}},
		{"a width over 1920", rttypes.Video{Width: aws.Int32(1922), Height: aws.Int32(2)}},
		{"a width of 0", rttypes.Video{Width: aws.Int32(0)}},
		{"61 fps", rttypes.Video{Framerate: aws.Float32(61)}},
		{"0.5 fps", rttypes.Video{Framerate: aws.Float32(0.5)}},
		{"a bitrate over 8,500,000", rttypes.Video{Bitrate: aws.Int32(8500001)}},
	} {
		v := tc.video
		_, err := c.CreateEncoderConfiguration(ctx, &ivsrealtime.CreateEncoderConfigurationInput{Video: &v})
		rtValidation(t, "CreateEncoderConfiguration with "+tc.what, err)
	}
	_, err := c.CreateEncoderConfiguration(ctx, &ivsrealtime.CreateEncoderConfigurationInput{Name: aws.String("no spaces")})
	rtValidation(t, "CreateEncoderConfiguration with a bad name", err)

	// The quota: 20 per account and region.
	var arns []string
	for _, e := range []*rttypes.EncoderConfiguration{def, custom, partial} {
		arns = append(arns, *e.Arn)
	}
	for i := 3; i < 20; i++ {
		e := sdk(c.CreateEncoderConfiguration(ctx, &ivsrealtime.CreateEncoderConfigurationInput{Name: aws.String(fmt.Sprintf("e%d", i))})).must(t, "CreateEncoderConfiguration")
		arns = append(arns, *e.EncoderConfiguration.Arn)
	}
	_, err = c.CreateEncoderConfiguration(ctx, &ivsrealtime.CreateEncoderConfigurationInput{})
	rtQuotaExceeded(t, "CreateEncoderConfiguration beyond the quota of 20", err)
	sdk(realtimeClient(s, SecondCredential, "").CreateEncoderConfiguration(ctx, &ivsrealtime.CreateEncoderConfigurationInput{})).must(t, "CreateEncoderConfiguration (account 2, own quota)")
	sdk(realtimeClient(s, Credential{}, "eu-west-1").CreateEncoderConfiguration(ctx, &ivsrealtime.CreateEncoderConfigurationInput{})).must(t, "CreateEncoderConfiguration (eu-west-1, own quota)")

	ls := sdk(c.ListEncoderConfigurations(ctx, &ivsrealtime.ListEncoderConfigurationsInput{})).must(t, "ListEncoderConfigurations")
	var listed []string
	for _, e := range ls.EncoderConfigurations {
		listed = append(listed, aws.ToString(e.Arn))
		if e.Tags == nil {
			t.Errorf("ListEncoderConfigurations: %+v has no tags", e)
		}
	}
	if !slices.Equal(listed, arns) || ls.NextToken != nil || aws.ToString(ls.EncoderConfigurations[1].Name) != "portrait" ||
		!equalTags(ls.EncoderConfigurations[1].Tags, map[string]string{"k": "v"}) {
		t.Errorf("ListEncoderConfigurations: %v next %v, want %v on one page", listed, ls.NextToken, arns)
	}

	sdk(c.DeleteEncoderConfiguration(ctx, &ivsrealtime.DeleteEncoderConfigurationInput{Arn: def.Arn})).must(t, "DeleteEncoderConfiguration")
	_, err = c.GetEncoderConfiguration(ctx, &ivsrealtime.GetEncoderConfigurationInput{Arn: def.Arn})
	rtNotFound(t, "GetEncoderConfiguration after delete", err)
	_, err = c.DeleteEncoderConfiguration(ctx, &ivsrealtime.DeleteEncoderConfigurationInput{Arn: def.Arn})
	rtNotFound(t, "DeleteEncoderConfiguration twice", err)
	sdk(c.CreateEncoderConfiguration(ctx, &ivsrealtime.CreateEncoderConfigurationInput{})).must(t, "CreateEncoderConfiguration after a delete frees the quota")

	f := createRTForeign(t, s)
	_, err = c.GetEncoderConfiguration(ctx, &ivsrealtime.GetEncoderConfigurationInput{Arn: &f.EncoderConfiguration})
	rtAccessDenied(t, "GetEncoderConfiguration of another account's", err)
	_, err = c.DeleteEncoderConfiguration(ctx, &ivsrealtime.DeleteEncoderConfigurationInput{Arn: &f.EncoderConfiguration})
	rtAccessDenied(t, "DeleteEncoderConfiguration of another account's", err)
}

// TestRealtimeStorageConfigurations covers the storage configuration operations.
func TestRealtimeStorageConfigurations(t *testing.T) {
	t.Parallel()
	s := Start(t, Options{})
	c := realtimeClient(s, Credential{}, "")
	ctx := Ctx(t)

	sc := sdk(c.CreateStorageConfiguration(ctx, &ivsrealtime.CreateStorageConfigurationInput{Name: aws.String("rec"),
		S3: &rttypes.S3StorageConfiguration{BucketName: aws.String("my.bucket-1")}, Tags: map[string]string{"k": "v"}})).must(t, "CreateStorageConfiguration").StorageConfiguration
	checkARN(t, "CreateStorageConfiguration", sc.Arn, "us-west-2", DefaultCredential.AccountID, "storage-configuration")
	if aws.ToString(sc.Name) != "rec" || sc.S3 == nil || aws.ToString(sc.S3.BucketName) != "my.bucket-1" || !equalTags(sc.Tags, map[string]string{"k": "v"}) {
		t.Errorf("CreateStorageConfiguration: %+v", sc)
	}
	got := sdk(c.GetStorageConfiguration(ctx, &ivsrealtime.GetStorageConfigurationInput{Arn: sc.Arn})).must(t, "GetStorageConfiguration").StorageConfiguration
	if aws.ToString(got.Arn) != *sc.Arn || aws.ToString(got.Name) != "rec" || aws.ToString(got.S3.BucketName) != "my.bucket-1" || !equalTags(got.Tags, sc.Tags) {
		t.Errorf("GetStorageConfiguration: %+v", got)
	}
	sc2 := sdk(c.CreateStorageConfiguration(ctx, &ivsrealtime.CreateStorageConfigurationInput{
		S3: &rttypes.S3StorageConfiguration{BucketName: aws.String("abc")}})).must(t, "CreateStorageConfiguration 2").StorageConfiguration
	ls := sdk(c.ListStorageConfigurations(ctx, &ivsrealtime.ListStorageConfigurationsInput{})).must(t, "ListStorageConfigurations")
	if len(ls.StorageConfigurations) != 2 || ls.NextToken != nil || aws.ToString(ls.StorageConfigurations[0].Arn) != *sc.Arn ||
		aws.ToString(ls.StorageConfigurations[0].S3.BucketName) != "my.bucket-1" || aws.ToString(ls.StorageConfigurations[1].Arn) != *sc2.Arn ||
		aws.ToString(ls.StorageConfigurations[1].Name) != "" || ls.StorageConfigurations[1].Tags == nil {
		t.Errorf("ListStorageConfigurations: %+v", ls.StorageConfigurations)
	}
	for _, b := range []string{"ab", strings.Repeat("b", 64), "Upper", "under_score"} {
		_, err := c.CreateStorageConfiguration(ctx, &ivsrealtime.CreateStorageConfigurationInput{S3: &rttypes.S3StorageConfiguration{BucketName: aws.String(b)}})
		rtValidation(t, "CreateStorageConfiguration with bucket "+b, err)
	}
	// (Requests without required members are refused by the SDK itself; TestValidationFromModelRealtime sends them.)
	sdk(c.DeleteStorageConfiguration(ctx, &ivsrealtime.DeleteStorageConfigurationInput{Arn: sc.Arn})).must(t, "DeleteStorageConfiguration")
	_, err := c.GetStorageConfiguration(ctx, &ivsrealtime.GetStorageConfigurationInput{Arn: sc.Arn})
	rtNotFound(t, "GetStorageConfiguration after delete", err)
	_, err = c.DeleteStorageConfiguration(ctx, &ivsrealtime.DeleteStorageConfigurationInput{Arn: sc.Arn})
	rtNotFound(t, "DeleteStorageConfiguration twice", err)
	f := createRTForeign(t, s)
	_, err = c.GetStorageConfiguration(ctx, &ivsrealtime.GetStorageConfigurationInput{Arn: &f.StorageConfiguration})
	rtAccessDenied(t, "GetStorageConfiguration of another account's", err)
	_, err = c.DeleteStorageConfiguration(ctx, &ivsrealtime.DeleteStorageConfigurationInput{Arn: &f.StorageConfiguration})
	rtAccessDenied(t, "DeleteStorageConfiguration of another account's", err)
}

var reRTStreamKey = regexp.MustCompile(`^rt_111111111111_us-west-2_([A-Za-z0-9]{12})_[A-Za-z0-9]{30}$`)

// TestRealtimeIngestConfigurations covers the ingest configuration operations: stream keys, the RTMP rule, stage
// attachment, filters, updates and deletes.
func TestRealtimeIngestConfigurations(t *testing.T) {
	t.Parallel()
	s := Start(t, Options{})
	c := realtimeClient(s, Credential{}, "")
	ctx := Ctx(t)
	st1 := sdk(c.CreateStage(ctx, &ivsrealtime.CreateStageInput{})).must(t, "CreateStage").Stage
	st2 := sdk(c.CreateStage(ctx, &ivsrealtime.CreateStageInput{})).must(t, "CreateStage").Stage

	ic := sdk(c.CreateIngestConfiguration(ctx, &ivsrealtime.CreateIngestConfigurationInput{Name: aws.String("obs"), StageArn: st1.Arn,
		UserId: aws.String("encoder-1"), Attributes: map[string]string{"a": "b"}, IngestProtocol: rttypes.IngestProtocolRtmps,
		Tags: map[string]string{"k": "v"}})).must(t, "CreateIngestConfiguration").IngestConfiguration
	id := checkARN(t, "CreateIngestConfiguration", ic.Arn, "us-west-2", DefaultCredential.AccountID, "ingest-configuration")
	m := reRTStreamKey.FindStringSubmatch(aws.ToString(ic.StreamKey))
	if m == nil || m[1] != id || aws.ToString(ic.Name) != "obs" || aws.ToString(ic.StageArn) != *st1.Arn || aws.ToString(ic.UserId) != "encoder-1" ||
		ic.Attributes["a"] != "b" || ic.IngestProtocol != rttypes.IngestProtocolRtmps || ic.State != rttypes.IngestConfigurationStateInactive ||
		!reParticipantID.MatchString(aws.ToString(ic.ParticipantId)) || !equalTags(ic.Tags, map[string]string{"k": "v"}) {
		t.Errorf("CreateIngestConfiguration: %+v", ic)
	}
	rtmp := sdk(c.CreateIngestConfiguration(ctx, &ivsrealtime.CreateIngestConfigurationInput{IngestProtocol: rttypes.IngestProtocolRtmp,
		InsecureIngest: true})).must(t, "CreateIngestConfiguration (RTMP)").IngestConfiguration
	if aws.ToString(rtmp.StageArn) != "" || aws.ToString(rtmp.UserId) != "" || aws.ToString(rtmp.Name) != "" || rtmp.Tags == nil ||
		aws.ToString(rtmp.ParticipantId) == aws.ToString(ic.ParticipantId) || aws.ToString(rtmp.StreamKey) == aws.ToString(ic.StreamKey) {
		t.Errorf("CreateIngestConfiguration (RTMP, no stage): %+v", rtmp)
	}
	got := sdk(c.GetIngestConfiguration(ctx, &ivsrealtime.GetIngestConfigurationInput{Arn: ic.Arn})).must(t, "GetIngestConfiguration").IngestConfiguration
	if aws.ToString(got.StreamKey) != aws.ToString(ic.StreamKey) || aws.ToString(got.ParticipantId) != aws.ToString(ic.ParticipantId) ||
		aws.ToString(got.StageArn) != *st1.Arn || got.State != rttypes.IngestConfigurationStateInactive || !equalTags(got.Tags, ic.Tags) {
		t.Errorf("GetIngestConfiguration: %+v", got)
	}

	_, err := c.CreateIngestConfiguration(ctx, &ivsrealtime.CreateIngestConfigurationInput{IngestProtocol: rttypes.IngestProtocolRtmp})
	rtValidation(t, "CreateIngestConfiguration RTMP without insecureIngest", err)
	_, err = c.CreateIngestConfiguration(ctx, &ivsrealtime.CreateIngestConfigurationInput{IngestProtocol: rttypes.IngestProtocolRtmps,
		StageArn: aws.String(unknownARN("stage"))})
	rtValidation(t, "CreateIngestConfiguration for a stage that does not exist", err)
	_, err = c.CreateIngestConfiguration(ctx, &ivsrealtime.CreateIngestConfigurationInput{IngestProtocol: rttypes.IngestProtocolRtmps,
		Attributes: attributesOf1025Bytes()})
	rtValidation(t, "CreateIngestConfiguration with attributes over 1 KB", err)
	f := createRTForeign(t, s)
	_, err = c.CreateIngestConfiguration(ctx, &ivsrealtime.CreateIngestConfigurationInput{IngestProtocol: rttypes.IngestProtocolRtmps, StageArn: &f.Stage})
	rtAccessDenied(t, "CreateIngestConfiguration for another account's stage", err)

	// Lists and their filters.
	list := func(in *ivsrealtime.ListIngestConfigurationsInput) []string {
		t.Helper()
		out := sdk(c.ListIngestConfigurations(ctx, in)).must(t, "ListIngestConfigurations")
		var arns []string
		for _, x := range out.IngestConfigurations {
			arns = append(arns, aws.ToString(x.Arn))
		}
		return arns
	}
	all := sdk(c.ListIngestConfigurations(ctx, &ivsrealtime.ListIngestConfigurationsInput{})).must(t, "ListIngestConfigurations").IngestConfigurations
	if len(all) != 2 || aws.ToString(all[0].Arn) != *ic.Arn || aws.ToString(all[0].Name) != "obs" || aws.ToString(all[0].StageArn) != *st1.Arn ||
		aws.ToString(all[0].ParticipantId) != aws.ToString(ic.ParticipantId) || all[0].State != rttypes.IngestConfigurationStateInactive ||
		aws.ToString(all[0].UserId) != "encoder-1" || all[0].IngestProtocol != rttypes.IngestProtocolRtmps || aws.ToString(all[1].StageArn) != "" {
		t.Errorf("ListIngestConfigurations: %+v", all)
	}
	if got := list(&ivsrealtime.ListIngestConfigurationsInput{FilterByStageArn: st1.Arn}); !slices.Equal(got, []string{*ic.Arn}) {
		t.Errorf("ListIngestConfigurations by stage: %v", got)
	}
	if got := list(&ivsrealtime.ListIngestConfigurationsInput{FilterByState: rttypes.IngestConfigurationStateInactive}); len(got) != 2 {
		t.Errorf("ListIngestConfigurations INACTIVE: %v", got)
	}
	if got := list(&ivsrealtime.ListIngestConfigurationsInput{FilterByState: rttypes.IngestConfigurationStateActive}); len(got) != 0 {
		t.Errorf("ListIngestConfigurations ACTIVE: %v", got)
	}
	_, err = c.ListIngestConfigurations(ctx, &ivsrealtime.ListIngestConfigurationsInput{FilterByStageArn: st1.Arn, FilterByState: rttypes.IngestConfigurationStateActive})
	rtValidation(t, "ListIngestConfigurations with both filters", err)

	// Updates: the stage, attached, moved, detached; a stage that does not exist is not found.
	moved := sdk(c.UpdateIngestConfiguration(ctx, &ivsrealtime.UpdateIngestConfigurationInput{Arn: ic.Arn, StageArn: st2.Arn})).must(t, "UpdateIngestConfiguration").IngestConfiguration
	if aws.ToString(moved.StageArn) != *st2.Arn || aws.ToString(moved.StreamKey) != aws.ToString(ic.StreamKey) || aws.ToString(moved.Name) != "obs" ||
		aws.ToString(moved.ParticipantId) != aws.ToString(ic.ParticipantId) {
		t.Errorf("UpdateIngestConfiguration: %+v", moved)
	}
	if got := list(&ivsrealtime.ListIngestConfigurationsInput{FilterByStageArn: st1.Arn}); len(got) != 0 {
		t.Errorf("ListIngestConfigurations by the old stage: %v", got)
	}
	if got := list(&ivsrealtime.ListIngestConfigurationsInput{FilterByStageArn: st2.Arn}); !slices.Equal(got, []string{*ic.Arn}) {
		t.Errorf("ListIngestConfigurations by the new stage: %v", got)
	}
	kept := sdk(c.UpdateIngestConfiguration(ctx, &ivsrealtime.UpdateIngestConfigurationInput{Arn: ic.Arn})).must(t, "UpdateIngestConfiguration without stageArn").IngestConfiguration
	if aws.ToString(kept.StageArn) != *st2.Arn {
		t.Errorf("UpdateIngestConfiguration without stageArn changed it to %q", aws.ToString(kept.StageArn))
	}
	detached := sdk(c.UpdateIngestConfiguration(ctx, &ivsrealtime.UpdateIngestConfigurationInput{Arn: ic.Arn, StageArn: aws.String("")})).must(t, "UpdateIngestConfiguration (detach)").IngestConfiguration
	if aws.ToString(detached.StageArn) != "" {
		t.Errorf("UpdateIngestConfiguration with stageArn \"\": %q", aws.ToString(detached.StageArn))
	}
	_, err = c.UpdateIngestConfiguration(ctx, &ivsrealtime.UpdateIngestConfigurationInput{Arn: ic.Arn, StageArn: aws.String(unknownARN("stage"))})
	rtNotFound(t, "UpdateIngestConfiguration to a stage that does not exist", err)
	_, err = c.UpdateIngestConfiguration(ctx, &ivsrealtime.UpdateIngestConfigurationInput{Arn: ic.Arn, StageArn: &f.Stage})
	rtAccessDenied(t, "UpdateIngestConfiguration to another account's stage", err)
	_, err = c.UpdateIngestConfiguration(ctx, &ivsrealtime.UpdateIngestConfigurationInput{Arn: aws.String(unknownARN("ingest-configuration"))})
	rtNotFound(t, "UpdateIngestConfiguration of one that does not exist", err)
	_, err = c.GetIngestConfiguration(ctx, &ivsrealtime.GetIngestConfigurationInput{Arn: &f.IngestConfiguration})
	rtAccessDenied(t, "GetIngestConfiguration of another account's", err)
	_, err = c.UpdateIngestConfiguration(ctx, &ivsrealtime.UpdateIngestConfigurationInput{Arn: &f.IngestConfiguration})
	rtAccessDenied(t, "UpdateIngestConfiguration of another account's", err)
	_, err = c.DeleteIngestConfiguration(ctx, &ivsrealtime.DeleteIngestConfigurationInput{Arn: &f.IngestConfiguration})
	rtAccessDenied(t, "DeleteIngestConfiguration of another account's", err)

	sdk(c.DeleteIngestConfiguration(ctx, &ivsrealtime.DeleteIngestConfigurationInput{Arn: ic.Arn})).must(t, "DeleteIngestConfiguration")
	sdk(c.DeleteIngestConfiguration(ctx, &ivsrealtime.DeleteIngestConfigurationInput{Arn: rtmp.Arn, Force: true})).must(t, "DeleteIngestConfiguration (force)")
	_, err = c.GetIngestConfiguration(ctx, &ivsrealtime.GetIngestConfigurationInput{Arn: ic.Arn})
	rtNotFound(t, "GetIngestConfiguration after delete", err)
	_, err = c.DeleteIngestConfiguration(ctx, &ivsrealtime.DeleteIngestConfigurationInput{Arn: ic.Arn})
	rtNotFound(t, "DeleteIngestConfiguration twice", err)
	if got := list(&ivsrealtime.ListIngestConfigurationsInput{}); len(got) != 0 {
		t.Errorf("ListIngestConfigurations after deleting both: %v", got)
	}
}

// TestRealtimeTags covers TagResource, UntagResource and ListTagsForResource on every taggable real-time
// resource, served on the tag routes the low-latency API shares.
func TestRealtimeTags(t *testing.T) {
	t.Parallel()
	s := Start(t, Options{})
	c := realtimeClient(s, Credential{}, "")
	ctx := Ctx(t)
	st := sdk(c.CreateStage(ctx, &ivsrealtime.CreateStageInput{Tags: map[string]string{"a": "1"}})).must(t, "CreateStage").Stage
	ec := sdk(c.CreateEncoderConfiguration(ctx, &ivsrealtime.CreateEncoderConfigurationInput{Tags: map[string]string{"a": "1"}})).must(t, "CreateEncoderConfiguration").EncoderConfiguration
	sc := sdk(c.CreateStorageConfiguration(ctx, &ivsrealtime.CreateStorageConfigurationInput{Tags: map[string]string{"a": "1"},
		S3: &rttypes.S3StorageConfiguration{BucketName: aws.String("bucket")}})).must(t, "CreateStorageConfiguration").StorageConfiguration
	ic := sdk(c.CreateIngestConfiguration(ctx, &ivsrealtime.CreateIngestConfigurationInput{Tags: map[string]string{"a": "1"},
		IngestProtocol: rttypes.IngestProtocolRtmps})).must(t, "CreateIngestConfiguration").IngestConfiguration
	pk := sdk(c.ImportPublicKey(ctx, &ivsrealtime.ImportPublicKeyInput{Tags: map[string]string{"a": "1"},
		PublicKeyMaterial: aws.String(newP384PEM(t))})).must(t, "ImportPublicKey").PublicKey

	for _, a := range []string{*st.Arn, *ec.Arn, *sc.Arn, *ic.Arn, *pk.Arn} {
		lt := sdk(c.ListTagsForResource(ctx, &ivsrealtime.ListTagsForResourceInput{ResourceArn: aws.String(a)})).must(t, "ListTagsForResource "+a)
		if !equalTags(lt.Tags, map[string]string{"a": "1"}) {
			t.Errorf("ListTagsForResource %s: %v", a, lt.Tags)
		}
		sdk(c.TagResource(ctx, &ivsrealtime.TagResourceInput{ResourceArn: aws.String(a), Tags: map[string]string{"a": "2", "b": "3"}})).must(t, "TagResource "+a)
		sdk(c.UntagResource(ctx, &ivsrealtime.UntagResourceInput{ResourceArn: aws.String(a), TagKeys: []string{"b", "missing"}})).must(t, "UntagResource "+a)
		lt = sdk(c.ListTagsForResource(ctx, &ivsrealtime.ListTagsForResourceInput{ResourceArn: aws.String(a)})).must(t, "ListTagsForResource "+a)
		if !equalTags(lt.Tags, map[string]string{"a": "2"}) {
			t.Errorf("tags of %s after tag and untag: %v", a, lt.Tags)
		}
		_, err := c.TagResource(ctx, &ivsrealtime.TagResourceInput{ResourceArn: aws.String(a), Tags: numberedTags(0, 50)})
		rtValidation(t, "TagResource beyond 50 tags on "+a, err)
		_, err = c.TagResource(ctx, &ivsrealtime.TagResourceInput{ResourceArn: aws.String(a), Tags: map[string]string{"AWS:x": "y"}})
		rtValidation(t, "TagResource with an aws: key on "+a, err)
	}
	// GetStage shows the new tags; the tags of a stage are its own.
	if g := sdk(c.GetStage(ctx, &ivsrealtime.GetStageInput{Arn: st.Arn})).must(t, "GetStage"); !equalTags(g.Stage.Tags, map[string]string{"a": "2"}) {
		t.Errorf("GetStage tags after TagResource: %v", g.Stage.Tags)
	}
	for _, a := range []string{unknownARN("stage"), unknownARN("composition"), unknownARN("public-key")} {
		_, err := c.ListTagsForResource(ctx, &ivsrealtime.ListTagsForResourceInput{ResourceArn: aws.String(a)})
		rtNotFound(t, "ListTagsForResource of "+a, err)
		_, err = c.TagResource(ctx, &ivsrealtime.TagResourceInput{ResourceArn: aws.String(a), Tags: map[string]string{"k": "v"}})
		rtNotFound(t, "TagResource of "+a, err)
		_, err = c.UntagResource(ctx, &ivsrealtime.UntagResourceInput{ResourceArn: aws.String(a), TagKeys: []string{"k"}})
		rtNotFound(t, "UntagResource of "+a, err)
	}
	f := createRTForeign(t, s)
	_, err := c.ListTagsForResource(ctx, &ivsrealtime.ListTagsForResourceInput{ResourceArn: &f.Stage})
	rtNotFound(t, "ListTagsForResource of another account's stage", err)
	_, err = c.TagResource(ctx, &ivsrealtime.TagResourceInput{ResourceArn: &f.PublicKey, Tags: map[string]string{"k": "v"}})
	rtNotFound(t, "TagResource of another account's public key", err)
	_, err = realtimeClient(s, Credential{}, "eu-west-1").ListTagsForResource(ctx, &ivsrealtime.ListTagsForResourceInput{ResourceArn: st.Arn})
	rtNotFound(t, "ListTagsForResource from another region", err)
	// Both APIs share the tag routes: the low-latency API still answers for its own resources.
	ch := sdk(s.IVS(Credential{}, "").CreateChannel(ctx, nil)).must(t, "CreateChannel").Channel
	lt := sdk(c.ListTagsForResource(ctx, &ivsrealtime.ListTagsForResourceInput{ResourceArn: ch.Arn})).must(t, "ListTagsForResource of a channel")
	if lt.Tags == nil || len(lt.Tags) != 0 {
		t.Errorf("ListTagsForResource of a channel: %v", lt.Tags)
	}
}
