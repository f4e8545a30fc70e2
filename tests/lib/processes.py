"""Helpers shared by the Python tests that run our binaries as processes (tests/tools,
tests/deploy): temp dirs, bounded waits, and a process whose stderr is scanned for the
ports it listens on."""
import os
import re
import subprocess
import tempfile
import threading
import time


def tmpdir():
    return tempfile.mkdtemp(dir=os.environ.get("TEST_TMPDIR"))


def wait_for(pred, timeout=30, what="condition"):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if pred():
            return
        time.sleep(0.05)
    if not pred():
        raise AssertionError("timed out waiting for " + what)


class Process:
    """A binary whose stderr is read line by line; `patterns` name ports to find."""

    def __init__(self, argv, patterns, stdin=None, stdout=None):
        self.argv = argv
        self.proc = subprocess.Popen(argv, stdin=stdin, stdout=stdout, stderr=subprocess.PIPE, text=True)
        self.log = []
        self.found = {}
        self.lock = threading.Lock()
        self.patterns = patterns
        threading.Thread(target=self._read, daemon=True).start()
        if patterns:
            wait_for(lambda: len(self.found) == len(patterns) or self.proc.poll() is not None, 30,
                     "%s to listen" % os.path.basename(argv[0]))
            if len(self.found) != len(patterns):
                raise RuntimeError("%s did not start:\n%s" % (argv[0], "".join(self.log)))

    def _read(self):
        for line in self.proc.stderr:
            with self.lock:
                self.log.append(line)
            for name, pat in self.patterns.items():
                m = re.search(pat, line)
                if m and name not in self.found:
                    self.found[name] = int(m.group(1))

    def logged(self, text):
        with self.lock:
            return any(text in l for l in self.log)

    def stop(self, timeout=30):
        """SIGTERM; returns the exit code (SIGKILL after `timeout`)."""
        if self.proc.poll() is None:
            self.proc.terminate()
        try:
            return self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            return self.proc.wait(timeout=10)

    def kill(self):
        self.proc.kill()
        self.proc.wait(timeout=30)
