"""Failure handling: a rank that raises ends the whole job instead of leaving the others
waiting forever in a collective.

    from dlcore.distributed import create_communicator, run_or_abort
    comm = create_communicator()
    run_or_abort(main, comm)             # or: with abort_on_error(comm): main()

On an exception the rank prints ``[rank r/size] <traceback>`` to stderr and calls
``comm.abort(1)`` (``MPI_Abort`` on ``COMM_WORLD``): mpirun kills every rank and exits
non-zero within seconds. (``python -m mpi4py script.py`` gives the same for any script.)
A rank killed outright (SIGKILL, out of memory) is seen by mpirun, which also ends the job.
"""
from __future__ import annotations

import contextlib
import sys
import traceback


@contextlib.contextmanager
def abort_on_error(comm, code: int = 1):
    """Run the block; on any exception (``SystemExit(0)`` aside) abort every rank with ``code``."""
    try:
        yield
    except SystemExit as stop:
        if stop.code in (None, 0) or comm.size == 1:
            raise
        print(f"[rank {comm.rank}/{comm.size}] exited with {stop.code}; aborting the job",
              file=sys.stderr, flush=True)
        comm.abort(stop.code if isinstance(stop.code, int) else code)
    except BaseException:  # noqa: BLE001 - any error must stop the other ranks
        if comm.size == 1:
            raise
        text = traceback.format_exc()
        print(f"[rank {comm.rank}/{comm.size}] failed; aborting the job:\n{text}", file=sys.stderr, flush=True)
        comm.abort(code)


def run_or_abort(main, comm, *args, **kwargs):
    """``main(*args, **kwargs)`` under ``abort_on_error(comm)``; returns its result."""
    with abort_on_error(comm):
        return main(*args, **kwargs)
