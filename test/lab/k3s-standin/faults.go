package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// refusedByLab is one of the lab's injected faults (not part of k3s; the folder is holdDir, as
// for the etcd removal hold in members.go): while <holdDir>/refuse-start.<node> names this
// binary's version, k3s on that node exits at once with an error, before it touches its data,
// as a new release that cannot start there would. The lab uses it to make a rolling upgrade
// fail on one server (test/lab/e2e.test.ts); the old release on the same node still starts.
func refusedByLab(node string) error {
	if holdDir == "" {
		return nil
	}
	b, err := os.ReadFile(filepath.Join(holdDir, "refuse-start."+node))
	if err != nil || strings.TrimSpace(string(b)) != version {
		return nil
	}
	return fmt.Errorf("stand-in: the lab made k3s %s refuse to start on %s (%s)", version, node, filepath.Join(holdDir, "refuse-start."+node))
}
