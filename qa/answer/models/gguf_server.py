"""The process a local GGUF model runs in (started by ``gguf.LocalGGUF``): llama-cpp-python's OpenAI-compatible
server, which also exits as soon as the qa process that started it is gone, so that a killed chat server
never leaves a model holding memory and a port behind.

    python -m qa.answer.models.gguf_server PARENT_PID --model FILE --host 127.0.0.1 --port N …  (llama_cpp.server's options)
"""
from __future__ import annotations

import os
import runpy
import sys
import threading
import time


def _exit_with_parent(parent: int) -> None:
    while True:
        if os.getppid() != parent:  # re-parented: the qa process died
            os._exit(0)
        time.sleep(1.0)


def main() -> None:
    parent = int(sys.argv[1])
    threading.Thread(target=_exit_with_parent, args=(parent,), name="qa-parent-watch", daemon=True).start()
    sys.argv = ["llama_cpp.server", *sys.argv[2:]]
    runpy.run_module("llama_cpp.server", run_name="__main__", alter_sys=True)


if __name__ == "__main__":
    main()
