package main

// `k3s server --cluster-reset [--cluster-reset-restore-path FILE]`, following k3s
// pkg/etcd/etcd.go (Reset): with a restore path the snapshot replaces the member's data (the old
// data is moved aside, as k3s keeps it as etcd-old-<time>); etcd then starts as a cluster of
// this one member (k3s's ForceNewCluster); once the member list holds only this member, k3s
// logs "Managed etcd cluster membership has been reset, restart without --cluster-reset flag
// now. Backup and delete ${datadir}/server/db on each peer etcd server and rejoin the nodes"
// and exits 0. The server is then started normally, and every other server has its
// server/db removed and is started again, joining as a new member.
// Differences: the restore is Debian's `etcdctl snapshot restore`; k3s also checks the token
// against the snapshot's encrypted bootstrap data, which the stand-in keeps outside etcd.

import (
	"context"
	"fmt"
	"log"
	"os"
	"os/exec"
	"strings"
	"time"
)

const resetDoneMessage = "Managed etcd cluster membership has been reset, restart without --cluster-reset flag now. " +
	"Backup and delete ${datadir}/server/db on each peer etcd server and rejoin the nodes"

func clusterReset(cfg *Config) error {
	raw, err := os.ReadFile(etcdNameFile())
	if err != nil {
		return fmt.Errorf("cluster-reset: this server has no etcd member to reset (%v)", err)
	}
	name := strings.TrimSpace(string(raw))
	peer := "https://" + cfg.NodeIP + ":2380"
	if cfg.ClusterResetRestorePath != "" {
		if _, err := os.Stat(cfg.ClusterResetRestorePath); err != nil {
			return fmt.Errorf("cluster-reset-restore-path: %w", err)
		}
		old := fmt.Sprintf("%s-old-%d", etcdDir(), time.Now().Unix())
		if err := os.Rename(etcdDir(), old); err != nil && !os.IsNotExist(err) {
			return err
		}
		log.Printf("Pre-restore etcd database moved to %s", old)
		cmd := exec.Command("etcdctl", "snapshot", "restore", cfg.ClusterResetRestorePath, "--name="+name,
			"--data-dir="+etcdDir(), "--initial-cluster="+name+"="+peer, "--initial-advertise-peer-urls="+peer)
		cmd.Env = append(os.Environ(), "ETCDCTL_API=3")
		if out, err := cmd.CombinedOutput(); err != nil {
			return fmt.Errorf("etcdctl snapshot restore: %v: %s", err, strings.TrimSpace(string(out)))
		}
		log.Printf("etcd snapshot %s restored into %s", cfg.ClusterResetRestorePath, etcdDir())
	}
	if err := etcdCerts(cfg.NodeIP); err != nil {
		return err
	}
	etcdCmd, exited, err := runEtcd(name, cfg.NodeIP, "", "", &prefixWriter{prefix: "etcd: ", w: os.Stderr}, "--force-new-cluster")
	if err != nil {
		return err
	}
	defer func() {
		_ = etcdCmd.Process.Kill()
		<-exited
	}()
	c, err := newEtcdClient([]string{"https://127.0.0.1:2379"})
	if err != nil {
		return err
	}
	if err := waitEtcd(c, exited, 120*time.Second); err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	members, err := c.members(ctx)
	if err != nil {
		return err
	}
	if len(members) != 1 || members[0].Name != name {
		return fmt.Errorf("cluster-reset: etcd still lists %d members", len(members))
	}
	log.Print(resetDoneMessage)
	return nil
}
