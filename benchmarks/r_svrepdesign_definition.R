# Time R survey's svrepdesign() at 1,000,000 rows x 80 bootstrap replicate columns (synthetic).
# Quoted in benchmarks/README.md, session 8: 3.9-6.2 s (R 4.2.2, survey 4.1-1), because
# svrepdesign computes the QR rank of the replicate weights (degf) at definition.
# Usage: Rscript benchmarks/r_svrepdesign_definition.R
library(survey)
set.seed(1); n <- 1e6; R <- 80
d <- data.frame(w = runif(n) + 1, score = rnorm(n, 59, 10))
rw <- matrix(rexp(n * R), ncol = R) * d$w
for (k in 1:3) print(system.time(des <- svrepdesign(data = d, repweights = rw, weights = ~w, type = "bootstrap", combined.weights = TRUE))[["elapsed"]])
print(system.time(m <- svymean(~score, des))[["elapsed"]])
print(degf(des))
