module minirpc/interop/goapp

go 1.19
