package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"image/jpeg"
	"math"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ivs"
	"github.com/aws/aws-sdk-go-v2/service/ivs/types"
)

// bucket is where a test reads a recording from: an S3 bucket or a bucket directory.
type bucket struct {
	keys func(prefix string) []string
	get  func(key string) []byte
	url  string // HTTP base serving the bucket's objects (with CORS and ranges)
}

func s3Bucket(t *testing.T, s *S3, name string) bucket {
	return bucket{keys: func(p string) []string { return s.Keys(name, p) }, get: func(k string) []byte { return s.Get(name, k) },
		url: s.ServeBucket(t, name)}
}

func dirBucket(t *testing.T, dir string) bucket {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	files := http.FileServer(http.Dir(dir))
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Access-Control-Allow-Origin", "*")
		w.Header().Set("Access-Control-Allow-Headers", "Range")
		files.ServeHTTP(w, r)
	})}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return bucket{
		keys: func(p string) []string {
			var keys []string
			filepath.WalkDir(filepath.Join(dir, p), func(path string, d os.DirEntry, err error) error {
				if err == nil && !d.IsDir() && !strings.HasPrefix(d.Name(), ".") {
					rel, _ := filepath.Rel(dir, path)
					keys = append(keys, filepath.ToSlash(rel))
				}
				return nil
			})
			sort.Strings(keys)
			return keys
		},
		get: func(k string) []byte {
			b, err := os.ReadFile(filepath.Join(dir, filepath.FromSlash(k)))
			if err != nil {
				t.Fatalf("read %s: %v", k, err)
			}
			return b
		},
		url: "http://" + ln.Addr().String(),
	}
}

// recordingEvents returns the details of the IVS Recording State Change events received, in order.
func (w *webhook) recordingEvents() []map[string]any {
	w.mu.Lock()
	defer w.mu.Unlock()
	var out []map[string]any
	for _, ev := range w.events {
		if ev["detail-type"] == "IVS Recording State Change" {
			d, _ := ev["detail"].(map[string]any)
			out = append(out, d)
		}
	}
	return out
}

// waitRecordingEvent waits for a recording event with the status and returns its detail.
func (w *webhook) waitRecordingEvent(t *testing.T, status string, d time.Duration) map[string]any {
	t.Helper()
	return w.waitStreamRecordingEvent(t, "", status, d)
}

