package main

import (
	"context"
	"fmt"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/ivs"
	"github.com/aws/aws-sdk-go-v2/service/ivs/types"
)

// channelsSpec is what -create-channels creates.
type channelsSpec struct {
	endpoint, region, accessKey, secretKey string
	prefix                                 string // channel names are <prefix><i>
	channelType                            string // "" for the API's default (STANDARD)
	n                                      int
	path                                   string // the stream keys are written here
	// recordingBucket, when set: a recording configuration (IVS's defaults) to this S3 bucket is created first,
	// and every channel records with it.
	recordingBucket string
	// recordingReady bounds the wait for the configuration to leave CREATING.
	recordingReady time.Duration
	log            func(format string, args ...any)
}

// createChannels creates the channels through the IVS API and writes their stream keys to the spec's path, one a
// line, in channel order.
func createChannels(sp channelsSpec) error {
	client := ivs.New(ivs.Options{
		Region:       sp.region,
		BaseEndpoint: aws.String(sp.endpoint),
		Credentials:  credentials.NewStaticCredentialsProvider(sp.accessKey, sp.secretKey, ""),
	})
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	var recordingARN *string
	if sp.recordingBucket != "" {
		arn, err := createRecordingConfiguration(ctx, client, sp)
		if err != nil {
			return err
		}
		recordingARN = aws.String(arn)
	}
	keys := make([]string, sp.n)
	errs := make([]error, sp.n)
	var wg sync.WaitGroup
	next := make(chan int)
	for range min(8, sp.n) {
		wg.Go(func() {
			for i := range next {
				out, err := client.CreateChannel(ctx, &ivs.CreateChannelInput{Name: aws.String(fmt.Sprintf("%s%04d", sp.prefix, i)),
					Type: types.ChannelType(sp.channelType), RecordingConfigurationArn: recordingARN})
				switch {
				case err != nil:
					errs[i] = err
				case out.StreamKey == nil || aws.ToString(out.StreamKey.Value) == "":
					errs[i] = fmt.Errorf("CreateChannel returned no stream key")
				default:
					keys[i] = aws.ToString(out.StreamKey.Value)
				}
			}
		})
	}
	for i := range sp.n {
		next <- i
	}
	close(next)
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			return fmt.Errorf("channel %d: %w", i, err)
		}
	}
	return os.WriteFile(sp.path, []byte(strings.Join(keys, "\n")+"\n"), 0o600)
}

// createRecordingConfiguration creates a recording configuration to the spec's bucket with IVS's defaults
// (thumbnails every 60 s, every rendition, no reconnect window) and waits until it is ACTIVE: it is CREATING until
// the server has checked the bucket, and a channel records only with an ACTIVE configuration.
func createRecordingConfiguration(ctx context.Context, client *ivs.Client, sp channelsSpec) (string, error) {
	out, err := client.CreateRecordingConfiguration(ctx, &ivs.CreateRecordingConfigurationInput{
		Name: aws.String(sp.prefix + "recording"),
		DestinationConfiguration: &types.DestinationConfiguration{
			S3: &types.S3DestinationConfiguration{BucketName: aws.String(sp.recordingBucket)}},
	})
	if err != nil {
		return "", fmt.Errorf("CreateRecordingConfiguration: %w", err)
	}
	arn := aws.ToString(out.RecordingConfiguration.Arn)
	state := out.RecordingConfiguration.State
	deadline := time.Now().Add(sp.recordingReady)
	for state == types.RecordingConfigurationStateCreating && time.Now().Before(deadline) {
		time.Sleep(200 * time.Millisecond)
		got, err := client.GetRecordingConfiguration(ctx, &ivs.GetRecordingConfigurationInput{Arn: aws.String(arn)})
		if err != nil {
			return "", fmt.Errorf("GetRecordingConfiguration: %w", err)
		}
		state = got.RecordingConfiguration.State
	}
	if state != types.RecordingConfigurationStateActive {
		return "", fmt.Errorf("recording configuration %s to bucket %q is %s, want ACTIVE", arn, sp.recordingBucket, state)
	}
	if sp.log != nil {
		sp.log("recording configuration %s (bucket %s) is ACTIVE", arn, sp.recordingBucket)
	}
	return arn, nil
}
