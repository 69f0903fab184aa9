"""Communicators: rank, size, parameter broadcast and gradient averaging across processes.

A ``Communicator`` does the bookkeeping once for every transport: it packs arrays into ONE
contiguous flat buffer per dtype (normally a single float buffer for all gradients), hands
that buffer to the transport's two primitives, and unpacks the result in place. A
transport subclass implements only

    _allreduce_sum(buf) -> array     # element-wise sum over ranks (in place or a new array)
    _bcast(buf, root) -> array       # root's buffer on every rank
    barrier(), abort(code)

and packing uses the arrays' own ``xp`` (NumPy or CuPy), so GPU gradients never leave the device.

- ``LocalCommunicator``: size 1, no MPI; every operation is the identity (single-process
  runs and unit tests take the same code path).
- ``MPICommunicator``: mpi4py on ``MPI.COMM_WORLD``; ``Allreduce(IN_PLACE, SUM)`` then
  divide by size, and ``Bcast`` on NumPy buffers (a CuPy buffer is staged through the host).
- ``NCCLCommunicator``: MPI launches, numbers the ranks and broadcasts NCCL's unique id;
  gradients and parameters on the GPU go through NCCL's ring allreduce/broadcast in place on
  CuPy's current stream. Each process drives one GPU, chosen by its rank on its node.

Gradient policy: a parameter whose ``grad`` is None on a rank contributes zeros; a small
"has gradient" count is summed over the ranks on the host, so a parameter that has no
gradient on ANY rank keeps ``grad = None`` (the optimizer skips it, as it would in one
process), and one that has a gradient somewhere gets the average over all ranks.
"""
from __future__ import annotations

import os
import sys
from contextlib import contextmanager

import numpy

import backends


def _named(model_or_params):
    """[(name, Parameter)] from a Module, a dict, (name, p) pairs or plain parameters."""
    if hasattr(model_or_params, "named_parameters"):
        return list(model_or_params.named_parameters())
    if isinstance(model_or_params, dict):
        return list(model_or_params.items())
    items = list(model_or_params)
    return [item if isinstance(item, tuple) else (str(i), item) for i, item in enumerate(items)]


def pack(arrays, xp=None):
    """One contiguous 1-D buffer holding ``arrays`` (all of one dtype) raveled end to end."""
    arrays = list(arrays)
    if xp is None:
        xp = backends.get_array_module(*arrays, op="pack")
    if not arrays:
        return xp.zeros(0)
    return xp.concatenate([xp.ravel(a) for a in arrays])


def unpack(buf, like):
    """Views of ``buf`` shaped as the arrays in ``like`` (the inverse of ``pack``)."""
    out, start = [], 0
    for a in like:
        stop = start + a.size
        out.append(buf[start:stop].reshape(a.shape))
        start = stop
    if start != buf.size:
        raise ValueError(f"unpack: buffer has {buf.size} elements, the arrays need {start}")
    return out


def _by_dtype(items):
    """{dtype: [(key, array)]} in first-seen order, so every rank groups identically."""
    groups: dict = {}
    for key, a in items:
        groups.setdefault(numpy.dtype(a.dtype), []).append((key, a))
    return groups


