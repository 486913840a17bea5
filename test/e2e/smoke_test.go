package e2e

import (
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ivs"
)

// TestSmoke is the shortest path through the product: start, create a channel with the SDK, read it back.
func TestSmoke(t *testing.T) {
	s := Start(t, Options{})
	c := s.IVS(Credential{}, "")
	ctx := Ctx(t)
	out, err := c.CreateChannel(ctx, &ivs.CreateChannelInput{Name: aws.String("smoke")})
	if err != nil {
		t.Fatalf("CreateChannel: %v", err)
	}
	got, err := c.GetChannel(ctx, &ivs.GetChannelInput{Arn: out.Channel.Arn})
	if err != nil {
		t.Fatalf("GetChannel: %v", err)
	}
	if aws.ToString(got.Channel.Name) != "smoke" || aws.ToString(got.Channel.Arn) != aws.ToString(out.Channel.Arn) {
		t.Fatalf("GetChannel returned %+v", got.Channel)
	}
}
