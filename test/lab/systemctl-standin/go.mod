module picluster.local/systemctl-standin

go 1.22
