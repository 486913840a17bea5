package server

import (
	"net/http"
	"net/http/httptest"
	"testing"
)

// TestPlaybackFirst: clean playback paths go straight to playback, anything else through the mux (which redirects
// an unclean path to its cleaned form, as before).
func TestPlaybackFirst(t *testing.T) {
	mark := func(name string) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Header().Set("X-Handler", name) })
	}
	mux := http.NewServeMux()
	mux.Handle("/v1/playlist/", mark("mux-playback"))
	mux.Handle("/", mark("api"))
	h := playbackFirst(mark("playback"), mux)
	for _, c := range []struct{ method, path, handler string }{
		{"GET", "/v1/playlist/tok/720p30.m3u8", "playback"},
		{"GET", "/v1/segment/tok/720p30/1.2.ts", "playback"},
		{"OPTIONS", "/api/video/v1/us-west-2.1.channel.x.m3u8", "playback"},
		{"GET", "/v1/playlist/tok/./720p30.m3u8", ""}, // redirected
		{"GET", "/v1/playlist//720p30.m3u8", ""},
		{"GET", "/v1/playlist/tok/.x", "mux-playback"},
		{"POST", "/CreateChannel", "api"},
	} {
		w := httptest.NewRecorder()
		h.ServeHTTP(w, httptest.NewRequest(c.method, c.path, nil))
		if got := w.Header().Get("X-Handler"); got != c.handler || (c.handler == "" && w.Code != http.StatusTemporaryRedirect) {
			t.Errorf("%s %s: handled by %q (%d), want %q", c.method, c.path, got, w.Code, c.handler)
		}
	}
}

// TestFrontRequest: httpfront serves playback's GET, HEAD and OPTIONS of clean, unescaped playback paths itself, and
// only those: everything it serves playbackFirst would give to playback too.
func TestFrontRequest(t *testing.T) {
	for _, c := range []struct {
		method, path string
		front        bool
	}{
		{"GET", "/v1/playlist/tok/720p30.m3u8", true},
		{"HEAD", "/v1/segment/tok/720p30/1.2.ts", true},
		{"OPTIONS", "/api/video/v1/us-west-2.1.channel.x.m3u8", true},
		{"POST", "/v1/playlist/tok/720p30.m3u8", false},
		{"DELETE", "/v1/playlist/tok/720p30.m3u8", false},
		{"GET", "/v1/playlist/tok/%3720p30.m3u8", false}, // escaped: net/http decides on the unescaped path
		{"GET", "/v1/playlist/tok/./720p30.m3u8", false},
		{"GET", "/v1/playlist//720p30.m3u8", false},
		{"GET", "/healthz", false},
		{"GET", "/", false},
	} {
		if got := frontRequest(c.method, c.path); got != c.front {
			t.Errorf("%s %s: front %v, want %v", c.method, c.path, got, c.front)
		}
		if c.front && !playbackRequest(c.method, c.path) {
			t.Errorf("%s %s: served by the front, but playbackFirst would not give it to playback", c.method, c.path)
		}
	}
}

// BenchmarkPlaybackRoute: routing one part request to a no-op playback handler, through the mux as all requests
// were routed before, and through playbackFirst.
func BenchmarkPlaybackRoute(b *testing.B) {
	nop := http.HandlerFunc(func(http.ResponseWriter, *http.Request) {})
	mux := http.NewServeMux()
	for _, p := range []string{"/api/video/v1/", "/v1/playlist/", "/v1/segment/", "/"} {
		mux.Handle(p, nop)
	}
	mux.HandleFunc("GET /healthz", nop)
	r := httptest.NewRequest("GET", "/v1/playlist/AQBpNYjOZIyyQPRUCMyVrVhJHhxjs9AtbmWFJ9WX6Ih8sNNAyqs/720p30/1234.3.ts", nil)
	w := httptest.NewRecorder()
	for _, h := range []struct {
		name string
		h    http.Handler
	}{{"mux", mux}, {"playbackFirst", playbackFirst(nop, mux)}} {
		b.Run(h.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				h.h.ServeHTTP(w, r)
			}
		})
	}
}
