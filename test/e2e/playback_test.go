package e2e

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os/exec"
	"path"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ivs"
	"github.com/aws/aws-sdk-go-v2/service/ivs/types"
	"github.com/bluenviron/gohlslib/v2/pkg/playlist"
	"github.com/golang-jwt/jwt/v5"
)

// httpResult is one playback response.
type httpResult struct {
	status int
	header http.Header
	body   []byte
}

func fetch(t *testing.T, method, u string, header map[string]string) httpResult {
	t.Helper()
	req, err := http.NewRequest(method, u, nil)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, u, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s %s: %v", method, u, err)
	}
	return httpResult{status: resp.StatusCode, header: resp.Header, body: b}
}

// resolve makes a playlist's URI absolute against the playlist's URL.
func resolve(base, ref string) string {
	b, _ := url.Parse(base)
	r, _ := url.Parse(ref)
	return b.ResolveReference(r).String()
}

// variantURL fetches a multivariant playlist and returns its first variant's absolute URL.
func variantURL(t *testing.T, playbackURL string, header map[string]string) string {
	t.Helper()
	vs := multivariant(t, playbackURL, header)
	if len(vs) == 0 {
		t.Fatalf("a multivariant playlist without variants")
	}
	return resolve(playbackURL, vs[0].URI)
}

func mediaPlaylist(t *testing.T, u string, header map[string]string) (*playlist.Media, httpResult) {
	t.Helper()
	return fetchPlaylist[*playlist.Media](t, u, header)
}

// fetchPlaylist GETs a playlist that must answer 200 and parse as a P (*playlist.Media or *playlist.Multivariant).
func fetchPlaylist[P playlist.Playlist](t *testing.T, u string, header map[string]string) (P, httpResult) {
	t.Helper()
	r := fetch(t, "GET", u, header)
	if r.status != 200 {
		t.Fatalf("GET %s: %d %s", u, r.status, r.body)
	}
	pl, err := playlist.Unmarshal(r.body)
	if err != nil {
		t.Fatalf("playlist %s does not parse: %v\n%s", u, err, r.body)
	}
	p, ok := pl.(P)
	if !ok {
		t.Fatalf("%s is a %T, not a %T:\n%s", u, pl, p, r.body)
	}
	return p, r
}

// liveChannel creates a channel and publishes to it over RTMPS until the test ends; it returns once the stream
// is LIVE.
// Its type is BASIC unless in says otherwise: these tests are about playback, and the transcoder of STANDARD
// channels (tested on its own in transcode_test.go) would take CPU that the parallel suites need.
func liveChannel(t *testing.T, s *Server, c *ivs.Client, in *ivs.CreateChannelInput) *ivs.CreateChannelOutput {
	t.Helper()
	if in.Type == "" {
		in.Type = types.ChannelTypeBasicChannelType
	}
	ch, err := c.CreateChannel(Ctx(t), in)
	if err != nil {
		t.Fatal(err)
	}
	publish(t, "rtmps://"+s.RTMPS+"/app/"+aws.ToString(ch.StreamKey.Value))
	waitLive(t, c, ch.Channel.Arn, 30*time.Second)
	return ch
}

