package e2e

import (
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ivs"
)

// TestIngestAcknowledgements: a publisher that asks for RTMP acknowledgements (the gortmplib client asks for one
// every 2.5 MB) keeps publishing past the handshake's deadline. Regression test for the write deadline that
// outlived the handshake: the first acknowledgement written after it cut the publisher (found by bench/ingestload).
func TestIngestAcknowledgements(t *testing.T) {
	t.Parallel()
	encoderSlot(t)
	sps, pps, aus := h264AUs(t, "1280x720")
	// The test is only meaningful if an acknowledgement falls due after the 10 s handshake deadline.
	const window, publishFor = 2_500_000, 16 * time.Second
	var bytes int
	dueLate := false
	for i := 0; time.Duration(i)*time.Second/30 < publishFor-time.Second; i++ {
		before := bytes / window
		for _, n := range aus[i%len(aus)] {
			bytes += len(n)
		}
		if bytes/window > before && time.Duration(i)*time.Second/30 > 11*time.Second {
			dueLate = true
		}
	}
	if !dueLate {
		t.Fatalf("the fixture (%d bytes in %v) asks for no acknowledgement after the handshake deadline", bytes, publishFor)
	}
	s := Start(t, Options{})
	c := s.IVS(Credential{}, "")
	ch, err := c.CreateChannel(Ctx(t), &ivs.CreateChannelInput{InsecureIngest: true})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() {
		done <- publishMultitrack(t, "rtmp://"+s.RTMP+"/app/"+aws.ToString(ch.StreamKey.Value), 1, sps, pps, aus, publishFor)
	}()
	waitLive(t, c, ch.Channel.Arn, 20*time.Second)
	if err := <-done; err != nil {
		t.Fatalf("the publisher was cut: %v", err)
	}
}
