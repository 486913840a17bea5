package e2e

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"os/exec"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/service/ivs"
	"github.com/aws/smithy-go"
	smithyhttp "github.com/aws/smithy-go/transport/http"
)

func apiErr(t *testing.T, err error) (code string, status int) {
	t.Helper()
	var ae smithy.APIError
	if !errors.As(err, &ae) {
		t.Fatalf("want an API error, got %v", err)
	}
	var re *smithyhttp.ResponseError
	if errors.As(err, &re) {
		status = re.HTTPStatusCode()
	}
	return ae.ErrorCode(), status
}

// TestSigV4Mode: with --auth sigv4 the SDK's signed requests pass, and a bad secret, an unknown key or an
// unsigned request are refused with AWS's codes and 403; each key acts in its own account.
func TestSigV4Mode(t *testing.T) {
	t.Parallel()
	s := Start(t, Options{Auth: "sigv4"})
	ctx := Ctx(t)
	if !strings.Contains(s.Log(), "API authentication: sigv4") {
		t.Errorf("the server did not log its authentication mode:\n%s", s.Log())
	}
	one, two := s.IVS(DefaultCredential, ""), s.IVS(SecondCredential, "")
	ch, err := one.CreateChannel(ctx, &ivs.CreateChannelInput{Name: aws.String("mine")})
	if err != nil {
		t.Fatalf("signed CreateChannel: %v", err)
	}
	if !strings.Contains(aws.ToString(ch.Channel.Arn), ":111111111111:channel/") {
		t.Errorf("channel ARN %s is not in the key's account", aws.ToString(ch.Channel.Arn))
	}
	// The other account sees nothing of it.
	l, err := two.ListChannels(ctx, &ivs.ListChannelsInput{})
	if err != nil || len(l.Channels) != 0 {
		t.Fatalf("account 2 lists %d channels (%v); want 0", len(l.Channels), err)
	}
	if _, err := two.GetChannel(ctx, &ivs.GetChannelInput{Arn: ch.Channel.Arn}); err == nil {
		t.Fatal("account 2 read account 1's channel")
	} else if code, status := apiErr(t, err); code != "AccessDeniedException" || status != 403 {
		t.Errorf("cross-account GetChannel: %s %d", code, status)
	}
	if _, err := two.DeleteChannel(ctx, &ivs.DeleteChannelInput{Arn: ch.Channel.Arn}); err == nil {
		t.Fatal("account 2 deleted account 1's channel")
	}
	if _, err := one.GetChannel(ctx, &ivs.GetChannelInput{Arn: ch.Channel.Arn}); err != nil {
		t.Fatalf("channel gone after a refused cross-account delete: %v", err)
	}

	for _, tc := range []struct {
		name string
		cred Credential
		code string
	}{
		{"wrong secret", Credential{AccessKeyID: DefaultCredential.AccessKeyID, SecretAccessKey: "wrong", AccountID: "111111111111"}, "InvalidSignatureException"},
		{"unknown key", Credential{AccessKeyID: "AKIDUNKNOWN", SecretAccessKey: "x", AccountID: "111111111111"}, "UnrecognizedClientException"},
	} {
		_, err := s.IVS(tc.cred, "").ListChannels(ctx, &ivs.ListChannelsInput{})
		if err == nil {
			t.Fatalf("%s: request accepted", tc.name)
		}
		if code, status := apiErr(t, err); code != tc.code || status != 403 {
			t.Errorf("%s: got %s %d, want %s 403", tc.name, code, status, tc.code)
		}
	}
	resp, err := http.Post(s.URL+"/ListChannels", "application/json", strings.NewReader("{}"))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 403 || resp.Header.Get("x-amzn-ErrorType") != "MissingAuthenticationTokenException" {
		t.Errorf("unsigned request: %d %s", resp.StatusCode, resp.Header.Get("x-amzn-ErrorType"))
	}
	// A request signed 20 minutes ago is refused; the same request signed now passes.
	for _, tc := range []struct {
		age    time.Duration
		status int
	}{{20 * time.Minute, 403}, {0, 200}} {
		body := "{}"
		req, _ := http.NewRequest("POST", s.URL+"/ListChannels", strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		sum := sha256.Sum256([]byte(body))
		err := v4.NewSigner().SignHTTP(ctx, aws.Credentials{AccessKeyID: DefaultCredential.AccessKeyID, SecretAccessKey: DefaultCredential.SecretAccessKey},
			req, hex.EncodeToString(sum[:]), "ivs", "us-west-2", time.Now().Add(-tc.age))
		if err != nil {
			t.Fatal(err)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != tc.status || (tc.status == 403 && resp.Header.Get("x-amzn-ErrorType") != "InvalidSignatureException") {
			t.Errorf("request signed %v ago: %d %s, want %d", tc.age, resp.StatusCode, resp.Header.Get("x-amzn-ErrorType"), tc.status)
		}
	}

	// botocore (boto3) signs differently from the Go SDK (it signs User-Agent, among others): it must pass too.
	script := fmt.Sprintf(`
import boto3
c = boto3.client("ivs", region_name="us-west-2", endpoint_url=%q,
    aws_access_key_id=%q, aws_secret_access_key=%q)
out = c.create_channel(name="from-boto3", tags={"via": "boto3"})
arn = out["channel"]["arn"]
got = c.get_channel(arn=arn)["channel"]
assert got["name"] == "from-boto3", got
assert c.list_tags_for_resource(resourceArn=arn)["tags"] == {"via": "boto3"}
c.untag_resource(resourceArn=arn, tagKeys=["via"])
assert c.list_tags_for_resource(resourceArn=arn)["tags"] == {}
print("ok", arn)
`, s.URL, DefaultCredential.AccessKeyID, DefaultCredential.SecretAccessKey)
	out, err := exec.CommandContext(ctx, "python3", "-c", script).CombinedOutput()
	if err != nil || !strings.HasPrefix(string(out), "ok arn:aws:ivs:us-west-2:111111111111:channel/") {
		t.Fatalf("boto3 against --auth sigv4: %v\n%s", err, out)
	}
}

// TestOpenModeAccounts: in open mode any credentials work; listed keys act in their account, others in the
// default account, and the region is the one the request is signed for.
func TestOpenModeAccounts(t *testing.T) {
	t.Parallel()
	s := Start(t, Options{Args: []string{"--account-id", "333333333333"}})
	ctx := Ctx(t)
	for _, tc := range []struct {
		cred   Credential
		region string
		want   string
	}{
		{DefaultCredential, "us-west-2", "arn:aws:ivs:us-west-2:111111111111:channel/"},
		{Credential{AccessKeyID: "ANYKEY", SecretAccessKey: "anything"}, "eu-west-1", "arn:aws:ivs:eu-west-1:333333333333:channel/"},
	} {
		out, err := s.IVS(tc.cred, tc.region).CreateChannel(ctx, &ivs.CreateChannelInput{})
		if err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(aws.ToString(out.Channel.Arn), tc.want) {
			t.Errorf("ARN %s, want prefix %s", aws.ToString(out.Channel.Arn), tc.want)
		}
		if !strings.Contains(aws.ToString(out.Channel.PlaybackUrl), "/api/video/v1/"+tc.region+".") {
			t.Errorf("playbackUrl %s does not name region %s", aws.ToString(out.Channel.PlaybackUrl), tc.region)
		}
	}
}

// TestDurableAcrossSIGKILL: every write acknowledged before the server is killed with SIGKILL is there after a
// restart, and the state survives a clean restart too.
func TestDurableAcrossSIGKILL(t *testing.T) {
	t.Parallel()
	s := Start(t, Options{Args: []string{"--quota-channels", "100000"}})
	c := s.IVS(Credential{}, "")
	ctx, cancel := context.WithCancel(Ctx(t))
	var (
		mu    sync.Mutex
		acked = map[string]string{} // channel ARN -> stream key ARN
		n     atomic.Int64
		wg    sync.WaitGroup
	)
	for w := 0; w < 8; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for i := 0; ctx.Err() == nil; i++ {
				out, err := c.CreateChannel(ctx, &ivs.CreateChannelInput{Name: aws.String(fmt.Sprintf("w%d-%d", w, i)),
					Tags: map[string]string{"worker": fmt.Sprint(w)}})
				if err != nil {
					return // the server is gone
				}
				mu.Lock()
				acked[aws.ToString(out.Channel.Arn)] = aws.ToString(out.StreamKey.Arn)
				mu.Unlock()
				n.Add(1)
			}
		}(w)
	}
	for n.Load() < 300 {
		time.Sleep(10 * time.Millisecond)
	}
	s.Kill() // in the middle of the stream of writes
	cancel()
	wg.Wait()
	s.Restart()
	c = s.IVS(Credential{}, "")
	ctx = Ctx(t)
	mu.Lock()
	defer mu.Unlock()
	t.Logf("%d writes acknowledged before SIGKILL", len(acked))
	for ch, key := range acked {
		got, err := c.GetChannel(ctx, &ivs.GetChannelInput{Arn: aws.String(ch)})
		if err != nil {
			t.Fatalf("acknowledged channel %s lost after SIGKILL: %v", ch, err)
		}
		if got.Channel.Tags["worker"] == "" {
			t.Fatalf("channel %s lost its tags", ch)
		}
		if _, err := c.GetStreamKey(ctx, &ivs.GetStreamKeyInput{Arn: aws.String(key)}); err != nil {
			t.Fatalf("acknowledged stream key %s lost after SIGKILL: %v", key, err)
		}
	}
	// Paging over everything finds each acknowledged channel exactly once.
	seen := map[string]int{}
	p := ivs.NewListChannelsPaginator(c, &ivs.ListChannelsInput{})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, ch := range page.Channels {
			seen[aws.ToString(ch.Arn)]++
		}
	}
	for ch := range acked {
		if seen[ch] != 1 {
			t.Fatalf("channel %s listed %d times after restart", ch, seen[ch])
		}
	}
}
