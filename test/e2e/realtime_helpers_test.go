package e2e

// Helpers of the realtime_*_test.go files, which drive every operation of the real-time API (ivs-realtime) through
// the AWS SDK for Go v2 against a real server, on the same port as the low-latency API.

import (
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/ivsrealtime"
	rttypes "github.com/aws/aws-sdk-go-v2/service/ivsrealtime/types"
)

// realtimeClient returns an AWS SDK client for the ivs-realtime API, signing as cred (DefaultCredential when zero)
// in region (us-west-2 when empty).
func realtimeClient(s *Server, cred Credential, region string) *ivsrealtime.Client {
	if cred.AccessKeyID == "" {
		cred = DefaultCredential
	}
	if region == "" {
		region = "us-west-2"
	}
	return ivsrealtime.New(ivsrealtime.Options{
		Region:       region,
		BaseEndpoint: aws.String(s.URL),
		Credentials:  credentials.NewStaticCredentialsProvider(cred.AccessKeyID, cred.SecretAccessKey, ""),
		Retryer:      aws.NopRetryer{},
	})
}

func rtValidation(t *testing.T, what string, err error) {
	t.Helper()
	var e *rttypes.ValidationException
	expectErr(t, what, err, &e, 400)
}

func rtNotFound(t *testing.T, what string, err error) {
	t.Helper()
	var e *rttypes.ResourceNotFoundException
	expectErr(t, what, err, &e, 404)
}

func rtAccessDenied(t *testing.T, what string, err error) {
	t.Helper()
	var e *rttypes.AccessDeniedException
	expectErr(t, what, err, &e, 403)
}

func rtConflict(t *testing.T, what string, err error) {
	t.Helper()
	var e *rttypes.ConflictException
	expectErr(t, what, err, &e, 409)
}

func rtQuotaExceeded(t *testing.T, what string, err error) {
	t.Helper()
	var e *rttypes.ServiceQuotaExceededException
	expectErr(t, what, err, &e, 402)
}

// rtForeign are resources of account 222222222222, whose ARNs account 111111111111 must not reach.
type rtForeign struct {
	Stage, EncoderConfiguration, StorageConfiguration, IngestConfiguration, PublicKey string
}

func createRTForeign(t *testing.T, s *Server) rtForeign {
	t.Helper()
	c := realtimeClient(s, SecondCredential, "")
	ctx := Ctx(t)
	st := sdk(c.CreateStage(ctx, &ivsrealtime.CreateStageInput{Name: aws.String("foreign")})).must(t, "CreateStage (account 2)")
	ec := sdk(c.CreateEncoderConfiguration(ctx, &ivsrealtime.CreateEncoderConfigurationInput{})).must(t, "CreateEncoderConfiguration (account 2)")
	sc := sdk(c.CreateStorageConfiguration(ctx, &ivsrealtime.CreateStorageConfigurationInput{
		S3: &rttypes.S3StorageConfiguration{BucketName: aws.String("foreign-bucket")}})).must(t, "CreateStorageConfiguration (account 2)")
	ic := sdk(c.CreateIngestConfiguration(ctx, &ivsrealtime.CreateIngestConfigurationInput{IngestProtocol: rttypes.IngestProtocolRtmps,
		StageArn: st.Stage.Arn})).must(t, "CreateIngestConfiguration (account 2)")
	pk := sdk(c.ImportPublicKey(ctx, &ivsrealtime.ImportPublicKeyInput{PublicKeyMaterial: aws.String(newP384PEM(t))})).must(t, "ImportPublicKey (account 2)")
	return rtForeign{Stage: *st.Stage.Arn, EncoderConfiguration: *ec.EncoderConfiguration.Arn,
		StorageConfiguration: *sc.StorageConfiguration.Arn, IngestConfiguration: *ic.IngestConfiguration.Arn, PublicKey: *pk.PublicKey.Arn}
}