// TestPlaybackHLS: the playbackUrl of a live channel serves HLS for every latency mode and container format:
// playlists that parse and follow the mode (LL-HLS tags for LOW only), media that ffprobe decodes, segments and
// parts with the right types, HEAD, CORS, blocking playlist reload and delta updates.
func TestPlaybackHLS(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		latency   types.ChannelLatencyMode
		container types.ContainerFormat
		ext       string
	}{
		{types.ChannelLatencyModeLowLatency, types.ContainerFormatTs, "ts"},
		{types.ChannelLatencyModeLowLatency, types.ContainerFormatFragmentedMP4, "mp4"},
		{types.ChannelLatencyModeNormalLatency, types.ContainerFormatTs, "ts"},
		{types.ChannelLatencyModeNormalLatency, types.ContainerFormatFragmentedMP4, "mp4"},
	} {
		t.Run(string(tc.latency)+"/"+string(tc.container), func(t *testing.T) {
			t.Parallel()
			encoderSlot(t)
			s := Start(t, Options{})
			c := s.IVS(Credential{}, "")
			ch := liveChannel(t, s, c, &ivs.CreateChannelInput{LatencyMode: tc.latency, ContainerFormat: tc.container})
			pbURL := aws.ToString(ch.Channel.PlaybackUrl)
			ll := tc.latency == types.ChannelLatencyModeLowLatency

			// Stream Start means playable: the playlist lists a segment at once.
			mv := fetch(t, "GET", pbURL, map[string]string{"Origin": "https://app.example"})
			if mv.status != 200 || mv.header.Get("Content-Type") != "application/vnd.apple.mpegurl" ||
				mv.header.Get("Access-Control-Allow-Origin") == "" {
				t.Fatalf("multivariant: %d %v\n%s", mv.status, mv.header, mv.body)
			}
			if !strings.Contains(string(mv.body), `CODECS="avc1.64001E,mp4a.40.2"`) || !strings.Contains(string(mv.body), "RESOLUTION=640x360") {
				t.Errorf("multivariant does not describe the stream (High 3.0 640x360 with AAC):\n%s", mv.body)
			}
			vu := variantURL(t, pbURL, nil)
			mp, r := mediaPlaylist(t, vu, nil)
			if len(mp.Segments) == 0 {
				t.Fatalf("LIVE but no segment listed:\n%s", r.body)
			}
			if ll {
				if mp.ServerControl == nil || !mp.ServerControl.CanBlockReload || mp.ServerControl.CanSkipUntil == nil ||
					mp.PartInf == nil || mp.PreloadHint == nil || len(mp.Parts) == 0 && len(mp.Segments[len(mp.Segments)-1].Parts) == 0 {
					t.Fatalf("LOW latency playlist is not LL-HLS:\n%s", r.body)
				}
				if pt := mp.PartInf.PartTarget; pt < 200*time.Millisecond || pt > 300*time.Millisecond {
					t.Errorf("PART-TARGET %v, want 200–300 ms", pt)
				}
			} else if mp.PartInf != nil || strings.Contains(string(r.body), "#EXT-X-PART") || strings.Contains(string(r.body), "PRELOAD-HINT") {
				t.Fatalf("NORMAL latency playlist carries LL-HLS tags:\n%s", r.body)
			}
			if !strings.Contains(string(r.body), "#EXT-X-PROGRAM-DATE-TIME:") {
				t.Error("no EXT-X-PROGRAM-DATE-TIME")
			}
			if (tc.ext == "mp4") != (mp.Map != nil) {
				t.Errorf("container %s, EXT-X-MAP %v", tc.container, mp.Map)
			}
			seg := mp.Segments[len(mp.Segments)-1]
			if !strings.HasSuffix(seg.URI, "."+tc.ext) {
				t.Errorf("segment URI %s for %s", seg.URI, tc.container)
			}
			segURL := resolve(vu, seg.URI)
			get := fetch(t, "GET", segURL, nil)
			head := fetch(t, "HEAD", segURL, nil)
			wantType := map[string]string{"ts": "video/mp2t", "mp4": "video/mp4"}[tc.ext]
			if get.status != 200 || get.header.Get("Content-Type") != wantType || len(get.body) == 0 ||
				head.status != 200 || head.header.Get("Content-Length") != strconv.Itoa(len(get.body)) || len(head.body) != 0 {
				t.Errorf("segment GET %d %s (%d bytes), HEAD %d Content-Length %s", get.status, get.header.Get("Content-Type"),
					len(get.body), head.status, head.header.Get("Content-Length"))
			}
			if rg := fetch(t, "GET", segURL, map[string]string{"Range": "bytes=10-99"}); rg.status != 206 || string(rg.body) != string(get.body[10:100]) {
				t.Errorf("segment byte range: %d, %d bytes", rg.status, len(rg.body))
			}
			if get.header.Get("Cache-Control") == "" || r.header.Get("Cache-Control") != "no-cache" {
				t.Errorf("caching headers: segment %q, playlist %q", get.header.Get("Cache-Control"), r.header.Get("Cache-Control"))
			}
			pre := fetch(t, "OPTIONS", segURL, map[string]string{"Origin": "https://app.example", "Access-Control-Request-Method": "GET",
				"Access-Control-Request-Headers": "range"})
			if pre.status != 204 || !strings.Contains(pre.header.Get("Access-Control-Allow-Methods"), "GET") {
				t.Errorf("CORS preflight: %d %v", pre.status, pre.header)
			}

			if ll {
				// Blocking reload: ask for the hinted part; the answer lists it.
				hint := resolve(vu, mp.PreloadHint.URI)
				m := regexp.MustCompile(`/(\d+)\.(\d+)\.` + tc.ext + `$`).FindStringSubmatch(hint)
				if m == nil {
					t.Fatalf("preload hint %s", hint)
				}
				partGot := make(chan httpResult, 1)
				go func() { partGot <- fetch(t, "GET", hint, nil) }()
				blocked, br := mediaPlaylist(t, vu+"?_HLS_msn="+m[1]+"&_HLS_part="+m[2], nil)
				if !strings.Contains(string(br.body), path.Base(hint)) {
					t.Errorf("blocking reload for %s.%s returned a playlist without that part:\n%s", m[1], m[2], br.body)
				}
				if p := <-partGot; p.status != 200 || len(p.body) == 0 {
					t.Errorf("preload-hinted part: %d (%d bytes)", p.status, len(p.body))
				}
				_ = blocked
				if far := fetch(t, "GET", vu+"?_HLS_msn=99999", nil); far.status != 400 {
					t.Errorf("_HLS_msn far beyond the live edge: %d, want 400", far.status)
				}
				// Delta update once the playlist is longer than CAN-SKIP-UNTIL.
				deadline := time.Now().Add(20 * time.Second)
				for {
					d, dr := mediaPlaylist(t, vu+"?_HLS_skip=YES", nil)
					if d.Skip != nil && d.Skip.SkippedSegments > 0 {
						break
					}
					if time.Now().After(deadline) {
						t.Fatalf("no EXT-X-SKIP in delta updates after 20 s:\n%s", dr.body)
					}
					time.Sleep(time.Second)
				}
			}

			// A real decoder plays the playbackUrl.
			out, err := exec.Command("ffprobe", "-v", "error", "-show_entries", "stream=codec_name,width,height", "-of", "csv=p=0", pbURL).CombinedOutput()
			if err != nil || !strings.Contains(string(out), "h264,640,360") || !strings.Contains(string(out), "aac") {
				t.Errorf("ffprobe of the playbackUrl: %v\n%s", err, out)
			}
		})
	}
}

