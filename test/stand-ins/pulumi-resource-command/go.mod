module pi-k3s-ha/test/stand-ins/pulumi-resource-command

go 1.26.6