class Communicator:
    """Base class: ``rank``, ``size`` and the collective operations built on two primitives."""

    rank: int = 0
    size: int = 1
    name = "base"
    distributed = True  # collectives really run (False only for LocalCommunicator)

    # ---- the transport's primitives -------------------------------------------------------
    def _allreduce_sum(self, buf):
        raise NotImplementedError

    def _bcast(self, buf, root: int = 0):
        raise NotImplementedError

    def barrier(self) -> None:
        raise NotImplementedError

    def abort(self, code: int = 1) -> None:
        """End every rank of the job with exit status ``code`` (never returns)."""
        os._exit(code)

    # ---- conveniences --------------------------------------------------------------------
    @property
    def is_main(self) -> bool:
        """True on rank 0, the only rank that writes logs, checkpoints and plots."""
        return self.rank == 0

    def __repr__(self) -> str:
        return f"{type(self).__name__}(rank={self.rank}, size={self.size})"

    # ---- collectives ---------------------------------------------------------------------
    def broadcast_parameters(self, model, root: int = 0) -> None:
        """Copy rank ``root``'s parameters and buffers (e.g. BatchNorm statistics) into every
        rank's ``model`` in place (arrays keep their identity; one flat buffer per dtype)."""
        items = [(n, p.data) for n, p in model.named_parameters()]
        items += [(n, b) for n, b in model.named_buffers()]
        if not self.distributed or not items:
            return
        for _, group in _by_dtype(items).items():
            arrays = [a for _, a in group]
            buf = self._bcast(pack(arrays), root)
            for a, view in zip(arrays, unpack(buf, arrays)):
                a[...] = view

    def allreduce_grads(self, model_or_params) -> None:
        """Average every parameter's ``grad`` over the ranks, in place: per dtype, all
        gradients go into ONE flat buffer and one allreduce.

        Which parameters have a gradient is host knowledge, so it is counted on the host:
        the counts ride in the gradient buffer when that lives on the host (one collective),
        and travel in a small host allreduce of their own (MPI) when the gradients are on
        the GPU, so the step never waits for the device to read them back.
        """
        params = [p for _, p in _named(model_or_params)]
        if not self.distributed or not params:
            return
        for dtype, group in _by_dtype([(p, p.data) for p in params]).items():
            ps = [p for p, _ in group]
            backend = backends.backend_of(ps[0].data)
            grads = [p.grad if p.grad is not None else backend.xp.zeros_like(p.data) for p in ps]
            has_grad = numpy.array([p.grad is not None for p in ps], dtype=dtype)
            if backend.name == "numpy":
                buf = self._allreduce_sum(pack(grads + [has_grad], numpy))
                *averaged, counts = unpack(buf, grads + [has_grad])
                grad_buf = buf[: buf.size - counts.size]
            else:
                counts = self._allreduce_sum(has_grad)
                grad_buf = self._allreduce_sum(pack(grads, backend.xp))
                averaged = unpack(grad_buf, grads)
            grad_buf /= self.size
            for p, g, c in zip(ps, averaged, counts):
                p.grad = g if c > 0 else None

    def allreduce_sum_array(self, buf):
        """The element-wise sum over ranks of ``buf`` (a contiguous NumPy or CuPy array of any
        shape), same dtype, shape and device; ``buf`` itself may be overwritten.

        NCCL sums a CuPy buffer in place on the current stream; MPI sums a NumPy buffer in
        place and stages a CuPy one through the host; ``LocalCommunicator`` returns ``buf``.
        Every rank must call it with the same shape and dtype (synchronised BatchNorm does).
        """
        return self._allreduce_sum(buf)

    def allreduce_sum(self, value):
        """The sum over ranks of a number or array (returned as a float or a NumPy float64 array)."""
        a = numpy.array(backends.to_numpy(value), dtype=numpy.float64)
        out = numpy.asarray(backends.to_numpy(self._allreduce_sum(a.reshape(-1).copy()))).reshape(a.shape)
        return float(out) if out.ndim == 0 else out

    def allreduce_mean(self, value):
        """The mean over ranks of a number or array (metrics: loss, accuracy, ...)."""
        total = self.allreduce_sum(value)
        return total / self.size

    allreduce_scalar = allreduce_mean

    def bcast_object(self, obj, root: int = 0):
        """A picklable Python object from ``root`` (small things: a seed, a run directory)."""
        return obj


class LocalCommunicator(Communicator):
    """One process, no MPI: rank 0 of size 1; every collective is the identity."""

    name = "local"
    distributed = False

    def _allreduce_sum(self, buf):
        return buf

    def _bcast(self, buf, root: int = 0):
        return buf

    def barrier(self) -> None:
        pass


class MPICommunicator(Communicator):
    """mpi4py on ``MPI.COMM_WORLD`` (or ``comm``): NumPy buffers, ``Allreduce``/``Bcast``.

    A CuPy buffer is copied to the host and back (correct, not fast: the NCCL communicator
    is the GPU path).
    """

    name = "mpi"

    def __init__(self, comm=None):
        try:
            from mpi4py import MPI
        except ImportError as why:
            raise ImportError("MPICommunicator needs mpi4py and an MPI library: "
                              "apt-get install openmpi-bin libopenmpi-dev; pip install mpi4py") from why
        self.MPI = MPI
        self.comm = comm if comm is not None else MPI.COMM_WORLD
        self.rank = self.comm.Get_rank()
        self.size = self.comm.Get_size()

    @staticmethod
    def _host(buf):
        return numpy.ascontiguousarray(backends.to_numpy(buf))

    def _allreduce_sum(self, buf):
        host = self._host(buf)
        self.comm.Allreduce(self.MPI.IN_PLACE, host, op=self.MPI.SUM)
        return host if isinstance(buf, numpy.ndarray) else backends.to_device(host, backends.backend_of(buf).name)

    def _bcast(self, buf, root: int = 0):
        host = self._host(buf)
        self.comm.Bcast(host, root=root)
        return host if isinstance(buf, numpy.ndarray) else backends.to_device(host, backends.backend_of(buf).name)

    def barrier(self) -> None:
        self.comm.Barrier()

    def bcast_object(self, obj, root: int = 0):
        return self.comm.bcast(obj, root=root)

    def abort(self, code: int = 1) -> None:
        sys.stdout.flush()
        sys.stderr.flush()
        self.comm.Abort(code)


