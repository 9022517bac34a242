"""A progress bar on stderr: tqdm when it is installed, a plain one-line counter otherwise."""
import sys
import time


class _Plain:
    """Minimal stand-in for tqdm: ``[ 12/345]  3% 0:42 label`` rewritten in place."""

    def __init__(self, total, desc, file):
        self.total, self.desc, self.file = total, desc, file
        self.n = 0
        self.label = ""
        self.t0 = time.monotonic()
        self._tty = hasattr(file, "isatty") and file.isatty()
        self._last = -1.0
        self._draw(force=True)

    def _draw(self, force=False):
        now = time.monotonic()
        if not force and not self._tty and now - self._last < 5:
            return  # not a terminal (CI log): one line every few seconds at most
        self._last = now
        el = int(now - self.t0)
        pct = 100 * self.n // max(self.total, 1)
        line = (f"{self.desc} [{self.n:>{len(str(self.total))}}/{self.total}] {pct:3d}% "
                f"{el // 60}:{el % 60:02d} {self.label}")
        if self._tty:
            self.file.write("\r" + line[:119].ljust(119))
        else:
            self.file.write(line + "\n")
        self.file.flush()

    def update(self, k=1):
        self.n += k
        self._draw(force=self.n >= self.total)

    def set_postfix_str(self, s, refresh=True):
        self.label = s
        self._draw()

    def write(self, s):
        if self._tty:
            self.file.write("\r" + " " * 119 + "\r")
        self.file.write(s + "\n")
        self._draw(force=True)

    def close(self):
        if self._tty:
            self.file.write("\n")
        self.file.flush()


class Progress:
    """``with Progress(total, "bench") as bar: bar.step("label")``; ``bar.log(msg)`` prints above it."""

    def __init__(self, total, desc="bench", enabled=True, file=None):
        self.file = file or sys.stderr
        self.enabled = enabled
        self.bar = None
        if not enabled:
            return
        try:
            from tqdm import tqdm  # noqa: PLC0415
        except ImportError:
            self.bar = _Plain(total, desc, self.file)
            self._tqdm = False
        else:
            self.bar = tqdm(total=total, desc=desc, file=self.file, dynamic_ncols=True,
                            bar_format="{desc} {bar} {n_fmt}/{total_fmt} [{elapsed}<{remaining}] {postfix}")
            self._tqdm = True

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def label(self, s):
        if self.bar is not None:
            self.bar.set_postfix_str(s, refresh=True)

    def step(self, k=1):
        if self.bar is not None:
            self.bar.update(k)

    def log(self, msg):
        if self.bar is None:
            print(msg, file=self.file)
        elif self._tqdm:
            self.bar.write(msg, file=self.file)
        else:
            self.bar.write(msg)

    def close(self):
        if self.bar is not None:
            self.bar.close()
            self.bar = None
