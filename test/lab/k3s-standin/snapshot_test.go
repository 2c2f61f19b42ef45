package main

import (
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"testing"
)

// Retention as k3s's snapshotRetention: of one name and node, the newest N (by the time in the
// name) stay; other names and other nodes are left alone.
func TestPruneKeepsTheNewestOfOneNameAndNode(t *testing.T) {
	useTempDataDir(t)
	if err := os.MkdirAll(snapshotDir(), 0o700); err != nil {
		t.Fatal(err)
	}
	files := []string{}
	for _, ts := range []int{1700000300, 1700000100, 1700000500, 1700000200, 1700000400} {
		files = append(files, fmt.Sprintf("etcd-snapshot-rasp04-%d", ts))
	}
	files = append(files, "etcd-snapshot-rasp09-1700000000", "on-demand-rasp04-1600000000", "etcd-snapshot-rasp04-1700000600.part")
	for _, f := range files {
		if err := os.WriteFile(filepath.Join(snapshotDir(), f), []byte("x"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	deleted, err := pruneSnapshots("etcd-snapshot-rasp04", 2)
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(deleted)
	want := []string{"etcd-snapshot-rasp04-1700000100", "etcd-snapshot-rasp04-1700000200", "etcd-snapshot-rasp04-1700000300"}
	if !reflect.DeepEqual(deleted, want) {
		t.Fatalf("deleted %v, want %v", deleted, want)
	}
	left, err := listSnapshots()
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, f := range left {
		names = append(names, f.name)
	}
	sort.Strings(names)
	wantLeft := []string{"etcd-snapshot-rasp04-1700000400", "etcd-snapshot-rasp04-1700000500", "etcd-snapshot-rasp09-1700000000", "on-demand-rasp04-1600000000"}
	if !reflect.DeepEqual(names, wantLeft) {
		t.Fatalf("left %v, want %v (a .part file is not a snapshot)", names, wantLeft)
	}
}