// TestPlaybackOffline: unknown and offline channels answer 404 with a JSON body; a stream's URLs die with it.
func TestPlaybackOffline(t *testing.T) {
	t.Parallel()
	httpsAddr := freeAddr(t)
	s := Start(t, Options{Args: []string{"--https-addr", httpsAddr}})
	c := s.IVS(Credential{}, "")
	ch, err := c.CreateChannel(Ctx(t), &ivs.CreateChannelInput{})
	if err != nil {
		t.Fatal(err)
	}
	pb := aws.ToString(ch.Channel.PlaybackUrl)
	for _, u := range []string{pb, strings.Replace(pb, ".channel.", ".channel.x", 1), s.URL + "/v1/playlist/garbage/360p30.m3u8",
		s.URL + "/v1/segment/garbage/360p30/0.ts"} {
		r := fetch(t, "GET", u, nil)
		var body map[string]string
		if r.status < 400 || r.status >= 500 || json.Unmarshal(r.body, &body) != nil || body["error"] == "" {
			t.Errorf("GET %s: %d %s", u, r.status, r.body)
		}
	}
	if r := fetch(t, "POST", pb, nil); r.status != 405 {
		t.Errorf("POST playbackUrl: %d", r.status)
	}
	// The TLS listener speaks HTTP/2 (the self-signed RTMPS certificate here).
	h2 := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}, ForceAttemptHTTP2: true}}
	resp, err := h2.Get("https://" + httpsAddr + strings.TrimPrefix(pb, s.URL))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.ProtoMajor != 2 || resp.StatusCode != 404 {
		t.Errorf("playbackUrl over the TLS listener: %s %d, want HTTP/2 404 (offline)", resp.Proto, resp.StatusCode)
	}
}