class NCCLCommunicator(MPICommunicator):
    """GPU data parallelism: NCCL (``cupy.cuda.nccl``) for device buffers, MPI for the rest.

    Process ``r`` uses GPU ``local_rank % device_count``, where ``local_rank`` is its rank
    among the ranks of ``comm`` on its node (so one process per GPU needs no extra set-up; with
    ``CUDA_VISIBLE_DEVICES`` narrowed to one GPU per process it is device 0); see ``select_gpu``.
    It is counted in ``comm``, the communicator given, not in ``COMM_WORLD``: splitting that is a
    collective of every rank, which hangs when only some of them make an NCCL communicator.
    Rank 0 makes NCCL's unique id and MPI broadcasts it; then every rank joins one NCCL
    communicator. Host buffers (metrics) still travel over MPI.
    """

    name = "nccl"

    def __init__(self, comm=None):
        super().__init__(comm)
        import cupy
        from cupy.cuda import nccl
        if not getattr(nccl, "available", True):
            raise ImportError("NCCLCommunicator: this CuPy has no NCCL; pip install nvidia-nccl-cu13 "
                              "(or -cu12), or train on the CPU with --backend numpy")
        self.cupy, self.nccl = cupy, nccl
        self.local_rank, self.device = select_gpu(cupy, self.comm)
        unique_id = self.comm.bcast(nccl.get_unique_id() if self.rank == 0 else None, root=0)
        self.nccl_comm = nccl.NcclCommunicator(self.size, unique_id, self.rank)
        self._types = {numpy.dtype(numpy.float32): nccl.NCCL_FLOAT32,
                       numpy.dtype(numpy.float64): nccl.NCCL_FLOAT64}

    def _device_type(self, buf):
        """NCCL's dtype code for a contiguous CuPy buffer, or None (then MPI does it)."""
        if isinstance(buf, numpy.ndarray) or not buf.flags.c_contiguous:
            return None
        return self._types.get(numpy.dtype(buf.dtype))

    def _allreduce_sum(self, buf):
        kind = self._device_type(buf)
        if kind is None:
            return super()._allreduce_sum(buf)
        stream = self.cupy.cuda.get_current_stream().ptr
        self.nccl_comm.allReduce(buf.data.ptr, buf.data.ptr, buf.size, kind, self.nccl.NCCL_SUM, stream)
        return buf

    def _bcast(self, buf, root: int = 0):
        kind = self._device_type(buf)
        if kind is None:
            return super()._bcast(buf, root)
        self.nccl_comm.bcast(buf.data.ptr, buf.size, kind, root, self.cupy.cuda.get_current_stream().ptr)
        return buf


@contextmanager
def _node(mpi_comm):
    """The ranks of ``mpi_comm`` (an mpi4py communicator) on this node, as a communicator freed after
    the block (made collectively over ``mpi_comm``)."""
    from mpi4py import MPI
    node = mpi_comm.Split_type(MPI.COMM_TYPE_SHARED, key=mpi_comm.Get_rank())
    try:
        yield node
    finally:
        node.Free()


def local_rank(mpi_comm) -> int:
    """This process's rank among the ranks of ``mpi_comm`` (an mpi4py communicator) on its node."""
    with _node(mpi_comm) as node:
        return node.Get_rank()


def select_gpu(cupy, mpi_comm) -> tuple[int, int]:
    """(rank on the node, GPU): make GPU ``rank on node mod visible GPUs`` CuPy's current device, the
    ranks counted among those of ``mpi_comm`` on this node (collective over ``mpi_comm``).

    Every rank of the node first tells the others which GPU (by PCI bus id) it would take, so
    that all of them refuse alike (RuntimeError) when two would share one: more ranks on a node
    than it has GPUs for them (NCCL cannot run two ranks on one GPU).
    """
    with _node(mpi_comm) as node:
        rank_on_node = node.Get_rank()
        device = rank_on_node % cupy.cuda.runtime.getDeviceCount()
        refuse_shared_gpus(node.allgather(cupy.cuda.Device(device).pci_bus_id))
    return rank_on_node, use_local_gpu(cupy, rank_on_node)


