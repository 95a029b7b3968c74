"""Encode with several worker processes (several GPUs, or several CPU processes).

A *pool* is a few worker processes, each holding a copy of the model on one device. ``encode``
cuts the inputs into chunks, puts them on the pool's input queue, and puts the answers back in
input order; quantization (``precision``) and the numpy/tensor conversion then happen in the
calling process, so the result is the same as a plain ``encode`` call::

    from sentrix import SentenceTransformer

    if __name__ == "__main__":          # required: the workers are started with "spawn"
        model = SentenceTransformer("path/to/model")
        pool = model.start_multi_process_pool()      # every GPU, else ["cpu"] * 4
        # or: model.start_multi_process_pool(["cuda:0", "cuda:1"]) / (["cpu"] * 2)
        try:
            embeddings = model.encode(texts, pool=pool, batch_size=64, chunk_size=1000)
        finally:
            model.stop_multi_process_pool(pool)

    # one-off: a list of devices starts a pool for this call only and stops it afterwards
    embeddings = model.encode(texts, device=["cuda:0", "cuda:1"])

Things to know:

* Workers are started with the ``spawn`` method, so a script that starts a pool must guard its
  top-level code with ``if __name__ == "__main__":`` (each worker re-imports the main module).
  Starting a worker imports torch and unpickles the model: expect a few seconds per pool, so
  start one pool and reuse it for many ``encode`` calls.
* ``start_multi_process_pool`` moves the model to the CPU and puts its weights in shared memory
  (the model stays on the CPU afterwards); each worker then moves its copy to its device. Changes
  you make to the model after starting the pool do not reach the workers: start a new pool.
* ``chunk_size`` (default: about a tenth of each worker's share, at most 5000) is how many inputs
  one worker takes at a time; every worker still batches its chunk by ``batch_size``.
* A worker error (for example a CUDA out-of-memory) is raised in the caller with the worker's
  message. If a worker dies (killed, segfault), ``encode`` raises ``RuntimeError`` instead of
  waiting forever: stop that pool and start a new one.
* CPU workers share the cores: each uses ``cpu_count() // number of CPU workers`` torch threads
  (at least 1) unless ``OMP_NUM_THREADS`` is set. More CPU workers than cores only adds overhead.
* Always call ``stop_multi_process_pool(pool)``; the workers are daemon processes, so they also
  end when your program ends.

The pool is a plain dict ``{"input": Queue, "output": Queue, "processes": [Process, ...]}``,
the same shape as in sentence-transformers.
"""

from __future__ import annotations

import logging
import math
import os
import pickle
import queue as queue_module
import traceback
from typing import Any, Sequence

import torch
from torch import Tensor
from tqdm.autonotebook import trange

from sentrix.errors import InvalidInputError

logger = logging.getLogger(__name__)

Pool = dict  # {"input": Queue, "output": Queue, "processes": list[Process]}
POLL_SECONDS = 1.0


def default_target_devices() -> list[str]:
    """Every CUDA (or NPU) device; without one, four CPU processes."""
    if torch.cuda.is_available():
        return [f"cuda:{index}" for index in range(torch.cuda.device_count())]
    npu = getattr(torch, "npu", None)
    if npu is not None and npu.is_available():
        return [f"npu:{index}" for index in range(npu.device_count())]
    logger.info("CUDA/NPU is not available. Starting 4 CPU workers")
    return ["cpu"] * 4


def start_pool(model: Any, target_devices: Sequence[Any] | None = None) -> Pool:
    """Start one worker process per entry of ``target_devices``; see the module docstring."""
    if _dispatched(model):
        raise InvalidInputError(
            "Multi-process encoding places the model on each target device itself, which a model dispatched "
            "by accelerate (loaded with a device_map) does not allow. Fix: load it without device_map to encode "
            "with a pool."
        )
    if target_devices is None:
        target_devices = default_target_devices()
    if isinstance(target_devices, (str, torch.device)):
        target_devices = [target_devices]
    target_devices = [str(device) for device in target_devices]
    if not target_devices:
        raise InvalidInputError("target_devices is empty. Fix: pass e.g. ['cuda:0', 'cuda:1'] or ['cpu', 'cpu'].")
    logger.info("Starting multi-process pool on devices: %s", ", ".join(target_devices))

    import torch.multiprocessing as mp

    model.to("cpu")  # the workers get the weights through shared CPU memory
    model.share_memory()
    context = mp.get_context("spawn")
    input_queue = context.Queue()
    output_queue = context.Queue()
    processes = []
    threads = _cpu_threads_per_worker(sum(device.startswith("cpu") for device in target_devices))
    for device in target_devices:
        process = context.Process(
            target=_worker, args=(device, model, input_queue, output_queue, threads), daemon=True
        )
        process.start()
        processes.append(process)
    return {"input": input_queue, "output": output_queue, "processes": processes}


def stop_pool(pool: Pool) -> None:
    """Terminate the pool's processes and close its queues."""
    for process in pool["processes"]:
        process.terminate()
    for process in pool["processes"]:
        process.join()
        process.close()
    pool["input"].cancel_join_thread()
    pool["input"].close()
    pool["output"].close()