// playbackKey imports a fresh P-384 playback key pair and returns its private key and ARN.
func playbackKey(t *testing.T, c *ivs.Client) (*ecdsa.PrivateKey, string) {
	t.Helper()
	priv, err := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	der, _ := x509.MarshalPKIXPublicKey(&priv.PublicKey)
	out, err := c.ImportPlaybackKeyPair(Ctx(t), &ivs.ImportPlaybackKeyPairInput{
		PublicKeyMaterial: aws.String(string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})))})
	if err != nil {
		t.Fatal(err)
	}
	return priv, aws.ToString(out.KeyPair.Arn)
}

func viewerToken(t *testing.T, key *ecdsa.PrivateKey, method jwt.SigningMethod, claims jwt.MapClaims) string {
	t.Helper()
	tok, err := jwt.NewWithClaims(method, claims).SignedString(key)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// refusalReason returns the reason of a 403/400 JSON refusal.
func refusalReason(t *testing.T, r httpResult) string {
	t.Helper()
	var body struct{ Error, Reason, Message string }
	if err := json.Unmarshal(r.body, &body); err != nil {
		t.Fatalf("refusal body is not JSON: %d %s", r.status, r.body)
	}
	return body.Reason
}

// TestPlaybackPrivateChannel: an authorized channel plays only with a valid ES384 token signed by one of the
// account's playback key pairs, and refuses each kind of bad token with 403 and a reason; the URLs it hands out
// stop working when the viewer is revoked or the key pair deleted.
func TestPlaybackPrivateChannel(t *testing.T) {
	t.Parallel()
	encoderSlot(t)
	s := Start(t, Options{})
	c := s.IVS(Credential{}, "")
	ctx := Ctx(t)
	key, keyARN := playbackKey(t, c)
	other, _ := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	ch := liveChannel(t, s, c, &ivs.CreateChannelInput{Authorized: true, InsecureIngest: false})
	chARN := aws.ToString(ch.Channel.Arn)
	pb := aws.ToString(ch.Channel.PlaybackUrl)
	exp := func(d time.Duration) int64 { return time.Now().Add(d).Unix() }
	good := jwt.MapClaims{"aws:channel-arn": chARN, "aws:access-control-allow-origin": "*", "exp": exp(time.Hour)}
	with := func(extra jwt.MapClaims) jwt.MapClaims {
		m := jwt.MapClaims{}
		for k, v := range good {
			m[k] = v
		}
		for k, v := range extra {
			if v == nil {
				delete(m, k)
			} else {
				m[k] = v
			}
		}
		return m
	}
	play := func(tok string, header map[string]string) httpResult {
		return fetch(t, "GET", pb+"?token="+url.QueryEscape(tok), header)
	}
	if r := play(viewerToken(t, key, jwt.SigningMethodES384, good), nil); r.status != 200 {
		t.Fatalf("valid token: %d %s", r.status, r.body)
	}
	if r := fetch(t, "GET", pb, nil); r.status != 403 || refusalReason(t, r) != "token_missing" {
		t.Errorf("no token: %d %s", r.status, r.body)
	}
	none := strings.TrimRight(jwtSegment(`{"alg":"none","typ":"JWT"}`)+"."+jwtSegment(mustJSONString(good)), ".") + "."
	es256, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	for _, tc := range []struct {
		name, tok, reason string
		header            map[string]string
	}{
		{"alg none", none, "token_algorithm", nil},
		{"ES256", viewerToken(t, es256, jwt.SigningMethodES256, good), "token_algorithm", nil},
		{"HS256", func() string {
			s, _ := jwt.NewWithClaims(jwt.SigningMethodHS256, good).SignedString([]byte("k"))
			return s
		}(), "token_algorithm", nil},
		{"a key not imported", viewerToken(t, other, jwt.SigningMethodES384, good), "token_signature", nil},
		{"another channel", viewerToken(t, key, jwt.SigningMethodES384, with(jwt.MapClaims{"aws:channel-arn": otherLast(chARN)})), "token_channel", nil},
		{"expired", viewerToken(t, key, jwt.SigningMethodES384, with(jwt.MapClaims{"exp": exp(-time.Minute)})), "token_expired", nil},
		{"viewer id with a 1 h exp", viewerToken(t, key, jwt.SigningMethodES384, with(jwt.MapClaims{"aws:viewer-id": "v1"})), "token_exp_too_far", nil},
		{"origin not allowed", viewerToken(t, key, jwt.SigningMethodES384, with(jwt.MapClaims{"aws:access-control-allow-origin": "https://good.example"})),
			"origin_not_allowed", map[string]string{"Origin": "https://evil.example"}},
	} {
		r := play(tc.tok, tc.header)
		if r.status != 403 || refusalReason(t, r) != tc.reason {
			t.Errorf("%s: %d %s, want 403 %s", tc.name, r.status, r.body, tc.reason)
		}
	}
	if r := play("not.a.jwt!", nil); r.status != 400 && r.status != 403 {
		t.Errorf("garbage token: %d", r.status)
	}

	// Single use: the second fetch of the same URL is refused.
	single := viewerToken(t, key, jwt.SigningMethodES384, with(jwt.MapClaims{"aws:single-use-uuid": "0f3c4c2e-1", "exp": exp(5 * time.Minute)}))
	if r := play(single, nil); r.status != 200 {
		t.Fatalf("single-use token, first use: %d %s", r.status, r.body)
	}
	if r := play(single, nil); r.status != 403 || refusalReason(t, r) != "token_already_used" {
		t.Errorf("single-use token, second use: %d %s", r.status, r.body)
	}

	// Strict origin: every request must carry an allowed Origin.
	strict := viewerToken(t, key, jwt.SigningMethodES384, with(jwt.MapClaims{"aws:access-control-allow-origin": "https://good.example",
		"aws:strict-origin-enforcement": true}))
	okOrigin := map[string]string{"Origin": "https://good.example"}
	r := play(strict, okOrigin)
	if r.status != 200 {
		t.Fatalf("strict origin token with its origin: %d %s", r.status, r.body)
	}
	vu := resolveFirstVariant(t, pb, r.body)
	if got := fetch(t, "GET", vu, okOrigin); got.status != 200 {
		t.Errorf("strict: variant with the origin: %d %s", got.status, got.body)
	}
	if got := fetch(t, "GET", vu, nil); got.status != 403 || refusalReason(t, got) != "origin_not_allowed" {
		t.Errorf("strict: variant without Origin: %d %s", got.status, got.body)
	}

	// Revocation stops a playing viewer and spares a newer session version.
	viewer := func(version int) string {
		return viewerToken(t, key, jwt.SigningMethodES384, with(jwt.MapClaims{"aws:viewer-id": "alice", "aws:viewer-session-version": version, "exp": exp(9 * time.Minute)}))
	}
	r = play(viewer(1), nil)
	if r.status != 200 {
		t.Fatalf("viewer token: %d %s", r.status, r.body)
	}
	aliceVariant := resolveFirstVariant(t, pb, r.body)
	if got := fetch(t, "GET", aliceVariant, nil); got.status != 200 {
		t.Fatalf("viewer's variant before revocation: %d", got.status)
	}
	if _, err := c.StartViewerSessionRevocation(ctx, &ivs.StartViewerSessionRevocationInput{ChannelArn: aws.String(chARN),
		ViewerId: aws.String("alice"), ViewerSessionVersionsLessThanOrEqualTo: 1}); err != nil {
		t.Fatal(err)
	}
	if got := fetch(t, "GET", aliceVariant, nil); got.status != 403 || refusalReason(t, got) != "viewer_session_revoked" {
		t.Errorf("revoked viewer's next playlist request: %d %s", got.status, got.body)
	}
	if got := play(viewer(1), nil); got.status != 403 {
		t.Errorf("revoked version, new playback: %d", got.status)
	}
	if got := play(viewer(2), nil); got.status != 200 {
		t.Errorf("newer session version after the revocation: %d %s", got.status, got.body)
	}

	// Deleting the key pair invalidates its tokens, and the sessions they opened.
	r = play(viewerToken(t, key, jwt.SigningMethodES384, good), nil)
	held := resolveFirstVariant(t, pb, r.body)
	if _, err := c.DeletePlaybackKeyPair(ctx, &ivs.DeletePlaybackKeyPairInput{Arn: aws.String(keyARN)}); err != nil {
		t.Fatal(err)
	}
	if got := play(viewerToken(t, key, jwt.SigningMethodES384, good), nil); got.status != 403 || refusalReason(t, got) != "token_signature" {
		t.Errorf("token of a deleted key pair: %d %s", got.status, got.body)
	}
	if got := fetch(t, "GET", held, nil); got.status != 403 {
		t.Errorf("session of a deleted key pair: %d", got.status)
	}
}

func resolveFirstVariant(t *testing.T, base string, body []byte) string {
	t.Helper()
	pl, err := playlist.Unmarshal(body)
	if err != nil {
		t.Fatalf("%v\n%s", err, body)
	}
	return resolve(base, pl.(*playlist.Multivariant).Variants[0].URI)
}

func jwtSegment(s string) string { return base64.RawURLEncoding.EncodeToString([]byte(s)) }

func mustJSONString(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

// TestPlaybackRestrictionPolicy: a policy's countries (from the trusted country header) and origins apply to a
// public channel; strict enforcement checks every request.
func TestPlaybackRestrictionPolicy(t *testing.T) {
	t.Parallel()
	encoderSlot(t)
	s := Start(t, Options{Args: []string{"--playback-country-header", "X-Viewer-Country"}})
	c := s.IVS(Credential{}, "")
	pol, err := c.CreatePlaybackRestrictionPolicy(Ctx(t), &ivs.CreatePlaybackRestrictionPolicyInput{
		AllowedCountries: []string{"US", "CA"}, AllowedOrigins: []string{"https://good.example"}, EnableStrictOriginEnforcement: aws.Bool(true)})
	if err != nil {
		t.Fatal(err)
	}
	ch := liveChannel(t, s, c, &ivs.CreateChannelInput{PlaybackRestrictionPolicyArn: pol.PlaybackRestrictionPolicy.Arn})
	pb := aws.ToString(ch.Channel.PlaybackUrl)
	for _, tc := range []struct {
		name    string
		header  map[string]string
		status  int
		reason  string
		variant bool
	}{
		{"allowed", map[string]string{"X-Viewer-Country": "us", "Origin": "https://good.example"}, 200, "", true},
		{"country not allowed", map[string]string{"X-Viewer-Country": "FR", "Origin": "https://good.example"}, 403, "country_not_allowed", false},
		{"country unknown", map[string]string{"Origin": "https://good.example"}, 403, "country_not_allowed", false},
		{"origin not allowed", map[string]string{"X-Viewer-Country": "CA", "Origin": "https://evil.example"}, 403, "origin_not_allowed", false},
	} {
		r := fetch(t, "GET", pb, tc.header)
		if r.status != tc.status || (tc.reason != "" && refusalReason(t, r) != tc.reason) {
			t.Errorf("%s: %d %s", tc.name, r.status, r.body)
			continue
		}
		if tc.variant {
			vu := resolveFirstVariant(t, pb, r.body)
			if got := fetch(t, "GET", vu, tc.header); got.status != 200 {
				t.Errorf("%s: variant: %d %s", tc.name, got.status, got.body)
			}
			if got := fetch(t, "GET", vu, map[string]string{"X-Viewer-Country": "US"}); got.status != 403 {
				t.Errorf("%s: strict policy, variant without Origin: %d", tc.name, got.status)
			}
			if got := fetch(t, "GET", vu, map[string]string{"X-Viewer-Country": "DE", "Origin": "https://good.example"}); got.status != 403 {
				t.Errorf("%s: variant from a country not allowed: %d", tc.name, got.status)
			}
		}
	}
}

// TestPlaybackViewerCount: concurrent playback sessions are GetStream's viewerCount, counted within 15 s and
// dropped within a minute of leaving.
func TestPlaybackViewerCount(t *testing.T) {
	t.Parallel()
	encoderSlot(t)
	s := Start(t, Options{})
	c := s.IVS(Credential{}, "")
	ch := liveChannel(t, s, c, &ivs.CreateChannelInput{})
	pb := aws.ToString(ch.Channel.PlaybackUrl)
	ctx, cancel := context.WithCancel(Ctx(t))
	var wg sync.WaitGroup
	for range 3 {
		vu := variantURL(t, pb, nil)
		wg.Add(1)
		go func() { // a viewer reloads its playlist every second
			defer wg.Done()
			for ctx.Err() == nil {
				req, _ := http.NewRequestWithContext(ctx, "GET", vu, nil)
				if resp, err := http.DefaultClient.Do(req); err == nil {
					io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
				}
				select {
				case <-ctx.Done():
				case <-time.After(time.Second):
				}
			}
		}()
	}
	count := func() int64 {
		out, err := c.GetStream(Ctx(t), &ivs.GetStreamInput{ChannelArn: ch.Channel.Arn})
		if err != nil {
			t.Fatal(err)
		}
		return out.Stream.ViewerCount
	}
	waitCount := func(want int64, within time.Duration) time.Duration {
		start := time.Now()
		for {
			if n := count(); n == want {
				return time.Since(start)
			} else if time.Since(start) > within {
				t.Fatalf("viewerCount %d after %v, want %d", n, within, want)
			}
			time.Sleep(500 * time.Millisecond)
		}
	}
	took := waitCount(3, 15*time.Second)
	t.Logf("3 viewers counted after %v", took.Round(100*time.Millisecond))
	cancel()
	wg.Wait()
	took = waitCount(0, time.Minute)
	t.Logf("viewers dropped %v after leaving", took.Round(100*time.Millisecond))
}

// TestPutMetadataLimits: PutMetadata's size limit and call rates, with IVS's errors.
func TestPutMetadataLimits(t *testing.T) {
	t.Parallel()
	encoderSlot(t)
	s := Start(t, Options{})
	c := s.IVS(Credential{}, "")
	ch := liveChannel(t, s, c, &ivs.CreateChannelInput{})
	ctx := Ctx(t)
	_, err := c.PutMetadata(ctx, &ivs.PutMetadataInput{ChannelArn: ch.Channel.Arn, Metadata: aws.String(strings.Repeat("x", 1025))})
	wantValidation(t, "1025-byte metadata", err)
	throttled := 0
	for i := range 10 {
		_, err := c.PutMetadata(ctx, &ivs.PutMetadataInput{ChannelArn: ch.Channel.Arn, Metadata: aws.String(fmt.Sprint("m", i))})
		var te *types.ThrottlingException
		switch {
		case err == nil:
		case errors.As(err, &te):
			throttled++
			if !strings.Contains(aws.ToString(te.ExceptionMessage)+te.ErrorMessage(), "exceeded call rate: 5") {
				t.Errorf("throttling message: %v", err)
			}
		default:
			t.Fatalf("PutMetadata %d: %v", i, err)
		}
	}
	if throttled < 4 || throttled > 6 {
		t.Errorf("10 PutMetadata calls at once: %d throttled, want about 5 (5 per second per channel)", throttled)
	}
}

// TestPlaybackAdBreak: InsertAdBreak on a live channel with an ad configuration marks the break in the media
// playlist (EXT-X-DATERANGE with SCTE-35, CUE-OUT, CUE-IN after its duration); without an ad configuration it is
// refused with 409, and offline with 404.
func TestPlaybackAdBreak(t *testing.T) {
	t.Parallel()
	encoderSlot(t)
	s := Start(t, Options{})
	c := s.IVS(Credential{}, "")
	ctx := Ctx(t)
	ad, err := c.CreateAdConfiguration(ctx, &ivs.CreateAdConfigurationInput{
		MediaTailorPlaybackConfigurations: []types.MediaTailorPlaybackConfiguration{{PlaybackConfigurationArn: aws.String(mediaTailorARN("ads"))}}})
	if err != nil {
		t.Fatal(err)
	}
	plain, err := c.CreateChannel(ctx, &ivs.CreateChannelInput{})
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.InsertAdBreak(ctx, &ivs.InsertAdBreakInput{ChannelArn: plain.Channel.Arn, DurationSeconds: aws.Int32(2)})
	expectErr(t, "InsertAdBreak without an ad configuration", err, new(*types.ConflictException), 409)
	ch, err := c.CreateChannel(ctx, &ivs.CreateChannelInput{AdConfigurationArn: ad.AdConfiguration.Arn})
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.InsertAdBreak(ctx, &ivs.InsertAdBreakInput{ChannelArn: ch.Channel.Arn, DurationSeconds: aws.Int32(2)})
	wantNotBroadcasting(t, "InsertAdBreak offline", err)

	publish(t, "rtmps://"+s.RTMPS+"/app/"+aws.ToString(ch.StreamKey.Value))
	waitLive(t, c, ch.Channel.Arn, 30*time.Second)
	vu := variantURL(t, aws.ToString(ch.Channel.PlaybackUrl), nil)
	out, err := c.InsertAdBreak(ctx, &ivs.InsertAdBreakInput{ChannelArn: ch.Channel.Arn, DurationSeconds: aws.Int32(2)})
	if err != nil {
		t.Fatal(err)
	}
	id := aws.ToString(out.AdBreakId)
	if id == "" {
		t.Fatal("no adBreakId")
	}
	deadline := time.Now().Add(15 * time.Second)
	for {
		_, r := mediaPlaylist(t, vu, nil)
		pl := string(r.body)
		dr := strings.Index(pl, `#EXT-X-DATERANGE:ID="`+id+`"`)
		if dr >= 0 && strings.Contains(pl[dr:], "#EXT-X-CUE-IN") {
			if !strings.Contains(pl[dr:], "PLANNED-DURATION=2.000,SCTE35-OUT=0xFC") || !strings.Contains(pl[dr:], "#EXT-X-CUE-OUT:DURATION=2.000") {
				t.Errorf("ad break markers:\n%s", pl[dr:])
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no complete ad break %s in the playlist after 15 s:\n%s", id, pl)
		}
		time.Sleep(500 * time.Millisecond)
	}
}
