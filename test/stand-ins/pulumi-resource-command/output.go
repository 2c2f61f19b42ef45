package main

import (
	"bytes"
	"io"
	"strings"
	"sync"
)

// outputSink captures a command's stdout and stderr for the outputs and, per
// the `logging` input, streams complete lines to the engine as they arrive.
// Like upstream, lines go out as Info status messages (shown while the
// resource is in progress, not kept in the final diagnostics).
type outputSink struct {
	mu                   sync.Mutex
	stdout, stderr       bytes.Buffer
	logStdout, logStderr bool
	pending              [2]bytes.Buffer // incomplete last line of each stream
	log                  func(string)
}

func newOutputSink(logging string, log func(string)) *outputSink {
	if log == nil {
		log = func(string) {}
	}
	return &outputSink{
		logStdout: logging == "" || logging == "stdout" || logging == "stdoutAndStderr",
		logStderr: logging == "" || logging == "stderr" || logging == "stdoutAndStderr",
		log:       log,
	}
}

type streamWriter struct {
	s      *outputSink
	stream int // 0 stdout, 1 stderr
}

func (s *outputSink) stdoutWriter() io.Writer { return streamWriter{s, 0} }
func (s *outputSink) stderrWriter() io.Writer { return streamWriter{s, 1} }

func (w streamWriter) Write(p []byte) (int, error) {
	s := w.s
	s.mu.Lock()
	defer s.mu.Unlock()
	buf, logIt := &s.stdout, s.logStdout
	if w.stream == 1 {
		buf, logIt = &s.stderr, s.logStderr
	}
	buf.Write(p)
	if logIt {
		pend := &s.pending[w.stream]
		pend.Write(p)
		for {
			i := bytes.IndexByte(pend.Bytes(), '\n')
			if i < 0 {
				break
			}
			s.log(strings.TrimRight(string(pend.Next(i+1)), "\r\n"))
		}
	}
	return len(p), nil
}

// flush logs what is left of unterminated last lines.
func (s *outputSink) flush() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i := range s.pending {
		if s.pending[i].Len() > 0 {
			s.log(s.pending[i].String())
			s.pending[i].Reset()
		}
	}
}

// status reports progress (dial retries) the same way as output lines.
func (s *outputSink) status(msg string) { s.log(msg) }

// results returns stdout and stderr as the outputs carry them: upstream trims
// one trailing newline.
func (s *outputSink) results() (string, string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return strings.TrimSuffix(s.stdout.String(), "\n"), strings.TrimSuffix(s.stderr.String(), "\n")
}

// stderrTail is the end of stderr for error messages: the last 20 lines, at
// most 4 KiB.
func (s *outputSink) stderrTail() string {
	_, stderr := s.results()
	stderr = strings.TrimRight(stderr, "\r\n")
	if stderr == "" {
		return " (no stderr)"
	}
	lines := strings.Split(stderr, "\n")
	if len(lines) > 20 {
		lines = lines[len(lines)-20:]
	}
	tail := strings.Join(lines, "\n")
	if len(tail) > 4096 {
		tail = "..." + tail[len(tail)-4096:]
	}
	return "; stderr (tail):\n" + tail
}
