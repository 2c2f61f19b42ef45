package main

// etcd snapshots, following k3s pkg/etcd/snapshot.go and pkg/cli/etcdsnapshot:
//   - a snapshot of the local member is saved as <data-dir>/server/db/snapshots/<name>-<node>-<unix
//     time> (snapshotDir, snapshot(): "%s-%s-%d" of the snapshot name, NODE_NAME and the time
//     rounded to the second); scheduled ones are named by etcd-snapshot-name ("etcd-snapshot"),
//     on-demand ones by --name ("on-demand");
//   - after a scheduled save, snapshotRetention keeps the newest etcd-snapshot-retention (5)
//     files of that name and node and deletes the rest; `prune` does the same for --name;
//   - the schedule is etcd-snapshot-schedule-cron ("0 */12 * * *"), a standard 5-field spec
//     read with robfig/cron, as k3s does; etcd-disable-snapshots turns it off;
//   - `k3s etcd-snapshot save|ls|list|delete|prune` on a server.
// Differences: k3s's CLI asks the running server to take the snapshot (its supervisor API);
// the stand-in's CLI saves it itself with Debian's etcdctl against the local member, with the
// same client certificate. No compression, no S3, no ETCDSnapshotFile objects.

import (
	"fmt"
	"log"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/robfig/cron/v3"
)

const (
	defaultSnapshotCron      = "0 */12 * * *"
	defaultSnapshotRetention = 5
	scheduledSnapshotName    = "etcd-snapshot"
	onDemandSnapshotName     = "on-demand"
)

func snapshotDir() string { return filepath.Join(dataDir, "server", "db", "snapshots") }

// saveSnapshot writes a snapshot of the local etcd member and returns its file name.
func saveSnapshot(name, node string) (string, error) {
	dir := snapshotDir()
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", err
	}
	file := fmt.Sprintf("%s-%s-%d", name, node, time.Now().Round(time.Second).Unix())
	path := filepath.Join(dir, file)
	log.Printf("Saving etcd snapshot to %s", path)
	d := etcdTLSDir()
	cmd := exec.Command("etcdctl", "--endpoints=https://127.0.0.1:2379", "--cacert="+filepath.Join(tlsDir(), "etcd-ca.crt"),
		"--cert="+filepath.Join(d, "client.crt"), "--key="+filepath.Join(d, "client.key"), "--command-timeout=60s",
		"snapshot", "save", path+".part")
	cmd.Env = append(os.Environ(), "ETCDCTL_API=3")
	if out, err := cmd.CombinedOutput(); err != nil {
		os.Remove(path + ".part")
		return "", fmt.Errorf("etcdctl snapshot save: %v: %s", err, strings.TrimSpace(string(out)))
	}
	if err := os.Rename(path+".part", path); err != nil {
		return "", err
	}
	return file, nil
}

type snapshotFile struct {
	name    string
	size    int64
	created time.Time
}

// listSnapshots reads the directory as listLocalSnapshots does: the time is the name's last
// dash-separated field, else the file's modification time.
func listSnapshots() ([]snapshotFile, error) {
	entries, err := os.ReadDir(snapshotDir())
	if os.IsNotExist(err) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var out []snapshotFile
	for _, e := range entries {
		if e.IsDir() || strings.HasSuffix(e.Name(), ".part") {
			continue
		}
		info, err := e.Info()
		if err != nil {
			return nil, err
		}
		created := info.ModTime()
		if ts, err := strconv.ParseInt(e.Name()[strings.LastIndexByte(e.Name(), '-')+1:], 10, 64); err == nil {
			created = time.Unix(ts, 0)
		}
		out = append(out, snapshotFile{name: e.Name(), size: info.Size(), created: created})
	}
	return out, nil
}

// pruneSnapshots follows snapshotRetention: of the files named <prefix>-<time>, the newest
// `retention` stay.
func pruneSnapshots(prefix string, retention int) ([]string, error) {
	if retention < 1 {
		return nil, nil
	}
	all, err := listSnapshots()
	if err != nil {
		return nil, err
	}
	var mine []snapshotFile
	for _, f := range all {
		if strings.HasPrefix(f.name, prefix+"-") {
			mine = append(mine, f)
		}
	}
	sort.Slice(mine, func(i, j int) bool { return mine[i].created.After(mine[j].created) })
	var deleted []string
	for _, f := range mine[min(retention, len(mine)):] {
		if err := os.Remove(filepath.Join(snapshotDir(), f.name)); err != nil {
			return deleted, err
		}
		log.Printf("Removing local snapshot %s", f.name)
		deleted = append(deleted, f.name)
	}
	return deleted, nil
}

