package main

import (
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

const playlist = "#EXTM3U\n#EXT-X-TARGETDURATION:1\n#EXTINF:1.0,\nk-1.ts\n#EXTINF:1.0,\nk-2.ts\n#EXTINF:1.0,\nk-3.ts\n#EXTINF:1.0,\nk-4.ts\n"

func TestSegmentURIs(t *testing.T) {
	got := strings.Join(segmentURIs(playlist), ",")
	if got != "k-1.ts,k-2.ts,k-3.ts,k-4.ts" {
		t.Fatalf("segmentURIs = %q", got)
	}
}

// A chunked answer (no Content-Length) is an error, not a hang or a wrong timing.
func TestAnswerWithoutContentLengthIsAnError(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.(http.Flusher).Flush() // forces chunked encoding
		_, _ = w.Write([]byte("x"))
	}))
	defer srv.Close()
	k := newConn(strings.TrimPrefix(srv.URL, "http://"), 2*time.Second)
	defer k.close()
	if _, _, _, err := k.get("/", false); err == nil || !strings.Contains(err.Error(), "Content-Length") {
		t.Fatalf("get = %v, want an error naming Content-Length", err)
	}
}

func TestCheckRefusesOffLoopbackTargetsAndBadInput(t *testing.T) {
	bad := []struct {
		base, key string
		n         int
	}{
		{"http://198.51.100.7:80", "k", 1},
		{"https://127.0.0.1:80", "k", 1},
		{"http://127.0.0.1:80", "../k", 1},
		{"http://127.0.0.1:80", "k", 0},
		{"http://127.0.0.1:80", "k", 5000},
	}
	for _, b := range bad {
		if err := check(b.base, b.key, b.n, 5, 500*time.Millisecond); err == nil {
			t.Errorf("check(%q, %q, %d) accepted", b.base, b.key, b.n)
		}
	}
	if err := check("http://127.0.0.1:8080", "live1", 200, 20, 500*time.Millisecond); err != nil {
		t.Errorf("good input refused: %v", err)
	}
}

// A viewer joins at the live edge (the last three segments), fetches each segment once over one
// kept-alive connection, and counts a missing segment as an error rather than a timing.
func TestViewerFetchesEachNewSegmentOnceAndCountsErrors(t *testing.T) {
	var conns atomic.Int32
	var mu sync.Mutex
	fetched := map[string]int{}
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case r.URL.Path == "/hls/k.m3u8":
			_, _ = w.Write([]byte(playlist))
		case r.URL.Path == "/hls/k-3.ts":
			http.NotFound(w, r)
		case strings.HasSuffix(r.URL.Path, ".ts"):
			mu.Lock()
			fetched[r.URL.Path]++
			mu.Unlock()
			w.Header().Set("Content-Length", "34000") // as nginx sends static files
			_, _ = w.Write(make([]byte, 34_000))
		default:
			http.NotFound(w, r)
		}
	}))
	srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			conns.Add(1)
		}
	}
	srv.Start()
	defer srv.Close()

	v := newViewer(srv.URL, "k")
	v.watch(time.Now().Add(1200*time.Millisecond), 200*time.Millisecond)

	if len(v.lists) < 4 {
		t.Errorf("playlist fetched %d times in 1.2 s at a 200 ms period", len(v.lists))
	}
	if fetched["/hls/k-1.ts"] != 0 {
		t.Errorf("a joining viewer fetched k-1.ts, older than the last three segments")
	}
	if fetched["/hls/k-2.ts"] != 1 || fetched["/hls/k-4.ts"] != 1 {
		t.Errorf("segments fetched %v, want k-2 and k-4 once each", fetched)
	}
	if len(v.segments) != 2 {
		t.Errorf("%d segment timings, want 2", len(v.segments))
	}
	if n := conns.Load(); n != 1 {
		t.Errorf("the viewer opened %d connections, want one kept alive", n)
	}
	if v.errors["segment HTTP 404"] != 1 {
		t.Errorf("errors %v, want one segment HTTP 404", v.errors)
	}
}

func TestPercentileIsNearestRank(t *testing.T) {
	xs := []float64{5, 1, 4, 2, 3}
	for _, c := range []struct{ p, want float64 }{{50, 3}, {99, 5}, {100, 5}, {20, 1}} {
		if got := percentile(xs, c.p); got != c.want {
			t.Errorf("percentile(%v) = %v, want %v", c.p, got, c.want)
		}
	}
	if percentile(nil, 99) != 0 {
		t.Error("percentile of nothing is not 0")
	}
}
