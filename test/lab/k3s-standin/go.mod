module picluster/test/lab/k3s-standin

go 1.24
