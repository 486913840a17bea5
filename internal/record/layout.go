package record

import (
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/openivs/openivs/internal/hls"
)

const contentTypeM3U8 = "application/x-mpegURL"

func contentType(ext string) string {
	if ext == "mp4" {
		return "video/mp4"
	}
	return "video/MP2T"
}

// mediaPlaylist renders a recorded rendition's playlist: its segments (playlist.m3u8), or each live segment as a
// byte range of them (byte-range-variant.m3u8). It is an EVENT playlist while recording and VOD at the end.
func mediaPlaylist(segs []fileSegment, fmp4, ended, byteRanges bool) []byte {
	version := 3
	switch {
	case fmp4:
		version = 7
	case byteRanges:
		version = 4
	}
	var target time.Duration
	for _, s := range segs {
		if byteRanges {
			for _, r := range s.ranges {
				target = max(target, r.dur)
			}
		} else {
			target = max(target, s.dur)
		}
	}
	var b strings.Builder
	fmt.Fprintf(&b, "#EXTM3U\n#EXT-X-VERSION:%d\n#EXT-X-TARGETDURATION:%d\n#EXT-X-MEDIA-SEQUENCE:0\n", version,
		max(1, int(math.Ceil(target.Seconds()-0.0005))))
	if ended {
		b.WriteString("#EXT-X-PLAYLIST-TYPE:VOD\n")
	} else {
		b.WriteString("#EXT-X-PLAYLIST-TYPE:EVENT\n")
	}
	init := ""
	for i, s := range segs {
		if s.disc && i > 0 {
			b.WriteString("#EXT-X-DISCONTINUITY\n")
		}
		if fmp4 && s.init != init {
			init = s.init
			fmt.Fprintf(&b, "#EXT-X-MAP:URI=%q\n", init)
		}
		if i == 0 || s.disc {
			fmt.Fprintf(&b, "#EXT-X-PROGRAM-DATE-TIME:%s\n", s.start.UTC().Format("2006-01-02T15:04:05.000Z"))
		}
		if !byteRanges {
			fmt.Fprintf(&b, "#EXTINF:%s,\n%s\n", seconds(s.dur), s.name)
			continue
		}
		for _, r := range s.ranges {
			fmt.Fprintf(&b, "#EXTINF:%s,\n#EXT-X-BYTERANGE:%d@%d\n%s\n", seconds(r.dur), r.n, r.off, s.name)
		}
	}
	if ended {
		b.WriteString("#EXT-X-ENDLIST\n")
	}
	return []byte(b.String())
}

func seconds(d time.Duration) string { return strconv.FormatFloat(d.Seconds(), 'f', 3, 64) }

// multivariant renders master.m3u8 (playlist "playlist.m3u8") or byte-range-multivariant.m3u8.
func multivariant(tracks []*track, playlist string) []byte {
	rs := make([]hls.Rendition, 0, len(tracks))
	for _, t := range tracks {
		if len(t.segs) == 0 { // a transcoded rendition with nothing recorded yet: no playlist to point to
			continue
		}
		bw := t.peak * 11 / 10
		if bw == 0 {
			bw = 1
		}
		rs = append(rs, hls.Rendition{URL: t.name + "/" + playlist, Bandwidth: bw, Codecs: t.codecs,
			Width: t.width, Height: t.height, FrameRate: t.fps})
	}
	slices.SortStableFunc(rs, func(a, b hls.Rendition) int { return b.Height - a.Height })
	return hls.Multivariant(rs, true)
}

// manifest is the JSON of events/recording-*.json, with every field IVS writes.
type manifest struct {
	Version                string    `json:"version"`
	ChannelARN             string    `json:"channel_arn"`
	RecordingStartedAt     string    `json:"recording_started_at"`
	RecordingEndedAt       string    `json:"recording_ended_at,omitempty"`
	RecordingStatus        string    `json:"recording_status"`
	RecordingStatusMessage string    `json:"recording_status_message,omitempty"`
	Media                  mediaJSON `json:"media"`
}

type mediaJSON struct {
	HLS             hlsJSON    `json:"hls"`
	Thumbnails      *thumbJSON `json:"thumbnails,omitempty"`
	LatestThumbnail *thumbJSON `json:"latest_thumbnail,omitempty"`
}

type hlsJSON struct {
	DurationMs        *int64          `json:"duration_ms,omitempty"`
	Path              string          `json:"path"`
	Playlist          string          `json:"playlist"`
	ByteRangePlaylist string          `json:"byte_range_playlist"`
	Renditions        []renditionJSON `json:"renditions"`
}

type renditionJSON struct {
	Path              string `json:"path"`
	Playlist          string `json:"playlist"`
	ByteRangePlaylist string `json:"byte_range_playlist"`
	ResolutionHeight  int    `json:"resolution_height"`
	ResolutionWidth   int    `json:"resolution_width"`
}

