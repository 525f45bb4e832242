module minirpc.test/gohttp

go 1.19