// waitStreamRecordingEvent waits for a recording event with the status about a stream ("": any) and returns its
// detail.
func (w *webhook) waitStreamRecordingEvent(t *testing.T, streamID, status string, d time.Duration) map[string]any {
	t.Helper()
	deadline := time.Now().Add(d)
	for {
		for _, e := range w.recordingEvents() {
			if e["recording_status"] == status && (streamID == "" || e["stream_id"] == streamID) {
				return e
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("no %q recording event for stream %q after %v; got %v", status, streamID, d, w.recordingEvents())
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func recordingStatuses(w *webhook) []string {
	var s []string
	for _, e := range w.recordingEvents() {
		s = append(s, fmt.Sprint(e["recording_status"]))
	}
	return s
}

var prefixRE = regexp.MustCompile(`^ivs/v1/(\d{12})/([A-Za-z0-9]{12})/(\d{4})/([1-9]\d?)/([1-9]\d?)/(\d{1,2})/(\d{1,2})/([A-Za-z0-9]{12})$`)

// recordingWant is what a recording should hold.
type recordingWant struct {
	channelARN     string
	renditions     []string // rendition folders, e.g. "720p30"
	width, height  int      // of the rendition (of each, unless sizes is set)
	sizes          [][2]int // width and height of each rendition
	fmp4           bool
	thumbW, thumbH int  // 0: no thumbnails
	sequential     bool // thumbnails under media/thumbnails
	latest         bool // media/latest_thumbnail/thumb.jpg
	status         string
	discontinuity  bool // merged streams
}

// checkRecording checks a recording's layout, manifests, playlists and media, and returns its duration_ms.
func checkRecording(t *testing.T, b bucket, prefix string, want recordingWant) int64 {
	t.Helper()
	keys := b.keys(prefix + "/")
	rel := map[string]bool{}
	for _, k := range keys {
		rel[strings.TrimPrefix(k, prefix+"/")] = true
	}
	ext := "ts"
	if want.fmp4 {
		ext = "mp4"
	}
	// The manifests, field by field.
	endName := map[string]string{"RECORDING_ENDED": "recording-ended.json", "RECORDING_ENDED_WITH_FAILURE": "recording-failed.json"}[want.status]
	var started, ended map[string]any
	if err := json.Unmarshal(b.get(prefix+"/events/recording-started.json"), &started); err != nil {
		t.Fatalf("recording-started.json: %v", err)
	}
	if err := json.Unmarshal(b.get(prefix+"/events/"+endName), &ended); err != nil {
		t.Fatalf("%s: %v", endName, err)
	}
	checkManifest := func(name string, m map[string]any, status string, final bool) {
		t.Helper()
		top := []string{"channel_arn", "media", "recording_started_at", "recording_status", "version"}
		if final {
			top = append(top, "recording_ended_at")
		}
		if status == "RECORDING_ENDED_WITH_FAILURE" {
			top = append(top, "recording_status_message")
		}
		if got := sortedKeys(m); !slices.Equal(got, sorted(top)) {
			t.Errorf("%s: fields %v, want %v", name, got, sorted(top))
		}
		if m["version"] != "v1" || m["channel_arn"] != want.channelARN || m["recording_status"] != status {
			t.Errorf("%s: %v", name, m)
		}
		for _, f := range []string{"recording_started_at", "recording_ended_at"} {
			if v, ok := m[f]; ok {
				if _, err := time.Parse(time.RFC3339, v.(string)); err != nil || !strings.HasSuffix(v.(string), "Z") {
					t.Errorf("%s: %s %v is not RFC 3339 UTC", name, f, v)
				}
			}
		}
		if status == "RECORDING_ENDED_WITH_FAILURE" && m["recording_status_message"] != "InternalServerException" {
			t.Errorf("%s: recording_status_message %v", name, m["recording_status_message"])
		}
		media := m["media"].(map[string]any)
		mediaKeys := []string{"hls"}
		if want.thumbW > 0 && want.sequential {
			mediaKeys = append(mediaKeys, "thumbnails")
		}
		if want.thumbW > 0 && want.latest {
			mediaKeys = append(mediaKeys, "latest_thumbnail")
		}
		if got := sortedKeys(media); !slices.Equal(got, sorted(mediaKeys)) {
			t.Errorf("%s: media fields %v, want %v", name, got, sorted(mediaKeys))
		}
		h := media["hls"].(map[string]any)
		hlsKeys := []string{"byte_range_playlist", "path", "playlist", "renditions"}
		if final {
			hlsKeys = append(hlsKeys, "duration_ms")
		}
		if got := sortedKeys(h); !slices.Equal(got, sorted(hlsKeys)) {
			t.Errorf("%s: media.hls fields %v, want %v", name, got, sorted(hlsKeys))
		}
		if h["path"] != "media/hls" || h["playlist"] != "master.m3u8" || h["byte_range_playlist"] != "byte-range-multivariant.m3u8" {
			t.Errorf("%s: media.hls %v", name, h)
		}
		rs := h["renditions"].([]any)
		if len(rs) != len(want.renditions) {
			t.Fatalf("%s: renditions %v, want %v", name, rs, want.renditions)
		}
		for i, r := range rs {
			r := r.(map[string]any)
			w, h := want.width, want.height
			if want.sizes != nil {
				w, h = want.sizes[i][0], want.sizes[i][1]
			}
			wantR := map[string]any{"path": want.renditions[i], "playlist": "playlist.m3u8", "byte_range_playlist": "byte-range-variant.m3u8",
				"resolution_height": float64(h), "resolution_width": float64(w)}
			if fmt.Sprint(r) != fmt.Sprint(wantR) {
				t.Errorf("%s: rendition %v, want %v", name, r, wantR)
			}
		}
		if th, ok := media["thumbnails"].(map[string]any); ok {
			wantT := map[string]any{"path": "media/thumbnails", "resolution_height": float64(want.thumbH), "resolution_width": float64(want.thumbW)}
			if fmt.Sprint(th) != fmt.Sprint(wantT) {
				t.Errorf("%s: thumbnails %v, want %v", name, th, wantT)
			}
		}
		if th, ok := media["latest_thumbnail"].(map[string]any); ok {
			wantT := map[string]any{"path": "media/latest_thumbnail/thumb.jpg", "resolution_height": float64(want.thumbH), "resolution_width": float64(want.thumbW)}
			if fmt.Sprint(th) != fmt.Sprint(wantT) {
				t.Errorf("%s: latest_thumbnail %v, want %v", name, th, wantT)
			}
		}
	}
	checkManifest("recording-started.json", started, "RECORDING_STARTED", false)
	checkManifest(endName, ended, want.status, true)
	if started["recording_started_at"] != ended["recording_started_at"] {
		t.Errorf("recording_started_at differs: %v, %v", started["recording_started_at"], ended["recording_started_at"])
	}
	durationMs := int64(ended["media"].(map[string]any)["hls"].(map[string]any)["duration_ms"].(float64))

	// The layout: exactly these objects.
	expect := map[string]bool{"events/recording-started.json": true, "events/" + endName: true,
		"media/hls/master.m3u8": true, "media/hls/byte-range-multivariant.m3u8": true}
	thumbs := 0
	for k := range rel {
		if m := regexp.MustCompile(`^media/thumbnails/thumb(\d+)\.jpg$`).FindStringSubmatch(k); m != nil && want.sequential {
			thumbs++
			expect[k] = true
		}
	}
	for i := 0; i < thumbs; i++ {
		if !rel[fmt.Sprintf("media/thumbnails/thumb%d.jpg", i)] {
			t.Errorf("thumbnails are not numbered 0..%d: %v", thumbs-1, keys)
		}
	}
	if want.latest && want.thumbW > 0 {
		expect["media/latest_thumbnail/thumb.jpg"] = true
	}
	for _, r := range want.renditions {
		dir := "media/hls/" + r + "/"
		expect[dir+"playlist.m3u8"], expect[dir+"byte-range-variant.m3u8"] = true, true
		pl := string(b.get(prefix + "/" + dir + "playlist.m3u8"))
		if !strings.HasSuffix(pl, "#EXT-X-ENDLIST\n") || !strings.Contains(pl, "#EXT-X-PLAYLIST-TYPE:VOD\n") {
			t.Errorf("%s playlist.m3u8 is not a finished VOD playlist:\n%s", r, pl)
		}
		if strings.Contains(pl, "#EXT-X-DISCONTINUITY") != want.discontinuity {
			t.Errorf("%s playlist.m3u8: discontinuity %v, want %v:\n%s", r, !want.discontinuity, want.discontinuity, pl)
		}
		segs := 0
		for _, line := range strings.Split(pl, "\n") {
			if line != "" && !strings.HasPrefix(line, "#") {
				if line != fmt.Sprintf("%d.%s", segs, ext) {
					t.Errorf("%s: segment %q, want %d.%s", r, line, segs, ext)
				}
				expect[dir+line] = true
				segs++
			}
			if m := regexp.MustCompile(`^#EXT-X-MAP:URI="(.+)"$`).FindStringSubmatch(line); m != nil {
				expect[dir+m[1]] = true
			}
		}
		if segs == 0 {
			t.Errorf("%s: no segments:\n%s", r, pl)
		}
		br := string(b.get(prefix + "/" + dir + "byte-range-variant.m3u8"))
		if !strings.Contains(br, "#EXT-X-BYTERANGE:") || !strings.HasSuffix(br, "#EXT-X-ENDLIST\n") {
			t.Errorf("%s byte-range-variant.m3u8:\n%s", r, br)
		}
		if want.fmp4 != strings.Contains(pl, "#EXT-X-MAP:") {
			t.Errorf("%s playlist.m3u8: EXT-X-MAP present %v, want %v", r, !want.fmp4, want.fmp4)
		}
	}
	if got, wantKeys := sortedKeys(rel), sortedKeys(expect); !slices.Equal(got, wantKeys) {
		t.Errorf("recording objects:\n got %v\nwant %v", got, wantKeys)
	}
	if want.thumbW > 0 && want.sequential {
		// One thumbnail per interval (see the callers), cut from keyframes.
		if thumbs == 0 {
			t.Errorf("no sequential thumbnails")
		}
		for i := 0; i < thumbs; i++ {
			checkJPEG(t, b.get(fmt.Sprintf("%s/media/thumbnails/thumb%d.jpg", prefix, i)), want.thumbW, want.thumbH)
		}
	}
	if want.thumbW > 0 && want.latest {
		checkJPEG(t, b.get(prefix+"/media/latest_thumbnail/thumb.jpg"), want.thumbW, want.thumbH)
	}

	// The media: both multivariant playlists decode with ffprobe, without an error, to the recorded duration.
	// (Across a discontinuity ffmpeg's HLS reader drops a few frames, so frames are counted per segment file.)
	for _, mv := range []string{"master.m3u8", "byte-range-multivariant.m3u8"} {
		dur, frames := probeRecording(t, b.url+"/"+prefix+"/media/hls/"+mv)
		if math.Abs(dur*1000-float64(durationMs)) > 150 {
			t.Errorf("%s: ffprobe duration %.3f s, duration_ms %d", mv, dur, durationMs)
		}
		if wantFrames := float64(durationMs) / 1000 * 30; !want.discontinuity && math.Abs(float64(frames)-wantFrames) > 3 {
			t.Errorf("%s: %d frames decoded, want ≈ %.0f (30 fps × duration_ms)", mv, frames, wantFrames)
		}
	}
	// Every frame is there: the segment files hold 30 fps × duration_ms frames.
	for _, r := range want.renditions {
		dir := prefix + "/media/hls/" + r + "/"
		frames, init := 0, []byte(nil)
		for _, line := range strings.Split(string(b.get(dir+"playlist.m3u8")), "\n") {
			if m := regexp.MustCompile(`^#EXT-X-MAP:URI="(.+)"$`).FindStringSubmatch(line); m != nil {
				init = b.get(dir + m[1])
			}
			if line == "" || strings.HasPrefix(line, "#") {
				continue
			}
			f := filepath.Join(t.TempDir(), line)
			if err := os.WriteFile(f, append(slices.Clip(init), b.get(dir+line)...), 0o644); err != nil {
				t.Fatal(err)
			}
			_, n := probeRecording(t, f)
			frames += n
		}
		if wantFrames := float64(durationMs) / 1000 * 30; math.Abs(float64(frames)-wantFrames) > 3 {
			t.Errorf("%s: %d frames in the segments, want ≈ %.0f (30 fps × duration_ms)", r, frames, wantFrames)
		}
	}
	return durationMs
}

// probeRecording decodes a recording's video with ffprobe: its duration and frame count.
func probeRecording(t *testing.T, url string) (float64, int) {
	t.Helper()
	var stderr bytes.Buffer
	cmd := exec.Command("ffprobe", "-v", "error", "-select_streams", "v:0", "-count_frames",
		"-show_entries", "stream=nb_read_frames:format=duration", "-of", "json", url)
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("ffprobe %s: %v\n%s", url, err, stderr.Bytes())
	}
	if stderr.Len() > 0 { // decoding errors: media cut or mangled
		t.Errorf("ffprobe %s: %s", url, stderr.Bytes())
	}
	var p struct {
		Streams []struct {
			Frames string `json:"nb_read_frames"`
		} `json:"streams"`
		Format struct {
			Duration string `json:"duration"`
		} `json:"format"`
	}
	if err := json.Unmarshal(out, &p); err != nil || len(p.Streams) == 0 {
		t.Fatalf("ffprobe %s: %v\n%s", url, err, out)
	}
	d, _ := strconv.ParseFloat(p.Format.Duration, 64)
	n, _ := strconv.Atoi(p.Streams[0].Frames)
	return d, n
}

func checkJPEG(t *testing.T, b []byte, w, h int) {
	t.Helper()
	img, err := jpeg.Decode(bytes.NewReader(b))
	if err != nil {
		t.Errorf("thumbnail is not a JPEG: %v", err)
		return
	}
	if s := img.Bounds().Size(); s.X != w || s.Y != h {
		t.Errorf("thumbnail is %dx%d, want %dx%d", s.X, s.Y, w, h)
	}
}

func sorted(s []string) []string {
	s = slices.Clone(s)
	sort.Strings(s)
	return s
}

// recordingChannel creates a recording configuration (waiting for ACTIVE) and a channel recording with it.
func recordingChannel(t *testing.T, c *ivs.Client, in *ivs.CreateRecordingConfigurationInput, ch *ivs.CreateChannelInput) (*types.Channel, string) {
	t.Helper()
	ctx := Ctx(t)
	rc := sdk(c.CreateRecordingConfiguration(ctx, in)).must(t, "CreateRecordingConfiguration").RecordingConfiguration
	if st := waitRecordingState(t, c, *rc.Arn); st != types.RecordingConfigurationStateActive {
		t.Fatalf("recording configuration: %s, want ACTIVE", st)
	}
	ch.RecordingConfigurationArn = rc.Arn
	out := sdk(c.CreateChannel(ctx, ch)).must(t, "CreateChannel")
	return out.Channel, aws.ToString(out.StreamKey.Value)
}

// checkRecordingEvent checks an IVS Recording State Change detail.
func checkRecordingEvent(t *testing.T, e map[string]any, status, bucketName, channelName, streamID string, streamIDs []string) string {
	t.Helper()
	want := []string{"channel_name", "recording_duration_ms", "recording_s3_bucket_name", "recording_s3_key_prefix",
		"recording_session_id", "recording_status", "recording_status_reason", "stream_id"}
	if streamIDs != nil {
		want = append(want, "recording_session_stream_ids")
	}
	if got := sortedKeys(e); !slices.Equal(got, sorted(want)) {
		t.Errorf("%s event fields %v, want %v", status, got, sorted(want))
	}
	prefix, _ := e["recording_s3_key_prefix"].(string)
	m := prefixRE.FindStringSubmatch(prefix)
	if m == nil || e["recording_session_id"] != m[8] {
		t.Errorf("%s event: prefix %q / session id %v", status, prefix, e["recording_session_id"])
	}
	if e["recording_status"] != status || e["recording_s3_bucket_name"] != bucketName || e["channel_name"] != channelName ||
		e["stream_id"] != streamID {
		t.Errorf("%s event: %v", status, e)
	}
	if status == "Recording Start" && e["recording_duration_ms"] != float64(0) {
		t.Errorf("Recording Start: recording_duration_ms %v, want 0", e["recording_duration_ms"])
	}
	if streamIDs != nil && fmt.Sprint(e["recording_session_stream_ids"]) != fmt.Sprint(streamIDs) {
		t.Errorf("%s event: recording_session_stream_ids %v, want %v", status, e["recording_session_stream_ids"], streamIDs)
	}
	return prefix
}

// recordingServer starts versitygw with a bucket, a webhook and an openivs recording to them.
func recordingServer(t *testing.T, bucketName string, args ...string) (*S3, *webhook, *Server, *ivs.Client) {
	t.Helper()
	encoderSlot(t)
	s3 := StartS3(t)
	s3.CreateBucket(bucketName)
	hook := newWebhook(t)
	s := Start(t, Options{Args: append(append(s3.Args(), "--events-webhook-url", hook.srv.URL, "--rtmp-allow-insecure"), args...)})
	return s3, hook, s, s.IVS(Credential{}, "")
}

// TestRecordingS3: a TS channel records to a real S3 server (versitygw): the IVS layout, the manifests and events
// field by field, thumbnails of the configured size at the configured interval, and the recording decodes (ffprobe)
// and plays from start to end (hls.js) with the duration the manifest gives.
func TestRecordingS3(t *testing.T) {
	t.Parallel()
	s3, hook, s, c := recordingServer(t, "vod-recordings")
	ctx := Ctx(t)

	// A bucket that does not exist: CREATE_FAILED.
	bad := sdk(c.CreateRecordingConfiguration(ctx, &ivs.CreateRecordingConfigurationInput{DestinationConfiguration: testS3("no-such-bucket")})).must(t, "CreateRecordingConfiguration").RecordingConfiguration
	if st := waitRecordingState(t, c, *bad.Arn); st != types.RecordingConfigurationStateCreateFailed {
		t.Errorf("missing bucket: state %s, want CREATE_FAILED", st)
	}

	ch, key := recordingChannel(t, c, &ivs.CreateRecordingConfigurationInput{DestinationConfiguration: testS3("vod-recordings"),
		ThumbnailConfiguration: &types.ThumbnailConfiguration{RecordingMode: types.RecordingModeInterval, TargetIntervalSeconds: aws.Int64(4),
			Resolution: types.ThumbnailConfigurationResolutionSd,
			Storage:    []types.ThumbnailConfigurationStorage{types.ThumbnailConfigurationStorageSequential, types.ThumbnailConfigurationStorageLatest}}},
		&ivs.CreateChannelInput{Name: aws.String("rec-s3"), Type: types.ChannelTypeBasicChannelType})
	p := publishSize(t, "rtmp://"+s.RTMP+"/app/"+key, "1280x720")
	st := waitLive(t, c, ch.Arn, 20*time.Second)
	streamID := aws.ToString(st.StreamId)
	start := hook.waitRecordingEvent(t, "Recording Start", 20*time.Second)
	prefix := checkRecordingEvent(t, start, "Recording Start", "vod-recordings", "rec-s3", streamID, nil)
	time.Sleep(21 * time.Second)
	p.stop()
	end := hook.waitRecordingEvent(t, "Recording End", 30*time.Second)
	if checkRecordingEvent(t, end, "Recording End", "vod-recordings", "rec-s3", streamID, []string{streamID}) != prefix {
		t.Errorf("Recording End prefix %v, Recording Start prefix %v", end["recording_s3_key_prefix"], prefix)
	}
	if got := recordingStatuses(hook); !slices.Equal(got, []string{"Recording Start", "Recording End"}) {
		t.Errorf("recording events %v", got)
	}
	if m := prefixRE.FindStringSubmatch(prefix); m == nil || m[1] != DefaultCredential.AccountID || "arn:aws:ivs:us-west-2:"+m[1]+":channel/"+m[2] != *ch.Arn {
		t.Errorf("prefix %q does not name the account and channel %s", prefix, *ch.Arn)
	}
	b := s3Bucket(t, s3, "vod-recordings")
	durationMs := checkRecording(t, b, prefix, recordingWant{channelARN: *ch.Arn, renditions: []string{"720p30"}, width: 1280, height: 720,
		thumbW: 852, thumbH: 480, sequential: true, latest: true, status: "RECORDING_ENDED"})
	if int64(end["recording_duration_ms"].(float64)) != durationMs {
		t.Errorf("Recording End recording_duration_ms %v, manifest duration_ms %d", end["recording_duration_ms"], durationMs)
	}
	if durationMs < 20000 || durationMs > 30000 {
		t.Errorf("duration_ms %d for a stream of about 22 s", durationMs)
	}
	thumbs := len(b.keys(prefix + "/media/thumbnails/"))
	if want := float64(durationMs) / 4000; math.Abs(float64(thumbs)-math.Ceil(want)) > 1 {
		t.Errorf("%d thumbnails for %d ms at one per 4 s", thumbs, durationMs)
	}

	// hls.js plays the recording from its start to its end.
	watch := time.Duration(durationMs)*time.Millisecond + 4*time.Second
	pctx, cancel := context.WithTimeout(context.Background(), watch+2*time.Minute) // Ctx's minute is partly spent
	defer cancel()
	res, err := Play(pctx, t, PlayOptions{URL: b.url + "/" + prefix + "/media/hls/master.m3u8", Duration: watch})
	if err != nil {
		t.Fatal(err)
	}
	if res.Fatal || len(res.Samples) == 0 {
		t.Fatalf("hls.js: fatal %v, errors %v", res.Fatal, res.Errors)
	}
	last := res.Samples[len(res.Samples)-1].CurrentTime
	if d := float64(durationMs) / 1000; last < d-0.5 || res.Advanced() < d-2 {
		t.Errorf("hls.js stopped at %.2f s (advanced %.2f s by playing) of a %.2f s recording; errors %v", last, res.Advanced(), d, res.Errors)
	}
}

// TestRecordingReconnectWindow: on a FRAGMENTED_MP4 channel with recordingReconnectWindowSeconds, a stream that
// reconnects within the window continues the same recording (one prefix, a discontinuity, both stream ids in the
// Recording End event), and the end is written and announced only once the window has passed.
func TestRecordingReconnectWindow(t *testing.T) {
	t.Parallel()
	s3, hook, s, c := recordingServer(t, "merged")
	const window = 8 * time.Second
	ch, key := recordingChannel(t, c, &ivs.CreateRecordingConfigurationInput{DestinationConfiguration: testS3("merged"),
		RecordingReconnectWindowSeconds: int32(window / time.Second),
		ThumbnailConfiguration: &types.ThumbnailConfiguration{RecordingMode: types.RecordingModeInterval, TargetIntervalSeconds: aws.Int64(5),
			Resolution: types.ThumbnailConfigurationResolutionLowestResolution}},
		&ivs.CreateChannelInput{Name: aws.String("rec-merge"), Type: types.ChannelTypeBasicChannelType,
			ContainerFormat: types.ContainerFormatFragmentedMP4})
	url := "rtmp://" + s.RTMP + "/app/" + key
	var ids []string
	for i := range 2 {
		p := publishSize(t, url, "640x360")
		ids = append(ids, aws.ToString(waitLive(t, c, ch.Arn, 20*time.Second).StreamId))
		time.Sleep(9 * time.Second)
		p.stop()
		waitOffline(t, c, ch.Arn, 10*time.Second)
		if i == 0 {
			time.Sleep(2 * time.Second) // reconnect within the window
		}
	}
	ended := time.Now()
	start := hook.waitRecordingEvent(t, "Recording Start", 5*time.Second)
	prefix := checkRecordingEvent(t, start, "Recording Start", "merged", "rec-merge", ids[0], nil)
	b := s3Bucket(t, s3, "merged")
	// Within the window: the recording is not over.
	time.Sleep(window / 2)
	if got := recordingStatuses(hook); !slices.Equal(got, []string{"Recording Start"}) {
		t.Errorf("within the reconnect window: recording events %v, want only Recording Start", got)
	}
	if keys := b.keys(prefix + "/events/"); slices.Contains(keys, prefix+"/events/recording-ended.json") {
		t.Errorf("recording-ended.json written within the reconnect window")
	}
	end := hook.waitRecordingEvent(t, "Recording End", window+20*time.Second)
	if since := time.Since(ended); since < window {
		t.Errorf("Recording End %v after the stream ended, before the %v window passed", since, window)
	}
	if checkRecordingEvent(t, end, "Recording End", "merged", "rec-merge", ids[1], ids) != prefix {
		t.Errorf("Recording End prefix %v, want %s", end["recording_s3_key_prefix"], prefix)
	}
	if got := recordingStatuses(hook); !slices.Equal(got, []string{"Recording Start", "Recording End"}) {
		t.Errorf("recording events %v, want one Recording Start and one Recording End", got)
	}
	if n := len(s3.Keys("merged", "ivs/")); n == 0 || len(b.keys(prefix+"/")) != n {
		t.Errorf("objects outside the recording's prefix: %d in the bucket, %d under %s", n, len(b.keys(prefix+"/")), prefix)
	}
	durationMs := checkRecording(t, b, prefix, recordingWant{channelARN: *ch.Arn, renditions: []string{"360p30"}, width: 640, height: 360,
		fmp4: true, thumbW: 284, thumbH: 160, sequential: true, status: "RECORDING_ENDED", discontinuity: true})
	if durationMs < 16000 || durationMs > 24000 {
		t.Errorf("duration_ms %d for two streams of about 10 s", durationMs)
	}
}

// TestRecordingS3Outage: an S3 outage of a few seconds mid-stream is ridden out (every segment is written once it
// is back, the recording complete and continuous); an outage longer than the recording may buffer ends the
// recording with a failure event and, once S3 is back, recording-failed.json, while the live stream goes on.
func TestRecordingS3Outage(t *testing.T) {
	t.Parallel()
	// At most 2 MiB unwritten: a recorded segment of this stream (10 s) is about 1.1 MB.
	s3, hook, s, c := recordingServer(t, "flaky", "--recording-max-buffered-mb", "2")
	ctx := Ctx(t)
	ch, key := recordingChannel(t, c, &ivs.CreateRecordingConfigurationInput{DestinationConfiguration: testS3("flaky"),
		ThumbnailConfiguration: &types.ThumbnailConfiguration{RecordingMode: types.RecordingModeDisabled}},
		&ivs.CreateChannelInput{Name: aws.String("rec-outage"), Type: types.ChannelTypeBasicChannelType})
	url := "rtmp://" + s.RTMP + "/app/" + key

	// 1. A 5 s outage.
	p := publishSize(t, url, "640x360")
	id := aws.ToString(waitLive(t, c, ch.Arn, 20*time.Second).StreamId)
	prefix := checkRecordingEvent(t, hook.waitRecordingEvent(t, "Recording Start", 10*time.Second), "Recording Start", "flaky", "rec-outage", id, nil)
	time.Sleep(4 * time.Second)
	s3.Stop()
	time.Sleep(5 * time.Second)
	if _, err := c.GetStream(ctx, &ivs.GetStreamInput{ChannelArn: ch.Arn}); err != nil {
		t.Errorf("GetStream during the S3 outage: %v", err)
	}
	s3.Start()
	time.Sleep(6 * time.Second)
	p.stop()
	end := hook.waitRecordingEvent(t, "Recording End", 30*time.Second)
	checkRecordingEvent(t, end, "Recording End", "flaky", "rec-outage", id, []string{id})
	durationMs := checkRecording(t, s3Bucket(t, s3, "flaky"), prefix, recordingWant{channelARN: *ch.Arn, renditions: []string{"360p30"},
		width: 640, height: 360, status: "RECORDING_ENDED"})
	if durationMs < 13000 {
		t.Errorf("duration_ms %d: media of the outage is missing (the stream lasted about 15 s)", durationMs)
	}
	if !strings.Contains(s.Log(), "writing works again") {
		t.Errorf("the server did not log the outage's end")
	}

	// 2. An outage the recording cannot ride out.
	p = publishSize(t, url, "640x360")
	id = aws.ToString(waitLive(t, c, ch.Arn, 20*time.Second).StreamId)
	var start map[string]any
	deadline := time.Now().Add(10 * time.Second)
	for start == nil {
		for _, e := range hook.recordingEvents() {
			if e["recording_status"] == "Recording Start" && e["stream_id"] == id {
				start = e
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("no Recording Start for the second stream")
		}
		time.Sleep(100 * time.Millisecond)
	}
	prefix = start["recording_s3_key_prefix"].(string)
	s3.Stop()
	failure := hook.waitRecordingEvent(t, "Recording End Failure", 60*time.Second)
	checkRecordingEvent(t, failure, "Recording End Failure", "flaky", "rec-outage", id, nil)
	if failure["recording_status_reason"] != "InternalServerException" {
		t.Errorf("Recording End Failure reason %v", failure["recording_status_reason"])
	}
	if st, err := c.GetStream(ctx, &ivs.GetStreamInput{ChannelArn: ch.Arn}); err != nil || st.Stream.State != types.StreamStateStreamLive {
		t.Errorf("the live stream after the recording failed: %v %v", st, err)
	}
	s3.Start()
	deadline = time.Now().Add(30 * time.Second)
	for !slices.Contains(s3.Keys("flaky", prefix+"/events/"), prefix+"/events/recording-failed.json") {
		if time.Now().After(deadline) {
			t.Fatalf("recording-failed.json not written 30 s after S3 came back: %v", s3.Keys("flaky", prefix+"/"))
		}
		time.Sleep(200 * time.Millisecond)
	}
	var failed map[string]any
	if err := json.Unmarshal(s3.Get("flaky", prefix+"/events/recording-failed.json"), &failed); err != nil {
		t.Fatal(err)
	}
	if failed["recording_status"] != "RECORDING_ENDED_WITH_FAILURE" || failed["recording_status_message"] != "InternalServerException" {
		t.Errorf("recording-failed.json: %v", failed)
	}
	if _, err := c.GetStream(ctx, &ivs.GetStreamInput{ChannelArn: ch.Arn}); err != nil {
		t.Errorf("GetStream after the failed recording: %v", err)
	}
	p.stop()
	time.Sleep(2 * time.Second)
	if keys := s3.Keys("flaky", prefix+"/events/"); slices.Contains(keys, prefix+"/events/recording-ended.json") {
		t.Errorf("a failed recording also got recording-ended.json")
	}
	if got := recordingStatuses(hook); !slices.Equal(got, []string{"Recording Start", "Recording End", "Recording Start", "Recording End Failure"}) {
		t.Errorf("recording events %v", got)
	}
}

// TestRecordingDirectory: without an S3 endpoint, recordings go to a directory per bucket under the data
// directory, in the same layout; a bucket directory that does not exist fails the configuration.
func TestRecordingDirectory(t *testing.T) {
	t.Parallel()
	encoderSlot(t)
	hook := newWebhook(t)
	s := Start(t, Options{Args: []string{"--events-webhook-url", hook.srv.URL, "--rtmp-allow-insecure"}})
	c := s.IVS(Credential{}, "")
	root := filepath.Join(s.DataDir, "recordings")
	if err := os.MkdirAll(filepath.Join(root, "local-vod"), 0o755); err != nil {
		t.Fatal(err)
	}
	ch, key := recordingChannel(t, c, &ivs.CreateRecordingConfigurationInput{DestinationConfiguration: testS3("local-vod"),
		ThumbnailConfiguration: &types.ThumbnailConfiguration{RecordingMode: types.RecordingModeInterval, TargetIntervalSeconds: aws.Int64(30),
			Storage: []types.ThumbnailConfigurationStorage{types.ThumbnailConfigurationStorageLatest}}},
		&ivs.CreateChannelInput{Name: aws.String("rec-dir"), Type: types.ChannelTypeBasicChannelType, LatencyMode: types.ChannelLatencyModeNormalLatency})
	p := publishSize(t, "rtmp://"+s.RTMP+"/app/"+key, "640x360")
	id := aws.ToString(waitLive(t, c, ch.Arn, 20*time.Second).StreamId)
	time.Sleep(12 * time.Second)
	p.stop()
	end := hook.waitRecordingEvent(t, "Recording End", 30*time.Second)
	prefix := checkRecordingEvent(t, end, "Recording End", "local-vod", "rec-dir", id, []string{id})
	checkRecording(t, dirBucket(t, filepath.Join(root, "local-vod")), prefix, recordingWant{channelARN: *ch.Arn,
		renditions: []string{"360p30"}, width: 640, height: 360, thumbW: 640, thumbH: 360, latest: true, status: "RECORDING_ENDED"})

	// A channel whose recording configuration failed (no bucket directory): the stream goes live, unrecorded, with
	// a Recording Start Failure event.
	ctx := Ctx(t)
	rc := sdk(c.CreateRecordingConfiguration(ctx, &ivs.CreateRecordingConfigurationInput{DestinationConfiguration: testS3("not-created")})).must(t, "CreateRecordingConfiguration").RecordingConfiguration
	if st := waitRecordingState(t, c, *rc.Arn); st != types.RecordingConfigurationStateCreateFailed {
		t.Fatalf("missing bucket directory: %s, want CREATE_FAILED", st)
	}
	out := sdk(c.CreateChannel(ctx, &ivs.CreateChannelInput{Name: aws.String("rec-failed"), RecordingConfigurationArn: rc.Arn,
		Type: types.ChannelTypeBasicChannelType})).must(t, "CreateChannel")
	p = publishSize(t, "rtmp://"+s.RTMP+"/app/"+aws.ToString(out.StreamKey.Value), "640x360")
	id = aws.ToString(waitLive(t, c, out.Channel.Arn, 20*time.Second).StreamId)
	failure := hook.waitRecordingEvent(t, "Recording Start Failure", 10*time.Second)
	p.stop()
	want := []string{"channel_name", "recording_duration_ms", "recording_s3_bucket_name", "recording_s3_key_prefix",
		"recording_session_id", "recording_status", "recording_status_reason", "stream_id"}
	if got := sortedKeys(failure); !slices.Equal(got, want) || failure["stream_id"] != id || failure["recording_s3_key_prefix"] != "" ||
		failure["recording_s3_bucket_name"] != "not-created" || failure["recording_status_reason"] != "ValidationException" {
		t.Errorf("Recording Start Failure: %v", failure)
	}
	if _, err := os.Stat(filepath.Join(root, "not-created")); !os.IsNotExist(err) {
		t.Errorf("the failed configuration's bucket directory exists: %v", err)
	}
}

// TestRecordingTranscodedLadder: a STANDARD channel records the renditions its viewers get, the transcoded ladder:
// a 480p source is re-encoded at 480p30 and has no rendition of its own, so the recording holds 480p30, 360p30 and
// 160p30, each decoding at its size with every frame (the transcoder finishes the last frames when the stream
// ends), thumbnails cut from the source; in MPEG-TS and in fMP4 (whose initialization sections come from the
// transcoder's renditions, known only once it runs), one after the other on one server.
func TestRecordingTranscodedLadder(t *testing.T) {
	t.Parallel()
	s3, hook, s, c := recordingServer(t, "ladder")
	b := s3Bucket(t, s3, "ladder")
	for _, container := range []types.ContainerFormat{types.ContainerFormatTs, types.ContainerFormatFragmentedMP4} {
		t.Run(string(container), func(t *testing.T) {
			ch, key := recordingChannel(t, c, &ivs.CreateRecordingConfigurationInput{DestinationConfiguration: testS3("ladder"),
				ThumbnailConfiguration: &types.ThumbnailConfiguration{RecordingMode: types.RecordingModeInterval, TargetIntervalSeconds: aws.Int64(10)},
				RenditionConfiguration: &types.RenditionConfiguration{RenditionSelection: types.RenditionConfigurationRenditionSelectionAll}},
				&ivs.CreateChannelInput{Name: aws.String("rec-ladder-" + strings.ToLower(string(container))), Type: types.ChannelTypeStandardChannelType,
					ContainerFormat: container})
			p := publishSize(t, "rtmp://"+s.RTMP+"/app/"+key, "852x480")
			streamID := aws.ToString(waitLive(t, c, ch.Arn, 20*time.Second).StreamId)
			prefix := hook.waitStreamRecordingEvent(t, streamID, "Recording Start", 20*time.Second)["recording_s3_key_prefix"].(string)
			waitVariants(t, aws.ToString(ch.PlaybackUrl), 3, 30*time.Second) // the ladder is up
			time.Sleep(12 * time.Second)
			p.stop()
			hook.waitStreamRecordingEvent(t, streamID, "Recording End", 30*time.Second)
			fmp4 := container == types.ContainerFormatFragmentedMP4
			names := []string{"480p30", "360p30", "160p30"}
			sizes := [][2]int{{852, 480}, {640, 360}, {284, 160}}
			checkRecording(t, b, prefix, recordingWant{channelARN: *ch.Arn, renditions: names, sizes: sizes, fmp4: fmp4,
				thumbW: 852, thumbH: 480, sequential: true, status: "RECORDING_ENDED"})
			for i, r := range names {
				dir := prefix + "/media/hls/" + r + "/"
				var first []byte
				if fmp4 {
					first = append(b.get(dir+"init.mp4"), b.get(dir+"0.mp4")...)
				} else {
					first = b.get(dir + "0.ts")
				}
				p := probeMedia(t, first)
				if p.w != sizes[i][0] || p.h != sizes[i][1] || p.frames == 0 || !p.audio {
					t.Errorf("%s's first segment: %dx%d, %d frames, audio %v; want %dx%d with audio", r, p.w, p.h, p.frames, p.audio, sizes[i][0], sizes[i][1])
				}
			}
			master := string(b.get(prefix + "/media/hls/master.m3u8"))
			for _, want := range []string{"RESOLUTION=852x480", "RESOLUTION=640x360", "RESOLUTION=284x160"} {
				if !strings.Contains(master, want) {
					t.Errorf("master.m3u8 lacks %s:\n%s", want, master)
				}
			}
		})
	}
}
