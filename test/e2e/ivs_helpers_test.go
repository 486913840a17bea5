package e2e

// Helpers of the ivs_*_test.go files, which drive every operation of the low-latency API through the AWS SDK for
// Go v2 and assert what a user's code would read: response shapes, typed errors with their HTTP status, pagination.

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"reflect"
	"regexp"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/service/ivs"
	"github.com/aws/aws-sdk-go-v2/service/ivs/types"
)

var (
	reIVSResourceID = regexp.MustCompile(`^[A-Za-z0-9]{12}$`)
	reFingerprint   = regexp.MustCompile(`^[0-9a-f]{2}(:[0-9a-f]{2}){15}$`)
	reAlnum         = regexp.MustCompile(`^[A-Za-z0-9]+$`)
)

// checkARN asserts that a is "arn:aws:ivs:<region>:<account>:<typ>/<12 alphanumerics>" and returns the id.
func checkARN(t *testing.T, what string, a *string, region, account, typ string) string {
	t.Helper()
	s := aws.ToString(a)
	prefix := "arn:aws:ivs:" + region + ":" + account + ":" + typ + "/"
	id, ok := strings.CutPrefix(s, prefix)
	if !ok || !reIVSResourceID.MatchString(id) {
		t.Errorf("%s: ARN %q, want %s<12 alphanumerics>", what, s, prefix)
		return ""
	}
	return id
}

// expectErr asserts that err is the modelled error target points to (a **types.XxxException), answered with the
// HTTP status and a non-empty exceptionMessage.
func expectErr(t *testing.T, what string, err error, target any, status int) {
	t.Helper()
	want := reflect.TypeOf(target).Elem()
	if err == nil {
		t.Errorf("%s: succeeded, want %v (HTTP %d)", what, want, status)
		return
	}
	if !errors.As(err, target) {
		t.Errorf("%s: error %v, want %v (HTTP %d)", what, err, want, status)
		return
	}
	var re *awshttp.ResponseError
	if !errors.As(err, &re) {
		t.Errorf("%s: error %v carries no HTTP response", what, err)
		return
	}
	if got := re.HTTPStatusCode(); got != status {
		t.Errorf("%s: HTTP %d, want %d (%v)", what, got, status, err)
	}
	if f := reflect.ValueOf(target).Elem().Elem().FieldByName("ExceptionMessage"); !f.IsValid() || f.IsNil() || f.Elem().String() == "" {
		t.Errorf("%s: %v has no exceptionMessage", what, err)
	}
}

func wantValidation(t *testing.T, what string, err error) {
	t.Helper()
	var e *types.ValidationException
	expectErr(t, what, err, &e, 400)
}

func wantNotFound(t *testing.T, what string, err error) {
	t.Helper()
	var e *types.ResourceNotFoundException
	expectErr(t, what, err, &e, 404)
}

func wantNotBroadcasting(t *testing.T, what string, err error) {
	t.Helper()
	var e *types.ChannelNotBroadcasting
	expectErr(t, what, err, &e, 404)
}

func wantAccessDenied(t *testing.T, what string, err error) {
	t.Helper()
	var e *types.AccessDeniedException
	expectErr(t, what, err, &e, 403)
}

func wantConflict(t *testing.T, what string, err error) {
	t.Helper()
	var e *types.ConflictException
	expectErr(t, what, err, &e, 409)
}

func wantQuotaExceeded(t *testing.T, what string, err error) {
	t.Helper()
	var e *types.ServiceQuotaExceededException
	expectErr(t, what, err, &e, 402)
}

// sdkResult is an SDK call's result: sdk(c.Op(ctx, in)).must(t, "Op") returns the output or ends the test.
type sdkResult[T any] struct {
	v   T
	err error
}

func sdk[T any](v T, err error) sdkResult[T] { return sdkResult[T]{v, err} }

func (r sdkResult[T]) must(t *testing.T, what string) T {
	t.Helper()
	if r.err != nil {
		t.Fatalf("%s: %v", what, r.err)
	}
	return r.v
}

// newP384PEM returns a fresh ECDSA P-384 public key as PEM (SPKI), as `openssl ec -pubout` writes it.
func newP384PEM(t *testing.T) string {
	t.Helper()
	return newECPEM(t, elliptic.P384())
}

func newECPEM(t *testing.T, curve elliptic.Curve) string {
	t.Helper()
	k, err := ecdsa.GenerateKey(curve, rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.MarshalPKIXPublicKey(&k.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}))
}

// numberedTags returns n tags k<from>..k<from+n-1>.
func numberedTags(from, n int) map[string]string {
	m := map[string]string{}
	for i := from; i < from+n; i++ {
		m[fmt.Sprintf("k%d", i)] = fmt.Sprintf("v%d", i)
	}
	return m
}

func equalTags(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}

// testS3 is a recording destination.
func testS3(bucket string) *types.DestinationConfiguration {
	return &types.DestinationConfiguration{S3: &types.S3DestinationConfiguration{BucketName: aws.String(bucket)}}
}

// mediaTailorARN is a MediaTailor playback configuration ARN for ad configurations.
func mediaTailorARN(name string) string {
	return "arn:aws:mediatailor:us-west-2:111111111111:playbackConfiguration/" + name
}

// foreignResources are resources of account 222222222222, whose ARNs account 111111111111 must not reach.
type foreignResources struct {
	Channel, StreamKey, KeyPair, RecordingConfiguration, Policy, AdConfiguration string
}

func createForeignResources(t *testing.T, s *Server) foreignResources {
	t.Helper()
	c := s.IVS(SecondCredential, "")
	ctx := Ctx(t)
	ch := sdk(c.CreateChannel(ctx, &ivs.CreateChannelInput{Name: aws.String("foreign")})).must(t, "CreateChannel (account 2)")
	kp := sdk(c.ImportPlaybackKeyPair(ctx, &ivs.ImportPlaybackKeyPairInput{PublicKeyMaterial: aws.String(newP384PEM(t))})).must(t, "ImportPlaybackKeyPair (account 2)")
	rc := sdk(c.CreateRecordingConfiguration(ctx, &ivs.CreateRecordingConfigurationInput{DestinationConfiguration: testS3("foreign-bucket")})).must(t, "CreateRecordingConfiguration (account 2)")
	pol := sdk(c.CreatePlaybackRestrictionPolicy(ctx, &ivs.CreatePlaybackRestrictionPolicyInput{})).must(t, "CreatePlaybackRestrictionPolicy (account 2)")
	ad := sdk(c.CreateAdConfiguration(ctx, &ivs.CreateAdConfigurationInput{
		MediaTailorPlaybackConfigurations: []types.MediaTailorPlaybackConfiguration{{PlaybackConfigurationArn: aws.String(mediaTailorARN("foreign"))}}})).must(t, "CreateAdConfiguration (account 2)")
	return foreignResources{Channel: *ch.Channel.Arn, StreamKey: *ch.StreamKey.Arn, KeyPair: *kp.KeyPair.Arn,
		RecordingConfiguration: *rc.RecordingConfiguration.Arn, Policy: *pol.PlaybackRestrictionPolicy.Arn,
		AdConfiguration: *ad.AdConfiguration.Arn}
}

// unknownARN is a well-formed ARN of account 111111111111 in us-west-2 that names nothing.
func unknownARN(typ string) string {
	return "arn:aws:ivs:us-west-2:111111111111:" + typ + "/AbCdEfGh1234"
}
