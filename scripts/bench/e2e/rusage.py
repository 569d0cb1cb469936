"""Runs one command and reports its wall time and peak RSS: the same method for both sides.

    python scripts/bench/e2e/rusage.py REPORT.json -- CMD [ARGS...]

The child inherits stdin, stdout and stderr. After it exits, REPORT.json gets
{"wall_s", "max_rss_mb", "user_s", "sys_s", "exit"} from wait4() on that
child: ru_maxrss is the kernel's high-water mark of its resident set (the
child alone, not this wrapper). Exits with the child's exit code.
"""
import json
import os
import subprocess
import sys
import time


def main():
    if len(sys.argv) < 4 or sys.argv[2] != "--":
        raise SystemExit(__doc__)
    report, cmd = sys.argv[1], sys.argv[3:]
    t0 = time.perf_counter()
    child = subprocess.Popen(cmd)
    _, status, ru = os.wait4(child.pid, 0)
    wall = time.perf_counter() - t0
    code = os.waitstatus_to_exitcode(status)
    child.returncode = code  # reaped here, not by Popen
    with open(report, "w") as f:
        json.dump({"wall_s": round(wall, 3), "max_rss_mb": round(ru.ru_maxrss / 1024, 1), "user_s": round(ru.ru_utime, 2),
                   "sys_s": round(ru.ru_stime, 2), "exit": code}, f)
    sys.exit(code if code >= 0 else 128 - code)


if __name__ == "__main__":
    main()