// startSnapshotSchedule runs scheduled snapshots in the server, as k3s's etcd does once the
// member is up. Returns a stop function.
func startSnapshotSchedule(cfg *Config) (func(), error) {
	if cfg.DisableSnapshots {
		log.Printf("etcd snapshots are disabled (etcd-disable-snapshots)")
		return func() {}, nil
	}
	c := cron.New()
	if _, err := c.AddFunc(cfg.SnapshotCron, func() {
		file, err := saveSnapshot(scheduledSnapshotName, cfg.NodeName)
		if err != nil {
			log.Printf("Failed to take scheduled etcd snapshot: %v", err)
			return
		}
		log.Printf("Scheduled etcd snapshot %s saved", file)
		if _, err := pruneSnapshots(scheduledSnapshotName+"-"+cfg.NodeName, cfg.SnapshotRetention); err != nil {
			log.Printf("Failed to apply local snapshot retention policy: %v", err)
		}
	}); err != nil {
		return nil, fmt.Errorf("etcd-snapshot-schedule-cron %q: %w", cfg.SnapshotCron, err)
	}
	c.Start()
	log.Printf("etcd snapshots scheduled (%s), keeping %d", cfg.SnapshotCron, cfg.SnapshotRetention)
	return func() { c.Stop() }, nil
}

// etcdSnapshotMain is `k3s etcd-snapshot <save|ls|list|delete|prune> [--name N] [--etcd-snapshot-retention N]`.
func etcdSnapshotMain(args []string) int {
	if len(args) == 0 {
		fmt.Fprintln(os.Stderr, "usage: k3s etcd-snapshot save|ls|delete|prune [--name NAME] [--etcd-snapshot-retention N]")
		return 1
	}
	sub, rest := args[0], args[1:]
	name := onDemandSnapshotName
	retention := defaultSnapshotRetention
	var names []string
	for i := 0; i < len(rest); i++ {
		flag, val, has := strings.Cut(strings.TrimPrefix(rest[i], "--"), "=")
		if !strings.HasPrefix(rest[i], "--") {
			names = append(names, rest[i])
			continue
		}
		if !has && i+1 < len(rest) {
			i++
			val = rest[i]
		}
		switch flag {
		case "name":
			name = val
		case "etcd-snapshot-retention", "snapshot-retention":
			n, err := strconv.Atoi(val)
			if err != nil {
				fmt.Fprintf(os.Stderr, "--%s: %v\n", flag, err)
				return 1
			}
			retention = n
		default:
			log.Printf("stand-in: etcd-snapshot flag --%s ignored", flag)
		}
	}
	cfg, err := loadConfig("server", nil)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	switch sub {
	case "save":
		file, err := saveSnapshot(name, cfg.NodeName)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		fmt.Printf("Snapshot %s saved.\n", file)
	case "ls", "list":
		files, err := listSnapshots()
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		fmt.Printf("%-50s %-90s %-10s %s\n", "Name", "Location", "Size", "Created")
		for _, f := range files {
			fmt.Printf("%-50s %-90s %-10d %s\n", f.name, "file://"+filepath.Join(snapshotDir(), f.name), f.size, f.created.UTC().Format(time.RFC3339))
		}
	case "delete", "rm":
		for _, n := range names {
			if err := os.Remove(filepath.Join(snapshotDir(), filepath.Base(n))); err != nil {
				fmt.Fprintln(os.Stderr, err)
				return 1
			}
			fmt.Printf("Snapshot %s deleted.\n", n)
		}
	case "prune":
		deleted, err := pruneSnapshots(name+"-"+cfg.NodeName, retention)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		for _, d := range deleted {
			fmt.Printf("Snapshot %s deleted.\n", d)
		}
	default:
		fmt.Fprintf(os.Stderr, "k3s etcd-snapshot: unknown command %q\n", sub)
		return 1
	}
	return 0
}
