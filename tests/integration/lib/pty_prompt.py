"""Runs a command on a new pseudo-terminal and answers its password prompts, so the tests can
drive tbml's terminal path (echo off, asked twice) without a person.

usage: pty_prompt.py ANSWERS_FILE CMD [ARGS...]
Each line of ANSWERS_FILE answers one prompt containing "password" (any case), in order.
Everything the command wrote to the terminal goes to our stdout; we exit with its code."""
import os
import pty
import select
import sys
import time


def main():
    with open(sys.argv[1], "rb") as f:
        answers = [line.rstrip(b"\n") for line in f]
    pid, fd = pty.fork()
    if pid == 0:
        os.execvp(sys.argv[2], sys.argv[2:])
    seen = b""
    pending = b""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        r, _, _ = select.select([fd], [], [], 0.5)
        if not r:
            continue
        try:
            chunk = os.read(fd, 4096)
        except OSError:  # EIO: the child closed the terminal
            break
        if not chunk:
            break
        seen += chunk
        pending += chunk
        # tbml prints the prompt after turning echo off, so answering now is safe
        if answers and b"password" in pending.lower() and pending.rstrip().endswith(b":"):
            os.write(fd, answers.pop(0) + b"\n")
            pending = b""
    if time.monotonic() >= deadline:
        os.kill(pid, 9)
    _, status = os.waitpid(pid, 0)
    sys.stdout.buffer.write(seen)
    sys.exit(os.waitstatus_to_exitcode(status))


main()
