// Command barehandler is the throughput ceiling for bench/apiload: a bare
// net/http server that answers every POST with a fixed, realistic IVS JSON
// body. It reads and discards the request body and verifies nothing (no
// SigV4, no parsing, no storage).
//
// Bodies by path, so response sizes match the real API:
//
//	/CreateChannel  channel + streamKey
//	/ListChannels   100 channel summaries (a full first page)
//	anything else   the GetChannel body
//
// GET /healthz answers 200 so scripts can wait for readiness.
package main

import (
	"encoding/json"
	"flag"
	"io"
	"log"
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"
)

const channel = `{"arn":"arn:aws:ivs:us-east-1:123456789012:channel/abcdABCD1234","authorized":false,"containerFormat":"TS",` +
	`"ingestEndpoint":"127.0.0.1","insecureIngest":false,"latencyMode":"LOW",` +
	`"multitrackInputConfiguration":{"enabled":false,"maximumResolution":"FULL_HD","policy":"ALLOW"},"name":"bench",` +
	`"playbackRestrictionPolicyArn":"","playbackUrl":"http://127.0.0.1:8080/api/video/v1/us-east-1.123456789012.channel.abcdABCD1234.m3u8",` +
	`"preset":"","recordingConfigurationArn":"","srt":{"endpoint":"127.0.0.1:9000","passphrase":"q7Xh2kLmN9pR4sTv8wYz1aBcDeFgHiJk"},` +
	`"tags":{},"type":"STANDARD"}`

const streamKey = `{"arn":"arn:aws:ivs:us-east-1:123456789012:stream-key/efghEFGH5678","channelArn":"arn:aws:ivs:us-east-1:123456789012:channel/abcdABCD1234",` +
	`"tags":{},"value":"sk_us-east-1_0123456789abcdefghijklmnopqrstuvwxyzABCDEF"}`

var (
	getBody    = []byte(`{"channel":` + channel + `}`)
	createBody = []byte(`{"channel":` + channel + `,"streamKey":` + streamKey + `}`)
	listBody   = listChannels(100)
	reqSeq     atomic.Uint64
)

func listChannels(n int) []byte {
	type summary struct {
		Arn                          string            `json:"arn"`
		Authorized                   bool              `json:"authorized"`
		InsecureIngest               bool              `json:"insecureIngest"`
		LatencyMode                  string            `json:"latencyMode"`
		Name                         string            `json:"name"`
		PlaybackRestrictionPolicyArn string            `json:"playbackRestrictionPolicyArn"`
		Preset                       string            `json:"preset"`
		RecordingConfigurationArn    string            `json:"recordingConfigurationArn"`
		Tags                         map[string]string `json:"tags"`
		Type                         string            `json:"type"`
	}
	var out struct {
		Channels  []summary `json:"channels"`
		NextToken string    `json:"nextToken"`
	}
	for i := range n {
		out.Channels = append(out.Channels, summary{
			Arn:         "arn:aws:ivs:us-east-1:123456789012:channel/bench" + strconv.Itoa(100000+i),
			LatencyMode: "LOW", Name: "bench-" + strconv.Itoa(i), Tags: map[string]string{}, Type: "STANDARD",
		})
	}
	out.NextToken = "eyJvZmZzZXQiOjEwMH0"
	b, err := json.Marshal(out)
	if err != nil {
		panic(err)
	}
	return b
}

func handle(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		if r.URL.Path == "/healthz" {
			w.WriteHeader(http.StatusOK)
			return
		}
		http.Error(w, "POST only", http.StatusMethodNotAllowed)
		return
	}
	io.Copy(io.Discard, r.Body)
	body := getBody
	switch {
	case strings.HasSuffix(r.URL.Path, "/CreateChannel"):
		body = createBody
	case strings.HasSuffix(r.URL.Path, "/ListChannels"):
		body = listBody
	}
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Content-Length", strconv.Itoa(len(body)))
	h.Set("x-amzn-RequestId", "00000000-0000-4000-8000-"+leftPad(strconv.FormatUint(reqSeq.Add(1), 16), 12))
	w.Write(body)
}

func leftPad(s string, n int) string {
	if len(s) >= n {
		return s
	}
	return strings.Repeat("0", n-len(s)) + s
}

func main() {
	addr := flag.String("addr", "127.0.0.1:8080", "listen address")
	flag.Parse()
	log.Printf("barehandler listening on %s", *addr)
	log.Fatal(http.ListenAndServe(*addr, http.HandlerFunc(handle)))
}
