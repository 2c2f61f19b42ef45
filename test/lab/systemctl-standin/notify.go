package main

// The service side of sd_notify(3): systemd passes a unix datagram socket in $NOTIFY_SOCKET and
// a Type=notify service is started once a datagram with the line READY=1 arrives there (k3s
// sends it through github.com/coreos/go-systemd's daemon.SdNotify when its API is up).

import (
	"net"
	"strings"
)

func listenNotify(path string, ready chan<- struct{}) (*net.UnixConn, error) {
	conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: path, Net: "unixgram"})
	if err != nil {
		return nil, err
	}
	go func() {
		buf := make([]byte, 4096)
		for {
			n, _, err := conn.ReadFromUnix(buf)
			if err != nil {
				return
			}
			for _, line := range strings.Split(string(buf[:n]), "\n") {
				if line == "READY=1" {
					select {
					case ready <- struct{}{}:
					default:
					}
				}
			}
		}
	}()
	return conn, nil
}
