module minirpc/benchmarks/gobench

go 1.19
