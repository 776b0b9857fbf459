module oak/bench

go 1.19
