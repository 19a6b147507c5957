"""Helpers shared by the benchmark scripts: threads, timing, FLOP counts, tables, JSON results.

Every script measures its own fp32 matmul peak in the same process, because this machine is
shared and noisy: only ratios measured within one run are comparable.
"""

from __future__ import annotations

import json
import os
import platform
import statistics
import subprocess
import time
from pathlib import Path
from typing import Callable

RESULTS_DIR = Path(__file__).resolve().parent / "results"
REPO = RESULTS_DIR.parents[1]


def configure_tensorflow(threads: int | None) -> None:
    """Quiet TensorFlow and pin its thread pools (call before any TF op runs)."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import tensorflow as tf

    if threads:
        tf.config.threading.set_intra_op_parallelism_threads(threads)
        tf.config.threading.set_inter_op_parallelism_threads(1)


def time_steps(step: Callable[[], object], min_seconds: float, min_steps: int = 3, warmup: int = 1) -> list[float]:
    """Run `step` `warmup` times, then until `min_seconds` and `min_steps` are reached.

    Returns the wall time of each timed step in seconds. `step` must block until its result
    is computed (return a NumPy value or call `.numpy()`).
    """
    for _ in range(warmup):
        step()
    times: list[float] = []
    start = time.perf_counter()
    while len(times) < min_steps or time.perf_counter() - start < min_seconds:
        t0 = time.perf_counter()
        step()
        times.append(time.perf_counter() - t0)
    return times


def median(values: list[float]) -> float:
    return statistics.median(values)


def matmul_peak_flops(size: int = 2048, seconds: float = 3.0, dtype: str = "float32") -> float:
    """Measured `tf.matmul` FLOP/s on a `size` x `size` product in `dtype` (the best of the runs)."""
    import tensorflow as tf

    a = tf.cast(tf.random.normal((size, size)), dtype)
    b = tf.cast(tf.random.normal((size, size)), dtype)
    matmul = tf.function(lambda x, y: tf.matmul(x, y))
    times = time_steps(lambda: matmul(a, b).numpy(), min_seconds=seconds, warmup=2)
    return 2 * size**3 / min(times)


def dense_flops(tokens: int, fan_in: int, fan_out: int) -> int:
    """Multiply-add FLOPs of a Dense layer applied to `tokens` vectors."""
    return 2 * tokens * fan_in * fan_out


def attention_flops(queries: int, keys: int, qk: int, v: int) -> int:
    """FLOPs of `softmax(q k^T) v` (both products; softmax not counted)."""
    return 2 * queries * keys * qk + 2 * queries * keys * v


def encoder_flops(encoder: dict, num_inputs: int, input_channels: int) -> int:
    """Matmul FLOPs of one forward pass of a `PerceiverEncoder` for one example.

    `encoder` is the encoder's `get_config()`. Counts every Dense and both attention
    products; LayerNorm, GELU and softmax are not counted (as usual for MFU). A shared cross-attend's
    repeats reuse its first key/value projection (`PerceiverEncoder` computes it once, unless chunked).
    """
    n, d, m, c = encoder["num_latents"], encoder["latent_dim"], num_inputs, input_channels
    qk = encoder["cross_attention_qk_channels"] or c
    v = encoder["cross_attention_v_channels"] or qk
    key_values = dense_flops(m, c, qk) + dense_flops(m, c, v)
    cross = (
        dense_flops(n, d, qk) + key_values + dense_flops(n, v, d)
        + attention_flops(n, m, qk, v)
        + 2 * dense_flops(n, d, d * encoder["cross_attend_widening_factor"])
    )
    sqk = encoder["self_attention_qk_channels"] or d
    sv = encoder["self_attention_v_channels"] or sqk
    self_attend = (
        2 * dense_flops(n, d, sqk) + dense_flops(n, d, sv) + dense_flops(n, sv, d)
        + attention_flops(n, n, sqk, sv)
        + 2 * dense_flops(n, d, d * encoder["self_attend_widening_factor"])
    )
    repeats = encoder["num_cross_attends"] - 2 if encoder["share_cross_attention"] else 0
    reused = max(repeats, 0) * key_values if not encoder["cross_attention_chunk_size"] else 0
    return (encoder["num_cross_attends"] * cross - reused
            + encoder["num_blocks"] * encoder["num_self_attends_per_block"] * self_attend)


def forward_flops(model) -> int:
    """Forward FLOPs per example of a perceiver_tf task or backbone (its encoder; see `encoder_flops`)."""
    encoder = getattr(model, "backbone", model).encoder
    return encoder_flops(encoder.get_config(), encoder.input.shape[1], encoder.input.shape[2])


def run_watched(command: list[str], budget_mb: float) -> dict:
    """Run a worker `command` (from the repository root) that prints one JSON line last.

    A watchdog polls the process's resident memory and kills it once it passes `budget_mb`.
    Returns `{"status": "ok", **that JSON}`, `{"status": "over budget"}` or
    `{"status": "failed: <last stderr line>"}`.
    """
    import psutil

    process = subprocess.Popen(command, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    watched, peak = psutil.Process(process.pid), 0.0
    while process.poll() is None:
        try:
            peak = max(peak, watched.memory_info().rss / 2**20)
        except psutil.NoSuchProcess:
            break
        if peak > budget_mb:
            process.kill()
            process.wait()
            return {"status": "over budget"}
        time.sleep(0.02)
    stdout, stderr = process.communicate()
    if process.returncode != 0:
        last_line = stderr.strip().splitlines()[-1] if stderr.strip() else process.returncode
        return {"status": f"failed: {last_line}"}
    return {"status": "ok", **json.loads(stdout.strip().splitlines()[-1])}


def peak_rss_mb() -> float:
    """This process image's peak resident memory (MB): Linux's VmHWM, which starts afresh at exec,
    unlike `getrusage`'s ru_maxrss (inherited from the parent at fork); ru_maxrss elsewhere."""
    try:
        with open("/proc/self/status") as status:
            return next(int(line.split()[1]) for line in status if line.startswith("VmHWM")) / 1024
    except (OSError, StopIteration):
        import resource

        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def cpu_model() -> str:
    """The CPU's model name (`/proc/cpuinfo`'s "model name"; `platform.processor()` where there is none):
    absolute times differ between the machines a run may land on, so each result records its CPU."""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def machine_info() -> dict:
    return {
        "platform": platform.platform(),
        "processor": platform.processor() or platform.machine(),
        "cpu_model": cpu_model(),
        "cpu_count": os.cpu_count(),
        "python": platform.python_version(),
    }


