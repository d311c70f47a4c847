"""A real anvil node for tests and benchmarks: started on a free loopback port, ready once it
answers JSON-RPC, and stopped for sure (its whole process group: npm's node wrapper and anvil).

    with start_anvil() as node:
        chain = open_chain(home=None, rpc_url=node.url)

The binary is `$GOVCHAIN_ANVIL`, else `node_modules/.bin/anvil` of the govchain checkout (installed
by `scripts/bootstrap --dev`), else `anvil` on PATH. Nodes still running at interpreter exit are
stopped then.
"""

from __future__ import annotations

import atexit
import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Sequence
from pathlib import Path
from types import TracebackType

from govchain.errors import ConfigurationError

ENV_ANVIL = "GOVCHAIN_ANVIL"
ANVIL_CHAIN_ID = 31337
_PORT_ATTEMPTS = 3
_running: set[AnvilNode] = set()


def find_anvil() -> Path:
    """The anvil executable to use; ConfigurationError if there is none."""
    configured = os.environ.get(ENV_ANVIL)
    if configured:
        path = Path(configured)
        if not os.access(path, os.X_OK):
            raise ConfigurationError(f"{ENV_ANVIL}={configured} ist keine ausführbare Datei")
        return path
    roots = [*Path(__file__).resolve().parents, *Path.cwd().resolve().parents, Path.cwd()]
    for root in roots:
        candidate = root / "node_modules" / ".bin" / "anvil"
        if os.access(candidate, os.X_OK):
            return candidate
    on_path = shutil.which("anvil")
    if on_path:
        return Path(on_path)
    raise ConfigurationError(
        f"anvil nicht gefunden: 'scripts/bootstrap --dev' ausführen oder {ENV_ANVIL} setzen")


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


class AnvilNode:
    """One running anvil process (group); `stop()` is idempotent."""

    def __init__(self, process: subprocess.Popen[bytes], port: int, log_path: Path) -> None:
        self.process = process
        self.port = port
        self.url = f"http://127.0.0.1:{port}"
        self.log_path = log_path

    @property
    def running(self) -> bool:
        return self.process.poll() is None

    def stop(self, timeout: float = 5.0) -> None:
        """Terminates the whole process group, killing it if it does not exit within `timeout`."""
        _running.discard(self)
        for sig in (signal.SIGTERM, signal.SIGKILL):
            try:
                os.killpg(self.process.pid, sig)
            except (ProcessLookupError, PermissionError):
                break  # the group is gone
            deadline = time.monotonic() + timeout
            while _group_alive(self.process.pid) and time.monotonic() < deadline:
                with contextlib.suppress(subprocess.TimeoutExpired):
                    self.process.wait(0.05)
            if not _group_alive(self.process.pid):
                break
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.process.wait(timeout)
        with contextlib.suppress(OSError):
            self.log_path.unlink()

    def log(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except OSError:
            return ""

    def __enter__(self) -> AnvilNode:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()


def _group_alive(pgid: int) -> bool:
    """Whether a process of the group still runs; zombies waiting to be reaped do not count."""
    proc = Path("/proc")
    if proc.is_dir():
        for stat in proc.glob("[0-9]*/stat"):
            try:
                fields = stat.read_text().rsplit(")", 1)[1].split()
            except (OSError, IndexError):
                continue  # exited meanwhile
            if int(fields[2]) == pgid and fields[0] not in ("Z", "X"):
                return True
        return False
    try:
        os.killpg(pgid, 0)
    except (ProcessLookupError, PermissionError):
        return False
    return True


def start_anvil(*, binary: Path | None = None, chain_id: int = ANVIL_CHAIN_ID,
                args: Sequence[str] = (), startup_timeout: float = 30.0,
                gas_price: int | None = None, base_fee: int | None = None,
                block_time: float | None = None, hardfork: str | None = None) -> AnvilNode:
    """Starts anvil on a free port of 127.0.0.1 and returns once it answers eth_chainId.

    By default anvil mines each transaction at once and charges gas. The keywords make it
    resemble another network: `gas_price` and `base_fee` in wei (0 and 0: a free-gas network such
    as the Besu QBFT profile in deploy/besu), `block_time` in seconds (interval mining instead of
    one block per transaction), `hardfork` by name ("cancun"). `args` are passed on as they are.
    Raises ConfigurationError if anvil is missing or does not come up.
    """
    exe = binary or find_anvil()
    args = [*_network_args(gas_price, base_fee, block_time, hardfork), *args]
    last_log = ""
    for _ in range(_PORT_ATTEMPTS):
        port = free_port()
        fd, log_name = tempfile.mkstemp(prefix="govchain-anvil-", suffix=".log")
        log_path = Path(log_name)
        with os.fdopen(fd, "wb") as log_file:
            process = subprocess.Popen(
                [str(exe), "--host", "127.0.0.1", "--port", str(port), "--chain-id",
                 str(chain_id), *args],
                stdin=subprocess.DEVNULL, stdout=log_file, stderr=subprocess.STDOUT,
                start_new_session=True)
        node = AnvilNode(process, port, log_path)
        _running.add(node)
        try:
            if _wait_until_answering(node, startup_timeout):
                return node
        except BaseException:
            node.stop()
            raise
        last_log = node.log()
        node.stop()
        if "address already in use" not in last_log.lower():
            break
    raise ConfigurationError(f"anvil ({exe}) ist nicht gestartet:\n{last_log[-2000:]}")


def _network_args(gas_price: int | None, base_fee: int | None, block_time: float | None,
                  hardfork: str | None) -> list[str]:
    args: list[str] = []
    if gas_price is not None:
        args += ["--gas-price", str(gas_price)]
        if gas_price == 0:
            # Else eth_gasPrice still suggests anvil's 1 gwei minimum tip, where Besu with
            # min-gas-price=0 suggests 0; govchain signs at the suggested price.
            args.append("--disable-min-priority-fee")
    if base_fee is not None:
        args += ["--base-fee", str(base_fee)]
    if block_time is not None:
        args += ["--block-time", f"{block_time:g}"]
    if hardfork is not None:
        args += ["--hardfork", hardfork]
    return args


def _wait_until_answering(node: AnvilNode, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    request = json.dumps({"jsonrpc": "2.0", "id": 1, "method": "eth_chainId",
                          "params": []}).encode()
    while time.monotonic() < deadline:
        if not node.running:
            return False
        try:
            with urllib.request.urlopen(urllib.request.Request(
                    node.url, data=request, headers={"Content-Type": "application/json"}),
                    timeout=1.0) as response:
                if "result" in json.loads(response.read()):
                    return True
        except (urllib.error.URLError, OSError, ValueError):
            pass
        time.sleep(0.05)
    return False


@atexit.register
def _stop_all() -> None:
    for node in list(_running):
        node.stop()
