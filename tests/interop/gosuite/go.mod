module minirpc/interop/gosuite

go 1.19
