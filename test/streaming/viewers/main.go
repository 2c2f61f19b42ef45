// Command viewers is the streaming benchmark's load generator: n HLS viewers paced like real
// players against one server on loopback. Each viewer keeps one keep-alive connection, fetches
// the playlist every period and each new segment once (starting, as a player joining does,
// with the last three), and times every fetch from the request to the last body byte.
//
// It is written in Go rather than inside the Node bench because a Node event loop serving 200
// viewers on a 2-core machine delays reading responses by more than nginx takes to send them
// (measured: loop lag p99 9-12 ms), which made the tail a figure of the generator, not of the
// server. Goroutines on the runtime's netpoller read each response as it arrives.
//
// Output: one JSON object on stdout (see result). Bounded: every viewer stops at the deadline,
// every request has a timeout, and the target must be a loopback address.
package main

import (
	"bufio"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"math"
	"net"
	"os"
	"sort"
	"strings"
	"sync"
	"syscall"
	"time"
)

type result struct {
	// How late a 2 ms timer fires in this process during the run (p99): the machine's own
	// scheduling noise, which every fetch time here includes.
	TimerLagP99Ms float64        `json:"timerLagP99Ms"`
	SegmentsMs    []float64      `json:"segmentsMs"`
	PlaylistMs    []float64      `json:"playlistsMs"`
	Errors        map[string]int `json:"errors"`
	CPUSeconds    float64        `json:"cpuSeconds"`
	WallS         float64        `json:"wallSeconds"`
}

type viewer struct {
	conn     *conn
	playlist string
	seen     map[string]bool
	first    bool
	segments []float64
	lists    []float64
	errors   map[string]int
}

func main() {
	base := flag.String("base", "", "server base URL, e.g. http://127.0.0.1:8080 (loopback only)")
	key := flag.String("key", "", "stream key (playlist /hls/<key>.m3u8)")
	n := flag.Int("viewers", 1, "concurrent viewers, 1-1000")
	seconds := flag.Float64("seconds", 20, "how long every viewer watches, 1-300 s")
	period := flag.Duration("period", 500*time.Millisecond, "playlist polling period")
	flag.Parse()
	if err := check(*base, *key, *n, *seconds, *period); err != nil {
		fmt.Fprintf(os.Stderr, "viewers: %v\n", err)
		os.Exit(2)
	}

	var ru0 syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru0)
	start := time.Now()
	deadline := start.Add(time.Duration(*seconds * float64(time.Second)))
	lags := make(chan []float64, 1)
	go func() { lags <- timerLag(deadline, 2*time.Millisecond) }()
	viewers := make([]*viewer, *n)
	var wg sync.WaitGroup
	for i := range viewers {
		v := newViewer(*base, *key)
		viewers[i] = v
		wg.Add(1)
		// Spread the viewers over one polling period, as players that joined at different times are.
		offset := time.Duration(int64(*period) * int64(i) / int64(*n))
		go func() {
			defer wg.Done()
			time.Sleep(offset)
			v.watch(deadline, *period)
		}()
	}
	wg.Wait()
	wall := time.Since(start).Seconds()
	lag := <-lags
	var ru1 syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru1)

	out := result{Errors: map[string]int{}, WallS: wall,
		CPUSeconds: cpu(ru1) - cpu(ru0), TimerLagP99Ms: percentile(lag, 99)}
	for _, v := range viewers {
		out.SegmentsMs = append(out.SegmentsMs, v.segments...)
		out.PlaylistMs = append(out.PlaylistMs, v.lists...)
		for k, c := range v.errors {
			out.Errors[k] += c
		}
	}
	if err := json.NewEncoder(os.Stdout).Encode(out); err != nil {
		fmt.Fprintf(os.Stderr, "viewers: %v\n", err)
		os.Exit(1)
	}
}

