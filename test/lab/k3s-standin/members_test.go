package main

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// A removed member leaves a tombstone; the next start moves the etcd data aside (k3s keeps it as
// a backup) and forgets the member's name, so the server joins again as a new member.
func TestTombstoneMovesTheEtcdDataAsideOnce(t *testing.T) {
	useTempDataDir(t)
	if err := os.MkdirAll(filepath.Join(etcdDir(), "member", "wal"), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(etcdNameFile(), []byte("rasp05-1a2b\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if took, err := takeTombstone(); err != nil || took {
		t.Fatalf("no tombstone: took=%v err=%v", took, err)
	}
	if err := writeTombstone(); err != nil {
		t.Fatal(err)
	}
	took, err := takeTombstone()
	if err != nil || !took {
		t.Fatalf("tombstone: took=%v err=%v", took, err)
	}
	if dirHas(filepath.Join(etcdDir(), "member")) {
		t.Fatal("the etcd data is still where a start would use it")
	}
	if _, err := os.Stat(etcdNameFile()); !os.IsNotExist(err) {
		t.Fatalf("the member name survived: %v", err)
	}
	backups, _ := filepath.Glob(etcdDir() + "-backup-*")
	if len(backups) != 1 || !dirHas(filepath.Join(backups[0], "member")) {
		t.Fatalf("backups %v", backups)
	}
	if took, _ := takeTombstone(); took {
		t.Fatal("a second start found the tombstone again")
	}
}

func TestRemovalWatchSeesEtcdSayingTheMemberWasRemoved(t *testing.T) {
	var out bytes.Buffer
	w := newRemovalWatch(&out)
	_, _ = w.Write([]byte(`{"level":"warn","msg":"rejected stream from remote peer"}` + "\n"))
	select {
	case <-w.removed:
		t.Fatal("fired on an unrelated line")
	default:
	}
	line := `{"level":"warn","msg":"server error","error":"` + memberRemovedText + `"}` + "\n"
	_, _ = w.Write([]byte(line))
	_, _ = w.Write([]byte(line)) // twice: no panic on a closed channel
	select {
	case <-w.removed:
	case <-time.After(time.Second):
		t.Fatal("did not fire")
	}
	if !bytes.Contains(out.Bytes(), []byte("rejected stream")) {
		t.Fatal("the log is not passed through")
	}
}

func TestMemberBaseName(t *testing.T) {
	for name, want := range map[string]string{"t-s4-1a2b": "t-s4", "rasp05-00ff": "rasp05", "solo": "solo"} {
		if got := memberBaseName(name); got != want {
			t.Errorf("%s: %s, want %s", name, got, want)
		}
	}
}

// useTempDataDir points k3s's data directory at a fresh folder for one test.
func useTempDataDir(t *testing.T) {
	old := dataDir
	dataDir = t.TempDir()
	t.Cleanup(func() { dataDir = old })
}