def run(
    model: Any,
    inputs: list,
    pool: Pool | None = None,
    devices: Sequence[Any] | None = None,
    chunk_size: int | None = None,
    show_progress_bar: bool = False,
    **inference_kwargs: Any,
) -> Any:
    """Run ``model._inference`` over ``inputs`` in ``pool`` (or a pool started on ``devices`` for
    this call only); returns what ``_inference`` would return for all inputs, on the CPU."""
    if chunk_size is not None and (isinstance(chunk_size, bool) or not isinstance(chunk_size, int) or chunk_size <= 0):
        raise InvalidInputError(f"chunk_size must be a positive integer, got {chunk_size!r}.")
    if not inputs:
        if inference_kwargs.get("output_value", "sentence_embedding") == "sentence_embedding":
            return torch.tensor([])
        return []
    inference_kwargs["show_progress_bar"] = False  # one bar per worker would interleave
    own_pool = pool is None
    if own_pool:
        pool = start_pool(model, devices)
    try:
        if chunk_size is None:
            chunk_size = max(1, min(math.ceil(len(inputs) / len(pool["processes"]) / 10), 5000))
        starts = range(0, len(inputs), chunk_size)
        for chunk_id, start in enumerate(starts):
            pool["input"].put([chunk_id, inputs[start : start + chunk_size], inference_kwargs])
        outputs: list[Any] = [None] * len(starts)
        for _ in trange(len(starts), desc="Chunks", disable=not show_progress_bar):
            chunk_id, output = _next_result(pool)
            outputs[chunk_id] = _unpack(output)
        for output in outputs:
            if isinstance(output, BaseException):
                raise output
        if isinstance(outputs[0], Tensor):
            return torch.cat(outputs)
        return [item for chunk in outputs for item in chunk]
    finally:
        if own_pool:
            stop_pool(pool)


def _next_result(pool: Pool) -> Any:
    """The next ``[chunk_id, output]`` from the workers; raises if a worker died instead of waiting forever."""
    while True:
        try:
            return pool["output"].get(timeout=POLL_SECONDS)
        except queue_module.Empty:
            pass
        dead = [process for process in pool["processes"] if not process.is_alive()]
        if dead:
            details = ", ".join(f"pid {process.pid} (exit code {process.exitcode})" for process in dead)
            raise RuntimeError(
                f"{len(dead)} multi-process pool worker(s) died unexpectedly: {details}. Fix: stop the pool with "
                "stop_multi_process_pool(pool) and start a new one before retrying."
            )


def _cpu_threads_per_worker(cpu_workers: int) -> int | None:
    """Torch threads for each CPU worker: the cores shared out between them (None: torch's default,
    when there are no CPU workers or OMP_NUM_THREADS is set)."""
    if not cpu_workers or os.environ.get("OMP_NUM_THREADS"):
        return None
    return max(1, (os.cpu_count() or 1) // cpu_workers)


def _worker(device: str, model: Any, input_queue: Any, output_queue: Any, cpu_threads: int | None = None) -> None:
    """Worker loop: encode each chunk on ``device`` and send ``[chunk_id, output]`` back. Ended by
    ``stop_pool`` (terminate)."""
    if cpu_threads and device.startswith("cpu"):
        torch.set_num_threads(cpu_threads)  # N workers x all cores each would oversubscribe the CPU
    while True:
        chunk_id, inputs, kwargs = input_queue.get()
        try:
            output = _pack(model._inference(inputs, device=device, **kwargs))
        except Exception as exc:  # reported to the caller, who raises it
            output_queue.put([chunk_id, _portable(exc, device, chunk_id)])
        else:
            output_queue.put([chunk_id, output])


def _portable(exc: Exception, device: str, chunk_id: int) -> Exception:
    """``exc`` if it survives pickling, else a RuntimeError holding its traceback text."""
    logger.error("Worker on %s failed on chunk %d: %s: %s", device, chunk_id, type(exc).__name__, exc)
    try:
        copy = pickle.loads(pickle.dumps(exc))
        if str(copy) == str(exc):
            return exc
    except Exception:
        pass
    return RuntimeError(
        f"Multi-process worker on {device} failed: "
        + "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
    )


class _Packed:
    """A CPU tensor sent by value (its bytes in the pickle): for small results this is much faster
    than torch's shared-memory hand-over, which opens a file and a socket per tensor."""

    __slots__ = ("array", "dtype")

    def __init__(self, tensor: Tensor) -> None:
        self.dtype = tensor.dtype
        if tensor.dtype == torch.bfloat16:  # numpy has no bfloat16: carry the raw 16-bit words
            tensor = tensor.view(torch.int16)
        self.array = tensor.detach().cpu().numpy()

    def __getstate__(self) -> tuple:
        return self.array, self.dtype

    def __setstate__(self, state: tuple) -> None:
        self.array, self.dtype = state

    def unpack(self) -> Tensor:
        tensor = torch.from_numpy(self.array)
        return tensor.view(torch.bfloat16) if self.dtype == torch.bfloat16 else tensor


def _pack(value: Any) -> Any:
    """Worker side: every tensor in ``value`` (lists and dicts too) moved to the CPU and packed."""
    if isinstance(value, Tensor):
        try:
            return _Packed(value)
        except (TypeError, RuntimeError):  # a dtype numpy can not hold: torch's own hand-over
            return value.cpu()
    if isinstance(value, list):
        return [_pack(item) for item in value]
    if isinstance(value, dict):
        return {key: _pack(item) for key, item in value.items()}
    return value


def _unpack(value: Any) -> Any:
    """Caller side: the inverse of :func:`_pack`."""
    if isinstance(value, _Packed):
        return value.unpack()
    if isinstance(value, list):
        return [_unpack(item) for item in value]
    if isinstance(value, dict):
        return {key: _unpack(item) for key, item in value.items()}
    return value


def _dispatched(model: Any) -> bool:
    """True when accelerate hooks (a ``device_map``) place the model's weights."""
    for module in model.modules():
        if getattr(module, "_hf_hook", None) is not None:
            return True
    return False
