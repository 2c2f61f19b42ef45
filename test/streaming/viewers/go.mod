module picluster/test/streaming/viewers

go 1.24
