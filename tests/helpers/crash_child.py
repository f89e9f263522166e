"""Zygote for the SIGKILL crash suite (tests/test_crash_suite.py); run as a script.

    python crash_child.py CONFIG_JSON

It imports everything once, then reads commands on stdin, one per line:

* ``seed ACK_PATH``: fork a worker that stores every name once (value id ``seed``) and
  exits 0; print ``exit <wait status>``.
* ``crash ACK_PATH SEED DELAY_MS``: fork a worker that loops random operations (store,
  delete, rotate, as allowed by the config) until this process kills it with SIGKILL,
  DELAY_MS milliseconds after its first call began; print ``exit <wait status>``.

The worker opens its own manager (fresh from disk, as a new process would) and appends to
ACK_PATH, with one unbuffered ``write`` each, ``B <op> <name> <id>`` right before a call and
``A <op> <name> <id>`` right after it returned. So the parent knows every acknowledged change
and the one call that may have been in flight when the kill came.

Forking a pre-imported process keeps one child start per iteration cheap (a few ms rather than
the ~250 ms of a cold interpreter), so a CI run can afford hundreds of kills.
"""

from __future__ import annotations

import json
import os
import random
import signal
import sys
import time

from secrets_core.errors import SecretNotFoundError
from secrets_core.plugin import get_registry
from secure_secrets import SecureSecretsManager

MAX_WORKER_SECONDS = 20  # a worker orphaned by a crashed test run stops on its own


def value_for(name: str, value_id: str) -> str | bytes:
    """The value stored under ``name`` for ``value_id``; str or bytes, varying sizes. The
    parent recomputes it to compare (tests/test_crash_suite.py imports this)."""
    size = (sum(map(ord, value_id + name)) * 37) % 900
    text = f"{name}={value_id}:" + "x" * size
    return text.encode() if len(value_id) % 2 else text


def open_manager(config: dict) -> SecureSecretsManager:
    return SecureSecretsManager(
        default_backend=config["backend"],
        backends=config.get("backends") or None,
        data_dir=config["data_dir"],
        audit_sinks=["jsonl"],
    )


class Acks:
    def __init__(self, path: str) -> None:
        self.fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)

    def note(self, *fields: str) -> None:
        os.write(self.fd, (" ".join(fields) + "\n").encode())


def seed(config: dict, ack_path: str) -> None:
    manager, acks = open_manager(config), Acks(ack_path)
    for name in config["names"]:
        acks.note("B", "store", name, "seed")
        manager.store_secret(name, value_for(name, "seed"))
        acks.note("A", "store", name, "seed")


def loop(config: dict, ack_path: str, rng_seed: int) -> None:
    rng = random.Random(rng_seed)
    acks = Acks(ack_path)
    manager = open_manager(config)
    ops, weights = zip(*config["ops"].items(), strict=True)
    deadline = time.monotonic() + MAX_WORKER_SECONDS
    counter = 0
    while time.monotonic() < deadline:
        op = rng.choices(ops, weights)[0]
        name = rng.choice(config["names"])
        counter += 1
        if op == "store":
            value_id = f"{rng_seed}.{counter}"
            acks.note("B", "store", name, value_id)
            manager.store_secret(name, value_for(name, value_id))
            acks.note("A", "store", name, value_id)
        elif op == "delete":
            acks.note("B", "delete", name, "-")
            try:
                manager.delete_secret(name)
            except SecretNotFoundError:
                acks.note("A", "missing", name, "-")
            else:
                acks.note("A", "delete", name, "-")
        elif op == "rotate":
            keep = str(rng.choice([0, 1]))
            acks.note("B", "rotate", "-", keep)
            manager.rotate_encryption_key(keep_old_keys=int(keep))
            acks.note("A", "rotate", "-", keep)
    os._exit(4)  # ran out of time: the parent never killed it


def fork_worker(target, *args: object) -> int:  # type: ignore[no-untyped-def]
    pid = os.fork()
    if pid == 0:
        code = 0
        try:
            target(*args)
        except BaseException as exc:  # reported by exit status 3 and on stderr
            import traceback

            traceback.print_exception(exc)
            code = 3
        finally:
            sys.stderr.flush()
            os._exit(code)
    return pid


def started_operations(ack_path: str, pid: int) -> None:
    """Wait until the worker began its first call, so that the delay is counted from there
    whatever the machine's load (opening the manager takes longer on a busy CI runner)."""
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if os.path.exists(ack_path) and os.path.getsize(ack_path) > 0:
            return
        if os.waitpid(pid, os.WNOHANG) != (0, 0):
            raise SystemExit("the worker died before its first call")
        time.sleep(0.001)


def main() -> None:
    config = json.loads(sys.argv[1])
    get_registry()  # discover plugins once, and import the backend and cipher, before forking
    import cryptography.fernet  # noqa: F401

    warm = open_manager(config)
    warm.backend()
    warm.close()
    for line in sys.stdin:
        command, *args = line.split()
        if command == "seed":
            pid = fork_worker(seed, config, args[0])
        elif command == "crash":
            pid = fork_worker(loop, config, args[0], int(args[1]))
            started_operations(args[0], pid)
            time.sleep(int(args[2]) / 1000)
            os.kill(pid, signal.SIGKILL)
        else:
            raise SystemExit(f"unknown command {command!r}")
        _, status = os.waitpid(pid, 0)
        print(f"exit {status}", flush=True)


if __name__ == "__main__":
    main()
