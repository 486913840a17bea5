package main

import (
	"testing"
	"time"
)

const llPlaylist = `#EXTM3U
#EXT-X-VERSION:9
#EXT-X-TARGETDURATION:1
#EXT-X-SERVER-CONTROL:CAN-BLOCK-RELOAD=YES,CAN-SKIP-UNTIL=6.00000,PART-HOLD-BACK=0.90000
#EXT-X-PART-INF:PART-TARGET=0.30000
#EXT-X-MEDIA-SEQUENCE:10
#EXT-X-SKIP:SKIPPED-SEGMENTS=2
#EXT-X-PROGRAM-DATE-TIME:2026-11-22T11:28:50.000Z
#EXTINF:1.00000,
/v1/segment/T/360p30/12.ts
#EXT-X-PROGRAM-DATE-TIME:2026-11-22T11:28:51.000Z
#EXT-X-PART:DURATION=0.26700,URI="/v1/segment/T/360p30/13.0.ts",INDEPENDENT=YES
#EXT-X-PART:DURATION=0.26600,URI="/v1/segment/T/360p30/13.1.ts"
#EXT-X-PART:DURATION=0.26700,URI="/v1/segment/T/360p30/13.2.ts"
#EXT-X-PART:DURATION=0.20000,URI="/v1/segment/T/360p30/13.3.ts"
#EXTINF:1.00000,
/v1/segment/T/360p30/13.ts
#EXT-X-PROGRAM-DATE-TIME:2026-11-22T11:28:52.000Z
#EXT-X-PART:DURATION=0.26700,URI="/v1/segment/T/360p30/14.0.ts",INDEPENDENT=YES
#EXT-X-PRELOAD-HINT:TYPE=PART,URI="/v1/segment/T/360p30/14.1.ts"
`

func TestParseLL(t *testing.T) {
	var p playlist
	parsePlaylist([]byte(llPlaylist), &p)
	if p.multivariant || !p.blocking || !p.canSkip || !p.hasHint || p.target != time.Second || p.partTarget != 300*time.Millisecond {
		t.Fatalf("header: %+v", p)
	}
	if len(p.segments) != 2 || p.segments[0].msn != 12 || p.segments[1].msn != 13 || string(p.segments[1].uri) != "/v1/segment/T/360p30/13.ts" {
		t.Fatalf("segments: %+v", p.segments)
	}
	if len(p.parts) != 5 {
		t.Fatalf("parts: %d", len(p.parts))
	}
	last := p.parts[4]
	if last.msn != 14 || last.part != 0 || string(last.uri) != "/v1/segment/T/360p30/14.0.ts" {
		t.Fatalf("last part: %+v", last)
	}
	if want := time.Date(2026, 11, 22, 11, 28, 51, 533e6, time.UTC); !p.parts[1].end.Equal(want) {
		t.Fatalf("part 13.1 ends %v, want %v", p.parts[1].end, want)
	}
	if p.nextMSN != 14 || p.nextPart != 1 {
		t.Fatalf("next: %d.%d", p.nextMSN, p.nextPart)
	}
	if p.parts[3].key() >= p.parts[4].key() || p.segments[1].key() <= p.parts[3].key() {
		t.Fatal("keys out of order")
	}
}

func TestParsePlainAndMultivariant(t *testing.T) {
	var p playlist
	parsePlaylist([]byte("#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-MEDIA-SEQUENCE:7\n#EXT-X-TARGETDURATION:1\n#EXTINF:1.000,\nbench-7.ts\n#EXTINF:1.000,\nbench-8.ts\n"), &p)
	if p.blocking || len(p.parts) != 0 || len(p.segments) != 2 || p.segments[1].msn != 8 || string(p.segments[1].uri) != "bench-8.ts" {
		t.Fatalf("plain: %+v", p)
	}
	if got := resolve("/hls/bench.m3u8?x=1", p.segments[1].uri); got != "/hls/bench-8.ts" {
		t.Fatalf("resolve: %s", got)
	}
	parsePlaylist([]byte("#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=1,CODECS=\"avc1\"\n/v1/playlist/T/360p30.m3u8\n"), &p)
	if !p.multivariant || len(p.variants) != 1 || string(p.variants[0]) != "/v1/playlist/T/360p30.m3u8" {
		t.Fatalf("multivariant: %+v", p)
	}
	if got := resolve("/a/b.m3u8", []byte("http://h:1/x/y.ts")); got != "/x/y.ts" {
		t.Fatalf("resolve absolute: %s", got)
	}
}