type thumbJSON struct {
	Path             string `json:"path"`
	ResolutionHeight int    `json:"resolution_height"`
	ResolutionWidth  int    `json:"resolution_width"`
}

// manifest renders a recording-*.json; rec.mu held (or the recording not shared yet).
func (rec *recording) manifest(status, message string, ended time.Time, withDuration bool) []byte {
	m := manifest{Version: "v1", ChannelARN: rec.ch.ARN, RecordingStartedAt: rfc3339(rec.started),
		RecordingStatus: status, RecordingStatusMessage: message}
	if !ended.IsZero() {
		m.RecordingEndedAt = rfc3339(ended)
	}
	m.Media.HLS = hlsJSON{Path: "media/hls", Playlist: "master.m3u8", ByteRangePlaylist: "byte-range-multivariant.m3u8",
		Renditions: []renditionJSON{}}
	if withDuration {
		ms := rec.mediaDuration().Milliseconds()
		m.Media.HLS.DurationMs = &ms
	}
	for _, t := range rec.tracks {
		if withDuration && len(t.segs) == 0 { // at the end: only the renditions with something recorded
			continue
		}
		m.Media.HLS.Renditions = append(m.Media.HLS.Renditions, renditionJSON{Path: t.name, Playlist: "playlist.m3u8",
			ByteRangePlaylist: "byte-range-variant.m3u8", ResolutionHeight: t.height, ResolutionWidth: t.width})
	}
	if rec.thumbIndex >= 0 {
		if rec.cfg.ThumbnailSequential {
			m.Media.Thumbnails = &thumbJSON{Path: "media/thumbnails", ResolutionHeight: rec.thumbH, ResolutionWidth: rec.thumbW}
		}
		if rec.cfg.ThumbnailLatest {
			m.Media.LatestThumbnail = &thumbJSON{Path: "media/latest_thumbnail/thumb.jpg", ResolutionHeight: rec.thumbH, ResolutionWidth: rec.thumbW}
		}
	}
	b, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		panic(err) // plain structs: cannot fail
	}
	return b
}

func rfc3339(t time.Time) string { return t.UTC().Format(time.RFC3339) }

// Rendition classes of renditionConfiguration.renditions and thumbnailConfiguration.resolution, by the shorter
// edge: 160 ≤ LOWEST_RESOLUTION ≤ 360 < SD ≤ 480 < HD ≤ 720 < FULL_HD ≤ 1080.
func class(width, height int) string {
	switch e := min(width, height); {
	case e <= 360:
		return "LOWEST_RESOLUTION"
	case e <= 480:
		return "SD"
	case e <= 720:
		return "HD"
	}
	return "FULL_HD"
}

var classHeight = map[string]int{"LOWEST_RESOLUTION": 160, "SD": 480, "HD": 720, "FULL_HD": 1080}

// selectRenditions applies renditionConfiguration: ALL records every rendition, NONE none, CUSTOM those of the
// listed classes, or, when the stream has none of them, the best one below the highest class asked for (else the
// smallest).
func selectRenditions(selection string, classes []string, rs []hls.Rendition) []int {
	var out []int
	switch selection {
	case "NONE":
		return nil
	case "CUSTOM":
		for i, r := range rs {
			if slices.Contains(classes, class(r.Width, r.Height)) {
				out = append(out, i)
			}
		}
		if len(out) > 0 || len(rs) == 0 {
			return out
		}
		limit := 0
		for _, c := range classes {
			limit = max(limit, classHeight[c])
		}
		best := -1
		for i, r := range rs {
			e := min(r.Width, r.Height)
			if e <= limit && (best < 0 || e > min(rs[best].Width, rs[best].Height)) {
				best = i
			}
		}
		if best < 0 {
			best = lowest(rs)
		}
		return []int{best}
	}
	for i := range rs {
		out = append(out, i)
	}
	return out
}

func highest(rs []hls.Rendition) int {
	best := 0
	for i, r := range rs {
		if r.Width*r.Height > rs[best].Width*rs[best].Height {
			best = i
		}
	}
	return best
}

func lowest(rs []hls.Rendition) int {
	best := 0
	for i, r := range rs {
		if r.Width*r.Height < rs[best].Width*rs[best].Height {
			best = i
		}
	}
	return best
}

// thumbnailSize is the size thumbnails are cut at: the source's, scaled down (never up) to the resolution's
// height, the width keeping the aspect ratio and even.
func thumbnailSize(w, h int, resolution string) (int, int) {
	target := classHeight[resolution]
	if target == 0 || target >= h || h == 0 {
		return w, h
	}
	tw := w * target / h
	return tw &^ 1, target
}
