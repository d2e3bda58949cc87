"""Beyond one process: trials and sweeps over Dask (:mod:`engine.parallel.distributed`), one network over MPI ranks
(:mod:`engine.parallel.mpi`)."""