def refuse_shared_gpus(gpus) -> None:
    """RuntimeError naming the ranks and GPUs when ``gpus`` (the PCI bus id of the GPU that each rank of
    one node would drive, in node-rank order) holds a GPU twice; None when every rank has its own."""
    ranks_of: dict = {}
    for rank, gpu in enumerate(gpus):
        ranks_of.setdefault(gpu, []).append(rank)
    shared = {gpu: ranks for gpu, ranks in ranks_of.items() if len(ranks) > 1}
    if shared:
        which = "; ".join(f"ranks {ranks} on node would share GPU {gpu}" for gpu, ranks in shared.items())
        raise RuntimeError(
            f"{len(gpus)} ranks on this node, but only {len(ranks_of)} GPU(s) for them: {which}. NCCL needs "
            f"one GPU per rank: start at most as many ranks per node as it has GPUs (e.g. mpirun "
            f"--map-by ppr:{len(ranks_of)}:node), or give each rank its own GPU with CUDA_VISIBLE_DEVICES")


def use_local_gpu(cupy, rank_on_node: int) -> int:
    """Make GPU ``rank_on_node mod (visible GPUs)`` CuPy's current device; returns its number.

    One process per GPU needs no other set-up; with ``CUDA_VISIBLE_DEVICES`` narrowed to one
    GPU per process this is device 0. Raises RuntimeError when dlcore's CuPy backend already
    exists on another GPU (arrays and handles made there would mix devices).
    """
    device = rank_on_node % cupy.cuda.runtime.getDeviceCount()
    made = backends.existing("cupy")
    if made is not None and made.device_id != device:
        raise RuntimeError(
            f"rank {rank_on_node} on this node trains on GPU {device}, but dlcore's CuPy backend was already "
            f"created on GPU {made.device_id} (its cuBLAS handle and random generator live there): create the "
            f"communicator, or call dlcore.distributed.select_gpu_before_backend(), before the first "
            f"backends.use('cupy')")
    cupy.cuda.Device(device).use()
    return device


def select_gpu_before_backend() -> int | None:
    """For GPU data-parallel runs: pick this rank's GPU before dlcore's CuPy backend exists.

    The backend makes its cuBLAS handle and random generator on the current device when it is
    first used, so a rank must switch to its own GPU first. Returns the device, or None when
    CuPy or mpi4py is missing (then the run is on the CPU or single-process anyway).
    """
    try:
        import cupy
        from mpi4py import MPI
    except ImportError:
        return None
    try:
        if cupy.cuda.runtime.getDeviceCount() == 0:
            return None
    except cupy.cuda.runtime.CUDARuntimeError:  # no driver: the backend choice reports it
        return None
    return select_gpu(cupy, MPI.COMM_WORLD)[1]


def launched_by_mpi() -> bool:
    """Whether this process looks started by mpirun/mpiexec/srun with more than one rank."""
    for var in ("OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "PMIX_SIZE", "MPI_LOCALNRANKS"):
        try:
            if int(os.environ.get(var, "1")) > 1:
                return True
        except ValueError:
            pass
    return False


def create_communicator(backend: str | None = None) -> Communicator:
    """The communicator for ``backend`` (default: the active one, chosen now if none is yet).

    With mpi4py: ``MPICommunicator`` for NumPy, ``NCCLCommunicator`` for CuPy. Without mpi4py
    a single process gets a ``LocalCommunicator`` (size 1), while a process started by mpirun
    with several ranks raises ImportError (N copies each believing it is alone would silently
    train N models). Where the CuPy backend may be about to be created, this rank's GPU is
    selected first (``select_gpu_before_backend``), so "auto" on a node of several GPUs puts
    each rank on its own.
    """
    if backend == "cupy" or backend is None and backends.chosen() is None:
        select_gpu_before_backend()
    name = backend or backends.current().name
    if name not in ("numpy", "cupy"):
        raise ValueError(f"create_communicator: unknown backend {name!r}")
    try:
        import mpi4py  # noqa: F401
    except ImportError:
        if launched_by_mpi():
            raise ImportError("started by mpirun with several ranks but mpi4py is missing: "
                              "apt-get install openmpi-bin libopenmpi-dev; pip install mpi4py") from None
        return LocalCommunicator()
    return NCCLCommunicator() if name == "cupy" else MPICommunicator()
