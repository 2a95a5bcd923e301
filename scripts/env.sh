# Sourced by the scripts: what mpirun needs on this kind of machine.
# As root (CI, containers) Open MPI refuses to run without these two.
export OMPI_ALLOW_RUN_AS_ROOT=1
export OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
# Let idle ranks yield the core (we often run more ranks than cores).
export OMPI_MCA_mpi_yield_when_idle=1
# No InfiniBand/UCX probing noise on machines without it.
export OMPI_MCA_btl=${OMPI_MCA_btl:-self,vader,tcp}
export OMPI_MCA_pml=${OMPI_MCA_pml:-ob1}
export OMPI_MCA_btl_tcp_if_include=${OMPI_MCA_btl_tcp_if_include:-lo}
export OMPI_MCA_oob_tcp_if_include=${OMPI_MCA_oob_tcp_if_include:-lo}
# One BLAS thread per rank unless the user says otherwise.
export OPENBLAS_NUM_THREADS=${OPENBLAS_NUM_THREADS:-1}