func check(base, key string, n int, seconds float64, period time.Duration) error {
	if !strings.HasPrefix(base, "http://") {
		return fmt.Errorf("--base must be an http:// URL on loopback, got %q", base)
	}
	host, _, err := net.SplitHostPort(strings.TrimPrefix(base, "http://"))
	if ip := net.ParseIP(host); err != nil || ip == nil || !ip.IsLoopback() {
		return fmt.Errorf("--base must name a loopback address and port, got %q", base)
	}
	if key == "" || strings.ContainsAny(key, "/?#%. ") {
		return fmt.Errorf("--key must be a plain stream key, got %q", key)
	}
	if n < 1 || n > 1000 {
		return fmt.Errorf("--viewers takes 1-1000, got %d", n)
	}
	if seconds < 1 || seconds > 300 {
		return fmt.Errorf("--seconds takes 1-300, got %g", seconds)
	}
	if period < 100*time.Millisecond || period > 10*time.Second {
		return fmt.Errorf("--period takes 100ms-10s, got %v", period)
	}
	return nil
}

// timerLag sleeps `every` until the deadline and returns how late each wake-up was, in ms.
func timerLag(deadline time.Time, every time.Duration) []float64 {
	var out []float64
	for time.Now().Before(deadline) {
		t := time.Now()
		time.Sleep(every)
		out = append(out, float64((time.Since(t)-every).Microseconds())/1000)
	}
	return out
}

// percentile is the nearest-rank percentile p (0-100] of xs; 0 when xs is empty.
func percentile(xs []float64, p float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := append([]float64(nil), xs...)
	sort.Float64s(s)
	i := int(math.Ceil(p/100*float64(len(s)))) - 1
	return s[max(0, min(len(s)-1, i))]
}

func cpu(ru syscall.Rusage) float64 {
	return float64(ru.Utime.Sec+ru.Stime.Sec) + float64(ru.Utime.Usec+ru.Stime.Usec)/1e6
}

func newViewer(base, key string) *viewer {
	return &viewer{
		conn:     newConn(strings.TrimPrefix(base, "http://"), 5*time.Second),
		playlist: fmt.Sprintf("/hls/%s.m3u8", key),
		seen:     map[string]bool{},
		first:    true,
		errors:   map[string]int{},
	}
}

func (v *viewer) watch(deadline time.Time, period time.Duration) {
	defer v.conn.close()
	for time.Now().Before(deadline) {
		tick := time.Now()
		body, ms, err := v.get(v.playlist, true)
		if err != nil {
			v.errors["playlist "+err.Error()]++
		} else {
			v.lists = append(v.lists, ms)
			segs := segmentURIs(body)
			if v.first && len(segs) > 3 {
				// A player joining starts near the live edge and never goes back for older segments.
				for _, old := range segs[:len(segs)-3] {
					v.seen[old] = true
				}
				segs = segs[len(segs)-3:]
			}
			v.first = false
			for _, s := range segs {
				if v.seen[s] {
					continue
				}
				v.seen[s] = true
				if _, ms, err := v.get("/hls/"+s, false); err != nil {
					v.errors["segment "+err.Error()]++
				} else {
					v.segments = append(v.segments, ms)
				}
			}
		}
		if rest := period - time.Since(tick); rest > 0 {
			time.Sleep(rest)
		}
	}
}

// get fetches path and returns the body (when keep) and the time to its last byte in ms.
func (v *viewer) get(path string, keep bool) (string, float64, error) {
	t0 := time.Now()
	status, body, size, err := v.conn.get(path, keep)
	if err != nil {
		return "", 0, errKind(err)
	}
	ms := float64(time.Since(t0).Microseconds()) / 1000
	if status != 200 {
		return "", 0, fmt.Errorf("HTTP %d", status)
	}
	if size == 0 {
		return "", 0, errors.New("empty body")
	}
	return string(body), ms, nil
}

// errKind turns an error into a short, countable kind (no addresses or ports in it).
func errKind(err error) error {
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return errors.New("timeout")
	}
	for _, kind := range []string{"connection refused", "connection reset", "EOF"} {
		if strings.Contains(err.Error(), kind) {
			return errors.New(kind)
		}
	}
	return errors.New("other error")
}

// segmentURIs lists a media playlist's segment URIs in order.
func segmentURIs(playlist string) []string {
	var out []string
	sc := bufio.NewScanner(strings.NewReader(playlist))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line != "" && !strings.HasPrefix(line, "#") {
			out = append(out, line)
		}
	}
	return out
}
