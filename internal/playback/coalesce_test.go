package playback

import (
	"bytes"
	"io"
	"net"
	"net/http"
	"strconv"
	"testing"
)

// TestCoalescedResponses: responses written through writeBody on a Listener connection arrive whole and in order,
// whatever their size, on one keep-alive connection.
func TestCoalescedResponses(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	body := func(n int) []byte {
		b := make([]byte, n)
		for i := range b {
			b[i] = byte(i*7 + n)
		}
		return b
	}
	srv := &http.Server{ConnContext: ConnContext, Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n, _ := strconv.Atoi(r.URL.Query().Get("n"))
		b := body(n)
		w.Header().Set("Content-Length", strconv.Itoa(len(b)))
		w.Header().Set("X-Padding", string(bytes.Repeat([]byte("x"), n%300))) // moves where the header ends
		w.WriteHeader(http.StatusOK)
		if r.Method != http.MethodHead {
			writeBody(w, r, b)
		}
	})}
	go srv.Serve(Listener(ln))
	defer srv.Close()
	tr := &http.Transport{MaxConnsPerHost: 1}
	defer tr.CloseIdleConnections()
	c := &http.Client{Transport: tr}
	for _, n := range []int{0, 1, 2047, 2048, 3800, 4000, 4096, 4097, 6000, 8191, 8192, 75_000, 300_000} {
		for _, method := range []string{"GET", "HEAD", "GET"} {
			req, _ := http.NewRequest(method, "http://"+ln.Addr().String()+"/?n="+strconv.Itoa(n), nil)
			resp, err := c.Do(req)
			if err != nil {
				t.Fatalf("%s %d: %v", method, n, err)
			}
			got, err := io.ReadAll(resp.Body)
			resp.Body.Close()
			want := body(n)
			if method == "HEAD" {
				want = nil
			}
			if err != nil || !bytes.Equal(got, want) || resp.ContentLength != int64(n) {
				t.Fatalf("%s %d: %d bytes (Content-Length %d), err %v", method, n, len(got), resp.ContentLength, err)
			}
		}
	}
}
