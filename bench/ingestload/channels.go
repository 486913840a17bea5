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
)

// createChannels creates n channels named <prefix><i> through the IVS API at endpoint and writes their stream
// keys to path, one a line, in channel order.
func createChannels(endpoint, region, accessKey, secretKey, prefix string, n int, path string) error {
	client := ivs.New(ivs.Options{
		Region:       region,
		BaseEndpoint: aws.String(endpoint),
		Credentials:  credentials.NewStaticCredentialsProvider(accessKey, secretKey, ""),
	})
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	keys := make([]string, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	next := make(chan int)
	for range min(8, n) {
		wg.Go(func() {
			for i := range next {
				out, err := client.CreateChannel(ctx, &ivs.CreateChannelInput{Name: aws.String(fmt.Sprintf("%s%04d", prefix, i))})
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
	for i := range n {
		next <- i
	}
	close(next)
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			return fmt.Errorf("channel %d: %w", i, err)
		}
	}
	return os.WriteFile(path, []byte(strings.Join(keys, "\n")+"\n"), 0o600)
}