def write_results(name: str, payload: dict, path: Path | None = None) -> Path:
    """Write `payload` (plus machine info and a timestamp) to `path` (default results/<name>.json), through
    a temporary file renamed into place: a reader never sees half a file."""
    path = Path(path) if path is not None else RESULTS_DIR / f"{name}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    payload = {"benchmark": name, "time_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "machine": machine_info(), **payload}
    temporary = path.with_name(f"{path.name}.tmp{os.getpid()}")
    temporary.write_text(json.dumps(payload, indent=2) + "\n")
    os.replace(temporary, path)
    return path


def markdown_table(rows: list[dict], columns: list[str]) -> str:
    """A Markdown table of `rows` (dicts) restricted to `columns`; floats get 4 significant digits."""

    def fmt(value) -> str:
        if isinstance(value, float):
            return f"{value:.4g}"
        return "-" if value is None else str(value)

    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    lines += ["| " + " | ".join(fmt(row.get(c)) for c in columns) + " |" for row in rows]
    return "\n".join(lines)


def add_memory_search_arguments(parser, min_log2: int, max_log2: int, search_max_log2: int) -> None:
    """The flags of a memory-vs-M benchmark: `--budget-mb`, the table's M range and the fit search's largest M."""
    parser.add_argument("--budget-mb", type=float, default=4096.0, help="resident-memory budget per point")
    parser.add_argument("--min-log2", type=int, default=min_log2, help="smallest M = 2**min_log2 in the table")
    parser.add_argument("--max-log2", type=int, default=max_log2, help="largest M = 2**max_log2 in the table")
    parser.add_argument("--search-max-log2", type=int, default=search_max_log2, help="largest M tried in the fit search")
